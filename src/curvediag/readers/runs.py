"""Which run ``--run`` names, the same way in every store that holds several (an MLflow file store,
database or server, a W&B panel export): as the tracker's UI shows runs -- by name, or by id.

In order: a run whose name is exactly the text, one whose id is, then the one run whose id or name
starts with it (a prefix shared by several runs is an error listing them, never a guess).

:func:`find_runs`: the runs of an MLflow file store below a directory (the directory search and the
MLflow reader both list them; neither imports the other for it)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from .source import within


class AmbiguousRun(ValueError):
    """A prefix several runs share; ``matches`` are their labels."""

    def __init__(self, matches: list[str]):
        super().__init__(", ".join(matches))
        self.matches = matches


def label(run_id: str | None, name: str | None) -> str:
    """A run as a list of choices shows it: its name (and the id's first 8 characters)."""
    if name and run_id and name != run_id:
        return f"{name} ({run_id[:8]})"
    return name or (run_id or "")[:8]


def pick(run: str, runs: Sequence[tuple[str | None, str | None]]) -> int | None:
    """The index in ``runs`` ((id, name) pairs, in the store's order) of the run ``run`` names, or None."""
    for exact in (lambda i, n: n == run, lambda i, n: i == run):
        hits = [k for k, (i, n) in enumerate(runs) if exact(i, n)]
        if hits:
            return hits[0]
    hits = [k for k, (i, n) in enumerate(runs) if (i or "").startswith(run) or (n or "").startswith(run)]
    if len(hits) > 1:
        raise AmbiguousRun([label(*runs[k]) for k in hits[:10]] + (["..."] if len(hits) > 10 else []))
    return hits[0] if hits else None


def choices(runs: Sequence[tuple[str | None, str | None]], limit: int = 10) -> str:
    shown = [label(*r) for r in runs[:limit]]
    return ", ".join(shown) + (" ..." if len(runs) > limit else "")


def is_run_dir(path: Path) -> bool:
    """An MLflow file-store run: ``metrics/`` beside ``meta.yaml``."""
    return (path / "metrics").is_dir() and (path / "meta.yaml").is_file()


def find_runs(root: Path) -> list[Path]:
    """MLflow run directories below ``root``; none reached through a link that leads outside it."""
    if is_run_dir(root):
        return [root]
    real = os.path.realpath(root)
    return sorted(
        {p.parent for p in root.glob("**/metrics") if p.is_dir() and is_run_dir(p.parent) and within(p, real)}
    )
