"""The raw table readers produce, and its conversion to canonical curves.

Readers only parse; everything about meaning (which column is the validation
loss, which axis to use, appended runs, percentages) is decided here, once,
for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._np import np

from .columns import find_axis, map_columns
from .curves import CANONICAL, LR, TRAIN_ACC, VAL_ACC, Curves, Series, SourceInfo
from .errors import InputError


@dataclass
class RawTable:
    """Numeric columns of a log, in file order.

    ``values[c]`` holds floats (NaN/inf as recorded); ``present[c]`` is False
    where the cell was missing (empty, ``NA``, key absent), which is different
    from a recorded NaN.  ``boundaries`` are row indices where a new run starts
    for reasons the axis cannot show (a repeated header line).
    """

    names: list[str]
    values: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    rows: int
    format: str
    notes: list[str] = field(default_factory=list)
    boundaries: list[int] = field(default_factory=list)
    fastai: bool = False


class _Steps:
    """Where a column fails to rise, found in one pass and shared by the run, axis and
    merge checks (each a pass over a million-row column otherwise): ``stalls`` are the
    indices i with v[i+1] <= v[i], ``falls`` those with v[i+1] < v[i]."""

    def __init__(self, v: np.ndarray):
        self.stalls = np.flatnonzero(v[1:] <= v[:-1])
        self.falls = self.stalls[v[self.stalls + 1] < v[self.stalls]]


def _segments(axis: np.ndarray, present: np.ndarray, boundaries: list[int], steps: _Steps | None = None) -> list[int]:
    """Row indices where a new run starts: the axis goes backwards, or a boundary."""
    starts = set(b for b in boundaries if 0 < b)
    if present.all():  # dense (the usual case): no index to build
        falls = (steps or _Steps(axis)).falls
        starts.update(int(i) for i in falls + 1)
        return sorted(starts)
    idx = np.flatnonzero(present)
    if idx.size > 1:
        a = axis[idx]
        back = np.flatnonzero(a[1:] < a[:-1]) + 1
        starts.update(int(idx[i]) for i in back)
    return sorted(starts)


def _aggregate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Average points that share an axis position (per-step rows on an epoch axis).

    Linear when the axis never falls (the usual per-step log on an epoch axis): the runs of
    equal positions are found in one pass and summed with ``bincount``; only an axis that
    goes back and forth is sorted.  Sums are taken in file order either way (NaN/inf
    propagate: evidence is kept)."""
    if x.size < 2:
        return x, y, False
    if not (x[1:] < x[:-1]).any():
        new = x[1:] != x[:-1]
        if new.all():
            return x, y, False
        ids = np.empty(x.size, dtype=np.intp)
        ids[0] = 0
        np.cumsum(new, out=ids[1:])
        first = np.flatnonzero(np.concatenate(([True], new)))
        counts = np.diff(np.append(first, x.size))
        sums = np.bincount(ids, weights=y, minlength=first.size)
        return x[first], sums / counts, True
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    ux, inv, counts = np.unique(xs, return_inverse=True, return_counts=True)
    if ux.size == xs.size:
        return xs, ys, False
    sums = np.bincount(inv.ravel(), weights=ys, minlength=ux.size)
    return ux, sums / counts, True


def to_curves(
    table: RawTable,
    source: str,
    overrides: dict[str, str] | None = None,
) -> Curves:
    names = table.names
    if table.rows == 0:
        raise InputError(source, "no data rows")
    try:
        mapping = map_columns(
            [n for n in names], overrides, unprefixed_metrics_are_validation=table.fastai
        )
    except KeyError as e:
        raise InputError(
            source, f"no column named {e.args[0]!r} (columns: {', '.join(names)})"
        ) from None
    notes = list(table.notes) + list(mapping.notes)
    if not any(c in mapping.columns for c in ("train_loss", "val_loss")):
        cols = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise InputError(
            source,
            f"no recognisable loss column (columns: {cols}); name one with --loss or --val-loss",
        )

    epoch_col, step_col = find_axis(names)
    rows = table.rows
    # Appended runs: detect on the step counter when there is one (it is global and
    # monotone within a run, while HF's epoch may restart), else on the epoch.
    seg_col = step_col or epoch_col
    steps: dict[str, _Steps] = {}

    def steps_of(col: str) -> _Steps:
        if col not in steps:
            steps[col] = _Steps(table.values[col])
        return steps[col]

    start = 0
    if seg_col is not None or table.boundaries:
        if seg_col is not None:
            starts = _segments(table.values[seg_col], table.present[seg_col], table.boundaries, steps_of(seg_col))
            if seg_col == step_col and epoch_col is not None:
                # an iteration counter that restarts every epoch (mmcv's 'iter') is not a new run:
                # a restart counts only where the epoch went backwards too
                e_starts = set(_segments(table.values[epoch_col], table.present[epoch_col], []))
                bounds = set(table.boundaries)  # a set: one header line per run made this quadratic
                starts = [r for r in starts if r in e_starts or r in bounds]
        else:
            starts = sorted(b for b in table.boundaries if b > 0)
        if starts:
            start = starts[-1]
            what = f"the {seg_col} counter restarts" if seg_col else "the header repeats"
            notes.append(
                f"{len(starts) + 1} runs appended in one file ({what}); "
                f"analysed the last run (rows {start + 1}-{rows})"
            )
    sl = slice(start, rows)

    axis_col, axis_kind = None, "index"
    for col, kind in ((epoch_col, "epoch"), (step_col, "step")):
        if col is None:
            continue
        vals, pres = table.values[col][sl], table.present[col][sl]
        m = pres & np.isfinite(vals)
        if m.all():  # dense: the shared pass says whether it ever falls within the slice
            rising = not (steps_of(col).falls >= start).any()
        else:
            a = vals[m]
            rising = not (a[1:] < a[:-1]).any()
        if m.any() and rising:
            axis_col, axis_kind = col, kind
            break
    if axis_col is None and epoch_col is not None and step_col is not None:
        axis_col, axis_kind = step_col, "step"

    n = rows - start
    if axis_col is not None:
        x_all = table.values[axis_col][sl].astype(float, copy=False)
        x_ok = table.present[axis_col][sl] & np.isfinite(x_all)
        x_dense = bool(x_ok.all())
        # strictly increasing (the usual step or epoch column): no series on it has points to merge
        if x_dense:
            x_strict = not (steps_of(axis_col).stalls >= start).any()
        else:
            xa = x_all[x_ok]
            x_strict = not (xa[1:] <= xa[:-1]).any()
    else:
        x_all = np.arange(n, dtype=float)
        x_ok = np.ones(n, dtype=bool)
        x_dense = x_strict = True

    series: dict[str, Series] = {}
    columns: dict[str, str] = {}
    for canon in CANONICAL:
        if canon not in mapping.columns:
            continue
        col, transform = mapping.columns[canon]
        if transform == "sum":
            parts = col.split("+")
            y = sum(table.values[p][sl].astype(float) for p in parts)
            ok = np.logical_and.reduce([table.present[p][sl] for p in parts]) & x_ok
            col = " + ".join(parts)
        else:
            y = table.values[col][sl].astype(float, copy=False)
            ok = table.present[col][sl]
            ok = ok if x_dense else ok & x_ok
        if ok.all():  # a dense column: no copies
            x = x_all
        else:
            x, y = x_all[ok], y[ok]
        note, scale = None, 1.0
        inverted = transform.startswith("error_rate")
        quality = transform in ("quality", "error_rate_quality")
        if canon in (TRAIN_ACC, VAL_ACC):
            fin = y[np.isfinite(y)]
            if fin.size and fin.max() > 1.0 + 1e-9 and fin.max() <= 100.0 and fin.min() >= 0.0:
                y, scale = y / 100.0, 100.0
                note = "percent, divided by 100"
        if inverted:
            y = 1.0 - y
            note = f"1 - {col}" + (f", {note}" if note else "")
        if quality:
            note = "quality metric, not accuracy" + (f"; {note}" if note else "")
        x, y, merged = (x, y, False) if x_strict else _aggregate(x, y)
        if merged:
            notes.append(f"{col}: points sharing an {axis_kind} were averaged")
        if y.size == 0 and canon != LR:
            notes.append(f"column {col!r} has no values in the analysed rows")
            continue
        series[canon] = Series(canon, col, x, y, note, quality=quality, scale=scale, inverted=inverted)
        columns[canon] = col + (f" ({note})" if note else "")
    if not any(k in series for k in ("train_loss", "val_loss")):
        raise InputError(source, "the loss columns hold no values")

    info = SourceInfo(
        path=source,
        format=table.format,
        rows=rows,
        axis=axis_col or "index",
        columns=columns,
        notes=tuple(notes),
    )
    return Curves(info, series, axis_kind)
