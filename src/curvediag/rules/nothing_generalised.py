from __future__ import annotations

from dataclasses import dataclass
from typing import TypeGuard

from .._np import np

from .. import stats
from ..analysis import Context, Track
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, fmt, pct
from .options import RuleOptions, amount, share


#: A validation loss that improved less than this while the accuracy never changed learned nothing.
STUCK_LIMIT = 0.25
#: A quality metric (mAP, F1 ...) whose chance level is 0 has learned something above this.
QUALITY_NOTHING = 0.05
#: An accuracy that reached this has generalised (a pretrained or fast model), whatever its start was.
GENERALISED = 0.9


@dataclass(frozen=True)
class NothingGeneralisedOptions(RuleOptions):
    """The options of L102 (``[tool.curvediag.rules.L102]``)."""

    val_limit: float = share(0.05, "the validation loss never improving on its first level by more than this (relative)")
    rise_limit: float = amount(0.2, "nor ending more than this above it (relative)")
    acc_gain: float = share(0.05, "the validation accuracy's second-half mean at most this above its first value")
    memorise_gap: float = share(0.25, "a training accuracy this far above the validation accuracy is memorising instead")


def _one_class(a: Track | None) -> TypeGuard[Track]:
    """An accuracy identical at every one of 10 or more evaluations (and below 0.99): one class
    predicted for every example."""
    return a is not None and a.n >= 10 and float(np.ptp(a.y)) < 1e-9 and a.end < 0.99

class NothingGeneralised(Rule):
    """The training loss moved, but nothing reached the validation set.

    **What it detects.** The validation loss never improved on its first level by
    more than ``val_limit`` and ends between ``val_limit`` below and ``rise_limit``
    above it, while the training loss fell by more than ``val_limit`` (the model fits
    the training set a little) — and, when a validation accuracy (or quality metric)
    is logged, its mean over the second half of the run is no more than ``acc_gain``
    above its first value: it stays at its start, chance or majority-class rate, or
    swings around it. Random labels with a tiny model, a frozen or broken feature
    extractor, inputs disconnected from the labels look like this. A validation loss
    that rises far, or a training accuracy ``memorise_gap`` above the validation
    accuracy, is memorising instead (``val-loss-up-val-acc-down``). A validation
    accuracy identical at every one of at least 10 evaluations (and under 0.99: one
    class predicted for every example) while the validation loss improved less than
    25% is this pattern too: the loss only learns the class frequencies. It needs a
    validation accuracy or quality metric (without one, a flat validation loss beside
    a falling training loss is ``val-loss-rising``'s plateau); a quality metric whose
    chance level is 0 (mAP, F1) must also stay under 0.05 — one that starts high
    belongs to a pretrained model, not to a model at chance; and an accuracy that
    reached 0.9 has generalised, whatever its first value was.

    **Why it matters.** Whatever the model learns does not transfer: more epochs
    will not help, and the training loss alone would hide it.
    """

    code = "L102"
    name = "nothing-generalised"
    verdict = Verdict.NOT_LEARNING
    Options = NothingGeneralisedOptions
    needs = (VAL_LOSS, TRAIN_LOSS)
    min_points = {VAL_LOSS: 6, TRAIN_LOSS: 3}  # its first level and its end are judged apart
    remedies = (
        "Check that inputs and labels are aligned and that the labels are not shuffled or random.",
        "Check that the feature extractor is really trained (not frozen at a random initialisation) and gets normalised inputs.",
        "Try a larger model or a higher learning rate; overfit a small batch first to see that the model can learn at all.",
        "Check the train/validation split: the same task, the same preprocessing.",
    )

    def check(self, ctx: Context, opts: NothingGeneralisedOptions) -> Finding | None:
        v, t = ctx.need(VAL_LOSS), ctx.need(TRAIN_LOSS)
        lim = opts.val_limit
        v0 = v.start
        if v0 <= 0:
            return None
        v_best = stats.rel(v0 - float(np.min(v.s)), v0)
        v_end = stats.rel(v.end - v0, v0)
        t_fall = stats.rel(t.start - t.end, t.start)
        a = ctx.track(VAL_ACC)
        if _one_class(a) and v_best < STUCK_LIMIT and t_fall > lim:
            return self.finding(
                f"{ctx.label(VAL_ACC)} is {ctx.shown(VAL_ACC, a.end)} at every one of its {len(ctx.curves.series[VAL_ACC].finite())} evaluations (one class predicted for every "
                f"example) while val_loss fell only {pct(v_best)} and train_loss {pct(t_fall)}; the loss only "
                f"learns the class frequencies",
                {"val_acc": a.end, "points": a.n, "val_loss_best_gain": v_best, "train_loss_fall": t_fall},
                span=(float(v.x[0]), float(v.x[-1])),
            )
        if not (v_best <= lim and -lim <= v_end <= opts.rise_limit and t_fall > lim):
            return None
        if a is None or a.n < 3:
            return None  # without a metric, a flat val_loss beside a falling train loss is overfitting's plateau
        series = ctx.curves.get(VAL_ACC)
        if series is not None and series.quality and float(np.max(a.y)) > QUALITY_NOTHING:
            return None  # a quality metric (mAP, F1 ...) well above 0 from the start: a pretrained model, not chance
        evidence = {"val_loss_start": v0, "val_loss_end": v.end, "val_loss_best_gain": v_best,
                    "train_loss_fall": t_fall, "limit": lim}
        msg = (f"val_loss never improved more than {pct(v_best)} on its first level (smoothed {fmt(v0)}) and ends "
               f"{v_end * 100:+.1f}% from it, while train_loss fell {pct(t_fall)}")
        if float(np.max(a.y)) >= GENERALISED:
            return None  # 90% right on the validation set is generalising, whatever the loss did
        first = float(a.y[0])
        late = float(np.mean(a.y[a.n // 2 :]))
        if late - first > opts.acc_gain:
            return None  # it gained accuracy that lasted: something generalised
        tr = ctx.track(TRAIN_ACC)
        if tr is not None and tr.n >= 3 and tr.end - a.end >= opts.memorise_gap:
            return None  # training accuracy soared above it: memorising (cramming), not this
        evidence.update(val_acc_first=first, val_acc_late_mean=late, val_acc_end=a.end,
                        acc_limit=opts.acc_gain)
        msg += (f"; {ctx.label(VAL_ACC)} gained nothing that lasted ({ctx.shown(VAL_ACC, first)} first, an average "
                f"{ctx.shown(VAL_ACC, late)} over the second half)")
        msg += f"; limits {pct(lim)} and {opts.acc_gain:.2f} accuracy"
        return self.finding(msg, evidence, span=(float(v.x[0]), float(v.x[-1])))
