"""The projection of what more training would buy (curvediag/projection.py): exact on
the families it fits, scale-free, stable under jitter, refusing what it cannot
project, and shown in every output format and the JSON schema."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import replace

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.analysis import Track
from curvediag.cli import app
from curvediag.curves import Series
from curvediag.projection import MAX_WIDTH, expected_gain, project, project_track
from curvediag.schema import SCHEMA

from ..conftest import REPO, sample

runner = CliRunner()


def track(x, y, name="val_loss") -> Track:
    return Track.of(Series(name, name, np.asarray(x, dtype=float), np.asarray(y, dtype=float)))


def power(x, c=0.5, a=2.0, x0=3.0, b=0.7):
    return c + a * (np.asarray(x, dtype=float) + x0) ** -b


def expo(x, c=0.3, a=1.5, tau=25.0):
    return c + a * np.exp(-np.asarray(x, dtype=float) / tau)


#: noiseless curves of both families, on epoch axes starting at 0 or 1, and a step axis
NOISELESS = [
    ("power, epochs 1..60", np.arange(1, 61.0), lambda x: power(x)),
    ("power, steep, epochs 0..39", np.arange(0, 40.0), lambda x: power(x, c=0.1, a=5.0, x0=1.0, b=1.5)),
    ("power, steps", np.arange(100, 20_001, 100.0), lambda x: power(x, c=1.2, a=40.0, x0=500.0, b=0.5)),
    ("exponential, epochs 0..59", np.arange(0, 60.0), lambda x: expo(x)),
    ("exponential, fast, epochs 1..30", np.arange(1, 31.0), lambda x: expo(x, c=0.05, a=2.0, tau=12.0)),
]


@pytest.mark.parametrize("label,x,f", NOISELESS, ids=[n[0] for n in NOISELESS])
def test_exact_recovery_on_noiseless_families(label, x, f):
    p = project_track(track(x, f(x)))
    assert p.projected, p.reason
    length = x[-1] - (x[0] - (x[1] - x[0]))
    for h, more in ((p.horizon_50, 0.5), (p.horizon_100, 1.0)):
        assert h.position == pytest.approx(x[-1] + more * length)
        truth = float(f(h.position))
        assert h.value == pytest.approx(truth, rel=1e-3), label
        assert h.change == pytest.approx(truth / float(f(x[-1])) - 1, abs=1e-3)
        assert h.low <= h.value <= h.high
    assert p.at_end == pytest.approx(float(f(x[-1])), rel=1e-3)


def _curves():
    """Noisy curves of each kind: still falling (both families, long and short), flat, turned up."""
    rng = np.random.default_rng(7)
    x = np.arange(1, 81.0)
    yield "noisy power", x, power(x) * (1 + 0.01 * rng.standard_normal(x.size))
    yield "noisy exponential", x, expo(x, tau=20.0) * (1 + 0.01 * rng.standard_normal(x.size))
    x = np.arange(0, 25.0)
    yield "short still falling", x, power(x, c=0.2, a=1.0, x0=2.0, b=0.4) * (1 + 0.01 * rng.standard_normal(x.size))
    yield "flat plateau", np.arange(0, 50.0), 0.8 * (1 + 0.005 * rng.standard_normal(50))
    x = np.arange(0, 60.0)
    yield "turned up", x, (0.5 + 0.0004 * (x - 20) ** 2) * (1 + 0.01 * rng.standard_normal(x.size))


CURVES = list(_curves())


@pytest.mark.parametrize("label,x,y", CURVES, ids=[c[0] for c in CURVES])
def test_relative_projection_is_invariant_to_scale(label, x, y):
    base = project_track(track(x, y))
    for k in (10.0, 0.001):
        scaled = project_track(track(x, y * k))
        assert scaled.projected == base.projected, label
        if base.projected:
            for h0, h1 in ((base.horizon_50, scaled.horizon_50), (base.horizon_100, scaled.horizon_100)):
                assert h1.change == pytest.approx(h0.change, abs=1e-6)
                assert h1.change_low == pytest.approx(h0.change_low, abs=1e-6)
                assert h1.change_high == pytest.approx(h0.change_high, abs=1e-6)
                assert h1.value == pytest.approx(h0.value * k, rel=1e-6)


@pytest.mark.parametrize("label,x,y", CURVES, ids=[c[0] for c in CURVES])
def test_projection_is_stable_under_one_percent_jitter(label, x, y):
    base = project_track(track(x, y))
    # a refusal for width is a threshold: a range within 20% of MAX_WIDTH may fall either side
    near = base.projected and (base.horizon_100.change_high - base.horizon_100.change_low) > 0.8 * MAX_WIDTH
    for seed in range(5):
        rng = np.random.default_rng(100 + seed)
        j = project_track(track(x, y * (1 + 0.01 * rng.standard_normal(y.size))))
        if near and not j.projected:
            assert j.reason.startswith("too uncertain"), (label, seed, j.reason)
            continue
        assert j.projected == base.projected, (label, seed, j.reason, base.reason)
        if base.projected:
            # stable relative to its own stated uncertainty: moved by at most half the width of
            # the base's range (or 1 percentage point), and the two ranges overlap
            for h0, h1 in ((base.horizon_50, j.horizon_50), (base.horizon_100, j.horizon_100)):
                tol = max(0.01, (h0.change_high - h0.change_low) / 2)
                assert h1.change == pytest.approx(h0.change, abs=tol), (label, seed)
                assert h1.change_low <= h0.change_high and h0.change_low <= h1.change_high, (label, seed)


def test_refuses_too_short_curves():
    for n in (1, 2, 4, 5):
        p = project_track(track(np.arange(n, dtype=float), power(np.arange(n))))
        assert not p.projected and p.horizon_50 is None and p.horizon_100 is None
        assert p.reason.startswith("too short to project") and f"has {n} finite points" in p.reason


@pytest.mark.parametrize("shape", ["u", "v", "late rise"])
def test_refuses_curves_that_turned_up(shape):
    x = np.arange(0, 40.0)
    y = {"u": 0.5 + 0.001 * (x - 15) ** 2,
         "v": 0.4 + 0.02 * np.abs(x - 25),
         "late rise": np.where(x < 30, power(x), power(30) * (1 + 0.03 * (x - 29)))}[shape]
    p = project_track(track(x, y))
    assert not p.projected and "turned up" in p.reason
    assert expected_gain(track(x, y)) is None


def test_refuses_non_positive_losses():
    x = np.arange(0, 30.0)
    p = project_track(track(x, power(x) - 2.0))
    assert not p.projected and "not positive" in p.reason


@pytest.mark.parametrize("levels", [(1.0, 0.6, 0.35), (1.0, 0.7, 0.5, 0.3)])
def test_refuses_an_unpredictable_tail(levels):
    # a staircase (a step learning-rate schedule): projections made earlier in the run
    # missed its end by far, so it says the range is too wide instead of a number
    rng = np.random.default_rng(3)
    y = np.repeat(levels, 30 // len(levels) + 1)[:30] * (1 + 0.005 * rng.standard_normal(30))
    p = project_track(track(np.arange(30.0), y))
    assert not p.projected and p.reason.startswith("too uncertain to project")
    assert "missed its end by" in p.reason


def test_a_flat_noisy_curve_projects_no_change():
    rng = np.random.default_rng(5)
    p = project_track(track(np.arange(40.0), 2.0 * (1 + 0.02 * rng.standard_normal(40))))
    assert p.projected and abs(p.horizon_100.change) < 0.01
    assert p.horizon_100.change_low < 0 < p.horizon_100.change_high


def test_expected_gain_matches_the_horizons_and_is_cached():
    x = np.arange(1, 61.0)
    t = track(x, power(x))
    p = project(t)
    assert project(t) is p  # computed once per track (rules and the report share it)
    g, lo, hi = expected_gain(t)
    assert g == pytest.approx(-p.horizon_50.change) and lo == pytest.approx(-p.horizon_50.change_high)
    assert hi == pytest.approx(-p.horizon_50.change_low) and lo <= g <= hi and g > 0
    g100 = expected_gain(t, 1.0)
    assert g100[0] == pytest.approx(-p.horizon_100.change) and g100[0] > g


def test_report_projects_val_loss_else_the_only_loss(write):
    r = curvediag.diagnose(str(sample("still_improving_fastai.csv")))
    assert r.projection.metric == "val_loss" and r.projection.projected
    assert r.projection.horizon_100.change < r.projection.horizon_50.change < 0
    lines = "epoch,loss\n" + "".join(f"{i},{float(power(i + 1)):.6f}\n" for i in range(30))
    r = curvediag.diagnose(str(write("train_only.csv", lines)))
    assert r.projection.metric == "train_loss" and r.projection.projected
    assert curvediag.diagnose(str(sample("overfitting.csv"))).projection.reason.startswith("val_loss turned up")
    assert "diverged" in curvediag.diagnose(str(sample("diverged.csv"))).projection.reason
    assert "too short" in curvediag.diagnose(str(sample("insufficient_data.csv"))).projection.reason


def test_json_schema_with_projection_present_refused_and_absent():
    r = curvediag.diagnose(str(sample("still_improving_fastai.csv")))
    d = r.to_dict()
    assert d["projection"]["projected"] is True and set(d["projection"]["horizon_50"]) == {
        "position", "more", "value", "low", "high", "change", "change_low", "change_high"}
    jsonschema.validate(d, SCHEMA)
    refused = curvediag.diagnose(str(sample("overfitting.csv"))).to_dict()
    assert refused["projection"]["projected"] is False and refused["projection"]["horizon_100"] is None
    jsonschema.validate(refused, SCHEMA)
    absent = replace(r, projection=None).to_dict()
    assert absent["projection"] is None
    jsonschema.validate(absent, SCHEMA)
    broken = json.loads(json.dumps(d))
    broken["projection"]["horizon_50"]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


@pytest.mark.parametrize("name", ["still_improving_fastai.csv", "overfitting.csv"])
def test_every_output_format_shows_the_projection(name):
    path = str(sample(name))
    summary = curvediag.diagnose(path).projection.summary()
    projected = name.startswith("still")
    assert summary.startswith("another 12 epochs would lower val_loss by about") if projected else "turned up" in summary

    def out(fmt):
        r = runner.invoke(app, ["analyze", path, "--format", fmt, "--fail-on", "never"], env={"COLUMNS": "2000"})
        assert r.exit_code == 0, r.stderr
        return r.stdout

    assert f"projection: {summary}" in out("text")
    assert json.loads(out("json"))[0]["projection"]["summary"] == summary
    assert json.loads(out("jsonl").splitlines()[0])["projection"]["summary"] == summary
    assert f"**Projection:** {summary}" in out("markdown")
    props = ET.fromstring(out("junit")).find("testsuite/properties")
    assert props.find("property[@name='curvediag.projection']").get("value") == summary
    gh = out("github")
    if projected:  # appended to the still-improving notice (GitHub escapes % as %25)
        assert f"Projection: {summary.replace('%', '%25')}." in gh
    else:
        assert "Projection:" not in gh


def test_projection_loads_no_scipy():
    code = ("import sys, curvediag; curvediag.diagnose(%r); "
            "print('scipy' in sys.modules)" % str(sample("still_improving_fastai.csv")))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                       env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
