"""The command line through typer's CliRunner: exit codes, output, options."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from curvediag import __version__
from curvediag.cli import app

from ..conftest import SAMPLE_VERDICTS, sample

runner = CliRunner()


def run(*args, input=None, env=None):
    return runner.invoke(app, list(args), input=input, env=env)


@pytest.mark.parametrize("name,verdict", sorted(SAMPLE_VERDICTS.items()))
def test_every_sample_gets_its_verdict_in_json(name, verdict):
    r = run("analyze", str(sample(name)), "--format", "json", "--fail-on", "never")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)[0]
    assert d["verdict"] == verdict
    assert d["source"]["path"] == str(sample(name))


@pytest.mark.parametrize("name,verdict", sorted(SAMPLE_VERDICTS.items()))
def test_text_report_shows_verdict_metrics_and_remedies(name, verdict):
    r = run("analyze", str(sample(name)))
    assert verdict.upper().replace("_", " ") in r.stdout
    assert "train_loss" in r.stdout and "first" in r.stdout and "best" in r.stdout
    if verdict not in ("healthy",):
        assert "remedies" in r.stdout
    assert "\x1b[" not in r.stdout  # not a terminal: no ANSI codes


def test_text_metrics_table_is_aligned_and_matches_the_json():
    text = run("analyze", str(sample("diverged.csv")), "--fail-on", "never").stdout.splitlines()
    d = json.loads(run("analyze", str(sample("diverged.csv")), "--format", "json", "--fail-on", "never").stdout)[0]
    head = next(i for i, ln in enumerate(text) if ln.startswith("metric "))
    rows = text[head + 1 : head + 1 + len(d["metrics"])]
    curve_at = text[head].index("curve")
    for name, row in zip(d["metrics"], rows):
        m = d["metrics"][name]
        assert row.startswith(f"{name} ({m['non_finite']} non-finite)")  # NaNs are counted beside the name
        assert row[curve_at - 2 : curve_at] == "  " and row[curve_at] != " "  # the curve column starts under its header
        cells = row[: curve_at].split()
        assert cells[-1] == "NaN" and float(cells[-3]) == pytest.approx(m["best"], rel=1e-3)  # last, best as in the JSON


@pytest.mark.parametrize(
    "name,fail_on,code",
    [
        ("healthy.csv", "warning", 0),
        ("overfitting.csv", "warning", 1),
        ("overfitting.csv", "error", 0),
        ("cramming_history.json", "error", 1),
        ("still_improving_fastai.csv", "warning", 0),
        ("still_improving_fastai.csv", "info", 1),
        ("diverged.csv", "never", 0),
        ("insufficient_data.csv", "info", 1),
    ],
)
def test_exit_code_follows_fail_on(name, fail_on, code):
    r = run("analyze", str(sample(name)), "--fail-on", fail_on)
    assert r.exit_code == code


def test_default_fail_on_is_warning():
    assert run("analyze", str(sample("overfitting.csv"))).exit_code == 1
    assert run("analyze", str(sample("still_improving_fastai.csv"))).exit_code == 0


def test_stdin_dash():
    text = sample("overfitting.csv").read_text()
    r = run("analyze", "-", "--format", "json", input=text)
    assert r.exit_code == 1
    d = json.loads(r.stdout)[0]
    assert d["verdict"] == "overfitting" and d["source"]["path"] == "<stdin>"


def test_several_paths_give_a_json_array_and_worst_exit():
    r = run("analyze", str(sample("healthy.csv")), str(sample("diverged.csv")), "--format", "json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert [x["verdict"] for x in d] == ["healthy", "diverged"]


def test_one_bad_path_among_good_ones_is_reported_and_exit_2(tmp_path):
    r = run("analyze", str(sample("healthy.csv")), str(tmp_path / "missing.csv"), "--format", "json")
    assert r.exit_code == 2
    assert json.loads(r.stdout)[0]["verdict"] == "healthy"
    assert "missing.csv: no such file" in r.stderr


def test_column_options(write):
    p = write("log.csv", "ep,a,b,c,d\n" + "".join(f"{i},{1 - i * 0.05},{1 - i * 0.04},{0.5 + i * 0.02},{0.5 + i * 0.02}\n" for i in range(10)))
    r = run("analyze", str(p), "--format", "json")
    assert r.exit_code == 2 and "no recognisable loss column" in r.stderr and "--loss" in r.stderr
    r = run("analyze", str(p), "--loss", "a", "--val-loss", "b", "--acc", "c", "--val-acc", "d", "--format", "json", "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    cols = json.loads(r.stdout)[0]["source"]["columns"]
    assert cols == {"train_loss": "a", "val_loss": "b", "train_acc": "c", "val_acc": "d"}


def test_num_classes_reaches_the_rules():
    r = run("analyze", str(sample("not_learning.jsonl")), "--num-classes", "10", "--format", "json")
    f = json.loads(r.stdout)[0]["findings"][0]
    assert f["evidence"]["chance_loss"] == pytest.approx(2.302585, rel=1e-5)
    assert run("analyze", str(sample("healthy.csv")), "--num-classes", "1").exit_code == 2


def test_input_format_override(write):
    p = write("log.data", '{"loss": [1.0, 0.8, 0.7], "val_loss": [1.0, 0.9, 0.85]}')
    assert run("analyze", str(p), "--input-format", "json", "--fail-on", "never").exit_code == 0
    r = run("analyze", str(p), "--input-format", "csv")
    assert r.exit_code == 2


def test_no_color_and_NO_COLOR():
    for args, env in ((["--no-color"], None), ([], {"NO_COLOR": "1"})):
        r = run("analyze", str(sample("overfitting.csv")), *args, env=env)
        assert "\x1b[" not in r.stdout and "OVERFITTING" in r.stdout


def test_json_is_strict_even_with_nan():
    r = run("analyze", str(sample("diverged.csv")), "--format", "json")
    d = json.loads(r.stdout)[0]  # json.loads would accept NaN; check the text too
    assert "NaN," not in r.stdout.replace('"NaN"', "") and "Infinity," not in r.stdout.replace('"Infinity"', "")
    # the contract (schema 2): a NaN is null, named in its object's non_finite_values
    assert d["metrics"]["train_loss"]["last"] is None
    assert d["metrics"]["train_loss"]["non_finite_values"] == {"last": "NaN"}
    assert "non_finite_values" not in d["metrics"]["train_loss"] or d["metrics"]["train_loss"]["first"] is not None


def test_version():
    r = run("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"curvediag {__version__}"


def test_help_shows_a_real_example():
    r = run("--help")
    assert r.exit_code == 0 and "curvediag analyze" in r.stdout
    r = run("analyze", "--help")
    for opt in ("--format", "--fail-on", "--loss", "--val-loss", "--acc", "--val-acc", "--num-classes", "--no-color"):
        assert opt in r.stdout
    assert "curvediag analyze" in r.stdout


def test_every_command_has_help():
    import typer.main

    group = typer.main.get_command(app)
    assert hasattr(group, "commands") and len(group.commands) >= 3
    for name, cmd in group.commands.items():
        assert cmd.help and len(cmd.help) > 20, name
        for p in cmd.params:
            if getattr(p, "param_type_name", "") == "option":
                assert p.help, f"{name} {p.name} has no help"


def test_rules_and_rule_commands():
    r = run("rules")
    assert r.exit_code == 0 and "O102" in r.stdout and "val-loss-rising" in r.stdout
    r = run("rule", "O102")
    assert r.exit_code == 0 and "What it detects" in r.stdout and "rise_limit = 0.1" in r.stdout
    assert run("rule", "val-loss-rising").stdout == r.stdout
    r = run("rule", "Z999")
    assert r.exit_code == 2 and "no rule" in r.stderr


def test_python_dash_m(tmp_path):
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "curvediag", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("curvediag ")


def test_tool_never_writes_to_its_input():
    p = sample("overfitting.csv")
    before = (p.read_bytes(), p.stat().st_mtime_ns)
    run("analyze", str(p), "--format", "json")
    run("analyze", str(p))
    assert (p.read_bytes(), p.stat().st_mtime_ns) == before


def test_inspect_shows_format_columns_and_mapping():
    r = run("inspect", str(sample("overfitting.csv")))
    assert r.exit_code == 0
    assert "format keras_csv" in r.stdout and "val_loss" in r.stdout and "-> axis" in r.stdout
    r = run("inspect", str(sample("diverged.csv")), "--format", "json")
    d = json.loads(r.stdout)
    assert d["format"] == "keras_csv" and d["mapping"]["train_loss"] == "loss"
    loss = next(c for c in d["columns"] if c["column"] == "loss")
    assert loss["non_finite"] == 11 and loss["used_as"] == ["train_loss"]
    r = run("inspect", "/no/such/log.csv")
    assert r.exit_code == 2 and "no such file" in r.stderr


def test_run_directory_finds_the_newest_log(tmp_path):
    import shutil

    for v, name in ((0, "healthy.csv"), (3, "overfitting.csv"), (12, "diverged.csv")):
        d = tmp_path / "exp" / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(sample(name), d / "metrics.csv")
    (tmp_path / "exp" / "notes.txt").write_text("not a log")
    r = run("analyze", str(tmp_path / "exp"), "--format", "json", "--fail-on", "never")
    # each version_N is a run of its own (this asserted, before, that only the newest was read:
    # a directory of several runs now gives one report per run, ordered by N, not by name)
    d = json.loads(r.stdout)
    assert [x["verdict"] for x in d] == ["healthy", "overfitting", "diverged"]
    assert d[2]["source"]["path"].endswith("version_12/metrics.csv")
    assert any("run directory: read lightning_logs/version_12/metrics.csv" in n for n in d[2]["source"]["notes"])
    hf = tmp_path / "hf"
    for step in (500, 1500, 1000):
        c = hf / f"checkpoint-{step}"
        c.mkdir(parents=True)
        (c / "trainer_state.json").write_text(json.dumps({"log_history": [{"loss": 1.0 / (i + 1), "epoch": i, "step": i} for i in range(step // 250)]}))
    d = json.loads(run("analyze", str(hf), "--format", "json", "--fail-on", "never").stdout)[0]
    assert "checkpoint-1500" in d["source"]["path"]


def test_metric_option_picks_the_quality_metric():
    from ..conftest import require_shared

    p = require_shared("real_logs", "ultralytics_csv", "helmet_50ep_results.csv")
    d = json.loads(run("analyze", str(p), "--metric", "metrics/mAP50(B)", "--format", "json", "--fail-on", "never").stdout)[0]
    assert d["source"]["columns"]["val_acc"].startswith("metrics/mAP50(B)")
    assert any("--metric" in n for n in d["source"]["notes"])
    r = run("analyze", str(p), "--metric", "nope")
    assert r.exit_code == 2 and "no column named 'nope'" in r.stderr


def test_closed_stdout_is_not_reported_as_findings():
    import subprocess
    import sys

    p = subprocess.Popen(
        [sys.executable, "-m", "curvediag", "analyze", str(sample("overfitting.csv")), "--fail-on", "never"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    p.stdout.read(10)
    p.stdout.close()  # like `| head -c 10`
    err = p.stderr.read().decode()
    assert p.wait() in (0, 141) and "Traceback" not in err
