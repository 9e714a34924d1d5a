from __future__ import annotations

from .._np import np

from ..analysis import Context
from .base import Rule, at, fmt, val_loss_points_or_skip


class EarlyStoppingAdvice(Rule):
    """Early stopping would have stopped this run; the final weights are past the best.

    **What it detects.** Keras' ``EarlyStopping(monitor="val_loss",
    patience=patience)`` replayed on the log: it would have stopped
    ``patience`` evaluations after the best one, before the run ended.

    **Why it matters.** The epochs after that point were spent without
    improving the validation loss; the final weights are that many epochs past
    the best ones, which are the ones to keep.

    **Options.** ``patience`` (default 5).
    """

    code = "E101"
    name = "early-stopping-advice"
    options = {"patience": 5}
    remedies = (
        "Restore the best checkpoint (ModelCheckpoint(save_best_only=True) / restore_best_weights=True).",
        "Add early stopping with this patience to save the wasted epochs.",
    )

    def check(self, ctx: Context, opts):
        fin = val_loss_points_or_skip(ctx, 3)
        p = int(opts["patience"])
        best, best_i, wait = np.inf, 0, 0
        for i, val in enumerate(fin.y):
            if val < best:
                best, best_i, wait = val, i, 0
                continue
            wait += 1
            if wait >= p and i < len(fin) - 1:
                i_final = int(np.argmin(fin.y))
                wasted = float(fin.x[-1] - fin.x[i_final])
                axis = ctx.axis_word
                return self.finding(
                    f"EarlyStopping(patience={p}) would have stopped at {at(float(fin.x[i]), axis)} "
                    f"(best so far {fmt(best)} at {at(float(fin.x[best_i]), axis)}); the final weights are "
                    f"{wasted:g} {axis}s past the best val_loss ({fmt(float(fin.y[i_final]))} at "
                    f"{at(float(fin.x[i_final]), axis)}): restore that checkpoint",
                    {"stop_at": float(fin.x[i]), "best_at_stop": float(fin.x[best_i]),
                     "best": float(fin.x[i_final]), "past_best": wasted, "patience": p},
                    span=(float(fin.x[i]), float(fin.x[-1])),
                )
        return None
