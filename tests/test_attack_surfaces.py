"""Issue 20: the ways an attacker could still make curvediag hang, grow without bound, be
bypassed or write where it must not.  One test (or parametrised family) per *class* of
problem; each failed on 8f9ef0e.  Hangs are run in a real process with a timeout, so that a
regression fails the test instead of hanging the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = str(ROOT / "src")
SAMPLES = ROOT / "sample_logs"


def proc(*args, timeout=60, cwd=None, **kw):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(kw.pop("env", {}))
    return subprocess.run([sys.executable, "-m", "curvediag", *map(str, args)], timeout=timeout, env=env,
                          capture_output=True, text=True, cwd=cwd, **kw)


def one_line_error(r, *words):
    """Exit 2 and one line on stderr naming every word (and never a traceback)."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# --- a FIFO (or any special file) is refused before anything opens it ---------------------------


@pytest.mark.parametrize("extra", [[], ["--run", "all"], ["-f", "jsonl"], ["--input-format", "csv"],
                                   ["--input-format", "wandb_csv", "--run", "all"], ["--input-format", "json"]])
def test_a_fifo_given_to_analyze_is_refused_not_waited_on(tmp_path, extra):
    fifo = tmp_path / "log.csv"
    os.mkfifo(fifo)
    r = proc("analyze", fifo, *extra, timeout=30)
    one_line_error(r, str(fifo), "FIFO")


def test_a_fifo_is_refused_by_the_library_too(tmp_path):
    import curvediag
    from curvediag.errors import InputError

    fifo = tmp_path / "log.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        curvediag.diagnose(str(fifo))
