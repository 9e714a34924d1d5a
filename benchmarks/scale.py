"""Scale, as the user sees it: whole processes, side by side, over every format.

    python benchmarks/scale.py [--rows 10000,100000,1000000] [--big] [--runs 5]
                               [--formats csv,jsonl,trainer_state,tensorboard,mlflow]

For each format and size, fresh processes run alternately (bare, curvediag, bare, ...):

* ``curvediag analyze FILE --format json`` (this checkout's sources, output discarded), against
* the bare parse of the same bytes in a fresh interpreter:
  csv ``python -c "import pandas; pandas.read_csv(path)"``; jsonl ``json.loads`` of every line
  (kept in a list); trainer_state ``json.load``; tensorboard the C (upb) protobuf decode of
  every record (``Event.FromString``, tensorboardX's generated classes); mlflow the SQL query
  curvediag runs (``SELECT key, step, value ... ORDER BY step, timestamp``, fetchall).

Printed: median wall seconds of each, their ratio, the median peak RSS of each process
(``/usr/bin/time -f %M``) and its ratio, and curvediag's microseconds per
row.  The logs are per-step training logs with an ``epoch`` column (10,000 steps per epoch;
validation every 1,000 steps, so the per-step loss is averaged onto the epoch axis).
``--big`` adds 10M rows (csv only; slow to write and to run).

Targets (issue 11): at 1M rows <= 1.3x wall (aim 1.1x) and <= 1.5x peak memory of the bare
read; cost linear from 10k to 10M rows; within 1.5x of the bare parse for every format.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = str(Path(__file__).resolve().parent.parent / "src")
STEPS_PER_EPOCH = 10_000
VAL_EVERY = 1_000

BARE = {
    "csv": "import pandas, sys; pandas.read_csv(sys.argv[1])",
    "jsonl": "import json, sys; rows = [json.loads(line) for line in open(sys.argv[1], encoding='utf-8')]",
    "trainer_state": "import json, sys; obj = json.load(open(sys.argv[1], encoding='utf-8'))",
    "tensorboard": (
        "import struct, sys\n"
        "from tensorboardX.proto.event_pb2 import Event\n"
        "data = open(sys.argv[1], 'rb').read(); i, n, out = 0, len(data), []\n"
        "while i + 12 <= n:\n"
        "    (k,) = struct.unpack_from('<Q', data, i); out.append(Event.FromString(data[i + 12 : i + 12 + k])); i += 16 + k\n"
    ),
    "mlflow": (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True)\n"
        "rows = con.execute('SELECT key, step, value FROM metrics WHERE run_uuid = ? ORDER BY step, timestamp', ('run0',)).fetchall()\n"
    ),
}
FILES = {"csv": "steps.csv", "jsonl": "metrics.jsonl", "trainer_state": "trainer_state.json",
         "tensorboard": "events.out.tfevents.1.bench", "mlflow": "mlflow.db"}


def _curves(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    step = np.arange(1, rows + 1)
    epoch = (step - 1) // STEPS_PER_EPOCH
    train = (0.3 + 2.0 * np.exp(-step / (rows / 5))) * (1 + 0.2 * rng.standard_normal(rows))
    val = 0.35 + 2.0 * np.exp(-step / (rows / 5))
    return step, epoch, train, val


def write_csv(path: Path, rows: int) -> None:
    step, epoch, train, val = _curves(rows)
    with path.open("w") as f:
        f.write("epoch,step,train_loss,val_loss,lr\n")
        chunk = 100_000
        for a in range(0, rows, chunk):
            f.write("".join(
                f"{e},{s},{t:.6f},{f'{v:.6f}' if s % VAL_EVERY == 0 else ''},0.001\n"
                for e, s, t, v in zip(epoch[a:a + chunk], step[a:a + chunk], train[a:a + chunk], val[a:a + chunk])
            ))


def _records(rows: int):
    step, epoch, train, val = _curves(rows)
    for e, s, t, v in zip(epoch.tolist(), step.tolist(), train.tolist(), val.tolist()):
        yield {"epoch": e + (s - 1) % STEPS_PER_EPOCH / STEPS_PER_EPOCH, "step": s, "loss": round(t, 6), "learning_rate": 0.001}
        if s % VAL_EVERY == 0:
            yield {"epoch": e + (s - 1) % STEPS_PER_EPOCH / STEPS_PER_EPOCH, "step": s, "eval_loss": round(v, 6)}


def write_jsonl(path: Path, rows: int) -> None:
    with path.open("w") as f:
        for r in _records(rows):
            f.write(json.dumps(r) + "\n")


def write_trainer_state(path: Path, rows: int) -> None:
    with path.open("w") as f:
        json.dump({"best_metric": None, "global_step": rows, "log_history": list(_records(rows))}, f)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _event(step: int, tag: bytes, value: float) -> bytes:
    val = b"\x0a" + _varint(len(tag)) + tag + b"\x15" + struct.pack("<f", value)
    summ = b"\x0a" + _varint(len(val)) + val
    return b"\x09" + struct.pack("<d", 1.0) + b"\x10" + _varint(step) + b"\x2a" + _varint(len(summ)) + summ


def _frame(data: bytes) -> bytes:
    return struct.pack("<Q", len(data)) + b"\0\0\0\0" + data + b"\0\0\0\0"  # the reader skips CRCs


def write_tensorboard(path: Path, rows: int) -> None:
    step, epoch, train, val = _curves(rows)
    with path.open("wb") as f:
        f.write(_frame(b"\x09" + struct.pack("<d", 1.0) + b"\x1a\x0dbrain.Event:2"))
        for s, e, t, v in zip(step.tolist(), epoch.tolist(), train.tolist(), val.tolist()):
            f.write(_frame(_event(s, b"train/loss", t)))
            if s % VAL_EVERY == 0:
                f.write(_frame(_event(s, b"eval/loss", v)))
                f.write(_frame(_event(s, b"epoch", e + (s - 1) % STEPS_PER_EPOCH / STEPS_PER_EPOCH)))


def write_mlflow(path: Path, rows: int) -> None:
    step, epoch, train, val = _curves(rows)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, run_uuid VARCHAR(32), "
                "step BIGINT, is_nan BOOLEAN, PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan))")
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250))")
    con.execute("INSERT INTO runs VALUES ('run0', 'bench')")

    def gen():
        for s, e, t, v in zip(step.tolist(), epoch.tolist(), train.tolist(), val.tolist()):
            yield ("train_loss", t, s, "run0", s, 0)
            if s % VAL_EVERY == 0:
                yield ("val_loss", v, s, "run0", s, 0)
                yield ("epoch", float(e), s, "run0", s, 0)

    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", gen())
    con.commit()
    con.close()


WRITE = {"csv": write_csv, "jsonl": write_jsonl, "trainer_state": write_trainer_state,
         "tensorboard": write_tensorboard, "mlflow": write_mlflow}


TIME = "/usr/bin/time"


def run(cmd: list[str], env: dict, tmp: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh process.  The peak is measured by
    /usr/bin/time: a child forked from this (large) process would inherit its high-water mark."""
    out = os.path.join(tmp, "rss")
    t = time.perf_counter()
    p = subprocess.run([TIME, "-f", "%M", "-o", out, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    dt = time.perf_counter() - t
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-500:]}")
    with open(out) as f:
        rss_kb = int(f.read().split()[-1])
    return dt, rss_kb / 1024


def main(argv: list[str]) -> int:
    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default

    sizes = [int(x) for x in opt("--rows", "10000,100000,1000000").split(",")]
    runs = int(opt("--runs", "5"))
    formats = opt("--formats", "csv,jsonl,trainer_state,tensorboard,mlflow").split(",")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: with .pyc
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("CURVEDIAG_CONFIG", None)
    head = (f"{'format':<13} | {'rows':>9} | {'bare s':>7} | {'curvediag s':>11} | {'time x':>6} | "
            f"{'bare MB':>8} | {'curvediag MB':>12} | {'mem x':>5} | {'us/row':>6}")
    print(head)
    print("-" * len(head), flush=True)
    with tempfile.TemporaryDirectory() as d:
        for fmt in formats:
            fsizes = sizes + ([10_000_000] if "--big" in argv and fmt == "csv" else [])
            for n in fsizes:
                path = Path(d) / f"{n}_{FILES[fmt]}"
                WRITE[fmt](path, n)
                cmds = {
                    "bare": [sys.executable, "-c", BARE[fmt], str(path)],
                    "curvediag": [sys.executable, "-m", "curvediag", "analyze", str(path), "--format", "json"],
                }
                res = {k: [] for k in cmds}
                run(cmds["curvediag"], env, d)  # warm the page cache and the .pyc files
                for _ in range(runs):
                    for k, cmd in cmds.items():
                        res[k].append(run(cmd, env, d))
                t = {k: statistics.median(r[0] for r in v) for k, v in res.items()}
                m = {k: statistics.median(r[1] for r in v) for k, v in res.items()}
                print(
                    f"{fmt:<13} | {n:>9} | {t['bare']:>7.3f} | {t['curvediag']:>11.3f} | {t['curvediag'] / t['bare']:>6.2f} | "
                    f"{m['bare']:>8.1f} | {m['curvediag']:>12.1f} | {m['curvediag'] / m['bare']:>5.2f} | "
                    f"{t['curvediag'] / n * 1e6:>6.2f}",
                    flush=True,
                )
                path.unlink()
    print("\nrows = training steps (records: + 1 validation record per 1,000 steps). Whole processes, fresh each run,"
          f" alternating, medians of {runs}. Targets at 1M rows: time x <= 1.3 (aim 1.1), mem x <= 1.5;"
          " us/row flat or falling from 10k to 10M rows = linear cost.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
