"""``watch`` reads only the bytes appended to a growing text log, and the whole file again when it
was rewritten in place (same inode) or truncated; either way the report is analyze's."""

from __future__ import annotations

import curvediag
from curvediag.config import Settings
from curvediag.readers import source as source_mod
from curvediag.watch import Watch


def _rows(n, start=0):
    return "".join(f"{e},{2.0 * 0.9 ** e + 0.1:.6f},{2.1 * 0.9 ** e + 0.15:.6f}\n" for e in range(start, n))


def _run(log, steps, monkeypatch):
    """A watch whose every sleep runs the next writer step; returns (the watch, its end, whole reads)."""
    whole = []
    real = source_mod.read_bytes
    monkeypatch.setattr(source_mod, "read_bytes", lambda p: whole.append(p) or real(p))
    todo = list(steps)
    t = [0.0]

    def sleep(_):
        if todo:
            todo.pop(0)()
        t[0] += 1.0

    w = Watch(str(log), Settings(fail_on="never"), interval=1.0, idle=3.0, min_points=1, clock=lambda: t[0],
              sleep=sleep)
    return w, w.run(), whole


def test_a_growing_csv_is_read_by_its_appended_bytes(tmp_path, monkeypatch):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_loss\n" + _rows(5))

    def append(a, b):
        return lambda: log.open("a").write(_rows(b, a))

    w, end, whole = _run(log, [append(5 + 5 * k, 10 + 5 * k) for k in range(8)], monkeypatch)
    assert end.rows == 45 and len(whole) == 1 and w.appended_reads >= 8
    posthoc = curvediag.diagnose(str(log)).to_dict()
    assert end.report.to_dict() == posthoc


def test_a_log_rewritten_in_place_is_read_whole_again(tmp_path, monkeypatch):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_loss\n" + _rows(20))

    def rewrite():  # the same inode, other bytes before the old end, and longer
        with log.open("r+") as fh:
            fh.seek(0)
            fh.truncate()
            fh.write("epoch,loss,val_loss\n" + _rows(30).replace(",2.", ",3."))

    w, end, whole = _run(log, [rewrite], monkeypatch)
    assert len(whole) >= 2  # the rewrite was noticed: read whole
    assert end.rows == 30
    assert end.report.to_dict() == curvediag.diagnose(str(log)).to_dict()
