"""The P101 loss-plateau rule (src/curvediag/rules/loss_plateau.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay, noisy

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_plateau():
    val = np.concatenate([decay(28, 2.0, 0.5, 3), np.full(12, 0.5)])
    rep = diag({"loss": decay(N, 2.1, 0.3, 5), "val_loss": noisy(val, 0.002)})
    f = find(rep, "P101")
    assert f is not None and f.evidence["improvement"] < 0.01
    assert find(diag({"loss": decay(N, 2.1, 0.1, 30), "val_loss": decay(N, 2.0, 0.2, 30)}), "P101") is None
