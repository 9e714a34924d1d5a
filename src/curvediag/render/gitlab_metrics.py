"""GitLab metrics report (``artifacts: reports: metrics``): OpenMetrics text, one sample per line,
so that GitLab's merge-request widget shows each value beside the target branch's.  Per log
(label ``run``, the log's path relative to the working directory): the best and final validation
loss (else the training loss), the epochs run after the best, and the findings by severity; an
unreadable input is ``curvediag_unreadable{run=...} 1``.  Ends with ``# EOF`` as OpenMetrics asks.
Label values are escaped as OpenMetrics says (backslash, double quote, newline) and by
:func:`~curvediag.render.printable`, with no whitespace in them (GitLab splits a line at whitespace:
``%`` and a space are written ``%25`` and ``%20``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from . import printable
from ..vocabulary import Severity
from .locate import relative
from ..report import Unreadable

if TYPE_CHECKING:
    from ..report import Batch
    from ..report import Report

#: metric name -> its HELP text, in the order they are written
METRICS = {
    "curvediag_best_val_loss": "best validation loss (the training loss when the log has none)",
    "curvediag_final_val_loss": "final validation loss (the training loss when the log has none)",
    "curvediag_epochs_after_best": "epochs (or steps) the run went on after its best",
    "curvediag_findings": "findings, by severity",
    "curvediag_unreadable": "1 for an input that could not be read",
}
#: the severities a finding has, worst first (a label each)
SEVERITIES = tuple(s.value for s in reversed(Severity) if s is not Severity.ok)


def _label(s: str) -> str:
    """A label value: OpenMetrics' escapes, and no whitespace, since GitLab splits each line at
    whitespace into name and value (``%`` and spaces as ``%25`` and ``%20``)."""
    s = s.replace("%", "%25").replace(" ", "%20")
    return printable(s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")).replace("\t", "%09")


def _number(x: float | None) -> str | None:
    if x is None:
        return None
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    x = float(x)
    # GitLab compares the values as strings: 6 significant digits, so float noise is no change
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else f"{x:.6g}"


def _loss(r: "Report"):
    by_name = {m.name: m for m in r.metrics}
    return by_name.get("val_loss") or by_name.get("train_loss")


def samples(batch: "Batch") -> dict[str, list[str]]:
    """metric name -> its sample lines, in input order."""
    out: dict[str, list[str]] = {name: [] for name in METRICS}
    for item in batch.items:
        if isinstance(item, Unreadable):
            path = "<stdin>" if item.path == "-" else item.path
            out["curvediag_unreadable"].append(f'curvediag_unreadable{{run="{_label(relative(path) or path)}"}} 1')
            continue
        run = _label(relative(item.source.path) or item.source.path)
        loss = _loss(item)
        for name, value in (("curvediag_best_val_loss", loss.best if loss else None),
                            ("curvediag_final_val_loss", loss.last if loss else None),
                            ("curvediag_epochs_after_best", item.epochs_after_best)):
            shown = _number(value)
            if shown is not None:
                out[name].append(f'{name}{{run="{run}"}} {shown}')
        for sev in SEVERITIES:
            n = sum(f.severity == sev for f in item.findings)
            out["curvediag_findings"].append(f'curvediag_findings{{run="{run}",severity="{sev}"}} {n}')
    return out


def render(batch: "Batch") -> str:
    lines: list[str] = []
    for name, rows in samples(batch).items():
        if rows:
            lines += [f"# TYPE {name} gauge", f"# HELP {name} {METRICS[name]}", *rows]
    return "\n".join(lines + ["# EOF"]) + "\n"
