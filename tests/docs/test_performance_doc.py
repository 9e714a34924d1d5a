"""docs/performance.md quotes the figures of the last benchmark run (benchmarks/performance.json,
written with them by ``python benchmarks/performance.py --write``), never figures typed by hand."""

from __future__ import annotations

import importlib.util
import json

from ..conftest import REPO


def _performance():
    spec = importlib.util.spec_from_file_location("performance", REPO / "benchmarks" / "performance.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_doc_quotes_the_stored_figures_of_one_run():
    perf = _performance()
    results = json.loads(perf.RESULTS.read_text())
    doc = perf.DOC.read_text()
    assert perf.BEGIN in doc and perf.END in doc
    block = doc[doc.index(perf.BEGIN) + len(perf.BEGIN):doc.index(perf.END)]
    assert block.strip() == perf.render(results).strip()
    # every section of the table, from that run
    for key in ("many", "startup", "monitor", "formats", "linearity", "plots"):
        assert results[key], key
    assert set(results["formats"]) == {"csv", "jsonl", "trainer_state", "tensorboard", "mlflow"}
    assert results["format_rows"] == 1_000_000 and "1000000" in results["monitor"]
    assert "10000000" in results["linearity"]


def test_the_readme_quotes_the_doc_figures():
    perf = _performance()
    r = json.loads(perf.RESULTS.read_text())
    readme = " ".join((REPO / "README.md").read_text().split())  # as rendered: line breaks are spaces
    assert f"{r['many']['cpu_ms_per_log']:.1f} ms" in readme
    assert f"{r['formats']['csv']['wall_x']:.2f}x" in readme
