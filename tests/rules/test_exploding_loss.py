"""The D102 exploding-loss rule (src/curvediag/rules/exploding_loss.py):
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
VAL_OK = decay(N, 2.2, 0.30, 6)


def test_diverged_on_explosion_without_nan():
    loss = list(TRAIN[:15]) + list(np.geomspace(0.2, 50, 10))
    rep = diag({"loss": loss, "val_loss": list(VAL_OK[:15]) + list(np.geomspace(0.4, 60, 10))})
    assert rep.verdict == "diverged" and "D102" in codes(rep)


def test_recovered_spike_is_not_divergence():
    loss = TRAIN.copy()
    loss[20] = 5.0  # one spike, then back on track
    rep = diag({"loss": loss, "val_loss": VAL_OK})
    assert "D102" not in codes(rep) and rep.verdict != "diverged"
