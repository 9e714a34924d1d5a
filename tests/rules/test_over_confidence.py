"""The O103 over-confidence rule (src/curvediag/rules/over_confidence.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


N = 40
TRAIN = decay(N, 2.3, 0.05, 6)
# U-shaped validation loss: minimum near epoch 12, then up by ~60%
VAL_U = 0.3 + 2.0 * np.exp(-np.arange(N) / 4) + 0.012 * np.maximum(0, np.arange(N) - 12)
ACC_UP = 1 - 0.9 * np.exp(-np.arange(N) / 5)


def test_overfitting_with_rising_val_acc_says_over_confident():
    rep = diag({"loss": TRAIN, "val_loss": VAL_U, "accuracy": ACC_UP, "val_accuracy": ACC_UP * 0.95})
    assert rep.verdict == "overfitting" and "O103" in codes(rep)
    f = next(f for f in rep.findings if f.code == "O103")
    assert "val_acc still rose" in f.message and f.severity == "info"
