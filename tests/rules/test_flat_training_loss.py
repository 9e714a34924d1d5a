"""The L101 flat-training-loss rule (src/curvediag/rules/flat_training_loss.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvediag
from curvediag import stats

from ..conftest import noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


N = 40


def test_not_learning_flat_loss():
    rep = diag({"loss": noisy(np.full(N, 2.3026), 0.002), "accuracy": noisy(np.full(N, 0.1), 0.05)})
    assert rep.verdict == "not_learning" and "L101" in codes(rep)
    assert rep.findings[0].evidence["chance_classes"] == 10


def test_not_learning_oscillating_loss():
    rng = np.random.default_rng(3)
    rep = diag({"loss": 1.0 + 0.15 * rng.standard_normal(N)})
    assert rep.verdict == "not_learning" and "oscillates" in rep.findings[0].message


def test_flat_loss_with_climbing_accuracy_is_still_learning():
    rep = diag({"loss": np.linspace(2.30, 2.25, N), "accuracy": np.linspace(0.1, 0.7, N)})
    assert rep.verdict != "not_learning"


def test_num_classes_adds_chance_comparison():
    rep = diag({"loss": np.full(N, 1.6094), "accuracy": np.full(N, 0.2)}, num_classes=5)
    f = rep.findings[0]
    assert f.evidence["chance_loss"] == pytest.approx(math.log(5)) and "chance level for 5 classes" in f.message


def test_flat_threshold_moves_the_verdict():
    loss = np.linspace(1.0, 0.93, N)  # 7% improvement, steady
    assert diag({"loss": loss}).verdict != "not_learning"
    assert diag({"loss": loss}, options={"L101": {"flat_limit": 0.10}}).verdict == "not_learning"


# issue 19: decisions against the curve's own noise -- a veto that holds on the log holds under a
# jitter of its losses the size of their own noise


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
