"""A live MLflow tracking server, over its REST API (``/api/2.0/mlflow/...``).

The input is a URI: ``mlflow+http://HOST:PORT/#experiment=NAME`` (``mlflow+https://`` for TLS; the plain
``http://HOST:PORT`` MLflow prints and ``MLFLOW_TRACKING_URI`` holds too, and a UI link
``http://HOST:PORT/#/experiments/ID[/runs/RUN_ID]``;
a path after the port for a server behind a proxy; ``experiment_id=ID`` instead of a name; no
experiment: every experiment; ``&run=NAME`` is ``--run NAME``).  The fragment (``#...``) is ours:
it never reaches the server.

* Runs: ``runs/search`` (paginated, newest first); ``--run`` matches a run id prefix or a run
  name (or a prefix of it); without ``--run``, the newest run is read, as for an MLflow file store.
* Each metric's whole history: ``metrics/get-history`` (paginated); NaN and MLflow's stand-in for
  infinity (+-1.797e308) are read back as NaN and +-inf.
* Every request has a time limit on the whole request, connection to last byte (:data:`TIMEOUT`,
  or ``CURVEDIAG_HTTP_TIMEOUT`` seconds): a server that sends one byte every few seconds is cut
  off too.  An answer larger than :data:`MAX_ANSWER` bytes is refused; a listing (experiments,
  runs, a metric's history) stops with a one-line error naming the limit after :data:`MAX_PAGES`
  pages, :data:`MAX_RUNS` runs, :data:`MAX_LISTING` bytes of answers in all, a page token the
  server already gave, or :data:`MAX_EMPTY_PAGES` empty pages in a row.  A server that is down,
  slow, not an MLflow server, or whose answer is malformed is a one-line
  :class:`~curvediag.errors.InputError` naming the URI.
* ``user:password@`` in the URI is sent as HTTP basic authentication (as MLflow's own
  ``MLFLOW_TRACKING_USERNAME``/``PASSWORD``) and never shown: every message, report and path
  shows the URI with the password replaced by ``***`` (:func:`redact`).
* :func:`tag_reports` writes the verdict back as run tags (``analyze --tag-runs``): the only
  write, and only when asked.

Only the standard library is used (``urllib``): no MLflow client needs to be installed.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .._np import np

from ..errors import InputError
from ..table import RawTable

from .uri import PLAIN, SCHEMES, is_server_uri  # noqa: F401 - one definition, light to import
from ..errors import UsageError
from .runs import AmbiguousRun, choices, pick
from .tfevents import table_from_arrays
#: seconds one request may take
TIMEOUT = 10.0
#: bytes of one answer
MAX_ANSWER = 64 << 20
#: metric points read for one run
MAX_POINTS = 10_000_000
#: pages of one listing (experiments, runs, one metric's history)
MAX_PAGES = 1_000
#: runs listed from one server URI
MAX_RUNS = 100_000
#: bytes of all the answers of one listing of experiments or runs together (a metric's history:
#: 1 GiB, the size cap of any input)
MAX_LISTING = 256 << 20
_MAX_HISTORY_BYTES = 1 << 30
#: empty pages in a row that still carry a next_page_token
MAX_EMPTY_PAGES = 3
_PAGE = 25_000  # points per get-history page (MLflow's own maximum)
_FLOAT_MAX = 1.7976931348623157e308
_STEP_MAX = 1 << 63
_HOST = re.compile(r"[A-Za-z0-9._~%-]+|\[[0-9A-Fa-f:.]+(%[A-Za-z0-9._~-]+)?\]")


def redact(uri: str) -> str:
    """``uri`` with the password of a ``user:password@`` part replaced by ``***`` (any string:
    one that is not a server URI is returned as it is).  Every name of a server URI curvediag
    shows goes through here."""
    if not is_server_uri(uri):
        return uri
    head, sep, rest = uri.partition("://")
    end = len(rest)
    for c in "/?#":
        i = rest.find(c)
        if i >= 0:
            end = min(end, i)
    netloc = rest[:end]
    if "@" not in netloc:
        return uri
    user, _, host = netloc.rpartition("@")
    name = user.split(":", 1)[0]
    shown = f"{name}:***" if ":" in user else "***"
    return f"{head}{sep}{shown}@{host}{rest[end:]}"


@dataclass(frozen=True)
class Target:
    base: str  # http(s)://host:port/prefix, without a trailing slash
    experiment: str | None
    experiment_id: str | None
    run: str | None
    shown: str  # the URI as the user gave it, for messages (its password redacted)
    run_id: str | None = None  # ``#run_id=ID``: exactly this run, fetched without listing the others
    auth: str | None = None  # ``user:password`` of the URI, sent as basic authentication, never shown

    @property
    def origin(self) -> str:
        """``base`` with the URI's credentials: what a URI that reads a run again must hold."""
        if not self.auth:
            return self.base
        scheme, _, rest = self.base.partition("://")
        return f"{scheme}://{self.auth}@{rest}"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    name: str
    experiment_id: str
    start_time: int
    metric_keys: tuple[str, ...]


def parse(uri: str) -> Target:
    shown = redact(uri)
    if not is_server_uri(uri):
        raise InputError(shown, "not an MLflow server URI (mlflow+http://HOST:PORT/#experiment=NAME)")
    if any(ord(c) < 32 or ord(c) == 127 for c in uri) or " " in uri.partition("#")[0]:
        raise InputError(shown, "a control character or space in the MLflow server URI")
    rest = uri[len("mlflow+"):] if uri.startswith(SCHEMES) else uri
    try:
        parts = urllib.parse.urlsplit(rest)
        host = parts.hostname
        port = parts.port
    except ValueError as e:  # "Invalid IPv6 URL", "Port out of range 0-65535", a port that is not a number
        why = "the port is not a number" if ("invalid literal" in str(e) or "cast to integer" in str(e)) else str(e)
        raise InputError(shown, f"not a valid MLflow server URI ({why})") from None
    if not host:
        raise InputError(shown, "no host in the MLflow server URI (mlflow+http://HOST:PORT/#experiment=NAME)")
    hostport = parts.netloc.rpartition("@")[2]
    hostpart = hostport if hostport.startswith("[") and hostport.endswith("]") else (
        hostport.rsplit(":", 1)[0] if port is not None or hostport.endswith(":") else hostport)
    if not _HOST.fullmatch(hostpart):
        raise InputError(shown, f"not a valid host name in the MLflow server URI: {hostpart!r}")
    if parts.fragment.startswith("/"):  # a link into the MLflow UI: its route, not our keys
        frag = _ui_route(shown, parts.fragment)
    else:
        frag = urllib.parse.parse_qs(parts.fragment, keep_blank_values=True)
    known = {"experiment", "experiment_id", "run", "run_id"}
    unknown = sorted(set(frag) - known)
    if unknown:
        raise InputError(shown, f"unknown key {unknown[0]!r} after '#' (known: experiment, experiment_id, run, run_id)")
    auth = None
    if "@" in parts.netloc:
        auth = parts.netloc.rpartition("@")[0]
    base = urllib.parse.urlunsplit((parts.scheme, hostport, parts.path.rstrip("/"), "", ""))
    one = lambda k: frag[k][-1] if k in frag else None  # noqa: E731
    return Target(base, one("experiment"), one("experiment_id"), one("run"), shown, one("run_id"), auth)


def _ui_route(uri: str, route: str) -> dict[str, list[str]]:
    """``#/experiments/ID`` or ``#/experiments/ID/runs/RUN_ID`` (what the MLflow UI's address bar and
    ``mlflow.start_run`` print) as ``experiment_id`` / ``run_id``."""
    import re

    m = re.fullmatch(r"/experiments/(\d+)(?:/runs/([0-9a-fA-F]{8,64}))?(?:[/?].*)?", route)
    if m is None:
        raise InputError(uri, "a link into the MLflow UI names an experiment: http://HOST:PORT/#/experiments/ID "
                              "(or .../runs/RUN_ID), or use mlflow+http://HOST:PORT/#experiment=NAME")
    return {"experiment_id": [m.group(1)], **({"run_id": [m.group(2)]} if m.group(2) else {})}


def _timeout() -> float:
    raw = os.environ.get("CURVEDIAG_HTTP_TIMEOUT")
    if raw is None:
        return TIMEOUT
    try:
        t = float(raw)
    except ValueError:
        t = float("nan")
    if not (math.isfinite(t) and t > 0):
        raise UsageError(f"CURVEDIAG_HTTP_TIMEOUT={raw!r}: give a number of seconds above 0")
    return t


class _Deadline:
    """The time limit of one whole request: when it passes, every socket the request opened is
    shut down, which ends any read in progress however slowly the server sends (the socket's own
    timeout only bounds each read)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def left(self) -> float:
        return max(self.at - time.monotonic(), 0.001)

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            if not self.expired:
                return
        self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for s in socks:
            self._shut(s)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        try:  # the socket's own shutdown, also under TLS (SSLSocket.shutdown would unwrap it first)
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass

    def __enter__(self) -> "_Deadline":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        if time.monotonic() >= self.at:
            self.expired = True


def _opener(dl: _Deadline) -> urllib.request.OpenerDirector:
    """urllib's opener, whose connections give their sockets to ``dl``."""

    class HTTP(http.client.HTTPConnection):
        def connect(self):
            super().connect()
            dl.add(self.sock)

    class HTTPS(http.client.HTTPSConnection):
        def connect(self):
            super().connect()
            dl.add(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(HTTP, req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(HTTPS, req, context=getattr(self, "_context", None))

    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _request(t: Target, method: str, endpoint: str, params: dict | None, body: dict | None) -> urllib.request.Request:
    """The HTTP request of one REST call (JSON body, basic authentication from the URL)."""
    url = f"{t.base}/api/2.0/mlflow/{endpoint}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if t.auth:
        user, _, password = t.auth.partition(":")
        plain = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(plain).decode("ascii")
    return urllib.request.Request(url, data=data, method=method, headers=headers)


def _server_error(e: urllib.error.HTTPError) -> _ServerError:
    """An HTTP error answer as the server's error (its JSON error_code and message when it sent them)."""
    try:
        detail = json.loads(e.read(1 << 16) or b"{}")
    except (ValueError, OSError, RecursionError, http.client.HTTPException):
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    msg = _short(detail.get("message") or e.reason or "")
    return _ServerError(e.code, _short(detail.get("error_code") or ""), msg)


def _json_answer(t: Target, endpoint: str, raw: bytes) -> dict:
    """The JSON object the server answered; an input error when it is no JSON object."""
    try:
        out = json.loads(raw or b"{}")
    except RecursionError:
        raise InputError(t.shown, f"{t.base}'s answer to {endpoint} is JSON nested too deeply to be an MLflow answer") from None
    except ValueError:
        raise InputError(t.shown, f"{t.base} is not an MLflow tracking server (its answer to {endpoint} is not JSON)") from None
    if not isinstance(out, dict):
        raise InputError(t.shown, f"{t.base} is not an MLflow tracking server (its answer to {endpoint} is not an object)")
    return out


def _call(t: Target, method: str, endpoint: str, params: dict | None = None, body: dict | None = None,
          sizes: list[int] | None = None) -> dict:
    """One REST call within the deadline of a whole request: its JSON answer, or an input error
    (unreachable, late, too large, not an MLflow server) or a _ServerError (an HTTP error answer)."""
    req = _request(t, method, endpoint, params, body)
    timeout = _timeout()
    late = f"the MLflow server at {t.base} did not answer within {timeout:g} s (the limit of a whole request; {endpoint})"
    with _Deadline(timeout) as dl:
        try:
            with _opener(dl).open(req, timeout=timeout) as resp:
                raw = _read_answer(resp, dl)
        except urllib.error.HTTPError as e:
            if dl.expired:
                raise InputError(t.shown, late) from None
            raise _server_error(e) from None
        except (socket.timeout, TimeoutError):
            raise InputError(t.shown, late) from None
        except urllib.error.URLError as e:
            reason = e.reason
            if dl.expired or isinstance(reason, (socket.timeout, TimeoutError)):
                raise InputError(t.shown, late) from None
            text = getattr(reason, "strerror", None) or str(reason)
            raise InputError(t.shown, f"cannot reach the MLflow server at {t.base}: {_short(text)}") from None
        except http.client.HTTPException as e:  # over-long or too many header lines, a broken status line
            if dl.expired:
                raise InputError(t.shown, late) from None
            why = type(e).__name__ + (f": {_short(str(e))}" if str(e) else "")
            raise InputError(t.shown, f"the MLflow server at {t.base} sent a malformed HTTP answer to {endpoint} ({why})") from None
        except (OSError, ValueError) as e:
            if dl.expired:
                raise InputError(t.shown, late) from None
            raise InputError(t.shown, f"cannot reach the MLflow server at {t.base}: {_short(str(e))}") from None
    if dl.expired:
        raise InputError(t.shown, late)
    if raw is None:
        raise InputError(t.shown, f"the server's answer to {endpoint} is larger than {MAX_ANSWER >> 20} MB")
    if sizes is not None:
        sizes.append(len(raw))
    return _json_answer(t, endpoint, raw)


def _read_answer(resp, dl: _Deadline) -> bytes | None:
    """The body of ``resp``, read in pieces so that the deadline is checked between them; None
    when it is larger than :data:`MAX_ANSWER`."""
    parts: list[bytes] = []
    size = 0
    while True:
        if dl.expired:
            raise TimeoutError
        chunk = resp.read(1 << 16)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER:
            return None
    if dl.expired:
        raise TimeoutError
    return b"".join(parts)


def _short(text: object, limit: int = 200) -> str:
    """Text from a server, for one line: printable, at most ``limit`` characters."""
    s = "".join(c if c.isprintable() else " " for c in str(text))
    return s if len(s) <= limit else s[: limit - 3] + "..."


class _ServerError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _pages(t: Target, method: str, endpoint: str, what: str, items: str, request: dict, limit: int | None = None,
           max_bytes: int = MAX_LISTING):
    """Every item (a dict) of a paginated listing, page after page, within the listing limits:
    :data:`MAX_PAGES` pages, ``limit`` items, :data:`MAX_LISTING` bytes of answers, no page
    token given twice, at most :data:`MAX_EMPTY_PAGES` empty pages in a row.  Each limit, when
    hit, is a one-line error naming it (a real server never hits them; an endless one always)."""
    seen: set[str] = set()
    sizes: list[int] = []
    count = empty = 0
    token = None
    for page in range(1, MAX_PAGES + 1):
        req = dict(request)
        if token:
            req["page_token"] = token
        if method == "GET":
            out = _checked(t, method, endpoint, params=req, sizes=sizes)
        else:
            out = _checked(t, method, endpoint, body=req, sizes=sizes)
        got = out.get(items) or []
        if not isinstance(got, list):
            raise InputError(t.shown, f"the server's answer to {endpoint} is malformed ({items!r} is not a list)")
        for x in got:
            if not isinstance(x, dict):
                raise InputError(t.shown, f"the server's answer to {endpoint} is malformed (an entry of {items!r} is not an object)")
            yield x
        count += len(got)
        if limit is not None and count > limit:
            raise InputError(t.shown, f"more than {limit:,} {what} listed by {endpoint}; not read (name an experiment or a run)")
        if sum(sizes) > max_bytes:
            raise InputError(t.shown, f"the server's answers listing {what} passed {max_bytes >> 20} MB in all; not read")
        empty = 0 if got else empty + 1
        token = out.get("next_page_token")
        if not token:
            return
        token = str(token)
        if token in seen:
            raise InputError(t.shown, f"the server gave the same next_page_token twice while listing {what} ({endpoint}, page {page}): an endless listing; not read")
        if empty >= MAX_EMPTY_PAGES:
            raise InputError(t.shown, f"the server sent {empty} empty pages of {what} in a row, each with a next_page_token ({endpoint}): an endless listing; not read")
        seen.add(token)
    raise InputError(t.shown, f"the server's listing of {what} ({endpoint}) went on past {MAX_PAGES:,} pages; not read")


def _checked(t: Target, method: str, endpoint: str, **kw) -> dict:
    try:
        return _call(t, method, endpoint, **kw)
    except _ServerError as e:
        if e.status == 404 and not e.code:
            raise InputError(t.shown, f"{t.base} is not an MLflow tracking server (no {endpoint} API)") from None
        raise InputError(t.shown, f"the MLflow server refused {endpoint}: {e.message or e.code or e.status}") from None


def _experiment_ids(t: Target) -> list[str]:
    if t.experiment_id is not None:
        return [t.experiment_id]
    if t.experiment is not None:
        try:
            out = _call(t, "GET", "experiments/get-by-name", params={"experiment_name": t.experiment})
        except _ServerError as e:
            if e.code == "RESOURCE_DOES_NOT_EXIST" or e.status == 404:
                names = [x.get("name", "?") for x in _all_experiments(t)[:10]]
                raise InputError(t.shown, f"no experiment named {t.experiment!r} on {t.base}"
                                 + (f" (experiments: {', '.join(map(str, names))})" if names else "")) from None
            raise InputError(t.shown, f"the MLflow server refused experiments/get-by-name: {e.message or e.code}") from None
        exp = _obj(t, out.get("experiment"), "'experiment'")
        return [str(exp.get("experiment_id"))]
    return [str(x.get("experiment_id")) for x in _all_experiments(t)]


def _all_experiments(t: Target) -> list[dict]:
    return list(_pages(t, "POST", "experiments/search", "experiments", "experiments", {"max_results": 1000}, MAX_RUNS))


def list_runs(t: Target) -> list[RunInfo]:
    """Every run of the target's experiments, newest first."""
    ids = _experiment_ids(t)
    body: dict = {"experiment_ids": ids, "max_results": 1000, "order_by": ["attributes.start_time DESC"]}
    return [_run_info(t, r) for r in _pages(t, "POST", "runs/search", "runs", "runs", body, MAX_RUNS)]


def _obj(t: Target, x, what: str) -> dict:
    if x is None:
        return {}
    if not isinstance(x, dict):
        raise InputError(t.shown, f"the server's answer is malformed ({what} is not an object)")
    return x


def _list(t: Target, x, what: str) -> list:
    if x is None:
        return []
    if not isinstance(x, list):
        raise InputError(t.shown, f"the server's answer is malformed ({what} is not a list)")
    return x


def _run_info(t: Target, r: dict) -> RunInfo:
    info, data = _obj(t, r.get("info"), "a run's 'info'"), _obj(t, r.get("data"), "a run's 'data'")
    metrics = [_obj(t, m, "a run's metric") for m in _list(t, data.get("metrics"), "a run's 'metrics'")]
    tags = [_obj(t, tg, "a run's tag") for tg in _list(t, data.get("tags"), "a run's 'tags'")]
    keys = tuple(sorted({str(m.get("key")) for m in metrics if m.get("key") is not None}))
    name = info.get("run_name") or next((tg.get("value") for tg in tags if tg.get("key") == "mlflow.runName"), "") or ""
    start = info.get("start_time") or 0
    try:
        start_time = int(start)
    except (TypeError, ValueError, OverflowError):
        raise InputError(t.shown, f"the server's answer is malformed (a run's start_time {_short(repr(start), 40)} is not a time in milliseconds)") from None
    return RunInfo(str(info.get("run_id") or info.get("run_uuid")), str(name), str(info.get("experiment_id")), start_time, keys)


def all_runs(uri: str) -> list[tuple[str, str]]:
    """``--run all``: every run of the URI's experiments, oldest first, as (the URI that reads
    exactly it, by ``run_id``; the URI that names it for people, by its name when unique)."""
    t = parse(uri)
    runs = list_runs(t)
    if not runs:
        choose(t, runs, None)  # the one-line "no runs" error
    frag = lambda info: {"experiment": t.experiment} if t.experiment else {"experiment_id": info.experiment_id}  # noqa: E731
    return [(f"mlflow+{t.origin}/#" + urllib.parse.urlencode({**frag(info), "run_id": info.run_id}), run_uri(t, info, runs))
            for info in reversed(runs)]


def choose(t: Target, runs: list[RunInfo], run: str | None) -> RunInfo:
    run = run if run is not None else t.run
    if not runs:
        raise InputError(t.shown, "no runs in " + (f"experiment {t.experiment!r}" if t.experiment else "this server's experiments"))
    if not run:
        return runs[0]

    pairs = [(r.run_id, r.name) for r in runs]
    try:
        k = pick(run, pairs)
    except AmbiguousRun as e:
        raise InputError(t.shown, f"--run {run!r} matches several MLflow runs: {e}; give more of the name or id") from None
    if k is None:
        raise InputError(t.shown, f"no MLflow run {run!r} (runs: {choices(pairs)})")
    return runs[k]


def _value(v) -> float:
    if isinstance(v, str):  # protobuf JSON spells non-finite doubles as strings
        v = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v)
    x = float(v)
    if abs(x) == _FLOAT_MAX:  # MLflow stores +-inf as +-the largest double
        return math.copysign(math.inf, x)
    return x


def history(t: Target, run_id: str, key: str) -> tuple[np.ndarray, np.ndarray]:
    steps: list[int] = []
    values: list[float] = []
    params = {"run_id": run_id, "metric_key": key, "max_results": _PAGE}
    what = f"points of {key!r} of run {run_id[:8]}"
    for m in _pages(t, "GET", "metrics/get-history", what, "metrics", params, MAX_POINTS, _MAX_HISTORY_BYTES):
        try:
            step = int(m.get("step") or 0)
            if not -_STEP_MAX <= step < _STEP_MAX:
                raise OverflowError
        except (TypeError, ValueError, OverflowError):
            raise InputError(t.shown, f"metric {key!r} of run {run_id[:8]}: a step {_short(repr(m.get('step')), 40)} that is not a whole number of 64 bits") from None
        try:
            values.append(_value(m.get("value")))
        except (TypeError, ValueError, OverflowError):
            raise InputError(t.shown, f"metric {key!r} of run {run_id[:8]}: a value that is not a number") from None
        steps.append(step)
    st = np.asarray(steps, dtype=np.int64)
    order = np.argsort(st, kind="stable")
    return st[order], np.asarray(values, dtype=float)[order]


def read_run(t: Target, info: RunInfo) -> RawTable:
    if not info.metric_keys:
        raise InputError(t.shown, f"run {info.name or info.run_id[:8]} has no metrics")
    arrays = {k: history(t, info.run_id, k) for k in info.metric_keys}
    table = table_from_arrays(arrays, t.shown)
    table.format = "mlflow-server"
    return table


def run_uri(t: Target, info: RunInfo, runs: list[RunInfo]) -> str:
    """The URI that names exactly this run: by its name when no other run has it, else by its id
    (its password redacted: a name to show, as every URI curvediag shows)."""
    unique = bool(info.name) and sum(r.name == info.name for r in runs) == 1
    frag = {"experiment": t.experiment} if t.experiment else {"experiment_id": info.experiment_id}
    frag["run"] = info.name if unique else info.run_id
    return redact(f"mlflow+{t.origin}/#" + urllib.parse.urlencode(frag))


def read(uri: str, run: str | None = None) -> tuple[RawTable, str]:
    """The table of one run (``run`` or the URI's ``run=``, else the newest) and the URI naming it."""
    t = parse(uri)
    if t.run_id is not None and run is None:
        try:
            out = _call(t, "GET", "runs/get", params={"run_id": t.run_id})
        except _ServerError as e:
            raise InputError(t.shown, f"no MLflow run {t.run_id!r} on {t.base} ({e.message or e.code or e.status})") from None
        info = _run_info(t, _obj(t, out.get("run"), "'run'"))
        return read_run(t, info), t.shown
    runs = list_runs(t)
    info = choose(t, runs, run)
    return read_run(t, info), run_uri(t, info, runs)


def set_tag(uri: str, key: str, value: str) -> None:
    """Write one tag on the run ``uri`` names (``analyze --tag-runs``)."""
    t = parse(uri)
    info = choose(t, list_runs(t), None)
    _checked(t, "POST", "runs/set-tag", body={"run_id": info.run_id, "key": key, "value": value[:5000]})


def tag_reports(reports) -> list[str]:
    """Write each report's verdict back as tags of its MLflow run (``curvediag.verdict``,
    ``curvediag.severity``, ``curvediag.findings``: the codes); the one-line problems, if any."""
    problems = []
    for r in reports:
        if not is_server_uri(r.source.path):
            continue
        try:
            set_tag(r.source.path, "curvediag.verdict", str(r.verdict))
            set_tag(r.source.path, "curvediag.severity", str(r.severity))
            set_tag(r.source.path, "curvediag.findings", ",".join(f.code for f in r.findings))
        except InputError as e:
            problems.append(f"{e} (while tagging the run)")
    return problems


__all__ = ["is_server_uri", "parse", "list_runs", "choose", "history", "read_run", "read", "set_tag", "tag_reports"]
