"""Readers: bytes -> :class:`~curvediag.table.RawTable`.

One module per format family, and one detection table, :data:`READERS`: each :class:`Reader`
says which ``--input-format`` names choose it, how its content is recognised (never only the
file name) and how it is read.  :func:`read_table` asks them in order; the magic bytes they
sniff are spelled once, in :mod:`.source`.  Run directories are searched by :mod:`.discover`,
in-memory logs (DataFrame, dict, History, ``log_history``) read by :mod:`.memory`;
:func:`load` goes on to canonical curves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable

from ..errors import InputError
from ..table import RawTable, to_curves
from .source import (
    GZIP_MAGIC, MAX_BYTES, SQLITE_MAGIC, UTF8_BOM, UTF16_BOMS, decode, looks_like_events, read_bytes,
)

if TYPE_CHECKING:  # the table module (numpy's arrays) is not loaded by the table of readers: --help lists their names
    from ..table import RawTable

# files whose bytes are not the UTF-8 text pandas would read from disk: BOMs and gzip
_NOT_PLAIN = (UTF8_BOM, *UTF16_BOMS, GZIP_MAGIC)


class Input:
    """One input's bytes and what was said of it (``--input-format``, ``--run``, its path on disk).
    ``text`` is decoded on first use, and refused when blank; a text whose lines end in a bare
    CR (classic Mac OS) reads with LF line ends (``cr_only``), whatever its length."""

    def __init__(self, data: bytes, source: str, input_format: str | None, run: str | None, path: str | None):
        self.data, self.source, self.input_format, self.run, self.path = data, source, input_format, run, path
        self.cr_only = False

    @cached_property
    def text(self) -> str:
        text = decode(self.data, self.source)
        if "\r" in text and "\n" not in text:
            text = text.replace("\r", "\n")
            self.cr_only = True
        stripped = text.lstrip()
        if not stripped:
            raise InputError(self.source, "empty file")
        self.__dict__["stripped"] = stripped
        return text

    @cached_property
    def stripped(self) -> str:
        """``text`` without its leading blanks."""
        self.text  # noqa: B018 - decodes, and sets this
        return self.__dict__["stripped"]


@dataclass(frozen=True)
class Reader:
    """One input format in the detection table.

    ``names``: the ``--input-format`` values that choose it without sniffing (none: it is only
    detected).  ``aliases``: other names ``--input-format`` accepts for it, each paired with the name
    it reads as (the ``source.format`` names reports print, such as ``keras_csv``; None: detected).  ``sniff(input)``: whether the content is this format, asked only when no format was
    given (or always, with ``always``: a database is never read as text).  ``read(input)``: the
    table, or an :class:`~curvediag.errors.InputError` naming the problem."""

    label: str
    names: tuple[str, ...]
    sniff: Callable[[Input], bool]
    read: Callable[[Input], RawTable]
    always: bool = False
    aliases: tuple[tuple[str, str | None], ...] = ()


def _never(inp: Input) -> bool:
    return False


def _sqlite_sniff(inp: Input) -> bool:
    return inp.data.startswith(SQLITE_MAGIC)


def _sqlite(inp: Input) -> RawTable:
    if inp.source == "<stdin>":
        raise InputError(inp.source, "an SQLite database cannot be read from stdin; name the file")
    from .mlflow import read_sqlite

    return read_sqlite(inp.source, inp.source, inp.run)


def _tensorboard(inp: Input) -> RawTable:
    from .tfevents import scalars, table_from_scalars

    return table_from_scalars(scalars(inp.data, inp.source), inp.source)


def _looks_like_json_scalar(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _json_sniff(inp: Input) -> bool:
    if _json_bytes(inp.data, None):
        return True
    head = inp.stripped[:1]
    if head in "{[":
        return True
    # a bare JSON value in a .json file: let the JSON reader name the problem
    return head != "<" and inp.source.lower().endswith((".json", ".jsonl", ".json.gz")) and _looks_like_json_scalar(inp.stripped)


def _json(inp: Input) -> RawTable:
    from .json import read_json

    lines = inp.input_format == "jsonl"
    if _json_bytes(inp.data, inp.input_format):
        # JSON read from the bytes: no decoded copy of the whole file is kept (UTF-8 checked first)
        if not inp.data.isascii():
            decode(inp.data, inp.source)
        return read_json(inp.data, inp.source, lines=lines)
    return read_json(inp.text, inp.source, lines=lines)


def _html_sniff(inp: Input) -> bool:
    return inp.stripped[:1] == "<"


def _html(inp: Input) -> RawTable:
    raise InputError(inp.source, "looks like HTML or XML, not a training log")


def _console(text: str) -> bool:
    if "Epoch" not in text[:20000]:
        return False
    from .keras_console import looks_like_console

    return looks_like_console(text)


def _keras_console(inp: Input) -> RawTable:
    from .keras_console import read_console

    return read_console(inp.text, inp.source)


def _csv(inp: Input) -> RawTable:
    """CSV; a W&B panel export (``<run> - <key>`` columns) is recognised once parsed."""
    from .csv import read_csv

    text, data, path = inp.text, inp.data, inp.path
    plain = path is not None and not inp.cr_only and not data.startswith(_NOT_PLAIN) and _plain_on_disk(path)
    table = read_csv(text, inp.source, path if plain else None)
    wandb = inp.input_format == "wandb_csv"
    if wandb or any(" - " in n for n in table.names):
        from .wandb import from_panel_export, is_panel_export

        if wandb or is_panel_export(table):
            return from_panel_export(table, inp.source, inp.run)
    return table


#: The detection table, in the order content is sniffed: binary formats by their magic bytes,
#: then JSON, then text.  CSV, last, takes whatever is left.
#: An alias of a format a report prints names the reader that produced it; the MLflow formats
#: are recognised from the path (a run directory, a database, a URL) whatever is given: detection.
READERS: tuple[Reader, ...] = (
    Reader("MLflow SQLite", (), _sqlite_sniff, _sqlite, always=True,
           aliases=(("mlflow", None), ("mlflow_sqlite", None), ("mlflow-server", None))),
    Reader("TensorBoard", ("tensorboard",), lambda inp: looks_like_events(inp.data), _tensorboard),
    Reader("JSON / JSON Lines", ("json", "jsonl"), _json_sniff, _json,
           aliases=(("keras_history_json", "json"), ("pandas_json", "json"), ("json_records", "json"),
                    ("json_nested", "json"), ("hf_trainer_state", "json"), ("hf_log_history", "json"),
                    ("mmengine_scalars", "jsonl"))),
    Reader("HTML or XML", (), _html_sniff, _html),
    Reader("Keras console", ("keras_console",), lambda inp: _console(inp.stripped), _keras_console),
    Reader("W&B panel export", ("wandb_csv",), _never, _csv),
    Reader("CSV", ("csv",), lambda inp: True, _csv,
           aliases=(("keras_csv", "csv"), ("fastai_csv", "csv"), ("lightning_csv", "csv"), ("ultralytics_csv", "csv"))),
)
#: the ``--input-format`` names of the readers, in the table's order
FORMATS = tuple(name for r in READERS for name in r.names)
#: everything ``--input-format`` / ``input-format`` accepts -> the reader name it reads as (None:
#: detected): the readers' names, then their aliases
INPUT_FORMATS: dict[str, str | None] = {**{n: n for n in FORMATS}, **{a: to for r in READERS for a, to in r.aliases}}


def read_table(
    data: bytes, source: str, input_format: str | None = None, run: str | None = None, path: str | None = None
) -> RawTable:
    """The table of one input's bytes: the first reader of :data:`READERS` that ``input_format``
    names or whose sniff recognises the content."""
    inp = Input(data, source, input_format, run, path)
    for reader in READERS:
        if input_format in reader.names or ((input_format is None or reader.always) and reader.sniff(inp)):
            return reader.read(inp)
    inp.text  # noqa: B018 - a blank file is "empty" whatever format was asked for
    raise InputError(source, f"unknown input format {input_format!r} (known: {', '.join(FORMATS)})")


def _json_bytes(data: bytes, input_format: str | None) -> bool:
    """Whether ``data`` is UTF-8 (no UTF-16 BOM) whose first non-blank character opens
    JSON: what the text sniffing below reads as JSON (or as what was asked for).  Anything
    else (blank, other leading blanks, other text) takes the text path, which names it."""
    if data.startswith(UTF16_BOMS):
        return False
    start = len(UTF8_BOM) if data.startswith(UTF8_BOM) else 0
    head = data[start:start + (1 << 16)].lstrip()  # ASCII blanks, which str.lstrip() also strips
    return head[:1] in (b"{", b"[")


def _plain_on_disk(path: str) -> bool:
    """Whether the file itself (not the bytes it decompressed to) starts without a BOM or
    gzip's magic bytes, whatever its name: only then may pandas re-read it from disk."""
    from .source import open_regular

    try:
        with open_regular(path) as fh:
            return not fh.read(4).startswith(_NOT_PLAIN)
    except (OSError, InputError):
        return False


def _is_sqlite_file(path: str) -> bool:
    """A regular file (never a FIFO, which would block) starting with SQLite's header."""
    from .source import open_regular

    try:
        with open_regular(path) as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except (OSError, InputError):
        return False


_BIG = 8 << 20  # bytes


def _big_plain_csv_head(path: str) -> str | None:
    """The head (first 64 KiB) of a file over 8 MiB that is plain UTF-8 CSV text — no BOM,
    gzip, NUL, JSON, HTML, console log or W&B export — or None: then the ordinary path reads
    the whole file and names any problem."""
    from .source import open_regular

    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < _BIG or size > MAX_BYTES:
                return None  # over the cap: read_bytes refuses it
            head = fh.read(1 << 16)
    except (OSError, InputError):
        return None  # read_bytes names the problem
    if b"\x00" in head or head.startswith(_NOT_PLAIN) or (b"\r" in head and b"\n" not in head):
        return None  # (CR-only line ends: read as text, where they become LF)
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


def load(path: str, input_format: str | None = None, overrides: dict[str, str] | None = None, run: str | None = None):
    """Read one log (a path, or ``-`` for stdin) into :class:`~curvediag.curves.Curves`."""
    table, source = load_table(path, input_format, run)
    return to_curves(table, source, overrides)


def load_table(path: str, input_format: str | None = None, run: str | None = None) -> tuple[RawTable, str]:
    """The raw table of a file, stdin, a run directory or an MLflow server URI, and its display name."""
    from .uri import is_server_uri

    if is_server_uri(path):
        from .mlflow_server import read as read_server

        return read_server(path, run)
    note = None
    if path != "-" and os.path.isdir(path):
        from .discover import read_dir

        found, note = read_dir(path, run)
        if not isinstance(found, str):  # the table of a run directory, not a log file in it
            return found, path
        path = found  # the log file found inside the directory
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
