"""Shared helpers for the secondary findings (no verdict of their own)."""

from __future__ import annotations

from .. import stats
from .._np import np


def causal_median(y: np.ndarray, w: int) -> np.ndarray:
    """Median of the w points before each point (NaN where there are none)."""
    out = np.full(y.size, np.nan)
    for i in range(1, min(w, y.size)):  # the first points have fewer than w before them
        out[i] = stats.median(y[:i])
    if y.size > w:
        from numpy.lib.stride_tricks import sliding_window_view

        out[w:] = stats.median(sliding_window_view(y[:-1], w), axis=-1)
    return out
