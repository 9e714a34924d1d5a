"""In-memory inputs of the library (:func:`curvediag.diagnose`): a pandas DataFrame, a dict of
lists or arrays (Keras ``history.history``), a Keras ``History``, a Hugging Face
``trainer.state.log_history`` list.  Each becomes a :class:`~curvediag.table.RawTable` as the
file readers make one: dicts and record lists go through the JSON reader's own logic."""

from __future__ import annotations

from typing import Any

from .._np import np
from ..errors import UsageError
from ..table import RawTable
from ..columns import EPOCH_AXIS, STEP_AXIS, find_axis, norm
from .json import _from_object
from .json import from_list

SUPPORTED = ("a path, a pandas DataFrame, a dict of lists or numpy arrays (Keras history.history), "
             "a Keras History, or a list of dicts (Hugging Face trainer.state.log_history)")


def table_of(log: Any) -> tuple[RawTable, str]:
    """(the raw table of ``log``, its display name); UsageError for an object of another kind."""
    if isinstance(log, dict):
        return _with_notes(*_on_epochs(_plain(log), None), "<dict>"), "<dict>"
    if isinstance(log, list) and log and all(isinstance(e, dict) for e in log):
        return from_list([_plain(e) for e in log], "<log_history>"), "<log_history>"
    if hasattr(log, "columns") and hasattr(log, "to_numpy"):
        return table_from_frame(log, "<DataFrame>"), "<DataFrame>"
    if hasattr(log, "history") and isinstance(log.history, dict):  # a keras History object
        epochs = getattr(log, "epoch", None)
        epochs = [int(e) for e in epochs] if isinstance(epochs, (list, tuple)) and all(
            isinstance(e, (int, np.integer)) for e in epochs) else None
        return _with_notes(*_on_epochs(_plain(log.history), epochs), "<History>"), "<History>"
    hint = ""
    if isinstance(log, (np.ndarray, list, tuple)) and len(log) and not isinstance(log[0], dict):
        # a bare array or list of numbers: which curve it is (a loss? an accuracy?) is not said
        hint = " (numbers alone do not say which curve they are: name it, e.g. {'loss': values, 'val_loss': ...})"
    raise UsageError(f"cannot diagnose a {type(log).__name__}; pass {SUPPORTED}{hint}")


def _with_notes(table: RawTable, notes: list[str], where: str) -> RawTable:
    if notes:
        table.notes[:] = [n for n in table.notes if n != "lists of different lengths, aligned from the first entry"] + notes
    return table


_AXIS_KEYS = ("epoch", "epochs", "step", "steps", "global_step", "iteration", "iter")


def _on_epochs(hist: dict, epochs: list[int] | None) -> tuple[RawTable, list[str]]:
    """A Keras history (``history.history``, or a History's with its ``.epoch``) as a table on
    its epochs.  With ``validation_freq > 1`` Keras records ``val_*`` only every k-th epoch, so
    those lists are shorter: they are put at the epochs Keras validated on, ``(e + 1) % k == 0``,
    when exactly one k fits their length; otherwise the notes say the epochs cannot be told."""
    lists = {k: v for k, v in hist.items() if isinstance(v, list)}
    notes: list[str] = []
    if not lists or any(str(k).lower() in _AXIS_KEYS for k in hist):
        return _from_object(hist, "<dict>"), notes
    train = [len(v) for k, v in lists.items() if not str(k).startswith("val_")]
    n = max(train) if train else max(len(v) for v in lists.values())
    if epochs is None or len(epochs) != n:
        epochs = list(range(n))
    out: dict[str, Any] = {"epoch": list(epochs)}
    short: dict[int, list[str]] = {}
    for k, v in hist.items():
        if isinstance(v, list) and str(k).startswith("val_") and 0 < len(v) < n:
            short.setdefault(len(v), []).append(str(k))
        else:
            out[k] = v
    if not short and epochs == list(range(n)):
        return _from_object(hist, "<dict>"), notes  # nothing to align: read as before
    for m, keys in short.items():
        fits = [k for k in range(2, max(epochs) + 2) if sum((e + 1) % k == 0 for e in epochs) == m]
        if len(fits) == 1:
            at = [i for i, e in enumerate(epochs) if (e + 1) % fits[0] == 0]
            notes.append(f"{', '.join(keys)}: recorded every {fits[0]} epochs (Keras validation_freq={fits[0]}, "
                         f"told by the lists' lengths), put at those epochs")
        else:
            at = list(range(m))
            why = (f"validation_freq could be any of {', '.join(map(str, fits))}" if fits
                   else "no validation_freq fits their length")
            notes.append(f"{', '.join(keys)}: {m} values for {n} epochs and the epochs they were recorded at cannot be "
                         f"told ({why}); aligned from the first epoch")
        for k in keys:
            col: list[Any] = [None] * n
            for i, v in zip(at, hist[k]):
                col[i] = v
            out[k] = col
    return _from_object(out, "<dict>"), notes


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
