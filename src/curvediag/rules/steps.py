"""Shared helpers for the per-step rules (epoch staircase, spike triage, LR schedule, early-stopping
audit): robust noise on the points as logged, spike flags by a trailing robust z-score, plateau
drops of a learning rate, and where a run's checkpoints and settings are."""

from __future__ import annotations

import math
import os
import re

from .._np import np
from ..stats import MAD_TO_SIGMA


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
