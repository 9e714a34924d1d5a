from __future__ import annotations

from dataclasses import dataclass

import math
from collections.abc import Callable

from .._np import np

from ..analysis import Context
from ..curves import GRAD_NORM, LR, TRAIN_LOSS, Series
from ..report import Finding
from .base import Rule, Skip, at, fmt
from .options import RuleOptions, amount, count
from .steps import checkpoint_steps, spike_flags, z_at

#: Spikes described one by one in the evidence and the message; the rest are counted.
MAX_LISTED = 5


def _events(flag: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of flagged indices, joined across up to ``gap`` unflagged points: (first, last)."""
    idx = np.flatnonzero(flag)
    out: list[tuple[int, int]] = []
    for i in idx.tolist():
        if out and i - out[-1][1] <= gap + 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


@dataclass(frozen=True)
class SpikeTriageOptions(RuleOptions):
    """The options of R101 (``[tool.curvediag.rules.R101]``)."""

    z_limit: float = amount(6.0, "z of a spike against the per-step log loss' noise (healthy per-step logs stay below 4.3)")
    min_rise: float = amount(0.25, "a spike is at least this far (relative) above the level before it")
    window: int = count(20, "points in the window a spike is measured against")
    min_logged: int = count(30, "training-loss points as logged the rule needs")
    linger: int = count(3, "windows a spike's effect may linger before it is not recovered")


class SpikeTriage(Rule):
    """Loss spikes, each triaged (recovered, lingered, diverged), with a rollback plan.

    **What it detects.** Points of the training loss as logged (per step, not averaged)
    whose log lies ``z_limit`` robust standard deviations above the median of the
    ``window`` points before it (the noise is the spread of the log loss's
    point-to-point changes there, so a falling trend is not noise), at least
    ``min_rise`` above that median and above the median of the last three points (a
    slow climb is a trend, not a spike). Consecutive points (and gaps of one) are one spike.
    Spikes that follow one another before the loss is back are one episode. Each is
    triaged against the level before it: **recovered** when the median of half a
    ``window`` of points returns to within the pre-spike noise within ``linger`` windows
    (the position where it is back is given), **lingered** when the run goes on but
    settles higher (or comes back only later), **diverged**
    when it never comes back within twice the pre-spike level or the loss becomes
    non-finite, **unresolved** when the log ends too soon after it to tell. Where ``grad_norm`` is logged, a spike whose gradient norm jumped at the
    same step (``z_limit`` on its own log scale) is told apart from one without: an
    optimisation instability, versus a bad batch that the gradients did not feel.

    **The plan**, for the first spike that lingered or diverged: restart from the last checkpoint at
    or before the last step before the spike (the ``checkpoint-N`` directories beside a
    ``trainer_state.json``, else its ``save_steps``), skip the batches of the steps in the
    spike, or lower the learning rate (the median logged over the window before the spike, halved). PaLM
    restarted about 100 steps before each spike and skipped 200-500 batches; OPT-175B
    restarted dozens of times.

    **Why it matters.** A recovered spike costs some steps; one that lingers leaves the
    weights in a worse region for the rest of the run; one that diverges ends it.
    """

    code = "R101"
    name = "spike-triage"
    needs = (TRAIN_LOSS,)
    min_points = 3  # on the evaluation cadence; the rule counts the logged points itself
    Options = SpikeTriageOptions
    remedies = (
        "Restart from the last checkpoint before the spike and skip the batches it was seen on (the plan above).",
        "Lower the peak learning rate, or lengthen the warm-up.",
        "Clip gradients (max_grad_norm / clip_grad_norm_ 1.0); check the batches at the spike for bad data.",
    )

    def check(self, ctx: Context, opts: SpikeTriageOptions) -> Finding | None:
        s = ctx.curves.series[TRAIN_LOSS]
        w = int(opts.window)
        if len(s) < max(int(opts.min_logged), w + 3):
            return None  # too short a per-step record to measure its own noise (I101 judges short logs)
        fin_mask = np.isfinite(s.y)
        fx, fy = s.x[fin_mask], s.y[fin_mask]
        if fy.size and np.min(fy) <= 0:
            raise Skip("the training loss is not positive; spikes are judged as ratios")
        ly = np.log(fy)
        rise = math.log1p(float(opts.min_rise))
        zl = float(opts.z_limit)
        flag, z, med, sig = spike_flags(ly, w, zl, rise)
        # a loss logged with few digits (HF: 4 decimals) spikes only by more than a few of them
        u = np.unique(fy)
        if u.size > 1:
            resolution = float(np.min(np.diff(u)))
            flag[w:] &= fy[w:] - np.exp(med[w:]) >= 5 * resolution
        events = _events(flag, 1)
        if not events:
            return None
        gz = self._grad_z(ctx, w)
        axis = ctx.axis_word
        steps_of = ctx.curves.steps_at
        ckpts = self._checkpoints(ctx)
        lr = ctx.curves.get(LR)
        lr_fin = lr.finite() if lr is not None else None
        nonfinite_x = s.x[~fin_mask]
        triaged = []
        k = 0
        prev: tuple[int, float] | None = None  # (end, level before) of the last episode
        while k < len(events):
            a, b = events[k]
            ref = float(med[a])
            if prev is not None and a - prev[0] <= 2 * w:
                ref = min(ref, prev[1])  # soon after an episode: judged against the level before that one
            tol = max(2.0 * float(sig[a]), math.log(1.05)) if np.isfinite(sig[a]) else math.log(1.05)
            # spikes that follow before the loss is back are one episode
            while True:
                nxt = events[k + 1][0] if k + 1 < len(events) else None
                back = self._back_at(ly[: nxt] if nxt is not None else ly, b, w, ref, tol)
                if nxt is not None and back is None:
                    k += 1
                    b = events[k][1]
                    continue
                break
            k += 1
            prev = (b, ref)
            peak = a + int(np.argmax(ly[a: b + 1]))
            outcome, settled = self._outcome(ly, fx, b, w, ref, back, nonfinite_x, float(fx[b]), float(opts.linger))
            ev = {"start": float(fx[a]), "peak": float(fx[peak]), "end": float(fx[b]),
                  "ratio": float(math.exp(ly[peak] - ref)), "z": float(z[peak]), "outcome": outcome}
            if settled is not None:
                ev["back_at"] = settled
            if gz is not None:
                gx, gly = gz
                lo_x = fx[a - 1] if a > 0 else -math.inf
                idx = np.flatnonzero((gx > lo_x) & (gx <= fx[b]))
                zs = [z_at(gly, int(i), w) for i in idx[:50]]
                zs = [v for v in zs if not math.isnan(v)]
                gmax = max(zs) if zs else math.nan
                ev["grad_norm_z"] = gmax
                ev["grad_norm_spike"] = bool(gmax >= zl) if not math.isnan(gmax) else False
            triaged.append(ev)
        plan = None
        bad = [e for e in triaged if e["outcome"] in ("lingered", "diverged")]
        if bad:
            plan = self._plan(bad[0], fx, steps_of, ckpts, lr_fin, w)
        return self._report(triaged, plan, axis, zl, float(opts.min_rise), w)

    @staticmethod
    def _back_at(ly: np.ndarray, b: int, w: int, ref: float, tol: float) -> int | None:
        """The first index after ``b`` from which the median of the next points (half a window, or
        all there are before the next spike, at least 3) is back within ``tol`` of the level ``ref``
        before the spike, or None."""
        after = ly[b + 1:]
        h = min(max(3, w // 2), after.size)
        if h < 3:
            return None
        from numpy.lib.stride_tricks import sliding_window_view

        meds = np.median(sliding_window_view(after, h), axis=1)
        hit = np.flatnonzero(meds <= ref + tol)
        return int(b + 1 + hit[0]) if hit.size else None

    @staticmethod
    def _outcome(ly: np.ndarray, fx: np.ndarray, b: int, w: int, ref: float, back: int | None, nonfinite_x: np.ndarray,
                 end_x: float, linger: float) -> tuple[str, float | None]:
        """How a spike ended: diverged, unresolved (the log ends in it), recovered or lingered; and where it was back."""
        if nonfinite_x.size and np.any(nonfinite_x > end_x):
            return "diverged", None
        after = ly[b + 1:]
        if back is None and after.size < max(3, w // 2):
            return "unresolved", None  # the log ends in (or just after) the spike
        if back is not None:
            # back within ``linger`` windows: recovered; later: it lingered first
            return ("recovered" if back - b <= linger * w else "lingered"), float(fx[back])
        tail = float(np.median(after[-min(after.size, w):]))
        return ("diverged" if tail > ref + math.log(2.0) else "lingered"), None

    @staticmethod
    def _grad_z(ctx: Context, w: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(positions, log values) of the gradient norm, or None."""
        g = ctx.curves.get(GRAD_NORM)
        if g is None:
            return None
        fin = g.finite()
        if fin.y.size <= w + 3 or np.min(fin.y) <= 0:
            return None
        return fin.x, np.log(fin.y)

    @staticmethod
    def _checkpoints(ctx: Context) -> tuple[list[int], int | None]:
        src = ctx.curves.source
        return checkpoint_steps(src.path), (src.facts or {}).get("save_steps")  # type: ignore[return-value]

    @staticmethod
    def _plan(ev: dict, fx: np.ndarray, steps_of: Callable[[np.ndarray], np.ndarray | None],
              ckpts: tuple[list[int], int | None], lr_fin: Series | None, w: int) -> dict:
        """Where to restart a spike that lingered or diverged: the step, the checkpoint, the learning rate."""
        i = int(np.searchsorted(fx, ev["start"]))
        before = float(fx[i - 1]) if i > 0 else float(fx[0])
        st = steps_of(np.array([before, ev["start"], ev["end"]]))
        plan: dict = {}
        if st is not None:
            last_ok, first, last = (int(round(v)) for v in st)
            plan.update({"restart_at_or_before": last_ok, "skip_from": last_ok + 1, "skip_to": last})
            dirs, save = ckpts
            c = [k for k in dirs if k <= last_ok]
            if c:
                plan["checkpoint"] = max(c)
                plan["checkpoint_from"] = "directory"
            elif isinstance(save, int) and save > 0 and last_ok >= save:
                plan["checkpoint"] = (last_ok // save) * save
                plan["checkpoint_from"] = "save_steps"
        if lr_fin is not None and lr_fin.y.size:
            # the rate the run was stable at: the median over the window before the spike
            lo = float(fx[max(0, i - w)])
            m = (lr_fin.x >= lo) & (lr_fin.x <= before)
            lr_at = float(np.median(lr_fin.y[m])) if m.any() else float(np.interp(before, lr_fin.x, lr_fin.y))
            if lr_at > 0:
                plan["lr_before_spike"] = lr_at
                plan["lr_advised"] = lr_at / 2
        return plan

    def _report(self, triaged: list[dict], plan: dict | None, axis: str, zl: float, min_rise: float, w: int) -> Finding:
        """The finding: each spike triaged, and the restart plan."""
        counts = {k: sum(e["outcome"] == k for e in triaged) for k in ("recovered", "lingered", "diverged", "unresolved")}
        evidence: dict = {"spikes": len(triaged), **counts, "z_limit": zl, "min_rise": min_rise, "window": w}
        parts = []
        for n, e in enumerate(triaged[:MAX_LISTED], 1):
            for k, v in e.items():
                evidence[f"spike{n}_{k}"] = v
            where = at(e["start"], axis) if e["start"] == e["end"] else f"{axis}s {fmt(e['start'])}-{fmt(e['end'])}"
            grad = ""
            if "grad_norm_spike" in e:
                grad = ", with a grad_norm spike" if e["grad_norm_spike"] else ", grad_norm calm"
            back = f", back at {at(e['back_at'], axis)}" if "back_at" in e else ""
            what = {"recovered": f"recovered{back}", "lingered": f"lingered: settled higher{back}", "diverged": "diverged",
                    "unresolved": "the log ends before it can tell"}[e["outcome"]]
            z = f"z {e['z']:.3g}" if math.isfinite(e["z"]) else "no noise before it"
            parts.append(f"{where} ({e['ratio']:.3g}x the level before, {z}{grad}): {what}")
        more = f"; {len(triaged) - MAX_LISTED} more" if len(triaged) > MAX_LISTED else ""
        msg = (f"train_loss spiked {len(triaged)} time{'s' * (len(triaged) != 1)} "
               f"(limit z {zl:g} over the {w} points before, and +{min_rise:.0%}): " + "; ".join(parts) + more)
        remedies = None
        if plan:
            for k, v in plan.items():
                evidence[f"plan_{k}"] = v
            msg += "; plan: " + self._plan_text(plan)
            remedies = (f"Roll back: {self._plan_text(plan)}.",) + self.remedies[1:]
        span = (triaged[0]["start"], triaged[-1]["end"])
        return self.finding(msg, evidence, span=span, remedies=remedies)

    @staticmethod
    def _plan_text(plan: dict) -> str:
        out = []
        if "restart_at_or_before" in plan:
            c = plan.get("checkpoint")
            ck = f" (checkpoint-{c})" if c is not None else ""
            # global_step, the trainer's own counter: on an epoch axis these are not positions on it
            out.append(f"restart from the last checkpoint at or before global_step {plan['restart_at_or_before']}{ck}, "
                       f"skip the batches of global_steps {plan['skip_from']}-{plan['skip_to']}")
        if "lr_advised" in plan:
            out.append(f"or lower the learning rate from {plan['lr_before_spike']:.3g} to {plan['lr_advised']:.3g}")
        return ", ".join(out) if out else "lower the learning rate"
