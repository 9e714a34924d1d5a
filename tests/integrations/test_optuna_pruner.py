"""CurvediagPruner with the real Optuna: a gradient-descent objective whose learning rate is the
trial's parameter; trials that blow up, that do not learn, that report NaN, or that go past their
best are pruned early (state PRUNED, few steps), healthy trials complete."""

from __future__ import annotations

import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from curvediag.config import Settings
from curvediag.monitor import Monitor
from curvediag.optuna import USER_ATTR, CurvediagPruner

pytestmark = pytest.mark.integration

optuna.logging.set_verbosity(optuna.logging.WARNING)

EPOCHS = 30
_rng = np.random.default_rng(0)
X = _rng.standard_normal((64, 4))
W_TRUE = _rng.standard_normal(4)
Y = X @ W_TRUE + 0.1 * _rng.standard_normal(64)
XV = _rng.standard_normal((32, 4))
YV = XV @ W_TRUE + 0.1 * _rng.standard_normal(32)


def _val_loss(w):
    with np.errstate(all="ignore"):
        return float(np.mean((XV @ w - YV) ** 2))


def objective(trial, *, sign=1.0, nan_at=None, overfit_at=None):
    """Linear regression by gradient descent; lr > ~1 blows up, lr 1e-5 barely moves.
    ``sign=-1`` reports the negated loss (a maximised score); ``nan_at`` reports NaN from that
    epoch on; ``overfit_at`` adds a rising validation loss from that epoch on."""
    lr = trial.suggest_float("lr", 1e-6, 10.0, log=True)
    w = np.zeros(4)
    v = math.nan
    for epoch in range(EPOCHS):
        with np.errstate(all="ignore"):
            w = w - lr * 2 * X.T @ (X @ w - Y) / len(Y)
        v = _val_loss(w)
        if overfit_at is not None and epoch >= overfit_at:
            v += 0.5 * (epoch - overfit_at + 1)
        if nan_at is not None and epoch >= nan_at:
            v = math.nan
        trial.report(sign * v, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return sign * v


def _study(pruner, lrs, direction="minimize", **kw):
    study = optuna.create_study(direction=direction, pruner=pruner,
                                sampler=optuna.samplers.GridSampler({"lr": lrs}))
    study.optimize(lambda t: objective(t, **kw), n_trials=len(lrs))
    return {t.params["lr"]: t for t in study.trials}, study


def _steps(t):
    return len(t.intermediate_values)


PRUNED, COMPLETE = optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.COMPLETE


def test_diverging_and_not_learning_trials_pruned_early_healthy_complete():
    pruner = CurvediagPruner()
    trials, study = _study(pruner, [1e-6, 0.05, 0.2, 0.5, 1.5, 3.0])
    for lr in (0.05, 0.2, 0.5):
        assert trials[lr].state == COMPLETE and _steps(trials[lr]) == EPOCHS, (lr, trials[lr].user_attrs)
        assert USER_ATTR not in trials[lr].user_attrs
    for lr in (1.5, 3.0):  # blown up: pruned as soon as min_points values are in
        t = trials[lr]
        assert t.state == PRUNED and _steps(t) == 5
        assert t.user_attrs[USER_ATTR].startswith("D10"), t.user_attrs
    t = trials[1e-6]  # lr too small: the loss does not move
    assert t.state == PRUNED and _steps(t) <= 8
    assert t.user_attrs[USER_ATTR].startswith("L101")
    assert set(pruner.reasons) == {trials[lr].number for lr in (1e-6, 1.5, 3.0)}


def test_prune_on_selects_what_prunes():
    trials, _ = _study(CurvediagPruner(prune_on=("diverged",)), [1e-6, 3.0])
    assert trials[3.0].state == PRUNED
    assert trials[1e-6].state == COMPLETE and _steps(trials[1e-6]) == EPOCHS
    trials, _ = _study(CurvediagPruner(prune_on=()), [1e-6, 3.0])
    assert all(t.state == COMPLETE for t in trials.values())


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_nan_value_prunes_at_once(direction):
    """A NaN reported value is divergence at any length, read as a loss or as a quality metric."""
    trials, _ = _study(CurvediagPruner(), [0.2], direction=direction,
                       sign=1.0 if direction == "minimize" else -1.0, nan_at=1)
    t = trials[0.2]
    assert t.state == PRUNED and _steps(t) == 2
    assert "not finite" in t.user_attrs[USER_ATTR] or t.user_attrs[USER_ATTR].startswith("D101")
    # without "diverged" the NaN is no reason: the trial runs all its steps (and Optuna fails it
    # for returning NaN)
    trials, _ = _study(CurvediagPruner(prune_on=("not_learning",)), [0.2], nan_at=1)
    assert trials[0.2].state == optuna.trial.TrialState.FAIL and _steps(trials[0.2]) == EPOCHS


def test_maximize_reads_the_value_as_a_quality_metric():
    """Maximising, the value lands in the validation quality-metric curve, higher is better."""
    pruner = CurvediagPruner(patience=3)
    trials, study = _study(pruner, [0.2], direction="maximize", sign=-1.0, overfit_at=12)
    w = pruner._watches[(study.study_name, trials[0.2].number)]
    report = w.monitor.check()
    assert report.source.columns.get("val_acc", "").startswith("value")
    assert "val_loss" not in report.source.columns
    summary = {m.name: m for m in report.metrics}["val_acc"]
    assert summary.lower_is_better is False
    t = trials[0.2]  # the score falls from epoch 12 on (the best is epoch 11): pruned 3 later
    assert t.state == PRUNED and max(t.intermediate_values) == 11 + 3
    assert t.user_attrs[USER_ATTR].startswith("past its best")


def test_minimize_reads_the_value_as_val_loss():
    pruner = CurvediagPruner()
    trials, study = _study(pruner, [0.2])
    report = pruner._watches[(study.study_name, trials[0.2].number)].monitor.check()
    assert report.source.columns == {"val_loss": "val_loss"}
    assert report.verdict == "healthy"


@pytest.mark.parametrize("patience", [2, 5])
def test_patience_prunes_past_best(patience):
    trials, _ = _study(CurvediagPruner(prune_on=(), patience=patience), [0.05, 0.1], overfit_at=10)
    for t in trials.values():  # best at epoch 9: pruned at 9 + patience
        assert t.state == PRUNED and max(t.intermediate_values) == 9 + patience
        assert f"patience={patience}" in t.user_attrs[USER_ATTR]
    # the same trials without the late rise improve to the end: they complete with the same
    # patience; lr=0.5 reaches its best (the noise floor) at epoch 5 and is pruned patience later
    trials, _ = _study(CurvediagPruner(prune_on=(), patience=patience), [0.05, 0.1, 0.5])
    assert trials[0.05].state == COMPLETE and trials[0.1].state == COMPLETE
    assert trials[0.5].state == PRUNED and max(trials[0.5].intermediate_values) == 5 + patience


def test_no_past_best_pruning_without_patience():
    trials, _ = _study(CurvediagPruner(prune_on=()), [0.2], overfit_at=10)
    assert trials[0.2].state == COMPLETE


def test_wrapped_pruner_consulted_too():
    """A wrapped pruner prunes what it would prune alone; curvediag still prunes the blow-up."""
    wrapped = optuna.pruners.ThresholdPruner(upper=1.0, n_warmup_steps=5)
    trials, _ = _study(CurvediagPruner(prune_on=("diverged",), wrapped=wrapped), [0.01, 0.2, 3.0])
    assert trials[0.2].state == COMPLETE
    t = trials[0.01]  # slow, but learning: still above 1.0 after the warm-up, pruned by the wrapped pruner alone
    assert t.state == PRUNED and max(t.intermediate_values) == 5 and USER_ATTR not in t.user_attrs
    assert trials[3.0].state == PRUNED and USER_ATTR in trials[3.0].user_attrs


def test_each_step_fed_once(monkeypatch):
    """Cheap: a trial's Monitor is kept and fed only the new steps, not rebuilt every call."""
    logged = []
    real = Monitor.log
    monkeypatch.setattr(Monitor, "log", lambda self, *a, **k: (logged.append(k.get("step", a[0] if a else None)),
                                                            real(self, *a, **k))[1])
    trials, _ = _study(CurvediagPruner(), [0.2, 0.5])
    assert sorted(logged) == sorted(list(range(EPOCHS)) * 2)


def test_out_of_order_steps_read_again():
    """A step reported below the last one fed: the trial's points are read again, in step order."""
    pruner = CurvediagPruner(prune_on=(), patience=2)
    study = optuna.create_study(pruner=pruner)
    trial = study.ask()
    for step, v in ((0, 5.0), (2, 3.0), (4, 2.0)):
        trial.report(v, step)
        assert not trial.should_prune()
    trial.report(1.0, 3)  # late: steps 0, 2, 3, 4 -> values 5, 3, 1, 2: one evaluation past the best
    assert not trial.should_prune()
    trial.report(2.5, 5)  # two past the best (step 3)
    assert trial.should_prune()


def test_settings_reach_the_rules():
    """Settings are the rules' settings: ignoring the exploding-loss rules keeps a blow-up alive."""
    settings = Settings.of(ignore=["D"])
    trials, _ = _study(CurvediagPruner(prune_on=("diverged",), settings=settings), [3.0])
    assert trials[3.0].state == COMPLETE


@pytest.mark.parametrize("kw", [{"patience": 0}, {"patience": 1.5}, {"min_points": 0}, {"patience": True}])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        CurvediagPruner(**kw)


def test_missing_optuna_is_one_line_with_the_extra(monkeypatch):
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "curvediag.optuna")
    with pytest.raises(ImportError, match=r'pip install "curvediag\[optuna\]"'):
        importlib.import_module("curvediag.optuna")
