from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..report import Finding
from .base import Rule, Skip, at
from .options import RuleOptions, factor
from .secondary import causal_median


@dataclass(frozen=True)
class LossSpikesOptions(RuleOptions):
    """The options of I101 (``[tool.curvediag.rules.I101]``)."""

    spike_factor: float = factor(2.0, "a loss this many times the median of the points before it is a spike")


class LossSpikes(Rule):
    """The loss spiked and recovered: unstable optimisation.

    **What it detects.** Points where the training loss (the validation loss when
    no training loss is logged) jumps above ``spike_factor`` times the median of
    the points just before it, and comes back below 1.25x that level within a few
    points. A blow-up that never comes back is divergence (D102), not a spike.
    Per-step logs are judged on the validation cadence (or binned), so ordinary
    batch-to-batch noise is not a spike.

    **Why it matters.** Each spike undoes progress and can leave the weights in a
    worse region; frequent spikes usually mean the learning rate is too high for
    some batches, or a few bad batches.
    """

    code = "I101"
    name = "loss-spikes"
    Options = LossSpikesOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = 8
    remedies = (
        "Lower the learning rate, or decay it; add warm-up at the start.",
        "Clip gradients (clip_grad_norm_ / clipnorm=1.0).",
        "Use a larger batch size, or check the batches at the spikes for outliers or bad labels.",
    )

    def check(self, ctx: Context, opts: LossSpikesOptions) -> Finding | None:
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        if np.min(t.y) <= 0:
            raise Skip("the loss is not positive; spikes are judged as ratios")
        w = max(3, t.n // 20)
        base = causal_median(t.y, w)
        spikes = []
        for i in range(w, t.n - 1):
            if t.y[i] > opts.spike_factor * base[i]:
                after = t.y[i + 1 : i + 1 + 2 * w]
                if after.size and np.min(after) < 1.25 * base[i]:
                    spikes.append((i, float(t.y[i] / base[i])))
        # one spike = one run of consecutive flagged points
        runs = [s for k, s in enumerate(spikes) if k == 0 or s[0] != spikes[k - 1][0] + 1]
        if not runs:
            return None
        worst = max(s[1] for s in spikes)
        where = ", ".join(at(float(t.x[i]), ctx.axis_word) for i, _ in runs[:5]) + (" ..." if len(runs) > 5 else "")
        return self.finding(
            f"{t.name} spiked {len(runs)} time{'s' if len(runs) > 1 else ''} and recovered ({where}); "
            f"worst {worst:.3g}x the level before it; limit {opts.spike_factor:g}x",
            {"metric": t.name, "spikes": len(runs), "worst_ratio": worst, "first_spike": float(t.x[runs[0][0]]),
             "limit": opts.spike_factor},
            span=(float(t.x[runs[0][0]]), float(t.x[runs[-1][0]])),
        )
