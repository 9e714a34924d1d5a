from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .._np import np

from .. import stats
from ..analysis import MIN_POINTS, Context
from ..curves import TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, at, fmt, pct
from .options import amount, share
from .rise import (
    RiseOptions,
    OVERFIT_REMEDIES,
    RISE,
    gap_evidence,
    resolution,
    rise_evidence,
    rise_message,
    rise_passes,
    significant_rise,
    train_kept_falling,
)


#: Noise units by which a stalled validation loss must end above its minimum (or the validation metric
#: fall from its peak) for the stall to be the overfitting verdict rather than an info finding.
STALL_DRIFT_Z = 1.5


@dataclass(frozen=True)
class OverfittingOptions(RiseOptions):
    """The options of O102 (``[tool.curvediag.rules.O102]``)."""

    plateau_tol: float = amount(0.02, "a validation loss within this (relative) of its minimum has stopped improving")
    plateau_share: float = share(0.3, "share of the run the validation loss stalled near its minimum")
    train_drop: float = amount(0.25, "while the training loss fell by more than this (relative) over that stretch")


class Overfitting(Rule):
    """Validation loss turned up while the training loss kept falling.

    **What it detects.** The smoothed validation loss reaches its minimum and the
    run then ends more than ``rise_limit`` above it (relative to the minimum),
    the rise being at least ``noise_z`` times the curve's own point-to-point noise
    and lasting at least ``min_points_after`` points, while the training loss did
    not rise with it (if logged). When validation accuracy is still rising the
    message says so: the model is becoming over-confident on the examples it gets
    wrong, and accuracy, not loss, should pick the checkpoint.

    **Why it matters.** Every epoch after the minimum fits noise in the training
    set; the final weights generalise worse than the best epoch's.

    It also detects the quieter form: the validation loss *stopped* improving
    (it stayed within ``plateau_tol`` of its minimum, or 2x its noise but at most
    5x ``plateau_tol``) for at
    least ``plateau_share`` of the run, while the training loss kept falling by
    more than ``train_drop`` over that stretch — the gap widening without the
    validation loss turning up. A validation accuracy still clearly rising over
    that stretch, while the loss stayed flat, means the loss merely settled
    (healthy), so it vetoes this form; so does, while the loss ends less than
    ``rise_limit`` above where it stopped improving, a validation accuracy whose best
    value is at the very end of the run (within its last tenth), above where it
    was then: the final weights are the best ones by the metric that is shipped.

    **Why it matters.** Every epoch after the minimum fits noise in the training
    set; the final weights generalise worse than the best epoch's.
    """

    code = "O102"
    name = "val-loss-rising"
    verdict = Verdict.OVERFITTING
    groups = (RISE,)
    Options = OverfittingOptions
    needs = (VAL_LOSS,)
    min_points = MIN_POINTS
    remedies = OVERFIT_REMEDIES

    def check(self, ctx: Context, opts: OverfittingOptions) -> Finding | None:
        r = significant_rise(ctx, opts)
        if not rise_passes(r, opts):
            return self.plateau(ctx, opts)
        ok, tev = train_kept_falling(ctx, r)
        if not ok:
            return None
        evidence = {
            **rise_evidence(r, opts),
            **tev,
            **gap_evidence(ctx, r),
        }
        msg = rise_message(r, ctx, opts)
        if "train_change" in tev:
            msg += f"; train_loss changed {tev['train_change'] * 100:+.1f}% over the same span"
        else:
            msg += "; no training loss logged, so the cause is assumed"
        if "gap_end" in evidence and evidence["gap_at_onset"] != 0:
            msg += f"; val-train gap {fmt(evidence['gap_at_onset'])} -> {fmt(evidence['gap_end'])}"
        acc = ctx.track(VAL_ACC)
        if acc is not None and acc.n >= MIN_POINTS:
            a_on, a_end = acc.at(r.onset_pos), acc.end
            evidence.update(val_acc_at_onset=a_on, val_acc_end=a_end)
        return self.finding(msg, evidence, span=(r.onset_pos, float(ctx.need(VAL_LOSS).x[-1])))

    def plateau(self, ctx: Context, opts: OverfittingOptions) -> Finding | None:
        """Validation loss flat near its minimum while the training loss keeps falling."""
        v, t = ctx.need(VAL_LOSS), ctx.track(TRAIN_LOSS)
        if t is None or v.n < 6 or t.n < 3:
            return None
        vmin = float(np.min(v.s))
        noise = 0.0 if np.isnan(v.sigma) else v.sigma
        tol = min(max(opts.plateau_tol * abs(vmin), 2 * noise), 5 * opts.plateau_tol * abs(vmin))
        i_flat = int(np.flatnonzero(v.s <= vmin + tol)[0])
        share = (v.n - 1 - i_flat) / (v.n - 1)
        if share < opts.plateau_share or v.n - 1 - i_flat < 3:
            return None
        pos = float(v.x[i_flat])
        t_on, t_end = t.at(pos), t.end
        if t_on <= 0:
            return None
        drop = (t_on - t_end) / t_on
        v_on = float(v.s[i_flat])
        v_change = stats.rel(v.end - v_on, v_on)
        if drop < opts.train_drop or v_change < -opts.plateau_tol:
            return None
        acc = ctx.track(VAL_ACC)
        if acc is not None and acc.n >= 3 and v_change < opts.rise_limit:
            # the quality metric is at its best at the very end: the final weights are the best ones
            # by the metric users ship, so the loss merely settled (its small drift is no reason to
            # go back to an earlier checkpoint)
            near = max(2, math.ceil(acc.n / 10))
            if int(np.argmax(acc.y)) >= acc.n - near and acc.end > acc.at(pos):
                return None
        if acc is not None and v_change < opts.plateau_tol:
            late = acc.after(pos)
            if late.n >= 3:
                a_gain = late.end - acc.at(pos)
                z = stats.mann_kendall_z(late.y) if late.n >= 5 else (1.7 if a_gain > 0 else 0.0)
                if z >= 1.645 and a_gain > max(0.01, 2.5 * resolution(acc.y)):
                    return None  # val_acc still climbing: the loss settled, the model still improves
        evidence = {
            "onset": pos,
            "val_loss_min": vmin,
            "val_loss_end": v.end,
            "plateau_share": share,
            "train_loss_at_onset": t_on,
            "train_loss_end": t_end,
            "train_drop": drop,
            "limit": opts.train_drop,
            "gap_at_onset": v_on - t_on,
            "gap_end": v.end - t_end,
        }
        # the stall is the verdict only when something measurable got worse: the validation loss ended
        # above its minimum by more than its own noise, or the validation metric fell from its peak by
        # more than its noise; a validation loss still at its minimum is "might be overfitting" (info)
        drift_z = (v.end - vmin) / noise if noise > 0 else (math.inf if v.end > vmin else 0.0)
        evidence["drift_z"] = drift_z
        worse = v_change >= opts.rise_limit or (v_change > 0 and drift_z >= STALL_DRIFT_Z)
        if not worse and acc is not None and acc.n >= 6:
            peak = float(np.max(acc.s))
            a_noise = acc.sigma if np.isfinite(acc.sigma) else 0.0
            a_drop = peak - acc.end
            evidence.update(val_acc_peak=peak, val_acc_drop=a_drop)
            worse = a_drop > max(0.02, STALL_DRIFT_Z * a_noise, 2 * resolution(acc.y))
        msg = (
            ("" if worse else "might be overfitting: ")
            + f"val_loss stopped improving at {at(pos, ctx.axis_word)} (within {pct(tol / abs(vmin) if vmin else 0)} "
            f"of its smoothed minimum {fmt(vmin)}, ending {v_change * 100:+.1f}% from there, over the last {pct(share)} "
            f"of the run) while train_loss fell "
            f"{pct(drop)} more (smoothed {fmt(t_on)} -> {fmt(t_end)}); val-train gap {fmt(v_on - t_on)} -> "
            f"{fmt(v.end - t_end)}; limit {pct(opts.train_drop)}"
        )
        f = self.finding(msg, evidence, span=(pos, float(v.x[-1])))
        if not worse:
            msg += ("; val_loss is still within its noise of its minimum"
                    + (" and the validation metric held" if acc is not None else "") + ", so this is not the verdict")
            f = replace(f, verdict=None, severity="info", message=msg)
        return f
