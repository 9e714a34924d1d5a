"""The short text outputs of ``analyze``: ``--quiet`` (one line per finding) and ``--statistics``
(the findings counted per rule code, as ruff's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import printable

if TYPE_CHECKING:
    from ..batch import Batch


def statistics(batch: "Batch", as_json: bool) -> str:
    """``--statistics``: how many findings each rule code gave over all the logs, most first (as ruff's)."""
    counts: dict[str, list] = {}
    for r in batch.reports:
        for f in r.findings:
            c = counts.setdefault(f.code, [f.code, f.name, f.severity, 0, 0])
            c[3] += 1
    for r in batch.reports:
        for code in {f.code for f in r.findings}:
            counts[code][4] += 1
    rows = sorted(counts.values(), key=lambda c: (-c[3], c[0]))
    if as_json:
        import json

        return json.dumps([{"code": c, "name": n, "severity": s, "count": k, "logs": logs} for c, n, s, k, logs in rows],
                          indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(c[3])) for c in rows)
    name_w = max(len(c[1]) for c in rows)
    return "".join(f"{k:>{width}}  {c}  {n:<{name_w}}  {s}\n" for c, n, s, k, _ in rows)


def concise(batch: "Batch") -> str:
    """``-q``: one line per finding, ``PATH: CODE name severity: message``."""
    return "".join(f"{printable(r.source.path)}: {f.code} {f.name} {f.severity}: {printable(f.message)}\n"
                   for r in batch.reports for f in r.findings)

