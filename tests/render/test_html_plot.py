"""The HTML plot: a self-contained page (nothing fetched) whose chart answers hover, toggles and
zoom.  Rendered for real in headless Chromium (/usr/bin/chromium, Debian's package; the tests
that need it skip only when it is absent): a screenshot must show the chart (not a blank page)
and the page's script must have run (the toggles it builds, a #x= link's value read off the
curve)."""

from __future__ import annotations

import html as htmllib
import json
import math
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from curvediag.cli import app

from ..conftest import REAL_LOGS, sample

pytest.importorskip("matplotlib")
runner = CliRunner()
CHROMIUM = "/usr/bin/chromium"
_NO_CHROMIUM = pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="Debian's chromium is not installed")


def needs_chromium(test):
    """A test that runs the page in a real headless browser: slow (left out of the fast suite)."""
    return pytest.mark.slow(_NO_CHROMIUM(test))


def write_html(log, tmp_path, *extra) -> Path:
    out = tmp_path / "curves.html"
    r = runner.invoke(app, ["analyze", str(log), "--plot", str(out), "--fail-on", "never", *extra])
    assert r.exit_code == 0, (r.stderr, r.exception)
    return out


def page_data(out: Path) -> dict:
    text = out.read_text()
    m = re.search(r"<script type='application/json' id='cd-data'>(.*?)</script>", text, re.S)
    return json.loads(m.group(1))


def chromium(tmp_path, *args, url):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, url]
    return subprocess.run(cmd, capture_output=True, timeout=120)


# -- without a browser -------------------------------------------------------------------------------

def test_the_page_is_self_contained(tmp_path):
    text = write_html(sample("overfitting.csv"), tmp_path).read_text()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", text)
    assert all(r.startswith("#") for r in refs), refs  # nothing fetched: no http, no file, no CDN
    assert "@import" not in text and "url(http" not in text
    assert text.count("<script") == 2  # the data and the page's own script


def test_the_hover_data_puts_each_point_where_matplotlib_drew_it(tmp_path):
    out = write_html(sample("overfitting.csv"), tmp_path)
    data = page_data(out)
    svg = out.read_text()
    groups = {s["group"] for s in data["series"]}
    assert {"loss (training loss)", "val_loss (validation loss)", "accuracy (training)", "val_accuracy (validation)"} <= groups
    for s in data["series"]:
        assert f'id="{s["id"]}"' in svg  # the SVG element the toggle hides
        assert len(s["x"]) == len(s["y"]) == len(s["px"]) == len(s["py"])
    raw = next(s for s in data["series"] if s["label"] == "val_loss (validation loss) (raw)")
    import pandas as pd

    df = pd.read_csv(sample("overfitting.csv"))
    assert np.allclose(raw["y"], df["val_loss"], rtol=1e-5)  # the values shown are the logged ones
    # larger values are higher on the page (smaller SVG y) on the linear accuracy panel
    acc = next(s for s in data["series"] if s["label"].startswith("val_accuracy") and "raw" in s["label"])
    order = np.argsort(acc["y"])
    assert np.all(np.diff(np.asarray(acc["py"])[order]) <= 1e-6)


def test_a_name_cannot_break_out_of_the_page(tmp_path):
    log = tmp_path / "log.json"
    name = "</script><script>alert(1)</script>"
    log.write_text(json.dumps({name: [2 * math.exp(-i / 5) + 0.05 for i in range(30)],
                               "val_loss": [2 * math.exp(-i / 5) + 0.3 + 0.03 * max(0, i - 10) for i in range(30)]}))
    text = write_html(log, tmp_path, "--loss", name).read_text()
    assert text.count("<script") == 2 and "alert(1)</script>" not in text
    labels = [s["label"] for s in page_data(tmp_path / "curves.html")["series"]]
    assert any(name in lbl for lbl in labels)  # kept as data, shown as text by the script


def test_the_overlay_page_is_interactive_too(tmp_path):
    out = tmp_path / "overlay.html"
    base = [str(sample("healthy.csv"))]
    r = runner.invoke(app, ["analyze", str(sample("overfitting.csv")), "--baseline", *base, "--plot", str(out),
                            "--fail-on", "never"])
    assert r.exit_code == 0, (r.stderr, r.exception)
    labels = {s["label"] for s in page_data(out)["series"]}
    assert "baseline (1 log)" in labels and any(lbl.startswith("run:") for lbl in labels)


# -- in headless Chromium -----------------------------------------------------------------------------

def _logs():
    logs = [sample("overfitting.csv"), sample("diverged.csv")]
    real = REAL_LOGS / "hf_trainer_state" / "whisper_small_hi_trainer_state.json"
    return logs + ([real] if real.exists() else [])


@needs_chromium
@pytest.mark.parametrize("log", _logs(), ids=lambda p: p.name)
def test_a_screenshot_in_headless_chromium_shows_the_chart(tmp_path, log):
    import matplotlib.image as mpimg

    out = write_html(log, tmp_path)
    shot = tmp_path / "shot.png"
    r = chromium(tmp_path, "--window-size=1200,1000", f"--screenshot={shot}", url=out.as_uri())
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    img = mpimg.imread(shot)[:, :, :3]
    assert img.shape[0] >= 900 and img.shape[1] >= 1100
    ink = (img < 0.9).any(axis=2).mean()
    assert ink > 0.03, f"the page is (nearly) blank: {ink:.3%} non-white"
    blue = np.abs(img - np.array([31, 119, 180]) / 255).max(axis=2) < 0.08  # tab:blue, the training loss
    orange = np.abs(img - np.array([255, 127, 14]) / 255).max(axis=2) < 0.08  # tab:orange, the validation loss
    assert blue.sum() > 300 and orange.sum() > 300, (blue.sum(), orange.sum())


@needs_chromium
def test_the_script_runs_in_chromium_toggles_and_a_link_to_a_value(tmp_path):
    out = write_html(sample("overfitting.csv"), tmp_path)
    data = page_data(out)
    first = data["series"][0]
    i = 37
    r = chromium(tmp_path, "--dump-dom", url=out.as_uri() + f"#x={first['x'][i]}")
    dom = r.stdout.decode()
    assert 'data-ready="yes"' in dom, r.stderr[-2000:]  # the script ran to its end without an error
    boxes = re.findall(r'<input type="checkbox" data-group="([^"]*)"', dom)
    assert [htmllib.unescape(b) for b in boxes] == list(dict.fromkeys(s["group"] for s in data["series"]))
    tip = re.search(r'<div id="cd-tip"[^>]*>(.*?)</div>', dom, re.S).group(1)
    assert htmllib.unescape(tip).splitlines() == [first["label"], f"epoch: {first['x'][i]:g}", f"value: {first['y'][i]:.6g}"]


def _every_curve_at(data, x):
    """What the page lists under the tip at ``x``: each curve with a finite value whose own range
    holds ``x``, its point nearest ``x`` (the first of equals)."""
    want = [f"at {data['axis']} {x:g}:"]
    for s in data["series"]:
        xs = [v for v in s["x"] if v is not None]
        if not any(v is not None for v in s["y"]) or not xs or not min(xs) <= x <= max(xs):
            continue
        i = min(range(len(s["x"])), key=lambda j: (abs(s["x"][j] - x), j))
        at = "" if s["x"][i] == x else f" (at {s['x'][i]:g})"
        want.append(f"{s['label']}: {s['y'][i]:.6g}{at}")
    return want


def _per_step_log(tmp_path) -> Path:
    log = tmp_path / "steps.json"
    n = 400
    loss = [2 * math.exp(-i / 80) + 0.1 + 0.02 * math.sin(i) for i in range(n)]
    log.write_text(json.dumps({"step": list(range(n)), "loss": loss,
                               "val_loss": [v + 0.2 if i % 10 == 9 else None for i, v in enumerate(loss)]}))
    return log


@needs_chromium
@pytest.mark.parametrize("which", ["epochs", "steps"])
def test_the_hover_lists_every_curve_at_that_x(tmp_path, which):
    log = sample("overfitting.csv") if which == "epochs" else _per_step_log(tmp_path)
    out = write_html(log, tmp_path)
    data = page_data(out)
    first = data["series"][0]
    x = first["x"][35]
    r = chromium(tmp_path, "--dump-dom", url=out.as_uri() + f"#x={x}")
    dom = r.stdout.decode()
    assert 'data-ready="yes"' in dom, r.stderr[-2000:]
    listed = htmllib.unescape(re.search(r'<div id="cd-at"[^>]*>(.*?)</div>', dom, re.S).group(1)).splitlines()
    want = _every_curve_at(data, x)
    assert listed == want
    groups = {s["group"] for s in data["series"] if any(v is not None for v in s["y"])}
    assert len(listed) - 1 >= len(groups) >= 2  # not one series: every curve (raw and smoothed of each)
    if which == "steps":
        assert any("(at " in line for line in listed)  # validation every 10 steps: its nearest evaluation
    marks = re.findall(r'<circle r="3" fill="[^"]*"[^>]*style="[^"]*"', dom)
    assert len(marks) == len(want) - 1  # a point marked on each listed curve


def _trainer_state(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    hist = []
    for i in range(1, 41):
        hist.append({"loss": 2 * math.exp(-i / 8) + 0.05, "epoch": i / 4, "step": 10 * i})
        if i % 4 == 0:
            hist.append({"eval_loss": 2 * math.exp(-i / 8) + 0.3 + 0.02 * max(0, i - 20), "epoch": i / 4, "step": 10 * i})
    path.write_text(json.dumps({"global_step": 400, "epoch": 10.0, "log_history": hist}))


@pytest.mark.parametrize("where", ["my-bert-run/trainer_state.json", "my-bert-run/checkpoint-400/trainer_state.json"])
def test_a_hf_output_dir_is_titled_by_the_runs_name_and_the_headline_said_once(tmp_path, where):
    from curvediag.api import diagnose_with_curves
    from curvediag.plot import _figure

    _trainer_state(tmp_path / where)
    page = write_html(tmp_path / "my-bert-run", tmp_path).read_text()
    report, curves = diagnose_with_curves(tmp_path / "my-bert-run")
    assert re.search(r"<title>curvediag: \w+ - my-bert-run</title>", page)
    svg = re.search(r"<svg.*?</svg>", page, re.S).group()
    chart_title = f"{report.verdict.upper().replace('_', ' ')}: my-bert-run"
    assert f"<!-- {chart_title} -->" in svg  # matplotlib's SVG names each text it drew in a comment
    assert "trainer_state.json" not in svg
    head = htmllib.escape(report.headline)
    assert page.count(head) == 1 and head[:40] not in svg  # the page's paragraph says it; the chart does not
    fig, _ = _figure(curves, report)  # a PNG or SVG has no page around it: its title carries the headline
    lines = fig._suptitle.get_text().split("\n")
    assert lines[0] == chart_title and report.headline[:40] in " ".join(lines[1:])
