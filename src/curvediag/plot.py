"""Pictures of the curves: a terminal chart (no dependencies) and PNG/SVG/HTML
files (matplotlib, from the ``plot`` extra).  Both only read a Report's source
curves and findings; nothing here changes a verdict."""

from __future__ import annotations

import html
import os
from pathlib import Path

from ._np import np

from .curves import LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Curves
from .errors import MissingExtra, UsageError
from .report import Report
from .analysis import Context
from .output import write_output
from .render import printable

HINT = 'plots need matplotlib: pip install "curvediag[plot]"'


def _problem_span(report: Report):
    for f in report.findings:
        if f.verdict == report.verdict and f.span is not None:
            return f.span
    return None


#: the terminal chart's styles (rich), used only when the terminal shows colour
_TERM_STYLE = {"·": "blue", "●": "yellow", "|": "green", "¦": "magenta", "×": "bold red", "░": "red dim", "═": "red",
               "┆": "red"}


def terminal_cells(curves: Curves, report: Report, width: int = 72, height: int = 16, shade: bool = False) -> list[str]:
    """The terminal chart as lines: losses on a character grid -- train '·', validation '●' (each
    column one point: the mean of the points that fall in it), best '|', onset '¦', non-finite
    points '×' on the top row, the problem span inside the axis (its ends '┆', or shaded '░' with
    ``shade``, for a terminal that colours it faintly) and '═' on the axis; a log scale when the
    losses span two decades, unless it would squeeze the curve the verdict rests on
    (:func:`_terminal_log`).  ``width`` is the grid's: each line is 10 wider."""
    raw = [(curves.series[n], ch) for n, ch in ((TRAIN_LOSS, "·"), (VAL_LOSS, "●")) if n in curves.series]
    series = [(s.finite(), ch) for s, ch in raw if len(s.finite())]
    total = width + 10

    def fit(text: str) -> str:
        return text if len(text) <= total else text[: total - 1] + "…"

    head = fit(f"{report.verdict.upper().replace('_', ' ')}: {printable(report.headline)}")
    if not series:
        return [head, "(no finite loss to draw)"]
    xs = np.concatenate([s.x for s, _ in raw]).astype(float)
    x0, x1 = float(xs.min()), float(xs.max())

    def col(x):
        c = np.zeros_like(x, dtype=int) if x1 == x0 else np.rint((np.asarray(x, float) - x0) / (x1 - x0) * (width - 1))
        return np.clip(c, 0, width - 1).astype(int)

    log = _terminal_log(series, report, col, width, height)
    tf = np.log10 if log else _identity
    scale = _TerminalScale(series, tf, height)
    lo, hi, row = scale.lo, scale.hi, scale.row
    grid = [[" "] * width for _ in range(height)]
    span = _problem_span(report)
    span_cols = range(int(col(span[0])), int(col(span[1])) + 1) if span is not None else range(0)
    _verticals(grid, report, span_cols, shade, col, x0, x1)
    for s, ch in series:
        for cc, rr in _cells_of(s, tf, row, col, width):
            grid[rr][cc] = ch
    for s, _ in raw:
        bad = ~np.isfinite(s.y)
        for cc in set(col(s.x[bad]).tolist()):
            grid[0][cc] = "×"

    def label(v: float) -> str:
        return f"{(10 ** v if log else v):>9.4g} "

    lines = [head]
    for r, cells in enumerate(grid):
        lab = label(hi) if r == 0 else (label(lo) if r == height - 1 else " " * 10)
        lines.append(lab + "".join(cells))
    axis = ["═" if c in span_cols else "─" for c in range(width)]
    lines.append(" " * 9 + "└" + "".join(axis))
    lines.append(" " * 10 + f"{x0:<{width // 2}g}{x1:>{width - width // 2}g}")
    lines.append(fit(" " * 10 + _terminal_legend(report, series, raw, span is not None, shade, log)))
    return lines


def _identity(v):
    return v


class _TerminalScale:
    """The terminal chart's value range on a scale (``tf``: identity or log10): from the lowest
    value to the 98th percentile (a first-epoch spike does not flatten the rest), and ``row`` of a
    (transformed) value."""

    def __init__(self, series, tf, height: int):
        ys = tf(np.concatenate([s.y for s, _ in series]).astype(float))
        with np.errstate(all="ignore"):
            lo, hi = float(np.min(ys)), float(np.quantile(ys, 0.98))
        if not hi > lo:
            if abs(lo) < 1e300:
                hi = lo + (abs(lo) or 1.0)
            else:  # +-1e308: no room above (or below) it
                lo, hi = (lo / 2, lo) if lo > 0 else (lo, lo / 2)
        self.lo, self.hi, self.height = lo, hi, height

    def row(self, y):
        lo, hi = self.lo, self.hi
        y = np.clip(y, lo, hi)
        frac = np.nan_to_num((y / 2 - lo / 2) / (hi / 2 - lo / 2), nan=0.0)  # halved: no overflow at +-1e308
        return (self.height - 1 - np.rint(np.clip(frac, 0.0, 1.0) * (self.height - 1))).astype(int)


def _cells_of(s, tf, row, col, width: int):
    """(column, row) of each column's point of the curve ``s``: the mean of the points in it."""
    c = col(s.x)
    counts = np.bincount(c, minlength=width)
    # each point weighted by 1/count: the means of the cells, never a sum beyond a float
    means = np.bincount(c, weights=tf(s.y.astype(float)) / counts[c], minlength=width)
    has = counts > 0
    return zip(np.nonzero(has)[0].tolist(), row(means[has]).tolist())


def _terminal_log(series, report: Report, col, width: int, height: int) -> bool:
    """A log scale when the losses span two decades (:func:`wants_log_scale`), unless it squeezes
    the curve the verdict rests on (the deciding finding's ``metric``, else the validation loss)
    into fewer rows than a linear scale gives it: the chart is there to show that curve."""
    if not wants_log_scale([s.y for s, _ in series]):
        return False
    deciding = next((f for f in report.findings if f.verdict == report.verdict), None)
    drawn = {s.name: s for s, _ in series}
    if deciding is None or len(drawn) < 2:
        return True
    evidence = drawn.get(str(deciding.evidence.get("metric"))) or drawn.get(VAL_LOSS) or drawn.get(TRAIN_LOSS)

    def rows(tf) -> int:
        scale = _TerminalScale(series, tf, height)
        return len({r for _c, r in _cells_of(evidence, tf, scale.row, col, width)})

    return rows(np.log10) >= rows(_identity)


def _terminal_legend(report: Report, series, raw, span: bool, shade: bool, log: bool) -> str:
    legend = "  ".join(f"{ch} {printable(s.label)}" for s, ch in series)
    if report.best_epoch is not None:
        legend += f"  | best {report.best_epoch:g}"
    if report.onset_epoch is not None and report.onset_epoch != report.best_epoch:
        legend += f"  ¦ onset {report.onset_epoch:g}"
    if any((~np.isfinite(s.y)).any() for s, _ in raw):
        legend += "  × NaN/inf"
    if span:
        legend += f"  {'░' if shade else '┆═'} {report.verdict} span"
    if log:
        legend += "  (log scale)"
    return legend


def _verticals(grid, report: Report, span_cols: range, shade: bool, col, x0: float, x1: float) -> None:
    """The span (its ends, or shaded), the onset and the best position as columns of the grid."""
    for c in span_cols:
        if shade or c in (span_cols[0], span_cols[-1]):
            for r in range(len(grid)):
                grid[r][c] = "░" if shade else "┆"
    for pos, ch in ((report.onset_epoch, "¦"), (report.best_epoch, "|")):
        if pos is not None and x0 <= pos <= x1 and not (ch == "¦" and pos == report.best_epoch):
            for r in range(len(grid)):
                grid[r][int(col(pos))] = ch


def terminal_chart(curves: Curves, report: Report, width: int = 72, height: int = 16) -> str:
    """:func:`terminal_cells` as plain text."""
    return "\n".join(terminal_cells(curves, report, width, height)) + "\n"


def terminal_text(curves: Curves, report: Report, width: int = 72, height: int = 16):
    """:func:`terminal_cells` as a rich Text, coloured by :data:`_TERM_STYLE` (the headline by severity)."""
    from rich.text import Text

    lines = terminal_cells(curves, report, width, height, shade=True)
    sev = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan", "ok": "bold green"}.get(report.severity, "")
    from itertools import groupby

    out = Text(end="")
    out.append(lines[0], style=sev)
    out.append("\n")
    for i, line in enumerate(lines[1:], 1):
        start = 9 if line.startswith(" " * 9 + "└") else 10
        out.append(line[:start])
        if i >= len(lines) - 2:  # the axis values and the legend
            out.append(line[start:])
        else:
            for ch, run in groupby(line[start:]):
                out.append(ch * len(list(run)), style=_TERM_STYLE.get(ch, ""))
        out.append("\n")
    return out


def _label(text: str) -> str:
    """A name as matplotlib text: '$' would start mathtext (a parse error on savefig), a
    leading '_' would hide a legend entry; control characters shown escaped."""
    text = printable(text).replace("$", r"\$")
    return "\u200b" + text if text.startswith("_") else text


#: a loss panel turns to a log scale when its finite values span this many times (two decades)
LOG_SPAN = 100.0
#: raw points drawn per line at most (min/max per bucket beyond it: spikes stay visible)
MAX_DRAWN = 4000
#: the buckets a long curve is decimated to: about one per pixel column of the PNG's panel (10 inches at
#: 120 dpi, less the margins), so decimating changes nothing a reader can see
PIXELS = 1200


def _decimate(x: np.ndarray, y: np.ndarray, limit: int = MAX_DRAWN, keep=()) -> tuple[np.ndarray, np.ndarray]:
    """At most ``limit`` points: the first and last, each pixel bucket's min and max (a spike is
    never lost) and the point nearest each position of ``keep`` (the best epoch, the onset)."""
    n = x.size
    if n <= limit:
        return x, y
    xs = np.asarray(x, float)
    buckets = max(1, min(PIXELS, (limit - 2 - len(keep)) // 2))
    ordered = bool(np.all(xs[1:] >= xs[:-1]))
    if ordered:  # buckets of equal width in x (uneven logging stays where it was logged), found by bisection
        edges = xs[0] + (xs[-1] - xs[0]) * np.arange(1, buckets) / buckets
        starts = np.unique(np.r_[0, np.searchsorted(xs, edges)])
    else:  # by index
        starts = np.unique(np.linspace(0, n, buckets + 1).astype(np.intp)[:-1])
    starts = starts[starts < n]
    lengths = np.diff(np.r_[starts, n])
    lo, hi = (xs[0], xs[-1]) if ordered else (xs.min(), xs.max())
    chosen = [np.array([0, n - 1])]
    for reduce in (np.fmin, np.fmax):
        hit = np.flatnonzero(y == np.repeat(reduce.reduceat(y, starts), lengths))
        seg = np.searchsorted(starts, hit, "right")
        chosen.append(hit[np.r_[True, seg[1:] != seg[:-1]]])  # the first such point of each bucket
    for k in keep:
        if k is not None and np.isfinite(k) and lo <= k <= hi:
            if ordered:
                i = int(np.searchsorted(xs, k))
                i = i if i < n and (i == 0 or xs[i] - k <= k - xs[i - 1]) else i - 1
            else:
                i = int(np.argmin(np.abs(xs - k)))
            chosen.append(np.array([i]))
    idx = np.unique(np.concatenate(chosen))
    return x[idx], y[idx]


def _one_per_pixel(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Positions of markers (non-finite points) thinned to one per pixel bucket of ``lo``..``hi``."""
    if x.size <= PIXELS or not hi > lo:
        return x
    b = np.rint((x - lo) / (hi - lo) * PIXELS)
    _, first = np.unique(b, return_index=True)
    return x[np.sort(first)]


def _ema(y: np.ndarray) -> np.ndarray:
    """A debiased exponential moving average (TensorBoard's smoothing; pandas' ``ewm(adjust=True)``
    is exactly that), its span about a twentieth of the points (at least 5)."""
    import pandas as pd

    span = max(5.0, min(500.0, y.size / 20))
    return pd.Series(np.asarray(y, float)).ewm(span=span, adjust=True).mean().to_numpy()


def wants_log_scale(values: list[np.ndarray]) -> bool:
    """True when every finite value is positive and they span at least :data:`LOG_SPAN` times."""
    fin = [v[np.isfinite(v)] for v in values]
    fin = [v for v in fin if v.size]
    if not fin:
        return False
    allv = np.concatenate(fin)
    lo, hi = float(allv.min()), float(allv.max())
    return lo > 0 and hi / lo >= LOG_SPAN


_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def _decade(v: float, _pos=None) -> str:
    """A log axis' tick label, ``10⁻³``: what matplotlib's default draws, as plain text (its
    mathtext parser costs a fresh process about 0.1 s); other ticks unlabelled."""
    if not (v > 0 and np.isfinite(v)):
        return ""
    e = float(np.log10(v))
    return "10" + str(int(round(e))).translate(_SUPERSCRIPT) if abs(e - round(e)) < 1e-9 else ""


def _log_scale(ax) -> None:
    """The panel's y axis logarithmic, its decades labelled by :func:`_decade`."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(_decade))
    ax.yaxis.set_minor_formatter(NullFormatter())


#: how many points make a curve "per step": drawn faint raw with a smoothed line over it
SMOOTH_FROM = 60


class _Drawn:
    """What the figure drew, for the HTML page's hover: (gid, axes, label, x, y) per line."""

    def __init__(self):
        self.lines: list[tuple[str, object, str, np.ndarray, np.ndarray]] = []

    def add(self, line, ax, label: str, x: np.ndarray, y: np.ndarray) -> None:
        gid = f"cd-series-{len(self.lines)}"
        line.set_gid(gid)
        self.lines.append((gid, ax, label, np.asarray(x, float), np.asarray(y, float)))


#: what each canonical curve is, for the legend: the column as logged comes first
_ROLE = {TRAIN_LOSS: "training loss", VAL_LOSS: "validation loss", TRAIN_ACC: "training", VAL_ACC: "validation",
         LR: "learning rate"}


def _draw_series(ax, s, colour: str, drawn: _Drawn, values: np.ndarray | None = None, dashed: bool = False,
                 keep=()) -> None:
    """One curve as logged: raw faint with its smoothed line when it is per-step, else one line;
    non-finite points as red triangles at the top of the panel.  A long curve is decimated (the
    points at the positions ``keep`` kept); its triangles one per pixel bucket."""
    y = s.y if values is None else values
    x = s.x.astype(float)
    fin = np.isfinite(y)
    label = _label(f"{s.column} ({_ROLE.get(s.name, s.name)})")
    xf, yf = x[fin], y[fin]
    if xf.size > SMOOTH_FROM and s.name != LR:  # a schedule is drawn as it is
        dx, dy = _decimate(xf, yf, keep=keep)
        raw, = ax.plot(dx, dy, color=colour, lw=0.8, alpha=0.25)
        drawn.add(raw, ax, label + " (raw)", dx, dy)
        sm = _ema(yf)
        sx, sy = _decimate(xf, sm, keep=keep)
        line, = ax.plot(sx, sy, color=colour, lw=1.8, ls="--" if dashed else "-", label=label + " (smoothed)")
        drawn.add(line, ax, label + " (smoothed)", sx, sy)
    elif xf.size:
        xf, yf = _decimate(xf, yf, keep=keep)  # a long schedule (the learning rate) too
        line, = ax.plot(xf, yf, color=colour, lw=1.6, ls="--" if dashed else "-", marker="o" if xf.size <= 30 else None,
                        ms=3, label=label)
        drawn.add(line, ax, label, xf, yf)
    bad = ~fin
    if bad.any():
        yb = y[bad]
        kinds = sorted(k for k, has in (("NaN", np.isnan(yb).any()), ("inf", (yb > 0).any()), ("-inf", (yb < 0).any()))
                       if has)
        bx = _one_per_pixel(x[bad], float(x.min()), float(x.max()))
        top = 0.92 if s.name.startswith("val") else 0.97  # two curves' marks side by side, not on top of each other
        pts, = ax.plot(bx, np.full(bx.size, top), "v", color="tab:red", ms=7, transform=ax.get_xaxis_transform(),
                       clip_on=False, label=_label(f"{s.label}: {int(bad.sum())} {'/'.join(kinds)}"))
        drawn.add(pts, ax, f"{s.name} non-finite", bx, np.full(bx.size, np.nan))


def _marks(ax, report: Report, span, first: bool) -> None:
    """The problem span shaded, the best position and the onset, on every panel (labelled once)."""
    if span is not None:
        ax.axvspan(span[0], span[1], color="tab:red", alpha=0.10, label=f"{report.verdict} span" if first else None)
    if report.best_epoch is not None:
        what = f"best {report.best_epoch_metric}" if report.best_epoch_metric else "best"
        ax.axvline(report.best_epoch, color="tab:green", ls=":", lw=1.4,
                   label=_label(f"{what} at {report.best_epoch:g}") if first else None)
    if report.onset_epoch is not None and report.onset_epoch != report.best_epoch:
        ax.axvline(report.onset_epoch, color="tab:orange", ls="-.", lw=1.2,
                   label=f"onset at {report.onset_epoch:g}" if first else None)


def _projection(ax, report: Report, drawn: _Drawn) -> None:
    """The judged loss projected +50% and +100% further: dashed line and its range."""
    p = report.projection
    if p is None or not p.projected or p.end_position is None or p.at_end is None:
        return
    hs = [h for h in (p.horizon_50, p.horizon_100) if h is not None]
    xs = np.array([p.end_position] + [h.position for h in hs], float)
    ys = np.array([p.at_end] + [h.value for h in hs], float)
    lo = np.array([p.at_end] + [h.low for h in hs], float)
    hi = np.array([p.at_end] + [h.high for h in hs], float)
    line, = ax.plot(xs, ys, color="tab:purple", ls="--", lw=1.4, marker="o", ms=3,
                    label=_label(f"{p.metric} projected ({p.family})"))
    ax.fill_between(xs, lo, hi, color="tab:purple", alpha=0.12)
    drawn.add(line, ax, f"{p.metric} projected", xs, ys)


#: file names every run of a framework shares: the run is named by its directory instead
_GENERIC_NAMES = {"trainer_state.json", "metrics.csv", "results.csv", "scalars.json", "metrics.json", "history.json"}


def run_label(path: str) -> str:
    """A run's name for a title: the file's name, or for a file every run of its framework writes
    (a Hugging Face output directory's ``trainer_state.json``, Lightning's ``metrics.csv``) the run's
    directory (above a ``checkpoint-N`` copy)."""
    import re

    p = Path(path)
    if p.name not in _GENERIC_NAMES or not p.parent.name:
        return p.name or path
    run = p.parent
    if re.fullmatch(r"checkpoint-\d+", run.name) and run.parent.name:
        run = run.parent
    return run.name


def _title(report: Report, headline: bool = True) -> str:
    import textwrap

    name = run_label(report.source.path)
    head = textwrap.wrap(textwrap.shorten(printable(report.headline), 230), 120) if headline else []
    return "\n".join([_label(f"{report.verdict.upper().replace('_', ' ')}: {name}")] + [_label(h) for h in head])


_SEVERITY_COLOUR = {"ok": "tab:green", "info": "tab:blue", "warning": "tab:orange", "error": "tab:red"}


def _figure(curves: Curves, report: Report, drawn: _Drawn | None = None, headline: bool = True):
    """The run's chart: losses (log scale when they span decades), the quality metric as logged,
    the learning rate when logged; the verdict in the title, best, onset, span and projection marked."""
    plt = _pyplot()
    drawn = drawn if drawn is not None else _Drawn()
    acc = [curves.series[n] for n in (TRAIN_ACC, VAL_ACC) if n in curves.series]
    lr = curves.get(LR)
    rows = [("loss", 3.0)] + ([("metric", 2.2)] if acc else []) + ([("lr", 1.3)] if lr is not None else [])
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.3 + sum(h for _, h in rows)), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [h for _, h in rows]})
    axes = [a[0] for a in axes]
    span = _problem_span(report)
    keep = (report.best_epoch, report.onset_epoch)  # their points drawn however long the curve
    colours = {TRAIN_LOSS: "tab:blue", VAL_LOSS: "tab:orange", TRAIN_ACC: "tab:blue", VAL_ACC: "tab:orange", LR: "tab:gray"}
    for i, (ax, (kind, _)) in enumerate(zip(axes, rows)):
        if kind == "loss":
            losses = [curves.get(n) for n in (TRAIN_LOSS, VAL_LOSS)]
            for s in losses:
                if s is not None:
                    _draw_series(ax, s, colours[s.name], drawn, dashed=s.name == TRAIN_LOSS and len(s) <= SMOOTH_FROM,
                                 keep=keep)
            if wants_log_scale([s.y for s in losses if s is not None]):
                _log_scale(ax)
            _projection(ax, report, drawn)
            ax.set_ylabel("loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
            if not any(s is not None for s in losses):
                ax.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=ax.transAxes)
        elif kind == "metric":
            for s in acc:
                _draw_series(ax, s, colours[s.name], drawn, values=s.as_logged(), dashed=s.name == TRAIN_ACC, keep=keep)
            quality = [s for s in acc if s.quality]
            if quality:
                q = quality[0]
                ax.set_ylabel(_label(q.column + (" (lower is better)" if q.inverted else "")))
            else:
                ax.set_ylabel("accuracy")
        elif lr is not None:  # kind == "lr": a row only when the learning rate is logged
            _draw_series(ax, lr, colours[LR], drawn, keep=keep)
            if wants_log_scale([lr.y]):
                _log_scale(ax)
            ax.set_ylabel("learning rate")
        _marks(ax, report, span, first=i == 0)
        ax.grid(alpha=0.3)
        handles, _labels = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=8, loc="best", framealpha=0.85)
    axes[-1].set_xlabel(_label(report.source.axis))
    fig.suptitle(_title(report, headline), fontsize=10.5, color=_SEVERITY_COLOUR.get(report.severity, "black"))
    fig.tight_layout()
    fig._curvediag_drawn = drawn  # for the HTML page's hover labels
    return fig, plt


def require_matplotlib() -> None:
    """:class:`~curvediag.errors.MissingExtra` when matplotlib (the ``plot`` extra) cannot be imported."""
    _pyplot()


class _Figures:
    """The two pyplot calls used here, without pyplot's global state: figures made with
    ``matplotlib.figure.Figure`` choose no backend and are never shown behind the caller's back
    (a notebook's inline backend, a user's own interactive window)."""

    @staticmethod
    def subplots(*args, figsize=None, **kwargs):
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize)
        return fig, fig.subplots(*args, **kwargs)

    @staticmethod
    def close(fig) -> None:
        """Nothing to release: no pyplot manager holds the figure."""


def _pyplot():
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        raise MissingExtra(HINT) from None
    return _Figures


def _overlay(curves: Curves, baseline: list[Curves], report: Report):
    """The run (bold) over its baseline logs (faint): the judged curve (validation loss, else
    the loss, else 1 - the metric) and the training loss side by side, with the comparison
    findings' span shaded."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), squeeze=False)
    judged = Context(curves).judged
    name = judged.name if judged is not None else VAL_LOSS
    for ax, which in ((axes[0][0], name), (axes[0][1], TRAIN_LOSS)):
        for i, c in enumerate(baseline):
            t = Context(c).judged if which == name else Context(c).track(TRAIN_LOSS)
            if t is not None:
                ax.plot(t.x, t.y, color="tab:gray", lw=1.0, alpha=0.45, label=f"baseline ({len(baseline)} log{'s' if len(baseline) != 1 else ''})" if i == 0 else None)
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


def write_overlay(path: str, curves: Curves, baseline: list[Curves], report: Report, follow_links: bool = True) -> None:
    """The run drawn over its baseline logs, to PNG, SVG or HTML as :func:`write_plot`."""
    check_suffixes([path])
    with _drawing(path):
        figure = _overlay(curves, baseline, report)
    write_plot(path, curves, report, figure, follow_links=follow_links)


class _drawing:
    """numpy's and matplotlib's overflow warnings off while drawing; a curve matplotlib cannot
    lay out (values near +-1e308: a singular transform) is a :class:`UsageError` naming the
    plot file, never an internal error."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        import warnings

        self._errstate = np.errstate(all="ignore")
        self._errstate.__enter__()
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)
        return self

    def __exit__(self, kind, e, tb):
        self._warnings.__exit__(kind, e, tb)
        self._errstate.__exit__(kind, e, tb)
        if kind is not None and issubclass(kind, (ValueError, ArithmeticError, OverflowError)) and not issubclass(kind, UsageError):
            raise UsageError(f"{self.path}: cannot draw these curves (values too large or too close together "
                             f"for a chart: {type(e).__name__}); the report is unaffected") from None
        return False


def write_plot(path: str, curves: Curves, report: Report, figure=None, follow_links: bool = True) -> None:
    """PNG or SVG by extension; HTML is a self-contained interactive page (see :func:`_html`).
    ``figure``: (fig, pyplot) already drawn, instead of the run's own chart.  ``follow_links=False``
    for a file name curvediag made (``--plot DIR/``): a symbolic link there is refused."""
    suffix = Path(path).suffix.lower()
    check_suffixes([path])
    with _drawing(path):
        data = _render(suffix, curves, report, figure)

    write_output(path, data, follow_links=follow_links)


def _render(suffix: str, curves: Curves, report: Report, figure) -> str | bytes:
    import io

    # the HTML page says the headline above the chart: the chart's title does not repeat it
    fig, plt = figure or _figure(curves, report, headline=suffix not in (".html", ".htm"))
    try:
        if suffix == ".png":
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=120)
            data: str | bytes = buf.getvalue()
        else:
            sbuf = io.StringIO()
            fig.savefig(sbuf, format="svg")
            data = sbuf.getvalue()
            if suffix in (".html", ".htm"):
                data = _html(data[data.index("<svg"):], _hover_data(fig, report), report)
    finally:
        plt.close(fig)
    return data


def _hover_data(fig, report: Report) -> dict:
    """The drawn curves in the SVG's own coordinates (points, 72 per inch, y down) with their
    values, for the page's hover, toggles and ``#x=`` links."""
    drawn = getattr(fig, "_curvediag_drawn", None)
    labels = {gid: label for gid, _ax, label, _x, _y in (drawn.lines if drawn else [])}
    fig.set_dpi(72)  # the SVG backend's units: display coordinates are then SVG points
    height = fig.get_size_inches()[1] * 72
    series = []
    n = 0
    for ax_i, ax in enumerate(fig.axes):
        for line in ax.get_lines():
            gid = line.get_gid()
            if gid is None and line.get_transform() is ax.transData and len(line.get_xdata()) > 1:
                gid = f"cd-series-x{n}"  # a figure drawn elsewhere (the overlay): its curves, by their labels
                n += 1
                line.set_gid(gid)
                labels[gid] = line.get_label() if not line.get_label().startswith("_") else "baseline"
            if gid is None or not gid.startswith("cd-series"):
                continue
            x = np.asarray(line.get_xdata(), float)
            y = np.asarray(line.get_ydata(), float)
            pts = line.get_transform().transform(np.column_stack([x, y]))
            values = y if line.get_transform() is ax.transData else np.full(x.size, np.nan)
            label = labels.get(gid, line.get_label()).lstrip("\u200b").replace("\\$", "$")
            series.append({
                "id": gid, "panel": ax_i, "label": label,
                "group": label.replace(" (raw)", "").replace(" (smoothed)", ""),
                "colour": matplotlib_colour(line.get_color()),
                "x": [_js(v) for v in x], "y": [_js(v) for v in values],
                "px": [round(float(v), 2) for v in pts[:, 0]], "py": [round(float(height - v), 2) for v in pts[:, 1]],
            })
    return {"axis": report.source.axis, "series": series}


def matplotlib_colour(c) -> str:
    from matplotlib.colors import to_hex

    return to_hex(c)


def _js(v: float):
    v = float(v)
    return None if not np.isfinite(v) else float(f"{v:.6g}")


#: The page's script: hover (the nearest point's value, and below it every shown curve's value at
#: that x, each curve's point marked, as TensorBoard and W&B do), toggles (a checkbox per curve), zoom
#: (wheel; drag to pan; double-click or the reset button to fit) and ``#x=VALUE`` links that show the
#: point nearest VALUE on the first curve (and every curve's value there).  No network, no library: the chart is matplotlib's SVG.
_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById('cd-data').textContent);
  var svg = document.querySelector('#cd-chart svg');
  var tip = document.getElementById('cd-tip');
  var at = document.getElementById('cd-at');
  var box = document.getElementById('cd-toggles');
  var NS = 'http://www.w3.org/2000/svg';
  var full = svg.viewBox.baseVal;
  var home = [full.x, full.y, full.width, full.height];
  var view = home.slice();
  var dot = document.createElementNS(NS, 'circle');
  dot.setAttribute('r', '4'); dot.setAttribute('fill', 'none'); dot.setAttribute('stroke-width', '2');
  dot.style.display = 'none'; svg.appendChild(dot);
  var hidden = {};
  var marks = {};
  data.series.forEach(function (s) {
    s.lo = Infinity; s.hi = -Infinity; s.finite = false;
    for (var i = 0; i < s.x.length; i++) {
      if (s.x[i] === null) continue;
      if (s.x[i] < s.lo) s.lo = s.x[i];
      if (s.x[i] > s.hi) s.hi = s.x[i];
      if (s.y[i] !== null) s.finite = true;
    }
  });
  function fmt(v) { return v === null ? 'NaN/inf' : (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(4) : +v.toPrecision(6)); }
  function el(id) { return document.getElementById(id); }
  var groups = [];
  data.series.forEach(function (s) { if (groups.indexOf(s.group) < 0) groups.push(s.group); });
  groups.forEach(function (g) {
    var lab = document.createElement('label');
    var cb = document.createElement('input');
    cb.type = 'checkbox'; cb.checked = true; cb.dataset.group = g;
    cb.addEventListener('change', function () {
      hidden[g] = !cb.checked;
      data.series.forEach(function (s) { if (s.group === g && el(s.id)) el(s.id).style.display = cb.checked ? '' : 'none'; });
      hide();
    });
    var sw = document.createElement('span');
    var first = data.series.filter(function (s) { return s.group === g; })[0];
    sw.className = 'cd-swatch'; sw.style.background = first.colour;
    lab.appendChild(cb); lab.appendChild(sw); lab.appendChild(document.createTextNode(g));
    box.appendChild(lab);
  });
  function mark(s) {
    if (!marks[s.id]) {
      var c = document.createElementNS(NS, 'circle');
      c.setAttribute('r', '3'); c.setAttribute('fill', s.colour); c.style.pointerEvents = 'none';
      svg.appendChild(c); marks[s.id] = c;
    }
    return marks[s.id];
  }
  function nearest(s, x) {
    var bi = -1, bd = Infinity;
    for (var i = 0; i < s.x.length; i++) {
      if (s.x[i] === null) continue;
      var d = Math.abs(s.x[i] - x);
      if (d < bd) { bd = d; bi = i; }
    }
    return bi;
  }
  function everyCurve(x) {
    // each shown curve's point nearest x (within the curve's own range), as TensorBoard and W&B list them
    var lines = ['at ' + data.axis + ' ' + fmt(x) + ':'];
    Object.keys(marks).forEach(function (k) { marks[k].style.display = 'none'; });
    data.series.forEach(function (s) {
      if (hidden[s.group] || x < s.lo || x > s.hi) return;
      var i = nearest(s, x);
      if (i < 0 || (!s.finite && s.x[i] !== x)) return;
      lines.push(s.label + ': ' + fmt(s.y[i]) + (s.x[i] !== x ? ' (at ' + fmt(s.x[i]) + ')' : ''));
      if (s.y[i] !== null) {
        var m = mark(s); m.setAttribute('cx', s.px[i]); m.setAttribute('cy', s.py[i]); m.style.display = '';
      }
    });
    at.textContent = lines.join('\n');
  }
  function hide() {
    dot.style.display = 'none'; tip.style.display = 'none'; at.style.display = 'none';
    Object.keys(marks).forEach(function (k) { marks[k].style.display = 'none'; });
  }
  function show(s, i, cx, cy) {
    everyCurve(s.x[i]);
    dot.setAttribute('cx', s.px[i]); dot.setAttribute('cy', s.py[i]); dot.setAttribute('stroke', s.colour);
    dot.style.display = ''; svg.appendChild(dot);  // above the curves' marks
    tip.textContent = s.label + '\n' + data.axis + ': ' + fmt(s.x[i]) + '\nvalue: ' + fmt(s.y[i]);
    tip.style.display = 'block';
    tip.style.left = (cx + 14) + 'px'; tip.style.top = (cy + 14) + 'px';
    at.style.display = 'block';
    at.style.left = tip.style.left; at.style.top = (cy + 14 + tip.offsetHeight - 1) + 'px';
  }
  function local(ev) {
    var p = svg.createSVGPoint(); p.x = ev.clientX; p.y = ev.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }
  var drag = null;
  svg.addEventListener('mousemove', function (ev) {
    if (drag) {
      var k = view[2] / svg.clientWidth;
      view[0] = drag[0] - (ev.clientX - drag[2]) * k; view[1] = drag[1] - (ev.clientY - drag[3]) * k;
      svg.setAttribute('viewBox', view.join(' ')); return;
    }
    var p = local(ev), best = null, bd = 1e18;
    data.series.forEach(function (s) {
      if (hidden[s.group]) return;
      for (var i = 0; i < s.px.length; i++) {
        var d = (s.px[i] - p.x) * (s.px[i] - p.x) + (s.py[i] - p.y) * (s.py[i] - p.y);
        if (d < bd) { bd = d; best = [s, i]; }
      }
    });
    var r = 30 * view[2] / home[2];
    if (best && bd < r * r) { show(best[0], best[1], ev.pageX, ev.pageY); } else { hide(); }
  });
  svg.addEventListener('mouseleave', function () { hide(); drag = null; });
  svg.addEventListener('wheel', function (ev) {
    ev.preventDefault();
    var p = local(ev), f = ev.deltaY < 0 ? 0.8 : 1.25;
    var w = Math.min(home[2], view[2] * f), h = Math.min(home[3], view[3] * f);
    view = [p.x - (p.x - view[0]) * w / view[2], p.y - (p.y - view[1]) * h / view[3], w, h];
    svg.setAttribute('viewBox', view.join(' '));
  }, {passive: false});
  svg.addEventListener('mousedown', function (ev) { drag = [view[0], view[1], ev.clientX, ev.clientY]; ev.preventDefault(); });
  window.addEventListener('mouseup', function () { drag = null; });
  function reset() { view = home.slice(); svg.setAttribute('viewBox', view.join(' ')); }
  svg.addEventListener('dblclick', reset);
  el('cd-reset').addEventListener('click', reset);
  function fromHash() {
    var m = location.hash.match(/^#x=(-?[0-9.eE+-]+)$/);
    var s = data.series.filter(function (t) { return !hidden[t.group]; })[0];
    if (!m || !s) return;
    var want = parseFloat(m[1]), bi = 0;
    for (var i = 0; i < s.x.length; i++) if (Math.abs(s.x[i] - want) < Math.abs(s.x[bi] - want)) bi = i;
    var r = svg.getBoundingClientRect(), k = r.width / view[2];
    show(s, bi, r.left + window.scrollX + (s.px[bi] - view[0]) * k, r.top + window.scrollY + (s.py[bi] - view[1]) * k);
  }
  window.addEventListener('hashchange', fromHash);
  fromHash();
  document.body.dataset.ready = 'yes';
})();
"""

_STYLE = """
body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
#cd-chart svg{width:100%;height:auto;cursor:crosshair;user-select:none}
#cd-tip,#cd-at{position:absolute;display:none;white-space:pre;background:#fff;border:1px solid #888;padding:4px 6px;
font:12px monospace;pointer-events:none;box-shadow:1px 1px 4px #0003}
#cd-at{color:#444;background:#f8f8f8}
#cd-toggles label{margin-right:1em;white-space:nowrap;font-size:13px}
.cd-swatch{display:inline-block;width:12px;height:4px;margin:0 4px 3px 2px;vertical-align:middle}
.cd-hint{color:#666;font-size:12px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
"""


def _html(svg: str, hover: dict, report: Report) -> str:
    """A self-contained page: the verdict, the chart (matplotlib's SVG, inline) with hover values,
    a toggle per curve and zoom, the metrics table and the findings.  Nothing is fetched."""
    import json

    def h(text) -> str:
        return html.escape(printable(str(text)))

    items = "".join(
        f"<li><b>{h(f.code)} {h(f.name)}</b> ({h(f.severity)}): {h(f.message)}</li>" for f in report.findings
    )
    blob = json.dumps(hover, allow_nan=False).replace("<", "\\u003c")  # no "</script" nor "<!--" inside
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>curvediag: {h(report.verdict)} - {h(run_label(report.source.path))}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{h(report.verdict.replace('_', ' '))}</h1><p>{h(report.headline)}</p>"
        f"<p><code>{h(report.source.path)}</code> — {h(report.source.format)}</p>"
        "<div id='cd-toggles'></div>"
        "<p class='cd-hint'>Hover for every curve's value at that point; wheel to zoom, drag to pan, double-click or "
        "<button id='cd-reset' type='button'>reset</button> to fit.</p>"
        f"<div id='cd-chart'>{svg}</div><div id='cd-tip'></div><div id='cd-at'></div>"
        f"{metrics_table_html(report)}<ul>{items}</ul>{remedies_html(report)}"
        f"<script type='application/json' id='cd-data'>{blob}</script>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def metrics_table_html(report: Report) -> str:
    """The report's metrics as an HTML table (first, best, where, last), values as logged."""
    def h(text) -> str:
        return html.escape(printable(str(text)))

    def num(v) -> str:
        return "" if v is None else f"{v:.4g}"

    rows = "".join(
        f"<tr><td>{h(m.name)}</td><td>{h(m.column)}</td><td>{m.points}</td><td>{num(m.first)}</td>"
        f"<td>{num(m.best)}</td><td>{num(m.best_at)}</td><td>{num(m.last)}</td></tr>"
        for m in report.metrics
    )
    return (f"<table><tr><th>metric</th><th>column</th><th>points</th><th>first</th><th>best</th>"
            f"<th>best at ({h(report.source.axis)})</th><th>last</th></tr>{rows}</table>")


PLOT_SUFFIXES = (".png", ".svg", ".html", ".htm")


def run_name(path: str) -> str:
    """A log's name for a file named after it: the file's stem (``metrics`` of ``metrics.csv``), a
    run directory's name, ``stdin`` for ``-``; characters other than letters, digits, ``. _ + -``
    become ``_`` (a name never starts with ``.`` or ``-``)."""
    import re

    if path == "-":
        return "stdin"
    p = Path(path.rstrip("/\\") or path)
    name = p.name if p.is_dir() else p.stem
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", name).lstrip(".-")
    return name or "run"


def is_template(plot: str) -> bool:
    """``--plot`` names a directory (``DIR/`` or an existing one) or a ``{stem}`` template."""
    return "{stem}" in plot or plot.endswith(("/", "\\")) or Path(plot).is_dir()


def plot_targets(plot: str, paths: list[str]) -> list[str]:
    """The file each log is drawn to.  ``DIR/`` (or an existing directory): ``DIR/<name>.png``;
    a template with ``{stem}``: the log's name put in (``plots/{stem}.html``); a plain file: the one
    log's plot (UsageError for several logs).  Two logs with one name are told apart by their
    directory's name, then by a number."""
    if not is_template(plot):
        if len(paths) > 1:
            raise UsageError(f"{plot}: --plot FILE draws one log (give one PATH, or one --run); "
                             "for several, give a directory (DIR/) or a {stem} template")
        targets = [plot]
    else:
        first = [run_name(p) for p in paths]
        names = list(first)
        for i, n in enumerate(first):
            if first.count(n) > 1 and paths[i] != "-":
                parent = run_name(str(Path(paths[i].rstrip("/")).parent.resolve()))
                names[i] = f"{parent}_{n}"
        names = _unique(names)
        if "{stem}" in plot:
            targets = [plot.replace("{stem}", n) for n in names]
        else:
            targets = [str(Path(plot) / f"{n}.png") for n in names]
    seen: dict[str, int] = {}
    for i, t in enumerate(targets):  # compared as a case-insensitive file system would
        key = os.path.normcase(os.path.abspath(t)).casefold()
        if key in seen:
            raise UsageError(f"{t}: --plot would draw {paths[seen[key]]} and {paths[i]} to one file; "
                             "give a template with {stem}, or plot them one at a time")
        seen[key] = i
    return targets


def _unique(names: list[str]) -> list[str]:
    """``names`` with each name that occurs more than once numbered ``NAME-1``, ``NAME-2`` ...,
    skipping any number that would equal another name (``a``, ``a``, ``a-1`` -> ``a-2``, ``a-3``,
    ``a-1``); names compared without case (``Run`` and ``run`` are one file on macOS or Windows)."""
    from collections import Counter

    key = str.casefold
    counts = Counter(key(n) for n in names)
    taken = {key(n) for n in names if counts[key(n)] == 1}
    out = []
    for n in names:
        if counts[key(n)] == 1:
            out.append(n)
            continue
        k = 1
        while key(f"{n}-{k}") in taken:
            k += 1
        taken.add(key(f"{n}-{k}"))
        out.append(f"{n}-{k}")
    return out


def check_suffixes(targets: list[str]) -> None:
    """UsageError for a plot file that is not .png, .svg or .html."""
    for t in targets:
        if Path(t).suffix.lower() not in PLOT_SUFFIXES:
            raise UsageError(f"{t}: --plot takes a .png, .svg or .html file")


__all__ = ["terminal_chart", "terminal_cells", "terminal_text", "write_plot", "write_overlay", "plot_targets", "run_name", "HINT"]


def remedies_html(report: "Report") -> str:
    """The report's remedies (what to do) as an HTML list, escaped; empty when there are none."""
    import html

    if not report.remedies:
        return ""
    items = "".join(f"<li>{html.escape(printable(r))}</li>" for r in report.remedies)
    return f"<p><b>What to do</b></p><ul class='curvediag-remedies'>{items}</ul>"
