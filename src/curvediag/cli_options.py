"""The command line's options, in groups that each build one object for a command.

A command names its groups with :func:`grouped`::

    @app.command()
    @grouped(settings=settings_group(FORMAT, FAIL_ON, *JUDGING, ...), out=output_group(OUTPUT, ...))
    def analyze(paths: List[str] = typer.Argument(...), settings: Settings = GROUP, out: Output = GROUP, ...):

The decorator puts every option of each group into the command's signature, where the group's
parameter stood (typer reads the signature: parsing and ``--help`` list each option with its help),
and calls the command with one object per group instead: the :class:`~curvediag.config.Settings`
(file < environment < these options, :func:`build_settings`) and the :class:`Output` options.
An option is one :class:`Flag`; a setting it makes is named by its configuration key, so a new
option that reaches a rule threshold is one ``Flag`` in :data:`JUDGING` (``key="rules.rise.rise_limit"``):
every command that judges a log offers it.  Nothing here imports pandas or numpy.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import typer

from .output import err
from .readers import FORMATS as READER_FORMATS
from .render import OutputOptions
from .settings import _COLUMN_KEYS  # the column options' configuration keys, written once
from .vocabulary import FailOn, OutputFormat, format_help

if TYPE_CHECKING:
    from .config import Settings

#: ``--input-format``'s readers, in the detection table's order (readers.FORMATS)
InputFormat = Enum("InputFormat", [(n, n) for n in READER_FORMATS], type=str)  # type: ignore[misc]

#: the default of a parameter :func:`grouped` fills with its group's object
GROUP: Any = None


def fail(msg: str) -> typer.Exit:
    """One line on stderr; the exit (status 2) for the caller to raise."""
    err(msg)
    return typer.Exit(2)


@dataclass(frozen=True)
class Flag:
    """One command-line option: the parameter ``name`` of type ``kind``, its ``default``, its
    spellings (``decls``), its ``help`` and other ``typer.Option`` keywords (``extra``).  ``key``: the
    setting it makes, as the configuration file spells it (``num-classes``, ``loss``,
    ``rules.rise.rise_limit``); None: an option of its own (read by the group's builder by ``name``)."""

    name: str
    kind: Any
    default: Any
    decls: tuple[str, ...]
    help: str
    key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def parameter(self) -> inspect.Parameter:
        option = typer.Option(self.default, *self.decls, help=self.help, **self.extra)
        return inspect.Parameter(self.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=self.kind)

    def but(self, **changes: Any) -> "Flag":
        """This option with ``changes`` (another help text for one command)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Group:
    """Options that build one object: ``build(values)`` from ``{flag name: value}``."""

    flags: tuple[Flag, ...]
    build: Callable[[dict[str, Any]], Any]


def grouped(**groups: Group) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The decorator: each ``parameter=group`` of the command replaced by the group's options in its
    signature, and the command called with the object the group builds from them."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        params: list[inspect.Parameter] = []
        for p in inspect.signature(fn).parameters.values():
            if p.name in groups:
                params += [f.parameter() for f in groups[p.name].flags]
            else:  # its annotation as written: typer resolves it in the body's module (``__wrapped__``)
                params.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))

        def command(**values: Any) -> Any:
            for name, group in groups.items():
                values[name] = group.build({f.name: values.pop(f.name) for f in group.flags})
            return fn(**values)

        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(command, attr, getattr(fn, attr))
        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in params}
        command.__wrapped__ = fn  # type: ignore[attr-defined]  # the body (its own parameters)
        return command

    return decorate


# --- the settings: what to read and how to judge it (file < environment < these options) ----------

#: the configuration keys the command line sets on the settings as read (Settings.reading), not
#: through the file's checks: how to read a log
_READING = {"input-format", "run"}


def build_settings(values: Mapping[str, Any], flags: tuple[Flag, ...]) -> "Settings":
    """The settings in force for one command from its option values (``{flag name: value}``), or one
    line on stderr and exit 2.  ``config``: the settings file; a flag's ``key`` says what it sets."""
    from .config import input_format_name, resolve
    from .errors import UsageError

    cli: dict[str, Any] = {}
    reading: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    for f in flags:
        value = values.get(f.name)
        if f.key is None or value is None:
            continue
        value = value.value if isinstance(value, Enum) else (True if value else None) if isinstance(value, bool) else value
        if f.key in _COLUMN_KEYS:
            columns[_COLUMN_KEYS[f.key]] = value
        elif f.key in _READING:
            reading[f.key] = value
        elif f.key.startswith("rules."):
            _, table, option = f.key.split(".")
            cli.setdefault("rules", {}).setdefault(table, {})[option] = value
        else:
            cli[f.key] = value
    try:
        settings = resolve(values.get("config"), cli=cli)
        reader = input_format_name(reading.get("input-format"))
    except UsageError as e:
        raise fail(str(e))
    return settings.reading(input_format=reader, columns=columns, run=reading.get("run"))


def settings_group(*flags: Flag) -> Group:
    """The options that make a command's :class:`~curvediag.config.Settings`."""
    return Group(flags, lambda values: build_settings(values, flags))


FORMAT = Flag("format", OutputFormat, None, ("--format", "-f"), format_help(), key="format")
FAIL_ON = Flag("fail_on", FailOn, None, ("--fail-on",),
               "Exit 1 when a finding has this severity or worse (default: warning).", key="fail-on")
FAIL_ON_BORDERLINE = Flag(
    "fail_on_borderline", bool, False, ("--fail-on-borderline",),
    "Fail on a borderline verdict too (one under half of the copies of the run, drawn from its own noise, agree "
    "with; the report says 'X or Y'). By default it fails only as far as its alternative would. "
    "Config: fail-on-borderline = true.", key="fail-on-borderline")
COLUMNS = (
    Flag("loss", Optional[str], None, ("--loss",), "Column holding the training loss.", "loss", {"metavar": "COLUMN"}),
    Flag("val_loss", Optional[str], None, ("--val-loss",), "Column holding the validation loss.", "val-loss",
         {"metavar": "COLUMN"}),
    Flag("acc", Optional[str], None, ("--acc",), "Column holding the training accuracy.", "acc", {"metavar": "COLUMN"}),
    Flag("val_acc", Optional[str], None, ("--val-acc",), "Column holding the validation accuracy.", "val-acc",
         {"metavar": "COLUMN"}),
    Flag("metric", Optional[str], None, ("--metric",),
         "The validation quality metric to judge (mAP, F1, top-1, WER ...) instead of accuracy.", "metric",
         {"metavar": "COLUMN"}),
)
LOSS, VAL_LOSS = COLUMNS[:2]
#: what every command that judges a log offers (analyze, compare, plot, watch): a threshold option goes here
JUDGING = (
    Flag("num_classes", Optional[int], None, ("--num-classes",),
         "Number of classes: compare loss with ln K and accuracy with 1/K.", "num-classes", {"min": 2, "metavar": "K"}),
    Flag("select", Optional[str], None, ("--select",),
         "Only these rules: comma-separated codes, prefixes or names (e.g. D,O102).", "select", {"metavar": "RULES"}),
    Flag("ignore", Optional[str], None, ("--ignore",),
         "Skip these rules: codes, prefixes or names (the longer prefix wins).", "ignore", {"metavar": "RULES"}),
)
CONFIG = Flag("config", Optional[str], None, ("--config",),
              "Settings file (TOML); default: [tool.curvediag] in the nearest pyproject.toml.", extra={"metavar": "FILE"})
INPUT_FORMAT = Flag(
    "input_format", Optional[str], None, ("--input-format",),
    "Skip detection and read the input as this format: a reader (" + "|".join(e.value for e in InputFormat)
    + ") or a format name reports print (keras_csv, hf_trainer_state, ...).", "input-format", {"metavar": "FORMAT"})
RUN = Flag("run", Optional[str], None, ("--run",),
           "Pick one run from an MLflow store/database/server or a W&B export (id prefix or name); 'all': one report per run.",
           "run", {"metavar": "RUN"})
RUN_ONE = RUN.but(  # plot and watch follow one run: no 'all' offered (issue 24)
    help="Pick one run from an MLflow store/database/server or a W&B export (id prefix or name).")
#: the options of every command that reads and judges a log (analyze, compare, plot, watch)
JUDGED = (*COLUMNS, *JUDGING, CONFIG, INPUT_FORMAT)


# --- the output: where and how the report is shown (render.OutputOptions and the files) -----------

@dataclass(frozen=True)
class Output:
    """The output options of a command that reports (analyze, compare)."""

    output: str | None = None
    output_format: OutputFormat | None = None
    exit_zero: bool = False
    no_color: bool = False
    full: bool = False
    annotate: str | None = None
    stdin_filename: str | None = None
    statistics: bool = False
    quiet: bool = False

    @property
    def options(self) -> OutputOptions:
        """What the renderers take."""
        return OutputOptions(full=self.full, annotate=self.annotate, no_color=self.no_color)


def output_group(*flags: Flag) -> Group:
    """Options that make the :class:`Output` (each flag's name is a field of it)."""
    return Group(flags, lambda values: Output(**{k: v.value if isinstance(v, Enum) and k == "annotate" else v
                                                 for k, v in values.items()}))


EXIT_ZERO = Flag("exit_zero", bool, False, ("--exit-zero",), "Report findings but exit 0 (errors still exit 2).")
OUTPUT = Flag("output", Optional[str], None, ("--output", "-o"),
              "Also write the report to FILE (atomically); stdout then shows only an explicit --format.",
              extra={"metavar": "FILE"})
OUTPUT_FORMAT = Flag("output_format", OutputFormat, None, ("--output-format",),
                     "Format of --output (default: from its extension, else --format).")
FULL = Flag("full", bool, False, ("--full",),
            "Everything in the text report: each finding's remedies and the rules that could not run (skipped); "
            "with several logs, every such report after the summary table.")
NO_COLOR = Flag("no_color", bool, False, ("--no-color",), "No colours or styles (also when NO_COLOR is set).")
STATISTICS = Flag("statistics", bool, False, ("--statistics",),
                  "Print the number of findings per rule code instead of the report (text, or json with -f json).")
QUIET = Flag("quiet", bool, False, ("--quiet", "-q"),
             "Text: one line per finding (PATH: CODE name severity: message), nothing else.")
ANNOTATE = Flag("annotate", FailOn, None, ("--annotate",),
                "GitHub format: annotate each finding this severe or worse (default: --fail-on); below it, one "
                "annotation per log and level.", extra={"metavar": "LEVEL"})
STDIN_FILENAME = Flag("stdin_filename", Optional[str], None, ("--stdin-filename",),
                      "The name of the log read from stdin ('-'), in every output.", extra={"metavar": "NAME"})
#: the output options analyze and compare share
REPORTING = (EXIT_ZERO, OUTPUT, OUTPUT_FORMAT, NO_COLOR, ANNOTATE, STDIN_FILENAME)

DEBUG = typer.Option(False, "--debug", help="Show the traceback of an internal error (also CURVEDIAG_DEBUG=1).")
WEBHOOK = typer.Option(
    None, "--webhook", metavar="URL",
    help="POST each new finding once to this http(s) URL as JSON (the payload of curvediag.alerts.Webhook); "
         "5 s limit, never waited for; a failure is said once on stderr.")
TEXT_OR_JSON = typer.Option(OutputFormat.text, "--format", "-f", metavar="text|json", show_choices=False,
                            help="Output format: text or json.")



class RulesFormat(str, Enum):
    text = "text"
    json = "json"


class WatchFormat(str, Enum):
    text = "text"
    jsonl = "jsonl"


def one_run(run: Optional[str], command: str) -> None:
    """plot and watch follow one run: ``--run all`` is a usage error naming what to give instead."""
    if run is not None and run.strip().lower() == "all":
        raise fail(f"--run all: {command} follows one run; give its name or id prefix "
                    "(analyze --run all reports every run)")


def text_or_json(format: OutputFormat, command: str) -> None:
    """``inspect`` and ``config`` print text or JSON: any other --format is a usage error, not text."""
    if format not in (OutputFormat.text, OutputFormat.json):
        raise fail(f"--format {format.value}: {command} prints text or json (choices: text, json)")


# --- --debug: let an internal error show its traceback -------------------------------------------

_DEBUG = False


def set_debug(debug: bool) -> None:
    """``--debug`` given (before or after the command)."""
    global _DEBUG
    _DEBUG = _DEBUG or debug


def debugging() -> bool:
    """``--debug`` or ``CURVEDIAG_DEBUG=1``: an internal error shows its traceback."""
    import os

    return _DEBUG or os.environ.get("CURVEDIAG_DEBUG", "") not in ("", "0")


__all__ = ["Flag", "Group", "GROUP", "Output", "grouped", "settings_group", "output_group", "build_settings", "fail",
           "InputFormat", "RulesFormat", "WatchFormat", "WEBHOOK", "debugging", "one_run", "set_debug", "text_or_json"]
