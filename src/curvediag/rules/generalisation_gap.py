from __future__ import annotations

from dataclasses import dataclass

from ..analysis import Context
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..remedies import remedy
from ..report import Finding
from .base import Rule, fmt, pct
from .options import RuleOptions, amount, share


@dataclass(frozen=True)
class GeneralisationGapOptions(RuleOptions):
    """The options of G102 (``[tool.curvediag.rules.G102]``)."""

    gap_limit: float = amount(0.5, "the validation loss ending this far (relative) above the training loss")
    acc_gap: float = share(0.1, "a training accuracy this far (absolute) above the validation accuracy")


class GeneralisationGap(Rule):
    """A large and widening gap between training and validation.

    **What it detects.** At the end of the run the validation loss exceeds the
    training loss by more than ``gap_limit`` (relative to the training loss) and
    the gap grew by more than half since a third of the way into the run; or
    training accuracy exceeds validation accuracy by more than ``acc_gap``.

    **Why it matters.** The model fits the training set much better than data it
    has not seen: it will do worse in use than its training numbers suggest, and
    the gap says how much room regularisation or more data has to help.
    """

    code = "G102"
    name = "generalisation-gap"
    Options = GeneralisationGapOptions
    needs = (TRAIN_LOSS, VAL_LOSS)
    min_points = 3
    remedies = (remedy("regularise"), remedy("more-data"), remedy("smaller-model"))

    def check(self, ctx: Context, opts: GeneralisationGapOptions) -> Finding | None:
        t, v = ctx.need(TRAIN_LOSS), ctx.need(VAL_LOSS)
        last = min(float(t.x[-1]), float(v.x[-1]))
        third = float(v.x[0] + (last - v.x[0]) / 3)
        g_end = v.at(last) - t.at(last)
        g_third = v.at(third) - t.at(third)
        rel_end = g_end / abs(t.at(last)) if t.at(last) else 0.0
        parts, evidence = [], {"gap_end": g_end, "gap_at_third": g_third, "gap_relative": rel_end}
        if rel_end > opts.gap_limit and g_end > 1.5 * max(g_third, 0.0):
            how = f"{pct(rel_end)} above" if rel_end < 10 else f"at {rel_end + 1:.3g}x"
            parts.append(
                f"val_loss ends {how} train_loss (gap {fmt(g_third)} -> {fmt(g_end)}, widening); "
                f"limit {pct(opts.gap_limit)} above"
            )
        ta, va = ctx.track(TRAIN_ACC), ctx.track(VAL_ACC)
        kinds = [ctx.curves.series[n].as_read for n in (TRAIN_ACC, VAL_ACC) if n in ctx.curves.series]
        if ta is not None and va is not None and not any(kinds):  # an accuracy and an F1 or WER: no gap to take
            acc_gap = ta.end - va.end
            evidence["acc_gap"] = acc_gap
            if acc_gap > opts.acc_gap:
                parts.append(f"train_acc ends {acc_gap:.3f} above val_acc; limit {opts.acc_gap:.2f}")
        if not parts:
            return None
        return self.finding("; ".join(parts), evidence)
