"""Every run of an experiment: a directory gives one report per run (the run-directory conventions
decide which file stands for each run, ordered by the numbers in their names), ``--run all`` gives
one per run of a store, database or export, a long-format CSV one per run in it; an unreadable run
is its own entry, never the end of the batch."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import time

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.batch import Input, Unreadable, expand
from curvediag.cli import app
from curvediag.config import Settings

from ..conftest import sample

runner = CliRunner()


def analyze(*args, code=None):
    r = runner.invoke(app, ["analyze", *map(str, args), "--format", "json", "--fail-on", "never"])
    if code is not None:
        assert r.exit_code == code, (r.stdout, r.stderr)
    return r


def reports(*args, code=0) -> list[dict]:
    r = analyze(*args, code=code)
    d = json.loads(r.stdout)
    return d if isinstance(d, list) else [d]


def paths(ds) -> list[str]:
    return [d["source"]["path"] for d in ds]


def verdicts(ds) -> list[str]:
    return [d.get("verdict", "unreadable") for d in ds]


# three distinct verdicts, so a report can be matched to the file it came from
KINDS = ("healthy.csv", "overfitting.csv", "diverged.csv")


def touch_later(p, seconds):
    """Give ``p`` a modification time ``seconds`` from now: order by time would differ from order by number."""
    t = time.time() + seconds
    os.utime(p, (t, t))


# --- a directory: each convention -----------------------------------------------------------------


def test_lightning_versions_one_row_each_ordered_by_number_not_time(tmp_path):
    root = tmp_path / "exp"
    for i, (v, name) in enumerate(((10, "healthy.csv"), (2, "overfitting.csv"), (1, "diverged.csv"))):
        d = root / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(sample(name), d / "metrics.csv")
        (d / "hparams.yaml").write_text("lr: 0.1\n")
        touch_later(d / "metrics.csv", -100 * i)  # version_10 the newest file, version_1 the oldest
    ds = reports(root)
    assert [p.split("lightning_logs/")[1] for p in paths(ds)] == [f"version_{v}/metrics.csv" for v in (1, 2, 10)]
    assert verdicts(ds) == ["diverged", "overfitting", "healthy"]
    assert "run directory: read lightning_logs/version_1/metrics.csv, a Lightning CSVLogger log" in ds[0]["source"]["notes"]


def _hf_state(path, global_step, n, overfit=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    hist = []
    for i in range(n):
        hist.append({"loss": 2.0 / (1 + i), "epoch": i + 1, "step": 10 * (i + 1)})
        hist.append({"eval_loss": 2.0 / (1 + i) + 0.1 + (0.05 * max(0, i - 6) if overfit else 0), "epoch": i + 1, "step": 10 * (i + 1)})
    path.write_text(json.dumps({"global_step": global_step, "epoch": n, "log_history": hist}, indent=2, sort_keys=True))


def test_hugging_face_runs_the_highest_checkpoint_or_the_runs_own_state_stands_for_each(tmp_path):
    root = tmp_path / "sweep"
    # run lr1: the finished run's own trainer_state.json beside its checkpoints
    _hf_state(root / "lr1" / "trainer_state.json", 300, 30, overfit=True)
    for step in (100, 200):
        _hf_state(root / "lr1" / f"checkpoint-{step}" / "trainer_state.json", step, step // 10, overfit=True)
    # run lr2: only checkpoints (killed before the end): the highest-numbered one, not the last written
    for step in (500, 1500, 1000):
        _hf_state(root / "lr2" / f"checkpoint-{step}" / "trainer_state.json", step, step // 50)
    touch_later(root / "lr2" / "checkpoint-1000" / "trainer_state.json", 100)
    ds = reports(root)
    assert [os.path.relpath(p, root) for p in paths(ds)] == ["lr1/trainer_state.json", "lr2/checkpoint-1500/trainer_state.json"]
    assert ds[0]["metrics"]["train_loss"]["points"] == 30 and ds[1]["metrics"]["train_loss"]["points"] == 30
    assert ds[0]["verdict"] == "overfitting"
    # one run with its checkpoints is one report, as before
    one = reports(root / "lr2")
    assert len(one) == 1 and "checkpoint-1500" in one[0]["source"]["path"]


def test_ultralytics_train_train2_train10_each_results_csv_its_own_run(tmp_path):
    root = tmp_path / "runs" / "detect"
    for i, (d, name) in enumerate((("train10", "diverged.csv"), ("train2", "overfitting.csv"), ("train", "healthy.csv"))):
        (root / d / "weights").mkdir(parents=True)
        shutil.copy(sample(name), root / d / "results.csv")
        (root / d / "args.yaml").write_text("epochs: 30\n")
        touch_later(root / d / "results.csv", 100 * i)
    ds = reports(tmp_path / "runs")
    assert [os.path.relpath(p, root) for p in paths(ds)] == ["train/results.csv", "train2/results.csv", "train10/results.csv"]
    assert verdicts(ds) == ["healthy", "overfitting", "diverged"]


def test_tensorboard_logdir_one_folder_per_run(tmp_path):
    tbx = pytest.importorskip("tensorboardX")
    root = tmp_path / "logs"
    for run, rise in (("run_10", 0.0), ("run_2", 0.06), ("run_1", 0.0)):
        for sub in ("train", "validation"):  # Keras writes both below the run folder
            w = tbx.SummaryWriter(str(root / run / sub))
            for e in range(25):
                val = sub == "validation"
                w.add_scalar("epoch_loss", 2 * math.exp(-e / 4) + 0.1 * val + rise * max(0, e - 8) * val, e)
            w.close()
    ds = reports(root)
    assert [os.path.relpath(p, root) for p in paths(ds)] == ["run_1", "run_2", "run_10"]
    assert all(d["source"]["format"] == "tensorboard" for d in ds)
    assert ds[1]["verdict"] == "overfitting" and ds[0]["verdict"] != "overfitting"
    assert all(set(d["source"]["columns"]) == {"train_loss", "val_loss"} for d in ds)


def _mlflow_run(store, run_id, name, vals, start):
    run = store / "0" / run_id
    (run / "metrics").mkdir(parents=True)
    (run / "tags").mkdir()
    (run / "meta.yaml").write_text(f"run_id: {run_id}\nexperiment_id: '0'\nstart_time: {start}\n")
    (run / "tags" / "mlflow.runName").write_text(name)
    (run / "metrics" / "loss").write_text("".join(f"{1700000000000 + i} {v} {i}\n" for i, (v, _) in enumerate(vals)))
    (run / "metrics" / "val_loss").write_text("".join(f"{1700000000000 + i} {w} {i}\n" for i, (_, w) in enumerate(vals)))


def _curve(kind, n=30):
    out = []
    for i in range(n):
        t = 2 * math.exp(-i / 5) + 0.05
        if kind == "flat":
            out.append((2.3, 2.31))
        elif kind == "overfit":
            out.append((t, t + 0.1 + 0.04 * max(0, i - 8)))
        else:
            out.append((t, t + 0.1))
    return out


def test_mlflow_file_store_every_run_and_run_name_picks_one(tmp_path):
    store = tmp_path / "mlruns"
    _mlflow_run(store, "ffff1111", "flat-one", _curve("flat"), 1)
    _mlflow_run(store, "aaaa2222", "overfit-two", _curve("overfit"), 2)
    (store / "0" / "meta.yaml").write_text("name: Default\n")
    ds = reports(store)
    assert len(ds) == 2 and {d["source"]["format"] for d in ds} == {"mlflow"}
    assert sorted(verdicts(ds)) == ["not_learning", "overfitting"]
    # named by their run names, as SQLite's and the server's runs are (issue 24: the run ids)
    assert sorted(p.rsplit("#run=", 1)[1] for p in paths(ds)) == ["flat-one", "overfit-two"]
    assert all(p.startswith(str(store) + "#run=") for p in paths(ds))
    picked = reports(store, "--run", "overfit-two")
    assert verdicts(picked) == ["overfitting"]


def test_a_directory_of_plain_logs_analyses_each_file_as_ruff_does(tmp_path):
    for name in ("overfitting.csv", "not_learning.jsonl", "cramming_history.json"):
        shutil.copy(sample(name), tmp_path / name)
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config.json").write_text("{}")  # below a hidden directory: not a run
    (tmp_path / ".hidden.csv").write_text("x\n1\n")
    ds = reports(tmp_path)
    assert [os.path.basename(p) for p in paths(ds)] == ["cramming_history.json", "not_learning.jsonl", "overfitting.csv"]
    assert verdicts(ds) == ["cramming", "not_learning", "overfitting"]


def test_a_directory_with_one_run_is_read_as_before(tmp_path):
    d = tmp_path / "lightning_logs" / "version_0"
    d.mkdir(parents=True)
    shutil.copy(sample("overfitting.csv"), d / "metrics.csv")
    r = analyze(tmp_path, code=0)
    one = json.loads(r.stdout)
    assert len(one) == 1 and one[0]["verdict"] == "overfitting"  # one run: one report
    r = analyze(tmp_path / "empty_dir_missing")
    assert r.exit_code == 2
    (tmp_path / "empty").mkdir()
    r = analyze(tmp_path / "empty")
    assert r.exit_code == 2 and "no training log" in r.stderr and r.stderr.count("\n") == 1


# --- one file, many runs: --run all --------------------------------------------------------------


def _sqlite(path, runs, index=True):
    """An MLflow-schema database: ``runs`` is [(run_uuid, name, start_time, curve kind)]."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) NOT NULL PRIMARY KEY, name VARCHAR(250), start_time BIGINT)")
    con.execute("CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,"
                " run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT '0' NOT NULL, is_nan BOOLEAN DEFAULT '0' NOT NULL)")
    if index:
        con.execute("CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)")
    for rid, name, start, kind in runs:
        con.execute("INSERT INTO runs VALUES (?, ?, ?)", (rid, name, start))
        for i, (v, w) in enumerate(_curve(kind)):
            con.execute("INSERT INTO metrics VALUES ('loss', ?, ?, ?, ?, 0)", (v, start + i, rid, i))
            con.execute("INSERT INTO metrics VALUES ('val_loss', ?, ?, ?, ?, 0)", (w, start + i, rid, i))
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("index", [True, False])
def test_sqlite_run_all_one_report_per_run_by_start_time(tmp_path, index):
    db = _sqlite(tmp_path / "mlflow.db", [("cc", "third", 3000, "flat"), ("aa", "first", 1000, "overfit"),
                                          ("bb", "first", 2000, "good")], index=index)
    ds = reports(db, "--run", "all")
    # by start time; "first" names two runs, so those are told apart by their ids
    assert paths(ds) == [f"{db}#run=aa", f"{db}#run=bb", f"{db}#run=third"]
    assert verdicts(ds)[0] == "overfitting" and verdicts(ds)[2] == "not_learning"
    # without --run all: one report, the newest run, as before
    assert len(reports(db)) == 1
    # the database inside a directory: --run all reads each of its runs too
    assert paths(reports(tmp_path, "--run", "all")) == paths(ds)
    # the same reports with worker processes
    assert reports(db, "--run", "all", "--jobs", "2") == ds


def test_wandb_panel_export_run_all(write):
    head = ["Step"]
    runs = {"dry-sun-3": "overfit", "wet-moon-4": "flat", "calm-sea-5": "good"}
    for run in runs:
        head += [f"{run} - loss", f"{run} - val_loss", f"{run} - val_loss__MIN", f"{run} - val_loss__MAX"]
    rows = []
    curves = {run: _curve(kind) for run, kind in runs.items()}
    for i in range(30):
        row = [str(i * 10)]
        for run in runs:
            v, w = curves[run][i]
            row += [str(v), str(w), str(w * 0.9), str(w * 1.1)]
        rows.append(",".join(row))
    p = write("wandb_export.csv", ",".join(head) + "\n" + "\n".join(rows) + "\n")
    ds = reports(p, "--run", "all")
    assert paths(ds) == [f"{p}#run={r}" for r in runs]
    assert verdicts(ds)[:2] == ["overfitting", "not_learning"]
    assert len(reports(p)) == 1  # without --run all: the first run, as before


def test_run_all_on_a_file_of_one_run_is_that_run_and_on_stdin_one_line(write):
    p = write("log.csv", sample("overfitting.csv").read_text())
    assert verdicts(reports(p, "--run", "all")) == ["overfitting"]
    r = runner.invoke(app, ["analyze", "-", "--run", "all"], input=sample("overfitting.csv").read_text())
    assert r.exit_code == 2 and "--run all" in r.stderr and r.stderr.count("\n") == 1


# --- the long format (run, step, key, value) ------------------------------------------------------


def _long_rows(runs: dict) -> str:
    lines = ["run_id,step,key,value,timestamp"]
    for rid, kind in runs.items():
        for i, (v, w) in enumerate(_curve(kind)):
            lines += [f"{rid},{i},loss,{v},{i}", f"{rid},{i},val_loss,{w},{i}"]
    return "\n".join(lines) + "\n"


def test_long_format_csv_is_read_as_many_runs(write):
    p = write("export.csv", _long_rows({"r-over": "overfit", "r-flat": "flat", "r-good": "good"}))
    ds = reports(p)
    assert paths(ds) == [f"{p}#run=r-over", f"{p}#run=r-flat", f"{p}#run=r-good"]
    assert verdicts(ds)[:2] == ["overfitting", "not_learning"]
    assert ds[0]["source"]["columns"] == {"train_loss": "loss", "val_loss": "val_loss"}
    assert ds[0]["metrics"]["train_loss"]["points"] == 30
    # the same as the library's diagnose_frame on the same table
    import pandas as pd

    frame = curvediag.diagnose_frame(pd.read_csv(p))
    assert frame["r-over"].to_dict()["metrics"] == ds[0]["metrics"]
    # the only file of a directory: its runs too
    sub = p.parent / "sub"
    sub.mkdir()
    shutil.copy(p, sub / "export.csv")
    assert verdicts(reports(sub)) == verdicts(ds)
    # without a run column: one run
    one = write("one.csv", "step,key,value\n" + "".join(f"{i},loss,{v}\n{i},val_loss,{w}\n" for i, (v, w) in enumerate(_curve("overfit"))))
    assert verdicts(reports(one)) == ["overfitting"]


# --- an unreadable run among good ones ------------------------------------------------------------


def test_unreadable_run_in_a_directory_is_its_own_entry(tmp_path):
    for v, body in ((0, sample("overfitting.csv").read_text()), (1, "epoch,lr\n0,0.1\n1,0.1\n"), (2, sample("healthy.csv").read_text())):
        d = tmp_path / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text(body)
    r = analyze(tmp_path, code=2)
    ds = json.loads(r.stdout)
    assert [d.get("verdict", "error") for d in ds] == ["overfitting", "error", "healthy"]
    assert ds[1]["path"].endswith("version_1/metrics.csv") and ds[1]["error"]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "version_1/metrics.csv" in lines[0] and "Traceback" not in r.stderr


def test_unreadable_run_in_a_database_is_its_own_entry(tmp_path):
    db = _sqlite(tmp_path / "mlflow.db", [("aa", "a", 1, "overfit"), ("bb", "b", 2, "good")])
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE m2 AS SELECT * FROM metrics")  # keep the schema loose enough for a bad row
    con.execute("DROP TABLE metrics")
    con.execute("CREATE TABLE metrics (key, value, timestamp, run_uuid, step, is_nan)")
    con.execute("INSERT INTO metrics SELECT * FROM m2")
    con.execute("DROP TABLE m2")
    con.execute("INSERT INTO metrics VALUES ('loss', 'oops', 5, 'bb', 3, 0)")
    con.commit()
    con.close()
    r = analyze(db, "--run", "all", code=2)
    ds = json.loads(r.stdout)
    assert ds[0]["verdict"] == "overfitting"
    assert ds[1]["path"] == f"{db}#run=b" and "value is the text 'oops'" in ds[1]["error"]
    assert r.stderr.strip() == f"curvediag: {db}#run=b: {ds[1]['error']}"


def test_a_path_that_cannot_be_expanded_is_an_entry_and_the_others_go_on(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)
    items = expand([str(sample("overfitting.csv")), str(bad)], Settings().reading(run="all"))
    assert isinstance(items[0], Input) and isinstance(items[1], Unreadable) and "SQLite" in items[1].message
    r = runner.invoke(app, ["analyze", str(sample("overfitting.csv")), str(bad), "--run", "all", "--format", "jsonl"])
    assert r.exit_code == 2
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert lines[0]["verdict"] == "overfitting" and lines[1]["path"] == str(bad)


# --- the summary table -----------------------------------------------------------------------------


def test_short_names_are_the_shortest_unique_suffixes():
    from curvediag.render.summary import short_names

    assert short_names(["/r/exp/lightning_logs/version_0/metrics.csv", "/r/exp/lightning_logs/version_1/metrics.csv",
                        "/r/other/healthy.csv"]) == ["version_0/metrics.csv", "version_1/metrics.csv", "healthy.csv"]
    # one path is the tail of another: it is shown whole, the other needs one component more
    assert short_names(["a/b.csv", "x/a/b.csv"]) == ["a/b.csv", "x/a/b.csv"]
    # the same deeper down: a/b/c/log.csv vs z/b/c/log.csv
    assert short_names(["/p/a/b/c/log.csv", "/p/z/b/c/log.csv"]) == ["a/b/c/log.csv", "z/b/c/log.csv"]
    # a run inside a file and server URIs: the last component already tells them apart
    assert short_names(["/d/mlflow.db#run=a", "/d/mlflow.db#run=b"]) == ["mlflow.db#run=a", "mlflow.db#run=b"]
    assert short_names(["mlflow+http://h:5000/#experiment=e&run=x", "mlflow+http://h:5000/#experiment=e&run=y"]) == [
        "#experiment=e&run=x", "#experiment=e&run=y"]
    # the same path twice cannot be told apart by a suffix: whole
    assert short_names(["/x/log.csv", "/x/log.csv", "/y/z.csv"]) == ["/x/log.csv", "/x/log.csv", "z.csv"]
    assert short_names(["only.csv"]) == ["only.csv"]


def _text(*args, columns=80):
    r = runner.invoke(app, ["analyze", *map(str, args), "--no-color"], env={"COLUMNS": str(columns)})
    lines = r.stdout.splitlines()
    end = next(i for i, line in enumerate(lines) if line and not line.startswith(" ") and i and ":" in line)
    return r, lines[0], lines[1:end]


def test_summary_table_names_runs_whole_with_units_worst_first(tmp_path):
    long = "a-run-name-much-longer-than-thirty-two-characters-with-a-seed-1234567"
    for v, (name, sub) in enumerate((("healthy.csv", long), ("diverged.csv", long), ("overfitting.csv", "short"))):
        d = tmp_path / sub / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(sample(name), d / "metrics.csv")
    db = _sqlite(tmp_path / "mlflow.db", [("aa", "sqlite-over", 1, "overfit"), ("bb", "sqlite-flat", 2, "flat")])
    missing = tmp_path / "missing.csv"
    r, head, rows = _text(tmp_path, "--run", "all", missing, "--fail-on", "never", columns=80)
    assert head.split() == ["run", "verdict", "best", "onset", "format"]
    cells = [row.split() for row in rows]
    assert len(cells) == 6
    # worst first: the unreadable input, then errors (diverged before not_learning: precedence), warnings, ok
    assert [c[1] for c in cells] == ["unreadable", "diverged", "not_learning", "overfitting", "overfitting", "healthy"]
    names = [c[0] for c in cells]
    assert names[0] == "missing.csv"
    # the long name whole (the table is wider than 80 columns: never cut), and only as much of each path as needed
    assert names[1] == "version_1/metrics.csv" and f"{long}/lightning_logs/version_1" not in names[1]
    assert "mlflow.db#run=sqlite-flat" in names and "version_2/metrics.csv" in names
    assert "…" not in r.stdout
    # units: epochs for the CSV logs, steps for the MLflow runs
    by_name = {c[0]: c for c in cells}
    assert by_name["version_2/metrics.csv"][2:6] == ["ep", "13", "ep", "13"]
    assert by_name["mlflow.db#run=sqlite-over"][2] == "step"
    assert r.exit_code == 2  # the worst run's status: an input that could not be read


def test_summary_table_never_cuts_a_long_name(tmp_path):
    long = "x" * 90 + ".csv"
    shutil.copy(sample("overfitting.csv"), tmp_path / long)
    shutil.copy(sample("healthy.csv"), tmp_path / "h.csv")
    r, head, rows = _text(tmp_path, "--fail-on", "never", columns=60)
    assert any(row.startswith(long + " ") for row in rows), rows


def test_exit_status_is_the_worst_runs(tmp_path):
    from curvediag import output
    from curvediag.batch import run

    for v, name in enumerate(("healthy.csv", "overfitting.csv", "healthy.csv")):
        d = tmp_path / "exp" / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(sample(name), d / "metrics.csv")
    exp = tmp_path / "exp"
    code = lambda *a: runner.invoke(app, ["analyze", str(exp), "--format", "json", *a]).exit_code  # noqa: E731
    assert code("--fail-on", "warning") == 1  # one overfitting run among healthy ones fails the gate
    assert code("--fail-on", "error") == 0
    (exp / "lightning_logs" / "version_3").mkdir()
    shutil.copy(sample("diverged.csv"), exp / "lightning_logs" / "version_3" / "metrics.csv")
    assert code("--fail-on", "error") == 1
    b = run([str(exp)], Settings(fail_on="error"))
    assert len(b.items) == 4 and output.exit_status(b) == 1
    (exp / "lightning_logs" / "version_4").mkdir()
    (exp / "lightning_logs" / "version_4" / "metrics.csv").write_text("garbage\n\x00\x01")
    assert code("--fail-on", "never") == 2


# --- the library: diagnose_many --------------------------------------------------------------------


def test_diagnose_many_expands_paths_and_diagnoses_frames(tmp_path):
    import pandas as pd

    for v, name in enumerate(("overfitting.csv", "healthy.csv")):
        d = tmp_path / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(sample(name), d / "metrics.csv")
    long = pd.read_csv(io_text(_long_rows({"r-over": "overfit", "r-flat": "flat"})))
    wide = pd.read_csv(sample("diverged.csv"))
    hist = {"loss": [1.0, 0.5, 0.25]}
    b = curvediag.diagnose_many([tmp_path, long, wide, hist, object()])
    got = [(getattr(x, "verdict", "unreadable"), x.source.path if hasattr(x, "source") else x.path) for x in b.items]
    assert [v for v, _ in got] == ["overfitting", "healthy", "overfitting", "not_learning", "diverged", curvediag.diagnose(hist).verdict, "unreadable"]
    assert got[0][1].endswith("version_0/metrics.csv") and got[2][1] == "r-over" and got[3][1] == "r-flat"
    assert "cannot diagnose a object" in b.unreadable[0].message
    # each report is the one the single-run functions give
    frames = curvediag.diagnose_frame(long)
    assert b.items[2].to_dict() == frames["r-over"].to_dict()
    assert b.items[4].to_dict()["metrics"] == curvediag.diagnose(wide).to_dict()["metrics"]
    assert b.items[0].to_dict()["metrics"] == curvediag.diagnose(tmp_path / "lightning_logs" / "version_0" / "metrics.csv").to_dict()["metrics"]
    # one log given alone; worker processes give the same reports
    assert [r.verdict for r in curvediag.diagnose_many(long).reports] == ["overfitting", "not_learning"]
    par = curvediag.diagnose_many([tmp_path, long], jobs=2)
    assert [r.to_dict() for r in par.reports] == [r.to_dict() for r in curvediag.diagnose_many([tmp_path, long]).reports]
    # settings are those of the command line: --run all on a database
    db = _sqlite(tmp_path / "x.db", [("aa", "a", 1, "overfit"), ("bb", "b", 2, "flat")])
    assert [r.source.path for r in curvediag.diagnose_many([db], Settings().reading(run="all")).reports] == [f"{db}#run=a", f"{db}#run=b"]


def io_text(text: str):
    import io

    return io.StringIO(text)


# --- one run at a time ------------------------------------------------------------------------------


def test_a_database_is_streamed_one_run_at_a_time(tmp_path, monkeypatch):
    """--run all lists the run ids once, then reads each run by its id alone (no query over the
    other runs' rows); the stream reads a run only when its report is asked for."""
    from curvediag import batch
    from curvediag.readers import mlflow as mlflow_reader

    db = _sqlite(tmp_path / "mlflow.db", [(f"r{i}", f"run{i}", i, ("overfit", "good", "flat")[i % 3]) for i in range(6)])
    statements: list[str] = []
    real_connect = sqlite3.connect

    def traced(*a, **k):
        con = real_connect(*a, **k)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(mlflow_reader.sqlite3, "connect", traced)
    s = Settings().reading(run="all")
    inputs = expand([str(db)], s)
    assert [i.kind for i in inputs] == ["sqlite"] * 6 and all(i.table is None for i in inputs)
    listing = [q for q in statements if "FROM metrics" in q]
    assert listing and all("DISTINCT run_uuid" in q or "LIMIT 1" in q for q in listing), listing
    statements.clear()
    reads: list[str] = []
    real_read = mlflow_reader.read_sqlite
    monkeypatch.setattr(mlflow_reader, "read_sqlite", lambda *a, **k: reads.append(a[2]) or real_read(*a, **k))
    it = batch.stream(inputs, s)
    first = next(it)
    assert first.verdict == "overfitting" and reads == ["r0"]  # the others not read yet
    rest = list(it)
    assert reads == [f"r{i}" for i in range(6)] and len(rest) == 5
    for q in (q for q in statements if "FROM metrics" in q):
        assert "run_uuid = '" in q and "GROUP BY" not in q, q  # only the run being read


def test_jsonl_is_written_run_by_run_with_the_batchs_exit_status(tmp_path):
    db = _sqlite(tmp_path / "mlflow.db", [("aa", "a", 1, "overfit"), ("bb", "b", 2, "good")])
    r = runner.invoke(app, ["analyze", str(db), str(tmp_path / "nope.csv"), "--run", "all", "--format", "jsonl"])
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x.get("verdict", "error") for x in lines] == ["overfitting", lines[1]["verdict"], "error"]
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    r = runner.invoke(app, ["analyze", str(db), "--run", "all", "--format", "jsonl", "--fail-on", "warning"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["analyze", str(db), "--run", "all", "--format", "jsonl", "--fail-on", "error"])
    assert r.exit_code == 0
    # the same lines as the batch renderer writes
    from curvediag.batch import run
    from curvediag.render.json import render_lines

    b = run([str(db)], Settings().reading(run="all"))
    r = runner.invoke(app, ["analyze", str(db), "--run", "all", "--format", "jsonl"])
    assert r.stdout == render_lines(b)
