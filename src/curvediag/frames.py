"""Many runs in one long table -- the shape most trackers export (MLflow's metric history,
W&B's ``scan_history``, a warehouse query): one row per (run, step, metric key, value).

* :func:`diagnose_frame` splits such a table by run and diagnoses each run;
* :func:`diagnose_run` is the pure per-run function: one run's long (or wide) ``DataFrame`` in,
  the JSON report dict (one element of ``curvediag analyze --format json``'s array) out.  It is a top-level function of
  picklable arguments, so it runs where the data already is -- a Dask or Spark worker -- with no
  scheduler of ours::

      import dask.dataframe as dd, curvediag
      ddf = dd.read_parquet("metrics/")          # columns run_id, step, key, value
      reports = ddf.groupby("run_id").apply(curvediag.diagnose_run, meta=("report", object)).compute()

  (``docs/scale-out.md`` has the ``dask.distributed`` and Spark ``applyInPandas`` recipes.)

A value recorded as NaN or infinity stays a recorded value (evidence of divergence); a key a run
did not log at a step is *missing*, as an empty cell in a CSV.
"""

from __future__ import annotations

from typing import Any, Hashable

from ._np import np

from .settings import Settings
from .errors import UsageError
from .pipeline import diagnose_log, diagnose_table
from .report import Report
from .table import RawTable
from .errors import InputError


def _numeric(col) -> np.ndarray:
    import pandas as pd

    if col.dtype.kind in "biuf":
        return col.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def long_table(df, *, step: str = "step", key: str = "key", value: str = "value", source: str = "<DataFrame>") -> RawTable:
    """One run's long rows as the :class:`~curvediag.table.RawTable` a reader would make: one row
    per distinct step (in step order), one column per metric key; a later row for the same
    (step, key) replaces an earlier one, as a tracker's latest write does."""
    for c in (step, key, value):
        if c not in df.columns:
            raise UsageError(f"{source}: no column {c!r} in the long table (columns: {', '.join(map(str, df.columns))})")
    steps = _numeric(df[step])
    vals = _numeric(df[value])
    keys = df[key].astype(str).to_numpy()
    ok = np.isfinite(steps)  # a row without a usable step cannot be placed
    steps, vals, keys = steps[ok], vals[ok], keys[ok]
    axis, row = np.unique(steps, return_inverse=True)
    n = int(axis.size)
    names = ["step"]
    values: dict[str, np.ndarray] = {"step": axis.astype(float)}
    present: dict[str, np.ndarray] = {"step": np.ones(n, dtype=bool)}
    import pandas as pd

    for k in pd.unique(keys):  # metric columns in the order their keys first appear, as a file lists them
        idx = np.flatnonzero(keys == k)
        name = str(k) if k != "step" else "step_value"
        v = np.full(n, np.nan)
        p = np.zeros(n, dtype=bool)
        v[row[idx]] = vals[idx]  # in row order: the last write of a (step, key) wins
        p[row[idx]] = True
        names.append(name)
        values[name] = v
        present[name] = p
    return RawTable(names, values, present, n, "long-table")


#: the column names a long table's columns go by in trackers' exports (CSV header detection)
LONG_RUN = ("run_id", "run", "run_uuid", "run_name")
LONG_STEP = ("step", "global_step", "_step")
LONG_KEY = ("key", "metric_key", "metric")
LONG_VALUE = ("value", "metric_value")


def long_columns(header) -> tuple[str | None, str, str, str] | None:
    """(run, step, key, value) column names when ``header`` is a long table's (the run column may
    be absent: one run), else None."""
    names = {str(h).strip().lower(): str(h).strip() for h in header}

    def pick(options):
        return next((names[o] for o in options if o in names), None)

    step, key, value = pick(LONG_STEP), pick(LONG_KEY), pick(LONG_VALUE)
    if step is None or key is None or value is None:
        return None
    return pick(LONG_RUN), step, key, value


def long_runs(data: bytes, source: str, cols: tuple[str | None, str, str, str]) -> list[tuple[Hashable, RawTable]]:
    """Each run of a long-format CSV's bytes: (run id, its table), in the order runs first appear."""
    import io

    import pandas as pd

    run, step, key, value = cols
    try:
        df = pd.read_csv(io.BytesIO(data), dtype={c: str for c in (run, key) if c}, keep_default_na=False,
                         na_values={step: [""], value: ["", "NaN", "nan"]}, compression="infer")
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        raise InputError(source, f"cannot read the long-format CSV ({str(e).splitlines()[0][:200]})") from None
    if not len(df):
        raise InputError(source, "a long-format CSV (run, step, key, value) without rows")
    if run is None:
        return [(source, _long(df, step, key, value, source))]
    return [(rid, _long(g, step, key, value, f"{source}#run={rid}")) for rid, g in df.groupby(run, sort=False, dropna=False)]


def _long(df, step: str, key: str, value: str, source: str) -> RawTable:
    table = long_table(df, step=step, key=key, value=value, source=source)
    table.format = "long_csv"
    table.notes.append(f"long-format table: {table.rows} steps, {len(table.names) - 1} keys")
    return table


def _is_long(df, key: str, value: str) -> bool:
    return key in df.columns and value in df.columns


def diagnose_run(
    frame, settings: Settings | None = None, *, step: str = "step", key: str = "key", value: str = "value",
    source: str | None = None,
) -> dict[str, Any]:
    """One run's ``DataFrame`` -> its JSON report dict (the ``--format json`` object).

    ``frame`` is long (``step``, ``key`` and ``value`` columns; other columns, such as the run id, are
    ignored) or wide (one column per metric, as :func:`curvediag.diagnose` takes).  Pure: it reads
    only its arguments and returns plain data, so it can be shipped to worker processes."""
    return _report(frame, settings, step=step, key=key, value=value, source=source).to_dict()


def _report(frame, settings: Settings | None, *, step: str, key: str, value: str, source: str | None) -> Report:
    s = settings or Settings()
    if _is_long(frame, key, value):
        name = source or _run_name(frame) or "<DataFrame>"
        table = long_table(frame, step=step, key=key, value=value, source=name)
        return diagnose_table(table, name, s)[0]
    report, curves = diagnose_log(frame, s)
    object.__setattr__(report, "_curves", curves)  # as curvediag.diagnose keeps them, for report.plot()
    return report


def _run_name(frame) -> str | None:
    for c in ("run_id", "run", "run_name", "name"):
        if c in frame.columns and len(frame):
            return str(frame[c].iloc[0])
    name = getattr(frame, "name", None)  # groupby(...).apply hands each group its key as .name
    return str(name) if isinstance(name, (str, int, np.integer)) else None


def diagnose_frame(
    df, *, run: str = "run_id", step: str = "step", key: str = "key", value: str = "value",
    settings: Settings | None = None,
) -> dict[Hashable, Report]:
    """Every run of a long table: ``{run id: Report}``, in the order the runs first appear.

    A run that cannot be diagnosed (no loss column, no rows) raises
    :class:`~curvediag.errors.InputError` naming the run."""
    if run not in df.columns:
        raise UsageError(f"no run column {run!r} in the table (columns: {', '.join(map(str, df.columns))}); "
                         "give run=... the column that names the run")
    for c in (step, key, value):
        if c not in df.columns:
            raise UsageError(f"no column {c!r} in the long table (columns: {', '.join(map(str, df.columns))})")
    out: dict[Hashable, Report] = {}
    for rid, group in df.groupby(run, sort=False, dropna=False):
        out[rid] = _report(group, settings, step=step, key=key, value=value, source=str(rid))
    return out


__all__ = ["diagnose_frame", "diagnose_run", "long_table"]
