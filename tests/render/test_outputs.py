"""Machine and CI output formats: JSON Schema, JSON Lines, Markdown, GitHub
annotations, JUnit; --output written atomically; many runs at once."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import jsonschema
import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.schema import SCHEMA

from ..conftest import SAMPLE_VERDICTS, real_log_files, sample

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
    jsonschema.validate(json.loads(r.stdout)[0], SCHEMA)


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
    assert r.stdout.startswith("::warning") and json.loads((tmp_path / "r.json").read_text())[0]["verdict"] == "overfitting"
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


# --- the JSON contract, schema 2 (issue 15): one shape, null for non-finite numbers, growable objects ---------


def _closed(schema):
    """The schema with every object closed to the keys it describes: an emitted key the schema does
    not describe then fails (growable objects only allow keys added in later versions)."""
    if isinstance(schema, dict):
        out = {k: _closed(v) for k, v in schema.items()}
        if out.get("additionalProperties") is True:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_closed(x) for x in schema]
    return schema


CLOSED = _closed(SCHEMA)


@pytest.mark.parametrize("paths", [SAMPLES[:1], SAMPLES[:2], SAMPLES])
def test_json_is_an_array_however_many_inputs(paths):
    d = json.loads(run("analyze", *paths, "--format", "json", "--fail-on", "never").stdout)
    assert isinstance(d, list) and len(d) == len(paths)
    jsonschema.validate(d, SCHEMA)
    jsonschema.validate(d, CLOSED)  # nothing emitted that the schema does not describe


def test_a_glob_matching_one_file_gives_the_same_shape_as_two(tmp_path):
    import shutil

    shutil.copy(sample("healthy.csv"), tmp_path / "a.csv")
    one = json.loads(run("analyze", str(tmp_path / "a.csv"), "--format", "json").stdout)
    shutil.copy(sample("healthy.csv"), tmp_path / "b.csv")
    two = json.loads(run("analyze", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--format", "json").stdout)
    assert type(one) is type(two) is list and one[0]["verdict"] == two[0]["verdict"] == two[1]["verdict"]


def test_growable_objects_allow_new_keys_and_fixed_ones_do_not():
    d = json.loads(run("analyze", str(sample("still_improving_fastai.csv")), "--format", "json",
                       "--fail-on", "never").stdout)
    rep = d[0]
    grown = json.loads(json.dumps(rep))
    grown["a_new_key"] = 1
    grown["source"]["new"] = 1
    grown["findings"][0]["new"] = 1
    next(iter(grown["metrics"].values()))["new"] = 1
    grown["metrics"]["a_new_metric"] = dict(next(iter(rep["metrics"].values())))
    grown["projection"]["new"] = 1
    jsonschema.validate([grown], SCHEMA)
    for fixed in (lambda r: r["final_gap"].update(new=1), lambda r: r["projection"]["horizon_50"].update(new=1)):
        bad = json.loads(json.dumps(rep))
        fixed(bad)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([bad], SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rep, {**SCHEMA, "oneOf": [{"$ref": "#/$defs/output"}]})  # json is the array, not a report


def _nan_log(tmp_path):
    p = tmp_path / "nan.csv"
    rows = [f"{e},{1 / (e + 1)},{1.1 / (e + 1)}" for e in range(12)] + ["12,nan,inf", "13,inf,-inf"]
    p.write_text("epoch,loss,val_loss\n" + "\n".join(rows) + "\n")
    return p


def _non_finite_places(obj, path=""):
    """(where, flag) for every non_finite_values entry, and every string standing in for a number."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "non_finite_values":
                found += [(f"{path}.{kk}", vv) for kk, vv in v.items()]
            else:
                found += _non_finite_places(v, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            found += _non_finite_places(v, f"{path}[{i}]")
    elif obj in ("NaN", "Infinity", "-Infinity"):
        found.append((path, "STRING"))
    return found


def test_non_finite_numbers_are_null_with_a_flag_in_every_json_output(tmp_path):
    p = _nan_log(tmp_path)
    d = json.loads(run("analyze", str(p), "--format", "json", "--fail-on", "never").stdout)[0]
    jsonschema.validate([d], CLOSED)
    m = d["metrics"]
    assert m["train_loss"]["last"] is None and m["train_loss"]["non_finite_values"] == {"last": "Infinity"}
    assert m["val_loss"]["last"] is None and m["val_loss"]["non_finite_values"] == {"last": "-Infinity"}
    assert "non_finite_values" not in m["train_loss"] or m["train_loss"]["first"] is not None
    places = _non_finite_places(d)
    assert places and all(flag != "STRING" for _, flag in places)  # never a string in place of a number
    for where, _ in places:  # each flagged number is null where it stands
        obj = d
        for part in re.findall(r"\.([a-z_0-9]+)", where)[:-1]:
            obj = obj[part]
        assert obj[where.rsplit(".", 1)[1]] is None or isinstance(obj[where.rsplit(".", 1)[1]], list), where
    # jsonl and the library's to_dict (a callback's report_path file) say the same
    line = json.loads(run("analyze", str(p), "--format", "jsonl", "--fail-on", "never").stdout)
    import curvediag

    lib = json.loads(json.dumps(curvediag.diagnose(str(p)).to_dict(), allow_nan=False))
    assert line == d and lib["metrics"] == d["metrics"]


def test_a_callbacks_report_file_is_one_report_object(tmp_path):
    from curvediag.monitor import Observer

    obs = Observer(source="live", report_path=str(tmp_path / "r.json"), say=lambda line: None)
    for e in range(14):
        obs.log(epoch=e, loss=1 / (e + 1) if e < 12 else float("nan"), val_loss=1.1 / (e + 1))
    obs.close()
    rep = json.loads((tmp_path / "r.json").read_text())
    assert isinstance(rep, dict) and rep["metrics"]["train_loss"]["non_finite_values"] == {"last": "NaN"}
    jsonschema.validate(rep, SCHEMA)
