"""A real ``mlflow server`` on localhost (SQLite backend), runs logged with the MLflow client,
read back over the REST API by ``curvediag analyze mlflow+http://...``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

mlflow = pytest.importorskip("mlflow")

from typer.testing import CliRunner  # noqa: E402

from curvediag.cli import app  # noqa: E402

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    exe = shutil.which("mlflow") or os.path.join(os.path.dirname(sys.executable), "mlflow")
    log = open(root / "server.log", "wb")
    proc = subprocess.Popen(
        [exe, "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db", "--default-artifact-root",
         str(root / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-serve-artifacts"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mlflow server did not start: " + (root / "server.log").read_text()[-2000:])
            time.sleep(0.25)
        _log_runs(url)
        yield url, root
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


def _log_runs(url):
    from mlflow.tracking import MlflowClient

    c = MlflowClient(url)
    eid = c.create_experiment("sweep")
    for name, kind in [("healthy", "healthy"), ("nan", "nan"), ("overfit", "overfit")]:
        r = c.create_run(eid, run_name=name)
        for s in range(1, 41):
            loss = 2 * s ** -0.5
            vl = 2.2 * s ** -0.45 + (0.03 * max(0, s - 15) if kind == "overfit" else 0)
            if kind == "nan" and s > 30:
                loss, vl = float("nan"), float("inf")
            c.log_metric(r.info.run_id, "loss", loss, step=s)
            c.log_metric(r.info.run_id, "val_loss", vl, step=s)
        c.set_terminated(r.info.run_id)
        time.sleep(0.01)  # distinct start times: newest first is well defined
    c.create_experiment("empty")


def _analyze(*args):
    res = CliRunner().invoke(app, ["analyze", *args])
    return res.exit_code, res.stdout, res.stderr


def test_reads_each_run_over_rest(server):
    server, _ = server
    uri = f"mlflow+{server}/#experiment=sweep"
    code, out, _ = _analyze(uri, "--run", "nan", "--format", "json")
    assert code == 1
    d = json.loads(out)[0]
    assert d["verdict"] == "diverged" and d["source"]["format"] == "mlflow-server"
    assert d["metrics"]["train_loss"]["non_finite"] == 10 and d["metrics"]["val_loss"]["non_finite"] == 10
    assert "run=nan" in d["source"]["path"]
    code, out, _ = _analyze(uri, "--run", "overfit", "--format", "json")
    assert json.loads(out)[0]["verdict"] == "overfitting"
    code, out, _ = _analyze(uri + "&run=healthy", "--format", "json")
    assert json.loads(out)[0]["verdict"] in ("healthy", "still_improving") and code == 0
    # no --run: the newest run, as for an MLflow file store
    code, out, _ = _analyze(uri, "--format", "json")
    assert "run=overfit" in json.loads(out)[0]["source"]["path"]


def test_same_report_as_the_sqlite_store_of_the_same_runs(server):
    """The server's own database, read as a file, says the same about each run."""
    server, root = server
    from curvediag.readers import mlflow_server

    t = mlflow_server.parse(f"mlflow+{server}/#experiment=sweep")
    runs = mlflow_server.list_runs(t)
    assert [r.name for r in runs] == ["overfit", "nan", "healthy"]
    for info in runs:
        _, out, _ = _analyze(f"mlflow+{server}/#experiment=sweep", "--run", info.name, "--format", "json")
        live = json.loads(out)[0]
        _, out, _ = _analyze(str(root / "mlflow.db"), "--run", info.run_id, "--format", "json")
        stored = json.loads(out)[0]
        assert live["metrics"]["train_loss"]["points"] == 40
        for d in (live, stored):
            d.pop("source")
        assert live == stored, info.name


def test_one_line_errors(server):
    server, _ = server
    code, _, err = _analyze(f"mlflow+{server}/#experiment=nope")
    assert code == 2 and "no experiment named 'nope'" in err and "sweep" in err and err.count("\n") == 1
    code, _, err = _analyze(f"mlflow+{server}/#experiment=empty")
    assert code == 2 and "no runs" in err and err.count("\n") == 1
    code, _, err = _analyze(f"mlflow+{server}/#experiment=sweep", "--run", "zzz")
    assert code == 2 and "no MLflow run 'zzz'" in err
    code, _, err = _analyze(f"mlflow+http://127.0.0.1:{_free_port()}/#experiment=sweep")
    assert code == 2 and "cannot reach the MLflow server" in err and err.count("\n") == 1
    code, _, err = _analyze(f"mlflow+{server}/#experiment=sweep&colour=red")
    assert code == 2 and "unknown key 'colour'" in err


def test_a_server_that_does_not_answer_in_time(monkeypatch):
    """A listening socket that never answers: the time limit ends the wait with one line."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        monkeypatch.setenv("CURVEDIAG_HTTP_TIMEOUT", "0.5")
        t0 = time.monotonic()
        code, _, err = _analyze(f"mlflow+http://127.0.0.1:{port}/#experiment=x")
        assert time.monotonic() - t0 < 10
    assert code == 2 and "did not answer within 0.5 s" in err


def test_tag_runs_writes_the_verdict_back(server):
    server, _ = server
    uri = f"mlflow+{server}/#experiment=sweep"
    code, _, _ = _analyze(uri, "--run", "nan", "--tag-runs")
    assert code == 1
    from mlflow.tracking import MlflowClient

    c = MlflowClient(server)
    run = c.search_runs([c.get_experiment_by_name("sweep").experiment_id], "attributes.run_name = 'nan'")[0]
    assert run.data.tags["curvediag.verdict"] == "diverged"
    assert run.data.tags["curvediag.severity"] == "error"
    assert "D101" in run.data.tags["curvediag.findings"].split(",")
    other = c.search_runs([c.get_experiment_by_name("sweep").experiment_id], "attributes.run_name = 'healthy'")[0]
    assert "curvediag.verdict" not in other.data.tags  # only the runs analysed are tagged


def test_run_all_one_report_per_run_of_the_experiment(server):
    """--run all on a live server: one report per run (oldest first), each naming its run, the
    reports those of --run NAME; with worker processes the same."""
    server, _ = server
    uri = f"mlflow+{server}/#experiment=sweep"
    code, out, err = _analyze(uri, "--run", "all", "--format", "json", "--fail-on", "never")
    assert code == 0, err
    ds = json.loads(out)
    assert [d["source"]["path"].rsplit("run=", 1)[1] for d in ds] == ["healthy", "nan", "overfit"]
    assert [d["verdict"] for d in ds][1:] == ["diverged", "overfitting"]
    for d in ds:
        name = d["source"]["path"].rsplit("run=", 1)[1]
        _, one, _ = _analyze(uri, "--run", name, "--format", "json")
        assert json.loads(one) == [d]
    code, out, _ = _analyze(uri, "--run", "all", "--format", "json", "--fail-on", "never", "--jobs", "2")
    assert json.loads(out) == ds
    code, out, _ = _analyze(uri, "--run", "all", "--fail-on", "error")
    assert code == 1 and "3 logs" in out  # the worst run's status: the diverged one


# -- issue 24: the URLs MLflow itself prints are read as the server ------------------------------------
def test_the_plain_address_mlflow_prints_is_read_as_the_server(server):
    server, _ = server  # http://127.0.0.1:PORT, what `mlflow server` prints and MLFLOW_TRACKING_URI holds
    code, out, err = _analyze(server, "--format", "json")
    assert code == 1, err
    d = json.loads(out)[0]
    assert d["source"]["format"] == "mlflow-server" and "run=overfit" in d["source"]["path"]
    code, out, _ = _analyze(server + "/", "--run", "nan", "--format", "json")
    assert json.loads(out)[0]["verdict"] == "diverged"


def test_a_link_into_the_mlflow_ui_is_read_as_its_experiment_or_run(server):
    server, _ = server
    from mlflow.tracking import MlflowClient

    c = MlflowClient(server)
    eid = c.get_experiment_by_name("sweep").experiment_id
    healthy = next(r for r in c.search_runs([eid]) if r.info.run_name == "healthy")
    code, out, err = _analyze(f"{server}/#/experiments/{eid}", "--run", "all", "--format", "json")
    assert code == 1, err
    assert sorted(d["source"]["path"].rsplit("run=", 1)[1] for d in json.loads(out)) == ["healthy", "nan", "overfit"]
    for link in (f"{server}/#/experiments/{eid}/runs/{healthy.info.run_id}",
                 f"{server}/#/experiments/{eid}/runs/{healthy.info.run_id}/model-metrics"):
        code, out, err = _analyze(link, "--format", "json")
        assert code == 0, err
        d = json.loads(out)[0]
        assert d["verdict"] in ("healthy", "still_improving") and d["source"]["path"] == link  # the run named
    code, _, err = _analyze(f"{server}/#/models")
    assert code == 2 and err.count("\n") == 1 and "#/experiments/ID" in err and "Traceback" not in err
