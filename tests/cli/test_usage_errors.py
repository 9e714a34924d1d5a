"""Unknown or unsupported output combinations are usage errors (exit 2, one line naming the option
and the choices), never a silent fall-back to text: an --output extension that names no format,
--output-format without --output, --annotate with no github output, inspect/config with a format
they cannot print."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.render import OutputFormat

from ..conftest import sample

runner = CliRunner()
LOG = str(sample("overfitting.csv"))


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def one_line_usage_error(r, *words):
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("curvediag: "), r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("name", ["report.html", "report.pdf", "out.log", "r.yaml", "results.SVG"])
def test_an_output_extension_that_names_no_format_is_refused(tmp_path, name):
    target = tmp_path / name
    r = run("analyze", LOG, "-o", target)
    one_line_usage_error(r, "--output", name, ".json", ".md", ".xml", ".sarif", "--output-format")
    assert not target.exists() and list(tmp_path.iterdir()) == []  # nothing written, no temporary left


def test_the_same_name_with_output_format_is_written(tmp_path):
    target = tmp_path / "report.html"
    r = run("analyze", LOG, "-o", target, "--output-format", "markdown", "--fail-on", "never")
    assert r.exit_code == 0 and target.read_text().startswith("## curvediag")


def test_known_extensions_and_a_name_without_one_still_work(tmp_path):
    for name, start in (("r.json", "["), ("r.md", "## curvediag"), ("r.xml", "<?xml"), ("r.sarif", "{")):
        r = run("analyze", LOG, "-o", tmp_path / name, "--fail-on", "never")
        assert r.exit_code == 0 and (tmp_path / name).read_text().startswith(start), name
    r = run("analyze", LOG, "-o", tmp_path / "plain", "--format", "json", "--fail-on", "never")  # no extension: --format
    assert r.exit_code == 0 and json.loads((tmp_path / "plain").read_text())[0]["verdict"] == "overfitting"


def test_the_refusal_comes_before_any_log_is_read(tmp_path):
    r = run("analyze", tmp_path / "missing.csv", "-o", tmp_path / "r.html")
    one_line_usage_error(r, "--output")
    assert "no such file" not in r.stderr


def test_output_format_without_output_is_refused():
    one_line_usage_error(run("analyze", LOG, "--output-format", "json"), "--output-format", "--output")


def test_annotate_without_a_github_output_is_refused(tmp_path):
    one_line_usage_error(run("analyze", LOG, "-f", "json", "--annotate", "info"), "--annotate", "github")
    one_line_usage_error(run("analyze", LOG, "-o", tmp_path / "r.md", "--annotate", "info"), "--annotate")
    assert run("analyze", LOG, "-f", "github", "--annotate", "info").exit_code == 1
    assert run("analyze", LOG, "-o", tmp_path / "r.md", "-f", "github", "--annotate", "info").exit_code == 1
    assert run("analyze", LOG, "-o", tmp_path / "r.txt", "--output-format", "github", "--annotate", "info").exit_code == 1


@pytest.mark.parametrize("command", [["inspect", LOG], ["config"]])
@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat if f.value not in ("text", "json")])
def test_inspect_and_config_refuse_a_format_they_cannot_print(command, fmt):
    r = run(*command, "--format", fmt)
    one_line_usage_error(r, f"--format {fmt}", "text", "json")
    assert r.stdout == ""


@pytest.mark.parametrize("command", [["inspect", LOG], ["config"]])
def test_inspect_and_config_still_print_text_and_json(command):
    assert run(*command).exit_code == 0
    r = run(*command, "--format", "json")
    assert r.exit_code == 0 and isinstance(json.loads(r.stdout), dict)
