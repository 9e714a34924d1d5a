"""The library in Python and notebooks: the in-memory inputs (numpy arrays and lists of numpy floats
as named curves -- a bare array is refused, its curve unnamed --, Hugging Face log_history, a DataFrame indexed by epoch, Keras histories with
validation_freq > 1 put on their epochs), and the Report's face: a short repr, _repr_html_,
report.plot(), report.to_text(), report.metrics by name, field names equal to the JSON's,
py.typed, every error type exported."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.errors import CurvediagError, UsageError

from ..conftest import REAL_LOGS, REPO, require_shared, sample

runner = CliRunner()
OVERFIT = sample("overfitting.csv")
DF = pd.read_csv(OVERFIT)


# -- inputs ---------------------------------------------------------------------------------------

LOSS = list(2.0 * np.exp(-np.arange(40) / 8) + 0.1)


@pytest.mark.parametrize("make", [
    lambda v: np.array(v), lambda v: np.array(v, dtype=np.float32), lambda v: [np.float32(x) for x in v],
    lambda v: [np.float64(x) for x in v], lambda v: tuple(np.float32(x) for x in v), lambda v: pd.Series(v).to_numpy(),
], ids=["f64-array", "f32-array", "f32-list", "f64-list", "f32-tuple", "series-values"])
def test_numpy_arrays_and_numpy_floats_as_named_curves_read_the_same_values(make):
    plain = {"loss": LOSS, "val_loss": [v + 0.2 + 0.01 * max(0, i - 20) for i, v in enumerate(LOSS)]}
    r = curvediag.diagnose({k: make(v) for k, v in plain.items()})
    want = curvediag.diagnose(plain)
    assert r.verdict == want.verdict and r.best_epoch == want.best_epoch
    for m in want.metrics:
        assert r.metrics[m.name].best == pytest.approx(m.best, rel=1e-6) and r.metrics[m.name].points == m.points


@pytest.mark.parametrize("bad", [np.array(LOSS), [np.float32(x) for x in LOSS], np.zeros((10, 3))])
def test_a_bare_array_is_refused_with_how_to_name_its_curve(bad):
    with pytest.raises(UsageError) as e:
        curvediag.diagnose(bad)
    assert "cannot diagnose a" in str(e.value) and "{'loss': values" in str(e.value)


@pytest.mark.parametrize("name", ["whisper_small_hi_trainer_state.json", "codebert_trainer_state.json"])
def test_hf_log_history_reads_as_the_trainer_state_file(name):
    require_shared("real_logs", "hf_trainer_state")
    path = REAL_LOGS / "hf_trainer_state" / name
    history = json.loads(path.read_text())["log_history"]
    r, f = curvediag.diagnose(history), curvediag.diagnose(path)
    assert r.verdict == f.verdict and r.best_epoch == f.best_epoch
    assert {m.name: (m.best, m.best_at, m.points) for m in r.metrics} == {m.name: (m.best, m.best_at, m.points) for m in f.metrics}


def test_a_dataframe_indexed_by_epoch_reports_index_values():
    df = DF.assign(epoch=DF["epoch"] * 5 + 1000).set_index("epoch")
    r = curvediag.diagnose(df)
    base = curvediag.diagnose(OVERFIT)
    assert r.best_epoch == base.best_epoch * 5 + 1000
    assert r.metrics["val_loss"].best_at == base.metrics["val_loss"].best_at * 5 + 1000
    assert r.findings[0].span[0] >= 1000


class History:
    """What keras.callbacks.History holds after fit(): .history, .epoch (absolute, 0-based), .params."""

    def __init__(self, n, freq, initial=0, best_val_at=None):
        self.epoch = list(range(initial, initial + n))
        self.params = {"verbose": 0, "epochs": initial + n, "steps": 10}
        at = [e for e in self.epoch if (e + 1) % freq == 0]
        self.history = {
            "loss": [2.0 / (i + 1) for i in range(n)],
            "val_loss": [1.0 + abs(e - (best_val_at if best_val_at is not None else at[len(at) // 2])) * 0.05 for e in at],
        }
        self.val_epochs = at


@pytest.mark.parametrize("n,freq,initial", [(20, 2, 0), (30, 3, 0), (40, 5, 0), (24, 4, 8), (60, 7, 3)])
def test_keras_validation_freq_puts_val_values_at_their_epochs(n, freq, initial):
    h = History(n, freq, initial)
    r = curvediag.diagnose(h)
    want = h.val_epochs[len(h.val_epochs) // 2]
    assert r.metrics["val_loss"].best_at == want == r.best_epoch
    assert r.metrics["val_loss"].points == len(h.val_epochs)
    assert r.metrics["train_loss"].best_at == h.epoch[-1]  # absolute epochs (initial_epoch kept)
    assert any(f"validation_freq={freq}" in note for note in r.source.notes), r.source.notes
    # the history dict alone: the same epochs when it starts at 0
    if initial == 0:
        assert curvediag.diagnose(h.history).metrics["val_loss"].best_at == want


def test_keras_validation_freq_that_cannot_be_told_is_said_in_the_notes():
    h = History(8, 2, 4)
    h.history["val_loss"] = h.history["val_loss"][:2]  # e.g. validation_freq=[6, 8]: 2 values, several k fit
    r = curvediag.diagnose(h)
    assert any("cannot be told" in n and "validation_freq could be any of" in n for n in r.source.notes), r.source.notes


@pytest.mark.integration
def test_a_real_keras_fit_with_validation_freq(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "torch"))
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x, y = rng.random((64, 3)), rng.random((64, 1))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    h = model.fit(x, y, epochs=9, validation_data=(x, y), validation_freq=3, verbose=0)
    r = curvediag.diagnose(h)
    assert r.metrics["val_loss"].points == 3
    assert r.metrics["val_loss"].best_at in (2, 5, 8)
    assert any("validation_freq=3" in n for n in r.source.notes)


# -- the Report's face ------------------------------------------------------------------------------

def test_repr_is_one_short_line():
    r = curvediag.diagnose(OVERFIT)
    text = repr(r)
    assert text == "<Report overfitting (warning) 'overfitting.csv': %d findings, best val_loss at epoch 13>" % len(r.findings)
    assert "\n" not in repr(curvediag.diagnose(sample("healthy.csv"))) and len(repr(r)) < 200


def test_repr_html_has_verdict_table_findings_and_an_inline_plot():
    pytest.importorskip("matplotlib")
    r = curvediag.diagnose(OVERFIT)
    page = r._repr_html_()
    assert ">overfitting <small>(warning)</small>" in page
    for m in r.metrics:
        assert f"<td>{m.name}</td><td>{m.column}</td><td>{m.points}</td>" in page
    for f in r.findings:
        assert f.code in page
    png = re.search(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page).group(1)
    assert base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n")
    assert "src='http" not in page  # nothing fetched


def test_repr_html_without_matplotlib_has_no_plot_and_says_why(monkeypatch):
    r = curvediag.diagnose(OVERFIT)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = r._repr_html_()
    assert "<img" not in page and "install the plot extra" in page and "overfitting" in page


def test_repr_html_escapes_names():
    name = "<img src=x onerror=alert(1)>"
    r = curvediag.diagnose({name: LOSS, "val_loss": [v + 0.2 for v in LOSS]}, loss=name)
    page = r._repr_html_()
    assert name not in page and html_escape(name) in page


def html_escape(s):
    import html

    return html.escape(s)


def test_report_plot_returns_a_figure_or_writes_a_file(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    r = curvediag.diagnose(OVERFIT)
    fig = r.plot()
    assert isinstance(fig, Figure) and fig._suptitle.get_text().startswith("OVERFITTING")
    assert r.plot(tmp_path / "c.svg") is None and (tmp_path / "c.svg").read_text().startswith("<?xml")
    with pytest.raises(UsageError, match="holds no curves"):
        dataclasses.replace(r).plot()


def test_report_plot_leaves_pyplot_and_the_backend_alone():
    pytest.importorskip("matplotlib")
    code = ("import sys, matplotlib; b = matplotlib.get_backend(); import curvediag; "
            f"r = curvediag.diagnose({str(OVERFIT)!r}); r.plot(); r._repr_html_(); "
            "print('matplotlib.pyplot' in sys.modules, matplotlib.get_backend() == b)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src"), "MPLBACKEND": "svg"})
    assert out.stdout.split() == ["False", "True"], out.stderr


def test_to_text_is_the_text_report(tmp_path):
    out = tmp_path / "r.txt"
    r = runner.invoke(app, ["analyze", str(OVERFIT), "-o", str(out), "--output-format", "text"])
    assert r.exit_code == 1
    assert curvediag.diagnose(OVERFIT).to_text() == out.read_text()
    assert "OVERFITTING" in curvediag.diagnose(OVERFIT).to_text(width=60)


# -- names: metrics by name, fields as in the JSON -----------------------------------------------------

def test_metrics_are_indexed_by_name_and_column_and_stay_a_tuple():
    r = curvediag.diagnose(OVERFIT)
    assert isinstance(r.metrics, tuple) and len(r.metrics) == 4
    assert [m.name for m in r.metrics] == list(r.metrics.names()) == ["train_loss", "val_loss", "train_acc", "val_acc"]
    assert r.metrics["val_loss"] is r.metrics[1] and r.metrics["val_accuracy"] is r.metrics["val_acc"]
    assert "val_loss" in r.metrics and "nope" not in r.metrics and r.metrics[0] in r.metrics
    assert r.metrics.get("nope") is None
    with pytest.raises(KeyError, match="train_loss, val_loss, train_acc, val_acc"):
        r.metrics["nope"]
    assert list(r.to_dict()["metrics"]) == list(r.metrics.keys())


@pytest.mark.parametrize("log", ["overfitting.csv", "diverged.csv", "still_improving_fastai.csv"])
def test_field_names_equal_the_json_keys(log):
    r = curvediag.diagnose(sample(log))
    d = r.to_dict()
    for key in d:
        assert hasattr(r, key), key
    assert r.schema_version == d["schema_version"] and r.curvediag_version == d["curvediag_version"]
    for key in d["source"]:
        assert hasattr(r.source, key), key
    for name, fields in d["metrics"].items():
        m = r.metrics[name]
        for key, value in fields.items():
            if key == "non_finite_values":  # JSON's flag for a number JSON cannot hold, not a field
                continue
            assert hasattr(m, key), key
        assert m.best_epoch == m.best_at and (fields["best_epoch"] == m.best_epoch or fields["best_epoch"] == int(m.best_epoch))
    for f, fd in zip(r.findings, d["findings"]):
        assert all(hasattr(f, k) for k in fd)


# -- packaging ---------------------------------------------------------------------------------------

def test_py_typed_is_shipped():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    assert (REPO / "src" / "curvediag" / "py.typed").is_file()
    conf = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "py.typed" in conf["tool"]["setuptools"]["package-data"]["curvediag"]


def test_every_error_type_is_exported():
    import curvediag.errors as errors

    public = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    assert public == {"CurvediagError", "InputError", "UsageError", "MissingExtra"}
    for n in public:
        assert getattr(curvediag, n) is getattr(errors, n) and n in curvediag.__all__
    # what the library raises for bad input is one of them
    for bad in ("/no/such/file.csv", object(), np.zeros((2, 2))):
        with pytest.raises(CurvediagError):
            curvediag.diagnose(bad)
    # and every exception class the package defines outside errors.py is internal (never reaches a caller)
    src = REPO / "src" / "curvediag"
    defined = set()
    for p in src.rglob("*.py"):
        defined |= set(re.findall(r"^class (\w+)\((?:\w*Error|Exception)\)", p.read_text(), re.M))
    # (AmbiguousRun: readers/runs.py's signal to its callers, always turned into an InputError naming the runs)
    assert defined - public <= {"StdoutClosed", "_Terminated", "_Waiting", "_ServerError", "Skip", "AmbiguousRun"}, \
        defined - public
