"""The I102 oscillating-loss rule (src/curvediag/rules/oscillating_loss.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay, noisy

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_late_oscillation():
    rng = np.random.default_rng(5)
    trend = decay(N, 2.0, 0.5, 5)
    zig = trend * (1 + 0.15 * np.where(np.arange(N) % 2, 1, -1) * (np.arange(N) > N // 2))
    rep = diag({"loss": zig * (1 + 0.005 * rng.standard_normal(N)), "val_loss": trend * 1.05})
    f = find(rep, "I102")
    assert f is not None and f.evidence["turn_ratio"] > 0.9 and f.evidence["swing"] > 0.05
    assert find(diag({"loss": noisy(trend, 0.005), "val_loss": trend * 1.05}), "I102") is None
