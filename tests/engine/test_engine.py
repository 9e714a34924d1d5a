"""One pipeline: every command and the library resolve settings the same way and hand them to one engine."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.api import diagnose, diagnose_curves, load_curves
from curvediag.cli import app
from curvediag.config import Settings, resolve
from curvediag.engine import analyse
from curvediag.errors import UsageError

from ..conftest import sample

runner = CliRunner()

# (configuration, log): a configuration that changes the verdict of that log
CONFIGS = [
    ('ignore = ["O"]\n', "overfitting.csv"),
    ('select = ["D"]\n', "overfitting.csv"),
    ('[tool.curvediag.rules.O102]\nrise_limit = 1000.0\n', "overfitting.csv"),
    ('num-classes = 10\n', "cramming_history.json"),
]


def _verdict_of_plot(stdout: str) -> str:
    return stdout.splitlines()[0].split(":")[0].strip().lower().replace(" ", "_")


@pytest.mark.parametrize("table,log", CONFIGS)
def test_plot_draws_the_diagnosis_analyze_gives_under_the_same_configuration(tmp_path, monkeypatch, table, log):
    (tmp_path / "pyproject.toml").write_text("[tool.curvediag]\n" + table)
    monkeypatch.chdir(tmp_path)
    a = runner.invoke(app, ["analyze", str(sample(log)), "--format", "json", "--fail-on", "never"])
    assert a.exit_code == 0, a.stderr
    verdict = json.loads(a.stdout)[0]["verdict"]
    p = runner.invoke(app, ["plot", str(sample(log))])
    assert p.exit_code == 0, p.stderr
    first = p.stdout.splitlines()[0]
    if verdict == "healthy":
        assert first.startswith("HEALTHY"), first
    else:
        assert _verdict_of_plot(p.stdout) == verdict, first
    # and the library, given the resolved settings, agrees
    assert diagnose(sample(log), settings=resolve(cwd=tmp_path, environ={})).verdict == verdict


def test_the_example_of_the_issue_ignore_O_is_healthy_in_analyze_and_plot(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nignore = ["O"]\n')
    monkeypatch.chdir(tmp_path)
    p = runner.invoke(app, ["plot", str(sample("overfitting.csv"))])
    assert "OVERFITTING" not in p.stdout.splitlines()[0]


@pytest.mark.parametrize("cmd", ["plot", "inspect"])
def test_plot_and_inspect_refuse_a_bad_configuration_as_analyze_does(tmp_path, monkeypatch, cmd):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nfail-on = "sometimes"\n')
    monkeypatch.chdir(tmp_path)
    for c in ("analyze", cmd):
        r = runner.invoke(app, [c, str(sample("healthy.csv"))])
        assert r.exit_code == 2 and "fail-on" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("cmd", ["plot", "inspect"])
def test_plot_and_inspect_take_the_column_options_analyze_takes(tmp_path, cmd):
    log = tmp_path / "log.csv"
    log.write_text("epoch,a,b\n" + "".join(f"{i},{1 / (i + 1):.4f},{1 / (i + 1) + 0.01 * i:.4f}\n" for i in range(30)))
    r = runner.invoke(app, [cmd, str(log), "--loss", "a", "--val-loss", "b"])
    assert r.exit_code == 0, r.stderr
    if cmd == "inspect":
        assert "train_loss" in r.stdout and "val_loss" in r.stdout
    else:
        assert "●" in r.stdout and "·" in r.stdout


def test_keyword_arguments_are_a_thin_layer_over_settings():
    kw = dict(num_classes=10, options={"O102": {"rise_limit": 0.05}}, select=["D", "O"], ignore=("O103",))
    a = diagnose(sample("cramming_history.json"), **kw)
    b = diagnose(sample("cramming_history.json"), settings=Settings.of(**kw))
    assert a.to_dict() == b.to_dict()
    c = analyse(load_curves(sample("cramming_history.json")), Settings.of(**kw))
    assert c.to_dict() == a.to_dict()
    assert diagnose_curves(load_curves(sample("cramming_history.json")), **{k: tuple(v) if isinstance(v, list) else v
                                                                           for k, v in kw.items()}).to_dict() == a.to_dict()


def test_settings_and_keywords_together_are_refused():
    with pytest.raises(UsageError, match="not both"):
        diagnose(sample("healthy.csv"), settings=Settings(), num_classes=10)
    with pytest.raises(TypeError):
        diagnose(sample("healthy.csv"), no_such_option=1)


def test_settings_are_frozen_and_exported():
    s = curvediag.Settings()
    with pytest.raises(AttributeError):
        s.fail_on = "error"  # type: ignore[misc]
    assert resolve(environ={"CURVEDIAG_FAIL_ON": "error"}).fail_on == "error"


# --- batch, output formats and renderers -------------------------------------------------------

import xml.etree.ElementTree as ET  # noqa: E402

from curvediag import batch as batch_mod  # noqa: E402
from curvediag.output import exit_status  # noqa: E402
from curvediag.render import OutputFormat, render  # noqa: E402


def _batch(*paths, **settings):
    return batch_mod.run([str(p) for p in paths], Settings(**settings))


def test_a_batch_holds_a_report_or_an_unreadable_entry_per_input_in_order(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    b = _batch(sample("healthy.csv"), empty, sample("overfitting.csv"))
    kinds = [type(x).__name__ for x in b.items]
    assert kinds == ["Report", "Unreadable", "Report"]
    (u,) = b.unreadable
    assert u.path == str(empty) and u.message.startswith(str(empty) + ": ") and u.problem in u.message
    assert [r.verdict for r in b.reports] == ["healthy", "overfitting"]
    assert b.rules and all(code[0].isalpha() for code, _ in b.rules)


def test_parallel_and_serial_batches_agree(tmp_path):
    paths = [str(sample(n)) for n in ("healthy.csv", "overfitting.csv", "diverged.csv")] + [str(tmp_path / "missing.csv")]
    a = batch_mod.run(paths, Settings(), jobs=1)
    b = batch_mod.run(paths, Settings(), jobs=2)
    assert [getattr(x, "verdict", None) for x in a.items] == [getattr(x, "verdict", None) for x in b.items]
    assert a.unreadable == b.unreadable


def test_exit_status_is_computed_from_the_batch(tmp_path):
    clean = _batch(sample("healthy.csv"))
    bad = _batch(sample("overfitting.csv"))
    broken = _batch(sample("healthy.csv"), tmp_path / "missing.csv")
    assert exit_status(clean) == 0 and exit_status(bad) == 1 and exit_status(bad, exit_zero=True) == 0
    assert exit_status(_batch(sample("overfitting.csv"), fail_on="error")) == 0
    assert exit_status(_batch(sample("overfitting.csv"), fail_on="never")) == 0
    assert exit_status(broken) == 2 and exit_status(broken, exit_zero=True) == 2


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_format_renders_a_batch(fmt, tmp_path):
    b = _batch(sample("healthy.csv"), sample("overfitting.csv"), tmp_path / "missing.csv")
    text = render(b, fmt)
    assert text.endswith("\n") and "overfitting" in text


def test_junit_counts_unreadable_inputs_as_errors(tmp_path):
    b = _batch(sample("healthy.csv"), tmp_path / "missing.csv", tmp_path / "also-missing.csv")
    root = ET.fromstring(render(b, OutputFormat.junit))
    assert root.get("errors") == "2"
    suites = root.findall("testsuite")
    assert [s.get("errors") for s in suites] == ["0", "1", "1"]
    assert int(root.get("tests")) == sum(int(s.get("tests")) for s in suites)
    err = suites[1].find("testcase/error")
    assert err is not None and "no such file" in err.get("message")


def test_junit_reads_what_ran_from_the_batch_not_the_rule_table():
    from dataclasses import replace

    b = _batch(sample("overfitting.csv"))
    narrowed = replace(b, rules=(("O102", "val-loss-rising"),))
    root = ET.fromstring(render(narrowed, OutputFormat.junit))
    assert [c.get("name") for c in root.iter("testcase")] == ["O102 val-loss-rising"]
    assert root.get("failures") == "1"


def test_junit_on_the_command_line_shows_an_unreadable_input(tmp_path):
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv")), str(tmp_path / "missing.csv"), "-f", "junit"])
    assert r.exit_code == 2
    root = ET.fromstring(r.stdout)
    assert root.get("errors") == "1" and len(root.findall("testsuite")) == 2


def test_no_rule_module_imports_another_rule_module():
    import ast
    import inspect as _inspect

    from curvediag.rules import RULES

    rule_modules = {r.__module__.rsplit(".", 1)[1] for r in RULES}
    for r in RULES:
        tree = ast.parse(_inspect.getsource(_inspect.getmodule(r)))
        own = r.__module__.rsplit(".", 1)[1]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                assert node.module == own or node.module not in rule_modules, (own, node.module)


@pytest.mark.parametrize("rows", [["1.0", "nan"], ["nan"], ["1.0", "inf"], ["2.0", "1.5", "nan"]])
def test_a_nan_loss_is_divergence_at_any_length(tmp_path, rows):
    """A NaN needs no trend: even a log too short to judge is diverged when its loss is NaN,
    while the other verdict rules stay skipped."""
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss\n" + "".join(f"{i},{v}\n" for i, v in enumerate(rows)))
    r = curvediag.diagnose(str(p))
    assert r.verdict == "diverged"
    assert {f.code for f in r.findings} <= {"D101", "X101"}
    assert any(s.code == "O102" and s.reason == "too few points to judge" for s in r.skipped)


def test_a_short_finite_log_is_still_insufficient(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss\n0,1.0\n1,0.9\n")
    assert curvediag.diagnose(str(p)).verdict == "insufficient_data"


#: Modules of rules/ that hold no rule: the interface and the shared measurements.
RULE_HELPER_MODULES = {"__init__", "base", "rise", "secondary", "baseline", "steps", "options"}  # baseline: the comparison rules (B1xx)


def test_every_rule_lives_in_a_module_named_after_it_and_one_rule_per_module():
    import pathlib

    import curvediag.rules as rules_pkg
    from curvediag.rules import RULES

    for r in RULES:
        assert r.__module__ == f"curvediag.rules.{r.name.replace('-', '_')}", (r.code, r.name, r.__module__)
    # every other module is a listed helper: no rule hides in a helper, no module holds two rules
    files = {p.stem for p in pathlib.Path(rules_pkg.__file__).parent.glob("*.py")}
    assert files - {r.name.replace("-", "_") for r in RULES} == RULE_HELPER_MODULES
    assert len({r.__module__ for r in RULES}) == len(RULES)
