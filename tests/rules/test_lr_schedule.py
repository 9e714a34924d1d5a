"""The S101 lr-schedule rule (src/curvediag/rules/lr_schedule.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import math
import os

import pytest

from curvediag import diagnose

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "modern")
PUBLIC = os.path.join(DATA, "public")
TRAINED = os.path.join(DATA, "trained")


def finding(report, code):
    return next((f for f in report.findings if f.code == code), None)


def trained(name):
    return os.path.join(TRAINED, f"{name}_trainer_state.json")


def test_warmup_plateau_and_schedule_end_on_a_real_log():
    f = finding(diagnose(os.path.join(PUBLIC, "tinyllama_lora_trainer_state.json")), "S101")
    assert f is not None and "warm-up" in f.message and "the schedule ended, not the model" in f.message
    assert f.evidence["warmup_end"] < 0.1 and 1.5 < f.evidence["schedule_ended_at"] < 1.7
    assert any("Lengthen the schedule" in r and "1e-05" in r for r in f.remedies)


def test_schedule_end_on_a_training_only_log():
    f = finding(diagnose(os.path.join(PUBLIC, "t5_summarization_trainonly_trainer_state.json")), "S101")
    assert f is not None and f.evidence["schedule_ended_at"] == pytest.approx(2.7, abs=0.05)


def test_loss_falls_at_the_lr_step_downs_on_a_keras_log():
    f = finding(diagnose(os.path.join(PUBLIC, "retina_history.csv")), "S101")
    assert f is not None and f.evidence["lr_step_downs"] == 2 and f.evidence["loss_fell_at_steps"] == 2
    assert "the learning rate set the pace" in f.message


def test_divergence_after_the_lr_peak_names_the_peak_and_a_third_of_it():
    log, lr_peak = [], 3e-3
    for step in range(1, 201):
        lr = lr_peak * min(1.0, step / 100)
        loss = 2.0 * math.exp(-step / 40) + 0.2 if step <= 100 else 0.2 + 0.02 * (step - 100)
        log.append({"step": step, "epoch": step / 200, "loss": loss, "learning_rate": lr})
    f = finding(diagnose(log), "S101")
    assert f is not None and f.evidence["diverged_after_peak"] is True
    assert f.evidence["lr_advised"] == pytest.approx(1e-3)
    assert any("from 0.003 to about 0.001" in r for r in f.remedies)


@pytest.mark.parametrize("name", ["staircase_memorise", "healthy_per_step"])
def test_lr_schedule_silent_on_a_constant_lr(name):
    assert finding(diagnose(trained(name)), "S101") is None
