"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from . import printable
from ..report import Unreadable
from .summary import name_of, position, worst_first

if TYPE_CHECKING:
    from ..report import Batch, Unreadable

ICON = {"ok": "✅", "info": "ℹ️", "warning": "⚠️", "error": "❌"}


def _n(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return "NaN" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _cell(text: str) -> str:
    """Plain text from the input, safe in a paragraph or a table cell of a PR comment: control
    characters escaped, no raw HTML (``<`` ``&`` as entities), no links, code spans or escapes
    of its own (``[`` ``]`` `````` ``\\`` backslash-escaped), ``|`` kept inside its cell."""
    text = printable(text).replace("&", "&amp;").replace("<", "&lt;")
    for ch in "\\`[]|":
        text = text.replace(ch, "\\" + ch)
    return text


def _code(text: str, table: bool = False) -> str:
    """A name as an inline code span that no backtick in it can close early (the fence is
    longer than any run of backticks inside); HTML inside a code span is never parsed."""
    text = printable(text)
    if table:
        text = text.replace("|", "\\|")
    runs = [len(m) for m in re.findall("`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _path(u: "Unreadable") -> str:
    return "<stdin>" if u.path == "-" else u.path


def render(batch: "Batch") -> str:
    reports = batch.reports
    out: list[str] = ["## curvediag", ""]
    if len(batch.items) > 1:
        # as the text summary: positions with their unit, worst first (names whole: a PR comment's
        # table wraps them, and they say where each run is)

        items = list(batch.items)
        names = [name_of(r) for r in items]
        out += ["| run | format | verdict | best | onset | headline |", "|---|---|---|---|---|---|"]
        for i in worst_first(items):
            r = items[i]
            if isinstance(r, Unreadable):
                out.append(f"| {_code(names[i], table=True)} | – | {ICON['error']} **unreadable** | – | – | {_cell(r.problem)} |")
                continue
            kind = r.source.axis_kind
            best, onset = (position(v, kind).replace("-", "–") if v is None else position(v, kind) for v in (r.best_epoch, r.onset_epoch))
            out.append(
                f"| {_code(names[i], table=True)} | {_cell(r.source.format)} | {ICON[r.severity]} **{r.verdict}**"
                f"{f' or {r.alternative} (borderline)' if r.borderline else ''} | "
                f"{best} | {onset} | {_cell(r.headline)} |"
            )
        out.append("")
    for u in batch.unreadable:
        out += [f"### {ICON['error']} unreadable — {_code(_path(u))}", "", f"**{_cell(u.problem)}**", ""]
    for r in reports:
        out += [f"### {ICON[r.severity]} {r.verdict.replace('_', ' ')} — {_code(r.source.path)}", ""]
        out += [f"**{_cell(r.headline)}**", ""]
        out.append(f"{_cell(r.source.format)}, {r.source.rows} rows, axis {_code(r.source.axis)}; "
                   + ", ".join(f"{k} ← {_code(v)}" for k, v in r.source.columns.items()))
        out.append("")
        out += ["| metric | first | best | at | last |", "|---|---|---|---|---|"]
        for m in r.metrics:
            out.append(f"| {_cell(m.label)} | {_n(m.first)} | {_n(m.best)} | {_n(m.best_at)} | {_n(m.last)} |")
        out.append("")
        if r.projection is not None:
            out += [f"**Projection:** {_cell(r.projection.summary())}", ""]
        if r.findings:
            for f in r.findings:
                out.append(f"- {ICON[f.severity]} **{f.code} {f.name}** ({f.severity}): {_cell(f.message)}")
            remedies = list(r.remedies)  # once each, the deciding finding's first, in the log's framework
            if remedies:
                out += ["", "<details><summary>What to do</summary>", ""]
                out += [f"- {_cell(x)}" for x in remedies]
                out += ["", "</details>"]
            out.append("")
        for note in r.source.notes:
            out.append(f"> {_cell(note)}")
        if r.source.notes:
            out.append("")
    return "\n".join(out).rstrip() + "\n"
