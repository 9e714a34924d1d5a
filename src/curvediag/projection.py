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
  The nonlinear parameters (b, t0 or k) are searched on a grid and refined by a
  pattern search; (c, a) are solved by weighted linear least squares with Huber
  weights (IRLS, the scale fixed at the tail's robust noise), so outliers and spikes
  do not pull the fit.  The point is the families' likelihood-weighted mean.
- **Interval** (nominal ``LEVEL``). A moving-block residual bootstrap (a fixed seed,
  so a report is reproducible) of every family that carries weight, and the
  families' own points, widened by ``WIDEN``, combined in quadrature with
  ``BACKTEST`` times the method's own error on this run (the same projection made
  from earlier cuts of the curve).  The two factors were calibrated once, on all
  runs together, by ``benchmarks/projection_coverage.py``.
- **Refusals** (``reason``): too few points, a curve that turned up (overfitting:
  more training will not help), a non-positive level, or an interval too wide
  to say anything; ``for_report`` adds a diverged run and a non-finite end.
"""

from __future__ import annotations

import math
import weakref

from . import stats
from ._np import (
    np,  # replaced by numpy itself on the first projection: the proxy costs ~5 us a lookup
)
from .report import Horizon, Projection

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
BACKTEST = 2.5
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


def _grid(family: str):
    """The search grid of a family (computed once per T0: every fit and backtest uses it)."""
    key = (family, T0)
    got = _GRIDS.get(key)
    if got is None:
        got = _GRIDS[key] = _make_grid(family)
        got.flags.writeable = False
    return got


def _make_grid(family: str):
    if family == _POWER:
        b = np.geomspace(0.02, 20.0, 28)
        t0 = np.array(T0)
        B, T = np.meshgrid(b, t0, indexing="ij")
        return np.stack([B.ravel(), T.ravel()], axis=1)
    k = np.geomspace(0.05, 60.0, 40)
    return k[:, None]


def _basis(family: str, params, t):
    """phi (G x n): the curve is c + a * phi."""
    with np.errstate(all="ignore"):
        if family == _POWER:
            return (t[None, :] + params[:, 1:2]) ** (-params[:, 0:1])
        return np.exp(-params[:, 0:1] * (t[None, :] - 1.0))  # anchored at the end: phi(1) = 1, well-scaled


def _solve(phi, y, scale, iters: int = 4):
    """Huber IRLS for y ~ c + a phi, per grid row (y: n or B x n; phi: G x n or B x G x n).
    Returns c, a, loss with shape (..., G)."""
    with np.errstate(all="ignore"):
        return _solve_raw(phi, y, scale, iters)


def _solve_raw(phi, y, scale, iters: int):
    # np.add.reduce is what ndarray.sum runs, without its Python wrapper (these arrays are
    # small: the calls' overhead is the cost); w * phi is reused, the products as before
    add = np.add.reduce
    yb = y[..., None, :]
    w = np.ones(np.broadcast_shapes(phi.shape, yb.shape))
    for it in range(iters + 1):
        wphi = w * phi
        s0 = add(w, -1)
        s1 = add(wphi, -1)
        s11 = add(wphi * phi, -1)
        sy = add(w * yb, -1)
        s1y = add(wphi * yb, -1)
        det = s0 * s11 - s1 * s1
        a = np.where(np.abs(det) > 1e-300, (s0 * s1y - s1 * sy) / det, 0.0)  # errors ignored by _solve
        a = np.maximum(a, 0.0)  # the loss does not rise
        c = (sy - a * s1) / s0
        neg = c < 0  # a loss does not fall below 0: there the best fit is a * phi alone
        if neg.any():
            a = np.where(neg, np.maximum(s1y / s11, 0.0), a)
            c = np.where(neg, 0.0, c)
        r = yb - c[..., None] - a[..., None] * phi
        ar = np.abs(r)
        if it < iters:
            w = np.minimum(1.0, _HUBER * scale / np.maximum(ar, 1e-300))
    k = _HUBER * scale
    loss = np.where(ar <= k, 0.5 * r * r, k * (ar - 0.5 * k)).mean(-1)
    return c, a, np.where(np.isfinite(loss) & np.isfinite(c), loss, np.inf)  # an overflowing basis never wins


def _fit(family: str, t, y, scale, zoom: int = 40):
    """Best (params, c, a, loss) of one family: the grid, then a pattern search from its
    best point (all neighbours at once, the step halved when none is better)."""
    params = _grid(family)
    c, a, loss = _solve(_basis(family, params, t), y, scale, iters=2)
    i = int(np.argmin(loss))
    c, a, loss = _solve(_basis(family, params[i : i + 1], t), y, scale)
    best = (params[i], float(c[0]), float(a[0]), float(loss[0]))
    # steps: log b and t0 (additive, t0 >= 0) for the power law; log k for the exponential
    step = np.array([0.3, 0.1 if len(T0) > 1 else 0.0]) if family == _POWER else np.array([0.2])
    for _ in range(zoom):
        if step[0] < (1e-5 if zoom > 10 else 1e-3):  # the main fit to full precision, backtests roughly
            break
        p0 = best[0]
        if family == _POWER:
            db, dt = np.meshgrid([-1, 0, 1], [-1, 0, 1], indexing="ij")
            cand = np.stack([p0[0] * np.exp(db.ravel() * step[0]), np.maximum(p0[1] + dt.ravel() * step[1], 0.0)], 1)
        else:
            cand = (p0[0] * np.exp(np.array([-1.0, 1.0]) * step[0]))[:, None]
        c, a, loss = _solve(_basis(family, cand, t), y, scale, iters=3)
        i = int(np.argmin(loss))
        if loss[i] < best[3] * (1 - 1e-12):
            best = (cand[i], float(c[i]), float(a[i]), float(loss[i]))
        else:
            step = step / 2.0
    return best


def _value(family: str, p, c: float, a: float, t) -> np.ndarray:
    return c + a * _basis(family, np.asarray(p)[None, :], np.atleast_1d(np.asarray(t, dtype=float)))[0]


def _uniform(state: list, shape, k: int) -> np.ndarray:
    """Deterministic pseudo-random integers in [0, k) (splitmix64 on a counter): the bootstrap
    needs no statistical finesse, and numpy.random costs ~20 ms to import."""
    count = int(np.prod(shape))
    z = (np.arange(count, dtype=np.uint64) + np.uint64(state[0])) * np.uint64(0x9E3779B97F4A7C15)
    state[0] = (state[0] + count) % (1 << 63)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(k)).astype(np.int64).reshape(shape)


def _boot(family: str, fit, t, y, scale, targets, rng) -> np.ndarray:
    """Moving-block residual bootstrap: projected values at ``targets`` (B x H).  Each
    replicate is refitted on a local grid around the fit's own nonlinear parameters."""
    p, c, a, _ = fit
    yhat = _value(family, p, c, a, t)
    r = y - yhat
    r = r - np.median(r)
    n = y.size
    blk = max(1, min(n // 2, int(round(n ** (1 / 3))) + 1))
    nb = -(-n // blk)
    starts = _uniform(rng, (BOOT, nb), n - blk + 1)
    idx = (starts[:, :, None] + np.arange(blk)[None, None, :]).reshape(BOOT, -1)[:, :n]
    Y = yhat[None, :] + r[idx]
    if family == _POWER:
        B, T = np.meshgrid(p[0] * np.exp(np.linspace(-0.8, 0.8, 9)), np.maximum(p[1] + np.array([-0.1, 0.0, 0.1] if len(T0) > 1 else [0.0]), 0),
                           indexing="ij")
        params = np.stack([B.ravel(), T.ravel()], axis=1)
    else:
        params = (p[0] * np.exp(np.linspace(-1.0, 1.0, 13)))[:, None]
    cb, ab, lb = _solve(_basis(family, params, t), Y, scale, iters=3)
    j = np.argmin(lb, axis=1)
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


def _bin(t, y, m: int):
    n = y.size
    if n <= m:
        return t, y
    edges = np.linspace(0, n, m + 1).astype(int)
    counts = np.diff(edges)
    return np.add.reduceat(t, edges[:-1]) / counts, np.add.reduceat(y, edges[:-1]) / counts


def turned_up(t_track) -> tuple[float, float, float] | None:
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


def turned_up_words(t_track, unit: str) -> str | None:
    """'it ends 5% above its smoothed minimum (3.482 at epoch 31)' when the curve turned up, else
    None: the one wording of it (the projection's refusal and a healthy headline say the same)."""
    up = turned_up(t_track)
    if up is None:
        return None
    rel, lo, pos = up
    return f"it ends {rel * 100:.0f}% above its smoothed minimum ({lo:.4g} at {unit} {pos:g})"


def _turned_up(t_track, unit: str) -> str | None:
    """Why the curve counts as turned up, or None."""
    words = turned_up_words(t_track, unit)
    return None if words is None else f"{t_track.name} turned up: {words}"


def _refused(metric: str, unit: str, reason: str, points: int = 0, at_end=None, end=None) -> Projection:
    return Projection(metric=metric, unit=unit, at_end=at_end, end_position=end, length=None,
                      horizon_50=None, horizon_100=None, family=None, points_used=points, level=LEVEL, reason=reason)


def _fit_tail(x, y, s, zoom: int = 40):
    """Both families fitted to the tail of (x, y); s is the smoothed y (sets the tail start)."""
    n = y.size
    d = float(np.median(np.diff(x)))
    origin = float(x[0]) - d
    length = float(x[-1]) - origin
    level = stats.end_level(y)
    i0 = _tail_start(s)
    t, yw = _bin((x[i0:] - origin) / length, y[i0:] / level, MAX_FIT)  # scale-free: relative to the end level
    scale = stats.noise_sigma(yw)
    if not (np.isfinite(scale) and scale > 0):
        # too few points for a noise estimate, or noiseless: a first least-squares pass sets it
        p = _fit(_POWER, t, yw, 1e9, zoom=0)
        r = yw - _value(_POWER, p[0], p[1], p[2], t)
        scale = float(stats.MAD_TO_SIGMA * np.median(np.abs(r - np.median(r))))
    scale = max(scale, 1e-9)
    fits = {fam: _fit(fam, t, yw, scale, zoom) for fam in (_POWER, _EXP)}
    # model averaging with likelihood weights (a Gaussian likelihood of the Huber loss at the
    # noise scale): a smooth function of the data, so a little jitter cannot switch families
    nll = {f: yw.size * v[3] / (scale * scale) for f, v in fits.items()}
    lo_nll = min(nll.values())
    raw = {f: math.exp(-min(700.0, nll[f] - lo_nll)) for f in fits}
    weights = {f: w / sum(raw.values()) for f, w in raw.items()}
    best = max(weights, key=weights.get)
    return {"fits": fits, "best": best, "weights": weights, "t": t, "y": yw, "scale": scale, "origin": origin, "length": length,
            "level": level, "start": i0, "n": n}


def _mix(fit: dict, t) -> np.ndarray:
    """The families' weighted mean at run-length positions t (relative to the end level)."""
    return sum(w * _value(f, *fit["fits"][f][:3], t) for f, w in fit["weights"].items())


def _at(fit: dict, positions) -> np.ndarray:
    """The fit's values at axis positions, in the units of the data."""
    t = (np.asarray(positions, dtype=float) - fit["origin"]) / fit["length"]
    return _mix(fit, t) * fit["level"]


def _backtest(x, y, r: float, at_end: float) -> float | None:
    """The method's own error on this run: cut the curve where a projection ``r`` run-lengths
    ahead lands on the last point (and at two later cuts, their errors scaled up to the
    same reach), project, and compare with the fitted level there (relative to it).  The
    root mean square of the errors; None when every cut would be too short."""
    n = y.size
    m0 = int(round(n / (1.0 + r)))
    errs = []
    for m in sorted({min(n - 1, m0 + k) for k in (0, max(1, n // 10), max(2, n // 5))}):
        if m < MIN_POINTS - 1:
            continue
        xc, yc = x[:m], y[:m]
        if not stats.end_level(yc) > 0:
            continue
        fit = _fit_tail(xc, yc, stats.smooth(yc), zoom=8)
        ratio = (float(x[-1]) - float(xc[-1])) / fit["length"]
        if ratio > 0:
            errs.append((float(_at(fit, [x[-1]])[0]) / at_end - 1.0) * min(r / ratio, 4.0))
    return math.sqrt(sum(e * e for e in errs) / len(errs)) if errs else None


def _numpy() -> None:
    global np
    import numpy

    np = numpy


def project_track(track, unit: str = "epoch", more=(0.5, 1.0), positions=None) -> Projection:
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
    fit = _fit_tail(x, y, np.asarray(track.s, dtype=float))
    length, level, scale = fit["length"], fit["level"], fit["scale"]
    if positions is not None:
        more = tuple((float(p) - float(x[-1])) / length for p in positions)
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
    for j, r in enumerate(more):
        e = _backtest(x, y, float(r), at_end)
        if e is None:
            e = abs(float(value[j]) / at_end_rel - 1.0)  # no past to check: as uncertain as the change itself
        errs.append(e)
        noise_half = max(WIDEN * (value[j] - lo[j]), WIDEN * (hi[j] - value[j]))
        lo[j] = value[j] - math.hypot(WIDEN * (value[j] - lo[j]), BACKTEST * abs(e) * at_end_rel)
        hi[j] = value[j] + math.hypot(WIDEN * (hi[j] - value[j]), BACKTEST * abs(e) * at_end_rel)
    hs = []
    for j, m in enumerate(more):
        ch = lambda v: float(v / at_end_rel - 1.0)
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
    from .report import _count

    return _count(v, unit)


def judged_track(ctx):
    """val_loss, else the only loss logged (the training loss)."""
    from .curves import TRAIN_LOSS, VAL_LOSS

    return ctx.track(VAL_LOSS) or ctx.track(TRAIN_LOSS)


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def project(track, unit: str = "epoch") -> Projection:
    """:func:`project_track` at +50% and +100%, computed once per track."""
    got = _CACHE.get(track)
    if got is None or got.unit != unit:
        got = project_track(track, unit)
        _CACHE[track] = got
    return got


def expected_gain(track, more: float = 0.5, unit: str = "epoch") -> tuple[float, float, float] | None:
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


def for_report(ctx, verdict: str) -> Projection | None:
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
