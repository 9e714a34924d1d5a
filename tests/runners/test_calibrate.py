"""curvediag calibrate: limits just above a family of good runs (tests/data/compare: four seeds of one recipe,
a fifth held out, and broken variants: benchmarks/compare/make_runs.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from curvediag import diagnose
from curvediag.calibrate import calibrate, to_toml

HERE = os.path.dirname(os.path.dirname(__file__))  # tests/
DATA = os.path.join(HERE, "data", "compare")
GOOD = [os.path.join(DATA, f"baseline_seed{i}.csv") for i in range(4)]
ENV = {**os.environ, "PYTHONPATH": os.path.join(HERE, "..", "src")}


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "curvediag", *args], capture_output=True, text=True, env=ENV, **kw)


def warnings(report):
    return [f.code for f in report.findings if f.severity in ("warning", "error")]


def test_calibrated_limits_sit_just_above_the_good_runs():
    cal = calibrate(GOOD)
    rise, run = cal.measured[("rise", "rise_limit")]
    assert os.path.basename(run) == "baseline_seed2.csv" and 0.05 < rise < 0.08
    assert cal.limits[("rise", "rise_limit")] == pytest.approx(rise * 1.1, rel=1e-3)
    share = cal.measured[("O102", "plateau_share")][0]
    assert share < cal.limits[("O102", "plateau_share")] <= 0.99
    assert ("R101", "z_limit") not in cal.limits  # no run jumped 25%: nothing measured, the default stands
    # every good run is quiet under its own calibration
    for p in GOOD:
        assert warnings(diagnose(p, options=cal.options())) == [], p


def test_held_out_good_run_quiet_and_bad_runs_still_caught(tmp_path):
    out = tmp_path / "curvediag.toml"
    r = cli("calibrate", *GOOD, "-o", str(out))
    assert r.returncode == 0 and r.stdout == "", r.stderr
    text = out.read_text()
    assert "[tool.curvediag.rules.rise]" in text and "# rise.rise_limit:" in text and "baseline_seed2.csv" in text
    held_out = os.path.join(DATA, "rerun_seed4.csv")
    # the default limits warn on the held-out seed (a stall); the calibrated ones do not
    assert cli("analyze", held_out).returncode == 1
    assert cli("analyze", held_out, "--config", str(out)).returncode == 0
    for bad in ("lr_x10.csv", "shuffled_labels.csv"):
        r = cli("analyze", os.path.join(DATA, bad), "--config", str(out), "-q")
        assert r.returncode == 1 and "warning" in r.stdout, (bad, r.stdout)
    # shuffled labels: the default limits catch them too since L103 (a loss at chance, issue 19)
    assert cli("analyze", os.path.join(DATA, "shuffled_labels.csv")).returncode == 1


def test_calibrate_to_stdout_is_the_same_configuration():
    r = cli("calibrate", *GOOD)
    assert r.returncode == 0 and r.stdout == to_toml(calibrate(GOOD)) + "\n"


def test_calibrate_bad_input_is_one_line_and_status_2(tmp_path):
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    r = cli("calibrate", GOOD[0], str(bad))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and str(bad) in r.stderr and "Traceback" not in r.stderr
    r = cli("calibrate", GOOD[0], "-o", GOOD[0])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert open(GOOD[0]).read().startswith("epoch")  # the input is untouched
