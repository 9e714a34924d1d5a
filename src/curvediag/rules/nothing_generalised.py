from __future__ import annotations

from .._np import np

from .. import stats
from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_ACC, VAL_LOSS
from .base import Rule, Skip, fmt, pct


class NothingGeneralised(Rule):
    """The training loss moved, but nothing reached the validation set.

    **What it detects.** The validation loss never improved on its first level by
    more than ``val_limit`` and ends within ``val_limit`` of it, while the training
    loss fell by more than ``val_limit`` (the model fits the training set a little)
    — and, when a validation accuracy (or quality metric) is logged, it never moved
    from its first level by more than ``acc_gain`` (smoothed), staying at its start,
    chance or majority-class rate. Random labels with a tiny model, a frozen or
    broken feature extractor, inputs disconnected from the labels look like this.
    A validation loss that *rises* a lot is not this pattern (that is
    memorising: ``val-loss-up-val-acc-down``).

    **Why it matters.** Whatever the model learns does not transfer: more epochs
    will not help, and the training loss alone would hide it.

    **Options.** ``val_limit`` (default 0.05), ``acc_gain`` (default 0.03).
    """

    code = "L102"
    name = "nothing-generalised"
    verdict = "not_learning"
    options = {"val_limit": 0.05, "acc_gain": 0.03}
    remedies = (
        "Check that inputs and labels are aligned and that the labels are not shuffled or random.",
        "Check that the feature extractor is really trained (not frozen at a random initialisation) and gets normalised inputs.",
        "Try a larger model or a higher learning rate; overfit a small batch first to see that the model can learn at all.",
        "Check the train/validation split: the same task, the same preprocessing.",
    )

    def check(self, ctx: Context, opts):
        v, t = ctx.track(VAL_LOSS), ctx.track(TRAIN_LOSS)
        if v is None or t is None:
            raise Skip("needs training and validation loss")
        if v.n < 6 or t.n < 3:
            raise Skip("needs at least 6 validation points")
        lim = opts["val_limit"]
        v0 = v.start
        if v0 <= 0:
            return None
        v_best = stats.rel(v0 - float(np.min(v.s)), v0)
        v_end = stats.rel(v.end - v0, v0)
        t_fall = stats.rel(t.start - t.end, t.start)
        if not (v_best <= lim and abs(v_end) <= lim and t_fall > lim):
            return None
        evidence = {"val_loss_start": v0, "val_loss_end": v.end, "val_loss_best_gain": v_best,
                    "train_loss_fall": t_fall, "limit": lim}
        msg = (f"val_loss never improved more than {pct(v_best)} on its first level ({fmt(v0)}) and ends "
               f"{v_end * 100:+.1f}% from it, while train_loss fell {pct(t_fall)}")
        a = ctx.track(VAL_ACC)
        if a is not None and a.n >= 3:
            moved = float(np.max(np.abs(a.s - a.start)))
            if moved > opts["acc_gain"]:
                return None
            evidence.update(val_acc_start=a.start, val_acc_end=a.end, val_acc_moved=moved, acc_limit=opts["acc_gain"])
            msg += f"; {a.name} stayed at {a.start:.3f} (moved at most {moved:.3f})"
        msg += f"; limits {pct(lim)} and {opts['acc_gain']:.2f} accuracy"
        return self.finding(msg, evidence, span=(float(v.x[0]), float(v.x[-1])))
