"""The human report, drawn with rich.  The only module that imports rich."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from ..report import Report
from . import printable as _p

if TYPE_CHECKING:
    from ..batch import Batch

_BARS = "▁▂▃▄▅▆▇█"
STYLE = {"ok": "green", "info": "cyan", "warning": "yellow", "error": "red"}


def sparkline(values: Sequence[float]) -> str:
    fin = [v for v in values if math.isfinite(v)]
    if not fin:
        return "×" * len(values)
    lo, hi = min(fin), max(fin)
    span = hi - lo
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append("×")
        elif span == 0:
            out.append(_BARS[3])
        else:
            out.append(_BARS[min(7, int((v - lo) / span * 7.999))])
    return "".join(out)


def _n(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v.is_integer() and abs(v) < 1e6:
            return str(int(v))
        return f"{v:.4g}"
    return str(v)


def _pos(v) -> str:
    return "-" if v is None else _n(float(v))


def _metric_lines(r: Report) -> list:
    """The metrics table as aligned lines.  Drawn by hand, not with rich's Table: that
    costs every run ~10 ms of import and layout for six plain columns."""
    from rich.text import Text

    head = ("metric", "first", "best", "at", "last", "curve")
    right = (False, True, True, True, True, False)
    rows = []
    for m in r.metrics:
        name = Text(_p(m.label))
        if m.non_finite:
            name.append(f" ({m.non_finite} non-finite)", style="red")
        rows.append((name, _n(m.first), _n(m.best), _pos(m.best_at), _n(m.last), sparkline(m.values)))
    widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(head)]

    def line(cells, style: str = "") -> object:
        out = Text(style=style)
        for i, (cell, w, r_) in enumerate(zip(cells, widths, right)):
            if i:
                out.append("  ")
            pad = " " * (w - len(cell))
            if r_:
                out.append(pad)
            out.append(cell)
            if not r_ and i < len(head) - 1:
                out.append(pad)
        return out

    return [line(head, "bold")] + [line(row) for row in rows]


#: Remedies the concise report lists (the deciding finding's first); ``--full`` lists every one.
CONCISE_REMEDIES = 5


def render_reports(reports: Sequence[Report], console, full: bool = False) -> None:  # noqa: C901 - one straight layout, section by section
    """Each report: the verdict, the metrics and the findings (the evidence), then, concise, the
    report's first :data:`CONCISE_REMEDIES` remedies; ``full``: each finding's remedies under it
    and the rules that could not run (skipped)."""
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.text import Text

    def indented(text: str, left: int = 2, style: str = "") -> None:
        console.print(Padding(Text(_p(text), style=style), (0, 0, 0, left), expand=False))

    for i, r in enumerate(reports):
        if i:
            console.rule()
        src = r.source
        console.print(Text.assemble((_p(src.path), "bold"), "  format ", (_p(src.format), "bold"),
                                    f", {src.rows} rows, axis {_p(src.axis)}"))
        mapping = ", ".join(f"{k} ← {v}" for k, v in src.columns.items())
        console.print(Text(_p(f"columns: {mapping}")))
        for note in src.notes:
            console.print(Text(_p(f"note: {note}"), style="dim"))
        style = STYLE[r.severity]
        console.print(
            Panel(
                Text(_p(r.headline)),
                # a Text, not markup: markup would load rich's 4 ms emoji table on every run
                title=Text.assemble((r.verdict.upper().replace("_", " "), "bold"), f" ({r.severity})"),
                border_style=style,
                title_align="left",
            )
        )
        for line in _metric_lines(r):
            console.print(line, overflow="crop", no_wrap=True)
        facts = []
        if r.best_epoch is not None:
            by = next((m.label for m in r.metrics if m.name == r.best_epoch_metric), r.best_epoch_metric)
            facts.append(f"best epoch {_pos(r.best_epoch)} (by {by})")
        if r.onset_epoch is not None:
            facts.append(f"onset {_pos(r.onset_epoch)}")
        if r.epochs_after_best is not None:
            facts.append(f"{_pos(r.epochs_after_best)} after best")
        gap = r.final_gap
        if gap.get("loss") is not None:
            rel = gap.get("loss_relative")
            if rel is None:
                extra = ""
            elif abs(rel) < 10:
                extra = f" ({rel * 100:+.0f}% of train)"
            else:
                extra = f" (val {rel + 1:.3g}x train)"
            facts.append(f"final val-train loss gap {_n(gap['loss'])}{extra}")
        if gap.get("acc") is not None:
            facts.append(f"train-val acc gap {gap['acc']:+.3f}")
        if facts:
            console.print(Text(_p(" · ".join(facts))))
        if r.interpretation:
            console.print(Text(_p(f"reading: {r.interpretation}")))
        if r.projection is not None:
            console.print(Text(_p(f"projection: {r.projection.summary()}")))
        shown: set[str] = set()
        for f in r.findings:
            console.print()
            console.print(f"[bold {STYLE[f.severity]}]{f.code}[/] [bold]{f.name}[/] [{STYLE[f.severity]}]{f.severity}[/]")
            indented(f.message)
            if not full:
                continue
            new = [rem for rem in f.remedies if rem not in shown]
            if f.remedies and not new:
                indented("remedies: as above", style="dim")
            elif new:
                indented("remedies" + (" (besides those above)" if len(new) < len(f.remedies) else ""), style="bold")
                for rem in new:
                    indented(f"• {rem}", left=4)
            shown.update(f.remedies)
        rest = []
        if not full:
            todo = list(r.remedies[:CONCISE_REMEDIES])
            if todo:
                console.print()
                console.print(Text("remedies", style="bold"))
                for rem in todo:
                    indented(f"• {rem}")
            more = len(r.remedies) - len(todo)
            if more:
                rest.append(f"{more} more remed{'y' if more == 1 else 'ies'}")
            if r.skipped:
                rest.append(f"{len(r.skipped)} rule{'' if len(r.skipped) == 1 else 's'} that could not run")
            if rest:
                console.print(Text(_p(f"--full shows {' and '.join(rest)}"), style="dim"))
            continue
        if r.skipped:
            console.print()
            console.print("[dim]skipped:[/]")
            for s in r.skipped:
                indented(f"{s.code} {s.name}: {s.reason}", style="dim")


def render_summary(reports: Sequence[Report], failures, console) -> None:
    """One line per run: the table for many runs at once."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    table.add_column("run", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("format", no_wrap=True, overflow="ellipsis", max_width=14)
    table.add_column("verdict", no_wrap=True)
    table.add_column("best", justify="right", no_wrap=True)
    table.add_column("onset", justify="right", no_wrap=True)
    wide = console.width >= 140
    if wide:
        table.add_column("headline", overflow="fold", ratio=1, min_width=30)
    for r in reports:
        # Text, never markup: a file name such as "[link=...]x[/link]" is shown as it is
        row: list = [Text(_p(r.source.path)), Text(_p(r.source.format)), Text(r.verdict, style=STYLE[r.severity]),
               _pos(r.best_epoch), _pos(r.onset_epoch)]
        table.add_row(*row, *([Text(_p(r.headline))] if wide else []))
    for path, problem in failures:
        table.add_row(Text(_p(path)), "-", Text("unreadable", style="red"), "-", "-", *([Text(_p(problem))] if wide else []))
    console.print(table)
    if not wide:  # a narrow terminal: the findings' headlines below the table
        for r in reports:
            worst = r.worst_severity()  # a healthy run that regressed against a baseline (B1xx) is shown too
            if r.severity != "ok" or worst in ("warning", "error"):
                console.print(Text(_p(f"{r.source.path}: {r.headline}"), style=STYLE[r.severity if r.severity != "ok" else worst]))
        for path, problem in failures:
            console.print(Text(_p(f"{path}: {problem}"), style="red"))
    counts: dict[str, int] = {}
    for r in reports:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    parts = [f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    if failures:
        parts.append(f"{len(failures)} unreadable")
    console.print(f"{len(reports) + len(failures)} logs: " + ", ".join(parts))


def show(batch: "Batch", console, full: bool = False) -> None:
    """Print the batch on ``console``: one full report, or for several inputs the summary table
    (unreadable inputs included) and, with ``full``, every report after it."""
    reports, failures = batch.reports, [(u.path, u.problem) for u in batch.unreadable]
    if len(reports) + len(failures) > 1:
        render_summary(reports, failures, console)
        if full:
            console.print()
            render_reports(reports, console, full=True)
    else:
        render_reports(reports, console, full)


def render(batch: "Batch", full: bool = False) -> str:
    """The text report as plain text, 100 columns wide (for ``--output``)."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    show(batch, Console(file=buf, color_system=None, no_color=True, highlight=False, width=100), full)
    return buf.getvalue()


def inspect_text(info: dict) -> str:
    """``curvediag inspect``: what was read from a log (:func:`curvediag.api.inspect_log`), as plain text."""
    p = _p
    out = [f"{p(info['path'])}: format {info['format']}, {info['rows']} rows, axis {p(info['axis'])} ({info['axis_kind']})", ""]
    width = max([len(p(c["column"])) for c in info["columns"]] or [0])
    for c in info["columns"]:
        used = ", ".join(c["used_as"]) or "-"
        bad = f", {c['non_finite']} non-finite" if c["non_finite"] else ""
        out.append(f"  {p(c['column']):<{width}}  {c['points']:>6} points{bad}  -> {used}")
    out.append("")
    out.append("analysed: " + ", ".join(f"{k} {n} points" for k, n in info["analysed_points"].items()))
    out += [f"note: {p(note)}" for note in info["notes"]]
    return "\n".join(out) + "\n"
