"""Decisions taken against the curve's own noise (issue 19): a veto that holds on the log must hold
under a jitter of its losses the size of their own noise."""

from __future__ import annotations

import numpy as np

import curvediag
from curvediag import stats


def _distillation_log(tmp_path, seed: int):
    """A distillation-like objective that barely moves (0.5% over the run, inside its 0.6% noise)
    beside a validation accuracy that climbs steadily by 2 points."""
    rng = np.random.default_rng(seed)
    n = 15
    loss = 4.77 * (1 - 0.0004 * np.arange(n)) * (1 + 0.006 * rng.standard_normal(n))
    acc = 0.573 + 0.0015 * np.arange(n) + 0.001 * rng.standard_normal(n)
    p = tmp_path / f"distil{seed}.csv"
    p.write_text("epoch,train_loss,val_acc\n" + "".join(f"{e},{l},{a}\n" for e, (l, a) in enumerate(zip(loss, acc))))
    return p, loss


def test_a_steadily_climbing_accuracy_vetoes_not_learning_whatever_the_noise_does_to_the_loss_trend(tmp_path):
    seen_weak_trend = False
    for seed in range(6):
        p, loss = _distillation_log(tmp_path, seed)
        z = stats.mann_kendall_z(loss)
        seen_weak_trend |= -1.96 < z <= 0  # the loss' own trend is not significant: only the accuracy's is
        rep = curvediag.diagnose(p)
        assert "L101" not in [f.code for f in rep.findings], (seed, z, rep.headline)
        assert rep.verdict != "not_learning", (seed, rep.headline)
    assert seen_weak_trend


def test_an_accuracy_that_does_not_climb_leaves_a_flat_loss_not_learning(tmp_path):
    rng = np.random.default_rng(0)
    n = 15
    loss = 4.77 * (1 + 0.006 * rng.standard_normal(n))
    acc = 0.573 + 0.004 * rng.standard_normal(n)  # wobbles around its start: no trend
    p = tmp_path / "flat.csv"
    p.write_text("epoch,train_loss,val_acc\n" + "".join(f"{e},{l},{a}\n" for e, (l, a) in enumerate(zip(loss, acc))))
    assert curvediag.diagnose(p).verdict == "not_learning"
