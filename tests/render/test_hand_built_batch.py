"""Every output format renders a Batch built by hand: Reports, Findings and an Unreadable constructed
directly, no log read and no rule run.  A renderer reads the value types and nothing else, so each is
tested here on exactly what it is given: the verdict and the finding codes appear, the machine formats
parse (the JSON ones validate against ``curvediag schema``), and the exit status follows the findings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

import curvediag
from curvediag.batch import Batch, Unreadable
from curvediag.curves import SourceInfo
from curvediag.output import exit_status
from curvediag.render import RENDERERS, OutputFormat, OutputOptions, render, renderer
from curvediag.report import Finding, MetricSummary, Report, Skipped

RULES = (("O102", "val-loss-rising"), ("G102", "generalisation-gap"), ("C101", "chance-level"))


def _report(path: str, verdict: str, severity: str, headline: str, findings: tuple[Finding, ...],
            best: float | None = None) -> Report:
    return Report(
        source=SourceInfo(path=path, format="csv", rows=30, axis="epoch",
                          columns={"train_loss": "loss", "val_loss": "val_loss"}),
        verdict=verdict, severity=severity, headline=headline,
        best_epoch=best, best_epoch_metric="val_loss" if best is not None else None,
        onset_epoch=None if best is None else best + 2, epochs_after_best=None if best is None else 29 - best,
        final_gap={"loss": 0.3, "loss_relative": 3.0, "acc": None}, findings=findings,
        skipped=(Skipped("C101", "chance-level", "needs num_classes"),),
        metrics=(MetricSummary("train_loss", "loss", 30, 0, 2.3, 0.1, 29.0, 0.1, True, (2.3, 1.0, 0.1)),
                 MetricSummary("val_loss", "val_loss", 30, 0, 2.2, 0.4, best if best is not None else 29.0,
                               0.9 if best is not None else 0.4, True, (2.2, 0.4, 0.9))),
        remedies=tuple(r for f in findings for r in f.remedies),
    )


OVERFIT = _report(
    "runs/overfit.csv", "overfitting", "warning", "overfitting: val_loss rose 60% after epoch 12",
    (Finding("O102", "val-loss-rising", "overfitting", "warning", "val_loss rose 60% above its minimum",
             {"rise": 0.6}, (12.0, 29.0), ("stop at the best epoch",)),
     Finding("G102", "generalisation-gap", None, "info", "a gap of 0.8 between the losses")),
    best=12.0,
)
HEALTHY = _report("runs/healthy.csv", "healthy", "ok", "healthy: both losses fell and settled", ())
UNREAD = Unreadable("runs/broken.bin", "not a training log", "runs/broken.bin: not a training log")


def _batch(*items, **settings) -> Batch:
    paths = tuple(i.path if isinstance(i, Unreadable) else i.source.path for i in items)
    return Batch(paths=paths, items=tuple(items), settings=curvediag.Settings(**settings), rules=RULES)


BATCH = _batch(OVERFIT, HEALTHY, UNREAD)

#: canonical format -> (every run appears, not only those with a finding; the verdict word appears;
#: the finding codes appear): SARIF and GitLab Code Quality list issues only, gitlab-metrics counts the
#: findings by severity (checked below).  Every format of the vocabulary must have its line.
SHOWS = {
    "text": (True, True, True), "json": (True, True, True), "jsonl": (True, True, True),
    "markdown": (True, True, True), "github": (True, False, True), "junit": (True, False, True),
    "sarif": (False, True, True), "gitlab": (False, False, True), "gitlab-metrics": (True, False, False),
    "azure": (True, True, True),
}


def test_every_output_format_is_expected_here():
    assert set(SHOWS) == {f.canonical.value for f in OutputFormat} == {f.value for f in RENDERERS}


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=[f.value for f in OutputFormat])
def test_every_format_renders_the_hand_built_batch(fmt):
    before = _batch(OVERFIT, HEALTHY, UNREAD)
    out = render(BATCH, fmt, OutputOptions(full=True))
    assert BATCH == before  # a renderer reads the batch, never changes it
    assert out == renderer(fmt.value, OutputOptions(full=True))(BATCH)  # by the format or by its name
    every_run, verdict, codes = SHOWS[fmt.canonical.value]
    for path in BATCH.paths if every_run else (OVERFIT.source.path, UNREAD.path):  # the unreadable one too
        assert path.rsplit("/", 1)[-1] in out, (fmt, path)
    if verdict:
        assert "overfitting" in out and "healthy" in out
    if codes:
        assert "O102" in out and "G102" in out
    else:
        assert 'curvediag_findings{run="runs/overfit.csv",severity="warning"} 1' in out
        assert 'curvediag_findings{run="runs/overfit.csv",severity="info"} 1' in out
        assert 'curvediag_findings{run="runs/healthy.csv",severity="warning"} 0' in out
        assert 'curvediag_unreadable{run="runs/broken.bin"} 1' in out


#: the formats that are one document a parser reads (JSON or XML); the others are lines for a person or a CI log
DOCUMENTS = [f for f in OutputFormat if f.canonical.value in ("json", "jsonl", "sarif", "gitlab", "junit")]


@pytest.mark.parametrize("fmt", DOCUMENTS, ids=[f.value for f in DOCUMENTS])
def test_the_machine_formats_parse(fmt):
    out = render(BATCH, fmt)
    canonical = fmt.canonical.value
    if canonical == "json":
        docs = json.loads(out)
        assert [d.get("verdict") for d in docs] == ["overfitting", "healthy", None]
        assert [f["code"] for f in docs[0]["findings"]] == ["O102", "G102"] and docs[2]["path"] == "runs/broken.bin"
    elif canonical == "jsonl":
        docs = [json.loads(line) for line in out.splitlines()]
        assert [d.get("verdict") for d in docs] == ["overfitting", "healthy", None]
    elif canonical == "sarif":
        results = json.loads(out)["runs"][0]["results"]
        assert [(r["ruleId"], r["level"]) for r in results] == [("O102", "warning"), ("G102", "note")]
    elif canonical == "gitlab":
        assert [i["check_name"] for i in json.loads(out)] == ["O102", "G102", "unreadable"]
    else:
        root = ET.fromstring(out)
        assert (root.get("failures"), root.get("errors")) == ("1", "1")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_the_json_validates_against_the_schema(fmt):
    jsonschema = pytest.importorskip("jsonschema")
    from curvediag.schema import SCHEMA  # what `curvediag schema` prints (tests/render/test_outputs.py)

    out = render(BATCH, fmt)
    docs = [json.loads(out)] if fmt == "json" else [json.loads(line) for line in out.splitlines()]
    for doc in docs:
        jsonschema.validate(doc, SCHEMA)


@pytest.mark.parametrize("items,settings,exit_zero,status", [
    ((OVERFIT, HEALTHY, UNREAD), {}, False, 2),  # an unreadable input: 2, whatever the findings
    ((OVERFIT, HEALTHY), {}, False, 1),  # a warning finding reaches the default gate (warning)
    ((OVERFIT, HEALTHY), {"fail_on": "error"}, False, 0),  # ... not an error gate
    ((OVERFIT, HEALTHY), {"fail_on": "info"}, False, 1),
    ((OVERFIT, HEALTHY), {"fail_on": "never"}, False, 0),
    ((OVERFIT,), {}, True, 0),  # --exit-zero
    ((HEALTHY,), {"fail_on": "info"}, False, 0),  # no finding at all
])
def test_the_exit_status_follows_the_hand_built_findings(items, settings, exit_zero, status):
    assert exit_status(_batch(*items, **settings), exit_zero=exit_zero) == status
