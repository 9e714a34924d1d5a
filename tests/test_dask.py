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
