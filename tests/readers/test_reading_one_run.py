"""Reading a log as one run: resumed runs, the axis, the columns, grad_norm, HF run directories.

Every case is built from the pattern (a synthetic table), not from one real file; where a
real log in ../shared/real_logs shows the pattern, it is asserted on too.
"""

from __future__ import annotations

import json
import math

import jsonschema
import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.api import load_curves
from curvediag.cli import app
from curvediag.errors import InputError
from curvediag.readers.discover import find_log
from curvediag.readers.tfevents import table_from_scalars
from curvediag.schema import SCHEMA
from curvediag.table import to_curves

from ..conftest import require_shared


def csv(header: str, rows) -> str:
    return header + "\n" + "".join(",".join("" if v is None else repr(float(v)) if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows)


def xy(c, name):
    s = c.series[name]
    return list(s.x), list(s.y)


def loss_at(step: float, run: int = 0) -> float:
    """A falling loss; ``run`` shifts it so rows from different segments tell apart."""
    return round(2.0 / (1 + step / 100) + 0.001 * run, 6)


# --- 1. resumed runs -------------------------------------------------------------------------

@pytest.mark.parametrize("resume_at", [70, 30, 90])
def test_step_counter_back_into_the_run_is_one_resumed_run(write, resume_at):
    """steps 0..100, then a job resumed from its checkpoint at `resume_at` re-logs from there on
    to 200: one run over 0..200, the re-logged steps from the later rows."""
    first = [(s, loss_at(s, 0)) for s in range(0, 101, 10)]
    second = [(s, loss_at(s, 1)) for s in range(resume_at, 201, 10)]
    c = load_curves(write("log.csv", csv("step,loss", first + second)))
    x, y = xy(c, "train_loss")
    assert x == list(range(0, 201, 10))  # each step once, in order
    for s, v in zip(x, y):
        assert v == loss_at(s, 1 if s >= resume_at else 0)
    notes = " | ".join(c.source.notes)
    assert "appended" not in notes
    assert f"resumed at step {resume_at}" in notes and "later rows kept" in notes
    assert c.axis_kind == "step"
    # the contrast: back to the start of the axis (or within one logging interval of it) is a new run
    for second_start in (0, 10):
        second = [(s, loss_at(s, 1)) for s in range(second_start, 61, 10)]
        c = load_curves(write(f"restart{second_start}.csv", csv("step,loss", first + second)))
        assert xy(c, "train_loss")[0] == list(range(second_start, 61, 10))
        assert any("2 runs appended" in n and "rows 12-" in n for n in c.source.notes)
        assert not any("resumed" in n for n in c.source.notes)


def test_epoch_only_log_resumed_from_a_later_epoch_is_one_run(write):
    """Keras CSVLogger(append=True) after a crash: epochs 0..9, then fit(initial_epoch=6) logs 6..14."""
    rows = [(e, loss_at(10 * e, 0), loss_at(10 * e, 0) + 0.1) for e in range(10)]
    rows += [(e, loss_at(10 * e, 1), loss_at(10 * e, 1) + 0.1) for e in range(6, 15)]
    c = load_curves(write("training.log", csv("epoch,loss,val_loss", rows)))
    x, y = xy(c, "val_loss")
    assert x == list(range(15))
    assert y[5] == loss_at(50, 0) + 0.1 and y[6] == loss_at(60, 1) + 0.1
    assert any("resumed at epoch 6" in n and "rows 11-14" in n and "rows 7-10" in n for n in c.source.notes)


def test_repeated_resumes_keep_the_latest_rows(write):
    """The pattern of a pre-training job resumed twice from the same checkpoint."""
    a = [(s, loss_at(s, 0)) for s in range(20, 781, 20)]
    b = [(s, loss_at(s, 1)) for s in (720, 740, 760)]
    c_ = [(s, loss_at(s, 2)) for s in range(720, 1001, 20)]
    c = load_curves(write("m.jsonl", "".join(json.dumps({"step": s, "loss": v}) + "\n" for s, v in a + b + c_)))
    x, y = xy(c, "train_loss")
    assert x == list(range(20, 1001, 20))
    assert y[x.index(700)] == loss_at(700, 0) and y[x.index(740)] == loss_at(740, 2)
    assert sum("resumed at step 720" in n for n in c.source.notes) == 2


def test_a_resume_inside_the_last_of_several_appended_runs(write):
    run1 = [(e, loss_at(e, 0)) for e in range(5)]
    run2 = [(e, loss_at(e, 1)) for e in range(8)]
    resumed = [(e, loss_at(e, 2)) for e in range(5, 12)]
    c = load_curves(write("log.csv", csv("epoch,loss", run1 + run2 + resumed)))
    x, y = xy(c, "train_loss")
    assert x == list(range(12))
    assert y[4] == loss_at(4, 1) and y[5] == loss_at(5, 2)
    notes = " | ".join(c.source.notes)
    assert "2 runs appended" in notes and "rows 6-" in notes and "resumed at epoch 5" in notes


def test_resume_in_a_sparse_log_drops_every_row_of_the_relogged_steps(write):
    """Lightning-style sparse rows (training rows and a validation row sharing a step): a resume
    replaces the training *and* validation rows of the steps it re-logs."""
    rows = []
    for run, steps in ((0, range(1, 7)), (1, range(4, 10))):
        for s in steps:
            rows.append((s // 3, 10 * s, loss_at(10 * s, run), None))
            if s % 3 == 2:
                rows.append((s // 3, 10 * s, None, loss_at(10 * s, run) + 0.2))
    c = load_curves(write("metrics.csv", csv("epoch,step,train_loss,val_loss", rows)))
    assert not any("appended" in n for n in c.source.notes)
    assert any("resumed at step 40" in n for n in c.source.notes)
    tx, ty = xy(c, "train_loss")
    assert c.axis_kind == "epoch" and tx == [0, 1, 2, 3]  # per-step training rows averaged per epoch
    vx, vy = xy(c, "val_loss")
    assert vx == [0, 1, 2]
    assert vy[1] == loss_at(50, 1) + 0.2  # step 50's validation from the resumed run only


def test_per_epoch_iteration_counter_with_a_resumed_epoch(write):
    """mmcv: 'iter' restarts every epoch (not a new run); the epoch going back to 4 is a resume."""
    lines = []
    for run, epochs in ((0, range(1, 6)), (1, range(4, 9))):
        for e in epochs:
            for it in (50, 100):
                lines.append(json.dumps({"mode": "train", "epoch": e, "iter": it, "loss": loss_at(10 * e + it / 10, run)}))
    c = load_curves(write("run.log.json", "\n".join(lines) + "\n"))
    x, y = xy(c, "train_loss")
    assert x == list(range(1, 9))
    assert y[2] == pytest.approx((loss_at(35, 0) + loss_at(40, 0)) / 2)
    assert y[3] == pytest.approx((loss_at(45, 1) + loss_at(50, 1)) / 2)
    assert any("resumed at epoch 4" in n for n in c.source.notes)
    assert not any("appended" in n for n in c.source.notes)


def test_step_falling_while_the_epoch_stays_is_a_resume_not_a_per_epoch_counter(write):
    """A one-epoch job (epoch 0 on every row) resumed at step 600 of 800: the step counter is
    global (it did not fall as an epoch began), so this is a resume, judged on the steps."""
    rows = [(0, s, loss_at(s, 0), loss_at(s, 0) + 0.1 if s % 100 == 0 else None) for s in range(10, 801, 10)]
    rows += [(0, s, loss_at(s, 1), loss_at(s, 1) + 0.1 if s % 100 == 0 else None) for s in range(600, 1201, 10)]
    c = load_curves(write("log.csv", csv("epoch,step,loss,val_loss", rows)))
    assert c.axis_kind == "step"
    x, y = xy(c, "train_loss")
    assert x == list(range(10, 1201, 10)) and y[x.index(600)] == loss_at(600, 1)
    assert xy(c, "val_loss")[0] == list(range(100, 1201, 100))
    assert any("resumed at step 600" in n for n in c.source.notes)


def test_hf_log_history_resumed_from_a_checkpoint(write):
    hist = []
    for run, steps in ((0, range(10, 301, 10)), (1, range(210, 501, 10))):
        for s in steps:
            hist.append({"loss": loss_at(s, run), "epoch": s / 100, "step": s})
            if s % 100 == 0:
                hist.append({"eval_loss": 1.0 - s / 1000 + run, "epoch": s / 100, "step": s})
    c = load_curves(write("trainer_state.json", json.dumps({"global_step": 500, "log_history": hist})))
    x, y = xy(c, "train_loss")
    assert len(x) == 50 and x == sorted(set(x))
    assert any("resumed at step 210" in n for n in c.source.notes)
    vx, vy = xy(c, "val_loss")
    assert vx == [1, 2, 3, 4, 5] and vy == pytest.approx([0.9, 0.8, 1.7, 1.6, 1.5])  # step 300 re-evaluated


def test_resumed_pretraining_log_is_read_whole():
    p = require_shared("real_logs", "jsonl", "slm_training_metrics.jsonl")
    c = load_curves(p)
    x, _ = xy(c, "train_loss")
    assert x[0] == 20 and x[-1] == 7760 and len(x) == len(set(x)) > 380
    assert any("resumed at step 7520" in n for n in c.source.notes)
    assert curvediag.diagnose(p).verdict != "not_learning"


# --- 2. the axis -----------------------------------------------------------------------------

def test_per_step_rows_with_one_epoch_value_are_judged_on_steps(write):
    rows = []
    for s in range(1, 1001):
        rows.append((0, s, loss_at(s), None))
        if s % 100 == 0:
            rows.append((0, s, None, loss_at(s) + 0.1))
    c = load_curves(write("metrics.csv", csv("epoch,step,train_loss,val_loss", rows)))
    assert c.axis_kind == "step" and c.source.axis == "step"
    vx, _ = xy(c, "val_loss")
    assert vx == list(range(100, 1001, 100))
    assert len(c.series["train_loss"]) == 1000
    assert any("1 distinct epoch value" in n and "step column" in n for n in c.source.notes)
    # the contrast: per-step training rows with one validation per epoch (Lightning), and HF's
    # repeated final evaluation, stay on the epoch axis, training rows averaged per epoch
    rows = []
    for e in range(6):
        for s in range(4):
            rows.append((e, 4 * e + s, loss_at(40 * e + 10 * s), None))
        rows.append((e, 4 * e + 3, None, loss_at(40 * e) + 0.1))
    rows.append((5, 23, None, loss_at(200) + 0.1))  # the final evaluation logged again
    c = load_curves(write("lightning.csv", csv("epoch,step,train_loss,val_loss", rows)))
    assert c.axis_kind == "epoch" and xy(c, "train_loss")[0] == list(range(6))
    assert not any("judged on the" in n for n in c.source.notes)


def test_coarse_fractional_epoch_that_merges_evaluations_gives_way_to_steps(write):
    """An epoch rounded to 0.1 over 2,000 steps with an evaluation every 50 steps."""
    rows = [(round(s / 1000, 1), s, loss_at(s), loss_at(s) + 0.1 if s % 50 == 0 else None) for s in range(10, 2001, 10)]
    c = load_curves(write("log.csv", csv("epoch,step,loss,val_loss", rows)))
    assert c.axis_kind == "step"
    assert len(c.series["val_loss"]) == 40


def test_one_epoch_run_with_two_evaluations_is_judged_on_steps(write):
    """Two evaluations cannot say whether the epoch is too coarse; the 200 training rows on one
    epoch value can."""
    rows = [(0, s, loss_at(s), loss_at(s) + 0.1 if s in (1000, 2000) else None) for s in range(10, 2001, 10)]
    c = load_curves(write("log.csv", csv("epoch,step,loss,val_loss", rows)))
    assert c.axis_kind == "step" and len(c.series["train_loss"]) == 200 and xy(c, "val_loss")[0] == [1000, 2000]


def test_constant_epoch_without_a_step_column_uses_the_row_order(write):
    rows = [(1, loss_at(10 * i)) for i in range(30)]
    c = load_curves(write("log.csv", csv("epoch,loss", rows)))
    assert c.axis_kind == "index" and c.source.axis == "index"
    assert len(c.series["train_loss"]) == 30


def test_training_only_per_step_log_with_epoch_zero_is_judged_on_steps(write):
    rows = [(0, s, loss_at(s)) for s in range(10, 501, 10)]
    c = load_curves(write("log.csv", csv("epoch,step,loss", rows)))
    assert c.axis_kind == "step" and len(c.series["train_loss"]) == 50


# --- 3. columns ------------------------------------------------------------------------------

def test_tensorboard_loss_and_accuracy_tags(write):
    tags = {
        "Loss/Train_Epoch": [(e, 1.0 - 0.1 * e) for e in range(5)],
        "Loss/Val_Epoch": [(e, 1.1 - 0.1 * e) for e in range(5)],
        "Accuracy/Train": [(e, 0.5 + 0.05 * e) for e in range(5)],
        "Accuracy/Val": [(e, 0.45 + 0.05 * e) for e in range(5)],
    }
    c = to_curves(table_from_scalars(tags, "ev"), "ev")
    assert c.source.columns == {
        "train_loss": "Loss/Train_Epoch", "val_loss": "Loss/Val_Epoch",
        "train_acc": "Accuracy/Train", "val_acc": "Accuracy/Val",
    }


def test_a_total_head_is_judged_and_the_note_says_which(write):
    names = ("a_loss", "b_loss", "total_train_loss", "total_val_loss")
    rows = [(e, *[1.0 - 0.05 * e + 0.01 * k for k in range(len(names))]) for e in range(6)]
    c = load_curves(write("log.csv", csv("epoch," + ",".join(names), rows)))
    assert c.source.columns["train_loss"] == "total_train_loss" and c.source.columns["val_loss"] == "total_val_loss"
    note = next(n for n in c.source.notes if "loss head" in n)
    assert "loss head 'total' judged (the total of the heads)" in note
    assert "other heads not judged" in note and "a (a_loss)" in note
    assert c.heads == ()


@pytest.mark.parametrize("names, first, train, val, other, other_cols", [
    (("reg_loss", "reg_val_loss", "cls_loss", "cls_val_loss"), "reg", "reg_loss", "reg_val_loss", "cls",
     ("cls_loss", "cls_val_loss")),
    (("train_reg_loss", "val_reg_loss", "train_cls_loss", "val_cls_loss"), "reg", "train_reg_loss", "val_reg_loss", "cls",
     ("train_cls_loss", "val_cls_loss")),
    # the head with a validation loss comes first
    (("cls_loss", "reg_train_loss", "reg_val_loss"), "reg", "reg_train_loss", "reg_val_loss", "cls", ("cls_loss", None)),
    # Keras multi-output names without the total
    (("out1_loss", "out2_loss", "val_out1_loss", "val_out2_loss"), "out1", "out1_loss", "val_out1_loss", "out2",
     ("out2_loss", "val_out2_loss")),
])
def test_every_loss_head_is_read_and_named(write, names, first, train, val, other, other_cols):
    rows = [(e, *[1.0 - 0.05 * e + 0.01 * k for k in range(len(names))]) for e in range(6)]
    c = load_curves(write("log.csv", csv("epoch," + ",".join(names), rows)))
    assert c.head == first
    assert c.source.columns["train_loss"] == train and c.source.columns["val_loss"] == val
    assert [h for h, _ in c.heads] == [other]
    hc = c.heads[0][1]
    assert (hc.source.columns.get("train_loss"), hc.source.columns.get("val_loss")) == other_cols
    assert any(n.startswith(f"loss head {other!r}: ") for n in c.source.notes)


def _two_heads(reg_falls: bool, cls_learns: bool) -> list[tuple]:
    import math

    rows = []
    for e in range(30):
        reg = 1.0 * math.exp(-e / 6) + 0.2 if reg_falls else 0.35 + 0.002 * ((e * 7) % 5)
        cls = 0.69 * math.exp(-e / 8) + 0.1 if cls_learns else 0.693 + 0.002 * ((e * 3) % 4)
        acc = 0.5 + 0.4 * (1 - math.exp(-e / 8)) if cls_learns else 0.527
        rows.append((e, reg * 1.1, reg, cls * 1.05, cls, acc, acc))
    return rows


HEADS = "epoch,reg_loss,reg_val_loss,cls_loss,cls_val_loss,cls_accuracy,cls_val_accuracy"


def test_the_report_is_of_the_head_with_the_most_severe_verdict(write):
    import curvediag
    from curvediag.api import diagnose_with_curves

    rep, curves = diagnose_with_curves(write("log.csv", csv(HEADS, _two_heads(True, False))))
    assert rep.verdict == "not_learning"
    assert rep.source.columns["train_loss"] == "cls_loss" and rep.source.columns["val_acc"] == "cls_val_accuracy"
    assert curves.head == "cls" and curves.series["val_loss"].column == "cls_val_loss"  # the plot shows that head
    note = rep.source.notes[-1]
    assert "2 loss heads and no total loss: each judged on its own (reg " in note
    assert ", cls not_learning)" in note and "reg not_learning" not in note
    assert "this report is of head 'cls', the most severe verdict" in note
    from curvediag.api import inspect_log

    used = {c["column"]: c["used_as"] for c in inspect_log(write("log2.csv", csv(HEADS, _two_heads(True, False))))["columns"]}
    assert used["reg_val_loss"] == ["val_loss"] and used["cls_val_loss"] == ["cls:val_loss"]
    assert used["cls_val_accuracy"] == ["cls:val_acc"]
    ok = curvediag.diagnose(write("ok.csv", csv(HEADS, _two_heads(True, True))))
    assert ok.verdict != "not_learning" and ok.source.columns["train_loss"] == "reg_loss"
    assert "the first logged with a validation loss" in ok.source.notes[-1] or "most severe" in ok.source.notes[-1]


def test_the_real_two_head_keras_history_is_judged_on_its_failing_head():
    import curvediag

    p = require_shared("real_logs2", "keras_history_json", "hdfc_reg_cls_prefixed_training_history.json")
    rep = curvediag.diagnose(p)
    assert rep.verdict == "not_learning"  # its label: cls_val_accuracy stuck at the majority rate, loss at ln 2
    assert rep.source.columns["val_loss"] == "cls_val_loss"


def test_total_loss_beside_heads_is_judged_and_the_heads_are_named(write):
    names = ("loss", "val_loss", "reg_loss", "val_reg_loss", "cls_loss", "val_cls_loss")
    rows = [(e, *[1.0 - 0.05 * e] * len(names)) for e in range(6)]
    c = load_curves(write("log.csv", csv("epoch," + ",".join(names), rows)))
    assert c.source.columns["train_loss"] == "loss" and c.source.columns["val_loss"] == "val_loss"
    assert any("per-head (or component) losses beside it are not: reg (reg_loss, val_reg_loss); cls" in n for n in c.source.notes)
    heads_only = [r[:1] + r[3:] for r in rows]
    c = load_curves(write("heads.csv", csv("epoch," + ",".join(names[2:]), heads_only)), columns={"val_loss": "val_cls_loss"})
    assert c.source.columns["val_loss"] == "val_cls_loss"
    assert any(n.startswith("the loss named with --loss/--val-loss is judged ('val_cls_loss')") for n in c.source.notes)


@pytest.mark.parametrize("col", ["test_acc1", "test_192_acc1", "val_acc1", "val_top1", "eval_acc1", "Val/Top1"])
def test_top1_accuracy_columns_are_validation_accuracy(write, col):
    rows = [(e, 1.0 - 0.1 * e, 1.1 - 0.1 * e, 0.5 + 0.05 * e, 0.9) for e in range(5)]
    c = load_curves(write("log.csv", csv(f"epoch,train_loss,val_loss,{col},{col}5", rows)))
    assert c.source.columns["val_acc"] == col
    assert not c.series["val_acc"].quality


def test_unprefixed_acc_at_1_is_an_accuracy(write):
    rows = [(e, 1.0 - 0.1 * e, 0.5 + 0.05 * e) for e in range(5)]
    c = load_curves(write("log.csv", csv("epoch,loss,acc@1", rows)))
    assert c.source.columns["train_acc"] == "acc@1"


@pytest.mark.parametrize("header, slot", [
    ("epoch,val_acc,train_acc", "val_acc"),
    ("epoch,test_acc1,test_acc5", "val_acc"),
    ("epoch,eval_f1", "val_acc"),
    ("epoch,metrics/mAP50-95(B)", "val_acc"),
    ("epoch,accuracy", "train_acc"),
])
def test_a_log_with_a_metric_and_no_loss_is_read_and_reported(write, header, slot):
    k = header.count(",")
    rows = [(e, *[0.3 + 0.05 * e] * k) for e in range(8)]
    p = write("log.csv", csv(header, rows))
    c = load_curves(p)
    assert slot in c.series and "train_loss" not in c.series and "val_loss" not in c.series
    assert any(n.startswith(f"no loss logged; only {slot}") for n in c.source.notes)
    rep = curvediag.diagnose(p)
    assert rep.headline
    r = CliRunner().invoke(app, ["analyze", str(p), "--fail-on", "never"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.output
    jsonschema.validate(json.loads(r.stdout)[0], SCHEMA)
    with pytest.raises(InputError, match="no recognisable loss column"):  # neither a loss nor a metric
        load_curves(write("nometric.csv", "epoch,lr,grad_norm\n0,0.1,1.0\n1,0.1,0.9\n"))


@pytest.mark.parametrize("header, train, val, other", [
    ("epoch,train_mse,val_mse", "train_mse", "val_mse", None),
    ("epoch,mse,val_mse,mae,val_mae", "mse", "val_mse", "mae"),  # one function, never two mixed
    ("epoch,train_mae", "train_mae", None, None),
    ("epoch,val_rmse", None, "val_rmse", None),
    ("epoch,mean_squared_error,val_mean_squared_error", "mean_squared_error", "val_mean_squared_error", None),
    ("epoch,train_mae,train_rmse,val_rmse", "train_rmse", "val_rmse", "train_mae"),  # the one with a validation column
    ("epoch,mse_train,mse_test", "mse_train", "mse_test", None),
])
def test_losses_named_by_their_function_are_the_loss_curves(write, header, train, val, other):
    k = header.count(",")
    rows = [(e, *[1.0 / (1 + e) + 0.01 * j for j in range(k)]) for e in range(12)]
    p = write("log.csv", csv(header, rows))
    c = load_curves(p)
    assert c.source.columns.get("train_loss") == train and c.source.columns.get("val_loss") == val
    note = next(n for n in c.source.notes if n.startswith("no column named a loss;"))
    assert (other is not None) == ("not read: " in note) and (other is None or other in note)
    assert curvediag.diagnose(p).verdict in ("still_improving", "healthy")


def test_a_loss_column_wins_over_a_function_metric(write):
    rows = [(e, 1.0 / (1 + e), 1.1 / (1 + e), 2.0 / (1 + e), 2.2 / (1 + e)) for e in range(8)]
    c = load_curves(write("log.csv", csv("epoch,loss,val_loss,mae,val_mae", rows)))
    assert c.source.columns == {"train_loss": "loss", "val_loss": "val_loss"}
    assert not any("function" in n or "no column named a loss" in n for n in c.source.notes)


# --- 4. grad_norm ----------------------------------------------------------------------------

@pytest.mark.parametrize("col", ["grad_norm", "gradnorm", "train/grad_norm", "grad_norm_total", "GradNorm", "grad_2.0_norm_total"])
def test_grad_norm_is_read_with_non_finite_values_kept(write, col):
    rows = [(e, 1.0 - 0.1 * e, ["1.5", "2.0", "nan", "inf", "3.0"][e]) for e in range(5)]
    c = load_curves(write("log.csv", f"epoch,loss,{col}\n" + "".join(f"{a},{b},{g}\n" for a, b, g in rows)))
    g = c.get("grad_norm")
    assert g is not None and g.column == col
    assert g.y[0] == 1.5 and math.isnan(g.y[2]) and math.isinf(g.y[3]) and len(g) == 5
    c = load_curves(write("plain.csv", "epoch,loss,val_loss\n0,1.0,1.1\n1,0.9,1.0\n2,0.8,0.9\n"))
    assert "grad_norm" not in c.series and "grad_norm" not in c.source.columns


def test_hf_grad_norm_nan_beside_dropped_losses(write):
    """HF's logging_nan_inf_filter drops a NaN loss from 'loss'; grad_norm keeps the evidence."""
    hist = [{"loss": 1.0 - 0.01 * s, "grad_norm": 2.0, "learning_rate": 1e-4, "epoch": s / 10, "step": s} for s in range(1, 6)]
    hist += [{"loss": 0.0, "grad_norm": float("nan"), "learning_rate": 1e-4, "epoch": s / 10, "step": s} for s in range(6, 10)]
    p = write("trainer_state.json", json.dumps({"global_step": 9, "log_history": hist}))  # json writes NaN
    c = load_curves(p)
    g = c.get("grad_norm")
    assert int(np.isnan(g.y).sum()) == 4 and list(g.x[:2]) == [0.1, 0.2]
    r = CliRunner().invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    d = json.loads(r.stdout)[0]
    jsonschema.validate(d, SCHEMA)
    assert d["metrics"]["grad_norm"]["non_finite"] == 4 and d["metrics"]["grad_norm"]["best"] is None


# --- 5. a Hugging Face output directory ------------------------------------------------------

def _state(path, global_step, n):
    path.parent.mkdir(parents=True, exist_ok=True)
    hist = [{"loss": 1.0 / (i + 1), "epoch": i / 10, "step": 10 * (i + 1)} for i in range(n)]
    path.write_text(json.dumps({"epoch": n / 10, "global_step": global_step, "log_history": hist}, indent=2, sort_keys=True))


def test_complete_root_trainer_state_wins_over_checkpoint_copies(tmp_path):
    out = tmp_path / "out"
    _state(out / "trainer_state.json", 3000, 300)
    for step in (1000, 2000):
        _state(out / f"checkpoint-{step}" / "trainer_state.json", step, step // 10)
    path, note = find_log(str(out))
    assert path == str(out / "trainer_state.json")
    assert len(load_curves(path).series["train_loss"]) == 300
    # a root file left behind by an earlier, shorter run loses to a checkpoint further on
    stale = tmp_path / "stale"
    _state(stale / "trainer_state.json", 500, 50)
    for step in (1000, 2000, 1500):
        _state(stale / f"checkpoint-{step}" / "trainer_state.json", step, step // 10)
    assert find_log(str(stale))[0] == str(stale / "checkpoint-2000" / "trainer_state.json")


def test_equal_global_step_prefers_the_root_file(tmp_path):
    out = tmp_path / "out"
    _state(out / "trainer_state.json", 2000, 200)
    _state(out / "checkpoint-2000" / "trainer_state.json", 2000, 200)
    assert find_log(str(out))[0] == str(out / "trainer_state.json")


@pytest.mark.parametrize("seed", range(25))
def test_random_restarts_and_resumes_read_as_tensorboard_merges_them(write, seed):
    """Random logs of restarts (back to step 0) and resumes (back into the run, never to its
    first two logging intervals): the curve is the last run, each step's value from the last
    row that logged it, and every step dropped by a resume gone - as TensorBoard shows it."""
    rng = np.random.default_rng(seed)
    rows, last = [], -10
    expected: dict[int, float] = {}
    n = int(rng.integers(2, 6))
    for seg in range(n):
        # the last segment always resumes (every segment reaches step 40, so it can); between, either
        kind = "restart" if seg == 0 or (seg < n - 1 and rng.random() < 0.4) else "resume"
        first = 0 if kind == "restart" else int(rng.integers(2, last // 10)) * 10
        if kind == "restart":
            expected = {}
        else:
            expected = {s: v for s, v in expected.items() if s < first}
        for s in range(first, max(first + 10 * int(rng.integers(3, 30)), 50), 10):
            v = float(len(rows))  # each row's value names the row
            rows.append((s, v))
            expected[s] = v
        last = rows[-1][0]
    c = load_curves(write("log.csv", csv("step,loss", rows)))
    x, y = xy(c, "train_loss")
    assert x == sorted(expected) and y == [expected[s] for s in sorted(expected)]
