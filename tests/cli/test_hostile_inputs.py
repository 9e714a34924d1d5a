"""Inputs that used to crash a reader (a traceback, or exit 1 as if it were a finding):
each is one line on stderr naming the file and the problem, exit status 2 — through the
CLI in-process, and for some in a real process.  Also the inputs that are *valid* but
were refused or misread (huge integers, raw U+2028 in JSON Lines, gzip without .gz,
non-UTF-8 run names), and symbolic links that lead out of a run directory."""

from __future__ import annotations

import builtins
import gzip
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curvediag.cli import app

SRC = str(Path(__file__).resolve().parents[2] / "src")
runner = CliRunner()


# --- a TensorBoard event file, encoded by hand so that fields can be sent wrongly --------------


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _ld(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _record(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + b"\0" * 4 + data + b"\0" * 4


def event_file(points, value_field=None, step_field=None) -> bytes:
    """Events of tag 'loss'; ``value_field(value)`` / ``step_field(step)`` encode those
    fields (default: a 32-bit simple_value and a varint step)."""
    value_field = value_field or (lambda v: _key(2, 5) + struct.pack("<f", v))
    step_field = step_field or (lambda s: _key(2, 0) + _varint(s))
    out = _record(_key(1, 1) + struct.pack("<d", 1.7e9) + _ld(3, b"brain.Event:2"))
    for step, value in points:
        val = _ld(1, b"loss") + value_field(value)
        out += _record(_key(1, 1) + struct.pack("<d", 1.7e9 + step) + step_field(step) + _ld(5, _ld(1, val)))
    return out


def tensor_value(dtype_field, float_field):
    return lambda v: _ld(8, dtype_field + float_field(v))


LOSS = [(i, 2 * math.exp(-i / 5) + 0.05) for i in range(20)]


# --- the cases ------------------------------------------------------------------------------------


def mlflow_store(root: Path, lines: str, name: bytes = b"brave-owl") -> Path:
    run = root / "mlruns" / "0" / "a1b2c3"
    (run / "metrics").mkdir(parents=True)
    (run / "tags").mkdir()
    (run / "meta.yaml").write_text("run_id: a1b2c3\n")
    (run / "tags" / "mlflow.runName").write_bytes(name)
    (run / "metrics" / "loss").write_text(lines)
    return root / "mlruns"


def _metric_lines(last_step: str) -> str:
    return "".join(f"{1000 + i} {1 / (i + 1)} {i}\n" for i in range(20)) + f"1100 0.01 {last_step}\n"


@pytest.fixture(autouse=True)
def _remove_deep_trees(tmp_path):
    """shutil.rmtree (and pytest's clean-up of old temp dirs) recurses: take a deep tree
    down from the bottom, without recursion."""
    yield
    d = tmp_path / "deep"
    if not d.is_dir():
        return
    leaf = d
    while (leaf / "d").is_dir():
        leaf = leaf / "d"
    while True:
        for f in leaf.iterdir():
            f.unlink()
        leaf.rmdir()
        if leaf == d:
            break
        leaf = leaf.parent


def deep_dir(root: Path, depth: int = 1200) -> Path:
    d = root / "deep"
    leaf = d
    for _ in range(depth + 1):  # os.makedirs itself recurses
        leaf.mkdir()
        leaf = leaf / "d"
    leaf = leaf.parent
    (leaf / "metrics.csv").write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.3\n")
    return d


def _sqlite_inf_step(root: Path) -> Path:
    import sqlite3

    db = root / "mlflow.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE metrics (key, value, timestamp, run_uuid, step, is_nan)")
    con.executemany("INSERT INTO metrics VALUES ('loss', ?, ?, 'r1', ?, 0)", [(1 / (i + 1), i, i) for i in range(20)] + [(0.1, 30, math.inf)])
    con.commit()
    con.close()
    return db


#: name -> (build(tmp_path) -> (path to analyze, path named in the message), extra CLI args, problem)
CASES = {
    "tb_simple_value_as_varint": (
        lambda t: _file(t / "events.out.tfevents.1.host", event_file(LOSS, value_field=lambda v: _key(2, 0) + _varint(3))),
        [], "simple_value sent as a varint",
    ),
    "tb_tensor_float_as_varint": (
        lambda t: _file(t / "events.out.tfevents.2.host", event_file(LOSS, value_field=tensor_value(_key(1, 0) + _varint(1), lambda v: _key(5, 0) + _varint(7)))),
        [], "float_val sent as a varint",
    ),
    "tb_step_as_double": (
        lambda t: _file(t / "events.out.tfevents.3.host", event_file(LOSS, step_field=lambda s: _key(2, 1) + struct.pack("<d", s))),
        [], "step sent as a 64-bit field",
    ),
    "mlflow_file_step_1e400": (lambda t: _store(t, _metric_lines("1e400")), [], "step '1e400' is not a whole number"),
    "mlflow_file_step_inf": (lambda t: _store(t, _metric_lines("inf")), [], "step 'inf' is not a whole number"),
    "mlflow_file_step_nan": (lambda t: _store(t, _metric_lines("nan")), [], "step 'nan' is not a whole number"),
    "mlflow_file_step_fraction": (lambda t: _store(t, _metric_lines("2.5")), [], "step '2.5' is not a whole number"),
    "mlflow_file_value_text": (lambda t: _store(t, _metric_lines("3").replace(" 0.01 ", " big ")), [], "value 'big' is not a number"),
    "mlflow_sqlite_step_inf": (lambda t: (_sqlite_inf_step(t),) * 2, [], "step inf is not a whole number"),
    "mlflow_run_name_not_found_not_utf8": (
        lambda t: (mlflow_store(t, _metric_lines("20"), b"ow\xffl"),) * 2, ["--run", os.fsdecode(b"ow\xfe")], "no MLflow run",
    ),
    "deep_directory": (lambda t: (deep_dir(t),) * 2, [], "nested too deeply"),
    "wandb_csv_without_step": (
        lambda t: _file(t / "export.csv", b"run - loss,run - val_loss\n" + b"".join(b"%f,%f\n" % (1 / (i + 1), 1.2 / (i + 1)) for i in range(20))),
        ["--input-format", "wandb_csv"], "without a 'Step' column",
    ),
}


def _file(p: Path, content: bytes):
    p.write_bytes(content)
    return p, p


def _store(t: Path, lines: str):
    store = mlflow_store(t, lines)
    return store, store / "0" / "a1b2c3" / "metrics" / "loss"


def check_one_line(code, stderr, named, problem):
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert str(named) in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_is_one_line_and_exit_2(tmp_path, name):
    build, args, problem = CASES[name]
    path, named = build(tmp_path)
    r = runner.invoke(app, ["analyze", str(path), *args, "--format", "json"])
    check_one_line(r.exit_code, r.stderr, named, problem)
    assert r.exception is None or isinstance(r.exception, SystemExit)


@pytest.mark.parametrize("name", ["tb_simple_value_as_varint", "mlflow_file_step_1e400", "deep_directory", "wandb_csv_without_step"])
def test_hostile_input_in_a_real_process(tmp_path, name):
    build, args, problem = CASES[name]
    path, named = build(tmp_path)
    p = subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(path), *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    check_one_line(p.returncode, p.stderr, named, problem)


# --- unreadable files and directories -----------------------------------------------------------


def test_unreadable_mlflow_metric_file_in_process(tmp_path, monkeypatch):
    # tests run as root, for whom permissions do not apply: the refusal is simulated
    store = mlflow_store(tmp_path, _metric_lines("20"))
    metric = store / "0" / "a1b2c3" / "metrics" / "loss"
    real_open = builtins.open

    def deny(file, *a, **k):
        if os.fspath(file) == str(metric):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    real_os_open = os.open

    def deny_fd(file, *a, **k):  # files the user names are opened with os.open (never blocking on a FIFO)
        if os.fspath(file) == str(metric):
            raise PermissionError(13, "Permission denied", str(file))
        return real_os_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    monkeypatch.setattr(os, "open", deny_fd)
    r = runner.invoke(app, ["analyze", str(store)])
    check_one_line(r.exit_code, r.stderr, metric, "permission denied")


def test_unsearchable_directory_in_process(tmp_path, monkeypatch):
    sub = tmp_path / "run" / "logs"
    sub.mkdir(parents=True)
    (sub / "metrics.csv").write_text("epoch,loss\n0,1\n1,0.5\n")
    real_stat = os.stat

    def deny(path, *a, **k):
        if str(sub) in os.fspath(path) and os.fspath(path) != str(sub):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *a, **k)

    monkeypatch.setattr(os, "stat", deny)
    r = runner.invoke(app, ["analyze", str(tmp_path / "run")])
    check_one_line(r.exit_code, r.stderr, sub, "permission denied")


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to drop DAC override")
@pytest.mark.parametrize("what", ["metric_file", "directory"])
def test_unreadable_entries_in_a_real_process_without_dac_override(what):
    d = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        d.chmod(0o755)
        store = mlflow_store(d, _metric_lines("20"))
        metric = store / "0" / "a1b2c3" / "metrics" / "loss"
        locked = metric if what == "metric_file" else metric.parent
        locked.chmod(0o000 if what == "metric_file" else 0o600)  # a directory listable but not searchable
        cmd = [SETPRIV, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "curvediag", "analyze", str(store)]
        p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
        check_one_line(p.returncode, p.stderr, metric, "permission denied")
    finally:
        for root, dirs, files in os.walk(d):
            for x in dirs + files:
                os.chmod(os.path.join(root, x), 0o755)
        shutil.rmtree(d)


# --- valid inputs that were refused or crashed ----------------------------------------------------


@pytest.mark.parametrize("digits", [400, 5000])
@pytest.mark.parametrize("shape", ["json", "jsonl", "not_a_metric"])
def test_huge_integers_in_json_are_infinite_like_a_csvs(write, digits, shape):
    big = "9" * digits
    if shape == "json":
        p = write("h.json", '{"loss": [1.0, 0.8, 0.6, %s]}' % big)
    elif shape == "jsonl":
        p = write("h.jsonl", "".join('{"loss": %s}\n' % v for v in ("1.0", "0.8", "0.6", big)))
    else:  # a seed nobody analyses must not stop the read
        p = write("h.json", '{"seed": %s, "loss": [1.0, 0.8, 0.6, 0.5, 0.45, 0.42]}' % big)
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)[0]["metrics"]["train_loss"]
    assert m["last"] == (None if shape != "not_a_metric" else 0.42)
    assert m.get("non_finite_values") == ({"last": "Infinity"} if shape != "not_a_metric" else None)


def test_json_lines_with_raw_line_separators_inside_strings(write):
    seps = ["\u2028", "\u2029", "\x85", "\x0c", "\x1c", "\x1d", "\x1e"]
    text = "".join(json.dumps({"epoch": i, "loss": 1 / (i + 1), "note": f"a{seps[i % len(seps)]}b"}, ensure_ascii=False) + "\n" for i in range(14))
    p = write("raw.jsonl", text.encode("utf-8"))
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["metrics"]["train_loss"]["points"] == 14


@pytest.mark.parametrize("name", ["metrics.csv", "log", "history.json.txt"])
def test_gzip_is_known_by_its_magic_bytes_not_its_name(write, name):
    # big enough (and with quotes) that the pandas path re-reads the file from disk
    rows = "".join(f'{i},{1 / (i + 1)},"{1.1 / (i + 1)}"\n' for i in range(30000))
    p = write(name, gzip.compress(("epoch,loss,val_loss\n" + rows).encode()))
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)[0]["metrics"]["train_loss"]["points"] == 30000


def test_non_utf8_run_name_is_matched_as_given(tmp_path):
    store = mlflow_store(tmp_path, _metric_lines("20"), b"ow\xffl")
    r = runner.invoke(app, ["analyze", str(store), "--run", os.fsdecode(b"ow\xffl"), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    # and as raw bytes on a real command line
    p = subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(store), "--run", b"ow\xffl", "--format", "json",
                        "--fail-on", "never"], capture_output=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["source"]["format"] == "mlflow"


# --- symbolic links out of the directory given ----------------------------------------------------


def test_symlinks_out_of_an_mlflow_store_are_not_followed(tmp_path):
    secret = tmp_path / "elsewhere"
    secret.mkdir()
    (secret / "loss").write_text("".join(f"{i} 99.0 {i}\n" for i in range(20)))
    store = mlflow_store(tmp_path / "store", _metric_lines("20"))
    metrics = store / "0" / "a1b2c3" / "metrics"
    (metrics / "val_loss").symlink_to(secret / "loss")  # a file outside
    (metrics / "sub").symlink_to(secret, target_is_directory=True)  # a directory outside
    (metrics / "again").symlink_to(metrics / "loss")  # inside: fine
    r = runner.invoke(app, ["analyze", str(store), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert "val_loss" not in d["metrics"]  # the outside file was not read
    assert any("2 symbolic link(s) leading outside" in n for n in d["source"]["notes"]), d["source"]["notes"]
    # a whole run reached through a link out of the store is not a run of it
    other = tmp_path / "store2"
    (other / "mlruns" / "0").mkdir(parents=True)
    (other / "mlruns" / "0" / "linked").symlink_to(store / "0" / "a1b2c3", target_is_directory=True)
    r = runner.invoke(app, ["analyze", str(other / "mlruns")])
    assert r.exit_code == 2 and "no training log" in r.stderr and "Traceback" not in r.stderr


def test_symlinks_out_of_a_run_directory_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    (outside / "version_9").mkdir(parents=True)
    (outside / "version_9" / "metrics.csv").write_text("epoch,loss,val_loss\n" + "".join(f"{i},99,99\n" for i in range(10)))
    (outside / "secret.csv").write_text("epoch,loss\n0,99\n1,99\n")
    run = tmp_path / "run"
    (run / "lightning_logs" / "version_0").mkdir(parents=True)
    (run / "lightning_logs" / "version_0" / "metrics.csv").write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1)},{1.2 / (i + 1)}\n" for i in range(10)))
    (run / "lightning_logs" / "version_9").symlink_to(outside / "version_9", target_is_directory=True)
    r = runner.invoke(app, ["analyze", str(run), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert d["metrics"]["train_loss"]["first"] == 1.0  # version_0, not the newer-numbered link
    assert any("symbolic links leading outside" in n for n in d["source"]["notes"]), d["source"]["notes"]
    only_link = tmp_path / "run2"
    only_link.mkdir()
    (only_link / "metrics.csv").symlink_to(outside / "secret.csv")
    r = runner.invoke(app, ["analyze", str(only_link)])
    assert r.exit_code == 2 and "no training log" in r.stderr and "symbolic links" in r.stderr
    # the directory given may itself be a link: its own contents are inside it
    alias = tmp_path / "alias"
    alias.symlink_to(run, target_is_directory=True)
    assert runner.invoke(app, ["analyze", str(alias), "--fail-on", "never"]).exit_code == 0


def test_symlinked_event_files_out_of_a_tensorboard_directory(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "events.out.tfevents.9.host").write_bytes(event_file([(i, 99.0) for i in range(20)]))
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "events.out.tfevents.1.host").write_bytes(event_file(LOSS))
    (logs / "events.out.tfevents.2.host").symlink_to(outside / "events.out.tfevents.9.host")
    r = runner.invoke(app, ["analyze", str(logs), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert d["metrics"]["train_loss"]["last"] == pytest.approx(LOSS[-1][1], rel=1e-4)
    assert any("outside" in n for n in d["source"]["notes"]), d["source"]["notes"]


# --- decimal commas ---------------------------------------------------------------------------------


def _decimal_comma_log(sep: str, rows: int, quote: bool) -> str:
    q = '"' if quote else ""
    body = "".join(f"{i}{sep}{q}{0.9 - i * 1e-5:.5f}{q}{sep}{q}{1.0 - i * 1e-5:.5f}{q}\n".replace(".", ",") for i in range(rows))
    return f"epoch{sep}loss{sep}val_loss\n" + body


@pytest.mark.parametrize(
    "sep,rows,quote",
    [(";", 20, False), ("\t", 20, False), ("|", 20, False), (",", 20, True), (";", 20000, False), (";", 20, True)],
    ids=["semicolon", "tab", "pipe", "comma_quoted", "semicolon_pandas_path", "semicolon_quoted"],
)
def test_decimal_commas_are_named_as_such(write, sep, rows, quote):
    p = write("sheet.csv", _decimal_comma_log(sep, rows, quote))
    r = runner.invoke(app, ["analyze", str(p), "--format", "json"])
    check_one_line(r.exit_code, r.stderr, p, "decimal commas in column 'loss' ('0,90000')")
    assert "no recognisable loss column" not in r.stderr


def test_a_huge_sparse_mlflow_metric_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from curvediag.readers import source

    store = mlflow_store(tmp_path, _metric_lines("20"))
    metric = store / "0" / "a1b2c3" / "metrics" / "val_loss"
    with open(metric, "wb") as fh:
        fh.truncate(3 << 30)  # 3 GiB of holes: no disk used
    reads = []
    real_open = builtins.open

    def watch(file, *a, **k):
        reads.append(os.fspath(file))
        return real_open(file, *a, **k)

    real_os_open = os.open

    def watch_fd(file, *a, **k):  # files the user names are opened with os.open
        reads.append(os.fspath(file))
        return real_os_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", watch)
    monkeypatch.setattr(os, "open", watch_fd)
    r = runner.invoke(app, ["analyze", str(store)])
    check_one_line(r.exit_code, r.stderr, store, f"larger than {source.MAX_BYTES >> 20} MiB")
    assert str(metric) not in reads
