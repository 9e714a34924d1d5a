"""The per-run function on a real ``dask.distributed`` LocalCluster gives the serial reports."""

from __future__ import annotations

import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

from curvediag.frames import diagnose_frame, diagnose_run  # noqa: E402

from .test_frames import _runs  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_groupby_apply_on_the_cluster_equals_the_serial_reports(client):
    df = _runs(2)
    serial = {rid: r.to_dict() for rid, r in diagnose_frame(df).items()}
    ddf = dd.from_pandas(df, npartitions=3)
    out = ddf.groupby("run_id").apply(diagnose_run, meta=("report", object)).compute(scheduler=client)
    assert len(client.scheduler_info()["workers"]) == 2
    got = {rid: rep for rid, rep in out.items()}
    assert set(got) == set(serial)
    for rid in serial:
        assert got[rid]["verdict"] == serial[rid]["verdict"]
        a, b = dict(got[rid]), dict(serial[rid])
        assert a == b, rid


def test_client_map_over_runs_equals_the_serial_reports(client):
    df = _runs(3)
    groups = {rid: g for rid, g in df.groupby("run_id")}
    serial = [diagnose_run(g) for g in groups.values()]
    futures = client.map(diagnose_run, list(groups.values()), pure=True)
    assert client.gather(futures) == serial
    # the work really ran on the workers, not in this process
    who = client.run(lambda: __import__("os").getpid())
    assert len(set(who.values())) == 2


def test_the_documented_local_cluster_recipe_runs_as_pasted(tmp_path):
    """docs/scale-out.md's first recipe, copied into a script and run as a process: it starts a
    LocalCluster of worker processes (which import the script again: the __main__ guard) and
    prints the verdicts of the runs that need a look."""
    import json
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "scale-out.md").read_text()
    block = re.search(r"## Dask DataFrame on a local cluster.*?```python\n(.*?)```", doc, re.S).group(1)
    assert 'if __name__ == "__main__":' in block
    df = _runs(4)
    runs = sorted(df["run_id"].unique())
    for k, half in enumerate((runs[:2], runs[2:])):
        df[df["run_id"].isin(half)].to_csv(tmp_path / f"metrics-{k}.csv", index=False)
    (tmp_path / "recipe.py").write_text(block)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "recipe.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    bad = json.loads(r.stdout.strip().splitlines()[-1])
    serial = {rid: rep.to_dict() for rid, rep in diagnose_frame(df).items()}
    assert bad == {rid: rep["verdict"] for rid, rep in serial.items() if rep["severity"] in ("warning", "error")}
    assert bad  # the table has runs that need a look
