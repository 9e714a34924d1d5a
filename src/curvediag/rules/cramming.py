from __future__ import annotations

from .._np import np

from ..analysis import MIN_POINTS, Context
from ..curves import TRAIN_ACC, VAL_ACC, VAL_LOSS
from .base import Rule, Skip
from .overfitting import (
    OVERFIT_REMEDIES,
    gap_evidence,
    resolution,
    rise_evidence,
    rise_message,
    rise_passes,
    significant_rise,
)


class Cramming(Rule):
    """Validation loss rose and validation accuracy fell: memorising, not learning.

    **What it detects.** The validation loss rises above its minimum by the same
    test as ``val-loss-rising`` (O102), and validation accuracy falls from its
    (smoothed) peak by more than ``acc_drop`` absolute, ``noise_z`` times its
    noise and 2.5 steps of its resolution (one validation example) — or barely
    moved over the whole run (less than 15% of what training accuracy gained)
    while training accuracy climbed far above it (by ``memorise_gap``), as with
    random or heavily noisy labels. Validation accuracy that rose and then
    merely plateaued is overfitting (O102), not cramming.

    **Why it matters.** The model is fitting the training examples themselves
    (including their label noise) at the cost of the pattern; unlike plain
    overfitting, even accuracy gets worse.

    **Options.** ``rise_limit`` (default 0.10), ``noise_z`` (default 2.5),
    ``min_points_after`` (default 2), ``acc_drop`` (default 0.03),
    ``memorise_gap`` (default 0.25).
    """

    code = "O101"
    name = "val-loss-up-val-acc-down"
    verdict = "cramming"
    options = {"rise_limit": 0.10, "noise_z": 2.5, "min_points_after": 2, "acc_drop": 0.03, "memorise_gap": 0.25}
    remedies = OVERFIT_REMEDIES + (
        "Check the labels for noise or errors (a confusion matrix of the worst examples helps).",
        "Check the train/validation split: same distribution, no duplicates across it.",
    )

    def check(self, ctx: Context, opts):
        if not ctx.curves.has(VAL_ACC):
            raise Skip("no validation accuracy in the log")
        r = significant_rise(ctx, opts)
        acc = ctx.track(VAL_ACC)
        if acc is None or acc.n < MIN_POINTS:
            raise Skip(f"val_acc has too few finite points; needs {MIN_POINTS}")
        if not rise_passes(r, opts):
            return None
        i_peak = int(np.argmax(acc.s))
        peak, end, start = float(acc.s[i_peak]), acc.end, acc.start
        noise = 0.0 if np.isnan(acc.sigma) else acc.sigma
        need = max(opts["acc_drop"], opts["noise_z"] * noise, 2.5 * resolution(acc.y))
        drop = peak - end
        evidence = {
            **rise_evidence(r, opts),
            "val_acc_peak": peak,
            "val_acc_peak_at": float(acc.x[i_peak]),
            "val_acc_end": end,
            "val_acc_drop": drop,
            "val_acc_drop_limit": need,
            **gap_evidence(ctx, r),
        }
        if drop > need and i_peak < acc.n - 1:
            msg = rise_message(r, ctx, opts, f" while val_acc fell {drop:.3f} from its peak {peak:.3f} to {end:.3f}")
            msg += f"; val_acc limit {need:.3f}"
        else:
            tr = ctx.track(TRAIN_ACC)
            if tr is None or tr.n < MIN_POINTS:
                return None
            # memorising from the start: validation accuracy never gained much over the
            # whole run, while training accuracy climbed (random or very noisy labels)
            gain = end - start
            train_gain = tr.end - tr.start
            gap = tr.end - end
            if not (gain <= max(need, 0.15 * train_gain) and gap >= opts["memorise_gap"]):
                return None
            evidence.update(val_acc_gain=gain, train_acc_gain=train_gain, train_acc_end=tr.end, acc_gap=gap)
            msg = rise_message(
                r, ctx, opts,
                f" while val_acc barely moved over the run ({start:.3f} -> {end:.3f}) as train_acc climbed to {tr.end:.3f}",
            )
            msg += f"; a {gap:.2f} train-val accuracy gap: memorised, not learned (limit {opts['memorise_gap']:.2f})"
        return self.finding(msg, evidence, span=(r.onset_pos, float(ctx.track(VAL_LOSS).x[-1])))


__all__ = ["Cramming"]
