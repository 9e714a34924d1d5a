"""PyTorch Lightning callback: curvediag diagnoses the run while it trains.

The three lines a user adds to a training script::

    from curvediag.lightning import CurvediagCallback
    cb = CurvediagCallback(stop_on=("diverged",), report_path="curvediag.json")
    trainer = Trainer(..., callbacks=[cb])

**What it reads.**  ``trainer.callback_metrics``, the metrics the LightningModule logs with
``self.log``: at ``on_validation_end`` the ones the validation run logged (``val_loss``,
``val_acc``...), at ``on_train_epoch_end`` the ones the training epoch logged (``train_loss``
logged with ``on_epoch=True`` arrives as its epoch mean; a metric logged on steps only arrives as
its last step's value).  Which metrics a phase logged is told apart by which entries of
``callback_metrics`` Lightning refreshed during that phase; a Lightning ``_step`` / ``_epoch``
copy of a metric (``on_step=True, on_epoch=True``) is dropped beside its plain name.  Each reading
is one row (``epoch=trainer.current_epoch``, ``step=trainer.global_step``), the rows a Lightning
``metrics.csv`` holds, read the way ``curvediag analyze`` reads that file.  The sanity-check
validation (``trainer.sanity_checking``) and ``validate``/``test`` outside ``fit`` are not read.
Metrics logged inside ``LightningModule.on_train_epoch_end`` are not seen at that epoch's end
(Lightning calls callbacks' ``on_train_epoch_end`` before the module's own).

**When it checks.**  After each reading (every ``check_every``-th of them), once ``min_points``
rows have arrived; a NaN or infinite loss is judged from the first row.  Each new finding at or
above ``level`` is said once, in one line, through Lightning's rank-zero logging
(``rank_zero_info``, logger ``lightning.pytorch.utilities.rank_zero``), and passed to
``on_finding`` as an :class:`~curvediag.monitor.Alert`.

**How it stops.**  When a finding matches ``stop_on`` (a verdict, rule code or name) it sets
``trainer.should_stop = True`` (Lightning ends the run at the end of the current step or epoch,
honouring ``min_epochs``/``min_steps``) and writes the report.

**Distributed runs.**  Every rank reads ``callback_metrics`` at the same hooks, as Lightning's
``EarlyStopping`` does (the first read of an epoch metric logged with ``sync_dist=True`` is a
collective), but only global rank zero (``trainer.is_global_zero``) records, checks, speaks and
writes the report.  Its stop decision reaches the other ranks the way ``EarlyStopping``'s does:
every rank calls ``trainer.strategy.reduce_boolean_decision(decision, all=False)`` at the same
hooks (the other ranks with ``False``) and sets ``should_stop`` from the result, so all stop at
the same step.

**The report.**  ``report_path``: the JSON report object (as ``Report.to_dict()``: one element of
``curvediag analyze --format json``'s array), written atomically when the callback stops the run and when training ends
(``on_train_end``; also on ``on_exception``, so an interrupted run leaves its report).

The callback never changes the run: it reads ``callback_metrics`` into its own copy, touches no
data loader, draws no random numbers and sets nothing but ``trainer.should_stop``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

try:  # the unified package first, the standalone one when only it is installed
    from lightning.pytorch import Callback as _Callback
    from lightning.pytorch.utilities.rank_zero import rank_zero_info as _rank_zero_info
except ImportError:  # pragma: no cover - exercised only without the lightning package
    try:
        from pytorch_lightning import Callback as _Callback  # type: ignore[assignment]
        from pytorch_lightning.utilities.rank_zero import rank_zero_info as _rank_zero_info
    except ImportError:
        raise ImportError(
            'curvediag.lightning needs PyTorch Lightning: pip install "curvediag[lightning]"'
        ) from None

import os

from .settings import Settings
from .monitor import Alert, Observer
from .report import Finding, Report

#: the suffixes Lightning gives the two copies of a metric logged with on_step=True, on_epoch=True
_FORKS = ("_step", "_epoch")


def _fitting(trainer: Any) -> bool:
    """A ``fit`` run past its sanity check (what EarlyStopping checks before it reads)."""
    if getattr(trainer, "sanity_checking", False):
        return False
    state = getattr(trainer, "state", None)
    fn = getattr(state, "fn", None)
    return fn is None or str(getattr(fn, "value", fn)) == "fit"


class CurvediagCallback(_Callback):
    """Diagnoses a Lightning run from ``trainer.callback_metrics`` as it trains; stops it
    (``trainer.should_stop``) on ``stop_on``; writes the JSON report to ``report_path``.
    See the module's documentation for what it reads and when."""

    def __init__(
        self,
        stop_on: Iterable[str] = (),
        check_every: int = 1,
        min_points: int = 5,
        report_path: str | None = None,
        on_finding: Callable[[Alert], Any] | None = None,
        level: str = "warning",
        settings: Settings | None = None,
    ):
        super().__init__()
        self.observer = Observer(
            stop_on=stop_on, check_every=check_every, min_points=min_points, report_path=report_path,
            on_finding=on_finding, level=level, settings=settings, source="<lightning>", say=_rank_zero_info,
            points=lambda: max(self._train_rows, self._val_rows),
        )
        self._train_rows = 0  # train-epoch readings and validation runs: min_points counts evaluations,
        self._val_rows = 0    # as Keras' epochs (one row each), not Lightning's two rows per epoch
        self._before_train: dict[str, Any] = {}
        self._before_val: dict[str, Any] = {}
        self._val_names: set[str] = set()
        self._closed = False
        self._from_environment = False  # added by callbacks_factory
        self._off = False  # the factory's callback beside one the user gave the Trainer
    # -- what the run logged -------------------------------------------------------------------
    @property
    def monitor(self):
        """The :class:`~curvediag.monitor.Monitor` holding the rows read so far."""
        return self.observer.monitor

    @property
    def stopped_by(self) -> Finding | None:
        """The finding that stopped the run (None when it did not)."""
        return self.observer.stopped_by

    @property
    def report(self) -> Report | None:
        """The last check's report (None before the first check)."""
        return self.observer.monitor.report

    @property
    def alerts(self) -> list[Alert]:
        """Every finding found so far, each once, with the position it appeared at."""
        return list(self.observer.monitor.alerts)

    @staticmethod
    def _snapshot(trainer: Any) -> dict[str, Any]:
        return dict(trainer.callback_metrics)  # a copy: the trainer's dict is never touched

    @staticmethod
    def _fresh(now: dict[str, Any], before: dict[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
        """The entries Lightning refreshed since ``before`` (it stores a new tensor for each value it
        computes), without the ``_step``/``_epoch`` copies of a metric whose plain name is there."""
        skip = set(skip)
        fresh = {k: v for k, v in now.items() if k not in skip and before.get(k) is not v}
        for k in list(fresh):
            for suffix in _FORKS:
                if k.endswith(suffix) and k[: -len(suffix)] in fresh:
                    del fresh[k]
        return fresh

    def _record(self, trainer: Any, metrics: dict[str, Any]) -> bool:
        """Rank zero: one row, then a check; returns the stop decision of this rank."""
        if metrics:
            self.observer.log(step=trainer.global_step, epoch=trainer.current_epoch, **metrics)
        return self.observer.evaluate() if metrics else False

    def _decide(self, trainer: Any, stop: bool) -> None:
        """Every rank, at the same hook: stop all when any rank (only rank zero judges) says stop."""
        stop = bool(trainer.strategy.reduce_boolean_decision(bool(stop), all=False))
        if stop:
            trainer.should_stop = True

    # -- Lightning hooks -----------------------------------------------------------------------
    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._off = self._from_environment and any(
            isinstance(c, CurvediagCallback) and not c._from_environment for c in trainer.callbacks)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self._closed = self._off

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if _fitting(trainer) and not self._off:
            self._before_train = self._snapshot(trainer)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        if _fitting(trainer) and not self._off:
            self._before_val = self._snapshot(trainer)

    # Every rank reads callback_metrics at the same hooks (as EarlyStopping does): the first read of an
    # epoch metric logged with sync_dist=True is a collective (Lightning reduces it over the ranks then).
    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not _fitting(trainer) or self._off:
            return
        metrics = self._fresh(self._snapshot(trainer), self._before_val)
        self._val_names.update(metrics)
        self._val_rows += bool(metrics)
        self._decide(trainer, self._record(trainer, metrics) if trainer.is_global_zero else False)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not _fitting(trainer) or self._off:
            return
        metrics = self._fresh(self._snapshot(trainer), self._before_train, self._val_names)
        self._train_rows += bool(metrics)
        self._decide(trainer, self._record(trainer, metrics) if trainer.is_global_zero else False)

    def _close(self, trainer: Any) -> None:
        if self._closed or not trainer.is_global_zero:
            return
        self._closed = True
        self.observer.close()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(trainer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._close(trainer)  # when training never started (no batches), nothing was read: a no-op

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if not self._closed and not self._off and trainer.is_global_zero:
            self.observer.write_report()  # the rows so far; no last check on a run that failed


#: the environment variables :func:`callbacks_factory` reads
ENV_ON, ENV_STOP_ON, ENV_REPORT = "CURVEDIAG_LIGHTNING", "CURVEDIAG_LIGHTNING_STOP_ON", "CURVEDIAG_LIGHTNING_REPORT"


def callbacks_factory() -> list:
    """Lightning's ``lightning.pytorch.callbacks_factory`` entry point (every ``Trainer`` calls it):
    a :class:`CurvediagCallback` when the environment asks for one -- ``CURVEDIAG_LIGHTNING=1`` --
    else nothing, so installing curvediag never changes a run by itself.
    ``CURVEDIAG_LIGHTNING_STOP_ON``: comma-separated verdicts, codes or names to stop on (default: observe
    only); ``CURVEDIAG_LIGHTNING_REPORT``: the report path.  When the Trainer was given a
    ``CurvediagCallback`` of its own, that one is used and this one stays silent."""
    value = os.environ.get(ENV_ON, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return []
    stop_on = tuple(s.strip() for s in os.environ.get(ENV_STOP_ON, "").split(",") if s.strip())
    cb = CurvediagCallback(stop_on=stop_on, report_path=os.environ.get(ENV_REPORT) or None)
    cb._from_environment = True
    return [cb]


__all__ = ["CurvediagCallback", "callbacks_factory"]
