"""Properties every judgement must have: scale-free, noise-robust, format-blind."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curvediag.api import diagnose, diagnose_curves, load_curves
from curvediag.curves import TRAIN_LOSS, VAL_LOSS, Curves

from ..conftest import SAMPLE_VERDICTS, real_log_files, require_real_logs, sample

pytestmark = pytest.mark.slow  # the whole file (pyproject.toml's markers: the fast suite leaves it out)

LOSSES = (TRAIN_LOSS, VAL_LOSS)


def transformed(curves: Curves, fn) -> Curves:
    series = {
        k: s.with_xy(s.x, fn(k, s.y)) if k in LOSSES else s for k, s in curves.series.items()
    }
    return Curves(curves.source, series, curves.axis_kind)


SAMPLES = {name: load_curves(sample(name)) for name in SAMPLE_VERDICTS}


def _real():
    out = []
    for p in real_log_files():
        try:
            out.append((p, load_curves(p)))
        except Exception:
            pass  # unreadable ones are covered in test_real_logs
    return out


REAL = _real()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(SAMPLE_VERDICTS)), c=st.floats(1e-4, 1e4))
def test_scaling_the_losses_never_changes_the_verdict(name, c):
    curves = SAMPLES[name]
    assert diagnose_curves(transformed(curves, lambda k, y: y * c)).verdict == SAMPLE_VERDICTS[name]


@pytest.mark.parametrize("c", [1e-3, 0.37, 10.0, 2500.0])
def test_scaling_real_logs_never_changes_the_verdict(c):
    require_real_logs()
    flips = []
    # L103 (loss-at-chance) reads a loss's absolute level against ln K by design: judged without it here
    for p, curves in REAL:
        a = diagnose_curves(curves, ignore=("L103",)).verdict
        b = diagnose_curves(transformed(curves, lambda k, y: y * c), ignore=("L103",)).verdict
        if a != b:
            flips.append((p.name, a, b))
    assert flips == []


@pytest.mark.parametrize("name", sorted(SAMPLE_VERDICTS))
def test_one_percent_jitter_changes_clear_verdicts_in_under_one_percent_of_draws(name):
    draws, flips = 150, []
    curves = SAMPLES[name]
    for seed in range(draws):
        rng = np.random.default_rng([seed, len(name)])
        jittered = transformed(curves, lambda k, y: y * (1 + 0.01 * rng.standard_normal(y.size)))
        v = diagnose_curves(jittered).verdict
        if v != SAMPLE_VERDICTS[name]:
            flips.append((seed, v))
    assert len(flips) / draws < 0.01, flips


@pytest.mark.parametrize("name", sorted(SAMPLE_VERDICTS))
def test_csv_json_jsonl_round_trip_gives_the_same_verdict(name, tmp_path):
    import pandas as pd

    curves = SAMPLES[name]
    cols = {k: s.y for k, s in curves.series.items()}
    n = max(len(v) for v in cols.values())
    assert all(len(v) == n for v in cols.values())
    alias = {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "accuracy", "val_acc": "val_accuracy", "lr": "lr"}
    df = pd.DataFrame({alias[k]: v for k, v in cols.items()})
    df.insert(0, "epoch", curves.series[next(iter(cols))].x)
    df.to_csv(tmp_path / "a.csv", index=False, na_rep="nan")
    (tmp_path / "a.json").write_text(json.dumps({k: list(map(float, v)) for k, v in df.items() if k != "epoch"}))
    with open(tmp_path / "a.jsonl", "w") as f:
        for rec in df.to_dict(orient="records"):
            f.write(json.dumps(rec) + "\n")
    verdicts = {ext: diagnose(tmp_path / f"a.{ext}").verdict for ext in ("csv", "json", "jsonl")}
    assert set(verdicts.values()) == {SAMPLE_VERDICTS[name]}, verdicts


@pytest.mark.parametrize("name", sorted(n for n in SAMPLE_VERDICTS if n.endswith(".csv")))
def test_column_order_does_not_matter(name, tmp_path):
    import pandas as pd

    df = pd.read_csv(sample(name))
    df[df.columns[::-1]].to_csv(tmp_path / "r.csv", index=False, na_rep="nan")
    assert diagnose(tmp_path / "r.csv").verdict == SAMPLE_VERDICTS[name]


ALIASES = {
    "train_loss": ["loss", "train_loss", "TrainLoss", "training_loss", "train/loss", "Train-Loss"],
    "val_loss": ["val_loss", "valid_loss", "eval_loss", "ValLoss", "validation_loss", "val/loss"],
    "train_acc": ["accuracy", "acc", "train_acc", "train_accuracy", "TrainAcc"],
    "val_acc": ["val_accuracy", "val_acc", "valid_acc", "ValAcc", "validation_accuracy", "eval_accuracy"],
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SAMPLE_VERDICTS)), data=st.data())
def test_renaming_to_any_alias_and_shuffling_columns_keeps_the_verdict(name, data, tmp_path):
    import pandas as pd

    curves = SAMPLES[name]
    cols = {}
    for k, s in curves.series.items():
        if k in ALIASES:
            cols[data.draw(st.sampled_from(ALIASES[k]), label=k)] = s.y
    order = data.draw(st.permutations(sorted(cols)), label="order")
    df = pd.DataFrame({c: cols[c] for c in order})
    path = tmp_path / f"{name}.renamed.csv"
    df.to_csv(path, index=False, na_rep="nan")
    assert diagnose(path).verdict == SAMPLE_VERDICTS[name]
