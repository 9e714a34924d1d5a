"""curvediag.keras.CurvediagCallback on real Keras 3 training (torch backend, CPU, tiny models on
random numpy data): it stops a diverging run soon after the blow-up, leaves a healthy one alone,
reports what ``curvediag analyze`` says of Keras' own CSVLogger file, never changes the run, speaks
through Keras' printing once per finding, and reads validation_freq > 1 logs aligned by epoch."""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import subprocess
import sys

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
np = pytest.importorskip("numpy")
_limit = sys.getrecursionlimit()
keras = pytest.importorskip("keras")

import curvediag  # noqa: E402
from curvediag.keras import CurvediagCallback, keras_line  # noqa: E402
from curvediag.monitor import Alert  # noqa: E402

# keras' imports (jedi, through its dependencies) raise the recursion limit to 3000 for the whole
# process; pytest imports every test module before running any, and the hostile-input tests expect
# Python's own limit (a 1,200-deep directory is "nested too deeply" under it)
sys.setrecursionlimit(_limit)

pytestmark = pytest.mark.integration

_rng = np.random.default_rng(0)
_W = _rng.standard_normal((8, 1))
X = _rng.standard_normal((256, 8)).astype("float32")
Y = (X @ _W + 0.1 * _rng.standard_normal((256, 1))).astype("float32")
XV = _rng.standard_normal((64, 8)).astype("float32")
YV = (XV @ _W).astype("float32")


def _model(lr=0.01):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(lr), loss="mse", metrics=["mae"])
    return m


def _linear(lr=0.01):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    m.compile(keras.optimizers.SGD(lr), loss="mse")
    return m


def _fit(callbacks=(), epochs=25, lr=0.01, jump_to=None, jump_at=6, validation_freq=1, model=None):
    """A seeded fit; ``jump_to``: the learning rate from epoch ``jump_at`` on (a blow-up)."""
    cbs = list(callbacks)
    if jump_to is not None:
        cbs.insert(0, keras.callbacks.LearningRateScheduler(lambda e, cur: lr if e < jump_at else jump_to))
    m = model or _model(lr)
    h = m.fit(X, Y, validation_data=(XV, YV), epochs=epochs, batch_size=32, verbose=0, callbacks=cbs,
              validation_freq=validation_freq)
    return m, h


def _analyze_json(path):
    """``curvediag analyze --format json`` of a file, run as the user runs it."""
    env = dict(os.environ)
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(path), "--format", "json"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)[0]  # one input: the array's one report


def _without_source(doc):
    doc = json.loads(json.dumps(doc))
    for run in doc.get("runs", [doc]):
        run.pop("source", None)
    doc.pop("source", None)
    return doc


# -- 1. a diverging run is stopped within a few epochs of the blow-up ---------------------------
@pytest.mark.parametrize("kind", ["nan", "explodes"])
def test_diverging_run_is_stopped_soon_after_blow_up(tmp_path, kind):
    """Two kinds of blow-up: the loss turns NaN/inf at once (learning rate 50), or it stays finite
    and grows by orders of magnitude (a linear model just past the stable learning rate)."""
    epochs = 25
    jump_to, make = (50.0, _model) if kind == "nan" else (0.9, _linear)
    # the same run, unobserved: where it blows up, and that it would have gone on to the end
    _, free = _fit(epochs=epochs, jump_to=jump_to, model=make())
    loss = np.asarray(free.history["loss"], dtype=float)
    assert len(loss) == epochs
    best = np.minimum.accumulate(np.where(np.isfinite(loss), loss, np.inf))
    bad = ~np.isfinite(loss) | (loss > 2 * np.concatenate([[np.inf], best[:-1]]))
    first_bad = int(np.argmax(bad))
    assert bad.any() and first_bad >= 6  # it trained normally before the jump
    if kind == "nan":
        assert not np.isfinite(loss[first_bad])
    else:
        assert np.isfinite(loss).all() and loss[-1] > 1e6 * loss[first_bad - 1]  # finite, exploding

    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(tmp_path / "r.json"))
    _, h = _fit([cb], epochs=epochs, jump_to=jump_to, model=make())
    stopped_at = h.epoch[-1]
    assert cb.stopped_by is not None and cb.stopped_by.verdict == "diverged"
    assert first_bad <= stopped_at <= first_bad + 2
    assert len(h.epoch) < epochs  # training really ended early
    np.testing.assert_array_equal(h.history["loss"], free.history["loss"][: len(h.epoch)])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["verdict"] == "diverged"


# -- 2. a healthy run is left alone; its report is analyze's of Keras' own CSV log -----------------
def test_healthy_run_not_stopped_and_report_equals_analyze_of_csvlogger(tmp_path):
    report = tmp_path / "report.json"
    log = tmp_path / "log.csv"
    cb = CurvediagCallback(stop_on=("diverged", "cramming", "overfitting"), report_path=str(report))
    _, h = _fit([cb, keras.callbacks.CSVLogger(str(log))], epochs=30)
    assert len(h.epoch) == 30 and cb.stopped_by is None
    live = json.loads(report.read_text())
    assert live["verdict"] in ("healthy", "still_improving")
    assert _without_source(live) == _without_source(_analyze_json(log))
    # diagnose(history) still works on the History fit() returns, and finds the same
    post = curvediag.diagnose(h).to_dict()
    assert post["verdict"] == live["verdict"]
    assert [f["code"] for f in post["findings"]] == [f["code"] for f in live["findings"]]


# -- 3. the callback does not change the run --------------------------------------------------------
def test_callback_does_not_change_the_run():
    def run(cbs):
        m, h = _fit(cbs, epochs=8)
        return [w.copy() for w in m.get_weights()], h.history

    w0, h0 = run([])
    for cb in (CurvediagCallback(min_points=1),
               CurvediagCallback(stop_on=("diverged", "D101"), min_points=1, level="info")):
        w1, h1 = run([cb])
        assert cb.observer.monitor.rows == 8 and cb.stopped_by is None
        assert h1 == h0
        for a, b in zip(w0, w1):
            np.testing.assert_array_equal(a, b)


def test_batch_dispatch_left_as_keras_sets_it():
    """No batch hook: Keras keeps dispatching train/test batch callbacks asynchronously."""
    from keras.src.callbacks.callback_list import CallbackList

    plain, ours = CallbackList([keras.callbacks.History()]), CallbackList([CurvediagCallback()])
    assert (ours._async_train, ours._async_test) == (plain._async_train, plain._async_test)
    hooked = CallbackList([keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: None)])
    if plain._async_train:  # the backend dispatches asynchronously: a batch hook would stop that
        assert not hooked._async_train


def test_logs_dict_is_not_changed():
    seen = []

    class Probe(keras.callbacks.Callback):
        def __init__(self, when):
            super().__init__()
            self.when = when

        def on_epoch_end(self, epoch, logs=None):
            seen.append((self.when, epoch, dict(logs), id(logs)))

    cb = CurvediagCallback(stop_on=("diverged",), min_points=1)
    _fit([Probe("before"), cb, Probe("after")], epochs=8, jump_to=50.0, jump_at=4)
    before = [s for s in seen if s[0] == "before"]
    after = [s for s in seen if s[0] == "after"]
    assert len(before) == len(after) >= 5
    for b, a in zip(before, after):
        assert b[1] == a[1] and b[3] == a[3] and _same_logs(b[2], a[2])


def _same_logs(a, b):
    return a.keys() == b.keys() and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in
                                        ((float(a[k]), float(b[k])) for k in a))


# -- 4. messages through Keras' printing, once per finding; on_finding; the report file -----------
def test_each_finding_said_once_through_keras_printing(capsys):
    got: list[Alert] = []
    cb = CurvediagCallback(on_finding=got.append)  # observe only: the NaN run goes on to the end
    _, h = _fit([cb], epochs=14, jump_to=50.0, jump_at=4)
    assert len(h.epoch) == 14 and np.isnan(h.history["loss"][-1])
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("curvediag:")]
    *lines, last = lines  # the last word at the end of training: the verdict and where the report went
    assert last.startswith("curvediag: diverged (error): ") and "no report_path" in last
    codes = [ln.split()[1] for ln in lines]
    assert codes and len(codes) == len(set(codes))  # ten NaN epochs, each finding said once
    assert "D101" in codes and not any("stopping" in ln for ln in lines)
    assert all(isinstance(a, Alert) for a in got)
    assert [keras_line(a) for a in got] == lines
    assert lines[codes.index("D101")].startswith("curvediag: D101 non-finite-loss (error) at Epoch 5: ")  # Keras' count
    d101 = next(a for a in got if a.finding.code == "D101")
    assert d101.axis == "epoch" and d101.at == 4  # the epoch it first appeared at (0-based, as Keras)


def test_messages_go_to_absl_logging_when_interactive_logging_is_off(caplog, capsys):
    keras.config.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO):
            cb = CurvediagCallback(stop_on=("diverged",))
            _fit([cb], epochs=10, jump_to=50.0, jump_at=3)
    finally:
        keras.config.enable_interactive_logging()
    assert "curvediag:" not in capsys.readouterr().out
    msgs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("curvediag:")]
    assert any(m.startswith("curvediag: D101") for m in msgs)
    assert sum(m.startswith("curvediag: stopping training: D101") for m in msgs) == 1
    assert all(r.name == "absl" for r in caplog.records if r.getMessage().startswith("curvediag:"))


def test_report_written_at_stop_and_at_end(tmp_path):
    path = tmp_path / "out" / "report.json"
    path.parent.mkdir()
    # an earlier run's report (report_path replaces only a curvediag report: never the training log)
    path.write_text('{"schema_version": 2, "curvediag_version": "0.0.1", "verdict": "healthy"}\n')
    at_stop = {}

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if self.model.stop_training and not at_stop:
                at_stop.update(json.loads(path.read_text()), epoch=epoch)

        def on_train_end(self, logs=None):
            at_stop.setdefault("end_seen_before_close", path.read_text())

    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(path))
    _, h = _fit([cb, Probe()], epochs=20, jump_to=50.0)
    assert at_stop["verdict"] == "diverged" and at_stop["epoch"] == h.epoch[-1]
    final = json.loads(path.read_text())
    assert final["verdict"] == "diverged" and final["source"]["rows"] == len(h.epoch)
    assert sorted(os.listdir(path.parent)) == ["report.json"]  # written in place of, not beside

    # a run that is never stopped: the report appears only at the end of training
    end = tmp_path / "end.json"
    seen_during = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen_during.append(end.exists())

    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(end))
    _fit([cb, Watch()], epochs=6)
    assert seen_during == [False] * 6
    assert json.loads(end.read_text())["source"]["rows"] == 6


# -- 5. Keras reading conventions -------------------------------------------------------------------
def test_validation_freq_aligned_by_epoch_and_equals_analyze_of_csvlogger(tmp_path):
    log = tmp_path / "log.csv"
    report = tmp_path / "report.json"
    cb = CurvediagCallback(report_path=str(report))
    _, h = _fit([cb, keras.callbacks.CSVLogger(str(log))], epochs=24, validation_freq=3)
    cols = cb.observer.monitor.columns()
    np.testing.assert_array_equal(cols["epoch"], np.arange(24))
    assert np.isfinite(cols["loss"]).all()
    val_epochs = np.flatnonzero(~np.isnan(cols["val_loss"]))
    np.testing.assert_array_equal(val_epochs, np.arange(2, 24, 3))  # Keras validates at epoch % 3 == 2
    np.testing.assert_allclose(cols["val_loss"][val_epochs], h.history["val_loss"])
    live = json.loads(report.read_text())
    assert _without_source(live) == _without_source(_analyze_json(log))


def test_list_validation_freq_and_a_second_fit_is_a_new_run():
    cb = CurvediagCallback()
    m = _model()
    _fit([cb], epochs=10, validation_freq=[1, 2, 7], model=m)
    cols = cb.observer.monitor.columns()
    np.testing.assert_array_equal(np.flatnonzero(~np.isnan(cols["val_loss"])), [0, 1, 6])
    _fit([cb], epochs=7, model=m)  # the same callback in a second fit(): observed afresh
    assert cb.observer.monitor.rows == 7
    np.testing.assert_array_equal(cb.observer.monitor.columns()["epoch"], np.arange(7))


def test_bad_arguments_fail_at_construction():
    with pytest.raises(ValueError):
        CurvediagCallback(check_every=0)
    with pytest.raises(ValueError):
        CurvediagCallback(min_points=0)
    with pytest.raises(ValueError):
        CurvediagCallback(level="loud")


def test_missing_keras_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras", None)  # "import keras" raises ImportError(name="keras")
    monkeypatch.delitem(sys.modules, "curvediag.keras")
    try:
        with pytest.raises(ImportError, match=r'pip install "curvediag\[keras\]"'):
            importlib.import_module("curvediag.keras")
    finally:
        monkeypatch.undo()
        importlib.import_module("curvediag.keras")


@pytest.mark.parametrize("backend", ["tensorflow", None], ids=["tensorflow-set", "unset"])
def test_keras_without_its_backend_says_so_in_one_line(backend, tmp_path):
    """Keras present but its backend (KERAS_BACKEND, TensorFlow when unset) not installed: one line
    naming the fix, setting the backend (issue 24: unset, the message named only TensorFlow)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("tensorflow is installed: the tensorflow backend imports")
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
    code = "import curvediag.keras"
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env.update(PYTHONPATH=src, HOME=str(tmp_path), KERAS_HOME=str(tmp_path / ".keras"))  # no keras.json naming one
    if backend:
        env["KERAS_BACKEND"] = backend
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: curvediag.keras could not import keras (")
    assert "set KERAS_BACKEND to the backend you have installed" in last and "export KERAS_BACKEND=torch" in last
    assert ("KERAS_BACKEND is not set" in last) == (backend is None)


# -- issue 24: what a new user saw in Keras' own output ------------------------------------------------------
def _fit_verbose(callbacks, epochs=10, jump_at=4):
    m = _model(0.01)
    sched = keras.callbacks.LearningRateScheduler(lambda e, cur: 0.01 if e < jump_at else 50.0)
    m.fit(X, Y, validation_data=(XV, YV), epochs=epochs, batch_size=32, verbose=2, callbacks=[sched, *callbacks])
    return m


def test_a_finding_prints_after_its_epochs_metrics_line_counted_as_keras_counts(capsys):
    cb = CurvediagCallback(stop_on=("diverged",))
    _fit_verbose([cb])
    out = capsys.readouterr().out.splitlines()
    i = next(k for k, ln in enumerate(out) if ln.startswith("curvediag: D101"))
    assert out[i - 1].startswith(("1/1", "8/8")) or " - loss: " in out[i - 1]  # after Keras' metrics line
    epoch_line = max(k for k in range(i) if out[k].startswith("Epoch "))
    assert out[i].startswith(f"curvediag: D101 non-finite-loss (error) at {out[epoch_line].split('/')[0]}: ")
    said = [ln for ln in out if ln.startswith("curvediag:")]
    # the stop names the finding said just before it: its message is printed once
    stop = next(ln for ln in said if ln.startswith("curvediag: stopping training"))
    assert stop == "curvediag: stopping training: D101 non-finite-loss"
    assert sum("became" in ln for ln in said[:-1]) == 1


def test_a_stop_says_where_the_best_weights_were_and_restores_them_when_asked(capsys):
    class Snap(keras.callbacks.Callback):
        def __init__(self):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append((logs.get("val_loss"), self.model.get_weights()))

    snap = Snap()
    cb = CurvediagCallback(stop_on=("diverged",), restore_best_weights=True)
    m = _fit_verbose([snap, cb])
    said = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("curvediag:")]
    finite = [(v, k) for k, (v, _) in enumerate(snap.weights) if v is not None and math.isfinite(v)]
    best_val, best = min(finite)
    assert f"curvediag: the best val_loss was {best_val:.4g} at Epoch {best + 1}: restoring its weights" in said
    for a, b in zip(m.get_weights(), snap.weights[best][1]):
        np.testing.assert_array_equal(a, b)  # the weights of the best epoch, as EarlyStopping restores them
    cb2 = CurvediagCallback(stop_on=("diverged",))
    m2 = _fit_verbose([cb2])
    said = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("curvediag:")]
    assert any("restore_best_weights=True restores those weights" in ln for ln in said)
    assert not all(np.array_equal(a, b) for a, b in zip(m2.get_weights(), snap.weights[best][1]))  # not restored


def test_a_healthy_run_says_its_verdict_and_where_the_report_went(tmp_path, capsys):
    cb = CurvediagCallback(report_path=str(tmp_path / "r.json"))
    _fit([cb], epochs=12)
    said = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("curvediag:")]
    assert said and said[-1].startswith(f"curvediag: {cb.report.verdict} (")
    assert said[-1].endswith(f"(report written to {tmp_path / 'r.json'})") and (tmp_path / "r.json").exists()


def test_printed_epochs_are_the_ones_keras_displays(capsys):
    """A real run printing Keras' own ``Epoch N/M`` lines: the finding's text names the epoch that
    blew up by Keras' number (the one whose metrics line first shows ``loss: nan``), and the stop's
    "best val_loss at Epoch N" is the ``Epoch N/M`` whose metrics line shows the lowest val_loss."""
    cb = CurvediagCallback(stop_on=("diverged",))
    _fit_verbose([cb])
    out = capsys.readouterr().out.splitlines()
    shown: dict[int, str] = {}  # Keras' displayed epoch number -> its metrics line
    for k, ln in enumerate(out):
        if ln.startswith("Epoch ") and "/" in ln:
            shown[int(ln.split()[1].split("/")[0])] = next(m for m in out[k + 1:] if " - loss: " in m)
    first_nan = min(n for n, m in shown.items() if "loss: nan" in m)
    d101 = next(ln for ln in out if ln.startswith("curvediag: D101"))
    assert d101.startswith(f"curvediag: D101 non-finite-loss (error) at Epoch {first_nan}: ")
    assert f"became NaN at Epoch {first_nan} " in d101 and "epoch " not in d101.split(": ", 1)[1]
    val = {n: float(m.split("val_loss: ")[1].split()[0]) for n, m in shown.items() if "val_loss: nan" not in m}
    best = min(val, key=lambda n: val[n])
    assert any(ln.startswith(f"curvediag: the best val_loss was {val[best]:.4g} at Epoch {best} ") for ln in out)
    last = [ln for ln in out if ln.startswith("curvediag:")][-1]
    assert last.startswith("curvediag: diverged (error): ") and f"at Epoch {first_nan} " in last
    # the report and the alerts keep the log's own axis, 0-based as CSVLogger writes it
    assert cb.alerts[0].at == first_nan - 1 and f"at epoch {first_nan - 1} " in cb.report.headline


def test_keras_epochs_shifts_positions_not_amounts():
    from curvediag.keras import keras_epochs

    assert (keras_epochs("lowest at epoch 37, near the end at epoch 39. over epochs 30-39; 10 epochs; step 4")
            == "lowest at Epoch 38, near the end at Epoch 40. over Epochs 31-40; 10 epochs; step 4")
    assert keras_epochs("at epoch 2.5 and epoch 0") == "at epoch 2.5 and Epoch 1"
