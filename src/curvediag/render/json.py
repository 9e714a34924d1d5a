"""Machine output: strict JSON (no NaN tokens) on stdout."""

from __future__ import annotations

import json
from typing import Sequence

from ..report import Report


def render_lines(reports: Sequence[Report]) -> str:
    """JSON Lines: one report object per line, for many inputs."""
    return "".join(json.dumps(r.to_dict(), allow_nan=False) + "\n" for r in reports)


def render(reports: Sequence[Report], single: bool) -> str:
    data = [r.to_dict() for r in reports]
    obj = data[0] if single and len(data) == 1 else data
    return json.dumps(obj, indent=2, allow_nan=False)
