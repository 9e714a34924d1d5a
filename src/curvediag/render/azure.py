"""Azure Pipelines logging commands: ``##vso[task.logissue type=error|warning;sourcepath=...;
linenumber=...;code=...]message`` per error or warning finding and per unreadable input (an error);
each log's verdict and headline and its info findings as plain lines (Azure has no info level for issues).
Escaped as Azure's task library does (``%`` -> ``%AZP25``, CR -> ``%0D``, LF -> ``%0A``; in
properties also ``;`` -> ``%3B`` and ``]`` -> ``%5D``), other control characters by
:func:`~curvediag.render.printable`, and a ``##`` in a plain line broken up, so no name can end
the line or forge a command of its own."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import printable
from .locate import line_of, relative
from ..report import Unreadable

if TYPE_CHECKING:
    from ..report import Batch


def escape_data(s: str) -> str:
    return printable(s.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(s: str) -> str:
    return escape_data(s).replace(";", "%3B").replace("]", "%5D")


def _plain(s: str) -> str:
    """A line that is not a command: no ``##`` Azure could read as one."""
    return printable(s).replace("##", "# #")


def _issue(kind: str, path: str, message: str, code: str | None = None, line: int | None = None) -> str:
    props = [f"type={kind}", f"sourcepath={escape_property(relative(path) or path)}"]
    if line is not None:
        props.append(f"linenumber={line}")
    if code is not None:
        props.append(f"code={escape_property(code)}")
    return f"##vso[task.logissue {';'.join(props)}]{escape_data(message)}"


def render(batch: "Batch") -> str:
    out: list[str] = []
    for given, item in zip(batch.paths, batch.items):
        if isinstance(item, Unreadable):
            path = "<stdin>" if item.path == "-" else item.path
            out.append(_issue("error", path, f"curvediag: unreadable: {item.problem}", "unreadable"))
            continue
        path = item.source.path
        out.append(_plain(f"curvediag: {path}: {item.verdict} ({item.severity}): {item.headline}"))
        for f in item.findings:
            message = f"{f.code} {f.name}: {f.message}"
            if f.severity in ("error", "warning"):
                out.append(_issue(f.severity, path, message, f.code, line_of(item, f, given)))
            else:
                out.append(_plain(f"curvediag: {path}: info {message}"))
    return "".join(line + "\n" for line in out)
