"""Machine and CI output formats: JSON Schema, JSON Lines, Markdown, GitHub
annotations, JUnit; --output written atomically; many runs at once."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.schema import SCHEMA

from .conftest import SAMPLE_VERDICTS, real_log_files, sample

runner = CliRunner()
SAMPLES = [str(sample(n)) for n in sorted(SAMPLE_VERDICTS)]


def run(*args, **kw):
    return runner.invoke(app, list(args), **kw)


def test_schema_command_prints_the_schema():
    r = run("schema")
    assert r.exit_code == 0 and json.loads(r.stdout) == json.loads(json.dumps(SCHEMA))
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", SAMPLES + [str(p) for p in real_log_files()])
def test_every_json_report_validates_against_the_schema(path):
    r = run("analyze", path, "--format", "json", "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    jsonschema.validate(json.loads(r.stdout), SCHEMA)


def test_jsonl_one_report_per_line():
    r = run("analyze", *SAMPLES, "--format", "jsonl", "--fail-on", "never")
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(SAMPLES)
    assert [json.loads(x)["verdict"] for x in lines] == [SAMPLE_VERDICTS[n] for n in sorted(SAMPLE_VERDICTS)]


def test_markdown_report():
    md = run("analyze", str(sample("overfitting.csv")), "--format", "markdown", "--fail-on", "never").stdout
    assert md.startswith("## curvediag\n")
    assert "### ⚠️ overfitting — `" in md
    assert "| metric | first | best | at | last |" in md and "| val_loss |" in md
    assert "**O102 val-loss-rising** (warning)" in md and "<summary>What to do</summary>" in md
    many = run("analyze", *SAMPLES, "--format", "markdown", "--fail-on", "never").stdout
    # the summary table: best and onset with their unit (this was "best epoch", a bare number)
    assert "| run | format | verdict | best | onset | headline |" in many and "| ep 13 | ep 13 |" in many


def test_github_annotations():
    out = run("analyze", str(sample("cramming_history.json")), "--format", "github", "--fail-on", "never").stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("::error file=") and "title=curvediag O101 val-loss-up-val-acc-down::" in lines[0]
    assert any(x.startswith("::warning ") and "O102" in x for x in lines)
    assert all(x.startswith("::") for x in lines)
    healthy = run("analyze", str(sample("healthy.csv")), "--format", "github").stdout
    assert healthy.startswith("::notice ") and "healthy" in healthy


def test_junit_failures_follow_fail_on():
    xml = run("analyze", str(sample("cramming_history.json")), "--format", "junit").stdout
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["O101 val-loss-up-val-acc-down"].find("failure") is not None  # error >= warning
    assert cases["O102 val-loss-rising"].find("failure") is not None
    assert cases["C101 chance-level"].find("skipped") is not None
    assert int(suite.get("failures")) == 2 and int(suite.get("tests")) == len(cases)
    root = ET.fromstring(run("analyze", str(sample("cramming_history.json")), "--format", "junit", "--fail-on", "error").stdout)
    assert int(root.find("testsuite").get("failures")) == 1


def test_output_file_is_written_and_stdout_keeps_another_format(tmp_path):
    out = tmp_path / "report.md"
    r = run("analyze", str(sample("overfitting.csv")), "--output", str(out), "--fail-on", "never")
    assert r.stdout == "" and out.read_text().startswith("## curvediag")
    r = run("analyze", str(sample("overfitting.csv")), "--output", str(tmp_path / "r.json"), "--format", "github")
    assert r.stdout.startswith("::warning") and json.loads((tmp_path / "r.json").read_text())["verdict"] == "overfitting"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left behind
    r = run("analyze", str(sample("overfitting.csv")), "--output", str(tmp_path / "missing" / "r.json"))
    assert r.exit_code == 2 and "cannot write" in r.stderr


def test_many_runs_summary_table_lists_unreadable_inputs(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("")
    r = run("analyze", *SAMPLES, str(bad), "--no-color")
    assert r.exit_code == 2
    assert "run" in r.stdout and "verdict" in r.stdout and "unreadable" in r.stdout
    assert f"{len(SAMPLES) + 1} logs:" in r.stdout and "1 unreadable" in r.stdout
    assert "remedies" not in r.stdout
    full = run("analyze", *SAMPLES, "--full", "--fail-on", "never", "--no-color").stdout
    assert "remedies" in full


def test_jobs_give_the_same_reports_in_the_same_order(tmp_path):
    seq = run("analyze", *SAMPLES, "--format", "jsonl", "--fail-on", "never").stdout
    par = run("analyze", *SAMPLES, "--format", "jsonl", "--fail-on", "never", "--jobs", "2").stdout
    assert par == seq and len(par.splitlines()) == len(SAMPLES)


def test_output_or_plot_onto_an_input_is_refused(tmp_path):
    import shutil

    log = tmp_path / "log.csv"
    shutil.copy(sample("overfitting.csv"), log)
    before = log.read_bytes()
    for opt in ("--output", "--plot"):
        r = run("analyze", str(log), opt, str(log))
        assert r.exit_code == 2 and "never writes to its inputs" in r.stderr
    assert log.read_bytes() == before
