"""MLflow stores and W&B exports, shaped exactly as the tools write them.

Provenance: MLflow's FileStore writes ``mlruns/<experiment_id>/<run_id>/`` with
``meta.yaml``, ``tags/mlflow.runName`` and one file per metric under
``metrics/`` (keys containing '/' become subfolders), each line
``<timestamp_ms> <value> <step>``.  Its SQLAlchemy store keeps
``metrics(key, value, timestamp, run_uuid, step, is_nan)`` and ``runs(run_uuid,
name, ...)``.  A W&B line-plot panel's "Export CSV" writes ``Step`` then, per
run, ``<run> - <key>``, ``<run> - <key>__MIN``, ``<run> - <key>__MAX``.
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.errors import InputError


def curve(i, kind):
    if kind == "train":
        return 2 * math.exp(-i / 5) + 0.05
    return 2 * math.exp(-i / 5) + 0.3 + 0.03 * max(0, i - 10)  # overfits after step 10


def mlflow_run(root, exp="0", run_id="a1b2c3d4e5", name="brave-owl", n=30):
    run = root / "mlruns" / exp / run_id
    (run / "metrics" / "train").mkdir(parents=True)
    (run / "tags").mkdir()
    (run / "meta.yaml").write_text(f"run_id: {run_id}\nexperiment_id: '{exp}'\nstatus: 3\n")
    (run / "tags" / "mlflow.runName").write_text(name)
    (run / "metrics" / "train" / "loss").write_text("".join(f"{1700000000000 + i} {curve(i, 'train')} {i}\n" for i in range(n)))
    (run / "metrics" / "val_loss").write_text("".join(f"{1700000000000 + i} {curve(i, 'val')} {i}\n" for i in range(n)))
    return run


def test_mlflow_file_store_run_and_experiment_root(tmp_path):
    run = mlflow_run(tmp_path)
    rep = curvediag.diagnose(run)
    assert rep.source.format == "mlflow"
    assert rep.source.columns == {"train_loss": "train/loss", "val_loss": "val_loss"}
    assert rep.verdict == "overfitting"
    mlflow_run(tmp_path, run_id="ffff0000", name="other", n=5)
    rep = curvediag.diagnose(tmp_path / "mlruns", run="brave-owl")
    assert rep.metrics[0].points == 30
    with pytest.raises(InputError, match="no MLflow run 'nope'"):
        curvediag.diagnose(tmp_path / "mlruns", run="nope")


def test_mlflow_sqlite(tmp_path):
    db = tmp_path / "mlflow.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250))")
    con.execute("CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, run_uuid VARCHAR(32), step BIGINT, is_nan BOOLEAN)")
    con.execute("INSERT INTO runs VALUES ('old1', 'first'), ('new2', 'second')")
    for i in range(25):
        con.execute("INSERT INTO metrics VALUES ('loss', ?, ?, 'old1', ?, 0)", (curve(i, "train"), 1000 + i, i))
        con.execute("INSERT INTO metrics VALUES ('val_loss', ?, ?, 'old1', ?, 0)", (curve(i, "val"), 1000 + i, i))
        con.execute("INSERT INTO metrics VALUES ('loss', ?, ?, 'new2', ?, 0)", (2.3, 5000 + i, i))
    con.commit()
    con.close()
    rep = curvediag.diagnose(db)  # the most recently logged run
    assert rep.source.format == "mlflow_sqlite" and "new2" in " ".join(rep.source.notes)
    assert rep.verdict == "not_learning"
    assert curvediag.diagnose(db, run="first").verdict == "overfitting"
    r = CliRunner().invoke(app, ["analyze", str(tmp_path), "--run", "old1", "--format", "json", "--fail-on", "never"])
    assert json.loads(r.stdout)[0]["verdict"] == "overfitting"


def test_non_mlflow_sqlite_is_a_clear_error(tmp_path):
    db = tmp_path / "other.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE t (x INT)")
    con.commit()
    con.close()
    r = CliRunner().invoke(app, ["analyze", str(db)])
    assert r.exit_code == 2 and "without an MLflow 'metrics' table" in r.stderr


def test_wandb_panel_export(write):
    head = ["Step"]
    for run in ("dry-sun-3", "wet-moon-4"):
        for key in ("train/loss", "val/loss"):
            head += [f"{run} - {key}", f"{run} - {key}__MIN", f"{run} - {key}__MAX"]
    rows = []
    for i in range(30):
        row = [str(i * 100)]
        for run, shift in (("dry-sun-3", 0.0), ("wet-moon-4", 1.0)):
            for kind in ("train", "val"):
                v = curve(i, kind) if shift == 0 else 2.3
                row += [f"{v}", f"{v * 0.9}", f"{v * 1.1}"]
        rows.append(",".join(row))
    p = write("wandb_export.csv", ",".join(head) + "\n" + "\n".join(rows) + "\n")
    rep = curvediag.diagnose(p)
    assert rep.source.format == "wandb_csv" and rep.source.axis == "Step"
    assert rep.source.columns == {"train_loss": "train/loss", "val_loss": "val/loss"}
    assert rep.verdict == "overfitting" and "run 'dry-sun-3' of 2" in " ".join(rep.source.notes)
    assert curvediag.diagnose(p, run="wet-moon-4").verdict == "not_learning"


def test_wandb_history_dump(write):
    recs = [{"_step": i, "_runtime": 3.0 * i, "_timestamp": 1.7e9 + i, "train/loss": curve(i, "train"), "val/loss": curve(i, "val")} for i in range(30)]
    rep = curvediag.diagnose(write("history.json", json.dumps(recs)))
    assert rep.source.axis == "_step" and rep.verdict == "overfitting"


@pytest.mark.integration
def test_a_file_store_s_runs_are_named_by_their_run_names(tmp_path):
    """Runs written by MLflow's own client into a file store: the summary names them by run name, as the
    SQLite database and the server do (issue 24: the 32-hex ids), the id where a name repeats."""
    import os
    import subprocess
    import sys

    pytest.importorskip("mlflow")
    script = (
        "import mlflow, sys\n"
        "mlflow.set_tracking_uri('file://' + sys.argv[1])\n"
        "for name in ['healthy-run', 'blowup', 'twin', 'twin']:\n"
        "    with mlflow.start_run(run_name=name):\n"
        "        for s in range(30):\n"
        "            l = 1 / (s + 1) if name != 'blowup' or s < 20 else 10 ** (s - 19)\n"
        "            mlflow.log_metric('loss', l, step=s); mlflow.log_metric('val_loss', l * 1.1, step=s)\n"
    )
    store = tmp_path / "mlruns"
    r = subprocess.run([sys.executable, "-c", script, str(store)], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"})
    assert r.returncode == 0, r.stderr[-2000:]
    ids = sorted(p.name for p in (store / "0").iterdir() if p.is_dir())
    batch = curvediag.diagnose_many([str(store)])
    names = sorted(rep.source.path.rsplit("#run=", 1)[1] for rep in batch.reports)
    twins = [n for n in names if n in ids]
    assert [n for n in names if n not in ids] == ["blowup", "healthy-run"] and len(twins) == 2
    assert next(rep for rep in batch.reports if rep.source.path.endswith("#run=blowup")).verdict == "diverged"
