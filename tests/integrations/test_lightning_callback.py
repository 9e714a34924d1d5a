"""curvediag.lightning.CurvediagCallback in real Lightning training runs (CPU, a 161-parameter MLP on
random tensors, seconds): stops a diverging run near its blow-up, leaves a healthy one alone and
reports what ``curvediag analyze`` says of the same numbers, never changes the run, speaks once
per finding through Lightning's rank-zero logger, reads callback_metrics the Lightning way
(validation at validation end, train epoch metrics at epoch end, sanity check ignored) and only
on rank zero, with the stop decision reduced over the ranks as EarlyStopping does it."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from curvediag.lightning import CurvediagCallback  # noqa: E402
from curvediag.monitor import Alert  # noqa: E402

RANK_ZERO_LOGGER = "lightning.pytorch.utilities.rank_zero"


class Net(L.LightningModule):
    """8 -> 16 -> 1 regression; ``lr`` decides whether it trains or blows up."""

    def __init__(self, lr: float = 0.05, fork: bool = False):
        super().__init__()
        self.lr, self.fork = lr, fork
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def training_step(self, batch, i):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        # fork=True: on_step and on_epoch, so callback_metrics holds train_loss, train_loss_step, train_loss_epoch
        self.log("train_loss", loss, on_step=self.fork, on_epoch=True)
        return loss

    def validation_step(self, batch, i):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def _data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(8, 1, generator=g)
    x = torch.randn(160, 8, generator=g)
    y = x @ w + 0.1 * torch.randn(160, 1, generator=g)
    train = DataLoader(TensorDataset(x[:128], y[:128]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[128:], y[128:]), batch_size=32)
    return train, val


def _trainer(tmp_path, callbacks=(), max_epochs=20, **kw):
    opts = dict(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, max_epochs=max_epochs, callbacks=list(callbacks),
    )
    opts.update(kw)
    return L.Trainer(**opts)


class Recorder(L.Callback):
    """An independent record of what the run logged: train_loss at each train epoch end, the
    validation metrics at each validation end (outside the sanity check)."""

    def __init__(self):
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, int, float]] = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.train.append((trainer.current_epoch, float(trainer.callback_metrics["train_loss"])))

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.val.append((trainer.current_epoch, trainer.global_step, float(trainer.callback_metrics["val_loss"])))


def _fit(tmp_path, lr, callbacks=(), seed=0, max_epochs=20, **kw):
    L.seed_everything(seed, verbose=False)
    train, val = _data(seed)
    model = Net(lr, fork=kw.pop("fork", False))
    trainer = _trainer(tmp_path, callbacks, max_epochs=max_epochs, **kw)
    trainer.fit(model, train, val)
    return trainer, model


@pytest.fixture
def lines():
    """The lines said through Lightning's rank-zero logger during the test."""
    got: list[str] = []

    class H(logging.Handler):
        def emit(self, record):
            got.append(record.getMessage())

    log = logging.getLogger(RANK_ZERO_LOGGER)
    h = H(level=logging.INFO)
    log.addHandler(h)
    yield got
    log.removeHandler(h)


def _blow_up_epoch(rec):
    """The first epoch whose train or validation loss is non-finite or 10x the first epoch's."""
    t0, v0 = rec.train[0][1], rec.val[0][2]
    bad = [e for e, v in rec.train if not math.isfinite(v) or v > 10 * t0]
    bad += [e for e, _, v in rec.val if not math.isfinite(v) or v > 10 * v0]
    return min(bad)


# -- 1. a diverging run is stopped near its blow-up ----------------------------------------------------
@pytest.mark.parametrize("lr, min_points", [(0.5, 5), (3.0, 20)], ids=["explodes", "nan-before-min-points"])
def test_a_diverging_run_is_stopped_within_a_few_epochs_of_the_blow_up(tmp_path, lr, min_points):
    # the same run without the callback: how it blows up, and that Lightning itself does not stop it
    ref = Recorder()
    trainer, _ = _fit(tmp_path, lr, [ref], max_epochs=14)
    assert trainer.current_epoch == 14 and len(ref.train) == 14
    blow_up = _blow_up_epoch(ref)
    first_nan = min(e for e, *_, v in ref.train + ref.val if not math.isfinite(v))  # a train or validation loss
    assert first_nan < 14  # it really reaches NaN/inf
    if min_points > 5:
        # 20 evaluations are 20 epochs: only the non-finite loss (judged from the first row) can stop it this early
        blow_up = first_nan

    rec = Recorder()
    cb = CurvediagCallback(stop_on=("diverged",), min_points=min_points, report_path=str(tmp_path / "r.json"))
    trainer, _ = _fit(tmp_path, lr, [cb, rec], max_epochs=14)
    assert cb.stopped_by is not None and cb.stopped_by.verdict == "diverged"
    stopped = rec.train[-1][0]  # the last epoch that ran
    # min_points counts evaluations (epochs here), as Keras' callback does: a blow-up before it is judged
    # at the min_points-th epoch, unless the loss is already non-finite
    assert blow_up <= stopped <= max(blow_up + 2, min_points - 1), (blow_up, stopped, ref.train)
    assert stopped < 13 and trainer.should_stop and len(rec.train) == stopped + 1
    assert rec.train == ref.train[: stopped + 1]  # the same run up to the stop
    report = json.loads((tmp_path / "r.json").read_text())
    assert _report_of(report)["verdict"] == "diverged"


# -- 2. a healthy run is left alone; its report is curvediag analyze's of the same numbers -----------------
def _report_of(doc):
    """The one report of a --format json document, without its source."""
    rep = doc["reports"][0] if "reports" in doc else doc
    rep = dict(rep)
    rep.pop("source", None)
    return rep


def test_a_healthy_run_is_never_stopped_and_reports_what_analyze_says_of_the_csv_lightning_wrote(tmp_path):
    from lightning.pytorch.loggers import CSVLogger

    cb = CurvediagCallback(stop_on=("diverged", "cramming", "not_learning"), report_path=str(tmp_path / "live.json"))
    logger = CSVLogger(tmp_path, name="run", version=0)
    trainer, _ = _fit(tmp_path, 0.05, [cb], max_epochs=25, logger=logger, log_every_n_steps=10**6)
    assert cb.stopped_by is None and trainer.current_epoch == 25 and not trainer.should_stop
    live = json.loads((tmp_path / "live.json").read_text())
    assert _report_of(live)["verdict"] in ("healthy", "still_improving")

    # Lightning's own metrics.csv of the same run: one val row and one train-epoch row per epoch
    csv_path = tmp_path / "run" / "version_0" / "metrics.csv"
    out = subprocess.run(
        [sys.executable, "-m", "curvediag", "analyze", str(csv_path), "--format", "json"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert out.returncode in (0, 1), out.stderr
    assert _report_of(live) == _report_of(json.loads(out.stdout)[0])  # one input: the array's one report


# -- 3. the callback does not change the run ---------------------------------------------------------
def test_the_callback_does_not_change_the_run(tmp_path):
    def run(callbacks):
        trainer, model = _fit(tmp_path, 0.05, callbacks, max_epochs=8, fork=True)
        return {k: v.clone() for k, v in model.state_dict().items()}, torch.get_rng_state(), {
            k: float(v) for k, v in trainer.callback_metrics.items()
        }

    base_w, base_rng, base_metrics = run([])
    for cbs in ([CurvediagCallback()], [CurvediagCallback(stop_on=("diverged",), check_every=1, min_points=1)]):
        w, rng, metrics = run(cbs)
        assert w.keys() == base_w.keys() and all(torch.equal(w[k], base_w[k]) for k in w)
        assert torch.equal(rng, base_rng)  # it drew no random numbers
        assert metrics == base_metrics  # and left callback_metrics as they were
        assert cbs[0].stopped_by is None and cbs[0].monitor.rows == 16


# -- 4. messages through Lightning's logger, once per finding; on_finding; the report at stop and end ------
def test_messages_once_per_finding_through_rank_zero_logging_and_on_finding_gets_alerts(tmp_path, lines):
    got: list[Alert] = []
    seen_at_stop: list[dict] = []
    path = tmp_path / "r.json"

    class AtStop(L.Callback):  # runs after curvediag's hook: the report must already be there
        def on_train_epoch_end(self, trainer, pl_module):
            if trainer.should_stop:
                seen_at_stop.append(json.loads(path.read_text()))

    cb = CurvediagCallback(stop_on=("diverged",), on_finding=got.append, report_path=str(path))
    _fit(tmp_path, 0.5, [cb, AtStop()], max_epochs=14)
    said = [m for m in lines if m.startswith("curvediag: ") and not m.startswith("curvediag: stopping")]
    codes = [a.finding.code for a in got]
    assert got and all(isinstance(a, Alert) for a in got)
    assert len(codes) == len(set(codes))  # each finding once
    assert said == [a.line() for a in got]  # the same findings, each said once, in the framework's log
    assert sum(m.startswith("curvediag: stopping training: ") for m in lines) == 1
    assert len(seen_at_stop) == 1 and _report_of(seen_at_stop[0])["verdict"] == "diverged"
    assert _report_of(json.loads(path.read_text()))["verdict"] == "diverged"  # and again at the end
    assert sorted(os.listdir(tmp_path)) == ["r.json"]  # atomic: no temporary file left beside it


def test_level_info_says_more_and_observe_only_never_stops(tmp_path, lines):
    cb = CurvediagCallback(level="info")
    trainer, _ = _fit(tmp_path, 0.5, [cb], max_epochs=14)
    assert cb.stopped_by is None and trainer.current_epoch == 14  # stop_on=() observes only
    said = [m for m in lines if m.startswith("curvediag: ")]
    assert any("(error)" in m for m in said) and not any(m.startswith("curvediag: stopping") for m in said)


class Fails(Net):
    def training_step(self, batch, i):
        if self.current_epoch == 6:
            raise RuntimeError("out of memory (simulated)")
        return super().training_step(batch, i)


def test_a_run_that_fails_leaves_the_report_of_what_arrived(tmp_path):
    path = tmp_path / "r.json"
    cb = CurvediagCallback(report_path=str(path))
    L.seed_everything(0, verbose=False)
    train, val = _data()
    with pytest.raises(RuntimeError, match="simulated"):
        _trainer(tmp_path, [cb], max_epochs=10).fit(Fails(0.05), train, val)
    assert cb.monitor.rows == 12  # six epochs: a validation row and a train row each
    assert _report_of(json.loads(path.read_text()))["verdict"] != "insufficient_data"


# -- 5. Lightning's reading conventions --------------------------------------------------------------
def test_reads_validation_at_validation_end_train_at_epoch_end_without_step_copies(tmp_path):
    rec = Recorder()
    cb = CurvediagCallback()
    _fit(tmp_path, 0.05, [cb, rec], max_epochs=6, fork=True)
    cols = cb.monitor.columns()
    assert set(cols) == {"step", "epoch", "train_loss", "val_loss"}  # no train_loss_step / _epoch copies
    val = [(int(e), int(s), v) for e, s, v in zip(cols["epoch"], cols["step"], cols["val_loss"]) if not math.isnan(v)]
    train = [(int(e), v) for e, v in zip(cols["epoch"], cols["train_loss"]) if not math.isnan(v)]
    assert val == rec.val and train == rec.train  # each value once, in its own row, at its epoch and step
    assert all(math.isnan(t) or math.isnan(v) for t, v in zip(cols["train_loss"], cols["val_loss"]))


@pytest.mark.parametrize("kw, vals_per_epoch", [({"check_val_every_n_epoch": 2}, 0.5), ({"val_check_interval": 0.5}, 2)])
def test_validation_at_another_rhythm_is_read_once_per_validation_run(tmp_path, kw, vals_per_epoch):
    rec = Recorder()
    cb = CurvediagCallback()
    _fit(tmp_path, 0.05, [cb, rec], max_epochs=6, **kw)
    cols = cb.monitor.columns()
    val = [(int(e), int(s), v) for e, s, v in zip(cols["epoch"], cols["step"], cols["val_loss"]) if not math.isnan(v)]
    train = [(int(e), v) for e, v in zip(cols["epoch"], cols["train_loss"]) if not math.isnan(v)]
    assert len(rec.val) == 6 * vals_per_epoch and val == rec.val  # no stale validation value read again
    assert train == rec.train and len(train) == 6


def test_the_sanity_check_validation_is_not_read(tmp_path):
    with_sanity, without = CurvediagCallback(), CurvediagCallback()
    _fit(tmp_path, 0.05, [with_sanity], max_epochs=5, num_sanity_val_steps=2)
    _fit(tmp_path, 0.05, [without], max_epochs=5, num_sanity_val_steps=0)
    a, b = with_sanity.monitor.columns(), without.monitor.columns()
    assert a.keys() == b.keys() and with_sanity.monitor.rows == without.monitor.rows == 10
    for k in a:
        assert [x for x in a[k] if not math.isnan(x)] == [x for x in b[k] if not math.isnan(x)]


def test_validate_and_test_outside_fit_are_not_read(tmp_path):
    cb = CurvediagCallback()
    trainer, model = _fit(tmp_path, 0.05, [cb], max_epochs=5)
    rows = cb.monitor.rows
    trainer.validate(model, _data()[1], verbose=False)
    assert cb.monitor.rows == rows


# -- rank zero only; the stop decision reduced over the ranks ------------------------------------------
def _strategy(rank: int, others_say_stop: bool = False):
    """A single-device strategy that says it is global rank ``rank`` (what ``trainer.global_rank``
    and ``trainer.is_global_zero`` read) and whose reduce_boolean_decision answers as if another
    rank had voted."""
    from lightning.pytorch.strategies import SingleDeviceStrategy

    class Strategy(SingleDeviceStrategy):
        decisions: list[bool] = []

        @property
        def is_global_zero(self) -> bool:
            return self.global_rank == 0

        def reduce_boolean_decision(self, decision, all=True):
            self.decisions.append(bool(decision))
            assert all is False  # "any rank says stop", as EarlyStopping reduces it
            return bool(decision) or others_say_stop

    s = Strategy(device=torch.device("cpu"))
    s.global_rank = rank
    s.decisions = []
    return s


def test_a_non_zero_rank_neither_reads_checks_says_nor_writes(tmp_path, lines):
    strategy = _strategy(1)
    cb = CurvediagCallback(stop_on=("diverged",), report_path=str(tmp_path / "r.json"), level="info")
    trainer, _ = _fit(tmp_path, 0.5, [cb], max_epochs=8, strategy=strategy)
    assert not trainer.is_global_zero and trainer.global_rank == 1
    assert cb.monitor.rows == 0 and cb.stopped_by is None and not (tmp_path / "r.json").exists()
    assert not [m for m in lines if m.startswith("curvediag")]
    assert trainer.current_epoch == 8  # nobody voted stop
    assert strategy.decisions == [False] * 16  # but it took part in every vote (val end + epoch end)


def test_a_non_zero_rank_stops_when_rank_zero_votes_stop(tmp_path):
    strategy = _strategy(1, others_say_stop=True)
    cb = CurvediagCallback(stop_on=("diverged",))
    rec = Recorder()
    trainer, _ = _fit(tmp_path, 0.05, [cb, rec], max_epochs=8, strategy=strategy)
    assert trainer.should_stop and len(rec.train) == 1  # stopped at the first vote's epoch
    assert cb.monitor.rows == 0


def test_rank_zero_votes_its_decision(tmp_path):
    strategy = _strategy(0)
    cb = CurvediagCallback(stop_on=("diverged",))
    _fit(tmp_path, 0.5, [cb], max_epochs=14, strategy=strategy)
    assert cb.stopped_by is not None
    # one stop vote, at the epoch it stopped in (at validation end, the epoch end's vote after it False)
    assert strategy.decisions.count(True) == 1 and True in strategy.decisions[-2:]


# -- a real two-process DDP run (gloo, CPU): rank zero decides, both ranks stop at the same epoch ----------
DDP_SCRIPT = '''
import json, os, sys
import torch
import lightning.pytorch as L
from torch.utils.data import DataLoader, TensorDataset
from curvediag.lightning import CurvediagCallback

out, lr = sys.argv[1], float(sys.argv[2])


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))

    def training_step(self, b, i):
        loss = torch.nn.functional.mse_loss(self.net(b[0]), b[1])
        self.log("train_loss", loss, on_step=False, on_epoch=True, sync_dist=True)  # read = a collective
        return loss

    def validation_step(self, b, i):
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(b[0]), b[1]), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=lr)


class Epochs(L.Callback):
    def __init__(self):
        self.ran = []

    def on_train_epoch_end(self, t, m):
        self.ran.append(t.current_epoch)


if __name__ == "__main__":
    L.seed_everything(0, verbose=False)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(8, 1, generator=g)
    x = torch.randn(160, 8, generator=g)
    y = x @ w + 0.1 * torch.randn(160, 1, generator=g)
    train = DataLoader(TensorDataset(x[:128], y[:128]), batch_size=32)
    val = DataLoader(TensorDataset(x[128:], y[128:]), batch_size=16)
    found = []
    cb = CurvediagCallback(stop_on=("diverged",), report_path=os.path.join(out, "report.json"),
                           on_finding=lambda a: found.append(a.finding.code))
    ep = Epochs()
    t = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, enable_model_summary=False, default_root_dir=out, max_epochs=14,
                  callbacks=[cb, ep])
    t.fit(Net(), train, val)
    with open(os.path.join(out, "rank%d.json" % t.global_rank), "w") as f:
        json.dump({"world": t.world_size, "epochs": ep.ran, "rows": cb.monitor.rows, "found": found,
                   "stopped_by": cb.stopped_by and cb.stopped_by.code, "should_stop": t.should_stop}, f)
'''


@pytest.mark.slow
@pytest.mark.parametrize("lr, stops", [(0.5, True), (0.05, False)], ids=["diverging", "healthy"])
def test_a_real_two_process_ddp_run_judged_on_rank_zero_stops_on_every_rank(tmp_path, lr, stops):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MASTER_ADDR": "127.0.0.1"}
    env.pop("LOCAL_RANK", None)
    out = subprocess.run([sys.executable, str(script), str(tmp_path), str(lr)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=240)  # a rank that missed the stop would hang
    assert out.returncode == 0, out.stderr[-3000:]
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert r0["epochs"] == r1["epochs"]  # every rank ran the same epochs
    assert r1["rows"] == 0 and r1["found"] == [] and r1["stopped_by"] is None  # rank 1 neither read nor judged
    assert r0["rows"] == 2 * len(r0["epochs"])
    assert out.stdout.count("curvediag: stopping training") + out.stderr.count("curvediag: stopping training") == (1 if stops else 0)
    report = json.loads((tmp_path / "report.json").read_text())
    if stops:
        assert r0["stopped_by"] and r0["should_stop"] and r1["should_stop"] and len(r0["epochs"]) < 14
        assert _report_of(report)["verdict"] == "diverged"
    else:
        assert r0["stopped_by"] is None and not r1["should_stop"] and len(r0["epochs"]) == 14
        assert _report_of(report)["verdict"] != "diverged"  # (this small validation set overfits: not judged here)


# -- the framework import ------------------------------------------------------------------------------
IMPORTS = """
import sys

def base(*blocked):
    saved = {m: sys.modules.get(m) for m in blocked}
    sys.modules.pop("curvediag.lightning", None)
    for m in blocked:
        sys.modules[m] = None  # what the import system takes for "not installed"
    try:
        import curvediag.lightning as cl
        return cl.CurvediagCallback.__mro__[1].__module__
    except ImportError as e:
        return "ImportError: %s" % e
    finally:
        for m, mod in saved.items():
            if mod is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = mod

print(base("lightning", "lightning.pytorch", "pytorch_lightning"))
print(base("lightning", "lightning.pytorch"))
print(base())
"""


def test_lightning_first_then_the_standalone_package_then_a_one_line_error_naming_the_extra():
    pytest.importorskip("pytorch_lightning")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", IMPORTS], capture_output=True, text=True, env=env, timeout=180)
    missing, standalone, unified = out.stdout.strip().splitlines()
    assert missing == 'ImportError: curvediag.lightning needs PyTorch Lightning: pip install "curvediag[lightning]"'
    assert standalone.startswith("pytorch_lightning.")
    assert unified.startswith("lightning.pytorch.")


# -- issue 24: what the Keras and HF callbacks have; min_points counts evaluations; the entry point ------------
def test_report_alerts_and_stopped_by_as_the_keras_and_hf_callbacks_have(tmp_path):
    cb = CurvediagCallback(level="info")
    assert cb.report is None and cb.alerts == [] and cb.stopped_by is None
    _fit(tmp_path, 0.05, [cb], max_epochs=12)
    assert cb.report is not None and cb.report.verdict == cb.monitor.check().verdict
    assert all(isinstance(a, Alert) for a in cb.alerts)
    codes = [a.finding.code for a in cb.alerts]
    assert len(codes) == len(set(codes)) and {f.code for f in cb.report.findings} <= set(codes)  # each once
    assert cb.stopped_by is None


class _FirstCheck(L.Callback):
    """The epoch at whose end the curvediag callback had checked for the first time."""

    def __init__(self, cb):
        self.cb, self.epoch = cb, None

    def on_train_epoch_end(self, trainer, pl_module):
        if self.epoch is None and self.cb.report is not None:
            self.epoch = trainer.current_epoch


def test_min_points_counts_evaluations_not_the_two_rows_lightning_logs_per_epoch(tmp_path):
    cb = CurvediagCallback(min_points=5)
    probe = _FirstCheck(cb)
    _fit(tmp_path, 0.05, [cb, probe], max_epochs=8)
    assert cb.monitor.rows == 16  # a training and a validation row per epoch
    assert probe.epoch == 4  # the 5th epoch, as Keras' callback with min_points=5 (one row per epoch)


def _entry_point(tmp_path, monkeypatch):
    """curvediag's entry point as pyproject.toml declares it, on a distribution Lightning finds the way
    it finds any installed one (importlib.metadata), whichever checkout is installed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    from ..conftest import REPO

    eps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    group = eps["lightning.pytorch.callbacks_factory"]
    dist = tmp_path / "site" / "curvediag-0.0.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: curvediag\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text(
        "[lightning.pytorch.callbacks_factory]\n" + "".join(f"{k} = {v}\n" for k, v in group.items()))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


def _ours(trainer):
    return [c for c in trainer.callbacks if isinstance(c, CurvediagCallback)]


def test_the_callbacks_factory_adds_the_callback_only_when_the_environment_asks(tmp_path, monkeypatch):
    _entry_point(tmp_path, monkeypatch)
    monkeypatch.delenv("CURVEDIAG_LIGHTNING", raising=False)
    assert _ours(_trainer(tmp_path)) == []
    monkeypatch.setenv("CURVEDIAG_LIGHTNING", "0")
    assert _ours(_trainer(tmp_path)) == []

    report = tmp_path / "env-report.json"
    monkeypatch.setenv("CURVEDIAG_LIGHTNING", "1")
    monkeypatch.setenv("CURVEDIAG_LIGHTNING_STOP_ON", "diverged, cramming")
    monkeypatch.setenv("CURVEDIAG_LIGHTNING_REPORT", str(report))
    trainer, _ = _fit(tmp_path, 0.5, max_epochs=14)  # the diverging run of test 1, no callback given
    (cb,) = _ours(trainer)
    assert cb.observer.stop_on == {"diverged", "cramming"}
    assert cb.stopped_by is not None and cb.stopped_by.verdict == "diverged" and trainer.current_epoch < 13
    assert _report_of(json.loads(report.read_text()))["verdict"] == "diverged"


def test_a_callback_the_user_gave_wins_over_the_factorys(tmp_path, monkeypatch):
    _entry_point(tmp_path, monkeypatch)
    monkeypatch.setenv("CURVEDIAG_LIGHTNING", "1")
    monkeypatch.setenv("CURVEDIAG_LIGHTNING_REPORT", str(tmp_path / "env-report.json"))
    mine = CurvediagCallback(report_path=str(tmp_path / "mine.json"))
    trainer, _ = _fit(tmp_path, 0.05, [mine], max_epochs=6)
    assert len(_ours(trainer)) == 2  # Lightning appends the factory's
    env_cb = next(c for c in _ours(trainer) if c is not mine)
    assert env_cb.monitor.rows == 0 and not (tmp_path / "env-report.json").exists()
    assert mine.monitor.rows == 12 and (tmp_path / "mine.json").exists()
