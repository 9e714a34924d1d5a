"""The D103 blown-up-start rule (src/curvediag/rules/blown_up_start.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np
import pytest

import curvediag


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def _chance_swing(n, chance, best, seed):
    rng = np.random.default_rng(seed)
    return chance + (best - chance) * (rng.random(n) < 0.3) * rng.random(n)


@pytest.mark.parametrize("first", [3e2, 1.5e4, 8e5])
@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_a_loss_blown_up_inside_epoch_zero_is_diverged(first, scale):
    n = 30
    rng = np.random.default_rng(int(first) % 97)
    after = 2.3 + 0.2 * rng.standard_normal(n - 1)  # stays above chance, never learns
    train = scale * np.concatenate(([first], after))
    val = scale * (2.5 + 0.3 * rng.random(n))
    rep = diag({"loss": train, "val_loss": val, "val_accuracy": _chance_swing(n, 0.1, 0.13, 1)})
    assert rep.verdict == "diverged" and any(f.code == "D103" for f in rep.findings)
    assert rep.onset_epoch == 0


def test_a_bad_first_epoch_followed_by_learning_is_not_a_blow_up():
    n = 30
    t = np.arange(n)
    train = np.concatenate(([500.0], 0.05 * np.exp(-t[1:] / 3) + 1e-5))  # then memorises towards 0
    val = 0.3 + 0.2 * np.exp(-t / 4)
    acc = 0.9 + 0.05 * (1 - np.exp(-t / 5))
    rep = diag({"loss": train, "val_loss": val, "val_accuracy": acc})
    assert not any(f.code == "D103" for f in rep.findings)
    # the same start with a loss that keeps falling and an accuracy that climbs: learning
    train = np.concatenate(([800.0], 2.0 * np.exp(-t[1:] / 8) + 0.1))
    rep = diag({"loss": train, "val_loss": 2.2 * np.exp(-t / 8) + 0.3, "val_accuracy": 1 - 0.9 * np.exp(-t / 6)})
    assert rep.verdict != "diverged"
