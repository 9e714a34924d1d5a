"""The Verdict enum: one place for each verdict's severity, precedence and headline phrase."""

from __future__ import annotations

import json

import curvediag
from curvediag.report import VERDICTS, Finding
from curvediag.rules import RULES
from curvediag.summary import _verdict
from curvediag.verdict import Verdict, precedence

from ..conftest import sample


def test_a_verdict_is_its_string_everywhere():
    assert curvediag.Verdict is Verdict
    v = Verdict.OVERFITTING
    assert v == "overfitting" and str(v) == "overfitting" and f"{v}" == "overfitting" and f"{v:>12}" == " overfitting"
    assert json.dumps({"verdict": v}) == '{"verdict": "overfitting"}'
    assert {"overfitting": 1}[v] == 1
    assert VERDICTS == tuple(m.value for m in Verdict)


def test_the_contract_severities_are_those_the_json_schema_documents():
    # the severities README's JSON contract states; insufficient data fails the default gate
    assert {v.value: v.severity for v in Verdict} == {
        "diverged": "error", "not_learning": "error", "cramming": "error", "overfitting": "warning",
        "still_improving": "info", "insufficient_data": "warning", "healthy": "ok",
    }


def test_the_report_verdict_and_severity_come_from_the_enum():
    r = curvediag.diagnose(str(sample("overfitting.csv")))
    assert r.verdict is Verdict.OVERFITTING and r.severity == Verdict.OVERFITTING.severity
    assert r.headline.startswith(Verdict.OVERFITTING.headline + ":")
    assert r.to_dict()["verdict"] == "overfitting"
    for rule in RULES:
        assert rule().severity == (rule.verdict.severity if rule.verdict else "info")


def _f(code, verdict):
    return Finding(code, code.lower(), verdict, "info", "m")


def test_precedence_decides_between_findings_in_any_order():
    members = list(Verdict)[:-1]  # healthy is never a finding's verdict
    for i, hi in enumerate(members):
        for lo in members[i + 1:]:
            for fs in ([_f("A", lo), _f("B", hi)], [_f("B", hi), _f("A", lo)], [_f("C", None), _f("A", lo), _f("B", hi)]):
                v, main = _verdict(fs)
                assert v is hi and main.code == "B"
    assert _verdict([_f("C", None)]) == (Verdict.HEALTHY, None)
    assert precedence(None) > precedence("healthy") > precedence("insufficient_data")
