"""The code-scanning formats: SARIF 2.1.0 (validated against the OASIS schema shipped in
tests/data) and GitLab Code Quality JSON; the line a finding points at in each kind of log."""

from __future__ import annotations

import gzip
import json
import math
import shutil

import jsonschema
import pytest
from typer.testing import CliRunner

from curvediag.cli import app

from ..conftest import REPO, SAMPLE_VERDICTS, real_log_files, sample

runner = CliRunner()
SARIF_SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())
SAMPLES = [str(sample(n)) for n in sorted(SAMPLE_VERDICTS)]
GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def sarif_of(*args):
    r = run("analyze", *args, "--format", "sarif", "--fail-on", "never")
    doc = json.loads(r.stdout)
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    return r, doc


def test_the_shipped_schema_is_the_published_one():
    assert SARIF_SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SARIF_SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    jsonschema.Draft4Validator.check_schema(SARIF_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # it refuses what is not SARIF
        jsonschema.Draft4Validator(SARIF_SCHEMA).validate({"version": "2.1.0", "runs": [{"results": []}]})


@pytest.mark.parametrize("path", SAMPLES + [str(p) for p in real_log_files()])
def test_every_sample_and_real_log_gives_valid_sarif(path):
    r, doc = sarif_of(path)
    assert r.exit_code == 0, r.stderr
    (run_,) = doc["runs"]
    rules = run_["tool"]["driver"]["rules"]
    report = json.loads(run("analyze", path, "--format", "jsonl", "--fail-on", "never").stdout)
    assert [(x["ruleId"], x["level"]) for x in run_["results"]] == [
        (f["code"], {"error": "error", "warning": "warning", "info": "note"}[f["severity"]]) for f in report["findings"]]
    for res in run_["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
    assert run_["invocations"][0]["executionSuccessful"] is True


def test_rules_carry_their_documentation_and_level():
    _, doc = sarif_of(sample("healthy.csv"))
    rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
    from curvediag.rules import RULES

    assert list(rules) == [r.code for r in RULES]
    d101 = rules["D101"]
    assert d101["name"] == "non-finite-loss" and d101["defaultConfiguration"]["level"] == "error"
    assert d101["shortDescription"]["text"] == "A loss became NaN or infinite."
    assert "Why it matters" in d101["fullDescription"]["text"] and "Remedies:" in d101["help"]["text"]
    assert d101["helpUri"].endswith("docs/rules.md#d101-non-finite-loss")
    assert rules["I101"]["defaultConfiguration"]["level"] == "note"
    headings = (REPO / "docs" / "rules.md").read_text()
    for r in rules.values():  # every anchor is a heading of docs/rules.md
        code, name = r["helpUri"].split("#")[1].split("-", 1)
        assert f"## {code.upper()} {name}\n" in headings


def test_locations_are_relative_to_srcroot_inside_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    _, doc = sarif_of("sample_logs/diverged.csv")
    loc = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "sample_logs/diverged.csv", "uriBaseId": "%SRCROOT%"}
    assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == REPO.as_uri() + "/"
    outside = tmp_path / "run dir" / "log.csv"
    outside.parent.mkdir()
    shutil.copy(sample("diverged.csv"), outside)
    _, doc = sarif_of(outside)
    art = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert art == {"uri": outside.as_uri()} and "%20" in art["uri"]


def test_unreadable_inputs_are_tool_execution_notifications(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r, doc = sarif_of(sample("diverged.csv"), empty, tmp_path / "missing.csv")
    assert r.exit_code == 2
    inv = doc["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is False
    notes = inv["toolExecutionNotifications"]
    assert [n["level"] for n in notes] == ["error", "error"]
    assert "empty file" in notes[0]["message"]["text"] and "no such file" in notes[1]["message"]["text"]
    assert notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("/empty.csv")
    assert doc["runs"][0]["results"]  # the readable log is still reported


# --- the line a finding points at, per kind of log -------------------------------------------------------


def _lines(path, fmt="sarif", *extra):
    r = run("analyze", path, "--format", fmt, "--fail-on", "never", *extra)
    if fmt == "gitlab":
        return {i["check_name"]: i["location"]["lines"]["begin"] for i in json.loads(r.stdout)}
    res = json.loads(r.stdout)["runs"][0]["results"]
    return {x["ruleId"]: x["locations"][0]["physicalLocation"].get("region", {}).get("startLine") for x in res}


def _diverging_rows(n=30, blow=19):
    rows = []
    for e in range(n):
        loss = math.nan if e >= blow else 1.0 / (e + 1)
        rows.append((e, loss, loss * 1.1))
    return rows


def test_csv_line_is_the_onset_row(tmp_path):
    lines = _lines(sample("diverged.csv"))
    assert lines["D101"] == 21  # header on line 1, epoch 0 on line 2, the first NaN at epoch 19
    text = sample("diverged.csv").read_text().splitlines()
    assert text[lines["D101"] - 1].startswith("19,")
    # a quoted newline in the header, and blank lines, count as the lines they are
    p = tmp_path / "quoted.csv"
    body = "".join(f"{e},{a},{b}\n" for e, a, b in _diverging_rows())
    p.write_text('epoch,"loss\n(train)",val_loss\n\n' + body)
    got = _lines(p, "sarif", "--loss", "loss\n(train)")["D101"]
    assert p.read_text().splitlines()[got - 1].startswith("19,")


def test_jsonl_and_keras_console_lines(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps({"epoch": e, "loss": a, "val_loss": b}) + "\n"
                         for e, a, b in _diverging_rows()).replace("NaN", "NaN"))
    got = _lines(p)["D101"]
    assert json.loads(p.read_text().splitlines()[got - 1].replace("NaN", "null"))["epoch"] == 19
    console = tmp_path / "fit.log"
    text = ""
    for e, a, b in _diverging_rows(12, 8):
        text += f"Epoch {e + 1}/12\n16/16 [====] - 0s - loss: {a:.4f} - val_loss: {b:.4f}\n"
    console.write_text(text.replace("nan", "nan"))
    got = _lines(console)["D101"]
    assert console.read_text().splitlines()[got - 1] == "Epoch 9/12"


def test_no_line_where_the_log_has_no_row_per_line(tmp_path):
    assert set(_lines(sample("cramming_history.json")).values()) == {None}  # a JSON document
    gz = tmp_path / "diverged.csv.gz"
    gz.write_bytes(gzip.compress(sample("diverged.csv").read_bytes()))
    assert set(_lines(gz).values()) == {None}
    assert set(_lines(gz, "gitlab").values()) == {1}  # GitLab needs a line: the first
    r = run("analyze", "-", "--format", "sarif", "--fail-on", "never", input=sample("diverged.csv").read_text())
    res = json.loads(r.stdout)["runs"][0]["results"]
    assert res and all("region" not in x["locations"][0]["physicalLocation"] for x in res)  # stdin is never read again


def test_gitlab_code_quality(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run("analyze", "sample_logs/diverged.csv", "sample_logs/overfitting.csv", str(empty), "--format", "gitlab")
    assert r.exit_code == 2
    issues = json.loads(r.stdout)
    assert isinstance(issues, list)
    for i in issues:
        assert set(i) >= {"description", "check_name", "fingerprint", "severity", "location"}
        assert i["severity"] in GITLAB_SEVERITIES and isinstance(i["location"]["lines"]["begin"], int)
    fps = [i["fingerprint"] for i in issues]
    assert len(set(fps)) == len(fps)  # unique per issue
    by = {(i["location"]["path"], i["check_name"]): i for i in issues}
    assert by[("sample_logs/diverged.csv", "D101")]["severity"] == "critical"
    assert by[("sample_logs/overfitting.csv", "O102")]["severity"] == "major"
    assert by[("sample_logs/diverged.csv", "D101")]["location"]["lines"]["begin"] == 21
    assert [i["severity"] for i in issues if i["check_name"] == "unreadable"] == ["blocker"]
    # stable: the same log and rule give the same fingerprint in another checkout, by any spelling of the path
    for where in ("a", "b"):
        (tmp_path / where / "sample_logs").mkdir(parents=True)
        shutil.copy(sample("diverged.csv"), tmp_path / where / "sample_logs" / "diverged.csv")
        monkeypatch.chdir(tmp_path / where)
        for spelling in ("sample_logs/diverged.csv", str(tmp_path / where / "sample_logs" / "diverged.csv")):
            again = json.loads(run("analyze", spelling, "--format", "gitlab", "--fail-on", "never").stdout)
            assert {i["fingerprint"] for i in again} == {fp for (path, _), fp in
                                                        ((k, v["fingerprint"]) for k, v in by.items())
                                                        if path == "sample_logs/diverged.csv"}


def test_sarif_output_file_by_extension(tmp_path):
    out = tmp_path / "results.sarif"
    r = run("analyze", sample("diverged.csv"), "-o", out)
    assert r.stdout == "" and r.exit_code == 1
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(json.loads(out.read_text()))
