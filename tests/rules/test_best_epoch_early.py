"""The T102 best-epoch-early rule (src/curvediag/rules/best_epoch_early.py):
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


def test_best_epoch_early():
    t = np.arange(N)
    val = 1.0 + 0.02 * np.abs(t - 2)
    rep = diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": val})
    assert find(rep, "T102").evidence["best"] == 2
    assert find(diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": decay(N, 2.0, 0.3, 5)}), "T102") is None
