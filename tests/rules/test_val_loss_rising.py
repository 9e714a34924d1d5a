"""The O102 val-loss-rising rule (src/curvediag/rules/val_loss_rising.py):
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
# U-shaped validation loss: minimum near epoch 12, then up by ~60%
VAL_U = 0.3 + 2.0 * np.exp(-np.arange(N) / 4) + 0.012 * np.maximum(0, np.arange(N) - 12)


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


def test_a_settled_val_loss_with_the_best_accuracy_at_the_end_is_not_overfitting():
    n = 10
    t = np.arange(n)
    val = 0.22 + 0.1 * np.exp(-t / 1.5)
    val[-3:] += [0.01, 0.03, 0.012]  # a small drift after settling, under the rise limit
    train = 0.5 * np.exp(-t / 3) + 0.1
    acc = 0.88 + 0.045 * (1 - np.exp(-t / 2))
    acc[-1] = acc.max() + 0.004  # the best accuracy is the final one
    rep = diag({"loss": train, "val_loss": val, "val_accuracy": acc})
    assert rep.verdict not in ("overfitting", "cramming"), rep.headline
    # the same accuracy beside a val_loss that really rises (+35%) is still overfitting
    val2 = val.copy()
    val2[4:] = 0.235 * (1 + 0.06 * np.arange(n - 4))
    rep = diag({"loss": train, "val_loss": val2, "val_accuracy": acc})
    assert rep.verdict == "overfitting"
