"""Secondary findings together: none sets the verdict, and per-step logs are judged on the validation
cadence.  Each one's own pattern: tests/rules/test_<rule>.py."""

from __future__ import annotations

import numpy as np

import curvediag
from curvediag.analysis import Context
from curvediag.api import load_curves

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


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
