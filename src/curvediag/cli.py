"""The command line: typer commands over the library, one per verb.

``analyze`` resolves the :class:`~curvediag.config.Settings` (file < environment < options),
runs :func:`curvediag.batch.run` over its paths and hands the Batch to :mod:`curvediag.output`
(render, ``--output``, exit status).  ``plot`` and ``inspect`` resolve settings the same way,
through the option definitions below.  Nothing here imports pandas or numpy: ``--help`` and
``rules`` stay fast.

Exit status: 0 nothing at or above --fail-on; 1 a finding at or above it;
2 a usage error or an input that cannot be read.
"""

from __future__ import annotations

import os
from enum import Enum
from typing import List, Optional

import typer

from . import __version__
from .terminal import err as _err
from .terminal import write_stdout as _write_stdout
from .render import OutputFormat

EXAMPLES = """
Examples:

  curvediag analyze logs/training.log

  curvediag analyze history.json --format json | jq '.[0].verdict'

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

#: the output formats (one list: curvediag.render.OutputFormat)
Format = OutputFormat


class FailOn(str, Enum):
    never = "never"
    info = "info"
    warning = "warning"
    error = "error"


class InputFormat(str, Enum):  # readers.FORMATS, in the detection table's order (a test keeps them equal)
    tensorboard = "tensorboard"
    json = "json"
    jsonl = "jsonl"
    keras_console = "keras_console"
    wandb_csv = "wandb_csv"
    csv = "csv"


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


def _debugging() -> bool:
    return _DEBUG or os.environ.get("CURVEDIAG_DEBUG", "") not in ("", "0")


def _fail(msg: str) -> typer.Exit:
    """One line on stderr; the exit (status 2) for the caller to raise."""
    _err(msg)
    return typer.Exit(2)


def _stdin_closed(paths) -> bool:
    import sys

    if "-" in paths and sys.stdin is None:  # fd 0 was closed when the process started (`<&-`)
        _err("<stdin>: stdin is closed; nothing to read")
        return True
    return False


# Options shared by the commands that read and judge a log (analyze, plot, inspect): one definition each,
# so every command resolves its settings the same way (file < environment < command line).
# the report options analyze and compare share
_FORMAT = typer.Option(
    None, "--format", "-f", help="Output format: text (default), json, jsonl (or json-lines), markdown, github, junit, sarif, gitlab, gitlab-metrics or azure."
)
_EXIT_ZERO = typer.Option(False, "--exit-zero", help="Report findings but exit 0 (errors still exit 2).")
_OUTPUT = typer.Option(
    None, "--output", "-o", metavar="FILE", help="Also write the report to FILE (atomically); stdout then shows only an explicit --format."
)
_OUTPUT_FORMAT = typer.Option(
    None, "--output-format", help="Format of --output (default: from its extension, else --format)."
)
_NO_COLOR = typer.Option(False, "--no-color", help="No colours or styles (also when NO_COLOR is set).")

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
_INPUT_FORMAT = typer.Option(
    None, "--input-format", metavar="FORMAT",
    help="Skip detection and read the input as this format: a reader (" + "|".join(e.value for e in InputFormat)
    + ") or a format name reports print (keras_csv, hf_trainer_state, ...).",
)
_RUN = typer.Option(
    None, "--run", metavar="RUN",
    help="Pick one run from an MLflow store/database/server or a W&B export (id prefix or name); 'all': one report per run.",
)
_RUN_ONE = typer.Option(  # plot and watch follow one run: no 'all' offered (issue 24)
    None, "--run", metavar="RUN",
    help="Pick one run from an MLflow store/database/server or a W&B export (id prefix or name).",
)
_ANNOTATE = typer.Option(
    None, "--annotate", metavar="LEVEL",
    help="GitHub format: annotate each finding this severe or worse (default: --fail-on); below it, one annotation per log and level.",
)
_STDIN_FILENAME = typer.Option(
    None, "--stdin-filename", metavar="NAME", help="The name of the log read from stdin ('-'), in every output."
)
_COLUMNS = {"loss": "train_loss", "val_loss": "val_loss", "acc": "train_acc", "val_acc": "val_acc", "metric": "metric"}


def _settings(config=None, *, fail_on=None, format=None, select=None, ignore=None, num_classes=None,
              input_format=None, run=None, fail_on_borderline=None, **columns):
    """The settings in force for one command, or one line on stderr and exit 2.  ``columns``:
    loss, val_loss, acc, val_acc, metric (the --loss ... options)."""
    from .config import input_format_name, resolve
    from .errors import UsageError

    cli = {"fail-on": fail_on.value if fail_on else None, "format": format.value if format else None,
           "select": select, "ignore": ignore, "num-classes": num_classes,
           "fail-on-borderline": True if fail_on_borderline else None}
    try:
        settings = resolve(config, cli=cli)
        reader = input_format_name(input_format)
    except UsageError as e:
        raise _fail(str(e))
    return settings.reading(
        input_format=reader,
        columns={_COLUMNS[k]: v for k, v in columns.items()},
        run=run,
    )


@app.command(epilog=EXAMPLES)
def analyze(
    paths: List[str] = typer.Argument(
        ..., metavar="PATH...", help="Training logs or run directories to diagnose (a directory: each run in it); '-' reads stdin."
    ),
    format: Optional[Format] = _FORMAT,
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Exit 1 when a finding has this severity or worse (default: warning)."
    ),
    fail_on_borderline: bool = typer.Option(
        False, "--fail-on-borderline",
        help="Fail on a borderline verdict too (one under half of the copies of the run, drawn from its own noise, agree "
        "with; the report says 'X or Y'). By default it fails only as far as its alternative would. "
        "Config: fail-on-borderline = true.",
    ),
    exit_zero: bool = _EXIT_ZERO,
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    num_classes: Optional[int] = _NUM_CLASSES,
    select: Optional[str] = _SELECT,
    ignore: Optional[str] = _IGNORE,
    config: Optional[str] = _CONFIG,
    input_format: Optional[str] = _INPUT_FORMAT,
    run: Optional[str] = _RUN,
    output: Optional[str] = _OUTPUT,
    output_format: Optional[Format] = _OUTPUT_FORMAT,
    full: bool = typer.Option(False, "--full", help="Everything in the text report: each finding's remedies and the rules that could not run (skipped); "
                              "with several logs, every such report after the summary table."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Analyse several logs in parallel on this many processes (0: one per core)."),
    plot: Optional[str] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Draw the curves to FILE.png, .svg or .html (needs the 'plot' extra); DIR/ or a {stem} template "
        "(plots/{stem}.html) draws each log to a file named after it.",
    ),
    no_color: bool = _NO_COLOR,
    tag_runs: bool = typer.Option(
        False, "--tag-runs", help="Write each verdict back to its MLflow server run as tags (curvediag.verdict, .severity, .findings)."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error (also CURVEDIAG_DEBUG=1)."),
    baseline: Optional[List[str]] = typer.Option(
        None, "--baseline", metavar="PATH", help="Also compare each log with these baseline logs (repeat for several seeds); adds B1xx findings."
    ),
    statistics: bool = typer.Option(
        False, "--statistics", help="Print the number of findings per rule code instead of the report (text, or json with -f json)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Text: one line per finding (PATH: CODE name severity: message), nothing else."),
    annotate: Optional[FailOn] = _ANNOTATE,
    stdin_filename: Optional[str] = _STDIN_FILENAME,
) -> None:
    """Diagnose training logs: verdict, evidence, epochs, remedies."""
    global _DEBUG
    _DEBUG = _DEBUG or debug
    from . import output as out

    _check_paths(paths + (baseline or []))
    settings = _settings(config, fail_on=fail_on, format=format, select=select, ignore=ignore, num_classes=num_classes,
                         input_format=input_format, run=run, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc,
                         metric=metric, fail_on_borderline=fail_on_borderline)
    plots = _plot_targets(plot, paths)
    _refuse_inputs(output, plots, paths + (baseline or []), settings.config_file)
    if plot and settings.run == "all":
        raise _fail("--plot draws one log; --run all gives one per run")
    if statistics and settings.format not in ("text", "json"):
        raise _fail(f"--statistics prints text or json, not {settings.format}")
    fmt = _output_format(output, output_format, annotate, settings)
    level = annotate.value if annotate else None
    if settings.format == "jsonl" and not (output or plot or baseline or tag_runs or statistics or quiet or stdin_filename):
        raise typer.Exit(_stream_jsonl(paths, settings, jobs, exit_zero))
    batch = (_compared(baseline, paths, settings, plots, own_rules=True, stdin_name=stdin_filename) if baseline
             else _diagnose(paths, settings, jobs, plots, stdin_filename, plot))
    if fmt is not None and output and batch.reports:  # every input failed: nothing to report, the file is left as it was
        _writing(output, out.write_report, output, batch, fmt, full, level)
    if statistics:
        _write_stdout(_statistics(batch, settings.format == "json"), strip=True)
    elif not output or "format" in settings.origin:  # --output alone: stdout shows only an explicit --format
        if quiet and settings.format == "text":
            _write_stdout(_concise(batch), strip=True)
        else:
            out.show(batch, OutputFormat(settings.format), full, no_color, level)
    if tag_runs and _tag_runs(batch):
        raise typer.Exit(2)
    raise typer.Exit(out.exit_status(batch, exit_zero))


def _statistics(batch, as_json: bool) -> str:
    """``--statistics``: how many findings each rule code gave over all the logs, most first (as ruff's)."""
    counts: dict[str, list] = {}
    for r in batch.reports:
        for f in r.findings:
            c = counts.setdefault(f.code, [f.code, f.name, f.severity, 0, 0])
            c[3] += 1
    for r in batch.reports:
        for code in {f.code for f in r.findings}:
            counts[code][4] += 1
    rows = sorted(counts.values(), key=lambda c: (-c[3], c[0]))
    if as_json:
        import json

        return json.dumps([{"code": c, "name": n, "severity": s, "count": k, "logs": logs} for c, n, s, k, logs in rows],
                          indent=2) + "\n"
    if not rows:
        return ""
    width = max(len(str(c[3])) for c in rows)
    name_w = max(len(c[1]) for c in rows)
    return "".join(f"{k:>{width}}  {c}  {n:<{name_w}}  {s}\n" for c, n, s, k, _ in rows)


def _concise(batch) -> str:
    """``-q``: one line per finding, ``PATH: CODE name severity: message``."""
    from .render import printable

    return "".join(f"{printable(r.source.path)}: {f.code} {f.name} {f.severity}: {printable(f.message)}\n"
                   for r in batch.reports for f in r.findings)


def _stream_jsonl(paths, settings, jobs: int, exit_zero: bool) -> int:
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


def _output_format(output, output_format, annotate, settings):
    """The format of --output (None without it), or one line and exit 2 for a combination that cannot
    be: an extension naming no format, --output-format without --output, --annotate with no github output."""
    from . import output as out
    from .errors import UsageError

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


def _tag_runs(batch) -> bool:
    """--tag-runs: the verdicts written back to the MLflow server; True when one could not be."""
    from .readers.mlflow_server import tag_reports

    problems = tag_reports(batch.reports)
    for p in problems:
        _err(p)
    return bool(problems)


def _check_paths(paths) -> None:
    if paths.count("-") > 1:
        raise _fail("'-' (stdin) can be given only once")
    if _stdin_closed(paths):
        raise typer.Exit(2)


def _plot_targets(plot: Optional[str], paths) -> Optional[List[str]]:
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
    targets = _plot_targets(plot, names)
    _refuse_inputs(None, targets, list(paths), settings.config_file)
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
            _writing(target, lambda *a: write(*a, follow_links=False), target, *args)
        else:
            _writing(target, write, target, *args)


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


def _diagnose(paths, settings, jobs: int, plots: Optional[List[str]], stdin_name: Optional[str] = None,
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


def _compared(baseline, runs, settings, plots: Optional[List[str]], own_rules: bool, stdin_name: Optional[str] = None):
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


@app.command("compare")
def compare_cmd(
    baseline: List[str] = typer.Argument(..., metavar="BASELINE...", help="The baseline's logs: the seeds of the recipe the runs should match."),
    runs: List[str] = typer.Option(..., "--run", metavar="RUN", help="A log to compare with the baseline (repeat for several)."),
    format: Optional[Format] = _FORMAT,
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Exit 1 when a comparison finding (B1xx) has this severity or worse (default: warning)."
    ),
    exit_zero: bool = _EXIT_ZERO,
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    num_classes: Optional[int] = _NUM_CLASSES,
    select: Optional[str] = _SELECT,
    ignore: Optional[str] = _IGNORE,
    config: Optional[str] = _CONFIG,
    input_format: Optional[str] = _INPUT_FORMAT,
    output: Optional[str] = _OUTPUT,
    output_format: Optional[Format] = _OUTPUT_FORMAT,
    plot: Optional[str] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Draw the run over the baseline to FILE.png, .svg or .html (needs the 'plot' extra); DIR/ or a {stem} "
        "template draws each run to a file named after it.",
    ),
    no_color: bool = _NO_COLOR,
    annotate: Optional[FailOn] = _ANNOTATE,
    stdin_filename: Optional[str] = _STDIN_FILENAME,
) -> None:
    """Compare runs with a baseline: best and final loss, training floor, best epoch, verdict, whole curve.

    Each run's own diagnosis is reported with the comparison findings (B1xx) added; only the
    comparison findings decide the exit status (a run that overfits as its baseline does is no
    regression)."""
    from . import output as out
    from .comparison import regressions

    _check_paths(baseline + runs)
    settings = _settings(config, fail_on=fail_on, format=format, select=select, ignore=ignore, num_classes=num_classes,
                         input_format=input_format, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc, metric=metric)
    plots = _plot_targets(plot, runs)
    _refuse_inputs(output, plots, baseline + runs, settings.config_file)
    fmt = _output_format(output, output_format, annotate, settings)
    level = annotate.value if annotate else None
    batch = _compared(baseline, runs, settings, plots, own_rules=False, stdin_name=stdin_filename)
    if fmt is not None and output and batch.reports:
        _writing(output, out.write_report, output, batch, fmt, False, level)
    if not output or "format" in settings.origin:
        out.show(batch, OutputFormat(settings.format), False, no_color, level)
    raise typer.Exit(out.exit_status(regressions(batch), exit_zero))


def _writing(path: str, write, *args) -> None:
    """``write(*args)``, a file the user asked for: one line and exit 2 if it cannot be written."""
    from .errors import UsageError

    try:
        write(*args)
    except UsageError as e:
        raise _fail(str(e))
    except OSError as e:
        raise _fail(f"{path}: cannot write ({e.strerror or e})")


def _refuse_inputs(output, plots, paths, config_file) -> None:
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


@app.command("plot")
def plot_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log or run directory; '-' reads stdin."),
    width: Optional[int] = typer.Option(
        None, "--width", min=20, max=400, help="Chart width in characters (default: the terminal's width, less the labels)."
    ),
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
    input_format: Optional[str] = _INPUT_FORMAT,
    run: Optional[str] = _RUN_ONE,
    no_color: bool = typer.Option(False, "--no-color", help="No colours (also when NO_COLOR is set, or stdout is not a terminal)."),
) -> None:
    """Draw the losses in the terminal, with the best epoch, the onset and the problem span marked.

    The diagnosis drawn is the one `analyze` gives with the same options and configuration."""
    from .batch import Unreadable, one
    from .plot import terminal_chart

    if _stdin_closed([path]):
        raise typer.Exit(2)
    _one_run(run, "plot")
    settings = _settings(config, select=select, ignore=ignore, num_classes=num_classes, input_format=input_format,
                         run=run, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc, metric=metric)
    result = one(path, settings, debug=_debugging())
    if isinstance(result, Unreadable):
        raise _fail(result.message)
    report, curves = result
    from .output import console

    con = console(no_color)
    width = width or max(20, min(400, con.width - 11))  # the labels take 10 columns; one spare for the cursor
    if con.color_system is None or con.no_color:
        _write_stdout(terminal_chart(curves, report, width, height), strip=True)
    else:
        from .plot import terminal_text

        con.print(terminal_text(curves, report, width, height), end="", soft_wrap=True)


class WatchFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


@app.command("watch")
def watch_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A log still being written, or a run directory a log will appear in."),
    format: WatchFormat = typer.Option(
        WatchFormat.text, "--format", "-f", help="text: a line per new finding; jsonl: a JSON object per event."
    ),
    fail_on: Optional[FailOn] = typer.Option(
        None, "--fail-on", help="Stop with status 1 at the first finding this severe or worse (default: warning)."
    ),
    interval: float = typer.Option(2.0, "--interval", min=0.01, metavar="SECONDS", help="Seconds between looks at the file (0.01 to 3600)."),
    idle: float = typer.Option(
        60.0, "--idle", min=0.0, metavar="SECONDS",
        help="The writer is done after this many seconds without a change (at most a week): diagnose the whole log and exit.",
    ),
    min_points: int = typer.Option(
        5, "--min-points", min=1, metavar="N", help="Rows read before findings are said (NaN or infinity: at once)."
    ),
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    acc: Optional[str] = _ACC,
    val_acc: Optional[str] = _VAL_ACC,
    metric: Optional[str] = _METRIC,
    num_classes: Optional[int] = _NUM_CLASSES,
    select: Optional[str] = _SELECT,
    ignore: Optional[str] = _IGNORE,
    config: Optional[str] = _CONFIG,
    input_format: Optional[str] = _INPUT_FORMAT,
    run: Optional[str] = _RUN_ONE,
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an internal error (also CURVEDIAG_DEBUG=1)."),
) -> None:
    """Follow a log while training writes it: say each new finding once, as points arrive.

    Ends at the first finding at or above --fail-on (status 1), or when the log has not changed
    for --idle seconds (0 or 1 as analyze would give for the whole log; 2 if it never became
    readable). Polls the file's size and modification time every --interval seconds."""
    global _DEBUG
    _DEBUG = _DEBUG or debug
    from .watch import Watch, jsonl_line, text_line

    if path == "-":
        raise _fail("watch follows a file or a run directory, not stdin; name the file")
    _one_run(run, "watch")
    from .errors import UsageError
    from .watch import IDLE_RANGE, INTERVAL_RANGE, check_duration

    try:
        check_duration("--interval", interval, INTERVAL_RANGE)
        check_duration("--idle", idle, IDLE_RANGE)
    except UsageError as e:
        raise _fail(str(e)) from None
    settings = _settings(config, fail_on=fail_on, select=select, ignore=ignore, num_classes=num_classes,
                         input_format=input_format, run=run, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc,
                         metric=metric).for_path(path)
    if settings.columns.get("metric") and settings.columns.get("val_acc"):
        raise _fail("give --metric or --val-acc, not both")

    def emit(event, alert) -> None:
        if format is WatchFormat.jsonl:
            _write_stdout(jsonl_line(event) + "\n")
            return
        line = text_line(event, alert, idle, settings.fail_on)
        if line is not None:
            _write_stdout(line + "\n")

    end = Watch(path, settings, interval=interval, idle=idle, min_points=min_points, emit=emit,
                debug=_debugging()).run()
    if end.message:
        _err(end.message)
    raise typer.Exit(end.status)


def _one_run(run: Optional[str], command: str) -> None:
    """plot and watch follow one run: ``--run all`` is a usage error naming what to give instead."""
    if run is not None and run.strip().lower() == "all":
        raise _fail(f"--run all: {command} follows one run; give its name or id prefix "
                    "(analyze --run all reports every run)")


def _text_or_json(format: Format, command: str) -> None:
    """``inspect`` and ``config`` print text or JSON: any other --format is a usage error, not text."""
    if format not in (Format.text, Format.json):
        raise _fail(f"--format {format.value}: {command} prints text or json (choices: text, json)")


@app.command("config")
def config_cmd(
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Settings file (TOML) instead of pyproject.toml."),
    format: Format = typer.Option(Format.text, "--format", "-f", metavar="text|json", show_choices=False,
                                  help="Output format: text or json."),
) -> None:
    """Print the resolved settings and where each came from (file, environment, defaults)."""
    import json

    from .config import KEYS, resolve, settings_dict
    from .errors import UsageError

    _text_or_json(format, "config")

    try:
        s = resolve(config)
    except UsageError as e:
        _err(str(e))
        raise typer.Exit(2)
    d = settings_dict(s)
    if format is Format.json:
        _write_stdout(json.dumps(d, indent=2) + "\n")
        return
    from .render import printable

    typer.echo(f"config file: {printable(d['config_file'] or '(none found)')}")
    for key in (k for k in KEYS if k not in ("rules", "per-path")):
        val = d[key]
        shown = ", ".join(val) if isinstance(val, list) else val
        typer.echo(f"{key:13s} = {shown if shown not in (None, '') else '-'}   ({d['origin'].get(key, 'default')})")
    for code, opts in d["rules"].items():
        typer.echo(f"rules.{code} = " + ", ".join(f"{k}={v}" for k, v in opts.items()))
    for i, entry in enumerate(d["per-path"]):
        typer.echo(printable(f"per-path[{i}] = " + ", ".join(f"{k}={v}" for k, v in entry.items())))
    typer.echo("enabled rules: " + " ".join(d["enabled"]))


@app.command("calibrate")
def calibrate_cmd(
    paths: list[str] = typer.Argument(..., metavar="RUNS...", help="Logs of runs the team considers good."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the configuration to FILE (atomically) instead of stdout."),
    margin: float = typer.Option(1.1, "--margin", min=1.0, max=10.0,
                                 help="Each limit is this many times the largest value measured (default 1.1)."),
    input_format: Optional[str] = _INPUT_FORMAT,
    loss: Optional[str] = _LOSS,
    val_loss: Optional[str] = _VAL_LOSS,
    config: Optional[str] = _CONFIG,
) -> None:
    """Thresholds calibrated on your own good runs: a [tool.curvediag] configuration.

    Measures on each run what the rules judge (val-loss rise, stall, spike z and ratio, the patience that
    keeps the best) and sets each limit just above the largest; the measurements are written as comments.
    Use it with `curvediag analyze --config FILE`, or copy its tables into pyproject.toml.
    """
    from .api import load_curves
    from .batch import internal
    from .calibrate import calibrate, to_toml
    from .errors import CurvediagError, UsageError
    from .output import refuse_inputs, write_output

    if _stdin_closed(paths):
        raise typer.Exit(2)
    settings = _settings(config, input_format=input_format, loss=loss, val_loss=val_loss)
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
            _write_stdout(text)
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


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of --format json (an array of reports), a --format jsonl line and a report_path file."""
    import json

    from .schema import SCHEMA

    _write_stdout(json.dumps(SCHEMA, indent=2) + "\n")


@app.command("inspect")
def inspect_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log; '-' reads stdin."),
    format: Format = typer.Option(Format.text, "--format", "-f", metavar="text|json", show_choices=False,
                                  help="Output format: text or json."),
    input_format: Optional[str] = _INPUT_FORMAT,
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

    _text_or_json(format, "inspect")

    from .api import inspect_log
    from .batch import internal
    from .errors import CurvediagError

    if _stdin_closed([path]):
        raise typer.Exit(2)
    settings = _settings(config, input_format=input_format, run=run, loss=loss, val_loss=val_loss, acc=acc,
                         val_acc=val_acc, metric=metric).for_path(path)
    try:
        info = inspect_log(path, settings=settings)
    except CurvediagError as e:
        raise _fail(str(e))
    except Exception as e:
        if _debugging():
            raise
        raise _fail(f"{'<stdin>' if path == '-' else path}: {internal(e)}")
    if format is Format.json:
        _write_stdout(json.dumps(info, indent=2) + "\n")
        return
    from .render.text import inspect_text

    _write_stdout(inspect_text(info), strip=True)


class RulesFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("rules")
def list_rules(
    format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format: text or json."),
) -> None:
    """List every rule: code, name, verdict and what it detects."""
    from .docs import _rule_dict
    from .rules import BASELINE_RULES, RULES

    if format is RulesFormat.json:
        import json

        _write_stdout(json.dumps([_rule_dict(r, False) for r in (*RULES, *BASELINE_RULES)], indent=2) + "\n")
        return
    for r in RULES:
        typer.echo(f"{r.code}  {r.name:28s} {r.verdict or '-':18s} {r.summary()}")
    typer.echo("\nComparison rules (run only with a baseline: compare, analyze --baseline):")
    for r in BASELINE_RULES:
        typer.echo(f"{r.code}  {r.name:28s} {'-':18s} {r.summary()}")


def _explain(r, width: int) -> str:
    """``curvediag rule CODE`` as text: plain, wrapped at ``width``."""
    import textwrap

    from .docs import _plain_doc
    from .rules import BASELINE_RULES
    from .rules import describe_groups
    from .rules.base import describe_needs

    kind = f"comparison rule, severity {getattr(r, 'level', 'info')}" if r in BASELINE_RULES else f"verdict: {r.verdict or '-'}"
    wrap = lambda s, indent="": textwrap.fill(s, width, subsequent_indent=indent, break_on_hyphens=False)  # noqa: E731
    out = [wrap(f"{r.code} {r.name} ({kind})", "  ")]
    if r not in BASELINE_RULES:
        out.append(wrap(_plain_doc(f"Needs: {describe_needs(r.needs, r.min_points)}", 0), "  "))
    out += ["", _plain_doc(r.doc(), width)]
    if r.options:
        out += ["", wrap("Defaults: " + ", ".join(f"{k} = {v}" for k, v in r.options.items()), "  ")]
    out += [wrap(_plain_doc(s, 0), "  ") for s in describe_groups(r)]
    if r.remedies:
        out += ["", "Remedies:"]
        out += [textwrap.fill(_plain_doc(str(rem), 0), width, initial_indent="  - ", subsequent_indent="    ",
                              break_on_hyphens=False) for rem in r.remedies]
    return "\n".join(out) + "\n"


@app.command("rule")
def explain_rule(
    key: Optional[str] = typer.Argument(None, metavar="CODE|NAME", help="A rule code (O102) or name (val-loss-rising)."),
    all_: bool = typer.Option(False, "--all", help="Explain every rule."),
    format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format: text or json."),
) -> None:
    """Explain one rule (or --all): what it detects, why it matters, its options and remedies.

    Text is wrapped at the terminal's width (COLUMNS)."""
    import shutil

    from .docs import _rule_dict
    from .rules import BASELINE_RULES, RULES, get_rule

    if all_ == (key is not None):
        raise _fail("give one rule (CODE or NAME) or --all")
    if all_:
        chosen = [*RULES, *BASELINE_RULES]
    else:
        r = get_rule(key or "")
        if r is None:
            raise _fail(f"no rule {key!r}; 'curvediag rules' lists them")
        chosen = [r]
    if format is RulesFormat.json:
        import json

        data = [_rule_dict(r, True) for r in chosen]
        _write_stdout(json.dumps(data if all_ else data[0], indent=2) + "\n")
        return
    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    _write_stdout(("\n" + "─" * min(width, 80) + "\n\n").join(_explain(r, width) for r in chosen))


@app.command("mcp")
def mcp_cmd(
    root: str = typer.Option(".", "--root", metavar="DIR", help="Read only paths inside DIR (default: the working directory)."),
    allow_server: Optional[List[str]] = typer.Option(
        None, "--allow-server", metavar="URL", help="Also read this MLflow server (http://HOST:PORT; repeat for several)."),
) -> None:
    """Serve curvediag's tools to an agent over the Model Context Protocol (stdio; the 'mcp' extra).

    Tools: analyze, compare, inspect, list_rules, explain_rule, watch_state; answers are JSON, bounded in size.
    Nothing outside --root (and the --allow-server servers) is read; nothing is written."""
    from .errors import CurvediagError
    from .mcp_server import server

    try:
        app_ = server(root, tuple(allow_server or ()))
    except CurvediagError as e:
        raise _fail(str(e))
    app_.run("stdio")


def main() -> None:
    """The command line's entry point.  It ends the process with ``os._exit`` once stdout and
    stderr are flushed (every output file is closed by then): the interpreter's teardown of
    pandas, numpy and the rest costs ~0.1 s and changes nothing.  Only here, never in the library."""
    code = main_status()
    _exit(code)


def _exit(code: int) -> None:
    import sys

    from .terminal import discard_stdout

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


def main_status() -> int:
    """What :func:`main` does, returning the exit status instead of ending the process
    (tests and tools that look at the process afterwards)."""
    import sys

    from .terminal import discard_stdout, guard_std_streams

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
