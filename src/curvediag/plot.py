"""Pictures of the curves: a terminal chart (no dependencies) and PNG/SVG/HTML
files (matplotlib, from the ``plot`` extra).  Both only read a Report's source
curves and findings; nothing here changes a verdict."""

from __future__ import annotations

import html

from pathlib import Path

from ._np import np

from .curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Curves
from .errors import UsageError
from .report import Report

HINT = 'plots need matplotlib: pip install "curvediag[plot]"'


def _problem_span(report: Report):
    for f in report.findings:
        if f.verdict == report.verdict and f.span is not None:
            return f.span
    return None


def terminal_chart(curves: Curves, report: Report, width: int = 72, height: int = 16) -> str:
    """Losses on a character grid: train '·', validation '●', best epoch '|', problem span '═' below."""
    series = [(curves.get(n), ch) for n, ch in ((TRAIN_LOSS, "·"), (VAL_LOSS, "●"))]
    series = [(s.finite(), ch) for s, ch in series if s is not None and len(s.finite())]
    if not series:
        return "(no finite loss to draw)\n"
    xs = np.concatenate([s.x for s, _ in series])
    ys = np.concatenate([s.y for s, _ in series])
    x0, x1 = float(xs.min()), float(xs.max())
    lo, hi = float(np.quantile(ys, 0.0)), float(np.quantile(ys, 0.98))  # a first-epoch spike does not flatten the rest
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    grid = [[" "] * width for _ in range(height)]

    def col(x):
        return 0 if x1 == x0 else int(round((x - x0) / (x1 - x0) * (width - 1)))

    def row(y):
        y = min(max(y, lo), hi)
        return height - 1 - int(round((y - lo) / (hi - lo) * (height - 1)))

    span = _problem_span(report)
    if report.best_epoch is not None and x0 <= report.best_epoch <= x1:
        for r in range(height):
            grid[r][col(report.best_epoch)] = "|"
    for s, ch in series:
        for x, y in zip(s.x, s.y):
            grid[row(y)][col(x)] = ch
    from .render import printable

    lines = [f"{report.verdict.upper().replace('_', ' ')}: {printable(report.headline)}"]
    for r, cells in enumerate(grid):
        label = f"{hi:>9.4g} " if r == 0 else (f"{lo:>9.4g} " if r == height - 1 else " " * 10)
        lines.append(label + "".join(cells))
    if span is not None:
        a, b = col(span[0]), col(span[1])
        lines.append(" " * 10 + " " * a + "═" * max(1, b - a + 1))
    lines.append(" " * 10 + f"{x0:<{width // 2}g}{x1:>{width - width // 2}g}")
    legend = "  ".join(f"{ch} {s.label}" for s, ch in series)
    extra = "  | best" if report.best_epoch is not None else ""
    extra += f"  ═ {report.verdict} span" if span is not None else ""
    lines.append(" " * 10 + legend + extra)
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    """A name as matplotlib text: '$' would start mathtext (a parse error on savefig), a
    leading '_' would hide a legend entry; control characters shown escaped."""
    from .render import printable

    text = printable(text).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


def _figure(curves: Curves, report: Report):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(HINT) from None
    has_acc = curves.get(VAL_ACC) is not None or curves.get(TRAIN_ACC) is not None
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(11 if has_acc else 6.5, 4), squeeze=False)
    span = _problem_span(report)
    panels = [(axes[0][0], (TRAIN_LOSS, VAL_LOSS), "loss")]
    if has_acc:
        panels.append((axes[0][1], (TRAIN_ACC, VAL_ACC), "accuracy / quality metric"))
    for ax, names, label in panels:
        plain = any(curves.get(n) is not None and not curves.series[n].as_read for n in names)
        for name in names:
            s = curves.get(name)
            if s is None:
                continue
            # a quality metric or an error rate (eval_wer) in its own name, units and direction, on
            # its own scale beside an accuracy; 1 - rate stays internal
            into, y, shown = ax, s.y, f"{name} ({s.column})"
            if s.as_read:
                y, shown = s.as_logged(), s.label
                if plain:
                    into = ax.twinx()
                    into.set_ylabel(_label(s.label + (" (lower is better)" if s.inverted else "")))
                else:
                    label = s.label + (" (lower is better)" if s.inverted else "")
            into.plot(s.x, y, label=_label(shown), lw=1.6, ls="-" if name.startswith("val") else "--",
                      color="tab:purple" if into is not ax else None)
            bad = ~np.isfinite(s.y)
            if bad.any():
                into.plot(s.x[bad], np.zeros(int(bad.sum())), "rx", label=_label(f"{shown} non-finite"))
            if into is not ax:
                into.legend(fontsize=8, loc="lower right")
        if span is not None:
            ax.axvspan(span[0], span[1], color="tab:red", alpha=0.12, label=f"{report.verdict} span")
        if report.best_epoch is not None:
            ax.axvline(report.best_epoch, color="tab:green", ls=":", label=f"best epoch {report.best_epoch:g}")
        ax.set_xlabel(_label(report.source.axis))
        ax.set_ylabel(_label(label))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(_label(f"{report.verdict.replace('_', ' ')}: {Path(report.source.path).name}"), fontsize=11)
    fig.tight_layout()
    return fig, plt


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError(HINT) from None
    return plt


def _overlay(curves: Curves, baseline: list[Curves], report: Report):
    """The run (bold) over its baseline logs (faint): the judged curve (validation loss, else
    the loss, else 1 - the metric) and the training loss side by side, with the comparison
    findings' span shaded."""
    from .analysis import Context

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    judged = Context(curves).judged
    name = judged.name if judged is not None else VAL_LOSS
    for ax, which in ((axes[0][0], name), (axes[0][1], TRAIN_LOSS)):
        for i, c in enumerate(baseline):
            t = Context(c).judged if which == name else Context(c).track(TRAIN_LOSS)
            if t is not None:
                ax.plot(t.x, t.y, color="tab:gray", lw=1.0, alpha=0.45, label=f"baseline ({len(baseline)} logs)" if i == 0 else None)
        t = judged if which == name else Context(curves).track(TRAIN_LOSS)
        if t is not None:
            ax.plot(t.x, t.y, color="tab:red", lw=2.4, label=_label(f"run: {Path(curves.source.path).name}"))
        for f in report.findings:
            if f.code.startswith("B") and f.span is not None and which == name:
                ax.axvspan(f.span[0], f.span[1], color="tab:red", alpha=0.06)
        ax.set_xlabel(_label(report.source.axis))
        ax.set_ylabel(_label(which))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    regressed = sorted({f.code for f in report.findings if f.code.startswith("B") and f.severity != "info"})
    title = f"regression ({', '.join(regressed)})" if regressed else "no regression"
    fig.suptitle(_label(f"{title}: {Path(report.source.path).name} against its baseline"), fontsize=11)
    fig.tight_layout()
    return fig, plt


def write_overlay(path: str, curves: Curves, baseline: list[Curves], report: Report) -> None:
    """The run drawn over its baseline logs, to PNG, SVG or HTML as :func:`write_plot`."""
    write_plot(path, curves, report, _overlay(curves, baseline, report))


def write_plot(path: str, curves: Curves, report: Report, figure=None) -> None:
    """PNG or SVG by extension; HTML is a self-contained page with the chart as inline SVG.
    ``figure``: (fig, pyplot) already drawn, instead of the run's own chart."""
    import io

    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".svg", ".html", ".htm"):
        raise UsageError(f"{path}: --plot takes a .png, .svg or .html file")
    fig, plt = figure or _figure(curves, report)
    buf = io.BytesIO() if suffix == ".png" else io.StringIO()
    fig.savefig(buf, format="png" if suffix == ".png" else "svg", dpi=120)
    plt.close(fig)
    data = buf.getvalue()
    if suffix in (".html", ".htm"):
        svg = data[data.index("<svg") :]
        from .render import printable

        def h(text: str) -> str:
            return html.escape(printable(text))

        items = "".join(
            f"<li><b>{html.escape(f.code)} {html.escape(f.name)}</b> ({f.severity}): {h(f.message)}</li>"
            for f in report.findings
        )
        data = (
            "<!doctype html><html><head><meta charset='utf-8'><title>curvediag: "
            f"{html.escape(report.verdict)}</title></head><body style='font-family:sans-serif;max-width:1100px'>"
            f"<h1>{html.escape(report.verdict.replace('_', ' '))}</h1><p>{h(report.headline)}</p>"
            f"<p><code>{h(report.source.path)}</code> — {h(report.source.format)}</p>"
            f"{svg}<ul>{items}</ul></body></html>\n"
        )
    from .output import write_output

    write_output(path, data)


__all__ = ["terminal_chart", "write_plot", "write_overlay", "HINT"]
