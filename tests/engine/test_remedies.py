"""Remedies in the user's framework (chosen by the detected format), from one table of remedy
id x framework; advice the log shows was already followed is not given; the report's list holds
every finding's remedies once, the deciding finding's first."""

from __future__ import annotations

import json

import pytest

from curvediag.api import diagnose_with_curves
from curvediag.remedies import FRAMEWORK_OF, TABLE, Remedy, framework_of
from curvediag.rules import RULES

from ..conftest import SAMPLES, real_log_files, require_shared

LOGS = sorted(p for p in SAMPLES.iterdir() if p.suffix != ".md") + real_log_files()

#: words only one framework's remedies use
OWN_WORDS = {
    "keras": ("restore_best_weights",),
    "hf": ("load_best_model_at_end", "EarlyStoppingCallback(early_stopping_patience", "trainer_state.json records"),
    "lightning": ("best_model_path",),
    "ultralytics": ("best.pt",),
    "fastai": ("SaveModelCallback",),
}


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_remedies_speak_only_the_logs_framework(path):
    report, _ = diagnose_with_curves(path)
    fw = framework_of(report.source.format)
    said = " ".join(report.remedies) + " ".join(r for f in report.findings for r in f.remedies)
    for other, words in OWN_WORDS.items():
        if other == fw:
            continue
        for w in words:
            assert w not in said, f"{path.name} ({report.source.format}, {fw}): {w!r} is {other}'s advice"
    assert len(set(report.remedies)) == len(report.remedies)
    # the deciding finding's remedies come first
    if report.findings and report.findings[0].verdict and report.findings[0].remedies:
        assert report.remedies[0] == report.findings[0].remedies[0]
    # the report's list (issue 24): at most 5, each the remedy of a finding that decided the verdict
    # (every finding's when none did), worded as under that finding
    assert len(report.remedies) <= 5
    deciding = [f for f in report.findings if f.verdict == report.verdict] or report.findings
    for r in report.remedies:
        assert any(r in f.remedies for f in deciding) or any(w in r for w in ("best", "patience")), r


@pytest.mark.parametrize("name,fw,expect", [
    ("sample_logs/overfitting.csv", "keras", "restore_best_weights=True"),
    ("fastai_csv/sportsball_history.csv", "fastai", "SaveModelCallback(monitor=\"valid_loss\")"),
    ("hf_trainer_state/ner_biomed_trainer_state.json", "hf", "load_best_model_at_end=True"),
])
def test_each_framework_gets_its_own_api(name, fw, expect):
    from ..conftest import REAL_LOGS, REPO

    path = REPO / name if name.startswith("sample_logs") else REAL_LOGS / name
    if not path.exists():
        require_shared("real_logs", name)
    report, _ = diagnose_with_curves(path)
    assert framework_of(report.source.format) == fw
    if not report.remedies:
        pytest.skip(f"{name}: no remedies ({report.verdict})")
    assert any(expect in r for r in report.remedies), report.remedies


def test_lightning_overfitting_gets_lightning_callbacks(write):
    rows = ["epoch,step,train_loss,val_loss"]
    for e in range(30):
        rows.append(f"{e},{e * 10 + 9},{1.0 * 0.9 ** e:.4f},")
        rows.append(f"{e},{e * 10 + 9},,{0.6 + 0.002 * (e - 8) ** 2 + 0.003 * (-1) ** e:.4f}")
    report, _ = diagnose_with_curves(write("metrics.csv", "\n".join(rows) + "\n"))
    assert report.source.format == "lightning_csv" and report.verdict == "overfitting"
    said = " ".join(report.remedies)
    assert 'ModelCheckpoint(monitor="val_loss"' in said and 'EarlyStopping(monitor="val_loss"' in said
    assert "restore_best_weights" not in said


def test_ultralytics_remedies_name_patience_or_best_pt():
    require_shared("real_logs", "ultralytics_csv")
    for p in real_log_files():
        if p.parent.name != "ultralytics_csv":
            continue
        report, _ = diagnose_with_curves(p)
        fw_said = [r for r in report.remedies if "patience=" in r or "best.pt" in r]
        stops = any(f.code in ("O101", "O102", "E101", "T102") for f in report.findings)
        assert fw_said or not stops, (p.name, report.remedies)


def _trainer_state(write, *, es_patience=None, best=True, evals=None):
    hist = []
    evals = evals or [0.5 + 0.02 * (i - 2) ** 2 + 0.005 * (-1) ** i for i in range(12)]
    for i, ev in enumerate(evals):
        step = (i + 1) * 100
        hist.append({"epoch": i + 1, "step": step, "loss": 1.0 * 0.8 ** i, "learning_rate": 1e-5})
        hist.append({"epoch": i + 1, "step": step, "eval_loss": ev})
    state = {"log_history": hist, "global_step": 1200}
    if best:
        state.update(best_metric=hist[5]["eval_loss"], best_model_checkpoint="out/checkpoint-300", best_global_step=300)
    if es_patience is not None:
        state["stateful_callbacks"] = {"EarlyStoppingCallback": {"args": {"early_stopping_patience": es_patience,
                                                                          "early_stopping_threshold": 0.0},
                                                                 "attributes": {"early_stopping_patience_counter": 0}}}
    return write("trainer_state.json", json.dumps(state))


def test_hf_reads_what_the_file_already_did(write):
    report, _ = diagnose_with_curves(_trainer_state(write, es_patience=9))
    assert report.source.facts["best_model_checkpoint"] == "out/checkpoint-300"
    assert report.source.facts["metric_for_best_model"] == "eval_loss"
    assert report.source.facts["early_stopping_patience"] == 9
    said = " ".join(report.remedies)
    assert "out/checkpoint-300" in said and "step 300" in said and "eval_loss" in said
    assert "metric_for_best_model=" not in said  # the best checkpoint is tracked: it was set
    assert "Add EarlyStoppingCallback" not in said  # early stopping already ran


def test_hf_without_a_tracked_best_says_how_to_track_it(write):
    report, _ = diagnose_with_curves(_trainer_state(write, best=False))
    said = " ".join(report.remedies)
    assert "load_best_model_at_end=True" in said and 'metric_for_best_model="eval_loss"' in said
    assert "EarlyStoppingCallback(early_stopping_patience=" in said


def test_hf_early_stopping_too_impatient_is_said_with_both_patiences(write):
    """E101 finds a patience of N needed; the file ran EarlyStoppingCallback with less: raise it."""
    evals = [0.9, 0.6, 0.5, 0.52, 0.51, 0.53, 0.52, 0.51, 0.45, 0.47, 0.5, 0.55, 0.6, 0.62, 0.66, 0.7]
    report, _ = diagnose_with_curves(_trainer_state(write, es_patience=2, best=False, evals=evals))
    e101 = next(f for f in report.findings if f.code == "E101")
    need = int(e101.evidence["patience_to_keep_best"])
    assert need > 2
    assert any("early_stopping_patience=2" in r and str(need) in r for r in report.remedies), report.remedies
    assert not any(r.startswith("Add EarlyStoppingCallback") for r in report.remedies)


def test_the_table_is_complete():
    used = {r.id for rule in RULES for r in rule.remedies if isinstance(r, Remedy)}
    assert used <= set(TABLE)
    for rid, by_fw in TABLE.items():
        assert "generic" in by_fw, rid
        assert set(by_fw) <= set(FRAMEWORK_OF.values()) | {"generic"}, rid
        for fw, variants in by_fw.items():
            assert variants[-1][0] == () and variants[-1][1] is not None or fw != "generic", (rid, fw)
    # a rule's class-level remedies read as plain text (curvediag rule, docs/rules.md)
    for rule in RULES:
        for r in rule.remedies:
            assert "<" not in str(r) and str(r).endswith((".", ")")), (rule.code, str(r))


# -- the concise text report and --full -------------------------------------------------------

def _text(*args):
    from typer.testing import CliRunner

    from curvediag.cli import app

    return CliRunner().invoke(app, ["analyze", *map(str, args), "--no-color", "--fail-on", "never"],
                              env={"COLUMNS": "100"}).stdout


@pytest.mark.parametrize("path", LOGS, ids=[p.name for p in LOGS])
def test_concise_default_and_full_text(path):
    from curvediag.render.text import CONCISE_REMEDIES

    report, _ = diagnose_with_curves(path)
    short, full = _text(path), _text(path, "--full")
    assert report.verdict.upper().replace("_", " ") in short
    for f in report.findings:  # the evidence: every finding, both ways
        assert f"{f.code} {f.name}" in short and f"{f.code} {f.name}" in full
    listed = short.count("\n  • ")
    assert listed == min(CONCISE_REMEDIES, len(report.remedies))
    assert "skipped:" not in short
    if report.skipped:
        assert "skipped:" in full and all(f"{s.code} {s.name}:" in full for s in report.skipped)
        assert "could not run" in short  # the concise report says there is more
    if len(report.remedies) > CONCISE_REMEDIES:
        assert f"{len(report.remedies) - CONCISE_REMEDIES} more remed" in short
    # each remedy once in the concise report
    flat = " ".join(short.split())
    for rem in report.remedies[:CONCISE_REMEDIES]:
        assert flat.count(" ".join(rem.split())) == 1, rem


def test_full_with_several_logs_adds_the_full_reports():
    a, b = SAMPLES / "overfitting.csv", SAMPLES / "healthy.csv"
    table = _text(a, b)
    full = _text(a, b, "--full")
    assert "2 logs:" in table and "skipped:" not in table and "remedies" not in table
    assert "2 logs:" in full and "skipped:" in full and "O102 val-loss-rising" in full
