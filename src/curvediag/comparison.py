"""A run compared with its baseline: what one run alone cannot show.

:func:`compare` diagnoses the run and each baseline log (the seeds of the recipe the run is meant
to match) with :func:`curvediag.engine.analyse`, measures both on the same footing
(:class:`Comparison`) and runs the comparison rules (:data:`curvediag.rules.BASELINE_RULES`, codes
``B1xx``) on them.  The result is the run's own :class:`~curvediag.report.Report` -- its verdict
unchanged -- with the comparison findings added and the headline saying what regressed, so every
output format and the exit status carry it.

Every measure is scale-free (losses multiplied by 10 give the same findings) and judged against
the baseline's own variation: the spread (standard deviation) of its seeds when several are given,
else the noise of its one curve.  A measure regresses when it lies beyond the worst baseline seed
by more than ``spreads`` times that spread *and* by a ``margin`` relative to the baseline's level.

:func:`compare_paths` is what ``curvediag compare`` and ``analyze --baseline`` run: a
:class:`~curvediag.batch.Batch` of compared runs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Sequence

from ._np import np, quiet_numerics

from .analysis import Context, Track
from .settings import Settings, rule_enabled
from .curves import TRAIN_LOSS, Curves
from .errors import CurvediagError
from .pipeline import diagnose_curves, diagnose_log
from .report import Finding, Report, Skipped

if TYPE_CHECKING:
    from .batch import Batch, Unreadable

#: points of the common axis the area between two curves is measured on
GRID_POINTS = 64


@dataclass(frozen=True, eq=False)
class Profile:
    """One log's measures: its judged curve (val_loss, else loss, else 1 - metric) and training
    loss, and the verdict its own diagnosis gave."""

    source: str
    verdict: str
    judged: Track | None
    train: Track | None
    onset: float | None
    axis: str = "epoch"

    @classmethod
    def of(cls, curves: Curves, report: Report, settings: Settings) -> "Profile":
        ctx = Context(curves, {}, settings.num_classes)
        return cls(curves.source.path, report.verdict, ctx.judged, ctx.track(TRAIN_LOSS), report.onset_epoch,
                   curves.axis_kind)

    @property
    def best(self) -> float:
        assert self.judged is not None
        return float(np.min(self.judged.s))

    @property
    def best_at(self) -> float:
        assert self.judged is not None
        return float(self.judged.x[int(np.argmin(self.judged.s))])

    def onset_at(self, tolerance: float) -> float:
        """The last position where the smoothed judged curve is within ``tolerance`` of its fall
        (start level minus best; at least 2% of the best) of its best: where it climbs away."""
        assert self.judged is not None
        t = self.judged
        best = float(np.min(t.s))
        near = best + max(tolerance * max(t.start - best, 0.0), 0.02 * abs(best))
        return float(t.x[np.nonzero(t.s <= near)[0][-1]])

    @property
    def final(self) -> float:
        assert self.judged is not None
        from .stats import end_level

        return end_level(self.judged.y)

    @property
    def floor(self) -> float:
        assert self.train is not None
        return float(np.min(self.train.s))


@dataclass(frozen=True)
class Beyond:
    """A run's measure against the baseline's: ``limit`` is the worst seed plus the larger of
    ``spreads`` times the spread and ``margin`` of the worst seed's level."""

    run: float
    low: float
    high: float
    spread: float
    limit: float
    seeds: int

    @property
    def regressed(self) -> bool:
        return self.run > self.limit

    @property
    def excess(self) -> float:
        """How far the run lies above the worst seed, relative to its level."""
        return (self.run - self.high) / abs(self.high) if self.high else math.inf

    def evidence(self, prefix: str = "") -> dict[str, Any]:
        return {f"{prefix}run": self.run, f"{prefix}baseline_low": self.low, f"{prefix}baseline_high": self.high,
                f"{prefix}baseline_spread": self.spread, f"{prefix}limit": self.limit, "baseline_logs": self.seeds}


def beyond(run: float, base: Sequence[float], noise: float, spreads: float, margin: float,
           scale: float | None = None) -> Beyond:
    """``run`` against the baseline values ``base`` (higher is worse).  The spread is the seeds'
    standard deviation, or with one baseline log its curve's ``noise``; ``margin`` is relative to
    ``scale`` (default: the worst seed's level)."""
    vals = [float(v) for v in base]
    hi = max(vals)
    spread = float(np.std(vals, ddof=1)) if len(vals) > 1 else (noise if math.isfinite(noise) else 0.0)
    ref = abs(hi) if scale is None else abs(scale)
    return Beyond(float(run), min(vals), hi, spread, hi + max(spreads * spread, margin * ref), len(vals))


@dataclass(frozen=True, eq=False)
class Comparison:
    """The run and its baseline logs, measured on the same curves (what the B rules read)."""

    run: Profile
    baseline: tuple[Profile, ...]
    axis_word: str = "epoch"

    def judged_or_skip(self) -> str:
        """The name of the judged curve every log has, or Skip saying which log lacks it."""
        from .analysis import MIN_POINTS
        from .rules import Skip

        if self.run.judged is None or self.run.judged.n < MIN_POINTS:
            raise Skip("the run has no curve to judge")
        name = self.run.judged.name
        for b in self.baseline:
            if b.judged is None or b.judged.n < MIN_POINTS:
                raise Skip(f"baseline {b.source} has no curve to judge")
            if b.judged.name != name:
                raise Skip(f"the run is judged on {name}, baseline {b.source} on {b.judged.name}")
        return name

    def same_axis_or_skip(self) -> None:
        """Skip unless the run and every baseline log are on the same kind of axis (epochs, steps)."""
        from .rules import Skip

        for b in self.baseline:
            if b.axis != self.run.axis:
                raise Skip(f"the run is on a{'n' if self.run.axis[0] in 'aei' else ''} {self.run.axis} axis, "
                           f"baseline {b.source} on a{'n' if b.axis[0] in 'aei' else ''} {b.axis} axis")

    def noise(self) -> float:
        """The noise of the one baseline log's judged curve (NaN with several: their spread is used)."""
        j = self.baseline[0].judged
        return j.sigma if len(self.baseline) == 1 and j is not None else math.nan

    def grid(self) -> "np.ndarray":
        """The common axis: the positions every judged curve covers."""
        from .rules import Skip

        self.same_axis_or_skip()
        curves = [p.judged for p in (self.run, *self.baseline) if p.judged is not None]
        lo = max(float(t.x[0]) for t in curves)
        hi = min(float(t.x[-1]) for t in curves)
        if not hi > lo:
            raise Skip("the run and the baseline share no stretch of the axis")
        return np.linspace(lo, hi, GRID_POINTS)

    @property
    def length(self) -> float:
        """The baseline's length on the axis (the longest seed)."""
        return max(float(p.judged.x[-1] - p.judged.x[0]) for p in self.baseline if p.judged is not None)


def _on(t: Track, grid) -> "np.ndarray":
    return np.interp(grid, t.x, t.s)


def area(cmp: Comparison) -> dict[str, Any]:
    """The mean gap between the run's smoothed judged curve and the mean of the baseline's, on the
    axis they share, relative to the baseline's own improvement (its start level minus its best);
    with several seeds, each seed's area against the mean of the others (their spread)."""
    from .rules import Skip

    grid = cmp.grid()
    base = [p.judged for p in cmp.baseline if p.judged is not None]
    assert cmp.run.judged is not None
    on = np.array([_on(t, grid) for t in base])
    mean = on.mean(axis=0)
    improvement = float(np.mean([t.start - float(np.min(t.s)) for t in base]))
    if not improvement > 0:
        raise Skip("the baseline's judged curve did not improve: no scale to measure the area against")
    run_area = float(np.mean(_on(cmp.run.judged, grid) - mean)) / improvement
    if len(base) > 1:
        seeds = [float(np.mean(on[i] - np.delete(on, i, axis=0).mean(axis=0))) / improvement for i in range(len(base))]
    else:
        seeds = [0.0]
    return {"run": run_area, "seeds": seeds, "improvement": improvement, "from": float(grid[0]), "to": float(grid[-1])}


def rank(verdict: str) -> int:
    from .report import severity_rank
    from .verdict import verdict_of

    return severity_rank(verdict_of(verdict).severity)


def rule_options(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each comparison rule's options: its defaults with the settings' overrides (checked)."""
    from .engine import rule_options as options
    from .rules import BASELINE_RULES

    return options(settings.rules, BASELINE_RULES)


def enabled_rules(settings: Settings) -> tuple[tuple[str, str], ...]:
    from .rules import BASELINE_RULES

    return tuple((r.code, r.name) for r in BASELINE_RULES if rule_enabled(r.code, r.name, settings.select, settings.ignore))


@quiet_numerics
def compare_reports(run: tuple[Report, Curves], baseline: Sequence[tuple[Report, Curves]], settings: Settings) -> Report:
    """The run's report with the comparison findings (and skips) added; see the module's doc."""
    from .rules import BASELINE_RULES, Skip

    if not baseline:
        raise CurvediagError("a comparison needs at least one baseline log")
    report, curves = run
    cmp = Comparison(Profile.of(curves, report, settings), tuple(Profile.of(c, r, settings) for r, c in baseline),
                     "step" if curves.axis_kind == "step" else "epoch")
    opts = rule_options(settings)
    found: list[Finding] = []
    skipped: list[Skipped] = []
    for rule_cls in BASELINE_RULES:
        if not rule_enabled(rule_cls.code, rule_cls.name, settings.select, settings.ignore):
            continue
        rule = rule_cls()
        try:
            f = rule.compare(cmp, opts[rule.code])
        except Skip as s:
            skipped.append(Skipped(rule.code, rule.name, str(s)))
            continue
        if f is not None:
            found.append(f)
    return replace(report, findings=report.findings + tuple(found), skipped=report.skipped + tuple(skipped),
                   headline=_headline(report.headline, found, len(baseline)))


def _headline(own: str, found: list[Finding], n: int) -> str:
    from .report import severity_rank

    logs = f"{n} log{'s' if n != 1 else ''}"
    worst = [f for f in found if f.severity != "info"]
    if not worst:
        return f"{own} No regression against the baseline ({logs})."
    worst.sort(key=lambda f: -severity_rank(f.severity))  # stable: rule order within a severity
    more = f" (and {len(worst) - 1} more)" if len(worst) > 1 else ""
    return f"{own} Regression against the baseline ({logs}): {worst[0].code} {worst[0].message.split('; ')[0]}{more}."


def compare(baseline: Any, run: Any, settings: Settings | None = None) -> Report:
    """Compare ``run`` with ``baseline`` and return the run's Report with the comparison findings.

    ``baseline`` is one log or a sequence of them (the seeds of the reference recipe); each log, and
    ``run``, is a path, a DataFrame, a Keras history dict or :class:`~curvediag.curves.Curves`
    already read.  ``settings`` is a :class:`~curvediag.config.Settings` (defaults when None).
    Raises :class:`~curvediag.errors.InputError` for a log that cannot be read."""
    s = settings or Settings()
    logs = [baseline] if isinstance(baseline, (str, bytes, os.PathLike, Curves, dict)) or hasattr(baseline, "columns") else list(baseline)

    def pair(log: Any) -> tuple[Report, Curves]:
        return diagnose_curves(log, s) if isinstance(log, Curves) else diagnose_log(log, s)

    return compare_reports(pair(run), [pair(b) for b in logs], s)


def read_baseline(paths: Sequence[str], settings: Settings, debug: bool = False) -> list[tuple[Report, Curves]]:
    """Each baseline log diagnosed: raises CurvediagError with the first unreadable one's line."""
    from .batch import Unreadable, one

    out = []
    for p in paths:
        r = one(p, settings, debug)
        if isinstance(r, Unreadable):
            raise CurvediagError(f"baseline {r.message}")
        out.append(r)
    return out


def compare_paths(baseline: Sequence[tuple[Report, Curves]], runs: Sequence[str], settings: Settings,
                  debug: bool = False, own_rules: bool = True) -> tuple["Batch", list[Curves | None]]:
    """A Batch of every run compared with ``baseline`` (an unreadable run is its Unreadable entry),
    and the curves each run read.  ``own_rules``: the Batch's rules (JUnit's test cases) include
    the single-log rules as well as the comparison rules."""
    from .batch import Batch, Unreadable, one
    from .engine import enabled_rules as own

    items: list[Report | Unreadable] = []
    curves: list[Curves | None] = []
    for p in runs:
        r = one(p, settings, debug)
        if isinstance(r, Unreadable):
            items.append(r)
            curves.append(None)
        else:
            items.append(compare_reports(r, baseline, settings))
            curves.append(r[1])
    rules = (own(settings) if own_rules else ()) + enabled_rules(settings)
    return Batch(tuple(runs), tuple(items), settings, rules), curves


def regressions(batch: "Batch") -> "Batch":
    """The batch with only the comparison findings in each report: what ``compare``'s exit status
    is judged on (a run that overfits as its baseline does is no regression)."""
    from .rules import BASELINE_RULES

    codes = {r.code for r in BASELINE_RULES}
    items = tuple(it if not isinstance(it, Report) else replace(it, findings=tuple(f for f in it.findings if f.code in codes))
                  for it in batch.items)
    return replace(batch, items=items)


__all__ = ["compare", "compare_reports", "compare_paths", "read_baseline", "regressions", "Comparison", "Profile",
           "beyond", "area"]
