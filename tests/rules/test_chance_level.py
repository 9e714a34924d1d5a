"""The C101 chance-level rule (src/curvediag/rules/chance_level.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import math

import numpy as np

import curvediag

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


def test_chance_level_needs_num_classes():
    h = {"loss": decay(N, 6.0, 0.5, 5), "accuracy": np.linspace(0.1, 0.9, N)}
    assert "needs --num-classes" in skipped(diag(h))["C101"]
    f = find(diag(h, num_classes=10), "C101")
    assert f is not None and f.evidence["first_loss"] == 6.0
    assert find(diag({"loss": decay(N, 2.3, 0.5, 5), "accuracy": np.linspace(0.1, 0.9, N)}, num_classes=10), "C101") is None


def test_chance_level_is_never_inferred_from_the_loss_alone():
    k = 182
    flat = np.full(30, math.log(k)) * (1 + 0.001 * np.sin(np.arange(30)))
    rep = diag({"loss": flat, "val_loss": flat * 1.01})
    assert rep.verdict == "not_learning"
    assert not any("uniform guess" in f.message for f in rep.findings)
    # with an accuracy at 1/K beside it, the reading is allowed
    rep = diag({"loss": flat, "val_loss": flat * 1.01, "accuracy": np.full(30, 1 / k),
                "val_accuracy": np.full(30, 1 / k)})
    assert any("uniform guess over 182 classes" in f.message for f in rep.findings)
