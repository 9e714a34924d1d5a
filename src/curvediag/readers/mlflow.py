"""MLflow: a file-store run directory and the SQLite tracking database.

File store: ``mlruns/<experiment>/<run_id>/metrics/<key>``, one line per logged
value, ``timestamp value step``; keys containing ``/`` are subfolders.  Symbolic
links that lead outside the directory the user named are not followed.

SQLite (``mlflow.db``): table ``metrics(key, value, timestamp, run_uuid, step,
is_nan)``; read with the standard library's sqlite3, never written:

* the URI is built from the percent-quoted absolute path (a ``#`` or ``?`` in a
  name is part of the name) with ``mode=ro``;
* a WAL-mode database without a ``-wal`` file (or with an empty one) is opened
  ``immutable=1``: everything is in the main file, and a read-only WAL
  connection would otherwise create ``-wal`` and ``-shm`` beside it (or fail in a
  read-only directory).  A writer that connects during the read appends to its
  own ``-wal``; the main file changes only at its checkpoint;
* a database with a non-empty ``-wal`` or ``-journal`` beside it (a live or
  crashed writer) is copied with that file into a private temporary directory
  and read there, so the committed data is seen and nothing beside the input —
  ``-shm`` included — is created or changed;
* otherwise (rollback journal, no journal file) ``mode=ro`` alone creates no
  file, and its shared lock keeps a writer from changing pages mid-read.

Only real tables are read (not views, virtual tables or computed columns), every
query runs under a time limit and a value-size limit, and Ctrl-C stops a query.
"""

from __future__ import annotations

import math
import os
import sqlite3
from collections import defaultdict
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal, overload

from .._np import np

from ..errors import InputError
from ..table import RawTable
from .source import open_regular, within
from .runs import find_runs, is_run_dir  # noqa: F401 - importable from here as before
from .sparse import table_from_arrays, table_from_scalars
from .runs import AmbiguousRun, choices, pick
from .source import MAX_BYTES, too_big
from .sparse import check_count


#: seconds all the queries on one database may take together
TIME_LIMIT = 60.0
#: metric rows read for one run
MAX_ROWS = 10_000_000
#: bytes of the longest text or blob SQLite may hand back (Python >= 3.11)
MAX_VALUE = 1 << 20
_BUSY_TIMEOUT = 2.0  # seconds to wait for a writer's lock
_PROGRESS_STEPS = 10_000  # SQLite VM instructions between checks of the clock and Ctrl-C
_FLOAT_MAX = 1.7976931348623157e308  # MLflow stores +-inf as +-this


def _whole(text: str) -> int:
    """A step: an integer, or a float with an integral value ('3.0', '1e3')."""
    try:
        return int(text)
    except ValueError:
        pass
    f = float(text)  # ValueError: not a number
    if not math.isfinite(f) or f != int(f):
        raise ValueError(f"step {text!r} is not a whole number")
    return int(f)


def read_run_dir(run: Path, source: str) -> RawTable:
    """The metrics of one file-store run.  ``source`` is the directory the user named:
    a metric file reached through a link leading outside it is skipped (with a note)."""
    metrics = run / "metrics"
    real_root = os.path.realpath(source)
    tags: dict[str, list[tuple[int, float]]] = {}
    outside = 0
    total = 0
    for f in sorted(metrics.rglob("*")):
        if not within(f, real_root):
            outside += 1
            continue
        if not f.is_file():
            continue
        key = f.relative_to(metrics).as_posix()
        try:
            if total + f.stat().st_size > MAX_BYTES:  # before reading: a sparse file may claim gigabytes
                raise too_big(source, " of metric files")
            with open_regular(f, str(f)) as fh:  # a FIFO planted among the metrics is refused, never opened blocking
                data = fh.read(MAX_BYTES + 1 - total)
        except PermissionError:
            raise InputError(str(f), "permission denied") from None
        except OSError as e:
            raise InputError(str(f), e.strerror or str(e)) from None
        total += len(data)
        if total > MAX_BYTES:
            raise too_big(source, " of metric files")
        pts: list[tuple[int, float]] = []
        for n, line in enumerate(data.decode("utf-8", "replace").split("\n"), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise InputError(str(f), f"MLflow metric {key!r} line {n}: expected 'timestamp value step'")
            try:
                value = float(parts[1])
            except ValueError:
                raise InputError(str(f), f"MLflow metric {key!r} line {n}: value {parts[1][:40]!r} is not a number") from None
            try:
                step = _whole(parts[2]) if len(parts) > 2 else len(pts)
            except ValueError:
                raise InputError(str(f), f"MLflow metric {key!r} line {n}: step {parts[2][:40]!r} is not a whole number") from None
            pts.append((step, value))
        tags[key] = pts
    table = table_from_scalars(tags, source, f"MLflow run {run.name} with no metrics")
    table.format = "mlflow"
    table.notes.append(f"MLflow run {run.name}")
    if outside:
        table.notes.append(f"{outside} symbolic link(s) leading outside {source} not followed")
    return table


def choose_run(root: Path, run: str | None, source: str) -> Path:
    runs = find_runs(root)
    if not runs:
        raise InputError(source, "no MLflow run (metrics/ and meta.yaml) below this directory")
    if run:
        real = os.path.realpath(source)
        pairs = [(r.name, _run_name(r, real)) for r in runs]
        try:
            k = pick(run, pairs)
        except AmbiguousRun as e:
            raise InputError(source, f"--run {run!r} matches several MLflow runs: {e}; give more of the name or id") from None
        if k is None:
            raise InputError(source, f"no MLflow run {run!r} (runs: {choices(pairs)})")
        return runs[k]
    return max(runs, key=lambda r: os.path.getmtime(r / "metrics"))


def _run_name(run: Path, real_root: str | None = None) -> str | None:
    """The run's name tag, decoded as command-line arguments are (undecodable bytes
    kept as surrogates, so ``--run`` matches a name that is not UTF-8)."""
    tag = run / "tags" / "mlflow.runName"
    if not tag.is_file() or (real_root is not None and not within(tag, real_root)):
        return None
    try:
        with open_regular(tag) as fh:
            raw = fh.read(1 << 16)
    except (OSError, InputError):
        return None
    return os.fsdecode(raw).strip()


# --- SQLite --------------------------------------------------------------------------


class _Guard:
    """The progress handler: stops a query at the time limit or on Ctrl-C.

    Python runs signal handlers only between bytecodes, never inside a C call such as
    one SQLite step; the handler is Python, so a pending SIGINT is seen at the next
    check.  It only sets a flag (an exception raised in a progress handler would be
    swallowed by sqlite3) and the query ends with SQLITE_INTERRUPT."""

    def __init__(self, limit: float) -> None:
        import time

        self._clock = time.monotonic
        self.deadline = self._clock() + limit
        self.interrupted = False
        self.timed_out = False

    def __call__(self) -> int:
        if self.interrupted:
            return 1
        if self._clock() > self.deadline:
            self.timed_out = True
            return 1
        return 0

    def on_sigint(self, signum, frame) -> None:
        self.interrupted = True


def _nonempty(path: str) -> bool:
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def _check_header(path: str, source: str) -> bool:
    """Refuse a truncated file by its header; True when the database is in WAL mode."""
    try:
        with open_regular(path, source) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(100)
    except OSError as e:
        raise InputError(source, f"cannot open SQLite database ({e.strerror or e})") from None
    if len(head) < 100:
        raise InputError(source, f"a truncated SQLite database: {size} bytes, shorter than its 100-byte header")
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    if page < 512 or page & (page - 1):
        raise InputError(source, f"a damaged SQLite database (page size {page} in its header)")
    pages = int.from_bytes(head[28:32], "big")
    if pages and head[24:28] == head[92:96] and size < pages * page:
        raise InputError(
            source, f"a truncated SQLite database: {size} bytes of the {pages * page} its header declares (cut short while copying?)"
        )
    return head[18] == 2 or head[19] == 2


def _problem(e: sqlite3.Error, guard: _Guard | None) -> str:
    if guard is not None and guard.timed_out:
        return f"reading the SQLite database took longer than {TIME_LIMIT:g} s; stopped"
    name = getattr(e, "sqlite_errorname", "")  # Python >= 3.11
    msg = str(e)
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "locked" in msg:
        return "the SQLite database is locked by another process (a running MLflow server or training job?); try again when it is done"
    if name == "SQLITE_NOTADB" or "not a database" in msg:
        return "a damaged SQLite database: its header is valid but the file is not a readable database"
    if name.startswith("SQLITE_CORRUPT") or "malformed" in msg:
        return f"a damaged SQLite database ({msg})"
    if "decode to UTF-8" in msg:
        return "a damaged SQLite database: text that is not UTF-8"
    if "unsupported file format" in msg:
        return "an SQLite database of an unsupported format (damaged, or written by a newer SQLite)"
    if name == "SQLITE_TOOBIG" or "too big" in msg:
        return f"the SQLite database holds a value longer than {MAX_VALUE >> 20} MiB; not an MLflow metric"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in msg:
        return f"cannot open SQLite database ({msg})"
    if name.startswith("SQLITE_IOERR") or "I/O error" in msg:
        return f"cannot read the SQLite database (I/O error: {msg})"
    return f"cannot read the SQLite database ({msg})"


class _Open:
    """A read-only connection as the module docstring describes; closes it, restores
    the SIGINT handler and removes any private copy on exit."""

    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = os.path.abspath(path), source
        self.con: sqlite3.Connection | None = None
        self.tmp: str | None = None  # the private copy's directory
        self.guard = _Guard(TIME_LIMIT)
        self._old_sigint: Any = None

    def __enter__(self) -> sqlite3.Connection:
        import signal
        import threading
        from urllib.parse import quote

        wal = _check_header(self.path, self.source)
        sidecar = self.path + ("-wal" if wal else "-journal")
        if _nonempty(sidecar):
            tmp = self._copy(sidecar[len(self.path):])
            uri = f"file:{quote(os.path.join(tmp, 'db'))}?mode=rw"
        else:
            uri = f"file:{quote(self.path)}?mode=ro" + ("&immutable=1" if wal else "")
        try:
            self.con = con = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT)
        except sqlite3.Error as e:
            self._cleanup()
            raise InputError(self.source, _problem(e, None)) from None
        if hasattr(con, "setlimit"):  # Python 3.11+
            con.setlimit(getattr(sqlite3, "SQLITE_LIMIT_LENGTH"), MAX_VALUE)
        con.set_progress_handler(self.guard, _PROGRESS_STEPS)
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._old_sigint = signal.signal(signal.SIGINT, self.guard.on_sigint)
        return con

    def _copy(self, suffix: str) -> str:
        """A private copy of the database and its ``suffix`` file: the directory holding them."""
        import shutil
        import tempfile

        self.tmp = tmp = tempfile.mkdtemp(prefix="curvediag-sqlite-")
        try:
            shutil.copyfile(self.path, os.path.join(tmp, "db"))
            shutil.copyfile(self.path + suffix, os.path.join(tmp, "db" + suffix))
        except OSError as e:
            self._cleanup()
            raise InputError(self.source, f"cannot copy the SQLite database and its {suffix} file to read them ({e.strerror or e})") from None
        return tmp

    def _cleanup(self) -> None:
        import shutil

        if self.con is not None:
            self.con.close()
            self.con = None
        if self._old_sigint is not None:
            import signal

            signal.signal(signal.SIGINT, self._old_sigint)
            self._old_sigint = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def __exit__(self, kind, exc, tb) -> None:
        interrupted = self.guard.interrupted
        self._cleanup()
        if interrupted:
            raise KeyboardInterrupt
        if isinstance(exc, sqlite3.Error):
            raise InputError(self.source, _problem(exc, self.guard)) from None
        if isinstance(exc, UnicodeDecodeError):  # sqlite3 decodes every text cell as UTF-8
            raise InputError(self.source, f"a damaged SQLite database: text that is not UTF-8 ({exc.reason} at byte {exc.start})") from None


_REQUIRED = ("key", "value", "run_uuid", "step")


@overload
def _table_columns(cur: sqlite3.Cursor, name: str, source: str, required: Literal[True]) -> dict[str, int]: ...
@overload
def _table_columns(cur: sqlite3.Cursor, name: str, source: str, required: bool) -> dict[str, int] | None: ...
def _table_columns(cur: sqlite3.Cursor, name: str, source: str, required: bool) -> dict[str, int] | None:
    """{column name (lower case): hidden flag} of a real table ``name``, or None / an error
    when ``name`` is missing, a view, a virtual table or computes a column on reading."""
    found = cur.execute(
        "SELECT type, sql FROM sqlite_master WHERE lower(name) = ? AND type IN ('table', 'view')", (name,)
    ).fetchall()
    problem = None
    if not found:
        if required:
            tables = [r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' LIMIT 11")]
            listed = ", ".join(map(str, tables[:10])) + (" ..." if len(tables) > 10 else "")
            problem = f"an SQLite database without an MLflow 'metrics' table (tables: {listed or 'none'})"
    elif found[0][0] != "table":
        problem = f"an SQLite database whose {name!r} is a view, not a table; only MLflow's tables are read"
    elif str(found[0][1] or "").lstrip()[:20].upper().replace(" ", "").startswith("CREATEVIRTUAL"):
        problem = f"an SQLite database whose {name!r} is a virtual table; only MLflow's tables are read"
    if problem is None and found:
        cols = {str(r[1]).lower(): r[6] for r in cur.execute(f"PRAGMA table_xinfo({name})")}
        computed = [c for c in (*_REQUIRED, "timestamp", "is_nan") if cols.get(c) == 2]
        missing = [c for c in _REQUIRED if c not in cols]
        if computed:
            problem = f"not an MLflow database: column(s) {', '.join(computed)} of {name!r} are computed on reading, not stored"
        elif missing and name == "metrics":
            problem = f"not an MLflow database: its 'metrics' table has no column(s) {', '.join(missing)}"
        else:
            return cols
    if problem and required:
        raise InputError(source, problem)
    return None


def _run_id(v) -> str:
    return v if isinstance(v, str) else os.fsdecode(v) if isinstance(v, bytes) else str(v)


def _bad_row(source: str, what: str, key, step, rid) -> InputError:
    return InputError(source, f"MLflow 'metrics' table: {what} (run {_run_id(rid)[:12]}, key {key!r}, step {step!r}); MLflow writes a number in every row")


def _number(v, what: str, source: str, key, step, rid) -> float:
    if isinstance(v, (int, float)):
        return float(v)  # SQLite integers are 64-bit: no overflow
    if v is None:
        raise _bad_row(source, f"{what} is NULL", key, step, rid)
    if isinstance(v, bytes):
        raise _bad_row(source, f"{what} is a blob of {len(v)} bytes", key, step, rid)
    raise _bad_row(source, f"{what} is the text {str(v)[:40]!r}", key, step, rid)


# a row MLflow could have written: a key (text; a number is taken as its text), a whole step
# within int64, a number as the value
_ROW_MLFLOW = "typeof(key) = 'text' AND typeof(step) = 'integer' AND typeof(value) = 'real'"
_ROW_OK = (
    "typeof(key) IN ('text', 'integer', 'real')"
    " AND (typeof(step) = 'integer' OR (typeof(step) = 'real' AND abs(step) < 9.2e18 AND step = CAST(step AS INTEGER)))"
    " AND typeof(value) IN ('real', 'integer')"
)


def _row_problem(source: str, key, step, value, rid) -> InputError:
    """The error for the first row that fails ``_ROW_OK``."""
    if key is None:
        return _bad_row(source, "key is NULL", key, step, rid)
    if isinstance(key, bytes):
        return _bad_row(source, f"key is a blob of {len(key)} bytes", key, step, rid)
    if not isinstance(step, int):
        f = _number(step, "step", source, key, step, rid)
        return _bad_row(source, f"step {f!r} is not a whole number", key, step, rid)
    _number(value, "value", source, key, step, rid)
    return _bad_row(source, "an unreadable row", key, step, rid)  # pragma: no cover - _number raised


_KEY, _STEP, _VALUE = (itemgetter(i) for i in range(3))


def _by_code(parts: list, keys: list[str], source: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each key's (steps, values), in the order read, from the batches' (code, step, value) arrays."""
    check_count(len(keys), source, "distinct tags")
    code, step, value = (np.concatenate([p[i] for p in parts]) for i in range(3))
    if len(keys) == 1:
        return {keys[0]: (step, value)}
    order = np.argsort(code.astype(np.uint16), kind="stable")  # a radix sort: few distinct codes
    ends = np.cumsum(np.bincount(code, minlength=len(keys)))
    step, value = step[order], value[order]
    return {k: (step[e - c:e], value[e - c:e]) for k, e, c in zip(keys, ends.tolist(), np.diff(ends, prepend=0).tolist())}


def sqlite_runs(path: str, source: str) -> list[tuple[str, str]]:
    """Every run of the database that logged a metric: (run id, the name that tells it apart --
    its MLflow name when no other run has it, else its id), by start time where the ``runs``
    table has one, else by id.  Reads only the run ids (an index scan in MLflow's schema)."""
    with _Open(path, source) as con:
        cur = con.cursor()
        _table_columns(cur, "metrics", source, required=True)
        if cur.execute("SELECT 1 FROM metrics WHERE run_uuid IS NULL LIMIT 1").fetchone():
            raise InputError(source, "MLflow 'metrics' table: rows without a run_uuid; MLflow writes one in every row")
        ids = [r[0] for r in cur.execute("SELECT DISTINCT run_uuid FROM metrics ORDER BY run_uuid")]
        if not ids:
            raise InputError(source, "the MLflow database holds no metrics")
        meta: dict = {}
        cols = _table_columns(cur, "runs", source, required=False)
        if cols is not None and "run_uuid" in cols:
            fields = ", ".join(c if c in cols else "NULL" for c in ("name", "start_time"))
            meta = {k: (n, t) for k, n, t in cur.execute(f"SELECT run_uuid, {fields} FROM runs")}
    names = [meta.get(i, (None, None))[0] for i in ids]
    count: dict = defaultdict(int)
    for n in names:
        count[n] += 1
    start = {i: meta.get(i, (None, None))[1] for i in ids}
    order = sorted(range(len(ids)), key=lambda k: (not isinstance(start[ids[k]], (int, float)), start[ids[k]] if isinstance(start[ids[k]], (int, float)) else 0))
    return [(_run_id(ids[k]), _run_id(names[k]) if names[k] is not None and count[names[k]] == 1 else _run_id(ids[k])) for k in order]


def read_sqlite(path: str, source: str, run: str | None = None, exact: bool = False) -> RawTable:
    """One run of the database: ``run`` (an id prefix or a name; with ``exact``, the run id itself,
    read without listing the others), else the most recently logged run."""
    with _Open(path, source) as con:
        cur = con.cursor()
        cols = _table_columns(cur, "metrics", source, required=True)
        if exact and run is not None:
            return _read_one(cur, cols, source, run, None)
        ts = "MAX(timestamp)" if "timestamp" in cols else "NULL"
        # one scan without a sort tells the usual database (one run) apart; only one holding
        # several runs is grouped, to order them by their last timestamp
        lo, hi, rows, with_id = cur.execute("SELECT MIN(run_uuid), MAX(run_uuid), COUNT(*), COUNT(run_uuid) FROM metrics").fetchone()
        if not rows:
            raise InputError(source, "the MLflow database holds no metrics")
        if with_id < rows:
            raise InputError(source, "MLflow 'metrics' table: rows without a run_uuid; MLflow writes one in every row")
        if lo == hi:
            ids = [lo]
        else:
            runs = cur.execute(f"SELECT run_uuid, {ts} FROM metrics GROUP BY run_uuid ORDER BY {ts} DESC").fetchall()
            ids = [r[0] for r in runs]
        if run:
            names = {}
            if _table_columns(cur, "runs", source, required=False) is not None:
                try:
                    names = {k: _run_id(v) for k, v in cur.execute("SELECT run_uuid, name FROM runs LIMIT 100000") if v is not None}
                except sqlite3.OperationalError as e:
                    if "no such column" not in str(e):
                        raise

            pairs = [(_run_id(i), names.get(i)) for i in ids]
            try:
                k = pick(run, pairs)
            except AmbiguousRun as e:
                raise InputError(source, f"--run {run!r} matches several MLflow runs: {e}; give more of the name or id") from None
            if k is None:
                raise InputError(source, f"no MLflow run {run!r} in the database ({len(ids)} runs: {choices(pairs)})")
            chosen = ids[k]
        else:
            chosen = ids[0]
        return _read_one(cur, cols, source, chosen, ids if not run else None)


def _read_one(cur: sqlite3.Cursor, cols: dict, source: str, chosen, ids: list | None) -> RawTable:
    """The metrics of the run ``chosen``; ``ids``: every run, when it was chosen as the newest of them."""
    is_nan = "is_nan" if "is_nan" in cols else "0"
    order = "step, timestamp" if "timestamp" in cols else "step"
    # the checks and conversions run in SQLite, so that the Python loop below stays bare:
    # first the types MLflow writes (a quick scan), and only if some row has others the
    # full check, which names the first row MLflow could not have written
    where = "FROM metrics WHERE run_uuid = ? AND NOT"
    if cur.execute(f"SELECT 1 {where} ({_ROW_MLFLOW}) LIMIT 1", (chosen,)).fetchone():
        bad = cur.execute(f"SELECT key, step, value {where} ({_ROW_OK}) LIMIT 1", (chosen,)).fetchone()
        if bad is not None:
            key, step, value = bad
            raise _row_problem(source, key, step, value, chosen)
    # MLflow stores NaN as 0 with is_nan set (read back as NULL: numpy stores None as NaN)
    # and +-inf as +-the largest float (read back as +-1e999, SQLite's infinity)
    cur.execute(
        f"SELECT CAST(key AS TEXT), CAST(step AS INTEGER), CASE WHEN {is_nan} THEN NULL"
        f" WHEN value >= {_FLOAT_MAX!r} THEN 1e999 WHEN value <= {-_FLOAT_MAX!r} THEN -1e999 ELSE value END"
        f" FROM metrics WHERE run_uuid = ? ORDER BY {order}",
        (chosen,),
    )
    # each batch straight into arrays: a dense code per key (in order of first sight),
    # the steps and the values (NULL as NaN); no Python object outlives its batch
    codes: defaultdict = defaultdict()
    codes.default_factory = codes.__len__
    code_of = codes.__getitem__
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    count = 0
    while batch := cur.fetchmany(65536):
        n = len(batch)
        count += n
        if count > MAX_ROWS:
            raise InputError(source, f"more than {MAX_ROWS:,} metric rows for run {_run_id(chosen)[:12]}; not read")
        parts.append((
            np.fromiter(map(code_of, map(_KEY, batch)), dtype=np.intp, count=n),
            np.fromiter(map(_STEP, batch), dtype=np.int64, count=n),
            np.fromiter(map(_VALUE, batch), dtype=float, count=n),
        ))
    if not parts:
        raise InputError(source, f"no MLflow run {_run_id(chosen)!r} in the database")
    table = table_from_arrays(_by_code(parts, list(codes), source), source, f"MLflow run {_run_id(chosen)[:12]} with no metrics")
    table.format = "mlflow_sqlite"
    more = f"; {len(ids)} runs in the database, --run picks another (--run all: each)" if ids and len(ids) > 1 else ""
    table.notes.append(f"MLflow run {_run_id(chosen)[:12]}{more}")
    return table
