"""The command line: typer commands over the library, one per verb.

Each command names its option groups (:mod:`curvediag.cli_options`): they add the options to its
``--help`` and hand it one :class:`~curvediag.config.Settings` (file < environment < options) and,
for ``analyze`` and ``compare``, one :class:`~curvediag.cli_options.Output`.  ``analyze`` runs
:func:`curvediag.batch.run` over its paths and hands the Batch to :mod:`curvediag.output` through
:mod:`curvediag.cli_report` (render, ``--output``, exit status).  Nothing here imports pandas or
numpy: ``--help`` and ``rules`` stay fast.

Exit status: 0 nothing at or above --fail-on; 1 a finding at or above it;
2 a usage error or an input that cannot be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

import typer

from . import __version__
from . import cli_report as rep
from .cli_options import (
    COLUMNS, CONFIG, DEBUG, FAIL_ON, FAIL_ON_BORDERLINE, FORMAT, FULL, GROUP, INPUT_FORMAT, JUDGED, LOSS, QUIET,
    REPORTING, RUN, RUN_ONE, STATISTICS, TEXT_OR_JSON, VAL_LOSS, WEBHOOK, InputFormat, Output, debugging, grouped, output_group,
    RulesFormat, WatchFormat, one_run, set_debug, settings_group, text_or_json,
)
from .cli_options import fail as _fail
from .terminal import err as _err
from .terminal import write_stdout as _write_stdout
from .vocabulary import FailOn, OutputFormat

if TYPE_CHECKING:
    from .config import Settings

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

#: the choices of --format, --fail-on and --input-format (one list each: curvediag.vocabulary, the reader table)
Format = OutputFormat
__all__ = ["app", "main", "main_status", "Format", "FailOn", "InputFormat"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"curvediag {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = DEBUG,
) -> None:
    """curvediag: diagnose training curves."""
    set_debug(debug)


@app.command(epilog=EXAMPLES)
@grouped(settings=settings_group(FORMAT, FAIL_ON, FAIL_ON_BORDERLINE, *JUDGED, RUN),
         out=output_group(*REPORTING, FULL, STATISTICS, QUIET))
def analyze(
    paths: List[str] = typer.Argument(
        ..., metavar="PATH...", help="Training logs or run directories to diagnose (a directory: each run in it); '-' reads stdin."
    ),
    settings: Settings = GROUP,
    out: Output = GROUP,
    jobs: int = typer.Option(1, "--jobs", "-j", min=0, help="Analyse several logs in parallel on this many processes (0: one per core)."),
    plot: Optional[str] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Draw the curves to FILE.png, .svg or .html (needs the 'plot' extra); DIR/ or a {stem} template "
        "(plots/{stem}.html) draws each log to a file named after it.",
    ),
    tag_runs: bool = typer.Option(
        False, "--tag-runs", help="Write each verdict back to its MLflow server run as tags (curvediag.verdict, .severity, .findings)."
    ),
    debug: bool = DEBUG,
    baseline: Optional[List[str]] = typer.Option(
        None, "--baseline", metavar="PATH", help="Also compare each log with these baseline logs (repeat for several seeds); adds B1xx findings."
    ),
) -> None:
    """Diagnose training logs: verdict, evidence, epochs, remedies."""
    set_debug(debug)
    from .output import exit_status

    rep.check_paths(paths + (baseline or []))
    plots = rep.plot_targets(plot, paths)
    rep.refuse_outputs(out.output, plots, paths + (baseline or []), settings.config_file)
    if plot and settings.run == "all":
        raise _fail("--plot draws one log; --run all gives one per run")
    if out.statistics and settings.format not in ("text", "json"):
        raise _fail(f"--statistics prints text or json, not {settings.format}")
    fmt = rep.output_format_of(out, settings)
    if settings.format == "jsonl" and not (out.output or plot or baseline or tag_runs or out.statistics or out.quiet
                                           or out.stdin_filename):
        raise typer.Exit(rep.stream_jsonl(paths, settings, jobs, out.exit_zero))
    batch = (rep.compared(baseline, paths, settings, plots, own_rules=True, stdin_name=out.stdin_filename) if baseline
             else rep.diagnose(paths, settings, jobs, plots, out.stdin_filename, plot))
    rep.deliver(batch, settings, out, fmt)
    if tag_runs and rep.tag_runs(batch):
        raise typer.Exit(2)
    raise typer.Exit(exit_status(batch, out.exit_zero))


@app.command("compare")
@grouped(settings=settings_group(
    FORMAT, FAIL_ON.but(help="Exit 1 when a comparison finding (B1xx) has this severity or worse (default: warning)."),
    *JUDGED), out=output_group(*REPORTING))
def compare_cmd(
    baseline: List[str] = typer.Argument(..., metavar="BASELINE...", help="The baseline's logs: the seeds of the recipe the runs should match."),
    runs: List[str] = typer.Option(..., "--run", metavar="RUN", help="A log to compare with the baseline (repeat for several)."),
    settings: Settings = GROUP,
    out: Output = GROUP,
    plot: Optional[str] = typer.Option(
        None, "--plot", metavar="FILE",
        help="Draw the run over the baseline to FILE.png, .svg or .html (needs the 'plot' extra); DIR/ or a {stem} "
        "template draws each run to a file named after it.",
    ),
) -> None:
    """Compare runs with a baseline: best and final loss, training floor, best epoch, verdict, whole curve.

    Each run's own diagnosis is reported with the comparison findings (B1xx) added; only the
    comparison findings decide the exit status (a run that overfits as its baseline does is no
    regression)."""
    from .comparison import regressions
    from .output import exit_status

    rep.check_paths(baseline + runs)
    plots = rep.plot_targets(plot, runs)
    rep.refuse_outputs(out.output, plots, baseline + runs, settings.config_file)
    fmt = rep.output_format_of(out, settings)
    batch = rep.compared(baseline, runs, settings, plots, own_rules=False, stdin_name=out.stdin_filename)
    rep.deliver(batch, settings, out, fmt)
    raise typer.Exit(exit_status(regressions(batch), out.exit_zero))


@app.command("plot")
@grouped(settings=settings_group(*JUDGED, RUN_ONE))
def plot_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log or run directory; '-' reads stdin."),
    width: Optional[int] = typer.Option(
        None, "--width", min=20, max=400, help="Chart width in characters (default: the terminal's width, less the labels)."
    ),
    height: int = typer.Option(16, "--height", min=5, max=100, help="Chart height in lines."),
    settings: Settings = GROUP,
    no_color: bool = typer.Option(False, "--no-color", help="No colours (also when NO_COLOR is set, or stdout is not a terminal)."),
) -> None:
    """Draw the losses in the terminal, with the best epoch, the onset and the problem span marked.

    The diagnosis drawn is the one `analyze` gives with the same options and configuration."""
    from .batch import Unreadable, one
    from .plot import terminal_chart

    if rep.stdin_closed([path]):
        raise typer.Exit(2)
    one_run(settings.run, "plot")
    result = one(path, settings, debug=debugging())
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


@app.command("watch")
@grouped(settings=settings_group(
    FAIL_ON.but(help="Stop with status 1 at the first finding this severe or worse (default: warning)."),
    *JUDGED, RUN_ONE))
def watch_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A log still being written, or a run directory a log will appear in."),
    format: WatchFormat = typer.Option(
        WatchFormat.text, "--format", "-f", help="text: a line per new finding; jsonl: a JSON object per event."
    ),
    settings: Settings = GROUP,
    interval: float = typer.Option(2.0, "--interval", min=0.01, metavar="SECONDS", help="Seconds between looks at the file (0.01 to 3600)."),
    idle: float = typer.Option(
        60.0, "--idle", min=0.0, metavar="SECONDS",
        help="The writer is done after this many seconds without a change (at most a week): diagnose the whole log and exit.",
    ),
    min_points: int = typer.Option(
        5, "--min-points", min=1, metavar="N", help="Rows read before findings are said (NaN or infinity: at once)."
    ),
    webhook: Optional[str] = WEBHOOK,
    debug: bool = DEBUG,
) -> None:
    """Follow a log while training writes it: say each new finding once, as points arrive.

    Ends at the first finding at or above --fail-on (status 1), or when the log has not changed
    for --idle seconds (0 or 1 as analyze would give for the whole log; 2 if it never became
    readable). Polls the file's size and modification time every --interval seconds. --webhook
    also POSTs each new finding to a URL."""
    set_debug(debug)
    from .watch import Watch, jsonl_line, text_line

    if path == "-":
        raise _fail("watch follows a file or a run directory, not stdin; name the file")
    one_run(settings.run, "watch")
    from .errors import UsageError
    from .alerts import Webhook
    from .watch import IDLE_RANGE, INTERVAL_RANGE, check_duration

    try:
        check_duration("--interval", interval, INTERVAL_RANGE)
        check_duration("--idle", idle, IDLE_RANGE)
        hook = None if webhook is None else Webhook(webhook)
    except UsageError as e:
        raise _fail(str(e)) from None
    settings = settings.for_path(path)
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
                debug=debugging(), on_finding=hook).run()
    if hook is not None:
        hook.flush()  # the posts under way (the finding that ended the watch among them), each time-limited
    if end.message:
        _err(end.message)
    raise typer.Exit(end.status)


@app.command("config")
def config_cmd(
    config: Optional[str] = typer.Option(None, "--config", metavar="FILE", help="Settings file (TOML) instead of pyproject.toml."),
    format: Format = TEXT_OR_JSON,
) -> None:
    """Print the resolved settings and where each came from (file, environment, defaults)."""
    import json

    from .config import KEYS, resolve, settings_dict
    from .errors import UsageError

    text_or_json(format, "config")

    try:
        s = resolve(config)
    except UsageError as e:
        _err(str(e))
        raise typer.Exit(2)
    d = settings_dict(s)
    if format is Format.json:
        _write_stdout(json.dumps(d, indent=2) + "\n")
        return
    from .render.concise import settings_text

    typer.echo(settings_text(d, KEYS), nl=False)


@app.command("calibrate")
@grouped(settings=settings_group(INPUT_FORMAT, LOSS, VAL_LOSS, CONFIG))
def calibrate_cmd(
    paths: list[str] = typer.Argument(..., metavar="RUNS...", help="Logs of runs the team considers good."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the configuration to FILE (atomically) instead of stdout."),
    margin: float = typer.Option(1.1, "--margin", min=1.0, max=10.0,
                                 help="Each limit is this many times the largest value measured (default 1.1)."),
    settings: Settings = GROUP,
) -> None:
    """Thresholds calibrated on your own good runs: a [tool.curvediag] configuration.

    Measures on each run what the rules judge (val-loss rise, stall, spike z and ratio, the patience that
    keeps the best) and sets each limit just above the largest; the measurements are written as comments.
    Use it with `curvediag analyze --config FILE`, or copy its tables into pyproject.toml.
    """
    rep.calibrate_to(paths, output, margin, settings)


@app.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of --format json (an array of reports), a --format jsonl line and a report_path file."""
    import json

    from .schema import SCHEMA

    _write_stdout(json.dumps(SCHEMA, indent=2) + "\n")


@app.command("inspect")
@grouped(settings=settings_group(INPUT_FORMAT, RUN, *COLUMNS, CONFIG))
def inspect_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log; '-' reads stdin."),
    format: Format = TEXT_OR_JSON,
    settings: Settings = GROUP,
) -> None:
    """Show what curvediag reads from a log: format, axis, columns and their mapping.

    The first thing to run when a diagnosis looks wrong.
    """
    import json

    text_or_json(format, "inspect")

    from .api import inspect_log
    from .batch import internal
    from .errors import CurvediagError

    if rep.stdin_closed([path]):
        raise typer.Exit(2)
    settings = settings.for_path(path)
    try:
        info = inspect_log(path, settings=settings)
    except CurvediagError as e:
        raise _fail(str(e))
    except Exception as e:
        if debugging():
            raise
        raise _fail(f"{'<stdin>' if path == '-' else path}: {internal(e)}")
    if format is Format.json:
        _write_stdout(json.dumps(info, indent=2) + "\n")
        return
    from .render.text import inspect_text

    _write_stdout(inspect_text(info), strip=True)


@app.command("rules")
def list_rules(
    format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format: text or json."),
) -> None:
    """List every rule: code, name, verdict and what it detects."""
    from .rules import BASELINE_RULES, RULES

    if format is RulesFormat.json:
        import json

        from .docs import rule_dict

        _write_stdout(json.dumps([rule_dict(r, False) for r in (*RULES, *BASELINE_RULES)], indent=2) + "\n")
        return
    from .docs import rules_text

    typer.echo(rules_text(), nl=False)


@app.command("rule")
def explain_rule(
    key: Optional[str] = typer.Argument(None, metavar="CODE|NAME", help="A rule code (O102) or name (val-loss-rising)."),
    all_: bool = typer.Option(False, "--all", help="Explain every rule."),
    format: RulesFormat = typer.Option(RulesFormat.text, "--format", "-f", help="Output format: text or json."),
) -> None:
    """Explain one rule (or --all): what it detects, why it matters, its options and remedies.

    Text is wrapped at the terminal's width (COLUMNS)."""
    import shutil

    from .docs import explain_text, rule_dict
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

        data = [rule_dict(r, True) for r in chosen]
        _write_stdout(json.dumps(data if all_ else data[0], indent=2) + "\n")
        return
    width = max(40, shutil.get_terminal_size((80, 24)).columns)
    _write_stdout(("\n" + "─" * min(width, 80) + "\n\n").join(explain_text(r, width) for r in chosen))


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
    rep.exit_now(main_status())


def main_status() -> int:
    """What :func:`main` does, returning the exit status instead of ending the process
    (tests and tools that look at the process afterwards)."""
    return rep.run(app)
