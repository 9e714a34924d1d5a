"""Getting bytes in: files, stdin, gzip; guards against special files; decoding."""

from __future__ import annotations

import gzip
import os
import stat
import sys

from ..errors import InputError

MAX_BYTES = 1 << 30  # 1 GiB of log text is far beyond any real training log
_HEAD = 1 << 16


def _read_limited(fh, source: str) -> bytes:
    head = fh.read(_HEAD)
    binary_ok = (
        head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b", b"SQLite format 3\x00"))
        or b"brain.Event" in head[:64]
    )
    if b"\x00" in head and not binary_ok:
        raise InputError(source, "binary data (NUL bytes), not a text log")
    rest = fh.read(MAX_BYTES + 1 - len(head)) if len(head) == _HEAD else b""
    data = head + rest
    if len(data) > MAX_BYTES:
        raise InputError(source, f"larger than {MAX_BYTES >> 20} MiB; not read")
    nul = b"\x00"
    if rest and not binary_ok and nul in rest:
        raise InputError(source, f"binary data (a NUL byte at offset {data.index(nul)}), not a text log")
    return data


def read_bytes(path: str) -> tuple[str, bytes]:
    """Return (display name, raw bytes) of a path or ``-`` (stdin)."""
    if path == "-":
        source = "<stdin>"
        data = _read_limited(sys.stdin.buffer, source)
    else:
        source = path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise InputError(source, "no such file") from None
        except OSError as e:
            raise InputError(source, e.strerror or str(e)) from None
        if stat.S_ISDIR(st.st_mode):
            raise InputError(source, "is a directory, not a log file")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(source, "not a regular file (device, FIFO or socket); not read")
        try:
            with open(path, "rb") as fh:
                data = _read_limited(fh, source)
        except PermissionError:
            raise InputError(source, "permission denied") from None
        except IsADirectoryError:
            raise InputError(source, "is a directory, not a log file") from None
        except OSError as e:
            raise InputError(source, e.strerror or str(e)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise InputError(source, f"broken gzip data ({e})") from None
        if len(data) > MAX_BYTES:
            raise InputError(source, f"larger than {MAX_BYTES >> 20} MiB once decompressed; not read")
        if b"\x00" in data[:_HEAD] and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and b"brain.Event" not in data[:64]:
            raise InputError(source, "binary data (NUL bytes) inside the gzip file, not a text log")
    return source, data


def decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError(source, "broken UTF-16 text") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(
            source, f"not UTF-8 text (undecodable byte at offset {e.start}); binary or unsupported encoding"
        ) from None
