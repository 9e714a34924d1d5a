"""Weights & Biases exports.

A panel's "Export CSV" writes ``Step`` and, per run, ``<run> - <key>`` with
``<run> - <key>__MIN`` / ``__MAX`` envelope columns.  ``run.history()`` dumped
to CSV/JSON (``_step``, ``_runtime``, ``train/loss`` ...) needs nothing
special: ``_step`` is the step axis and the keys map like any column.
"""

from __future__ import annotations

import re

from ..errors import InputError
from ..table import RawTable

_PANEL = re.compile(r"^(?P<run>.+?) - (?P<key>.+?)(?P<env>__MIN|__MAX)?$")


def is_panel_export(table: RawTable) -> bool:
    return any(n.lower() == "step" for n in table.names) and any(
        _PANEL.match(n) for n in table.names if n.lower() != "step"
    )


def from_panel_export(table: RawTable, source: str, run: str | None = None) -> RawTable:
    runs: dict[str, list[tuple[str, str]]] = {}
    for n in table.names:
        m = _PANEL.match(n)
        if m and not m.group("env"):
            runs.setdefault(m.group("run"), []).append((n, m.group("key")))
    if not runs:
        raise InputError(source, "W&B export without metric columns")
    names = list(runs)
    if run is not None:
        if run not in runs:
            raise InputError(source, f"no W&B run {run!r} in the export (runs: {', '.join(names)})")
        chosen = run
    else:
        chosen = names[0]
    step = next((n for n in table.names if n.lower() == "step"), None)
    if step is None:
        shown = ", ".join(table.names[:6]) + (" ..." if len(table.names) > 6 else "")
        raise InputError(source, f"W&B panel export without a 'Step' column (columns: {shown})")
    out_names = [step] + [key for _, key in runs[chosen]]
    values = {step: table.values[step], **{key: table.values[col] for col, key in runs[chosen]}}
    present = {step: table.present[step], **{key: table.present[col] for col, key in runs[chosen]}}
    notes = list(table.notes) + [f"W&B panel export: run {chosen!r}"]
    if len(runs) > 1 and run is None:
        notes[-1] += f" of {len(runs)} (--run picks another: {', '.join(names[1:4])}{' ...' if len(names) > 4 else ''})"
    return RawTable(out_names, values, present, table.rows, "wandb_csv", notes)
