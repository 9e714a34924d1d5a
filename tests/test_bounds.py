"""Resource bounds on hostile inputs (issue 11, section 4): linear time, bounded memory,
one size cap.

Nothing here is a timed assertion.  Each hostile input runs in a fresh process with a
generous timeout, sized so that the quadratic code took minutes (or ran out of memory)
and the linear code takes about a second; memory is bounded with ``RLIMIT_AS`` in the
child, so a reader that builds rows x keys cells fails there and a bounded one passes.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvediag.readers import csv as csvmod
from curvediag.readers import source, wandb

SRC = str(Path(__file__).resolve().parent.parent / "src")
TIMEOUT = 20  # seconds; the linear code needs about one
ONE_LINE = re.compile(r"^curvediag: .+\n$")

# run the CLI with an address-space limit (bytes; 0 = none); it reports one line of stderr
CHILD = r"""
import resource, sys
limit = int(sys.argv[1])
if limit:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv = ["curvediag", "analyze", *sys.argv[2:]]
from curvediag.cli import main
main()
"""


def run_cli(*args: str, limit: int = 0, stdin=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("CURVEDIAG_CONFIG", None)
    try:
        return subprocess.run(
            [sys.executable, "-c", CHILD, str(limit), *args],
            capture_output=True, text=True, timeout=TIMEOUT, env=env, stdin=stdin,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"curvediag analyze {' '.join(args)} still running after {TIMEOUT} s (not linear)")


def assert_refused(r: subprocess.CompletedProcess, path, words: str) -> None:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert ONE_LINE.match(r.stderr), r.stderr[-2000:]
    assert str(path) in r.stderr and words in r.stderr, r.stderr


def assert_analysed(r: subprocess.CompletedProcess) -> dict:
    assert r.returncode in (0, 1), (r.returncode, r.stderr[-2000:])
    return json.loads(r.stdout)


# --- time: linear in the input -------------------------------------------------------------


def test_long_wandb_like_header_is_linear(tmp_path):
    # a quoted column name with many " - " and a line break: the old W&B column regex
    # backtracked over every " - " (78 KiB took 18-42 s; 256 KiB takes minutes)
    name = "a - " * (64 << 10) + "\nx"
    p = tmp_path / "wide_name.csv"
    p.write_text(f'step,loss,"{name}"\n1,2.0,3\n2,1.0,3\n3,0.5,3\n')
    assert_analysed(run_cli(str(p), "--format", "json"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "-", " - ", "\n", "_", "__MIN", "__MAX", "\r", "é"]), max_size=12).map("".join))
def test_panel_names_parse_as_the_regular_expression_did(name):
    old = re.compile(r"^(?P<run>.+?) - (?P<key>.+?)(?P<env>__MIN|__MAX)?$").match(name)
    assert wandb._panel(name) == ((old["run"], old["key"], old["env"]) if old else None)


class _Counting(str):
    """A text that counts the Python-level calls made on it: a linear scan in Python makes
    one per line, a scan in C a handful."""

    calls = 0

    def find(self, *a):
        _Counting.calls += 1
        return super().find(*a)

    def rfind(self, *a):
        _Counting.calls += 1
        return super().rfind(*a)


def test_header_after_millions_of_blank_lines_is_found_without_a_loop_per_line():
    text = _Counting("\n \r\n" * 1_000_000 + "step,loss\n1,2\n")
    _Counting.calls = 0
    assert csvmod._header_line(text) == "step,loss"
    assert _Counting.calls < 10  # the old loop made two million


def test_blank_lines_before_the_header(tmp_path):
    # 100 MB of blank lines before the header: ~40 s with a Python loop per line
    p = tmp_path / "blank_lines.csv"
    with p.open("w") as f:
        f.write("\n" * (100 << 20))
        f.write("epoch,loss,val_loss\n" + "".join(f"{i},{1 / i},{1.1 / i}\n" for i in range(1, 30)))
    out = assert_analysed(run_cli(str(p), "--format", "json"))
    assert out["source"]["rows"] == 29


WIDE = {
    # a 3 MB single line of cells (1.5M duplicate column names: pandas mangles them in
    # quadratic time; minutes)
    "one_line.csv": lambda: ",".join(["1"] * 1_500_000),
    # unique names: 300k pandas columns, ~1 GB and 20 s
    "wide_header.csv": lambda: "step,loss," + ",".join(f"c{i}" for i in range(300_000))
    + "\n1,2," + ",".join(["3"] * 300_000) + "\n",
    # a first data row wider than the header: its extra cells become a 3M-level index
    "wide_row.csv": lambda: "loss,step\n" + "," * 3_000_000 + "\n",
    "wide_row_semicolons.csv": lambda: "loss;step\n" + ";" * 3_000_000 + "\n",
}


@pytest.mark.parametrize("name", sorted(WIDE))
def test_too_many_columns_is_one_line_and_exit_2(tmp_path, name):
    p = tmp_path / name
    p.write_text(WIDE[name]())
    assert_refused(run_cli(str(p)), p, f"(more than {source.MAX_COLUMNS})")


def test_many_columns_below_the_cap_still_read(tmp_path):
    n = source.MAX_COLUMNS
    names = ["step", "loss"] + [f"m{i}" for i in range(n - 2)]
    p = tmp_path / "wide_ok.csv"
    p.write_text(",".join(names) + "\n" + "".join(f"{s},{1 / s}," + ",".join(["0"] * (n - 2)) + "\n" for s in range(1, 6)))
    out = assert_analysed(run_cli(str(p), "--format", "json"))
    assert out["source"]["columns"]["train_loss"] == "loss"
