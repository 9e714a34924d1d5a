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

from .._np import np
from .source import MAX_COLUMNS, too_many_columns

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
