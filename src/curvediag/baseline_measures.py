"""A run and its baseline logs measured on the same footing: :class:`Profile` (one log's measures),
:class:`Comparison` (what the comparison rules, ``rules/baseline.py``, read), :func:`beyond` (a
measure against the baseline seeds' spread), :func:`area` and :func:`rank`.  Below the comparison
rules; :mod:`curvediag.comparison` diagnoses the logs and runs the rules on these."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from ._np import np
from .analysis import MIN_POINTS, Context, Skip, Track
from .curves import TRAIN_LOSS, Curves
from .report import Report, severity_rank
from .settings import Settings
from .stats import end_level
from .verdict import verdict_of


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
    return severity_rank(verdict_of(verdict).severity)
