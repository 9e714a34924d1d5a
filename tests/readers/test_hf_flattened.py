"""A Hugging Face ``log_history`` flattened to a table (CSV, JSON Lines, a DataFrame) is read as
its ``trainer_state.json`` is: the per-step ``loss`` is the training curve, never the one mean
``train_loss`` of the end-of-run summary row (issue 19)."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

import curvediag

from ..conftest import SHARED, require_shared


def _log_history(n_epochs=6, steps=5):
    hist, step = [], 0
    for e in range(n_epochs):
        for s in range(steps):
            step += 10
            ep = round(e + (s + 1) / steps, 2)
            hist.append({"loss": round(2.0 * math.exp(-step / 80) + 0.1, 4), "grad_norm": 1.5,
                         "learning_rate": 5e-5 * (1 - step / 300), "epoch": ep, "step": step})
        hist.append({"eval_loss": round(1.9 * math.exp(-(e + 1) / 1.5) + 0.35 + 0.02 * max(e - 2, 0), 4),
                     "eval_accuracy": 0.6 + 0.05 * min(e, 4), "eval_runtime": 1.2, "eval_samples_per_second": 80.0,
                     "eval_steps_per_second": 10.0, "epoch": float(e + 1), "step": step})
    hist.append({"train_runtime": 55.1, "train_samples_per_second": 43.2, "train_steps_per_second": 5.4,
                 "total_flos": 1.2e14, "train_loss": 0.61, "epoch": float(n_epochs), "step": step})
    return hist


def _state(hist):
    return {"log_history": hist, "global_step": hist[-1]["step"], "epoch": hist[-1]["epoch"]}


@pytest.mark.parametrize("how", ["csv", "jsonl", "json", "dataframe"])
def test_a_flattened_log_history_reads_the_per_step_loss(how, write, tmp_path):
    hist = _log_history()
    ref = curvediag.diagnose(write("trainer_state.json", json.dumps(_state(hist))))
    df = pd.DataFrame(hist)
    if how == "csv":
        p = tmp_path / "log_history.csv"
        df.to_csv(p, index=False)
        log = p
    elif how == "jsonl":
        p = tmp_path / "log_history.jsonl"
        df.to_json(p, orient="records", lines=True)  # every record has every key, null where absent
        log = p
    elif how == "json":
        p = tmp_path / "log_history.json"
        df.to_json(p, orient="records")
        log = p
    else:
        log = df
    rep = curvediag.diagnose(log)
    assert rep.source.columns["train_loss"] == "loss"
    assert rep.metrics.get("train_loss").points == ref.metrics.get("train_loss").points == 30
    assert rep.metrics.get("val_loss").points == 6
    assert rep.verdict == ref.verdict
    assert rep.best_epoch == ref.best_epoch
    assert rep.metrics.get("train_loss").last == pytest.approx(hist[-3]["loss"])  # not the summary's 0.61
    assert any("training-summary" in n for n in rep.source.notes)


HF = [p for s in ("real_logs", "real_logs2") for p in sorted((SHARED / s / "hf_trainer_state").glob("*.json"))]


def test_real_trainer_states_flattened_to_csv_keep_their_verdict(tmp_path):
    require_shared("real_logs", "hf_trainer_state")
    summary = 0
    for i, p in enumerate(HF):
        hist = json.loads(p.read_text())["log_history"]
        summary += any("train_runtime" in h for h in hist)
        out = tmp_path / f"{i}.csv"
        pd.DataFrame(hist).to_csv(out, index=False)
        a, b = curvediag.diagnose(p), curvediag.diagnose(out)
        assert (b.verdict, b.source.columns.get("train_loss")) == (a.verdict, a.source.columns.get("train_loss")), p.name
    assert summary >= 3  # the case at issue is among them
