from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats

from ..analysis import MIN_POINTS, Context, Track
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, at, fmt, pct
from .options import RuleOptions, amount, factor


@dataclass(frozen=True)
class ExplodingLossOptions(RuleOptions):
    """The options of D102 (``[tool.curvediag.rules.D102]``)."""

    end_limit: float = amount(1.0, "how far above its starting level (relative) the final loss may end")
    spike_factor: float = factor(10.0, "a rise above the running minimum of this many starting levels is an explosion, unless half recovered")
    rise_limit: float = amount(0.25, "a training loss ending (last quarter's mean) this far above its smoothed minimum (relative) climbed back")
    noise_z: float = amount(4.0, "standard errors of its own noise the climb back must clear")
    negative_factor: float = amount(100.0, "a loss racing below zero to this many times its starting size has no lower bound")


class ExplodingLoss(Rule):
    """The training loss blew up and never came back.

    **What it detects.** The training loss (the validation loss when no training
    loss is logged) ends far worse than it started: its final level is more than
    ``end_limit`` (relative to the starting level) above where it began, or it
    rose above its running minimum by more than ``spike_factor`` times the starting
    level and did not recover half of the way. A spike that recovers is
    instability, not divergence, and is not reported here.

    Two more forms come before any reading of the validation curves: a *training*
    loss that fell and then climbed back (the mean of its last quarter at least
    ``rise_limit`` above its smoothed minimum, ``noise_z`` standard errors clear of
    its own noise, and not back at that minimum anywhere in the last quarter): a
    learning rate too high or growing, read as divergence before overfitting or
    cramming; and a loss racing below zero to more than ``negative_factor`` times
    its starting size (a loss with no lower bound or a sign error; a legitimately
    negative loss such as a Gaussian NLL moves by a few times its start).

    **Why it matters.** Optimisation has failed: the weights moved somewhere worse
    than a random initialisation. Training longer will not help.
    """

    code = "D102"
    name = "exploding-loss"
    verdict = Verdict.DIVERGED
    Options = ExplodingLossOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = MIN_POINTS
    remedies = (
        "Lower the learning rate (3-10x) or add warm-up; use a decaying schedule.",
        "Clip gradients (clip_grad_norm_ / clipnorm=1.0).",
        "Check the data for outliers or bad labels, and normalise the inputs.",
        "Check that the loss matches the output layer (logits vs probabilities).",
    )

    def check(self, ctx: Context, opts: ExplodingLossOptions) -> Finding | None:
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        start, end = t.start, t.end
        scale = abs(start)
        if scale == 0:
            scale = float(np.max(np.abs(t.y))) or 1.0
        runmin = np.minimum.accumulate(t.y)
        excess = (t.y - runmin) / scale
        i_peak = int(np.argmax(excess))
        peak_excess = float(excess[i_peak])
        m = float(runmin[i_peak])
        ended_worse = (end - start) / scale
        axis = ctx.axis_word
        evidence = {
            "metric": t.name,
            "start": start,
            "end": end,
            "peak": float(t.y[i_peak]),
            "peak_at": float(t.x[i_peak]),
            "running_min_before_peak": m,
        }
        if ended_worse > opts.end_limit:
            # onset: first point after which the loss stays above its start
            above = t.y > start
            i_on = int(np.flatnonzero(~above)[-1]) + 1 if (~above).any() else 0
            i_on = min(i_on, t.n - 1)
            evidence.update(end_above_start=ended_worse, limit=opts.end_limit, onset=float(t.x[i_on]))
            return self.finding(
                f"{t.name} ended at {fmt(end)}, {pct(ended_worse)} above where it started ({fmt(start)}), "
                f"after a peak of {fmt(t.y[i_peak])} at {at(t.x[i_peak], axis)}; limit {pct(opts.end_limit)}",
                evidence,
                span=(float(t.x[i_on]), float(t.x[-1])),
            )
        # a loss racing off to minus infinity (a loss with no lower bound, a sign error) is no fall:
        # a legitimately negative loss (a Gaussian NLL) moves by a few times its start, not 100x
        if end < 0 and abs(end) > opts.negative_factor * max(scale, 1.0):
            neg_on = float(t.x[int(np.argmax(t.y < 0))])
            evidence.update(limit=opts.negative_factor, onset=neg_on)
            return self.finding(
                f"{t.name} raced to {fmt(end)} from {fmt(start)}: more than {opts.negative_factor:g}x its "
                f"starting size below zero, a loss with no lower bound (or a sign error), not learning; "
                f"limit {opts.negative_factor:g}x",
                evidence,
                span=(neg_on, float(t.x[-1])),
            )
        rising = self.rising(t, opts)
        if rising is not None:
            i_min, low, level, z = rising
            evidence.update(minimum=low, minimum_at=float(t.x[i_min]), end_level=level, rise=stats.rel(level - low, low),
                            rise_limit=opts.rise_limit, noise_z=z, onset=float(t.x[i_min]))
            return self.finding(
                f"{t.name} turned up: its last quarter averages {fmt(level)}, {pct(stats.rel(level - low, low))} above "
                f"its smoothed minimum {fmt(low)} at {at(t.x[i_min], axis)} ({z:.1f}x its noise): the optimiser is "
                f"climbing out of the minimum it found (a learning rate too high, or growing); limit "
                f"{pct(opts.rise_limit)}",
                evidence,
                span=(float(t.x[i_min]), float(t.x[-1])),
            )
        recovered = (end - m) <= 0.5 * (start - m) if start > m else end <= m + 0.5 * scale
        if peak_excess > opts.spike_factor and not recovered:
            evidence.update(spike=peak_excess, limit=opts.spike_factor, onset=float(t.x[i_peak]))
            return self.finding(
                f"{t.name} exploded to {fmt(t.y[i_peak])} at {at(t.x[i_peak], axis)}, "
                f"{peak_excess:.3g}x its starting level above its running minimum, and did not recover; "
                f"limit {opts.spike_factor:g}x",
                evidence,
                span=(float(t.x[i_peak]), float(t.x[-1])),
            )
        return None

    @staticmethod
    def rising(t: Track, opts: ExplodingLossOptions) -> tuple[int, float, float, float] | None:
        """(index of the minimum, its smoothed level, the last quarter's mean, the rise in noise units)
        when a *training* loss that fell ends well above its smoothed minimum: the mean of its last
        quarter ``rise_limit`` above it and ``noise_z`` standard errors clear of its noise; else None."""
        if t.name != TRAIN_LOSS or t.n < 8 or not np.isfinite(t.sigma):
            return None
        i_min = int(np.argmin(t.s))
        low = float(t.s[i_min])
        q = max(2, t.n // 4)
        if low <= 0 or i_min >= t.n - q or float(t.y[0]) >= 100 * low:
            return None  # (a first loss 100x the minimum is a blown-up start, D103: the divergence began there)
        level = float(np.mean(t.y[-q:]))
        se = t.sigma * (1 / q + 1 / stats.window_for(t.n)) ** 0.5
        z = (level - low) / se if se > 0 else float("inf")
        if stats.rel(level - low, low) < opts.rise_limit or z < opts.noise_z:
            return None
        if float(np.min(t.y[-q:])) <= low:
            return None  # it came back down to its minimum within the last quarter: a bump, not a climb
        return i_min, low, level, z
