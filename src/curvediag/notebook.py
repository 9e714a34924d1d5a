"""The Report's notebook face: ``Report.to_text``, ``Report.plot`` and ``Report._repr_html_`` (what a
notebook shows), drawn by the text renderer and the plotter.  The Report model calls these from
its methods, the one import upward in the package (tests/engine/test_layers.py allows it): the model
itreport never imports a renderer or the plotter."""

from __future__ import annotations

import base64
import html
import io
import os

from .errors import CurvediagError, UsageError
from .plot import _figure, metrics_table_html, remedies_html, write_plot
from .render import printable
from .render.text import show
from .report import Batch, Report
from .terminal import rstrip_lines


def to_text(report: Report, full: bool = False, width: int = 100) -> str:
    """The report as ``curvediag analyze`` prints it, as plain text (no colour), ``width`` columns."""
    from rich.console import Console

    buf = io.StringIO()
    show(Batch((report.source.path,), (report,)), Console(file=buf, color_system=None, no_color=True, highlight=False,
                                                       width=width), full)
    return rstrip_lines(buf.getvalue())


def plot(report: Report, path=None):
    """The chart ``--plot`` draws (needs matplotlib, the ``plot`` extra): written to ``path``
    (.png, .svg or .html) when given, else returned as a matplotlib Figure (a notebook shows it).
    Only a report from :func:`curvediag.diagnose` holds the curves it needs."""
    curves = getattr(report, "_curves", None)
    if curves is None:
        raise UsageError("this report holds no curves to draw: report.plot() works on a report from curvediag.diagnose()")
    if path is not None:
        write_plot(os.fspath(path), curves, report)
        return None
    return _figure(curves, report)[0]


def report_html(report: Report) -> str:
    """For notebooks: the verdict, the headline, the metrics table, the findings and (with
    matplotlib and the curves) the chart as an inline PNG."""

    def h(text: object) -> str:
        return html.escape(printable(str(text)))

    colour = {"ok": "#2a7", "info": "#27b", "warning": "#c70", "error": "#c22"}.get(report.severity, "#222")
    img = ""
    curves = getattr(report, "_curves", None)
    if curves is not None:
        try:
            fig = _figure(curves, report)[0]
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=80)
            img = f"<img alt='curves' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"
        except CurvediagError:
            img = "<p><i>(install the plot extra, matplotlib, for the chart)</i></p>"
    items = "".join(f"<li><b>{h(f.code)} {h(f.name)}</b> ({h(f.severity)}): {h(f.message)}</li>" for f in report.findings)
    return (
        f"<div class='curvediag-report'><h3 style='color:{colour};margin:0'>{h(report.verdict.replace('_', ' '))}"
        f" <small>({h(report.severity)})</small></h3><p>{h(report.headline)}</p>"
        f"<p><code>{h(os.path.basename(report.source.path) or report.source.path)}</code> — {h(report.source.format)}, "
        f"{report.source.rows} rows, axis {h(report.source.axis)}</p>{metrics_table_html(report)}"
        f"<ul>{items}</ul>{remedies_html(report)}{img}</div>"
    )
