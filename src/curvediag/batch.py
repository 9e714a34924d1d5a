"""Many logs at once: :func:`run` diagnoses every path under one :class:`~curvediag.config.Settings`
and returns a :class:`Batch` -- a report, or an :class:`Unreadable` entry, per input, in the order given.

With ``jobs > 1`` the logs are diagnosed on worker processes.  SIGTERM or SIGINT to curvediag ends
the workers too (none is left running), then curvediag dies of the same signal.  One input's
failure never stops the others: an unreadable log, or a bug met on one log, becomes its entry."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence, Union

from .config import Settings

if TYPE_CHECKING:
    from .curves import Curves
    from .report import Report


@dataclass(frozen=True)
class Unreadable:
    """An input that gave no report: ``message`` is its one line for stderr (``path: problem``)."""

    path: str
    problem: str
    message: str


@dataclass(frozen=True)
class Batch:
    """What a run over ``paths`` produced: ``items[i]`` is the Report or Unreadable of ``paths[i]``.
    ``rules`` are the (code, name) of the rules the settings switched on: what ran on each log."""

    paths: tuple[str, ...]
    items: tuple[Union["Report", Unreadable], ...]
    settings: Settings = field(default_factory=Settings)
    rules: tuple[tuple[str, str], ...] = ()

    @property
    def reports(self) -> list["Report"]:
        return [r for r in self.items if not isinstance(r, Unreadable)]

    @property
    def unreadable(self) -> list[Unreadable]:
        return [r for r in self.items if isinstance(r, Unreadable)]

    @property
    def single(self) -> bool:
        """One input was given."""
        return len(self.paths) == 1


def internal(e: BaseException) -> str:
    """The one line for a bug met while diagnosing (never the input's fault, never a 'finding')."""
    msg = str(e)
    return f"internal error: {type(e).__name__}" + (f": {msg}" if msg else "") + " (--debug shows the traceback)"


def one(path: str, settings: Settings, debug: bool = False) -> tuple["Report", "Curves"] | Unreadable:
    """Diagnose one log: (report, the curves it read), or its Unreadable entry.  With ``debug``
    a bug raises instead, so its traceback can be shown."""
    from .api import diagnose_with_curves
    from .errors import CurvediagError

    try:
        return diagnose_with_curves(path, settings=settings)
    except CurvediagError as e:
        return Unreadable(path, getattr(e, "problem", str(e)), str(e))
    except Exception as e:
        if debug:
            raise
        problem = internal(e)
        return Unreadable(path, problem, f"{'<stdin>' if path == '-' else path}: {problem}")


def _report(arg: tuple[str, Settings, bool]) -> Union["Report", Unreadable]:
    """:func:`one` without the curves; top-level so worker processes can run it."""
    r = one(*arg)
    return r if isinstance(r, Unreadable) else r[0]


def run(paths: Sequence[str], settings: Settings, jobs: int = 1, debug: bool = False) -> Batch:
    """Diagnose every path; ``jobs`` worker processes (0: one per core; stdin is read in this process)."""
    from .engine import enabled_rules

    paths = tuple(paths)
    workers = (os.cpu_count() or 1) if jobs == 0 else jobs
    args = [(p, settings, debug) for p in paths]
    if workers > 1 and len(paths) > 1 and "-" not in paths:
        items = _parallel(args, workers)
    else:
        items = [_report(a) for a in args]
    return Batch(paths, tuple(items), settings, enabled_rules(settings))


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker just dies; the parent cleans up
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _parallel(args, workers: int) -> list:
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from .output import discard_stdout

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
            return list(ex.map(_report, args, chunksize=max(1, len(args) // (4 * workers))))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


__all__ = ["Batch", "Unreadable", "run", "one"]
