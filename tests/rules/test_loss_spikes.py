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
    # R101 switched off: the training-loss spike is I101's (with R101 on it is R101's, see below)
    rep = diag({"loss": loss, "val_loss": decay(N, 2.2, 0.2, 6)}, ignore=("R101",))
    f = find(rep, "I101")
    assert f is not None and f.evidence["spikes"] == 1 and f.evidence["first_spike"] == 25
    assert rep.verdict != "diverged"
    assert find(diag({"loss": decay(N, 2.3, 0.1, 6)}), "I101") is None


def test_one_training_loss_spike_is_one_finding_not_two():
    """A training-loss spike R101 (spike-triage) triages is reported there only (issue 23)."""
    loss = decay(N, 2.3, 0.1, 6)
    loss[25] *= 4
    rep = diag({"loss": loss, "val_loss": decay(N, 2.2, 0.2, 6)})
    spikes = [f for f in rep.findings if f.code in ("I101", "R101")]
    assert [f.code for f in spikes] == ["R101"]
    assert spikes[0].evidence["spikes"] == 1 and spikes[0].evidence["spike1_start"] == 25
    assert rep.verdict != "diverged"


def test_spikes_r101_does_not_report_stay_i101s():
    """I101 keeps what R101 does not cover: a validation-loss spike (no training loss logged), a
    log too short for R101, and a spike R101 does not flag beside one it does."""
    val = decay(N, 2.3, 0.1, 6)
    val[25] *= 4
    f = find(diag({"val_loss": val}), "I101")
    assert f is not None and f.evidence["metric"] == "val_loss" and f.evidence["spikes"] == 1
    short = decay(20, 2.3, 0.1, 6)
    short[12] *= 4
    rep = diag({"loss": short, "val_loss": decay(20, 2.2, 0.2, 6)})
    assert find(rep, "R101") is None and find(rep, "I101").evidence["spikes"] == 1
    loss = decay(60, 2.3, 0.1, 6)
    loss[8] *= 4  # before R101 has the window of points it measures a spike against
    loss[40] *= 4
    rep = diag({"loss": loss, "val_loss": decay(60, 2.2, 0.2, 6)})
    f, r = find(rep, "I101"), find(rep, "R101")
    assert r.evidence["spikes"] == 1 and r.evidence["spike1_start"] == 40
    assert f.evidence["spikes"] == 1 and f.evidence["first_spike"] == 8 and f.evidence["left_to_R101"] == 1
    assert "1 more reported by R101" in f.message
