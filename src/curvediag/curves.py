"""The canonical curve table every reader produces and every rule consumes.

A :class:`Curves` holds one :class:`Series` per canonical metric.  Each series
keeps only the points where that metric was recorded (sparse logs stay sparse),
on the log's own axis, with NaN and infinity kept as recorded: they are
evidence of divergence, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

from ._np import np

#: Canonical metric names, in display order.
TRAIN_LOSS = "train_loss"
VAL_LOSS = "val_loss"
TRAIN_ACC = "train_acc"
VAL_ACC = "val_acc"
LR = "lr"
GRAD_NORM = "grad_norm"  # the gradient norm (Hugging Face logs it beside each loss); NaN/inf kept as evidence
CANONICAL = (TRAIN_LOSS, VAL_LOSS, TRAIN_ACC, VAL_ACC, LR, GRAD_NORM)


@dataclass(frozen=True, eq=False)
class Series:
    """One metric: positions ``x`` on the log's axis and values ``y``."""

    name: str
    column: str
    x: np.ndarray
    y: np.ndarray
    note: str | None = None  # for people: e.g. "percent, divided by 100", "1 - error_rate"
    quality: bool = False  # a quality metric (mAP, F1, WER ...) in the accuracy slot, not an accuracy
    scale: float = 1.0  # logged value = scale * (1 - y) when inverted, else scale * y
    inverted: bool = False  # an error rate judged as 1 - rate

    def as_logged(self) -> np.ndarray:
        """The values as the log holds them (undoing percent scaling and 1 - rate)."""
        y = 1.0 - self.y if self.inverted else self.y
        return y * self.scale if self.scale != 1.0 else y

    @property
    def as_read(self) -> bool:
        """Shown to people under its column's name and in its own units and direction: a quality
        metric (mAP, F1) or an error rate (WER, CER), judged internally in the accuracy slot
        (as 1 - rate, percent divided by 100).  Plain accuracies keep the canonical name."""
        return self.quality or self.inverted

    @property
    def label(self) -> str:
        """The name a person reads: the column as logged ('eval_wer') for a quality metric or an
        error rate, else the canonical name ('val_acc')."""
        return self.column if self.as_read else self.name

    def shown(self, v: float) -> float:
        """An internal value (accuracy-like, higher is better) in the units :attr:`label` is read in."""
        if not self.as_read:
            return v
        v = 1.0 - v if self.inverted else v
        return v * self.scale

    def with_xy(self, x: np.ndarray, y: np.ndarray) -> "Series":
        """The same metric (name, column, how it was read) at other points."""
        return replace(self, x=x, y=y)

    def __len__(self) -> int:
        return int(self.y.size)

    @cached_property
    def finite_mask(self) -> np.ndarray:
        return np.isfinite(self.y)

    def finite(self) -> "Series":
        """The same series without its non-finite points (computed once)."""
        return self._finite

    @cached_property
    def _finite(self) -> "Series":
        m = self.finite_mask
        if m.all():
            return self
        return self.with_xy(self.x[m], self.y[m])


@dataclass(frozen=True)
class SourceInfo:
    """Where the curves came from and how the columns were mapped."""

    path: str
    format: str
    rows: int
    axis: str  # the axis column's name, or "index" when the log has none
    columns: Mapping[str, str] = field(default_factory=dict)  # canonical -> source column
    notes: tuple[str, ...] = ()
    axis_kind: str = "epoch"  # "epoch", "step" or "index": the unit of positions (summary tables)
    #: what the log says about how it was trained, beyond its curves (trainer_state.json:
    #: best_model_checkpoint, best_metric, best_step, metric_for_best_model, early_stopping_patience);
    #: read by :mod:`curvediag.remedies` so that no advice repeats what was already done
    facts: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Curves:
    source: SourceInfo
    series: Mapping[str, Series]
    axis_kind: str = "epoch"  # "epoch", "step" or "index"
    #: the log's other counter at positions of the axis, where both were logged: the step on an
    #: epoch axis (name "step"), the epoch on a step axis (name "epoch"); None when the log has
    #: only one.  Rules place epoch boundaries and name steps (checkpoints) with it.
    counter: Series | None = None
    #: a log of several loss heads and no total: the head these curves are of ('reg'), and the
    #: other heads' curves, each (head, its Curves), judged on their own beside these
    head: str | None = None
    heads: tuple[tuple[str, "Curves"], ...] = ()

    def get(self, name: str) -> Series | None:
        s = self.series.get(name)
        return s if s is not None and len(s) > 0 else None

    def has(self, name: str) -> bool:
        return self.get(name) is not None

    def steps_at(self, pos: np.ndarray | float) -> np.ndarray | None:
        """The training step at axis positions ``pos`` (the axis itself on a step axis, else
        interpolated from :attr:`counter`), or None when the log has no step counter."""
        if self.axis_kind == "step":
            return np.asarray(pos, dtype=float)
        c = self.counter
        if c is None or c.name != "step" or len(c) < 2:
            return None
        return np.interp(np.asarray(pos, dtype=float), c.x, c.y)

    def epochs_at(self, pos: np.ndarray | float) -> np.ndarray | None:
        """The (fractional) epoch at axis positions ``pos`` (the axis itself on an epoch axis,
        else interpolated from :attr:`counter`), or None when the log has no epoch counter."""
        if self.axis_kind == "epoch":
            return np.asarray(pos, dtype=float)
        c = self.counter
        if c is None or c.name != "epoch" or len(c) < 2:
            return None
        return np.interp(np.asarray(pos, dtype=float), c.x, c.y)
