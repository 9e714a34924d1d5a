from __future__ import annotations

from .._np import np

from ..analysis import Context
from ..curves import VAL_LOSS
from ..remedies import remedy
from .base import Rule, amount, at, fmt


def replay(y: np.ndarray, patience: int) -> tuple[int | None, int]:
    """Keras' EarlyStopping(monitor="val_loss") on ``y``: (index it stops at, or None when it
    runs to the end; index of the best value it had seen when it stopped)."""
    best, best_i, wait = np.inf, 0, 0
    for i, val in enumerate(y):
        if val < best:  # NaN compares False: no improvement, as in Keras
            best, best_i, wait = val, i, 0
            continue
        wait += 1
        if wait >= patience and i < len(y) - 1:
            return i, best_i
    return None, best_i


def patience_to_keep(y: np.ndarray, i_best: int) -> int:
    """The smallest patience with which EarlyStopping reaches index ``i_best``: one more than
    the longest run of evaluations without a new minimum before it."""
    best, wait, longest = np.inf, 0, 0
    for val in y[: i_best + 1]:
        if val < best:
            best, wait = val, 0
        else:
            wait += 1
            longest = max(longest, wait)
    return longest + 1


class EarlyStoppingAdvice(Rule):
    """Early stopping would have stopped this run; the final weights are past the best.

    **What it detects.** Keras' ``EarlyStopping(monitor="val_loss",
    patience=patience)`` replayed on the log. When it would have stopped before the
    run ended, *and* the best validation loss it had seen by then is the run's best,
    the epochs after it were wasted and the best checkpoint is the one to keep. When
    that patience would have stopped *before* the run's best epoch, the advice is
    the patience that would have reached it instead. When the final epoch is the
    best, there is nothing to restore and nothing is said.

    **Why it matters.** The epochs after the best were spent without improving the
    validation loss; the final weights are that many epochs past the best ones.
    Early stopping with too small a patience would have thrown the best ones away.

    **Options.** ``patience`` (default 5).
    """

    code = "E101"
    name = "early-stopping-advice"
    options = {"patience": 5}
    needs = (VAL_LOSS,)
    min_points = 3
    remedies = (remedy("restore-best"), remedy("early-stopping"))

    def check(self, ctx: Context, opts):
        fin = ctx.curves.series[VAL_LOSS].finite()  # as logged, not smoothed
        y, x = fin.y, fin.x
        p = int(opts["patience"])
        i_final = int(np.argmin(y))  # the run's best (NaN-free: finite points only)
        if i_final == len(y) - 1:
            return None  # the last evaluation is the best: nothing to restore
        i_stop, i_seen = replay(y, p)
        if i_stop is None:
            return None
        axis = ctx.axis_word
        wasted = float(x[-1] - x[i_final])
        evidence = {"stop_at": float(x[i_stop]), "best_at_stop": float(x[i_seen]), "best": float(x[i_final]),
                    "past_best": wasted, "patience": p}
        if i_seen == i_final:
            return self.finding(
                f"EarlyStopping(patience={p}) would have stopped at {at(float(x[i_stop]), axis)}, keeping the best "
                f"val_loss ({fmt(float(y[i_final]))} at {at(float(x[i_final]), axis)}); the final weights are "
                f"{amount(wasted, axis)} past it: restore that checkpoint",
                evidence,
                span=(float(x[i_stop]), float(x[-1])),
                remedies=(remedy("restore-best"), remedy("early-stopping", patience=p)),
            )
        need = patience_to_keep(y, i_final)
        evidence["patience_to_keep_best"] = need
        return self.finding(
            f"EarlyStopping(patience={p}) would have stopped at {at(float(x[i_stop]), axis)}, before the best "
            f"val_loss ({fmt(float(y[i_final]))} at {at(float(x[i_final]), axis)}, {fmt(float(y[i_seen]))} seen "
            f"by then); a patience of at least {need} reaches it; the final weights are {amount(wasted, axis)} past "
            f"the best: restore that checkpoint",
            evidence,
            span=(float(x[i_final]), float(x[-1])),
            remedies=(remedy("early-stopping", patience=need), remedy("restore-best")),
        )
