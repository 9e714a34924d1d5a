"""M101 epoch-staircase and R101 spike-triage together on real public logs and on runs trained for them
(tests/data/modern/: SOURCES.md, LABELS.json; benchmarks/modern/make_runs.py trains the runs): silent on
the sample logs, shown by every format and the live monitor, the detector benchmark's figures.  Each
rule's own tests: tests/rules/test_epoch_staircase.py, test_spike_triage.py, test_lr_schedule.py and
test_early_stopping_advice.py."""

from __future__ import annotations

import json
import os

import pytest

from curvediag import diagnose, Monitor

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "modern")
TRAINED = os.path.join(DATA, "trained")
SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "..", "sample_logs")


def finding(report, code):
    return next((f for f in report.findings if f.code == code), None)


def trained(name):
    return os.path.join(TRAINED, f"{name}_trainer_state.json")


@pytest.mark.parametrize("sample", sorted(os.listdir(SAMPLES)))
def test_new_rules_silent_on_the_per_epoch_sample_logs(sample):
    if sample.endswith(".md"):
        pytest.skip("not a log")
    r = diagnose(os.path.join(SAMPLES, sample))
    assert finding(r, "M101") is None and finding(r, "R101") is None


@pytest.mark.parametrize("fmt", ["text", "markdown", "junit", "github", "sarif", "gitlab", "jsonl"])
def test_every_format_shows_the_new_findings(fmt):
    from curvediag.batch import run
    from curvediag.config import Settings
    from curvediag.render import OutputFormat, OutputOptions, render

    batch = run([trained("staircase_memorise"), trained("spike_lingered")], Settings())
    text = render(batch, OutputFormat(fmt), OutputOptions(full=True))
    assert "M101" in text or "epoch-staircase" in text
    assert "R101" in text or "spike-triage" in text


def test_live_monitor_says_the_staircase_and_the_spike():
    for name, code in (("staircase_overfit", "M101"), ("spike_lingered", "R101")):
        with open(trained(name)) as fh:
            rows = json.load(fh)["log_history"]
        mon = Monitor()
        seen = []
        for k in range(0, len(rows), 25):
            mon.log_many(rows[k:k + 25])
            mon.check()
            seen += [a.finding.code for a in mon.new_alerts]
        assert code in seen
        assert finding(mon.check(), code).evidence == finding(diagnose(rows), code).evidence


def test_the_detector_benchmark_gives_the_figures_the_readme_quotes():
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "..", "benchmarks", "modern", "detectors.py")
    spec = importlib.util.spec_from_file_location("modern_detectors", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.score()
    m, r = res["M101"], res["R101"]
    assert (len(m["hit"]), len(m["miss"]), len(m["false_alarm"]), len(m["eval_agree"])) == (9, 1, 0, 8)
    assert (len(r["hit"]), len(r["miss"]), len(r["false_alarm"]), len(r["outcome_agree"])) == (7, 0, 0, 6)
    readme = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "..", "README.md")).read()
    assert "M101 has 9 hits, 1 miss and no false alarm" in readme and "R101 7 hits, no miss and no false alarm" in readme
