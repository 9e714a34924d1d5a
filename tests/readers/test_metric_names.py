"""A quality metric or an error rate judged in the val_acc slot is named as logged (``eval_wer``,
``eval_overall_f1``), in its own units and direction, everywhere a person reads it: the headline,
the findings' messages, the text and Markdown tables, the terminal chart and the plot's legend.
1 - rate stays internal; the JSON keeps its canonical keys and adds ``label``."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from curvediag.api import diagnose_with_curves
from curvediag.batch import Batch
from curvediag.cli import app
from curvediag.curves import VAL_ACC
from curvediag.render import OutputFormat, OutputOptions, render

from ..conftest import real_log_files

runner = CliRunner()


def _as_read_logs():
    out = []
    for p in real_log_files():
        try:
            _, c = diagnose_with_curves(p)
        except Exception:
            continue
        s = c.series.get(VAL_ACC)
        if s is not None and (s.quality or s.inverted):
            out.append(p)
    return out


AS_READ = _as_read_logs()


def _wer_log(write, wer):
    """A trainer_state.json whose eval_wer (percent) rises while eval_loss turns up."""
    hist = []
    for i, w in enumerate(wer):
        step = (i + 1) * 100
        hist.append({"epoch": i + 1, "step": step, "loss": 1.0 * 0.8 ** i, "learning_rate": 1e-5})
        wobble = 0.01 * (-1) ** i  # some noise, as a real curve has
        hist.append({"epoch": i + 1, "step": step, "eval_loss": 0.5 + 0.04 * (i - 3) ** 2 + wobble, "eval_wer": w})
    return write("trainer_state.json", json.dumps({"log_history": hist, "global_step": len(wer) * 100}))


def _human_texts(report, curves):
    from curvediag.plot import terminal_chart

    batch = Batch((report.source.path,), (report,))
    return {
        "headline": report.headline,
        "messages": " | ".join(f.message for f in report.findings),
        "text": render(batch, OutputFormat.text, OutputOptions(full=True)),
        "markdown": render(batch, OutputFormat.markdown),
        "chart": terminal_chart(curves, report),
    }


@pytest.mark.skipif(not AS_READ, reason="no real log with a quality metric or error rate")
@pytest.mark.parametrize("path", AS_READ, ids=[p.name for p in AS_READ])
def test_real_quality_metrics_are_named_as_logged(path):
    report, curves = diagnose_with_curves(path)
    s = curves.series[VAL_ACC]
    for where, text in _human_texts(report, curves).items():
        # (the columns line maps the slot to the column, 'val_acc ← eval_wer': the one place the slot is named)
        assert not re.search(r"\bval_acc\b(?! ←)", text), (
            f"{path.name}: 'val_acc' in the {where} for column {s.column}")
    m = next(m for m in report.metrics if m.name == VAL_ACC)
    assert m.label == s.column
    assert m.lower_is_better == s.inverted
    logged = s.as_logged()
    assert m.first == pytest.approx(float(logged[0])) and m.last == pytest.approx(float(logged[-1]))
    d = report.to_dict()["metrics"][VAL_ACC]
    assert d["label"] == s.column and VAL_ACC in report.to_dict()["metrics"]  # canonical key kept


def test_a_rising_wer_reads_as_a_rising_wer(write):
    p = _wer_log(write, [30.0, 22.0, 18.0, 17.7, 19.0, 22.0, 25.0, 27.0, 28.0, 28.4])
    report, curves = diagnose_with_curves(p)
    texts = _human_texts(report, curves)
    assert report.verdict in ("cramming", "overfitting")
    allt = " ".join(texts.values())
    assert "eval_wer" in texts["text"] and "eval_wer" in texts["markdown"]
    assert not re.search(r"\bval_acc\b(?! ←)", texts["headline"] + texts["messages"] + texts["markdown"] + texts["chart"])
    assert "eval_wer fell" not in allt  # it rose: never read as an accuracy that fell
    cram = [f for f in report.findings if f.code == "O101"]
    if cram:
        assert "eval_wer rose" in cram[0].message and "28.4" in cram[0].message
    m = next(m for m in report.metrics if m.name == VAL_ACC)
    assert (m.first, m.best, m.last) == pytest.approx((30.0, 17.7, 28.4)) and m.lower_is_better


def test_a_falling_wer_is_not_an_accuracy_that_fell(write):
    """O103: val_loss turned up while the WER still improved (fell): the message says the WER fell."""
    p = _wer_log(write, [40.0, 36.0, 33.0, 31.0, 30.0, 29.0, 28.0, 27.5, 27.0, 26.8])
    report, _ = diagnose_with_curves(p)
    o103 = [f for f in report.findings if f.code == "O103"]
    assert o103, [f.code for f in report.findings]
    assert "eval_wer still fell 3" in o103[0].message and "val_acc" not in o103[0].message


def test_plot_legend_names_the_metric_as_logged_with_its_values(write):
    pytest.importorskip("matplotlib")
    from curvediag.plot import _figure

    p = _wer_log(write, [30.0, 22.0, 18.0, 17.7, 19.0, 22.0, 25.0, 27.0, 28.0, 28.4])
    report, curves = diagnose_with_curves(p)
    fig, _ = _figure(curves, report)
    lines = [ln for ax in fig.axes for ln in ax.get_lines()]
    labels = [ln.get_label() for ln in lines]
    assert not any("val_acc" in lab for lab in labels), labels
    wer = next(ln for ln in lines if ln.get_label().split(" (")[0] == "eval_wer")  # "eval_wer (validation)"
    assert list(wer.get_ydata()) == pytest.approx([30.0, 22.0, 18.0, 17.7, 19.0, 22.0, 25.0, 27.0, 28.0, 28.4])


def test_json_keeps_canonical_keys_and_adds_the_label(write):
    p = _wer_log(write, [30.0, 22.0, 18.0, 17.7, 19.0, 22.0, 25.0, 27.0, 28.0, 28.4])
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    d = json.loads(r.stdout)[0]
    assert d["metrics"]["val_acc"]["label"] == "eval_wer"
    assert d["metrics"]["val_loss"]["label"] == "val_loss"
    assert d["final_gap"]["acc"] is None
