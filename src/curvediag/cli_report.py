"""The plumbing of the command line: for ``analyze`` and ``compare``, the batch of logs (with
``--plot`` drawings and ``--baseline`` comparisons), ``--output`` and its format, ``--format jsonl``
streamed, ``--tag-runs``, every refusal one line on stderr and exit 2 (:func:`~curvediag.cli_options.fail`);
for the process, :func:`run` (the exit status of the app, every error one line) and :func:`exit_now`.
"""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from .cli_options import Output
from .cli_options import debugging as _debugging
from .cli_options import fail as _fail
from .output import err as _err
from .vocabulary import OutputFormat


def stdin_closed(paths) -> bool:
    import sys

    if "-" in paths and sys.stdin is None:  # fd 0 was closed when the process started (`<&-`)
        _err("<stdin>: stdin is closed; nothing to read")
        return True
    return False


# Options shared by the commands that read and judge a log (analyze, plot, inspect): one definition each,


def stream_jsonl(paths, settings, jobs: int, exit_zero: bool) -> int:
    """``--format jsonl`` on stdout: each run's line written as soon as it is diagnosed, nothing kept
    (memory stays that of one run, however many a store holds); the exit status that of the batch."""
    import json

    from .batch import Batch, Unreadable, expand, stream
    from .output import exit_status, stdout_errors

    worst = 0
    with stdout_errors():
        from .output import Stdout

        out = Stdout()
        for item in stream(expand(paths, settings), settings, jobs, debug=_debugging()):
            if isinstance(item, Unreadable):
                _err(item.message)
                line = {"path": "<stdin>" if item.path == "-" else item.path, "error": item.problem}
            else:
                line = item.to_dict()
            out.write(json.dumps(line, allow_nan=False) + "\n")
            worst = max(worst, exit_status(Batch((), (item,), settings), exit_zero))
        out.flush()
    return worst


def output_format_of(o: Output, settings) -> Optional[OutputFormat]:
    """The format of --output (None without it), or one line and exit 2 for a combination that cannot
    be: an extension naming no format, --output-format without --output, --annotate with no github output."""
    from . import output as out
    from .errors import UsageError

    output, output_format, annotate = o.output, o.output_format, o.annotate
    if output_format and not output:
        raise _fail("--output-format: gives the format of --output FILE; there is no --output")
    fmt = None
    if output:
        try:
            fmt = out.format_for(output, output_format.value if output_format else None, settings.format)
        except UsageError as e:
            raise _fail(str(e))
    shown = None if output and "format" not in settings.origin else settings.format
    if annotate and OutputFormat.github not in (fmt, shown and OutputFormat(shown)):
        raise _fail("--annotate: sets which findings --format github annotates; no output here is github")
    return fmt


def tag_runs(batch) -> bool:
    """--tag-runs: the verdicts written back to the MLflow server; True when one could not be."""
    from .readers.mlflow_server import tag_reports

    problems = tag_reports(batch.reports)
    for p in problems:
        _err(p)
    return bool(problems)


def check_paths(paths) -> None:
    if paths.count("-") > 1:
        raise _fail("'-' (stdin) can be given only once")
    if stdin_closed(paths):
        raise typer.Exit(2)


def plot_targets(plot: Optional[str], paths) -> Optional[List[str]]:
    """The file each log is drawn to (``--plot FILE``, ``DIR/`` or a ``{stem}`` template), or exit 2."""
    if not plot:
        return None
    from .errors import UsageError
    from .plot import is_template, plot_targets

    try:
        targets = _Targets(plot_targets(plot, list(paths)))
    except UsageError as e:
        raise _fail(str(e))
    targets.template = is_template(plot)
    return targets


def _plot_targets_of_runs(plot: Optional[str], plots, paths, names, settings) -> List[str]:
    """The plot file of each run when a path holds several: one per run under ``DIR/`` or a
    ``{stem}`` template (refused as inputs again); ``--plot FILE`` draws one log, so exit 2."""
    if not plot or not getattr(plots, "template", False):
        raise _fail(f"--plot {plot}: draws one log, but the input holds {len(names)} runs; "
                    "give a directory (DIR/) or a {stem} template to draw each")
    targets = plot_targets(plot, names)
    refuse_outputs(None, targets, list(paths), settings.config_file)
    return targets  # type: ignore[return-value]


class _Targets(list):
    """The plot files, and whether they came from ``DIR/`` or a ``{stem}`` template (whose
    directory is made when missing)."""

    template = False


def _draw(drawings) -> None:
    """Each (target, write, args...) of ``drawings`` written; without matplotlib one warning and
    nothing drawn (the report and its exit status are unchanged)."""
    from .errors import MissingExtra
    from .plot import require_matplotlib

    if not drawings:
        return
    try:
        require_matplotlib()
    except MissingExtra as e:
        _err(f"warning: {e}; no plot written")
        return
    for target, write, *args in drawings:
        if getattr(drawings, "template", False) and os.path.dirname(target) and not os.path.isdir(os.path.dirname(target)):
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
            except OSError as e:
                raise _fail(f"{os.path.dirname(target)}: cannot create the plot directory ({e.strerror or e})")
        if getattr(drawings, "template", False):  # a name curvediag made: never through a link planted there
            writing(target, lambda *a: write(*a, follow_links=False), target, *args)
        else:
            writing(target, write, target, *args)


def _name_stdin(batch, name: Optional[str]):
    """``--stdin-filename``: the log read from ``-`` called ``name`` in every output (and on stderr);
    ``batch.paths`` keeps ``-``, so stdin is never read again as a file of that name."""
    from dataclasses import replace

    from .batch import Unreadable

    if not name or "-" not in batch.paths:
        return batch
    items = []
    for given, item in zip(batch.paths, batch.items):
        if given == "-" and isinstance(item, Unreadable):
            item = replace(item, path=name, message=f"{name}: {item.problem}")
        elif given == "-":
            item = replace(item, source=replace(item.source, path=name))
        items.append(item)
    return replace(batch, items=tuple(items))


def diagnose(paths, settings, jobs: int, plots: Optional[List[str]], stdin_name: Optional[str] = None,
              plot: Optional[str] = None):
    """The Batch of ``paths``, each unreadable input's line on stderr; with ``plots``, each log drawn
    to its target too (the logs are then read on this process, once each).  A path that holds
    several runs (a store, a directory of runs, a long CSV) gives a report and a plot per run, as
    without ``--plot``: adding a plot never changes what is judged."""
    from .batch import Batch, Unreadable, expand, one, run
    from .engine import enabled_rules

    if not plots:
        batch = run(paths, settings, jobs, debug=_debugging())
        drawings = _Targets()
    else:
        from .plot import write_plot

        inputs = expand(paths, settings)
        names = [i.path if isinstance(i, Unreadable) else i.shown if i.name else i.path for i in inputs]
        if len(inputs) != len(paths) or names != list(paths):
            plots = _plot_targets_of_runs(plot, plots, paths, names, settings)
        items, drawings = [], _Targets()
        drawings.template = getattr(plots, "template", False)
        for inp, target in zip(inputs, plots):
            result = inp if isinstance(inp, Unreadable) else one(inp, settings, debug=_debugging())
            items.append(result if isinstance(result, Unreadable) else result[0])
            if not isinstance(result, Unreadable):
                drawings.append((target, write_plot, result[1], result[0]))
        batch = Batch(tuple(names), tuple(items), settings, enabled_rules(settings))
    batch = _name_stdin(batch, stdin_name)
    for u in batch.unreadable:
        _err(u.message)
    _draw(drawings)
    return batch


def compared(baseline, runs, settings, plots: Optional[List[str]], own_rules: bool, stdin_name: Optional[str] = None):
    """The Batch of ``runs`` compared with the ``baseline`` logs (one line and exit 2 if a baseline
    cannot be read); with ``plots``, each run drawn over the baseline to its target."""
    from .comparison import compare_paths, read_baseline
    from .errors import CurvediagError

    try:
        base = read_baseline(baseline, settings, debug=_debugging())
    except CurvediagError as e:
        raise _fail(str(e))
    batch, curves = compare_paths(base, runs, settings, _debugging(), own_rules)
    batch = _name_stdin(batch, stdin_name)
    for u in batch.unreadable:
        _err(u.message)
    if plots:
        from .batch import Unreadable
        from .plot import write_overlay

        drawings = _Targets((t, write_overlay, c, [b for _, b in base], r)
                            for t, c, r in zip(plots, curves, batch.items) if c is not None and not isinstance(r, Unreadable))
        drawings.template = getattr(plots, "template", False)
        _draw(drawings)
    return batch



def writing(path: str, write, *args) -> None:
    """``write(*args)``, a file the user asked for: one line and exit 2 if it cannot be written."""
    from .errors import UsageError

    try:
        write(*args)
    except UsageError as e:
        raise _fail(str(e))
    except OSError as e:
        raise _fail(f"{path}: cannot write ({e.strerror or e})")


def refuse_outputs(output, plots, paths, config_file) -> None:
    """Exit 2 if --output or a --plot file is, or is inside, an input (or two of them name one file)."""
    from .errors import UsageError
    from .output import refuse_inputs

    targets = ([output] if output else []) + list(plots or [])
    for plot in plots or []:
        if output and os.path.realpath(output) == os.path.realpath(plot):
            raise _fail(f"{plot}: --output and --plot name the same file")
    for target in targets:
        try:
            refuse_inputs(target, paths, extra=(config_file,))
        except UsageError as e:
            raise _fail(str(e))
    if plots:
        from .plot import check_suffixes

        try:
            check_suffixes(plots)
        except UsageError as e:
            raise _fail(str(e))




def deliver(batch, settings, o: Output, fmt: Optional[OutputFormat]) -> None:
    """The batch to ``--output`` (in ``fmt``) and to stdout: ``--statistics``, ``--quiet`` or the report in
    ``--format`` (with ``--output`` alone, stdout shows only an explicit ``--format``)."""
    from . import output as out
    from .render.concise import concise, statistics

    if fmt is not None and o.output and batch.reports:  # every input failed: nothing to report, the file is left as it was
        writing(o.output, out.write_report, o.output, batch, fmt, o.options)
    if o.statistics:
        out.write_stdout(statistics(batch, settings.format == "json"), strip=True)
    elif not o.output or "format" in settings.origin:
        if o.quiet and settings.format == "text":
            out.write_stdout(concise(batch), strip=True)
        else:
            out.show(batch, OutputFormat(settings.format), o.options)


def calibrate_to(paths, output: Optional[str], margin: float, settings) -> None:
    """``calibrate``: the configuration calibrated on ``paths`` to ``output`` or stdout; every problem
    one line and exit 2."""
    from .api import load_curves
    from .batch import internal
    from .calibrate import calibrate, to_toml
    from .errors import CurvediagError, UsageError
    from .output import refuse_inputs, write_output, write_stdout

    if stdin_closed(paths):
        raise typer.Exit(2)
    current = {"path": "-"}

    def read(path: str):
        current["path"] = path
        s = settings.for_path(path)
        return load_curves(path, input_format=s.input_format, columns=s.columns)

    try:
        if output:
            refuse_inputs(output, paths)
        cal = calibrate(paths, margin, read=read)
        text = to_toml(cal) + "\n"
        if output:
            write_output(output, text)
        else:
            write_stdout(text)
    except UsageError as e:
        raise _fail(str(e))
    except CurvediagError as e:
        raise _fail(str(e))
    except OSError as e:
        raise _fail(f"{output}: {e.strerror or e}")
    except Exception as e:
        if _debugging():
            raise
        raise _fail(f"{current['path']}: {internal(e)}")


def exit_now(code: int) -> None:
    """End the process with ``code`` once stdout and stderr are flushed (:func:`curvediag.cli.main`)."""
    import sys

    from .output import discard_stdout

    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:  # the reader went away: as write_stdout says it
            discard_stdout()
            code = code or 141
        except (OSError, ValueError):
            pass
    os._exit(code)


def run(app) -> int:
    """The command line ``app`` run on ``sys.argv``: its exit status, every error one line on stderr
    (:func:`curvediag.cli.main_status`)."""
    import sys

    from .output import discard_stdout, guard_std_streams

    guard_std_streams()
    try:
        app(prog_name="curvediag")
    except KeyboardInterrupt:  # pragma: no cover
        _err("interrupted")
        return 130
    except SystemExit as e:
        # typer turns Ctrl-C into a silent exit 130; the contract is one line on stderr
        if e.code == 130:
            _err("interrupted")
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        try:  # sys.exit("message"): the message on stderr, status 1, as Python does
            sys.stderr.write(f"{e.code}\n")
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except BrokenPipeError:
        discard_stdout()
        return 141
    except Exception as e:  # the last resort: an unforeseen error is one line and exit 2, never 1
        if _debugging():
            raise
        from .batch import internal

        _err(internal(e))
        return 2
    return 0
