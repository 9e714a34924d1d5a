from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import MIN_POINTS, Context
from ..curves import VAL_ACC, VAL_LOSS
from ..remedies import remedy
from ..report import Finding
from .base import Rule, at, pct
from .rise import RiseOptions, RISE, rise_passes, significant_rise


@dataclass(frozen=True)
class OverConfidenceOptions(RiseOptions):
    """The options of O103 (``[tool.curvediag.rules.O103]``)."""


class OverConfidence(Rule):
    """Validation loss rose while validation accuracy still rose: over-confidence.

    **What it detects.** The validation loss rises above its minimum by the test
    of ``val-loss-rising`` (``rise_limit``, ``noise_z``), yet validation accuracy
    at the end is higher than at that minimum (by more than its noise).

    **Why it matters.** The model keeps getting more examples right but is
    becoming very confident on the ones it gets wrong; the loss, not the
    accuracy, is what degrades. A checkpoint picked by val_loss is then not the
    most accurate one; calibration suffers.
    """

    code = "O103"
    name = "over-confidence"
    groups = (RISE,)
    Options = OverConfidenceOptions
    needs = (VAL_ACC, VAL_LOSS)
    min_points = MIN_POINTS
    remedies = (
        remedy("select-by-metric"),
        "Add label smoothing or weight decay; calibrate the probabilities afterwards (temperature scaling).",
    )

    def check(self, ctx: Context, opts: OverConfidenceOptions) -> Finding | None:
        r = significant_rise(ctx, opts)
        acc = ctx.need(VAL_ACC)
        if not rise_passes(r, opts):
            return None
        a_on, a_end = acc.at(r.onset_pos), acc.end
        noise = 0.0 if np.isnan(acc.sigma) else acc.sigma
        if a_end <= a_on + max(0.005, noise):
            return None
        return self.finding(
            f"val_loss rose {pct(r.relative)} after {at(r.onset_pos, ctx.axis_word)} while "
            f"{ctx.label(VAL_ACC)} still {ctx.moved(VAL_ACC, a_on, a_end)} (smoothed); limit {pct(opts.rise_limit)}",
            {"onset": r.onset_pos, "rise": r.relative, "val_acc_at_onset": a_on, "val_acc_end": a_end},
            span=(r.onset_pos, float(acc.x[-1])),
        )
