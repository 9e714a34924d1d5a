"""The import contract: one way down.

The package is layered (:data:`LAYERS`, bottom first; CONTRIBUTING.md's pipeline section draws the
same order).  A module imports only from its own layer or the layers below it -- counting the
imports made inside functions, which run as surely as the others -- and the internal import graph
has no circle.  The one sanctioned edge upward is the notebook face: the Report model's
``to_text``/``plot``/``_repr_html_`` call :mod:`curvediag.notebook`, which draws the report with the
text renderer and the plotter (:data:`UPWARD`).

An import of a curvediag module inside a function is made only where it guards something: in the
CLI's command bodies (``cli.py``: ``--help`` must stay fast), in ``curvediag.__getattr__``, on the
notebook edge, in the reader table (each reader loaded when its format is read), and of the readers
whose modules load a heavy standard module (:data:`HEAVY`: ``sqlite3``, ``urllib``/``http``/``ssl``)
that most runs never need.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "curvediag"

#: Bottom first.  A name ending in ``.*`` stands for every module of a package; a package's own name
#: for its ``__init__`` (``render``: the output-format vocabulary and ``printable``, below the renderers).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    # value types and vocabularies
    ("vocabulary", ("_version", "_np", "errors", "verdict", "curves", "wording", "vocabulary")),
    # reading a log: a table, its columns, the readers (which build tables)
    ("readers", ("columns", "table", "readers", "readers.*")),
    # the settings of a diagnosis, the report model (Report, Batch, Unreadable), the output formats
    # and printable (the render package's __init__, below the renderers), the terminal
    ("model", ("settings", "report", "render", "terminal")),
    # measuring curves
    ("measures", ("stats", "resample", "projection", "analysis", "baseline_measures")),
    # judging them
    ("rules", ("remedies", "rules", "rules.*")),
    ("engine", ("summary", "engine")),
    # saying it: renderers, the --output writer, the plotter, the JSON Schema, the rules' docs
    ("render", ("render.*", "output", "plot", "schema", "docs")),
    # loading the settings from a file, the environment and flags (checks rule options and names)
    ("config", ("config",)),
    # one log
    ("pipeline", ("pipeline",)),
    # many logs, live logs, compared logs
    ("runners", ("batch", "comparison", "frames", "monitor", "watch")),
    # the library's face, and the Report's notebook face
    ("face", ("api", "notebook")),
    # framework glue and servers
    ("integrations", ("alerts", "_sweep", "keras", "lightning", "transformers", "optuna", "ray", "mcp_server",
                      "calibrate")),
    ("cli", ("cli", "cli_options", "cli_report", "__main__", "")),  # "": the package itself (curvediag/__init__.py)
]

#: The imports upward the contract allows: (importer, imported).  Keep it short.
UPWARD = {
    ("report", "notebook"),  # Report.to_text/plot/_repr_html_: the notebook face
}

#: Modules whose import loads a heavy standard module (sqlite3; urllib/http/ssl): imported inside
#: the functions that read such a store, so that every other run never pays for them.
HEAVY = {"readers.mlflow", "readers.mlflow_server"}

#: Modules that may import curvediag modules inside functions whatever they are (see the module doc).
LAZY_ANYWHERE = {"cli", "cli_options", "cli_report", ""}  # the CLI: command bodies (and the helpers they call) load what they run

#: A package whose ``__init__`` loads its modules on demand: the reader table (``readers.READERS``)
#: imports each reader when its format is read (loading one reader, which runs the package's
#: ``__init__`` first, must not load the others: tests/readers/test_reader_table.py).
LAZY_SUBMODULES = {"readers"}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        rel = p.relative_to(SRC).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _resolve(cur: str, node: ast.ImportFrom | ast.Import) -> list[str]:
    """The curvediag modules (names relative to the package) an import statement loads."""
    found = []
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names if a.name == "curvediag" or a.name.startswith("curvediag.")]
        found = [n[len("curvediag."):] if n != "curvediag" else "" for n in names]
    else:
        if node.level:
            base = cur.split(".") if cur else []
            if MODULES[cur].name != "__init__.py":
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            mod = ".".join(base + ([node.module] if node.module else []))
        elif node.module and (node.module == "curvediag" or node.module.startswith("curvediag.")):
            mod = node.module[len("curvediag."):] if node.module != "curvediag" else ""
        else:
            return []
        for a in node.names:
            sub = f"{mod}.{a.name}" if mod else a.name
            found.append(sub if sub in MODULES else mod)
    out = []
    for m in found:
        while m not in MODULES and m:
            m = m.rpartition(".")[0]
        out.append(m)
    return out


def _imports() -> list[tuple[str, str, bool]]:
    """Every internal import: (importer, imported, made inside a function)."""
    edges = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def walk(node: ast.AST, lazy: bool) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    edges.extend((name, t, lazy) for t in _resolve(name, child) if t != name)  # noqa: B023
                walk(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

        walk(tree, False)
    return edges


EDGES = _imports()


def _layer(module: str) -> int:
    best = None
    for i, (_, members) in enumerate(LAYERS):
        for m in members:
            if m == module or (m.endswith(".*") and module.startswith(m[:-1])):
                best = i
    assert best is not None, f"curvediag.{module} is in no layer: add it to LAYERS (and CONTRIBUTING.md)"
    return best


def test_every_module_has_a_layer():
    for m in MODULES:
        _layer(m)


def test_nothing_imports_upward():
    upward = sorted({(a, b) for a, b, _ in EDGES if _layer(b) > _layer(a) and (a, b) not in UPWARD})
    assert not upward, "imports upward (importer -> imported): " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_the_allowlist_is_still_needed():
    used = {(a, b) for a, b, _ in EDGES}
    assert UPWARD <= used, UPWARD - used


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b in edges:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(MODULES):
        if m not in index:
            visit(m)
    return out


def test_no_import_circle_but_the_notebook_edge():
    edges = {(a, b) for a, b, _ in EDGES if (a, b) not in UPWARD}
    assert _cycles(edges) == []


def test_lazy_imports_only_where_they_guard_something():
    bad = sorted({(a, b) for a, b, lazy in EDGES
                  if lazy and a not in LAZY_ANYWHERE and (a, b) not in UPWARD and b not in HEAVY
                  and not (a in LAZY_SUBMODULES and b.startswith(a + "."))})
    assert not bad, "imports inside functions that guard nothing (hoist them): " + ", ".join(f"{a} -> {b}" for a, b in bad)


def test_the_heavy_modules_are_heavy_and_nothing_light_loads_them():
    """What :data:`HEAVY` says is true (so its lazy imports guard something), and no module imported
    at start-up of ``analyze`` on a CSV loads sqlite3 or urllib/http/ssl."""
    code = (
        "import sys, curvediag.readers.mlflow, curvediag.readers.mlflow_server;"
        "print('sqlite3' in sys.modules, 'urllib.request' in sys.modules or 'http.client' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=_env()).stdout.split()
    assert out == ["True", "True"], out


@pytest.fixture
def csv_log(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{1 / (i + 1):.4f},{1 / (i + 1) + 0.1:.4f}\n" for i in range(20)))
    return p


def _env():
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC.parent) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_analyze_of_a_file_loads_no_sqlite3_urllib_request_http_or_ssl(csv_log):
    code = (
        "import sys\nfrom curvediag.cli import main_status\nsys.argv = ['curvediag', 'analyze', sys.argv[1]]\n"
        "main_status()\n"
        # (urllib.parse is not among them: pathlib itself imports it)
        "bad = [m for m in ('sqlite3', 'urllib.request', 'http.client', 'ssl') if m in sys.modules]\n"
        "sys.stderr.write('LOADED ' + ' '.join(bad) + '\\n')\n"
    )
    r = subprocess.run([sys.executable, "-c", code, str(csv_log)], capture_output=True, text=True, env=_env())
    line = [x for x in r.stderr.splitlines() if x.startswith("LOADED")]
    assert line == ["LOADED "], r.stderr
