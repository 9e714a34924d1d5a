"""`curvediag watch`: a log another process is still writing, followed and judged as it grows.

The writers are real processes (a Python script appending rows with sleeps, flushing half
lines; rewriting trainer_state.json in place; tensorboardX appending events); the watch runs
as `python -m curvediag watch` in its own process, as a CI job would run it."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import curvediag
from curvediag.config import Settings
from curvediag.watch import Watch, _complete

from ..conftest import REPO

pytestmark = pytest.mark.slow  # the whole file (pyproject.toml's markers: the fast suite leaves it out)

SRC = str(Path(curvediag.__file__).resolve().parent.parent)
ENV = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "NO_COLOR": "1"}
FAST = ["--interval", "0.05", "--idle", "2.5"]  # idle: room for a loaded machine's pauses

WRITER = r'''
import json, os, sys, time
for step in json.load(open(sys.argv[1])):
    op, path = step["op"], step.get("path")
    if op == "mkdir":
        os.makedirs(path, exist_ok=True)
    elif op == "append":  # one row, flushed in two halves with a pause between them
        text = step["text"].encode()
        with open(path, "ab") as f:
            cut = len(text) // 2 if step.get("halves") else len(text)
            f.write(text[:cut]); f.flush(); os.fsync(f.fileno())
            if cut < len(text):
                time.sleep(step.get("pause", 0.08))
                f.write(text[cut:]); f.flush()
    elif op == "rewrite":  # in place, not atomically: truncate, half the document, a pause, the rest
        text = step["text"].encode()
        with open(path, "r+b" if os.path.exists(path) else "wb") as f:
            f.truncate(0); f.seek(0)
            f.write(text[: len(text) // 2]); f.flush(); os.fsync(f.fileno())
            time.sleep(step.get("pause", 0.15))
            f.write(text[len(text) // 2:]); f.flush()
    elif op == "tb":  # tensorboardX, flushed after every scalar
        from tensorboardX import SummaryWriter
        w = SummaryWriter(path, flush_secs=3600)
        for s, (loss, val) in enumerate(step["points"]):
            w.add_scalar("train/loss", loss, s); w.add_scalar("val/loss", val, s); w.flush()
            time.sleep(step["sleep"])
        w.close()
        continue
    time.sleep(step.get("sleep", 0.0))
'''


def curve(kind: str, n: int, seed: int = 0) -> list[tuple[float, float]]:
    """(train_loss, val_loss) per epoch: healthy, overfitting, or diverging (NaN from 60% of the way)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    train = 0.3 + 2.0 * np.exp(-t / (n / 5)) * (1 + 0.01 * rng.standard_normal(n))
    if kind == "healthy":
        val = train * 1.05 + 0.02
    elif kind == "overfitting":
        val = 0.35 + 2.0 * np.exp(-t / (n / 5)) + np.maximum(0, t - n / 3) * 0.05
    else:
        val = train * 1.05
        blow = int(n * 0.6)
        train[blow:] = np.nan
        val[blow:] = np.nan
    return [(float(a), float(b)) for a, b in zip(train, val)]


def csv_steps(path: Path, points, sleep=0.03, halves=True) -> list[dict]:
    steps = [{"op": "append", "path": str(path), "text": "epoch,loss,val_loss\n"}]
    for e, (a, b) in enumerate(points):
        steps.append({"op": "append", "path": str(path), "text": f"{e},{a:.6g},{b:.6g}\n",
                      "halves": halves and e % 3 == 0, "sleep": sleep})
    return steps


def start_writer(tmp_path: Path, steps: list[dict]) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    spec = tmp_path / f"steps{time.monotonic_ns()}.json"
    spec.write_text(json.dumps(steps))
    return subprocess.Popen([sys.executable, str(script), str(spec)], env=ENV)


def watch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curvediag", "watch", *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout)


def events(out: str) -> list[dict]:
    evs = [json.loads(line) for line in out.splitlines()]
    assert evs and evs[-1]["event"] == "end"
    assert all(e["event"] == "finding" for e in evs[:-1])
    return evs


def assert_once(evs: list[dict]) -> None:
    codes = [e["code"] for e in evs if e["event"] == "finding"]
    assert len(codes) == len(set(codes)), f"a finding was said twice: {codes}"


def finish(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)


# -- another process appends a CSV --------------------------------------------------------------


def test_diverging_csv_stops_at_the_first_error_while_the_writer_still_writes(tmp_path):
    log = tmp_path / "metrics.csv"
    steps = csv_steps(log, curve("diverged", 30), sleep=0.05)
    steps += [{"op": "append", "path": str(log), "text": f"{e},nan,nan\n", "sleep": 0.5} for e in range(30, 60)]
    writer = start_writer(tmp_path, steps)
    try:
        r = watch(str(log), "--fail-on", "error", "--format", "jsonl", *FAST)
        still_writing = writer.poll() is None
    finally:
        finish(writer)
    assert r.returncode == 1, r.stderr
    assert still_writing, "the watch should end at the blow-up, not when the writer ends"
    evs = events(r.stdout)
    assert_once(evs)
    assert evs[-1] == {**evs[-1], "reason": "fail-on", "verdict": "diverged", "exit_status": 1}
    first_error = next(e for e in evs if e["event"] == "finding" and e["severity"] == "error")
    assert first_error["verdict"] == "diverged"
    assert 18 <= first_error["at"] <= 22, first_error  # NaN from epoch 18: said within a few rows of it
    assert r.stderr == ""


def test_healthy_csv_ends_clean_after_idle_with_the_report_analyze_gives(tmp_path):
    log = tmp_path / "metrics.csv"
    writer = start_writer(tmp_path, csv_steps(log, curve("healthy", 40)))
    try:
        r = watch(str(log), "--format", "jsonl", "--fail-on", "error", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    assert_once(evs)
    end = evs[-1]
    assert end["reason"] == "idle" and end["rows"] == 40 and end["path"] == str(log)
    posthoc = curvediag.diagnose(str(log))
    assert end["verdict"] == posthoc.verdict
    assert {e["code"] for e in evs[:-1]} <= {f.code for f in posthoc.findings} | {"I101", "T101", "O103"}
    assert r.stderr == ""


def test_text_output_says_each_finding_once_as_alert_lines(tmp_path):
    log = tmp_path / "history.csv"
    writer = start_writer(tmp_path, csv_steps(log, curve("overfitting", 40), sleep=0.02))
    try:
        r = watch(str(log), "--fail-on", "never", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    findings = [ln for ln in lines[:-1]]
    assert findings and all(re.match(r"curvediag: [A-Z]\d{3} [a-z-]+ \((info|warning|error)\)( at epoch \d+)?: ", ln)
                            for ln in findings), lines
    codes = [ln.split()[1] for ln in findings]
    assert len(codes) == len(set(codes))
    assert "O102" in codes or "O101" in codes
    assert lines[-1].startswith(f"curvediag: {log}: overfitting after 40 rows (no change for 2.5 s)")


# -- only complete content is diagnosed ---------------------------------------------------------


def _recording(monkeypatch) -> list[list[float]]:
    """Every train_loss series the watch hands to the engine."""
    import curvediag.engine as engine

    seen: list[list[float]] = []
    real = engine.analyse

    def analyse(curves, settings):
        s = curves.series.get("train_loss")
        seen.append([] if s is None else [float(v) for v in s.y])
        return real(curves, settings)

    monkeypatch.setattr(engine, "analyse", analyse)
    return seen


def _same_prefix(read: list[float], truth: list[float]) -> bool:
    return len(read) <= len(truth) and all(
        (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-9 * max(1.0, abs(b)) for a, b in zip(read, truth)
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "trainer_state"])
def test_a_half_written_record_is_waited_for_never_read_as_data(tmp_path, monkeypatch, fmt):
    """The file grows (or is rewritten) by a few bytes between every look: every cut, at every
    byte, is seen, and nothing diagnosed is ever other than a prefix of the true losses (a cut
    '0.45' is never read as 0.4)."""
    truth = [0.45 + 1.0 / (e + 1) for e in range(12)]
    if fmt == "csv":
        text = "epoch,loss,val_loss\n" + "".join(f"{e},{v:.4f},{v + 0.01:.4f}\n" for e, v in enumerate(truth))
    elif fmt == "jsonl":
        text = "".join(json.dumps({"epoch": e, "loss": round(v, 4), "val_loss": round(v + 0.01, 4)}) + "\n"
                       for e, v in enumerate(truth))
    truth = [round(v, 4) for v in truth]
    log = tmp_path / ("trainer_state.json" if fmt == "trainer_state" else f"log.{fmt}")
    if fmt == "trainer_state":
        states = []
        for k in range(1, len(truth) + 1):
            hist = []
            for e in range(k):
                hist += [{"epoch": e + 1.0, "loss": truth[e], "step": (e + 1) * 10},
                         {"epoch": e + 1.0, "eval_loss": truth[e] + 0.01, "step": (e + 1) * 10}]
            states.append(json.dumps({"global_step": k * 10, "log_history": hist}, indent=2))
        # every state written by truncating and writing it in 7 pieces, a look between each
        frames = [s[: len(s) * i // 7] for s in states for i in range(8)]
    else:
        frames = [text[:i] for i in range(0, len(text) + 1, 3)] + [text]
    seen = _recording(monkeypatch)
    it = iter(frames)
    log.write_text(next(it))

    def sleep(_):
        try:
            log.write_text(next(it))
        except StopIteration:
            pass

    clock = iter(range(10**6))
    w = Watch(str(log), Settings(fail_on="never"), interval=0, idle=len(frames) + 5, min_points=1,
              sleep=sleep, clock=lambda: float(next(clock)))
    end = w.run()
    assert end.status == 0 and end.reason == "idle", end
    assert len(seen) >= len(truth) // 2, "the watch should diagnose as rows arrive"
    for read in seen:
        assert _same_prefix(read, truth), (read, truth)
    assert seen[-1] == pytest.approx(truth)


def test_complete_cuts_text_at_the_last_newline_and_keeps_whole_json():
    assert _complete(b"epoch,loss\n1,0.5\n2,0.4", None) == b"epoch,loss\n1,0.5\n"
    assert _complete(b'{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "lo', None) == b'{"epoch": 1, "loss": 0.5}\n'
    whole = b'{"log_history": [{"epoch": 1, "loss": 0.5}]}'  # no newline at its end: complete anyway
    assert _complete(whole, None) == whole
    assert _complete(b"epoch,loss\n1,0.5\n2,0.4", "csv") == b"epoch,loss\n1,0.5\n"


# -- trainer_state.json rewritten in place, JSON Lines, TensorBoard, run directories ----------


def _state(points) -> str:
    hist = []
    for e, (a, b) in enumerate(points):
        hist.append({"epoch": float(e + 1), "loss": a, "step": (e + 1) * 10})
        hist.append({"epoch": float(e + 1), "eval_loss": b, "step": (e + 1) * 10})
    return json.dumps({"global_step": len(points) * 10, "log_history": hist}, indent=2)  # NaN as json.dump writes it


@pytest.mark.parametrize("kind, status", [("healthy", 0), ("diverged", 1)])
def test_trainer_state_rewritten_every_few_steps_by_another_process(tmp_path, kind, status):
    log = tmp_path / "trainer_state.json"
    pts = curve(kind, 30)
    steps = [{"op": "rewrite", "path": str(log), "text": _state(pts[:k]), "sleep": 0.1, "pause": 0.1}
             for k in range(3, 31, 3)]
    writer = start_writer(tmp_path, steps)
    try:
        r = watch(str(log), "--format", "jsonl", "--fail-on", "error", *FAST)
    finally:
        finish(writer)
    assert r.returncode == status, r.stderr
    assert r.stderr == ""  # a half-written document is a wait, never an error
    evs = events(r.stdout)
    assert_once(evs)
    if kind == "healthy":
        assert evs[-1]["reason"] == "idle" and evs[-1]["rows"] == 60  # a train and an eval entry per epoch
        assert evs[-1]["verdict"] == curvediag.diagnose(str(log)).verdict
    else:
        assert evs[-1]["reason"] == "fail-on" and evs[-1]["verdict"] == "diverged"


def test_json_lines_appended_by_another_process(tmp_path):
    log = tmp_path / "metrics.jsonl"
    steps = [{"op": "append", "path": str(log), "halves": e % 2 == 0, "sleep": 0.03,
              "text": json.dumps({"epoch": e, "loss": a, "val_loss": b}) + "\n"}
             for e, (a, b) in enumerate(curve("overfitting", 40))]
    writer = start_writer(tmp_path, steps)
    try:
        r = watch(str(log), "--format", "jsonl", "--fail-on", "warning", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 1, r.stderr
    evs = events(r.stdout)
    assert_once(evs)
    assert evs[-1]["reason"] == "fail-on" and evs[-1]["rows"] < 40
    assert any(e.get("verdict") == "overfitting" for e in evs[:-1])


def first_event_file(run: Path) -> None:
    """Wait (up to 60 s) for tensorboardX, slow to import, to create the event file."""
    deadline = time.monotonic() + 60
    while not list(run.glob("events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.slow
def test_tensorboard_event_file_appended_by_tensorboardx(tmp_path):
    pytest.importorskip("tensorboardX")
    run = tmp_path / "tb"
    pts = curve("diverged", 30)
    writer = start_writer(tmp_path, [{"op": "tb", "path": str(run), "points": pts, "sleep": 0.1}])
    try:
        first_event_file(run)
        r = watch(str(run), "--format", "jsonl", "--fail-on", "error", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 1, r.stderr
    evs = events(r.stdout)
    assert_once(evs)
    assert evs[-1]["verdict"] == "diverged" and evs[-1]["reason"] == "fail-on"
    assert "D101" in {e["code"] for e in evs[:-1]}


@pytest.mark.slow
def test_healthy_tensorboard_run_is_followed_to_its_end(tmp_path):
    pytest.importorskip("tensorboardX")
    run = tmp_path / "tb"
    writer = start_writer(tmp_path, [{"op": "tb", "path": str(run), "points": curve("healthy", 25), "sleep": 0.05}])
    try:
        first_event_file(run)
        r = watch(str(run), "--format", "jsonl", "--fail-on", "error", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 0, r.stderr
    evs = events(r.stdout)
    assert evs[-1]["reason"] == "idle" and evs[-1]["rows"] == 25


def test_run_directory_where_the_log_appears_after_watch_started(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    logdir = root / "lightning_logs" / "version_0"
    log = logdir / "metrics.csv"
    steps = [{"op": "sleep", "sleep": 0.6}, {"op": "mkdir", "path": str(logdir)}] + csv_steps(log, curve("diverged", 30))
    writer = start_writer(tmp_path, steps)
    try:
        r = watch(str(root), "--format", "jsonl", "--fail-on", "error", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 1, r.stderr
    evs = events(r.stdout)
    assert evs[-1]["path"] == str(log) and evs[-1]["verdict"] == "diverged"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        ["writer.py", "metrics.csv"] + [p.name for p in tmp_path.glob("steps*.json")]
    ), "watch wrote something"


# -- errors and signals -------------------------------------------------------------------------


def test_missing_file_that_never_appears_is_one_line_and_status_2(tmp_path):
    missing = tmp_path / "never.csv"
    t0 = time.monotonic()
    r = watch(str(missing), "--interval", "0.05", "--idle", "1")
    assert r.returncode == 2
    assert r.stderr.strip() == f"curvediag: {missing}: no such file (nothing appeared in 1 s)"
    assert r.stdout == "" and time.monotonic() - t0 < 20
    r = watch(str(missing), "--interval", "0.05", "--idle", "0.5", "--format", "jsonl")
    assert r.returncode == 2 and events(r.stdout)[-1]["exit_status"] == 2


@pytest.mark.parametrize("content, problem", [(b"", "empty file"), (b"\x00\x01binary\x00", "binary data")])
def test_a_file_unreadable_once_idle_is_one_line_and_status_2(tmp_path, content, problem):
    log = tmp_path / "log.csv"
    log.write_bytes(content)
    r = watch(str(log), "--interval", "0.05", "--idle", "0.5")
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 1 and str(log) in r.stderr and problem in r.stderr
    assert "Traceback" not in r.stderr and log.read_bytes() == content


def test_a_device_or_stdin_is_refused_at_once():
    r = watch("/dev/null", "--idle", "30")
    assert r.returncode == 2 and r.stderr.strip() == "curvediag: /dev/null: not a regular file (device, FIFO or socket); not read"
    r = watch("-", "--idle", "30")
    assert r.returncode == 2 and "stdin" in r.stderr


def test_a_run_directory_with_no_log_ever_is_status_2(tmp_path):
    r = watch(str(tmp_path), "--interval", "0.05", "--idle", "0.5")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "no training log" in r.stderr and "nothing appeared in 0.5 s" in r.stderr


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_end_it_quietly(tmp_path, sig, status):
    log = tmp_path / "m.csv"
    log.write_text("epoch,loss\n0,1.0\n1,0.9\n")
    p = subprocess.Popen([sys.executable, "-m", "curvediag", "watch", str(log), "--idle", "60", "--format", "jsonl"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(1.5)
    p.send_signal(sig)
    out, err = p.communicate(timeout=20)
    assert p.returncode == status
    assert "Traceback" not in err and len(err.splitlines()) <= 1
    assert events(out)[-1] == {**events(out)[-1], "reason": "interrupted", "exit_status": status}


def test_settings_come_from_the_config_file_as_for_analyze(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nfail-on = "never"\nignore = ["D"]\n')
    log = tmp_path / "m.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{a},{b}\n" for e, (a, b) in enumerate(curve("diverged", 30))))
    r = subprocess.run([sys.executable, "-m", "curvediag", "watch", str(log), "-f", "jsonl", *FAST],
                       capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr  # fail-on never, from the file
    assert not any(e.get("code", "").startswith("D") for e in events(r.stdout))  # ignore = ["D"]
    r = subprocess.run([sys.executable, "-m", "curvediag", "watch", str(log), "-f", "jsonl", "--config",
                        str(tmp_path / "missing.toml"), *FAST], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1


# -- --webhook: each new finding POSTed once to a server the test starts on localhost -------------


class _Receiver:
    """An HTTP server on 127.0.0.1 recording the JSON of each POST."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        got = self.got = []

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(n))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_webhook_gets_each_new_finding_of_a_growing_log_once(tmp_path):
    log = tmp_path / "metrics.csv"
    steps = csv_steps(log, curve("diverged", 30), sleep=0.05)
    steps += [{"op": "append", "path": str(log), "text": f"{e},nan,nan\n", "sleep": 0.5} for e in range(30, 60)]
    hook = _Receiver()
    writer = start_writer(tmp_path, steps)
    try:
        r = watch(str(log), "--fail-on", "error", "--format", "jsonl", "--webhook", hook.url, *FAST)
    finally:
        finish(writer)
        hook.close()
    assert r.returncode == 1, r.stderr
    assert r.stderr == ""
    evs = events(r.stdout)
    findings = [e for e in evs if e["event"] == "finding"]
    assert findings and evs[-1]["reason"] == "fail-on"
    # one POST per finding said, the one that ended the watch included, each the alerts' payload
    assert sorted(b["code"] for _, b in hook.got) == sorted(e["code"] for e in findings)
    by_code = {b["code"]: (ctype, b) for ctype, b in hook.got}
    for e in findings:
        ctype, body = by_code[e["code"]]
        assert ctype == "application/json" and body["source"] == "curvediag"
        assert {k: body[k] for k in ("code", "name", "verdict", "severity", "message", "at", "axis", "points")} == \
            {k: e[k] for k in ("code", "name", "verdict", "severity", "message", "at", "axis", "points")}
        assert body["level"] == {"error": "ERROR", "warning": "WARN", "info": "INFO"}[e["severity"]]
        assert body["title"] == f"curvediag: {e['code']} {e['name']} ({e['severity']})"
        assert e["message"] in body["text"] and isinstance(body["remedies"], list)
    assert by_code[findings[-1]["code"]][1]["severity"] == "error"


def test_a_refused_webhook_is_said_once_on_stderr_and_the_watch_goes_on(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    log = tmp_path / "metrics.csv"
    writer = start_writer(tmp_path, csv_steps(log, curve("overfitting", 40), sleep=0.02))
    try:
        r = watch(str(log), "--fail-on", "never", "--webhook", f"http://127.0.0.1:{port}/x", *FAST)
    finally:
        finish(writer)
    assert r.returncode == 0, r.stderr
    said = r.stdout.splitlines()
    assert len(said) >= 3 and said[-1].startswith(f"curvediag: {log}: overfitting after 40 rows")  # went on to the end
    err = r.stderr.splitlines()
    assert len(err) == 1 and "webhook" in err[0] and f"127.0.0.1:{port}" in err[0] and "failed" in err[0], r.stderr


@pytest.mark.parametrize("url", ["ftp://example.com/x", "hooks.example.com/x", ""])
def test_a_webhook_that_is_not_an_http_url_is_one_line_and_status_2(tmp_path, url):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,loss,val_loss\n0,1,1\n")
    r = watch(str(log), "--webhook", url, *FAST)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "not an http(s) URL" in r.stderr, r.stderr


# -- the README -------------------------------------------------------------------------------


def test_readme_documents_every_watch_option():
    from typer.testing import CliRunner

    from curvediag.cli import app

    readme = (REPO / "README.md").read_text()
    out = CliRunner().invoke(app, ["watch", "--help"]).stdout
    for opt in set(re.findall(r"(--[a-z][a-z-]+)", out)) - {"--help"}:
        assert opt in readme, opt
    assert "curvediag watch" in readme


@pytest.mark.slow
@pytest.mark.parametrize("kind, status", [("diverged", 1), ("healthy", 0)])
def test_readme_ci_recipe_trains_and_gates_in_one_step_under_bash_e(tmp_path, kind, status):
    readme = (REPO / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S) if "curvediag watch" in b)
    (tmp_path / "runs").mkdir()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    spec = tmp_path / "steps.json"
    spec.write_text(json.dumps(csv_steps(tmp_path / "runs" / "metrics.csv", curve(kind, 40), sleep=0.03)
                               + ([{"op": "sleep", "sleep": 30}] if kind == "diverged" else [])))
    recipe = (block.replace("python train.py", f"{sys.executable} {script} {spec}")
              .replace("curvediag watch", f"{sys.executable} -m curvediag watch")
              .replace("--idle 120", "--idle 2.5 --interval 0.05"))
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-e", "-c", recipe], capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=60)
    assert r.returncode == status, (r.stdout, r.stderr)
    assert time.monotonic() - t0 < 25, "the diverging training should be killed, not waited for"


def test_a_hostile_file_name_is_shown_escaped(tmp_path):
    log = tmp_path / "m\x1b[2J\n::error::x.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{a},{b}\n" for e, (a, b) in enumerate(curve("healthy", 20))))
    r = watch(str(log), "--fail-on", "never", "--interval", "0.05", "--idle", "0.5")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\\x1b[2J\\n::error::x.csv" in r.stdout.splitlines()[-1]
    missing = tmp_path / "gone\x1b]0;t\x07.csv"
    r = watch(str(missing), "--interval", "0.05", "--idle", "0.3")
    assert r.returncode == 2 and "\x1b" not in r.stderr and "\x07" not in r.stderr and len(r.stderr.splitlines()) == 1


def _fake_time():
    t = [0.0]

    def sleep(s):
        t[0] += 1.0

    return (lambda: t[0]), sleep, t


def test_min_points_holds_findings_back_but_not_a_nan(tmp_path):
    log = tmp_path / "m.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{e},{a},{b}\n" for e, (a, b) in enumerate(curve("overfitting", 40))))
    clock, sleep, t = _fake_time()
    said = []
    w = Watch(str(log), Settings(fail_on="never"), interval=1, idle=10, min_points=100, clock=clock, sleep=sleep,
              emit=lambda ev, a: said.append((t[0], ev)))
    end = w.run()
    findings = [(at, ev) for at, ev in said if ev["event"] == "finding"]
    assert end.status == 0 and findings and all(at >= 10 for at, _ in findings)  # only once the log is whole
    assert {ev["code"] for _, ev in findings} >= {"O102"} or {ev["code"] for _, ev in findings} >= {"O101"}

    log.write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,nan,nan\n")
    clock, sleep, t = _fake_time()
    said.clear()
    w = Watch(str(log), Settings(fail_on="error"), interval=1, idle=10, min_points=100, clock=clock, sleep=sleep,
              emit=lambda ev, a: said.append((t[0], ev)))
    end = w.run()
    assert end.status == 1 and end.reason == "fail-on"
    assert said[0][0] < 10 and said[0][1]["code"] == "D101"  # at the first look, not at the end
