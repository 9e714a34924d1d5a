"""The labelled benchmark (benchmarks/accuracy): curvediag's verdicts stay right.

A regression guard on real training runs whose labels were verified against
their curves (see benchmarks/accuracy/generate.py); the targets are the ones
the README quotes.
"""

from __future__ import annotations

import importlib.util
import sys

import pytest

from .conftest import REPO

RUN = REPO / "benchmarks" / "accuracy" / "run.py"


@pytest.fixture(scope="module")
def result():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = mod
    spec.loader.exec_module(mod)
    return mod.evaluate()


def test_corpus_is_large_and_covers_every_verdict(result):
    assert result["runs"] >= 150
    truth = result["curvediag"]["confusion"]
    for verdict in ("healthy", "overfitting", "cramming", "not_learning", "diverged", "still_improving"):
        assert sum(truth[verdict].values()) >= 15, verdict


def test_accuracy_targets(result):
    cd = result["curvediag"]
    assert cd["accuracy"] >= 0.95, result["misses"]
    assert cd["macro_f1"] >= 0.93
    assert cd["onset_within_tolerance"] >= 0.90


def test_beats_every_baseline_clearly(result):
    cd = result["curvediag"]
    for name in ("early_stopping", "sagemaker_overfit", "naive_last_gt_min"):
        assert cd["accuracy"] >= result[name]["accuracy"] + 0.3, name
        assert cd["binary_f1"] > result[name]["binary_f1"], name
