"""Verdict patterns read from real logs (issue 10), each built as a family of curves:
the end of a run judged by its recent rate, slow steady learning, early-stopping
advice that keeps the best epoch, too-short logs that cannot pass the gate, and
switched-off rules that cannot make a run look healthy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app

from .conftest import noisy, sample


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


# --- still improving: the recent rate relative to the current level --------------------------

@pytest.mark.parametrize("n", [5, 8, 10, 25, 60, 200, 500])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 10.0, 3000.0])
def test_a_tail_still_falling_is_still_improving_whatever_the_length_and_scale(n, scale):
    # the tail falls ~10-20% of its level per quarter, after a steep first epoch that makes the
    # tail a tiny share of the whole run's drop (what the old share-of-total test could not pass)
    val = scale * saturating(n, 1.0, 0.2, tau=1.5 * n, steep=20.0)
    train = scale * saturating(n, 1.1, 0.1, tau=1.5 * n, steep=25.0)
    rep = diag({"loss": noisy(train, 0.003, seed=n), "val_loss": noisy(val, 0.003, seed=n + 1)})
    assert rep.verdict == "still_improving", rep.headline
    f = next(f for f in rep.findings if f.code == "T101")
    assert f.evidence["rate"] > 0.03 and f.evidence["min_at_end"]


@pytest.mark.parametrize("n", [30, 80, 200])
def test_a_settled_noisy_plateau_is_healthy_under_jitter(n):
    val = saturating(n, 2.0, 0.3, tau=n / 15)  # settled after the first sixth of the run
    train = saturating(n, 2.1, 0.1, tau=n / 15)
    flips = 0
    for seed in range(40):
        rep = diag({"loss": noisy(train, 0.02, seed=seed), "val_loss": noisy(val, 0.02, seed=1000 + seed)})
        flips += rep.verdict != "healthy"
    assert flips <= 1


def test_training_loss_need_not_fall_when_the_validation_loss_clearly_does():
    n = 20
    val = saturating(n, 3.0, 0.5, tau=25)
    train = np.full(n, 0.8) * (1 + 0.02 * np.sin(np.arange(n)))  # flat, wobbling
    rep = diag({"loss": train, "val_loss": noisy(val, 0.005)})
    assert rep.verdict == "still_improving"


def test_a_slow_steady_fall_that_is_not_slowing_down_is_still_improving():
    # a learning rate too small: 0.3% per epoch, linear, but clear of the noise and not slowing
    n = 30
    t = np.arange(n)
    val = 2.4 * (1 - 0.003 * t)
    train = 2.45 * (1 - 0.003 * t)
    rep = diag({"loss": noisy(train, 0.0005), "val_loss": noisy(val, 0.0005, seed=3)})
    assert rep.verdict == "still_improving"


def test_a_tail_whose_minimum_is_not_at_the_end_is_not_still_improving():
    n = 80
    val = saturating(n, 2.7, 0.16, tau=8)
    val[-12:] += 0.02  # no new minimum over the last 15% of the run
    rep = diag({"loss": saturating(n, 2.5, 0.05, tau=10), "val_loss": noisy(val, 0.005)})
    assert rep.verdict != "still_improving"


# --- not learning vs slow learning; chance level ----------------------------------------------

def test_accuracy_stuck_while_the_loss_falls_steadily_is_slow_learning_not_none():
    n = 20
    t = np.arange(n)
    loss = 1.44 * (1 - 0.004 * t)  # 7.6% net, steady, not slowing
    acc = 0.38 + 0.002 * t  # barely moves
    rep = diag({"loss": noisy(loss, 0.0005), "val_loss": noisy(loss * 1.2, 0.0005, seed=1),
                "accuracy": acc, "val_accuracy": acc - 0.05})
    assert rep.verdict == "still_improving"
    # a loss that only converges to the class prior while accuracy never moves is stuck
    prior = 0.66 + 0.033 * np.exp(-t / 3)
    rep = diag({"loss": prior, "val_loss": prior - 0.002, "accuracy": np.full(n, 0.63),
                "val_accuracy": np.full(n, 0.632)})
    assert rep.verdict == "not_learning"


def test_chance_level_is_never_inferred_from_the_loss_alone():
    k = 182
    flat = np.full(30, math.log(k)) * (1 + 0.001 * np.sin(np.arange(30)))
    rep = diag({"loss": flat, "val_loss": flat * 1.01})
    assert rep.verdict == "not_learning"
    assert not any("uniform guess" in f.message for f in rep.findings)
    # with an accuracy at 1/K beside it, the reading is allowed
    rep = diag({"loss": flat, "val_loss": flat * 1.01, "accuracy": np.full(30, 1 / k),
                "val_accuracy": np.full(30, 1 / k)})
    assert any("uniform guess over 182 classes" in f.message for f in rep.findings)


# --- early-stopping advice ----------------------------------------------------------------------

def _u_with_a_late_best(n=60, dip_at=40):
    v = saturating(n, 2.0, 0.5, tau=3)
    v[10:] = 0.5 + 0.002 * np.sin(np.arange(n - 10))  # a long plateau: patience 5 stops early
    v[dip_at] = 0.45  # ... the best comes later
    v[dip_at + 1 :] += 0.1 * np.arange(1, n - dip_at) / (n - dip_at)
    return v


def test_early_stopping_advice_never_recommends_a_patience_that_misses_the_best():
    v = _u_with_a_late_best()
    rep = diag({"loss": saturating(60, 2.2, 0.05, tau=8), "val_loss": v})
    e = next(f for f in rep.findings if f.code == "E101")
    need = e.evidence["patience_to_keep_best"]
    assert "before the best" in e.message and f"at least {need}" in e.message
    assert not any("with this patience" in r for r in e.remedies)
    # replaying Keras with that patience does reach the best; one less does not
    from curvediag.rules.early_stopping_advice import replay

    assert replay(v, need)[1] == int(np.argmin(v))
    assert replay(v, need - 1)[1] != int(np.argmin(v))


def test_no_restore_advice_when_the_final_epoch_is_the_best():
    v = saturating(40, 2.0, 0.5, tau=3)
    v[10:-1] = 0.5 + 0.01 * np.abs(np.sin(np.arange(29)))
    v[-1] = 0.4
    rep = diag({"loss": saturating(40, 2.2, 0.05, tau=8), "val_loss": v})
    assert not any(f.code == "E101" for f in rep.findings)


# --- gates that cannot be switched off ------------------------------------------------------------

def test_a_log_too_short_to_judge_fails_the_default_gate(write):
    p = write("crashed.csv", "epoch,loss,val_loss\n0,2.3,2.2\n1,1.9,2.0\n")
    r = CliRunner().invoke(app, ["analyze", str(p)])
    assert r.exit_code == 1
    r = CliRunner().invoke(app, ["analyze", str(p), "--fail-on", "error"])
    assert r.exit_code == 0


@pytest.mark.parametrize("select", [("O",), ("T101",), ("L101", "D")])
def test_no_selection_turns_a_too_short_log_into_healthy(select):
    rep = diag({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]}, select=select)
    assert rep.verdict == "insufficient_data"


def test_ignoring_the_deciding_rule_does_not_make_the_headline_healthy():
    rep = curvediag.diagnose(sample("overfitting.csv"), ignore=("O102",))
    assert not rep.headline.startswith("Healthy:")
    assert "O102" in rep.headline and "overfitting" in rep.headline
    d = json.loads(CliRunner().invoke(app, ["analyze", str(sample("overfitting.csv")), "--ignore", "O1",
                                            "--format", "json"]).stdout)[0]
    assert "switched off by the configuration" in d["headline"]
    # a rule that would not have decided anything worse leaves the headline alone
    rep = curvediag.diagnose(sample("healthy.csv"), ignore=("T101",))
    assert rep.headline.startswith("Healthy:")


# --- nothing generalised ----------------------------------------------------------------------------

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


# --- hidden non-finite values; logs with a metric but no loss ----------------------------------------

def _hf_state(write, losses, grads):
    hist = []
    for i, (lo, g) in enumerate(zip(losses, grads)):
        hist.append({"epoch": (i + 1) / 4, "step": 10 * (i + 1), "loss": lo, "grad_norm": g, "learning_rate": 1e-4})
        if i % 4 == 3:
            hist.append({"epoch": (i + 1) / 4, "step": 10 * (i + 1), "eval_loss": 1.0 - 0.01 * i, "eval_accuracy": 0.5})
    text = json.dumps({"global_step": 10 * len(losses), "log_history": hist}).replace("NaN", "NaN")
    return write("trainer_state.json", text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_gradient_norm_is_divergence_even_when_the_loss_looks_finite(write, bad):
    n = 24
    losses = list(np.linspace(2.0, 1.0, n))
    grads = [1.0] * n
    for i in range(12, n):  # HF replaced the NaN losses by the running average (logging_nan_inf_filter)
        grads[i] = bad
        losses[i] = losses[11]
    rep = curvediag.diagnose(_hf_state(write, losses, grads))
    assert rep.verdict == "diverged"
    f = next(f for f in rep.findings if f.code == "D101")
    assert "grad_norm" in f.message and rep.onset_epoch is not None


def test_a_zero_loss_beside_nan_gradients_is_an_fp16_overflow(write):
    n = 24
    losses = list(np.linspace(2.0, 1.0, n))
    grads = [1.0] * n
    for i in range(15, n):
        losses[i], grads[i] = 0.0, float("nan")
    rep = curvediag.diagnose(_hf_state(write, losses, grads))
    assert rep.verdict == "diverged" and "fp16" in rep.headline + " ".join(f.message for f in rep.findings)


def test_a_log_with_accuracy_but_no_loss_is_judged_on_the_metric():
    rising = [0.1, 0.3, 0.45, 0.55, 0.62, 0.67, 0.71, 0.74, 0.76, 0.78]
    assert diag({"val_acc": rising}).verdict == "still_improving"
    settled = [0.1, 0.5, 0.7, 0.78, 0.8, 0.8, 0.801, 0.8, 0.8, 0.799, 0.8, 0.8]
    assert diag({"val_acc": settled}).verdict == "healthy"
    assert diag({"val_acc": [0.1, 0.5]}).verdict == "insufficient_data"


# --- blown up in the first epoch; violent instability; quality collapse --------------------------------

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


def test_an_accuracy_identical_at_every_evaluation_learned_nothing():
    n = 60
    t = np.arange(n)
    loss = 0.632 + 0.057 * np.exp(-t / 12)  # converges to the entropy of the class prior
    rep = diag({"loss": loss + 0.003, "val_loss": loss, "accuracy": 0.6 + 0.01 * (t > 30),
                "val_accuracy": np.full(n, 0.608)})
    assert rep.verdict == "not_learning" and any(f.code == "L102" for f in rep.findings)


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


@pytest.mark.parametrize("opts", [{"O102": {"rise_limit": float("nan")}}, {"O102": {"plateau_tol": -1}},
                                  {"E101": {"patience": 2.5}}, {"T101": {"gain_limit": 7}}, {"D104": {"jump": 0.5}}])
def test_the_library_checks_rule_options_as_the_configuration_file_does(opts):
    with pytest.raises(curvediag.errors.UsageError):
        curvediag.diagnose(sample("healthy.csv"), options=opts)
