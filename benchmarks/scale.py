"""Scale: a per-step CSV (validation every 1,000 steps) at 10k, 100k and 1M rows.

    python benchmarks/scale.py [--rows 10000,100000,1000000] [--runs 5]

For each size, in fresh processes run alternately, the median wall time and
peak memory (RSS, after the same imports) of `pandas.read_csv(path)` and of
`curvediag.diagnose(path)`, and their ratios.  Targets at 1M rows: <= 1.3x the
time and <= 1.5x the peak memory of the bare read; cost linear in rows.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import json, resource, sys, time
import pandas, numpy, curvediag, curvediag.api, curvediag.readers.csv, curvediag.rules
path, what = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if what == "pandas":
    pandas.read_csv(path)
else:
    curvediag.diagnose(path)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def make_log(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    step = np.arange(1, rows + 1)
    train = (0.3 + 2.0 * np.exp(-step / (rows / 5))) * (1 + 0.2 * rng.standard_normal(rows))
    val = np.where(step % 1000 == 0, 0.35 + 2.0 * np.exp(-step / (rows / 5)), np.nan)
    lr = np.full(rows, 1e-3)
    with path.open("w") as f:
        f.write("step,train_loss,val_loss,lr\n")
        for s, a, b, c in zip(step, train, val, lr):
            f.write(f"{s},{a:.6f},{'' if np.isnan(b) else f'{b:.6f}'},{c:g}\n")


def measure(path: Path, what: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as users' installs: with .pyc
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), what], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    sizes = [int(x) for x in (argv[argv.index("--rows") + 1] if "--rows" in argv else "10000,100000,1000000").split(",")]
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 5
    print(f"{'rows':>9} | {'read_csv s':>10} | {'curvediag s':>11} | {'time x':>6} | {'read_csv MB':>11} | {'curvediag MB':>12} | {'mem x':>5} | {'us/row':>6} | {'marginal us/row':>15}")
    prev = None
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            path = Path(d) / f"steps_{n}.csv"
            make_log(path, n)
            res = {"pandas": [], "curvediag": []}
            for _ in range(runs):
                for what in ("pandas", "curvediag"):
                    res[what].append(measure(path, what))
            t = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
            m = {k: statistics.median(r["maxrss_kb"] for r in v) / 1024 for k, v in res.items()}
            # the cost of the rows added since the previous size: flat when the cost is linear
            marginal = f"{(t['curvediag'] - prev[1]) / (n - prev[0]) * 1e6:.2f}" if prev else "-"
            prev = (n, t["curvediag"])
            print(
                f"{n:>9} | {t['pandas']:>10.3f} | {t['curvediag']:>11.3f} | {t['curvediag'] / t['pandas']:>6.2f} | "
                f"{m['pandas']:>11.1f} | {m['curvediag']:>12.1f} | {m['curvediag'] / m['pandas']:>5.2f} | "
                f"{t['curvediag'] / n * 1e6:>6.2f} | {marginal:>15}"
            )
    print("\nTargets at 1M rows: time x <= 1.3, mem x <= 1.5 (peak RSS of the process, same imports); "
          "marginal us/row (cost of the added rows) flat or falling = linear cost; us/row falls as the fixed cost is spread.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
