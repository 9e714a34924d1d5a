"""Long tables (run, step, key, value): each run diagnosed as the same numbers in a file are."""

from __future__ import annotations

import math
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import curvediag
from curvediag.config import Settings
from curvediag.errors import UsageError
from curvediag.frames import diagnose_frame, diagnose_run


def _runs(seed=0):
    """Four runs in one long table, as a tracker exports them: per-step training loss, sparse
    validation, one run diverging to NaN, one overfitting, rows shuffled between runs."""
    rng = np.random.default_rng(seed)
    rows = []
    for run, kind in [("r-healthy", "healthy"), ("r-over", "over"), ("r-nan", "nan"), ("r-flat", "flat")]:
        for s in range(1, 121):
            loss = 2.5 * s ** -0.4 * (1 + 0.02 * rng.standard_normal())
            if kind == "flat":
                loss = 2.3 * (1 + 0.01 * rng.standard_normal())
            if kind == "nan" and s > 80:
                loss = float("nan")
            rows.append((run, s, "loss", loss))
            if s % 5 == 0:
                vl = 2.6 * s ** -0.35 + (0.01 * max(0, s - 40) if kind == "over" else 0)
                if kind == "flat":
                    vl = 2.3
                if kind == "nan" and s > 80:
                    vl = float("nan")
                rows.append((run, s, "val_loss", vl))
                rows.append((run, s, "val_accuracy", 0.1 if kind == "flat" else min(0.95, 0.3 + s / 200)))
    df = pd.DataFrame(rows, columns=["run_id", "step", "key", "value"])
    return df.sample(frac=1.0, random_state=seed).sort_values(["run_id", "step"], kind="stable")


def _wide_csv(group, path):
    wide = {}
    for _, r in group.iterrows():
        wide.setdefault(int(r.step), {})[r.key] = r.value
    keys = list(dict.fromkeys(group.key))
    with open(path, "w") as f:
        f.write(",".join(["step"] + keys) + "\n")
        for s in sorted(wide):
            cells = []
            for k in keys:
                v = wide[s].get(k)
                cells.append("" if v is None else ("nan" if math.isnan(v) else repr(float(v))))
            f.write(",".join([str(s)] + cells) + "\n")


def _strip(d):
    d = dict(d)
    d.pop("source")
    return d


def test_each_run_diagnosed_as_its_numbers_in_a_file(tmp_path):
    df = _runs()
    reports = diagnose_frame(df)
    assert list(reports) == ["r-flat", "r-healthy", "r-nan", "r-over"]  # order of first appearance
    verdicts = {k: r.verdict for k, r in reports.items()}
    assert verdicts["r-nan"] == "diverged"
    assert verdicts["r-over"] == "overfitting"
    assert verdicts["r-flat"] == "not_learning"
    for rid, group in df.groupby("run_id"):
        p = tmp_path / f"{rid}.csv"
        _wide_csv(group, p)
        assert _strip(reports[rid].to_dict()) == _strip(curvediag.diagnose(str(p)).to_dict()), rid
        assert reports[rid].source.path == rid


def test_a_recorded_nan_stays_evidence_a_missing_key_stays_missing():
    df = pd.DataFrame({"run_id": "x", "step": [1, 1, 2, 3, 4, 5, 6], "key": ["loss", "val_loss", "loss", "loss", "loss", "loss", "loss"],
                       "value": [1.0, 1.2, 0.9, 0.8, float("nan"), 0.7, 0.6]})
    r = diagnose_frame(df)["x"]
    assert r.verdict == "diverged"
    m = {x.name: x for x in r.metrics}
    assert m["val_loss"].points == 1 and m["train_loss"].non_finite == 1


def test_the_last_write_of_a_step_wins_and_strings_are_numbers():
    df = pd.DataFrame({"run": ["a"] * 5, "iteration": ["1", "2", "2", "3", "4"], "name": ["loss"] * 5,
                       "val": ["1.0", "5.0", "0.9", "0.8", "0.7"]})
    r = diagnose_frame(df, run="run", step="iteration", key="name", value="val")["a"]
    m = {x.name: x for x in r.metrics}
    assert m["train_loss"].points == 4 and m["train_loss"].best == pytest.approx(0.7)
    assert r.source.rows == 4


def test_wide_frames_and_settings_pass_through():
    wide = pd.DataFrame({"epoch": range(30), "loss": np.linspace(2, 0.2, 30),
                         "val_loss": np.r_[np.linspace(2, 0.8, 15), np.linspace(0.8, 1.6, 15)]})
    d = diagnose_run(wide)
    assert d["verdict"] == "overfitting"
    assert diagnose_run(wide, Settings.of(ignore=("O",)))["verdict"] != "overfitting"


def test_diagnose_run_is_picklable_and_runs_in_worker_processes():
    df = _runs(1)
    groups = [g for _, g in df.groupby("run_id")]
    serial = [diagnose_run(g) for g in groups]
    assert pickle.loads(pickle.dumps(diagnose_run)) is diagnose_run
    with ProcessPoolExecutor(2) as ex:
        parallel = list(ex.map(diagnose_run, groups))
    assert parallel == serial


def test_bad_tables_are_usage_errors_naming_the_column():
    df = _runs()
    with pytest.raises(UsageError, match="run column 'experiment'"):
        diagnose_frame(df, run="experiment")
    with pytest.raises(UsageError, match="no column 'metric'"):
        diagnose_frame(df, key="metric")
    with pytest.raises(curvediag.InputError):
        diagnose_frame(pd.DataFrame({"run_id": ["a"], "step": [1], "key": ["lr"], "value": [0.1]}))
