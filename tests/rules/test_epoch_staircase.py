"""The M101 epoch-staircase rule (src/curvediag/rules/epoch_staircase.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from curvediag import diagnose

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "modern")
PUBLIC = os.path.join(DATA, "public")
TRAINED = os.path.join(DATA, "trained")


def finding(report, code):
    return next((f for f in report.findings if f.code == code), None)


def trained(name):
    return os.path.join(TRAINED, f"{name}_trainer_state.json")


def per_step(epochs, points, level, seed=0, noise=0.03, steps=None, eval_levels=None):
    """A Hugging Face log_history: ``points`` loss logs per epoch at ``level(epoch position)``."""
    rng = np.random.default_rng(seed)
    out, step = [], 0
    for e in range(epochs):
        for j in range(points):
            step += 1
            pos = e + (j + 1) / points
            out.append({"epoch": pos, "step": step, "loss": float(level(pos) * math.exp(noise * rng.standard_normal())),
                        "learning_rate": 1e-4})
        if eval_levels is not None:
            out.append({"epoch": float(e + 1), "step": step, "eval_loss": eval_levels[e]})
    return out


def test_staircase_with_eval_rising_names_the_onset_on_a_real_log():
    r = diagnose(os.path.join(PUBLIC, "ner_biomed_trainer_state.json"))
    f = finding(r, "M101")
    assert f is not None and f.severity == "info" and f.verdict is None
    assert f.evidence["eval"] == "rising" and f.evidence["onset_epoch"] == 3
    assert f.evidence["stepped"] >= 7 and "overfitting from epoch 3" in f.message


def test_staircase_with_eval_falling_is_memorising():
    f = finding(diagnose(os.path.join(PUBLIC, "mt5_summarization_trainer_state.json")), "M101")
    assert f is not None and f.evidence["eval"] == "falling"
    assert "memorising" in f.message and "onset_epoch" not in f.evidence


def test_staircase_without_eval_says_it_cannot_tell():
    f = finding(diagnose(os.path.join(PUBLIC, "cognidet_trainer_state.json")), "M101")
    assert f is not None and f.evidence["eval"] == "none" and f.evidence["median_drop"] > 0.5


@pytest.mark.parametrize("name,eval_", [("staircase_memorise", "rising"), ("staircase_overfit", "rising")])
def test_staircase_on_trained_runs(name, eval_):
    f = finding(diagnose(trained(name)), "M101")
    assert f is not None and f.evidence["eval"] == eval_
    assert f.evidence["stepped"] == f.evidence["boundaries"]


@pytest.mark.parametrize("name", ["stream_no_staircase", "healthy_per_step", "spike_recovered", "spike_lingered"])
def test_no_staircase_where_nothing_is_memorised(name):
    assert finding(diagnose(trained(name)), "M101") is None


def test_staircase_never_on_a_single_epoch_run():
    log = per_step(1, 200, lambda p: 2.0 * math.exp(-3 * p))
    assert finding(diagnose(log), "M101") is None


def test_staircase_not_on_boundaries_without_a_step():
    smooth = per_step(5, 60, lambda p: 2.0 * math.exp(-0.6 * p), eval_levels=[1.5, 1.3, 1.2, 1.15, 1.1])
    assert finding(diagnose(smooth), "M101") is None
    # the same curve with a 30% drop at each boundary, flat within the epochs, fires
    stairs = per_step(5, 60, lambda p: 2.0 * 0.7 ** math.ceil(p - 1e-9), eval_levels=[1.5, 1.3, 1.2, 1.15, 1.1])
    f = finding(diagnose(stairs), "M101")
    assert f is not None and f.evidence["stepped"] == 4 and abs(f.evidence["median_drop"] - 0.3) < 0.05
    assert f.evidence["eval"] == "falling"


def test_staircase_is_scale_free():
    stairs = per_step(4, 50, lambda p: 2.0 * 0.7 ** math.ceil(p - 1e-9), eval_levels=[1.5, 1.6, 1.7, 1.8])
    scaled = [dict(e, **{k: e[k] * 10 for k in ("loss", "eval_loss") if k in e}) for e in stairs]
    a, b = finding(diagnose(stairs), "M101"), finding(diagnose(scaled), "M101")
    assert a is not None and b is not None
    assert a.evidence["stepped"] == b.evidence["stepped"] and a.evidence["onset_epoch"] == b.evidence["onset_epoch"] == 2


def test_staircase_with_the_lr_stepping_down_says_so():
    log = per_step(4, 50, lambda p: 2.0 * 0.7 ** math.ceil(p - 1e-9))
    for e in log:
        e["learning_rate"] = 1e-3 * 0.3 ** math.ceil(e["epoch"] - 1e-9)
    f = finding(diagnose(log), "M101")
    assert f is not None and f.evidence.get("lr_steps_at_boundaries") is True and "schedule" in f.message
