"""Columns kept as the points a log recorded, made into full-length arrays only when read.

A :class:`~curvediag.table.RawTable` holds, per column, ``rows`` values and presence flags.
Built eagerly for keyed logs (JSON Lines, TensorBoard tags, MLflow keys) that costs
rows x distinct keys cells even where nothing was recorded: a 2.3 MB JSON Lines file whose
every line adds a key needed more than 5.7 GB.  Here each column keeps only its recorded
``(row, value)`` pairs; ``values[name]`` / ``present[name]`` build the full arrays on
access (the analysis reads a handful of columns), with a small cache, so memory is the
data kept plus a few full columns.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import cast

from .._np import np
from ..errors import InputError
from ..table import RawTable
from .source import MAX_COLUMNS, too_many_columns

#: the problem of a TensorBoard log without a scalar
NO_SCALARS = "TensorBoard event file(s) with no scalar summaries"

_CACHE = 8  # full columns kept at once per mapping (axis, losses, accuracies, lr)


class Points:
    """The recorded points of one column: row indices and values, in arrival order."""

    __slots__ = ("rows", "values")

    def __init__(self) -> None:
        self.rows = array("q")
        self.values = array("d")


class _Lazy(Mapping):
    def __init__(self, cols: dict, rows: int, present: bool):
        self._cols, self._rows, self._present = cols, rows, present
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        hit = self._cache.get(name)
        if hit is not None:
            return hit
        idx, vals = self._cols[name]
        if self._present:
            out = np.zeros(self._rows, dtype=bool)
            out[idx] = True
        else:
            out = np.full(self._rows, np.nan)
            out[idx] = vals  # a row recorded twice keeps its last value
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        self._cache[name] = out
        return out

    def __iter__(self):
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)

    def __contains__(self, name) -> bool:
        return name in self._cols


def columns(points: dict[str, Points], rows: int) -> tuple[Mapping, Mapping]:
    """``(values, present)`` mappings over ``points`` (name -> recorded points)."""
    cols = {
        k: (np.frombuffer(p.rows, dtype=np.int64) if len(p.rows) else np.zeros(0, dtype=np.int64),
            np.frombuffer(p.values, dtype=float) if len(p.values) else np.zeros(0))
        for k, p in points.items()
    }
    return _Lazy(cols, rows, False), _Lazy(cols, rows, True)


def from_arrays(cols: dict[str, tuple[np.ndarray, np.ndarray]], rows: int) -> tuple[Mapping, Mapping]:
    """``(values, present)`` mappings over name -> (row indices, values) arrays."""
    return _Lazy(cols, rows, False), _Lazy(cols, rows, True)


def check_count(count: int, source: str, what: str) -> None:
    if count > MAX_COLUMNS:
        raise too_many_columns(source, count, what)


def table_from_scalars(tags: dict[str, list[tuple[int, float]]], source: str, empty: str = NO_SCALARS) -> RawTable:
    """A table over the union of the tags' steps (the ``step`` axis in front), each tag keeping only
    its own points: TensorBoard tags and MLflow metric keys.  ``empty``: the problem when there are none."""
    if not tags:
        raise InputError(source, empty)
    check_count(len(tags), source, "distinct tags")
    arrays = {}
    for tag, pts in tags.items():
        try:
            st = np.fromiter((s for s, _ in pts), dtype=np.int64, count=len(pts))
        except OverflowError:  # a step beyond int64 (a negative step read as unsigned): a float axis
            st = np.fromiter((float(s) for s, _ in pts), dtype=float, count=len(pts))
        arrays[tag] = (st, np.fromiter((v for _, v in pts), dtype=float, count=len(pts)))
    return table_from_arrays(arrays, source, empty)


def table_from_arrays(tags: dict[str, tuple[np.ndarray, np.ndarray]], source: str, empty: str = NO_SCALARS) -> RawTable:
    """:func:`table_from_scalars` from each tag's (steps, values) arrays, in arrival order."""
    if not tags:
        raise InputError(source, empty)
    check_count(len(tags), source, "distinct tags")
    order = sorted(tags)
    per_tag = [tags[tag] for tag in order]
    steps = np.concatenate([st for st, _ in per_tag]) if per_tag else np.zeros(0, dtype=np.int64)
    steps.sort()  # a sort and a mask: np.unique hashes, ten times slower on a million steps
    if steps.size > 1:
        steps = steps[np.concatenate(([True], steps[1:] != steps[:-1]))]
    rows = len(steps)
    # each tag keeps only its own points (rows x tags cells would be mostly empty)
    cols = {tag: (np.searchsorted(steps, st), v) for tag, (st, v) in zip(order, per_tag)}
    values, present = from_arrays(cols, rows)
    names = ["step", *order]
    # read-only column mappings, which is all a RawTable's readers ask of values / present
    return RawTable(names, cast(dict, _WithStep(values, steps.astype(float))),
                    cast(dict, _WithStep(present, np.ones(rows, dtype=bool))), rows, "tensorboard")


class _WithStep(Mapping):
    """A column mapping with the dense ``step`` axis in front."""

    def __init__(self, inner: Mapping, step: np.ndarray):
        self._inner, self._step = inner, step

    def __getitem__(self, name: str) -> np.ndarray:
        # a tag named "step" replaces the axis, as it did when these were one dict
        return self._step if name == "step" and name not in self._inner else self._inner[name]

    def __iter__(self):
        yield "step"
        yield from (k for k in self._inner if k != "step")

    def __len__(self) -> int:
        return len(self._inner) + ("step" not in self._inner)

    def __contains__(self, name) -> bool:
        return name == "step" or name in self._inner
