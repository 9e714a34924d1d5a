"""Hugging Face ``Trainer`` callback: diagnose the curves while ``trainer.train()`` runs, on the rules
``curvediag analyze`` uses on a finished ``trainer_state.json``.

The three lines a user adds::

    from curvediag.transformers import CurvediagCallback
    cb = CurvediagCallback(stop_on=("diverged",), report_path="curvediag.json")
    trainer = Trainer(model=model, args=args, ..., callbacks=[cb])

What it reads: ``state.log_history``, the list the Trainer appends one entry to each time it logs
(``loss``, ``grad_norm``, ``learning_rate``, ``epoch``, ``step`` every ``logging_steps``; ``eval_loss``
and the other ``eval_*`` metrics at each evaluation) and writes to ``trainer_state.json``.  Only the
entries not read yet are taken (an index into the list), read under the names they carry, as
``curvediag analyze`` reads ``trainer_state.json``; the end-of-training summary entry
(``train_runtime``, ``total_flos``, ...) is skipped, as the file reader skips it.  So the live
report equals ``curvediag analyze`` of the ``trainer_state.json`` the Trainer writes.  The list
and its entries are never changed.  ``grad_norm`` is read too: with ``logging_nan_inf_filter``
(the default) the Trainer hides a NaN or infinite loss from ``loss`` (it logs the previous
average, or 0), but the gradient norm shows it: a non-finite ``grad_norm`` is divergence.

When it checks: at each log event (``on_log``: every ``logging_steps`` and every evaluation) that
brought new entries, and at ``on_evaluate`` if entries arrived since; every ``check_every``-th such
event once ``min_points`` entries have arrived; a NaN or infinite loss or gradient norm is
checked (and, with ``stop_on=("diverged",)``, stops) at once.  A last check at ``on_train_end``.

How it stops: a finding whose verdict, rule code or name is in ``stop_on`` sets
``control.should_training_stop = True`` -- the Trainer's own stop flag, as ``EarlyStoppingCallback``
sets it -- and nothing else; ``stop_on=()`` (the default) only observes.  Every process decides
(the logged numbers are the gathered, identical ones on every rank), so all ranks of a distributed
run stop at the same step; only the world's process zero (``state.is_world_process_zero``) says
anything, calls ``on_finding`` or writes ``report_path``.

Each new finding is said once, one line, through ``transformers.utils.logging`` (the logger
``curvediag.transformers``, at warning level), and passed to ``on_finding`` as a
:class:`curvediag.monitor.Alert`.  ``report_path`` gets the JSON report object (as ``Report.to_dict()``:
one element of ``curvediag analyze --format json``'s array), atomically, when the callback stops training and at ``on_train_end``.
:attr:`CurvediagCallback.report` is the last :class:`~curvediag.report.Report`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

try:
    import transformers
    from transformers.utils import logging as hf_logging
except ImportError as e:
    if getattr(e, "name", None) in ("transformers", "torch"):
        raise ImportError('curvediag.transformers needs transformers and torch: pip install "curvediag[transformers]"') from None
    raise ImportError(f'curvediag.transformers could not import transformers ({e}): pip install "curvediag[transformers]"') from None

from .settings import Settings
from .monitor import Alert, Observer
from .readers.json import _HF_SUMMARY_KEYS
from .report import Finding, Report

logger = hf_logging.get_logger(__name__)


class CurvediagCallback(transformers.TrainerCallback):
    """Diagnose a ``Trainer`` run as it logs; stop it on ``stop_on`` findings (see the module doc).

    ``stop_on``: verdicts, rule codes or names that stop training (``()``: observe only);
    ``check_every``: check at every N-th log event; ``min_points``: log entries before a finding
    is reported (non-finite losses and gradient norms are reported at once); ``report_path``: the
    JSON report, written at stop and at the end; ``on_finding``: called with each new
    :class:`~curvediag.monitor.Alert` at or above ``level``; ``settings``: a
    :class:`~curvediag.settings.Settings` (ignore rules, thresholds, column names) as for files.
    """

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
        self._kwargs = dict(
            stop_on=tuple((stop_on,) if isinstance(stop_on, str) else stop_on),
            check_every=check_every, min_points=min_points, level=level, settings=settings,
        )
        self.report_path = report_path
        self.on_finding = on_finding
        self._speak = True
        self._read = 0  # entries of state.log_history read so far
        self._history: list | None = None  # the list they were read from
        self.observer = self._new_observer()

    def _new_observer(self) -> Observer:
        return Observer(
            report_path=self.report_path, on_finding=self._found, source="<transformers.Trainer>",
            say=self._say, **self._kwargs,  # type: ignore[arg-type]
        )

    # -- what rank zero does --------------------------------------------------------------------
    def _say(self, line: str) -> None:
        if self._speak:
            logger.warning(line)

    def _found(self, alert: Alert) -> None:
        if self._speak and self.on_finding is not None:
            self.on_finding(alert)

    def _rank(self, state: Any) -> None:
        self._speak = bool(getattr(state, "is_world_process_zero", True))
        self.observer.report_path = self.report_path if self._speak else None

    # -- reading ----------------------------------------------------------------------------------
    def _ingest(self, state: Any) -> bool:
        """Read the entries of ``state.log_history`` not read yet; whether any were."""
        history = getattr(state, "log_history", None)
        if not isinstance(history, list):
            return False
        if history is not self._history or len(history) < self._read:
            if self._history is not None and self._read:  # a new run's (or replaced) history
                self.observer = self._new_observer()
            self._history, self._read = history, 0
        new = history[self._read:]
        self._read = len(history)
        fed = False
        for entry in new:
            if not isinstance(entry, dict) or not _HF_SUMMARY_KEYS.isdisjoint(entry):
                continue  # the end-of-training summary is not a curve point (as the file reader has it)
            metrics = {str(k): v for k, v in entry.items() if k not in ("step", "epoch")}
            before = self.observer.monitor.rows
            self.observer.log(step=entry.get("step"), epoch=entry.get("epoch"), **metrics)
            fed = fed or self.observer.monitor.rows > before
        return fed

    def _check(self, state: Any, control: Any) -> Any:
        self._rank(state)
        if self._ingest(state) and self.observer.evaluate():
            control.should_training_stop = True
        return control

    # -- Trainer events -----------------------------------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if self.observer.monitor.rows:  # the same callback in a second trainer.train(): a new run
            self.observer = self._new_observer()
        self._rank(state)
        self._history, self._read = state.log_history, 0  # a resumed run's earlier entries are read too
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        return self._check(state, control)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        return self._check(state, control)

    def on_train_end(self, args, state, control, **kwargs):
        self._rank(state)
        self._ingest(state)
        self.observer.close()
        return control

    # -- results ----------------------------------------------------------------------------------
    @property
    def report(self) -> Report | None:
        """The last check's report (None before the first check)."""
        return self.observer.monitor.report

    @property
    def alerts(self) -> list[Alert]:
        """Every finding found so far, once each, with the position it appeared at."""
        return list(self.observer.monitor.alerts)

    @property
    def stopped_by(self) -> Finding | None:
        """The finding that stopped training (None when it was not stopped)."""
        return self.observer.stopped_by


__all__ = ["CurvediagCallback"]
