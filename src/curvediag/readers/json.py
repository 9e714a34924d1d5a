"""JSON family: Keras History dumps, pandas ``to_json``, lists of records,
JSON Lines, Hugging Face ``trainer_state.json`` / bare ``log_history``.

Python's parser accepts the bare ``NaN`` and ``Infinity`` tokens that
``json.dump`` writes for diverged losses; they are kept as recorded values.
"""

from __future__ import annotations

import itertools
import json
import math

from .._np import np

from ..errors import InputError
from ..table import RawTable
from .source import MAX_COLUMNS

# Keys of Hugging Face's end-of-training summary entry: not a curve point.
_HF_SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "total_flos"})
_AXIS_KEYS = ("epoch", "epochs", "step", "steps", "iter", "iteration", "iterations")


def _num(v) -> float | None:
    """A JSON value as a float, or None when it is not a number."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        try:
            return float(v)
        except OverflowError:  # an integer beyond a float's range: infinite, as in a CSV
            return math.inf if v > 0 else -math.inf
    if isinstance(v, str):
        t = v.strip()
        try:
            return float(t)
        except ValueError:
            return None
    return None


def _is_metric_list(v) -> bool:
    return isinstance(v, list) and len(v) > 0 and any(_num(e) is not None for e in v)


def _from_columns(cols: dict[str, list], fmt: str, source: str, notes=None) -> RawTable:
    names = [k for k, v in cols.items() if _is_metric_list(v)]
    if not names:
        raise InputError(source, "JSON object holds no lists of numbers")
    from .sparse import Points, check_count, columns

    check_count(len(names), source, "distinct keys")
    rows = max(len(cols[k]) for k in names)
    points: dict[str, Points] = {}
    for k in names:  # only the recorded points: one long list beside many short ones stays small
        col = points[k] = Points()
        for i, e in enumerate(cols[k]):
            f = _num(e)
            if f is not None:
                col.rows.append(i)
                col.values.append(f)
    values, present = columns(points, rows)
    lengths = {len(cols[k]) for k in names}
    notes = list(notes or [])
    if len(lengths) > 1:
        notes.append("lists of different lengths, aligned from the first entry")
    return RawTable(names, values, present, rows, fmt, notes)


def _from_index_dicts(dicts: dict[str, dict], pos: dict, source: str) -> RawTable:
    """pandas ``to_json()`` columns ``{column: {row_index: value}}``, each keeping only its
    own entries (columns with row indices of their own would be columns x index cells)."""
    from .sparse import Points, check_count, columns

    points: dict[str, Points] = {}
    for c, d in dicts.items():
        col = Points()
        for i, e in d.items():
            f = _num(e)
            if f is not None:
                col.rows.append(pos[i])
                col.values.append(f)
        if len(col.rows):
            points[c] = col
    check_count(len(points), source, "distinct keys")
    values, present = columns(points, len(pos))
    return RawTable(list(points), values, present, len(pos), "pandas_json", [])


def _mmengine_val_rows(records: list) -> bool:
    """MMEngine/mmcv scalars: training rows carry 'epoch' and an iteration 'step';
    validation rows carry no 'epoch' and a 'step' that counts *epochs*.  Rewrite the
    validation rows onto the epoch axis (in place); True when the log had them."""
    train = [r for r in records if isinstance(r, dict) and "epoch" in r and "step" in r]
    val = [
        r for r in records
        if isinstance(r, dict) and "epoch" not in r and "step" in r and not any("loss" in k for k in r)
        and any("mAP" in k or "acc" in k.lower() or "/" in k for k in r)
    ]
    if not train or not val:
        return False
    for r in val:
        r["epoch"] = r.pop("step")
    return True


_KEY_PASSES = 32  # at most this many distinct keys: one pass over the records per key


def _from_records(records: list, fmt: str, source: str, what: str = "record") -> RawTable:
    from .sparse import check_count, from_arrays

    if set(map(type, records)) == {dict}:
        summary = _HF_SUMMARY_KEYS
        kept = [r for r in records if summary.isdisjoint(r)]
        keys = dict.fromkeys(itertools.chain.from_iterable(kept))
        if kept and len(keys) <= _KEY_PASSES:
            return _by_key(kept, list(keys), len(records) - len(kept), fmt, source, what)
    # Records come in a few shapes (the same keys in the same order: a training step, an
    # evaluation): group rows by shape, then read each key of a shape as one column with
    # numpy; only a column holding other than plain numbers is read value by value.
    shapes: dict[tuple, list[int]] = {}
    firsts: dict[tuple, dict] = {}
    rows = 0
    skipped_summary = 0
    summary = _HF_SUMMARY_KEYS
    kept = []
    for i, r in enumerate(records):
        if type(r) is not dict:
            if not isinstance(r, dict):
                raise InputError(source, f"{what} {i + 1} is a JSON {type(r).__name__}, not an object")
        if not summary.isdisjoint(r):
            skipped_summary += 1
            continue
        shape = tuple(r)
        group = shapes.get(shape)
        if group is None:
            group = shapes[shape] = []
            firsts[shape] = r
            if len(shapes) > MAX_COLUMNS:
                # as many shapes as rows is no training log's layout; bound the work all the same
                check_count(len({k for sh in shapes for k in sh}), source, "distinct keys")
        group.append(rows)
        kept.append(r)
        rows += 1
    parts: dict[str, list] = {}  # key -> [(first row, position in it), [row arrays], [value arrays]]
    for shape, group in shapes.items():
        idx = np.array(group, dtype=np.int64)
        members = [kept[j] for j in group]
        for pos, k in enumerate(shape):
            vals = [r[k] for r in members]
            v = _numbers(vals)
            if v is None:  # strings, booleans, nulls, lists: value by value
                nums = [_num(e) for e in vals]
                ok = np.array([f is not None for f in nums], dtype=bool)
                if not ok.any():
                    continue
                v = np.array([f for f in nums if f is not None], dtype=float)
                rws = idx[ok]
            else:
                rws = idx
            entry = parts.get(k)
            if entry is None:
                entry = parts[k] = [(int(rws[0]), pos), [], []]
                if len(parts) > MAX_COLUMNS:
                    check_count(len(parts), source, "distinct keys")
            elif (int(rws[0]), pos) < entry[0]:
                entry[0] = (int(rws[0]), pos)
            entry[1].append(rws)
            entry[2].append(v)
    if not parts:
        raise InputError(source, f"no numeric values in any {what}")
    # first-seen order: the row where a key first holds a number, then its place in that row
    names = sorted(parts, key=lambda k: parts[k][0])
    cols = {}
    for k in names:
        _, rws, vs = parts[k]
        cols[k] = (rws[0], vs[0]) if len(rws) == 1 else (np.concatenate(rws), np.concatenate(vs))
    values, present = from_arrays(cols, rows)
    notes = ["final training-summary entry is not a curve point; ignored"] if skipped_summary else []
    return RawTable(names, values, present, rows, fmt, notes)


def _by_key(kept: list, keys: list, skipped_summary: int, fmt: str, source: str, what: str) -> RawTable:
    """Few distinct keys (the usual log): each key read as one column, in C where its values
    are plain numbers, keeping only its recorded points."""
    from .sparse import from_arrays

    rows = len(kept)
    cols, first = {}, {}
    for k in keys:
        vals = list(map(dict.get, kept, itertools.repeat(k)))  # absent and null alike: not recorded
        v = _numbers(vals, nulls=True)
        if v is not None:
            nan = np.isnan(v)
            nans = int(nan.sum())
            if nans == 0:
                ok = np.ones(rows, dtype=bool)
            else:  # NaN for each null, unless NaN was also recorded
                ok = ~nan if nans == vals.count(None) else np.array([e is not None for e in vals], dtype=bool)
        else:
            nums = [_num(e) for e in vals]
            ok = np.array([f is not None for f in nums], dtype=bool)
            v = np.array([np.nan if f is None else f for f in nums], dtype=float)
        idx = np.flatnonzero(ok)
        if idx.size == 0:
            continue
        row = int(idx[0])
        first[k] = (row, list(kept[row]).index(k))
        cols[k] = (idx, v[idx] if idx.size < rows else v)
    if not cols:
        raise InputError(source, f"no numeric values in any {what}")
    names = sorted(cols, key=first.__getitem__)  # first-seen order: the row, then the place in it
    values, present = from_arrays({k: cols[k] for k in names}, rows)
    notes = ["final training-summary entry is not a curve point; ignored"] if skipped_summary else []
    return RawTable(names, values, present, rows, fmt, notes)


def _numbers(vals: list, nulls: bool = False):
    """The floats of a list of plain JSON numbers (no booleans or strings; nulls, when
    allowed, as NaN), or None."""
    types = set(map(type, vals))
    if not types <= ({float, int, type(None)} if nulls else {float, int}):
        return None
    try:
        if type(None) in types:
            return np.array(vals, dtype=float)  # nulls as NaN
        return np.fromiter(vals, dtype=float, count=len(vals))  # faster than np.array
    except OverflowError:  # an integer beyond float range: _num decides
        return None


def _records_table(records: list, fmt: str, source: str, what: str = "record") -> RawTable:
    if _mmengine_val_rows(records):
        t = _from_records(records, "mmengine_scalars", source, what)
        t.notes.append("validation rows count epochs in 'step'; placed on the epoch axis")
        return t
    return _from_records(records, fmt, source, what)


def _index_key(k: str):
    try:
        return (0, float(k))
    except ValueError:
        return (1, k)


def _from_object(obj: dict, source: str) -> RawTable:
    if isinstance(obj.get("log_history"), list):
        return _from_records(obj["log_history"], "hf_trainer_state", source, "log_history entry")
    lists = {k: v for k, v in obj.items() if _is_metric_list(v)}
    dicts = {k: v for k, v in obj.items() if isinstance(v, dict) and v}
    if any(k.lower() not in _AXIS_KEYS for k in lists) and len(lists) >= len(dicts):
        return _from_columns(lists, "keras_history_json", source)
    # pandas DataFrame.to_json(): {column: {row_index: value}}
    if dicts and all(all(not isinstance(e, (dict, list)) for e in d.values()) for d in dicts.values()):
        index = sorted({k for d in dicts.values() for k in d}, key=_index_key)
        if any(_num(e) is not None for d in dicts.values() for e in d.values()):
            return _from_index_dicts(dicts, {k: n for n, k in enumerate(index)}, source)
    # one level of nesting: {"epochs": [...], "metrics": {name: [values]}} or {"history": {...}}
    for k, d in dicts.items():
        inner = {ik: iv for ik, iv in d.items() if _is_metric_list(iv)}
        if inner:
            merged = dict(inner)
            for ak in _AXIS_KEYS:
                if ak in obj and _is_metric_list(obj[ak]) and ak not in merged:
                    merged[ak] = obj[ak]
            return _from_columns(merged, "json_nested", source, [f"metrics read from {k!r}"])
    for k, v in obj.items():
        if isinstance(v, list) and v and all(isinstance(e, dict) for e in v):
            t = _from_records(v, "json_records", source)
            t.notes.append(f"records read from {k!r}")
            return t
    raise InputError(source, "JSON object without metrics (expected lists of numbers or records)")


def _loads(text: str):
    """``json.loads``, also for integers longer than Python converts from text (4,300
    digits): read them as floats (infinite), as a CSV's would be."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return json.loads(text, parse_int=float)


def _parse_lines(text: str, source: str) -> list:
    records = []
    # split on "\n" only: str.splitlines() also splits on U+2028, U+2029, \x85, \x0c ...,
    # which JSON allows raw inside strings
    for n, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s:
            continue
        try:
            rec = _loads(s)
        except RecursionError:
            raise InputError(source, f"line {n}: JSON nested too deeply") from None
        except ValueError as e:
            raise InputError(source, f"line {n}: invalid JSON ({e.msg})") from None
        if not isinstance(rec, dict):
            raise InputError(source, f"line {n}: expected a JSON object, got {type(rec).__name__}")
        records.append(rec)
    return records


def read_json(text: str, source: str, lines: bool = False) -> RawTable:
    if not lines:
        try:
            obj = _loads(text)
        except RecursionError:
            raise InputError(source, "JSON nested too deeply") from None
        except ValueError as e:
            stripped = text.strip()
            if stripped.startswith("{") and "\n" in stripped:
                lines = True  # JSON Lines: several objects, one per line
            else:
                raise InputError(source, f"invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
        else:
            if isinstance(obj, dict):
                return _from_object(obj, source)
            if isinstance(obj, list):
                if not obj:
                    raise InputError(source, "empty JSON list")
                if all(isinstance(e, dict) for e in obj):
                    fmt = "hf_log_history" if any("eval_loss" in e for e in obj) else "json_records"
                    return _records_table(obj, fmt, source)
                if all(_num(e) is not None for e in obj):
                    raise InputError(source, "a JSON list of bare numbers: no metric names (expected records or a dict of lists)")
                raise InputError(source, "JSON list of mixed values; expected a list of records")
            kind = type(obj).__name__ if obj is not None else "null"
            raise InputError(source, f"JSON {kind} at top level; expected an object or a list of records")
    records = _parse_lines(text, source)
    if not records:
        raise InputError(source, "empty JSON Lines file")
    return _records_table(records, "jsonl", source, "line")


__all__ = ["read_json"]
