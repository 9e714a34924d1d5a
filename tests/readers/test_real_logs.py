"""Every real log in ../shared/real_logs (see its SOURCES.md) is read and diagnosed.

Collected by glob, so a file added to shared/ is tested without touching this
file.  Files in formats this version cannot read yet are listed explicitly
with the error they must get: a deliberate, specific message and exit 2.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.errors import InputError
from curvediag.report import VERDICTS

from ..conftest import REAL_LOGS, real_log_files

FILES = real_log_files()

# Framework formats scheduled for the format-readers issue: no generic loss column.
NOT_YET = {
}

pytestmark = pytest.mark.skipif(not FILES, reason="../shared/real_logs is not beside the repo")


def rel(p) -> str:
    return p.relative_to(REAL_LOGS).as_posix()


@pytest.mark.parametrize("path", FILES, ids=[rel(p) for p in FILES])
def test_each_real_log_yields_a_report_or_a_specific_error(path):
    key = rel(path)
    if key in NOT_YET:
        with pytest.raises(InputError, match=NOT_YET[key]):
            curvediag.diagnose(path)
        return
    report = curvediag.diagnose(path)
    assert report.verdict in VERDICTS
    assert report.source.rows > 0
    assert report.headline
    d = report.to_dict()
    json.dumps(d, allow_nan=False)  # strict JSON, whatever the log held


@pytest.mark.parametrize("path", FILES, ids=[rel(p) for p in FILES])
def test_each_real_log_through_the_cli(path):
    r = CliRunner().invoke(app, ["analyze", str(path), "--format", "json", "--fail-on", "never"])
    if rel(path) in NOT_YET:
        assert r.exit_code == 2
        return
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)[0]["verdict"] in VERDICTS


def _report(name):
    return curvediag.diagnose(REAL_LOGS / name)


def test_appended_runs_are_segmented():
    rep = _report("keras_csv/irfanet_training_logs221017_appended.log")
    assert any("4 runs appended" in n and "rows 143-151" in n for n in rep.source.notes)
    assert rep.metrics[0].points == 9
    rep = _report("keras_csv/mnist_digits_appended_training_log.csv")
    assert any("2 runs appended" in n for n in rep.source.notes)


def test_percent_accuracies_and_summed_loss_minivit():
    rep = _report("custom_csv/minivit_train_log.csv")
    va = {m.name: m for m in rep.metrics}["val_acc"]
    assert 0.3 < va.first < 0.4 and va.best <= 1.0


def test_nan_losses_are_divergence_evidence():
    rep = _report("keras_csv/braincnn_regression_training.log")
    assert rep.verdict == "diverged"
    rep = _report("custom_json/ptychopinn_gs1_history.json")
    assert rep.verdict == "diverged" and rep.onset_epoch == 3


def test_chance_level_logs_are_not_learning():
    # loss pinned at ln 10 with 11% accuracy; loss at ln 2 with 50% accuracy
    for name, k in (("custom_csv/deepdiagnosis_mnist_log.csv", 10), ("custom_csv/autotrainer_demo1_log.csv", 2)):
        rep = _report(name)
        assert rep.verdict == "not_learning", name
        assert rep.findings[0].evidence.get("chance_classes") == k


def test_val_loss_up_val_acc_up_is_overconfident_overfitting():
    rep = _report("keras_csv/voiceid_speaker250_training.log")
    assert rep.verdict == "overfitting"
    assert any(f.code == "O103" and "val_acc still rose" in f.message for f in rep.findings)


def test_blank_lines_between_rows():
    rep = _report("custom_csv/plant_disease_blanklines_train_log.csv")
    assert rep.metrics[0].points == 10 and rep.best_epoch is not None and rep.best_epoch >= 1
