from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import Context
from ..curves import VAL_LOSS
from ..remedies import remedy
from ..report import Finding
from .base import Rule, amount, at, pct, span
from .options import RuleOptions, share


@dataclass(frozen=True)
class BestEpochEarlyOptions(RuleOptions):
    """The options of T102 (``[tool.curvediag.rules.T102]``)."""

    share: float = share(0.1, "a best epoch in the first this share of the run is early")


class BestEpochEarly(Rule):
    """The best epoch came very early: far too many epochs were run.

    **What it detects.** The minimum of the validation loss lies in the first
    ``share`` of a run of at least 20 points.

    **Why it matters.** Nearly all of the compute after the best epoch was wasted,
    and unless the best checkpoint was kept, the final model is worse than it was
    near the start.
    """

    code = "T102"
    name = "best-epoch-early"
    Options = BestEpochEarlyOptions
    needs = (VAL_LOSS,)
    min_points = 20
    remedies = (
        remedy("stop-at-best"),
        "Run far fewer epochs, or lower the learning rate so that progress is spread over the run.",
    )

    def check(self, ctx: Context, opts: BestEpochEarlyOptions) -> Finding | None:
        fin = ctx.curves.series[VAL_LOSS].finite()  # as logged, not smoothed
        i = int(np.argmin(fin.y))
        frac = i / (len(fin) - 1)
        if frac >= opts.share:
            return None
        axis, x0, x1, xb = ctx.axis_word, float(fin.x[0]), float(fin.x[-1]), float(fin.x[i])
        if i == 0:
            where = (f"val_loss was best at its first evaluation ({at(xb, axis)}) and never improved over the "
                     f"{amount(x1 - xb, axis)} after it (to {at(x1, axis)})")
        else:
            where = (f"val_loss was best at {at(xb, axis)}, its evaluation {i + 1} of {len(fin)} "
                     f"({pct(frac)} of the way through {span(x0, x1, axis)})")
        return self.finding(
            f"{where}; limit {pct(opts.share)}",
            {"best": float(fin.x[i]), "share": frac, "limit": opts.share},
            span=(float(fin.x[i]), float(fin.x[-1])),
        )
