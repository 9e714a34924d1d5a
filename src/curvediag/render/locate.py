"""Where a finding is, for the CI formats that point at a file and a line (SARIF, GitLab Code
Quality, GitHub annotations): the log's path as a URI or as a path relative to the working
directory, and the line of the log's text holding the row where the finding starts.

The line is looked up by reading the log again (never writing it): only for a regular text file
given as a path (not stdin, not a store or a server), at most :data:`SCAN_LIMIT` bytes, in the
shapes that have one row per line -- CSV (``csv`` rows, quoted newlines counted), JSON Lines
(one object per line) and Keras console output (``Epoch N/M``).  The row is the one whose axis
column holds the position where the finding's span starts (the onset, for the finding that
decided the verdict), else the report's onset; the last such row when a resumed log repeats it.
A JSON document, a gzip file or a binary format has no such line: None."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote
from ..errors import InputError
from ..readers.source import GZIP_MAGIC, open_regular

if TYPE_CHECKING:
    from ..report import Finding, Report

#: bytes of a log read to find a line; a larger log gets no line (its findings keep their file)
SCAN_LIMIT = 64 * 1024 * 1024


def position(report: "Report", finding: "Finding | None") -> float | None:
    """The axis position a finding points at: where its span starts, else the report's onset."""
    if finding is not None and finding.span is not None:
        return float(finding.span[0])
    return None if report.onset_epoch is None else float(report.onset_epoch)


def line_of(report: "Report", finding: "Finding | None", given: str) -> int | None:
    """The 1-based line of ``report``'s log holding the row ``finding`` starts at, or None.
    ``given`` is the path as given on the command line (``-`` for stdin: never read again)."""
    pos = position(report, finding)
    if pos is None or given == "-" or "://" in report.source.path:
        return None
    try:
        st = os.stat(report.source.path)
        return _line(report.source.path, st.st_mtime_ns, st.st_size, report.source.axis, pos)
    except (OSError, ValueError):
        return None


@lru_cache(maxsize=256)
def _line(path: str, mtime: int, size: int, axis: str, pos: float) -> int | None:

    if size > SCAN_LIMIT:
        return None
    try:
        with open_regular(path) as fh:
            data = fh.read(SCAN_LIMIT + 1)
    except (OSError, InputError):
        return None
    if data[:2] == GZIP_MAGIC or b"\x00" in data[:4096]:
        return None
    text = data.decode("utf-8", errors="replace")
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "{":
        return _jsonl_line(text, axis, pos)
    if head == "[":
        return None
    return _console_line(text, pos) or _csv_line(text, axis, pos)


def _same(value: object, pos: float) -> bool:
    try:
        return float(value) == pos  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _jsonl_line(text: str, axis: str, pos: float) -> int | None:
    import json

    found, index = None, 0
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            return None  # a JSON document over several lines, not JSON Lines
        if not isinstance(obj, dict):
            return None
        if (axis == "index" and index == pos) or (axis in obj and _same(obj[axis], pos)):
            found = n
        index += 1
    return found


def _console_line(text: str, pos: float) -> int | None:
    import re

    found = None
    for n, raw in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*Epoch (\d+)/\d+\s*$", raw)
        if m and int(m.group(1)) == pos:
            found = n
    return found


def _csv_line(text: str, axis: str, pos: float) -> int | None:
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    col, found, index = -1, None, 0
    for row in reader:
        if not row or not any(c.strip() for c in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            col = header.index(axis) if axis in header else -1
            if col < 0 and axis != "index":
                return None
            continue
        if [c.strip() for c in row] == header:  # a repeated header: an appended run
            continue
        if axis == "index":
            if index == pos:
                found = reader.line_num
        elif col < len(row) and _same(row[col].strip(), pos):
            found = reader.line_num
        index += 1
    return found


def relative(path: str) -> str | None:
    """``path`` relative to the working directory (``/`` separated) when it lies inside it, else None."""
    if "://" in path or path.startswith("<"):
        return None
    try:
        cwd = os.path.realpath(os.getcwd())
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return None
    if real == cwd or not real.startswith(cwd.rstrip(os.sep) + os.sep):
        return None
    return os.path.relpath(real, cwd).replace(os.sep, "/")


def uri(path: str) -> tuple[str, str | None]:
    """(URI, base id): relative to ``%SRCROOT%`` (the working directory) when the log is inside
    it, else an absolute ``file://`` URI; a server URL as it is; stdin by its name."""
    def q(s: str) -> str:
        return quote(s.encode("utf-8", "surrogateescape"), safe="/:@-._~!$&'()*+,;=")

    if "://" in path:
        return q(path), None
    rel = relative(path)
    if rel is not None:
        return q(rel), "%SRCROOT%"
    if path.startswith("<"):  # <stdin>, with no --stdin-filename
        return q(path.strip("<>")), None
    return "file://" + q(os.path.abspath(path)), None
