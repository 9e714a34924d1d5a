"""Weights & Biases exports.

A panel's "Export CSV" writes ``Step`` and, per run, ``<run> - <key>`` with
``<run> - <key>__MIN`` / ``__MAX`` envelope columns.  ``run.history()`` dumped
to CSV/JSON (``_step``, ``_runtime``, ``train/loss`` ...) needs nothing
special: ``_step`` is the step axis and the keys map like any column.
"""

from __future__ import annotations

from ..errors import InputError
from ..table import RawTable
from .runs import AmbiguousRun, pick


def _panel(name: str) -> tuple[str, str, str | None] | None:
    """``(run, key, envelope)`` of a panel column ``<run> - <key>[__MIN|__MAX]``, or None.

    Linear in the name: the regular expression this replaces
    (``^(.+?) - (.+?)(__MIN|__MAX)?$``) backtracked over every ``" - "`` when a
    line break made it fail, quadratic in a long header; this accepts the same names.
    """
    body = name[:-1] if name.endswith("\n") else name
    if "\n" in body:
        return None
    i = body.find(" - ", 1)  # the run name is at least one character, and the shortest
    if i < 0 or i + 3 >= len(body):
        return None
    key, env = body[i + 3 :], None
    if len(key) > 5 and key.endswith(("__MIN", "__MAX")):
        key, env = key[:-5], key[-5:]
    return body[:i], key, env


def panel_runs(names) -> list[str]:
    """The runs of a panel export's header (``Step``, ``<run> - <key>`` ...), in column order; none
    when the header is not a panel export's."""
    names = list(names)
    if not any(str(n).strip().lower() == "step" for n in names):
        return []
    runs: dict[str, None] = {}
    for n in names:
        m = _panel(str(n))
        if m and not m[2]:
            runs.setdefault(m[0], None)
    return list(runs)


def is_panel_export(table: RawTable) -> bool:
    return any(n.lower() == "step" for n in table.names) and any(
        _panel(n) for n in table.names if n.lower() != "step"
    )


def from_panel_export(table: RawTable, source: str, run: str | None = None) -> RawTable:
    runs: dict[str, list[tuple[str, str]]] = {}
    for n in table.names:
        m = _panel(n)
        if m and not m[2]:
            runs.setdefault(m[0], []).append((n, m[1]))
    if not runs:
        raise InputError(source, "W&B export without metric columns")
    names = list(runs)
    if run is not None:
        try:
            k = pick(run, [(None, n) for n in names])
        except AmbiguousRun as e:
            raise InputError(source, f"--run {run!r} matches several W&B runs: {e}; give more of the name") from None
        if k is None:
            raise InputError(source, f"no W&B run {run!r} in the export (runs: {', '.join(names)})")
        chosen = names[k]
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
