"""The G101 val-better-than-train rule (src/curvediag/rules/val_better_than_train.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_val_better_than_train_and_leak_suspicion():
    train = decay(N, 2.0, 0.5, 5)
    rep = diag({"loss": train, "val_loss": train * 0.7})
    f = find(rep, "G101")
    assert f is not None and f.evidence["leak_suspected"] == 0
    rep = diag({"loss": train, "val_loss": train * 0.7, "accuracy": np.linspace(0.5, 0.7, N), "val_accuracy": np.full(N, 0.995)})
    assert find(rep, "G101").evidence["leak_suspected"] == 1
    assert find(diag({"loss": train, "val_loss": train * 1.05}), "G101") is None
