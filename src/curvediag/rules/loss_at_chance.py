from __future__ import annotations

from dataclasses import dataclass

import math


from .._np import np
from .. import stats
from ..analysis import MIN_POINTS, NOT_LEARNING_POINTS, STILL_FALLING_GAIN, Context, Track, recent_fall
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, Skip, fmt, pct
from .options import RuleOptions, amount, share


def inferred_classes(loss: Track, acc: Track | None) -> int | None:
    """K when the run *starts* where a uniform guess over K classes does: its first loss within 10% of
    ln K and its first accuracy no more than 0.15 above 1/K (a binary task: about 0.5, or the majority
    rate up to 0.65).  Never from the loss alone: a regression loss can start at any number."""
    if acc is None or acc.n < MIN_POINTS:
        return None
    start = loss.start
    if not (0.5 < start < 7.0):
        return None
    k = int(round(math.exp(start)))
    if k < 2 or abs(start - math.log(k)) > 0.1 * math.log(k):
        return None
    if acc.start > 1.0 / k + 0.15 or acc.start < 0:
        return None
    return k


@dataclass(frozen=True)
class LossAtChanceOptions(RuleOptions):
    """The options of L103 (``[tool.curvediag.rules.L103]``)."""

    loss_share: float = amount(0.9, "the judged loss ending at this share of ln K or above is at chance")
    acc_margin: float = share(0.1, "the accuracy ending at most this (absolute) above where it started is at chance")


class LossAtChance(Rule):
    """The loss ended at the level of a uniform guess, and the accuracy at chance: nothing was learned.

    **What it detects.** With K classes a uniform guess has cross-entropy ln K and accuracy 1/K.
    The judged loss (validation loss, else training loss) ends at ``loss_share`` of ln K or above --
    robustly: the median of its last tenth (at most 5 points) -- while the accuracy beside it ends
    no more than ``acc_margin`` above where it started (the majority rate, or 1/K). K is
    ``--num-classes`` when given; otherwise it is inferred only from a run that *starts* at chance:
    a first loss within 10% of ln K beside a first accuracy near 1/K (a binary task: a loss near
    ln 2 = 0.693 beside an accuracy near 0.5 or the majority rate). With ``--num-classes`` a loss
    that ends at or above ln K is not learning even without an accuracy in the log (a loss of 1e4 on
    a 2-class task). A loss far above chance that rose from a lower minimum is memorising
    (``val-loss-up-val-acc-down``), and one still falling surely at a rate that would take it under
    ``loss_share`` of ln K in a run as long again is slow learning (``losses-still-falling``): neither
    fires this. A quality metric (mAP, F1) has no such chance level and is not used.

    **Why it matters.** Whatever the curves did, the model predicts no better than a guess; a slow
    fall that stays above chance is not a run to train longer.
    """

    code = "L103"
    name = "loss-at-chance"
    verdict = Verdict.NOT_LEARNING
    Options = LossAtChanceOptions
    needs = ((VAL_LOSS, TRAIN_LOSS),)
    min_points = MIN_POINTS
    remedies = (
        "Check that inputs and labels are aligned and that the labels carry signal (not shuffled, not constant).",
        "Tune the learning rate (a range test): too low leaves the loss at its initial guess, too high keeps it there.",
        "Check the output layer and loss: logits into CrossEntropyLoss / BCEWithLogitsLoss, labels in 0..K-1.",
        "Overfit a single small batch first: if even that fails, the bug is in the model or the loss.",
    )

    def check(self, ctx: Context, opts: LossAtChanceOptions) -> Finding | None:
        t = ctx.need(VAL_LOSS, TRAIN_LOSS)
        if ctx.points < NOT_LEARNING_POINTS:
            # "flat" and "slow" cannot be told apart on fewer evaluations (a prefix of a slow run)
            raise Skip(f"needs {NOT_LEARNING_POINTS} evaluations of its longest loss curve, the log has {ctx.points}")
        acc = (ctx.track(VAL_ACC) if t.name == VAL_LOSS else ctx.track(TRAIN_ACC)) or ctx.track(VAL_ACC) or ctx.track(TRAIN_ACC)
        series = ctx.curves.get(acc.name) if acc is not None else None
        if series is not None and (series.quality or series.as_read):
            acc = None  # an F1, mAP or error rate has no 1/K
        k, inferred = ctx.num_classes, False
        if not k:
            k, inferred = inferred_classes(t, acc), True
        if not k or k < 2:
            return None
        chance = math.log(k)
        end = t.end
        if end < opts.loss_share * chance:
            return None
        rise = ctx.val_rise if t.name == VAL_LOSS else None
        if rise is not None and rise.relative >= 0.1:
            # rising from a lower minimum: memorising (cramming) when the accuracy had risen above chance
            # and lost it; with no accuracy, when the loss ends far above chance
            learned = acc is not None and float(np.max(acc.s)) > max(1.0 / k, acc.start) + opts.acc_margin
            tr = ctx.track(TRAIN_ACC)
            soared = acc is not None and tr is not None and tr.n >= MIN_POINTS and tr.end - acc.end >= 0.25
            if learned or end > (1.1 if acc is None else 1.25 if soared else 1.5) * chance:
                return None
        f = recent_fall(t)
        if (f["sure"] and f["min_at_end"] and f["expected_gain"] >= STILL_FALLING_GAIN
                and end * (1 - f["expected_gain"]) < opts.loss_share * chance):
            return None  # still falling surely, and another run as long would take it below chance: slow learning
        if (t.n >= 10 and stats.mann_kendall_z(t.y) <= -3.0
                and stats.mann_kendall_z(t.y[t.n // 2:]) <= -1.645):
            # a fall far beyond its noise over the whole run and still a trend over its second half: its
            # own robust slope over a run as long again takes it below the limit (the quarter-by-quarter
            # slow-down above is a ratio of two noisy differences, and its "lowest at the end" one noisy
            # point; a steady fall shows no slow-down to measure)
            ahead = end + stats.sen_slope(t.x, t.y) * float(t.x[-1] - t.x[0])
            if ahead < opts.loss_share * chance:
                return None
        evidence = {"metric": t.name, "classes": k, "classes_inferred": inferred, "chance_loss": chance,
                    "loss_end": end, "loss_share": end / chance, "limit": opts.loss_share}
        how = "inferred from where the run started" if inferred else "--num-classes"
        msg = (f"{t.name} ends at {fmt(end)}, {pct(end / chance)} of ln {k} = {chance:.3f}, the loss of a uniform "
               f"guess over {k} classes ({how}); limit {pct(opts.loss_share)}")
        if acc is not None:
            a_end = acc.end
            ref = max(1.0 / k, acc.start)
            evidence.update(acc_metric=acc.name, acc_start=acc.start, acc_end=a_end, acc_chance=ref,
                            acc_margin=opts.acc_margin)
            if a_end > ref + opts.acc_margin:
                return None
            msg += (f"; {ctx.label(acc.name)} ends at {a_end:.3f}, within {opts.acc_margin:.2f} of its start "
                    f"{acc.start:.3f} (chance {1.0 / k:.3f})")
        elif inferred:
            return None
        return self.finding(msg, evidence, span=(float(t.x[0]), float(t.x[-1])))
