"""Results: frozen dataclasses that renderers only read -- a :class:`Report` per log, and a
:class:`Batch` (a Report or an :class:`Unreadable` entry per input, the settings and the rules that
ran) for many.  The model imports no renderer and no plotter; its notebook methods are in
:mod:`curvediag.notebook`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from ._version import __version__
from .curves import SourceInfo
from .settings import Settings
from .verdict import Verdict, verdict_of
from .vocabulary import SEVERITIES as SEVERITIES  # the severities, mildest first (curvediag.vocabulary.Severity)
from .vocabulary import severity_rank

SCHEMA_VERSION = 2

#: The verdicts' values, in precedence order (:class:`~curvediag.verdict.Verdict` carries each one's
#: severity, precedence and headline).
VERDICTS = tuple(v.value for v in Verdict)

#: A report whose verdict fewer than this share of the copies of its run agree with is borderline
#: (:attr:`Report.borderline`): shown as "X or Y" and, by default, not failing the gate on the verdict.
BORDERLINE = 0.5
#: A verdict at least this share of the copies agree with is sure: the headline names no alternative,
#: and a live check (Monitor, callbacks, pruners) may stop training on it.
SURE = 0.75


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    verdict: str | None
    severity: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    span: tuple[float, float] | None = None  # axis positions [start, end]
    remedies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Skipped:
    code: str
    name: str
    reason: str


@dataclass(frozen=True)
class MetricSummary:
    name: str
    column: str
    points: int
    non_finite: int
    first: float | None
    best: float | None
    best_at: float | None
    last: float | None
    lower_is_better: bool
    values: tuple[float, ...] = ()  # the curve, downsampled for sparklines
    #: the name a person reads: the column ('eval_wer', 'eval_overall_f1') for a quality metric or
    #: an error rate in the val_acc slot, whose values are then as logged; else ``name``
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)

    @property
    def best_epoch(self) -> float | None:
        """:attr:`best_at` under its JSON name (``metrics.<name>.best_epoch``)."""
        return self.best_at


class Metrics(tuple):
    """A report's :class:`MetricSummary` tuple, also indexed by name: ``report.metrics["val_loss"]``
    (the canonical name, as the JSON's keys) or by the column as logged (``["eval_wer"]``).
    Iterating, ``len`` and positions work as on any tuple."""

    def __getitem__(self, key: Any) -> Any:  # a name: its summary; an int or slice: as on a tuple
        if isinstance(key, str):
            found = self.get(key)
            if found is None:
                raise KeyError(f"{key!r}: no such metric (this report has {', '.join(self.names()) or 'none'})")
            return found
        return super().__getitem__(key)

    def get(self, name: str, default: MetricSummary | None = None) -> MetricSummary | None:
        for m in self:
            if m.name == name:
                return m
        for m in self:
            if m.column == name:
                return m
        return default

    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self)

    keys = names

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return self.get(item) is not None
        return super().__contains__(item)


@dataclass(frozen=True)
class Horizon:
    """The projected judged loss ``more`` axis units after the end (see projection.py)."""

    position: float  # axis position projected to
    more: float  # axis units beyond the last point
    value: float  # projected (smoothed) level
    low: float  # interval, at the projection's nominal level
    high: float
    change: float  # (value - at_end) / at_end: negative = the loss falls
    change_low: float
    change_high: float

    def to_dict(self) -> dict[str, Any]:
        return _numbers({k: getattr(self, k) for k in
                         ("position", "more", "value", "low", "high", "change", "change_low", "change_high")})


@dataclass(frozen=True)
class Projection:
    """What more training would buy: the judged loss (val_loss, else the only loss)
    +50% and +100% of the run's length further, or the ``reason`` it was not projected."""

    metric: str
    unit: str  # "epoch" or "step"
    at_end: float | None  # the smoothed current level (the fit at the last point)
    end_position: float | None
    length: float | None  # the run's length on the axis (+100% adds this much)
    horizon_50: Horizon | None
    horizon_100: Horizon | None
    family: str | None  # the best-fitting family ("power law", "exponential")
    points_used: int
    level: float  # nominal coverage of the interval
    reason: str | None = None  # why not projected; None when projected

    @property
    def projected(self) -> bool:
        return self.reason is None and self.horizon_100 is not None

    def summary(self) -> str:
        """One sentence for people: 'another 25 epochs would lower val_loss by about 3.1% (range 1.2-5.0%); ...'."""
        if not self.projected:
            return str(self.reason)
        parts = []
        for i, h in enumerate(h for h in (self.horizon_50, self.horizon_100) if h is not None):
            gain, lo, hi = -h.change * 100, -h.change_high * 100, -h.change_low * 100
            verb = "lower" if gain >= 0 else "raise"
            word = f" {self.metric}" if i == 0 else ""
            rng = f"{_pct(lo)}-{_pct(hi)}%" if lo >= 0 else f"{_pct(lo)} to {_pct(hi)}%"
            parts.append(f"another {_count(h.more, self.unit)} would {verb}{word} by about {_pct(abs(gain))}% (range {rng})")
        return "; ".join(parts) + f" ({self.level:.0%} range, {self.family} fit to the last {self.points_used} points)"

    def to_dict(self) -> dict[str, Any]:
        return _numbers({
            "metric": self.metric,
            "projected": self.projected,
            "reason": self.reason,
            "unit": self.unit,
            "at_end": self.at_end,
            "end_position": self.end_position,
            "length": self.length,
            "level": self.level,
            "family": self.family,
            "points_used": self.points_used,
            "horizon_50": None if self.horizon_50 is None else self.horizon_50.to_dict(),
            "horizon_100": None if self.horizon_100 is None else self.horizon_100.to_dict(),
            "summary": self.summary(),
        })


def _pct(v: float) -> str:
    return f"{v:.1f}" if abs(v) < 10 else f"{v:.0f}"


def _count(v: float, unit: str) -> str:
    """'25 epochs', '1 epoch', '5,000 steps'."""
    n = round(v)
    return f"{n:,} {unit}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class Report:
    source: SourceInfo
    verdict: str
    severity: str
    headline: str
    best_epoch: float | None
    best_epoch_metric: str | None
    onset_epoch: float | None
    epochs_after_best: float | None
    final_gap: Mapping[str, float | None]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    metrics: tuple[MetricSummary, ...]
    interpretation: str | None = None
    projection: Projection | None = None
    #: what to do: every finding's remedies once, in the log's framework, the deciding finding's first
    remedies: tuple[str, ...] = ()
    #: the share of copies of the run, drawn from its own noise, judged the same way (None: too short)
    confidence: float | None = None
    #: the verdict the other copies give most often (None when all agree)
    alternative: str | None = None

    @property
    def borderline(self) -> bool:
        """The verdict could go either way: under :data:`BORDERLINE` of the copies of the run agree."""
        return self.confidence is not None and self.confidence < BORDERLINE and self.alternative is not None

    def gate_severity(self, borderline_fails: bool = False) -> str:
        """The severity the CI gate compares with ``--fail-on``: the worst finding's, except that the
        verdict of a borderline report counts only as far as its alternative would (a run that is
        overfitting or healthy does not fail a warning gate) unless ``borderline_fails``."""
        if borderline_fails or not self.borderline or self.alternative is None:
            return self.worst_severity()
        cap = verdict_of(self.alternative).severity
        sev = [f.severity for f in self.findings if f.verdict != self.verdict]
        sev += [min(f.severity, cap, key=severity_rank) for f in self.findings if f.verdict == self.verdict]
        return max(sev, key=severity_rank, default="ok")

    def __post_init__(self) -> None:
        if not isinstance(self.metrics, Metrics):
            object.__setattr__(self, "metrics", Metrics(self.metrics))

    @property
    def schema_version(self) -> int:
        return SCHEMA_VERSION

    @property
    def curvediag_version(self) -> str:
        return __version__

    def __repr__(self) -> str:
        import os

        name = os.path.basename(self.source.path) or self.source.path
        n = len(self.findings)
        best = ""
        if self.best_epoch is not None:
            best = f", best {self.best_epoch_metric or 'value'} at {self.source.axis} {self.best_epoch:g}"
        return f"<Report {self.verdict} ({self.severity}) {name!r}: {n} finding{'' if n == 1 else 's'}{best}>"

    def to_text(self, full: bool = False, width: int = 100) -> str:
        """The report as ``curvediag analyze`` prints it, as plain text (no colour), ``width`` columns."""
        from .notebook import to_text  # the notebook face: the one import upward (see tests/engine/test_layers.py)

        return to_text(self, full, width)

    def plot(self, path: str | None = None) -> Any:
        """The chart ``--plot`` draws (needs matplotlib, the ``plot`` extra): written to ``path``
        (.png, .svg or .html) when given, else returned as a matplotlib Figure (a notebook shows it).
        Only a report from :func:`curvediag.diagnose` holds the curves it needs."""
        from .notebook import plot

        return plot(self, path)

    def _repr_html_(self) -> str:
        """For notebooks: the verdict, the headline, the metrics table, the findings and (with
        matplotlib and the curves) the chart as an inline PNG."""
        from .notebook import report_html

        return report_html(self)

    def worst_severity(self) -> str:
        return max((f.severity for f in self.findings), key=severity_rank, default="ok")

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (see docs/json.md): one report object (``--format json`` prints an array
        of them; a callback's ``report_path`` holds one).  A number that is NaN or infinite is
        ``null``, named in its object's ``non_finite_values`` (see :func:`_numbers`)."""
        return _numbers({
            "schema_version": SCHEMA_VERSION,
            "curvediag_version": __version__,
            "source": {
                "path": self.source.path,
                "format": self.source.format,
                "rows": self.source.rows,
                "axis": self.source.axis,
                "columns": dict(self.source.columns),
                "notes": list(self.source.notes),
            },
            "verdict": self.verdict,
            "severity": self.severity,
            "headline": self.headline,
            "best_epoch": self.best_epoch,
            "best_epoch_metric": self.best_epoch_metric,
            "onset_epoch": self.onset_epoch,
            "epochs_after_best": self.epochs_after_best,
            "final_gap": _numbers(dict(self.final_gap)),
            "interpretation": self.interpretation,
            "findings": [
                _numbers({
                    "code": f.code,
                    "name": f.name,
                    "verdict": f.verdict,
                    "severity": f.severity,
                    "message": f.message,
                    "evidence": _numbers(dict(f.evidence)),
                    "span": None if f.span is None else [f.span[0], f.span[1]],
                    "remedies": list(f.remedies),
                })
                for f in self.findings
            ],
            "skipped": [{"code": s.code, "name": s.name, "reason": s.reason} for s in self.skipped],
            "metrics": {
                m.name: _numbers({
                    "column": m.column,
                    "points": m.points,
                    "non_finite": m.non_finite,
                    "first": m.first,
                    "best": m.best,
                    "best_epoch": m.best_at,
                    "last": m.last,
                    "lower_is_better": m.lower_is_better,
                    "label": m.label,
                })
                for m in self.metrics
            },
            "projection": None if self.projection is None else self.projection.to_dict(),
            "remedies": list(self.remedies),
            "confidence": self.confidence,
            "alternative": self.alternative,
            "borderline": self.borderline,
        })


#: the key, in an object of the JSON contract, naming its numbers that are not finite
NON_FINITE = "non_finite_values"


def _flag(v: Any) -> str | None:
    """``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` for a number that is not finite, else None."""
    if hasattr(v, "item") and not isinstance(v, (int, float)):  # numpy scalar
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    return None


def _numbers(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` for JSON: each number through :func:`_num` (NaN and infinity become ``null``), and, when
    any was not finite, ``non_finite_values`` naming them: ``{"last": "NaN"}``; a pair such as
    ``span`` as ``{"span": [null, "Infinity"]}``.  Absent when every number is finite."""
    flags: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, (list, tuple)) and any(_flag(x) for x in v):
            flags[k] = [_flag(x) for x in v]
        elif _flag(v):
            flags[k] = _flag(v)
        out[k] = [_num(x) for x in v] if isinstance(v, (list, tuple)) and k == "span" else _num(v)
    if flags:
        out[NON_FINITE] = flags
    return out


def _num(v: Any) -> Any:
    """A number for JSON: NaN and infinity (which JSON cannot hold) become None -- :func:`_numbers`
    names them beside it; whole floats become integers; others are rounded to 6 significant digits."""
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
        return round(v, 6) if abs(v) >= 1e-3 else float(f"{v:.6g}")
    if hasattr(v, "item"):  # numpy scalar
        return _num(v.item())
    return v


@dataclass(frozen=True)
class Unreadable:
    """An input that gave no report: ``message`` is its one line for stderr (``path: problem``)."""

    path: str
    problem: str
    message: str


@dataclass(frozen=True)
class Batch:
    """What a run over ``paths`` produced: ``items[i]`` is the Report or Unreadable of ``paths[i]``.
    ``rules`` are the (code, name) of the rules the settings switched on: what ran on each log."""

    paths: tuple[str, ...]
    items: tuple[Union[Report, Unreadable], ...]
    settings: Settings = field(default_factory=Settings)
    rules: tuple[tuple[str, str], ...] = ()

    @property
    def reports(self) -> list[Report]:
        return [r for r in self.items if not isinstance(r, Unreadable)]

    @property
    def unreadable(self) -> list[Unreadable]:
        return [r for r in self.items if isinstance(r, Unreadable)]

    @property
    def single(self) -> bool:
        """One input was given."""
        return len(self.paths) == 1
