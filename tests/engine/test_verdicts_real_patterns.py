"""Verdict patterns read from real logs (issue 10), each built as a family of curves:
a settled plateau, slow learning, too-short logs that cannot pass the gate, and
switched-off rules that cannot make a run look healthy.  The patterns of one rule
each are in tests/rules/test_<rule>.py."""

from __future__ import annotations

import json
from typer.testing import CliRunner

import numpy as np
import pytest

import curvediag
from curvediag.cli import app

from ..conftest import noisy, sample


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def saturating(n, start, floor, tau, steep=0.0):
    """A loss falling towards ``floor`` with time constant ``tau``; ``steep`` adds a first
    epoch far above the rest (a steep first epoch that dominates the whole run's drop)."""
    t = np.arange(n, dtype=float)
    y = floor + (start - floor) * np.exp(-t / tau)
    if steep:
        y[0] = steep
    return y


@pytest.mark.parametrize("n", [30, 80, 200])
def test_a_settled_noisy_plateau_is_healthy_under_jitter(n):
    val = saturating(n, 2.0, 0.3, tau=n / 15)  # settled after the first sixth of the run
    train = saturating(n, 2.1, 0.1, tau=n / 15)
    flips = 0
    for seed in range(40):
        rep = diag({"loss": noisy(train, 0.02, seed=seed), "val_loss": noisy(val, 0.02, seed=1000 + seed)})
        flips += rep.verdict != "healthy"
    assert flips <= 1


def test_accuracy_stuck_while_the_loss_falls_steadily_is_slow_learning_not_none():
    n = 20
    t = np.arange(n)
    loss = 1.44 * (1 - 0.004 * t)  # 7.6% net, steady, not slowing
    acc = 0.38 + 0.002 * t  # barely moves
    rep = diag({"loss": noisy(loss, 0.0005), "val_loss": noisy(loss * 1.2, 0.0005, seed=1),
                "accuracy": acc, "val_accuracy": acc - 0.05})
    assert rep.verdict == "still_improving"
    # a loss that only converges to the class prior while accuracy never moves is stuck
    prior = 0.66 + 0.033 * np.exp(-t / 3)
    rep = diag({"loss": prior, "val_loss": prior - 0.002, "accuracy": np.full(n, 0.63),
                "val_accuracy": np.full(n, 0.632)})
    assert rep.verdict == "not_learning"


def test_a_log_too_short_to_judge_fails_the_default_gate(write):
    p = write("crashed.csv", "epoch,loss,val_loss\n0,2.3,2.2\n1,1.9,2.0\n")
    r = CliRunner().invoke(app, ["analyze", str(p)])
    assert r.exit_code == 1
    r = CliRunner().invoke(app, ["analyze", str(p), "--fail-on", "error"])
    assert r.exit_code == 0


@pytest.mark.parametrize("select", [("O",), ("T101",), ("L101", "D")])
def test_no_selection_turns_a_too_short_log_into_healthy(select):
    rep = diag({"loss": [1.0, 0.8], "val_loss": [1.1, 0.9]}, select=select)
    assert rep.verdict == "insufficient_data"


def test_ignoring_the_deciding_rule_does_not_make_the_headline_healthy():
    rep = curvediag.diagnose(sample("overfitting.csv"), ignore=("O102",))
    assert not rep.headline.startswith("Healthy:")
    assert "O102" in rep.headline and "overfitting" in rep.headline
    d = json.loads(CliRunner().invoke(app, ["analyze", str(sample("overfitting.csv")), "--ignore", "O1",
                                            "--format", "json"]).stdout)[0]
    assert "switched off by the configuration" in d["headline"]
    # a rule that would not have decided anything worse leaves the headline alone
    rep = curvediag.diagnose(sample("healthy.csv"), ignore=("T101",))
    assert rep.headline.startswith("Healthy:")


def test_a_log_with_accuracy_but_no_loss_is_judged_on_the_metric():
    rising = [0.1, 0.3, 0.45, 0.55, 0.62, 0.67, 0.71, 0.74, 0.76, 0.78]
    assert diag({"val_acc": rising}).verdict == "still_improving"
    settled = [0.1, 0.5, 0.7, 0.78, 0.8, 0.8, 0.801, 0.8, 0.8, 0.799, 0.8, 0.8]
    assert diag({"val_acc": settled}).verdict == "healthy"
    assert diag({"val_acc": [0.1, 0.5]}).verdict == "insufficient_data"


@pytest.mark.parametrize("opts", [{"O102": {"rise_limit": float("nan")}}, {"O102": {"plateau_tol": -1}},
                                  {"E101": {"patience": 2.5}}, {"T101": {"gain_limit": 7}}, {"D104": {"jump": 0.5}}])
def test_the_library_checks_rule_options_as_the_configuration_file_does(opts):
    with pytest.raises(curvediag.errors.UsageError):
        curvediag.diagnose(sample("healthy.csv"), options=opts)
