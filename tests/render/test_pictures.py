"""The pictures: what the matplotlib chart shows (log scale, learning-rate panel, the metric as
logged, non-finite points, smoothing, verdict, best/onset/span/projection), one file per run
(--plot DIR/ and {stem} templates), and --plot without matplotlib (a warning, the report and its
exit status unchanged)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from curvediag.api import diagnose_with_curves
from curvediag.cli import app
from curvediag.errors import UsageError

from ..conftest import REAL_LOGS, REPO, require_shared, sample

matplotlib = pytest.importorskip("matplotlib")
from curvediag import plot  # noqa: E402

runner = CliRunner()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def figure_of(log, **kw):
    report, curves = diagnose_with_curves(log, **kw)
    fig, plt = plot._figure(curves, report)
    return report, fig


def panels(fig) -> dict:
    """ylabel (first word) -> axes."""
    return {ax.get_ylabel().split()[0]: ax for ax in fig.axes}


def lines(ax, alpha=None):
    """The curves drawn (not the best/onset lines)."""
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("cd-series")
            and (alpha is None or ln.get_alpha() == alpha)]


def decay(n, start=2.0, end=0.02, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = end + (start - end) * np.exp(-8 * t / n)
    return (y * (1 + noise * rng.standard_normal(n))).tolist()


# -- log scale ------------------------------------------------------------------------------------

@pytest.mark.parametrize("start,end,log", [(2.0, 0.002, True), (2.0, 0.05, False), (1000.0, 5.0, True), (0.9, 0.6, False)])
def test_loss_panel_turns_to_log_scale_only_when_the_loss_spans_decades(start, end, log):
    report, fig = figure_of({"loss": decay(40, start, end), "val_loss": decay(40, start, end * 1.5)})
    ax = panels(fig)["loss"]
    assert (ax.get_yscale() == "log") is log
    assert ("log scale" in ax.get_ylabel()) is log


def test_a_loss_with_negative_values_stays_linear():
    y = [1.0 - 0.3 * i for i in range(30)]  # e.g. an ELBO-style loss crossing zero, spanning decades in |y|
    _, fig = figure_of({"loss": y, "val_loss": [v + 0.1 for v in y]})
    assert panels(fig)["loss"].get_yscale() == "linear"


# -- panels ----------------------------------------------------------------------------------------

def test_learning_rate_panel_only_when_lr_is_logged():
    base = {"loss": decay(30), "val_loss": decay(30, end=0.05)}
    _, fig = figure_of(base)
    assert "learning" not in panels(fig)
    lr = [1e-3 * 0.9 ** i for i in range(30)]
    _, fig = figure_of({**base, "lr": lr})
    ax = panels(fig)["learning"]
    drawn = lines(ax)[0]
    assert np.allclose(drawn.get_ydata(), lr)  # the schedule as logged, never smoothed
    assert ax.get_yscale() == "linear"  # 1e-3 .. 4.7e-5: not two decades
    _, fig = figure_of({**base, "lr": [1e-3 * 0.7 ** i for i in range(30)]})
    assert panels(fig)["learning"].get_yscale() == "log"


def test_accuracy_panel_shows_accuracy_and_no_panel_without_one():
    _, fig = figure_of(sample("overfitting.csv"))
    assert set(panels(fig)) == {"loss", "accuracy"}
    _, fig = figure_of(sample("diverged.csv"))
    assert set(panels(fig)) == {"loss"}


def test_an_error_rate_is_drawn_as_logged_in_its_own_units():
    require_shared("real_logs", "hf_trainer_state")
    log = REAL_LOGS / "hf_trainer_state" / "whisper_small_hi_trainer_state.json"
    logged = [e["eval_wer"] for e in json.loads(log.read_text())["log_history"] if "eval_wer" in e]
    _, fig = figure_of(log)
    ax = panels(fig)["eval_wer"]
    assert ax.get_ylabel() == "eval_wer (lower is better)"
    (line,) = lines(ax)
    assert np.allclose(line.get_ydata(), logged)  # WER as WER, not 1 - WER
    assert line.get_label().startswith("eval_wer")
    assert "learning" in panels(fig)


def test_a_percent_metric_is_drawn_in_percent():
    acc = [50 + i for i in range(30)]
    _, fig = figure_of({"loss": decay(30), "val_loss": decay(30, end=0.05), "val_accuracy": acc}, metric="val_accuracy")
    ax = [a for a in fig.axes if a is not panels(fig)["loss"]][0]
    assert np.allclose(lines(ax)[0].get_ydata(), acc)


# -- non-finite points, smoothing --------------------------------------------------------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_points_are_marked_at_the_top_of_the_panel(bad):
    y = decay(30)
    for i in (20, 21, 25):
        y[i] = bad
    _, fig = figure_of({"loss": y, "val_loss": decay(30, end=0.05)})
    ax = panels(fig)["loss"]
    marks = [ln for ln in ax.get_lines() if ln.get_marker() == "v"]
    assert len(marks) == 1
    assert list(marks[0].get_xdata()) == [20, 21, 25]
    assert all(0.9 <= v <= 1.0 for v in marks[0].get_ydata())  # axes fraction: the top of the panel
    kind = "NaN" if math.isnan(bad) else ("inf" if bad > 0 else "-inf")
    assert f"3 {kind}" in marks[0].get_label()
    finite_line = [ln for ln in ax.get_lines() if ln.get_marker() != "v" and "loss (training" in ln.get_label()][0]
    assert np.isfinite(finite_line.get_ydata()).all()


@pytest.mark.parametrize("n,smoothed", [(30, False), (60, False), (61, True), (2000, True)])
def test_per_step_losses_are_smoothed_with_the_raw_line_faint(n, smoothed):
    y = decay(n, noise=0.3)
    _, fig = figure_of({"step": list(range(n)), "loss": y})
    ax = panels(fig)["loss"]
    faint = lines(ax, alpha=0.25)
    labelled = [ln for ln in ax.get_lines() if "training loss" in ln.get_label()]
    assert bool(faint) is smoothed
    if smoothed:
        assert np.allclose(faint[0].get_ydata(), y)  # raw, as logged
        sm = labelled[0].get_ydata()
        assert "smoothed" in labelled[0].get_label()
        assert np.std(np.diff(sm)) < 0.6 * np.std(np.diff(y))  # visibly smoother
    else:
        assert np.allclose(labelled[0].get_ydata(), y)


def test_a_long_log_is_decimated_without_losing_its_spike():
    n = 200_000
    y = np.array(decay(n, noise=0.05))
    y[123_457] = 50.0
    x, d = plot._decimate(np.arange(n, dtype=float), y)
    assert len(d) <= plot.MAX_DRAWN and d.max() == 50.0 and d.min() == y.min()
    assert x[0] == 0 and np.all(np.diff(x) > 0)


# -- verdict, best, onset, span, projection ------------------------------------------------------------

@pytest.mark.parametrize("log", ["overfitting.csv", "diverged.csv", "healthy.csv", "still_improving_fastai.csv",
                                 "cramming_history.json", "not_learning.jsonl"])
def test_the_chart_carries_the_diagnosis(log):
    report, fig = figure_of(sample(log))
    title = fig._suptitle.get_text()
    assert title.startswith(report.verdict.upper().replace("_", " ") + ": " + log)
    ax = fig.axes[0]
    verticals = {ln.get_label(): ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() in (":", "-.")}
    if report.best_epoch is not None:
        assert any(lbl.startswith("best") and x == report.best_epoch for lbl, x in verticals.items()), verticals
    if report.onset_epoch is not None and report.onset_epoch != report.best_epoch:
        assert verticals.get(f"onset at {report.onset_epoch:g}") == report.onset_epoch
    span = plot._problem_span(report)
    shaded = [p for p in ax.patches if p.get_label() == f"{report.verdict} span"]
    assert bool(shaded) is (span is not None)
    projected = [ln for ln in ax.get_lines() if "projected" in ln.get_label()]
    p = report.projection
    assert bool(projected) is bool(p is not None and p.projected)
    if projected:
        assert projected[0].get_xdata()[-1] == p.horizon_100.position
        assert projected[0].get_ydata()[-1] == pytest.approx(p.horizon_100.value)


def test_the_title_keeps_names_matplotlib_would_misread():
    report, fig = figure_of({"loss": decay(30), "val_loss": decay(30, end=0.05)})
    assert "<dict>" in fig._suptitle.get_text()


# -- one file per run ------------------------------------------------------------------------------

def test_plot_targets_name_each_log_after_its_run(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "metrics.csv").write_text("x"), (b / "metrics.csv").write_text("x")
    out = str(tmp_path / "plots") + "/"
    got = plot.plot_targets(out, [str(sample("healthy.csv")), str(a / "metrics.csv"), str(b / "metrics.csv"), "-", str(a)])
    names = [os.path.basename(t) for t in got]
    assert names == ["healthy.png", "a_metrics.png", "b_metrics.png", "stdin.png", "a.png"]
    assert len(set(got)) == len(got)
    assert plot.plot_targets(str(tmp_path / "{stem}-curves.html"), [str(sample("diverged.csv"))]) == \
        [str(tmp_path / "diverged-curves.html")]
    # the same name twice with no directory to tell them apart: numbered
    twice = plot.plot_targets("p/{stem}.svg", ["x/m.csv", "x/m.csv"])
    assert twice[0] != twice[1] and all(t.endswith(".svg") for t in twice)


@pytest.mark.parametrize("name", ["-rf.csv", ".hidden.csv", "a b;rm.csv", "ж\x1b[2J.csv", "..csv"])
def test_a_hostile_log_name_makes_a_plain_file_name(tmp_path, name):
    (t,) = plot.plot_targets(str(tmp_path) + "/", [str(tmp_path / name)])
    base = os.path.basename(t)
    assert os.path.dirname(t) == str(tmp_path)
    assert base.endswith(".png") and not base.startswith((".", "-"))
    assert all(c.isascii() and (c.isalnum() or c in "._+-") for c in base)


def test_plot_targets_refuse_a_file_for_several_logs_and_other_extensions():
    with pytest.raises(UsageError, match="draws one log"):
        plot.plot_targets("out.png", ["a.csv", "b.csv"])
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv")), str(sample("diverged.csv")), "--plot", "/nonexistent/{stem}.pdf"])
    assert r.exit_code == 2 and r.stderr.strip() == "curvediag: /nonexistent/healthy.pdf: --plot takes a .png, .svg or .html file"
    assert r.stdout == ""  # refused before anything is read


def test_plot_dir_writes_one_file_per_run_and_keeps_the_exit_status(tmp_path):
    logs = [str(sample(n)) for n in ("healthy.csv", "overfitting.csv", "diverged.csv")]
    bad = tmp_path / "empty.csv"
    bad.write_text("")
    plain = runner.invoke(app, ["analyze", *logs, str(bad), "--format", "json"])
    out = tmp_path / "plots"
    r = runner.invoke(app, ["analyze", *logs, str(bad), "--plot", f"{out}/", "--format", "json"])
    assert r.exit_code == plain.exit_code == 2  # the unreadable log, as without --plot
    assert r.stdout == plain.stdout and r.stderr == plain.stderr
    plain = runner.invoke(app, ["analyze", *logs])
    assert sorted(p.name for p in out.iterdir()) == ["diverged.png", "healthy.png", "overfitting.png"]
    r = runner.invoke(app, ["analyze", *logs, "--plot", str(tmp_path / "{stem}.html")])
    assert r.exit_code == plain.exit_code == 1
    assert sorted(p.name for p in tmp_path.glob("*.html")) == ["diverged.html", "healthy.html", "overfitting.html"]


def test_plot_dir_inside_an_input_directory_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.csv").write_text(sample("healthy.csv").read_text())
    r = runner.invoke(app, ["analyze", str(run), "--plot", f"{run}/plots/"])
    assert r.exit_code == 2 and "never writes to its inputs" in r.stderr
    assert sorted(p.name for p in run.iterdir()) == ["history.csv"]


# -- without the plot extra -------------------------------------------------------------------------

HIDE = "import sys; sys.modules['matplotlib'] = None; from curvediag.cli import main; sys.argv[0] = 'curvediag'; main()"


@pytest.mark.parametrize("log,status", [("healthy.csv", 0), ("overfitting.csv", 1), ("diverged.csv", 1)])
@pytest.mark.parametrize("target", ["x.png", "plots/", "{stem}.html"])
def test_without_matplotlib_plot_warns_and_the_report_keeps_its_exit_status(tmp_path, log, status, target):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = tmp_path / "report.json"
    r = subprocess.run([sys.executable, "-c", HIDE, "analyze", str(sample(log)), "--plot", f"{tmp_path}/{target}",
                        "-o", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == status, r.stderr
    assert r.stderr.strip() == 'curvediag: warning: plots need matplotlib: pip install "curvediag[plot]"; no plot written'
    assert json.loads(out.read_text())[0]["verdict"] == log.split(".")[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]
    assert "Traceback" not in r.stderr


def test_every_drawn_line_of_a_long_log_is_decimated(tmp_path):
    n = 50_000
    x = list(range(n))
    _, fig = figure_of({"step": x, "loss": decay(n, noise=0.1), "lr": [1e-3 * (1 - i / n) + 1e-6 for i in x]})
    for ax in fig.axes:
        for ln in lines(ax):
            assert len(ln.get_xdata()) <= plot.MAX_DRAWN, ln.get_label()


def test_decimation_keeps_each_pixel_buckets_extremes_and_the_marked_positions():
    n = 1_000_000
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.integers(1, 4, n)).astype(float)  # uneven steps, sorted
    y = np.sin(x / 5e4) + 0.1 * rng.standard_normal(n)
    best = float(x[654_321])
    dx, dy = plot._decimate(x, y, keep=(best, None))
    assert 2 * plot.PIXELS // 2 <= dx.size <= min(plot.MAX_DRAWN, 2 * plot.PIXELS + 3)
    assert dx[0] == x[0] and dx[-1] == x[-1] and np.all(np.diff(dx) > 0)
    assert best in dx  # the best epoch's point is drawn, not only its bucket's min and max
    edges = np.linspace(x[0], x[-1], plot.PIXELS + 1)
    for b in (0, 17, 600, plot.PIXELS - 1):  # every bucket's extremes are among the points drawn
        inside = (x >= edges[b]) & (x < edges[b + 1])
        drawn = (dx >= edges[b]) & (dx < edges[b + 1])
        assert dy[drawn].max() == y[inside].max() and dy[drawn].min() == y[inside].min()


def test_a_long_run_of_non_finite_points_is_one_mark_per_pixel_and_counted_in_full():
    n = 200_000
    y = np.array(decay(n, noise=0.05))
    y[120_000:] = np.nan
    _, fig = figure_of({"step": list(range(n)), "loss": y.tolist()})
    marks = [ln for ln in panels(fig)["loss"].get_lines() if ln.get_marker() == "v"]
    assert len(marks) == 1 and 100 < len(marks[0].get_xdata()) <= plot.PIXELS + 1
    assert min(marks[0].get_xdata()) == 120_000 and max(marks[0].get_xdata()) >= n - n // plot.PIXELS - 1
    assert "80000 NaN" in marks[0].get_label()


def test_log_axes_label_their_decades_as_plain_text():
    _, fig = figure_of({"loss": decay(40, 2.0, 0.002), "val_loss": decay(40, 2.0, 0.003)})
    ax = panels(fig)["loss"]
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all(re.fullmatch("10[⁻]?[⁰¹²³⁴⁵⁶⁷⁸⁹]+", t) for t in labels), labels
    assert "10⁻²" in labels
