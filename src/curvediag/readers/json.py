"""JSON family: Keras History dumps, pandas ``to_json``, lists of records,
JSON Lines, Hugging Face ``trainer_state.json`` / bare ``log_history``.

Python's parser accepts the bare ``NaN`` and ``Infinity`` tokens that
``json.dump`` writes for diverged losses; they are kept as recorded values.
"""

from __future__ import annotations

import json


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
        return float(v)
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


def _from_records(records: list, fmt: str, source: str, what: str = "record") -> RawTable:
    from .sparse import Points, check_count, columns

    points: dict[str, Points] = {}  # a key with a number somewhere, in first-seen order
    rows = 0
    skipped_summary = 0
    summary = _HF_SUMMARY_KEYS
    for i, r in enumerate(records):
        if not isinstance(r, dict):
            raise InputError(source, f"{what} {i + 1} is a JSON {type(r).__name__}, not an object")
        if not summary.isdisjoint(r):
            skipped_summary += 1
            continue
        for k, v in r.items():
            # _num inlined: this loop is most of the time of a large JSON Lines log
            if type(v) is float or type(v) is int:
                f = float(v)
            else:
                f = _num(v)
                if f is None:
                    continue
            col = points.get(k)
            if col is None:
                col = points[k] = Points()
                if len(points) > MAX_COLUMNS:
                    check_count(len(points), source, "distinct keys")
            col.rows.append(rows)
            col.values.append(f)
        rows += 1
    if not points:
        raise InputError(source, f"no numeric values in any {what}")
    names = list(points)
    values, present = columns(points, rows)
    notes = ["final training-summary entry is not a curve point; ignored"] if skipped_summary else []
    return RawTable(names, values, present, rows, fmt, notes)


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
        cols = {c: [d.get(i) for i in index] for c, d in dicts.items()}
        if any(_is_metric_list(v) for v in cols.values()):
            return _from_columns(cols, "pandas_json", source)
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


def _parse_lines(text: str, source: str) -> list:
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        try:
            rec = json.loads(s)
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
            obj = json.loads(text)
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
