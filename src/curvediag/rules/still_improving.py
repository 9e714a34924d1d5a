from __future__ import annotations

import math

from .._np import np

from .. import stats
from ..analysis import MIN_POINTS, Context, Track
from ..curves import TRAIN_LOSS, VAL_LOSS
from .base import Rule, Skip, fmt, pct


def tail_steps(n: int) -> int:
    """Steps in the last quarter of a curve of n points (at least 2, at most n - 1)."""
    return min(n - 1, max(2, math.ceil(n / 4)))


def tail_fall(t: Track, judged: bool = True) -> dict:
    """How much a loss still fell over its last quarter, by a Theil-Sen fit of the tail."""
    n = t.n
    k = tail_steps(n)
    i0 = n - 1 - k
    tail = t.y[i0:]
    slope = stats.theil_sen(tail)
    tail_start = float(t.s[i0])
    # the Theil-Sen drop over the tail, never more than what was observed
    drop = min(-slope * k, tail_start - float(np.min(tail)))
    total = t.start - float(np.min(t.s))
    noise_ok = not np.isfinite(t.sigma) or drop >= 2 * t.sigma
    z = stats.mann_kendall_z(tail)
    # the judged loss needs a significant trend over its tail; the other one only has to
    # keep going down (a negative slope clear of its noise)
    falling = slope < 0 if tail.size < 5 or not judged else z <= -1.645
    overall = stats.mann_kendall_z(t.y) if n >= 6 else -math.inf
    return {
        "tail_points": int(tail.size),
        "tail_drop": stats.rel(drop, tail_start),
        "overall_z": overall,
        "share_of_total": drop / total if total > 0 else 0.0,
        "trend_z": z,
        "falling": bool(falling and noise_ok),
        "min_in_tail": int(np.argmin(t.s)) >= i0,
    }


class StillImproving(Rule):
    """Both losses were still clearly falling when training stopped.

    **What it detects.** Over the last quarter of the run, each logged loss
    (training and validation) kept falling: a significant downward trend over
    the run and over its last quarter (Mann-Kendall z <= -1.96 and <= -1.645;
    a negative Theil-Sen slope for tails under 5 points; a drop of at least twice
    the curve's own noise), a last-quarter drop of at least
    ``tail_limit`` of the level where the quarter began, with the minimum in that
    last quarter. The validation loss (or the only loss logged) must also still be
    making a visible part of its progress: at least ``share_limit`` of the run's
    total improvement in that last quarter — a curve that looks flat next to its
    first epochs has settled, even if it still creeps down.

    **Why it matters.** The run was stopped too early; more epochs (or a schedule
    that does not decay so soon) would very likely give a better model.

    **Options.** ``share_limit`` (default 0.05), ``tail_limit`` (default 0.005).
    """

    code = "T101"
    name = "losses-still-falling"
    verdict = "still_improving"
    options = {"share_limit": 0.05, "tail_limit": 0.005}
    remedies = (
        "Train for more epochs; keep early stopping on val_loss so it stops at the right time.",
        "If the learning rate already decayed to near zero, lengthen or restart the schedule.",
        "A somewhat higher learning rate may reach the same loss in fewer epochs.",
    )

    def check(self, ctx: Context, opts):
        tracks = [t for t in (ctx.track(VAL_LOSS), ctx.track(TRAIN_LOSS)) if t is not None]
        if not tracks:
            raise Skip("no loss column")
        short = [t for t in tracks if t.n < MIN_POINTS]
        if short:
            raise Skip(f"{short[0].name} has {short[0].n} finite points; needs {MIN_POINTS}")
        evidence = {"share_limit": opts["share_limit"], "tail_limit": opts["tail_limit"]}
        parts = []
        for t in tracks:
            judged = t.name == VAL_LOSS or len(tracks) == 1
            f = tail_fall(t, judged)
            for k, v in f.items():
                evidence[f"{t.name}_{k}"] = v
            # the share of the total improvement is what a plot shows as "still going down";
            # it is asked of the validation loss (the one that matters), of the training
            # loss only when it is the only curve
            big_share = f["share_of_total"] >= opts["share_limit"] or not judged
            if not (f["falling"] and f["overall_z"] <= -1.96 and f["min_in_tail"] and big_share
                    and f["tail_drop"] >= opts["tail_limit"]):
                return None
            parts.append(
                f"{t.name} fell {pct(f['tail_drop'])} over the last {f['tail_points']} points "
                f"({pct(f['share_of_total'])} of its total improvement, ending at {fmt(t.y[-1])})"
            )
        first_tail = min(float(t.x[t.n - 1 - tail_steps(t.n)]) for t in tracks)
        msg = "; ".join(parts) + f"; limits {pct(opts['share_limit'])} of the improvement and {pct(opts['tail_limit'])}"
        return self.finding(msg, evidence, span=(first_tail, max(float(t.x[-1]) for t in tracks)))
