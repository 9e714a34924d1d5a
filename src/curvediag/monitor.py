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
copy of the columns) and runs the rules on them, reusing the last check's projection when the
rows since left the judged curve as it was (training steps between evaluations: the same numbers
without refitting, ``projection.MEMO``): ``benchmarks/monitor.py`` prints the cost per check at
100, 10k and 1M points.
"""

from __future__ import annotations

import numbers
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ._np import np

from .settings import Settings
from . import projection
from .pipeline import curves_of, diagnose_curves
from .report import SURE, Finding, Report, severity_rank
from .errors import UsageError
from .output import write_output
from .report import _numbers
from .table import RawTable

#: the axis columns :meth:`Monitor.log` takes as keywords
AXES = ("step", "epoch")
#: distinct metric names one Monitor takes (as many as a log file may have columns): a name
#: past it is a ValueError naming the limit, never a slow death by memory
MAX_NAMES = 10_000

#: the largest ``patience`` and ``min_points`` taken (a run of a billion evaluations is beyond any trial)
MAX_COUNT = 10**9


def whole(name: str, value: object, *, none_ok: bool = False) -> int | None:
    """``value`` as an int if it is a whole number from 1 to :data:`MAX_COUNT` (an int, or a float
    or numpy number with no fraction); else a ValueError naming ``name`` (``inf``, ``nan``, ``1e300``,
    ``2.5``, ``True``, a string)."""
    import math

    if value is None and none_ok:
        return None
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok:
        try:
            x = float(value)  # type: ignore[arg-type]
        except OverflowError:  # an int beyond any float
            x = math.inf
        ok = math.isfinite(x) and x.is_integer() and 1 <= x <= MAX_COUNT
    if not ok:
        also = ", or None" if none_ok else ""
        raise ValueError(f"{name} must be a whole number from 1 to {MAX_COUNT:,}{also} (got {value!r})")
    return int(value)  # type: ignore[call-overload]


class _Column:
    """One metric's points as logged: the rows that logged it and their values, each array
    grown by doubling with this column's own count -- memory is linear in the values logged,
    however many names there are and however late each first appears.

    :meth:`dense` gives the column as a table holds it (NaN and a presence mask where a row did
    not log it), built only for the columns a check reads and kept, so that the next call
    scatters only the points that arrived since (views: later appends never change them)."""

    __slots__ = ("rows", "vals", "count", "_values", "_present", "_filled")

    def __init__(self) -> None:
        self.rows = np.empty(4, dtype=np.int64)
        self.vals = np.empty(4)
        self.count = 0
        self._values: np.ndarray | None = None
        self._present: np.ndarray | None = None
        self._filled = 0  # points scattered into the dense arrays

    def append(self, row: int, value: float) -> None:
        k = self.count
        if k == self.rows.size:
            self.rows = np.concatenate([self.rows, np.empty(k, dtype=np.int64)])
            self.vals = np.concatenate([self.vals, np.empty(k)])
        self.rows[k] = row
        self.vals[k] = value
        self.count = k + 1

    @property
    def values(self) -> np.ndarray:
        """The values logged, in order (a view)."""
        return self.vals[: self.count]

    def dense(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) over the first ``n`` rows (every point logged so far is scattered,
        also those of rows past ``n`` a later snapshot will show)."""
        v, p = self._values, self._present
        k = self.count
        need = max(n, int(self.rows[k - 1]) + 1 if k else 0)  # rows are logged in order
        if v is None or p is None or v.size < need:
            size = max(need, 64 if v is None else 2 * v.size)
            nv, np_ = np.full(size, np.nan), np.zeros(size, dtype=bool)
            if v is not None and p is not None:
                nv[: v.size], np_[: p.size] = v, p
            self._values, self._present, v, p = nv, np_, nv, np_
        if self._filled < k:
            idx = self.rows[self._filled:k]
            v[idx] = self.vals[self._filled:k]
            p[idx] = True
            self._filled = k
        return v[:n], p[:n]


class _Dense(Mapping):
    """A table's ``values`` or ``present`` by name, each column made dense when first read
    (``to_curves`` reads only the columns it maps): a Monitor with many sparse names never
    holds them all dense."""

    def __init__(self, cols: dict[str, _Column], names: list[str], n: int, part: int):
        self._cols, self._names, self._n, self._part = cols, names, n, part
        self._made: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        got = self._made.get(name)
        if got is None:
            if name not in self._cols or name not in self._names:
                raise KeyError(name)
            got = self._made[name] = self._cols[name].dense(self._n)[self._part]
        return got

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class _LockedDense(_Dense):
    """:class:`_Dense` whose columns are made under the Monitor's lock (another thread may be
    appending to them)."""

    def __init__(self, lock, *args):
        super().__init__(*args)
        self._lock = lock

    def __getitem__(self, name: str) -> np.ndarray:
        got = self._made.get(name)
        if got is None:
            with self._lock:
                got = super().__getitem__(name)
        return got


def _number(value: Any) -> float | None:
    """``value`` as a float when it is a number (a Python or numpy number, a 0-d tensor), else None.
    NaN and infinity are kept: they are evidence."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:  # an int (or Fraction) beyond any float: as large as a float gets
            return float("inf") if value > 0 else float("-inf")  # type: ignore[operator]
    shape = getattr(value, "shape", None)  # numpy, torch, tensorflow, jax scalars
    try:
        if shape is not None and tuple(shape) == () and getattr(getattr(value, "dtype", None), "kind", "f") != "b":
            return float(value)
    except (TypeError, ValueError, RuntimeError, OverflowError):
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
    ``on_alert`` is called with each new :class:`Alert`.

    Memory is linear in the values logged (each name keeps only its own points); at most
    :data:`MAX_NAMES` distinct names are taken, a row with one more is a ValueError naming the
    limit (and logs nothing).  :meth:`log` may be called from several threads at once (a lock
    keeps each row whole); :meth:`check` reads a consistent snapshot of the rows so far, but is
    meant to be called from one thread at a time (the training loop's)."""

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
        self._lock = threading.Lock()
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
        with self._lock:
            new = [name for name in row if name not in self._cols]
            if new and len(self._cols) + len(new) > MAX_NAMES:
                raise ValueError(
                    f"curvediag Monitor: more than {MAX_NAMES:,} distinct metric names (a new one: {new[0][:80]!r}); "
                    "a training log has tens: log per-item values under one name, or use another Monitor"
                )
            n = self._rows
            for name, v in row.items():
                col = self._cols.get(name)
                if col is None:
                    col = self._cols[name] = _Column()
                col.append(n, v)
            self._rows = n + 1

    @property
    def rows(self) -> int:
        """Rows logged so far."""
        return self._rows

    def columns(self) -> dict[str, np.ndarray]:
        """The logged columns (copies), NaN where a row did not log the metric."""
        with self._lock:
            n = self._rows
            out = {}
            for k, c in self._cols.items():
                v = np.full(n, np.nan)
                v[c.rows[: c.count]] = c.values
                out[k] = v
            return out

    def table(self):
        """The rows logged so far as the :class:`~curvediag.table.RawTable` a reader would make
        of them: a snapshot (rows logged later, from any thread, are not in it) whose columns are
        made dense only when read (``values`` and ``present`` are read-only mappings)."""
        with self._lock:
            n = self._rows
            names = list(self._cols)
            cols = dict(self._cols)
            for c in cols.values():  # scatter the new points now, under the lock, for the columns made dense
                if c._values is not None:
                    c.dense(n)
        return RawTable(
            names,
            _LockedDense(self._lock, cols, names, n, 0),
            _LockedDense(self._lock, cols, names, n, 1),
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
        s = self.settings
        if s.columns.get("metric") and s.columns.get("val_acc"):
            raise UsageError("give metric or val_acc, not both")
        # rows that left the judged curve as it was (training steps between evaluations) reuse
        # the last check's projection: the same numbers, without refitting
        token = projection.MEMO.set(self.__dict__.setdefault("_projection_memo", {}))
        try:
            curves = curves_of(self.table(), self.source, s)
            report = diagnose_curves(curves, s)[0]
        finally:
            projection.MEMO.reset(token)
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


def report_target_problem(path: "str | os.PathLike[str]") -> str | None:
    """Why a report of curvediag's own may not be written to ``path`` (None: it may): a symbolic
    link (never written through), something other than a regular file, or a file that is not a
    curvediag JSON report (its first bytes name ``schema_version`` and ``curvediag_version``)."""
    import stat

    p = os.fspath(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"{p}: {e.strerror or e}"
    if stat.S_ISLNK(st.st_mode):
        return f"{p}: is a symbolic link; the report is written only to a file of its own"
    if not stat.S_ISREG(st.st_mode):
        return f"{p}: not a regular file; the report is written only to a file of its own"
    if st.st_size == 0:
        return None
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as e:
        return f"{p}: {e.strerror or e}"
    if not (head.lstrip().startswith(b"{") and b'"schema_version"' in head and b'"curvediag_version"' in head):
        return f"{p}: exists and is not a curvediag report (the training log?); not overwritten"
    return None


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
    """The finding that matches ``on`` (a verdict, code or name), the deciding one first.  A verdict
    finding of a report that is not sure (under ``report.SURE`` of the copies of the run agree) stops
    nothing: a prefix of a good run must not be killed on evidence inside its own noise."""
    unsure = report.confidence is not None and report.confidence < SURE
    matches = [f for f in report.findings if (f.verdict in on or f.code in on or f.name in on)
               and not (unsure and f.verdict is not None)]
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
      ``curvediag analyze --format json`` prints).  It only ever replaces a curvediag report: a
      file there that is anything else (the training log itself, say) or a symbolic link is left
      as it is -- a ValueError when the Observer is made, one line said instead of the report at
      the end (a file the training created meanwhile);
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
        severity_rank(level)  # a ValueError for an unknown level
        self.stop_on = frozenset(stop_on)
        self.check_every: int = whole("check_every", check_every)  # type: ignore[assignment]  # never None here
        self.min_points: int = whole("min_points", min_points)  # type: ignore[assignment]
        if report_path is not None:
            problem = report_target_problem(report_path)
            if problem:
                raise ValueError(problem)
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
        with self.monitor._lock:
            for name, col in self.monitor._cols.items():
                low = name.lower()
                if "loss" in low or "grad_norm" in low:
                    v = col.values
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


        report = self.monitor.check()
        problem = report_target_problem(self.report_path)
        if problem:
            self.say(f"curvediag: report not written: {problem}")
            return
        try:
            write_output(self.report_path, json.dumps(report.to_dict(), indent=2, allow_nan=False) + "\n", follow_links=False)
        except (UsageError, OSError) as e:  # never a traceback at the end of a training run
            self.say(f"curvediag: report not written: {getattr(e, 'strerror', None) or e}")

    def close(self) -> None:
        """Training ended: a last check (findings said as usual) and the report written."""
        if self.monitor.rows:
            self._evaluations = self.check_every - 1  # the last evaluation is always checked
            if self.stopped_by is None:
                self.evaluate()
            self.write_report()


__all__ = ["Monitor", "Observer", "Alert", "stop_reason", "fresh_alerts", "last_position"]
