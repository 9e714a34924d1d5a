"""Speed at scale (issue 11, section 6), as properties rather than timings: the averaging of
per-step points onto an epoch axis is linear (no sort when the axis never falls) and gives
exactly what the sorting version gave.  benchmarks/scale.py prints the figures."""

from __future__ import annotations

import numpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvediag.table import _aggregate


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
        if _HF_SUMMARY_KEYS & r.keys():
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
