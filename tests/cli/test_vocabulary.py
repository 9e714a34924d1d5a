"""One vocabulary each (issue 21): the output formats, the severities and the input formats are spelled once
and everything that offers or checks them follows, parametrised over the enums themselves."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Optional

import pytest
import typer
from typer.testing import CliRunner

from curvediag import readers
from curvediag.batch import run as run_batch
from curvediag.cli import app
from curvediag.config import INPUT_FORMAT_NAMES, Settings, input_format_name, resolve
from curvediag.render import RENDERERS, OutputOptions, renderer
from curvediag.vocabulary import ALIASES, EXTENSIONS, FAIL_ON, FailOn, OutputFormat, Severity, severity_rank

from ..conftest import REPO, sample

runner = CliRunner()


def invoke(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


@pytest.fixture(scope="module")
def batch():
    return run_batch([str(sample("healthy.csv")), str(sample("overfitting.csv")), str(REPO / "no-such-log.csv")], Settings())


# --- output formats --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_has_a_renderer_taking_only_known_options(fmt, batch):
    entry = RENDERERS[fmt.canonical]
    fields = {f.name for f in dataclasses.fields(OutputOptions)}
    assert set(entry.options) <= fields, entry
    text = renderer(fmt, OutputOptions(full=True, annotate="info", no_color=True))(batch)
    assert text.endswith("\n") and "overfitting" in text


@pytest.mark.parametrize("fmt", list(OutputFormat))
def test_every_output_format_is_offered_checked_and_documented(fmt):
    assert fmt.value in _help_of("analyze", "--format")
    s = resolve(cli={"format": fmt.value}, environ={})
    assert s.format == fmt.canonical.value and s.format not in ALIASES
    readme = (REPO / "README.md").read_text()
    assert f"`{fmt.value}`" in readme  # the output formats table


@pytest.mark.parametrize("fmt", [f for f in OutputFormat if f.extension])
def test_every_extension_chooses_its_format(fmt, tmp_path):
    from curvediag.output import format_for

    assert format_for(str(tmp_path / f"report{fmt.extension}"), None, "text") is fmt
    assert EXTENSIONS[fmt.extension] == fmt.value


@pytest.mark.parametrize("alias", list(ALIASES))
def test_an_alias_renders_as_the_format_it_names(alias, batch):
    assert renderer(alias)(batch) == renderer(ALIASES[alias])(batch)


# --- severities ----------------------------------------------------------------------------------

def test_severities_are_ordered_by_the_enum():
    assert [severity_rank(s) for s in Severity] == list(range(len(Severity)))
    assert [s.rank for s in Severity] == list(range(len(Severity)))
    with pytest.raises(ValueError):
        severity_rank("fatal")


@pytest.mark.parametrize("level", list(FailOn))
def test_every_fail_on_level_is_accepted_where_a_level_is_taken(level):
    assert level.value in FAIL_ON and (level.value == "never" or level.value in {s.value for s in Severity})
    log = sample("overfitting.csv")  # a warning verdict
    r = invoke("analyze", log, "--fail-on", level.value)
    assert r.exit_code == (1 if level.value in ("info", "warning") else 0), r.stderr
    assert resolve(environ={"CURVEDIAG_FAIL_ON": level.value}).fail_on == level.value
    r = invoke("analyze", log, "-f", "github", "--annotate", level.value)
    assert r.exit_code in (0, 1) and r.stdout


def test_ok_is_no_fail_on_level():
    assert "ok" not in FAIL_ON and invoke("analyze", sample("healthy.csv"), "--fail-on", "ok").exit_code == 2


# --- input formats: the reader table ---------------------------------------------------------------

def test_input_formats_derive_from_the_reader_table():
    derived = {n: n for r in readers.READERS for n in r.names}
    derived.update({a: to for r in readers.READERS for a, to in r.aliases})
    assert INPUT_FORMAT_NAMES == derived
    for r in readers.READERS:  # an alias reads as a name of its own entry (or is detected, for an entry with none)
        assert all(to in r.names if r.names else to is None for _, to in r.aliases), r.label


@pytest.mark.parametrize("name", list(INPUT_FORMAT_NAMES))
def test_every_input_format_name_is_accepted_everywhere(name):
    assert input_format_name(name) == INPUT_FORMAT_NAMES[name]
    assert resolve(cli={"input-format": name}, environ={}).input_format == INPUT_FORMAT_NAMES[name]
    assert Settings.of(input_format=name).input_format == INPUT_FORMAT_NAMES[name]
    r = invoke("inspect", sample("healthy.csv"), "--input-format", name, "-f", "json")
    assert "unknown input format" not in r.stderr


def _help_of(command: str, option: str) -> str:
    import typer.main

    cmd = typer.main.get_command(app).commands[command]
    return next(p.help for p in cmd.params if option in p.opts)


@pytest.mark.parametrize("name", readers.FORMATS)
def test_every_reader_is_offered_by_input_format_help(name):
    assert name in _help_of("analyze", "--input-format").split("(")[1].split(")")[0].split("|")


# --- option groups -------------------------------------------------------------------------------

def test_a_threshold_option_is_one_flag_and_reaches_the_rule_with_file_and_environment_below_it(tmp_path, monkeypatch):
    from curvediag.cli_options import GROUP, JUDGED, Flag, grouped, settings_group

    limit = Flag("rise_limit", Optional[float], None, ("--rise-limit",), "How far the val loss may rise.",
                 "rules.rise.rise_limit")
    seen = {}
    demo = typer.Typer()

    @demo.command()
    @grouped(settings=settings_group(*JUDGED, limit))
    def cmd(path: str = typer.Argument(...), settings: Settings = GROUP) -> None:
        seen["settings"] = settings

    assert "--rise-limit" in runner.invoke(demo, ["--help"]).stdout
    (tmp_path / "pyproject.toml").write_text("[tool.curvediag.rules.rise]\nrise_limit = 0.3\n")
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(demo, ["x"]).exit_code == 0
    assert seen["settings"].rules["rise"]["rise_limit"] == 0.3
    assert runner.invoke(demo, ["x", "--rise-limit", "0.4", "--num-classes", "3"]).exit_code == 0
    s = seen["settings"]
    assert s.rules["rise"]["rise_limit"] == 0.4 and s.num_classes == 3 and s.origin["rules"] == "command line"
    r = runner.invoke(demo, ["x", "--rise-limit", "-1"])
    assert r.exit_code == 2


def test_analyze_takes_at_most_ten_parameters_and_its_help_lists_every_option_with_help():
    body = inspect.signature(app.registered_commands[0].callback.__wrapped__)
    assert len(body.parameters) <= 10, list(body.parameters)
    import typer.main

    cmd = typer.main.get_command(app).commands["analyze"]
    assert all(p.help for p in cmd.params if p.param_type_name == "option"), [p.name for p in cmd.params if not p.help]
    assert len([p for p in cmd.params if p.param_type_name == "option"]) >= 28


def test_json_is_quiet_when_nothing_was_read(tmp_path):
    r = invoke("analyze", tmp_path / "missing.csv", "-f", "json")
    assert r.exit_code == 2 and r.stdout == ""
    r = invoke("analyze", tmp_path / "missing.csv", "-f", "jsonl")
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]
