"""--output and --plot never lose a file: no output into an input (files a run directory
or store resolved to, everything inside it, links to it); device nodes and FIFOs are
written, never replaced; permission bits are kept; temporary files never stay behind."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app

from ..conftest import sample
from ..readers.test_stores import mlflow_run

runner = CliRunner()
SRC = str(Path(curvediag.__file__).resolve().parent.parent)  # the curvediag under test, also in subprocesses


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


def proc(*args, timeout=60, **kw):
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(kw.pop("env", {}))
    if "stdout" not in kw:
        kw["capture_output"] = True
    return subprocess.run([sys.executable, "-m", "curvediag", *map(str, args)], timeout=timeout, env=env, **kw)


def snapshot(root: Path) -> dict:
    """Every path under root with its bytes (files), link target (symlinks) or None (dirs)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_symlink():
            out[str(p)] = ("link", os.readlink(p))
        elif p.is_file():
            out[str(p)] = ("file", p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        else:
            out[str(p)] = ("dir",)
    return out


def _run_dir(tmp):
    d = tmp / "run"
    d.mkdir()
    shutil.copy(sample("overfitting.csv"), d / "metrics.csv")
    return d


def _mlflow_db(tmp):
    db = tmp / "mlflow.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250))")
    con.execute("CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, run_uuid VARCHAR(32), step BIGINT, is_nan BOOLEAN)")
    con.execute("INSERT INTO runs VALUES ('r1', 'one')")
    for i in range(20):
        con.execute("INSERT INTO metrics VALUES ('loss', ?, ?, 'r1', ?, 0)", (2.0 / (i + 1), 1000 + i, i))
        con.execute("INSERT INTO metrics VALUES ('val_loss', ?, ?, 'r1', ?, 0)", (2.2 / (i + 1) + 0.02 * i, 1000 + i, i))
    con.commit()
    con.close()
    return db


def layout(name, tmp):
    """(arguments before the option, the --output target, the --plot target)."""
    if name == "run dir, the log it resolved to":
        d = _run_dir(tmp)
        return [d], d / "metrics.csv", d / "metrics.csv"
    if name == "run dir, a new file inside it":
        d = _run_dir(tmp)
        return [d], d / "report.json", d / "curves.png"
    if name == "run dir given through a symlink":
        d = _run_dir(tmp)
        (tmp / "link").symlink_to(d)
        return [tmp / "link"], d / "metrics.csv", d / "curves.png"
    if name == "target is a symlink to the input":
        d = _run_dir(tmp)
        (tmp / "out.csv").symlink_to(d / "metrics.csv")
        (tmp / "out.png").symlink_to(d / "metrics.csv")
        return [d / "metrics.csv"], tmp / "out.csv", tmp / "out.png"
    if name == "target is a hard link to a file inside the run dir":
        d = _run_dir(tmp)
        os.link(d / "metrics.csv", tmp / "out.csv")
        os.link(d / "metrics.csv", tmp / "out.png")
        return [d], tmp / "out.csv", tmp / "out.png"
    if name == "target is reached through a symlink inside the run dir":
        d = _run_dir(tmp)
        other = tmp / "elsewhere"
        other.mkdir()
        (other / "old.csv").write_text("keep me\n")
        (d / "more").symlink_to(other)
        return [d], other / "old.csv", other / "new.png"
    if name == "MLflow file store":
        mlflow_run(tmp)
        return [tmp / "mlruns"], tmp / "mlruns" / "0" / "report.md", tmp / "mlruns" / "0" / "curves.png"
    if name == "MLflow run directory":
        r = mlflow_run(tmp)
        return [r], r / "metrics" / "val_loss", r / "metrics" / "curves.svg"
    if name == "MLflow SQLite database and its journal files":
        db = _mlflow_db(tmp)
        return [db], tmp / "mlflow.db-wal", tmp / "mlflow.db-journal"
    if name == "directory holding the database":
        _mlflow_db(tmp)
        return [tmp, "--run", "one"], tmp / "mlflow.db", tmp / "x.png"
    if name == "the config file":
        cfg = tmp / "cfg.toml"
        cfg.write_text('fail-on = "never"\n')
        log = tmp / "log.csv"
        shutil.copy(sample("healthy.csv"), log)
        return [log, "--config", cfg], cfg, tmp / "cfg.toml"
    raise KeyError(name)


LAYOUTS = [
    "run dir, the log it resolved to",
    "run dir, a new file inside it",
    "run dir given through a symlink",
    "target is a symlink to the input",
    "target is a hard link to a file inside the run dir",
    "target is reached through a symlink inside the run dir",
    "MLflow file store",
    "MLflow run directory",
    "MLflow SQLite database and its journal files",
    "directory holding the database",
    "the config file",
]


@pytest.mark.parametrize("opt", ["--output", "--plot"])
@pytest.mark.parametrize("name", LAYOUTS)
def test_output_that_is_or_is_inside_an_input_is_refused(tmp_path, name, opt):
    args, out, plot = layout(name, tmp_path)
    before = snapshot(tmp_path)
    r = run("analyze", *args, opt, out if opt == "--output" else plot, "--fail-on", "never")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    assert "never writes to its inputs" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert snapshot(tmp_path) == before


def test_output_beside_an_input_is_still_allowed(tmp_path):
    d = _run_dir(tmp_path)
    r = run("analyze", d, "-o", tmp_path / "report.json", "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "report.json").read_text().startswith("[")  # --format json: an array (schema 2)


def test_output_and_plot_naming_one_file_is_refused(tmp_path):
    r = run("analyze", sample("healthy.csv"), "-o", tmp_path / "x.html", "--plot", tmp_path / "x.html")
    assert r.exit_code == 2 and "same file" in r.stderr and not (tmp_path / "x.html").exists()


@pytest.mark.parametrize("opt,name", [("--output", "r.json"), ("--plot", "c.svg")])
def test_replacing_a_file_keeps_its_permission_bits(tmp_path, opt, name):
    target = tmp_path / name
    target.write_text("old")
    os.chmod(target, 0o600)
    r = run("analyze", sample("overfitting.csv"), opt, target, "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    assert target.read_text() != "old"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("opt,name", [("--output", "r.json"), ("--output", "new.md"), ("--plot", "c.png"), ("--plot", "new.html")])
def test_a_failed_write_leaves_no_temporary_file_and_the_old_file_whole(tmp_path, monkeypatch, opt, name):
    import curvediag.output as out

    def full_disk(fd, data):
        os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(out, "_write_all", full_disk)
    target = tmp_path / name
    if not name.startswith("new"):
        target.write_bytes(b"precious")
    r = run("analyze", sample("overfitting.csv"), opt, target, "--fail-on", "never")
    assert r.exit_code == 2 and "No space left on device" in r.stderr and len(r.stderr.splitlines()) == 1
    assert [p.name for p in tmp_path.iterdir()] == ([] if name.startswith("new") else [name])
    if not name.startswith("new"):
        assert target.read_bytes() == b"precious"


def test_nothing_is_written_when_every_input_failed(tmp_path):
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    r = run("analyze", bad, "-o", tmp_path / "new.json")
    assert r.exit_code == 2 and not (tmp_path / "new.json").exists()
    old = tmp_path / "old.json"
    old.write_text('{"verdict": "healthy"}')
    r = run("analyze", bad, tmp_path / "missing.csv", "-o", old, "--output-format", "junit")
    assert r.exit_code == 2 and old.read_text() == '{"verdict": "healthy"}'


def _device(tmp_path, name, minor):
    """A character device node in tmp_path (a twin of /dev/null or /dev/full): the real ones
    are never put at risk, even by a broken build."""
    if os.geteuid() != 0:
        pytest.skip("creating a device node needs root")
    p = tmp_path / name
    os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    return p


@pytest.mark.parametrize("opt,ext", [("--output", ".json"), ("--plot", ".svg")])
def test_a_character_device_is_written_to_not_replaced(tmp_path, opt, ext):
    null = _device(tmp_path, "null" + ext, 3)
    r = run("analyze", sample("healthy.csv"), opt, null, "--fail-on", "never")
    assert r.exit_code == 0, r.stderr
    assert stat.S_ISCHR(os.stat(null).st_mode) and sorted(os.listdir(tmp_path)) == [null.name]


def test_a_full_device_is_one_line_and_exit_2(tmp_path):
    full = _device(tmp_path, "full.json", 7)
    r = run("analyze", sample("healthy.csv"), "-o", full)
    assert r.exit_code == 2 and "No space left on device" in r.stderr and len(r.stderr.splitlines()) == 1
    assert stat.S_ISCHR(os.stat(full).st_mode) and os.listdir(tmp_path) == [full.name]


def test_a_fifo_is_written_to_not_replaced(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        r = proc("analyze", sample("healthy.csv"), "-o", fifo, "--fail-on", "never")
        assert r.returncode == 0, r.stderr
        got = reader.communicate(timeout=30)[0]
    finally:
        reader.kill()
        reader.wait()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == [fifo.name]
    assert b'"verdict"' in got


def test_a_fifo_nobody_reads_is_an_error_not_a_hang(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    r = proc("analyze", sample("healthy.csv"), "-o", fifo, timeout=60)
    assert r.returncode == 2 and b"FIFO" in r.stderr and len(r.stderr.splitlines()) == 1
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and os.listdir(tmp_path) == [fifo.name]


@pytest.mark.parametrize("how", ["/dev/fd/1", "symlink to /proc/self/fd/1"])
def test_stdout_by_name_is_written_directly(tmp_path, how):
    # never the literal /dev/stdout here: a broken build would replace the system's node
    target = how
    if how.startswith("symlink"):
        target = tmp_path / "out.json"
        target.symlink_to("/proc/self/fd/1")
    r = proc("analyze", sample("healthy.csv"), "-o", target, "--output-format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert b'"verdict": "healthy"' in r.stdout and os.listdir(tmp_path) == ([] if how.startswith("/") else ["out.json"])
    with open(tmp_path / "redirected.txt", "wb") as fh:  # stdout redirected to a file
        r = proc("analyze", sample("healthy.csv"), "-o", target, "--output-format", "json", stdout=fh,
                 stderr=subprocess.PIPE, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert b'"verdict": "healthy"' in (tmp_path / "redirected.txt").read_bytes()
    if not how.startswith("/"):
        assert target.is_symlink()


@pytest.mark.parametrize("ext", ["png", "svg", "html"])
@pytest.mark.parametrize("name", ["$\\frac{1}{$", "val$_x$", "$$", "_hidden", "a\x1b[2Jb"])
def test_plot_draws_names_matplotlib_would_parse_as_mathtext(tmp_path, ext, name):
    pytest.importorskip("matplotlib")
    import json
    import math

    log = tmp_path / f"log{name.replace('/', '_')}.json"
    log.write_text(json.dumps({name: [2 * math.exp(-i / 5) + 0.05 for i in range(30)],
                               "val_loss": [2 * math.exp(-i / 5) + 0.3 + 0.03 * max(0, i - 10) for i in range(30)]}))
    out = tmp_path / f"curves.{ext}"
    r = run("analyze", log, "--loss", name, "--plot", out, "--fail-on", "never")
    assert r.exit_code == 0, (r.stderr, r.exception)
    assert out.stat().st_size > 1000


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(d))
    return out


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_sigterm_with_jobs_leaves_no_worker_running(tmp_path):
    import math
    import signal
    import time

    rows = "".join(f"{i},{2 * math.exp(-i / 3e4) + 0.05:.6f},{2 * math.exp(-i / 3e4) + 0.3:.6f}\n" for i in range(150_000))
    first = tmp_path / "r00.csv"
    first.write_text("epoch,loss,val_loss\n" + rows)
    logs = [first] + [tmp_path / f"r{i:03d}.csv" for i in range(1, 300)]  # ~10 s of work: still running when signalled
    for p in logs[1:]:
        os.link(first, p)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen([sys.executable, "-m", "curvediag", "analyze", "-j", "2", *map(str, logs)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(workers) < 2 and p.poll() is None:
            workers = _children(p.pid)
            time.sleep(0.05)
        assert len(workers) >= 2, "the workers never started"
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_running(w) for w in workers):
            time.sleep(0.05)
        left = [w for w in workers if _running(w)]
        assert not left, f"workers still running after SIGTERM: {left}"
        assert rc in (-signal.SIGTERM, 128 + signal.SIGTERM, 2)
    finally:
        for w in workers:
            try:
                os.kill(w, signal.SIGKILL)
            except OSError:
                pass
        if p.poll() is None:
            p.kill()
            p.wait()
