"""`curvediag plot`: the chart fits the terminal's width, is coloured only when the terminal has
colour (never when piped, with NO_COLOR or --no-color), draws the problem span inside the axis,
non-finite points on the top row, one point per column per curve, a log scale over two decades."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from curvediag.api import diagnose_with_curves
from curvediag.cli import app
from curvediag.plot import _problem_span, terminal_cells

from ..conftest import sample

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LOGS = ["overfitting.csv", "diverged.csv", "healthy.csv", "still_improving_fastai.csv", "cramming_history.json"]


def plot(*args, env=None):
    r = runner.invoke(app, ["plot", *map(str, args)], env=env or {})
    assert r.exit_code == 0, (r.stderr, r.exception)
    return r.stdout


@pytest.mark.parametrize("columns", [40, 80, 137, 250])
@pytest.mark.parametrize("log", LOGS)
def test_the_chart_fits_the_terminal_width(columns, log):
    out = plot(sample(log), env={"COLUMNS": str(columns), "NO_COLOR": ""})
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns - 1
    grid = [line for line in lines[1:-3]]
    assert max(len(line) for line in grid) == columns - 1  # and uses it


def test_an_explicit_width_is_kept():
    out = plot(sample("overfitting.csv"), "--width", "60", env={"COLUMNS": "200"})
    assert max(len(line) for line in out.splitlines()) == 70


@pytest.mark.parametrize("env,opts,coloured", [
    ({"FORCE_COLOR": "1"}, [], True),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, [], False),
    ({"FORCE_COLOR": "1"}, ["--no-color"], False),
    ({}, [], False),  # not a terminal (captured): plain text
])
def test_colour_only_when_the_terminal_has_it(env, opts, coloured):
    out = plot(sample("diverged.csv"), *opts, env={"COLUMNS": "100", **env})
    assert bool(ANSI.search(out)) is coloured
    plain = ANSI.sub("", out)
    assert plain.splitlines()[0].startswith("DIVERGED:")
    assert max(len(line) for line in plain.splitlines()) <= 99
    if coloured:
        assert "\x1b[34m·" in out  # train in blue
        assert "░" in plain  # the span shaded (faintly coloured) inside the axis
    else:
        assert "░" not in plain


def _cells(log, width=60, height=12, shade=False):
    report, curves = diagnose_with_curves(log)
    return report, curves, terminal_cells(curves, report, width, height, shade=shade)


def _col(x, x0, x1, width):
    return int(round((x - x0) / (x1 - x0) * (width - 1)))


@pytest.mark.parametrize("log", ["overfitting.csv", "diverged.csv", "still_improving_fastai.csv"])
def test_the_span_is_drawn_inside_the_axis(log):
    report, curves, lines = _cells(sample(log))
    span = _problem_span(report)
    assert span is not None
    xs = np.concatenate([s.x for s in curves.series.values() if s.name in ("train_loss", "val_loss")])
    a, b = (_col(v, xs.min(), xs.max(), 60) for v in span)
    rows = [line[10:] for line in lines[1:13]]
    axis = lines[13][10:]
    assert [i for i, c in enumerate(axis) if c == "═"] == list(range(a, b + 1))
    marks = {_col(v, xs.min(), xs.max(), 60) for v in (report.best_epoch, report.onset_epoch) if v is not None}
    for edge in {a, b} - marks:
        assert any(r[edge] == "┆" for r in rows)  # the span's ends run through the plot area
    _r, _c, shaded = _cells(sample(log), shade=True)
    inside = [line[10:][a:b + 1] for line in shaded[1:13]]
    assert sum(r.count("░") for r in inside) > (b - a + 1) * 12 // 3
    assert all("░" not in line[10:][:a] for line in shaded[1:13])


def test_non_finite_points_are_marked_on_the_top_row():
    report, curves, lines = _cells(sample("diverged.csv"))
    train = curves.get("train_loss")
    x0, x1 = float(train.x.min()), float(train.x.max())
    want = {_col(x, x0, x1, 60) for x in train.x[~np.isfinite(train.y)]}
    top = lines[1][10:]
    assert {i for i, c in enumerate(top) if c == "×"} == want
    assert all("×" not in line for line in lines[2:13])
    assert "× NaN/inf" in lines[-1]


def test_a_long_noisy_log_is_one_point_per_column(tmp_path):
    rng = np.random.default_rng(1)
    n = 5000
    loss = (np.exp(-np.arange(n) / 1500) * (1 + 0.3 * rng.standard_normal(n)) + 0.1).tolist()
    log = tmp_path / "steps.json"
    log.write_text(json.dumps({"step": list(range(n)), "loss": loss}))
    _r, _c, lines = _cells(log, width=80, height=16)
    columns = ["".join(line[10:][c] for line in lines[1:17]) for c in range(80)]
    assert all(col.count("·") == 1 for col in columns)  # a point per column, not a smear of every step


@pytest.mark.parametrize("end,log", [(0.001, True), (0.5, False)])
def test_a_log_scale_when_the_losses_span_decades(tmp_path, end, log):
    f = tmp_path / "l.json"
    f.write_text(json.dumps({"loss": [end + (2 - end) * math.exp(-i / 4) for i in range(40)]}))
    _r, _c, lines = _cells(f)
    assert ("(log scale)" in lines[-1]) is log
    y = np.array([end + (2 - end) * math.exp(-i / 4) for i in range(40)])
    t = np.log10(y) if log else y
    want_top = np.quantile(t, 0.98)  # the top 2% may be clipped: a first-epoch spike does not flatten the rest
    top, bottom = float(lines[1][:9]), float(lines[12][:9])
    assert top == pytest.approx(10 ** want_top if log else want_top, rel=1e-3)
    assert bottom == pytest.approx(y.min(), rel=1e-3)


def _rows_of(lines, ch, height):
    return {r for r, line in enumerate(lines[1:height + 1]) if ch in line[10:]}


def test_the_scale_gives_the_curve_the_verdict_rests_on_the_charts_height():
    # overfitting.csv: the training loss spans decades, the validation loss (the evidence) one third
    # of one: on a log scale it had 4 rows of 16; the chart is linear and it has most of them
    report, _c, lines = _cells(sample("overfitting.csv"), width=72, height=16)
    assert report.verdict == "overfitting"
    assert "(log scale)" not in lines[-1]
    assert len(_rows_of(lines, "●", 16)) >= 10


def test_a_log_scale_stays_when_it_spreads_the_evidence_curve(tmp_path):
    # the training loss (the evidence of divergence) climbs four decades: a linear scale would
    # leave it on the bottom row but for its last points
    n = 40
    f = tmp_path / "l.json"
    f.write_text(json.dumps({"loss": [0.5 * 0.97 ** i if i < 20 else 0.3 * 2.0 ** (i - 20) for i in range(n)],
                             "val_loss": [0.6 * 0.97 ** i if i < 20 else 0.4 * 1.8 ** (i - 20) for i in range(n)]}))
    report, _c, lines = _cells(f, width=110, height=12)
    assert report.verdict == "diverged", report.headline
    assert "(log scale)" in lines[-1]
    assert len(_rows_of(lines, "·", 12)) >= 8
