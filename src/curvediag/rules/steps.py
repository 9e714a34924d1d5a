"""Shared helpers for the per-step rules (epoch staircase, spike triage, LR schedule, early-stopping
audit): robust noise on the points as logged, spike flags by a trailing robust z-score, the
training loss's spikes triaged (:func:`triage`: what R101 reports, and what I101 leaves to it, so
a spike is reported once), plateau drops of a learning rate, and where a run's checkpoints and
settings are."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from .._np import np
from ..analysis import Context
from ..curves import GRAD_NORM, LR, TRAIN_LOSS, Series
from ..stats import MAD_TO_SIGMA
from .base import Skip
from .options import RuleOptions, amount, count


def robust_sigma(r: np.ndarray) -> float:
    """MAD-based standard deviation of residuals (NaN for fewer than 3)."""
    r = np.asarray(r, dtype=float)
    if r.size < 3:
        return math.nan
    return float(MAD_TO_SIGMA * np.median(np.abs(r - np.median(r))))


def _z(v: np.ndarray, m: np.ndarray, win: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust z of values ``v`` over levels ``m``, the noise the spread of the point-to-point
    changes of each row of ``win`` (MAD / sqrt 2); (z, noise)."""
    d = np.diff(win, axis=1)
    dm = np.median(d, axis=1)
    sd = MAD_TO_SIGMA * np.median(np.abs(d - dm[:, None]), axis=1) / math.sqrt(2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (v - m) / np.where(sd > 0, sd, 1.0), np.where(v > m, np.inf, 0.0))
    return z, sd


def spike_flags(ly: np.ndarray, w: int, z_limit: float, rise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points of a log loss that spike: ``z_limit`` robust z over the ``w`` points before them,
    ``rise`` (log units) above their median and above the median of the last three points (a slow
    climb is a trend, not a spike); the noise is the spread of the point-to-point changes of the
    ``w`` points before, and where there are ``5 w`` points before, the z against their noise
    must be at least five sixths of ``z_limit`` too.  Returns (flags, z, trailing median, trailing sigma), the last
    three measured only at the candidates (points ``rise`` above the last three; NaN elsewhere),
    so a million-point log costs a pass over it, not a window per point."""
    n = ly.size
    flag = np.zeros(n, dtype=bool)
    z = np.full(n, np.nan)
    med = np.full(n, np.nan)
    sig = np.full(n, np.nan)
    if n <= max(w, 3) or w < 3:
        return flag, z, med, sig
    from numpy.lib.stride_tricks import sliding_window_view

    w3 = sliding_window_view(ly[:-1], 3)  # w3[j] = ly[j : j + 3], the three points before j + 3
    prev3 = np.full(n, np.inf)
    prev3[3:] = np.sort(w3, axis=1)[:, 1]
    cand = np.flatnonzero(ly - prev3 >= rise)
    cand = cand[cand >= w]
    if cand.size:
        win = ly[cand[:, None] - w + np.arange(w)[None, :]]  # the w points before each candidate
        m = np.median(win, axis=1)
        zc, sd = _z(ly[cand], m, win)
        med[cand], sig[cand], z[cand] = m, sd, zc
        ok = (zc >= z_limit) & (ly[cand] - m >= rise)
        # and at least five sixths of it against the noise of the 5w points before (where there are so
        # many): over a million points some 20-point window looks calmer than the run is
        long = cand >= 5 * w
        if long.any():
            lc = cand[long]
            zl, _ = _z(ly[lc], m[long], ly[lc[:, None] - 5 * w + np.arange(5 * w)[None, :]])
            ok[long] &= zl >= z_limit * 5 / 6
        flag[cand] = ok
    return flag, z, med, sig


def z_at(ly: np.ndarray, i: int, w: int) -> float:
    """The robust z of point ``i`` of a log series against the ``w`` points before it (NaN when
    there are fewer), as :func:`spike_flags` measures it."""
    if i < w or w < 3:
        return math.nan
    win = ly[i - w: i]
    d = np.diff(win)
    sd = MAD_TO_SIGMA * float(np.median(np.abs(d - np.median(d)))) / math.sqrt(2.0)
    m = float(np.median(win))
    if sd == 0:
        return math.inf if ly[i] > m else 0.0
    return (float(ly[i]) - m) / sd


def plateau_drops(lr: np.ndarray, factor: float) -> list[int]:
    """Indices where a logged learning rate steps down from a plateau: it held within 1% over the
    two values before and is now at most ``factor`` times the last (``ReduceLROnPlateau``, a step
    schedule), not the last steps of a smooth decay."""
    out = []
    for k in range(2, lr.size):
        a, b, c = float(lr[k - 2]), float(lr[k - 1]), float(lr[k])
        if b > 0 and c > 0 and abs(a - b) <= 0.01 * b and c <= factor * b:
            out.append(k)
    return out


_CKPT = re.compile(r"^checkpoint-(\d+)$")


def checkpoint_steps(path: str, limit: int = 10_000) -> list[int]:
    """The steps of the ``checkpoint-N`` directories beside a log (a Hugging Face output
    directory) or beside the checkpoint directory it is in; [] when there are none or the
    path is not a local file.  Only directory names are read."""
    try:
        if not path or not os.path.isfile(path):
            return []
        here = os.path.dirname(os.path.abspath(path))
        dirs = [here]
        if _CKPT.match(os.path.basename(here)):
            dirs.append(os.path.dirname(here))
        found: set[int] = set()
        for d in dirs:
            with os.scandir(d) as it:
                for k, e in enumerate(it):
                    if k >= limit:
                        break
                    m = _CKPT.match(e.name)
                    if m and e.is_dir():
                        found.add(int(m.group(1)))
        return sorted(found)
    except OSError:
        return []


def ultralytics_patience(path: str) -> int | None:
    """``patience`` from the ``args.yaml`` Ultralytics writes beside ``results.csv``, or None.
    Only that one top-level ``patience: N`` line is read (no YAML parser needed)."""
    try:
        if not path or not os.path.isfile(path):
            return None
        args = os.path.join(os.path.dirname(os.path.abspath(path)), "args.yaml")
        if not os.path.isfile(args) or os.path.getsize(args) > 1_000_000:
            return None
        with open(args, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = re.match(r"^patience:\s*(\d+)\s*(#.*)?$", line.rstrip())
                if m:
                    return int(m.group(1))
    except OSError:
        return None
    return None


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


def triage(ctx: Context, opts: SpikeTriageOptions) -> tuple[list[dict], dict | None] | None:
    """The training loss's spikes, each triaged (its ``start``, ``end``, ``outcome`` ...), and the
    plan for the first that lingered or diverged; None when there is no spike or the log is too
    short.  Raises :class:`Skip` for a loss that is not positive.  I101 asks it which spikes
    are this rule's (they are reported here, not there)."""
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
    gz = _grad_z(ctx, w)
    steps_of = ctx.curves.steps_at
    ckpts = _checkpoints(ctx)
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
            back = _back_at(ly[: nxt] if nxt is not None else ly, b, w, ref, tol)
            if nxt is not None and back is None:
                k += 1
                b = events[k][1]
                continue
            break
        k += 1
        prev = (b, ref)
        peak = a + int(np.argmax(ly[a: b + 1]))
        outcome, settled = _outcome(ly, fx, b, w, ref, back, nonfinite_x, float(fx[b]), float(opts.linger))
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
        plan = _plan(bad[0], fx, steps_of, ckpts, lr_fin, w)
    return triaged, plan

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

def _grad_z(ctx: Context, w: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(positions, log values) of the gradient norm, or None."""
    g = ctx.curves.get(GRAD_NORM)
    if g is None:
        return None
    fin = g.finite()
    if fin.y.size <= w + 3 or np.min(fin.y) <= 0:
        return None
    return fin.x, np.log(fin.y)

def _checkpoints(ctx: Context) -> tuple[list[int], int | None]:
    src = ctx.curves.source
    return checkpoint_steps(src.path), (src.facts or {}).get("save_steps")  # type: ignore[return-value]

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
