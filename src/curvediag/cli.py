"""The command line: a thin layer over :func:`curvediag.diagnose`.

Exit status: 0 nothing at or above --fail-on; 1 a finding at or above it;
2 a usage error or an input that cannot be read.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

EXAMPLES = """
Examples:

  curvediag analyze logs/training.log

  curvediag analyze history.json --format json | jq .verdict

  curvediag analyze metrics.csv --val-loss my_val_loss --num-classes 10 --fail-on error
"""

app = typer.Typer(
    name="curvediag",
    help="A linter for training curves: reads the log a training job wrote, diagnoses the "
    "curves and says what to do about it.\n\n" + EXAMPLES,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Format(str, Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"
    github = "github"
    junit = "junit"


class FailOn(str, Enum):
    never = "never"
    info = "info"
    warning = "warning"
    error = "error"


class InputFormat(str, Enum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    tensorboard = "tensorboard"
    wandb_csv = "wandb_csv"
    keras_console = "keras_console"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"curvediag {__version__}")
        raise typer.Exit()


_DEBUG = False  # --debug or CURVEDIAG_DEBUG=1: let an internal error show its traceback


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error (also CURVEDIAG_DEBUG=1)."),
) -> None:
    """curvediag: diagnose training curves."""
    global _DEBUG
    _DEBUG = _DEBUG or debug


def _err(msg: str) -> None:
    """One line on stderr; control characters in names are shown escaped, never sent raw."""
    from .render import printable

    try:
        sys.stderr.write(f"curvediag: {printable(msg)}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # stderr closed or full: the exit status still says it
        pass


def _console(no_color: bool):
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich would exit 1, our "findings" status
            _stdout_closed()

    out = _Stdout()
    if no_color or os.environ.get("NO_COLOR"):
        return _Console(file=out, color_system=None, no_color=True, highlight=False, emoji=False)
    return _Console(file=out, highlight=False, emoji=False)


class _StdoutClosed(Exception):
    pass


class _Stdout:
    """stdout for a report: every byte reaches fd 1 or the write fails loudly.  (A text
    stream over an unbuffered fd -- PYTHONUNBUFFERED=1 -- silently drops the rest of a
    short write to a pipe whose reader left, so a truncated report would exit 0/1.)
    Characters the stream's encoding cannot hold are written as backslash escapes."""

    def __init__(self) -> None:
        out = sys.stdout
        if out is None:  # fd 1 was closed when the process started
            raise _StdoutClosed()
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
        if self._fd is None:
            self._out.write(text)
        else:
            from .output import _write_all

            _write_all(self._fd, text.encode(self.encoding, "backslashreplace"))
        return len(text)

    def flush(self) -> None:
        if self._fd is None:
            self._out.flush()


def _write_stdout(text: str) -> None:
    """Write ``text`` to stdout: 141 if the reader went away, one line and exit 2 if it cannot be written."""
    with _stdout_errors():
        out = _Stdout()
        out.write(text)
        out.flush()


class _stdout_errors:
    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if kind is None:
            return False
        if issubclass(kind, BrokenPipeError):
            _stdout_closed()
        if issubclass(kind, _StdoutClosed):
            _err("stdout is closed; the report was not written")
            raise typer.Exit(2)
        if issubclass(kind, OSError):
            _err(f"cannot write to stdout ({e.strerror or e})")
            _discard_stdout()
            raise typer.Exit(2)
        return False


_EXT_FORMAT = {".json": "json", ".jsonl": "jsonl", ".md": "markdown", ".xml": "junit", ".txt": "text"}


def _render(fmt: str, reports, single: bool, fail_on: str, enabled) -> str | None:
    """The report(s) in ``fmt`` as a string; None for text, which is printed by rich."""
    if fmt == "json":
        from .render.json import render as r_json

        return r_json(reports, single=single) + "\n"
    if fmt == "jsonl":
        from .render.json import render_lines

        return render_lines(reports)
    if fmt == "markdown":
        from .render.markdown import render as r_md

        return r_md(reports)
    if fmt == "github":
        from .render.github import render as r_gh

        return r_gh(reports)
    if fmt == "junit":
        from .render.junit import render as r_junit

        return r_junit(reports, fail_on, enabled)
    return None


def _text_to_string(reports, full: bool, failures) -> str:
    import io

    from rich.console import Console

    buf = io.StringIO()
    con = Console(file=buf, color_system=None, no_color=True, highlight=False, width=100)
    _print_text(con, reports, full, failures)
    return buf.getvalue()


def _print_text(console, reports, full: bool, failures) -> None:
    from .render.text import render as render_text
    from .render.text import render_summary

    if len(reports) + len(failures) > 1:
        render_summary(reports, failures, console)
        if full:
            console.print()
            render_text(reports, console)
    else:
        render_text(reports, console)


# Options shared by the commands that read and judge a log (analyze, plot, inspect): one definition each,
# so every command resolves its settings the same way (file < environment < command line).
_LOSS = typer.Option(None, "--loss", metavar="COLUMN", help="Column holding the training loss.")
_VAL_LOSS = typer.Option(None, "--val-loss", metavar="COLUMN", help="Column holding the validation loss.")
_ACC = typer.Option(None, "--acc", metavar="COLUMN", help="Column holding the training accuracy.")
_VAL_ACC = typer.Option(None, "--val-acc", metavar="COLUMN", help="Column holding the validation accuracy.")
_METRIC = typer.Option(
    None, "--metric", metavar="COLUMN",
    help="The validation quality metric to judge (mAP, F1, top-1, WER ...) instead of accuracy.",
)
_NUM_CLASSES = typer.Option(
    None, "--num-classes", min=2, metavar="K", help="Number of classes: compare loss with ln K and accuracy with 1/K."
)
_SELECT = typer.Option(
    None, "--select", metavar="RULES", help="Only these rules: comma-separated codes, prefixes or names (e.g. D,O102)."
)
_IGNORE = typer.Option(
    None, "--ignore", metavar="RULES", help="Skip these rules: codes, prefixes or names (the longer prefix wins)."
)
_CONFIG = typer.Option(
    None, "--config", metavar="FILE", help="Settings file (TOML); default: [tool.curvediag] in the nearest pyproject.toml."
)
_INPUT_FORMAT = typer.Option(None, "--input-format", help="Skip detection and read the input as this format.")
_RUN = typer.Option(
    None, "--run", metavar="RUN", help="Pick one run from an MLflow store/database or a W&B export (id prefix or name)."
)


def _settings(config=None, *, fail_on=None, format=None, select=None, ignore=None, num_classes=None,
              input_format=None, run=None, **columns):
    """The settings in force for one command, or one line on stderr and exit 2.  ``columns``:
    loss, val_loss, acc, val_acc, metric (the --loss ... options)."""
    from .config import resolve
    from .errors import UsageError

    cli = {"fail-on": fail_on.value if fail_on else None, "format": format.value if format else None,
           "select": select, "ignore": ignore, "num-classes": num_classes}
    try:
        settings = resolve(config, cli=cli)
    except UsageError as e:
        _err(str(e))
        raise typer.Exit(2)
    names = {"loss": "train_loss", "val_loss": "val_loss", "acc": "train_acc", "val_acc": "val_acc", "metric": "metric"}
    return settings.reading(
        input_format=input_format.value if input_format else None,
        columns={names[k]: v for k, v in columns.items()},
        run=run,
    )


@app.command(epilog=EXAMPLES)
def analyze(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Training logs or run directories to diagnose; '-' reads stdin."),
    format: Optional[Format] = typer.Option(
        None, "--format", "-f", help="Output format: text (default), json, jsonl, markdown, github or junit."
    ),
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding has this severity or worse (default: warning)."
    ),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Report findings but exit 0 (errors still exit 2)."),
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    num_classes: Optional[int] = _NUM_CLASSES,
    select: Optional[str] = _SELECT,
    ignore: Optional[str] = _IGNORE,
    config: Optional[str] = _CONFIG,
    input_format: Optional[InputFormat] = _INPUT_FORMAT,
    run: Optional[str] = _RUN,
    output: Optional[str] = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Also write the report to FILE (atomically); stdout then shows only an explicit --format."
    ),
    output_format: Optional[Format] = typer.Option(
        None, "--output-format", help="Format of --output (default: from its extension, else --format)."
    ),
    full: bool = typer.Option(False, "--full", help="With several logs, print every full report after the summary table."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Analyse several logs in parallel on this many processes (0: one per core)."),
    plot: Optional[str] = typer.Option(
        None, "--plot", metavar="FILE", help="Draw the curves to FILE.png, .svg or .html (needs the 'plot' extra)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colours or styles (also when NO_COLOR is set)."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error (also CURVEDIAG_DEBUG=1)."),
) -> None:
    """Diagnose training logs: verdict, evidence, epochs, remedies."""
    global _DEBUG
    _DEBUG = _DEBUG or debug
    from .config import rule_enabled
    from .errors import UsageError
    from .report import severity_rank
    from .rules import RULES

    if paths.count("-") > 1:
        _err("'-' (stdin) can be given only once")
        raise typer.Exit(2)
    if _stdin_closed(paths):
        raise typer.Exit(2)
    settings = _settings(config, fail_on=fail_on, format=format, select=select, ignore=ignore, num_classes=num_classes,
                         input_format=input_format, run=run, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc,
                         metric=metric)
    _refuse_inputs(output, plot, paths, settings.config_file)
    kwargs = settings
    if plot and len(paths) > 1:
        _err("--plot draws one log; give one PATH")
        raise typer.Exit(2)
    reports, failures = [], []
    plotted = None  # the curves of the one log to draw, kept from its diagnosis
    workers = (os.cpu_count() or 1) if jobs == 0 else jobs
    if plot:
        results = [_diagnose_one((paths[0], kwargs), keep_curves=True)]
        if results[0][0] is not None:
            plotted = results[0][0][1]
            results = [(results[0][0][0], None)]
    elif workers > 1 and len(paths) > 1 and "-" not in paths:
        results = _diagnose_parallel(paths, kwargs, workers)
    else:
        results = [_diagnose_one((p, kwargs)) for p in paths]
    for path, (report, problem) in zip(paths, results):
        if report is not None:
            reports.append(report)
        else:
            _err(problem[0])
            failures.append((path, problem[1]))
    enabled = [r.code for r in RULES if rule_enabled(r.code, r.name, settings.select, settings.ignore)]
    single = len(paths) == 1
    if plotted is not None:
        from .plot import write_plot

        try:
            write_plot(plot, plotted, reports[0])
        except UsageError as e:
            _err(str(e))
            raise typer.Exit(2)
        except OSError as e:
            _err(f"{plot}: cannot write ({e.strerror or e})")
            raise typer.Exit(2)
    if output and reports:  # every input failed: nothing to report, the file is left as it was
        ofmt = output_format.value if output_format else _EXT_FORMAT.get(Path(output).suffix.lower(), settings.format)
        text = _render(ofmt, reports, single, settings.fail_on, enabled)
        if text is None:
            text = _text_to_string(reports, full, failures)
        try:
            write_atomic(output, text)
        except UsageError as e:
            _err(str(e))
            raise typer.Exit(2)
        except OSError as e:
            _err(f"{output}: cannot write ({e.strerror or e})")
            raise typer.Exit(2)
    if reports or failures:
        show = settings.format if (not output or "format" in settings.origin) else None
        if show is not None:
            text = _render(show, reports, single, settings.fail_on, enabled)
            if text is not None:
                if reports or show != "json":
                    _write_stdout(text)
            else:
                with _stdout_errors():
                    _print_text(_console(no_color), reports, full, failures)
    if failures:
        raise typer.Exit(2)
    if exit_zero or settings.fail_on == "never":
        return
    limit = severity_rank(settings.fail_on)
    if any(severity_rank(r.worst_severity()) >= limit for r in reports):
        raise typer.Exit(1)


def _stdout_closed() -> None:
    """The reader went away (`| head`): stop quietly with the shell's SIGPIPE status, 141,
    which cannot be mistaken for 'findings' (1)."""
    _discard_stdout()
    raise typer.Exit(141)


def _discard_stdout() -> None:
    """Point fd 1 at /dev/null, so that the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass


def _diagnose_one(arg, keep_curves: bool = False):
    """(report, None) or (None, (error line, problem)); top-level so worker processes can run it.
    With ``keep_curves`` the report comes as (report, curves)."""
    from .api import diagnose_with_curves
    from .errors import CurvediagError

    path, settings = arg
    try:
        report, curves = diagnose_with_curves(path, settings=settings)
    except CurvediagError as e:
        return None, (str(e), getattr(e, "problem", str(e)))
    except Exception as e:  # a bug, not the input's fault: still one line and exit 2, never a "finding"
        if _debugging():
            raise
        problem = _internal(e)
        return None, (f"{'<stdin>' if path == '-' else path}: {problem}", problem)
    return ((report, curves) if keep_curves else report), None


def _worker_init() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a worker just dies; the parent cleans up
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _diagnose_parallel(paths, kwargs, workers: int):
    """_diagnose_one over ``paths`` on worker processes.  SIGTERM or SIGINT to curvediag ends
    the workers too (none is left running), then curvediag dies of the same signal."""
    import signal
    from concurrent.futures import ProcessPoolExecutor

    parent = os.getpid()
    ex = ProcessPoolExecutor(max_workers=min(workers, len(paths)), initializer=_worker_init)

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
        _discard_stdout()
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
            return list(ex.map(_diagnose_one, [(p, kwargs) for p in paths], chunksize=max(1, len(paths) // (4 * workers))))
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _internal(e: BaseException) -> str:
    msg = str(e)
    return f"internal error: {type(e).__name__}" + (f": {msg}" if msg else "") + " (--debug shows the traceback)"


def _debugging() -> bool:
    return _DEBUG or os.environ.get("CURVEDIAG_DEBUG", "") not in ("", "0")


def _stdin_closed(paths) -> bool:
    if "-" in paths and sys.stdin is None:  # fd 0 was closed when the process started (`<&-`)
        _err("<stdin>: stdin is closed; nothing to read")
        return True
    return False


@app.command("plot")
def plot_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log or run directory; '-' reads stdin."),
    width: int = typer.Option(72, "--width", min=20, max=400, help="Chart width in characters."),
    height: int = typer.Option(16, "--height", min=5, max=100, help="Chart height in lines."),
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    num_classes: Optional[int] = _NUM_CLASSES,
    select: Optional[str] = _SELECT,
    ignore: Optional[str] = _IGNORE,
    config: Optional[str] = _CONFIG,
    input_format: Optional[InputFormat] = _INPUT_FORMAT,
    run: Optional[str] = _RUN,
) -> None:
    """Draw the losses in the terminal, with the best epoch and the problem span marked.

    The diagnosis drawn is the one `analyze` gives with the same options and configuration."""
    from .plot import terminal_chart

    if _stdin_closed([path]):
        raise typer.Exit(2)
    settings = _settings(config, select=select, ignore=ignore, num_classes=num_classes, input_format=input_format,
                         run=run, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc, metric=metric)
    result, problem = _diagnose_one((path, settings), keep_curves=True)
    if result is None:
        _err(problem[0])
        raise typer.Exit(2)
    report, curves = result
    _write_stdout(terminal_chart(curves, report, width, height))


def write_atomic(path: str, text: str) -> None:
    """Write the report to ``path``: see :func:`curvediag.output.write_output`."""
    from .output import write_output

    write_output(path, text)


def _refuse_inputs(output, plot, paths, config_file) -> None:
    """Exit 2 if --output or --plot is, or is inside, an input (or they name one file)."""
    from .errors import UsageError
    from .output import refuse_inputs

    targets = [t for t in (output, plot) if t]
    if len(targets) == 2 and os.path.realpath(output) == os.path.realpath(plot):
        _err(f"{plot}: --output and --plot name the same file")
        raise typer.Exit(2)
    for target in targets:
        try:
            refuse_inputs(target, paths, extra=(config_file,))
        except UsageError as e:
            _err(str(e))
            raise typer.Exit(2)


@app.command("config")
def config_cmd(
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Settings file (TOML) instead of pyproject.toml."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format: text or json."),
) -> None:
    """Print the resolved settings and where each came from (file, environment, defaults)."""
    import json

    from .config import resolve
    from .errors import UsageError

    try:
        s = resolve(config)
    except UsageError as e:
        _err(str(e))
        raise typer.Exit(2)
    d = s.to_dict()
    if format is Format.json:
        _write_stdout(json.dumps(d, indent=2) + "\n")
        return
    from .render import printable

    typer.echo(f"config file: {printable(d['config_file'] or '(none found)')}")
    for key in ("fail-on", "format", "select", "ignore", "num-classes"):
        val = d[key]
        shown = ", ".join(val) if isinstance(val, list) else val
        typer.echo(f"{key:12s} = {shown if shown not in (None, '') else '-'}   ({d['origin'].get(key, 'default')})")
    for code, opts in d["rules"].items():
        typer.echo(f"rules.{code} = " + ", ".join(f"{k}={v}" for k, v in opts.items()))
    typer.echo("enabled rules: " + " ".join(d["enabled"]))


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of --format json output (one report object)."""
    import json

    from .schema import SCHEMA

    _write_stdout(json.dumps(SCHEMA, indent=2) + "\n")


@app.command("inspect")
def inspect_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log; '-' reads stdin."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format: text or json."),
    input_format: Optional[InputFormat] = _INPUT_FORMAT,
    run: Optional[str] = _RUN,
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    config: Optional[str] = _CONFIG,
) -> None:
    """Show what curvediag reads from a log: format, axis, columns and their mapping.

    The first thing to run when a diagnosis looks wrong.
    """
    import json

    from .api import inspect_log
    from .errors import CurvediagError

    if _stdin_closed([path]):
        raise typer.Exit(2)
    settings = _settings(config, input_format=input_format, run=run, loss=loss, val_loss=val_loss, acc=acc,
                         val_acc=val_acc, metric=metric)
    try:
        info = inspect_log(path, settings=settings)
    except CurvediagError as e:
        _err(str(e))
        raise typer.Exit(2)
    except Exception as e:
        if _debugging():
            raise
        _err(f"{'<stdin>' if path == '-' else path}: {_internal(e)}")
        raise typer.Exit(2)
    if format is Format.json:
        _write_stdout(json.dumps(info, indent=2) + "\n")
        return
    from .render import printable as p

    out = [f"{p(info['path'])}: format {info['format']}, {info['rows']} rows, axis {p(info['axis'])} ({info['axis_kind']})", ""]
    width = max([len(p(c["column"])) for c in info["columns"]] or [0])
    for c in info["columns"]:
        used = ", ".join(c["used_as"]) or "-"
        bad = f", {c['non_finite']} non-finite" if c["non_finite"] else ""
        out.append(f"  {p(c['column']):<{width}}  {c['points']:>6} points{bad}  -> {used}")
    out.append("")
    out.append("analysed: " + ", ".join(f"{k} {n} points" for k, n in info["analysed_points"].items()))
    out += [f"note: {p(note)}" for note in info["notes"]]
    _write_stdout("\n".join(out) + "\n")


@app.command("rules")
def list_rules() -> None:
    """List every rule: code, name, verdict and what it detects."""
    from .rules import RULES

    for r in RULES:
        typer.echo(f"{r.code}  {r.name:28s} {r.verdict or '-':18s} {r.summary()}")


@app.command("rule")
def explain_rule(key: str = typer.Argument(..., metavar="CODE|NAME", help="A rule code (O102) or name (val-loss-rising).")) -> None:
    """Explain one rule: what it detects, why it matters, its options and remedies."""
    from .rules import get_rule

    r = get_rule(key)
    if r is None:
        _err(f"no rule {key!r}; 'curvediag rules' lists them")
        raise typer.Exit(2)
    typer.echo(f"{r.code} {r.name} (verdict: {r.verdict or '-'})\n")
    typer.echo(r.doc())
    if r.options:
        typer.echo("\nDefaults: " + ", ".join(f"{k} = {v}" for k, v in r.options.items()))
    if r.remedies:
        typer.echo("\nRemedies:")
        for rem in r.remedies:
            typer.echo(f"  - {rem}")


def _guard_std_streams() -> None:
    """A closed fd 0, 1 or 2 (`>&-`) gets /dev/null, so no file we open can take its number
    (a report written into the log we opened); sys.stdout stays None and a report for it is
    an error.  A stdout that cannot encode a character writes it as a backslash escape."""
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
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass


def main() -> None:
    _guard_std_streams()
    try:
        app(prog_name="curvediag")
    except KeyboardInterrupt:  # pragma: no cover
        _err("interrupted")
        sys.exit(130)
    except SystemExit as e:
        # typer turns Ctrl-C into a silent exit 130; the contract is one line on stderr
        if e.code == 130:
            _err("interrupted")
        raise
    except BrokenPipeError:
        _discard_stdout()
        sys.exit(141)
    except Exception as e:  # the last resort: an unforeseen error is one line and exit 2, never 1
        if _debugging():
            raise
        _err(_internal(e))
        sys.exit(2)
