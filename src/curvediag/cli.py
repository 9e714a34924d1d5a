"""The command line: a thin layer over :func:`curvediag.diagnose`.

Exit status: 0 nothing at or above --fail-on; 1 a finding at or above it;
2 a usage error or an input that cannot be read.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
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


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """curvediag: diagnose training curves."""


def _err(msg: str) -> None:
    sys.stderr.write(f"curvediag: {msg}\n")


def _console(no_color: bool, stderr: bool = False):
    from rich.console import Console

    if no_color or os.environ.get("NO_COLOR"):
        return Console(color_system=None, no_color=True, highlight=False, stderr=stderr)
    return Console(highlight=False, stderr=stderr)


@app.command(epilog=EXAMPLES)
def analyze(
    paths: List[str] = typer.Argument(..., metavar="PATH...", help="Training logs to diagnose; '-' reads stdin."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format: text for people, json for tools."),
    fail_on: FailOn = typer.Option(
        FailOn.warning, "--fail-on", help="Exit 1 when a finding has this severity or worse."
    ),
    loss: Optional[str] = typer.Option(None, "--loss", metavar="COLUMN", help="Column holding the training loss."),
    val_loss: Optional[str] = typer.Option(None, "--val-loss", metavar="COLUMN", help="Column holding the validation loss."),
    acc: Optional[str] = typer.Option(None, "--acc", metavar="COLUMN", help="Column holding the training accuracy."),
    val_acc: Optional[str] = typer.Option(None, "--val-acc", metavar="COLUMN", help="Column holding the validation accuracy."),
    metric: Optional[str] = typer.Option(
        None, "--metric", metavar="COLUMN",
        help="The validation quality metric to judge (mAP, F1, top-1, WER ...) instead of accuracy.",
    ),
    num_classes: Optional[int] = typer.Option(
        None, "--num-classes", min=2, metavar="K", help="Number of classes: compare loss with ln K and accuracy with 1/K."
    ),
    input_format: Optional[InputFormat] = typer.Option(
        None, "--input-format", help="Skip detection and read the input as this format."
    ),
    run: Optional[str] = typer.Option(
        None, "--run", metavar="RUN", help="Pick one run from an MLflow store/database or a W&B export (id prefix or name)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colours or styles (also when NO_COLOR is set)."),
) -> None:
    """Diagnose training logs: verdict, evidence, epochs, remedies."""
    from .api import diagnose
    from .errors import CurvediagError
    from .report import severity_rank

    if paths.count("-") > 1:
        _err("'-' (stdin) can be given only once")
        raise typer.Exit(2)
    reports, errors = [], 0
    for path in paths:
        try:
            reports.append(
                diagnose(
                    path,
                    input_format=input_format.value if input_format else None,
                    loss=loss,
                    val_loss=val_loss,
                    acc=acc,
                    val_acc=val_acc,
                    metric=metric,
                    num_classes=num_classes,
                    run=run,
                )
            )
        except CurvediagError as e:
            _err(str(e))
            errors += 1
    if reports:
        if format is Format.json:
            from .render.json import render as render_json

            sys.stdout.write(render_json(reports, single=len(paths) == 1) + "\n")
        else:
            from .render.text import render as render_text

            render_text(reports, _console(no_color))
    if errors:
        raise typer.Exit(2)
    if fail_on is not FailOn.never:
        limit = severity_rank(fail_on.value)
        if any(severity_rank(r.worst_severity()) >= limit for r in reports):
            raise typer.Exit(1)


@app.command("inspect")
def inspect_cmd(
    path: str = typer.Argument(..., metavar="PATH", help="A training log; '-' reads stdin."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format: text or json."),
    input_format: Optional[InputFormat] = typer.Option(None, "--input-format", help="Skip detection and read the input as this format."),
    run: Optional[str] = typer.Option(None, "--run", metavar="RUN", help="Pick one run from an MLflow store or a W&B export."),
) -> None:
    """Show what curvediag reads from a log: format, axis, columns and their mapping.

    The first thing to run when a diagnosis looks wrong.
    """
    import json

    from .api import inspect_log
    from .errors import CurvediagError

    try:
        info = inspect_log(path, input_format=input_format.value if input_format else None, run=run)
    except CurvediagError as e:
        _err(str(e))
        raise typer.Exit(2)
    if format is Format.json:
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    typer.echo(f"{info['path']}: format {info['format']}, {info['rows']} rows, axis {info['axis']} ({info['axis_kind']})")
    typer.echo("")
    width = max(len(c["column"]) for c in info["columns"])
    for c in info["columns"]:
        used = ", ".join(c["used_as"]) or "-"
        bad = f", {c['non_finite']} non-finite" if c["non_finite"] else ""
        typer.echo(f"  {c['column']:<{width}}  {c['points']:>6} points{bad}  -> {used}")
    typer.echo("")
    typer.echo("analysed: " + ", ".join(f"{k} {n} points" for k, n in info["analysed_points"].items()))
    for note in info["notes"]:
        typer.echo(f"note: {note}")


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


def main() -> None:
    try:
        app(prog_name="curvediag")
    except KeyboardInterrupt:  # pragma: no cover
        _err("interrupted")
        sys.exit(130)
