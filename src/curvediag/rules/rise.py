"""The validation-loss rise, measured once (:attr:`curvediag.analysis.Context.val_rise`) and judged by
every rule that needs it: O102 val-loss-rising, O101 cramming, O103 over-confidence.  A helper module,
not a rule: rules import it, never each other.

The limits it is judged by are one option group, :data:`RISE` (``[tool.curvediag.rules.rise]``): each of
those rules judges the same rise by the same ``rise_limit``, ``noise_z`` and ``min_points_after``, so
raising the limit turns all of them off together."""

from __future__ import annotations

import math
from typing import Any

from .._np import np

from .. import stats
from ..analysis import Context, Rise
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..remedies import remedy
from .base import OptionGroup, at, fmt, pct

#: The limits of the val-loss rise, shared by every rule that judges it (``groups = (RISE,)``).
RISE = OptionGroup("rise", {"rise_limit": 0.10, "noise_z": 2.5, "min_points_after": 2}, "the val-loss rise")


def resolution(acc: np.ndarray) -> float:
    """The step of an accuracy curve (1 / validation-set size, when it is small):
    the smallest gap between distinct values, ignoring float noise."""
    u = np.unique(np.round(acc, 6))
    if u.size < 2:
        return 0.0
    d = np.diff(u)
    d = d[d > 1e-5]
    return float(d.min()) if d.size else 0.0

OVERFIT_REMEDIES = (
    remedy("stop-at-best"),  # worded in the log's framework (curvediag.remedies.TABLE)
    remedy("regularise"),
    remedy("more-data"),
    remedy("smaller-model"),
    "Lower the learning rate late in training (a decaying schedule).",
)


def significant_rise(ctx: Context, opts: dict[str, Any]) -> Rise:
    """The validation-loss rise, measured once; judge it with :func:`rise_passes`.  A rule that calls
    this declares ``needs`` val_loss with ``min_points`` MIN_POINTS: the engine has checked them."""
    rise = ctx.val_rise
    assert rise is not None  # val_rise is None only without MIN_POINTS val_loss points
    return rise


def rise_passes(r: Rise, opts: dict[str, Any]) -> bool:
    if r.points_after < opts["min_points_after"]:
        return False
    if r.relative < opts["rise_limit"]:
        return False
    if not math.isnan(r.z) and r.z < opts["noise_z"]:
        return False
    return True


def train_kept_falling(ctx: Context, r: Rise) -> tuple[bool, dict]:
    """Training loss did not rise (much) after the validation minimum."""
    t = ctx.track(TRAIN_LOSS)
    if t is None or t.n < 2:
        return True, {}
    on = t.at(r.onset_pos)
    end = t.end
    change = stats.rel(end - on, on)
    ok = change <= 0.5 * r.relative
    return ok, {"train_loss_at_onset": on, "train_loss_end": end, "train_change": change}


def gap_evidence(ctx: Context, r: Rise) -> dict:
    t, v = ctx.track(TRAIN_LOSS), ctx.track(VAL_LOSS)
    if t is None or v is None:
        return {}
    g_on = v.at(r.onset_pos) - t.at(r.onset_pos)
    last = min(float(t.x[-1]), float(v.x[-1]))
    g_end = v.at(last) - t.at(last)
    return {"gap_at_onset": g_on, "gap_end": g_end}


def rise_evidence(r: Rise, opts: dict[str, Any]) -> dict:
    return {
        "onset": r.onset_pos,
        "val_loss_min": r.min_level,
        "val_loss_end": r.end_level,
        "rise": r.relative,
        "limit": opts["rise_limit"],
        "noise_z": r.z,
    }


def rise_message(r: Rise, ctx: Context, opts: dict[str, Any], also: str = "") -> str:
    """'val_loss rose 38% above its minimum (...) after epoch 12<also>; limit 10% (<z>x its noise)'."""
    # a curve with (almost) no noise makes the ratio meaningless: 2.7e16x says nothing a reader can use
    noise = "" if math.isnan(r.z) else f" ({r.z:.1f}x its noise)" if r.z < 1000 else " (far above its noise)"
    return (
        f"val_loss rose {pct(r.relative)} above its minimum (smoothed {fmt(r.min_level)} -> {fmt(r.end_level)}) "
        f"after {at(r.onset_pos, ctx.axis_word)}{also}; limit {pct(opts['rise_limit'])}{noise}"
    )
