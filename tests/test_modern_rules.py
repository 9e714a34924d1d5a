"""M101 epoch-staircase and R101 spike-triage on real public logs and on runs trained for them
(tests/data/modern/: SOURCES.md, LABELS.json; benchmarks/modern/make_runs.py trains the runs)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from curvediag import Monitor, diagnose

DATA = os.path.join(os.path.dirname(__file__), "data", "modern")
PUBLIC = os.path.join(DATA, "public")
TRAINED = os.path.join(DATA, "trained")
SAMPLES = os.path.join(os.path.dirname(__file__), "..", "sample_logs")


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


# -- M101 epoch-staircase -----------------------------------------------------------------------

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


@pytest.mark.parametrize("sample", sorted(os.listdir(SAMPLES)))
def test_new_rules_silent_on_the_per_epoch_sample_logs(sample):
    if sample.endswith(".md"):
        pytest.skip("not a log")
    r = diagnose(os.path.join(SAMPLES, sample))
    assert finding(r, "M101") is None and finding(r, "R101") is None


# -- R101 spike-triage --------------------------------------------------------------------------

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


# -- every output format, live ------------------------------------------------------------------

def test_json_output_carries_the_plan_and_validates():
    import jsonschema

    out = subprocess.run([sys.executable, "-m", "curvediag", "analyze", trained("spike_lingered"), "-f", "json",
                          "--exit-zero"], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(os.path.dirname(__file__), "..", "src")})
    doc = json.loads(out.stdout)
    from curvediag.schema import SCHEMA

    jsonschema.validate(doc, SCHEMA)
    f = next(f for f in doc[0]["findings"] if f["code"] == "R101")
    assert f["evidence"]["plan_checkpoint"] == 300 and f["evidence"]["spike1_outcome"] == "lingered"


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "github", "sarif", "gitlab", "jsonl"])
def test_every_format_shows_the_new_findings(fmt):
    from curvediag.batch import run
    from curvediag.config import Settings
    from curvediag.render import OutputFormat, OutputOptions, render

    batch = run([trained("staircase_memorise"), trained("spike_lingered")], Settings())
    text = render(batch, OutputFormat(fmt), OutputOptions(full=True))
    assert "M101" in text or "epoch-staircase" in text
    assert "R101" in text or "spike-triage" in text


def test_live_monitor_says_the_staircase_and_the_spike():
    for name, code in (("staircase_overfit", "M101"), ("spike_lingered", "R101")):
        with open(trained(name)) as fh:
            rows = json.load(fh)["log_history"]
        mon = Monitor()
        seen = []
        for k in range(0, len(rows), 25):
            mon.log_many(rows[k:k + 25])
            mon.check()
            seen += [a.finding.code for a in mon.new_alerts]
        assert code in seen
        assert finding(mon.check(), code).evidence == finding(diagnose(rows), code).evidence


# -- S101 lr-schedule ---------------------------------------------------------------------------

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


# -- E101 early-stopping audit ------------------------------------------------------------------

def _ultralytics_csv(path, val):
    cols = ("epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2")
    rows = [cols]
    for e, v in enumerate(val, 1):
        t = 1.0 + 2.0 * math.exp(-e / 10)
        rows.append(f"{e},1.0,{t:.5f},{t:.5f},{t:.5f},0.5,0.5,0.5,0.3,{v:.5f},{v:.5f},{v:.5f},0.001,0.001,0.001")
    path.write_text("\n".join(rows) + "\n")


def test_early_stopping_replays_the_runs_own_ultralytics_patience(tmp_path):
    val = [2.0 * math.exp(-e / 5) + 1.0 + (0.02 * (e - 20) if e > 20 else 0.0) for e in range(1, 61)]
    _ultralytics_csv(tmp_path / "results.csv", val)
    (tmp_path / "args.yaml").write_text("task: detect\nepochs: 60\npatience: 12\nbatch: 16\n")
    f = finding(diagnose(str(tmp_path / "results.csv")), "E101")
    assert f is not None and f.evidence["patience"] == 12 and f.evidence["patience_from"] == "args.yaml"
    assert f.message.startswith("Ultralytics' patience=12 would have stopped")
    (tmp_path / "args.yaml").unlink()
    f = finding(diagnose(str(tmp_path / "results.csv")), "E101")
    assert f.evidence["patience"] == 5 and f.evidence["patience_from"] == "option"


def test_early_stopping_replays_the_hf_callbacks_patience():
    with open(os.path.join(PUBLIC, "ner_biomed_trainer_state.json")) as fh:
        state = json.load(fh)
    state["stateful_callbacks"] = {"EarlyStoppingCallback": {"args": {"early_stopping_patience": 3}}}
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "trainer_state.json")
        with open(p, "w") as fh:
            json.dump(state, fh)
        f = finding(diagnose(p), "E101")
    assert f.evidence["patience"] == 3 and f.evidence["patience_from"] == "trainer_state"
    assert f.message.startswith("EarlyStoppingCallback(early_stopping_patience=3) would have stopped at epoch 5")


def test_a_best_within_noise_of_many_others_is_luck():
    rng = np.random.default_rng(1)
    val = [1.5 * math.exp(-e / 3) + 0.5 + 0.01 * rng.standard_normal() for e in range(40)]
    val[25] = min(val) - 0.002
    f = finding(diagnose({"loss": [2.0 * math.exp(-e / 8) + 0.1 for e in range(40)], "val_loss": val}), "E101")
    assert f is not None and f.evidence["near_best"] >= 3 and "which of them is best is luck" in f.message
    assert f.evidence["noise_patience"] >= 1 and f.evidence["noise_min_delta"] > 0


def test_an_early_dip_kept_as_best_is_named():
    val = [1.5 * math.exp(-e / 3) + 0.5 + 0.003 * math.sin(e) for e in range(40)]
    val[6] = 0.3  # one evaluation far below all the others
    f = finding(diagnose({"loss": [2.0 * math.exp(-e / 8) + 0.1 for e in range(40)], "val_loss": val}), "E101")
    assert f is not None and f.evidence.get("best_isolated_dip") is True and "one-evaluation dip" in f.message


def test_early_stopping_that_ends_the_run_before_the_lr_can_drop():
    f = finding(diagnose(os.path.join(PUBLIC, "ecg_loss_only_training.log")), "E101")
    assert f is not None and f.evidence["lr_drops"] >= 1 and f.evidence["stops_before_lr_drop"] is True
    q = f.evidence["lr_plateau_patience"]
    assert f"give early stopping at least {q + 2}" in f.message


def test_the_detector_benchmark_gives_the_figures_the_readme_quotes():
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "modern", "detectors.py")
    spec = importlib.util.spec_from_file_location("modern_detectors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.score()
    m, r = res["M101"], res["R101"]
    assert (len(m["hit"]), len(m["miss"]), len(m["false_alarm"]), len(m["eval_agree"])) == (9, 1, 0, 8)
    assert (len(r["hit"]), len(r["miss"]), len(r["false_alarm"]), len(r["outcome_agree"])) == (7, 0, 0, 6)
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    assert "M101 has 9 hits, 1 miss and no false alarm" in readme and "R101 7 hits, no miss and no false alarm" in readme
