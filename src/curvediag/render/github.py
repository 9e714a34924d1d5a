"""GitHub Actions workflow commands, within GitHub's limits (it shows at most 10 annotations of a
level per step and 50 per job, and drops the rest): each finding at or above the annotation level
(``--annotate``, else ``--fail-on``; ``warning`` when that is ``never``) is an annotation of its
own; the findings of a log below it are one annotation per level (the first of them, or all of
them summarised); a clean log is one notice; an unreadable input is an error.  ``line=`` is the
line of the row where the finding starts, when the log is a text file with a row per line.  When a
level would still pass :data:`PER_LEVEL`, its last annotation says how many more there were."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import printable
from .locate import line_of
from ..report import Unreadable
from ..report import severity_rank

if TYPE_CHECKING:
    from ..report import Batch
    from ..report import Finding, Report

LEVEL = {"error": "error", "warning": "warning", "info": "notice", "ok": "notice"}
#: annotations of one level GitHub shows per step (and 50 per job): more are dropped
PER_LEVEL = 10


def _escape_data(s: str) -> str:
    """GitHub's escaping of a command's message (``%`` ``\\r`` ``\\n``), so that no name can end
    the line and start a command of its own; other control characters shown escaped."""
    return printable(s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_prop(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _projection(r: "Report") -> str:
    """The projection, appended to the notice of a clean run and to a still-improving finding."""
    return "" if r.projection is None or not r.projection.projected else f" Projection: {r.projection.summary()}."


def _command(level: str, path: str | None, title: str, message: str, line: int | None = None) -> str:
    props = ([f"file={_escape_prop(path)}"] if path is not None else []) + [f"title={_escape_prop(title)}"]
    if line is not None:
        props.append(f"line={line}")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"


def _message(r: "Report", f: "Finding") -> str:
    return f.message + (_projection(r) if f.verdict == "still_improving" else "")


def threshold(batch: "Batch", annotate: str | None) -> str:
    """The lowest severity annotated finding by finding."""
    level = annotate or batch.settings.fail_on
    return "warning" if level in (None, "never") and annotate is None else level


def commands(batch: "Batch", annotate: str | None = None) -> list[tuple[str, str]]:
    """(level, command) per annotation, in input order, before the per-level limit."""

    level = threshold(batch, annotate)
    limit = None if level == "never" else severity_rank(level)
    out: list[tuple[str, str]] = []
    for given, r in zip(batch.paths, batch.items):
        if isinstance(r, Unreadable):
            path = "<stdin>" if r.path == "-" else r.path
            out.append(("error", _command("error", path, "curvediag: unreadable", r.problem)))
            continue
        path = r.source.path
        if not r.findings:
            out.append(("notice", _command("notice", path, f"curvediag: {r.verdict}", r.headline + _projection(r))))
            continue
        below: dict[str, list["Finding"]] = {}
        for f in r.findings:
            if limit is not None and severity_rank(f.severity) >= limit:
                lv = LEVEL[f.severity]
                out.append((lv, _command(lv, path, f"curvediag {f.code} {f.name}", _message(r, f), line_of(r, f, given))))
            else:
                below.setdefault(f.severity, []).append(f)
        for sev, found in below.items():
            lv, first = LEVEL[sev], found[0]
            if len(found) == 1:
                title, message = f"curvediag {first.code} {first.name}", _message(r, first)
            else:
                title = f"curvediag: {len(found)} {sev} findings ({' '.join(f.code for f in found)})"
                message = "\n".join(f"{f.code} {f.name}: {_message(r, f)}" for f in found)
            out.append((lv, _command(lv, path, title, message, line_of(r, first, given))))
    return out


def render(batch: "Batch", annotate: str | None = None) -> str:
    made = commands(batch, annotate)
    count: dict[str, int] = {}
    for lv, _ in made:
        count[lv] = count.get(lv, 0) + 1
    shown: dict[str, int] = {}
    lines = []
    for lv, line in made:
        keep = PER_LEVEL if count[lv] <= PER_LEVEL else PER_LEVEL - 1
        if shown.get(lv, 0) < keep:
            shown[lv] = shown.get(lv, 0) + 1
            lines.append(line)
    for lv in ("error", "warning", "notice"):
        more = count.get(lv, 0) - shown.get(lv, 0)
        if more > 0:
            lines.append(_command(lv, None, f"curvediag: {more} more {lv} annotations",
                                  f"{more} more {lv} annotations were left out: GitHub shows at most {PER_LEVEL} of a "
                                  "level per step. The step summary (--format markdown) or --format sarif lists every "
                                  "finding."))
    return "\n".join(lines) + "\n"
