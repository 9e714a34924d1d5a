from __future__ import annotations

from dataclasses import dataclass

import math

from .._np import np

from ..analysis import Context
from ..curves import LR, TRAIN_LOSS, VAL_LOSS
from ..remedies import remedy
from ..report import Finding
from .base import Rule, Skip, fmt, pct
from .options import RuleOptions, amount, count, share
from .steps import robust_sigma, spike_flags

#: Positions this close above a whole epoch still belong to the epoch it ends (float rounding).
_TOL = 1e-6


def _thirds(ly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first, middle and last third of an epoch's points (at least one point each end)."""
    t = max(1, ly.size // 3)
    return ly[:t], ly[t: ly.size - t], ly[ly.size - t:]


def _level_noise(parts: list[np.ndarray]) -> float:
    """Robust noise of points around the median of their own part."""
    r = np.concatenate([p - np.median(p) for p in parts if p.size >= 2]) if any(p.size >= 2 for p in parts) else np.array([])
    return robust_sigma(r)


def boundaries(ep: np.ndarray, min_per_epoch: int) -> list[int]:
    """The whole epochs k at which the log holds ``min_per_epoch`` points on either side:
    within epoch k (positions in (k-1, k]) and within epoch k+1."""
    ids = np.ceil(ep - 1e-9).astype(int)
    ids[ids < 1] = 1
    counts: dict[int, int] = {}
    for k in ids.tolist():
        counts[k] = counts.get(k, 0) + 1
    return [k for k in sorted(counts) if counts[k] >= min_per_epoch and counts.get(k + 1, 0) >= min_per_epoch]


@dataclass(frozen=True)
class EpochStaircaseOptions(RuleOptions):
    """The options of M101 (``[tool.curvediag.rules.M101]``)."""

    z_limit: float = amount(4.0, "z of the drop at epoch boundaries against the steps within an epoch")
    share: float = share(0.6, "share of the epoch boundaries that must drop")
    min_drop: float = amount(0.03, "the drop at a boundary, relative to the loss")
    min_per_epoch: int = count(4, "logged training-loss points each epoch must have")
    eval_tol: float = amount(0.01, "a relative eval-loss change below this is no change")


class EpochStaircase(Rule):
    """The training loss drops at each epoch boundary and stays flat within the epoch.

    **What it detects.** Multi-epoch runs logged per step (Hugging Face ``epoch`` is
    fractional; on a step axis the log's epoch counter places the boundaries). At each
    epoch boundary, the median training loss (log scale) of the last third of the epoch
    is compared with that of the first third of the next: the drop, judged against the
    points' noise around those medians (each step at least 2 standard errors, the steps
    together ``z_limit``) and against the fall over the same distance just before it
    (middle to last third of the epoch) and just after it (first to middle third of the
    next): the drop must be at least ``share`` of itself plus the larger of those. A
    smooth curve gives at most a half (less as it slows down), a staircase nearly all. At least half the judged boundaries
    must show the step; boundaries where the loss is within 10 units of the precision it
    is logged with (HF rounds to 4 decimals), or next to an epoch with a loss spike (1.5x, its
    recovery falls fast too), are not judged.
    The evaluation loss at the same boundaries tells what the drop means: still falling ->
    the model is memorising the training set, harmless so far; rising after a drop ->
    overfitting from that epoch (the onset). Never fires on single-epoch runs, on logs
    with fewer than ``min_per_epoch`` training points per epoch (a per-epoch log has no
    within-epoch shape), or on logs whose boundaries show no step. When the learning
    rate also steps down at the boundaries, the message says so: the schedule, not
    memorisation, may make the step.

    **Why it matters.** From the second epoch on, every training example has been seen:
    the sharp drop is the model recognising them, so the training loss stops measuring
    generalisation. It is not a bug; whether it hurts is what the evaluation loss says.
    """

    code = "M101"
    name = "epoch-staircase"
    needs = (TRAIN_LOSS,)
    min_points = 3  # on the evaluation cadence; the rule counts the points of each epoch itself
    Options = EpochStaircaseOptions
    remedies = (
        "Train fewer epochs (1-3 for fine-tuning), or stop at the epoch where the evaluation loss is lowest.",
        "Lower the learning rate, or add weight decay / dropout.",
        "Reshuffle the data every epoch and add more (or more varied) training data.",
        remedy("restore-best"),
    )

    def check(self, ctx: Context, opts: EpochStaircaseOptions) -> Finding | None:
        s = ctx.curves.series[TRAIN_LOSS].finite()
        ep = ctx.curves.epochs_at(s.x)
        if ep is None:
            return None  # no epoch positions (an index axis): no boundaries to judge
        y = s.y
        if np.min(y) <= 0:
            raise Skip("the training loss is not positive; the drops are judged as ratios")
        ly = np.log(y)
        ks = boundaries(ep, int(opts.min_per_epoch))
        if not ks:
            return None  # one epoch, or too few points per epoch
        ids = np.ceil(ep - 1e-9).astype(int)
        ids[ids < 1] = 1
        # the points' noise around the median of their third of an epoch, pooled over the run
        parts = [p for k in np.unique(ids) for p in _thirds(ly[ids == k])]
        sigma = _level_noise(parts)
        # a loss logged with few digits (HF: 4 decimals) is judged only well above its resolution
        u = np.unique(y)
        resolution = float(np.min(np.diff(u))) if u.size > 1 else 0.0
        # a spike's recovery falls fast too: boundaries next to an epoch with a spike are not judged
        spiky = set(ids[spike_flags(ly, 10, 6.0, math.log(1.5))[0]].tolist())
        steps = []
        for k in ks:
            if k in spiky or k + 1 in spiky:
                continue
            _, m0, a = _thirds(ly[ids == k])
            b, m1, c = _thirds(ly[ids == k + 1])
            if resolution and min(math.exp(float(np.median(a))), math.exp(float(np.median(c)))) < 10 * resolution:
                continue
            if m0.size == 0 or m1.size == 0:
                continue
            jump = float(np.median(a) - np.median(b))  # the fall across the boundary (log units)
            # the falls over the same distance (a third of an epoch) just before and just after it:
            # a smooth curve falls as much there (more before, as it slows down), a staircase not at all
            within = max(float(np.median(m0) - np.median(a)), float(np.median(b) - np.median(m1)))
            # the noise of the two epochs' points around their thirds' medians (the run's, when too few)
            local = _level_noise([*_thirds(ly[ids == k]), b, m1, c])
            sd = local if np.isfinite(local) and local > 0 else sigma
            se = 1.25 * sd * math.sqrt(1.0 / a.size + 1.0 / b.size) if np.isfinite(sd) else math.nan
            steps.append((k, jump, se, within))
        zl, share, min_drop = float(opts.z_limit), float(opts.share), float(opts.min_drop)
        stepped, ses = [], []
        for k, jump, se, within in steps:
            if not np.isfinite(se):
                continue
            z = jump / se if se > 0 else (math.inf if jump > 0 else 0.0)
            progress = jump + max(0.0, within)
            # each step clears the noise on its own (z >= 2) and takes most of the epoch's fall;
            # together the steps clear z_limit
            if jump >= -math.log1p(-min(min_drop, 0.99)) and z >= 2.0 and progress > 0 and jump / progress >= share:
                stepped.append((k, jump, z, jump / progress))
                ses.append(se)
        if not stepped or len(stepped) * 2 < len(steps):
            return None
        z_all = sum(j for _, j, _, _ in stepped) / math.sqrt(sum(e * e for e in ses)) if all(e > 0 for e in ses) else math.inf
        if z_all < zl:
            return None
        drops = [1 - math.exp(-j) for _, j, _, _ in stepped]
        where = ", ".join(str(k) for k, *_ in stepped[:8]) + (" ..." if len(stepped) > 8 else "")
        ev: dict = {"boundaries": len(steps), "stepped": len(stepped), "first_boundary": stepped[0][0],
                    "median_drop": float(np.median(drops)), "max_drop": float(max(drops)),
                    "min_z": float(min(z for _, _, z, _ in stepped)), "z": z_all,
                    "median_share": float(np.median([sh for *_, sh in stepped])), "z_limit": zl,
                    "share_limit": share}
        msg = (f"train_loss drops at {len(stepped)} of {len(steps)} epoch boundaries (after epoch {where}): "
               f"median {pct(ev['median_drop'])} from the end of an epoch to the start of the next, "
               f"{pct(ev['median_share'])} of the fall around it (limit {pct(share)}); together "
               f"{z_all:.3g} times their noise (limit {zl:g})")
        lr_note = self._lr_steps(ctx, [k for k, *_ in stepped])
        if lr_note:
            ev["lr_steps_at_boundaries"] = True
            msg += f"; {lr_note}"
        verdict_note, onset = self._judge_eval(ctx, [k for k, *_ in stepped], float(opts.eval_tol), ev)
        msg += f"; {verdict_note}"
        if onset is not None:
            ev["onset_epoch"] = onset
        span = (float(s.x[np.argmax(ep > stepped[0][0])]), float(s.x[-1]))
        return self.finding(msg, ev, span=span)

    @staticmethod
    def _lr_steps(ctx: Context, ks: list[int]) -> str | None:
        lr = ctx.curves.get(LR)
        if lr is None:
            return None
        fin = lr.finite()
        ep = ctx.curves.epochs_at(fin.x)
        if ep is None or fin.y.size < 4:
            return None
        hits = 0
        for k in ks:  # the learning rate logged last before the boundary against the first after it
            before = fin.y[ep <= k + _TOL]
            after = fin.y[ep > k + _TOL]
            if before.size and after.size and after[0] < 0.7 * before[-1]:
                hits += 1
        if hits * 2 > len(ks):
            return f"the learning rate also steps down at {hits} of these boundaries: the schedule may make the drop"
        return None

    @staticmethod
    def _judge_eval(ctx: Context, ks: list[int], tol: float, ev: dict) -> tuple[str, int | None]:
        v = ctx.curves.get(VAL_LOSS)
        if v is None:
            ev["eval"] = "none"
            return "no evaluation loss is logged to tell memorisation from overfitting", None
        fin = v.finite()
        vep = ctx.curves.epochs_at(fin.x)
        if vep is None or fin.y.size < 2:
            ev["eval"] = "none"
            return "no evaluation loss at the boundaries to tell memorisation from overfitting", None
        rises: list[tuple[int, float, float, float]] = []
        falls: list[tuple[int, float, float, float]] = []
        for k in ks:
            before = fin.y[vep <= k + _TOL]
            after = fin.y[(vep > k + _TOL) & (vep <= k + 1 + _TOL)]
            if not before.size or not after.size:
                continue
            a, b = float(before[-1]), float(after[-1])
            change = (b - a) / abs(a) if a else 0.0
            (rises if change > tol else falls).append((k, a, b, change))
        if not rises and not falls:
            ev["eval"] = "none"
            return "no evaluation loss on both sides of these boundaries", None
        if rises:
            k, a, b, change = rises[0]
            ev.update({"eval": "rising", "eval_rose_after": k, "eval_before": a, "eval_after": b,
                       "eval_change": change, "eval_rising_boundaries": len(rises)})
            return (f"eval_loss rose {pct(change)} ({fmt(a)} -> {fmt(b)}) over the epoch after boundary {k}: "
                    f"overfitting from epoch {k + 1}"), k + 1
        k, a, b, change = falls[-1]
        ev.update({"eval": "falling", "eval_before": a, "eval_after": b, "eval_change": change})
        return (f"eval_loss still fell or held at every such boundary (last {fmt(a)} -> {fmt(b)}): the model "
                "is memorising the training set, harmless so far"), None
