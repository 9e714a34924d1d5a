"""curvediag.transformers.CurvediagCallback in real Hugging Face ``Trainer`` runs (CPU, a tiny torch
model of 161 parameters, seconds): a diverging run is stopped at the log entry where it blew up, a
healthy one is left alone and its report equals ``curvediag analyze`` of the trainer_state.json the
Trainer wrote, the callback changes nothing about the run, speaks through the transformers logger
once per finding, and reads HF's conventions (grad_norm showing a NaN that logging_nan_inf_filter
hides from loss, on_log and on_evaluate both firing for one evaluation, world process zero)."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
from torch import nn  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

from curvediag.monitor import Alert  # noqa: E402
from curvediag.transformers import CurvediagCallback  # noqa: E402

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src")
LOGGER = "curvediag.transformers"


class Regression(torch.utils.data.Dataset):
    """y = x.w + noise with one fixed w; ``nan_from`` makes the features of samples from there NaN."""

    def __init__(self, n: int, seed: int, nan_from: int | None = None):
        w = torch.randn(8, generator=torch.Generator().manual_seed(0))
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x @ w + 0.1 * torch.randn(n, generator=g)
        if nan_from is not None:
            self.x[nan_from:] = float("nan")

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


class Tiny(nn.Module):
    """8 -> 16 -> 1, linear (161 parameters): plain SGD with a huge learning rate overflows fast."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 1))

    def forward(self, x, labels=None):
        out = self.net(x).squeeze(-1)
        return {"loss": nn.functional.mse_loss(out, labels), "logits": out}


def _train(tmp_path, callbacks=(), *, lr=0.02, epochs=4, eval_strategy="steps", nan_from=None,
           nan_filter=True, save=False, patch_rank=None, **extra):
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, disable_tqdm=True, seed=0,
        logging_steps=2, eval_strategy=eval_strategy, eval_steps=4, num_train_epochs=epochs,
        per_device_train_batch_size=16, learning_rate=lr, lr_scheduler_type="constant", optim="sgd",
        max_grad_norm=0.0,  # no clipping: the norm is still measured and logged
        logging_nan_inf_filter=nan_filter,
        # save: checkpoints where evaluation happens (the last one after the last evaluation)
        save_strategy=("epoch" if eval_strategy == "epoch" else "steps") if save else "no", save_steps=10_000,
        **extra,
    )
    trainer = Trainer(
        model=Tiny(), args=args, train_dataset=Regression(256, 1, nan_from),
        eval_dataset=None if eval_strategy == "no" else Regression(64, 2), callbacks=list(callbacks),
    )
    trainer.train()
    return trainer


def _max_steps(epochs=4):
    return epochs * 256 // 16


def _points(trainer):
    return [e for e in trainer.state.log_history if "train_runtime" not in e]


def _first_non_finite(trainer, keys=("loss", "grad_norm", "eval_loss")):
    for e in trainer.state.log_history:
        if any(k in e and not math.isfinite(e[k]) for k in keys):
            return e["step"]
    return None


def _analyze(path):
    """``curvediag analyze PATH --format json``, run as a user runs it."""
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(path), "--format", "json"],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)[0]  # one input: the array's one report


def _same_report(a, b):
    a, b = dict(a), dict(b)
    a.pop("source"), b.pop("source")
    assert a == b


class _Probe(TrainerCallback):
    """Runs after CurvediagCallback: what the report file held when the stop flag was first set."""

    def __init__(self, path):
        self.path, self.at_stop, self.at_begin = path, None, None

    def on_train_begin(self, args, state, control, **kw):
        self.at_begin = os.path.exists(self.path)

    def on_log(self, args, state, control, **kw):
        # (the Trainer sets the flag itself at max_steps)
        if control.should_training_stop and self.at_stop is None and state.global_step < state.max_steps:
            with open(self.path) as f:
                self.at_stop = (state.global_step, json.load(f))


# -- 1. a diverging run is stopped where it blew up ---------------------------------------------------
@pytest.mark.parametrize("nan_filter", [True, False])
@pytest.mark.parametrize("eval_strategy", ["steps", "epoch"])
def test_diverging_run_is_stopped_at_the_blow_up(tmp_path, nan_filter, eval_strategy):
    cb = CurvediagCallback(stop_on=("diverged",))
    t = _train(tmp_path, [cb], lr=0.3, nan_filter=nan_filter, eval_strategy=eval_strategy)
    blow_up = _first_non_finite(t)
    assert blow_up is not None, "the run did not blow up"
    assert t.state.global_step == blow_up  # stopped at the log entry where it first showed
    assert t.state.global_step < _max_steps() // 4  # and training really ended early
    assert cb.stopped_by is not None and cb.stopped_by.verdict == "diverged"
    # the same run without the callback goes on to the end
    t2 = _train(tmp_path / "b", [], lr=0.3, nan_filter=nan_filter, eval_strategy=eval_strategy)
    assert t2.state.global_step == _max_steps()


def test_finite_explosion_is_stopped_before_any_nan(tmp_path):
    """A loss that explodes (lr 0.18: 35x its start, then 1e15, then NaN from step 18 when left alone),
    stopped while every logged number is still finite."""
    ref = _train(tmp_path / "ref", [], lr=0.18, eval_strategy="no")
    nan_at = _first_non_finite(ref)
    assert nan_at is not None
    cb = CurvediagCallback(stop_on=("diverged",), min_points=3)
    t = _train(tmp_path, [cb], lr=0.18, eval_strategy="no")
    pts = _points(t)
    assert all(math.isfinite(e["loss"]) and math.isfinite(e["grad_norm"]) for e in pts)
    assert pts[-1]["loss"] > 2 * pts[0]["loss"]  # D102: above twice where it started
    assert cb.stopped_by is not None and cb.stopped_by.verdict == "diverged"
    assert t.state.global_step < nan_at


# -- 2. a healthy run is left alone; its report is curvediag analyze's --------------------------------
@pytest.mark.parametrize("eval_strategy", ["steps", "epoch"])
def test_healthy_run_not_stopped_report_equals_analyze_of_trainer_state(tmp_path, eval_strategy):
    report = tmp_path / "curvediag.json"
    cb = CurvediagCallback(stop_on=("diverged", "overfitting", "not_learning", "cramming"), report_path=str(report))
    t = _train(tmp_path, [cb], lr=0.02, epochs=6, eval_strategy=eval_strategy, save=True)
    assert t.state.global_step == _max_steps(6) and cb.stopped_by is None
    live = json.loads(report.read_text())
    assert live["verdict"] in ("healthy", "still_improving"), live["headline"]
    assert live["source"]["columns"].get("val_loss") == "eval_loss"
    assert live["source"]["columns"].get("grad_norm") == "grad_norm"
    # the last checkpoint's trainer_state.json (saved at the last step, before the summary entry)
    ckpt = tmp_path / "out" / f"checkpoint-{_max_steps(6)}" / "trainer_state.json"
    _same_report(live, _analyze(ckpt))
    # the root trainer_state.json, with the end-of-training summary entry in it
    t.save_state()
    root = tmp_path / "out" / "trainer_state.json"
    assert "train_runtime" in json.loads(root.read_text())["log_history"][-1]
    _same_report(live, _analyze(root))
    # and a CSV of the same numbers
    rows = _points(t)
    names = list(dict.fromkeys(k for e in rows for k in e))
    with open(tmp_path / "log.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        w.writerows(rows)
    # a sparse epoch/step CSV reads as Lightning's (its detected format), so its remedies are worded for
    # Lightning, not for the Trainer: everything else is the same
    _same_report(_unworded(live), _unworded(_analyze(tmp_path / "log.csv")))


def _unworded(d):
    """A JSON report without the remedies, which are worded for the log's framework, and with E101's
    callback named alike (issue 23: it names the early stopping of the log's framework, and a CSV
    flattened from a Hugging Face history is not known to be one), without the replay of that
    framework's default early stopping (its clause and its evidence) for the same reason."""
    import re

    def same(f):
        f = dict(f, remedies=None)
        if f["code"] == "E101":
            f["message"] = re.sub(r"^EarlyStopping(?:Callback)?\((?:early_stopping_)?patience=(\d+)\)",
                                  r"EARLY_STOPPING(\1)", f["message"])
            f["message"] = re.sub(r"; with [^;]*? default patience=\d+[^;]*", "", f["message"])
            f["evidence"] = {k: v for k, v in f["evidence"].items() if not k.startswith("framework_default")}
        return f

    d = dict(d, remedies=None)
    d["findings"] = [same(f) for f in d["findings"]]
    return d


def test_live_report_equals_analyze_of_a_diverged_trainer_state(tmp_path):
    """The same equality when the callback stopped the run (the checkpoint saved at the stop)."""
    report = tmp_path / "r.json"
    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(report))
    # a checkpoint every log step, so the stop step has one
    torch.manual_seed(0)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, disable_tqdm=True, seed=0,
        logging_steps=2, eval_strategy="steps", eval_steps=4, num_train_epochs=4, per_device_train_batch_size=16,
        learning_rate=0.3, lr_scheduler_type="constant", optim="sgd", max_grad_norm=0.0,
        save_strategy="steps", save_steps=2,
    )
    t = Trainer(model=Tiny(), args=args, train_dataset=Regression(256, 1), eval_dataset=Regression(64, 2),
                callbacks=[cb])
    t.train()
    live = json.loads(report.read_text())
    assert live["verdict"] == "diverged"
    _same_report(live, _analyze(tmp_path / "out" / f"checkpoint-{t.state.global_step}" / "trainer_state.json"))


# -- 3. the callback does not change the run ------------------------------------------------------------
def test_callback_does_not_change_the_run(tmp_path):
    def weights(t):
        return {k: v.detach().clone() for k, v in t.model.state_dict().items()}

    def losses(t):
        return [(e["step"], e.get("loss"), e.get("grad_norm"), e.get("eval_loss")) for e in _points(t)]

    base = _train(tmp_path / "a", [])
    seen = []
    for cb in (CurvediagCallback(), CurvediagCallback(stop_on=("diverged",), on_finding=seen.append, level="info",
                                                      report_path=str(tmp_path / "r.json"))):
        t = _train(tmp_path / str(id(cb)), [cb])
        assert cb.report is not None  # it did look
        assert losses(t) == losses(base)
        wa, wb = weights(base), weights(t)
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert seen  # info level: it said something, and still changed nothing


# -- 4. messages through the transformers logger, once per finding; on_finding; report file ------------
def test_messages_once_per_finding_on_finding_and_report_at_stop(tmp_path, caplog):
    report = tmp_path / "r.json"
    alerts: list = []
    probe = _Probe(str(report))
    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(report), on_finding=alerts.append)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        t = _train(tmp_path, [cb, probe], lr=0.3)
    ours = [r for r in caplog.records if r.name == LOGGER]
    assert ours and all(r.levelno == logging.WARNING for r in ours)
    found = [r.getMessage() for r in ours if not r.getMessage().startswith("curvediag: stopping")]
    codes = [m.split()[1] for m in found]
    assert len(codes) == len(set(codes))  # once per finding
    assert all(isinstance(a, Alert) for a in alerts) and [a.finding.code for a in alerts] == codes
    assert [a.line() for a in alerts] == found
    assert sum(r.getMessage().startswith("curvediag: stopping training: D101") for r in ours) == 1
    # the report was there, complete, when the stop flag was set; and at the end
    assert probe.at_begin is False
    step, at_stop = probe.at_stop
    assert step == t.state.global_step and at_stop["verdict"] == "diverged"
    assert json.loads(report.read_text())["verdict"] == "diverged"
    assert sorted(os.listdir(tmp_path)) == ["out", "r.json"]  # written atomically: no temporary left


def test_observe_only_never_stops_but_says_and_writes_at_end(tmp_path, caplog):
    report = tmp_path / "r.json"
    probe = _Probe(str(report))
    cb = CurvediagCallback(report_path=str(report))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        t = _train(tmp_path, [cb, probe], lr=0.3, epochs=2)
    assert t.state.global_step == _max_steps(2) and cb.stopped_by is None and probe.at_stop is None
    msgs = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any(" D101 " in m for m in msgs) and not any("stopping" in m for m in msgs)
    assert json.loads(report.read_text())["verdict"] == "diverged"


def test_check_every_and_min_points(tmp_path):
    events = []  # per log event that brought entries: (rows then, whether it checked)

    class Count(CurvediagCallback):
        def _check(self, state, control):
            rows, checked = self.observer.monitor.rows, self.observer.monitor._checked_rows
            out = super()._check(state, control)
            if self.observer.monitor.rows != rows:
                events.append((self.observer.monitor.rows, self.observer.monitor._checked_rows != checked))
            return out

    cb = Count(check_every=3, min_points=4)
    _train(tmp_path, [cb], epochs=2)
    done = [i for i, (_, c) in enumerate(events) if c]
    assert len(events) > 9 and done
    assert all((i + 1) % 3 == 0 and events[i][0] >= 4 for i in done)  # every third, from 4 entries on
    assert all(c for i, (n, c) in enumerate(events) if (i + 1) % 3 == 0 and n >= 4)
    with pytest.raises(ValueError):
        CurvediagCallback(check_every=0)


# -- 5. Hugging Face's reading conventions ---------------------------------------------------------------
def test_nan_grad_norm_with_loss_hidden_counts_as_diverged(tmp_path):
    """A NaN batch (NaN features from sample 100 on): the loss is NaN, logging_nan_inf_filter logs the
    previous average (then 0) instead, only grad_norm is NaN; evaluation is off, so nothing else shows it."""
    cb = CurvediagCallback(stop_on=("diverged",))
    t = _train(tmp_path, [cb], eval_strategy="no", nan_from=100)
    pts = _points(t)
    assert all(math.isfinite(e["loss"]) for e in pts)  # hidden from loss
    bad = [e for e in pts if math.isnan(e["grad_norm"])]
    assert bad and bad[0]["step"] == t.state.global_step < _max_steps()
    assert cb.stopped_by.code == "D101" and "grad_norm" in cb.stopped_by.message
    # observe-only sees the same thing and leaves the run alone
    cb2 = CurvediagCallback()
    t2 = _train(tmp_path / "b", [cb2], eval_strategy="no", nan_from=100)
    assert t2.state.global_step == _max_steps() and cb2.report.verdict == "diverged"


def test_each_entry_read_once_though_on_log_and_on_evaluate_both_fire(tmp_path):
    events = []

    class Spy(CurvediagCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            events.append("log")
            return super().on_log(args, state, control, logs=logs, **kw)

        def on_evaluate(self, args, state, control, metrics=None, **kw):
            events.append("evaluate")
            return super().on_evaluate(args, state, control, metrics=metrics, **kw)

    cb = Spy()
    t = _train(tmp_path, [cb])
    assert "evaluate" in events and "log" in events
    pts = _points(t)
    assert cb.observer.monitor.rows == len(pts)  # every entry once, the summary entry not at all
    cols = cb.observer.monitor.columns()
    assert [v for v in cols["eval_loss"] if not math.isnan(v)] == [e["eval_loss"] for e in pts if "eval_loss" in e]
    assert "train_runtime" not in cols and "train_loss" not in cols


def test_on_evaluate_alone_reads_entries(tmp_path):
    """A Trainer.evaluate() outside training, and a direct on_evaluate with unseen entries."""
    cb = CurvediagCallback()
    t = _train(tmp_path, [cb], epochs=1)
    n = cb.observer.monitor.rows
    t.evaluate()
    assert cb.observer.monitor.rows == n + 1
    t.state.log_history.append({"eval_loss": 0.5, "epoch": 1.0, "step": t.state.global_step})
    cb.on_evaluate(t.args, t.state, t.control, metrics={"eval_loss": 0.5})
    assert cb.observer.monitor.rows == n + 2


def test_logs_and_history_are_not_changed(tmp_path):
    class Snap(TrainerCallback):
        def __init__(self):
            self.logs = []

        def on_log(self, args, state, control, logs=None, **kw):
            self.logs.append(dict(logs))

    snap_before, snap_after = Snap(), Snap()
    t = _train(tmp_path, [snap_before, CurvediagCallback(stop_on=("diverged",)), snap_after], lr=0.3)
    assert snap_before.logs == snap_after.logs
    assert all("step" in e for e in t.state.log_history)


def test_not_world_process_zero_stops_with_the_others_but_stays_silent(tmp_path, caplog, monkeypatch):
    """Every rank decides on the same gathered numbers (so all stop at one step, no rank left waiting
    in an all-reduce); only the world's process zero speaks, calls on_finding, writes the report."""
    ref = _train(tmp_path / "ref", [CurvediagCallback(stop_on=("diverged",))], lr=0.3)
    monkeypatch.setattr(Trainer, "is_world_process_zero", lambda self: False)
    report, alerts = tmp_path / "r.json", []
    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(report), on_finding=alerts.append)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        t = _train(tmp_path / "rank1", [cb], lr=0.3)
    assert t.state.is_world_process_zero is False
    assert t.state.global_step == ref.state.global_step < _max_steps()
    assert not [r for r in caplog.records if r.name == LOGGER]
    assert alerts == [] and not report.exists()


def test_a_second_train_starts_a_new_run(tmp_path):
    cb = CurvediagCallback(stop_on=("diverged",))
    t = _train(tmp_path, [cb], lr=0.3)
    assert cb.stopped_by is not None
    t.args.learning_rate = 0.02
    t.model = t.model_wrapped = Tiny()
    t.optimizer, t.lr_scheduler = None, None
    t.train()
    assert cb.stopped_by is None and cb.observer.monitor.rows == len(_points(t))
    assert t.state.global_step == _max_steps()


def test_missing_transformers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.delitem(sys.modules, "curvediag.transformers")
    with pytest.raises(ImportError, match=r'pip install "curvediag\[transformers\]"'):
        import curvediag.transformers  # noqa: F401


def test_resumed_run_reads_the_earlier_entries_too(tmp_path):
    """resume_from_checkpoint loads the checkpoint's log_history into the state: the report covers
    the whole run, as the trainer_state.json the resumed run writes does."""
    report = tmp_path / "r.json"

    def trainer(cbs, epochs):
        torch.manual_seed(0)
        args = TrainingArguments(
            output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True, disable_tqdm=True, seed=0,
            logging_steps=2, eval_strategy="steps", eval_steps=4, num_train_epochs=epochs,
            per_device_train_batch_size=16, learning_rate=0.02, lr_scheduler_type="constant", optim="sgd",
            max_grad_norm=0.0, save_strategy="steps", save_steps=16,
        )
        return Trainer(model=Tiny(), args=args, train_dataset=Regression(256, 1), eval_dataset=Regression(64, 2),
                       callbacks=cbs)

    trainer([], 2).train()  # the first job: checkpoints at steps 16 and 32
    cb = CurvediagCallback(report_path=str(report))
    t = trainer([cb], 4)
    t.train(resume_from_checkpoint=str(tmp_path / "out" / "checkpoint-32"))
    pts = _points(t)
    assert pts[0]["step"] == 2 and cb.observer.monitor.rows == len(pts)
    _same_report(json.loads(report.read_text()), _analyze(tmp_path / "out" / "checkpoint-64" / "trainer_state.json"))
