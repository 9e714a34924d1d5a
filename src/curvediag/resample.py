"""Copies of a run drawn from its own noise: how sure a verdict is (:func:`curvediag.engine.analyse`).

Each copy keeps every curve's shape -- its centred running median (:func:`curvediag.stats.smooth`) --
and adds back its own residuals around it, resampled in blocks (a moving-block bootstrap: neighbouring
residuals stay together, so correlated noise stays correlated).  A loss that is positive everywhere is
resampled in log space (its noise is a share of its level, as a loss's is); an accuracy in linear space,
clipped to [0, 1].  A curve too short to smooth (under 6 points) keeps its values and gets noise of the
size its second differences show (each point against the mean of its neighbours): with so few points
the noise cannot be told from the trend, so such a run is judged with less confidence, as it should be.
Non-finite points stay where they are: they are evidence, not noise.  The learning rate is not touched.

The copies are drawn with a fixed seed, so a report is the same every time it is made.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any
from dataclasses import replace

from ._np import np

from . import stats
from .curves import CANONICAL, GRAD_NORM, LR, Curves, Series

#: The seed of the copies (fixed: the same log always gets the same confidence).
SEED = 20261207
#: Points a copy keeps at most per curve (long per-step logs are judged on bin means anyway).
MAX_POINTS = 2000


def _block(n: int) -> int:
    return max(1, min(8, round(n ** (1 / 3))))


def _residuals(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centre, residuals): the running median and what is left around it; for under 6 points the
    values themselves and their second-difference residuals scaled to one point's noise."""
    n = y.size
    if n >= 6:
        s = stats.smooth(y)
        # the running median keeps the end points raw (a first loss of 1e5, a last-epoch blow-up are
        # evidence, not noise): their residual of 0 says nothing, so the pool is the inner points'
        r = (y - s)[1:-1]
        return s, r
    if n < 3:
        return y.copy(), np.zeros(0)
    r = (y[1:-1] - 0.5 * (y[:-2] + y[2:])) * math.sqrt(2.0 / 3.0)
    return y.copy(), np.concatenate([r, -r])  # symmetric: the sign of so few residuals says nothing


def _draw(res: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if res.size == 0:
        return np.zeros(n)
    b = _block(res.size)
    if b <= 1 or res.size <= b:
        return res[rng.integers(0, res.size, n)]
    starts = rng.integers(0, res.size - b + 1, math.ceil(n / b))
    idx = (starts[:, None] + np.arange(b)[None, :]).ravel()[:n]
    return res[idx]


def _prepared(s: Series) -> tuple[Any, ...] | None:
    """What every copy of ``s`` shares: (x, y, finite mask, log space?, accuracy?, centre, residuals),
    or None for a series copies leave as it is."""
    mask = np.isfinite(s.y)
    if mask.sum() < 3 or s.name in (LR, GRAD_NORM):
        return None
    x, y = s.x, s.y
    if y.size > MAX_POINTS and mask.all():
        x, y = stats.downsample(x.astype(float), y.astype(float), MAX_POINTS)
        mask = np.ones(y.size, dtype=bool)
    fy = y[mask].astype(float)
    acc_like = s.name.endswith("_acc")
    logged = bool(np.all(fy > 0)) and not acc_like
    clip = acc_like and bool(np.all((fy >= 0) & (fy <= 1)))
    centre, res = _residuals(np.log(fy) if logged else fy)
    return x, y.astype(float), mask, logged, clip, centre, res


def _copy(s: Series, prep: tuple[Any, ...] | None, rng: np.random.Generator) -> Series:
    if prep is None:
        return s
    x, y, mask, logged, clip, centre, res = prep
    new = centre + _draw(res, centre.size, rng)
    if logged:
        new = np.exp(new)
    elif clip:
        new = np.clip(new, 0.0, 1.0)
    out = y.copy()
    out[mask] = new
    return s.with_xy(x, out)


def copies(curves: Curves, k: int, seed: int = SEED) -> Iterator[Curves]:
    """``k`` copies of ``curves``, each drawn from the run's own noise (see the module's doc)."""
    prepared = {name: _prepared(s) for name, s in curves.series.items()}
    for i in range(k):
        # one stream per curve and copy, named by the curve: the same curves give the same copies whatever
        # order a reader (or a Monitor) put them in
        yield replace(curves, series={name: _copy(s, prepared[name], np.random.default_rng((seed, _key(name), i)))
                                      for name, s in curves.series.items()}, heads=())


def _key(name: str) -> int:
    return CANONICAL.index(name) if name in CANONICAL else sum(name.encode()) + len(CANONICAL)


__all__ = ["SEED", "copies"]
