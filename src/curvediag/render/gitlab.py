"""GitLab Code Quality JSON (``artifacts: reports: codequality``): an array of issues, one per
finding and one per input that could not be read, each with ``description``, ``check_name`` (the
rule code), ``fingerprint`` (stable across runs: the log and the rule), ``severity`` and
``location`` (``path`` relative to the working directory, the repository root in a GitLab job;
``lines.begin`` the line of the row where the finding starts, else 1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from . import printable
from .locate import line_of, relative
from .sarif import fingerprint
from ..report import Unreadable

if TYPE_CHECKING:
    from ..report import Batch

SEVERITY = {"ok": "info", "info": "info", "warning": "major", "error": "critical"}


def _path(path: str) -> str:
    return printable(relative(path) or path)


def issues(batch: "Batch") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for given, item in zip(batch.paths, batch.items):
        if isinstance(item, Unreadable):
            path = "<stdin>" if item.path == "-" else item.path
            out.append({"type": "issue", "description": printable(f"curvediag: unreadable: {item.problem}"),
                        "check_name": "unreadable", "fingerprint": fingerprint(path, "unreadable"),
                        "severity": "blocker", "categories": ["Bug Risk"],
                        "location": {"path": _path(path), "lines": {"begin": 1}}})
            continue
        for f in item.findings:
            path = item.source.path
            out.append({
                "type": "issue",
                "description": printable(f"{f.code} {f.name}: {f.message}"),
                "check_name": f.code,
                "fingerprint": fingerprint(path, f.code),
                "severity": SEVERITY[f.severity],
                "categories": ["Bug Risk"],
                "location": {"path": _path(path), "lines": {"begin": line_of(item, f, given) or 1}},
            })
    return out


def render(batch: "Batch") -> str:
    return json.dumps(issues(batch), indent=2, allow_nan=False) + "\n"
