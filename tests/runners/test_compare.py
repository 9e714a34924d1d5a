"""A run compared with its baseline (``curvediag compare``, ``analyze --baseline``, ``curvediag.compare``).

The logs in tests/data/compare are real training runs (benchmarks/compare/make_runs.py: a small MLP
trained with torch): four seeds of one recipe as the baseline, a fifth seed of it, and broken variants."""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.comparison import beyond
from curvediag.config import Settings
from curvediag.rules import BASELINE_RULES, RULES, get_rule

from ..conftest import REPO

DATA = REPO / "tests" / "data" / "compare"
BASELINE = sorted(str(p) for p in DATA.glob("baseline_seed*.csv"))
RERUN = str(DATA / "rerun_seed4.csv")
runner = CliRunner()

#: the comparison findings at warning or above each broken variant must raise (against the 4 seeds)
BROKEN = {
    # its own verdict is not_learning since L103 (a loss at ln K beside an accuracy at chance), so the
    # verdict is worse than the baselines' too (B105)
    "shuffled_labels": {"B101", "B102", "B103", "B105", "B106"},
    "lr_x10": {"B101", "B102", "B106"},
    "small_data": {"B101", "B102", "B103", "B106"},
}
B_CODES = {r.code for r in BASELINE_RULES}


def run_path(name: str) -> str:
    return str(DATA / f"{name}.csv")


def regressions(report, level=("warning", "error")) -> set[str]:
    return {f.code for f in report.findings if f.code in B_CODES and f.severity in level}


def b_codes(report) -> set[str]:
    return {f.code for f in report.findings if f.code in B_CODES}


def read_log(path: str) -> dict[str, list[float]]:
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def test_the_logs_are_what_the_script_writes():
    assert len(BASELINE) == 4
    for name in ("rerun_seed4", *BROKEN):
        log = read_log(run_path(name))
        assert list(log) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"] and len(log["epoch"]) == 30


# --- the CI gate on real runs --------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_compare_gates_ci_on_a_real_regression(name):
    r = runner.invoke(app, ["compare", *BASELINE, "--run", run_path(name), "-f", "json"])
    assert r.exit_code == 1, r.stderr
    d = json.loads(r.stdout)[0]
    found = {f["code"] for f in d["findings"] if f["code"] in B_CODES and f["severity"] != "info"}
    assert found == BROKEN[name]
    assert "Regression against the baseline (4 logs): B10" in d["headline"]


def test_compare_passes_a_real_seed_rerun():
    r = runner.invoke(app, ["compare", *BASELINE, "--run", RERUN, "-f", "json"])
    assert r.exit_code == 0, r.stdout
    d = json.loads(r.stdout)[0]
    assert not {f["code"] for f in d["findings"]} & B_CODES
    assert d["headline"].endswith("No regression against the baseline (4 logs).")
    # every baseline seed also passes against the other three
    for i, seed in enumerate(BASELINE):
        others = BASELINE[:i] + BASELINE[i + 1:]
        assert not regressions(curvediag.compare(others, seed)), seed


def test_shuffled_labels_are_not_learning_alone_and_regress_against_the_baseline():
    # since L103 (issue 19) the run alone is read as it is: a loss at ln 5 beside an accuracy at chance
    alone = runner.invoke(app, ["analyze", run_path("shuffled_labels"), "-f", "json"])
    assert alone.exit_code == 1 and json.loads(alone.stdout)[0]["verdict"] == "not_learning"
    compared = curvediag.compare(BASELINE, run_path("shuffled_labels"))
    assert compared.verdict == "not_learning"  # the run's own verdict is unchanged ...
    assert regressions(compared) == BROKEN["shuffled_labels"]  # ... and the comparison shows how far off it is


def test_compare_gates_only_on_comparison_findings_analyze_baseline_on_all():
    # the re-run overfits a little on its own (O102), as one baseline seed does: no regression for compare
    own = curvediag.diagnose(RERUN)
    assert own.verdict == "overfitting"
    assert runner.invoke(app, ["compare", *BASELINE, "--run", RERUN]).exit_code == 0
    args = ["analyze", RERUN] + [a for b in BASELINE for a in ("--baseline", b)]
    r = runner.invoke(app, args + ["-f", "json"])
    assert r.exit_code == 1  # analyze gates on the run's own O102, as without --baseline
    d = json.loads(r.stdout)[0]
    assert "O102" in {f["code"] for f in d["findings"]} and d["headline"].endswith("No regression against the baseline (4 logs).")
    r = runner.invoke(app, ["analyze", run_path("lr_x10"), "--baseline", BASELINE[0], "--baseline", BASELINE[1], "-f", "json"])
    assert regressions_of(json.loads(r.stdout)[0]) >= {"B101", "B102"}


def regressions_of(d: dict) -> set[str]:
    return {f["code"] for f in d["findings"] if f["code"] in B_CODES and f["severity"] != "info"}


def test_several_runs_one_report_each_worst_exit():
    r = runner.invoke(app, ["compare", *BASELINE, "--run", RERUN, "--run", run_path("small_data"), "-f", "json"])
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert [x["source"]["path"] for x in d] == [RERUN, run_path("small_data")]
    assert not regressions_of(d[0]) and regressions_of(d[1]) == BROKEN["small_data"]
    # text: the healthy run that regressed is named below the summary table
    r = runner.invoke(app, ["compare", *BASELINE, "--run", RERUN, "--run", run_path("small_data"), "--no-color"],
                      env={"COLUMNS": "100"})
    assert "small_data.csv: Healthy" in r.stdout.replace("\n", " ") and "Regression" in r.stdout


# --- every output format --------------------------------------------------------------------------


def test_every_output_format_carries_the_comparison():
    args = ["compare", *BASELINE, "--run", run_path("lr_x10"), "--run", RERUN]
    j = runner.invoke(app, args + ["-f", "json"])
    assert len(json.loads(j.stdout)) == 2
    lines = runner.invoke(app, args + ["-f", "jsonl"]).stdout.splitlines()
    assert [regressions_of(json.loads(x)) for x in lines] == [BROKEN["lr_x10"], set()]
    root = ET.fromstring(runner.invoke(app, args + ["-f", "junit"]).stdout)
    suites = root.findall("testsuite")
    assert len(suites) == 2
    for suite in suites:  # compare: one test case per comparison rule
        assert [c.get("name").split()[0] for c in suite.findall("testcase")] == [r.code for r in BASELINE_RULES]
    failed = {c.get("name").split()[0] for c in suites[0].findall("testcase") if c.find("failure") is not None}
    assert failed == BROKEN["lr_x10"] and suites[1].get("failures") == "0"
    gh = runner.invoke(app, args + ["-f", "github"]).stdout.splitlines()
    assert all(re.fullmatch(r"::(error|warning|notice) file=[^,:]+,title=[^:]+::\S.*", line) for line in gh), gh
    assert {re.search(r"title=curvediag (B\d{3})", x).group(1) for x in gh if "::warning" in x and " B1" in x} == BROKEN["lr_x10"]
    md = runner.invoke(app, args + ["-f", "markdown"]).stdout
    assert "B101" in md and "best-worse-than-baseline" in md
    text = runner.invoke(app, ["compare", *BASELINE, "--run", run_path("lr_x10"), "--no-color"]).stdout
    assert "B106 curve-above-baseline" in text and "Regression against the baseline" in text


def test_json_output_keeps_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    from curvediag.schema import SCHEMA

    d = json.loads(runner.invoke(app, ["compare", *BASELINE, "--run", run_path("shuffled_labels"), "-f", "json"]).stdout)
    jsonschema.validate(d, SCHEMA)


def test_output_file_and_overlay_plot(tmp_path):
    pytest.importorskip("matplotlib")
    out, png = tmp_path / "c.xml", tmp_path / "overlay.png"
    r = runner.invoke(app, ["compare", *BASELINE, "--run", run_path("lr_x10"), "-o", str(out), "--plot", str(png)])
    assert r.exit_code == 1 and r.stdout == ""
    assert ET.parse(out).getroot().get("failures") == "3"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = tmp_path / "o.html"
    assert runner.invoke(app, ["analyze", RERUN, "--baseline", BASELINE[0], "--plot", str(html)]).exit_code in (0, 1)
    assert "<svg" in html.read_text() and "B105" in html.read_text()


def test_outputs_never_replace_a_baseline_log(tmp_path):
    import shutil

    base = tmp_path / "b.csv"
    shutil.copy(BASELINE[0], base)
    before = base.read_bytes()
    for opt in ("-o", "--plot"):
        r = runner.invoke(app, ["compare", str(base), "--run", RERUN, opt, str(base)])
        assert r.exit_code == 2 and "never writes to its inputs" in r.stderr
    assert base.read_bytes() == before
    r = runner.invoke(app, ["compare", *BASELINE, "--run", RERUN, "--run", run_path("lr_x10"), "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 2 and "one --run" in r.stderr


# --- scale-free and robust to jitter --------------------------------------------------------------


def _scaled(log: dict, factor: float) -> dict:
    return {k: ([v * factor for v in vals] if "loss" in k else vals) for k, vals in log.items()}


def _jittered(log: dict, rel: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {k: (list(np.asarray(vals) * (1 + rel * rng.standard_normal(len(vals)))) if "loss" in k else vals)
            for k, vals in log.items()}


NAMES = ["rerun_seed4", *sorted(BROKEN)]


@pytest.mark.parametrize("n_base", [4, 1])
@pytest.mark.parametrize("factor", [10.0, 0.01])
def test_multiplying_the_losses_changes_no_finding(n_base, factor):
    base = [read_log(p) for p in BASELINE[:n_base]]
    for name in NAMES:
        run = read_log(run_path(name))
        # L103 (loss-at-chance) reads the loss's absolute level against ln K, the one rule that is not
        # scale-free by design (a loss x10 is no longer a cross-entropy at chance): left out here
        no_chance = Settings.of(ignore=("L103",))
        plain = curvediag.compare(base, run, no_chance)
        scaled = curvediag.compare([_scaled(b, factor) for b in base], _scaled(run, factor), no_chance)
        assert b_codes(scaled) == b_codes(plain), (name, n_base)
        for f, g in zip((f for f in plain.findings if f.code in B_CODES), (g for g in scaled.findings if g.code in B_CODES)):
            for key in ("excess", "area"):
                if key in f.evidence:
                    assert g.evidence[key] == pytest.approx(f.evidence[key], rel=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_one_percent_jitter_flips_no_result(seed):
    base = [read_log(p) for p in BASELINE]
    jb = [_jittered(b, 0.01, seed * 10 + i) for i, b in enumerate(base)]
    for name in NAMES:
        run = read_log(run_path(name))
        plain = b_codes(curvediag.compare(base, run))
        jittered = b_codes(curvediag.compare(jb, _jittered(run, 0.01, seed * 10 + 9)))
        assert jittered == plain, name
    assert not b_codes(curvediag.compare(jb, _jittered(read_log(RERUN), 0.01, seed)))
    # one baseline log: the gate (warning and above) holds too; B105 (info) follows the run's own borderline
    # verdict, which 1% jitter may move, so it is left out here
    for name in NAMES:
        run = read_log(run_path(name))
        assert regressions(curvediag.compare(jb[:1], _jittered(run, 0.01, seed + 99))) == regressions(
            curvediag.compare(base[:1], run)), name


# --- the measures ---------------------------------------------------------------------------------


def test_beyond_needs_both_the_spread_and_the_margin():
    # four seeds 1.00-1.03: spread ~0.013; limit = worst + max(3 x spread, 5% of the worst)
    b = beyond(1.09, [1.0, 1.01, 1.02, 1.03], float("nan"), 3.0, 0.05)
    assert b.limit == pytest.approx(1.03 + 0.05 * 1.03) and b.regressed
    assert not beyond(1.08, [1.0, 1.01, 1.02, 1.03], float("nan"), 3.0, 0.05).regressed
    # widely spread seeds: the spread sets the limit
    wide = beyond(1.3, [1.0, 1.1, 1.2], float("nan"), 3.0, 0.05)
    assert wide.limit == pytest.approx(1.2 + 3 * 0.1) and not wide.regressed
    # one baseline log: its curve's noise stands in for the seeds' spread
    one = beyond(1.2, [1.0], 0.1, 3.0, 0.05)
    assert one.limit == pytest.approx(1.3) and not one.regressed
    assert beyond(1.06, [1.0], 0.001, 3.0, 0.05).regressed


def _curve(values, val=None):
    n = len(values)
    return {"epoch": list(range(n)), "loss": list(values), "val_loss": list(values if val is None else val)}


def test_each_measure_fires_on_its_own_pattern():
    ep = np.arange(30)
    seeds = [_curve(0.3 + 0.7 * np.exp(-ep / (5 + 0.2 * s)) + 0.002 * np.sin(ep + s)) for s in range(3)]
    same = _curve(0.3 + 0.7 * np.exp(-ep / 5.3) + 0.002 * np.cos(ep))
    assert not b_codes(curvediag.compare(seeds, same))
    # a higher plateau: best, final, floor and the area
    high = _curve(0.5 + 0.5 * np.exp(-ep / 5) + 0.002 * np.sin(ep))
    assert regressions(curvediag.compare(seeds, high)) == {"B101", "B102", "B103", "B106"}
    # the same best, reached early, then a climb: final, the area and the earlier best (info)
    val = np.where(ep < 6, 0.29 + 0.7 * np.exp(-ep / 1.5), 0.29 + 0.7 * np.exp(-6 / 1.5) + 0.02 * (ep - 6))
    climb = curvediag.compare(seeds, _curve(0.3 + 0.7 * np.exp(-ep / 5), val))
    assert {"B102", "B104"} <= b_codes(climb) and "B101" not in b_codes(climb)
    assert next(f for f in climb.findings if f.code == "B104").severity == "info"
    # a start four epochs late that catches up: the area alone
    slow = _curve(0.3 + 0.7 * np.exp(-np.maximum(ep - 4, 0) / 5) + 0.002 * np.sin(ep))
    assert regressions(curvediag.compare(seeds, slow)) == {"B106"}


def test_verdict_worse_takes_the_new_verdicts_severity():
    ep = np.arange(30)
    seeds = [_curve(0.3 + 0.7 * np.exp(-ep / (5 + 0.2 * s))) for s in range(3)]
    nan = _curve(list(0.3 + 0.7 * np.exp(-ep[:20] / 5)) + [float("nan")] * 10)
    f = next(f for f in curvediag.compare(seeds, nan).findings if f.code == "B105")
    assert f.severity == "error" and f.evidence["run_verdict"] == "diverged" and "healthy" in f.message
    # healthy -> overfitting is info: seeds of one recipe differ in it (baseline_seed2 against the other three)
    f = next(f for f in curvediag.compare(BASELINE[:2] + BASELINE[3:], BASELINE[2]).findings if f.code == "B105")
    assert f.severity == "info" and "verdict overfitting, the baseline's healthy" in f.message


def test_skips_say_why():
    ep = np.arange(30)
    base = [{"epoch": list(ep), "val_loss": list(0.3 + np.exp(-ep / 5))}]
    r = curvediag.compare(base, _curve(0.3 + np.exp(-ep / 5)))
    reasons = {s.code: s.reason for s in r.skipped}
    assert "logs no training loss" in reasons["B103"]
    acc_only = [{"epoch": list(ep), "acc": list(0.9 - 0.5 * np.exp(-ep / 5))}]
    reasons = {s.code: s.reason for s in curvediag.compare(acc_only, _curve(0.3 + np.exp(-ep / 5))).skipped}
    assert "judged on val_loss" in reasons["B101"] and "1 - train_acc" in reasons["B101"]


def test_positions_are_not_compared_across_epoch_and_step_axes():
    ep = np.arange(30)
    base = [_curve(0.3 + 0.7 * np.exp(-ep / 5))]
    steps = {"step": [int(e) * 1000 for e in ep], "loss": list(0.3 + 0.7 * np.exp(-ep / 5)), "val_loss": list(0.3 + 0.7 * np.exp(-ep / 5))}
    r = curvediag.compare(base, steps)
    reasons = {s.code: s.reason for s in r.skipped}
    assert "step axis" in reasons["B106"] and "epoch axis" in reasons["B104"]
    assert {"B101", "B102"}.isdisjoint(reasons)  # the levels need no common axis


def test_hostile_names_reach_no_output_raw(tmp_path):
    # a baseline whose name holds an escape sequence and a newline, and no training loss: its name is
    # quoted in the skip reason of B103
    ep = np.arange(30)
    bad = tmp_path / "x\x1b[31m\n::error::forged.csv"
    bad.write_text("epoch,val_loss\n" + "".join(f"{e},{0.3 + np.exp(-e / 5)}\n" for e in ep))
    for fmt in ("text", "github", "markdown", "junit", "json"):
        r = runner.invoke(app, ["compare", str(bad), "--run", RERUN, "-f", fmt, "--no-color"])
        assert r.exit_code in (0, 1) and "\x1b" not in r.stdout, fmt
        assert not any(line.startswith("::error::forged") for line in r.stdout.splitlines()), fmt
    d = json.loads(runner.invoke(app, ["compare", str(bad), "--run", RERUN, "-f", "json"]).stdout)[0]
    assert any(str(bad) in s["reason"] for s in d["skipped"])


def test_settings_choose_and_tune_the_comparison_rules(tmp_path):
    lr = run_path("lr_x10")
    assert "B101" in regressions(curvediag.compare(BASELINE, lr))
    tuned = Settings.of(options={"B101": {"margin": 0.5}})
    assert "B101" not in regressions(curvediag.compare(BASELINE, lr, tuned))
    only = curvediag.compare(BASELINE, lr, Settings.of(select=("B101",)))
    assert {f.code for f in only.findings} == {"B101"}
    cfg = tmp_path / "c.toml"
    cfg.write_text('ignore = ["B1"]\n[rules.best-worse-than-baseline]\nspreads = 100\n')
    r = runner.invoke(app, ["compare", *BASELINE, "--run", lr, "--config", str(cfg)])
    assert r.exit_code == 0, r.stdout
    r = runner.invoke(app, ["compare", *BASELINE, "--run", lr, "--select", "B106", "-f", "json"])
    assert r.exit_code == 1 and regressions_of(json.loads(r.stdout)[0]) == {"B106"}
    cfg.write_text("[rules.B101]\nmargin = 2\n")
    r = runner.invoke(app, ["compare", *BASELINE, "--run", lr, "--config", str(cfg)])
    assert r.exit_code == 2 and "margin" in r.stderr


# --- bad input: one line, exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize("where", ["baseline", "run"])
@pytest.mark.parametrize("content", [None, b"", b"\x00\x01\x02binary", b"a,b\nx,y\n"])
def test_unreadable_baseline_or_run_is_one_line_and_exit_2(tmp_path, where, content):
    bad = tmp_path / "bad.csv"
    if content is not None:
        bad.write_bytes(content)
    base, run = ([str(bad)], RERUN) if where == "baseline" else (BASELINE, str(bad))
    r = runner.invoke(app, ["compare", *base, "--run", run])
    assert r.exit_code == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in r.stderr, r.stderr
    if where == "baseline":
        assert lines[0].startswith("curvediag: baseline ")
        r = runner.invoke(app, ["analyze", RERUN, "--baseline", str(bad)])
        assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1


def test_library_errors():
    with pytest.raises(curvediag.InputError):
        curvediag.compare([str(DATA / "missing.csv")], RERUN)
    with pytest.raises(curvediag.CurvediagError):
        curvediag.compare([], RERUN)
    r = curvediag.compare(BASELINE[0], RERUN)  # one log, not a list
    assert r.source.path == RERUN


# --- documented -----------------------------------------------------------------------------------


def test_comparison_rules_are_documented_like_rules():
    codes = [r.code for r in RULES + BASELINE_RULES]
    names = [r.name for r in RULES + BASELINE_RULES]
    assert len(set(codes)) == len(codes) and len(set(names)) == len(names)
    readme = (REPO / "README.md").read_text()
    docs = (REPO / "docs" / "rules.md").read_text()
    for r in BASELINE_RULES:
        assert r.code.startswith("B") and re.fullmatch(r"[a-z]+(-[a-z]+)*", r.name)
        doc = r.doc()
        assert "What it detects" in doc and "Why it matters" in doc and "Options" in doc, r.code
        for opt, default in r.options.items():
            assert opt in doc
        row = next(line for line in readme.splitlines() if line.startswith(f"| {r.code} |"))
        assert f"| {r.name} |" in row and all(f"`{o}` {d:g}" in row for o, d in r.options.items())
        assert f"## {r.code} {r.name}" in docs
        assert get_rule(r.code) is r and get_rule(r.name) is r
        out = runner.invoke(app, ["rule", r.code]).stdout
        assert r.doc().splitlines()[0] in out
    listing = runner.invoke(app, ["rules"]).stdout
    assert all(r.code in listing for r in BASELINE_RULES)


def test_readme_documents_every_compare_option():
    readme = (REPO / "README.md").read_text()
    out = runner.invoke(app, ["compare", "--help"]).stdout
    for opt in set(re.findall(r"(--[a-z][a-z-]+)", out)) - {"--help"}:
        assert opt in readme, opt
    assert "curvediag compare" in readme
