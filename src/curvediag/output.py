"""Writing what the user asked for, and nothing else (``--output``, ``--plot`` and stdout).

* :func:`show`, :func:`write_report`, :func:`exit_status`: a :class:`~curvediag.report.Batch` rendered
  in one :class:`~curvediag.vocabulary.OutputFormat` (by its :data:`~curvediag.render.RENDERERS`
  entry, with its :class:`~curvediag.render.OutputOptions`) on stdout or to ``--output``, and the exit status.

* :func:`refuse_inputs`: an output that is, or is inside, an input (a log file, a run
  directory or store and every file in it, stdin's file, a SQLite database's
  ``-wal``/``-shm``/``-journal`` files, the config file) is refused -- compared as
  resolved real paths and as (device, inode) pairs, so symlinks and hard links count.
* :func:`write_output`: a regular file or a new path is written atomically (a temporary
  file in the same directory, then ``os.replace``), keeping the replaced file's
  permission bits (and owner, where allowed); the temporary file is removed on any
  failure.  A character device, a FIFO or a path under ``/dev`` or ``/proc`` (such as
  ``/dev/stdout``), or the file stdout or stderr already writes to, is written directly, never replaced by a regular file; a FIFO with no
  reader is an error, not a hang.  Directories, block devices and sockets are refused.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from .errors import UsageError
from .terminal import (  # noqa: F401 - stdout and stderr helpers, offered here as before
    MAX_WIDTH, MIN_WIDTH, Stdout, StdoutClosed, _write_all, console, discard_stdout, err, guard_std_streams,
    rstrip_lines, stdout_closed, stdout_errors, write_stdout,
)
from .render import RENDERERS, OutputOptions, renderer
from .report import severity_rank
from .vocabulary import EXTENSIONS, OutputFormat

if TYPE_CHECKING:
    from .report import Batch

#: directory entries looked at for hard links and symlinks inside an input directory
WALK_LIMIT = 100_000
_SIDECARS = ("-wal", "-shm", "-journal")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _refuse(target: str, what: str) -> UsageError:
    return UsageError(f"{target}: {what}; curvediag never writes to its inputs")


def refuse_inputs(target: str, inputs, extra=()) -> None:
    """Raise :class:`UsageError` if writing ``target`` could change one of ``inputs``
    (paths as given, ``-`` for stdin) or ``extra`` (other files read, e.g. the config)."""
    real = os.path.realpath(target)
    try:
        tst = os.stat(target)
    except OSError:
        tst = None
    for p in inputs:
        if p == "-":
            try:
                if tst is not None and os.path.samestat(tst, os.fstat(0)):
                    raise _refuse(target, "is the file on stdin, one of the inputs")
            except OSError:
                pass
            continue
        rp = os.path.realpath(p)
        if _inside(real, rp):
            raise _refuse(target, "is one of the inputs" if real == rp else f"is inside the input {p}")
        if real in tuple(rp + s for s in _SIDECARS):
            raise _refuse(target, f"is a journal file of the input {p}")
        try:
            st = os.stat(p)
        except OSError:
            continue
        if tst is not None and os.path.samestat(st, tst):
            raise _refuse(target, "is one of the inputs")
        if stat.S_ISDIR(st.st_mode):
            _walk_check(target, real, tst, p)
    for p in extra:
        if p and (os.path.realpath(p) == real or (tst is not None and _same(p, tst))):
            raise _refuse(target, "is the config file")


def _same(p: str, tst) -> bool:
    try:
        return os.path.samestat(os.stat(p), tst)
    except OSError:
        return False


def _walk_check(target: str, real: str, tst, top: str) -> None:
    """A hard link to a file inside ``top``, or a path a symlink inside ``top`` points at."""
    hard = tst is not None and stat.S_ISREG(tst.st_mode) and tst.st_nlink > 1
    stack, seen = [top], 0
    while stack and seen < WALK_LIMIT:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except OSError:
            continue
        with it:
            for e in it:
                seen += 1
                try:
                    if e.is_symlink():
                        link = os.path.realpath(e.path)
                        if _inside(real, link):
                            raise _refuse(target, f"is the target of the symlink {e.path} inside the input {top}")
                    elif e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif hard and e.inode() == tst.st_ino and e.stat(follow_symlinks=False).st_dev == tst.st_dev:
                        raise _refuse(target, f"is a hard link to {e.path} inside the input {top}")
                except OSError:
                    continue


def write_output(path: str, data: str | bytes, follow_links: bool = True) -> None:
    """Write ``data`` (text is UTF-8) to ``path``; see the module's doc for how.
    Raises :class:`UsageError` for a target it will not write, ``OSError`` for a failed write.
    ``follow_links=False`` for a name curvediag made up (``--plot DIR/``, a report of its own):
    a symbolic link found there is refused, never written through, and the file is replaced
    at ``path`` itself (a link planted after the check is replaced, its target untouched)."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    if not follow_links:
        try:
            lst = os.lstat(path)
        except FileNotFoundError:
            lst = None
        except OSError as e:
            raise UsageError(f"{path}: cannot write ({e.strerror or e})") from None
        if lst is not None and stat.S_ISLNK(lst.st_mode):
            raise UsageError(f"{path}: is a symbolic link; curvediag does not write through a link it did not name")
        if lst is not None and not stat.S_ISREG(lst.st_mode):
            raise UsageError(f"{path}: not a regular file; not written")
        return _write_atomic(os.path.abspath(path), data, lst)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise UsageError(f"{path}: cannot write ({e.strerror or e})") from None
    real = os.path.realpath(path)
    special = real.startswith(("/dev/", "/proc/")) or path.startswith(("/dev/", "/proc/")) or _is_std_stream(st)
    if st is not None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{path}: is a directory")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or (special and stat.S_ISREG(mode)):
            return _write_direct(path, data, stat.S_ISFIFO(mode), stat.S_ISREG(mode))
        if not stat.S_ISREG(mode):
            raise UsageError(f"{path}: not a regular file, character device or FIFO; not written")
    elif special:
        raise UsageError(f"{path}: no such device")
    _write_atomic(real, data, st)


def _is_std_stream(st) -> bool:
    """``st`` is the file our stdout or stderr is (``-o /proc/self/fd/1`` by another name)."""
    for fd in (1, 2):
        try:
            if st is not None and os.path.samestat(st, os.fstat(fd)):
                return True
        except OSError:
            pass
    return False


def _write_direct(path: str, data: bytes, fifo: bool, regular: bool = False) -> None:
    flags = os.O_WRONLY | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    if regular:  # /dev/stdout redirected to a file: add to it, as `>>` would
        flags |= os.O_APPEND
    if fifo:
        flags |= os.O_NONBLOCK  # no reader: ENXIO at once instead of waiting for ever
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise UsageError(f"{path}: a FIFO that no process is reading; not written") from None
        raise
    try:
        if fifo:
            os.set_blocking(fd, True)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_atomic(real: str, data: bytes, st) -> None:
    import tempfile

    directory, name = os.path.split(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory or ".")
    try:
        try:
            _write_all(fd, data)
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except OSError:
                        pass
            else:
                mask = os.umask(0)
                os.umask(mask)
                os.fchmod(fd, 0o666 & ~mask)  # an ordinary new file, not mkstemp's 0600
        finally:
            os.close(fd)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --- a Batch in one format: to --output, to stdout, and the exit status -------------------------

def format_for(path: str, given: str | None, default: str) -> "OutputFormat":
    """The format of ``--output PATH``: ``--output-format``, else from its extension
    (:attr:`OutputFormat.extension <curvediag.vocabulary.OutputFormat.extension>`), else (a name with
    no extension, such as ``/dev/stdout``) ``default``.  An extension that names no format
    (``report.html``) is a :class:`UsageError`, never a silent fall-back to text."""
    from pathlib import Path

    if given:
        return OutputFormat(given).canonical
    suffix = Path(path).suffix.lower()
    if not suffix:
        return OutputFormat(default)
    if suffix not in EXTENSIONS:
        exts = ", ".join(EXTENSIONS)
        raise UsageError(f"--output {path}: no format has the extension {suffix!r} (choices: {exts}); "
                         "or give --output-format")
    return OutputFormat(EXTENSIONS[suffix])


def write_report(path: str, batch: "Batch", fmt: "OutputFormat", options: "OutputOptions | None" = None) -> None:
    """The batch rendered in ``fmt`` with ``options``, written to ``path`` (see :func:`write_output`)."""

    write_output(path, renderer(fmt, options)(batch))


def exit_status(batch: "Batch", exit_zero: bool = False) -> int:
    """2 if an input could not be read; else 1 if a finding reaches ``fail_on`` (unless ``exit_zero``
    or ``fail_on = "never"``); else 0.  A borderline verdict counts only as far as its alternative
    would, unless ``fail_on_borderline`` (:meth:`~curvediag.report.Report.gate_severity`)."""
    if batch.unreadable:
        return 2
    fail_on = batch.settings.fail_on
    if exit_zero or fail_on == "never":
        return 0
    limit = severity_rank(fail_on)
    strict = batch.settings.fail_on_borderline
    return 1 if any(severity_rank(r.gate_severity(strict)) >= limit for r in batch.reports) else 0


# --- stdout and stderr of the command line -----------------------------------------------------


def show(batch: "Batch", fmt: "OutputFormat", options: "OutputOptions | None" = None) -> None:
    """The batch on stdout in ``fmt`` with ``options``: a format with a console printer (text) through
    rich, for the terminal's width and colours; a format quiet when nothing was read (JSON) prints
    nothing when every input failed: there is no report to give."""

    options = options or OutputOptions()
    entry = RENDERERS[fmt.canonical]
    printer = entry.bind_show(options)
    if printer is not None:
        with stdout_errors():
            printer(batch, console(options.no_color))
    elif batch.reports or not entry.quiet_when_unread:
        write_stdout(renderer(fmt, options)(batch))


__all__ = ["refuse_inputs", "write_output", "WALK_LIMIT", "format_for", "write_report", "exit_status", "show"]
