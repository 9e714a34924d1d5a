"""The human report, drawn with rich.  The only module that imports rich."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

from ..report import Report
from . import printable as _p
from ..report import Unreadable
from ..terminal import rstrip_lines
from .summary import name_of, position, short_names, worst_first

if TYPE_CHECKING:
    from ..report import Batch

_BARS = "▁▂▃▄▅▆▇█"
STYLE = {"ok": "green", "info": "cyan", "warning": "yellow", "error": "red"}


def resample(values: Sequence[float], width: int) -> list[float]:
    """``values`` averaged into ``width`` equal bins (the whole curve, not its first ``width``
    points); a bin holding a NaN or infinity is that value, so no non-finite point is hidden."""
    n = len(values)
    if width <= 0 or n <= width:
        return list(values)
    out = []
    for b in range(width):
        chunk = values[b * n // width: (b + 1) * n // width]
        bad = [v for v in chunk if not math.isfinite(v)]
        out.append(bad[0] if bad else sum(chunk) / len(chunk))
    return out


def sparkline(values: Sequence[float], width: int = 0) -> str:
    """The curve in block characters, resampled to at most ``width`` (0: one per value)."""
    values = resample(values, width)
    fin = [v for v in values if math.isfinite(v)]
    if not fin:
        return "×" * len(values)
    lo, hi = min(fin), max(fin)
    span = hi / 2 - lo / 2  # halved: the span of -1e308 .. 1e308 is no overflow
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append("×")
        elif span == 0:
            out.append(_BARS[3])
        else:
            out.append(_BARS[min(7, max(0, int((v / 2 - lo / 2) / span * 7.999)))])
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


def _metric_lines(r: Report, width: int = 0) -> list:
    """The metrics table as aligned lines.  Drawn by hand, not with rich's Table: that
    costs every run ~10 ms of import and layout for six plain columns.  ``width``: the
    console's; the sparklines are resampled to the room left (never cropped)."""
    from rich.text import Text

    head = ("metric", "first", "best", "at", "last", "curve")
    right = (False, True, True, True, True, False)
    cells: list[tuple] = []
    curves: list[Sequence[float]] = []
    for m in r.metrics:
        name = Text(_p(m.label))
        if m.non_finite:
            name.append(f" ({m.non_finite} non-finite)", style="red")
        cells.append((name, _n(m.first), _n(m.best), _pos(m.best_at), _n(m.last)))
        curves.append(m.values)
    fixed = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(head[:-1])]
    room = max(1, width - sum(fixed) - 2 * len(fixed)) if width else 0
    rows = [(*row, sparkline(values, room)) for row, values in zip(cells, curves)]
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


def _indented(console: Any, text: str, left: int = 2, style: str = "") -> None:
    """A line of text, indented by ``left`` columns (wrapped lines too)."""
    from rich.padding import Padding
    from rich.text import Text

    console.print(Padding(Text(_p(text), style=style), (0, 0, 0, left), expand=False))


def _head(r: Report, console: Any) -> None:
    """The log (path, format, rows, axis), its columns and notes, and the verdict in a panel."""
    from rich.panel import Panel
    from rich.text import Text

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
            title=Text.assemble((r.verdict.upper().replace("_", " "), "bold"),
                                f" ({r.severity}{', borderline' if r.borderline else ''})"),
            border_style=style,
            title_align="left",
        )
    )


def _facts(r: Report) -> list[str]:
    """The run's facts on one line: best epoch, onset, epochs after best, confidence, final gaps."""
    facts = []
    if r.best_epoch is not None:
        by = next((m.label for m in r.metrics if m.name == r.best_epoch_metric), r.best_epoch_metric)
        facts.append(f"best epoch {_pos(r.best_epoch)} (by {by})")
    if r.onset_epoch is not None:
        facts.append(f"onset {_pos(r.onset_epoch)}")
    if r.epochs_after_best is not None:
        facts.append(f"{_pos(r.epochs_after_best)} after best")
    if r.confidence is not None:
        facts.append(f"confidence {r.confidence:.0%}")
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
    return facts


def _findings(r: Report, console: Any, full: bool) -> None:
    """Each finding (code, name, severity, message); ``full``: its remedies under it, each once."""
    shown: set[str] = set()
    for f in r.findings:
        console.print()
        console.print(f"[bold {STYLE[f.severity]}]{f.code}[/] [bold]{f.name}[/] [{STYLE[f.severity]}]{f.severity}[/]")
        _indented(console, f.message)
        if not full:
            continue
        new = [rem for rem in f.remedies if rem not in shown]
        if f.remedies and not new:
            _indented(console, "remedies: as above", style="dim")
        elif new:
            _indented(console, "remedies" + (" (besides those above)" if len(new) < len(f.remedies) else ""), style="bold")
            for rem in new:
                _indented(console, f"• {rem}", left=4)
        shown.update(f.remedies)


def _concise_tail(r: Report, console: Any) -> None:
    """The concise report's end: its first :data:`CONCISE_REMEDIES` remedies, and what ``--full`` adds."""
    from rich.text import Text

    rest = []
    todo = list(r.remedies[:CONCISE_REMEDIES])
    if todo:
        console.print()
        console.print(Text("remedies", style="bold"))
        for rem in todo:
            _indented(console, f"• {rem}")
    more = len(r.remedies) - len(todo)
    if more:
        rest.append(f"{more} more remed{'y' if more == 1 else 'ies'}")
    if r.skipped:
        rest.append(f"{len(r.skipped)} rule{'' if len(r.skipped) == 1 else 's'} that could not run")
    if rest:
        console.print(Text(_p(f"--full shows {' and '.join(rest)}"), style="dim"))


def render_reports(reports: Sequence[Report], console: Any, full: bool = False) -> None:
    """Each report: the verdict, the metrics and the findings (the evidence), then, concise, the
    report's first :data:`CONCISE_REMEDIES` remedies; ``full``: each finding's remedies under it
    and the rules that could not run (skipped).  In sections: :func:`_head`, the metrics table,
    :func:`_facts`, reading and projection, :func:`_findings`, then :func:`_concise_tail` or the
    skipped rules."""
    from rich.text import Text

    for i, r in enumerate(reports):
        if i:
            console.rule()
        _head(r, console)
        for line in _metric_lines(r, console.width):
            console.print(line, overflow="crop", no_wrap=True)
        facts = _facts(r)
        if facts:
            console.print(Text(_p(" · ".join(facts))))
        if r.interpretation:
            console.print(Text(_p(f"reading: {r.interpretation}")))
        if r.projection is not None:
            console.print(Text(_p(f"projection: {r.projection.summary()}")))
        _findings(r, console, full)
        if not full:
            _concise_tail(r, console)
            continue
        if r.skipped:
            console.print()
            console.print("[dim]skipped:[/]")
            for s in r.skipped:
                _indented(console, f"{s.code} {s.name}: {s.reason}", style="dim")


def render_summary(items, console) -> None:
    """One line per run (each a Report or an Unreadable input), worst first: the table for many runs
    at once.  Drawn by hand, so a run's name is never cut (a terminal too narrow wraps the line)."""
    from rich.text import Text


    names = short_names([name_of(r) for r in items])
    head = ("run", "verdict", "best", "onset", "format")
    rows = []
    for i in worst_first(items):
        r = items[i]
        if isinstance(r, Unreadable):
            rows.append((r, (_p(names[i]), "unreadable", "-", "-", "-"), "red"))
            continue
        kind = r.source.axis_kind
        verdict = f"{r.verdict} or {r.alternative}" if r.borderline else str(r.verdict)
        rows.append((r, (_p(names[i]), verdict, position(r.best_epoch, kind), position(r.onset_epoch, kind),
                         _p(r.source.format)), STYLE[r.severity]))
    widths = [max([len(h)] + [len(cells[c]) for _, cells, _ in rows]) for c, h in enumerate(head)]
    right = (False, False, True, True, False)

    def line(cells, verdict_style: str = "", style: str = ""):
        out = Text(style=style)
        for c, (cell, w) in enumerate(zip(cells, widths)):
            if c:
                out.append("  ")
            pad = " " * (w - len(cell))
            if right[c]:
                out.append(pad)
            out.append(cell, style=verdict_style if c == 1 else "")
            if not right[c] and c < len(head) - 1:
                out.append(pad)
        return out

    console.print(line(head, style="bold"), no_wrap=True, overflow="ignore", crop=False)
    for _, cells, style in rows:
        console.print(line(cells, style), no_wrap=True, overflow="ignore", crop=False)
    # the headlines of the runs that need a look, worst first, below the table
    for r, cells, _ in rows:
        if isinstance(r, Unreadable):
            console.print(Text(f"{cells[0]}: {_p(r.problem)}", style="red"))
            continue
        worst = r.worst_severity()  # a healthy run that regressed against a baseline (B1xx) is shown too
        if r.severity != "ok" or worst in ("warning", "error"):
            console.print(Text(f"{cells[0]}: {_p(r.headline)}", style=STYLE[r.severity if r.severity != "ok" else worst]))
    counts: dict[str, int] = {}
    failures = 0
    for r in items:
        if isinstance(r, Unreadable):
            failures += 1
        else:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
    parts = [f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    if failures:
        parts.append(f"{failures} unreadable")
    console.print(f"{len(items)} logs: " + ", ".join(parts))


def show(batch: "Batch", console, full: bool = False) -> None:
    """Print the batch on ``console``: one full report, or for several inputs the summary table
    (unreadable inputs included) and, with ``full``, every report after it."""
    reports = batch.reports
    if len(batch.items) > 1:
        render_summary(list(batch.items), console)
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

    return rstrip_lines(buf.getvalue())


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
