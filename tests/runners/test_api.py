"""The library API that notebooks import, and the JSON contract."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import curvediag
from curvediag.errors import InputError, UsageError
from curvediag.report import SCHEMA_VERSION, VERDICTS

from ..conftest import sample

TOP_KEYS = {
    "schema_version", "curvediag_version", "source", "verdict", "severity", "headline", "best_epoch",
    "best_epoch_metric", "onset_epoch", "epochs_after_best", "final_gap", "interpretation", "findings",
    "skipped", "metrics", "projection",
    "remedies",  # added within schema 1 (docs/json.md): the report's remedies, once each
    "confidence", "alternative", "borderline",  # added within schema 2 (issue 19): how sure the verdict is
}
FINDING_KEYS = {"code", "name", "verdict", "severity", "message", "evidence", "span", "remedies"}


def test_diagnose_path_dataframe_and_dict_agree():
    path = sample("overfitting.csv")
    df = pd.read_csv(path)
    a = curvediag.diagnose(path)
    b = curvediag.diagnose(df)
    c = curvediag.diagnose({k: list(df[k]) for k in df.columns if k != "epoch"})
    assert a.verdict == b.verdict == c.verdict == "overfitting"
    assert a.best_epoch == b.best_epoch == c.best_epoch


def test_report_is_frozen():
    rep = curvediag.diagnose(sample("healthy.csv"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.verdict = "overfitting"  # type: ignore[misc]


def test_json_contract_keys_and_types():
    d = curvediag.diagnose(sample("overfitting.csv")).to_dict()
    assert set(d) == TOP_KEYS
    assert d["schema_version"] == SCHEMA_VERSION and d["curvediag_version"] == curvediag.__version__
    assert set(d["source"]) == {"path", "format", "rows", "axis", "columns", "notes"}
    assert d["verdict"] in VERDICTS and d["severity"] in ("ok", "info", "warning", "error")
    for f in d["findings"]:
        assert set(f) == FINDING_KEYS
        assert isinstance(f["remedies"], list) and f["remedies"]
        assert f["span"] is None or len(f["span"]) == 2
    for m in d["metrics"].values():
        assert set(m) == {"column", "points", "non_finite", "first", "best", "best_epoch", "last", "lower_is_better",
                          "label"}  # label: added within schema 1 (docs/json.md)
    assert set(d["final_gap"]) == {"loss", "loss_relative", "acc"}
    json.dumps(d, allow_nan=False)


def test_onset_and_best_epoch_on_the_logs_own_axis(write):
    # epochs numbered from 1 (as many custom loops do): positions must stay 1-based
    n = 30
    t = np.arange(n)
    val = 0.3 + 2 * np.exp(-t / 3) + 0.02 * np.maximum(0, t - 10)
    train = 0.05 + 2 * np.exp(-t / 3)
    lines = ["epoch,train_loss,val_loss"] + [f"{i + 1},{a},{b}" for i, (a, b) in enumerate(zip(train, val))]
    rep = curvediag.diagnose(write("log.csv", "\n".join(lines) + "\n"))
    assert rep.verdict == "overfitting"
    assert rep.best_epoch == 1 + int(np.argmin(val))
    assert rep.epochs_after_best == n - rep.best_epoch


def test_final_gap():
    rep = curvediag.diagnose({"loss": [1.0, 0.5, 0.25, 0.2], "val_loss": [1.0, 0.6, 0.45, 0.4], "accuracy": [0.5, 0.7, 0.9, 0.92], "val_accuracy": [0.5, 0.6, 0.8, 0.82]})
    assert rep.final_gap["loss"] == pytest.approx(0.2)
    assert rep.final_gap["loss_relative"] == pytest.approx(1.0)
    assert rep.final_gap["acc"] == pytest.approx(0.1)


def test_interpretation_reads_loss_and_accuracy_together():
    rep = curvediag.diagnose(sample("healthy.csv"))
    assert rep.interpretation.startswith("low loss with high accuracy")
    rep = curvediag.diagnose(sample("not_learning.jsonl"), num_classes=10)
    assert rep.interpretation.startswith("high loss with low accuracy") and "ln 10" in rep.interpretation


def test_errors_are_exceptions_not_exits():
    with pytest.raises(InputError) as e:
        curvediag.diagnose("/definitely/not/here.csv")
    assert str(e.value) == "/definitely/not/here.csv: no such file"
    with pytest.raises(UsageError):
        curvediag.diagnose(sample("healthy.csv"), options={"O102": {"no_such_option": 1}})
    with pytest.raises(UsageError):
        curvediag.diagnose(42)


def test_option_overrides_by_code_or_name():
    base = curvediag.diagnose(sample("still_improving_fastai.csv"))
    assert base.verdict == "still_improving"
    rep = curvediag.diagnose(sample("still_improving_fastai.csv"), options={"losses-still-falling": {"gain_limit": 0.9}})
    assert rep.verdict == "healthy"


def test_import_is_light():
    import subprocess
    import sys

    code = "import sys, curvediag, curvediag.cli; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
