"""Every machine format shows each unreadable input (not only stderr), in the order given,
and the exit status stays 2; a batch whose inputs are all readable is rendered as before."""

from __future__ import annotations

import json

import jsonschema
import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.schema import SCHEMA

from ..conftest import sample

runner = CliRunner()
GOOD = str(sample("healthy.csv"))


def _bad_inputs(tmp_path):
    """One of each class: missing, empty, binary, no loss column, a directory with no log."""
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    shape = tmp_path / "names.csv"
    shape.write_text("name,colour\na,b\nc,d\n")
    nolog = tmp_path / "nolog"
    nolog.mkdir()
    return [str(tmp_path / "missing.csv"), str(empty), str(binary), str(shape), str(nolog)]


def _run(fmt, *paths):
    return runner.invoke(app, ["analyze", *paths, "--format", fmt, "--fail-on", "never"])


def _problems(bad):
    """path -> the problem curvediag states on stderr for it (``curvediag: PATH: problem``)."""
    out = {}
    for p in bad:
        r = runner.invoke(app, ["analyze", p])
        assert r.exit_code == 2
        line = r.stderr.strip().splitlines()[-1]
        out[p] = line.split(f"{p}: ", 1)[1]
    return out


def test_json_lists_every_unreadable_input_in_order_and_validates(tmp_path):
    bad = _bad_inputs(tmp_path)
    problems = _problems(bad)
    paths = [bad[0], GOOD, *bad[1:]]
    r = _run("json", *paths)
    assert r.exit_code == 2
    data = json.loads(r.stdout)
    jsonschema.validate(data, SCHEMA)
    assert [d.get("path") or d["source"]["path"] for d in data] == paths
    errors = [d for d in data if "error" in d]
    assert [(d["path"], d["error"]) for d in errors] == [(p, problems[p]) for p in bad]
    assert all(set(d) == {"path", "error"} for d in errors)
    assert data[1]["verdict"] == "healthy"


def test_jsonl_has_one_line_per_input_unreadable_ones_included(tmp_path):
    bad = _bad_inputs(tmp_path)
    r = _run("jsonl", GOOD, *bad)
    assert r.exit_code == 2
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d.get("path") or d["source"]["path"] for d in rows] == [GOOD, *bad]
    for d in rows:
        jsonschema.validate(d, SCHEMA)


def test_schema_refuses_an_entry_that_is_neither_report_nor_error():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"path": "x.csv"}], SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate([{"path": "x.csv", "error": "e", "verdict": "healthy"}], SCHEMA)


def test_markdown_shows_each_unreadable_input_in_the_table_and_a_section(tmp_path):
    bad = _bad_inputs(tmp_path)
    problems = _problems(bad)
    r = _run("markdown", GOOD, *bad)
    assert r.exit_code == 2
    rows = [line for line in r.stdout.splitlines() if line.startswith("| `")]
    assert len(rows) == 1 + len(bad)
    for p in bad:
        row = next(line for line in rows if f"`{p}`" in line)
        assert "**unreadable**" in row and problems[p] in row
        assert f"### ❌ unreadable — `{p}`" in r.stdout
    assert "### ✅ healthy" in r.stdout


def test_markdown_one_good_one_missing_has_the_summary_table(tmp_path):
    r = _run("markdown", GOOD, str(tmp_path / "missing.csv"))
    assert r.exit_code == 2
    assert "| run | format | verdict | best | onset | headline |" in r.stdout  # was "best epoch": units now
    assert "no such file" in r.stdout


def test_github_annotates_each_unreadable_input_as_an_error(tmp_path):
    bad = _bad_inputs(tmp_path)
    problems = _problems(bad)
    r = _run("github", GOOD, *bad)
    assert r.exit_code == 2
    lines = r.stdout.splitlines()
    for p in bad:
        want = f"::error file={p.replace(':', '%3A').replace(',', '%2C')},title=curvediag%3A unreadable::{problems[p]}"
        assert want in lines
    assert any(line.startswith(f"::notice file={GOOD}") or f"file={GOOD}," in line for line in lines)


def test_github_unreadable_name_cannot_forge_a_command(tmp_path):
    r = _run("github", GOOD, str(tmp_path / "x\n::error file=forged::boom.csv"))
    assert r.exit_code == 2
    assert not any(line.startswith("::error file=forged") for line in r.stdout.splitlines())


@pytest.mark.parametrize("fmt", ["json", "jsonl", "markdown", "github", "junit", "text"])
def test_all_readable_batches_render_as_before(fmt):
    """No unreadable input: nothing added (the golden files hold the rest byte for byte)."""
    r = _run(fmt, GOOD, str(sample("overfitting.csv")))
    assert r.exit_code == 0
    assert "unreadable" not in r.stdout and '"error"' not in r.stdout
