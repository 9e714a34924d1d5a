"""The O101 val-loss-up-val-acc-down rule (src/curvediag/rules/val_loss_up_val_acc_down.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np
import pytest

import curvediag

from ..conftest import decay, noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


N = 40
TRAIN = decay(N, 2.3, 0.05, 6)
# U-shaped validation loss: minimum near epoch 12, then up by ~60%
VAL_U = 0.3 + 2.0 * np.exp(-np.arange(N) / 4) + 0.012 * np.maximum(0, np.arange(N) - 12)
ACC_UP = 1 - 0.9 * np.exp(-np.arange(N) / 5)
ACC_PEAK = np.minimum(1 - 0.9 * np.exp(-np.arange(N) / 4), 0.9) - 0.006 * np.maximum(0, np.arange(N) - 14)


def test_cramming_fires_when_val_acc_falls():
    rep = diag({"loss": TRAIN, "val_loss": VAL_U, "accuracy": ACC_UP, "val_accuracy": ACC_PEAK})
    assert rep.verdict == "cramming" and {"O101", "O102"} <= codes(rep)
    assert rep.severity == "error"
    assert "val_acc fell" in rep.findings[0].message


def test_cramming_random_labels_val_acc_flat_train_acc_climbs():
    rng = np.random.default_rng(1)
    val_acc = 0.1 + 0.01 * rng.standard_normal(N)
    train_acc = np.linspace(0.1, 0.9, N)
    val = 2.3 + 0.03 * np.arange(N)
    rep = diag({"loss": decay(N, 2.3, 0.5, 15), "val_loss": val, "accuracy": train_acc, "val_accuracy": val_acc})
    assert rep.verdict == "cramming" and "memorised" in rep.findings[0].message


def test_cramming_skipped_without_val_acc():
    rep = diag({"loss": TRAIN, "val_loss": VAL_U})
    assert "O101" in skipped(rep) and "accuracy" in skipped(rep)["O101"]


def test_small_acc_wobble_on_tiny_val_set_is_not_cramming():
    # 54 validation examples: one example is 0.0185; a two-example dip is not "falling"
    acc = np.full(N, 50 / 54)
    acc[20:] = 48 / 54
    acc[:5] = np.linspace(0.4, 50 / 54, 5)
    rep = diag({"loss": TRAIN, "val_loss": VAL_U, "accuracy": ACC_UP, "val_accuracy": acc})
    assert rep.verdict == "overfitting"


@pytest.mark.parametrize("peak,floor", [(0.65, 0.35), (0.9, 0.6), (0.5, 0.3)])
def test_a_quality_collapse_with_a_barely_rising_val_loss_is_cramming(peak, floor):
    n = 100
    t = np.arange(n)
    rise = peak * (1 - np.exp(-t / 3))
    fall = floor + (peak - floor) * np.exp(-np.maximum(0, t - 10) / 8)
    acc = np.where(t < 10, rise, fall)
    val = 2.2 - 0.1 * (1 - np.exp(-t / 3)) + 0.0012 * np.maximum(0, t - 10)  # +5% at most
    train = 2.3 - 0.4 * (1 - np.exp(-t / 30))
    rep = diag({"loss": noisy(train, 0.002), "val_loss": noisy(val, 0.002, seed=4), "val_accuracy": acc})
    assert rep.verdict == "cramming"
    assert "collapsed" in rep.headline


def test_a_metric_that_dips_and_recovers_is_not_a_collapse():
    n = 100
    t = np.arange(n)
    acc = 0.7 * (1 - np.exp(-t / 3)) - 0.25 * np.exp(-((t - 40) / 8) ** 2)  # a dip in the middle, recovered
    val = 2.2 - 0.1 * (1 - np.exp(-t / 3)) + 0.0005 * np.maximum(0, t - 10)
    rep = diag({"loss": 2.3 - 0.4 * (1 - np.exp(-t / 30)), "val_loss": val, "val_accuracy": acc})
    assert rep.verdict != "cramming"
