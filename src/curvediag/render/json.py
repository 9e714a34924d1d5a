"""Machine output: strict JSON (no NaN tokens) on stdout."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..batch import Batch


def render_lines(batch: "Batch") -> str:
    """JSON Lines: one report object per line, for many inputs."""
    return "".join(json.dumps(r.to_dict(), allow_nan=False) + "\n" for r in batch.reports)


def render(batch: "Batch") -> str:
    """One report object for one input, else a list of them (unreadable inputs are on stderr)."""
    data = [r.to_dict() for r in batch.reports]
    obj = data[0] if batch.single and len(data) == 1 else data
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"
