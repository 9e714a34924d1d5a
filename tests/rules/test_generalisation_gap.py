"""The G102 generalisation-gap rule (src/curvediag/rules/generalisation_gap.py):
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


def test_generalisation_gap():
    rep = diag({"loss": decay(N, 2.0, 0.01, 4), "val_loss": decay(N, 2.0, 0.6, 4),
                "accuracy": np.linspace(0.3, 1.0, N), "val_accuracy": np.linspace(0.3, 0.8, N)})
    f = find(rep, "G102")
    assert f is not None and f.evidence["acc_gap"] > 0.1 and f.evidence["gap_end"] > f.evidence["gap_at_third"]
    assert find(diag({"loss": decay(N, 2.0, 0.3, 5), "val_loss": decay(N, 2.0, 0.32, 5)}), "G102") is None
