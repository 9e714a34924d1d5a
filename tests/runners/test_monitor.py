"""The live Monitor gives the report ``diagnose`` gives for the same rows in a file; findings are
alerted once, at the position they first appeared; the Observer (what callbacks share) checks,
speaks and stops when it should."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import curvediag
from curvediag.config import Settings
from curvediag.monitor import Monitor, Observer


def _write_csv(path, rows):
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        for r in rows:
            w.writerow({k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()})


def _same(live, posthoc):
    a, b = live.to_dict(), posthoc.to_dict()
    for d in (a, b):
        d.pop("source")
    assert a == b


def _epochs(kind, n, rng, scale=1.0):
    rows = []
    for e in range(n):
        noise = 1 + 0.01 * rng.standard_normal()
        tl = (2 * np.exp(-e / 8) + 0.1) * noise
        if kind == "healthy":
            vl = (1.5 * np.exp(-e / 10) + 0.3) * noise
            acc = 0.9 - 0.6 * np.exp(-e / 10)
        elif kind == "overfitting":
            vl = 1.5 * np.exp(-e / 8) + 0.3 + 0.03 * max(0, e - 12)
            acc = 0.8 - 0.5 * np.exp(-e / 8)
        elif kind == "cramming":
            vl = 1.5 * np.exp(-e / 8) + 0.3 + 0.05 * max(0, e - 10)
            acc = 0.8 - 0.5 * np.exp(-e / 8) - 0.02 * max(0, e - 10)
        elif kind == "not_learning":
            tl = 2.3 * noise
            vl = 2.3 * (1 + 0.01 * rng.standard_normal())
            acc = 0.1 + 0.01 * rng.standard_normal()
        else:  # diverged
            tl = tl if e < n // 2 else (float("nan") if e > n // 2 + 1 else tl * 50)
            vl = tl * 1.1
            acc = 0.5
        rows.append(dict(epoch=e, loss=tl * scale, val_loss=vl * scale, val_accuracy=acc))
    return rows


@pytest.mark.parametrize("kind", ["healthy", "overfitting", "cramming", "not_learning", "diverged"])
@pytest.mark.parametrize("n", [4, 12, 40])
def test_monitor_report_equals_posthoc_report(tmp_path, kind, n):
    rng = np.random.default_rng(n)
    rows = _epochs(kind, n, rng, scale=7.0)
    mon = Monitor(framework="keras")  # the CSV written below reads as Keras': the remedies in its words
    for r in rows:
        r = dict(r)
        mon.log(epoch=r.pop("epoch"), **r)
        mon.check()  # checking along the way changes nothing about the final answer
    p = tmp_path / "log.csv"
    _write_csv(p, rows)
    _same(mon.check(), curvediag.diagnose(str(p)))


def test_monitor_sparse_step_logs_equal_posthoc(tmp_path):
    """Train loss every step, validation every 50 steps, in separate calls (as frameworks log)."""
    rng = np.random.default_rng(3)
    mon, rows = Monitor(), []
    for step in range(1, 2001):
        loss = 3 * step ** -0.3 * (1 + 0.05 * rng.standard_normal())
        mon.log(step=step, loss=loss)
        rows.append(dict(step=step, loss=loss))
        if step % 50 == 0:
            vl = 3 * step ** -0.25 + 0.0002 * max(0, step - 1000)
            mon.log(step=step, eval_loss=vl, eval_accuracy=0.5)
            rows.append(dict(step=step, eval_loss=vl, eval_accuracy=0.5))
    p = tmp_path / "log.csv"
    _write_csv(p, rows)
    _same(mon.check(), curvediag.diagnose(str(p)))


def test_monitor_settings_apply_as_for_files(tmp_path):
    rows = _epochs("overfitting", 40, np.random.default_rng(0))
    s = Settings.of(ignore=("O",))
    mon = Monitor(s, framework="keras")  # the CSV written below reads as Keras'
    for r in rows:
        r = dict(r)
        mon.log(epoch=r.pop("epoch"), **r)
    p = tmp_path / "log.csv"
    _write_csv(p, rows)
    live = mon.check()
    assert live.verdict != "overfitting"
    _same(live, curvediag.diagnose(str(p), settings=s))


def test_alert_once_at_the_position_it_first_appeared():
    rows = _epochs("overfitting", 40, np.random.default_rng(1))
    seen = []
    mon = Monitor(on_alert=seen.append)
    first_at = {}
    for r in rows:
        r = dict(r)
        e = r.pop("epoch")
        mon.log(epoch=e, **r)
        mon.check()
        for a in mon.new_alerts:
            first_at[a.finding.code] = e
        assert mon.check().findings == mon.report.findings and mon.new_alerts == ()  # nothing new
    codes = [a.finding.code for a in mon.alerts]
    assert len(codes) == len(set(codes)), "a finding was alerted twice"
    assert [a.finding.code for a in seen] == codes
    assert "O102" in codes or "O101" in codes
    for a in mon.alerts:
        assert a.at == first_at[a.finding.code]
        assert a.axis == "epoch"
        assert f"at epoch {int(a.at)}" in a.line()
    # the rise appears after the minimum (epoch ~12), not before it
    rise = next(a for a in mon.alerts if a.finding.code in ("O101", "O102"))
    assert rise.at > 12
    assert not any(a.finding.verdict == "insufficient_data" for a in mon.alerts)


def test_should_stop_matches_verdicts_codes_and_names():
    mon = Monitor()
    assert not mon.should_stop()  # nothing logged
    for e, loss in enumerate([1.0, 0.8, 0.7, float("nan")]):
        mon.log(epoch=e, loss=loss, val_loss=loss)
    assert mon.should_stop(on=("diverged",))
    assert mon.should_stop(on=("D101",))
    assert mon.should_stop(on=("non-finite-loss",))
    assert not mon.should_stop(on=("overfitting",))
    assert not mon.should_stop(on=())


def test_values_that_are_not_numbers_are_ignored_numpy_scalars_kept():
    mon = Monitor()
    mon.log(epoch=np.int64(0), loss=np.float32(1.5), val_loss=np.array(1.7), note="text", flag=True, vec=[1, 2])
    cols = mon.columns()
    assert set(cols) == {"epoch", "loss", "val_loss"}
    assert cols["loss"][0] == pytest.approx(1.5)
    assert cols["val_loss"][0] == pytest.approx(1.7)
    mon.log()  # nothing to record: no row
    assert mon.rows == 1


def test_growth_keeps_earlier_rows_and_reports_stay_valid():
    mon = Monitor()
    for e in range(30):
        mon.log(epoch=e, loss=1.0 / (e + 1))
    early = mon.check()
    for e in range(30, 300):
        mon.log(epoch=e, loss=1.0 / (e + 1), val_loss=1.2 / (e + 1))
    late = mon.check()
    assert early.source.rows == 30 and late.source.rows == 300
    cols = mon.columns()
    assert np.isnan(cols["val_loss"][:30]).all() and cols["loss"][0] == 1.0
    assert late.metrics[0].points == 300


# -- the Observer: what the framework callbacks share ------------------------------------------

def test_observer_stops_at_the_first_nan_even_before_min_points():
    lines = []
    obs = Observer(stop_on=("diverged",), min_points=10, say=lines.append)
    obs.log(epoch=0, loss=1.0, val_loss=1.1)
    assert not obs.evaluate()
    obs.log(epoch=1, loss=float("nan"), val_loss=float("nan"))
    assert obs.evaluate()
    assert obs.stopped_by is not None and obs.stopped_by.verdict == "diverged"
    assert any("stopping training" in s for s in lines)


def test_observer_min_points_and_level_gate_what_is_said(tmp_path):
    said, found = [], []
    obs = Observer(min_points=20, say=said.append, on_finding=found.append)
    for r in _epochs("overfitting", 40, np.random.default_rng(2)):
        r = dict(r)
        obs.log(epoch=r.pop("epoch"), **r)
        assert not obs.evaluate()  # observe only: never stops
        if obs.monitor.rows < 20:
            assert said == []
    assert found and all(a.finding.severity in ("warning", "error") for a in found)
    assert len(said) == len(found) == len({a.finding.code for a in found})
    assert all(s.startswith("curvediag: ") and "\n" not in s for s in said)


def test_observer_check_every_skips_checks():
    obs = Observer(check_every=5, min_points=1)
    calls = []
    real = obs.monitor.check
    obs.monitor.check = lambda: calls.append(1) or real()  # type: ignore[method-assign]
    for e in range(20):
        obs.log(epoch=e, loss=1.0 / (e + 1), val_loss=1.1 / (e + 1))
        obs.evaluate()
    assert len(calls) == 4


def test_observer_report_path_written_at_stop_and_close_as_analyze_json(tmp_path):
    rows = _epochs("overfitting", 30, np.random.default_rng(4))
    out = tmp_path / "reports" / "curvediag.json"
    out.parent.mkdir()
    obs = Observer(report_path=str(out), framework="keras")  # the CSV below reads as Keras' (remedies in its words)
    for r in rows:
        r = dict(r)
        obs.log(epoch=r.pop("epoch"), **r)
        obs.evaluate()
    assert not out.exists()  # written when training ends (or stops), not at every check
    obs.close()
    live = json.loads(out.read_text())
    p = tmp_path / "log.csv"
    _write_csv(p, rows)
    from typer.testing import CliRunner

    from curvediag.cli import app

    res = CliRunner().invoke(app, ["analyze", str(p), "--format", "json"])
    posthoc = json.loads(res.stdout)[0]  # one input: the array's one report
    for d in (live, posthoc):
        d.pop("source")
    assert live == posthoc
    assert [p.name for p in out.parent.iterdir()] == ["curvediag.json"]  # no temporary left behind


def test_observer_rejects_bad_arguments():
    with pytest.raises(ValueError):
        Observer(check_every=0)
    with pytest.raises(ValueError):
        Observer(min_points=0)
    with pytest.raises(ValueError):
        Observer(level="loud")
