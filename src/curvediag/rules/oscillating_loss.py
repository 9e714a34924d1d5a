from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats
from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..report import Finding
from .base import Rule, pct
from .options import RuleOptions, amount, share


@dataclass(frozen=True)
class OscillatingLossOptions(RuleOptions):
    """The options of I102 (``[tool.curvediag.rules.I102]``)."""

    turn_limit: float = share(0.6, "share of late points where the loss changes direction")
    swing_limit: float = amount(0.05, "the late swings' size relative to the loss")


class OscillatingLoss(Rule):
    """The loss zigzags around its trend late in training.

    **What it detects.** Over the last half of the run, the training loss (the
    validation loss when there is none) changes direction on more than
    ``turn_limit`` of its steps (white noise turns on about two thirds, a smooth
    curve almost never) with a typical swing around its smoothed trend larger
    than ``swing_limit`` of its level. Per-step logs are judged on the
    validation cadence (or binned), so batch-to-batch noise is averaged first.

    **Why it matters.** Large late oscillation means the steps are too big for
    the region the weights are in: the loss cannot settle into a minimum, and
    the final weights depend on where the zigzag happened to stop.
    """

    code = "I102"
    name = "oscillating-loss"
    Options = OscillatingLossOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = 12
    remedies = (
        "Lower the learning rate for the late phase (a decaying or cosine schedule, or ReduceLROnPlateau).",
        "Use a larger batch size, or gradient clipping.",
    )

    def check(self, ctx: Context, opts: OscillatingLossOptions) -> Finding | None:
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        half = t.y[t.n // 2 :]
        d = np.diff(half)
        d = d[d != 0]
        if d.size < 4:
            return None
        turns = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
        trend = stats.smooth(half, max(3, stats.window_for(half.size)))
        level = stats.median(np.abs(trend))
        if level == 0:
            return None
        swing = stats.median(np.abs(half - trend)) * stats.MAD_TO_SIGMA / level
        if turns <= opts.turn_limit or swing <= opts.swing_limit:
            return None
        return self.finding(
            f"{t.name} changes direction on {pct(turns)} of its steps over the last half, swinging a typical "
            f"{pct(swing)} of its level around the trend; limits {pct(opts.turn_limit)} and {pct(opts.swing_limit)}",
            {"metric": t.name, "turn_ratio": turns, "swing": swing, "turn_limit": opts.turn_limit,
             "swing_limit": opts.swing_limit},
            span=(float(t.x[t.n // 2]), float(t.x[-1])),
        )
