"""The short text outputs of the command line: ``analyze --quiet`` (one line per finding),
``analyze --statistics`` (the findings counted per rule code, as ruff's) and ``config``'s listing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from . import printable

if TYPE_CHECKING:
    from ..report import Batch


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



def settings_text(d: Mapping[str, Any], keys: Iterable[str]) -> str:
    """``curvediag config``: the settings (``Settings.to_dict()``) key by key, with where each came from."""
    out = [f"config file: {printable(d['config_file'] or '(none found)')}"]
    for key in (k for k in keys if k not in ("rules", "per-path")):
        val = d[key]
        shown = ", ".join(val) if isinstance(val, list) else val
        out.append(f"{key:13s} = {shown if shown not in (None, '') else '-'}   ({d['origin'].get(key, 'default')})")
    for code, opts in d["rules"].items():
        out.append(f"rules.{code} = " + ", ".join(f"{k}={v}" for k, v in opts.items()))
    for i, entry in enumerate(d["per-path"]):
        out.append(printable(f"per-path[{i}] = " + ", ".join(f"{k}={v}" for k, v in entry.items())))
    out.append("enabled rules: " + " ".join(d["enabled"]))
    return "\n".join(out) + "\n"
