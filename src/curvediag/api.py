"""The library API: ``curvediag.diagnose(...)``, the public face of the one-log pipeline
(:mod:`curvediag.pipeline`) and the many-log runner (:mod:`curvediag.batch`)."""

from __future__ import annotations

import inspect
import os
from typing import Any, Mapping

from . import summary
from ._np import np
from .batch import many
from .curves import Curves
from .engine import analyse, rule_options
from .errors import InputError, UsageError
from .pipeline import check_columns, diagnose_log, load_curves, read
from .readers import load_table
from .report import Report
from .settings import Settings
from .table import to_curves


def inspect_log(
    path: str, *, input_format: str | None = None, columns: Mapping[str, str] | None = None, run: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """What curvediag reads from a log, before any judgement: the format, the axis,
    every numeric column with its point counts, and the mapping to canonical curves.
    ``settings`` (or the keywords) say how to read it, as for :func:`diagnose`."""
    s = _settings(settings, dict(input_format=input_format, columns=columns, run=run))
    check_columns(s)
    table, source = load_table(os.fspath(path), s.input_format, s.run)
    curves = to_curves(table, source, dict(s.columns))
    cols = []
    for name in table.names:
        v, p = table.values[name], table.present[name]
        cols.append({
            "column": name,
            "points": int(p.sum()),
            "non_finite": int((p & ~np.isfinite(v)).sum()),
            "used_as": (["axis"] if name == curves.source.axis else [])
            + [k for k, sr in curves.series.items() if name in sr.column.split(" + ")]
            # the other loss heads of a log without a total, each judged on its own: 'cls:val_loss'
            + [f"{h}:{k}" for h, hc in curves.heads for k, sr in hc.series.items() if name in sr.column.split(" + ")],
        })
    return {
        "path": source,
        "format": table.format,
        "rows": table.rows,
        "axis": curves.source.axis,
        "axis_kind": curves.axis_kind,
        "columns": cols,
        "mapping": dict(curves.source.columns),
        "analysed_points": {k: len(s) for k, s in curves.series.items()},
        "notes": list(curves.source.notes),
    }


def _settings(settings: Settings | None, kwargs: dict[str, Any]) -> Settings:
    """``settings``, or the Settings the old keyword arguments describe (not both)."""
    given = {k: v for k, v in kwargs.items() if v not in (None, (), [])}
    if settings is not None:
        if given:
            raise UsageError(f"give settings= or keyword arguments ({', '.join(given)}), not both")
        return settings
    return Settings.of(**given)


def diagnose(log: Any, *, settings: Settings | None = None, **kwargs: Any) -> Report:
    """Diagnose one training log and return a :class:`~curvediag.report.Report`.

    ``log`` is a path (CSV, JSON, JSON Lines, ...), ``"-"`` for stdin, a pandas
    DataFrame, or a Keras ``history.history`` dict.  ``settings`` is a
    :class:`~curvediag.settings.Settings` (``curvediag.config.resolve()`` reads the
    configuration file and environment as the CLI does); or give its parts as keywords:

    ``loss``/``val_loss``/``acc``/``val_acc`` name columns the reader cannot recognise
    (``columns`` maps canonical names to columns); ``metric`` names the validation quality
    metric to judge instead of accuracy (mAP, F1, top-1 ...; error rates such as WER are
    read as 1 - rate).  ``num_classes`` enables comparisons with chance (ln K, 1/K).
    ``options`` overrides rule thresholds: ``{"O102": {"rise_limit": 0.2}}``.  ``run`` picks
    one run from a file or store that holds several (MLflow, W&B exports).
    ``select``/``ignore`` choose rules by code, prefix or name (longest prefix wins);
    ``input_format`` skips detection.

    Raises :class:`~curvediag.errors.InputError` for unreadable input.  The report keeps the
    curves it was made from, for ``report.plot()`` and a notebook's chart.
    """
    report, curves = diagnose_with_curves(log, settings=settings, **kwargs)
    object.__setattr__(report, "_curves", curves)  # not a field: not in ==, repr or the JSON
    return report


def diagnose_with_curves(log: Any, *, settings: Settings | None = None, **kwargs: Any) -> tuple[Report, Curves]:
    """:func:`diagnose`, also returning the curves it read (for plots), so a log is parsed once."""
    unknown = set(kwargs) - _keywords()
    if unknown:
        raise TypeError(f"diagnose() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    s = _settings(settings, kwargs)
    return diagnose_log(log, s)


def diagnose_many(logs: Any, settings: Settings | None = None, jobs: int = 1):
    """Diagnose many runs at once and return a :class:`~curvediag.report.Batch` (``.reports``,
    ``.items``: a Report or an :class:`~curvediag.report.Unreadable` entry per run, in order).

    ``logs`` is a sequence (or one) of paths -- expanded as ``curvediag analyze`` does: every run
    of a directory, a long-format CSV's runs, with ``settings.run == "all"`` every run of an MLflow
    database, server URI or W&B export -- and in-memory logs: a long-format DataFrame (``run_id``,
    ``step``, ``key``, ``value`` columns, as :func:`curvediag.diagnose_frame` reads) gives one report
    per run, a wide one (or a dict, History, ``log_history``) one.  ``jobs``: worker processes (0:
    one per core).  A run that cannot be read is its Unreadable entry; nothing is raised for it."""
    return many(logs, settings, jobs)


def _keywords() -> set[str]:
    """The keyword arguments :func:`diagnose` takes: those of :meth:`Settings.of`."""
    return set(inspect.signature(Settings.of).parameters) - {"cls"}


def diagnose_curves(
    curves: Curves,
    *,
    num_classes: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    settings: Settings | None = None,
) -> Report:
    """Diagnose curves already read (:func:`load_curves`): :func:`curvediag.engine.analyse`."""
    if settings is None:
        settings = Settings(num_classes=num_classes, rules={k: dict(v) for k, v in (options or {}).items()},
                            select=tuple(select), ignore=tuple(ignore))
    return analyse(curves, settings)


# kept importable from here: the engine and the summary own them now
build_report = summary.build_report


__all__ = ["diagnose", "diagnose_many", "diagnose_with_curves", "diagnose_curves", "load_curves", "read", "rule_options", "Settings",
           "InputError"]
