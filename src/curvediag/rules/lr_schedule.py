from __future__ import annotations

from dataclasses import dataclass

import math

from .._np import np

from ..analysis import Context
from ..curves import LR, TRAIN_LOSS, VAL_LOSS, Series
from ..report import Finding
from .base import Rule, at, pct
from .options import RuleOptions, amount
from .steps import plateau_drops
from .. import stats


def _med(y: np.ndarray) -> float:
    return float(np.median(y)) if y.size else math.nan


def _thirds_change(y: np.ndarray) -> float:
    """Relative fall from the first third's median to the last third's (positive: it fell)."""
    t = max(1, y.size // 3)
    a, b = _med(y[:t]), _med(y[-t:])
    return (a - b) / abs(a) if a else 0.0


@dataclass(frozen=True)
class LrScheduleOptions(RuleOptions):
    """The options of S101 (``[tool.curvediag.rules.S101]``)."""

    flat: float = amount(0.02, "a loss within this (relative) of its level is flat")
    end_share: float = amount(0.1, "an LR decayed below this share of its peak has ended its schedule")
    rise: float = amount(0.5, "a loss ending this far (relative) above its low near the LR peak diverged after the peak")
    step: float = amount(0.7, "a step-down multiplies the LR by at most this")
    gain: float = amount(0.03, "the loss falling by this (relative) right after a step-down")


class LrSchedule(Rule):
    """The learning-rate schedule read as evidence: warm-up, its end, its peak, its steps.

    **What it detects.** Wherever the learning rate is logged (``learning_rate``, ``lr``),
    what the loss (the training loss, else the validation loss) did at the schedule's
    landmarks:

    * **warm-up**: the LR rose to its peak over the first part of the run and the loss
      stayed within ``flat`` of its level meanwhile, then fell: a plateau during warm-up
      is expected, not "not learning";
    * **the schedule ended**: the LR decayed below ``end_share`` of its peak and the
      loss has been flat (within ``flat``) since, after falling before: the schedule
      ended, not the model (a longer schedule, or a higher final LR);
    * **divergence after the peak**: the loss was lowest near the moment the LR reached
      its peak and ended ``rise`` above that low: the peak LR names itself, with a third
      of it as the value to try (the log shows what was stable);
    * **step-downs**: the LR stepped down from a plateau (held within 1% over the two logs
      before, then multiplied by ``step`` or less: ``ReduceLROnPlateau``, a step schedule;
      not the last steps of a linear decay) at least twice and the loss fell by ``gain`` or more right after most of them: the LR, not
      the model, set the pace -- decay it earlier or on a schedule.

    The remedies quote the logged LR. Nothing is said where the LR is constant.

    **Why it matters.** The learning rate explains many shapes of the loss that look like
    model problems; reading it avoids the wrong remedy.
    """

    code = "S101"
    name = "lr-schedule"
    needs = ((TRAIN_LOSS, VAL_LOSS),)  # and the learning rate, read as logged: silent without it
    min_points = 4
    Options = LrScheduleOptions
    remedies = ()

    def check(self, ctx: Context, opts: LrScheduleOptions) -> Finding | None:
        lr_s = ctx.curves.get(LR)
        if lr_s is None:
            return None
        lr = lr_s.finite()
        loss_s = ctx.curves.get(TRAIN_LOSS) or ctx.curves.get(VAL_LOSS)
        if loss_s is None:
            return None
        loss = loss_s.finite()
        if lr.y.size < 4 or loss.y.size < 6 or not np.all(lr.y >= 0):
            return None
        peak = float(np.max(lr.y))
        if peak <= 0 or float(np.min(lr.y)) >= 0.9 * peak:
            return None  # a constant learning rate says nothing
        axis = ctx.axis_word
        parts: list[str] = []
        remedies: list[str] = []
        ev: dict = {"lr_peak": peak, "lr_last": float(lr.y[-1]), "loss": loss.name}
        ip = int(np.argmax(lr.y))
        xp = float(lr.x[ip])
        ev["lr_peak_at"] = xp
        self._warmup(lr, loss, ip, xp, float(opts.flat), axis, parts, ev)
        self._ended(lr, loss, peak, ip, opts, axis, parts, remedies, ev)
        self._diverged(lr, loss, peak, xp, float(opts.rise), axis, parts, remedies, ev)
        self._steps(lr, loss, opts, axis, parts, remedies, ev)
        if not parts:
            return None
        return self.finding("; ".join(parts), ev, span=(float(lr.x[0]), float(lr.x[-1])), remedies=tuple(remedies))

    @staticmethod
    def _warmup(lr: Series, loss: Series, ip: int, xp: float, flat: float, axis: str, parts: list[str], ev: dict) -> None:
        if ip == 0 or ip >= 0.5 * lr.y.size or lr.y[0] > 0.5 * lr.y[ip]:
            return
        during = loss.y[loss.x <= xp]
        after = loss.y[loss.x > xp]
        if during.size < 3 or after.size < 3:
            return
        change = _thirds_change(during)
        fall_after = _thirds_change(after)
        if abs(change) <= flat and fall_after > 2 * flat:
            ev.update({"warmup_end": xp, "warmup_change": change, "after_warmup_fall": fall_after})
            parts.append(f"{loss.name} stayed flat ({pct(change)}) during the warm-up (LR {lr.y[0]:.3g} -> "
                         f"{lr.y[ip]:.3g} up to {at(xp, axis)}), then fell {pct(fall_after)}: expected, not a run "
                         "that does not learn")

    @staticmethod
    def _ended(lr: Series, loss: Series, peak: float, ip: int, opts: LrScheduleOptions, axis: str, parts: list[str],
               remedies: list[str], ev: dict) -> None:
        share, flat = float(opts.end_share), float(opts.flat)
        low = np.flatnonzero((np.arange(lr.y.size) > ip) & (lr.y <= share * peak))
        if not low.size:
            return
        xl = float(lr.x[low[0]])
        after = loss.y[loss.x >= xl]
        before = loss.y[(loss.x < xl) & (loss.x >= float(lr.x[ip]))]
        if after.size < 4 or before.size < 4 or after.size < 0.1 * loss.y.size:
            return
        flat_after = _thirds_change(after)
        fell_before = _thirds_change(before)
        if abs(flat_after) <= flat and fell_before > 2 * flat:
            ev.update({"schedule_ended_at": xl, "change_after_end": flat_after, "fall_before_end": fell_before})
            parts.append(f"{loss.name} has been flat ({pct(flat_after)}) since the LR decayed below {pct(share)} of "
                         f"its peak {peak:.3g} at {at(xl, axis)} (it fell {pct(fell_before)} before): the schedule "
                         "ended, not the model")
            remedies.append(f"Lengthen the schedule (more steps, or a final LR above the logged {lr.y[-1]:.3g}, "
                            f"{pct(lr.y[-1] / peak)} of the peak {peak:.3g}): the loss stopped when the LR did.")

    @staticmethod
    def _diverged(lr: Series, loss: Series, peak: float, xp: float, rise: float, axis: str, parts: list[str],
                  remedies: list[str], ev: dict) -> None:
        lx, y = stats.downsample(loss.x.astype(float), loss.y.astype(float))  # bin means, at most 400
        sm = stats.smooth(y)
        im = int(np.argmin(sm))
        lo = float(sm[im])
        end = float(np.median(y[-max(1, min(5, y.size // 10)):]))
        span = float(lx[-1] - lx[0]) or 1.0
        near_peak = abs(float(lx[im]) - xp) <= 0.15 * span
        if near_peak and lo > 0 and (end - lo) / lo >= rise and xp < float(lx[-1]):
            lr_at_low = float(np.interp(float(lx[im]), lr.x, lr.y))
            ev.update({"diverged_after_peak": True, "loss_low_at": float(lx[im]), "lr_at_loss_low": lr_at_low,
                       "loss_rise": (end - lo) / lo, "lr_advised": peak / 3})
            parts.append(f"{loss.name} turned up right after the LR reached its peak {peak:.3g} at {at(xp, axis)} "
                         f"(lowest {lo:.4g}, smoothed, at {at(float(lx[im]), axis)}, ending {pct((end - lo) / lo)} above)")
            remedies.append(f"Lower the peak learning rate from {peak:.3g} to about {peak / 3:.3g} (a third), or "
                            "lengthen the warm-up.")

    @staticmethod
    def _steps(lr: Series, loss: Series, opts: LrScheduleOptions, axis: str, parts: list[str], remedies: list[str], ev: dict) -> None:
        step, gain = float(opts.step), float(opts.gain)
        y = lr.y
        downs = plateau_drops(y, step)
        if len(downs) < 2:
            return
        hits = []
        xs = [float(lr.x[i]) for i in downs]
        for n, i in enumerate(downs):
            xs_i = xs[n]
            prev_x = xs[n - 1] if n else float(loss.x[0])
            next_x = xs[n + 1] if n + 1 < len(xs) else float(loss.x[-1]) + 1
            before = loss.y[(loss.x < xs_i) & (loss.x >= prev_x)]
            after = loss.y[(loss.x >= xs_i) & (loss.x < next_x)]
            kb, ka = max(1, min(5, before.size // 3)), max(1, min(5, after.size // 3))
            if before.size == 0 or after.size == 0:
                continue
            b, a = _med(before[-kb:]), _med(after[:ka])
            if b > 0 and (b - a) / b >= gain:
                hits.append((xs_i, (b - a) / b))
        if len(hits) * 2 > len(downs) and len(hits) >= 2:
            where = ", ".join(at(x, axis) for x, _ in hits[:6]) + (" ..." if len(hits) > 6 else "")
            ev.update({"lr_step_downs": len(downs), "loss_fell_at_steps": len(hits),
                       "median_fall_at_steps": float(np.median([g for _, g in hits]))})
            parts.append(f"{loss.name} fell at {len(hits)} of the {len(downs)} LR step-downs ({where}; median "
                         f"{pct(ev['median_fall_at_steps'])}): the learning rate set the pace")
            remedies.append(f"Decay the learning rate earlier or on a schedule (it stepped down {len(downs)} times, "
                            f"{y[0]:.3g} -> {y[-1]:.3g}); each step bought a drop in the loss.")
