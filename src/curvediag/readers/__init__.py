"""Readers: bytes -> :class:`~curvediag.table.RawTable`.

One module per format family.  :func:`read_table` sniffs the content (never
only the extension) and dispatches; :func:`load` goes on to canonical curves.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..table import RawTable
from .source import MAX_BYTES, SQLITE_MAGIC, decode, read_bytes

FORMATS = ("csv", "json", "jsonl", "tensorboard", "wandb_csv", "keras_console")
# files whose bytes are not the UTF-8 text pandas would read from disk: BOMs and gzip
_NOT_PLAIN = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x1f\x8b")


def _looks_like_json_scalar(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _console(text: str) -> bool:
    if "Epoch" not in text[:20000]:
        return False
    from .keras_console import looks_like_console

    return looks_like_console(text)


def read_table(
    data: bytes, source: str, input_format: str | None = None, run: str | None = None, path: str | None = None
) -> RawTable:
    if data.startswith(SQLITE_MAGIC):
        if source == "<stdin>":
            raise InputError(source, "an SQLite database cannot be read from stdin; name the file")
        from .mlflow import read_sqlite

        return read_sqlite(source, source, run)
    if input_format == "tensorboard" or (input_format is None and b"brain.Event" in data[:64]):
        from .tfevents import looks_like_events, scalars, table_from_scalars

        if input_format == "tensorboard" or looks_like_events(data):
            return table_from_scalars(scalars(data, source), source)
    if input_format in (None, "json", "jsonl") and _json_bytes(data, input_format):
        # JSON read from the bytes: no decoded copy of the whole file is kept (UTF-8 checked first)
        if not data.isascii():
            decode(data, source)
        from .json import read_json

        return read_json(data, source, lines=(input_format == "jsonl"))
    text = decode(data, source)
    stripped = text.lstrip()
    if not stripped:
        raise InputError(source, "empty file")
    fmt = input_format
    if fmt is None:
        head = stripped[:1]
        if head in "{[":
            fmt = "json"
        elif head == "<":
            raise InputError(source, "looks like HTML or XML, not a training log")
        elif source.lower().endswith((".json", ".jsonl", ".json.gz")) and _looks_like_json_scalar(stripped):
            fmt = "json"  # a bare JSON value: let the JSON reader name the problem
        else:
            fmt = "csv"
    if fmt == "keras_console" or (fmt == "csv" and input_format is None and _console(stripped)):
        from .keras_console import read_console

        return read_console(text, source)
    if fmt in ("csv", "wandb_csv"):
        from .csv import read_csv

        plain = path is not None and not data.startswith(_NOT_PLAIN) and _plain_on_disk(path)
        table = read_csv(text, source, path if plain else None)
        if fmt == "wandb_csv" or any(" - " in n for n in table.names):
            from .wandb import from_panel_export, is_panel_export

            if fmt == "wandb_csv" or is_panel_export(table):
                return from_panel_export(table, source, run)
        return table
    if fmt in ("json", "jsonl"):
        from .json import read_json

        return read_json(text, source, lines=(fmt == "jsonl"))
    raise InputError(source, f"unknown input format {fmt!r} (known: {', '.join(FORMATS)})")


def _json_bytes(data: bytes, input_format: str | None) -> bool:
    """Whether ``data`` is UTF-8 (no UTF-16 BOM) whose first non-blank character opens
    JSON: what the text sniffing below reads as JSON (or as what was asked for).  Anything
    else (blank, other leading blanks, other text) takes the text path, which names it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    head = data[start:start + (1 << 16)].lstrip()  # ASCII blanks, which str.lstrip() also strips
    return head[:1] in (b"{", b"[")


def _plain_on_disk(path: str) -> bool:
    """Whether the file itself (not the bytes it decompressed to) starts without a BOM or
    gzip's magic bytes, whatever its name: only then may pandas re-read it from disk."""
    try:
        with open(path, "rb") as fh:
            return not fh.read(4).startswith(_NOT_PLAIN)
    except OSError:
        return False


def _is_sqlite_file(path: str) -> bool:
    """A regular file (never a FIFO, which would block) starting with SQLite's header."""
    import stat as _stat

    try:
        if not _stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as fh:
            return fh.read(16) == SQLITE_MAGIC
    except OSError:
        return False


_BIG = 8 << 20  # bytes


def _big_plain_csv_head(path: str) -> str | None:
    """The head (first 64 KiB) of a file over 8 MiB that is plain UTF-8 CSV text — no BOM,
    gzip, NUL, JSON, HTML, console log or W&B export — or None: then the ordinary path reads
    the whole file and names any problem."""
    import stat as _stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    if not _stat.S_ISREG(st.st_mode) or st.st_size < _BIG or st.st_size > MAX_BYTES:
        return None  # over the cap: read_bytes refuses it
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if b"\x00" in head or head.startswith(_NOT_PLAIN):
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:  # a bad byte, not a character cut by the 64 KiB boundary
            return None
        text = head[: e.start].decode("utf-8")
    stripped = text.lstrip()
    if not stripped or stripped[0] in "{[<" or _console(stripped) or " - " in stripped.split("\n", 1)[0]:
        return None
    return text


def read_event_dir(path: str) -> RawTable:
    """Every event file below ``path``; tags are prefixed with their subdirectory when
    there are several (Keras writes ``train/`` and ``validation/`` side by side)."""
    from pathlib import Path

    from .discover import within
    from .tfevents import MAGIC_NAME, scalars, table_from_scalars

    root = Path(path)
    real_root = os.path.realpath(root)
    found = [p for p in root.rglob(f"{MAGIC_NAME}*") if p.is_file()]
    files = sorted(p for p in found if within(p, real_root))
    parents = {p.parent for p in files}
    tags: dict = {}
    total = 0
    for f in files:
        total += f.stat().st_size  # the one size cap, over all the event files read together
        if total > MAX_BYTES:
            from .source import too_big

            raise too_big(path, " of event files")
        rel = f.parent.relative_to(root).as_posix()
        prefix = f"{rel}/" if len(parents) > 1 and rel != "." else ""
        _, data = read_bytes(str(f))
        for tag, pts in scalars(data, str(f), prefix).items():
            tags.setdefault(tag, []).extend(pts)
    table = table_from_scalars(tags, path)
    table.notes.append(f"{len(files)} TensorBoard event file(s)")
    if len(found) > len(files):
        table.notes.append(f"{len(found) - len(files)} event file(s) behind symbolic links leading outside {path} not followed")
    return table


def load(path: str, input_format: str | None = None, overrides: dict[str, str] | None = None, run: str | None = None):
    """Read one log (a path, or ``-`` for stdin) into :class:`~curvediag.curves.Curves`."""
    table, source = load_table(path, input_format, run)
    from ..table import to_curves

    return to_curves(table, source, overrides)


def load_table(path: str, input_format: str | None = None, run: str | None = None) -> tuple[RawTable, str]:
    """The raw table of a file, stdin, or a run directory, and its display name."""
    from pathlib import Path

    note = None
    given = path
    try:
        if path != "-" and os.path.isdir(path):
            from .mlflow import choose_run, find_runs, read_run_dir

            if find_runs(Path(path)):
                chosen = choose_run(Path(path), run, path)
                table = read_run_dir(chosen, path)
                return table, path
            from .discover import find_log

            path, note = find_log(path)
        if path != "-" and os.path.isdir(path):  # a directory of TensorBoard event files
            table = read_event_dir(path)
            if note:
                table.notes.insert(0, note)
            return table, path
    except RecursionError:
        raise InputError(given, "directories nested too deeply to search; name the log file") from None
    except PermissionError as e:
        raise InputError(e.filename or given, "permission denied") from None
    except OSError as e:
        raise InputError(e.filename or given, e.strerror or str(e)) from None
    if path != "-" and _is_sqlite_file(path):
        # SQLite reads only the pages it needs: the file is not read into memory first
        from .mlflow import read_sqlite

        table = read_sqlite(path, path, run)
        source = path
    elif path != "-" and input_format in (None, "csv") and (head := _big_plain_csv_head(path)) is not None:
        # a large plain-UTF-8 CSV: sniff its head, let pandas read the file itself (no copy in Python)
        from .csv import read_csv

        source = path
        table = read_csv(head, source, path, head_only=True)
    else:
        source, data = read_bytes(path)
        table = read_table(data, source, input_format, run, None if path == "-" else path)
    if note:
        table.notes.insert(0, note)
    return table, source
