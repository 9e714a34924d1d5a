"""The R101 spike-triage rule (src/curvediag/rules/spike_triage.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

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


@pytest.mark.parametrize("name,outcome", [("spike_recovered", "recovered"), ("spike_lingered", "lingered"),
                                          ("spike_diverged", "diverged")])
def test_spike_outcomes_on_trained_runs(name, outcome):
    f = finding(diagnose(trained(name)), "R101")
    assert f is not None
    outcomes = [v for k, v in f.evidence.items() if k.endswith("_outcome")]
    assert outcomes[-1] == outcome
    assert 1.45 <= f.evidence["spike1_start"] <= 1.8  # the cause was induced at step 300 of 600 (epoch 1.5)


@pytest.mark.parametrize("name", ["healthy_per_step", "stream_no_staircase", "staircase_memorise", "staircase_overfit"])
def test_no_spike_on_runs_without_one(name):
    assert finding(diagnose(trained(name)), "R101") is None


def test_a_recovered_spike_needs_no_plan_and_tells_its_grad_norm():
    f = finding(diagnose(trained("spike_recovered")), "R101")
    assert f.evidence["recovered"] == 1 and not any(k.startswith("plan_") for k in f.evidence)
    assert f.evidence["spike1_grad_norm_spike"] is True
    assert "plan" not in f.message


def test_a_loss_spike_without_a_grad_norm_spike_is_told_apart():
    f = finding(diagnose(os.path.join(PUBLIC, "trocr_trainer_state.json")), "R101")
    assert f is not None and f.evidence["spike1_grad_norm_spike"] is False and "grad_norm calm" in f.message
    assert f.evidence["spike1_outcome"] == "recovered" and abs(f.evidence["spike1_start"] - 6.56) < 0.01


def test_rollback_plan_from_save_steps():
    f = finding(diagnose(trained("spike_lingered")), "R101")
    ev = f.evidence
    assert ev["plan_restart_at_or_before"] == 301 and ev["plan_checkpoint"] == 300
    assert ev["plan_checkpoint_from"] == "save_steps"
    assert (ev["plan_skip_from"], ev["plan_skip_to"]) == (302, 304)
    assert math.isclose(ev["plan_lr_before_spike"], 1e-3) and math.isclose(ev["plan_lr_advised"], 5e-4)
    assert "checkpoint-300" in f.message and "skip the batches of global_steps 302-304" in f.message
    assert f.remedies[0].startswith("Roll back: restart from the last checkpoint at or before global_step 301")


def test_rollback_plan_from_the_checkpoint_directories(tmp_path):
    run = tmp_path / "out"
    (run / "checkpoint-150").mkdir(parents=True)
    (run / "checkpoint-250").mkdir()
    (run / "checkpoint-350").mkdir()
    shutil.copy(trained("spike_lingered"), run / "trainer_state.json")
    ev = finding(diagnose(str(run / "trainer_state.json")), "R101").evidence
    assert ev["plan_checkpoint"] == 250 and ev["plan_checkpoint_from"] == "directory"
    # the trainer_state.json inside a checkpoint directory sees its siblings
    inner = run / "checkpoint-350" / "trainer_state.json"
    shutil.copy(trained("spike_lingered"), inner)
    assert finding(diagnose(str(inner)), "R101").evidence["plan_checkpoint"] == 250
    assert sorted(os.listdir(run)) == ["checkpoint-150", "checkpoint-250", "checkpoint-350", "trainer_state.json"]


def test_spike_triage_is_scale_free():
    with open(trained("spike_lingered")) as fh:
        state = json.load(fh)
    for e in state["log_history"]:
        for k in ("loss", "eval_loss"):
            if k in e:
                e[k] *= 7.0
    a = finding(diagnose(trained("spike_lingered")), "R101").evidence
    b = finding(diagnose(state["log_history"]), "R101").evidence
    assert a["spike1_outcome"] == b["spike1_outcome"] and math.isclose(a["spike1_ratio"], b["spike1_ratio"], rel_tol=1e-3)


def test_a_spike_at_the_end_of_the_log_is_unresolved():
    log = per_step(1, 200, lambda p: 1.0, noise=0.02)
    log[-2]["loss"] *= 20
    f = finding(diagnose(log), "R101")
    assert f is not None and f.evidence["spike1_outcome"] == "unresolved"


def test_json_output_carries_the_plan_and_validates():
    import jsonschema

    out = subprocess.run([sys.executable, "-m", "curvediag", "analyze", trained("spike_lingered"), "-f", "json",
                          "--exit-zero"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(os.path.dirname(__file__)), "..", "src")})
    doc = json.loads(out.stdout)
    from curvediag.schema import SCHEMA

    jsonschema.validate(doc, SCHEMA)
    f = next(f for f in doc[0]["findings"] if f["code"] == "R101")
    assert f["evidence"]["plan_checkpoint"] == 300 and f["evidence"]["spike1_outcome"] == "lingered"
