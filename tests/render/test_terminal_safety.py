"""Names from the input reach terminals, CI logs and PR comments escaped; stdout that is
full, closed, non-UTF-8 or cut short never crashes the tool; internal errors are one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.render import printable

from ..conftest import sample

runner = CliRunner()
SRC = str(Path(curvediag.__file__).resolve().parent.parent)  # the curvediag under test, also in subprocesses
FORMATS = ["text", "json", "jsonl", "markdown", "github", "junit", "sarif", "gitlab", "gitlab-metrics", "azure"]

HOSTILE = {
    "osc window title": "\x1b]0;pwned\x07",
    "clear screen": "\x1b[2J\x1b[H",
    "newline then workflow command": "x\n::error file=a.py::injected",
    "carriage return then command": "x\r::error::injected",
    "C1 CSI": "x\x9b2J",
    "DEL and backspace": "x\x7f\x08",
    "bidi override": "x\u202egnp.exe",
    "line separator": "x\u2028::error::injected",
    "rich markup hyperlink": "[link=https:\\\\evil.example]click[\\link]",
    "backtick and raw html": "x` <script>alert(1)<\\script> `<img src=x onerror=alert(1)> `` &amp;",
    "mathtext": "$\\frac{1}{$",
    "xml-invalid controls": "x\x01\x0b\x0c\x1f",
}
# raw characters that must never be written (newline only as our own line break)
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "300"}, **kw)


def history(tmp_path: Path, column: str, fname: str = "h.json") -> Path:
    """An overfitting Keras history whose training-loss column is named ``column``."""
    import math

    n = 30
    d = {column: [2 * math.exp(-i / 5) + 0.05 for i in range(n)],
         "val_loss": [2 * math.exp(-i / 5) + 0.3 + 0.03 * max(0, i - 10) for i in range(n)]}
    p = tmp_path / fname
    p.write_text(json.dumps(d))
    return p


def assert_clean(text: str, what: str) -> None:
    m = RAW.search(text)
    assert m is None, f"{what}: raw {m.group()!r} in {text!r}"
    assert not any(line.lstrip().startswith("::") for line in text.splitlines()), f"{what}: a line starts a command"


def file_name(name: str) -> str:
    return name.replace("/", "_") + ".json"


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_column_names_are_escaped_in_every_output(tmp_path, kind):
    name = HOSTILE[kind]
    log = history(tmp_path, name)
    args = ["analyze", log, "--loss", name, "--fail-on", "never"]
    text = run(*args)
    assert text.exit_code == 0, text.stderr
    assert_clean(text.stdout, "text")
    assert printable(name) in text.stdout
    insp = run("inspect", log)
    assert insp.exit_code == 0 and printable(name) in insp.stdout
    assert_clean(insp.stdout, "inspect")
    err = run("analyze", log, "--loss", name + "zz")
    assert err.exit_code == 2 and len(err.stderr.splitlines()) == 1
    assert_clean(err.stderr, "stderr")
    check_machine_formats(args, name)


@pytest.mark.parametrize("kind", list(HOSTILE) + ["not UTF-8"])
def test_hostile_file_names_are_escaped_in_every_output(tmp_path, kind, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short relative names: the summary table shows them whole
    fname = os.fsdecode(b"run\xff\xfe.json") if kind == "not UTF-8" else file_name(HOSTILE[kind])
    log = history(Path("."), "loss", fname)
    shutil.copy(log, "other.json")
    args = ["analyze", log, "--fail-on", "never"]
    text = run(*args)
    assert text.exit_code == 0, text.stderr
    assert_clean(text.stdout, "text")
    assert printable(str(log)) in text.stdout
    many = run("analyze", log, "other.json", "--fail-on", "never")
    assert many.exit_code == 0
    assert_clean(many.stdout, "summary")
    if kind == "rich markup hyperlink":  # shown as written, not read as markup
        assert "[link=" in many.stdout and "[link=" in text.stdout
    empty = Path("empty" + fname)
    empty.write_text("")
    err = run("analyze", empty)
    assert err.exit_code == 2 and len(err.stderr.splitlines()) == 1 and printable(str(empty)) in err.stderr
    assert_clean(err.stderr, "stderr")
    check_machine_formats(args, str(log))


def check_machine_formats(args, name: str) -> None:
    shown = printable(name)
    gh = run(*args, "--format", "github").stdout
    found = json.loads(run(*args, "--format", "json").stdout)[0]["findings"]
    # each finding at or above --fail-on (warning) on its own, one annotation per level below it
    n = sum(f["severity"] in ("warning", "error") for f in found) + len({f["severity"] for f in found} & {"info"})
    lines = gh.splitlines()
    assert len(lines) == max(n, 1) and all(re.match(r"::(error|warning|notice) file=[^\n]*::", x) for x in lines), gh
    assert RAW.search(gh) is None
    junit = run(*args, "--format", "junit").stdout
    root = ET.fromstring(junit.encode("utf-8"))  # valid XML 1.0
    assert root.tag == "testsuites"
    md = run(*args, "--format", "markdown").stdout
    assert_clean(md, "markdown")
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<script" not in html and "<img" not in html, html
    codes = [t.content for tok in MarkdownIt("commonmark").enable("table").parse(md) for t in (tok.children or []) if t.type == "code_inline"]
    assert any(shown.strip() in c for c in codes), (shown, codes)


def test_printable_escapes_each_unsafe_class():
    cases = {"\x1b": "\\x1b", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x00": "\\x00", "\x7f": "\\x7f",
             "\x9b": "\\x9b", "\u202e": "\\u202e", "\u2028": "\\u2028", os.fsdecode(b"\xff"): "\\xff", "é✅": "é✅"}
    for raw, shown in cases.items():
        assert printable(f"a{raw}b") == f"a{shown}b"


# ---- real processes: stdout full, closed, non-UTF-8, cut short; stdin closed; internal errors

def proc(args, env=None, shell_redirect: str | None = None, **kw):
    e = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.update(env or {})
    cmd = [sys.executable, "-m", "curvediag", *map(str, args)]
    if shell_redirect:  # e.g. '>&-': the descriptor closed, as a shell does it
        cmd = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *cmd]
    kw.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(cmd, env=e, stderr=subprocess.PIPE, timeout=120, **kw)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_stdout_is_one_line_and_exit_2(fmt):
    with open("/dev/full", "w") as full:
        r = proc(["analyze", sample("overfitting.csv"), "-f", fmt], stdout=full)
    assert r.returncode == 2, r.stderr
    assert r.stderr.decode().count("\n") == 1 and "No space left on device" in r.stderr.decode()


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_closed_stdout_is_one_line_and_exit_2(fmt, tmp_path):
    r = proc(["analyze", sample("overfitting.csv"), "-f", fmt], shell_redirect=">&-", stdout=None)
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and "stdout is closed" in err, err
    out = tmp_path / "r.txt"  # nothing for stdout: a closed stdout does not matter
    r = proc(["analyze", sample("overfitting.csv"), "-o", out, "--output-format", fmt], shell_redirect=">&-", stdout=None)
    assert r.returncode == 1 and out.stat().st_size > 0 and r.stderr == b""


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_ascii_stdout_degrades_to_escapes(fmt, tmp_path):
    log = tmp_path / "é✅.csv"
    shutil.copy(sample("overfitting.csv"), log)
    r = proc(["analyze", log, "-f", fmt, "--fail-on", "never"], env={"PYTHONIOENCODING": "ascii"})
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    out = r.stdout.decode("ascii")  # every byte is ASCII
    assert "val_loss" in out
    if fmt in ("text", "markdown", "github", "junit"):
        assert "\\xe9\\u2705.csv" in out or "\\u00e9\\u2705.csv" in out, out[:500]


@pytest.fixture(scope="module")
def many_logs(tmp_path_factory):
    d = tmp_path_factory.mktemp("many")
    for i in range(100):  # > 64 KiB of output in every format: more than a pipe holds
        shutil.copy(sample("overfitting.csv"), d / f"run{i:03d}.csv")
    return sorted(d.iterdir())


@pytest.mark.parametrize("fmt", FORMATS)
def test_head_cutting_the_output_short_exits_141(fmt, many_logs):
    head = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        # the compact formats (a few lines of ~100 bytes per log) pass 64 KiB only with more logs
        logs = many_logs * (4 if fmt in ("gitlab-metrics", "azure") else 1)
        r = proc(["analyze", *logs, "-f", fmt, "--full", "-j", "2"], stdout=head.stdin)
    finally:
        head.stdin.close()
        head.wait()
    if fmt == "github":  # annotations are bounded (10 per level): the output fits in the pipe, nothing is cut
        assert r.returncode == 1, (r.returncode, r.stderr[-500:])
    else:
        assert r.returncode == 141, (r.returncode, r.stderr[-500:])
    assert b"Traceback" not in r.stderr and r.stderr == b""


def test_analyze_stdin_closed_is_one_line_and_exit_2():
    for cmd in (["analyze", "-"], ["inspect", "-"], ["plot", "-"]):
        r = proc(cmd, shell_redirect="<&-")
        err = r.stderr.decode()
        assert r.returncode == 2 and err.count("\n") == 1 and "stdin is closed" in err, (cmd, err)


BUGGY = """
import sys
import curvediag.{module} as m
def boom(*a, **k):
    raise {exc}("boom")
m.{func} = boom
from curvediag.cli import main
sys.argv = ["curvediag", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("module,func,exc,args", [
    ("pipeline", "diagnose_log", "RuntimeError", ["analyze", str(sample("healthy.csv"))]),
    ("pipeline", "diagnose_log", "MemoryError", ["analyze", str(sample("healthy.csv")), str(sample("diverged.csv"))]),
    ("render", "renderer", "ZeroDivisionError", ["analyze", str(sample("healthy.csv")), "-f", "json"]),
    ("api", "inspect_log", "KeyError", ["inspect", str(sample("healthy.csv"))]),
    ("config", "resolve", "TypeError", ["config"]),
])
def test_an_internal_error_is_one_line_and_exit_2(module, func, exc, args):
    code = BUGGY.format(module=module, func=func, exc=exc)
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("CURVEDIAG_DEBUG", None)
    r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, env=env, timeout=120)
    err = r.stderr.decode()
    assert r.returncode == 2, err
    lines = err.splitlines()
    assert "Traceback" not in err
    assert all(x.startswith("curvediag: ") and f"internal error: {exc}" in x for x in lines), err
    assert len(lines) == (2 if exc == "MemoryError" else 1), err
    if module == "pipeline" and func == "diagnose_log":
        assert lines[0].startswith(f"curvediag: {args[1]}: internal error: {exc}")
    debug = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, timeout=120,
                           env=dict(env, CURVEDIAG_DEBUG="1"))
    assert b"Traceback" in debug.stderr and debug.returncode != 0
    flag = subprocess.run([sys.executable, "-c", code, "--debug", *args], capture_output=True, timeout=120, env=env)
    assert b"Traceback" in flag.stderr and flag.returncode != 0
    if args[0] == "analyze":
        flag = subprocess.run([sys.executable, "-c", code, *args, "--debug"], capture_output=True, timeout=120, env=env)
        assert b"Traceback" in flag.stderr and flag.returncode != 0
