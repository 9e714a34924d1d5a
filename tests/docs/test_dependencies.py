"""The runtime dependencies stay installable and fast: what pyproject.toml allows is what was measured.

typer <= 0.25 depends on click with no upper bound (and imports APIs Click 9 removes), so a fresh install
after Click 9 would break; typer 0.26-0.28 vendor Click (no click dependency at all); typer 0.29 requires
pydantic and imports it at start-up (docs/performance.md, "typer").  The release facts below were read
from the wheels' METADATA (Requires-Dist) and sources."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

from ..conftest import REPO

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
DEPS = {Requirement(d).name: Requirement(d) for d in PROJECT["dependencies"]}

#: typer releases and what they need besides rich/shellingham (from their wheels' METADATA)
TYPER_CLICK_UNBOUNDED = ["0.12.0", "0.15.1", "0.20.0", "0.24.0", "0.25.1"]  # Requires-Dist: click>=8.x, no upper bound
TYPER_VENDORED_CLICK = ["0.26.0", "0.27.0", "0.28.0"]  # no click, no pydantic
TYPER_PYDANTIC = ["0.29.0", "0.29.2"]  # Requires-Dist: pydantic>=2.5.3; imported by commands with options


def test_typer_is_bounded_to_the_releases_without_an_unbounded_click_or_pydantic():
    spec = DEPS["typer"].specifier
    for v in TYPER_CLICK_UNBOUNDED:
        assert not spec.contains(v), f"typer {v} needs click with no upper bound: Click 9 breaks a fresh install"
    for v in TYPER_VENDORED_CLICK:
        assert spec.contains(v), v
    for v in TYPER_PYDANTIC:
        assert not spec.contains(v), f"typer {v} imports pydantic at start-up"


def test_every_dependency_that_can_break_is_bounded():
    # click itself is not a dependency (typer vendors it); if one is added, it must exclude Click 9
    if "click" in DEPS:
        assert not DEPS["click"].specifier.contains("9.0"), DEPS["click"]


def test_no_module_imports_click_directly():
    """typer 0.26+ has no click to import: the code uses typer's API only."""
    for path in (REPO / "src" / "curvediag").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not any(n == "click" or n.startswith("click.") for n in names), path


@pytest.mark.parametrize("args", [["--help"], ["rules"], ["analyze", "--help"]])
def test_start_up_imports_no_pydantic(args):
    check = ("import sys, runpy; sys.argv = ['curvediag'] + sys.argv[1:]\n"
             "try:\n    from curvediag import cli; cli.main_status()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pydantic', 'pandas', 'scipy', 'matplotlib') if m in sys.modules), file=sys.stderr)")
    r = subprocess.run([sys.executable, "-c", check, *args], capture_output=True, text=True,
                       env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr
