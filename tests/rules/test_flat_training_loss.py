"""The L101 flat-training-loss rule (src/curvediag/rules/flat_training_loss.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import math

import numpy as np
import pytest

import curvediag

from ..conftest import noisy


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


N = 40


def test_not_learning_flat_loss():
    rep = diag({"loss": noisy(np.full(N, 2.3026), 0.002), "accuracy": noisy(np.full(N, 0.1), 0.05)})
    assert rep.verdict == "not_learning" and "L101" in codes(rep)
    assert rep.findings[0].evidence["chance_classes"] == 10


def test_not_learning_oscillating_loss():
    rng = np.random.default_rng(3)
    rep = diag({"loss": 1.0 + 0.15 * rng.standard_normal(N)})
    assert rep.verdict == "not_learning" and "oscillates" in rep.findings[0].message


def test_flat_loss_with_climbing_accuracy_is_still_learning():
    rep = diag({"loss": np.linspace(2.30, 2.25, N), "accuracy": np.linspace(0.1, 0.7, N)})
    assert rep.verdict != "not_learning"


def test_num_classes_adds_chance_comparison():
    rep = diag({"loss": np.full(N, 1.6094), "accuracy": np.full(N, 0.2)}, num_classes=5)
    f = rep.findings[0]
    assert f.evidence["chance_loss"] == pytest.approx(math.log(5)) and "chance level for 5 classes" in f.message


def test_flat_threshold_moves_the_verdict():
    loss = np.linspace(1.0, 0.93, N)  # 7% improvement, steady
    assert diag({"loss": loss}).verdict != "not_learning"
    assert diag({"loss": loss}, options={"L101": {"flat_limit": 0.10}}).verdict == "not_learning"
