"""Getting bytes in: files, stdin, gzip; guards against special files; decoding."""

from __future__ import annotations

import os
import stat
import sys

from ..errors import InputError

#: The one size cap on an input (README, "Exit status": Limits): a file, stdin, a gzip file once
#: decompressed, or all the metric files of a run directory.  1 GiB of log text is far
#: beyond any real training log.
MAX_BYTES = 1 << 30
# --- the magic bytes of every input, spelled here once (readers/__init__.py READERS detects with them)
#: The first 16 bytes of every SQLite database (an MLflow tracking store).
SQLITE_MAGIC = b"SQLite format 3\x00"
#: In the first record of a TensorBoard event file (``file_version: "brain.Event:2"``), within its first 64 bytes.
EVENT_MAGIC = b"brain.Event"
#: How every TensorBoard event file's name starts (``events.out.tfevents.<time>.<host>``).
EVENT_FILE_PREFIX = "events.out.tfevents"
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def has_event_magic(data: bytes) -> bool:
    """Whether ``data`` starts like a TensorBoard event file."""
    return EVENT_MAGIC in data[:64]


def looks_like_events(data: bytes) -> bool:
    """The first record of an event file holds ``file_version: "brain.Event:2"``."""
    return len(data) >= 16 and has_event_magic(data)


#: Distinct columns, keys or tags in one log: a training log has tens, a W&B export of many
#: runs a few thousand; a file with more is not a training log (and each costs a column).
MAX_COLUMNS = 10_000
_HEAD = 1 << 16
_CHUNK = 1 << 20


def too_big(source: str, what: str = "") -> InputError:
    return InputError(source, f"larger than {MAX_BYTES >> 20} MiB{what}; not read")


def too_many_columns(source: str, count: int, what: str = "columns") -> InputError:
    return InputError(source, f"{count} {what} (more than {MAX_COLUMNS}): not a training log; not read")


def _gunzip(data: bytes, source: str) -> bytes:
    """Decompress gzip ``data`` (several members allowed), stopping as soon as the output
    passes MAX_BYTES: a small bomb never expands in memory."""
    import zlib

    out: list[bytes] = []
    total = 0
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            buf = rest
            while True:
                chunk = d.decompress(buf, _CHUNK)
                total += len(chunk)
                if total > MAX_BYTES:
                    raise too_big(source, " once decompressed")
                out.append(chunk)
                buf = d.unconsumed_tail
                if d.eof or (not buf and not chunk):
                    break
            if not d.eof:
                raise InputError(source, "broken gzip data (Compressed file ended before the end-of-stream marker was reached)")
            rest = d.unused_data.lstrip(b"\x00")  # gzip pads members with zeros at times
            if rest and rest[:2] != GZIP_MAGIC:
                raise InputError(source, "broken gzip data (Not a gzipped file)")
    except zlib.error as e:
        raise InputError(source, f"broken gzip data ({e})") from None
    return b"".join(out)


def _read_limited(fh, source: str, seekable: bool = False) -> bytes:
    head = fh.read(_HEAD)
    binary_ok = (
        head.startswith((*UTF16_BOMS, GZIP_MAGIC, SQLITE_MAGIC))
        or has_event_magic(head)
    )
    if b"\x00" in head and not binary_ok:
        raise InputError(source, "binary data (NUL bytes), not a text log")
    if head.startswith(SQLITE_MAGIC):
        return head  # read by path with sqlite3, which reads only what the query needs
    if len(head) < _HEAD:
        return head
    if seekable:  # read in one piece: no second copy of a large file
        fh.seek(0)
        data = fh.read(MAX_BYTES + 1)
    else:
        data = head + fh.read(MAX_BYTES + 1 - len(head))
    if len(data) > MAX_BYTES:
        raise too_big(source)
    nul = b"\x00"
    if not binary_ok and data.find(nul, _HEAD) >= 0:
        raise InputError(source, f"binary data (a NUL byte at offset {data.index(nul)}), not a text log")
    return data


def open_regular(path: "str | os.PathLike[str]", source: str | None = None):
    """Open ``path`` for reading in binary mode, a regular file only: opened without blocking
    (a FIFO given as a log would otherwise block ``open`` itself for ever) and checked on the
    open descriptor (no window between a check and the open).  Every read of a file the user
    named goes through here.  Raises :class:`InputError` naming ``source`` (default: the path)."""
    source = os.fspath(path) if source is None else source
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise InputError(source, "no such file") from None
    except PermissionError:
        raise InputError(source, "permission denied") from None
    except IsADirectoryError:
        raise InputError(source, "is a directory, not a log file") from None
    except OSError as e:
        raise InputError(source, e.strerror or str(e)) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(source, "is a directory, not a log file")
        if not stat.S_ISREG(mode):
            raise InputError(source, "not a regular file (device, FIFO or socket); not read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str) -> tuple[str, bytes]:
    """Return (display name, raw bytes) of a path or ``-`` (stdin)."""
    if path == "-":
        source = "<stdin>"
        data = _read_limited(sys.stdin.buffer, source)
    else:
        source = path
        try:
            with open_regular(path, source) as fh:
                if os.fstat(fh.fileno()).st_size > MAX_BYTES and fh.read(16) != SQLITE_MAGIC:
                    raise too_big(source)
                fh.seek(0)
                data = _read_limited(fh, source, seekable=True)
        except PermissionError:
            raise InputError(source, "permission denied") from None
        except IsADirectoryError:
            raise InputError(source, "is a directory, not a log file") from None
        except OSError as e:
            raise InputError(source, e.strerror or str(e)) from None
    if data[:2] == GZIP_MAGIC:
        data = _gunzip(data, source)
        if b"\x00" in data[:_HEAD] and not data.startswith(UTF16_BOMS) and not has_event_magic(data):
            raise InputError(source, "binary data (NUL bytes) inside the gzip file, not a text log")
    return source, data


def decode(data: bytes, source: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused."""
    if data.startswith(UTF16_BOMS):
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


def within(path, real_root: str) -> bool:
    """Whether ``path``, its symbolic links resolved, lies inside ``real_root`` (itself
    resolved): a link that leads out of the directory the user named is not followed."""
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)
