"""Each rule: fires on its pattern, stays silent otherwise, moves with its
threshold, and is listed as skipped when its columns are missing."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvediag
from curvediag.rules import RULES

from .conftest import decay, noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


N = 40
TRAIN = decay(N, 2.3, 0.05, 6)
VAL_OK = decay(N, 2.2, 0.30, 6)
# U-shaped validation loss: minimum near epoch 12, then up by ~60%
VAL_U = 0.3 + 2.0 * np.exp(-np.arange(N) / 4) + 0.012 * np.maximum(0, np.arange(N) - 12)
ACC_UP = 1 - 0.9 * np.exp(-np.arange(N) / 5)
ACC_PEAK = np.minimum(1 - 0.9 * np.exp(-np.arange(N) / 4), 0.9) - 0.006 * np.maximum(0, np.arange(N) - 14)


def test_healthy_is_silent():
    rep = diag({"loss": noisy(TRAIN, 0.01), "val_loss": noisy(VAL_OK, 0.01), "accuracy": ACC_UP, "val_accuracy": ACC_UP * 0.97})
    assert rep.verdict == "healthy" and rep.findings == ()
    assert rep.severity == "ok"


def test_overfitting_fires_and_reports_onset_and_best():
    rep = diag({"loss": noisy(TRAIN, 0.01), "val_loss": noisy(VAL_U, 0.01)})
    assert rep.verdict == "overfitting" and "O102" in codes(rep)
    f = rep.findings[0]
    assert 9 <= rep.onset_epoch <= 15 and 9 <= rep.best_epoch <= 15
    assert rep.epochs_after_best == N - 1 - rep.best_epoch
    assert "above its minimum" in f.message and "limit 10%" in f.message
    assert f.evidence["rise"] > 0.3 and f.span[1] == N - 1
    assert any("early stopping" in r.lower() for r in f.remedies)


def test_overfitting_threshold_moves_the_verdict():
    h = {"loss": noisy(TRAIN, 0.01), "val_loss": noisy(VAL_U, 0.01)}
    rise = diag(h).findings[0].evidence["rise"]
    assert diag(h, options={"O102": {"rise_limit": rise * 0.9}}).verdict == "overfitting"
    assert diag(h, options={"val-loss-rising": {"rise_limit": rise * 1.1, "train_drop": 10.0}}).verdict != "overfitting"


def test_overfitting_with_rising_val_acc_says_over_confident():
    rep = diag({"loss": TRAIN, "val_loss": VAL_U, "accuracy": ACC_UP, "val_accuracy": ACC_UP * 0.95})
    assert rep.verdict == "overfitting" and "O103" in codes(rep)
    f = next(f for f in rep.findings if f.code == "O103")
    assert "val_acc still rose" in f.message and f.severity == "info"


def test_val_plateau_at_its_minimum_while_train_collapses_is_a_finding_not_the_verdict():
    # issue 19: a validation loss flat *at its minimum* while the training loss keeps falling is the
    # domain texts' "might be overfitting": kept as an info finding, never the verdict or a gate failure
    train = decay(N, 2.3, 0.0, 3)  # falls towards zero
    val = decay(N, 2.2, 0.35, 3)  # flat from ~epoch 12
    rep = diag({"loss": noisy(train, 0.01), "val_loss": noisy(val, 0.005)})
    f = next(f for f in rep.findings if f.code == "O102")
    assert rep.verdict == "healthy" and f.verdict is None and f.severity == "info"
    assert f.message.startswith("might be overfitting: val_loss stopped improving")


def test_val_plateau_drifting_up_beyond_its_noise_is_overfitting():
    train = decay(N, 2.3, 0.0, 3)
    # flat from ~epoch 12, then drifting up 6% by the end: under the 10% rise limit, far beyond its noise
    val = decay(N, 2.2, 0.35, 3) * (1 + 0.06 * np.clip((np.arange(N) - 20) / 19, 0, 1))
    rep = diag({"loss": noisy(train, 0.01), "val_loss": noisy(val, 0.002)})
    f = next(f for f in rep.findings if f.code == "O102")
    assert rep.verdict == "overfitting" and f.verdict == "overfitting" and "stopped improving" in f.message


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


def test_diverged_on_nan_reports_first_non_finite_epoch():
    loss = list(TRAIN[:12]) + [float("nan")] * 8
    rep = diag({"loss": loss, "val_loss": list(VAL_OK[:12]) + [float("nan")] * 8})
    assert rep.verdict == "diverged" and rep.onset_epoch == 12 and "D101" in codes(rep)
    assert "NaN at epoch 12" in rep.findings[0].message
    assert {m.name: m.non_finite for m in rep.metrics}["train_loss"] == 8


def test_diverged_on_explosion_without_nan():
    loss = list(TRAIN[:15]) + list(np.geomspace(0.2, 50, 10))
    rep = diag({"loss": loss, "val_loss": list(VAL_OK[:15]) + list(np.geomspace(0.4, 60, 10))})
    assert rep.verdict == "diverged" and "D102" in codes(rep)


def test_recovered_spike_is_not_divergence():
    loss = TRAIN.copy()
    loss[20] = 5.0  # one spike, then back on track
    rep = diag({"loss": loss, "val_loss": VAL_OK})
    assert "D102" not in codes(rep) and rep.verdict != "diverged"


def test_still_improving():
    rep = diag({"loss": noisy(decay(20, 2.3, 0.1, 30), 0.005), "val_loss": noisy(decay(20, 2.2, 0.2, 30), 0.005)})
    assert rep.verdict == "still_improving" and rep.severity == "info"


def test_still_improving_needs_both_losses_falling():
    rep = diag({"loss": decay(20, 2.3, 0.1, 30), "val_loss": decay(20, 2.2, 0.5, 3)})
    assert rep.verdict != "still_improving"


def test_insufficient_data_and_three_points_can_be_enough():
    rep = diag({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]})
    assert rep.verdict == "insufficient_data" and "at least 3" in rep.findings[0].message
    assert all(s.reason == "too few points to judge" for s in rep.skipped if s.code != "X101")
    # BERT-style three epochs: val_loss jumps 39% while train_loss halves
    rep = diag({"loss": [0.386, 0.227, 0.113], "val_loss": [0.318, 0.320, 0.443]})
    assert rep.verdict == "overfitting"


def test_rules_run_with_whatever_columns_exist():
    # validation only
    rep = diag({"val_loss": noisy(VAL_U, 0.01)})
    assert rep.verdict == "overfitting" and "no training loss" in rep.findings[0].message
    # training loss only: overfitting and cramming are skipped, with a reason
    rep = diag({"loss": TRAIN})
    s = skipped(rep)
    assert "no validation loss" in s["O102"] and "O101" in s


def test_rule_codes_and_names_are_unique_and_documented():
    codes_ = [r.code for r in RULES]
    names = [r.name for r in RULES]
    assert len(set(codes_)) == len(codes_) and len(set(names)) == len(names)
    for r in RULES:
        assert r.name == r.name.lower() and " " not in r.name and "_" not in r.name
        doc = r.doc()
        assert "What it detects" in doc and "Why it matters" in doc and "Options" in doc, r.code
        for opt in r.options:
            assert opt in doc, f"{r.code} does not document option {opt}"
