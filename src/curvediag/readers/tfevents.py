"""TensorBoard event files, read without TensorFlow or tensorboard.

An event file is a sequence of TFRecords: ``uint64 length``, ``uint32 masked
CRC of length``, ``length`` bytes of data, ``uint32 masked CRC of data``.  Each
record is an ``Event`` protocol buffer (tensorflow/core/util/event.proto):
``wall_time`` (1, double), ``step`` (2, int64), ``summary`` (5, Summary).  A
``Summary`` holds repeated ``Value`` (1) messages: ``tag`` (1, string) and
either ``simple_value`` (2, float; PyTorch, tensorboardX, Lightning, Hugging
Face) or ``tensor`` (8, TensorProto; TF2/Keras): ``dtype`` (1), ``tensor_content``
(4, raw little-endian bytes), ``float_val`` (5), ``double_val`` (6).

Only scalars are read; images, histograms and graphs are skipped.  Only the
protobuf wire format is needed, so this module has no dependencies.
"""

from __future__ import annotations

import struct

from .._np import np

from ..errors import InputError
from ..table import RawTable

MAGIC_NAME = "events.out.tfevents"
_DT_FLOAT, _DT_DOUBLE, _DT_HALF = 1, 2, 19


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of one protobuf message."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v = buf[i : i + 8]
            i += 8
        elif wire == 2:
            length, i = _varint(buf, i)
            v = buf[i : i + length]
            i += length
        elif wire == 5:
            v = buf[i : i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if i > n:
            raise ValueError("truncated message")
        yield field, wire, v


_WIRE = {0: "a varint", 1: "a 64-bit field", 2: "a length-delimited field", 5: "a 32-bit field"}


def _wrong_wire(what: str, wire: int, expected: int) -> ValueError:
    return ValueError(f"{what} sent as {_WIRE.get(wire, f'wire type {wire}')}, expected {_WIRE[expected]}")


def _tensor_scalar(buf: bytes) -> float | None:
    dtype, content, floats, doubles = None, None, [], []
    for f, w, v in _fields(buf):
        if f == 1 and w == 0:
            dtype = v
        elif f == 4 and w == 2:
            content = v
        elif f == 5:  # float_val: packed, or one 32-bit value
            if w == 2 and len(v) % 4 == 0:
                floats += struct.unpack(f"<{len(v) // 4}f", v)
            elif w == 5:
                floats.append(struct.unpack("<f", v)[0])
            else:
                raise _wrong_wire("a tensor float_val", w, 5)
        elif f == 6:  # double_val: packed, or one 64-bit value
            if w == 2 and len(v) % 8 == 0:
                doubles += struct.unpack(f"<{len(v) // 8}d", v)
            elif w == 1:
                doubles.append(struct.unpack("<d", v)[0])
            else:
                raise _wrong_wire("a tensor double_val", w, 1)
    if content:
        if dtype == _DT_FLOAT and len(content) == 4:
            return struct.unpack("<f", content)[0]
        if dtype == _DT_DOUBLE and len(content) == 8:
            return struct.unpack("<d", content)[0]
        if dtype == _DT_HALF and len(content) == 2:
            return float(np.frombuffer(content, dtype="<f2")[0])
        return None
    if floats:
        return floats[0]
    if doubles:
        return doubles[0]
    return None


def _records(data: bytes, source: str):
    i, n = 0, len(data)
    while i < n:
        if i + 12 > n:
            return  # a file still being written ends mid-record: stop at the last whole one
        (length,) = struct.unpack("<Q", data[i : i + 8])
        start = i + 12
        end = start + length
        if end + 4 > n:
            return
        yield data[start:end]
        i = end + 4


def scalars(data: bytes, source: str, prefix: str = "") -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of every scalar in one event file."""
    out: dict[str, list[tuple[int, float]]] = {}
    try:
        for rec in _records(data, source):
            step, summary = 0, None
            for f, w, v in _fields(rec):
                if f == 2:
                    if w != 0:
                        raise _wrong_wire("an event's step", w, 0)
                    step = v - (1 << 64) if v >= 1 << 63 else v  # int64: negative steps are 10-byte varints
                elif f == 5 and w == 2:
                    summary = v
            if summary is None:
                continue
            for f, w, val in _fields(summary):
                if f != 1 or w != 2:
                    continue
                tag, value = None, None
                for vf, vw, vv in _fields(val):
                    if vf == 1 and vw == 2:
                        tag = vv.decode("utf-8", "replace")
                    elif vf == 2:
                        if vw != 5:
                            raise _wrong_wire("a simple_value", vw, 5)
                        value = struct.unpack("<f", vv)[0]
                    elif vf == 8 and vw == 2:
                        value = _tensor_scalar(vv)
                if tag is not None and value is not None:
                    out.setdefault(prefix + tag, []).append((step, float(value)))
    except (ValueError, struct.error) as e:
        raise InputError(source, f"broken TensorBoard event file ({e})") from None
    return out


def looks_like_events(data: bytes) -> bool:
    """The first record of an event file holds ``file_version: "brain.Event:2"``."""
    return len(data) >= 16 and b"brain.Event" in data[:64]


def table_from_scalars(tags: dict[str, list[tuple[int, float]]], source: str) -> RawTable:
    if not tags:
        raise InputError(source, "TensorBoard event file(s) with no scalar summaries")
    steps = sorted({s for pts in tags.values() for s, _ in pts})
    index = {s: k for k, s in enumerate(steps)}
    rows = len(steps)
    names = ["step", *sorted(tags)]
    values = {"step": np.asarray(steps, dtype=float)}
    present = {"step": np.ones(rows, dtype=bool)}
    for tag in sorted(tags):
        v = np.full(rows, np.nan)
        p = np.zeros(rows, dtype=bool)
        for s, val in tags[tag]:  # a step logged twice keeps its last value, as TensorBoard shows it
            v[index[s]], p[index[s]] = val, True
        values[tag], present[tag] = v, p
    return RawTable(names, values, present, rows, "tensorboard")
