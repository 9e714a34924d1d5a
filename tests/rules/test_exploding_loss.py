"""The D102 exploding-loss rule (src/curvediag/rules/exploding_loss.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay, noisy


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

_N = 40


# issue 19: divergence comes first, in both directions


def _diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def test_a_training_loss_climbing_back_is_divergence_before_overfitting():
    # fell, then the learning rate doubled every few epochs: the training loss climbs back, val with it
    x = np.arange(_N)
    train = np.where(x < 15, decay(_N, 2.0, 0.3, 4), 0.35 * 1.06 ** np.maximum(0, x - 15))
    val = train * 1.2
    rep = _diag({"loss": noisy(train, 0.01), "val_loss": noisy(val, 0.01, seed=1)})
    f = rep.findings[0]
    assert rep.verdict == "diverged" and f.code == "D102" and "turned up" in f.message


def test_a_loss_racing_to_minus_infinity_is_divergence_but_a_negative_nll_is_not():
    rep = _diag({"loss": -np.geomspace(1, 1e8, _N)})
    assert rep.verdict == "diverged" and "raced to" in rep.findings[0].message
    nll = decay(_N, 1.0, -2.5, 6)  # a Gaussian NLL settling below zero
    assert _diag({"loss": noisy(nll, 0.0), "val_loss": noisy(nll + 0.2, 0.0)}).verdict != "diverged"
