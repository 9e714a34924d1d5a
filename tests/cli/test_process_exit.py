"""The command line as a process: it ends with os._exit after flushing (no interpreter teardown),
so everything it writes must be complete by then; and start-up imports no HTTP client unless an
input is an MLflow server address."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..conftest import REPO, sample

SRC = str(REPO / "src")


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CURVEDIAG_CONFIG", None)
    return env


def test_outputs_are_complete_and_the_status_kept_after_os_exit(tmp_path):
    out = tmp_path / "report.json"
    big = [str(sample(n)) for n in ("overfitting.csv", "healthy.csv", "diverged.csv")] * 20
    r = subprocess.run([sys.executable, "-m", "curvediag", "analyze", *big, "--format", "jsonl", "--output", str(out)],
                       capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert r.returncode == 1, r.stderr  # findings at the default --fail-on warning
    lines = r.stdout.splitlines()
    assert len(lines) == len(big) and all(json.loads(line)["verdict"] for line in lines)
    assert [d["verdict"] for d in json.loads(out.read_text())] == [json.loads(line)["verdict"] for line in lines]
    assert r.stderr == ""
    # the same bytes as the in-process command line, which does not end the process
    code = "import sys; sys.argv = ['curvediag', *sys.argv[1:]]; from curvediag import cli; raise SystemExit(cli.main_status())"
    r2 = subprocess.run([sys.executable, "-c", code, "analyze", *big, "--format", "jsonl"], capture_output=True,
                        text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert (r2.returncode, r2.stdout) == (r.returncode, r.stdout)


def test_start_up_imports_no_http_client_for_a_file():
    code = ("import sys; sys.argv = ['curvediag', 'analyze', sys.argv[1], '--fail-on', 'never']\n"
            "from curvediag import cli\n"
            "status = cli.main_status()\n"
            "print(sorted(m for m in ('urllib.request', 'http.client', 'ssl', 'socket') if m in sys.modules), file=sys.stderr)\n")
    r = subprocess.run([sys.executable, "-c", code, str(sample("healthy.csv"))], capture_output=True, text=True,
                       env=_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "[]"
