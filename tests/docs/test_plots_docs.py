"""Pictures (terminal, PNG/SVG/HTML), the generated rule docs, and golden CI outputs."""

from __future__ import annotations

import os
import re
import sys

import pytest
from typer.testing import CliRunner

from curvediag import __version__
from curvediag.cli import app
from curvediag.docs import rules_markdown

from ..conftest import REPO, sample

runner = CliRunner()
GOLDEN = REPO / "tests" / "golden"


def test_docs_rules_md_is_current():
    assert (REPO / "docs" / "rules.md").read_text() == rules_markdown(), "run: python -m curvediag.docs > docs/rules.md"


def test_terminal_plot():
    r = runner.invoke(app, ["plot", str(sample("overfitting.csv")), "--width", "60", "--height", "10"])
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("OVERFITTING:")
    assert "●" in r.stdout and "·" in r.stdout and "|" in r.stdout and "═" in r.stdout
    assert max(len(x) for x in lines[1:]) <= 10 + 60
    assert runner.invoke(app, ["plot", "/no/file.csv"]).exit_code == 2


@pytest.mark.parametrize("ext,magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"), (".html", b"<!doctype html>")])
def test_plot_files_are_written_and_non_trivial(tmp_path, ext, magic):
    out = tmp_path / f"curves{ext}"
    r = runner.invoke(app, ["analyze", str(sample("cramming_history.json")), "--plot", str(out), "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    assert data.startswith(magic) and len(data) > 10_000
    if ext == ".html":
        text = data.decode()
        assert "<svg" in text and "cramming" in text and "O101" in text
        assert "src=\"http" not in text and "href=\"http" not in text.replace('xmlns', '')  # self-contained
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)


def test_plot_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    # was exit 2 with the hint; issue 15: --plot warns and the report keeps the findings' exit status
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv")), "--plot", str(tmp_path / "x.png")])
    assert r.exit_code == 0
    assert r.stderr.strip() == 'curvediag: warning: plots need matplotlib: pip install "curvediag[plot]"; no plot written'
    assert not (tmp_path / "x.png").exists()


def test_plot_rejects_other_extensions(tmp_path):
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv")), "--plot", str(tmp_path / "x.pdf")])
    assert r.exit_code == 2 and "--plot takes a .png, .svg or .html file" in r.stderr


def _normalise(text: str) -> str:
    text = text.replace(str(REPO) + os.sep, "")
    return text.replace(__version__, "VERSION")


@pytest.mark.parametrize("fmt,ext", [("markdown", "md"), ("github", "txt"), ("junit", "xml"), ("sarif", "sarif"), ("gitlab", "gitlab.json")])
def test_golden_outputs(fmt, ext, monkeypatch):
    monkeypatch.chdir(REPO)
    out = runner.invoke(app, ["analyze", "sample_logs/cramming_history.json", "sample_logs/healthy.csv",
                              "--format", fmt, "--fail-on", "warning"]).stdout
    golden = GOLDEN / f"two_samples.{ext}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(_normalise(out))
    assert _normalise(out) == golden.read_text()
    assert not re.search(r"/work/|/tmp/", golden.read_text())
