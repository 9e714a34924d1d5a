"""Triage every run of an experiment: one MLflow SQLite database of many runs, read run by run.

    python benchmarks/triage.py [--runs 10000] [--small 1000] [--steps 50] [--jobs 1]

Builds one database in MLflow's schema (the ``runs`` and ``metrics`` tables and MLflow's
``index_metrics_run_uuid`` index, written with sqlite3: MLflow's own store would take minutes
for 10,000 runs) whose runs are a mix of healthy, overfitting, diverging and flat curves
(``--steps`` steps of loss and val_loss each), then times the whole process

    curvediag analyze DB --run all --format jsonl

and prints runs per second and the child's peak memory (``ru_maxrss`` from ``os.wait4``), for
``--small`` runs and for ``--runs`` runs: the peak should not grow with the number of runs, since
one run is read, diagnosed and written at a time.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCHEMA = (
    "CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256) NOT NULL)",
    "CREATE TABLE runs (run_uuid VARCHAR(32) NOT NULL PRIMARY KEY, name VARCHAR(250), source_type VARCHAR(20),"
    " status VARCHAR(9), start_time BIGINT, end_time BIGINT, lifecycle_stage VARCHAR(20), experiment_id INTEGER)",
    "CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,"
    " run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT '0' NOT NULL, is_nan BOOLEAN DEFAULT '0' NOT NULL,"
    " CONSTRAINT metric_pk PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan))",
    "CREATE INDEX index_metrics_run_uuid ON metrics (run_uuid)",
    "CREATE INDEX index_metrics_run_uuid_key_step ON metrics (run_uuid, key, step)",
)
KINDS = ("healthy", "overfit", "diverge", "flat")


def curve(kind: str, i: int, rng: random.Random) -> tuple[float, float]:
    noise = 1 + 0.01 * rng.uniform(-1, 1)
    t = 2 * math.exp(-i / 8) + 0.05
    if kind == "flat":
        return 2.3 * noise, 2.31 * noise
    if kind == "overfit":
        return t * noise, (t + 0.1 + 0.03 * max(0, i - 15)) * noise
    if kind == "diverge" and i > 30:
        return float("inf"), float("inf")
    return t * noise, (t + 0.1) * noise


def build(path: Path, runs: int, steps: int) -> None:
    rng = random.Random(0)
    con = sqlite3.connect(path)
    for stmt in SCHEMA:
        con.execute(stmt)
    con.execute("INSERT INTO experiments VALUES (0, 'Default')")
    t0 = 1_700_000_000_000
    for r in range(runs):
        rid = f"{r:032x}"
        kind = KINDS[r % len(KINDS)]
        start = t0 + 1000 * r
        con.execute("INSERT INTO runs VALUES (?, ?, 'LOCAL', 'FINISHED', ?, ?, 'active', 0)",
                    (rid, f"{kind}-{r}", start, start + steps))
        rows = []
        for i in range(steps):
            loss, val = curve(kind, i, rng)
            for key, v in (("loss", loss), ("val_loss", val)):
                stored = 1.7976931348623157e308 if v == float("inf") else v  # as MLflow stores infinity
                rows.append((key, stored, start + i, rid, i, 0))
        con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def measure(db: Path, jobs: str) -> tuple[float, int, int, int]:
    """(seconds, lines written, peak RSS of the child in MiB, exit status) of one whole analyze process."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "curvediag", "analyze", str(db), "--run", "all", "--format", "jsonl",
                              "--fail-on", "never", "--jobs", jobs], stdout=out, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        dt = time.perf_counter() - t
        out.seek(0)
        lines = 0
        verdicts: dict[str, int] = {}
        for line in out:
            lines += 1
            v = json.loads(line).get("verdict", "unreadable")
            verdicts[v] = verdicts.get(v, 0) + 1
    # ru_maxrss is in KiB on Linux
    return dt, lines, usage.ru_maxrss // 1024, p.returncode


def main(argv: list[str]) -> int:
    def opt(name: str, default: int) -> int:
        return int(argv[argv.index(name) + 1]) if name in argv else default

    big, small, steps = opt("--runs", 10_000), opt("--small", 1_000), opt("--steps", 50)
    jobs = str(opt("--jobs", 1))
    with tempfile.TemporaryDirectory() as d:
        for n in (small, big):
            db = Path(d) / f"mlflow-{n}.db"
            t = time.perf_counter()
            build(db, n, steps)
            built = time.perf_counter() - t
            dt, lines, peak, code = measure(db, jobs)
            size = db.stat().st_size >> 20
            print(f"{n:6d} runs ({n * steps * 2:,} metric rows, {size} MiB, built in {built:.1f} s), --jobs {jobs}: "
                  f"{dt:6.1f} s, {n / dt:6.0f} runs/s, peak memory {peak} MiB, {lines} reports, exit {code}")
            if lines != n:
                print(f"  expected {n} reports, got {lines}")
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
