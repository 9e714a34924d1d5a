"""Findings sent as alerts: a webhook (a server the test starts on localhost), Trackio (locally) and
W&B (offline mode); each finding once, its level from its severity, its evidence and first remedy."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curvediag.alerts import Webhook, fanout, payload, text
from curvediag.monitor import Observer


def _diverging(on_finding):
    """A run whose loss blows up: the observer says its findings (each once) to ``on_finding``."""
    obs = Observer(on_finding=on_finding, level="info")
    for e in range(12):
        loss = 1.0 / (e + 1) if e < 6 else 10.0 ** (e - 5)
        obs.log(epoch=e, loss=loss, val_loss=loss * 1.1 if e < 10 else math.nan)
        obs.evaluate()
    obs.close()
    return obs


class _Hook:
    """A webhook receiver on 127.0.0.1: records each POST's JSON; ``delay`` seconds before answering."""

    def __init__(self, delay: float = 0.0, status: int = 200):
        got = self.got = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append((self.headers.get("Content-Type"), json.loads(self.rfile.read(n))))
                time.sleep(outer.delay)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.delay, self.status = delay, status
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    h = _Hook()
    yield h
    h.close()


def test_webhook_gets_one_json_post_per_finding(hook):
    sent = []
    wh = Webhook(hook.url, timeout=5)
    obs = _diverging(fanout(wh, sent.append))
    wh(sent[0])  # passed again: still sent once
    wh.flush()
    assert sent and len(hook.got) == len(sent) == len({a.finding.code for a in sent})
    by_code = {body["code"]: (ctype, body) for ctype, body in hook.got}
    d101 = next(a for a in sent if a.finding.code in ("D101", "D102"))
    ctype, body = by_code[d101.finding.code]
    assert ctype == "application/json" and body["level"] == "ERROR" and body["severity"] == "error"
    assert body["text"] == text(d101) and d101.finding.message in body["text"]
    assert "Evidence: " in body["text"] and body["remedies"] and f"What to do: {body['remedies'][0]}" in body["text"]
    assert body["evidence"] and body == json.loads(json.dumps(payload(d101)))
    assert obs.stopped_by is None  # observe only: the alerts change nothing


def test_a_slow_webhook_never_blocks_training_and_fails_once_in_the_log(caplog):
    slow = _Hook(delay=3.0)
    try:
        wh = Webhook(slow.url, timeout=0.3)
        with caplog.at_level(logging.WARNING, logger="curvediag.alerts"):
            t0 = time.monotonic()
            sent = []
            _diverging(fanout(wh, sent.append))
            spent = time.monotonic() - t0
            wh.flush(2)
        assert len(sent) >= 2 and spent < 2.0  # several findings, the run never waited for the 3 s answers
        assert wh.failures == len(sent)
        msgs = [r.getMessage() for r in caplog.records if r.name == "curvediag.alerts"]
        assert len(msgs) == 1 and "webhook" in msgs[0] and slow.url in msgs[0]
    finally:
        slow.close()


def test_a_refused_webhook_is_logged_once(caplog):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    wh = Webhook(f"http://127.0.0.1:{port}/x", timeout=2)
    with caplog.at_level(logging.WARNING, logger="curvediag.alerts"):
        _diverging(wh)
        wh.flush()
    assert wh.failures >= 2 and len([r for r in caplog.records if r.name == "curvediag.alerts"]) == 1


def test_webhook_takes_only_http_urls():
    from curvediag import UsageError

    with pytest.raises(UsageError, match="not an http"):
        Webhook("file:///etc/passwd")


# -- the trackers, for real: Trackio's local store, W&B's offline run file --------------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from ..conftest import REPO  # noqa: E402

RUN = '''
import json, math, sys
from curvediag.monitor import Observer
{init}
sent = []
sink = {sink}()
def twice(a):  # passed twice: sent once
    sent.append(a.finding.code); sink(a); sink(a)
obs = Observer(on_finding=twice, level="info")
for e in range(12):
    loss = 1.0 / (e + 1) if e < 6 else 10.0 ** (e - 5)
    obs.log(epoch=e, loss=loss, val_loss=loss * 1.1 if e < 10 else math.nan)
    obs.evaluate()
obs.close()
{finish}
print("RESULT " + json.dumps({{"sent": sent}}))
'''


def _tracker_run(tmp_path, init, sink, finish, env):
    script = RUN.format(init=init, sink=sink, finish=finish)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src"), **env})
    assert r.returncode == 0, r.stderr[-3000:]
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT "):]), r


@pytest.mark.integration
def test_trackio_alerts_in_a_local_run(tmp_path):
    pytest.importorskip("trackio")
    store = tmp_path / "trackio"
    got, _ = _tracker_run(
        tmp_path, "import trackio\ntrackio.init(project='p', name='r', embed=False)\nfrom curvediag.alerts import TrackioAlerts",
        "TrackioAlerts", "trackio.finish()", {"TRACKIO_DIR": str(store)})
    code = ("import json, trackio; print('RESULT ' + json.dumps(trackio.Api().alerts('p'), default=str))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "TRACKIO_DIR": str(store)})
    alerts = json.loads(next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    sent = got["sent"]
    assert sent and sorted(a["title"].split()[1] for a in alerts) == sorted(sent)  # each finding once
    levels = {a["title"].split()[1]: a["level"] for a in alerts}
    assert levels["D101"] == "error" and levels["T101"] == "info"
    d101 = next(a for a in alerts if a["title"].startswith("curvediag: D101"))
    assert "became NaN" in d101["text"] and "Evidence: " in d101["text"] and "What to do: " in d101["text"]
    assert all(a["run"] == "r" for a in alerts)


@pytest.mark.integration
def test_wandb_alerts_in_an_offline_run(tmp_path):
    pytest.importorskip("wandb")
    got, _ = _tracker_run(
        tmp_path, "import wandb\nwandb.init(project='p', mode='offline')\nfrom curvediag.alerts import WandbAlerts",
        "WandbAlerts", "wandb.finish()", {"WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true", "WANDB_MODE": "offline"})
    (run_file,) = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    data = run_file.read_bytes()  # the run's records (protobuf): an alert record holds its title, text and level
    sent = got["sent"]
    assert sent and "D101" in sent
    for code in sent:
        assert data.count(f"curvediag: {code} ".encode()) == 1, code  # each finding once
    i = data.index(b"curvediag: D101 ")
    record = data[i: i + 1500]
    assert b"became NaN" in record and b"What to do: " in record and b"ERROR" in record
