"""Diagnose while it trains: :class:`Monitor` collects points as a training job logs them and
diagnoses what has arrived with the same engine (:func:`curvediag.engine.analyse`) and the same
column reading (:func:`curvediag.table.to_curves`) as ``curvediag analyze`` does on a file, so the
live answer and the post-hoc answer are one answer.

    >>> mon = curvediag.Monitor()
    >>> for epoch in range(epochs):
    ...     ...
    ...     mon.log(epoch=epoch, loss=train_loss, val_loss=val_loss)
    ...     report = mon.check()
    ...     for alert in mon.new_alerts:
    ...         print(alert.line())
    ...     if mon.should_stop(on=("diverged",)):
    ...         break

:class:`Observer` is what every framework callback (:mod:`curvediag.keras`,
:mod:`curvediag.lightning`, :mod:`curvediag.transformers`) is built on: when to check
(``check_every``, ``min_points``), what to say (one line per new finding), when to ask the
framework to stop (``stop_on``) and the report written at the end (``report_path``).

Appending a point costs O(1) (amortised); a check re-reads the arrived points as one table (no
copy of the columns) and runs the rules on them: ``benchmarks/monitor.py`` prints the cost per
check at 100, 10k and 1M points.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ._np import np

from .config import Settings
from .report import Finding, Report, severity_rank

#: the axis columns :meth:`Monitor.log` takes as keywords
AXES = ("step", "epoch")


class _Column:
    """A growing float column with a presence mask (missing differs from a recorded NaN)."""

    __slots__ = ("values", "present")

    def __init__(self, capacity: int):
        self.values = np.full(capacity, np.nan)
        self.present = np.zeros(capacity, dtype=bool)

    def grow(self, capacity: int) -> None:
        v = np.full(capacity, np.nan)
        p = np.zeros(capacity, dtype=bool)
        n = self.values.size
        v[:n] = self.values
        p[:n] = self.present
        self.values, self.present = v, p


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a number (a Python or numpy number, a 0-d tensor), else None.
    NaN and infinity are kept: they are evidence."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    shape = getattr(value, "shape", None)  # numpy, torch, tensorflow, jax scalars
    try:
        if shape is not None and tuple(shape) == () and getattr(getattr(value, "dtype", None), "kind", "f") != "b":
            return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return None


@dataclass(frozen=True)
class Alert:
    """A finding the first time a check found it: ``at`` is the last axis position that had
    arrived then (``axis`` says which: epoch, step or index), ``points`` the rows logged."""

    finding: Finding
    at: float | None
    axis: str
    points: int

    def line(self) -> str:
        """One line for a training log: ``curvediag: O102 val-loss-rising (warning) at epoch 12: ...``."""
        f = self.finding
        where = "" if self.at is None else f" at {self.axis} {_shown(self.at)}"
        return f"curvediag: {f.code} {f.name} ({f.severity}){where}: {f.message}"

    def to_dict(self) -> dict[str, Any]:
        from .report import _numbers

        f = self.finding
        return _numbers({
            "code": f.code, "name": f.name, "verdict": f.verdict, "severity": f.severity, "message": f.message,
            "at": self.at, "axis": self.axis, "points": self.points,
        })


def _shown(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


#: The framework callbacks' source names -> the framework whose words their remedies use.
_FRAMEWORK_OF_SOURCE = {"<keras>": "keras", "<lightning>": "lightning", "<transformers.Trainer>": "hf"}


class Monitor:
    """Points as training logs them; :meth:`check` diagnoses what has arrived.

    ``log(step=None, epoch=None, **metrics)`` appends one row: metric names as the framework
    logs them (``loss``, ``val_loss``, ``eval_loss``, ``val_accuracy``, ``train/loss``: the same
    names a log file would hold, read the same way).  Train and validation metrics may arrive in
    separate calls.  Values that are not numbers (strings, lists) are ignored; NaN and infinity
    are kept.

    ``check()`` returns the :class:`~curvediag.report.Report` :func:`curvediag.diagnose` gives for the
    same rows written to a file; the findings it found for the first time are :attr:`new_alerts`
    (:attr:`alerts` holds all of them, each reported once, with the position it appeared at).
    ``on_alert`` is called with each new :class:`Alert`."""

    def __init__(self, settings: Settings | None = None, *, source: str = "<monitor>",
                 on_alert: Callable[[Alert], Any] | None = None, framework: str | None = None):
        self.settings = settings or Settings()
        self.source = source
        #: whose words the remedies use ("keras", "lightning", "hf", "ultralytics", "fastai"); the
        #: framework callbacks set it, else none (framework-neutral advice)
        self.framework = framework or _FRAMEWORK_OF_SOURCE.get(source)
        self.on_alert = on_alert
        self._cols: dict[str, _Column] = {}
        self._rows = 0
        self._capacity = 64
        self._report: Report | None = None
        self._checked_rows = -1
        self._seen: set[str] = set()
        self.alerts: list[Alert] = []
        self.new_alerts: tuple[Alert, ...] = ()

    # -- collecting -------------------------------------------------------------------------
    def log(self, step: Any = None, epoch: Any = None, **metrics: Any) -> None:
        """Append one row: ``step`` and/or ``epoch`` (either may be omitted) and the metrics."""
        row: dict[str, float] = {}
        for name, value in (("step", step), ("epoch", epoch)):
            if value is not None:
                v = _number(value)
                if v is not None:
                    row[name] = v
        for name, value in metrics.items():
            if name in AXES:
                continue
            v = _number(value)
            if v is not None:
                row[str(name)] = v
        if not row:
            return
        self._append(row)

    def log_many(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """:meth:`log` for each mapping in ``rows`` (a Hugging Face ``log_history``, say)."""
        for r in rows:
            r = dict(r)
            self.log(r.pop("step", None), r.pop("epoch", None), **{str(k): v for k, v in r.items()})

    def _append(self, row: Mapping[str, float]) -> None:
        n = self._rows
        if n >= self._capacity:
            self._capacity *= 2
            for c in self._cols.values():
                c.grow(self._capacity)
        for name, v in row.items():
            col = self._cols.get(name)
            if col is None:
                col = self._cols[name] = _Column(self._capacity)
            col.values[n] = v
            col.present[n] = True
        self._rows = n + 1

    @property
    def rows(self) -> int:
        """Rows logged so far."""
        return self._rows

    def columns(self) -> dict[str, np.ndarray]:
        """The logged columns (copies), NaN where a row did not log the metric."""
        n = self._rows
        return {k: np.where(c.present[:n], c.values[:n], np.nan) for k, c in self._cols.items()}

    def table(self):
        """The rows logged so far as the :class:`~curvediag.table.RawTable` a reader would make
        of them (views of the growing columns: nothing is copied)."""
        from .table import RawTable

        n = self._rows
        names = list(self._cols)
        return RawTable(
            names,
            {k: self._cols[k].values[:n] for k in names},
            {k: self._cols[k].present[:n] for k in names},
            n,
            "monitor",
            facts={"framework": self.framework} if self.framework else {},
        )

    # -- diagnosing -------------------------------------------------------------------------
    def check(self) -> Report:
        """Diagnose the rows logged so far (again only when rows arrived since the last check)."""
        if self._report is not None and self._checked_rows == self._rows:
            self.new_alerts = ()
            return self._report
        from .engine import analyse
        from .table import to_curves

        s = self.settings
        if s.columns.get("metric") and s.columns.get("val_acc"):
            from .errors import UsageError

            raise UsageError("give metric or val_acc, not both")
        curves = to_curves(self.table(), self.source, dict(s.columns))
        report = analyse(curves, s)
        self._report, self._checked_rows = report, self._rows
        new = fresh_alerts(report, self._seen, last_position(curves), curves.axis_kind, self._rows)
        self.alerts.extend(new)
        self.new_alerts = tuple(new)
        if self.on_alert is not None:
            for a in new:
                self.on_alert(a)
        return report

    @property
    def report(self) -> Report | None:
        """The last check's report (None before the first check)."""
        return self._report

    def should_stop(self, on: Iterable[str] = ("diverged",)) -> bool:
        """Whether the diagnosis of the rows so far calls for stopping: the verdict, or a finding's
        verdict, rule code or rule name, is one of ``on`` (``("diverged", "cramming", "O102")``).
        Checks first when rows arrived since the last check."""
        wanted = set(on)
        if not wanted or self._rows == 0:
            return False
        report = self.check()
        return stop_reason(report, wanted) is not None


def fresh_alerts(report: Report, seen: set[str], at: float | None, axis: str, points: int, *,
                 short: bool = False) -> list[Alert]:
    """The findings of ``report`` whose codes are not in ``seen`` yet, as :class:`Alert` s at ``at``
    (the last ``axis`` position read) after ``points`` rows; their codes are added to ``seen``, so
    each finding is alerted once, where it first appeared.  A log too short to judge
    (``insufficient_data``) is where every run starts, not news: left out unless ``short``."""
    new = []
    for f in report.findings:
        if f.code in seen or (f.verdict == "insufficient_data" and not short):
            continue
        seen.add(f.code)
        new.append(Alert(f, at, axis, points))
    return new


def stop_reason(report: Report, on: set[str] | frozenset[str]) -> Finding | None:
    """The finding that matches ``on`` (a verdict, code or name), the deciding one first."""
    matches = [f for f in report.findings if f.verdict in on or f.code in on or f.name in on]
    matches = [f for f in matches if f.verdict != "insufficient_data" or "insufficient_data" in on]
    if not matches:
        return None
    first = [f for f in matches if f.verdict == report.verdict]
    return (first or matches)[0]


def last_position(curves) -> float | None:
    """The last axis position any curve has reached (None for no points)."""
    last = [float(s.x[-1]) for s in curves.series.values() if len(s)]
    return max(last) if last else None


class Observer:
    """What every framework callback shares: a :class:`Monitor`, and when to check, speak and stop.

    * ``stop_on``: verdicts, rule codes or names that stop the run (empty: observe only);
    * ``check_every``: check at every N-th evaluation the callback sees (1: each one);
    * ``min_points``: points logged before any finding is reported (a NaN or an infinity is
      reported, and stops, from the first row: a diverged run needs no trend); ``points`` counts
      them (default: rows);
    * ``level``: the lowest severity said in the framework's log and passed to ``on_finding``
      (``"warning"``; ``"info"`` for everything);
    * ``report_path``: where the JSON report is written, atomically, when training ends and when the
      callback stops it: the report object, as :meth:`Report.to_dict` (one element of the array
      ``curvediag analyze --format json`` prints);
    * ``on_finding``: called with each new :class:`Alert` at or above ``level``;
    * ``say``: how a line reaches the user (the framework's own logger);
    * ``framework``: whose words the remedies use (``"keras"``, ``"lightning"``, ``"hf"``, ...; the
      callbacks' own source names set it).
    """

    def __init__(
        self,
        *,
        stop_on: Iterable[str] = (),
        check_every: int = 1,
        min_points: int = 5,
        report_path: str | None = None,
        on_finding: Callable[[Alert], Any] | None = None,
        level: str = "warning",
        settings: Settings | None = None,
        source: str = "<monitor>",
        say: Callable[[str], Any] | None = None,
        framework: str | None = None,
        points: Callable[[], int] | None = None,
        line: Callable[[Alert], str] | None = None,
    ):
        if isinstance(stop_on, str):
            stop_on = (stop_on,)
        if check_every < 1:
            raise ValueError("check_every must be at least 1")
        if min_points < 1:
            raise ValueError("min_points must be at least 1")
        severity_rank(level)  # a ValueError for an unknown level
        self.stop_on = frozenset(stop_on)
        self.check_every = int(check_every)
        self.min_points = int(min_points)
        self.report_path = report_path
        self.on_finding = on_finding
        self.level = level
        self.say = say or (lambda line: None)
        self.monitor = Monitor(settings, source=source, framework=framework)
        #: how many points have arrived, as ``min_points`` counts them (default: rows; Lightning,
        #: which logs a training and a validation row per epoch, counts evaluations)
        self.points = points or (lambda: self.monitor.rows)
        #: how a finding is worded in the framework's log (default: :meth:`Alert.line`)
        self.line = line or Alert.line
        self._evaluations = 0
        self.stopped_by: Finding | None = None
        self._said: set[str] = set()

    def log(self, step: Any = None, epoch: Any = None, **metrics: Any) -> None:
        self.monitor.log(step, epoch, **metrics)

    def _non_finite_loss(self) -> bool:
        """A NaN or infinity arrived in a loss or gradient-norm column (checked without a trend)."""
        for name, col in self.monitor._cols.items():
            low = name.lower()
            if "loss" in low or "grad_norm" in low:
                n = self.monitor.rows
                v = col.values[:n][col.present[:n]]
                if v.size and not np.isfinite(v).all():
                    return True
        return False

    def evaluate(self) -> bool:
        """Called where the framework evaluates (epoch end, validation end, a log event): checks
        when due, says each new finding once, and returns whether to stop the run."""
        if self.monitor.rows == 0:
            return False
        self._evaluations += 1
        urgent = self._non_finite_loss()
        enough = self.points() >= self.min_points
        if not urgent and (not enough or self._evaluations % self.check_every):
            return False
        report = self.monitor.check()
        for a in self.monitor.alerts:
            f = a.finding
            if f.code in self._said or severity_rank(f.severity) < severity_rank(self.level):
                continue
            if not enough and f.verdict != "diverged":
                continue  # said once min_points have arrived, with the position it first appeared at
            self._said.add(f.code)
            self.say(self.line(a))
            if self.on_finding is not None:
                self.on_finding(a)
        if self.stopped_by is None and self.stop_on:
            if enough or urgent:
                reason = stop_reason(report, self.stop_on)
                if reason is not None and (enough or reason.verdict == "diverged"):
                    self.stopped_by = reason
                    # the finding's message once: when it was just said, the stop names it only
                    tail = "" if reason.code in self._said else f": {reason.message}"
                    self.say(f"curvediag: stopping training: {reason.code} {reason.name}{tail}")
                    self.write_report()
                    return True
        return False

    def write_report(self) -> None:
        """The JSON report of the rows so far to ``report_path`` (atomically), when one was given."""
        if not self.report_path or self.monitor.rows == 0:
            return
        import json

        from .output import write_output

        report = self.monitor.check()
        write_output(self.report_path, json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n")

    def close(self) -> None:
        """Training ended: a last check (findings said as usual) and the report written."""
        if self.monitor.rows:
            self._evaluations = self.check_every - 1  # the last evaluation is always checked
            if self.stopped_by is None:
                self.evaluate()
            self.write_report()


__all__ = ["Monitor", "Observer", "Alert", "stop_reason", "fresh_alerts", "last_position"]
