"""The one-log pipeline: read a log, diagnose a table.

    log --readers--> RawTable --table.to_curves--> Curves --engine.analyse_judged--> (Report, Curves)

Every place that diagnoses one log goes through here: the library (:mod:`curvediag.api`), the
many-log runner (:mod:`curvediag.batch`), long tables (:mod:`curvediag.frames`), comparisons
(:mod:`curvediag.comparison`), the live monitor (:mod:`curvediag.monitor`) and ``watch``
(:mod:`curvediag.watch`).  The judging itself, the rules and the confidence of the verdict (the
copies of the run judged again, :func:`curvediag.engine.assess`), stays in the engine: it judges
curves, whatever read them."""

from __future__ import annotations

import os
from typing import Any, Mapping

from .curves import Curves
from .engine import analyse_judged
from .errors import UsageError
from .readers import load
from .readers.memory import table_of
from .report import Report
from .settings import Settings
from .table import RawTable, to_curves


def check_columns(settings: Settings) -> None:
    """A quality metric and a validation accuracy both named: refused (one is judged, not both)."""
    if settings.columns.get("metric") and settings.columns.get("val_acc"):
        raise UsageError("give --metric or --val-acc, not both")


def load_curves(
    log: Any,
    *,
    input_format: str | None = None,
    columns: Mapping[str, str] | None = None,
    run: str | None = None,
) -> Curves:
    """Read ``log``: a path, ``-``, or an in-memory log (:mod:`curvediag.readers.memory`: a pandas
    DataFrame, a dict of lists or numpy arrays, a Keras History, a Hugging Face ``log_history``)."""
    overrides = dict(columns or {})
    if isinstance(log, (str, os.PathLike)):
        return load(os.fspath(log), input_format, overrides, run)
    table, source = table_of(log)
    return to_curves(table, source, overrides)


def read(log: Any, settings: Settings) -> Curves:
    """The curves of ``log`` read as ``settings`` say (input format, column names, run)."""
    check_columns(settings)
    return load_curves(log, input_format=settings.input_format, columns=settings.columns, run=settings.run)


def diagnose_log(log: Any, settings: Settings) -> tuple[Report, Curves]:
    """Read ``log`` and diagnose it: the report, and the curves it judges (for a plot beside it)."""
    return diagnose_curves(read(log, settings), settings)


def curves_of(table: RawTable, source: str, settings: Settings) -> Curves:
    """A table already read (a long table's run, a live monitor's rows, what ``watch`` read of a
    file) made into curves, with the column names ``settings`` give."""
    return to_curves(table, source, dict(settings.columns))


def diagnose_curves(curves: Curves, settings: Settings) -> tuple[Report, Curves]:
    """Curves already read, diagnosed: the report, and the curves it judges (for a log of several
    loss heads, the head's curves; else ``curves`` themselves)."""
    return analyse_judged(curves, settings)


def diagnose_table(table: RawTable, source: str, settings: Settings) -> tuple[Report, Curves]:
    """A table already read, made into curves (:func:`curves_of`) and diagnosed."""
    return diagnose_curves(curves_of(table, source, settings), settings)


__all__ = ["check_columns", "curves_of", "diagnose_curves", "diagnose_log", "diagnose_table", "load_curves", "read"]
