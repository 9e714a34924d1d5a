"""Percent changes in a report are relative to the earlier value (a fall is never more than 100%
below), and a healthy headline does not say "did not turn up" above a projection that says the
curve turned up (issue 19)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import curvediag
from curvediag.rules.base import change, gain_of_level, pct

from ..conftest import SAMPLES, SHARED, real_log_files

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "accuracy"


def test_change_is_relative_to_the_earlier_value():
    assert change(1.0, 0.3) == "70% below"
    assert change(0.3, 1.0) == "233% above"
    assert change(0.004246, 1.806e-05) == "99.6% below"  # not '23409% below', nor a rounded '100%'
    assert change(2.0, 2.0) == "0.0% above"
    assert change(-1.0, -1.5) == "50% below"
    assert change(0.5, -0.3) == "0.8 below"  # across 0 a percentage means nothing
    assert change(0.0, 0.2) == "0.2 above"


def test_pct_never_rounds_a_part_up_to_the_whole():
    assert pct(0.9957) == "99.6%" and pct(0.99999) == ">99.9%" and pct(1.0) == "100%" and pct(2.32) == "232%"


def test_a_further_fall_beyond_the_whole_level_is_said_so():
    assert gain_of_level(0.13) == "about 13% more"
    assert "more than its whole current level" in gain_of_level(219.46)


def test_a_steep_still_falling_loss_is_worded_against_the_earlier_quarter(write):
    rows = "epoch,loss,val_loss\n" + "".join(f"{e},{3 * 0.6 ** e},{3.3 * 0.6 ** e}\n" for e in range(16))
    rep = curvediag.diagnose(write("steep.csv", rows))
    t101 = next(f for f in rep.findings if f.code == "T101")
    m = re.search(r"(\d[\d.]*)% below the average over", t101.message)
    assert m is not None, t101.message
    prev, last = t101.evidence["previous_quarter_mean"], t101.evidence["last_quarter_mean"]
    assert float(m.group(1)) == pytest.approx(100 * (prev - last) / prev, abs=0.6)
    assert float(m.group(1)) < 100


def _logs() -> list[Path]:
    logs = sorted(p for p in SAMPLES.iterdir() if p.suffix != ".md") + real_log_files()
    logs += sorted((SHARED / "real_logs2").rglob("*")) if (SHARED / "real_logs2").is_dir() else []
    with (BENCH / "labels.csv").open() as f:
        logs += [BENCH / "runs" / r["file"] for r in csv.DictReader(f)]
    return [p for p in logs if p.is_file() and p.suffix != ".md" and p.name != "LABELS.json"]


_BELOW = re.compile(r"(\d[\d.,]*(?:e[+-]?\d+)?)% below")


@pytest.mark.slow
def test_no_report_says_more_than_100_percent_below_nor_contradicts_its_projection():
    below = 0
    for p in _logs():
        try:
            rep = curvediag.diagnose(p)
        except curvediag.InputError:
            continue
        for text in [rep.headline] + [f.message for f in rep.findings]:
            for m in _BELOW.finditer(text):
                below += 1
                assert float(m.group(1).replace(",", "")) <= 100, f"{p.name}: {text}"
        if "did not turn up" in rep.headline and rep.projection is not None:
            assert "turned up" not in (rep.projection.reason or ""), f"{p.name}: {rep.headline} / {rep.projection.reason}"
    assert below > 10  # the check saw such messages
