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

from .conftest import sample

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
    verdict = json.loads(a.stdout)["verdict"]
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
