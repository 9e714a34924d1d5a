"""--format gitlab-metrics (OpenMetrics text for GitLab's metrics report), --format azure (Azure
Pipelines logging commands) and json-lines, another name for jsonl."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.render.locate import relative as _relative

from ..conftest import sample

runner = CliRunner()
parser = pytest.importorskip("prometheus_client.openmetrics.parser")


def relative(path: str) -> str:
    return _relative(path) or path


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def families(text: str) -> dict:
    """name -> {labels tuple: value}, through the OpenMetrics reference parser (which refuses a
    text without its final # EOF)."""
    out: dict = {}
    for fam in parser.text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_gitlab_metrics_is_openmetrics_with_the_report_numbers(tmp_path):
    over, healthy = sample("overfitting.csv"), sample("healthy.csv")
    r = run("analyze", over, healthy, tmp_path / "missing.csv", "--format", "gitlab-metrics", "--fail-on", "never")
    assert r.exit_code == 2  # an unreadable input is still status 2
    assert r.stdout.endswith("# EOF\n")
    got = families(r.stdout)
    reports = [json.loads(line) for line in run("analyze", over, healthy, "-f", "jsonl", "--fail-on", "never").stdout.splitlines()]
    for rep in reports:
        name = relative(rep["source"]["path"])
        run_ = (("run", name),)
        val = rep["metrics"]["val_loss"]
        assert got["curvediag_best_val_loss"][run_] == pytest.approx(val["best"], rel=1e-5)
        assert got["curvediag_final_val_loss"][run_] == pytest.approx(val["last"], rel=1e-5)
        assert got["curvediag_epochs_after_best"][run_] == rep["epochs_after_best"]
        for sev in ("error", "warning", "info"):
            n = sum(f["severity"] == sev for f in rep["findings"])
            assert got["curvediag_findings"][(("run", name), ("severity", sev))] == n
    assert got["curvediag_findings"][(("run", relative(str(over))), ("severity", "warning"))] == 1
    assert got["curvediag_unreadable"] == {(("run", relative(str(tmp_path / "missing.csv"))),): 1}


def test_gitlab_metrics_names_with_quotes_spaces_and_newlines_stay_one_token(tmp_path):
    d = tmp_path / 'a "b"\\c d\ne'
    d.mkdir()
    log = d / "log.csv"
    log.write_bytes(sample("healthy.csv").read_bytes())
    r = run("analyze", log, "-f", "gitlab-metrics", "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    for line in r.stdout.splitlines():
        if not line.startswith("#"):
            assert len(line.split()) == 2, line  # GitLab splits each line at whitespace: name, value
    got = families(r.stdout)
    (labels,) = got["curvediag_best_val_loss"]
    assert dict(labels)["run"] == relative(str(log)).replace(" ", "%20")


def test_gitlab_metrics_by_extension_and_config(tmp_path):
    out = tmp_path / "metrics.prom"
    r = run("analyze", sample("healthy.csv"), "-o", out)
    assert r.exit_code == 0 and out.read_text().endswith("# EOF\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text('format = "gitlab-metrics"\n')
    r = run("analyze", sample("healthy.csv"), "--config", cfg)
    assert "curvediag_best_val_loss{" in r.stdout


VSO = re.compile(r"^##vso\[task\.logissue ([^\]]*)\](.*)$")


def test_azure_issues_per_error_and_warning_finding(tmp_path):
    r = run("analyze", sample("overfitting.csv"), sample("diverged.csv"), tmp_path / "nope.csv", "-f", "azure")
    assert r.exit_code == 2
    rep = [json.loads(line) for line in run("analyze", sample("overfitting.csv"), sample("diverged.csv"), "-f", "jsonl").stdout.splitlines()]
    issues = []
    for line in r.stdout.splitlines():
        m = VSO.match(line)
        if m:
            props = dict(p.split("=", 1) for p in m.group(1).split(";"))
            issues.append((props["type"], props.get("code"), props["sourcepath"]))
        else:
            assert "##" not in line and line.startswith("curvediag: ")
    want = [(f["severity"], f["code"], relative(x["source"]["path"])) for x in rep for f in x["findings"] if f["severity"] in ("error", "warning")]
    assert issues == want + [("error", "unreadable", relative(str(tmp_path / "nope.csv")))]
    assert any(t == "error" for t, _, _ in issues[:-1])  # the diverged log's error finding
    line = next(x for x in r.stdout.splitlines() if "code=O102" in x)
    assert "linenumber=" in line and "190%AZP25" in line  # % escaped as Azure's task library does


def test_azure_escapes_names_so_nothing_forges_a_command(tmp_path):
    d = tmp_path / "x;code=Z]##vso[task.complete result=Succeeded]%\n"
    d.mkdir()
    log = d / "log.csv"
    log.write_bytes(sample("overfitting.csv").read_bytes())
    r = run("analyze", log, "-f", "azure", "--fail-on", "never")
    lines = r.stdout.splitlines()
    assert all(x.startswith(("##vso[task.logissue ", "curvediag: ")) for x in lines)
    issue = next(x for x in lines if x.startswith("##vso"))
    props = VSO.match(issue).group(1)
    assert "%3Bcode=Z%5D" in props and "%AZP25" in props and "\n" not in issue
    assert props.count(";") == 3 and props.count("]") == 0
    for x in lines:
        if not x.startswith("##vso"):
            assert "##" not in x


def test_json_lines_is_jsonl():
    a = run("analyze", sample("healthy.csv"), sample("overfitting.csv"), "-f", "jsonl", "--fail-on", "never").stdout
    b = run("analyze", sample("healthy.csv"), sample("overfitting.csv"), "-f", "json-lines", "--fail-on", "never").stdout
    assert a == b and len(a.splitlines()) == 2
    r = run("analyze", sample("healthy.csv"), "--fail-on", "never", env={"CURVEDIAG_FORMAT": "json-lines"})
    assert r.stdout == a.splitlines(keepends=True)[0]
    r = run("config", "--format", "json", env={"CURVEDIAG_FORMAT": "json-lines"})
    assert json.loads(r.stdout)["format"] == "jsonl"
