"""Renderers: read a :class:`~curvediag.report.Batch` (its reports, unreadable inputs and the
rules that ran), never change it.  Each output format is one :class:`OutputFormat`; its
renderer is ``render(batch) -> str`` in the module :data:`RENDERERS` names.

Names in a report (file, column and run names, and the messages quoting them) come
from the input and may hold anything; :func:`printable` is how they reach a terminal
or CI log, and each machine format escapes them by its own rules as well."""

from __future__ import annotations

import re
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..report import Batch


class OutputFormat(str, Enum):
    """The output formats (``--format``, ``format =`` in the configuration)."""

    text = "text"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    github = "github"
    junit = "junit"
    sarif = "sarif"
    gitlab = "gitlab"
    gitlab_metrics = "gitlab-metrics"
    azure = "azure"
    #: another name for ``jsonl`` (as ruff and others spell it); settings hold ``jsonl``
    json_lines = "json-lines"

    def render(self, batch: "Batch", full: bool = False, annotate: str | None = None) -> str:
        """The batch in this format.  ``full``: text for several logs shows every report after the table;
        ``annotate``: the lowest severity GitHub annotates finding by finding (``--annotate``)."""
        import importlib

        module, function = RENDERERS[self.value]
        fn = getattr(importlib.import_module(f"{__name__}.{module}"), function)
        if self is OutputFormat.text:
            return fn(batch, full=full)
        return fn(batch, annotate=annotate) if self is OutputFormat.github else fn(batch)


#: format -> (module in this package, its ``render(batch) -> str``); imported only when used
RENDERERS = {
    "text": ("text", "render"),
    "json": ("json", "render"),
    "jsonl": ("json", "render_lines"),
    "markdown": ("markdown", "render"),
    "github": ("github", "render"),
    "junit": ("junit", "render"),
    "sarif": ("sarif", "render"),
    "gitlab": ("gitlab", "render"),
    "gitlab-metrics": ("gitlab_metrics", "render"),
    "azure": ("azure", "render"),
    "json-lines": ("json", "render_lines"),
}

#: other names of a format -> the format
ALIASES = {"json-lines": "jsonl"}

# C0 controls (newline and tab too), DEL, C1 controls, the Unicode line/paragraph
# separators, bidirectional overrides and isolates, and lone surrogates (the bytes of a
# non-UTF-8 file name): none may reach a terminal raw.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _esc(m: re.Match) -> str:
    c = m.group()
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    if 0xDC80 <= n <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def printable(s: object) -> str:
    """``s`` as one line of plain text: every control character shown escaped (ESC as ``\\x1b``,
    a newline as ``\\n``), so that nothing in a name can move the cursor, set a window title,
    start a new line (a forged ``::error`` command) or fail to encode."""
    s = str(s)
    return _UNPRINTABLE.sub(_esc, s) if _UNPRINTABLE.search(s) else s
