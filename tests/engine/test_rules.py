"""What every rule shares: silence on a healthy run, running on whatever columns a log has (listed as
skipped, with a reason, when its columns are missing), unique documented codes and names.  Each rule's
own pattern and threshold: tests/rules/test_<rule>.py."""

from __future__ import annotations

import numpy as np

import curvediag
from curvediag.rules import RULES

from ..conftest import decay, noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


N = 40
TRAIN = decay(N, 2.3, 0.05, 6)
VAL_OK = decay(N, 2.2, 0.30, 6)
# U-shaped validation loss: minimum near epoch 12, then up by ~60%
VAL_U = 0.3 + 2.0 * np.exp(-np.arange(N) / 4) + 0.012 * np.maximum(0, np.arange(N) - 12)
ACC_UP = 1 - 0.9 * np.exp(-np.arange(N) / 5)


def test_healthy_is_silent():
    rep = diag({"loss": noisy(TRAIN, 0.01), "val_loss": noisy(VAL_OK, 0.01), "accuracy": ACC_UP, "val_accuracy": ACC_UP * 0.97})
    assert rep.verdict == "healthy" and rep.findings == ()
    assert rep.severity == "ok"


def test_rules_run_with_whatever_columns_exist():
    # validation only
    rep = diag({"val_loss": noisy(VAL_U, 0.01)})
    assert rep.verdict == "overfitting" and "no training loss" in rep.findings[0].message
    # training loss only: overfitting and cramming are skipped, with a reason
    rep = diag({"loss": TRAIN})
    s = skipped(rep)
    assert "no validation loss" in s["O102"] and "O101" in s


def test_rule_codes_and_names_are_unique_and_documented():
    codes_ = [r.code for r in RULES]
    names = [r.name for r in RULES]
    assert len(set(codes_)) == len(codes_) and len(set(names)) == len(names)
    for r in RULES:
        assert r.name == r.name.lower() and " " not in r.name and "_" not in r.name
        doc = r.doc()
        assert "What it detects" in doc and "Why it matters" in doc and "Options" in doc, r.code
        for opt in r.options:
            assert opt in doc, f"{r.code} does not document option {opt}"
