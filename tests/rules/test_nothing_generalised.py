"""The L102 nothing-generalised rule (src/curvediag/rules/nothing_generalised.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np
import pytest

import curvediag

from ..conftest import noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def saturating(n, start, floor, tau, steep=0.0):
    """A loss falling towards ``floor`` with time constant ``tau``; ``steep`` adds a first
    epoch far above the rest (a steep first epoch that dominates the whole run's drop)."""
    t = np.arange(n, dtype=float)
    y = floor + (start - floor) * np.exp(-t / tau)
    if steep:
        y[0] = steep
    return y


@pytest.mark.parametrize("scale", [0.1, 1.0, 50.0])
def test_nothing_generalised_is_not_learning(scale):
    n = 40
    t = np.arange(n)
    train = scale * (1.10 - 0.15 * (1 - np.exp(-t / 10)))  # falls ~13%: a tiny model fits a little
    val = scale * (1.11 + 0.01 * np.sin(t / 3))  # stays at its first level
    acc = 0.1 + 0.005 * np.sin(t)  # chance for ten classes, never moves
    rep = diag({"loss": noisy(train, 0.005), "val_loss": noisy(val, 0.003, seed=2),
                "accuracy": acc + 0.05 * (1 - np.exp(-t / 10)), "val_accuracy": acc})
    assert rep.verdict == "not_learning"
    assert any(f.code == "L102" for f in rep.findings)


def test_a_validation_loss_that_settles_after_improving_is_not_nothing_generalised():
    n = 40
    rep = diag({"loss": saturating(n, 2.3, 0.1, 6), "val_loss": noisy(saturating(n, 2.2, 0.5, 4), 0.005),
                "val_accuracy": 1 - 0.8 * np.exp(-np.arange(n) / 4)})
    assert not any(f.code == "L102" for f in rep.findings)


def test_an_accuracy_identical_at_every_evaluation_learned_nothing():
    n = 60
    t = np.arange(n)
    loss = 0.632 + 0.057 * np.exp(-t / 12)  # converges to the entropy of the class prior
    rep = diag({"loss": loss + 0.003, "val_loss": loss, "accuracy": 0.6 + 0.01 * (t > 30),
                "val_accuracy": np.full(n, 0.608)})
    assert rep.verdict == "not_learning" and any(f.code == "L102" for f in rep.findings)


def test_nothing_generalised_needs_a_metric_at_chance_not_a_pretrained_one():
    n = 100
    t = np.arange(n)
    val = 3.7 * (1 + 0.02 * np.sin(t / 7))  # a pretrained detector: val_loss flat from the start
    train = 3.46 - 0.9 * (1 - np.exp(-t / 30))
    mAP = 0.5 + 0.03 * np.sin(t / 9)  # high from the first epoch
    h = {"loss": train, "val_loss": val, "metrics/mAP50-95(B)": mAP}
    assert not any(f.code == "L102" for f in diag(h).findings)
    # and without any metric the rule stays silent (overfitting's plateau speaks instead)
    assert not any(f.code == "L102" for f in diag({"loss": train, "val_loss": val}).findings)


def test_an_accuracy_already_high_from_the_start_has_generalised():
    n = 10
    t = np.arange(n)
    rep = diag({"loss": 0.86 - 0.16 * (1 - np.exp(-t / 3)), "val_loss": 1.258 - 0.03 * (1 - np.exp(-t / 4)),
                "val_accuracy": 0.971 + 0.013 * (1 - np.exp(-t / 4))})
    assert rep.verdict != "not_learning"
