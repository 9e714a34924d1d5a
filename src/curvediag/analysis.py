"""Per-log analysis context shared by the rules: finite, smoothed tracks and
cached measurements, so each rule reads the same numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ._np import np

from . import stats
from .curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Curves, Series

#: Points a curve needs before any trend is judged.
MIN_POINTS = 3
#: Evaluations (of the longest loss curve) before a loss is called flat or at chance (L101, L103): on fewer a
#: flat loss cannot be told from a slow one, and a callback would stop a slow run that is learning.
NOT_LEARNING_POINTS = 6


class Skip(Exception):
    """A rule (or a comparison measure) cannot run on this log; the message says why.  Defined here,
    beside the :class:`Context` the rules read, so that the measures below the rules can raise it
    (``curvediag.rules.Skip`` is this class)."""


@dataclass(frozen=True, eq=False)
class Track:
    """The finite part of a series, downsampled for long per-step logs, with its
    smoothed version and robust noise level."""

    name: str
    column: str
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray
    sigma: float  # NaN when too short to estimate

    @property
    def n(self) -> int:
        return int(self.y.size)

    @classmethod
    def of(cls, series: Series) -> "Track":
        fin = series.finite()
        x, y = stats.downsample(fin.x.astype(float, copy=False), fin.y.astype(float, copy=False))
        return cls(series.name, series.column, x, y, stats.smooth(y), stats.noise_sigma(y))

    @property
    def start(self) -> float:
        return stats.start_level(self.y)

    @property
    def end(self) -> float:
        return stats.end_level(self.y)

    def at(self, pos: float) -> float:
        """Smoothed value at an axis position (linear interpolation, clamped)."""
        return float(np.interp(pos, self.x, self.s))

    def after(self, pos: float) -> "Track":
        m = self.x >= pos
        y = self.y[m]
        return Track(self.name, self.column, self.x[m], y, self.s[m], self.sigma)


def on_cadence(train: Series, val: Series) -> Series:
    """Per-step training values averaged over each validation interval.

    A per-step log (hundreds of noisy training points, validation every N steps)
    is judged on the validation cadence: the training value at a validation point
    is the mean of the training points since the previous one — the smoothed
    number a human reads off the plot, and one comparable with the validation loss.
    """
    if len(val) < MIN_POINTS or len(train) <= 2 * len(val):
        return train
    # interval j holds the training points with x in (val.x[j-1], val.x[j]]; train.x is sorted,
    # so the interval ends are found by searching the few validation positions in it
    ends = np.searchsorted(train.x, val.x, side="right")
    starts = np.concatenate(([0], ends[:-1]))
    counts = ends - starts
    has = counts > 0
    sums = np.add.reduceat(train.y, np.minimum(starts, len(train.y) - 1))[has] if has.any() else np.array([])
    return train.with_xy(val.x[has], sums / counts[has])


@dataclass(frozen=True)
class Rise:
    """How far a loss ended above its (smoothed) minimum."""

    onset_index: int
    onset_pos: float
    min_level: float
    end_level: float
    rise: float
    relative: float
    z: float  # rise / noise sigma; NaN when noise is unknown
    points_after: int


@dataclass(eq=False)
class Context:
    curves: Curves
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    num_classes: int | None = None
    #: a copy of the run re-judged for the confidence (engine.assess): measurements only the report
    #: shows, such as the fitted projection, are not made
    quick: bool = False
    #: the codes of the rules the settings switch on (None: every rule), for a rule that leaves to
    #: another what that one reports (I101 leaves the training-loss spikes R101 triages to it)
    enabled: frozenset[str] | None = None

    def rule_on(self, code: str) -> bool:
        """Whether the settings switch rule ``code`` on (every rule when the context does not say)."""
        return self.enabled is None or code in self.enabled

    @cached_property
    def tracks(self) -> dict[str, Track]:
        out = {}
        val = self.curves.get(VAL_LOSS)
        for name, series in self.curves.series.items():  # every canonical curve a rule may declare in ``needs``
            fin = series.finite()
            if len(fin) == 0:
                continue
            if name in (TRAIN_LOSS, TRAIN_ACC) and val is not None:
                fin = on_cadence(fin, val.finite())
            out[name] = Track.of(fin)
        return out

    @property
    def axis_word(self) -> str:
        """How positions are named in messages: 'step' on a step axis, else 'epoch'."""
        return "step" if self.curves.axis_kind == "step" else "epoch"

    def label(self, name: str) -> str:
        """The name a person reads for canonical series ``name`` (:attr:`Series.label`: 'eval_wer'
        for an error rate in the val_acc slot)."""
        s = self.curves.series.get(name)
        return s.label if s is not None else name

    def shown(self, name: str, v: float) -> str:
        """Internal value ``v`` of series ``name`` as a person reads it: in the log's units and
        direction (a WER of 28.4, not an accuracy of 0.716), 4 significant digits."""
        s = self.curves.series.get(name)
        return f"{s.shown(v) if s is not None else v:.4g}"

    def moved(self, name: str, a: float, b: float) -> str:
        """'rose 0.654 -> 0.679' / for an error rate 'fell 34.63 -> 32.1': the change from internal
        value ``a`` to ``b`` in the log's own direction and units."""
        s = self.curves.series.get(name)
        lo, hi = (s.shown(a), s.shown(b)) if s is not None else (a, b)
        return f"{'rose' if hi > lo else 'fell' if hi < lo else 'stayed'} {lo:.4g} -> {hi:.4g}"

    def track(self, name: str) -> Track | None:
        return self.tracks.get(name)

    def first_track(self, *names: str) -> Track | None:
        """The first of ``names`` with finite points, else None."""
        for name in names:
            t = self.tracks.get(name)
            if t is not None:
                return t
        return None

    def need(self, *names: str) -> Track:
        """What a rule declared in ``Rule.needs``: the first of ``names`` with finite points (the
        engine checked that there is one, and that it has the rule's ``min_points``, before
        calling the rule)."""
        t = self.first_track(*names)
        if t is None:
            raise LookupError(f"none of {', '.join(names)} in the log: the rule's needs were not checked")
        return t

    @property
    def main_loss(self) -> Track | None:
        """The training loss, or the validation loss when training loss is not logged."""
        return self.track(TRAIN_LOSS) or self.track(VAL_LOSS)

    @property
    def quality(self) -> Track | None:
        """Validation accuracy, else training accuracy."""
        return self.track(VAL_ACC) or self.track(TRAIN_ACC)

    @cached_property
    def points(self) -> int:
        """Points of the longest finite loss curve (of the accuracy or quality metric in a log
        that has no loss)."""
        keys = (TRAIN_LOSS, VAL_LOSS) if self.main_loss is not None else (VAL_ACC, TRAIN_ACC)
        return max((self.tracks[k].n for k in keys if k in self.tracks), default=0)

    @cached_property
    def judged(self) -> Track | None:
        """The curve the end of a run is judged on: the validation loss, else the only loss,
        else (a log with an accuracy or quality metric but no loss) the error 1 - metric."""
        t = self.track(VAL_LOSS)
        if t is not None and t.n >= MIN_POINTS:
            return t
        t = self.track(TRAIN_LOSS) or t
        if t is not None:
            return t
        a = self.curves.get(VAL_ACC) or self.curves.get(TRAIN_ACC)
        if a is None or len(a.finite()) == 0:
            return None
        fin = a.finite()
        err = Track.of(fin.with_xy(fin.x, 1.0 - fin.y))
        return Track(f"1 - {a.name}", err.column, err.x, err.y, err.s, err.sigma)

    @cached_property
    def val_rise(self) -> Rise | None:
        t = self.track(VAL_LOSS)
        if t is None or t.n < MIN_POINTS:
            return None
        return loss_rise(t)


def loss_rise(t: Track) -> Rise:
    i_min = int(np.argmin(t.s))
    # the onset is the best raw checkpoint up to the smoothed minimum (plus its half-window):
    # the epoch a user would restore, where the rise begins
    h = stats.window_for(t.n) // 2
    i_raw = int(np.argmin(t.y[: min(t.n, i_min + h + 1)]))
    after = t.y[i_min + 1 :]
    min_level = float(t.s[i_min])
    k = max(1, min(5, after.size // 3))
    end = stats.end_level(after, k) if after.size else min_level
    rise = end - min_level
    z = rise / t.sigma if t.sigma and np.isfinite(t.sigma) and t.sigma > 0 else float("nan")
    return Rise(i_raw, float(t.x[i_raw]), min_level, end, rise, stats.rel(rise, min_level), z, int(after.size))


def quarter(n: int) -> int:
    """Points in the last quarter of a curve of n points (at least 1)."""
    return max(1, round(n / 4))


#: What another run as long again must still buy (relative to the current level) for a
#: loss to count as still falling (T101's default ``gain_limit``).
STILL_FALLING_GAIN = 0.025

#: A fall that is not slowing down is projected as slowing by this ratio per quarter.
RATIO_CAP = 0.9
#: ... and by this one when the quarter before did not fall at all (a plateau's noise, a bump).
RATIO_UNKNOWN = 0.5
#: Standard errors by which a quarter's fall must clear the noise before a slow-down ratio above
#: RATIO_UNKNOWN is believed.
STEADY_Z = 3.0


def recent_fall(t: Track) -> dict:
    """How fast a loss is still falling at the end of the run, relative to its current level.

    ``rate``: the mean of the last quarter against the mean of the quarter before it,
    relative to the last quarter's mean (a steep first epoch cannot hide a tail that
    still falls 10% of its level). ``expected_gain``: what another run of the same
    length would buy if each quarter fell by the last one's rate times the slow-down
    ratio seen between the last two quarters (at most 0.9; at most 0.5 when the
    quarter before did not fall, or when the fall is not 3 standard errors clear of
    the noise -- unless the run is too short to measure its noise, under 6 points, and
    fell at every one of them). ``rate_z``: the fall between the two quarter means in units of its
    standard error from the curve's own noise (NaN under 6 points). ``sure``: the
    fall is a trend, not noise — Mann-Kendall z <= -1.645 on the second half of the
    run (16+ points), z <= -1.0 or the last three points falling in turn (10-15
    points), the last three points falling in turn (fewer). ``min_at_end``: the
    lowest point is among the last tenth of the run (at least the last two points),
    or the last point is within 0.5% of it.
    """
    y, n = t.y, t.n
    q = quarter(n)
    m_last = float(np.mean(y[-q:]))
    m_prev = float(np.mean(y[max(0, n - 2 * q) : n - q]))
    rate = stats.rel(m_prev - m_last, m_last)
    # the quarter before that: how fast the fall is slowing down
    before = y[max(0, n - 3 * q) : n - 2 * q]
    earlier = stats.rel(float(np.mean(before)) - m_prev, m_prev) if before.size else math.nan
    # the fall between the two quarter means against the curve's own point-to-point noise
    se = t.sigma * math.sqrt(1 / q + 1 / max(1, min(q, n - q))) if np.isfinite(t.sigma) else math.nan
    rate_z = (m_prev - m_last) / se if se and np.isfinite(se) and se > 0 else math.nan
    # the slow-down ratio; unknown (RATIO_UNKNOWN) when the quarter before did not fall (a bump,
    # a recovery from a spike), and never taken as "not slowing" unless the fall is clear of
    # the noise: a noisy plateau's drift must not be projected as a steady fall
    ratio = min(RATIO_CAP, max(0.0, rate / earlier)) if earlier > 0 else RATIO_UNKNOWN
    # (a run too short to measure its noise that fell at every evaluation shows its slow-down
    # directly, step by step: that ratio is believed)
    monotone = n < 6 and n >= MIN_POINTS and bool(np.all(np.diff(y) < 0))
    if not rate_z >= STEADY_Z and not monotone:
        ratio = min(ratio, RATIO_UNKNOWN)
    # each quarter lowers the level it starts from (compounded: never more than all of it)
    gain = 1.0 - math.prod(1.0 - min(1.0, rate * ratio**k) for k in range(1, 5)) if rate > 0 else 0.0
    half = y[n // 2 :]
    z = stats.mann_kendall_z(half) if half.size >= 5 else float("nan")
    if half.size >= 8:
        sure = z <= -1.645
    elif half.size >= 5:
        sure = z <= -1.0 or bool(np.all(np.diff(y[-3:]) < 0))
    else:
        sure = bool(np.all(np.diff(y[-3:]) < 0))
    near = max(2, math.ceil(n / 10))
    i_min = int(np.argmin(y))
    lo = float(y[i_min])
    min_at_end = i_min >= n - near or float(y[-1]) <= lo + 0.005 * abs(lo)
    return {
        "quarter_points": q,
        "last_quarter_mean": m_last,
        "previous_quarter_mean": m_prev,
        "rate": rate,
        "previous_rate": earlier,
        "slowdown": ratio,
        "expected_gain": gain,
        "rate_z": rate_z,
        "trend_z": z,
        "sure": bool(sure),
        "min_at_end": bool(min_at_end),
        "min_at": float(t.x[i_min]),
        "start": float(t.x[max(0, n - 2 * q)]),
    }
