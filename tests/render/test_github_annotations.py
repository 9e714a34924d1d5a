"""GitHub annotations within GitHub's limits (10 per level per step, 50 per job; the rest dropped):
each finding at or above --annotate / --fail-on on its own, one per log and level below it, a
summary of what a level left out; line= at the onset row; --stdin-filename in every output."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from curvediag.cli import app

from ..conftest import REPO, require_real_logs, sample

runner = CliRunner()
COMMAND = re.compile(r"::(error|warning|notice) (?:file=([^,]*),)?title=([^,:]*)(?:,line=(\d+))?::(.*)")


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def parse(out: str) -> list[tuple[str, str | None, str, int | None, str]]:
    rows = []
    for line in out.splitlines():
        m = COMMAND.fullmatch(line)
        assert m, line
        level, file, title, n, msg = m.groups()
        rows.append((level, file, title, int(n) if n else None, msg))
    return rows


def findings(path, *extra):
    return json.loads(run("analyze", path, "--format", "jsonl", "--fail-on", "never", *extra).stdout)["findings"]


def count(rows, level):
    return sum(1 for r in rows if r[0] == level)


def test_below_fail_on_one_annotation_per_log_and_level():
    rows = parse(run("analyze", sample("overfitting.csv"), "-f", "github").stdout)  # --fail-on warning
    found = findings(sample("overfitting.csv"))
    warnings = [f for f in found if f["severity"] == "warning"]
    infos = [f for f in found if f["severity"] == "info"]
    assert len(infos) > 1  # the class under test: several findings below the level
    assert count(rows, "warning") == len(warnings) and count(rows, "notice") == 1
    (notice,) = [r for r in rows if r[0] == "notice"]
    assert all(f["code"] in notice[2] and f["code"] in notice[4] for f in infos)  # each one summarised
    # --annotate info: every finding on its own
    rows = parse(run("analyze", sample("overfitting.csv"), "-f", "github", "--annotate", "info").stdout)
    assert len(rows) == len(found)
    # --fail-on error: the warnings are below it now, one annotation for them
    rows = parse(run("analyze", sample("overfitting.csv"), "-f", "github", "--fail-on", "error").stdout)
    assert count(rows, "warning") == 1 and count(rows, "notice") == 1
    # --annotate overrides --fail-on
    rows = parse(run("analyze", sample("overfitting.csv"), "-f", "github", "--fail-on", "error",
                     "--annotate", "warning").stdout)
    assert count(rows, "warning") == len(warnings)


def test_line_is_the_onset_row_of_a_text_log():
    rows = parse(run("analyze", sample("diverged.csv"), "-f", "github").stdout)
    d101 = [r for r in rows if "D101" in r[2]][0]
    assert d101[3] == 21 and sample("diverged.csv").read_text().splitlines()[20].startswith("19,")
    assert all(r[3] is None for r in parse(run("analyze", sample("cramming_history.json"), "-f", "github").stdout))


@pytest.fixture
def many_logs(tmp_path):
    paths = []
    for i in range(24):
        for name in ("diverged.csv", "overfitting.csv", "healthy.csv"):
            p = tmp_path / f"{i:02d}_{name}"
            shutil.copy(sample(name), p)
            paths.append(p)
    return paths


@pytest.mark.parametrize("extra", [(), ("--annotate", "info"), ("--fail-on", "never"), ("--fail-on", "error")])
def test_many_logs_stay_within_githubs_limits(many_logs, extra):
    r = run("analyze", *many_logs, "-f", "github", *extra)
    rows = parse(r.stdout)
    for level in ("error", "warning", "notice"):
        assert count(rows, level) <= 10, level
    assert len(rows) <= 50
    for level in ("error", "warning", "notice"):
        made = [x for x in rows if x[0] == level]
        if len(made) == 10 and "more" in made[-1][2]:  # the last says what was left out, and how much
            n = int(re.match(r"curvediag%3A (\d+) more", made[-1][2]).group(1))
            assert n > 0 and made[-1][1] is None and "--format sarif" in made[-1][4]
    errors = [x for x in rows if x[0] == "error"]
    assert len(errors) == 10 and errors[0][1].endswith("00_diverged.csv")  # the first ones kept, in input order
    n_errors = sum(1 for p in many_logs for f in findings(p) if f["severity"] == "error") if extra == ("--annotate", "info") else None
    if n_errors:
        assert int(re.match(r"curvediag%3A (\d+) more", errors[-1][2]).group(1)) == n_errors - 9


def test_the_real_logs_stay_within_githubs_limits():
    logs = require_real_logs()
    rows = parse(run("analyze", *logs, "-f", "github", "--fail-on", "never").stdout)
    assert all(count(rows, lv) <= 10 for lv in ("error", "warning", "notice")) and len(rows) <= 50


def test_unreadable_inputs_count_as_errors_within_the_limit(tmp_path):
    bad = []
    for i in range(15):
        p = tmp_path / f"empty{i}.csv"
        p.write_text("")
        bad.append(p)
    rows = parse(run("analyze", sample("healthy.csv"), *bad, "-f", "github").stdout)
    assert count(rows, "error") == 10 and "6 more error" in rows[-1][2].replace("%3A", ":")


# --- --stdin-filename: the name in every output -------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "markdown", "github", "junit", "sarif", "gitlab"])
def test_stdin_filename_names_stdin_in_every_output(fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = sample("overfitting.csv").read_text()
    r = run("analyze", "-", "--stdin-filename", "runs/train log.csv", "-f", fmt, "--no-color", input=text)
    assert r.exit_code == 1, r.stderr
    out = r.stdout
    name = {"sarif": "runs/train%20log.csv", "junit": "runs/train log.csv"}.get(fmt, "runs/train log.csv")
    assert name in out and "<stdin>" not in out and "%3Cstdin" not in out and '"stdin"' not in out
    if fmt == "junit":
        assert ET.fromstring(out).find("testsuite").get("name") == "runs/train log.csv"
    # an unreadable stdin is named too, on stderr and in the output
    r = run("analyze", "-", sample("healthy.csv"), "--stdin-filename", "runs/x.csv", "-f", fmt, "--no-color", input="")
    assert r.exit_code == 2 and r.stderr.startswith("curvediag: runs/x.csv: ")
    # (text: the summary table names each run by its shortest unique path suffix)
    assert ("x.csv" if fmt == "text" else "runs/x.csv") in r.stdout and "<stdin>" not in r.stdout


def test_stdin_filename_never_reads_the_file_of_that_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(sample("diverged.csv"), tmp_path / "named.csv")  # a file of that name, other content
    r = run("analyze", "-", "--stdin-filename", "named.csv", "-f", "github", input=sample("diverged.csv").read_text())
    assert all(row[3] is None for row in parse(r.stdout))  # no line: stdin cannot be read again


def test_compare_takes_annotate_and_stdin_filename():
    base = [str(p) for p in sorted((REPO / "tests" / "data" / "compare").rglob("*.csv"))][:2]
    if len(base) < 2:
        pytest.skip("no comparison fixtures")
    r = run("compare", *base[:1], "--run", "-", "--stdin-filename", "mine.csv", "-f", "github", "--annotate", "info",
            input=open(base[1]).read())
    assert r.exit_code in (0, 1), r.stderr
    assert all(row[1] == "mine.csv" for row in parse(r.stdout))
