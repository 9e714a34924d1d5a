from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, at, fmt
from .options import RuleOptions, factor, share


@dataclass(frozen=True)
class UnstableLossOptions(RuleOptions):
    """The options of D104 (``[tool.curvediag.rules.D104]``)."""

    jump: float = factor(2.0, "a loss multiplying by this much from one evaluation to the next jumped")
    share: float = share(0.1, "share of the evaluations that must jump (and at least 3)")
    end_factor: float = factor(5.0, "a loss ending this many times its lowest value, climbed there in the last tenth, blew up at the end")


class UnstableLoss(Rule):
    """The loss keeps jumping several-fold between consecutive evaluations: violently unstable.

    **What it detects.** The validation loss (the training loss when no validation loss
    is logged) multiplies by ``jump`` or more from one evaluation to the next in at
    least ``share`` of the evaluations (and at least 3 times), or ends at least
    ``end_factor`` times its lowest value after climbing there within the last tenth
    of the run (a blow-up at the end). A loss that keeps doubling from one evaluation
    to the next is not noise at any scale: the optimiser keeps stepping off a cliff
    (a learning rate at the edge of stability, unscaled inputs), and accuracy
    typically swings between chance and its best. One spike that recovers is not
    this (``loss-spikes`` reports it), and neither is a run whose last half has no jump
    and whose lowest value is in its last tenth: it came back for good.

    **Why it matters.** Such a run is never healthy, whatever its best epoch shows: the
    next evaluation may be the one that does not come back, and the final weights are
    a matter of luck.
    """

    code = "D104"
    name = "unstable-loss"
    verdict = Verdict.DIVERGED
    Options = UnstableLossOptions
    needs = ((VAL_LOSS, TRAIN_LOSS),)
    min_points = 5
    remedies = (
        "Lower the learning rate (3-10x) or use a schedule with warm-up.",
        "Normalise the inputs; check for outliers in the data.",
        "Clip gradients (clip_grad_norm_ / clipnorm=1.0).",
        "With Adam, a larger epsilon or a smaller beta2 can calm the updates.",
    )

    def check(self, ctx: Context, opts: UnstableLossOptions) -> Finding | None:
        name = ctx.need(VAL_LOSS, TRAIN_LOSS).name
        fin = ctx.curves.series[name].finite()
        y, x = fin.y, fin.x
        if np.any(y <= 0):
            return None  # ratios need a positive loss
        ratio = y[1:] / y[:-1]
        jumps = np.flatnonzero(ratio >= opts.jump)
        axis = ctx.axis_word
        need = max(3, int(np.ceil(opts.share * ratio.size)))
        evidence = {"metric": name, "jumps": int(jumps.size), "max_jump": float(ratio.max()),
                    "limit": opts.jump, "jumps_needed": need}
        # a run whose last half has no jump and ends at its lowest value came back for good:
        # its spikes were instability on the way (loss-spikes reports them), not a diverged run
        settled = jumps.size == 0 or (int(jumps[-1]) + 1 < y.size - max(2, y.size // 2)
                                      and int(np.argmin(y)) >= y.size - max(2, int(np.ceil(y.size / 10))))
        if jumps.size >= need and not settled:
            first = int(jumps[0])
            where = ", ".join(at(float(x[j + 1]), axis) for j in jumps[:4]) + (" ..." if jumps.size > 4 else "")
            return self.finding(
                f"{name} multiplied by {opts.jump:g}x or more from one evaluation to the next {jumps.size} times "
                f"in {ratio.size} (at {where}; at most {fmt(float(ratio.max()))}x); limit {need} "
                f"({opts.share:.0%} of the evaluations, at least 3)",
                {**evidence, "onset": float(x[first])},
                span=(float(x[first]), float(x[-1])),
            )
        i_min = int(np.argmin(y))
        n = y.size
        recent = max(2, int(np.ceil(n / 10)))
        climb_from = int(np.argmin(y[: n - 1])) if n > 1 else 0
        if y[-1] >= opts.end_factor * y[i_min] and climb_from >= n - 1 - recent:
            return self.finding(
                f"{name} blew up at the end: {fmt(float(y[climb_from]))} at {at(float(x[climb_from]), axis)} -> "
                f"{fmt(float(y[-1]))} at {at(float(x[-1]), axis)} ({y[-1] / y[i_min]:.3g}x its minimum) within the "
                f"last {recent} evaluations; limit {opts.end_factor:g}x",
                {**evidence, "onset": float(x[climb_from]), "end_over_min": float(y[-1] / y[i_min])},
                span=(float(x[climb_from]), float(x[-1])),
            )
        return None
