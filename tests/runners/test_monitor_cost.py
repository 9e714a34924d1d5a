"""Monitor.check() after rows that leave the judged curve as it was (training steps between
evaluations) reuses the last fit of the projection, and still gives the post-hoc report."""

from __future__ import annotations

import numpy as np

import curvediag
from curvediag import projection
from curvediag.monitor import Monitor

from .test_monitor import _same, _write_csv


def test_check_between_evaluations_reuses_the_projection_and_equals_posthoc(tmp_path, monkeypatch):
    fits = []
    real = projection.project_track

    def counted(*a, **k):
        fits.append(1)
        return real(*a, **k)

    monkeypatch.setattr(projection, "project_track", counted)
    rng = np.random.default_rng(1)
    mon, rows = Monitor(), []
    for step in range(1, 601):
        row = {"step": step, "loss": 3 * step ** -0.3 * (1 + 0.05 * rng.standard_normal())}
        if step % 50 == 0:
            row.update(eval_loss=3 * step ** -0.25, eval_accuracy=0.5 + step / 2000)
        mon.log(**row)
        rows.append(row)
    mon.check()
    assert len(fits) == 1
    for step in range(601, 611):  # training steps only: the judged curve (eval_loss) is unchanged
        row = {"step": step, "loss": 0.5}
        mon.log(**row)
        rows.append(row)
        mon.check()
    assert len(fits) == 1
    p = tmp_path / "log.csv"
    _write_csv(p, rows)
    _same(mon.check(), curvediag.diagnose(str(p)))  # the reused projection is the one a file gets
    before = len(fits)
    row = {"step": 650, "loss": 0.5, "eval_loss": 3 * 650 ** -0.25, "eval_accuracy": 0.8}
    mon.log(**row)
    rows.append(row)
    mon.check()
    assert len(fits) == before + 1  # a new evaluation: fitted again
    _write_csv(p, rows)
    _same(mon.report, curvediag.diagnose(str(p)))
    assert projection.MEMO.get() is None  # the memo is the Monitor's, set only during its check
