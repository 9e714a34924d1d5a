"""The X101 too-few-points rule (src/curvediag/rules/too_few_points.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import curvediag


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def test_insufficient_data_and_three_points_can_be_enough():
    rep = diag({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]})
    assert rep.verdict == "insufficient_data" and "at least 3" in rep.findings[0].message
    assert all(s.reason == "too few points to judge" for s in rep.skipped if s.code != "X101")
    # BERT-style three epochs: val_loss jumps 39% while train_loss halves
    rep = diag({"loss": [0.386, 0.227, 0.113], "val_loss": [0.318, 0.320, 0.443]})
    assert rep.verdict == "overfitting"
