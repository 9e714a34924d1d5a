"""JSON family: Keras History dumps, pandas ``to_json``, lists of records,
JSON Lines, Hugging Face ``trainer_state.json`` / bare ``log_history``.

Python's parser accepts the bare ``NaN`` and ``Infinity`` tokens that
``json.dump`` writes for diverged losses; they are kept as recorded values.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._np import np

from ..errors import InputError
from ..table import RawTable
from .source import MAX_COLUMNS
from .source import UTF8_BOM
from .sparse import Points, check_count, columns
from .sparse import from_arrays

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


def _history_once(cols: dict[str, list], names: list[str]) -> tuple[dict[str, list], str | None]:
    """A Keras history whose every list is written twice (or 3-4 times) -- the whole history again after
    itself, or every epoch's value again in a row -- read once, as the table reader reads such a log
    without an axis (the epoch axis given to a history below would hide the repeat from it)."""
    lens = {len(cols[k]) for k in names}
    if len(lens) != 1:
        return cols, None
    n = lens.pop()
    if all(all(e == v[0] for e in v) for v in (cols[k] for k in names)):
        return cols, None  # every value the same (a frozen model): nothing written twice to tell apart
    for c in (2, 3, 4):
        if n % c or n < 2 * c:
            continue
        m = n // c
        if all(cols[k][:m] * c == cols[k] for k in names):
            return ({k: (v[:m] if k in names else v) for k, v in cols.items()},
                    f"the whole history is written {c} times, one copy after the other; read once")
        if all(all(v[i * c: (i + 1) * c] == [v[i * c]] * c for i in range(m)) for v in (cols[k] for k in names)):
            return ({k: (v[::c] if k in names else v) for k, v in cols.items()},
                    f"every epoch is written {c} times in a row; each read once")
    return cols, None


def _from_columns(cols: dict[str, list], fmt: str, source: str, notes=None) -> RawTable:
    names = [k for k, v in cols.items() if _is_metric_list(v)]
    if not names:
        raise InputError(source, "JSON object holds no lists of numbers")
    if fmt == "keras_history_json" and not any(str(k).lower() in _AXIS_KEYS for k in cols):
        # a Keras history holds one entry per epoch: its axis is the epoch, 0-based as CSVLogger writes it
        # (and as a report of the same numbers in a CSV says), not the row index
        cols, said = _history_once(cols, names)
        if said:
            notes = [*(notes or []), said]
        n = max(len(cols[k]) for k in names)
        cols = {"epoch": list(range(n)), **cols}
        names = ["epoch", *names]

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


_KEY_PASSES = 32  # kept for callers; every record set is now read shape by shape, in one pass
_CHUNK = 1 << 16  # records held as Python values between conversions to arrays
_NEW = object()
_PLAIN = frozenset({float, int})


class _Group:
    """The records of one shape (the same keys in the same order): their rows, the records
    (until converted, a chunk at a time) and, per position, the recorded (row indices, values)
    arrays."""

    __slots__ = ("shape", "rows", "vals", "parts")

    def __init__(self, shape: tuple) -> None:
        self.shape = shape
        self.rows: list[int] = []
        self.vals: list[dict] = []
        self.parts: list[list] = [[] for _ in shape]

    def flush(self) -> None:
        if not self.rows:
            return
        rows = np.array(self.rows, dtype=np.int64)
        recs = self.vals
        m = len(self.shape)
        if m > 1:  # every value of the chunk in one pass, when all are plain numbers (the usual case)
            flat = list(itertools.chain.from_iterable(map(dict.values, recs)))  # key order = the shape
            if set(map(type, flat)) <= _PLAIN:
                try:
                    grid = np.fromiter(flat, dtype=float, count=len(flat)).reshape(len(recs), m)
                except OverflowError:  # an integer beyond float range: read key by key below
                    grid = None
                if grid is not None:
                    for pos in range(m):
                        self.parts[pos].append((rows, np.ascontiguousarray(grid[:, pos])))
                    self.rows, self.vals = [], []
                    return
        for pos, k in enumerate(self.shape):
            ok, v = _column(list(map(dict.__getitem__, recs, itertools.repeat(k))))
            if ok is None:
                self.parts[pos].append((rows, v))
            else:
                idx = rows[ok]
                if idx.size:
                    self.parts[pos].append((idx, v[ok]))
        self.rows, self.vals = [], []


class _Records:
    """Records (JSON objects) to columns in one pass, without keeping the objects: records
    come in a few shapes (a training step, an evaluation), each key of a shape is read as
    one column, in C where its values are plain numbers; only the recorded points are kept."""

    def __init__(self, source: str, what: str) -> None:
        self.source, self.what = source, what
        self.groups: dict[tuple, _Group | None] = {}  # None: HF's end-of-training summary
        self.plain: dict[tuple, _Group] = {}  # records of a summary's shape that are no summary
        self.count = 0  # records seen
        self.rows = 0  # records kept
        self.skipped = 0
        self.kept_shapes = 0
        self.keys: set = set()

    def feed(self, records) -> None:
        groups, source, what = self.groups, self.source, self.what
        row, skipped = self.rows, self.skipped
        get = groups.get
        try:
            for r in records:
                if type(r) is not dict and not isinstance(r, dict):
                    i = row + skipped  # the records before this one
                    raise InputError(source, f"{what} {i + 1} is a JSON {type(r).__name__}, not an object")
                shape = tuple(r)
                g: Any = get(shape, _NEW)  # a _Group, None (a summary shape) or _NEW
                if g is _NEW:
                    g = self._new(shape)
                if g is None:
                    # a shape with HF's summary keys: a summary only where one holds a value
                    # (a table flattened by pandas gives every record every key, mostly null)
                    if any(r[k] is not None for k in _HF_SUMMARY_KEYS.intersection(shape)):
                        skipped += 1
                        continue
                    g = self.plain.get(shape)
                    if g is None:
                        g = self.plain[shape] = _Group(shape)
                        self.keys.update(shape)
                g.rows.append(row)
                g.vals.append(r)
                row += 1
                if not row & (_CHUNK - 1):
                    self.flush()
        finally:
            self.count = row + skipped
            self.rows, self.skipped = row, skipped

    def _new(self, shape: tuple):
        if not _HF_SUMMARY_KEYS.isdisjoint(shape):
            g = self.groups[shape] = None
            return g
        g = self.groups[shape] = _Group(shape)
        self.kept_shapes += 1
        self.keys.update(shape)
        if self.kept_shapes > MAX_COLUMNS:
            # as many shapes as rows is no training log's layout; bound the work all the same

            check_count(len(self.keys), self.source, "distinct keys")
        return g

    def _all(self):
        """(shape, group) of every group of kept records."""
        yield from ((sh, g) for sh, g in self.groups.items() if g is not None)
        yield from self.plain.items()

    def flush(self) -> None:
        for _, g in self._all():
            g.flush()

    def _mmengine(self) -> set:
        """MMEngine/mmcv scalars: training rows carry 'epoch' and an iteration 'step';
        validation rows carry no 'epoch' and a 'step' that counts *epochs*.  The shapes of
        the validation rows, to be read onto the epoch axis (empty unless the log has both)."""
        shapes = list(self.groups)
        train = any("epoch" in sh and "step" in sh for sh in shapes)
        val = {
            sh for sh in shapes
            if "epoch" not in sh and "step" in sh and not any("loss" in k for k in sh)
            and any("mAP" in k or "acc" in k.lower() or "/" in k for k in sh)
        }
        return val if train and val else set()

    def table(self, fmt: str, mmengine: bool = False) -> RawTable:
        self.flush()
        val = self._mmengine() if mmengine else set()
        parts: dict[str, list] = {}  # key -> [(first row, position in it), [(rows, values)]]
        for shape, g in self._all():
            names = list(shape)
            if shape in val:  # the step counts epochs: the key moves to the end of the record
                names = [k for k in shape if k != "step"] + ["epoch"]
            place = {k: n for n, k in enumerate(names)}
            for pos, ps in enumerate(g.parts):
                if not ps:
                    continue
                k = "epoch" if shape[pos] == "step" and shape in val else shape[pos]
                first = (int(ps[0][0][0]), place[k])
                entry = parts.get(k)
                if entry is None:
                    entry = parts[k] = [first, list(ps)]
                    if len(parts) > MAX_COLUMNS:
                        check_count(len(parts), self.source, "distinct keys")
                else:
                    entry[0] = min(entry[0], first)
                    entry[1].extend(ps)
        if not parts:
            raise InputError(self.source, f"no numeric values in any {self.what}")
        # first-seen order: the row where a key first holds a number, then its place in that row
        names = sorted(parts, key=lambda k: parts[k][0])
        cols = {}
        for k in names:
            ps = parts[k][1]
            cols[k] = ps[0] if len(ps) == 1 else (np.concatenate([p[0] for p in ps]), np.concatenate([p[1] for p in ps]))
        values, present = from_arrays(cols, self.rows)
        notes = ["final training-summary entry is not a curve point; ignored"] if self.skipped else []
        t = RawTable(names, values, present, self.rows, "mmengine_scalars" if val else fmt, notes)
        if val:
            t.notes.append("validation rows count epochs in 'step'; placed on the epoch axis")
        return t


def _from_records(records, fmt: str, source: str, what: str = "record", mmengine: bool = False) -> RawTable:
    r = _Records(source, what)
    r.feed(records)
    return r.table(fmt, mmengine)


def _column(vals) -> tuple:
    """(recorded mask, or None when every value is; float values) of one key's values:
    absent, null and non-numbers are not recorded; numeric strings are."""
    v = _numbers(vals, nulls=True)
    if v is not None:
        nan = np.isnan(v)
        nans = int(nan.sum())
        if nans == 0:
            return None, v
        # NaN for each null, unless NaN was also recorded
        ok = ~nan if nans == vals.count(None) else np.array([e is not None for e in vals], dtype=bool)
        return ok, v
    nums = [_num(e) for e in vals]
    ok = np.array([f is not None for f in nums], dtype=bool)
    v = np.array([np.nan if f is None else f for f in nums], dtype=float)
    return (None if ok.all() else ok), v


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


def _records_table(records, fmt: str, source: str, what: str = "record") -> RawTable:
    return _from_records(records, fmt, source, what, mmengine=True)


def _index_key(k: str):
    try:
        return (0, float(k))
    except ValueError:
        return (1, k)


def _hf_facts(obj: dict) -> dict:
    """What a ``trainer_state.json`` says beyond its curves, for the remedies: the best checkpoint
    (``best_model_checkpoint``, ``best_metric``, the step, and the ``eval_*`` key whose value at that
    step is ``best_metric``: the ``metric_for_best_model``), and the EarlyStoppingCallback's patience
    when it ran.  Anything of the wrong type is ignored (the file may hold anything)."""
    import re

    facts: dict = {}
    ckpt = obj.get("best_model_checkpoint")
    if isinstance(ckpt, str) and ckpt.strip():
        facts["best_model_checkpoint"] = ckpt[:500]
        best = _num(obj.get("best_metric"))
        if best is not None and math.isfinite(best):
            facts["best_metric"] = best
        step = obj.get("best_global_step")
        if not isinstance(step, int) or isinstance(step, bool):
            m = re.search(r"checkpoint-(\d+)\s*$", ckpt)
            step = int(m.group(1)) if m else None
        if step is not None:
            facts["best_step"] = step
            if best is not None:
                for e in obj["log_history"]:
                    if isinstance(e, dict) and e.get("step") == step:
                        key = next((k for k, v in e.items() if isinstance(k, str) and k.startswith("eval_")
                                    and _close(_num(v), best)), None)
                        if key is not None:
                            facts["metric_for_best_model"] = key
                            break
    callbacks = obj.get("stateful_callbacks")
    es = callbacks.get("EarlyStoppingCallback") if isinstance(callbacks, dict) else None
    if isinstance(es, list) and es:  # several instances are saved as a list
        es = es[0]
    args = es.get("args") if isinstance(es, dict) else None
    patience = args.get("early_stopping_patience") if isinstance(args, dict) else None
    if isinstance(patience, int) and not isinstance(patience, bool) and patience >= 0:
        facts["early_stopping_patience"] = patience
    save = obj.get("save_steps")  # where the checkpoints are (spike rollback plans)
    if isinstance(save, int) and not isinstance(save, bool) and save > 0:
        facts["save_steps"] = save
    return facts


def _from_object(obj: dict, source: str) -> RawTable:
    if isinstance(obj.get("log_history"), list):
        t = _from_records(obj["log_history"], "hf_trainer_state", source, "log_history entry")
        t.facts = _hf_facts(obj)
        return t
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


def from_list(obj: list, source: str) -> RawTable:
    """A list of records: a Hugging Face ``log_history`` (``trainer.state.log_history``, its
    entries' ``loss``, ``eval_loss``, ``epoch``, ``step``, ``grad_norm`` ...) or other records."""
    if not obj:
        raise InputError(source, "empty JSON list")
    if all(isinstance(e, dict) for e in obj):
        fmt = "hf_log_history" if any("eval_loss" in e for e in obj) else "json_records"
        return _records_table(obj, fmt, source)
    if all(_num(e) is not None for e in obj):
        raise InputError(source, "a JSON list of bare numbers: no metric names (expected records or a dict of lists)")
    raise InputError(source, "JSON list of mixed values; expected a list of records")


def _loads(text: str) -> Any:
    """``json.loads``, also for integers longer than Python converts from text (4,300
    digits): read them as floats (infinite), as a CSV's would be."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return json.loads(text, parse_int=float)


def _line_error(s: str, n: int, source: str) -> dict:
    """A line the fast path did not take, read as ``json.loads`` would: its object, or the error."""
    try:
        rec = _loads(s)
    except RecursionError:
        raise InputError(source, f"line {n}: JSON nested too deeply") from None
    except ValueError as e:
        raise InputError(source, f"line {n}: invalid JSON ({_json_error(e).msg})") from None
    if not isinstance(rec, dict):
        raise InputError(source, f"line {n}: expected a JSON object, got {type(rec).__name__}")
    return rec


def _parse_lines(lines: Iterable[str], source: str) -> Iterator[dict]:
    """The objects of JSON Lines, one line at a time (lines split on "\n" only:
    str.splitlines() also splits on U+2028, U+2029, \x85, \x0c ..., which JSON allows raw
    inside strings).  Each line goes straight to the C scanner ``json.loads`` ends in; a
    line it does not take whole as an object goes the ``json.loads`` way, for its error."""
    scan = _scanner()
    for n, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            continue
        try:
            rec, end = scan(s, 0)
        except (ValueError, StopIteration, RecursionError):
            rec = end = None
        if end != len(s) or type(rec) is not dict:
            rec = _line_error(s, n, source)
        yield rec


_SCAN: list[Callable[[str, int], tuple[Any, int]]] = []


def _json_error(e: ValueError) -> json.JSONDecodeError:
    """The decode error json.loads raised (any other ValueError as one at the start)."""
    return e if isinstance(e, json.JSONDecodeError) else json.JSONDecodeError(str(e), "", 0)


def _close(v: float | None, best: float) -> bool:
    """``v`` is a number equal to ``best`` within 1e-9 relative."""
    return v is not None and math.isclose(v, best, rel_tol=1e-9)


def _scanner() -> Callable[[str, int], tuple[Any, int]]:
    """The C scanner json.loads(s) ends in, made once."""
    if not _SCAN:
        from json.scanner import make_scanner

        # what json.loads(s) runs, without its Python layers; typeshed types make_scanner's
        # context as a make_scanner, while any JSONDecoder is one
        _SCAN.append(make_scanner(json.JSONDecoder()))  # type: ignore[arg-type]
    return _SCAN[0]


def read_json(text: str | bytes, source: str, lines: bool = False) -> RawTable:
    """``text``: the decoded file, or its bytes (UTF-8 already checked, a BOM allowed),
    which JSON Lines reads a line at a time without a decoded copy of the whole file."""
    data = text if isinstance(text, bytes) else None
    doc = text if isinstance(text, str) else ""  # the text (decoded below from bytes when needed)
    del text
    if not lines:
        if data is not None:
            doc = data.decode("utf-8-sig")
        try:
            obj = _loads(doc)
        except RecursionError:
            raise InputError(source, "JSON nested too deeply") from None
        except ValueError as e:
            stripped = doc.strip()
            if stripped.startswith("{") and "\n" in stripped:
                lines = True  # JSON Lines: several objects, one per line
            else:
                err = _json_error(e)
                raise InputError(source, f"invalid JSON ({err.msg} at line {err.lineno} column {err.colno})") from None
            del stripped
        else:
            doc = ""  # the decoded text is no longer needed
            if isinstance(obj, dict):
                return _from_object(obj, source)
            if isinstance(obj, list):
                return from_list(obj, source)
            kind = type(obj).__name__ if obj is not None else "null"
            raise InputError(source, f"JSON {kind} at top level; expected an object or a list of records")
    if data is not None:
        import io

        doc = ""  # a decoded copy is not kept: the lines are decoded one at a time
        buf = io.BytesIO(data)  # shares the bytes; its lines end at b"\n" only
        if data.startswith(UTF8_BOM):
            buf.seek(3)
        raw_lines: Iterable[str] = map(bytes.decode, buf)
    else:
        raw_lines = doc.split("\n")
    records = _parse_lines(raw_lines, source)
    rec = _Records(source, "line")
    try:
        rec.feed(records)
    except InputError:
        for _ in records:  # an invalid line further on is the first problem of the file
            pass
        raise
    if not rec.count:
        raise InputError(source, "empty JSON Lines file")
    return rec.table("jsonl", mmengine=True)


__all__ = ["read_json", "from_list"]
