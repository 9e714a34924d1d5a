"""The T101 losses-still-falling rule (src/curvediag/rules/losses_still_falling.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np
import pytest

import curvediag

from ..conftest import decay, noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def test_still_improving():
    rep = diag({"loss": noisy(decay(20, 2.3, 0.1, 30), 0.005), "val_loss": noisy(decay(20, 2.2, 0.2, 30), 0.005)})
    assert rep.verdict == "still_improving" and rep.severity == "info"


def test_still_improving_needs_both_losses_falling():
    rep = diag({"loss": decay(20, 2.3, 0.1, 30), "val_loss": decay(20, 2.2, 0.5, 3)})
    assert rep.verdict != "still_improving"


def saturating(n, start, floor, tau, steep=0.0):
    """A loss falling towards ``floor`` with time constant ``tau``; ``steep`` adds a first
    epoch far above the rest (a steep first epoch that dominates the whole run's drop)."""
    t = np.arange(n, dtype=float)
    y = floor + (start - floor) * np.exp(-t / tau)
    if steep:
        y[0] = steep
    return y


@pytest.mark.parametrize("n", [5, 8, 10, 25, 60, 200, 500])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 10.0, 3000.0])
def test_a_tail_still_falling_is_still_improving_whatever_the_length_and_scale(n, scale):
    # the tail falls ~10-20% of its level per quarter, after a steep first epoch that makes the
    # tail a tiny share of the whole run's drop (what the old share-of-total test could not pass)
    val = scale * saturating(n, 1.0, 0.2, tau=1.5 * n, steep=20.0)
    train = scale * saturating(n, 1.1, 0.1, tau=1.5 * n, steep=25.0)
    rep = diag({"loss": noisy(train, 0.003, seed=n), "val_loss": noisy(val, 0.003, seed=n + 1)})
    assert rep.verdict == "still_improving", rep.headline
    f = next(f for f in rep.findings if f.code == "T101")
    assert f.evidence["rate"] > 0.03 and f.evidence["min_at_end"]


def test_training_loss_need_not_fall_when_the_validation_loss_clearly_does():
    n = 20
    val = saturating(n, 3.0, 0.5, tau=25)
    train = np.full(n, 0.8) * (1 + 0.02 * np.sin(np.arange(n)))  # flat, wobbling
    rep = diag({"loss": train, "val_loss": noisy(val, 0.005)})
    assert rep.verdict == "still_improving"


def test_a_slow_steady_fall_that_is_not_slowing_down_is_still_improving():
    # a learning rate too small: 0.3% per epoch, linear, but clear of the noise and not slowing
    n = 30
    t = np.arange(n)
    val = 2.4 * (1 - 0.003 * t)
    train = 2.45 * (1 - 0.003 * t)
    rep = diag({"loss": noisy(train, 0.0005), "val_loss": noisy(val, 0.0005, seed=3)})
    assert rep.verdict == "still_improving"


def test_a_tail_whose_minimum_is_not_at_the_end_is_not_still_improving():
    n = 80
    val = saturating(n, 2.7, 0.16, tau=8)
    val[-12:] += 0.02  # no new minimum over the last 15% of the run
    rep = diag({"loss": saturating(n, 2.5, 0.05, tau=10), "val_loss": noisy(val, 0.005)})
    assert rep.verdict != "still_improving"
