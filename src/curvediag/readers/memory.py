"""In-memory inputs of the library (:func:`curvediag.diagnose`): a pandas DataFrame, a dict of
lists or arrays (Keras ``history.history``), a Keras ``History``, a Hugging Face
``trainer.state.log_history`` list.  Each becomes a :class:`~curvediag.table.RawTable` as the
file readers make one: dicts and record lists go through the JSON reader's own logic."""

from __future__ import annotations

from typing import Any

from .._np import np
from ..errors import UsageError
from ..table import RawTable

SUPPORTED = ("a path, a pandas DataFrame, a dict of lists or numpy arrays (Keras history.history), "
             "a Keras History, or a list of dicts (Hugging Face trainer.state.log_history)")


def table_of(log: Any) -> tuple[RawTable, str]:
    """(the raw table of ``log``, its display name); UsageError for an object of another kind."""
    from .json import _from_object, from_list

    if isinstance(log, dict):
        return _from_object(_plain(log), "<dict>"), "<dict>"
    if isinstance(log, list) and log and all(isinstance(e, dict) for e in log):
        return from_list([_plain(e) for e in log], "<log_history>"), "<log_history>"
    if hasattr(log, "columns") and hasattr(log, "to_numpy"):
        return table_from_frame(log, "<DataFrame>"), "<DataFrame>"
    if hasattr(log, "history") and isinstance(log.history, dict):  # a keras History object
        return _from_object(_plain(log.history), "<History>"), "<History>"
    raise UsageError(f"cannot diagnose a {type(log).__name__}; pass {SUPPORTED}")


_PLAIN = frozenset({int, float, str, bool, type(None)})


def _value(v: Any) -> Any:
    """A numpy array (or anything with ``tolist``: a pandas Series, a tensor) as a list, a numpy
    scalar as a Python number, and a list holding numpy scalars as a list of Python numbers."""
    if isinstance(v, (list, tuple)):
        if set(map(type, v)) <= _PLAIN:
            return v
        return [_scalar(e) for e in v]
    if not isinstance(v, (str, bytes, dict)) and callable(getattr(v, "tolist", None)):
        out = v.tolist()
        return [_scalar(e) for e in out] if isinstance(out, list) else out
    return _scalar(v)


def _scalar(e: Any) -> Any:
    if isinstance(e, np.generic) or (type(e) not in _PLAIN and callable(getattr(e, "item", None))
                                     and getattr(e, "ndim", None) == 0):
        return e.item()
    return e


def _plain(d: dict) -> dict:
    """``d`` with its values as the JSON reader reads them; nested dicts too (one level, as it reads)."""
    return {k: (_plain(v) if isinstance(v, dict) else _value(v)) for k, v in d.items()}


def table_from_frame(df, source: str) -> RawTable:
    """A DataFrame: NaN cells are taken as *missing* (pandas cannot tell them from
    a recorded NaN); +/-inf are recorded values.  A numeric index that is not the rows'
    positions (a RangeIndex from 0) or that has a name is the axis: its values are reported."""
    names, values, present = [], {}, {}
    notes: list[str] = []
    axis = _index_axis(df)
    if axis is not None:
        name, v, note = axis
        names.append(name)
        values[name] = v
        present[name] = ~np.isnan(v)
        if note:
            notes.append(note)
    for c in df.columns:
        col = df[c]
        if col.dtype.kind not in "biuf":
            import pandas as pd

            col = pd.to_numeric(col, errors="coerce")
            if col.notna().sum() == 0:
                continue
        v = col.to_numpy(dtype=float, na_value=np.nan)
        names.append(str(c))
        values[str(c)] = v
        present[str(c)] = ~np.isnan(v)
    return RawTable(names, values, present, len(df), "dataframe", notes)


def _index_axis(df) -> tuple[str, np.ndarray, str | None] | None:
    """(column name, values, note) of the index when it is the frame's axis, else None."""
    from ..columns import EPOCH_AXIS, STEP_AXIS, find_axis, norm

    idx = df.index
    if getattr(idx, "nlevels", 1) != 1 or len(idx) == 0 or getattr(idx.dtype, "kind", "O") not in "biuf":
        return None
    v = np.asarray(idx.to_numpy(), dtype=float)
    columns = [str(c) for c in df.columns]
    if idx.name is None and (np.array_equal(v, np.arange(len(v))) or any(find_axis(columns))):
        return None  # the default positions, or a frame with an axis column of its own
    name = str(idx.name) if idx.name is not None else "epoch"
    note = None
    if norm(name) not in EPOCH_AXIS + STEP_AXIS:
        note = f"the DataFrame's index ({name!r}) read as the epoch" if idx.name is not None else "the DataFrame's index read as the epoch"
        name = "epoch"
    if name in columns:
        return None  # a column of that name is the axis
    return name, v, note
