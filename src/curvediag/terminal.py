"""The terminal: stdout and stderr for people and pipes.  :class:`Stdout` (every byte reaches fd 1 or
the write fails loudly), :func:`console` (rich on it, width clamped), :func:`err` (one escaped line on
stderr), SIGPIPE's status when the reader leaves (:func:`stdout_closed`), closed standard streams
(:func:`guard_std_streams`).  Below the renderers (the text renderer strips its lines with
:func:`rstrip_lines`) and the ``--output`` writer (:mod:`curvediag.output`)."""

from __future__ import annotations

import os

from .render import printable


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def err(msg: str) -> None:
    """One line on stderr; control characters in names are shown escaped, never sent raw."""
    import sys

    try:
        sys.stderr.write(f"curvediag: {printable(msg)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed or full: the exit status still says it
        pass


class StdoutClosed(Exception):
    pass


_TRAILING = None


def rstrip_lines(text: str) -> str:
    """``text`` without spaces at the ends of its lines (where rich pads and wraps), colour codes kept."""
    global _TRAILING
    if _TRAILING is None:
        import re

        _TRAILING = re.compile(r"[ \t]+((?:\x1b\[[0-9;]*m)*)(?=\n|$)")
    return _TRAILING.sub(r"\1", text)


class Stdout:
    """stdout for a report: every byte reaches fd 1 or the write fails loudly.  (A text
    stream over an unbuffered fd -- PYTHONUNBUFFERED=1 -- silently drops the rest of a
    short write to a pipe whose reader left, so a truncated report would exit 0/1.)
    Characters the stream's encoding cannot hold are written as backslash escapes.
    ``strip``: no spaces at the ends of lines (the text report: rich pads lines to the width)."""

    def __init__(self, strip: bool = False) -> None:
        import sys

        self._strip = strip
        out = sys.stdout
        if out is None:  # fd 1 was closed when the process started
            raise StdoutClosed()
        self._out = out
        self.encoding = getattr(out, "encoding", None) or "utf-8"
        try:
            self._fd = out.fileno() if hasattr(out, "buffer") else None
        except (OSError, ValueError, AttributeError):
            self._fd = None  # not a real file (tests capture stdout)
        if self._fd is not None:
            out.flush()

    def isatty(self) -> bool:
        try:
            return self._out.isatty()
        except (OSError, ValueError, AttributeError):
            return False

    def fileno(self) -> int:
        if self._fd is None:
            raise OSError("no file descriptor")
        return self._fd

    def write(self, text: str) -> int:
        n = len(text)
        if self._strip:
            text = rstrip_lines(text)
        if self._fd is None:
            self._out.write(text)
        else:
            _write_all(self._fd, text.encode(self.encoding, "backslashreplace"))
        return n

    def flush(self) -> None:
        if self._fd is None:
            self._out.flush()


#: the widest text report, in columns, whatever the terminal or ``COLUMNS`` says (rich's layout
#: costs grow with the square of the width: ``COLUMNS=100000`` took minutes)
MAX_WIDTH = 400
#: the narrowest: a panel and the metrics table need some room
MIN_WIDTH = 20


def console(no_color: bool):
    """A rich console on :class:`Stdout` (plain when ``no_color`` or NO_COLOR is set), its width
    clamped to :data:`MIN_WIDTH` .. :data:`MAX_WIDTH`."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1, our "findings" status
            stdout_closed()

    out = Stdout(strip=True)
    if no_color or os.environ.get("NO_COLOR"):
        con = _Console(file=out, color_system=None, no_color=True, highlight=False, emoji=False)  # type: ignore[arg-type]
    else:
        con = _Console(file=out, highlight=False, emoji=False)  # type: ignore[arg-type]  # a file-like object
    con.width = min(max(con.width, MIN_WIDTH), MAX_WIDTH)
    return con


def write_stdout(text: str, strip: bool = False) -> None:
    """Write ``text`` to stdout: 141 if the reader went away, one line and exit 2 if it cannot be written.
    ``strip``: without spaces at the ends of lines (text for people)."""
    with stdout_errors():
        out = Stdout(strip)
        out.write(text)
        out.flush()


class stdout_errors:
    """Failures writing stdout: SIGPIPE's status 141 when the reader left, else one line and exit 2."""

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        import typer

        if kind is None:
            return False
        if issubclass(kind, BrokenPipeError):
            stdout_closed()
        if issubclass(kind, StdoutClosed):
            err("stdout is closed; the report was not written")
            raise typer.Exit(2)
        if issubclass(kind, OSError):
            err(f"cannot write to stdout ({e.strerror or e})")
            discard_stdout()
            raise typer.Exit(2)
        return False


def stdout_closed() -> None:
    """The reader went away (`| head`): stop quietly with the shell's SIGPIPE status, 141,
    which cannot be mistaken for 'findings' (1)."""
    import typer

    discard_stdout()
    raise typer.Exit(141)


def discard_stdout() -> None:
    """Point fd 1 at /dev/null, so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def guard_std_streams() -> None:
    """A closed fd 0, 1 or 2 (`>&-`) gets /dev/null, so no file we open can take its number
    (a report written into the log we opened); sys.stdout stays None and a report for it is
    an error.  A stdout that cannot encode a character writes it as a backslash escape."""
    import sys

    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                nfd = os.open(os.devnull, os.O_RDWR)
                if nfd != fd:
                    os.dup2(nfd, fd)
                    os.close(nfd)
            except OSError:
                pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            pass
