"""A log that writes each epoch twice is judged per epoch, in its own numbering (issue 19)."""

from __future__ import annotations

import numpy as np

import curvediag

from ..conftest import decay, noisy


def _rows(n=150, epoch=True, over=True):
    t = np.arange(n)
    train = decay(n, 2.0, 0.05, 15)
    val = decay(n, 2.0, 0.6, 12) + (0.004 * np.maximum(t - 40, 0) if over else 0)
    val = noisy(val, 0.01, seed=3)
    rows = []
    for i in range(n):
        r = {"loss": float(train[i]), "val_loss": float(val[i])}
        if epoch:
            r = {"epoch": i, **r}
        rows.append(r)
    return rows


def _csv(rows, names=None):
    names = names or list(rows[0])
    lines = [",".join(names)]
    lines += [",".join("" if r.get(n) is None else repr(r[n]) for n in names) for r in rows]
    return "\n".join(lines) + "\n"


def _same(a, b):
    ra, rb = curvediag.diagnose(a), curvediag.diagnose(b)
    assert ra.verdict == rb.verdict
    assert ra.best_epoch == rb.best_epoch
    assert ra.onset_epoch == rb.onset_epoch
    assert {f.code: f.span for f in ra.findings} == {f.code: f.span for f in rb.findings}
    return rb


def test_every_row_twice_without_an_epoch_column_keeps_the_log_s_numbering(write):
    rows = _rows(epoch=False)
    once = write("once.csv", _csv(rows))
    twice = write("twice.csv", _csv([r for r in rows for _ in range(2)]))
    rep = _same(once, twice)
    assert rep.verdict == "overfitting"
    assert max(f.span[1] for f in rep.findings if f.span) <= 149  # never "epoch 250" in a 150-epoch log
    assert rep.metrics.get("val_loss").points == 150
    assert any("every row is written 2 times" in n for n in rep.source.notes)


def test_every_row_twice_with_an_epoch_column(write):
    rows = _rows()
    rep = _same(write("once.csv", _csv(rows)), write("twice.csv", _csv([r for r in rows for _ in range(2)])))
    assert rep.source.axis == "epoch"
    assert any("repeat the row before them exactly" in n for n in rep.source.notes)


def test_a_train_row_and_a_val_row_per_epoch(write):
    rows = _rows()
    split = []
    for r in rows:
        split += [{"epoch": r["epoch"], "loss": r["loss"]}, {"epoch": r["epoch"], "val_loss": r["val_loss"]}]
    rep = _same(write("once.csv", _csv(rows)), write("split.csv", _csv(split, ["epoch", "loss", "val_loss"])))
    assert rep.source.axis == "epoch"


def test_each_val_row_twice_beside_a_column_that_differs(write):
    """The same epoch written twice with the same values, a timestamp telling the rows apart: the
    epoch still keeps the points apart, so the curves stay on the epoch axis."""
    rows = _rows()
    twice = [{**r, "time": 2 * i + j} for i, r in enumerate(rows) for j in range(2)]
    rep = _same(write("once.csv", _csv(rows)), write("twice.csv", _csv(twice)))
    assert rep.source.axis == "epoch"


def test_a_stuck_run_s_equal_rows_are_kept(write):
    """Equal rows that are not a systematic repeat (a frozen model logging the same numbers) are
    points of the curve: not dropped."""
    rows = [{"loss": 0.6931, "val_loss": 0.6932}] * 3 + [{"loss": 0.6930, "val_loss": 0.6932}] * 2
    rows += [{"loss": 0.6931, "val_loss": 0.6931}] * 5
    rep = curvediag.diagnose(write("stuck.csv", _csv(rows)))
    assert rep.source.rows == 10
    assert not any("written" in n or "repeat" in n for n in rep.source.notes)
    assert rep.metrics.get("train_loss").points == 10


def test_a_constant_log_without_an_axis_keeps_every_row(write):
    rows = [{"loss": 1.6094, "accuracy": 0.2}] * 12
    rep = curvediag.diagnose(write("flat.csv", _csv(rows)))
    assert rep.metrics.get("train_loss").points == 12
    assert rep.verdict == "not_learning"


def test_a_table_without_an_axis_written_again_after_itself_is_read_once(write):
    rows = _rows(epoch=False)
    rep = _same(write("once.csv", _csv(rows)), write("again.csv", _csv(rows + rows)))
    assert rep.metrics.get("val_loss").points == 150
    assert any("whole table is written 2 times" in n for n in rep.source.notes)
