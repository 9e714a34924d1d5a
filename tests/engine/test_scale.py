"""Speed at scale (issue 11, section 6), as properties rather than timings: the averaging of
per-step points onto an epoch axis is linear (no sort when the axis never falls) and gives
exactly what the sorting version gave.  benchmarks/scale.py prints the figures."""

from __future__ import annotations

import numpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvediag.errors import InputError
from curvediag.table import _aggregate

pytestmark = pytest.mark.slow  # the whole file (pyproject.toml's markers: the fast suite leaves it out)


def _sorting_aggregate(x, y):
    """The previous implementation: a stable sort of every series, then np.add.at."""
    if x.size < 2 or not (x[1:] <= x[:-1]).any():
        return x, y, False
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    ux, inv, counts = np.unique(xs, return_inverse=True, return_counts=True)
    if ux.size == xs.size:
        return xs, ys, False
    sums = np.zeros(ux.size)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as recorded evidence
        np.add.at(sums, inv, ys)
    return ux, sums / counts, True


def test_a_non_decreasing_axis_is_averaged_without_sorting(monkeypatch):
    # a per-step series on its epoch axis: 1M points, 100 epochs
    x = np.repeat(np.arange(100.0), 10_000)
    y = np.linspace(2.0, 0.1, x.size)
    expected = _sorting_aggregate(x, y)

    def no_sort(*a, **k):
        raise AssertionError("sorted an axis that never falls (n log n per series)")

    for name in ("argsort", "sort", "unique", "lexsort"):
        monkeypatch.setattr(numpy, name, no_sort)
    ux, means, merged = _aggregate(x, y)
    assert merged and np.array_equal(ux, expected[0]) and np.array_equal(means, expected[1])


floats = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.floats(-1e3, 1e3)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), floats), max_size=40),
    st.booleans(),
)
def test_averaging_equals_the_sorting_version_bit_for_bit(points, ordered):
    if ordered:
        points = sorted(points, key=lambda p: p[0])
    x = np.array([float(a) for a, _ in points])
    y = np.array([b for _, b in points], dtype=float)
    got, want = _aggregate(x, y), _sorting_aggregate(x, y)
    assert got[2] == want[2]
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1], equal_nan=True)


def _reference_records(records):
    """The previous JSON records reader: two passes, rows x keys cells."""
    from curvediag.readers.json import _HF_SUMMARY_KEYS, _num

    names, seen, kept = [], set(), []
    for r in records:
        # HF's summary entry: a summary key holding a value (issue 19: a table flattened by pandas
        # gives every record every key, null where absent -- such a record is a curve point)
        if any(r[k] is not None for k in _HF_SUMMARY_KEYS & r.keys()):
            continue
        kept.append(r)
        for k, v in r.items():
            if k not in seen and _num(v) is not None:
                seen.add(k)
                names.append(k)
    values = {k: np.full(len(kept), np.nan) for k in names}
    present = {k: np.zeros(len(kept), dtype=bool) for k in names}
    for i, r in enumerate(kept):
        for k, v in r.items():
            if k in values and (f := _num(v)) is not None:
                values[k][i], present[k][i] = f, True
    return names, len(kept), values, present


json_values = st.sampled_from([1, 2.5, "3", " 4 ", "x", True, None, [1], float("nan"), -0.0, 10**30, "nan", 7])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(["a", "b", "loss", "step", "train_runtime"]), json_values, max_size=4), min_size=1, max_size=12),
    st.booleans(),
)
def test_json_records_read_as_the_two_pass_reader_did(records, many_keys):
    import curvediag.readers.json as J

    want = _reference_records(records)
    old = J._KEY_PASSES
    try:
        J._KEY_PASSES = 0 if many_keys else old  # the by-shape path, else the by-key path
        try:
            t = J._from_records(records, "x", "src")
        except Exception as e:  # noqa: BLE001 - the same refusal
            assert not want[0], e
            return
    finally:
        J._KEY_PASSES = old
    assert (t.names, t.rows) == (want[0], want[1])
    for k in t.names:
        assert np.array_equal(t.values[k], want[2][k], equal_nan=True) and np.array_equal(t.present[k], want[3][k])




@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**40) | st.just(0),
            st.lists(st.tuples(st.text(max_size=140), st.floats(width=32), st.sampled_from(["simple", "tensor", "meta"])), max_size=3),
        ),
        max_size=8,
    )
)
def test_tensorboard_fast_path_reads_as_the_general_parser(events):
    pytest.importorskip("tensorboardX")
    import struct as _struct

    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto

    import curvediag.readers.tfevents as T

    data = bytearray()
    for ev in [Event(wall_time=1.0, file_version="brain.Event:2")] + [
        Event(step=step, wall_time=2.5, summary=Summary(value=[
            Summary.Value(tag=tag, simple_value=v) if kind == "simple"
            else Summary.Value(tag=tag, tensor=TensorProto(dtype=1, tensor_content=_struct.pack("<f", v))) if kind == "tensor"
            else Summary.Value(tag=tag, simple_value=v, metadata=SummaryMetadata(display_name="x"))
            for tag, v, kind in vals
        ]))
        for step, vals in events
    ]:
        raw = ev.SerializeToString()
        data += _struct.pack("<Q", len(raw)) + b"\0" * 4 + raw + b"\0" * 4
    fast = T.scalars(bytes(data), "src")
    real = T._simple_event
    try:
        T._simple_event = lambda rec: None  # the general parser only
        general = T.scalars(bytes(data), "src")
    finally:
        T._simple_event = real
    assert repr(fast) == repr(general)


# --- whole-file passes that cost more than the parse (issue 11, section 6) ---------------------------------------------


def test_an_epoch_column_on_every_step_is_not_indexed_row_by_row(monkeypatch):
    # 200k per-step rows, 20k steps per epoch: the epoch "stalls" on nearly every row, and
    # nothing before the averaging should build an index of those rows (a 10M-row log spent
    # 0.85 s and 80 MB on it), nor of every row of a dense axis
    from curvediag.readers.sparse import from_arrays
    from curvediag.table import RawTable, to_curves

    n = 200_000
    step = np.arange(1.0, n + 1)
    cols = {
        "epoch": (np.arange(n), (step - 1) // 20_000),
        "step": (np.arange(n), step),
        "loss": (np.arange(n), 2.0 / (1 + step / 1e4)),
        "val_loss": (np.arange(19_999, n, 20_000), 2.1 / (1 + step[19_999::20_000] / 1e4)),  # one per epoch
    }
    values, present = from_arrays(cols, n)
    table = RawTable(list(cols), values, present, n, "csv")
    sizes = []
    real = numpy.flatnonzero

    def counted(a):
        out = real(a)
        sizes.append(out.size)
        return out

    monkeypatch.setattr(numpy, "flatnonzero", counted)
    curves = to_curves(table, "big.csv")
    monkeypatch.undo()
    assert curves.axis_kind == "epoch" and len(curves.series["train_loss"]) == 10
    assert max(sizes, default=0) <= n // 1000, f"an index of {max(sizes)} rows was built"
    # the same table read before (no shared passes): identical curves
    want = to_curves(RawTable(list(cols), *from_arrays(cols, n), n, "csv"), "big.csv")
    for k, s in curves.series.items():
        assert np.array_equal(s.x, want.series[k].x) and np.array_equal(s.y, want.series[k].y)


def _jsonl(n: int) -> bytes:
    return "".join(
        f'{{"epoch": {s / 1000:.3f}, "step": {s}, "loss": {2.0 / (1 + s / 1e4):.5f}, "learning_rate": 0.001}}\n'
        + (f'{{"step": {s}, "eval_loss": 1.5}}\n' if s % 100 == 0 else "")
        for s in range(n)
    ).encode()


def test_json_lines_are_read_without_keeping_every_record():
    # the records are made into columns a chunk at a time: the reading allocates a few times
    # the file, not ~10x (a decoded copy, the list of lines and a dict per line, as before)
    import tracemalloc

    from curvediag.readers import read_table

    data = _jsonl(200_000)
    tracemalloc.start()
    try:
        t = read_table(data, "m.jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert t.rows == 202_000 and t.names == ["epoch", "step", "loss", "learning_rate", "eval_loss"]
    assert peak < 5 * len(data), f"{peak / len(data):.1f}x the file allocated"


line_texts = st.sampled_from([
    '{"step": 1, "loss": 2.5}', '{"step": 2, "loss": NaN, "acc": "0.5"}', '{"step": 3, "val/mAP": 0.2}',
    '{"epoch": 1, "step": 30, "loss": 1e400}', '{"s\u2028x": 1, "loss": 1}', '{"loss": "a\u2029b", "k": 1}',
    "", "   ", "\t", '{"loss": 1}\r', '\u00a0{"loss": 4}\u00a0', "\u3000", "loss,step", "<html>", '{"loss": 5}\x1c', '\ufeff{"loss": 6}',
    '{"loss": 7} x', "[1, 2]", "3", '"text"', '{"loss": [1', "2]}", '{"big": ' + "9" * 5000 + "}",
    '{"train_runtime": 3, "loss": 1}', '{"loss": true, "n": null}', '{"a": {"b": 1}, "loss": 8}', "{" * 3000,
    '{"loss": 1, "loss": 2}', '{"\u00e9t\u00e9": 1.5, "loss": 0.5}',
])


@settings(max_examples=400, deadline=None)
@given(st.lists(line_texts, min_size=1, max_size=10), st.sampled_from(["\n", "\r\n"]), st.booleans(),
       st.sampled_from([None, "json", "jsonl"]))
def test_json_lines_from_the_bytes_read_as_from_the_text(lines, end, bom, fmt):
    # the bytes path (the C scanner, a line at a time) against the text path, which is the
    # previous reader: the same table, or the same one-line refusal
    from unittest import mock

    from curvediag import readers
    from curvediag.readers import read_table
    from curvediag.readers.json import read_json

    text = end.join(lines) + end
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")

    def outcome(f):
        try:
            t = f()
        except InputError as e:
            return ("refused", e.problem)
        return (t.names, t.rows, t.format, t.notes,
                [(t.values[k].tolist(), t.present[k].tolist()) for k in t.names])

    with mock.patch.object(readers, "_json_bytes", lambda *a: False):  # decoded first, as before
        want = outcome(lambda: read_table(data, "src", fmt))
    assert repr(outcome(lambda: read_table(data, "src", fmt))) == repr(want)
    if data.strip():
        text = outcome(lambda: read_json(data.decode("utf-8-sig"), "src", lines=fmt == "jsonl"))
        assert repr(outcome(lambda: read_json(data, "src", lines=fmt == "jsonl"))) == repr(text)


def _reference_mmengine(records):
    """The previous MMEngine step: validation rows (no 'epoch', a 'step' counting epochs) get
    their step moved to 'epoch', in place, when training rows carry both."""
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


@settings(max_examples=300, deadline=None)
@given(st.lists(
    st.dictionaries(st.sampled_from(["epoch", "step", "loss", "coco/bbox_mAP", "acc", "lr", "train_runtime"]),
                    st.sampled_from([1, 2.5, None, "3", True, 7]), max_size=4),
    min_size=1, max_size=12,
))
def test_mmengine_validation_rows_move_to_the_epoch_axis_as_before(records):
    import copy

    import curvediag.readers.json as J

    old = copy.deepcopy(records)
    renamed = _reference_mmengine(old)
    want = _reference_records(old)
    try:
        t = J._records_table(copy.deepcopy(records), "jsonl", "src", "line")
    except InputError:
        assert not want[0]
        return
    assert t.format == ("mmengine_scalars" if renamed else "jsonl")
    assert (t.names, t.rows) == (want[0], want[1])
    for k in t.names:
        assert np.array_equal(t.values[k], want[2][k], equal_nan=True) and np.array_equal(t.present[k], want[3][k])


@pytest.mark.parametrize("shape", ["falling", "flat", "rising", "spiky", "nan_tail"])
def test_rules_sort_no_full_length_series(monkeypatch, shape):
    """The rules judge the downsampled track: no sort, median, quantile or unique over a
    whole 300k-point series (each would make cost grow faster than the rows)."""
    from curvediag.api import diagnose_curves, load_curves

    n = 300_000
    rng = np.random.default_rng(1)
    step = np.arange(1, n + 1, dtype=float)
    base = {"falling": 0.3 + 2.0 * np.exp(-step / (n / 5)), "flat": np.full(n, 2.3),
            "rising": 0.5 + step / n, "spiky": 0.3 + 2.0 * np.exp(-step / (n / 5)),
            "nan_tail": 0.3 + 2.0 * np.exp(-step / (n / 5))}[shape]
    train = base * (1 + 0.1 * rng.standard_normal(n))
    if shape == "spiky":
        train[::5000] *= 50
    if shape == "nan_tail":
        train[-1000:] = np.nan
    val = np.where(step % 1000 == 0, base + 0.05, np.nan)
    acc = np.clip(1 - base / 3, 0, 1)
    import pandas as pd

    df = pd.DataFrame({"step": step, "train_loss": train, "val_loss": val, "train_acc": acc,
                       "val_acc": np.where(step % 1000 == 0, acc, np.nan), "lr": 1e-3})
    expected = diagnose_curves(load_curves(df))
    curves = load_curves(df)  # fresh: nothing cached on the series by the first analysis

    def guard(f):
        def g(a, *args, **kw):
            if np.size(a) > n // 10:
                raise AssertionError(f"{f.__name__} over {np.size(a)} points")
            return f(a, *args, **kw)
        return g

    for name in ("sort", "argsort", "median", "nanmedian", "partition", "argpartition", "unique",
                 "percentile", "nanpercentile", "quantile", "nanquantile", "lexsort"):
        monkeypatch.setattr(numpy, name, guard(getattr(numpy, name)))
    got = diagnose_curves(curves)
    assert [f.code for f in got.findings] == [f.code for f in expected.findings]
