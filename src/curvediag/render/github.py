"""GitHub Actions workflow commands: one annotation per finding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import printable

if TYPE_CHECKING:
    from ..batch import Batch
    from ..report import Report

LEVEL = {"error": "error", "warning": "warning", "info": "notice", "ok": "notice"}


def _escape_data(s: str) -> str:
    """GitHub's escaping of a command's message (``%`` ``\\r`` ``\\n``), so that no name can end
    the line and start a command of its own; other control characters shown escaped."""
    return printable(s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _projection(r: "Report") -> str:
    """The projection, appended to the notice of a clean run and to a still-improving finding."""
    return "" if r.projection is None or not r.projection.projected else f" Projection: {r.projection.summary()}."


def render(batch: "Batch") -> str:
    from ..batch import Unreadable

    lines = []
    for r in batch.items:
        if isinstance(r, Unreadable):
            path = "<stdin>" if r.path == "-" else r.path
            lines.append(f"::error file={_escape_prop(path)},title={_escape_prop('curvediag: unreadable')}::"
                         f"{_escape_data(r.problem)}")
            continue
        if not r.findings:
            lines.append(f"::notice file={_escape_prop(r.source.path)},title={_escape_prop('curvediag: ' + r.verdict)}::"
                         f"{_escape_data(r.headline + _projection(r))}")
        for f in r.findings:
            title = f"curvediag {f.code} {f.name}"
            extra = _projection(r) if f.verdict == "still_improving" else ""
            lines.append(
                f"::{LEVEL[f.severity]} file={_escape_prop(r.source.path)},title={_escape_prop(title)}::"
                f"{_escape_data(f.message + extra)}"
            )
    return "\n".join(lines) + "\n"
