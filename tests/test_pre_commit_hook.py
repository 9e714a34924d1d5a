"""The pre-commit hook (.pre-commit-hooks.yaml), run by the real `pre-commit` tool on a temporary git
repository: it installs this checkout into its own virtualenv (~1 minute, once per session) and runs the
hook on the staged logs, as a commit would."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from .conftest import REPO, SAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]
yaml = pytest.importorskip("yaml")

if shutil.which("pre-commit") is None or shutil.which("git") is None:
    pytest.skip("pre-commit or git is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """One PRE_COMMIT_HOME for the module: the hook's environment is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _try(home, tmp_path, files: dict[str, bytes]):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    (repo / "README.txt").write_text("not a log\n")
    _git(repo, "add", "-A")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURVEDIAG_")}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    r = subprocess.run(["pre-commit", "try-repo", str(REPO), "curvediag", "--color", "never"], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=900)
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before  # nothing written to or beside the logs
    return r


def test_the_hook_is_declared_as_pre_commit_reads_it():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "curvediag" and hook["entry"] == "curvediag analyze --quiet" and hook["language"] == "python"


def test_a_healthy_log_passes(home, tmp_path):
    r = _try(home, tmp_path, {"runs/a/metrics.csv": (SAMPLES / "healthy.csv").read_bytes()})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "curvediag (training curves)" in r.stdout and "Passed" in r.stdout


def test_a_diverged_log_fails_the_commit_with_its_findings(home, tmp_path):
    r = _try(home, tmp_path, {"runs/a/metrics.csv": (SAMPLES / "healthy.csv").read_bytes(),
                              "runs/b/metrics.csv": (SAMPLES / "diverged.csv").read_bytes()})
    assert r.returncode == 1
    assert "Failed" in r.stdout and "D101" in r.stdout and "runs/b/metrics.csv" in r.stdout


def test_an_unreadable_log_fails_with_one_line(home, tmp_path):
    r = _try(home, tmp_path, {"runs/empty.csv": b""})
    assert r.returncode == 1 and "Failed" in r.stdout
    assert "curvediag: runs/empty.csv:" in r.stdout and "Traceback" not in r.stdout
