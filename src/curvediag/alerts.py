"""Findings sent where people already look: a tracker's alerts (Trackio, Weights & Biases) or a webhook.

Each sink is a callable taking a :class:`~curvediag.monitor.Alert`, so it is given as a callback's
``on_finding`` (which the callbacks call once per new finding at or above their ``level``), or called
with each of ``Monitor.new_alerts``::

    from curvediag.alerts import Webhook, WandbAlerts, fanout
    cb = CurvediagCallback(on_finding=fanout(WandbAlerts(), Webhook("https://hooks.example/x")))

* the level follows the finding's severity (error -> ERROR, warning -> WARN, info -> INFO);
* the text is the finding's message, its evidence and its first remedy;
* each finding (by code) is sent once per sink, however often it is passed;
* a :class:`Webhook` posts JSON on a thread of its own with a time limit: training never waits for it,
  and a failure is logged once (logger ``curvediag.alerts``), not raised.

The trackers are imported only when their sink is made (``pip install trackio`` / ``wandb``)."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable
from .errors import MissingExtra
from .errors import UsageError

if TYPE_CHECKING:
    from .monitor import Alert

log = logging.getLogger("curvediag.alerts")

#: severity -> the level name the trackers use
LEVELS = {"error": "ERROR", "warning": "WARN", "info": "INFO", "ok": "INFO"}
#: characters of an alert's text (W&B and Trackio show a short text)
MAX_TEXT = 2000


def title(alert: "Alert") -> str:
    f = alert.finding
    return f"curvediag: {f.code} {f.name} ({f.severity})"


def text(alert: "Alert") -> str:
    """The message, the evidence (name = value) and the first remedy, at most :data:`MAX_TEXT` characters."""
    f = alert.finding
    where = "" if alert.at is None else f" (at {alert.axis} {alert.at:g})"
    parts = [f.message + where]
    if f.evidence:
        ev = ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in f.evidence.items())
        parts.append(f"Evidence: {ev}")
    if f.remedies:
        parts.append(f"What to do: {f.remedies[0]}")
    out = "\n".join(parts)
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


def payload(alert: "Alert") -> dict[str, Any]:
    """The webhook's JSON body: the alert (as watch's jsonl finding events), its level, text and remedies."""
    return {"source": "curvediag", "title": title(alert), "text": text(alert), "level": LEVELS[alert.finding.severity],
            **alert.to_dict(), "remedies": list(alert.finding.remedies),
            "evidence": json.loads(json.dumps(dict(alert.finding.evidence), default=str, allow_nan=True)
                                   .replace("NaN", "null").replace("-Infinity", "null").replace("Infinity", "null"))}


class _Once:
    """Calls ``send`` once per finding code."""

    def __init__(self) -> None:
        self._sent: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, alert: "Alert") -> None:
        with self._lock:
            if alert.finding.code in self._sent:
                return
            self._sent.add(alert.finding.code)
        self.send(alert)

    def send(self, alert: "Alert") -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class TrackioAlerts(_Once):
    """``trackio.alert(title=, text=, level=)`` for each finding, in the run ``trackio.init`` started."""

    def __init__(self) -> None:
        super().__init__()
        try:
            import trackio
        except ImportError:
            raise MissingExtra("TrackioAlerts needs trackio: pip install trackio") from None
        self._trackio = trackio

    def send(self, alert: "Alert") -> None:
        t = self._trackio
        level = getattr(t.AlertLevel, LEVELS[alert.finding.severity])
        t.alert(title=title(alert), text=text(alert), level=level)


class WandbAlerts(_Once):
    """``wandb.alert(title=, text=, level=)`` for each finding, in the run ``wandb.init`` started
    (in offline mode W&B records them in the run's files)."""

    def __init__(self) -> None:
        super().__init__()
        try:
            import wandb
        except ImportError:
            raise MissingExtra("WandbAlerts needs wandb: pip install wandb") from None
        self._wandb = wandb

    def send(self, alert: "Alert") -> None:
        w = self._wandb
        level = getattr(w.AlertLevel, LEVELS[alert.finding.severity])
        w.alert(title=title(alert), text=text(alert), level=level, wait_duration=0)


class Webhook(_Once):
    """A JSON POST of :func:`payload` to ``url`` per finding, on a daemon thread, ``timeout`` seconds at
    most; training never waits.  A failure (refused, slow, an HTTP error) is logged once, then the
    next ones are counted quietly (``failures``).  ``headers``: e.g. an authorisation header."""

    def __init__(self, url: str, timeout: float = 5.0, headers: dict[str, str] | None = None) -> None:
        super().__init__()
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"Webhook: {url!r} is not an http(s) URL")
        self.url, self.timeout, self.headers = url, float(timeout), dict(headers or {})
        self.failures = 0
        self._threads: list[threading.Thread] = []

    def send(self, alert: "Alert") -> None:
        body = json.dumps(payload(alert), allow_nan=False).encode()
        t = threading.Thread(target=self._post, args=(body,), name="curvediag-webhook", daemon=True)
        self._threads.append(t)
        t.start()

    def _post(self, body: bytes) -> None:
        import urllib.request

        req = urllib.request.Request(self.url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **self.headers})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 -- http(s) checked above
                resp.read(1 << 16)
        except Exception as e:  # never raised into training: logged once
            self.failures += 1
            if self.failures == 1:
                log.warning("curvediag: webhook %s failed (%s); further failures are not logged", self.url, e)

    def flush(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds, default the request time limit) for the posts under way."""
        for t in list(self._threads):
            t.join(self.timeout if timeout is None else timeout)


def fanout(*sinks: Callable[["Alert"], Any]) -> Callable[["Alert"], None]:
    """One ``on_finding`` calling each sink; a sink that raises is logged, the others still run."""

    def each(alert: "Alert") -> None:
        for sink in sinks:
            try:
                sink(alert)
            except Exception as e:
                log.warning("curvediag: alert sink %r failed: %s", sink, e)

    return each


__all__ = ["TrackioAlerts", "WandbAlerts", "Webhook", "fanout", "payload", "text", "title", "LEVELS"]
