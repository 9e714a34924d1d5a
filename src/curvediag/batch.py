"""Many logs at once: :func:`run` diagnoses every path under one :class:`~curvediag.settings.Settings`
and returns a :class:`Batch` -- a report, or an :class:`Unreadable` entry, per run, in the order given.

:func:`expand` first turns each path into the runs it stands for (one :class:`Input` each):

* a directory holding several runs: each run, as the run-directory conventions find them
  (:func:`curvediag.readers.discover.all_runs`: Lightning ``version_N``, a Hugging Face output
  directory, Ultralytics ``train``, ``train2`` ..., TensorBoard run folders, MLflow file-store runs;
  else every log file in it), ordered by the numbers in their names; a directory holding one run
  (or ``--run NAME``) is one input, read as before;
* ``--run all`` (:data:`ALL`): every run of an MLflow SQLite database, an MLflow server URI or a
  W&B panel export too (and of each such file found in a directory);
* a CSV in the long format (``run_id``/``run``, ``step``, ``key``, ``value`` columns, as trackers
  export): each run in it.

Each run's report names it in ``source.path`` (``db#run=NAME`` for a run inside one file).  A run
that cannot be read is its own Unreadable entry; so is a path that cannot be expanded.

With ``jobs > 1`` the logs are diagnosed on worker processes.  SIGTERM or SIGINT to curvediag ends
the workers too (none is left running), then curvediag dies of the same signal.  One input's
failure never stops the others: an unreadable log, or a bug met on one log, becomes its entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence, Union

from .config import for_path  # the [[per-path]] entries (in a spawned worker too)
from .engine import enabled_rules
from .errors import CurvediagError
from .pipeline import check_columns, diagnose_log, diagnose_table
from .report import Batch, Report, Unreadable
from .terminal import discard_stdout
from .settings import Settings
from ._np import np
from .errors import InputError
from .frames import long_columns
from .frames import long_table
from .frames import long_runs
from .readers import _is_sqlite_file
from .readers.discover import all_runs
from .readers.discover import read_event_dir
from .readers.memory import table_of
from .readers.source import GZIP_MAGIC, open_regular
from .readers.source import read_bytes
from .readers.uri import is_server_uri
from .readers.wandb import panel_runs

if TYPE_CHECKING:
    from .curves import Curves

#: ``--run all``: every run of a store, database, server or export
ALL = "all"
#: tasks (chunks of runs) diagnosed ahead of the one being reported, per worker (bounds memory with --jobs)
_WINDOW = 4
#: runs in one task of a worker, at most, and bytes of their files
_CHUNK = 16
_CHUNK_BYTES = 1 << 20


def shown_path(path: str) -> str:
    """``path`` as curvediag shows it: a server URI with its password redacted."""
    if path.startswith(("mlflow+http://", "mlflow+https://")):
        from .readers.mlflow_server import redact

        return redact(path)
    return path


def internal(e: BaseException) -> str:
    """The one line for a bug met while diagnosing (never the input's fault, never a 'finding')."""
    msg = str(e)
    return f"internal error: {type(e).__name__}" + (f": {msg}" if msg else "") + " (--debug shows the traceback)"


@dataclass(frozen=True)
class Input:
    """One run to diagnose, as :func:`expand` found it.

    ``path``: what to read (a log file, a directory, a database, a server URI); ``run``: the run
    inside it (None: the path's own rule -- its newest run); ``name``: what the report calls it
    (``source.path``; None: the reader's own name); ``kind``: how it is read -- ``"path"`` as any
    path, ``"sqlite"`` one run of an MLflow database by its id, ``"events"`` one folder of
    TensorBoard event files, ``"table"`` a table already read (``table``: a long CSV's run, a
    DataFrame); ``note``: said first among the report's notes (which file stood for the run)."""

    path: str
    run: str | None = None
    name: str | None = None
    kind: str = "path"
    note: str | None = None
    table: Any = None

    @property
    def shown(self) -> str:
        return self.name or ("<stdin>" if self.path == "-" else self.path)


def one(path: "str | Input", settings: Settings, debug: bool = False) -> tuple["Report", "Curves"] | Unreadable:
    """Diagnose one log (a path, or an :class:`Input` of :func:`expand`): (report, the curves it
    read), or its Unreadable entry.  With ``debug`` a bug raises instead, so its traceback can be shown."""
    inp = path if isinstance(path, Input) else None
    shown = shown_path(inp.shown if inp is not None else ("<stdin>" if path == "-" else str(path)))
    try:
        if inp is None:
            return diagnose_log(path, for_path(settings, str(path)))
        report, curves = _read_input(inp, for_path(settings, inp.path))
    except CurvediagError as e:
        if inp is not None and inp.name:
            problem = getattr(e, "problem", str(e))
            src = getattr(e, "source", None)
            # the run's name, unless the problem is in a file of its own (a metric file of a run)
            where = inp.name if src in (None, inp.path, shown_path(inp.path), inp.name) else src
            return Unreadable(inp.name, problem, f"{where}: {problem}")
        return Unreadable(shown_path(inp.path if inp is not None else str(path)), getattr(e, "problem", str(e)), str(e))
    except Exception as e:
        if debug:
            raise
        problem = internal(e)
        return Unreadable(shown_path(inp.name or inp.path if inp is not None else str(path)), problem, f"{shown}: {problem}")
    return report, curves


def _read_input(inp: Input, settings: Settings) -> tuple["Report", "Curves"]:
    """An :class:`Input`'s report and curves, named and noted as the input says."""
    check_columns(settings)
    if inp.kind == "path":
        s = settings if settings.run == inp.run else replace(settings, run=inp.run)
        report, curves = diagnose_log(inp.path, s)
    else:
        if inp.kind == "sqlite":
            from .readers.mlflow import read_sqlite

            table = read_sqlite(inp.path, inp.shown, inp.run, exact=True)
        elif inp.kind == "events":
            table = read_event_dir(inp.path)
        elif inp.kind == "table":
            table = inp.table
        else:  # pragma: no cover - expand makes no other kind
            raise ValueError(f"unknown input kind {inp.kind!r}")
        report, curves = diagnose_table(table, inp.shown, settings)
    if inp.name is None and inp.note is None:
        return report, curves
    src = report.source
    src = replace(src, path=inp.name or src.path, notes=((inp.note,) if inp.note else ()) + tuple(src.notes))
    return replace(report, source=src), curves


def _report(arg: tuple["str | Input", Settings, bool]) -> Union["Report", Unreadable]:
    """:func:`one` without the curves; top-level so worker processes can run it."""
    r = one(*arg)
    return r if isinstance(r, Unreadable) else r[0]


def _reports(chunk: tuple[list["str | Input"], Settings, bool]) -> list[Union["Report", Unreadable]]:
    """:func:`_report` of several inputs (one task of a worker: the settings are sent once)."""
    inputs, settings, debug = chunk
    return [_report((i, settings, debug)) for i in inputs]


def expand(paths: Iterable["str | os.PathLike | Input"], settings: Settings) -> list["Input | Unreadable"]:
    """The runs each path stands for (see the module's doc), in order: an :class:`Input` per run,
    or an :class:`Unreadable` entry for a path whose runs cannot be listed."""
    out: list[Input | Unreadable] = []
    for p in paths:
        if isinstance(p, Input):
            out.append(p)
            continue
        try:
            out += _expand_one(os.fspath(p), settings)
        except CurvediagError as e:
            out.append(Unreadable(shown_path(os.fspath(p)), getattr(e, "problem", str(e)), str(e)))
    return out


def _expand_one(path: str, settings: Settings) -> list[Input]:
    every = settings.run == ALL
    if path == "-":
        if every:
            raise InputError("<stdin>", "--run all reads a file, directory or server URI, not stdin")
        return [Input(path, settings.run)]
    if is_server_uri(path):
        if not every:
            return [Input(path, settings.run)]
        from .readers.mlflow_server import all_runs as server_runs

        return [Input(read, None, name) for read, name in server_runs(path)]
    if os.path.isdir(path):
        if settings.run is not None and not every:
            return [Input(path, settings.run)]  # --run NAME: that run of the store, as before

        found = all_runs(path)
        if len(found) == 1 and found[0].kind == "file":
            inner = _expand_file(found[0].path, every, settings)  # one file, but maybe of many runs
            if inner is not None:
                return inner
        if len(found) <= 1:
            return [Input(path, None)]  # one run (or none: the reader says so): read as before
        out: list[Input] = []
        names = _mlflow_names(path, [r for r in found if r.kind == "mlflow"])
        for r in found:
            if r.kind == "file":
                inner = _expand_file(r.path, every, settings)
                out += inner if inner is not None else [Input(r.path, None, None, "path", r.note())]
            else:
                out.append(Input(r.path, None, names.get(r.path), "path" if r.kind == "mlflow" else r.kind, r.note()))
        return out
    inner = _expand_file(path, every, settings)
    return inner if inner is not None else [Input(path, None if every else settings.run)]


def _mlflow_names(store: str, runs: list) -> dict[str, str]:
    """MLflow file-store runs named as the SQLite database's and the server's are: ``STORE#run=NAME`` by
    their run name (``mlflow.runName``), the run id where there is no name or names repeat."""
    from pathlib import Path

    from .readers.mlflow import _run_name

    real = os.path.realpath(store)
    named = {r.path: _run_name(Path(r.path), real) for r in runs}
    counts: dict[str, int] = {}
    for n in named.values():
        if n:
            counts[n] = counts.get(n, 0) + 1
    return {p: f"{store.rstrip(os.sep)}#run={n if n and counts[n] == 1 else os.path.basename(p)}" for p, n in named.items()}


def _expand_file(path: str, every: bool, settings: Settings) -> list[Input] | None:
    """The runs of one file that holds several -- an MLflow database or W&B export with
    ``--run all``, a long-format CSV always -- or None: the file is one input."""
    if _is_sqlite_file(path):
        if not every:
            return None
        from .readers.mlflow import sqlite_runs

        return [Input(path, rid, f"{path}#run={name}", "sqlite") for rid, name in sqlite_runs(path, path)]
    if settings.input_format not in (None, "csv", "wandb_csv"):
        return None
    header = _csv_header(path)
    if header is None:
        return None

    cols = long_columns(header)
    if cols is not None and settings.input_format != "wandb_csv":
        return _long_csv(path, cols)
    if every:
        runs = panel_runs(header)
        if len(runs) > 1 or (runs and settings.input_format == "wandb_csv"):
            return [Input(path, r, f"{path}#run={r}") for r in runs]
    return None


def _csv_header(path: str) -> list[str] | None:
    """The column names of a CSV file's first line (a plain or gzip file), or None when it is not
    one (binary, JSON, unreadable: the reader names any problem later)."""
    import csv
    import io


    try:
        with open_regular(path) as fh:  # never a FIFO: its open would block for ever
            head = fh.read(1 << 16)
            if head.startswith(GZIP_MAGIC):
                import gzip

                fh.seek(0)
                with gzip.GzipFile(fileobj=fh, mode="rb") as gz:
                    head = gz.read(1 << 16)
    except (OSError, EOFError, ValueError, InputError):
        return None
    if b"\x00" in head:
        return None
    text = head.decode("utf-8", "replace").lstrip("\ufeff").lstrip()
    if not text or text[0] in "{[<":
        return None
    line = text.split("\n", 1)[0]
    try:
        return [c.strip() for c in next(csv.reader(io.StringIO(line)))]
    except (csv.Error, StopIteration):
        return None


def _long_csv(path: str, cols: tuple[str | None, str, str, str]) -> list[Input]:
    """Each run of a long-format CSV: read once here, one table per run."""

    source, data = read_bytes(path)
    return [Input(path, str(rid), f"{source}#run={rid}" if cols[0] else source, "table", None, table)
            for rid, table in long_runs(data, source, cols)]


def frame_inputs(frame: Any, name: str) -> list[Input]:
    """The runs of an in-memory log: a long-format DataFrame (``run_id``/``run``, ``step``, ``key``,
    ``value`` columns) gives one per run (without a run column, one), any other log -- a wide
    DataFrame, a dict of lists, a Keras History, a ``log_history`` -- one."""

    def _long(df, step: str, key: str, value: str, source: str):  # as diagnose_frame reads each run
        return long_table(df, step=step, key=key, value=value, source=source)

    cols = long_columns(frame.columns) if hasattr(frame, "columns") and hasattr(frame, "groupby") else None
    if cols is None:
        table, source = table_of(frame)
        return [Input(name, None, name if name != source else None, "table", None, table)]
    run, step, key, value = cols
    if run is None:
        return [Input(name, None, name, "table", None, _long(frame, step, key, value, name))]
    return [Input(name, str(rid), str(rid), "table", None, _long(g, step, key, value, str(rid)))
            for rid, g in frame.groupby(run, sort=False, dropna=False)]


def many(logs: Any, settings: Settings | None = None, jobs: int = 1) -> Batch:
    """:func:`curvediag.diagnose_many`: paths expanded as the command line does, in-memory logs by
    :func:`frame_inputs`; one Batch of every run, in order."""
    if isinstance(logs, (str, os.PathLike, dict)) or hasattr(logs, "columns") or hasattr(logs, "history"):
        logs = [logs]  # one log, not a sequence of them
    s = settings or Settings()
    inputs: list[Input | Unreadable] = []
    for k, log in enumerate(logs):
        if isinstance(log, (str, os.PathLike, Input)):
            inputs += expand([log], s)
            continue
        name = f"<{type(log).__name__} {k}>"
        try:
            inputs += frame_inputs(log, name)
        except CurvediagError as e:
            inputs.append(Unreadable(name, getattr(e, "problem", str(e)), f"{name}: {getattr(e, 'problem', e)}"))
    return _batch(inputs, s, jobs, False)


def stream(inputs: Sequence["Input | Unreadable"], settings: Settings, jobs: int = 1,
           debug: bool = False) -> Iterator[Union["Report", Unreadable]]:
    """Each input's report (or Unreadable entry), in order, diagnosed as they are asked for: at
    most a few runs are held at once whatever their number (``jobs`` worker processes)."""
    workers = _cores() if jobs == 0 else jobs
    todo = [i for i in inputs if not isinstance(i, Unreadable)]
    stdin = any(isinstance(i, Input) and i.path == "-" for i in todo)
    if workers > 1 and len(todo) > 1 and not stdin:
        done = _parallel(todo, settings, debug, workers)
    else:
        done = (_report((i, settings, debug)) for i in todo)
    for i in inputs:
        yield i if isinstance(i, Unreadable) else next(done)


def run(paths: Sequence["str | Input"], settings: Settings, jobs: int = 1, debug: bool = False) -> Batch:
    """Diagnose every run of every path (:func:`expand`); ``jobs`` worker processes (0: one per
    core; stdin is read in this process)."""
    return _batch(expand(paths, settings), settings, jobs, debug)


def _batch(inputs: list["Input | Unreadable"], settings: Settings, jobs: int, debug: bool) -> Batch:
    items = tuple(stream(inputs, settings, jobs, debug))
    names = tuple(i.path if isinstance(i, Unreadable) else i.shown if i.name else i.path for i in inputs)
    return Batch(names, items, settings, enabled_rules(settings))


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker just dies; the parent cleans up
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _chunks(todo: list, size: int) -> Iterator[list]:
    """``todo`` in chunks of up to ``size`` runs and ``_CHUNK_BYTES`` of files (a big log, a
    database or an in-memory table is a task of its own: the window still bounds memory)."""
    chunk: list = []
    held = 0
    for i in todo:
        path = i.path if isinstance(i, Input) else str(i)
        try:
            n = os.stat(path).st_size if (not isinstance(i, Input) or i.kind == "path") and path != "-" else _CHUNK_BYTES
        except OSError:
            n = 0
        if chunk and (len(chunk) >= size or held + n > _CHUNK_BYTES):
            yield chunk
            chunk, held = [], 0
        chunk.append(i)
        held += n
    if chunk:
        yield chunk


def _cores() -> int:
    """The cores this process may run on (its affinity mask, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _parallel(todo: list, settings: Settings, debug: bool, workers: int) -> Iterator:
    """The reports of ``todo`` on worker processes, in order, with at most ``workers * _WINDOW``
    tasks submitted ahead of the one handed back.  A task is a chunk of runs (up to
    ``_CHUNK``, fewer when there are few runs a worker): submitting, pickling the settings and
    waking a worker once per run cost as much as diagnosing a small log.  The diagnosis modules
    (imported with this one) and numpy are loaded before the workers start, so that a forked
    worker inherits them."""
    import signal
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    np.ndarray  # numpy itself, imported once, in the parent, for every forked worker  # noqa: B018

    size = max(1, min(_CHUNK, len(todo) // (workers * _WINDOW)))
    args = [(chunk, settings, debug) for chunk in _chunks(todo, size)]
    parent = os.getpid()
    ex = ProcessPoolExecutor(max_workers=min(workers, len(args)), initializer=_worker_init)

    def stop(signum, frame):
        if os.getpid() != parent:  # pragma: no cover - a worker forked before its initializer ran
            os._exit(128 + signum)
        procs = list((getattr(ex, "_processes", None) or {}).values())
        for proc in procs:
            try:
                proc.terminate()
            except Exception:  # pragma: no cover - already gone
                pass
        for proc in procs:
            proc.join(2)
        discard_stdout()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(parent, signum)

    old = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            old[sig] = signal.signal(sig, stop)
        except ValueError:  # not the main thread: signals are not ours to handle
            pass
    try:
        with ex:
            ahead: deque = deque()
            for a in args:
                ahead.append(ex.submit(_reports, a))
                if len(ahead) >= workers * _WINDOW:
                    yield from ahead.popleft().result()
            while ahead:
                yield from ahead.popleft().result()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


__all__ = ["ALL", "Batch", "Input", "Unreadable", "expand", "stream", "run", "one"]
