from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats
from ..analysis import MIN_POINTS, Context, Rise, Track
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, at, pct, span
from .options import share
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
)


@dataclass(frozen=True)
class CrammingOptions(RiseOptions):
    """The options of O101 (``[tool.curvediag.rules.O101]``)."""

    acc_drop: float = share(0.03, "the validation accuracy falling at least this (absolute) from its peak")
    memorise_gap: float = share(0.25, "or a training accuracy this far above the validation accuracy")
    collapse: float = share(0.2, "a validation accuracy falling this far (absolute) from its peak collapsed")


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

    It also detects a **quality collapse**: the validation accuracy or quality metric
    (top-1, mAP, F1) first rises, then falls at least ``collapse`` of its (smoothed) peak — the mean of
    its last quarter against the peak, beyond ``acc_drop`` and ``noise_z`` times its
    noise — and stays down, while the validation loss rose above its minimum by any
    amount (losses that barely move, as YOLO classification logs them) and the
    training loss kept falling.

    **Why it matters.** The model is fitting the training examples themselves
    (including their label noise) at the cost of the pattern; unlike plain
    overfitting, even accuracy gets worse.
    """

    code = "O101"
    name = "val-loss-up-val-acc-down"
    verdict = Verdict.CRAMMING
    groups = (RISE,)
    Options = CrammingOptions
    needs = (VAL_ACC, VAL_LOSS)
    min_points = MIN_POINTS
    remedies = OVERFIT_REMEDIES + (
        "Check the labels for noise or errors (a confusion matrix of the worst examples helps).",
        "Check the train/validation split: same distribution, no duplicates across it.",
    )

    def check(self, ctx: Context, opts: CrammingOptions) -> Finding | None:
        r = significant_rise(ctx, opts)
        acc = ctx.need(VAL_ACC)
        if not rise_passes(r, opts):
            return self.collapse(ctx, opts, r, acc)
        i_peak = int(np.argmax(acc.s))
        peak, end, start = float(acc.s[i_peak]), acc.end, acc.start
        noise = 0.0 if np.isnan(acc.sigma) else acc.sigma
        need = max(opts.acc_drop, opts.noise_z * noise, 2.5 * resolution(acc.y))
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
            lab, s = ctx.label(VAL_ACC), ctx.curves.series[VAL_ACC]
            worse = f"{abs(s.shown(peak) - s.shown(end)):.3g}"
            msg = rise_message(r, ctx, opts, f" while {lab} {'rose' if s.inverted else 'fell'} {worse} (smoothed, from its "
                                             f"best {ctx.shown(VAL_ACC, peak)} to {ctx.shown(VAL_ACC, end)})")
            msg += f"; {lab} limit {abs(s.shown(need) - s.shown(0.0)):.3g}"
        else:
            tr = ctx.track(TRAIN_ACC)
            if tr is None or tr.n < MIN_POINTS:
                return None
            # memorising from the start: validation accuracy never gained much over the
            # whole run, while training accuracy climbed (random or very noisy labels)
            gain = end - start
            train_gain = tr.end - tr.start
            gap = tr.end - end
            if not (gain <= max(need, 0.15 * train_gain) and gap >= opts.memorise_gap):
                return None
            evidence.update(val_acc_gain=gain, train_acc_gain=train_gain, train_acc_end=tr.end, acc_gap=gap)
            msg = rise_message(
                r, ctx, opts,
                f" while {ctx.label(VAL_ACC)} barely moved over the run (smoothed {ctx.shown(VAL_ACC, start)} -> "
                f"{ctx.shown(VAL_ACC, end)}) as train_acc climbed to {tr.end:.3f}",
            )
            msg += f"; a {gap:.2f} train-val accuracy gap: memorised, not learned (limit {opts.memorise_gap:.2f})"
        return self.finding(msg, evidence, span=(r.onset_pos, float(ctx.need(VAL_LOSS).x[-1])))


    def collapse(self, ctx: Context, opts: CrammingOptions, r: Rise, acc: Track) -> Finding | None:
        """The quality metric fell far from its peak and stayed down while the validation loss
        rose only a little (losses that barely move, as YOLO classification logs them)."""
        if acc.n < 8 or r.points_after < opts.min_points_after or r.rise <= 0:
            return None
        i_peak = int(np.argmax(acc.s))
        peak = float(acc.s[i_peak])
        q = max(2, acc.n // 4)
        if peak <= 0 or i_peak >= acc.n - q:
            return None
        tail = float(np.mean(acc.y[-q:]))
        # a collapse is a fall after a rise, or a fall from where the run started that loses a
        # ``collapse`` share of it: a metric that never rose and kept what it had has nothing to lose
        # (the start is the median of the first points, never the first point alone)
        start = stats.start_level(acc.y)
        if peak <= start + opts.acc_drop and not (start > 0 and (start - tail) / start >= opts.collapse):
            return None
        noise = 0.0 if np.isnan(acc.sigma) else acc.sigma
        drop = peak - tail
        if drop / peak < opts.collapse or drop <= max(opts.acc_drop, opts.noise_z * noise):
            return None
        t = ctx.track(TRAIN_LOSS)
        if t is not None and t.n >= 3 and not t.end < t.at(float(acc.x[i_peak])):
            return None  # the training loss did not keep falling: not memorising
        evidence = {
            **rise_evidence(r, opts),
            "val_acc_peak": peak,
            "val_acc_peak_at": float(acc.x[i_peak]),
            "val_acc_end": acc.end,
            "val_acc_tail_mean": tail,
            "val_acc_drop": drop,
            "collapse": drop / peak,
            "collapse_limit": opts.collapse,
        }
        msg = (
            f"{ctx.label(VAL_ACC)} collapsed {pct(drop / peak)} from its smoothed best {ctx.shown(VAL_ACC, peak)} at "
            f"{at(float(acc.x[i_peak]), ctx.axis_word)} to an average {ctx.shown(VAL_ACC, tail)} over {span(float(acc.x[-q]), float(acc.x[-1]), ctx.axis_word)} and stayed down, while val_loss rose only {pct(r.relative)} "
            f"above its minimum; limit {pct(opts.collapse)} of the peak"
        )
        return self.finding(msg, evidence, span=(float(acc.x[i_peak]), float(acc.x[-1])))


__all__ = ["Cramming"]
