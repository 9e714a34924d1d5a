"""Issue 19: how sure a verdict is (copies of the run drawn from its own noise), said in every output,
and a gate that fails on sure findings only (unless --fail-on-borderline)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.report import BORDERLINE, SURE

from ..conftest import SAMPLE_VERDICTS, decay, sample

runner = CliRunner()
N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def edge_run(seed: int):
    """A validation loss that drifts up about 10% over its last half with 3% noise: a rise at O102's
    limit and close to the curve's own noise -- for some draws the copies of the run cannot agree."""
    rng = np.random.default_rng(seed)
    train = decay(N, 2.0, 0.2, 8)
    val = 0.5 + 1.5 * np.exp(-np.arange(N) / 6) + 0.003 * np.maximum(0, np.arange(N) - 20)
    return {"loss": train, "val_loss": val * (1 + 0.03 * rng.standard_normal(N))}


@pytest.mark.parametrize("name", sorted(k for k, v in SAMPLE_VERDICTS.items() if v != "insufficient_data"))
def test_clear_samples_are_sure(name):
    rep = curvediag.diagnose(sample(name))
    assert rep.verdict == SAMPLE_VERDICTS[name]
    assert rep.confidence is not None and rep.confidence >= SURE and not rep.borderline
    assert "Borderline" not in rep.headline and "Not sure" not in rep.headline


def test_too_short_has_no_confidence():
    rep = curvediag.diagnose(sample("insufficient_data.csv"))
    assert rep.verdict == "insufficient_data" and rep.confidence is None and rep.alternative is None


def test_same_log_same_confidence_every_time():
    a, b = curvediag.diagnose(sample("overfitting.csv")), curvediag.diagnose(sample("overfitting.csv"))
    assert (a.confidence, a.alternative) == (b.confidence, b.alternative)


def test_a_rise_inside_its_own_noise_is_not_sure_and_says_the_alternative():
    # sweep a few seeds of the edge run: each must either be sure of its verdict, or name the other reading
    seen_doubt = False
    for seed in range(6):
        rep = diag(edge_run(seed))
        assert 0.0 <= rep.confidence <= 1.0
        if rep.confidence < SURE:
            seen_doubt = True
            assert rep.alternative in {"healthy", "overfitting", "still_improving"} and rep.alternative != rep.verdict
            assert f"{rep.verdict} or {rep.alternative}" in rep.headline
        if rep.borderline:
            assert rep.confidence < BORDERLINE
    assert seen_doubt, "a rise at the limit and inside the noise never produced a doubt"


def test_a_borderline_verdict_passes_the_gate_unless_asked(tmp_path):
    # find a borderline overfitting run among seeds of the edge run, write it as a Keras CSV, gate it
    for seed in range(40):
        h = edge_run(seed)
        rep = diag(h)
        if rep.borderline and rep.verdict == "overfitting" and rep.alternative == "healthy":
            break
    else:
        pytest.fail("no borderline overfitting-or-healthy run among 40 seeds")
    log = tmp_path / "edge.csv"
    log.write_text("epoch,loss,val_loss\n" + "".join(f"{i},{t!r},{v!r}\n" for i, (t, v) in
                                                    enumerate(zip(map(float, h["loss"]), map(float, h["val_loss"])))))
    r = runner.invoke(app, ["analyze", str(log), "-f", "json"])
    d = json.loads(r.stdout)[0]
    assert d["verdict"] == "overfitting" and d["borderline"] is True and d["alternative"] == "healthy"
    assert r.exit_code == 0, "a borderline overfitting-or-healthy run failed the default gate"
    assert runner.invoke(app, ["analyze", str(log), "--fail-on-borderline"]).exit_code == 1
    assert runner.invoke(app, ["analyze", str(log)], env={"CURVEDIAG_FAIL_ON_BORDERLINE": "1"}).exit_code == 1
    cfg = tmp_path / "c.toml"
    cfg.write_text("fail-on-borderline = true\n")
    assert runner.invoke(app, ["analyze", str(log), "--config", str(cfg)]).exit_code == 1
    text = runner.invoke(app, ["analyze", str(log)]).stdout
    assert "borderline" in text and "overfitting or healthy" in text
    md = runner.invoke(app, ["analyze", str(log), str(sample("healthy.csv")), "-f", "markdown"]).stdout
    assert "overfitting** or healthy (borderline)" in md
    sarif = json.loads(runner.invoke(app, ["analyze", str(log), "-f", "sarif"]).stdout)
    props = [res["properties"] for res in sarif["runs"][0]["results"] if res["properties"].get("verdict") == "overfitting"]
    assert props and all(p["borderline"] is True and p["alternative"] == "healthy" for p in props)


def test_sure_failures_still_fail_the_gate():
    for name in ("overfitting.csv", "diverged.csv", "not_learning.jsonl", "cramming_history.json"):
        assert runner.invoke(app, ["analyze", str(sample(name))]).exit_code == 1, name


def test_fail_on_borderline_is_checked():
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv"))], env={"CURVEDIAG_FAIL_ON_BORDERLINE": "maybe"})
    assert r.exit_code == 2 and "fail-on-borderline must be true or false" in r.stderr








def test_a_loss_far_below_its_start_is_never_not_learning():
    # fell 60% in 3 epochs, then sat flat: a plateau, not "not learning"
    y = np.concatenate([[2.0, 1.3, 0.85], 0.8 + 0.004 * np.random.default_rng(1).standard_normal(N - 3)])
    rep = diag({"loss": y})
    assert rep.verdict != "not_learning"


def test_a_prefix_that_is_not_sure_stops_nothing():
    from curvediag.monitor import stop_reason

    rep = curvediag.diagnose(sample("overfitting.csv"))
    assert stop_reason(rep, {"overfitting"}) is not None
    from dataclasses import replace

    unsure = replace(rep, confidence=0.5, alternative="healthy")
    assert stop_reason(unsure, {"overfitting"}) is None
    assert stop_reason(replace(rep, confidence=SURE, alternative="healthy"), {"overfitting"}) is not None
