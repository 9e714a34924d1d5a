from __future__ import annotations

import math

import numpy as np

from .. import stats
from ..analysis import MIN_POINTS, Context, Track
from ..curves import TRAIN_LOSS, VAL_LOSS
from .base import Rule, Skip, fmt, pct


def tail_steps(n: int) -> int:
    """Steps in the last quarter of a curve of n points (at least 2, at most n - 1)."""
    return min(n - 1, max(2, math.ceil(n / 4)))


def tail_fall(t: Track) -> dict:
    """How much a loss still fell over its last quarter, by a Theil-Sen fit of the tail."""
    n = t.n
    k = tail_steps(n)
    i0 = n - 1 - k
    tail = t.y[i0:]
    slope = stats.theil_sen(tail)
    drop = -slope * k
    fitted_end = float(np.median(tail - slope * np.arange(tail.size))) + slope * k
    total = t.start - min(float(np.min(t.s)), fitted_end)
    z = stats.mann_kendall_z(tail)
    falling = bool(np.all(np.diff(tail) < 0)) if tail.size < 5 else z <= -1.645
    overall = stats.mann_kendall_z(t.y) if n >= 6 else -math.inf
    return {
        "tail_points": int(tail.size),
        "tail_drop": stats.rel(drop, fitted_end + drop),
        "overall_z": overall,
        "share_of_total": drop / total if total > 0 else 0.0,
        "trend_z": z,
        "falling": falling,
        "min_in_tail": int(np.argmin(t.s)) >= i0,
    }


class StillImproving(Rule):
    """Both losses were still clearly falling when training stopped.

    **What it detects.** Over the last quarter of the run, each logged loss
    (training and validation) kept falling: a significant downward trend over
    the run and over its last quarter (Mann-Kendall z <= -1.96 and <= -1.645;
    strictly falling for very short logs), a last-quarter drop of at least
    ``share_limit`` of the run's total improvement and at least ``tail_limit``
    of the level where the quarter began, with the minimum in that last quarter.

    **Why it matters.** The run was stopped too early; more epochs (or a schedule
    that does not decay so soon) would very likely give a better model.

    **Options.** ``share_limit`` (default 0.05), ``tail_limit`` (default 0.02).
    """

    code = "T101"
    name = "losses-still-falling"
    verdict = "still_improving"
    options = {"share_limit": 0.05, "tail_limit": 0.02}
    remedies = (
        "Train for more epochs; keep early stopping on val_loss so it stops at the right time.",
        "If the learning rate already decayed to near zero, lengthen or restart the schedule.",
        "A somewhat higher learning rate may reach the same loss in fewer epochs.",
    )

    def check(self, ctx: Context, opts):
        tracks = [t for t in (ctx.track(TRAIN_LOSS), ctx.track(VAL_LOSS)) if t is not None]
        if not tracks:
            raise Skip("no loss column")
        short = [t for t in tracks if t.n < MIN_POINTS]
        if short:
            raise Skip(f"{short[0].name} has {short[0].n} finite points; needs {MIN_POINTS}")
        evidence = {"share_limit": opts["share_limit"], "tail_limit": opts["tail_limit"]}
        parts = []
        for t in tracks:
            f = tail_fall(t)
            for k, v in f.items():
                evidence[f"{t.name}_{k}"] = v
            if not (f["falling"] and f["overall_z"] <= -1.96 and f["min_in_tail"]
                    and f["share_of_total"] >= opts["share_limit"]
                    and f["tail_drop"] >= opts["tail_limit"]):
                return None
            parts.append(
                f"{t.name} fell {pct(f['tail_drop'])} over the last {f['tail_points']} points "
                f"({pct(f['share_of_total'])} of its total improvement, ending at {fmt(t.end)})"
            )
        first_tail = min(float(t.x[t.n - 1 - tail_steps(t.n)]) for t in tracks)
        msg = "; ".join(parts) + f"; limits {pct(opts['share_limit'])} of the improvement and {pct(opts['tail_limit'])}"
        return self.finding(msg, evidence, span=(first_tail, max(float(t.x[-1]) for t in tracks)))
