"""Secondary findings: each fires on its pattern and stays silent otherwise.
Per-step logs are judged on the validation cadence."""

from __future__ import annotations

import numpy as np

import curvediag
from curvediag.analysis import Context
from curvediag.api import load_curves

from .conftest import decay, noisy

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


def test_recovered_spike_is_reported_not_divergence():
    loss = decay(N, 2.3, 0.1, 6)
    loss[25] *= 4
    rep = diag({"loss": loss, "val_loss": decay(N, 2.2, 0.2, 6)})
    f = find(rep, "I101")
    assert f is not None and f.evidence["spikes"] == 1 and f.evidence["first_spike"] == 25
    assert rep.verdict != "diverged"
    assert find(diag({"loss": decay(N, 2.3, 0.1, 6)}), "I101") is None


def test_plateau():
    val = np.concatenate([decay(28, 2.0, 0.5, 3), np.full(12, 0.5)])
    rep = diag({"loss": decay(N, 2.1, 0.3, 5), "val_loss": noisy(val, 0.002)})
    f = find(rep, "P101")
    assert f is not None and f.evidence["improvement"] < 0.01
    assert find(diag({"loss": decay(N, 2.1, 0.1, 30), "val_loss": decay(N, 2.0, 0.2, 30)}), "P101") is None


def test_best_epoch_early():
    t = np.arange(N)
    val = 1.0 + 0.02 * np.abs(t - 2)
    rep = diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": val})
    assert find(rep, "T102").evidence["best"] == 2
    assert find(diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": decay(N, 2.0, 0.3, 5)}), "T102") is None


def test_early_stopping_replay():
    t = np.arange(N)
    val = 0.5 + 1.5 * np.exp(-t / 3) + 0.01 * np.maximum(0, t - 12)
    rep = diag({"loss": decay(N, 2.0, 0.05, 5), "val_loss": val})
    f = find(rep, "E101")
    best = int(np.argmin(val))
    assert f.evidence["stop_at"] == best + 5 and f.evidence["best"] == best
    assert f.evidence["past_best"] == N - 1 - best
    assert find(diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": decay(N, 2.0, 0.3, 5)}), "E101") is None


def test_generalisation_gap():
    rep = diag({"loss": decay(N, 2.0, 0.01, 4), "val_loss": decay(N, 2.0, 0.6, 4),
                "accuracy": np.linspace(0.3, 1.0, N), "val_accuracy": np.linspace(0.3, 0.8, N)})
    f = find(rep, "G102")
    assert f is not None and f.evidence["acc_gap"] > 0.1 and f.evidence["gap_end"] > f.evidence["gap_at_third"]
    assert find(diag({"loss": decay(N, 2.0, 0.3, 5), "val_loss": decay(N, 2.0, 0.32, 5)}), "G102") is None


def test_val_better_than_train_and_leak_suspicion():
    train = decay(N, 2.0, 0.5, 5)
    rep = diag({"loss": train, "val_loss": train * 0.7})
    f = find(rep, "G101")
    assert f is not None and f.evidence["leak_suspected"] == 0
    rep = diag({"loss": train, "val_loss": train * 0.7, "accuracy": np.linspace(0.5, 0.7, N), "val_accuracy": np.full(N, 0.995)})
    assert find(rep, "G101").evidence["leak_suspected"] == 1
    assert find(diag({"loss": train, "val_loss": train * 1.05}), "G101") is None


def test_chance_level_needs_num_classes():
    h = {"loss": decay(N, 6.0, 0.5, 5), "accuracy": np.linspace(0.1, 0.9, N)}
    assert "needs --num-classes" in skipped(diag(h))["C101"]
    f = find(diag(h, num_classes=10), "C101")
    assert f is not None and f.evidence["first_loss"] == 6.0
    assert find(diag({"loss": decay(N, 2.3, 0.5, 5), "accuracy": np.linspace(0.1, 0.9, N)}, num_classes=10), "C101") is None


def test_secondary_findings_never_set_the_verdict():
    train = decay(N, 2.0, 0.5, 5)
    rep = diag({"loss": train, "val_loss": train * 0.7})
    assert rep.verdict == "healthy" and rep.severity == "ok" and rep.findings


def _step_log(tmp_path, n_steps=3000, every=50, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n_steps + 1)
    train = (0.2 + 2.0 * np.exp(-steps / 400)) * (1 + 0.3 * rng.standard_normal(steps.size))
    lines = ["step,train_loss,val_loss"]
    for s, tl in zip(steps, train):
        v = f"{0.25 + 2.0 * np.exp(-s / 400) + 0.005 * rng.standard_normal():.5f}" if s % every == 0 else ""
        lines.append(f"{s},{tl:.5f},{v}")
    p = tmp_path / "steps.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_per_step_noise_is_not_oscillation_or_spikes(tmp_path):
    p = _step_log(tmp_path)
    rep = curvediag.diagnose(p)
    assert rep.verdict == "healthy", rep.headline
    assert find(rep, "I101") is None
    ctx = Context(load_curves(p))
    assert ctx.track("train_loss").n == ctx.track("val_loss").n == 60  # judged on the validation cadence


def test_late_oscillation():
    rng = np.random.default_rng(5)
    trend = decay(N, 2.0, 0.5, 5)
    zig = trend * (1 + 0.15 * np.where(np.arange(N) % 2, 1, -1) * (np.arange(N) > N // 2))
    rep = diag({"loss": zig * (1 + 0.005 * rng.standard_normal(N)), "val_loss": trend * 1.05})
    f = find(rep, "I102")
    assert f is not None and f.evidence["turn_ratio"] > 0.9 and f.evidence["swing"] > 0.05
    assert find(diag({"loss": noisy(trend, 0.005), "val_loss": trend * 1.05}), "I102") is None


def test_zero_training_loss_beside_nan_validation_is_mixed_precision():
    loss = list(decay(10, 2.0, 0.5, 3)) + [0.0] * 5
    val = list(decay(10, 2.1, 0.6, 3)) + [float("nan")] * 5
    rep = diag({"loss": loss, "val_loss": val})
    f = find(rep, "D101")
    assert rep.verdict == "diverged" and "mixed-precision" in f.message
    assert f.evidence["zero_train_loss_beside_nan"] == 1
