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
