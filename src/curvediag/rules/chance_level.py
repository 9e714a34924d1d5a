from __future__ import annotations

from dataclasses import dataclass

import math

from ..analysis import Context
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..report import Finding
from .base import Rule, Skip, fmt
from .options import RuleOptions, factor, share


@dataclass(frozen=True)
class ChanceLevelOptions(RuleOptions):
    """The options of C101 (``[tool.curvediag.rules.C101]``)."""

    init_factor: float = factor(1.5, "a first loss this many times ln K is above chance at the start")
    acc_margin: float = share(0.02, "an accuracy within this (absolute) of 1/K is at chance")


class ChanceLevel(Rule):
    """Loss and accuracy compared with chance (needs ``--num-classes K``).

    **What it detects.** With K classes a uniform guess has cross-entropy ln K
    and accuracy 1/K. It reports a first loss more than ``init_factor`` times
    ln K (a bad initialisation, or a loss applied to the wrong outputs), and a
    final accuracy within ``acc_margin`` of 1/K (no better than guessing).

    **Why it matters.** A network should start near ln K; far above it, the
    output layer or the loss is set up wrong. Ending at 1/K means nothing was
    learned, whatever the loss did.
    """

    code = "C101"
    name = "chance-level"
    Options = ChanceLevelOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    remedies = (
        "Check the output layer and loss: logits into CrossEntropyLoss, no softmax applied twice, labels in 0..K-1.",
        "Initialise the last layer small (or its bias to the class log-frequencies).",
    )

    def check(self, ctx: Context, opts: ChanceLevelOptions) -> Finding | None:
        k = ctx.num_classes
        if not k:
            raise Skip("needs --num-classes")
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        chance = math.log(k)
        parts, ev = [], {"chance_loss": chance, "chance_acc": 1.0 / k}
        first = float(t.y[0])
        ev["first_loss"] = first
        if first > opts.init_factor * chance:
            parts.append(f"the first {t.name} {fmt(first)} is {first / chance:.2g}x ln {k} = {chance:.3f}; "
                         f"limit {opts.init_factor:g}x")
        acc = ctx.track(VAL_ACC) or ctx.track(TRAIN_ACC)
        if acc is not None:
            ev["acc_end"] = acc.end
            if acc.end <= 1.0 / k + opts.acc_margin:
                parts.append(f"{ctx.label(acc.name)} ends at {ctx.shown(acc.name, acc.end)}, chance for {k} classes is {1.0 / k:.3f}")
        if not parts:
            return None
        return self.finding("; ".join(parts), ev)
