"""Machine output: strict JSON (no NaN tokens) on stdout."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from ..report import Unreadable

if TYPE_CHECKING:
    from ..report import Batch


def _items(batch: "Batch") -> list[dict]:
    """Per input, in the order given: its report, or ``{"path": ..., "error": ...}`` when it
    could not be read (the problem, as on stderr after the path)."""
    return [
        {"path": "<stdin>" if r.path == "-" else r.path, "error": r.problem} if isinstance(r, Unreadable) else r.to_dict()
        for r in batch.items
    ]


def render_lines(batch: "Batch") -> str:
    """JSON Lines: one object per line, for many inputs (a report, or an unreadable input's entry)."""
    return "".join(json.dumps(d, allow_nan=False) + "\n" for d in _items(batch))


def render(batch: "Batch") -> str:
    """An array, however many inputs were given: a report or an unreadable input's
    ``{"path", "error"}`` entry per input, in the order given."""
    return json.dumps(_items(batch), indent=2, allow_nan=False) + "\n"
