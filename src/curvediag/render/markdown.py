"""Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import math
from typing import Sequence

from ..report import Report

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
    return text.replace("|", "\\|").replace("\n", " ")


def render(reports: Sequence[Report]) -> str:
    out: list[str] = ["## curvediag", ""]
    if len(reports) > 1:
        out += ["| run | format | verdict | best epoch | headline |", "|---|---|---|---|---|"]
        for r in reports:
            out.append(
                f"| `{_cell(r.source.path)}` | {r.source.format} | {ICON[r.severity]} **{r.verdict}** | "
                f"{_n(r.best_epoch)} | {_cell(r.headline)} |"
            )
        out.append("")
    for r in reports:
        out += [f"### {ICON[r.severity]} {r.verdict.replace('_', ' ')} — `{_cell(r.source.path)}`", ""]
        out += [f"**{_cell(r.headline)}**", ""]
        out.append(f"{r.source.format}, {r.source.rows} rows, axis `{r.source.axis}`; "
                   + ", ".join(f"{k} ← `{v}`" for k, v in r.source.columns.items()))
        out.append("")
        out += ["| metric | first | best | at | last |", "|---|---|---|---|---|"]
        for m in r.metrics:
            out.append(f"| {m.name} | {_n(m.first)} | {_n(m.best)} | {_n(m.best_at)} | {_n(m.last)} |")
        out.append("")
        if r.projection is not None:
            out += [f"**Projection:** {_cell(r.projection.summary())}", ""]
        if r.findings:
            for f in r.findings:
                out.append(f"- {ICON[f.severity]} **{f.code} {f.name}** ({f.severity}): {_cell(f.message)}")
            remedies = []
            for f in r.findings:
                remedies += [x for x in f.remedies if x not in remedies]
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
