from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats
from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..report import Finding
from .base import Rule, pct, span
from .options import RuleOptions, amount, share


@dataclass(frozen=True)
class PlateauOptions(RuleOptions):
    """The options of P101 (``[tool.curvediag.rules.P101]``)."""

    window: float = share(0.2, "share of the run (its last part) the plateau is measured over")
    limit: float = amount(0.01, "a loss improving by less than this (relative) over the window is on a plateau")


class Plateau(Rule):
    """The loss has stopped improving for the last part of the run.

    **What it detects.** Over the last ``window`` share of the run (at least 5
    points) the validation loss (the training loss when there is none) improved
    by less than ``limit`` relative to its level, with no significant downward
    trend (Mann-Kendall z > -1.645) and without rising either, after an earlier
    improvement of at least 10%.

    **Why it matters.** Epochs on a plateau cost time and change nothing. A lower
    learning rate often gets the loss moving again; otherwise training can stop.
    """

    code = "P101"
    name = "loss-plateau"
    Options = PlateauOptions
    needs = ((VAL_LOSS, TRAIN_LOSS),)
    min_points = 10
    remedies = (
        "Reduce the learning rate on the plateau by a factor of 2-10 "
        "(ReduceLROnPlateau(factor=0.1-0.5, patience=3-5) / torch.optim.lr_scheduler.ReduceLROnPlateau).",
        "Or stop here: early stopping with a patience of a few epochs saves the remaining time.",
    )

    def check(self, ctx: Context, opts: PlateauOptions) -> Finding | None:
        t = ctx.need(VAL_LOSS, TRAIN_LOSS)
        w = max(5, int(round(opts.window * t.n)))
        before = float(t.s[t.n - w - 1])
        tail = t.y[t.n - w :]
        best_tail = float(np.min(t.s[t.n - w :]))
        improvement = stats.rel(before - best_tail, before)
        end_change = stats.rel(t.end - before, before)
        earlier = stats.rel(t.start - before, t.start)
        z = stats.mann_kendall_z(tail)
        if improvement >= opts.limit or z <= -1.645 or earlier < 0.10 or end_change > opts.limit:
            return None
        pos = float(t.x[t.n - w - 1])
        return self.finding(
            f"{t.name} improved only {pct(improvement)} over {span(pos, float(t.x[-1]), ctx.axis_word)}; "
            f"limit {pct(opts.limit)}",
            {"metric": t.name, "since": pos, "improvement": improvement, "limit": opts.limit, "points": w},
            span=(pos, float(t.x[-1])),
        )
