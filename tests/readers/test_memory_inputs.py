"""In-memory logs through ``curvediag.diagnose``: numpy arrays and numpy scalars as dict values,
a Keras History, a Hugging Face ``trainer.state.log_history`` list, and a DataFrame whose index
is the axis (its values reported, not row positions); anything else is a UsageError."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import curvediag
from curvediag.errors import UsageError
from curvediag.readers.memory import SUPPORTED

from ..conftest import sample

PATH = sample("overfitting.csv")
DF = pd.read_csv(PATH)
COLS = [c for c in DF.columns if c != "epoch"]


def _metrics(report) -> dict:
    return {m.name: (m.first, m.best, m.best_at, m.last, m.points) for m in report.metrics}


def _same_as_file(report, float32=False):
    want = curvediag.diagnose(PATH)
    assert report.verdict == want.verdict == "overfitting"
    got, exp = _metrics(report), _metrics(want)
    assert got.keys() == exp.keys()
    for k in exp:
        first, best, at, last, points = got[k]
        assert (at, points) == (exp[k][2], exp[k][4])
        assert np.allclose([first, best, last], [exp[k][0], exp[k][1], exp[k][3]], rtol=1e-6 if float32 else 0)


@pytest.mark.parametrize("make", [
    lambda col: col.to_numpy(),                                   # float64 array
    lambda col: col.to_numpy(dtype=np.float32),                   # float32 array
    lambda col: [np.float32(v) for v in col],                     # list of numpy float32
    lambda col: [np.float64(v) for v in col],                     # list of numpy float64
    lambda col: tuple(np.float32(v) if i % 7 else float(v) for i, v in enumerate(col)),  # mixed
    lambda col: col,                                              # a pandas Series
], ids=["f64-array", "f32-array", "f32-list", "f64-list", "mixed-tuple", "series"])
def test_dict_of_numpy_values_reads_the_same_values(make):
    values = {k: make(DF[k]) for k in COLS}
    loose = not isinstance(values[COLS[0]], np.ndarray) or values[COLS[0]].dtype != np.float64
    _same_as_file(curvediag.diagnose(values), float32=loose)


def test_dict_with_a_numpy_epoch_array_gives_the_axis():
    values = {k: DF[k].to_numpy() for k in COLS}
    values["epoch"] = np.arange(len(DF)) + 50
    r = curvediag.diagnose(values)
    assert r.best_epoch == curvediag.diagnose(PATH).best_epoch + 50


def test_keras_history_of_numpy_floats():
    class History:
        history = {k: [np.float32(v) for v in DF[k]] for k in COLS}

    _same_as_file(curvediag.diagnose(History()), float32=True)


def _log_history(n=40):
    hist = []
    for i in range(1, n + 1):
        hist.append({"loss": 2.0 / i, "grad_norm": 1.0 / i, "learning_rate": 1e-3, "epoch": float(i), "step": 10 * i})
        hist.append({"eval_loss": 1.0 + abs(i - 15) * 0.05, "eval_accuracy": 0.5, "epoch": float(i), "step": 10 * i})
    hist.append({"train_runtime": 1.0, "train_loss": 0.3, "epoch": float(n), "step": 10 * n, "total_flos": 1})
    return hist


def test_hf_log_history_list_reads_as_trainer_state_does(tmp_path):
    hist = _log_history()
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"global_step": 400, "log_history": hist}))
    from_file = curvediag.diagnose(p)
    live = curvediag.diagnose(hist)
    assert live.best_epoch == from_file.best_epoch == 15.0
    assert _metrics(live) == _metrics(from_file)
    assert {"train_loss", "val_loss", "grad_norm"} <= set(_metrics(live))
    assert live.source.columns == from_file.source.columns


def test_hf_log_history_of_numpy_values():
    hist = [{k: (np.float32(v) if isinstance(v, float) else v) for k, v in e.items()} for e in _log_history()]
    assert curvediag.diagnose(hist).best_epoch == 15.0


@pytest.mark.parametrize("index", [
    lambda n: pd.Index(np.arange(n) + 100, name="epoch"),      # named epoch
    lambda n: pd.RangeIndex(100, 100 + n),                     # unnamed, not positions
    lambda n: pd.Index((np.arange(n) + 100).astype(float)),    # float, unnamed
    lambda n: pd.Index(np.arange(n) + 100, name="round"),      # named, not an axis name
], ids=["named-epoch", "range-from-100", "float-index", "other-name"])
def test_dataframe_index_is_the_axis(index):
    df = DF.drop(columns=["epoch"])
    df.index = index(len(df))
    r = curvediag.diagnose(df)
    assert r.best_epoch == curvediag.diagnose(PATH).best_epoch + 100
    assert r.source.axis == "epoch"


def test_dataframe_set_index_epoch_reports_epoch_values():
    df = DF.copy()
    df["epoch"] = df["epoch"] * 2 + 1
    r = curvediag.diagnose(df.set_index("epoch"))
    assert r.best_epoch == curvediag.diagnose(PATH).best_epoch * 2 + 1


def test_dataframe_with_a_step_index_and_filtered_rows():
    df = DF.drop(columns=["epoch"])
    df.index = pd.Index(np.arange(len(df)) * 10, name="step")
    kept = df.iloc[::2]  # every other row: the index keeps the steps, positions would not
    r = curvediag.diagnose(kept)
    assert r.source.axis == "step" and r.best_epoch in set(kept.index)


def test_default_index_and_a_column_axis_are_unchanged():
    """A RangeIndex from 0, or an unnamed index beside an epoch column: the columns decide."""
    want = curvediag.diagnose(PATH)
    assert curvediag.diagnose(DF).best_epoch == want.best_epoch
    shuffled = DF.copy()
    shuffled.index = np.arange(len(DF)) + 7
    assert curvediag.diagnose(shuffled).best_epoch == want.best_epoch


@pytest.mark.parametrize("obj", [42, 1.5, [1.0, 2.0, 3.0], [], {1, 2}, object(), b"loss,val_loss\n", None],
                         ids=["int", "float", "bare-list", "empty-list", "set", "object", "bytes", "none"])
def test_unsupported_objects_raise_usage_error_naming_what_is_supported(obj):
    with pytest.raises(UsageError) as e:
        curvediag.diagnose(obj)
    assert f"cannot diagnose a {type(obj).__name__}" in str(e.value) and SUPPORTED in str(e.value)
