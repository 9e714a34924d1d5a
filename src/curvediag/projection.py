"""What more training would buy: the judged loss's tail fitted by saturating curves
and extrapolated +50% and +100% of the run's length, with an interval (numpy only;
docs/projection.md has the method and its benchmark).

The judged loss is val_loss, else the only loss logged.  The method:

- **Tail.** From the earlier of the knee (the smoothed curve has made ``KNEE_SHARE``
  of its total fall) and the middle of the run, with at least ``MIN_FIT`` points.
  Positions are measured in run lengths (the end is at 1), values are divided by the
  end level, so every fit is invariant under ``y -> c * y`` and under rescaling the axis.
- **Families** (as in learning-curve extrapolation work, e.g. Domhan et al. 2015,
  Viering & Loog 2022): a power law ``c + a (t + t0)^-b`` and an exponential
  saturation ``c + a exp(-k t)``, ``a >= 0`` (the loss does not rise), ``c >= 0``.
  The nonlinear parameters (b, t0 or k) are searched on a grid, with (c, a) in closed
  form (weighted linear least squares, every grid row at once) and Huber weights
  (IRLS, the scale fixed at the tail's robust noise), so outliers and spikes do not
  pull the fit; then refined by Levenberg-Marquardt steps on the Huber loss (the power
  law from the best b of every t0: its b-t0 ridge has more than one valley).  The
  point is the families' likelihood-weighted mean.
- **Cost.** The tail and all the backtest's cuts are one padded batch: every fit of a
  projection is the same few array operations (~5-6 ms of CPU for a projected log, docs/projection.md).
- **Interval** (nominal ``LEVEL``). A moving-block residual bootstrap (a fixed seed,
  so a report is reproducible; each replicate refitted on a local grid in closed form,
  its resampled residuals keeping their Huber weights) of every family that carries weight, and the
  families' own points, widened by ``WIDEN``, combined in quadrature with
  ``BACKTEST`` times the method's own error on this run (the same projection made
  from earlier cuts of the curve).  The two factors were calibrated once, on all
  runs together, by ``benchmarks/projection_coverage.py``.
- **Refusals** (``reason``): too few points, a curve that turned up (overfitting:
  more training will not help), a non-positive level, or an interval too wide
  to say anything; ``for_report`` adds a diverged run and a non-finite end.
"""

from __future__ import annotations

import contextvars
import math
import weakref
from typing import Any

from . import stats
from ._np import (
    np,  # replaced by numpy itself on the first projection: the proxy costs ~5 us a lookup
)
from .analysis import Context, Track
from .report import Horizon, Projection
from .curves import TRAIN_LOSS, VAL_LOSS
from .report import _count

#: Nominal coverage of the interval.
LEVEL = 0.80
#: Points the judged loss needs before its tail is fitted.
MIN_POINTS = 6
#: Points in the fitted tail, at least.
MIN_FIT = 5
#: The steep initial drop has ended when the smoothed curve made this share of its fall.
KNEE_SHARE = 0.5
#: A curve turned up when it ends this much (and 3 noise sigmas) above its smoothed minimum.
TURNED_UP = 0.03
#: The tail starts at the later (or the earlier) of the knee and the middle.
TAIL = "earlier"
#: The tail is binned to at most this many points before fitting.
MAX_FIT = 60
#: Bootstrap replicates.
BOOT = 48
#: Half-widths of the bootstrap/family interval are multiplied by this (calibration).
WIDEN = 1.5
#: The backtest error is multiplied by this (calibration: one error sample is a noisy scale).
BACKTEST = 3.0
#: Refuse when the +100% interval spans more than this share of the current level.
MAX_WIDTH = 0.6
#: A family whose averaging weight is below this adds nothing to the interval.
MIN_WEIGHT = 0.05
#: Offsets t0 of the power law's origin searched (in run lengths); (0,) fixes it at the run's start.
T0 = (0.0, 0.02, 0.1, 0.3, 1.0)
_SEED = 20240611
_HUBER = 1.345

_POWER = "power law"
_EXP = "exponential"


_GRIDS: dict = {}


def _grid(family: str) -> np.ndarray:
    """The coarse search grid of a family (computed once per T0: every fit uses it)."""
    key = (family, T0)
    got = _GRIDS.get(key)
    if got is None:
        got = _GRIDS[key] = _make_grid(family)
        got.flags.writeable = False
    return got


def _make_grid(family: str) -> np.ndarray:
    if family == _POWER:
        b = np.geomspace(0.02, 20.0, 28)
        t0 = np.array(T0)
        B, T = np.meshgrid(b, t0, indexing="ij")
        return np.stack([B.ravel(), T.ravel()], axis=1)
    k = np.geomspace(0.05, 60.0, 40)
    return k[:, None]


def _basis(family: str, params: np.ndarray, t: np.ndarray) -> np.ndarray:
    """phi (..., G, n): the curve is c + a * phi.  ``params`` is G x p or B x G x p, ``t`` n or
    B x n (a batch of problems).  The power law is exp(-b log(t + t0)): a power of an array
    costs four times an exp."""
    with np.errstate(all="ignore"):
        tt = t[..., None, :]
        if family == _POWER:
            return np.exp(-params[..., 0:1] * np.log(tt + params[..., 1:2]))
        return np.exp(-params[..., 0:1] * (tt - 1.0))  # anchored at the end: phi(1) = 1, well-scaled


def _huber_w(r: np.ndarray, scale: Any) -> np.ndarray:
    """Huber weights of residuals r at the noise scale."""
    k = _HUBER * scale
    with np.errstate(all="ignore"):
        return np.minimum(1.0, k / np.maximum(np.abs(r), 1e-300))


def _huber(r: np.ndarray, scale: Any) -> np.ndarray:
    k = _HUBER * scale
    ar = np.abs(r)
    with np.errstate(all="ignore"):
        return np.where(ar <= k, 0.5 * r * r, k * (ar - 0.5 * k))


def _wls(phi: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of y ~ c + a phi for every row of phi at once, in closed form
    (a >= 0: the loss does not rise; c >= 0: nor falls below 0).  phi: B x G x n, y and w:
    B x n (w is 0 on padding).  Returns c, a and the weighted residual sum of squares, B x G."""
    with np.errstate(all="ignore"):
        wy = w * y
        s0 = w.sum(-1)[:, None]
        sy = wy.sum(-1)[:, None]
        syy = (wy * y).sum(-1)[:, None]
        wphi = phi * w[:, None, :]
        s1 = np.matmul(wphi, np.ones(phi.shape[-1]))
        s11 = np.einsum("bgn,bgn->bg", wphi, phi)
        s1y = np.matmul(phi, wy[:, :, None])[..., 0]
        det = s0 * s11 - s1 * s1
        a = np.where(np.abs(det) > 1e-300, (s0 * s1y - s1 * sy) / det, 0.0)
        a = np.maximum(a, 0.0)
        c = (sy - a * s1) / s0
        neg = c < 0  # there the best fit is a * phi alone
        if neg.any():
            a = np.where(neg, np.maximum(s1y / s11, 0.0), a)
            c = np.where(neg, 0.0, c)
        q = syy - 2.0 * (c * sy + a * s1y) + c * c * s0 + 2.0 * c * a * s1 + a * a * s11
        return c, a, np.where(np.isfinite(q) & np.isfinite(c) & np.isfinite(a), q, np.inf)


#: Iterations of the Levenberg-Marquardt refinement after the grid.
_LEVELS = 6
_TOL = 1e-4


def _model(family: str, th: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and Jacobian of a family at parameters th (B x p: c, a, log b, t0 for the power
    law; c, a, log k for the exponential) on T (B x n): f (B x n), J (B x p x n)."""
    c, a = th[:, 0:1], th[:, 1:2]
    J = np.empty((T.shape[0], th.shape[1], T.shape[1]))
    J[:, 0] = 1.0
    with np.errstate(all="ignore"):
        if family == _POWER:
            b = np.exp(th[:, 2:3])
            u = T + th[:, 3:4]
            lu = np.log(u)
            phi = np.exp(-b * lu)
            dphi = (-a * b) * phi
            J[:, 2] = dphi * lu
            J[:, 3] = dphi / u
        else:
            k = np.exp(th[:, 2:3])
            tm = T - 1.0
            phi = np.exp(-k * tm)
            J[:, 2] = (-a * k) * tm * phi
        J[:, 1] = phi
        return c + a * phi, J


def _project_bounds(family: str, th: np.ndarray) -> np.ndarray:
    th[:, 0:2] = np.maximum(th[:, 0:2], 0.0)  # c >= 0, a >= 0
    if family == _POWER:
        th[:, 3] = np.maximum(th[:, 3], 0.0)  # t0 >= 0
        th[:, 2] = np.clip(th[:, 2], -12.0, 6.0)
    else:
        th[:, 2] = np.clip(th[:, 2], -12.0, 8.0)
    return th


def _refine(
    family: str, th: np.ndarray, T: np.ndarray, Y: np.ndarray, M: np.ndarray, sc: np.ndarray, iters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Levenberg-Marquardt on the Huber loss (IRLS weights), every problem of the batch at
    once; a step is kept where it lowers that problem's loss, else its damping grows."""
    B, p = th.shape
    lam = np.full(B, 1e-3)
    f, J = _model(family, th, T)
    r = Y - f
    loss = (M * _huber(r, sc)).sum(-1)
    eye = np.eye(p)
    conv = np.zeros(B, dtype=bool)
    for _ in range(iters):
        w = M * _huber_w(r, sc)
        JW = J * w[:, None, :]
        A = np.matmul(JW, J.transpose(0, 2, 1))
        g = np.matmul(JW, r[:, :, None])[..., 0]
        D = A * eye
        # the damping's diagonal, floored so that a parameter without influence (a = 0) is not singular
        D = D + (1e-9 * D.max(axis=(1, 2)) + 1e-300)[:, None, None] * eye
        with np.errstate(all="ignore"):
            try:
                d = np.linalg.solve(A + lam[:, None, None] * D, g[:, :, None])[..., 0]
            except np.linalg.LinAlgError:
                break
        new = _project_bounds(family, th + np.where(np.isfinite(d), d, 0.0))
        f2, J2 = _model(family, new, T)
        r2 = Y - f2
        loss2 = (M * _huber(r2, sc)).sum(-1)
        ok = np.isfinite(loss2) & (loss2 < loss)
        th = np.where(ok[:, None], new, th)
        r = np.where(ok[:, None], r2, r)
        J = np.where(ok[:, None, None], J2, J)
        # converged: a step that gains (almost) nothing, or one refused at a large damping
        conv |= np.where(ok, loss - loss2 <= _TOL * loss, lam >= 1e3)
        loss = np.where(ok, loss2, loss)
        lam = np.where(ok, lam * 0.3, lam * 10.0)
        if conv.all():
            break
    return th, loss


def _fit_family(
    family: str, T: np.ndarray, Y: np.ndarray, M: np.ndarray, scale: np.ndarray, levels: int = _LEVELS, multi: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Huber fit of one family to a batch of problems (T, Y: B x n, padded; M: 1 on data,
    0 on padding; scale: B).  The coarse grid with (c, a) in closed form, the Huber weights
    (IRLS) shared by the rows of a problem and recomputed from its best row after every pass;
    then ``levels`` Levenberg-Marquardt steps from the best grid point, all problems at once.
    Returns (nonlinear params B x p, c, a, mean Huber loss), each for every problem."""
    B = T.shape[0]
    multi = B if multi is None else multi
    rows = np.arange(B)
    sc = scale[:, None]
    grid = _grid(family)
    phi = _basis(family, grid, T)  # B x G x n
    w = M
    for _ in range(3):
        c, a, q = _wls(phi, Y, w)
        i = np.argmin(q, axis=1)
        r = Y - c[rows, i][:, None] - a[rows, i][:, None] * phi[rows, i]
        w = M * _huber_w(r, sc)
    p = grid[i]
    th = np.concatenate([c[rows, i][:, None], a[rows, i][:, None], np.log(p[:, 0:1]), p[:, 1:]], 1)
    if levels and family == _POWER and len(T0) > 1 and multi:
        # the power law's ridge (b against t0) has more than one valley: the first ``multi``
        # problems (default all) start from the best b of every t0 on the grid as well (the
        # last weights' sums of squares rank them); the best wins
        c2, a2, q = _wls(phi[:multi], Y[:multi], w[:multi])
        nt = len(T0)
        j = np.argmin(q.reshape(multi, -1, nt), axis=1) * nt + np.arange(nt)[None, :]  # multi x nt rows
        ps = grid[j]
        extra = np.stack([np.take_along_axis(c2, j, 1), np.take_along_axis(a2, j, 1), np.log(ps[..., 0]), ps[..., 1]],
                         -1).reshape(multi * nt, -1)
        owner = np.concatenate([rows, np.repeat(np.arange(multi), nt)])
        ths, losses = _refine(family, np.concatenate([th, extra]), T[owner], Y[owner], M[owner], sc[owner], levels)
        losses = np.where(np.isfinite(losses), losses, np.inf)
        for b in range(multi):
            mine = np.flatnonzero(owner == b)
            k = mine[int(np.argmin(losses[mine]))]
            ths[b], losses[b] = ths[k], losses[k]
        th, loss = ths[:B], losses[:B]
    elif levels:
        th, loss = _refine(family, th, T, Y, M, sc, levels)
    else:
        loss = (M * _huber(r, sc)).sum(-1)
    loss = loss / M.sum(-1)
    params = np.concatenate([np.exp(th[:, 2:3]), th[:, 3:]], 1)
    ok = np.isfinite(loss) & np.isfinite(th).all(1)
    return params, th[:, 0], th[:, 1], np.where(ok, loss, np.inf)  # an overflowing basis never wins


def _value(family: str, p: Any, c: float, a: float, t: Any) -> np.ndarray:
    return c + a * _basis(family, np.asarray(p)[None, :], np.atleast_1d(np.asarray(t, dtype=float)))[0]


def _uniform(state: list, shape: tuple[int, ...], k: int) -> np.ndarray:
    """Deterministic pseudo-random integers in [0, k) (splitmix64 on a counter): the bootstrap
    needs no statistical finesse, and numpy.random costs ~20 ms to import."""
    count = int(np.prod(shape))
    z = (np.arange(count, dtype=np.uint64) + np.uint64(state[0])) * np.uint64(0x9E3779B97F4A7C15)
    state[0] = (state[0] + count) % (1 << 63)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(k)).astype(np.int64).reshape(shape)


def _boot(family: str, fit: Any, t: np.ndarray, y: np.ndarray, scale: float, targets: np.ndarray, rng: Any) -> np.ndarray:
    """Moving-block residual bootstrap: projected values at ``targets`` (B x H).  Each
    replicate is refitted on a local grid around the fit's own nonlinear parameters, in
    closed form: every replicate and grid row at once (matrix products), each resampled
    residual keeping the Huber weight it has in the fit."""
    p, c, a, _ = fit
    yhat = _value(family, p, c, a, t)
    r = y - yhat
    r = r - stats.median(r)
    n = y.size
    blk = max(1, min(n // 2, int(round(n ** (1 / 3))) + 1))
    nb = -(-n // blk)
    starts = _uniform(rng, (BOOT, nb), n - blk + 1)
    idx = (starts[:, :, None] + np.arange(blk)[None, None, :]).reshape(BOOT, -1)[:, :n]
    rb = r[idx]
    Y = yhat[None, :] + rb
    W = _huber_w(rb, scale)
    if family == _POWER:
        B, T = np.meshgrid(p[0] * np.exp(np.linspace(-0.8, 0.8, 9)), np.maximum(p[1] + np.array([-0.1, 0.0, 0.1] if len(T0) > 1 else [0.0]), 0),
                           indexing="ij")
        params = np.stack([B.ravel(), T.ravel()], axis=1)
    else:
        params = (p[0] * np.exp(np.linspace(-1.0, 1.0, 13)))[:, None]
    phi = _basis(family, params, t)  # G x n
    with np.errstate(all="ignore"):
        WY = W * Y
        s0 = W.sum(1)[:, None]
        sy = WY.sum(1)[:, None]
        syy = (WY * Y).sum(1)[:, None]
        s1, s11, s1y = W @ phi.T, W @ (phi * phi).T, WY @ phi.T  # BOOT x G
        det = s0 * s11 - s1 * s1
        ab = np.maximum(np.where(np.abs(det) > 1e-300, (s0 * s1y - s1 * sy) / det, 0.0), 0.0)
        cb = (sy - ab * s1) / s0
        neg = cb < 0
        ab = np.where(neg, np.maximum(s1y / s11, 0.0), ab)
        cb = np.where(neg, 0.0, cb)
        q = syy - 2.0 * (cb * sy + ab * s1y) + cb * cb * s0 + 2.0 * cb * ab * s1 + ab * ab * s11
        q = np.where(np.isfinite(q) & np.isfinite(cb), q, np.inf)
    j = np.argmin(q, axis=1)
    rows = np.arange(BOOT)
    phi_t = _basis(family, params, np.asarray(targets, dtype=float))  # G x H
    return cb[rows, j][:, None] + ab[rows, j][:, None] * phi_t[j]


def _tail_start(s: np.ndarray) -> int:
    """Where the fitted tail begins: the earlier of the knee (KNEE_SHARE of the smoothed
    fall made) and the middle, leaving at least MIN_FIT points."""
    n = s.size
    half = n // 2
    fall = s[0] - float(np.min(s))
    knee = 0
    if fall > 0:
        made = (s[0] - np.minimum.accumulate(s)) / fall
        knee = int(np.argmax(made >= KNEE_SHARE))
    start = max(half, knee) if TAIL == "later" else min(half, knee)
    return max(0, min(n - MIN_FIT, start))


def _bin(t: np.ndarray, y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    n = y.size
    if n <= m:
        return t, y
    edges = np.linspace(0, n, m + 1).astype(int)
    counts = np.diff(edges)
    return np.add.reduceat(t, edges[:-1]) / counts, np.add.reduceat(y, edges[:-1]) / counts


def turned_up(t_track: Track) -> tuple[float, float, float] | None:
    """(how far the end sits above the smoothed minimum, relative to it; that minimum; its
    position) when the curve turned up (its smoothed minimum is well before the end and the end
    sits clearly above it), else None."""
    s = t_track.s
    n = s.size
    i_min = int(np.argmin(s))
    near = max(2, int(math.ceil(0.1 * n)))
    if i_min >= n - near:
        return None
    lo = float(s[i_min])
    end = stats.end_level(t_track.y, max(1, min(5, (n - i_min) // 3)))
    sig = t_track.sigma if np.isfinite(t_track.sigma) else 0.0
    if end - lo > max(3.0 * sig, TURNED_UP * abs(lo)):
        return stats.rel(end - lo, lo), lo, float(t_track.x[i_min])
    return None


def turned_up_words(t_track: Track, unit: str) -> str | None:
    """'it ends 5% above its smoothed minimum (3.482 at epoch 31)' when the curve turned up, else
    None: the one wording of it (the projection's refusal and a healthy headline say the same)."""
    up = turned_up(t_track)
    if up is None:
        return None
    rel, lo, pos = up
    return f"it ends {rel * 100:.0f}% above its smoothed minimum ({lo:.4g} at {unit} {pos:g})"


def _turned_up(t_track: Track, unit: str) -> str | None:
    """Why the curve counts as turned up, or None."""
    words = turned_up_words(t_track, unit)
    return None if words is None else f"{t_track.name} turned up: {words}"


def _refused(metric: str, unit: str, reason: str, points: int = 0, at_end: float | None = None, end: float | None = None) -> Projection:
    return Projection(metric=metric, unit=unit, at_end=at_end, end_position=end, length=None,
                      horizon_50=None, horizon_100=None, family=None, points_used=points, level=LEVEL, reason=reason)


def _tail(x: np.ndarray, y: np.ndarray, s: np.ndarray) -> dict:
    """The tail of (x, y) to fit, scale-free; s is the smoothed y (sets the tail start)."""
    d = stats.median(np.diff(x))
    origin = float(x[0]) - d
    length = float(x[-1]) - origin
    level = stats.end_level(y)
    i0 = _tail_start(s)
    t, yw = _bin((x[i0:] - origin) / length, y[i0:] / level, MAX_FIT)  # scale-free: relative to the end level
    scale = stats.noise_sigma(yw)
    return {"t": t, "y": yw, "scale": scale, "origin": origin, "length": length, "level": level, "start": i0,
            "n": y.size}


def _fit_tails(tails: list, levels: int = _LEVELS, multi: int | None = None) -> list:
    """Both families fitted to every tail at once (a batch, padded to the longest); each tail
    dict gains its fits, the families' weights and the best family."""
    B = len(tails)
    n = max(tl["y"].size for tl in tails)
    T = np.ones((B, n))
    Y = np.zeros((B, n))
    M = np.zeros((B, n))
    for b, tl in enumerate(tails):
        k = tl["y"].size
        T[b, :k], Y[b, :k], M[b, :k] = tl["t"], tl["y"], 1.0
    scale = np.array([tl["scale"] for tl in tails], dtype=float)
    bad = ~(np.isfinite(scale) & (scale > 0))
    if bad.any():
        # too few points for a noise estimate, or noiseless: a least-squares fit sets it
        with np.errstate(all="ignore"):
            p, c, a, _ = _fit_family(_POWER, T, Y, M, np.full(B, 1e9), levels=0)
        for b in map(int, np.flatnonzero(bad)):
            tl = tails[b]
            r = tl["y"] - _value(_POWER, p[b], c[b], a[b], tl["t"])
            scale[b] = float(stats.MAD_TO_SIGMA * stats.median(np.abs(r - stats.median(r))))
    scale = np.maximum(scale, 1e-9)
    with np.errstate(all="ignore"):  # an overflowing basis or a singular step is refused, not warned of
        fams = {fam: _fit_family(fam, T, Y, M, scale, levels, multi) for fam in (_POWER, _EXP)}
    for b, tl in enumerate(tails):
        fits = {f: (v[0][b], float(v[1][b]), float(v[2][b]), float(v[3][b])) for f, v in fams.items()}
        sc = float(scale[b])
        # model averaging with likelihood weights (a Gaussian likelihood of the Huber loss at the
        # noise scale): a smooth function of the data, so a little jitter cannot switch families
        nll = {f: tl["y"].size * v[3] / (sc * sc) for f, v in fits.items()}
        lo_nll = min(nll.values())
        raw = {f: math.exp(-min(700.0, nll[f] - lo_nll)) if math.isfinite(nll[f]) else 0.0 for f in fits}
        tot = sum(raw.values()) or 1.0
        weights = {f: w / tot for f, w in raw.items()}
        tl.update(fits=fits, weights=weights, best=max(weights, key=weights.__getitem__), scale=sc)
    return tails


def _fit_tail(x: np.ndarray, y: np.ndarray, s: np.ndarray, levels: int = _LEVELS) -> dict:
    """Both families fitted to the tail of (x, y); s is the smoothed y (sets the tail start)."""
    return _fit_tails([_tail(x, y, s)], levels)[0]


def _mix(fit: dict, t: Any) -> np.ndarray:
    """The families' weighted mean at run-length positions t (relative to the end level)."""
    total: Any = 0  # 0 + the first family's array, as sum() adds them
    for f, w in fit["weights"].items():
        p, c, a = fit["fits"][f][:3]
        total = total + w * _value(f, p, c, a, t)
    return total


def _at(fit: dict, positions: Any) -> np.ndarray:
    """The fit's values at axis positions, in the units of the data."""
    t = (np.asarray(positions, dtype=float) - fit["origin"]) / fit["length"]
    return _mix(fit, t) * fit["level"]


def _cuts(x: np.ndarray, y: np.ndarray, reaches: Any) -> list:
    """The tails of the curve cut short (the backtest): for each reach r, where a projection r
    run-lengths ahead lands on the last point, and two later cuts; each with its cut length m
    and the reach it serves."""
    n = y.size
    out = []
    for j, r in enumerate(reaches):
        m0 = int(round(n / (1.0 + float(r))))
        for m in sorted({min(n - 1, m0 + k) for k in (0, max(1, n // 10), max(2, n // 5))}):
            if m < MIN_POINTS - 1:
                continue
            yc = y[:m]
            if not stats.end_level(yc) > 0:
                continue
            tl = _tail(x[:m], yc, stats.smooth(yc))
            tl["m"], tl["reach"] = m, j
            out.append(tl)
    return out


def _backtest(x: np.ndarray, cuts: list, reaches: Any, at_end: float) -> list:
    """The method's own error on this run, per reach: the projection from each of its cuts to
    the last point compared with the fitted level there (relative to it), scaled up to the
    reach (at most 4x); the root mean square over the cuts.  None when every cut would be
    too short."""
    out = []
    for j, r in enumerate(reaches):
        errs = []
        for fit in cuts:
            if fit["reach"] != j:
                continue
            ratio = (float(x[-1]) - float(x[fit["m"] - 1])) / fit["length"]
            if ratio > 0:
                errs.append((float(_at(fit, [x[-1]])[0]) / at_end - 1.0) * min(r / ratio, 4.0))
        out.append(math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else None)
    return out


def _numpy() -> None:
    global np
    import numpy

    np = numpy


def project_track(
    track: Track, unit: str = "epoch", more: tuple[float, ...] = (0.5, 1.0), positions: Any = None
) -> Projection:
    """Project ``track`` (an :class:`~curvediag.analysis.Track`) ``more`` run-lengths further.

    ``more`` holds two fractions of the run's length (default +50% and +100%);
    ``positions`` (two axis positions after the end) replaces them: the benchmark
    projects to the true end of a run it cut."""
    _numpy()
    name = track.name
    n = track.n
    if n < MIN_POINTS:
        return _refused(name, unit, f"too short to project: {name} has {n} finite points; needs {MIN_POINTS}", n)
    x = np.asarray(track.x, dtype=float)
    y = np.asarray(track.y, dtype=float)
    why = _turned_up(track, unit)
    if why:
        return _refused(name, unit, why + "; more training would not lower it", n)
    if not float(np.min(np.diff(x))) > 0:
        return _refused(name, unit, f"cannot project: the {unit} axis of {name} does not increase", n)
    if not stats.end_level(y) > 0 or float(np.min(track.s)) <= 0:
        return _refused(name, unit, f"cannot project: {name} is not positive, so a relative change has no meaning", n)
    # the tail and the backtest's cuts, fitted in one batch
    main = _tail(x, y, np.asarray(track.s, dtype=float))
    length = main["length"]
    if positions is not None:
        more = tuple((float(p) - float(x[-1])) / length for p in positions)
    # the tail and the backtest's cuts, fitted in one batch
    cuts = _cuts(x, y, more)
    fit, *cuts = _fit_tails([main, *cuts])
    level, scale = fit["level"], fit["scale"]
    targets = 1.0 + np.array(more, dtype=float)
    fits, best = fit["fits"], fit["best"]
    rng = [_SEED]
    q = (1 - LEVEL) / 2
    at_end_rel = float(_mix(fit, np.array([1.0]))[0])
    value = _mix(fit, targets)
    lo, hi = value.copy(), value.copy()
    for fam, f in fits.items():
        if fit["weights"][fam] < MIN_WEIGHT:
            continue
        pts = _value(fam, f[0], f[1], f[2], np.concatenate([[1.0], targets]))
        # absolute bootstrap values (the uncertainty of the current level is part of the range),
        # moved to the averaged end level
        bv = _boot(fam, f, fit["t"], fit["y"], scale, targets, rng) - pts[0] + at_end_rel
        lo = np.minimum(lo, np.minimum(np.quantile(bv, q, axis=0), pts[1:] - pts[0] + at_end_rel))
        hi = np.maximum(hi, np.maximum(np.quantile(bv, 1 - q, axis=0), pts[1:] - pts[0] + at_end_rel))
    # the method's own error on the run's past (a projection of the same reach, made earlier),
    # in units of the current level: the model error a bootstrap of the noise cannot see
    at_end = at_end_rel * level
    errs = []
    for j, e in enumerate(_backtest(x, cuts, more, at_end)):
        if e is None:
            e = abs(float(value[j]) / at_end_rel - 1.0)  # no past to check: as uncertain as the change itself
        errs.append(e)
        noise_half = max(WIDEN * (value[j] - lo[j]), WIDEN * (hi[j] - value[j]))
        lo[j] = value[j] - math.hypot(WIDEN * (value[j] - lo[j]), BACKTEST * abs(e) * at_end_rel)
        hi[j] = value[j] + math.hypot(WIDEN * (hi[j] - value[j]), BACKTEST * abs(e) * at_end_rel)
    def ch(v: float) -> float:
        """A level relative to the value at the end, as a change."""
        return float(v / at_end_rel - 1.0)

    hs = []
    for j, m in enumerate(more):
        hs.append(Horizon(
            position=float(x[-1] + m * length), more=float(m * length),
            value=float(value[j] * level), low=float(lo[j] * level), high=float(hi[j] * level),
            change=ch(value[j]), change_low=ch(lo[j]), change_high=ch(hi[j]),
        ))
    width = hs[-1].change_high - hs[-1].change_low
    points_used = int(n - fit["start"])
    if not math.isfinite(width) or width > MAX_WIDTH:
        why = (f"the same projection made earlier in the run missed its end by {abs(errs[-1]) * 100:.0f}%"
               if BACKTEST * abs(errs[-1]) * at_end_rel > noise_half else "the tail is noisy")
        return _refused(name, unit, f"too uncertain to project: the {LEVEL:.0%} range after {_more(hs[-1].more, unit)} "
                                    f"spans {width * 100:.0f}% of the current level ({why})", points_used, at_end,
                        float(x[-1]))
    return Projection(metric=name, unit=unit, at_end=float(at_end), end_position=float(x[-1]), length=length,
                      horizon_50=hs[0], horizon_100=hs[1], family=best, points_used=points_used,
                      level=LEVEL, reason=None)


def _more(v: float, unit: str) -> str:
    return _count(v, unit)


def judged_track(ctx: Context) -> Track | None:
    """val_loss, else the only loss logged (the training loss)."""
    return ctx.track(VAL_LOSS) or ctx.track(TRAIN_LOSS)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

#: A memo by content a caller may set for the calls it makes (``Monitor.check``: a check after rows
#: that did not change the judged curve reuses the last fit); None: none.
MEMO: contextvars.ContextVar[dict | None] = contextvars.ContextVar("curvediag_projection_memo", default=None)


def project(track: Track, unit: str = "epoch") -> Projection:
    """:func:`project_track` at +50% and +100%, computed once per track (and once per content of
    the track where a caller set :data:`MEMO`: the projection is a function of the points alone)."""
    got = _CACHE.get(track)
    if got is None or got.unit != unit:
        memo = MEMO.get()
        key = None
        if memo is not None:
            x, y = np.asarray(track.x, dtype=float), np.asarray(track.y, dtype=float)
            key = (track.name, unit, x.tobytes(), y.tobytes())
            got = memo.get(key)
        if got is None:
            got = project_track(track, unit)
            if memo is not None:
                memo.clear()  # the last fit only: a live run's judged curve changes with its evaluations
                memo[key] = got
        _CACHE[track] = got
    return got


def expected_gain(track: Track, more: float = 0.5, unit: str = "epoch") -> tuple[float, float, float] | None:
    """What ``more`` (0.5 or 1.0) times the run's length again would gain, as fractions of
    the current level: ``(gain, low, high)`` where ``gain = -change`` (positive: the loss
    falls), ``low`` the pessimistic end of the interval, ``high`` the optimistic end.
    None when the tail is not projected (too short, noisy, turned up ...)."""
    p = project(track, unit)
    h = p.horizon_50 if more == 0.5 else p.horizon_100 if more == 1.0 else None
    if h is None:
        if p.reason is None and more not in (0.5, 1.0):
            raise ValueError("more must be 0.5 or 1.0")
        return None
    return (-h.change, -h.change_high, -h.change_low)


def for_report(ctx: Context, verdict: str) -> Projection | None:
    """The report's projection: None without any loss; a refusal for a diverged run."""
    t = judged_track(ctx)
    if t is None:
        return None
    unit = ctx.axis_word
    series = ctx.curves.get(t.name)
    if verdict == "diverged":
        return _refused(t.name, unit, "not projected: the run diverged", t.n)
    if series is not None and len(series) and not np.isfinite(series.y[-1]):
        return _refused(t.name, unit, f"not projected: {t.name} ends non-finite", t.n)
    return project(t, unit)
