"""The raw table readers produce, and its conversion to canonical curves.

Readers only parse; everything about meaning (which column is the validation
loss, which axis to use, appended and resumed runs, percentages) is decided
here, once, for every format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping as _Mapping
from dataclasses import dataclass, field, replace

from ._np import np

from .columns import Mapping, find_axis, map_columns
from .curves import CANONICAL, LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Curves, Series, SourceInfo
from .errors import InputError
from .columns import norm


@dataclass
class RawTable:
    """Numeric columns of a log, in file order.

    ``values[c]`` holds floats (NaN/inf as recorded); ``present[c]`` is False
    where the cell was missing (empty, ``NA``, key absent), which is different
    from a recorded NaN.  ``boundaries`` are row indices where a new run starts
    for reasons the axis cannot show (a repeated header line).
    """

    names: list[str]
    values: _Mapping[str, np.ndarray]  # a dict, or a Monitor's columns made dense when first read
    present: _Mapping[str, np.ndarray]
    rows: int
    format: str
    notes: list[str] = field(default_factory=list)
    boundaries: list[int] = field(default_factory=list)
    fastai: bool = False
    facts: dict = field(default_factory=dict)  # SourceInfo.facts: what the file says beyond its curves


class _Steps:
    """Where a column fails to rise, shared by the run, axis and merge checks (each a pass
    over a million-row column otherwise), each computed once, when first asked for:
    ``falls`` are the indices i with v[i+1] < v[i] (few: where a run restarts);
    :meth:`stalls_from` tells whether v[i+1] <= v[i] for some i >= start (an epoch column
    stalls on nearly every row: only a boolean answer is kept, never their indices)."""

    def __init__(self, v: np.ndarray):
        self._v = v
        self._falls: np.ndarray | None = None
        self._stalls: dict[int, bool] = {}

    @property
    def falls(self) -> np.ndarray:
        if self._falls is None:
            v = self._v
            self._falls = np.flatnonzero(v[1:] < v[:-1])
        return self._falls

    def stalls_from(self, start: int) -> bool:
        hit = self._stalls.get(start)
        if hit is None:
            v = self._v[start:]
            hit = self._stalls[start] = bool((v[1:] <= v[:-1]).any())
        return hit


def _segments(axis: np.ndarray, present: np.ndarray, boundaries: list[int], steps: _Steps | None = None) -> list[int]:
    """Row indices where the axis goes backwards (a new run, or a resume: see
    :func:`_split_runs`), or a boundary."""
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


def _rises_at(axis: np.ndarray, present: np.ndarray, rows: list[int]) -> bool:
    """Whether the column rises at any of ``rows`` (above its previous value): where a step
    counter falls as the epoch moves on, the counter restarts every epoch."""
    ok = present & np.isfinite(axis)
    if ok.all():  # dense (the usual case): the rows are their own positions, no index to build
        if ok.size < 2 or not rows:
            return False
        k = np.asarray(rows)
        k = k[(k > 0) & (k < ok.size)]
        return bool((axis[k] > axis[k - 1]).any())
    idx = np.flatnonzero(ok)
    if idx.size < 2 or not rows:
        return False
    k = np.searchsorted(idx, rows)
    k = k[(k > 0) & (k < idx.size)]
    a = axis[idx]
    return bool((a[k] > a[k - 1]).any())


def _split_runs(
    axis: np.ndarray, present: np.ndarray, backs: list[int], boundaries: list[int]
) -> tuple[list[int], list[int]]:
    """Tell the rows where the axis goes back (``backs``, from :func:`_segments`) apart:
    (restarts, resumes).

    A *restart* is a new run appended to the file: the counter returns to (near) the start
    of its run, no further than one logging interval (the median step between rows) above
    it, or the header repeats (a boundary).  A *resume* returns into the current run: a job
    resumed from its last checkpoint re-logs the steps since that checkpoint, and the later
    rows replace the earlier ones (as TensorBoard merges them)."""
    bounds = {b for b in boundaries if b > 0}
    if not backs:  # one run (the usual case): no index of the axis's rows to build
        return sorted(bounds), []
    ok = present & np.isfinite(axis)
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        return sorted(set(backs) | bounds), []
    a = axis[idx]
    d = np.diff(a)
    d = d[d > 0]
    tol = float(np.median(d)) if d.size else 0.0
    restarts: list[int] = []
    resumes: list[int] = []
    run_start = float(a[0])
    rs = sorted(set(backs) | bounds)
    ks = np.searchsorted(idx, rs)  # the first row from r on with an axis value
    vs = np.where(ks < idx.size, a[np.minimum(ks, idx.size - 1)], np.nan).tolist()
    for r, v in zip(rs, vs):
        if v != v:  # no axis value after a repeated header: a new run all the same
            v = run_start
        if r in bounds or v <= run_start + tol:
            restarts.append(r)
            run_start = v
        else:
            resumes.append(r)
    return restarts, resumes


def _resumed_rows(
    axis: np.ndarray, present: np.ndarray, start: int, resumes: list[int], col: str
) -> tuple[np.ndarray, list[str]]:
    """Rows of the run from ``start`` to keep, and notes: a resume at row r to axis value v
    drops the earlier rows of the run at v or beyond (they were re-logged from r on)."""
    ax = axis[start:].astype(float, copy=True)
    known = present[start:] & np.isfinite(ax)
    # a row without an axis value belongs where the row before it was
    pos = np.where(known, np.arange(ax.size), -1)
    np.maximum.accumulate(pos, out=pos)
    ax = np.where(pos >= 0, ax[np.maximum(pos, 0)], -np.inf)
    limit = np.full(ax.size, np.inf)
    rel = np.asarray(resumes, dtype=int) - start
    limit[rel] = ax[rel]
    # the lowest value any later resume returns to: a row at or beyond it was re-logged
    later = np.append(np.minimum.accumulate(limit[::-1])[::-1][1:], np.inf)
    keep = ax < later
    notes: list[str] = []
    dropped_before = np.zeros(ax.size, dtype=bool)
    for j, r in enumerate(rel[:3]):
        v = ax[r]
        gone = ~keep[:r] & ~dropped_before[:r] & (ax[:r] >= v)
        dropped_before[:r] |= gone
        if not gone.any():
            continue
        w = float(ax[:r][gone].max())
        nxt = rel[j + 1] if j + 1 < rel.size else ax.size
        again = np.flatnonzero(ax[r:nxt] <= w) + r
        if not again.size:
            again = np.array([r])
        notes.append(
            f"resumed at {col} {v:g}: {_row_range(again + start)} re-logged {col}s {v:g}-{float(ax[again].max()):g}; "
            f"the earlier {_row_range(np.flatnonzero(gone) + start)} ({col}s {v:g}-{w:g}) dropped, later rows kept"
        )
    if rel.size > 3:
        notes.append(f"resumed {rel.size - 3} more times; each time the later rows were kept")
    return np.flatnonzero(keep) + start, notes


def _row_range(rows: np.ndarray) -> str:
    """1-based rows for people: 'rows 5-9', or 'N rows (5-90)' when not contiguous."""
    lo, hi = int(rows[0]) + 1, int(rows[-1]) + 1
    if rows.size == 1:
        return f"row {lo}"
    if hi - lo + 1 == rows.size:
        return f"rows {lo}-{hi}"
    return f"{rows.size} rows ({lo}-{hi})"


def _repeated_rows(table: RawTable, sel: slice | np.ndarray, axis: list[str]) -> tuple[np.ndarray, str] | None:
    """The rows to keep when the log writes rows again, identically, one after the other (a
    logger called twice per epoch, a CSV written by two handlers), and a note; None when it does
    not.  With an axis column a repeated row sits at the same epoch or step and adds nothing (its
    points would only be averaged with themselves): every such repeat is dropped.  Without one the
    row order is the axis, and rows are dropped only when the whole log repeats them the same
    number of times (every row twice), or is one block of rows written again after itself; never
    a run of equal values a stuck run logged."""
    n = table.rows - sel.start if isinstance(sel, slice) else sel.size
    if n < 2:
        return None
    if not axis:
        copies = _copies(table, sel, n)
        if copies > 1:
            idx = np.arange(table.rows)[sel]
            return idx[: n // copies], f"the whole table is written {copies} times, one copy after the other; read once"
    same: np.ndarray | None = None
    # the axis first (the step before the epoch: it rises on every row of most logs): it settles most logs
    for name in axis[::-1] + [c for c in table.names if c not in axis]:
        eq = _equal(table, name, sel, slice(1, None), slice(None, -1))
        same = eq if same is None else np.logical_and(same, eq, out=same)
        if not same.any():
            return None
    assert same is not None
    idx = np.arange(table.rows)[sel]
    if not axis:
        starts = np.flatnonzero(np.concatenate(([True], ~same)))
        lengths = np.diff(np.append(starts, n))
        k = int(lengths[0])
        # at least three distinct rows: a constant log (a frozen model) is no repeat of rows
        if k < 2 or lengths.size < 3 or (lengths[:-1] != k).any() or lengths[-1] > k:
            return None
        return idx[starts], f"every row is written {k} times in a row; each read once"
    keep = idx[np.concatenate(([True], ~same))]
    return keep, f"{n - keep.size} rows repeat the row before them exactly (same {axis[0]}); each read once"


def _equal(table: RawTable, name: str, sel: slice | np.ndarray, a: slice, b: slice) -> np.ndarray:
    """Where the cells ``a`` and ``b`` of column ``name`` (within the rows ``sel``) hold the same:
    both missing, or the same value bit for bit (NaN equal to NaN)."""
    v = np.ascontiguousarray(table.values[name][sel], dtype=np.float64).view(np.int64)
    eq = v[a] == v[b]
    p = table.present[name][sel]
    if not p.all():
        pa, pb = p[a], p[b]
        eq &= pa == pb
        eq |= ~pa & ~pb
    return eq


def _copies(table: RawTable, sel: slice | np.ndarray, n: int) -> int:
    """How many identical copies of one block of rows the rows ``sel`` are, one after the other
    (a log without an axis written again after itself); 1 when they are no such repeat.  At least
    three distinct rows per copy: a constant log is no repeat."""
    for k in (2, 3, 4):
        m = n // k
        if n % k or m < 3:
            continue
        if all(_equal(table, name, sel, slice(j * m, (j + 1) * m), slice(0, m)).all()
               for name in table.names for j in range(1, k)):
            diff = np.zeros(m - 1, dtype=bool)
            for name in table.names:
                diff |= ~_equal(table, name, sel, slice(1, m), slice(0, m - 1))
            if 1 + int(np.count_nonzero(diff)) >= 3:
                return k
    return 1


def _distinct(v: np.ndarray) -> int:
    """Distinct finite values of a column that never falls."""
    v = v[np.isfinite(v)]
    return int(v.size and 1 + np.count_nonzero(v[1:] > v[:-1]))


#: the epoch axis is used only while it keeps this share of the validation points apart
EPOCH_KEEPS = 0.9


def _epoch_too_coarse(
    table: RawTable, mapping: Mapping, sel: slice | np.ndarray, epoch: np.ndarray, epoch_ok: np.ndarray, alt: str | None
) -> str | None:
    """Why the epoch column is too coarse an axis, or None when it will do.

    The epoch axis averages the rows that share an epoch.  That is right for per-step
    training rows beside one validation point per epoch, and wrong when the epoch barely
    moves (logged as 0 on every row of a one-epoch run, or coarse over thousands of steps).
    Rule: with a validation curve (val_loss, else val_acc) that the step column (or the row
    order) puts at 3 or more positions, the epoch must keep at least EPOCH_KEEPS (90%) as
    many apart; otherwise the training curve needs at least 3 distinct epochs.
    """
    alt_x: np.ndarray | None = None
    alt_ok: np.ndarray | None = None
    if alt:
        alt_x = table.values[alt][sel]
        alt_ok = table.present[alt][sel] & np.isfinite(alt_x)

    def rows_of(canon: str) -> tuple[np.ndarray, list[str]] | None:
        if canon not in mapping.columns:
            return None
        col, transform = mapping.columns[canon]
        parts = col.split("+") if transform == "sum" else [col]
        m = np.logical_and.reduce([table.present[p][sel] for p in parts])
        return (m, parts) if m.any() else None

    def positions(m: np.ndarray, parts: list[str]) -> tuple[int, int]:
        e = _distinct(epoch[m & epoch_ok])
        if alt_x is not None and alt_ok is not None:  # on the alt column
            return e, _distinct(alt_x[m & alt_ok])
        # on the row order, a row that repeats the one before it (same epoch, same value: the
        # point written twice) is no new position
        same = np.ones(int(np.count_nonzero(m)) - 1, dtype=bool)
        for v in [epoch] + [table.values[p][sel] for p in parts]:
            w = v[m]
            same &= (w[1:] == w[:-1]) | (np.isnan(w[1:]) & np.isnan(w[:-1]))
        return e, 1 + int(np.count_nonzero(~same))

    for canon in (VAL_LOSS, VAL_ACC):
        got = rows_of(canon)
        if got is not None:
            e, k = positions(*got)
            if k >= 3:
                if e < EPOCH_KEEPS * k:
                    return f"the {canon} points fall on {e} distinct epoch value{'s' * (e != 1)} ({k} on the {alt or 'row'} axis)"
                return None
            break  # one or two validation points whatever the axis: the training curve decides
    for canon in (TRAIN_LOSS, TRAIN_ACC):
        got = rows_of(canon)
        if got is not None:
            e, k = positions(*got)
            if e < 3 and k >= 3:
                return f"the {int(np.count_nonzero(got[0]))} {canon} rows carry {e} distinct epoch value{'s' * (e != 1)}"
            return None
    return None


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


#: columns only Hugging Face's end-of-training summary entry holds (normalised names)
_HF_SUMMARY = frozenset({"trainruntime", "trainsamplespersecond", "totalflos"})
_SUMMARY_NOTE = "final training-summary entry is not a curve point; ignored"


def _without_summary_rows(table: RawTable) -> RawTable:
    """The table without Hugging Face's end-of-training summary rows (``train_runtime``,
    ``train_loss`` as one mean over the run ...), as a ``log_history`` flattened to CSV or a
    DataFrame holds them, and without the columns only they filled.  The JSON reader drops them
    as it reads; this is the same for every other reader."""
    summary = [n for n in table.names if norm(n) in _HF_SUMMARY]
    if not summary:
        return table
    drop = np.logical_or.reduce([table.present[n] for n in summary])
    if not drop.any() or drop.all():
        return table
    keep = ~drop
    names = [n for n in table.names if table.present[n][keep].any()]
    kept = np.flatnonzero(keep)
    bounds = sorted({int(np.searchsorted(kept, b)) for b in table.boundaries if b > 0} - {0})
    notes = list(table.notes) + ([] if _SUMMARY_NOTE in table.notes else [_SUMMARY_NOTE])
    return RawTable(
        names, {n: table.values[n][keep] for n in names}, {n: table.present[n][keep] for n in names},
        int(kept.size), table.format, notes, bounds, table.fastai, dict(table.facts),
    )


def _finite_range(y: np.ndarray) -> tuple[float, float]:
    """(max, min) of the finite values of y (NaN, NaN without any), without copying the column
    (fmax/fmin skip NaN; only a column holding an infinity is masked)."""
    if not y.size:
        return math.nan, math.nan
    hi, lo = float(np.fmax.reduce(y)), float(np.fmin.reduce(y))
    if math.isinf(hi) or math.isinf(lo):
        fin = y[np.isfinite(y)]
        return (float(fin.max()), float(fin.min())) if fin.size else (math.nan, math.nan)
    return hi, lo


class _Rows:
    """The rows of a table that are analysed (``sel``: the rows from ``start`` on, or an index
    array once resumed or repeated rows are dropped), with the shared per-column passes
    (:class:`_Steps`) computed once per column."""

    def __init__(self, table: RawTable):
        self.table = table
        self.start = 0
        self.sel: slice | np.ndarray = slice(0, table.rows)
        self._steps: dict[str, _Steps] = {}

    def steps_of(self, col: str) -> _Steps:
        """The shared pass over column ``col`` (over all the table's rows)."""
        if col not in self._steps:
            self._steps[col] = _Steps(self.table.values[col])
        return self._steps[col]

    @property
    def whole(self) -> bool:
        """Rows start.. as they are: the shared passes over a column apply."""
        return isinstance(self.sel, slice)

    @property
    def count(self) -> int:
        """How many rows are analysed."""
        return self.table.rows - self.start if isinstance(self.sel, slice) else int(self.sel.size)

    def rising(self, col: str) -> bool:
        """The column has values in the analysed rows and never falls there."""
        sel = self.sel
        vals, pres = self.table.values[col][sel], self.table.present[col][sel]
        m = pres & np.isfinite(vals)
        if self.whole and m.all():  # dense: the shared pass says whether it ever falls within the slice
            return bool(m.size) and not (self.steps_of(col).falls >= self.start).any()
        a = vals[m]
        return bool(a.size) and not (a[1:] < a[:-1]).any()


@dataclass
class _Axis:
    """The x axis of the curves: its column (None: the row order), kind, values on the analysed
    rows, where they are known, known on every row, and strictly increasing."""

    col: str | None
    kind: str
    x: np.ndarray
    ok: np.ndarray
    dense: bool
    strict: bool


def _map(table: RawTable, source: str, overrides: dict[str, str] | None) -> Mapping:
    """Pass 1: the columns' meanings (:func:`map_columns`); an input error when a column named
    by an override is absent or no loss or accuracy column is recognised."""
    names = table.names
    try:
        mapping = map_columns(
            [n for n in names], overrides, unprefixed_metrics_are_validation=table.fastai
        )
    except KeyError as e:
        raise InputError(
            source, f"no column named {e.args[0]!r} (columns: {', '.join(names)})"
        ) from None
    if not any(c in mapping.columns for c in (TRAIN_LOSS, VAL_LOSS, TRAIN_ACC, VAL_ACC)):
        cols = ", ".join(names[:12]) + (" ..." if len(names) > 12 else "")
        raise InputError(
            source,
            f"no recognisable loss column (columns: {cols}); name one with --loss or --val-loss",
        )
    return mapping


def _last_run(rows: _Rows, epoch_col: str | None, step_col: str | None, notes: list[str]) -> tuple[str | None, list[int]]:
    """Pass 2: appended and resumed runs.  Sets ``rows.start`` to the first row of the last run
    appended in the file (noted) and returns the counter column that tells runs apart and the
    rows after ``start`` where a resumed job logs again."""
    table = rows.table
    # Appended and resumed runs: detect on the step counter when there is one (it is global
    # and monotone within a run, while HF's epoch may restart), else on the epoch.
    seg_col = step_col or epoch_col
    if seg_col is None and not table.boundaries:
        return seg_col, []
    resumes: list[int] = []
    if seg_col is not None:
        backs = _segments(table.values[seg_col], table.present[seg_col], table.boundaries, rows.steps_of(seg_col))
        if seg_col == step_col and epoch_col is not None:
            # an iteration counter that restarts every epoch (mmcv's 'iter') does not tell
            # runs apart: where it falls without the epoch, the epoch is the counter to read
            if _rises_at(table.values[epoch_col], table.present[epoch_col], backs):
                seg_col = epoch_col
                backs = _segments(table.values[epoch_col], table.present[epoch_col], table.boundaries, rows.steps_of(epoch_col))
        starts, resumes = _split_runs(table.values[seg_col], table.present[seg_col], backs, table.boundaries)
    else:
        starts = sorted(b for b in table.boundaries if b > 0)
    if starts:
        rows.start = start = starts[-1]
        rows.sel = slice(start, table.rows)
        what = f"the {seg_col} counter restarts" if seg_col else "the header repeats"
        notes.append(
            f"{len(starts) + 1} runs appended in one file ({what}); "
            f"analysed the last run (rows {start + 1}-{table.rows})"
        )
    return seg_col, [r for r in resumes if r > rows.start]


def _select_rows(
    rows: _Rows, seg_col: str | None, resumes: list[int], axis_names: list[str], notes: list[str]
) -> None:
    """Pass 3: the rows analysed (``rows.sel``): a resumed job's re-logged steps from their later
    rows, and rows written twice over once."""
    table = rows.table
    if resumes and seg_col is not None:  # resumes come from a counter column
        # a job resumed from a checkpoint: one run, the re-logged steps from their later rows
        rows.sel, resume_notes = _resumed_rows(table.values[seg_col], table.present[seg_col], rows.start, resumes, seg_col)
        notes.extend(resume_notes)
    repeated = _repeated_rows(table, rows.sel, axis_names)
    if repeated is not None:
        rows.sel, note = repeated
        notes.append(note)


def _axis_values(rows: _Rows, col: str | None, kind: str) -> _Axis:
    """The axis on column ``col`` (None: the row order) over the analysed rows."""
    if col is None:
        k = rows.count
        return _Axis(col, kind, np.arange(k, dtype=float), np.ones(k, dtype=bool), True, True)
    table, sel = rows.table, rows.sel
    x = table.values[col][sel].astype(float, copy=False)
    ok = table.present[col][sel] & np.isfinite(x)
    dense = bool(ok.all())
    # strictly increasing (the usual step or epoch column): no series on it has points to merge
    if dense and rows.whole:
        strict = not rows.steps_of(col).stalls_from(rows.start)
    else:
        xa = x[ok]
        strict = not (xa[1:] <= xa[:-1]).any()
    return _Axis(col, kind, x, ok, dense, strict)


def _choose_axis(rows: _Rows, mapping: Mapping, epoch_col: str | None, step_col: str | None, notes: list[str]) -> _Axis:
    """Pass 4: the x axis: the epoch column when it rises, else the step column, else the row
    order; an epoch shared by per-step rows gives way to the step column (or the row order)
    when it would not keep the curves apart (noted)."""
    axis_col, axis_kind = None, "index"
    for col, kind in ((epoch_col, "epoch"), (step_col, "step")):
        if col is not None and rows.rising(col):
            axis_col, axis_kind = col, kind
            break
    if axis_col is None and epoch_col is not None and step_col is not None:
        axis_col, axis_kind = step_col, "step"
    axis = _axis_values(rows, axis_col, axis_kind)
    if axis_kind == "epoch" and not axis.strict:
        # Per-step rows that share few epochs: averaged per epoch only when the epoch still keeps
        # the curves apart, else judged on the step axis (or the row order when there is none).
        alt = step_col if step_col is not None and rows.rising(step_col) else None
        why = _epoch_too_coarse(rows.table, mapping, rows.sel, axis.x, axis.ok, alt)
        if why:
            notes.append(f"{why}; judged on the {alt + ' column' if alt else 'row order'} instead")
            axis = _axis_values(rows, alt, "step" if alt else "index")
    return axis


def _column_values(rows: _Rows, axis: _Axis, col: str, transform: str) -> tuple[str, np.ndarray, np.ndarray]:
    """(name for people, values, where known with the axis) of a mapped column; a sum of
    columns ('a+b') is known where every part is."""
    table, sel = rows.table, rows.sel
    if transform == "sum":
        parts = col.split("+")
        y = np.zeros(rows.count)
        for p in parts:
            y = y + table.values[p][sel].astype(float)
        ok = np.logical_and.reduce([table.present[p][sel] for p in parts]) & axis.ok
        return " + ".join(parts), y, ok
    y = table.values[col][sel].astype(float, copy=False)
    ok = table.present[col][sel]
    return col, y, (ok if axis.dense else ok & axis.ok)


def _series(rows: _Rows, axis: _Axis, canon: str, col: str, transform: str, notes: list[str]) -> Series | None:
    """The series of curve ``canon`` read from a mapped column: accuracy in percent divided by
    100, an error rate turned into 1 - rate, points sharing an axis position averaged (noted);
    None when the column has no values in the analysed rows (noted)."""
    col, y, ok = _column_values(rows, axis, col, transform)
    if ok.all():  # a dense column: no copies
        x = axis.x
    else:
        x, y = axis.x[ok], y[ok]
    note, scale = None, 1.0
    inverted = transform.startswith("error_rate")
    quality = transform in ("quality", "error_rate_quality")
    if canon in (TRAIN_ACC, VAL_ACC):
        hi, lo = _finite_range(y)  # no copy of the column (issue 22)
        if hi > 1.0 + 1e-9 and hi <= 100.0 and lo >= 0.0:
            y, scale = y / 100.0, 100.0
            note = "percent, divided by 100"
    if inverted:
        y = 1.0 - y
        note = f"1 - {col}" + (f", {note}" if note else "")
    if quality:
        note = "quality metric, not accuracy" + (f"; {note}" if note else "")
    x, y, merged = (x, y, False) if axis.strict else _aggregate(x, y)
    if merged:
        notes.append(f"{col}: points sharing an {axis.kind} were averaged")
    if y.size == 0 and canon != LR:
        notes.append(f"column {col!r} has no values in the analysed rows")
        return None
    return Series(canon, col, x, y, note, quality=quality, scale=scale, inverted=inverted)


def _build(
    rows: _Rows, axis: _Axis, colmap: dict[str, tuple[str, str]], notes: list[str]
) -> tuple[dict[str, Series], dict[str, str]]:
    """Pass 5: the series of the columns ``colmap`` maps, and their column names for people."""
    series: dict[str, Series] = {}
    columns: dict[str, str] = {}
    for canon in CANONICAL:
        if canon not in colmap:
            continue
        s = _series(rows, axis, canon, *colmap[canon], notes)
        if s is not None:
            series[canon] = s
            columns[canon] = s.column + (f" ({s.note})" if s.note else "")
    return series, columns


def _check_loss(series: dict[str, Series], source: str, notes: list[str]) -> None:
    """Pass 6: an input error when neither a loss nor an accuracy curve has values; a note when
    the curves are an accuracy or a quality metric alone."""
    if any(k in series for k in (TRAIN_LOSS, VAL_LOSS)):
        return
    if not any(k in series for k in (TRAIN_ACC, VAL_ACC)):
        raise InputError(source, "the loss columns hold no values")
    # accuracy or a quality metric (F1, mAP) but no loss: the curves are that metric alone
    notes.append(
        "no loss logged; only " + " and ".join(f"{k} ({series[k].column})" for k in (VAL_ACC, TRAIN_ACC) if k in series)
        + " read"
    )


def _counter(rows: _Rows, axis: _Axis, epoch_col: str | None, step_col: str | None) -> Series | None:
    """Pass 7: the other counter (the step on an epoch axis, the epoch on a step axis) against
    the axis, when it never falls (a counter that restarts names no position)."""
    other = {"epoch": step_col, "step": epoch_col}.get(axis.kind)
    if other is None or other == axis.col:
        return None
    table, sel = rows.table, rows.sel
    ov = table.values[other][sel].astype(float, copy=False)
    m = axis.ok & table.present[other][sel] & np.isfinite(ov)
    if np.count_nonzero(m) < 2:
        return None
    cx, cy = axis.x[m], ov[m]
    if (cy[1:] < cy[:-1]).any():  # a counter that restarts (HF's epoch) names no position
        return None
    return Series("step" if axis.kind == "epoch" else "epoch", other, cx, cy)


def to_curves(
    table: RawTable,
    source: str,
    overrides: dict[str, str] | None = None,
) -> Curves:
    """The canonical curves of a raw table, in named passes: the columns' meanings, the last
    of the runs appended in the file, the rows analysed, the x axis, the series, the check
    that a loss (or accuracy) was read, and the other counter; several loss heads without a
    total give one Curves per head beside the first."""
    if table.rows == 0:
        raise InputError(source, "no data rows")
    table = _without_summary_rows(table)
    mapping = _map(table, source, overrides)
    notes = list(table.notes) + list(mapping.notes)
    epoch_col, step_col = find_axis(table.names)
    rows = _Rows(table)
    seg_col, resumes = _last_run(rows, epoch_col, step_col, notes)
    _select_rows(rows, seg_col, resumes, [c for c in (epoch_col, step_col) if c is not None], notes)
    axis = _choose_axis(rows, mapping, epoch_col, step_col, notes)
    series, columns = _build(rows, axis, mapping.columns, notes)
    _check_loss(series, source, notes)
    info = SourceInfo(
        path=source,
        format=table.format,
        rows=table.rows,
        axis=axis.col or "index",
        columns=columns,
        notes=tuple(notes),
        axis_kind=axis.kind,
        facts=dict(table.facts),
    )
    counter = _counter(rows, axis, epoch_col, step_col)
    if not mapping.heads:
        return Curves(info, series, axis.kind, counter=counter)
    # several loss heads and no total: each head's curves, judged on their own beside these
    others = []
    for head, colmap in mapping.heads[1:]:
        hs, hc = _build(rows, axis, colmap, [])
        if any(k in hs for k in (TRAIN_LOSS, VAL_LOSS)):
            others.append((head, Curves(replace(info, columns=hc), hs, axis.kind, counter=counter, head=head)))
    return Curves(info, series, axis.kind, counter=counter, head=mapping.heads[0][0], heads=tuple(others))
