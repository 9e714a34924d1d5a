"""What a new user hit with the real tools (issue 24, section 4): each fix with its test."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from curvediag.cli import app

from ..conftest import sample

runner = CliRunner()


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"}, **kw)


@pytest.mark.parametrize("command", ["plot", "watch"])
def test_plot_and_watch_neither_offer_nor_take_run_all(command):
    help_text = run(command, "--help").stdout
    line = next(x for x in help_text.splitlines() if "--run" in x)
    assert "'all'" not in help_text and "all:" not in line
    r = run(command, sample("healthy.csv"), "--run", "all")
    assert r.exit_code == 2 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith("curvediag: --run all:") and "analyze --run all" in r.stderr


def test_analyze_still_offers_run_all():
    assert "'all': one report per run" in " ".join(run("analyze", "--help").stdout.split())


@pytest.mark.parametrize("command", ["inspect", "config"])
def test_inspect_and_config_help_list_only_the_formats_they_print(command):
    help_text = run(command, "--help").stdout
    (line,) = [x for x in help_text.splitlines() if "--format" in x]
    assert re.search(r"--format text\|json\b", line) and "sarif" not in help_text and "jsonl" not in line


def test_a_noise_free_curve_is_not_a_sixteen_digit_multiple_of_its_noise():
    from types import SimpleNamespace

    from curvediag.rules.rise import RiseOptions, rise_message

    ctx = SimpleNamespace(axis_word="epoch")
    opts = RiseOptions(rise_limit=0.1)  # the rules' options are typed (issue 21)
    rise = SimpleNamespace(relative=0.5, min_level=0.3, end_level=0.45, onset_pos=12, z=2.6563152773142340e16)
    msg = rise_message(rise, ctx, opts)
    assert "far above its noise" in msg and "e+16" not in msg and "26563152773142340" not in msg
    assert "(82.9x its noise)" in rise_message(SimpleNamespace(**{**vars(rise), "z": 82.93}), ctx, opts)


def test_a_keras_history_dict_is_on_epochs_as_the_cli_says():
    import json

    import curvediag

    from ..conftest import SAMPLES

    history = json.loads((SAMPLES / "cramming_history.json").read_text())  # what history.history holds
    report = curvediag.diagnose(history)
    assert report.source.axis == "epoch" and "index" not in repr(report)
    assert repr(report).endswith("best val_loss at epoch 37>")
    r = run("analyze", SAMPLES / "cramming_history.json", SAMPLES / "healthy.csv", "--fail-on", "never")
    assert "ep 37" in r.stdout  # the summary table's unit, the same epoch
    assert curvediag.diagnose(SAMPLES / "cramming_history.json").source.axis == "epoch"


def test_readme_says_how_to_get_a_cpu_build_of_torch_before_the_framework_extras():
    from ..conftest import REPO

    readme = (REPO / "README.md").read_text()
    during = readme[readme.index("## During training"):]
    cpu = during.index("pip install torch --index-url https://download.pytorch.org/whl/cpu")
    assert cpu < during.index('pip install "curvediag[lightning]"')
    # and CI does the same: a pinned CPU torch before the integrations extra
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.index('pip install "torch==') < ci.index('pip install -e ".[integrations]"')


def test_a_diverged_step_summary_lists_at_most_five_consistent_remedies():
    from curvediag.remedies import _topic

    from ..conftest import SAMPLES

    md = run("analyze", SAMPLES / "diverged.csv", "-f", "markdown").stdout
    todo = md.split("<summary>What to do</summary>", 1)[1].split("</details>", 1)[0]
    items = [ln[2:] for ln in todo.splitlines() if ln.startswith("- ")]
    assert 1 <= len(items) <= 5  # was 16
    assert len({_topic(x) for x in items}) == len(items)  # no near-duplicates (three "lower the learning rate")
    lr = [x for x in items if "learning rate" in x.lower()]
    assert len(lr) == 1 and "lower" in lr[0].lower() and not any("too low" in x for x in items)
    assert not any("regularisation" in x.lower() or "augment" in x.lower() for x in items)  # not the overfitting cure


def test_html_plot_says_the_headline_once_shows_the_remedies_and_names_an_hf_run(tmp_path):
    import html as html_mod
    import json as json_mod
    import re
    import shutil

    pytest.importorskip("matplotlib")
    from ..conftest import SAMPLES, require_shared

    out = tmp_path / "o.html"
    r = run("analyze", SAMPLES / "overfitting.csv", "--plot", out, "-f", "json", "--fail-on", "never")
    report = json_mod.loads(r.stdout)[0]
    page = out.read_text()
    head = html_mod.escape(report["headline"])
    assert page.count(head[:60]) == 1  # the page's paragraph; the chart's title no longer repeats it
    assert "What to do" in page and all(html_mod.escape(x) in page for x in report["remedies"])

    hf = sorted(require_shared("real_logs", "hf_trainer_state").glob("*.json"))
    if not hf:
        pytest.skip("no real trainer_state.json beside the repository")
    run_dir = tmp_path / "my-bert-run" / "checkpoint-500"
    run_dir.mkdir(parents=True)
    shutil.copy(hf[0], run_dir / "trainer_state.json")
    out = tmp_path / "hf.html"
    run("analyze", tmp_path / "my-bert-run", "--plot", out, "--fail-on", "never")
    page = out.read_text()
    assert re.search(r"<title>curvediag: \w+ - my-bert-run</title>", page)
    assert "trainer_state.json" not in re.search(r"<svg.*?</svg>", page, re.S).group().split("</title>", 1)[0][-200:]


def test_notebook_report_shows_the_remedies():
    pytest.importorskip("matplotlib")
    import curvediag

    from ..conftest import SAMPLES

    rep = curvediag.diagnose(SAMPLES / "diverged.csv")
    page = rep._repr_html_()
    assert "What to do" in page and rep.remedies and all(x.split("(")[0] in page for x in rep.remedies)
