"""Readers: each format family, the quirks frameworks really write, column mapping."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from curvediag.api import load_curves
from curvediag.errors import InputError

KERAS = "epoch,acc,loss,val_acc,val_loss\n0,0.5,1.0,0.5,1.1\n1,0.6,0.8,0.55,0.9\n2,0.7,0.6,0.6,0.8\n"


def ys(c, name):
    return list(c.series[name].y)


def test_keras_csvlogger_old_names(write):
    c = load_curves(write("training.log", KERAS))
    assert c.source.format == "keras_csv"
    assert c.source.columns == {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "acc", "val_acc": "val_acc"}
    assert ys(c, "val_loss") == [1.1, 0.9, 0.8]
    assert list(c.series["train_loss"].x) == [0, 1, 2]
    assert c.source.axis == "epoch"


def test_keras_csvlogger_new_names_with_lr(write):
    text = "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss\n0,0.4,0.001,2.0,0.5,1.9\n1,0.6,0.001,1.5,0.6,1.4\n"
    c = load_curves(write("log.csv", text))
    assert set(c.series) == {"train_loss", "val_loss", "train_acc", "val_acc", "lr"}
    assert c.source.columns["lr"] == "learning_rate"
    assert ys(c, "train_acc") == [0.4, 0.6]


def test_na_cells_are_missing_but_nan_is_data(write):
    text = "epoch,loss,val_loss\n0,1.0,NA\n1,0.9,0.95\n2,nan,NA\n3,inf,0.9\n"
    c = load_curves(write("log.csv", text))
    assert list(c.series["val_loss"].x) == [1, 3]  # NA cells are missing, not values
    tl = ys(c, "train_loss")
    assert len(tl) == 4 and math.isnan(tl[2]) and math.isinf(tl[3])  # nan/inf are recorded


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators(write, sep):
    c = load_curves(write("log.csv", KERAS.replace(",", sep)))
    assert ys(c, "train_loss") == [1.0, 0.8, 0.6]


def test_crlf_and_bom_and_utf16(write):
    crlf = KERAS.replace("\n", "\r\n")
    assert ys(load_curves(write("a.csv", crlf)), "val_acc") == [0.5, 0.55, 0.6]
    assert ys(load_curves(write("b.csv", b"\xef\xbb\xbf" + KERAS.encode())), "train_loss") == [1.0, 0.8, 0.6]
    assert ys(load_curves(write("c.csv", KERAS.encode("utf-16"))), "train_loss") == [1.0, 0.8, 0.6]


def test_keras_history_json_dict_of_lists(write):
    h = {"loss": [1.0, 0.5, 0.3], "accuracy": [0.3, 0.6, 0.8], "val_loss": [1.1, 0.7, 0.6], "val_accuracy": [0.3, 0.5, 0.7]}
    c = load_curves(write("history.json", json.dumps(h)))
    assert c.source.format == "keras_history_json"
    # one entry per epoch: the epoch, numbered from 0 as CSVLogger writes it (issue 24: it was "index")
    assert c.source.axis == "epoch" and c.axis_kind == "epoch" and list(c.series["val_loss"].x) == [0, 1, 2]
    assert ys(c, "val_acc") == [0.3, 0.5, 0.7]


def test_pandas_to_json_dict_of_dicts(write):
    import pandas as pd

    df = pd.DataFrame({"loss": [1.0, 0.5, 0.3], "val_loss": [1.2, 0.8, 0.9]})
    c = load_curves(write("history.json", df.to_json()))
    assert c.source.format == "pandas_json"
    assert ys(c, "val_loss") == [1.2, 0.8, 0.9]


def test_json_nan_tokens_are_kept(write):
    c = load_curves(write("h.json", '{"loss": [1.0, NaN, Infinity], "val_loss": [1.0, 0.9, -Infinity]}'))
    tl = ys(c, "train_loss")
    assert math.isnan(tl[1]) and tl[2] == math.inf


def test_list_of_records_and_jsonl(write):
    recs = [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "valid_loss": 1.2 / (i + 1)} for i in range(4)]
    c = load_curves(write("log.json", json.dumps(recs)))
    assert c.source.format == "json_records" and c.source.columns["val_loss"] == "valid_loss"
    c2 = load_curves(write("log.jsonl", "\n".join(json.dumps(r) for r in recs) + "\n"))
    assert c2.source.format == "jsonl"
    assert ys(c, "val_loss") == ys(c2, "val_loss")
    assert list(c2.series["val_loss"].x) == [1, 2, 3, 4]  # the log's own epoch axis


@pytest.mark.parametrize(
    "header,train,val",
    [
        ("train_loss,val_loss,train_acc,val_acc", "train_loss", "val_loss"),
        ("Epoch,TrainLoss,ValLoss,ValAcc", "TrainLoss", "ValLoss"),
        ("step,loss,eval_loss", "loss", "eval_loss"),
        ("epoch,train-loss,Valid Loss", "train-loss", "Valid Loss"),
        ("iter,train/loss,val/loss", "train/loss", "val/loss"),
    ],
)
def test_custom_csv_names_case_and_separator_insensitive(write, header, train, val):
    cols = header.split(",")
    rows = [",".join(str(v) for v in ([i] if cols[0].lower() in ("epoch", "step", "iter") else []) + [1.0 - 0.1 * i] * (len(cols) - (1 if cols[0].lower() in ("epoch", "step", "iter") else 0))) for i in range(4)]
    c = load_curves(write("log.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert c.source.columns["train_loss"] == train
    assert c.source.columns["val_loss"] == val


def test_leading_unnamed_index_and_blank_lines(write):
    text = ",loss,val_loss\n0,1.0,1.1\n\n1,0.8,0.9\n\n2,0.7,0.85\n"
    c = load_curves(write("h.csv", text))
    assert "leading unnamed index column ignored" in c.source.notes
    assert ys(c, "train_loss") == [1.0, 0.8, 0.7]


def test_fastai_error_rate_is_validation_accuracy(write):
    text = "epoch,train_loss,valid_loss,error_rate,time\n0,1.0,0.9,0.30,00:10\n1,0.7,0.6,0.20,00:10\n"
    c = load_curves(write("history.csv", text))
    assert c.source.format == "fastai_csv"
    assert np.allclose(ys(c, "val_acc"), [0.7, 0.8])
    assert "train_acc" not in c.series  # fastai metrics are computed on the validation set
    assert "time" not in c.source.columns.values()


def test_fastai_accuracy_is_validation_accuracy(write):
    text = "epoch,train_loss,valid_loss,accuracy,time\n0,1.0,0.9,0.70,00:10\n1,0.7,0.6,0.80,00:10\n"
    c = load_curves(write("history.csv", text))
    assert ys(c, "val_acc") == [0.7, 0.8] and "train_acc" not in c.series


def test_percent_accuracy_is_normalised(write):
    text = "train_loss,train_acc,val_loss,val_acc\n2.0,26.6,1.7,37.9\n1.5,41.2,1.5,46.3\n"
    c = load_curves(write("log.csv", text))
    assert np.allclose(ys(c, "val_acc"), [0.379, 0.463])
    assert c.series["val_acc"].note == "percent, divided by 100"


def test_restarted_epoch_counter_analyses_last_run(write):
    text = "epoch,loss,val_loss\n0,1.0,1.0\n1,0.9,0.95\n2,0.8,0.9\n0,2.0,2.1\n1,1.5,1.6\n2,1.2,1.3\n3,1.0,1.1\n"
    c = load_curves(write("log.csv", text))
    assert ys(c, "train_loss") == [2.0, 1.5, 1.2, 1.0]
    assert any("2 runs appended" in n and "rows 4-7" in n for n in c.source.notes)


def test_repeated_header_line_starts_a_new_run(write):
    text = "epoch,loss,val_loss\n0,1.0,1.0\n1,0.9,0.95\nepoch,loss,val_loss\n5,2.0,2.1\n6,1.5,1.6\n"
    c = load_curves(write("log.csv", text))
    assert ys(c, "train_loss") == [2.0, 1.5]


def test_step_axis_is_used_when_there_is_no_epoch(write):
    text = "step,loss,val_loss\n100,1.0,1.1\n200,0.8,0.9\n300,0.7,0.8\n"
    c = load_curves(write("log.csv", text))
    assert c.axis_kind == "step" and list(c.series["val_loss"].x) == [100, 200, 300]


def test_column_override_by_name(write):
    text = "epoch,foo,bar\n0,1.0,1.2\n1,0.8,1.0\n"
    with pytest.raises(InputError, match="no recognisable loss column"):
        load_curves(write("log.csv", text))
    c = load_curves(write("log2.csv", text), columns={"train_loss": "FOO", "val_loss": "bar"})
    assert c.source.columns == {"train_loss": "foo", "val_loss": "bar"}


def test_override_naming_a_missing_column_is_an_input_error(write):
    with pytest.raises(InputError, match="no column named 'nope'"):
        load_curves(write("log.csv", KERAS), columns={"val_loss": "nope"})


def test_content_not_extension_decides(write):
    c = load_curves(write("history.txt", json.dumps({"loss": [1.0, 0.5], "val_loss": [1.0, 0.6]})))
    assert c.source.format == "keras_history_json"
    c = load_curves(write("log.json", KERAS))
    assert c.source.format == "keras_csv"


def test_gzip_input(write):
    import gzip

    c = load_curves(write("log.csv.gz", gzip.compress(KERAS.encode())))
    assert ys(c, "train_loss") == [1.0, 0.8, 0.6]


def test_hf_log_history_skips_summary_entry(write):
    hist = [
        {"loss": 0.7, "epoch": 0.5, "step": 10},
        {"loss": 0.6, "epoch": 1.0, "step": 20},
        {"eval_loss": 0.65, "eval_accuracy": 0.7, "epoch": 1.0, "step": 20},
        {"loss": 0.5, "epoch": 1.5, "step": 30},
        {"loss": 0.45, "epoch": 2.0, "step": 40},
        {"eval_loss": 0.6, "eval_accuracy": 0.75, "epoch": 2.0, "step": 40},
        {"train_runtime": 10.0, "train_loss": 0.55, "total_flos": 1.0, "epoch": 2.0, "step": 40},
    ]
    c = load_curves(write("trainer_state.json", json.dumps({"log_history": hist, "global_step": 40})))
    assert c.source.format == "hf_trainer_state"
    assert ys(c, "train_loss") == [0.7, 0.6, 0.5, 0.45]
    assert ys(c, "val_loss") == [0.65, 0.6]


def test_ultralytics_components_are_summed_and_map_is_the_quality_metric(write):
    # Ultralytics results.csv as older versions write it: space-padded headers, epochs from 1
    head = "                  epoch,         train/box_loss,         train/cls_loss,   metrics/mAP50-95(B),           val/box_loss,           val/cls_loss,                 lr/pg0\n"
    rows = "".join(f"{i + 1:>23},{1.0 - 0.05 * i:>23},{2.0 - 0.1 * i:>23},{0.1 + 0.02 * i:>23},{1.1 - 0.04 * i:>23},{2.1 - 0.08 * i:>23},{0.01:>23}\n" for i in range(6))
    c = load_curves(write("results.csv", head + rows))
    assert c.source.format == "ultralytics_csv"
    assert np.allclose(ys(c, "train_loss"), [3.0 - 0.15 * i for i in range(6)])
    assert np.allclose(ys(c, "val_loss"), [3.2 - 0.12 * i for i in range(6)])
    assert c.source.columns["val_acc"].startswith("metrics/mAP50-95(B)")
    assert c.series["val_acc"].note == "quality metric, not accuracy"
    assert list(c.series["val_loss"].x) == [1, 2, 3, 4, 5, 6]


def test_detectron2_total_loss_on_iterations(write):
    lines = [json.dumps({"iteration": 19 + 20 * i, "total_loss": 2.0 - 0.1 * i, "loss_cls": 1.0, "lr": 0.001}) for i in range(5)]
    c = load_curves(write("metrics.json", "\n".join(lines) + "\n"))
    assert c.source.columns["train_loss"] == "total_loss"
    assert c.axis_kind == "step" and list(c.series["train_loss"].x)[:2] == [19, 39]


def test_mmengine_scalars_validation_rows_on_the_epoch_axis(write):
    lines = []
    for e in range(1, 5):
        lines.append(json.dumps({"lr": 0.01, "data_time": 0.1, "loss": 2.0 / e, "epoch": e, "iter": 10 * e, "step": 10 * e}))
        lines.append(json.dumps({"bbox_mAP": 0.1 * e, "bbox_mAP_50": 0.2 * e, "data_time": 0.1, "step": e}))
    c = load_curves(write("scalars.json", "\n".join(lines) + "\n"))
    assert c.source.format == "mmengine_scalars"
    assert not any("appended" in n for n in c.source.notes)
    assert list(c.series["val_acc"].x) == [1, 2, 3, 4] and c.series["val_acc"].note == "quality metric, not accuracy"
    assert ys(c, "train_loss") == [2.0, 1.0, 2.0 / 3, 0.5]


def test_lightning_several_validation_sets_uses_the_first_and_says_so(write):
    text = "epoch,step,train_loss,val_loss/dataloader_idx_0,val_loss/dataloader_idx_1\r\n"
    for e in range(5):
        text += f"{e},{e * 10 + 9},{1.0 - 0.1 * e},,\r\n{e},{e * 10 + 9},,{1.1 - 0.1 * e},{2.0 - 0.05 * e}\r\n"
    c = load_curves(write("metrics.csv", text))
    assert c.source.format == "lightning_csv"
    assert c.source.columns["val_loss"] == "val_loss/dataloader_idx_0"
    assert any("several validation sets" in n and "dataloader_idx_1" in n for n in c.source.notes)
    assert ys(c, "train_loss") == pytest.approx([1.0, 0.9, 0.8, 0.7, 0.6])


def test_mmcv_log_json_iter_restarts_each_epoch_is_one_run(write):
    lines = [json.dumps({"env_info": "...", "seed": 0})]
    for e in range(1, 5):
        for it in (50, 100):
            lines.append(json.dumps({"mode": "train", "epoch": e, "iter": it, "lr": 0.02, "loss": 2.0 / e + 0.01 * it / 100}))
        lines.append(json.dumps({"mode": "val", "epoch": e, "iter": 100, "lr": 0.02, "bbox_mAP": 0.1 * e}))
    c = load_curves(write("20240101_120000.log.json", "\n".join(lines) + "\n"))
    assert not any("appended" in n for n in c.source.notes)
    assert list(c.series["train_loss"].x) == [1, 2, 3, 4]
    assert ys(c, "val_acc") == pytest.approx([0.1, 0.2, 0.3, 0.4])


def test_yolov5_results_columns(write):
    head = "epoch,train/box_loss,train/obj_loss,train/cls_loss,metrics/precision,metrics/recall,metrics/mAP_0.5,metrics/mAP_0.5:0.95,val/box_loss,val/obj_loss,val/cls_loss,x/lr0\n"
    rows = "".join(f"{i},{0.1 - 0.005 * i},{0.05},{0.02},0.5,0.5,0.6,{0.3 + 0.01 * i},{0.09 - 0.004 * i},0.04,0.02,0.01\n" for i in range(8))
    c = load_curves(write("results.csv", head + rows))
    assert c.source.columns["val_acc"].startswith("metrics/mAP_0.5:0.95")
    assert ys(c, "train_loss")[0] == pytest.approx(0.17)


def test_error_rates_are_judged_as_1_minus_rate_but_shown_as_logged(write):
    import curvediag

    text = "epoch,train_loss,valid_loss,error_rate,time\n" + "".join(
        f"{i},{1.0 - 0.08 * i},{0.9 - 0.07 * i},{0.30 - 0.02 * i},00:10\n" for i in range(8)
    )
    rep = curvediag.diagnose(write("history.csv", text))
    m = {x.name: x for x in rep.metrics}["val_acc"]
    assert m.lower_is_better and m.first == pytest.approx(0.30) and m.best == pytest.approx(0.16)
    assert m.column == "error_rate"


KERAS3 = (
    "Epoch 1/3\n"
    "\x1b[1m16/16\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m2s\x1b[0m 40ms/step - accuracy: 0.5000 - loss: 1.2000 - val_accuracy: 0.6000 - val_loss: 1.0000\n"
    "Epoch 2/3\n"
    " 8/16 ━━━━━━━━━━\b\b\b\b\b\b\b\b\b\b━━━━━━━━━━━━━━━━━━━━ 0s 10ms/step - accuracy: 0.7000 - loss: 0.9000\r"
    "16/16 ━━━━━━━━━━━━━━━━━━━━ 0s 12ms/step - accuracy: 0.7500 - loss: 0.8000 - val_accuracy: 0.7000 - val_loss: 0.7000\n"
    "Epoch 3/3\n"
    "16/16 ━━━━━━━━━━━━━━━━━━━━ 0s 12ms/step - accuracy: 0.8500 - loss: 0.6000 - val_accuracy: 0.7500 - val_loss: nan\n"
)


def test_keras3_console_output_with_ansi_backspaces_and_carriage_returns(write):
    c = load_curves(write("fit.log", KERAS3))
    assert c.source.format == "keras_console"
    assert ys(c, "train_loss") == [1.2, 0.8, 0.6]
    assert list(c.series["val_loss"].x) == [1, 2, 3] and math.isnan(ys(c, "val_loss")[2])
    assert ys(c, "val_acc") == [0.6, 0.7, 0.75]


def test_keras2_console_output(write):
    text = "Train on 800 samples, validate on 200 samples\n"
    for e in range(1, 5):
        text += f"Epoch {e}/4\n"
        text += f" 32/800 [>.............] - ETA: 3s - loss: 9.9 - acc: 0.1\r800/800 [==============] - 1s 1ms/step - loss: {1.0 / e:.4f} - acc: {0.5 + 0.1 * e:.4f} - val_loss: {1.1 / e:.4f} - val_acc: {0.45 + 0.1 * e:.4f}\n"
    c = load_curves(write("train_output.txt", text))
    assert ys(c, "train_loss") == [1.0, 0.5, round(1 / 3, 4), 0.25]  # the ETA update is not the epoch's figure
    assert c.source.columns["val_acc"] == "val_acc"
