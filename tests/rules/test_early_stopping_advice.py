"""The E101 early-stopping-advice rule (src/curvediag/rules/early_stopping_advice.py):
the pattern it fires on, and where it stays silent."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import curvediag
from curvediag import diagnose

from ..conftest import decay

N = 40


def diag(h, **kw):
    return curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, **kw)


def find(rep, code):
    return next((f for f in rep.findings if f.code == code), None)


def test_early_stopping_replay():
    t = np.arange(N)
    val = 0.5 + 1.5 * np.exp(-t / 3) + 0.01 * np.maximum(0, t - 12)
    rep = diag({"loss": decay(N, 2.0, 0.05, 5), "val_loss": val})
    f = find(rep, "E101")
    best = int(np.argmin(val))
    assert f.evidence["stop_at"] == best + 5 and f.evidence["best"] == best
    assert f.evidence["past_best"] == N - 1 - best
    assert find(diag({"loss": decay(N, 2.0, 0.1, 5), "val_loss": decay(N, 2.0, 0.3, 5)}), "E101") is None


DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "modern")
PUBLIC = os.path.join(DATA, "public")


def finding(report, code):
    return next((f for f in report.findings if f.code == code), None)


def _ultralytics_csv(path, val):
    cols = ("epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
            "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2")
    rows = [cols]
    for e, v in enumerate(val, 1):
        t = 1.0 + 2.0 * math.exp(-e / 10)
        rows.append(f"{e},1.0,{t:.5f},{t:.5f},{t:.5f},0.5,0.5,0.5,0.3,{v:.5f},{v:.5f},{v:.5f},0.001,0.001,0.001")
    path.write_text("\n".join(rows) + "\n")


def test_early_stopping_replays_the_runs_own_ultralytics_patience(tmp_path):
    val = [2.0 * math.exp(-e / 5) + 1.0 + (0.02 * (e - 20) if e > 20 else 0.0) for e in range(1, 61)]
    _ultralytics_csv(tmp_path / "results.csv", val)
    (tmp_path / "args.yaml").write_text("task: detect\nepochs: 60\npatience: 12\nbatch: 16\n")
    f = finding(diagnose(str(tmp_path / "results.csv")), "E101")
    assert f is not None and f.evidence["patience"] == 12 and f.evidence["patience_from"] == "args.yaml"
    assert f.message.startswith("Ultralytics' patience=12 would have stopped")
    (tmp_path / "args.yaml").unlink()
    f = finding(diagnose(str(tmp_path / "results.csv")), "E101")
    assert f.evidence["patience"] == 5 and f.evidence["patience_from"] == "option"


def test_early_stopping_replays_the_hf_callbacks_patience():
    with open(os.path.join(PUBLIC, "ner_biomed_trainer_state.json")) as fh:
        state = json.load(fh)
    state["stateful_callbacks"] = {"EarlyStoppingCallback": {"args": {"early_stopping_patience": 3}}}
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "trainer_state.json")
        with open(p, "w") as fh:
            json.dump(state, fh)
        f = finding(diagnose(p), "E101")
    assert f.evidence["patience"] == 3 and f.evidence["patience_from"] == "trainer_state"
    assert f.message.startswith("EarlyStoppingCallback(early_stopping_patience=3) would have stopped at epoch 5")


def test_a_best_within_noise_of_many_others_is_luck():
    rng = np.random.default_rng(1)
    val = [1.5 * math.exp(-e / 3) + 0.5 + 0.01 * rng.standard_normal() for e in range(40)]
    val[25] = min(val) - 0.002
    f = finding(diagnose({"loss": [2.0 * math.exp(-e / 8) + 0.1 for e in range(40)], "val_loss": val}), "E101")
    assert f is not None and f.evidence["near_best"] >= 3 and "which of them is best is luck" in f.message
    assert f.evidence["noise_patience"] >= 1 and f.evidence["noise_min_delta"] > 0


def test_an_early_dip_kept_as_best_is_named():
    val = [1.5 * math.exp(-e / 3) + 0.5 + 0.003 * math.sin(e) for e in range(40)]
    val[6] = 0.3  # one evaluation far below all the others
    f = finding(diagnose({"loss": [2.0 * math.exp(-e / 8) + 0.1 for e in range(40)], "val_loss": val}), "E101")
    assert f is not None and f.evidence.get("best_isolated_dip") is True and "one-evaluation dip" in f.message


def test_early_stopping_that_ends_the_run_before_the_lr_can_drop():
    f = finding(diagnose(os.path.join(PUBLIC, "ecg_loss_only_training.log")), "E101")
    assert f is not None and f.evidence["lr_drops"] >= 1 and f.evidence["stops_before_lr_drop"] is True
    q = f.evidence["lr_plateau_patience"]
    assert f"give early stopping at least {q + 2}" in f.message


def saturating(n, start, floor, tau, steep=0.0):
    """A loss falling towards ``floor`` with time constant ``tau``; ``steep`` adds a first
    epoch far above the rest (a steep first epoch that dominates the whole run's drop)."""
    t = np.arange(n, dtype=float)
    y = floor + (start - floor) * np.exp(-t / tau)
    if steep:
        y[0] = steep
    return y


def _u_with_a_late_best(n=60, dip_at=40):
    v = saturating(n, 2.0, 0.5, tau=3)
    v[10:] = 0.5 + 0.002 * np.sin(np.arange(n - 10))  # a long plateau: patience 5 stops early
    v[dip_at] = 0.45  # ... the best comes later
    v[dip_at + 1 :] += 0.1 * np.arange(1, n - dip_at) / (n - dip_at)
    return v


def test_early_stopping_advice_never_recommends_a_patience_that_misses_the_best():
    v = _u_with_a_late_best()
    rep = diag({"loss": saturating(60, 2.2, 0.05, tau=8), "val_loss": v})
    e = next(f for f in rep.findings if f.code == "E101")
    need = e.evidence["patience_to_keep_best"]
    assert "before the best" in e.message and f"at least {need}" in e.message
    assert not any("with this patience" in r for r in e.remedies)
    # replaying Keras with that patience does reach the best; one less does not
    from curvediag.rules.early_stopping_advice import replay

    assert replay(v, need)[1] == int(np.argmin(v))
    assert replay(v, need - 1)[1] != int(np.argmin(v))


def test_no_restore_advice_when_the_final_epoch_is_the_best():
    v = saturating(40, 2.0, 0.5, tau=3)
    v[10:-1] = 0.5 + 0.01 * np.abs(np.sin(np.arange(29)))
    v[-1] = 0.4
    rep = diag({"loss": saturating(40, 2.2, 0.05, tau=8), "val_loss": v})
    assert not any(f.code == "E101" for f in rep.findings)


def _val_u(n=40):
    """A validation loss that falls to its best at evaluation 20 (index 19), then climbs."""
    return [2.0 * math.exp(-e / 5) + 1.0 + (0.02 * (e - 20) if e > 20 else 0.0) for e in range(1, n + 1)]


@pytest.mark.parametrize("framework, header, row, who, default", [
    ("keras", "epoch,loss,val_loss", "{i},{t:.5f},{v:.5f}", "Keras EarlyStopping", 0),
    ("lightning", "epoch,step,train_loss,val_loss", "{i},{s},{t:.5f},\n{i},{s},,{v:.5f}", "Lightning EarlyStopping", 3),
])
def test_early_stopping_replays_the_frameworks_default_patience(tmp_path, framework, header, row, who, default):
    """A log that does not say its patience: the framework's own default is replayed too (issue 23)."""
    from curvediag.rules.early_stopping_advice import replay

    val = _val_u()
    lines = [header] + [row.format(i=i, s=10 * (i + 1), t=1.0 + 2.0 * math.exp(-i / 10), v=v) for i, v in enumerate(val)]
    p = tmp_path / "log.csv"
    p.write_text("\n".join(lines) + "\n")
    rep = diagnose(str(p))
    assert rep.source.format == f"{framework}_csv"
    f = finding(rep, "E101")
    assert f.evidence["patience_from"] == "option" and f.evidence["framework_default_patience"] == default
    stop, _ = replay(np.array(val), default)
    # the best at index 19; Keras' patience=0 stops at the first evaluation without a new best, as 1 does
    assert stop == 19 + max(default, 1)
    assert f.evidence["best"] < f.evidence["framework_default_stop_at"] < f.evidence["stop_at"]  # sooner than 5
    assert f"with {who}'s default patience={default} it would have stopped at epoch " in f.message
    assert "keeping the best" in f.message


def test_early_stopping_replays_hfs_default_patience():
    with open(os.path.join(PUBLIC, "ner_biomed_trainer_state.json")) as fh:
        state = json.load(fh)
    state.pop("stateful_callbacks", None)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "trainer_state.json")
        with open(p, "w") as fh:
            json.dump(state, fh)
        f = finding(diagnose(p), "E101")
    assert f.evidence["patience_from"] == "option" and f.evidence["framework_default_patience"] == 1
    assert "with EarlyStoppingCallback's default patience=1 it would " in f.message


def test_early_stopping_replays_ultralytics_default_patience(tmp_path):
    _ultralytics_csv(tmp_path / "results.csv", _val_u(60))
    f = finding(diagnose(str(tmp_path / "results.csv")), "E101")
    assert f.evidence["patience_from"] == "option" and f.evidence["framework_default_patience"] == 100
    assert f.evidence["framework_default_stop_at"] is None
    assert "with Ultralytics' default patience=100 it would not have stopped" in f.message


def test_no_framework_default_where_the_framework_is_unknown(tmp_path):
    val = _val_u()
    p = tmp_path / "log.csv"
    p.write_text("step,train_loss,val_loss\n" + "".join(f"{10 * (i + 1)},{1.0 + 2.0 * math.exp(-i / 10):.5f},{v:.5f}\n"
                                                         for i, v in enumerate(val)))
    rep = diagnose(str(p))
    assert rep.source.format == "csv"
    f = finding(rep, "E101")
    assert f is not None and "framework_default_patience" not in f.evidence and "default patience" not in f.message
