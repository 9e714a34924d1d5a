"""Renderers: read a :class:`~curvediag.report.Batch` (its reports, unreadable inputs and the
rules that ran), never change it.  Each output format (:class:`~curvediag.vocabulary.OutputFormat`)
has one :class:`Renderer` entry in :data:`RENDERERS`: ``render(batch, **options) -> str`` in a module
of this package, taking the :class:`OutputOptions` it names.  :func:`renderer` constructs it with
its options; :func:`render` renders a batch.

Names in a report (file, column and run names, and the messages quoting them) come
from the input and may hold anything; :func:`printable` is how they reach a terminal
or CI log, and each machine format escapes them by its own rules as well."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..vocabulary import ALIASES as ALIASES  # other names of a format -> the format
from ..vocabulary import OutputFormat as OutputFormat  # the output formats (one list)

if TYPE_CHECKING:
    from ..report import Batch


@dataclass(frozen=True)
class OutputOptions:
    """How a batch is shown, beyond its format: the command line's output options.  A renderer takes
    those its :class:`Renderer` entry names; the others do not concern its format."""

    #: text: each finding's remedies and the skipped rules; for several logs, every report after the table
    full: bool = False
    #: github: the lowest severity annotated finding by finding (default: ``fail_on``)
    annotate: str | None = None
    #: text on a terminal: no colours or styles
    no_color: bool = False


@dataclass(frozen=True)
class Renderer:
    """One output format's renderer: ``function(batch, **options) -> str`` in ``module`` (of this
    package, imported only when used), given the :class:`OutputOptions` fields ``options`` names.
    ``show``: the function of ``module`` that prints to a rich console instead (colours, the
    terminal's width), ``show(batch, console, **options)``; ``quiet_when_unread``: nothing on stdout
    when no input could be read (a JSON array of failures is no report)."""

    module: str
    function: str = "render"
    options: tuple[str, ...] = ()
    show: str | None = None
    quiet_when_unread: bool = False

    def _load(self, function: str) -> Callable[..., Any]:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{self.module}"), function)

    def _kwargs(self, options: OutputOptions) -> dict[str, Any]:
        return {name: getattr(options, name) for name in self.options}

    def bind(self, options: OutputOptions) -> Callable[["Batch"], str]:
        """``render(batch) -> str`` with ``options`` given."""
        import functools

        return functools.partial(self._load(self.function), **self._kwargs(options))

    def bind_show(self, options: OutputOptions) -> Callable[["Batch", Any], None] | None:
        """``show(batch, console)`` with ``options`` given, or None: the format prints its text as it is."""
        if self.show is None:
            return None
        import functools

        return functools.partial(self._load(self.show), **self._kwargs(options))


#: format -> its renderer (an alias, the renderer of the format it names)
RENDERERS: dict[OutputFormat, Renderer] = {
    OutputFormat.text: Renderer("text", options=("full",), show="show"),
    OutputFormat.json: Renderer("json", quiet_when_unread=True),
    OutputFormat.jsonl: Renderer("json", "render_lines"),
    OutputFormat.markdown: Renderer("markdown"),
    OutputFormat.github: Renderer("github", options=("annotate",)),
    OutputFormat.junit: Renderer("junit"),
    OutputFormat.sarif: Renderer("sarif"),
    OutputFormat.gitlab: Renderer("gitlab"),
    OutputFormat.gitlab_metrics: Renderer("gitlab_metrics"),
    OutputFormat.azure: Renderer("azure"),
}


def renderer(fmt: OutputFormat | str, options: OutputOptions | None = None) -> Callable[["Batch"], str]:
    """The renderer of ``fmt`` (a format, an alias or its name), constructed with ``options``."""
    return RENDERERS[OutputFormat(fmt).canonical].bind(options or OutputOptions())


def render(batch: "Batch", fmt: OutputFormat | str, options: OutputOptions | None = None) -> str:
    """``batch`` in the format ``fmt``, with ``options`` (:class:`OutputOptions`)."""
    return renderer(fmt, options)(batch)


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
