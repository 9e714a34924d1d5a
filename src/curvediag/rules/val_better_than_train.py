from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import Context
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..report import Finding
from .base import Rule, pct
from .options import RuleOptions, share


@dataclass(frozen=True)
class ValBetterThanTrainOptions(RuleOptions):
    """The options of G101 (``[tool.curvediag.rules.G101]``)."""

    margin: float = share(0.1, "the validation loss this far (relative) below the training loss")


class ValBetterThanTrain(Rule):
    """Validation loss stays below training loss.

    **What it detects.** On at least 80% of the points both are logged, the
    (smoothed) validation loss is more than ``margin`` below the training loss.
    A leak is suspected only when it is extreme: validation accuracy more than
    0.1 above training accuracy for most of the run, or at least 0.99 from the
    first evaluation.

    **Why it matters.** Usually it is harmless and explained: dropout,
    augmentation and weight decay act only in training, and a training loss
    averaged over an epoch lags the end-of-epoch validation loss by half an epoch.
    When extreme, the validation set may overlap the training set or be easier.
    """

    code = "G101"
    name = "val-better-than-train"
    Options = ValBetterThanTrainOptions
    needs = (TRAIN_LOSS, VAL_LOSS)
    min_points = {VAL_LOSS: 3}  # the training loss is only read at the validation points: any will do
    remedies = (
        "Usually nothing to fix: regularisation (dropout, augmentation) is active only in training, "
        "and the epoch-averaged training loss lags by half an epoch.",
        "If it is extreme, check the split for duplicates or leakage between training and validation data.",
    )

    def check(self, ctx: Context, opts: ValBetterThanTrainOptions) -> Finding | None:
        t, v = ctx.need(TRAIN_LOSS), ctx.need(VAL_LOSS)
        tv = np.interp(v.x, t.x, t.s)
        ok = tv > 0
        if ok.sum() < 3:
            return None
        below = v.s[ok] < (1 - opts.margin) * tv[ok]
        share = float(below.mean())
        if share < 0.8:
            return None
        evidence = {"share_below": share, "margin": opts.margin, "leak_suspected": 0}
        msg = f"val_loss is more than {pct(opts.margin)} below train_loss on {pct(share)} of the points"
        ta, va = ctx.track(TRAIN_ACC), ctx.track(VAL_ACC)
        if va is not None:
            extreme = va.y[0] >= 0.99
            if ta is not None:
                tav = np.interp(va.x, ta.x, ta.s)
                extreme = extreme or float(np.mean(va.s - tav > 0.1)) >= 0.8
            if extreme:
                evidence["leak_suspected"] = 1
                msg += "; validation accuracy is extreme (far above training, or near-perfect from the start): check for a leak"
        if not evidence["leak_suspected"]:
            msg += "; usually regularisation active only in training, or the half-epoch lag"
        return self.finding(msg, evidence)
