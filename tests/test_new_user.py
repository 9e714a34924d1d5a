"""What a new user hit with the real tools (issue 24, section 4): each fix with its test."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from curvediag.cli import app

from .conftest import sample

runner = CliRunner()


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, **kw)


@pytest.mark.parametrize("command", ["plot", "watch"])
def test_plot_and_watch_neither_offer_nor_take_run_all(command):
    help_text = run(command, "--help").stdout
    line = next(x for x in help_text.splitlines() if "--run" in x)
    assert "'all'" not in help_text and "all:" not in line
    r = run(command, sample("healthy.csv"), "--run", "all")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("curvediag: --run all:") and "analyze --run all" in r.stderr


def test_analyze_still_offers_run_all():
    assert "'all': one report per run" in " ".join(run("analyze", "--help").stdout.split())


@pytest.mark.parametrize("command", ["inspect", "config"])
def test_inspect_and_config_help_list_only_the_formats_they_print(command):
    help_text = run(command, "--help").stdout
    (line,) = [x for x in help_text.splitlines() if "--format" in x]
    assert re.search(r"--format text\|json\b", line) and "sarif" not in help_text and "jsonl" not in line
