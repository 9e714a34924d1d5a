"""The one-line-per-run summary that several reports share (text and Markdown): each run told
apart by the shortest suffix of its path no other run ends with, the best and the onset with their
unit (``ep 13``, ``step 98000``), and the rows worst first -- unreadable inputs, then by severity,
then by the verdicts' precedence; the input order breaks ties."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence, Union

from ..report import severity_rank
from ..verdict import precedence
from ..report import Unreadable

if TYPE_CHECKING:
    from ..report import Unreadable
    from ..report import Report


def _parts(path: str) -> list[str]:
    """The path's components; a run named inside a file (``db#run=NAME``) or a server URI's
    fragment (``.../#experiment=x&run=NAME``) stays whole with the last one: a run name is never
    cut at its own ``/`` (``#run=../../etc/passwd`` is not shown as ``passwd``)."""
    cut = [i for i in (path.find("#run="), path.find("/#")) if i >= 0]
    if cut:
        at = min(cut) + (1 if path.startswith("/#", min(cut)) else 0)
        base, frag = path[:at], path[at:]
    else:
        base, frag = path, ""
    parts = base.split("/")
    parts[-1] += frag
    return parts if any(parts) else [path]


def short_names(paths: Sequence[str]) -> list[str]:
    """Each path's shortest suffix of whole components (``version_3/metrics.csv``) that no other
    path ends with; the whole path when it needs all of them (or another path is the same)."""
    split = [_parts(p) for p in paths]
    out = []
    for i, parts in enumerate(split):
        others = [q for j, q in enumerate(split) if j != i]
        for k in range(1, len(parts) + 1):
            tail = parts[-k:]
            if not any(q[-k:] == tail for q in others):
                out.append(paths[i] if k == len(parts) else "/".join(tail))
                break
        else:
            out.append(paths[i])
    return out


def position(v: float | None, axis_kind: str) -> str:
    """A position on the run's axis with its unit: ``ep 13``, ``step 98000``, ``-`` when none."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    n = str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return f"step {n}" if axis_kind == "step" else f"ep {n}"


def rank(item: Union["Report", "Unreadable"]) -> tuple[int, int]:
    """How bad a row is, for sorting worst first: (severity, verdict precedence), an unreadable
    input worst of all.  The severity is the worse of the verdict's and of any finding's."""
    if isinstance(item, Unreadable):
        return (-len(("ok", "info", "warning", "error")) - 1, -1)
    sev = max(severity_rank(item.severity), severity_rank(item.worst_severity()))
    return (-sev, precedence(item.verdict))


def worst_first(items: Sequence[Union["Report", "Unreadable"]]) -> list[int]:
    """The indices of ``items`` in the order the summary lists them."""
    return sorted(range(len(items)), key=lambda i: (rank(items[i]), i))


def name_of(item: Union["Report", "Unreadable"]) -> str:
    if isinstance(item, Unreadable):
        return "<stdin>" if item.path == "-" else item.path
    return item.source.path


__all__ = ["short_names", "position", "rank", "worst_first", "name_of"]
