"""What the sweep integrations share (:mod:`curvediag.optuna`, :mod:`curvediag.ray`): one
:class:`TrialWatch` per trial, a :class:`~curvediag.monitor.Monitor` fed only the points that
arrived since the last decision, and the decision to end the trial.

A trial is ended when

* the diagnosis of its points (the same report ``curvediag analyze`` gives for them) has a verdict,
  or a finding whose verdict, rule code or name, is in ``stop_on`` -- once ``min_points`` points have
  arrived; a NaN or an infinity in a loss or in the watched objective ends it (as ``diverged``) from
  the first point: a diverged run needs no trend;
* ``patience`` is a number and the judged validation curve (val_loss, else the validation quality
  metric, in its own direction) has had ``patience`` evaluations since its best, as Keras'
  ``EarlyStopping(patience=N)`` counts them (a NaN is no improvement).
"""

from __future__ import annotations

from typing import Any, Iterable

from ._np import np

from .settings import Settings
from .monitor import Monitor, stop_reason, whole


def check_arguments(stop_on: Iterable[str], patience: int | None, min_points: int) -> frozenset[str]:
    if isinstance(stop_on, str):
        stop_on = (stop_on,)
    whole("patience", patience, none_ok=True)
    whole("min_points", min_points)
    return frozenset(stop_on)


class TrialWatch:
    """One trial's points and the decision to end it (see the module's doc).  ``watched``: the
    column whose NaN ends the trial even when it is not a loss (the objective)."""

    __slots__ = ("monitor", "stop_on", "patience", "min_points", "watched", "fed", "last_step", "reason")

    def __init__(self, settings: Settings | None, stop_on: frozenset[str], patience: int | None, min_points: int,
                 watched: str | None = None, source: str = "<trial>"):
        self.monitor = Monitor(settings, source=source)
        self.stop_on = stop_on
        self.patience = patience
        self.min_points = min_points
        self.watched = watched
        self.fed = 0  # points fed
        self.last_step: float | None = None
        self.reason: str | None = None  # why the trial was ended: 'D102 exploding-loss: ...'

    def feed(self, step: Any, metrics: dict[str, Any]) -> None:
        self.monitor.log(step=step, **metrics)
        self.fed += 1
        self.last_step = step

    def decide(self) -> str | None:
        """Why to end the trial now (a one-line reason), or None to let it run."""
        if self.reason is not None:
            return self.reason
        mon = self.monitor
        if mon.rows == 0:
            return None
        urgent = self._non_finite()
        if mon.rows >= self.min_points or urgent:
            if self.stop_on:
                report = mon.check()
                f = stop_reason(report, self.stop_on)
                if f is not None and (mon.rows >= self.min_points or f.verdict == "diverged"):
                    self.reason = f"{f.code} {f.name}: {f.message}"
                    return self.reason
                if urgent and "diverged" in self.stop_on:
                    # the objective is NaN/inf but is no loss, so no loss rule reads it
                    self.reason = f"the objective {self.watched!r} is not finite (NaN or infinity): diverged"
                    return self.reason
        if self.patience is not None and mon.rows > self.patience:
            since = self.evaluations_since_best()
            if since is not None and since >= self.patience:
                self.reason = f"past its best: {since} evaluations without improving on it (patience={self.patience})"
        return self.reason

    def _non_finite(self) -> bool:
        with self.monitor._lock:
            for name, col in self.monitor._cols.items():
                low = name.lower()
                if "loss" in low or "grad_norm" in low or name == self.watched:
                    v = col.values  # the values logged
                    if v.size and not np.isfinite(v).all():
                        return True
        return False

    def evaluations_since_best(self) -> int | None:
        """Evaluations of the judged validation curve (the report's ``best_epoch_metric``) logged
        after its best one, the best as the report finds it (None: no such curve yet)."""
        report = self.monitor.check()
        name, best_at = report.best_epoch_metric, report.best_epoch
        column = report.source.columns.get(name or "", "").split(" (")[0]
        col, steps = self.monitor._cols.get(column), self.monitor._cols.get("step")
        if best_at is None or col is None or steps is None:
            return None
        with self.monitor._lock:
            n = self.monitor.rows
            sv, sp = steps.dense(n)
            rows = col.rows[: col.count]
            rows = rows[sp[rows]]  # the rows that logged both
            return int(np.count_nonzero(sv[rows] > best_at))


__all__ = ["TrialWatch", "check_arguments"]
