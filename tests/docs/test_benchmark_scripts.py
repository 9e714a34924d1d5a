"""The verdict benchmarks (benchmarks/verdicts.py, benchmarks/prefixes.py) run end to end.

Not timed and not a target: each runs on a few runs of the committed corpus (and of the development
sets in ../shared when they are there; the tests say so when they are not), and checks that the figures
it prints are made of the runs it read.  The exact transforms (losses x10 and x0.1, the log rewritten as
CSV, JSON, JSON Lines, with renamed columns, renumbered epochs) must flip no verdict: issue 19 holds
them as tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys

import pytest

from ..conftest import REPO

BENCH = REPO / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        yield (importlib.import_module("labelled"), importlib.import_module("verdicts"),
               importlib.import_module("prefixes"))
    finally:
        sys.path.remove(str(BENCH))


def _need(labelled, name):
    if not labelled.available(name):
        pytest.skip(f"{labelled.SETS[name]} not found: the development set is not beside the repository")


@pytest.fixture(scope="module")
def corpus(bench):
    _, verdicts, _ = bench
    return verdicts.run(["corpus"], noise=False, jobs=1, sample=12)["corpus"]


def test_labelled_sets_load_and_subsample(bench):
    labelled, _, _ = bench
    cases = labelled.load("corpus")
    assert len(cases) >= 250 and all(c.path.is_file() for c in cases)
    assert {c.label for c in cases} >= {"healthy", "overfitting", "cramming", "not_learning", "diverged",
                                        "still_improving"}
    pick = labelled.subsample(cases, 5)
    assert len(pick) == 5 and pick[0] is cases[0] and pick[-1] is cases[-1]
    step = next(c for c in cases if c.onset_is_x and c.onset is not None)
    assert labelled.onset_position(step, [0.0, step.onset - 1, step.onset, step.onset + 1]) == 2


def test_verdicts_figures_are_made_of_the_runs_read(corpus):
    rows, s = corpus["rows"], corpus["summary"]
    assert s["runs"] == len(rows) == 12
    assert s["scored"] == sum(r["scored"] for r in rows)
    assert sum(sum(v.values()) for v in s["confusion"].values()) == s["scored"]
    right = sum(r["verdict"] == r["label"] for r in rows if r["scored"])
    assert s["accuracy"] == pytest.approx(right / s["scored"])
    assert all(r["gate"] in (0, 1) for r in rows)
    # the gate is the CLI's exit status: a run whose worst finding reaches the default --fail-on exits 1
    assert any(r["gate"] == 1 for r in rows) and any(r["gate"] == 0 for r in rows)


@pytest.mark.parametrize("transform", ["x10", "x0.1", "csv", "json", "jsonl", "renamed", "renumbered"])
def test_exact_transforms_flip_nothing(corpus, transform):
    e = corpus["summary"]["exact"][transform]
    assert e["verdict_flips"] == 0 and e["gate_flips"] == 0 and e["best_epoch_moved"] == 0, e


@pytest.mark.xfail(reason="issue 19: a log that writes every epoch twice is not yet judged per epoch", strict=False)
def test_rows_written_twice_flip_nothing(corpus):
    e = corpus["summary"]["exact"]["twice"]
    assert e["verdict_flips"] == 0 and e["gate_flips"] == 0 and e["best_epoch_moved"] == 0, e


def test_noise_and_dropped_evaluation_are_replayed(bench):
    labelled, verdicts, _ = bench
    cases = labelled.subsample(labelled.load("corpus"), 3)
    rows = [verdicts.replay(c) for c in cases]
    assert all(len(r["noise"]) == verdicts.SEEDS for r in rows)
    assert all(r["drop_last"] is not None for r in rows)
    s = verdicts.summarise(rows)
    assert s["noise"]["draws"] == 3 * verdicts.SEEDS and 0 <= s["noise"]["verdict_flip_rate"] <= 1
    # gate flips outside borderline reports are a subset of the gate flips
    assert 0 <= s["noise"]["sure_gate_flip_rate"] <= s["noise"]["gate_flip_rate"]
    assert all(len(d) == 3 and isinstance(d[2], bool) for r in rows for d in r["noise"])
    # the same seeds give the same draws: the figure is reproducible
    assert verdicts.replay(cases[0])["noise"] == rows[0]["noise"]


def test_verdicts_command_prints_json_and_text(bench, capsys):
    _, verdicts, _ = bench
    assert verdicts.main(["--set", "corpus", "--quick", "--sample", "3", "--jobs", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["corpus"]["summary"]["runs"] == 3 and "noise" not in out["corpus"]["summary"]
    assert verdicts.main(["--set", "corpus", "--quick", "--sample", "3", "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert "accuracy (scored)" in text and "exact transforms" in text and "last evaluation dropped" in text


def test_prefixes_replay_every_prefix_from_the_fifth(bench, capsys):
    labelled, _, prefixes = bench
    res = prefixes.run(["corpus"], jobs=1, sample=4)["corpus"]
    rows, s = res["rows"], res["summary"]
    assert s["prefixes_judged"] == sum(len(r["prefixes"]) for r in rows) > 0
    for r in rows:
        ns = [p["n"] for p in r["prefixes"]]
        assert ns == sorted(ns) and ns[0] == prefixes.FIRST
        if r["label"] in ("healthy", "still_improving"):
            assert ns[-1] == r["evaluations"]  # a good run is judged up to its end
    assert prefixes.lengths(200, 100)[-1] == 200 and len(prefixes.lengths(200, None)) < 60
    assert prefixes.main(["--set", "corpus", "--sample", "2", "--jobs", "1"]) == 0
    assert "false alarms" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["real", "real2"])
def test_development_sets_run(bench, name):
    labelled, verdicts, prefixes = bench
    _need(labelled, name)
    res = verdicts.run([name], noise=False, jobs=1, sample=4)[name]
    assert res["summary"]["runs"] == 4 and all(r["verdict"] != "error" for r in res["rows"])
    pre = prefixes.run([name], jobs=1, sample=3)[name]
    assert pre["summary"]["prefixes_judged"] > 0


def test_issue19_generator_reproduces_a_committed_run(tmp_path):
    """The issue-19 runs are regenerated byte for byte from their seed (generate_issue19.py)."""
    pytest.importorskip("sklearn")
    spec = importlib.util.spec_from_file_location("bench_gen19", BENCH / "accuracy" / "generate_issue19.py")
    gen = importlib.util.module_from_spec(spec)
    sys.modules["bench_gen19"] = gen  # its dataclass looks itself up there
    sys.path.insert(0, str(BENCH / "accuracy"))
    try:
        spec.loader.exec_module(gen)
    finally:
        sys.path.remove(str(BENCH / "accuracy"))
    rows = {r["file"]: r for r in _corpus_rows()}
    for pattern, seed, cfg, _ in gen.plan():
        name = f"{gen.PREFIX}{pattern}_s{seed}"
        if pattern in ("tiny_val", "early_nan") and seed == 1:
            file = next(f for f in rows if f.rsplit(".", 1)[0] == name)
            gen.write_epoch_log(tmp_path / file, rows[file]["format"], gen.train(cfg))
            assert (tmp_path / file).read_bytes() == (BENCH / "accuracy" / "runs" / file).read_bytes(), file


def _corpus_rows() -> list[dict]:
    import csv

    with (BENCH / "accuracy" / "labels.csv").open() as f:
        return list(csv.DictReader(f))
