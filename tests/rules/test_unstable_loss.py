"""The D104 unstable-loss rule (src/curvediag/rules/unstable_loss.py):
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


@pytest.mark.parametrize("seed", range(4))
def test_a_loss_that_keeps_jumping_several_fold_is_diverged_never_healthy(seed):
    rng = np.random.default_rng(seed)
    n = 40
    base = 0.5 + 0.5 * np.exp(-np.arange(n) / 5)
    spikes = np.where(rng.random(n) < 0.25, rng.uniform(3, 15, n), 1.0)  # a quarter of evaluations jump 3-15x
    val = base * spikes
    rep = diag({"loss": base * 0.9, "val_loss": val, "val_accuracy": _chance_swing(n, 0.5, 0.95, seed)})
    assert rep.verdict == "diverged" and any(f.code == "D104" for f in rep.findings)


def test_one_spike_that_recovers_is_not_instability():
    n = 40
    val = 0.5 + 0.5 * np.exp(-np.arange(n) / 5)
    val[20] *= 6
    rep = diag({"loss": val * 0.9, "val_loss": val})
    assert not any(f.code == "D104" for f in rep.findings)


def test_a_loss_that_blows_up_in_the_last_evaluations_is_diverged():
    n = 30
    val = 0.7 + 0.5 * np.exp(-np.arange(n) / 4)
    val[-3:] = [1.0, 1.9, 5.7]
    rep = diag({"loss": val * 0.8, "val_loss": val})
    assert rep.verdict == "diverged" and "blew up at the end" in " ".join(f.message for f in rep.findings)
