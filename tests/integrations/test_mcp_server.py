"""`curvediag mcp`, driven by the MCP Python SDK's own client over stdio (the server started as a
subprocess by the test and stopped by it): the tools list, each tool's answer against the CLI's,
the root it may not read outside of, bounded answers, and nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("mcp")
anyio = pytest.importorskip("anyio")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from curvediag import mcp_server  # noqa: E402

from ..conftest import REPO, SAMPLES  # noqa: E402

pytestmark = pytest.mark.integration
COMPARE = REPO / "tests" / "data" / "compare"


@pytest.fixture
def root(tmp_path):
    """The server's root: sample logs, compare logs, a log being written, and two ways out of the root."""
    r = tmp_path / "root"
    (r / "runs").mkdir(parents=True)
    for n in ("overfitting.csv", "healthy.csv", "diverged.csv"):
        shutil.copy(SAMPLES / n, r / n)
    for n in ("baseline_seed0.csv", "baseline_seed1.csv", "baseline_seed2.csv", "shuffled_labels.csv"):
        shutil.copy(COMPARE / n, r / "runs" / n)
    lines = (SAMPLES / "healthy.csv").read_text().splitlines(keepends=True)
    (r / "live.csv").write_text("".join(lines[:11]) + lines[11][:7])  # 10 rows and half of one
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(SAMPLES / "diverged.csv", outside / "secret.csv")
    os.symlink(outside / "secret.csv", r / "link.csv")
    (r / "mixed").mkdir()
    shutil.copy(SAMPLES / "healthy.csv", r / "mixed" / "a.csv")
    os.symlink(outside / "secret.csv", r / "mixed" / "b.csv")
    return r


def _tree(d):
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(d.rglob("*")) if not p.is_symlink()}


def _serve(root, *extra):
    return StdioServerParameters(command=sys.executable, args=["-m", "curvediag", "mcp", "--root", str(root), *extra],
                                 env={"PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}, cwd=str(root.parent))


def _session(root, body, *extra):
    async def main():
        async with stdio_client(_serve(root, *extra), errlog=open(os.devnull, "w")) as (r, w):
            async with ClientSession(r, w) as s:
                await s.initialize()
                return await body(s)

    return anyio.run(main)


async def _call(s, tool, **args):
    res = await s.call_tool(tool, args)
    error = getattr(res, "is_error", None)
    if error is None:
        error = getattr(res, "isError")
    return bool(error), res.content[0].text


def _cli_json(*args):
    r = subprocess.run([sys.executable, "-m", "curvediag", *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    return r.returncode, json.loads(r.stdout)


def test_tools_answer_as_the_cli_does(root):
    before = _tree(root)

    async def body(s):
        tools = await s.list_tools()
        out = {"tools": [t.name for t in tools.tools],
               "descriptions": {t.name: t.description for t in tools.tools}}
        for key, tool, args in [
            ("over", "analyze", {"path": "overfitting.csv"}),
            ("dir", "analyze", {"path": "runs"}),
            ("cmp", "compare", {"baseline": ["runs/baseline_seed0.csv", "runs/baseline_seed1.csv",
                                             "runs/baseline_seed2.csv"], "run": "runs/shuffled_labels.csv"}),
            ("inspect", "inspect", {"path": "healthy.csv"}),
            ("rules", "list_rules", {}),
            ("rule", "explain_rule", {"rule": "val-loss-rising"}),
            ("norule", "explain_rule", {"rule": "Z999"}),
            ("live", "watch_state", {"path": "live.csv"}),
            ("waiting", "watch_state", {"path": "not-yet.csv"}),
        ]:
            out[key] = await _call(s, tool, **args)
        return out

    got = _session(root, body)
    assert got["tools"] == list(mcp_server.TOOLS) and all(got["descriptions"].values())

    err, text = got["over"]
    doc = json.loads(text)
    status, cli = _cli_json("analyze", str(root / "overfitting.csv"), "--format", "json")
    assert not err and doc["exit_status"] == status == 1 and doc["reports"] == cli
    o102 = next(f for f in doc["reports"][0]["findings"] if f["code"] == "O102")
    assert o102["evidence"] and o102["remedies"]  # the evidence and the remedies reach the agent

    err, text = got["dir"]
    doc = json.loads(text)
    assert not err and len(doc["reports"]) == 4 and doc["unreadable"] == []

    err, text = got["cmp"]
    codes = {f["code"] for f in json.loads(text)["report"]["findings"]}
    assert not err and {"B101", "B102"} <= codes  # shuffled labels: worse than every baseline seed

    err, text = got["inspect"]
    assert not err and json.loads(text)["format"] == "keras_csv" and json.loads(text)["rows"] == 150

    err, text = got["rules"]
    _, cli_rules = _cli_json("rules", "--format", "json")
    assert not err and json.loads(text) == cli_rules
    err, text = got["rule"]
    _, cli_rule = _cli_json("rule", "O102", "--format", "json")
    assert not err and json.loads(text) == cli_rule and cli_rule["remedies"]
    err, text = got["norule"]
    assert err and "no rule 'Z999'" in text

    err, text = got["live"]
    doc = json.loads(text)
    assert not err and doc["state"] == "read" and doc["rows"] == 10  # the half-written row is not read
    assert doc["seconds_since_change"] >= 0 and doc["report"]["source"]["rows"] == 10
    err, text = got["waiting"]
    assert not err and json.loads(text)["state"] == "waiting"

    assert _tree(root) == before  # nothing written


def test_nothing_outside_the_root_is_read(root):
    async def body(s):
        out = {}
        for key, tool, args in [
            ("abs", "analyze", {"path": "/etc/passwd"}),
            ("dotdot", "analyze", {"path": "../outside/secret.csv"}),
            ("link", "analyze", {"path": "link.csv"}),
            ("stdin", "analyze", {"path": "-"}),
            ("server", "analyze", {"path": "mlflow+http://127.0.0.1:90/#experiment=x"}),
            ("plain", "analyze", {"path": "http://127.0.0.1:9"}),
            ("file", "analyze", {"path": "file:///etc/passwd"}),
            ("cmp", "compare", {"baseline": ["../outside/secret.csv"], "run": "healthy.csv"}),
            ("inspect", "inspect", {"path": "link.csv"}),
            ("watch", "watch_state", {"path": "link.csv"}),
            ("mixed", "analyze", {"path": "mixed"}),
            ("allowed", "analyze", {"path": "http://127.0.0.1:9/#/experiments/1"}),
        ]:
            out[key] = await _call(s, tool, **args)
        return out

    got = _session(root, body, "--allow-server", "http://127.0.0.1:9")
    for key in ("abs", "dotdot", "link", "cmp", "inspect", "watch"):
        err, text = got[key]
        assert err and "outside the server's root" in text and "\n" not in text, (key, text)
        assert "NaN" not in text  # not a word of the diverged log outside
    assert got["stdin"][0] and "stdin" in got["stdin"][1]
    assert got["server"][0] and "not an allowed MLflow server" in got["server"][1]
    assert got["plain"][0] is False or "cannot reach" in got["plain"][1]  # allowed: read (nobody listens on port 9)
    assert got["file"][0] and "only paths and MLflow server URIs" in got["file"][1]
    doc = json.loads(got["mixed"][1])
    # the link out of the root is not a run of the directory (nor read): only a.csv
    assert [r["source"]["path"].rsplit("/", 1)[1] for r in doc["reports"]] == ["a.csv"] and doc["unreadable"] == []
    assert all(r["verdict"] != "diverged" for r in doc["reports"])
    err, text = got["allowed"]
    assert (not err and json.loads(text)["unreadable"]) or "cannot reach" in text


def test_answers_are_bounded(monkeypatch, root):
    monkeypatch.setattr(mcp_server, "MAX_CHARS", 6000)
    scope = mcp_server.Scope(str(root))
    text = mcp_server.analyze(scope, "runs")
    doc = json.loads(text)
    assert len(text) <= 6000 and doc["truncated"] and 0 < len(doc["reports"]) < 4
    assert "values" not in doc["reports"][0]["metrics"]["val_loss"]  # the sparklines go first, the evidence stays
    assert doc["reports"][0]["findings"][0]["evidence"] or doc["reports"][0]["findings"] == []


def test_without_the_sdk_the_command_says_which_extra(tmp_path):
    code = ("import sys; sys.modules['mcp'] = None; sys.argv = ['curvediag', 'mcp', '--root', '.'];"
            "from curvediag.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and 'pip install "curvediag[mcp]"' in r.stderr
