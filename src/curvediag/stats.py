"""Scale-free, noise-robust statistics on short noisy curves (numpy only).

Every statistic here is equivariant under ``y -> c * y`` (c > 0): smoothing and
slopes scale with ``y``, and tests (Mann-Kendall) depend only on ranks, so the
rules built on them judge relative changes, never absolute loss levels.
"""

from __future__ import annotations

import math
from typing import Any

from ._np import np

MAD_TO_SIGMA = 1.4826


def median(y: Any, axis: int | None = None) -> Any:  # an array-like in; a float, or an array along ``axis``
    """``numpy.median`` of short arrays at a tenth of its cost (a sort and the middle; NaN when
    any value is NaN, as numpy's).  ``axis``: None (a float) or -1 (an array of the rows')."""
    y = np.asarray(y, dtype=float)
    if axis is None:
        n = y.size
        if n == 0:
            return math.nan
        s = np.sort(y, axis=None)
        if s[-1] != s[-1]:
            return math.nan
        return float(s[(n - 1) // 2] + s[n // 2]) * 0.5
    s = np.sort(y, axis=-1)
    n = s.shape[-1]
    out = (s[..., (n - 1) // 2] + s[..., n // 2]) * 0.5
    return np.where(np.isnan(s[..., -1]), np.nan, out)


def window_for(n: int) -> int:
    """Odd smoothing window: about a tenth of the points, between 1 and 15."""
    if n < 5:
        return 1
    w = int(round(n / 10))
    w = max(3, min(15, w))
    return w if w % 2 else w + 1


def smooth(y: np.ndarray, window: int | None = None) -> np.ndarray:
    """Centred running median; the window shrinks symmetrically at the ends.

    A median removes single-point spikes without the lag of a moving average.
    At the very ends (half-window 0) the value is the raw point, so a short
    tail is not hidden; rules read ends through :func:`end_level`.
    """
    y = np.asarray(y, dtype=float)
    n = y.size
    w = window_for(n) if window is None else window
    if w <= 1 or n < 3:
        return y.copy()
    h = w // 2
    out = np.empty(n)
    if n > 2 * h:
        from numpy.lib.stride_tricks import sliding_window_view

        out[h : n - h] = median(sliding_window_view(y, w), axis=-1)
        if h and np.isfinite(y[: 2 * h]).all() and np.isfinite(y[-2 * h :]).all():
            # the ends at once: point i's window is the first 2i+1 points (NaN-padded rows of one
            # array; a sort puts the padding last, so the median of row i is its element i)
            rows = np.arange(h)
            pad = np.arange(2 * h - 1)[None, :] >= (2 * rows + 1)[:, None]
            head = np.sort(np.where(pad, np.nan, y[None, : 2 * h - 1]), axis=1)
            tail = np.sort(np.where(pad, np.nan, y[None, : n - 2 * h : -1]), axis=1)
            out[:h] = head[rows, rows]
            out[n - 1 : n - 1 - h : -1] = tail[rows, rows]
            return out
    for i in list(range(min(h, n))) + list(range(max(h, n - h), n)):
        k = min(h, i, n - 1 - i)
        out[i] = median(y[i - k : i + k + 1])
    return out


def end_level(y: np.ndarray, k: int | None = None) -> float:
    """Robust level of the last points: median of the last k (default ~n/10, 1..5)."""
    n = y.size
    if k is None:
        k = max(1, min(5, n // 10))
    return median(y[-k:])


def start_level(y: np.ndarray, k: int | None = None) -> float:
    """Robust level of the first points: the first point, or the median of the first
    three on curves of 20+ points (one noisy first batch should not set the scale).
    Fewer points than :func:`end_level` because curves fall fastest at the start."""
    if k is None:
        k = 1 if y.size < 20 else 3
    return median(y[:k])


def noise_sigma(y: np.ndarray) -> float:
    """Robust point-to-point noise: MAD of second differences / sqrt(6).

    For white noise e, Var(e[i+1] - 2 e[i] + e[i-1]) = 6 sigma^2; a smooth
    trend contributes little to second differences.  NaN below 6 points.
    """
    y = np.asarray(y, dtype=float)
    if y.size < 6:
        return float("nan")
    d2 = y[2:] - 2 * y[1:-1] + y[:-2]
    med = median(d2)
    return float(MAD_TO_SIGMA * median(np.abs(d2 - med)) / math.sqrt(6.0))


def mann_kendall_z(y: np.ndarray) -> float:
    """Mann-Kendall trend statistic as a z-score (negative = falling).

    Rank-based, so it is blind to scale and robust to outliers.  Uses the
    variance with tie correction and a continuity correction.
    """
    y = np.asarray(y, dtype=float)
    n = y.size
    if n < 3:
        return 0.0
    # S = sum over i < j of sign(y[j] - y[i]); boolean matrices are 3x faster than signs of differences
    later, earlier = y[None, :], y[:, None]
    s = float(np.count_nonzero(np.triu(later > earlier, 1)) - np.count_nonzero(np.triu(later < earlier, 1)))
    _, counts = np.unique(y, return_counts=True)
    ties = counts[counts > 1]
    var = (n * (n - 1) * (2 * n + 5) - float((ties * (ties - 1) * (2 * ties + 5)).sum())) / 18.0
    if var <= 0:
        return 0.0
    if s > 0:
        return (s - 1) / math.sqrt(var)
    if s < 0:
        return (s + 1) / math.sqrt(var)
    return 0.0


def sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Theil-Sen slope of ``y`` over ``x``: the median of the pairwise slopes (robust to a few
    outliers; on at most 200 evenly spaced points, so its cost stays bounded)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size > 200:
        idx = np.linspace(0, x.size - 1, 200).astype(np.intp)
        x, y = x[idx], y[idx]
    i, j = np.triu_indices(x.size, 1)
    dx = x[j] - x[i]
    ok = dx != 0
    if not ok.any():
        return float("nan")
    return float(np.median((y[j] - y[i])[ok] / dx[ok]))


def downsample(x: np.ndarray, y: np.ndarray, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Bin means down to at most ``max_points`` (per-step logs); NaN-free input expected."""
    n = y.size
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, max_points + 1).astype(int)
    counts = np.diff(edges)
    xs = np.add.reduceat(x, edges[:-1]) / counts
    ys = np.add.reduceat(y, edges[:-1]) / counts
    return xs, ys


def rel(delta: float, base: float) -> float:
    """``delta`` relative to ``|base|`` (inf when base is 0 and delta is not)."""
    if base == 0:
        return 0.0 if delta == 0 else math.copysign(math.inf, delta)
    return delta / abs(base)
