"""The pre-commit hook (.pre-commit-hooks.yaml), run by the real `pre-commit` tool on a temporary git
repository pinning this checkout's HEAD (so: the committed hook): `pre-commit install` makes it the
repository's git hook, its virtualenv is built once (~1 minute), and each test is a real `git commit`."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ..conftest import REPO, SAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.slow]
yaml = pytest.importorskip("yaml")

if shutil.which("pre-commit") is None or shutil.which("git") is None:
    pytest.skip("pre-commit or git is not installed", allow_module_level=True)


def _git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A git repository whose .pre-commit-config.yaml names this checkout's HEAD (the hook as a user
    pins it), with the hook installed as the repository's pre-commit hook and its environment built once."""
    root = tmp_path_factory.mktemp("pre-commit")
    repo, home = root / "repo", root / "home"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "test@example.com")
    _git(repo, "config", "user.name", "test")
    rev = _git(REPO, "rev-parse", "HEAD").stdout.strip()
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {REPO}\n  rev: {rev}\n  hooks:\n  - id: curvediag\n    files: ^runs/\n")
    (repo / "data.json").write_text('{"not": "a log"}\n')  # outside files: ^runs/, never read
    _git(repo, "add", "-A")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURVEDIAG_", "GIT_"))}
    env.update(PRE_COMMIT_HOME=str(home), NO_COLOR="1")
    for cmd in (["install"], ["install-hooks"]):
        r = subprocess.run(["pre-commit", *cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stdout + r.stderr
    _git(repo, "commit", "-qm", "config")

    class Project:
        pass

    p = Project()
    p.repo, p.env = repo, env
    return p


def _commit(project, files: dict[str, bytes]):
    """``git commit`` of ``files`` (the hook runs on them as git runs it); the repository reset after."""
    repo = project.repo
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    _git(repo, "add", "-A")
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    r = subprocess.run(["git", "commit", "-m", "logs"], cwd=repo, env=project.env, capture_output=True, text=True,
                       timeout=600)
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before  # nothing written to or beside the logs
    if r.returncode == 0:
        _git(repo, "reset", "-q", "--hard", "HEAD~1")
    else:
        _git(repo, "reset", "-q", "--hard", "HEAD")
    _git(repo, "clean", "-qfdx")
    return r


def test_the_hook_is_declared_as_pre_commit_reads_it():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "curvediag" and hook["entry"] == "curvediag analyze --quiet" and hook["language"] == "python"


def test_a_healthy_log_is_committed(project):
    r = _commit(project, {"runs/a/metrics.csv": (SAMPLES / "healthy.csv").read_bytes()})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "curvediag (training curves)" in r.stdout + r.stderr and "Passed" in r.stdout + r.stderr


def test_a_diverged_log_refuses_the_commit_with_its_findings(project):
    r = _commit(project, {"runs/a/metrics.csv": (SAMPLES / "healthy.csv").read_bytes(),
                          "runs/b/metrics.csv": (SAMPLES / "diverged.csv").read_bytes()})
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Failed" in out
    assert "runs/b/metrics.csv: D101 non-finite-loss error:" in out and "runs/a/metrics.csv: D" not in out


def test_an_unreadable_log_refuses_the_commit_with_one_line(project):
    r = _commit(project, {"runs/empty.csv": b""})
    out = r.stdout + r.stderr
    assert r.returncode == 1 and "Failed" in out
    assert "curvediag: runs/empty.csv:" in out and "Traceback" not in out
