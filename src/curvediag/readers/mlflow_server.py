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
* Every request has a time limit (:data:`TIMEOUT`, or ``CURVEDIAG_HTTP_TIMEOUT`` seconds); an
  answer larger than :data:`MAX_ANSWER` bytes is refused; a server that is down, slow, or not
  an MLflow server is a one-line :class:`~curvediag.errors.InputError` naming the URI.
* :func:`tag_reports` writes the verdict back as run tags (``analyze --tag-runs``): the only
  write, and only when asked.

Only the standard library is used (``urllib``): no MLflow client needs to be installed.
"""

from __future__ import annotations

import json
import math
import os
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from .._np import np

from ..errors import InputError
from ..table import RawTable

SCHEMES = ("mlflow+http://", "mlflow+https://")
#: what MLflow itself prints -- the address ``mlflow server`` listens at, ``MLFLOW_TRACKING_URI``, a UI link
#: (``http://HOST:PORT/#/experiments/ID/runs/RUN_ID``) -- is read as a server too
PLAIN = ("http://", "https://")
#: seconds one request may take
TIMEOUT = 10.0
#: bytes of one answer
MAX_ANSWER = 64 << 20
#: metric points read for one run
MAX_POINTS = 10_000_000
_PAGE = 25_000  # points per get-history page (MLflow's own maximum)
_FLOAT_MAX = 1.7976931348623157e308


def is_server_uri(path: str) -> bool:
    """A string check (no import): ``mlflow+http(s)://...`` or the plain ``http(s)://...`` MLflow prints."""
    return path.startswith(SCHEMES) or path.startswith(PLAIN)


@dataclass(frozen=True)
class Target:
    base: str  # http(s)://host:port/prefix, without a trailing slash
    experiment: str | None
    experiment_id: str | None
    run: str | None
    shown: str  # the URI as the user gave it, for messages
    run_id: str | None = None  # ``#run_id=ID``: exactly this run, fetched without listing the others


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    name: str
    experiment_id: str
    start_time: int
    metric_keys: tuple[str, ...]


def parse(uri: str) -> Target:
    if not is_server_uri(uri):
        raise InputError(uri, "not an MLflow server URI (mlflow+http://HOST:PORT/#experiment=NAME)")
    rest = uri[len("mlflow+"):] if uri.startswith(SCHEMES) else uri
    parts = urllib.parse.urlsplit(rest)
    if not parts.hostname:
        raise InputError(uri, "no host in the MLflow server URI (mlflow+http://HOST:PORT/#experiment=NAME)")
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        raise InputError(uri, "the port in the MLflow server URI is not a number") from None
    if parts.fragment.startswith("/"):  # a link into the MLflow UI: its route, not our keys
        frag = _ui_route(uri, parts.fragment)
    else:
        frag = urllib.parse.parse_qs(parts.fragment, keep_blank_values=True)
    known = {"experiment", "experiment_id", "run", "run_id"}
    unknown = sorted(set(frag) - known)
    if unknown:
        raise InputError(uri, f"unknown key {unknown[0]!r} after '#' (known: experiment, experiment_id, run, run_id)")
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))
    one = lambda k: frag[k][-1] if k in frag else None  # noqa: E731
    return Target(base, one("experiment"), one("experiment_id"), one("run"), uri, one("run_id"))


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
        from ..errors import UsageError

        raise UsageError(f"CURVEDIAG_HTTP_TIMEOUT={raw!r}: give a number of seconds above 0")
    return t


def _call(t: Target, method: str, endpoint: str, params: dict | None = None, body: dict | None = None) -> dict:
    url = f"{t.base}/api/2.0/mlflow/{endpoint}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    timeout = _timeout()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 -- the scheme is ours: http(s)
            raw = resp.read(MAX_ANSWER + 1)
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read(1 << 16) or b"{}")
        except (ValueError, OSError):
            detail = {}
        if not isinstance(detail, dict):
            detail = {}
        msg = str(detail.get("message") or e.reason or "")
        raise _ServerError(e.code, str(detail.get("error_code") or ""), msg) from None
    except (socket.timeout, TimeoutError):
        raise InputError(t.shown, f"the MLflow server at {t.base} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise InputError(t.shown, f"the MLflow server at {t.base} did not answer within {timeout:g} s") from None
        text = getattr(reason, "strerror", None) or str(reason)
        raise InputError(t.shown, f"cannot reach the MLflow server at {t.base}: {text}") from None
    except (OSError, ValueError) as e:
        raise InputError(t.shown, f"cannot reach the MLflow server at {t.base}: {e}") from None
    if len(raw) > MAX_ANSWER:
        raise InputError(t.shown, f"the server's answer to {endpoint} is larger than {MAX_ANSWER >> 20} MB")
    try:
        out = json.loads(raw or b"{}")
    except ValueError:
        raise InputError(t.shown, f"{t.base} is not an MLflow tracking server (its answer to {endpoint} is not JSON)") from None
    if not isinstance(out, dict):
        raise InputError(t.shown, f"{t.base} is not an MLflow tracking server (its answer to {endpoint} is not an object)")
    return out


class _ServerError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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
        exp = out.get("experiment") or {}
        return [str(exp.get("experiment_id"))]
    return [str(x.get("experiment_id")) for x in _all_experiments(t)]


def _all_experiments(t: Target) -> list[dict]:
    exps: list[dict] = []
    token = None
    while True:
        body: dict = {"max_results": 1000}
        if token:
            body["page_token"] = token
        out = _checked(t, "POST", "experiments/search", body=body)
        exps += [x for x in out.get("experiments") or [] if isinstance(x, dict)]
        token = out.get("next_page_token")
        if not token:
            return exps


def list_runs(t: Target) -> list[RunInfo]:
    """Every run of the target's experiments, newest first."""
    ids = _experiment_ids(t)
    runs: list[RunInfo] = []
    token = None
    while True:
        body: dict = {"experiment_ids": ids, "max_results": 1000, "order_by": ["attributes.start_time DESC"]}
        if token:
            body["page_token"] = token
        out = _checked(t, "POST", "runs/search", body=body)
        runs += [_run_info(r) for r in out.get("runs") or [] if isinstance(r, dict)]
        token = out.get("next_page_token")
        if not token:
            return runs


def _run_info(r: dict) -> RunInfo:
    info, data = r.get("info") or {}, r.get("data") or {}
    keys = tuple(sorted({str(m.get("key")) for m in data.get("metrics") or [] if m.get("key") is not None}))
    name = info.get("run_name") or next(
        (tg.get("value") for tg in data.get("tags") or [] if tg.get("key") == "mlflow.runName"), "") or ""
    return RunInfo(str(info.get("run_id") or info.get("run_uuid")), str(name),
                   str(info.get("experiment_id")), int(info.get("start_time") or 0), keys)


def all_runs(uri: str) -> list[tuple[str, str]]:
    """``--run all``: every run of the URI's experiments, oldest first, as (the URI that reads
    exactly it, by ``run_id``; the URI that names it for people, by its name when unique)."""
    t = parse(uri)
    runs = list_runs(t)
    if not runs:
        choose(t, runs, None)  # the one-line "no runs" error
    frag = lambda info: {"experiment": t.experiment} if t.experiment else {"experiment_id": info.experiment_id}  # noqa: E731
    return [(f"mlflow+{t.base}/#" + urllib.parse.urlencode({**frag(info), "run_id": info.run_id}), run_uri(t, info, runs))
            for info in reversed(runs)]


def choose(t: Target, runs: list[RunInfo], run: str | None) -> RunInfo:
    run = run if run is not None else t.run
    if not runs:
        raise InputError(t.shown, "no runs in " + (f"experiment {t.experiment!r}" if t.experiment else "this server's experiments"))
    if not run:
        return runs[0]
    from .runs import AmbiguousRun, choices, pick

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
    token = None
    while True:
        params = {"run_id": run_id, "metric_key": key, "max_results": _PAGE}
        if token:
            params["page_token"] = token
        out = _checked(t, "GET", "metrics/get-history", params=params)
        for m in out.get("metrics") or []:
            try:
                steps.append(int(m.get("step") or 0))
                values.append(_value(m.get("value")))
            except (TypeError, ValueError):
                raise InputError(t.shown, f"metric {key!r} of run {run_id[:8]}: a value that is not a number") from None
        if len(steps) > MAX_POINTS:
            raise InputError(t.shown, f"run {run_id[:8]} has more than {MAX_POINTS:,} points of {key!r}")
        token = out.get("next_page_token")
        if not token:
            break
    st = np.asarray(steps, dtype=np.int64)
    order = np.argsort(st, kind="stable")
    return st[order], np.asarray(values, dtype=float)[order]


def read_run(t: Target, info: RunInfo) -> RawTable:
    from .tfevents import table_from_arrays

    if not info.metric_keys:
        raise InputError(t.shown, f"run {info.name or info.run_id[:8]} has no metrics")
    arrays = {k: history(t, info.run_id, k) for k in info.metric_keys}
    table = table_from_arrays(arrays, t.shown)
    table.format = "mlflow-server"
    return table


def run_uri(t: Target, info: RunInfo, runs: list[RunInfo]) -> str:
    """The URI that names exactly this run: by its name when no other run has it, else by its id."""
    unique = bool(info.name) and sum(r.name == info.name for r in runs) == 1
    frag = {"experiment": t.experiment} if t.experiment else {"experiment_id": info.experiment_id}
    frag["run"] = info.name if unique else info.run_id
    return f"mlflow+{t.base}/#" + urllib.parse.urlencode(frag)


def read(uri: str, run: str | None = None) -> tuple[RawTable, str]:
    """The table of one run (``run`` or the URI's ``run=``, else the newest) and the URI naming it."""
    t = parse(uri)
    if t.run_id is not None and run is None:
        try:
            out = _call(t, "GET", "runs/get", params={"run_id": t.run_id})
        except _ServerError as e:
            raise InputError(t.shown, f"no MLflow run {t.run_id!r} on {t.base} ({e.message or e.code or e.status})") from None
        info = _run_info(out.get("run") or {})
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
