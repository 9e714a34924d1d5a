"""``curvediag watch PATH``: follow a log while training writes it, diagnose it as points arrive.

How it follows the file: plain polling.  Every ``interval`` seconds it looks at the file's
``os.stat`` (inode, size, modification time) -- for a TensorBoard run, at every event file's --
and reads and re-diagnoses only when that changed.  Polling is simple, needs no dependency and
works where file-change notification does not: NFS, SMB and other network or FUSE filesystems,
bind mounts and containers, which is where training logs often live (inotify sees only the
writes made by the machine it runs on).  A poll of an unchanged file costs one ``stat``.

What is diagnosed is only what is complete, and the reading is the one ``analyze`` does (the
bytes go to :func:`curvediag.readers.read_table`, as stdin's do: nothing is written anywhere):

* text logs (CSV, Keras console, JSON Lines) up to their last newline: a last line still being
  written (``0.4`` of ``0.45``) would be wrong data, so it waits for its newline;
* a JSON document (``trainer_state.json``, rewritten in place by truncating and writing it again)
  that does not parse yet is a wait, and so is any other error while the file keeps changing;
* TensorBoard event files up to their last whole record.

Each finding is said once, at the position it first appeared (:func:`curvediag.monitor.fresh_alerts`,
which :class:`~curvediag.monitor.Monitor` uses too); findings wait for ``min_points`` rows, except
divergence (a NaN or an infinity), said at once.  The watch ends

* at the first finding at or above ``fail_on``: status 1;
* when the log has not changed for ``idle`` seconds (the writer is done): the whole file is then
  diagnosed as ``analyze`` would (an unterminated last line included), status 0 or 1 as
  ``analyze`` gives it, or 2 when it cannot be read (a file that never appeared, one that never
  became readable);
* at SIGINT (130) or SIGTERM (143).

A run directory is searched as ``analyze`` searches one (:func:`curvediag.readers.discover.find_log`)
at every poll until a log appears in it, and again later (a newer checkpoint's
``trainer_state.json``, a new ``version_N``: the newest run is followed).

Each change of a growing file reads only the bytes appended to it (the same file, no shorter,
the 4 KiB before its previous end unchanged; else the whole file again: a rewrite in place, a
truncation, a new file under the name); the diagnosis then runs on all of it, as ``analyze`` would.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .settings import Settings
from .errors import CurvediagError, InputError
from .monitor import Alert, fresh_alerts, last_position
from .pipeline import curves_of, diagnose_curves
from .report import Report, severity_rank
from .batch import internal
from .errors import UsageError
from .readers import load_table
from .readers import read_table
from .readers.discover import find_log
from .readers.discover import read_event_dir
from .readers.runs import find_runs
from .readers.source import GZIP_MAGIC, MAX_BYTES
from .readers.source import SQLITE_MAGIC, UTF8_BOM, has_event_magic
from .readers import source as _source  # read_bytes looked up when read (tests replace it)
from .render import printable

#: bytes before the previous end of a file compared again before only its new bytes are read
_RECHECK = 4096
#: statuses the watch ends with
CLEAN, FINDINGS, ERROR, SIGINT_STATUS, SIGTERM_STATUS = 0, 1, 2, 130, 143
#: the durations a watch accepts, in seconds: (lowest, highest) of ``interval`` and ``idle``
INTERVAL_RANGE = (0.01, 3600.0)
IDLE_RANGE = (0.0, 7 * 86400.0)


def check_duration(name: str, value: float, bounds: tuple[float, float]) -> float:
    """``value`` if it is a finite number of seconds within ``bounds``; else a
    :class:`~curvediag.errors.UsageError` naming ``name`` (``nan`` or ``inf`` would never end a
    watch, ``1e308`` never start its next look)."""
    import math

    low, high = bounds
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name} {value!r}: give a number of seconds") from None
    if not math.isfinite(x) or not low <= x <= high:
        raise UsageError(f"{name} {value!r}: give a finite number of seconds from {low:g} to {high:g}")
    return x


class _Terminated(Exception):
    """SIGTERM arrived."""


class _Waiting(Exception):
    """Nothing to read yet (a file that has not appeared, a directory with no log in it yet)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Target:
    """What PATH stands for right now: a ``file``, a directory of TensorBoard ``events``, or an
    MLflow ``store``; ``where`` is what is read (the log found inside a run directory)."""

    kind: str
    where: str


@dataclass
class End:
    """How the watch ended."""

    status: int
    reason: str  # idle | fail-on | error | interrupted
    report: Report | None = None
    rows: int = 0
    source: str = ""
    message: str | None = None


@dataclass
class Watch:
    """Follow ``path`` (see the module's doc).  ``emit`` gets each event as a dict: ``{"event":
    "finding", ...}`` (:meth:`Alert.to_dict` and ``path``, with the :class:`Alert` as the second
    argument) and a last ``{"event": "end", ...}`` (None as the second).  ``on_finding`` gets each
    finding's :class:`Alert` too, after ``emit`` (``curvediag watch --webhook``: a
    :class:`curvediag.alerts.Webhook`, which posts on a thread of its own: the watch never waits)."""

    path: str
    settings: Settings = field(default_factory=Settings)
    interval: float = 2.0
    idle: float = 60.0
    min_points: int = 5
    emit: Callable[[dict[str, Any], Alert | None], Any] = lambda event, alert: None
    debug: bool = False
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Any] = time.sleep
    on_finding: Callable[[Alert], Any] | None = None

    def __post_init__(self) -> None:
        # the library also takes interval=0 (a caller's own sleep, as the tests' fake clocks): finite, at most an hour
        self.interval = check_duration("interval", self.interval, (0.0, INTERVAL_RANGE[1]))
        self.idle = check_duration("idle", self.idle, IDLE_RANGE)
        self._seen: set[str] = set()
        self._pending: list[Alert] = []
        self._report: Report | None = None
        self._rows = 0
        self._source = self.path
        self._digest: bytes | None = None
        self._read_target: _Target | None = None
        self._last_read: tuple[tuple[int, int], int, bytearray] | None = None  # (device, inode), size, bytes
        #: reads that took only the bytes appended since the previous one
        self.appended_reads = 0

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> End:
        """Watch until the end; the last event emitted is the ``end`` event."""
        import signal

        def terminate(signum, frame):
            raise _Terminated()

        try:
            old = signal.signal(signal.SIGTERM, terminate)
        except ValueError:  # not the main thread: signals are not ours to handle
            old = None
        try:
            end = self._loop()
        except KeyboardInterrupt:
            end = self._end(SIGINT_STATUS, "interrupted")
        except _Terminated:
            end = self._end(SIGTERM_STATUS, "interrupted")
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        self.emit(self._end_event(end), None)
        return end

    def _loop(self) -> End:
        last_change = self.clock()
        last_sig: object = None
        while True:
            now = self.clock()
            try:
                target = self._locate()
                sig = _signature(target)
            except _Waiting as w:
                if now - last_change >= self.idle:
                    return self._end(ERROR, "error", f"{w.message} (nothing appeared in {_secs(self.idle)})")
                self.sleep(self.interval)
                continue
            except InputError as e:  # a device, a FIFO, a socket: never a log, never waited for
                return self._end(ERROR, "error", str(e))
            if sig != last_sig:
                last_sig, last_change = sig, now
            elif now - last_change >= self.idle:  # the writer is done: the whole log, as analyze reads it
                try:
                    self._diagnose(target, final=True)
                except Exception as e:
                    return self._end(ERROR, "error", self._problem(target, e))
                if (end := self._say(final=True)) is not None:
                    return end
                return self._end(self._status(), "idle")
            else:
                self.sleep(self.interval)
                continue
            try:
                self._diagnose(target, final=False)
            except CurvediagError:
                pass  # half-written, or not there yet: wait for more (an error only once idle)
            except Exception:
                if self.debug:
                    raise
            if (end := self._say(final=False)) is not None:
                return end
            self.sleep(self.interval)

    # -- where and what to read -------------------------------------------------------------
    def _locate(self) -> _Target:
        p = self.path
        from .readers.mlflow_server import is_server_uri

        if is_server_uri(p):
            from .readers.mlflow_server import redact

            raise InputError(redact(p), "an MLflow server URI cannot be watched (watch follows a file or run directory "
                             "being written); analyze reads the server's runs")
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise _Waiting(f"{p}: no such file") from None
        except OSError as e:
            raise _Waiting(f"{p}: {e.strerror or e}") from None
        if stat.S_ISDIR(st.st_mode):
            try:
                if find_runs(Path(p)):
                    return _Target("store", p)
                found, _ = find_log(p)
            except InputError as e:
                raise _Waiting(str(e)) from None
            except (RecursionError, OSError) as e:
                raise _Waiting(f"{p}: {getattr(e, 'strerror', None) or e}") from None
            return _Target("events" if os.path.isdir(found) else "file", found)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(p, "not a regular file (device, FIFO or socket); not read")
        return _Target("file", p)

    def _diagnose(self, target: _Target, final: bool) -> None:
        """Read what is complete of ``target`` and diagnose it (nothing when it is what was read last)."""
        s = self.settings
        if target.kind == "file":
            source, data = self._read(target.where, _source.read_bytes)
            content = data if final else _complete(data, s.input_format)
            digest = hashlib.blake2b(content, digest_size=16).digest()
            if not final and digest == self._digest and target == self._read_target:
                return  # only a partial line arrived
            table = read_table(content, source, s.input_format, s.run, None)  # never re-read from disk
        elif target.kind == "events":
            source, digest, table = target.where, None, read_event_dir(target.where)
        else:
            table, source = load_table(target.where, s.input_format, s.run)
            digest = None
        curves = curves_of(table, source, s)
        report = diagnose_curves(curves, s)[0]
        self._digest, self._read_target = digest, target
        self._report, self._rows, self._source = report, table.rows, source
        self._pending.extend(fresh_alerts(report, self._seen, last_position(curves), curves.axis_kind, table.rows,
                                          short=final))

    def _read(self, path: str, read_bytes) -> tuple[str, bytes]:
        """The file's bytes: only those appended since the last read when it is the same file (its
        device and inode), no shorter, and the bytes before the old end are still those read (a
        rewrite in place, as trainer_state.json's, or a truncation reads it whole again)."""
        last = self._last_read
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if last is not None and st is not None and (st.st_dev, st.st_ino) == last[0] and \
                last[1] <= st.st_size <= MAX_BYTES:
            old = last[2]
            k = min(_RECHECK, len(old))
            try:
                with open(path, "rb") as fh:
                    fh.seek(len(old) - k)
                    if fh.read(k) == old[len(old) - k:]:
                        old.extend(fh.read(st.st_size - len(old)))
                        self.appended_reads += 1
                        return path, bytes(old)
            except OSError:
                pass
        source, data = read_bytes(path)
        plain = st is not None and not data.startswith(GZIP_MAGIC) and len(data) == st.st_size  # not unpacked
        self._last_read = ((st.st_dev, st.st_ino), len(data), bytearray(data)) if plain and st is not None else None
        return source, data

    def _problem(self, target: _Target, e: BaseException) -> str:
        if isinstance(e, CurvediagError):
            return str(e)
        if self.debug:
            raise e

        return f"{target.where}: {internal(e)}"

    # -- what to say ------------------------------------------------------------------------
    def _say(self, final: bool) -> End | None:
        """Emit the findings due; the end at the first one at or above --fail-on."""
        due = [a for a in self._pending if final or self._rows >= self.min_points or a.finding.verdict == "diverged"]
        self._pending = [a for a in self._pending if a not in due]
        limit = None if self.settings.fail_on == "never" else severity_rank(self.settings.fail_on)
        for a in due:
            self.emit({"event": "finding", "path": self._source, **a.to_dict()}, a)
            if self.on_finding is not None:
                self.on_finding(a)
        if limit is not None and any(severity_rank(a.finding.severity) >= limit for a in due):
            return self._end(FINDINGS, "fail-on")
        return None

    def _status(self) -> int:
        r = self._report
        if r is None or self.settings.fail_on == "never":
            return CLEAN
        return FINDINGS if severity_rank(r.worst_severity()) >= severity_rank(self.settings.fail_on) else CLEAN

    def _end(self, status: int, reason: str, message: str | None = None) -> End:
        return End(status, reason, self._report, self._rows, self._source, message)

    def _end_event(self, end: End) -> dict[str, Any]:
        return {
            "event": "end", "path": end.source, "reason": end.reason,
            "verdict": end.report.verdict if end.report is not None else None,
            "rows": end.rows, "exit_status": end.status,
            **({"error": end.message} if end.message else {}),
        }


def _complete(data: bytes, input_format: str | None) -> bytes:
    """The part of ``data`` a reader may take while the writer is still at it: TensorBoard and
    SQLite as they are (their readers stop at the last whole record / read committed pages); a JSON
    document whole when it parses (else JSON Lines up to the last newline); text up to its last newline."""
    if data.startswith(SQLITE_MAGIC) or input_format == "tensorboard" or has_event_magic(data):
        return data
    cut = data[: data.rfind(b"\n") + 1]
    head = data[:3].lstrip(UTF8_BOM) + data[3:64]
    if input_format in (None, "json") and head.lstrip()[:1] in (b"{", b"["):
        try:
            json.loads(data)
            return data
        except (ValueError, RecursionError):
            return cut
    return cut


def _signature(target: _Target) -> object:
    """What changes when the writer writes: (inode, size, mtime) of the file, or of every event
    file / metric file below the directory read."""
    if target.kind == "file":
        try:
            st = os.stat(target.where)
        except OSError as e:  # gone between two looks (rotated, replaced): wait for it again
            raise _Waiting(f"{target.where}: {e.strerror or e}") from None
        return (target.where, st.st_ino, st.st_size, st.st_mtime_ns)
    sig = []
    for dirpath, _dirs, files in os.walk(target.where):
        for name in files:
            if target.kind == "events" and "tfevents" not in name:
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except OSError:
                continue
            sig.append((dirpath, name, st.st_ino, st.st_size, st.st_mtime_ns))
            if len(sig) > 20000:
                break
    return (target.where, tuple(sorted(sig)))


def _secs(v: float) -> str:
    return f"{v:g} s"


# -- printing the events --------------------------------------------------------------------------


def text_line(event: dict[str, Any], alert: Alert | None, idle: float, fail_on: str) -> str | None:
    """The text line of an event (None: nothing to say): a finding as :meth:`Alert.line` gives
    it, the end as ``curvediag: PATH: VERDICT after N rows (why)``; control characters escaped."""
    if alert is not None:
        return printable(alert.line())
    if event["reason"] == "interrupted" or event["reason"] == "error":
        return None  # an error has its own line on stderr; an interrupted watch ends quietly
    why = f"no change for {_secs(idle)}" if event["reason"] == "idle" else f"a finding at or above --fail-on {fail_on}"
    return printable(f"curvediag: {event['path']}: {event['verdict']} after {event['rows']} rows ({why})")


def jsonl_line(event: dict[str, Any]) -> str:
    """An event as one line of strict JSON (NaN and infinity as the report writes them: strings)."""
    return json.dumps(event, allow_nan=False)


__all__ = ["Watch", "End", "text_line", "jsonl_line"]
