"""The I101 loss-spikes rule (src/curvediag/rules/loss_spikes.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import curvediag

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_recovered_spike_is_reported_not_divergence():
    loss = decay(N, 2.3, 0.1, 6)
    loss[25] *= 4
    rep = diag({"loss": loss, "val_loss": decay(N, 2.2, 0.2, 6)})
    f = find(rep, "I101")
    assert f is not None and f.evidence["spikes"] == 1 and f.evidence["first_spike"] == 25
    assert rep.verdict != "diverged"
    assert find(diag({"loss": decay(N, 2.3, 0.1, 6)}), "I101") is None
