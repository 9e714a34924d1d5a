"""L103 loss-at-chance (issue 19): the loss ends at the level of a uniform guess over K classes."""

from __future__ import annotations

import math

import numpy as np

import curvediag

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def test_loss_at_chance_with_accuracy_at_the_majority_rate_is_not_learning():
    # a binary task: the loss creeps from ln 2 to 96% of it, accuracy stays at the majority rate
    rng = np.random.default_rng(0)
    x = np.arange(N)
    val = math.log(2) * (1 - 0.04 * x / N) + 0.002 * rng.standard_normal(N)
    train = math.log(2) * (1 - 0.05 * x / N) + 0.01 * rng.standard_normal(N)
    acc = 0.553 + 0.01 * rng.standard_normal(N)
    rep = diag({"loss": train, "val_loss": val, "accuracy": acc, "val_accuracy": acc})
    f = next(f for f in rep.findings if f.code == "L103")
    assert rep.verdict == "not_learning" and "ln 2" in f.message and f.evidence["classes_inferred"] is True


def test_a_falling_loss_far_below_chance_is_not_at_chance():
    rep = diag({"loss": decay(N, math.log(2), 0.1, 6), "val_loss": decay(N, math.log(2), 0.2, 6),
                "val_accuracy": 0.5 + 0.4 * (1 - np.exp(-np.arange(N) / 6))})
    assert "L103" not in {f.code for f in rep.findings}


def test_with_num_classes_an_absurd_level_is_not_learning():
    # losses of 1e4 on a 2-class task, falling slowly: not still improving
    y = 4e4 * (1 - 0.3 * (1 - np.exp(-np.arange(N) / 30)))
    rep = diag({"loss": y, "val_loss": y * 1.1}, num_classes=2)
    assert rep.verdict == "not_learning" and any(f.code == "L103" for f in rep.findings)


def _slow_learner(fall: float, seed: int):
    """An 11-class task with a learning rate far too small: the loss starts at ln 11 and falls
    steadily by ``fall`` of it over 30 epochs (a straight line: no slow-down to measure), accuracy
    creeping up from chance; 1% noise on the losses (which makes a quarter-by-quarter slow-down
    ratio, a ratio of two noisy differences, come out anywhere)."""
    rng = np.random.default_rng(seed)
    n = 30
    x = np.arange(n)
    level = math.log(11) * (1 - fall * x / (n - 1))
    val = level * (1 + 0.01 * rng.standard_normal(n))
    train = level * 1.01 * (1 + 0.01 * rng.standard_normal(n))
    acc = 1 / 11 + 0.003 * x + 0.004 * rng.standard_normal(n)
    return {"loss": train, "val_loss": val, "accuracy": acc, "val_accuracy": acc}


def test_a_steady_fall_that_a_run_as_long_again_takes_below_chance_is_slow_learning_not_chance():
    # 8% down over the run, ending at 92% of ln 11: as long again at its own slope, about 84%
    for seed in range(10):
        rep = diag(_slow_learner(0.08, seed))
        assert "L103" not in {f.code for f in rep.findings}, (seed, rep.headline)


def test_a_fall_too_slow_to_leave_chance_in_a_run_as_long_again_stays_at_chance():
    # 2% down over the run: as long again at its own slope still ends at 96% of ln 11
    rep = diag(_slow_learner(0.02, 0))
    assert any(f.code == "L103" for f in rep.findings), rep.headline
