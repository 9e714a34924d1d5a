"""The comparison rules (codes B1xx): a run against its baseline logs.

They run only when a baseline is given (``curvediag compare``, ``analyze --baseline``,
:func:`curvediag.compare`), on a :class:`~curvediag.comparison.Comparison` instead of one log's
Context.  Each measure is scale-free and judged against the baseline's own variation: a measure
regresses when it lies beyond the worst baseline log by more than ``spreads`` times the baseline's
spread (the standard deviation of its seeds; with one baseline log, the point-to-point noise of
its curve) *and* by ``margin`` of the baseline's level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from ..baseline_measures import Beyond, Comparison, Profile, area, beyond, rank
from ..report import Finding
from ..verdict import verdict_of
from .base import Rule, Skip, at, fmt, pct
from .options import RuleOptions, amount, share


class BaselineRule(Rule):
    """A comparison rule: ``compare(cmp, opts)`` instead of ``check(ctx, opts)``."""

    level: ClassVar[str] = "warning"

    @property
    def severity(self) -> str:
        return self.level

    def compare(self, cmp: "Comparison", opts: Any) -> "Finding | None":  # pragma: no cover
        raise NotImplementedError


def _seeds(b: "Beyond") -> str:
    if b.seeds == 1:
        return f"the baseline's {fmt(b.high)}"
    return f"the baseline's {b.seeds} logs' {fmt(b.low)}-{fmt(b.high)}"


def _spread(b: "Beyond", opts: "LevelOptions") -> str:
    what = "the seeds' spread" if b.seeds > 1 else "the curve's noise"
    return f"limit {fmt(b.limit)}: worst baseline + max({opts.spreads:g} x {what} {fmt(b.spread)}, {pct(opts.margin)})"


class _LevelRule(BaselineRule):
    """Shared by B101-B103: one level of the run against the same level of each baseline log."""

    what: ClassVar[str]
    how: ClassVar[str] = "smoothed"

    def measure(self, p: "Profile") -> float:  # pragma: no cover
        raise NotImplementedError

    def noise(self, cmp: "Comparison") -> float:
        return cmp.noise()

    def curve(self, cmp: "Comparison") -> str:
        return cmp.judged_or_skip()

    def compare(self, cmp: "Comparison", opts: "LevelOptions") -> "Finding | None":
        name = self.curve(cmp)
        b = beyond(self.measure(cmp.run), [self.measure(p) for p in cmp.baseline], self.noise(cmp),
                   opts.spreads, opts.margin)
        if not b.regressed:
            return None
        return self.finding(
            f"{self.what} {name} ({self.how}) {fmt(b.run)} is {pct(b.excess)} above {_seeds(b)}; {_spread(b, opts)}",
            {"curve": name, **b.evidence(), "excess": b.excess},
        )


@dataclass(frozen=True)
class LevelOptions(RuleOptions):
    """The options every level comparison (B101, B102, B103, B106) judges by."""

    spreads: float = amount(3.0, "standard deviations of the baseline's seeds (with one log, of its curve's point-to-point noise) the run must lie beyond the worst baseline")
    margin: float = share(0.05, "and by at least this share of the worst baseline's level")


@dataclass(frozen=True)
class BestWorseOptions(LevelOptions):
    """The options of B101 (``[tool.curvediag.rules.B101]``)."""


class BestWorse(_LevelRule):
    """The run's best is worse than every baseline log's.

    What it detects: the lowest point of the run's judged curve (validation loss, else the
    training loss, else 1 - the quality metric; smoothed by a running median so one lucky
    point does not count) lies above the worst baseline log's by more than ``spreads`` times
    the baseline's spread and by ``margin`` of its level.

    Why it matters: the best checkpoint is what gets kept; a change that makes the best
    reachable model worse is a regression even when the run's own curve looks healthy --
    a run trained on shuffled labels falls and settles like any other, just far higher.
    """

    code = "B101"
    name = "best-worse-than-baseline"
    what = "best"
    Options = BestWorseOptions
    remedies = (
        "diff the run's configuration against the baseline's: data pipeline, labels, learning rate, model code",
        "check that the training labels still match their inputs (a shuffle or join that broke them)",
        "re-run the baseline recipe with the run's seed: a recipe change, not chance, if it still matches",
    )

    def measure(self, p: "Profile") -> float:
        return p.best


@dataclass(frozen=True)
class FinalWorseOptions(LevelOptions):
    """The options of B102 (``[tool.curvediag.rules.B102]``)."""


class FinalWorse(_LevelRule):
    """The run ends worse than every baseline log.

    What it detects: the level of the run's judged curve at its end (the median of its last
    points) lies above the worst baseline log's end by more than ``spreads`` times the
    baseline's spread and by ``margin`` of its level.

    Why it matters: the final model is the one shipped when no checkpoint is restored; a run
    that reaches the baseline's best but climbs away from it (a higher learning rate, less
    regularisation) ends worse.
    """

    code = "B102"
    name = "final-worse-than-baseline"
    what = "final"
    how = "median of the last points"
    Options = FinalWorseOptions
    remedies = (
        "compare the learning-rate schedule and regularisation (dropout, weight decay) with the baseline's",
        "restore the best checkpoint, or stop early as the baseline's best epoch suggests",
    )

    def measure(self, p: "Profile") -> float:
        return p.final


@dataclass(frozen=True)
class TrainFloorHigherOptions(LevelOptions):
    """The options of B103 (``[tool.curvediag.rules.B103]``)."""

    margin: float = share(0.1, "and by at least this share of the worst baseline's level")


class TrainFloorHigher(_LevelRule):
    """The run's training loss stops higher than every baseline log's.

    What it detects: the lowest level of the run's (smoothed) training loss lies above the
    worst baseline log's by more than ``spreads`` times the baseline's spread (with one log,
    the noise of its training loss) and by ``margin`` of its level.

    Why it matters: the training set is fitted worse than before -- labels that no longer
    match their inputs, an optimiser or model change that stopped it learning, less capacity.
    Only the training loss shows it apart from generalisation.
    """

    code = "B103"
    name = "train-floor-higher"
    what = "lowest"
    Options = TrainFloorHigherOptions
    remedies = (
        "check the training data and labels the run read (a shuffle, a join, a changed preprocessing)",
        "compare the optimiser, learning rate and model size with the baseline's",
    )

    def curve(self, cmp: "Comparison") -> str:
        if cmp.run.train is None:
            raise Skip("the run logs no training loss")
        for p in cmp.baseline:
            if p.train is None:
                raise Skip(f"baseline {p.source} logs no training loss")
        return "train_loss"

    def noise(self, cmp: "Comparison") -> float:
        t = cmp.baseline[0].train
        return t.sigma if len(cmp.baseline) == 1 and t is not None else float("nan")

    def measure(self, p: "Profile") -> float:
        return p.floor


@dataclass(frozen=True)
class OnsetEarlierOptions(RuleOptions):
    """The options of B104 (``[tool.curvediag.rules.B104]``)."""

    spreads: float = amount(3.0, "standard deviations of the seeds' onsets the run's onset must lie before the earliest")
    share: float = share(0.25, "and at least this share of the baseline's length on the axis")
    tolerance: float = amount(0.1, "how near its best, as a share of the curve's fall, a curve still counts as at its best")


class OnsetEarlier(BaselineRule):
    """The run leaves its best much earlier than the baseline does.

    What it detects: the onset -- the last position where the run's (smoothed) judged curve is
    still near its best (within ``tolerance`` of the fall from its start to its best, or 2% of
    the best, whichever is larger), after which it only climbs away -- lies before the earliest
    baseline log's onset by more than ``spreads`` times the spread of the baseline's onsets and
    by ``share`` of the baseline's length on the axis.  A curve that stays near its best to the
    end has its onset at the end.

    Why it matters: a run that peaks early and then degrades is overfitting sooner or being
    pushed off its minimum (a learning rate too high, regularisation gone); the epoch count and
    early-stopping patience tuned on the baseline no longer fit.  Severity info: B101/B102 carry
    the regression when it costs loss.  (The onset, not the argmin, is compared: on the flat
    bottom of a curve the argmin moves by epochs under 1% noise.)
    """

    code = "B104"
    name = "onset-earlier-than-baseline"
    level = "info"
    Options = OnsetEarlierOptions
    remedies = (
        "compare the learning rate and regularisation with the baseline's",
        "stop early or restore the best checkpoint on this recipe",
    )

    def compare(self, cmp: "Comparison", opts: "OnsetEarlierOptions") -> "Finding | None":
        name = cmp.judged_or_skip()
        cmp.same_axis_or_skip()
        tol = opts.tolerance
        run = cmp.run.onset_at(tol)
        base = [p.onset_at(tol) for p in cmp.baseline]
        # earlier is worse: measured as the distance before each log's onset
        b = beyond(-run, [-x for x in base], 0.0, opts.spreads, opts.share, scale=cmp.length)
        if not b.regressed:
            return None
        w = cmp.axis_word
        first, last = min(base), max(base)
        seen = at(first, w) if b.seeds == 1 else f"{w}s {first:g}-{last:g}"
        return self.finding(
            f"{name} climbs away from its best after {at(run, w)} (best at {at(cmp.run.best_at, w)}), the baseline after "
            f"{seen}; earlier than {at(-b.limit, w)} is flagged ({opts.share:g} of the baseline's length {cmp.length:g})",
            {"curve": name, "run_onset": run, "run_best_at": cmp.run.best_at, "baseline_first": first,
             "baseline_last": last, "limit": -b.limit, "baseline_logs": b.seeds},
        )


class VerdictWorse(BaselineRule):
    """The run's own verdict is worse than every baseline log's.

    What it detects: the single-log diagnosis of the run (its verdict) has a higher severity
    than the verdict of each baseline log: healthy -> overfitting, overfitting -> diverged.
    Severity error when the new verdict's is (diverged, not_learning, cramming), else info.

    Why it matters: a pattern the baseline never shows is new with the change; one the
    baseline shows too (a recipe that overfits on some seeds) is not a regression.  A change
    between healthy and overfitting is only info: seeds of one recipe differ in it (in the real
    runs of tests/data/compare one of the four baseline seeds overfits a little, the others do
    not), so the levels (B101, B102, B106) decide whether it costs anything.
    """

    code = "B105"
    name = "verdict-worse-than-baseline"
    level = "info"  # error for a new error verdict

    def compare(self, cmp: "Comparison", opts: Any) -> "Finding | None":
        run = cmp.run.verdict
        base = sorted({p.verdict for p in cmp.baseline}, key=rank)
        if rank(run) <= rank(base[-1]):
            return None
        f = self.finding(f"verdict {run}, the baseline's {', '.join(base)}; no baseline log is as bad",
                         {"run_verdict": run, "baseline_verdicts": ", ".join(base), "baseline_logs": len(cmp.baseline)})
        return replace(f, severity="error" if verdict_of(run).severity == "error" else "info")


@dataclass(frozen=True)
class AreaWorseOptions(LevelOptions):
    """The options of B106 (``[tool.curvediag.rules.B106]``)."""

    margin: float = share(0.1, "the smallest area flagged, as a share of the baseline's improvement")


class AreaWorse(BaselineRule):
    """The run's judged curve lies above the baseline's over the run.

    What it detects: the mean gap between the run's (smoothed) judged curve and the mean of
    the baseline logs', on the stretch of the axis they all cover (both interpolated on one
    grid), relative to the baseline's own improvement (its start level minus its best).
    Flagged when it is larger than every seed's own gap to the other seeds by more than
    ``spreads`` times their spread (with one baseline log, ``spreads`` times its curve's noise
    relative to its improvement) and than ``margin``.

    Why it matters: the whole course of training is worse, not only one point -- a slower
    start, a higher plateau, a curve that sits above the baseline's all the way.
    """

    code = "B106"
    name = "curve-above-baseline"
    Options = AreaWorseOptions
    remedies = (
        "overlay the run on the baseline (`curvediag compare ... --plot overlay.png`) to see where they part",
        "diff the run's configuration against the baseline's",
    )

    def compare(self, cmp: "Comparison", opts: "AreaWorseOptions") -> "Finding | None":
        name = cmp.judged_or_skip()
        a = area(cmp)
        noise = cmp.noise() / a["improvement"]
        b = beyond(a["run"], a["seeds"], noise, opts.spreads, opts.margin, scale=1.0)
        if not b.regressed:
            return None
        w = cmp.axis_word
        return self.finding(
            f"{name} lies above the baseline's mean by {pct(b.run)} of the baseline's improvement on average "
            f"({w}s {a['from']:g}-{a['to']:g}); limit {pct(b.limit)}",
            {"curve": name, "area": b.run, "seeds_max": b.high, "seeds_spread": b.spread, "limit": b.limit,
             "improvement": a["improvement"], "from": a["from"], "to": a["to"], "baseline_logs": b.seeds},
            span=(a["from"], a["to"]),
        )


#: In evaluation order.
BASELINE_RULES: tuple[type[BaselineRule], ...] = (BestWorse, FinalWorse, TrainFloorHigher, OnsetEarlier, VerdictWorse,
                                                   AreaWorse)

__all__ = ["BASELINE_RULES", "BaselineRule"]
