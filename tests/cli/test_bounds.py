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
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curvediag.readers import csv as csvmod
from curvediag.readers import source, wandb

pytestmark = pytest.mark.slow  # the whole file (pyproject.toml's markers: the fast suite leaves it out)

SRC = str(Path(__file__).resolve().parents[2] / "src")
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
    return json.loads(r.stdout)[0]


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


# --- memory: bounded by the data kept, and one size cap --------------------------------------

LIMIT = 1536 << 20  # address space of the child: the bounded readers need a few hundred MB


def test_json_lines_each_adding_a_key_are_read_sparsely(tmp_path):
    # 9,000 keys each on one line, then 200k lines of loss: rows x keys would be 1.9e9 cells
    # (17 GB; MemoryError, exit 1 before); the points kept are 209k
    p = tmp_path / "keys.jsonl"
    with p.open("w") as f:
        for k in range(9_000):
            f.write(f'{{"step": {k}, "extra_{k}": 1.5}}\n')
        for s in range(9_000, 209_000):
            f.write(f'{{"step": {s}, "loss": {2.0 / (1 + s / 1e4):.5f}}}\n')
    out = assert_analysed(run_cli(str(p), "--format", "json", limit=LIMIT))
    assert out["source"]["rows"] == 209_000 and out["source"]["columns"]["train_loss"] == "loss"


def test_json_lines_with_too_many_distinct_keys_are_refused_in_one_line(tmp_path):
    # 2.3 MB, every line a new key: not a training log
    p = tmp_path / "every_line_a_key.jsonl"
    p.write_text("".join(f'{{"loss": 1.0, "k{i}": {i}}}\n' for i in range(100_000)))
    assert_refused(run_cli(str(p), limit=LIMIT), p, "distinct keys (more than")


def test_inspect_of_a_sparse_log_lists_every_column(tmp_path):
    from curvediag.api import inspect_log

    p = tmp_path / "sparse.jsonl"
    p.write_text("".join(f'{{"step": {s}, "loss": {1 / s}}}\n' for s in range(1, 200))
                 + "".join(f'{{"step": {200 + i}, "m{i}": {i}}}\n' for i in range(20)))
    info = inspect_log(p)
    cols = {c["column"]: c["points"] for c in info["columns"]}
    assert cols["loss"] == 199 and cols["step"] == 219 and all(cols[f"m{i}"] == 1 for i in range(20))


def _event(step, tag, value):
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.proto.summary_pb2 import Summary

    return Event(step=step, wall_time=1.0, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]))


def _write_events(path: Path, events) -> None:
    pytest.importorskip("tensorboardX")
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.record_writer import masked_crc32c

    with path.open("wb") as f:
        for ev in [Event(wall_time=1.0, file_version="brain.Event:2"), *events]:
            data = ev.SerializeToString()
            head = struct.pack("<Q", len(data))
            f.write(head + struct.pack("<I", masked_crc32c(head)) + data + struct.pack("<I", masked_crc32c(data)))


def test_tensorboard_tags_each_at_their_own_steps_are_read_sparsely(tmp_path):
    # 9,000 tags logged once each at steps of their own after 20k loss steps: 2.6e8 cells
    # (2.4 GB) as rows x tags; the points kept are 29k
    p = tmp_path / "events.out.tfevents.1.host"
    evs = [_event(s, "train_loss", 2.0 / (1 + s / 1e3)) for s in range(20_000)]
    evs += [_event(20_000 + k, f"extra/{k}", 1.0) for k in range(9_000)]
    _write_events(p, evs)
    out = assert_analysed(run_cli(str(p), "--format", "json", limit=LIMIT))
    assert out["source"]["rows"] == 29_000 and out["source"]["columns"]["train_loss"] == "train_loss"


def test_tensorboard_with_too_many_tags_is_refused_in_one_line(tmp_path):
    p = tmp_path / "events.out.tfevents.2.host"
    _write_events(p, [_event(k, f"t{k}", 1.0) for k in range(source.MAX_COLUMNS + 1)])
    assert_refused(run_cli(str(p), limit=LIMIT), p, "distinct tags (more than")


def test_gzip_bomb_is_refused_while_decompressing(tmp_path):
    # 4 GiB of zeros in 64 gzip members of 64 MiB each (a 4 MiB file): decompressed whole,
    # it needed 4+ GB before the size check
    member = gzip.compress(b"0" * (64 << 20), compresslevel=9)
    p = tmp_path / "bomb.csv.gz"
    with p.open("wb") as f:
        f.write(gzip.compress(b"step,loss\n"))
        for _ in range(64):
            f.write(member)
    assert_refused(run_cli(str(p), limit=LIMIT), p, f"larger than {source.MAX_BYTES >> 20} MiB once decompressed")


def test_gzip_below_the_cap_still_reads_with_several_members(tmp_path):
    p = tmp_path / "log.csv.gz"
    body = "epoch,loss,val_loss\n" + "".join(f"{e},{1 / e},{1.1 / e}\n" for e in range(1, 40))
    p.write_bytes(gzip.compress(body[:25].encode()) + gzip.compress(body[25:].encode()) + b"\0\0")
    out = assert_analysed(run_cli(str(p), "--format", "json"))
    assert out["source"]["rows"] == 39


def test_broken_gzip_is_one_line(tmp_path):
    p = tmp_path / "cut.csv.gz"
    data = gzip.compress(b"epoch,loss\n" + b"".join(b"%d,%r\n" % (e, 1 / e) for e in range(1, 5000)))
    p.write_bytes(data[: len(data) // 2])
    assert_refused(run_cli(str(p)), p, "broken gzip data")


def _sparse_file(path: Path, head: bytes, size: int) -> None:
    with path.open("wb") as f:
        f.write(head)
        f.truncate(size)  # a hole: no disk used


def test_plain_file_over_the_cap_is_refused_before_reading(tmp_path):
    # 1.2 GB whose first 64 KiB are plain CSV: read whole by pandas before (the same bytes on
    # stdin were refused)
    p = tmp_path / "huge.csv"
    lines = b"step,loss\n" + b"".join(b"%d,%f\n" % (s, 1 / s) for s in range(1, 9000))
    _sparse_file(p, lines, 1200 << 20)
    assert_refused(run_cli(str(p), limit=LIMIT), p, f"larger than {source.MAX_BYTES >> 20} MiB; not read")


def test_mlflow_metric_files_over_the_cap_are_refused_before_reading(tmp_path):
    run = tmp_path / "mlruns" / "0" / "abc123"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc123\n")
    (run / "metrics" / "val_loss").write_text("1 0.5 0\n2 0.4 1\n")
    _sparse_file(run / "metrics" / "loss", b"1 0.9 0\n2 0.8 1\n", 3 << 30)  # 3 GiB, sparse
    assert_refused(run_cli(str(run), limit=LIMIT), run, f"larger than {source.MAX_BYTES >> 20} MiB of metric files")


def test_dict_of_lists_with_one_long_list_and_many_short_ones(tmp_path):
    # {"loss": [200k values], "k0": [1], ..., "k8999": [1]}: 9,001 x 200k cells (16 GB) before
    cols = {"loss": [round(2.0 / (1 + i / 1e4), 5) for i in range(200_000)], **{f"k{i}": [1] for i in range(9_000)}}
    p = tmp_path / "history.json"
    p.write_text(json.dumps(cols))
    out = assert_analysed(run_cli(str(p), "--format", "json", limit=LIMIT))
    assert out["source"]["rows"] == 200_000


def test_event_files_of_a_directory_over_the_cap_together_are_refused(tmp_path):
    # each file under the cap, together over it: refused before any is read
    d = tmp_path / "tb"
    d.mkdir()
    for k in range(2):
        f = d / f"events.out.tfevents.{k}.host"
        _write_events(f, [_event(s, "loss", 1.0) for s in range(10)])
        with f.open("r+b") as fh:
            fh.truncate(600 << 20)  # a hole after the records: no disk used
    assert_refused(run_cli(str(d), limit=LIMIT), d, f"larger than {source.MAX_BYTES >> 20} MiB of event files")


def test_event_file_padded_with_zeros_ends_at_the_zeros(tmp_path):
    # 1000 MiB of zeros after the records (an unwritten tail): 65 million empty records, read
    # one by one for minutes before; the records before the zeros are the log
    f = tmp_path / "events.out.tfevents.9.host"
    _write_events(f, [_event(s, "train_loss", 1.0 / (s + 1)) for s in range(30)])
    with f.open("r+b") as fh:
        fh.truncate(1000 << 20)
    out = assert_analysed(run_cli(str(f), "--format", "json", limit=LIMIT))
    assert out["source"]["rows"] == 30


def test_a_header_line_repeated_before_every_run_is_linear(tmp_path):
    # 100k appended runs, each with its header line and a restarting iteration counter: the
    # restarts were checked against the list of header rows one by one (quadratic; minutes)
    p = tmp_path / "appended.csv"
    p.write_text("".join(f"epoch,iter,loss\n1,{i % 2},1.0\n1,{i % 2 + 1},0.5\n" for i in range(100_000)))
    out = assert_analysed(run_cli(str(p), "--format", "json"))
    assert out["source"]["rows"] == 299_999
    assert any("runs appended" in n for n in out["source"]["notes"])


def test_pandas_json_columns_with_row_indices_of_their_own(tmp_path):
    # {"loss": {"0": .., ..}, "m0": {"r0": 1}, ...}: every column was spread over the union of
    # all row indices (9,000 x 29,000 cells as lists, then as arrays: 4 GB)
    cols = {"loss": {str(i): 2.0 / (1 + i / 100) for i in range(20_000)}, **{f"m{k}": {f"r{k}": 1.0} for k in range(9_000)}}
    p = tmp_path / "frame.json"
    p.write_text(json.dumps(cols))
    out = assert_analysed(run_cli(str(p), "--format", "json", limit=LIMIT))
    assert out["source"]["format"] == "pandas_json" and out["source"]["rows"] == 29_000
