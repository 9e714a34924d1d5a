"""CurvediagStopper with the real Ray Tune: a gradient-descent trainable whose learning rate is a
config parameter; trials that blow up, report NaN or go past their best stop early, healthy ones
run all their iterations.  Also the stopper on its own, fed Tune-shaped result dicts."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

pytest.importorskip("ray.tune")

from curvediag.ray import CurvediagStopper

pytestmark = pytest.mark.integration

ITERATIONS = 20
OFFLINE = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_USAGE_STATS_PROMPT_ENABLED": "0"}


def train_fn(config):
    """Linear regression by gradient descent, one Tune result per step: lr 3.0 blows up;
    ``nan_at`` reports a NaN loss from that iteration on; ``overfit_at`` a rising val_loss."""
    from ray import tune

    config = config["case"]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4))
    w_true = rng.standard_normal(4)
    y = X @ w_true + 0.1 * rng.standard_normal(64)
    Xv = rng.standard_normal((32, 4))
    yv = Xv @ w_true + 0.1 * rng.standard_normal(32)
    w = np.zeros(4)
    for it in range(1, ITERATIONS + 1):
        with np.errstate(all="ignore"):
            w = w - config["lr"] * 2 * X.T @ (X @ w - y) / len(y)
            loss, val = float(np.mean((X @ w - y) ** 2)), float(np.mean((Xv @ w - yv) ** 2))
        if config.get("overfit_at") and it >= config["overfit_at"]:
            val += 0.005 * (it - config["overfit_at"] + 1)
        if config.get("nan_at") and it >= config["nan_at"]:
            loss = math.nan
        tune.report({"loss": loss, "val_loss": val, "lr": config["lr"]})


@pytest.fixture(scope="module")
def ray_local():
    saved = {k: os.environ.get(k) for k in OFFLINE}
    os.environ.update(OFFLINE)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _fit(stopper, configs, tmp_path):
    from ray import tune

    tuner = tune.Tuner(
        train_fn,
        param_space={"case": tune.grid_search(configs)},
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(stop=stopper, storage_path=str(tmp_path), verbose=0),
    )
    grid = tuner.fit()
    assert not grid.errors
    return {r.config["case"]["name"]: r for r in grid}


@pytest.fixture
def cases():
    return [
        {"name": "healthy", "lr": 0.1},
        {"name": "blow-up", "lr": 3.0},
        {"name": "nan", "lr": 0.1, "nan_at": 3},
        {"name": "past-best", "lr": 0.2, "overfit_at": 10},
    ]


@pytest.mark.slow  # a real Tune run: ~10 s to start Ray, ~20 s for the trials on 2 cores
def test_tune_run_stops_the_bad_trials_and_lets_the_healthy_run(ray_local, tmp_path, cases):
    stopper = CurvediagStopper(patience=5)
    results = _fit(stopper, cases, tmp_path)
    iters = {k: r.metrics["training_iteration"] for k, r in results.items()}
    assert iters["healthy"] == ITERATIONS
    assert iters["blow-up"] == 5  # blown up, stopped once min_points results are in
    assert iters["nan"] == 3  # a NaN loss stops at once
    assert iters["past-best"] == 9 + 5  # best val_loss at iteration 9, patience past it
    reasons = sorted(stopper.reasons.values())
    assert len(reasons) == 3
    assert any(r.startswith("D101") for r in reasons) and any(r.startswith("D10") and not r.startswith("D101") for r in reasons)
    assert any(r.startswith("past its best") for r in reasons)
    assert stopper.stop_all() is False


def _result(it, **metrics):
    """A result as Tune hands a stopper one (its bookkeeping keys included)."""
    return {**metrics, "training_iteration": it, "time_total_s": 0.1 * it, "timestamp": 1_700_000_000 + it,
            "time_this_iter_s": 0.1, "pid": 1234, "hostname": "h", "node_ip": "127.0.0.1", "done": False,
            "trial_id": "t1", "date": "2026-12-01", "time_since_restore": 0.1 * it, "iterations_since_restore": it,
            "config": {"lr": 0.1}, "checkpoint_dir_name": None}


def _feed(stopper, series, trial="t1"):
    for i, v in enumerate(series, 1):
        if stopper(trial, _result(i, **v)):
            return i
    return None


def _decay(n, start=5.0, end=0.1, tau=4.0):
    return end + (start - end) * np.exp(-np.arange(n) / tau)


def test_tune_bookkeeping_is_not_read_as_metrics():
    s = CurvediagStopper(patience=3)
    assert _feed(s, [{"loss": v, "val_loss": v * 1.1} for v in _decay(30)]) is None
    w = s._watches["t1"]
    assert set(w.monitor._cols) == {"step", "loss", "val_loss"}
    assert w.monitor.check().source.columns == {"train_loss": "loss", "val_loss": "val_loss"}


def test_metric_and_mode_name_an_unrecognised_metric():
    """``mean_loss`` / ``score`` are no names curvediag knows; metric= and mode= say how to read them."""
    rising = list(np.linspace(1, 40, 20) ** 3)
    s = CurvediagStopper(metric="mean_loss", mode="min")
    assert _feed(s, [{"mean_loss": v} for v in rising]) == 5
    score = list(1 - _decay(20, 0.9, 0.0)) + [math.nan]
    s = CurvediagStopper(metric="score", mode="max", stop_on=("diverged",), patience=None)
    assert _feed(s, [{"score": v} for v in score]) == 21  # NaN in the named metric: diverged
    s = CurvediagStopper(metric="score", mode="max", stop_on=(), patience=2)
    peak = [0.1, 0.3, 0.5, 0.6, 0.65, 0.7, 0.69, 0.68, 0.6]
    assert _feed(s, [{"score": v} for v in peak]) == 8  # best at 6 (higher is better), 2 past it
    with pytest.raises(ValueError):
        CurvediagStopper(metric="score")
    with pytest.raises(ValueError):
        CurvediagStopper(metric="score", mode="up")


def test_trials_are_judged_apart_and_stop_all_option():
    s = CurvediagStopper(stop_all=True)
    assert not s.stop_all()
    for i in range(1, 11):
        assert not s("good", _result(i, loss=float(_decay(10)[i - 1])))
        bad = s("bad", _result(i, loss=10.0 ** i))
        if bad:
            break
    assert i == 5 and "bad" in s.reasons and "good" not in s.reasons
    assert s.stop_all()


def test_stop_on_selects():
    flat = [{"loss": 2.0 + 1e-4 * (i % 2), "val_loss": 2.1} for i in range(20)]
    assert _feed(CurvediagStopper(), flat) is not None  # not learning
    assert _feed(CurvediagStopper(stop_on=("diverged",)), flat) is None


def test_missing_ray_is_one_line_with_the_extra(monkeypatch):
    import importlib
    import sys

    for name in [m for m in sys.modules if m == "ray" or m.startswith("ray.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "curvediag.ray")
    with pytest.raises(ImportError, match=r'pip install "curvediag\[ray\]"'):
        importlib.import_module("curvediag.ray")
