"""``curvediag mcp``: a Model Context Protocol server over stdio (the ``mcp`` extra: the MCP Python SDK),
so an agent looking after training runs gets verdicts, not raw series to judge itself.

Tools (each answers JSON text, at most :data:`MAX_CHARS` characters):

* ``analyze(path, ...)`` -- a log, a run directory or an MLflow URI: every run's report (verdict,
  findings with their evidence and remedies), the unreadable runs, the exit status ``analyze`` gives;
* ``compare(baseline, run)`` -- a run against its baseline logs (the B1xx comparison findings);
* ``inspect(path)`` -- how a log is read: format, axis, columns, mapping;
* ``list_rules()`` and ``explain_rule(rule)`` -- the rules, and one rule's documentation and remedies;
* ``watch_state(path)`` -- a log still being written: its complete rows diagnosed now, as
  ``curvediag watch`` reads them, and how long ago it last changed.

What it may read: paths inside ``--root`` (default: the working directory; resolved, symlinks
followed, ``..`` refused by where it leads: nothing outside the root is read, also not a run a
directory's symlink points out of), and MLflow servers only under a ``--allow-server URL`` prefix.
stdin (``-``) is the protocol's and never read as a log.  Nothing is ever written."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError as Refused  # a tool argument the server will not act on: the tool's one-line error
from .api import inspect_log
from .batch import Input, Unreadable
from .batch import _batch, expand
from .comparison import compare_paths, read_baseline
from .config import input_format_name, resolve
from .docs import rule_dict
from .errors import CurvediagError
from .errors import MissingExtra
from .errors import UsageError
from .output import exit_status
from .report import severity_rank
from .rules import BASELINE_RULES, RULES
from .rules import get_rule
from .watch import Watch, _Waiting

#: characters of one tool answer; a larger one loses the sparkline values first, then runs
MAX_CHARS = 200_000
#: runs reported by one analyze call
MAX_RUNS = 100



@dataclass
class Scope:
    """What the server may read: ``root`` (a directory) and MLflow server URL prefixes."""

    root: str
    servers: tuple[str, ...] = ()
    _real: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self._real = os.path.realpath(self.root)
        if not os.path.isdir(self._real):
            raise Refused(f"--root {self.root}: not a directory")

    def inside(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real == self._real or real.startswith(self._real.rstrip(os.sep) + os.sep)

    def path(self, given: str) -> str:
        """``given`` (relative to the root, or absolute) as a path to read, or :class:`Refused`."""
        from .readers.mlflow_server import SCHEMES, is_server_uri

        if not isinstance(given, str) or not given.strip():
            raise Refused("give a path (relative to the server's root) or an MLflow URI")
        if given == "-":
            raise Refused("'-' (stdin) is the MCP connection here; give a path")
        if is_server_uri(given):
            plain = given[len("mlflow+"):] if given.startswith(SCHEMES) else given
            base = plain.split("#", 1)[0].rstrip("/")
            if not any(base == s.rstrip("/") or base.startswith(s.rstrip("/") + "/") for s in self.servers):
                allowed = ", ".join(self.servers) or "none"
                raise Refused(f"{given}: not an allowed MLflow server (start the server with --allow-server URL; allowed: {allowed})")
            return given
        if "://" in given:
            raise Refused(f"{given}: only paths and MLflow server URIs are read")
        full = given if os.path.isabs(given) else os.path.join(self.root, given)
        if not self.inside(full):
            raise Refused(f"{given}: outside the server's root {self.root}")
        return full


def _bounded(doc: Any, shrink=None) -> str:
    text = json.dumps(doc, indent=1, allow_nan=False)
    if len(text) <= MAX_CHARS:
        return text
    if shrink is not None:
        return shrink(doc)
    return json.dumps({"truncated": True, "note": f"answer over {MAX_CHARS} characters", "text": text[:MAX_CHARS - 200]})


def _lean(report: dict) -> dict:
    """A report without the downsampled curve values (the sparklines): the evidence stays."""
    out = dict(report)
    out["metrics"] = {k: {kk: vv for kk, vv in m.items() if kk != "values"} for k, m in report.get("metrics", {}).items()}
    return out


def _shrink_reports(doc: dict) -> str:
    doc = dict(doc, reports=[_lean(r) for r in doc["reports"]])
    text = json.dumps(doc, indent=1, allow_nan=False)
    while len(text) > MAX_CHARS and doc["reports"]:
        keep = max(0, len(doc["reports"]) // 2)
        doc = dict(doc, reports=doc["reports"][:keep], truncated=True,
                   note=f"only the first {keep} reports fit in {MAX_CHARS} characters; ask for one run (run=NAME)")
        text = json.dumps(doc, indent=1, allow_nan=False)
    return text


def _settings(fail_on=None, select=None, ignore=None, run=None, input_format=None):

    try:
        s = resolve(None, cli={"fail-on": fail_on, "select": select, "ignore": ignore})
        return s.reading(input_format=input_format_name(input_format), run=run)
    except UsageError as e:
        raise Refused(str(e)) from None


def _check_inputs(scope: Scope, inputs) -> list:
    """Each expanded run's path inside the root (a directory's symlink may point out of it)."""
    out = []
    for item in inputs:
        if isinstance(item, Input) and item.kind != "table" and "://" not in item.path and not scope.inside(item.path):
            out.append(Unreadable(item.shown, "outside the server's root: not read", f"{item.shown}: outside the server's root: not read"))
        else:
            out.append(item)
    return out


def analyze(scope: Scope, path: str, fail_on: str | None = None, select: str | None = None,
            ignore: str | None = None, run: str | None = None, input_format: str | None = None) -> str:

    target = scope.path(path)
    settings = _settings(fail_on, select, ignore, run, input_format)
    inputs = _check_inputs(scope, expand([target], settings))
    more = max(0, len(inputs) - MAX_RUNS)
    batch = _batch(inputs[:MAX_RUNS], settings, 1, False)
    doc: dict[str, Any] = {
        "reports": [r.to_dict() for r in batch.reports],
        "unreadable": [{"path": u.path, "error": u.problem} for u in batch.items if isinstance(u, Unreadable)],
        "exit_status": exit_status(batch, False),
        "fail_on": settings.fail_on,
    }
    if more:
        doc["truncated"] = True
        doc["note"] = f"{more} more runs not analysed (at most {MAX_RUNS} per call); name one with run=NAME"
    return _bounded(doc, _shrink_reports)


def compare(scope: Scope, baseline: list[str], run: str, select: str | None = None, ignore: str | None = None) -> str:

    if not baseline:
        raise Refused("give at least one baseline log")
    base_paths = [scope.path(b) for b in baseline]
    target = scope.path(run)
    settings = _settings(None, select, ignore)
    try:
        base = read_baseline(base_paths, settings)
    except CurvediagError as e:
        raise Refused(str(e)) from None
    batch, _ = compare_paths(base, [target], settings, False, False)

    item = batch.items[0]
    if isinstance(item, Unreadable):
        raise Refused(item.message)
    return _bounded({"report": item.to_dict()}, lambda d: _bounded({"report": _lean(d["report"])}))


def inspect(scope: Scope, path: str, run: str | None = None, input_format: str | None = None) -> str:

    target = scope.path(path)
    inputs = _check_inputs(scope, expand([target], _settings(run=run)))
    if inputs and isinstance(inputs[0], Unreadable):
        raise Refused(inputs[0].message)
    try:
        return _bounded(inspect_log(target, settings=_settings(run=run, input_format=input_format)))
    except CurvediagError as e:
        raise Refused(str(e)) from None


def list_rules() -> str:

    return _bounded([rule_dict(r, False) for r in (*RULES, *BASELINE_RULES)])


def explain_rule(rule: str) -> str:

    r = get_rule(rule or "")
    if r is None:
        raise Refused(f"no rule {rule!r}; list_rules lists them")
    return _bounded(rule_dict(r, True))


def watch_state(scope: Scope, path: str, fail_on: str | None = None) -> str:
    """One look at a log still being written, as ``curvediag watch`` reads it."""

    target = scope.path(path)
    w = Watch(target, settings=_settings(fail_on))
    state: dict[str, Any] = {"path": path}
    try:
        where = w._locate()
    except _Waiting as e:
        return _bounded({**state, "state": "waiting", "problem": e.message})
    except CurvediagError as e:
        raise Refused(str(e)) from None
    if not scope.inside(where.where):
        raise Refused(f"{path}: its log is outside the server's root: not read")
    try:
        state["seconds_since_change"] = round(time.time() - os.stat(where.where).st_mtime, 1)
    except OSError:
        pass
    try:
        w._diagnose(where, final=False)
    except CurvediagError as e:
        return _bounded({**state, "state": "waiting", "problem": str(e)})
    report = w._report
    if report is None:
        return _bounded({**state, "state": "waiting", "problem": "nothing complete to read yet"})

    s = w.settings
    failing = s.fail_on != "never" and severity_rank(report.worst_severity()) >= severity_rank(s.fail_on)
    return _bounded({**state, "state": "read", "rows": w._rows, "verdict": report.verdict,
                     "at_or_above_fail_on": failing, "report": report.to_dict()},
                    lambda d: _bounded(dict(d, report=_lean(d["report"]))))


def server(root: str, servers: tuple[str, ...] = ()):
    """The MCP server object (the SDK's ``MCPServer``, ``FastMCP`` before mcp 2) with the tools above."""
    import functools

    try:
        from mcp.server.mcpserver import MCPServer as _Server
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        try:  # mcp 1.x
            from mcp.server.fastmcp import FastMCP as _Server  # type: ignore[no-redef,attr-defined,unused-ignore]
            from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef,unused-ignore]
        except ImportError:
            raise MissingExtra('curvediag mcp needs the MCP Python SDK: pip install "curvediag[mcp]"') from None
    scope = Scope(root, tuple(servers))
    app = _Server("curvediag", instructions=(
        "curvediag diagnoses training curves (overfitting, divergence, not learning, ...). Give paths relative to "
        f"the root {scope.root}; answers are JSON: verdict, findings with evidence and remedies."))

    def tool(name: str):
        """An SDK tool whose refusals and unreadable inputs reach the client as the tool's error (one line)."""
        def register(fn):
            @functools.wraps(fn)
            def run(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except CurvediagError as e:
                    raise ToolError(str(e)) from None

            return app.tool(name=name, structured_output=False)(run)

        return register

    @tool("analyze")
    def analyze_log(path: str, fail_on: str | None = None, select: str | None = None, ignore: str | None = None,
                    run: str | None = None) -> str:
        """Diagnose a training log, a run directory (every run in it) or an MLflow URI: each run's verdict,
        findings (evidence, epochs) and remedies, as `curvediag analyze --format json`; exit_status as analyze
        gives (0 clean, 1 findings at or above fail_on, 2 unreadable). run: one run of a store ('all': each)."""
        return analyze(scope, path, fail_on, select, ignore, run)

    @tool("compare")
    def compare_runs(baseline: list[str], run: str) -> str:
        """Compare a run's log with baseline logs (seeds of the recipe it should match): its report with the
        B1xx comparison findings (best/final level, training-loss floor, onset, verdict, area) added."""
        return compare(scope, baseline, run)

    @tool("inspect")
    def inspect_log(path: str, run: str | None = None) -> str:
        """How a log is read, before any judgement: format, axis, every column, which curve each maps to."""
        return inspect(scope, path, run)

    @tool("list_rules")
    def list_rules_tool() -> str:
        """Every rule: code, name, kind, verdict, severity, summary, options."""
        return list_rules()

    @tool("explain_rule")
    def explain_rule_tool(rule: str) -> str:
        """One rule by code (O102) or name (val-loss-rising): what it detects, why, its options and remedies."""
        return explain_rule(rule)

    @tool("watch_state")
    def watch_state_tool(path: str, fail_on: str | None = None) -> str:
        """The state of a run being watched (a log still being written): its complete rows diagnosed now, as
        `curvediag watch` reads them, and seconds since the file last changed."""
        return watch_state(scope, path, fail_on)

    return app


#: the tool names clients see, in order
TOOLS = ("analyze", "compare", "inspect", "list_rules", "explain_rule", "watch_state")


def serve(root: str, servers: tuple[str, ...] = ()) -> None:
    server(root, servers).run("stdio")
