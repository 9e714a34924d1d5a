"""Cost of live monitoring: one ``Monitor.log`` (per point) and one ``Monitor.check`` (per
evaluation) at 100, 10k and 1M logged points.

    python benchmarks/monitor.py [--repeats 7]

A check after new points re-reads the arrived rows as one table (views, no copy) and runs every
rule, so its cost grows with the points logged; a check with nothing new returns the last report.
Figures are medians over repeats on this machine (shared and noisy): read them as orders of
magnitude, not as pass/fail.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from curvediag.monitor import Monitor


def build(n: int, val_every: int) -> Monitor:
    rng = np.random.default_rng(0)
    mon = Monitor()
    steps = np.arange(1, n + 1)
    loss = 3 * steps ** -0.3 * (1 + 0.05 * rng.standard_normal(n))
    for s, v in zip(steps.tolist(), loss.tolist()):
        if s % val_every == 0:
            mon.log(step=s, loss=v, eval_loss=3 * s ** -0.25, eval_accuracy=0.5)
        else:
            mon.log(step=s, loss=v)
    return mon


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--sizes", default="100,10000,1000000")
    a = ap.parse_args()
    print(f"{'points':>9}  {'log() per point':>16}  {'check() new rows':>17}  {'check() nothing new':>20}")
    for n in [int(x) for x in a.sizes.split(",")]:
        t0 = time.perf_counter()
        mon = build(n, max(1, n // 100))
        per_log = (time.perf_counter() - t0) / n
        fresh, cached = [], []
        for i in range(a.repeats):
            mon.log(step=n + 1 + i, loss=0.1)
            t0 = time.perf_counter()
            mon.check()
            fresh.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            mon.check()
            cached.append(time.perf_counter() - t0)
        print(f"{n:>9,}  {per_log * 1e6:>13.1f} us  {statistics.median(fresh) * 1e3:>14.1f} ms"
              f"  {statistics.median(cached) * 1e6:>17.1f} us")


if __name__ == "__main__":
    main()
