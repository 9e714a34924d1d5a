"""The D101 non-finite-loss rule (src/curvediag/rules/non_finite_loss.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import json

import numpy as np
import pytest

import curvediag

from ..conftest import decay


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def codes(rep):
    return {f.code for f in rep.findings}


N = 40
TRAIN = decay(N, 2.3, 0.05, 6)
VAL_OK = decay(N, 2.2, 0.30, 6)


def test_diverged_on_nan_reports_first_non_finite_epoch():
    loss = list(TRAIN[:12]) + [float("nan")] * 8
    rep = diag({"loss": loss, "val_loss": list(VAL_OK[:12]) + [float("nan")] * 8})
    assert rep.verdict == "diverged" and rep.onset_epoch == 12 and "D101" in codes(rep)
    assert "NaN at epoch 12" in rep.findings[0].message
    assert {m.name: m.non_finite for m in rep.metrics}["train_loss"] == 8


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_zero_training_loss_beside_nan_validation_is_mixed_precision():
    loss = list(decay(10, 2.0, 0.5, 3)) + [0.0] * 5
    val = list(decay(10, 2.1, 0.6, 3)) + [float("nan")] * 5
    rep = diag({"loss": loss, "val_loss": val})
    f = find(rep, "D101")
    assert rep.verdict == "diverged" and "mixed-precision" in f.message
    assert f.evidence["zero_train_loss_beside_nan"] == 1


def _hf_state(write, losses, grads):
    hist = []
    for i, (lo, g) in enumerate(zip(losses, grads)):
        hist.append({"epoch": (i + 1) / 4, "step": 10 * (i + 1), "loss": lo, "grad_norm": g, "learning_rate": 1e-4})
        if i % 4 == 3:
            hist.append({"epoch": (i + 1) / 4, "step": 10 * (i + 1), "eval_loss": 1.0 - 0.01 * i, "eval_accuracy": 0.5})
    text = json.dumps({"global_step": 10 * len(losses), "log_history": hist}).replace("NaN", "NaN")
    return write("trainer_state.json", text)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_gradient_norm_is_divergence_even_when_the_loss_looks_finite(write, bad):
    n = 24
    losses = list(np.linspace(2.0, 1.0, n))
    grads = [1.0] * n
    for i in range(12, n):  # HF replaced the NaN losses by the running average (logging_nan_inf_filter)
        grads[i] = bad
        losses[i] = losses[11]
    rep = curvediag.diagnose(_hf_state(write, losses, grads))
    assert rep.verdict == "diverged"
    f = next(f for f in rep.findings if f.code == "D101")
    assert "grad_norm" in f.message and rep.onset_epoch is not None


def test_a_zero_loss_beside_nan_gradients_is_an_fp16_overflow(write):
    n = 24
    losses = list(np.linspace(2.0, 1.0, n))
    grads = [1.0] * n
    for i in range(15, n):
        losses[i], grads[i] = 0.0, float("nan")
    rep = curvediag.diagnose(_hf_state(write, losses, grads))
    assert rep.verdict == "diverged" and "fp16" in rep.headline + " ".join(f.message for f in rep.findings)
