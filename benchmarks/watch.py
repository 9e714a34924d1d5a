"""`curvediag watch`: what one look at an unchanged log costs, and one re-diagnosis after rows arrived.

    python benchmarks/watch.py [--runs 7]

For CSV logs of 1k, 10k and 100k rows: the median time of a look that finds nothing changed
(locating the log and one stat), of a re-diagnosis after a row was appended (the whole log read
from its bytes and judged), and of `curvediag.diagnose` on the same file, for comparison (a
re-diagnosis should cost what analyze costs).  Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

import curvediag  # noqa: E402
from curvediag.watch import Watch, _signature  # noqa: E402


def _log(path: Path, n: int) -> None:
    t = np.arange(n)
    loss = 0.3 + 2 * np.exp(-t / (n / 5))
    rows = "".join(f"{i},{a:.6f},{a * 1.05:.6f}\n" for i, a in zip(t, loss))
    path.write_text("epoch,loss,val_loss\n" + rows)


def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    runs = ap.parse_args().runs
    print(f"{'rows':>8} {'look (unchanged)':>18} {'re-diagnosis':>14} {'diagnose()':>12}")
    with tempfile.TemporaryDirectory() as d:
        for n in (1_000, 10_000, 100_000):
            log = Path(d) / f"m{n}.csv"
            _log(log, n)
            w = Watch(str(log))
            look = _median(lambda: _signature(w._locate()), max(runs, 50))
            state = {"e": n}

            def rediagnose() -> None:
                with open(log, "a") as f:
                    f.write(f"{state['e']},0.3,0.31\n")
                state["e"] += 1
                w._diagnose(w._locate(), final=False)

            re = _median(rediagnose, runs)
            post = _median(lambda: curvediag.diagnose(str(log)), runs)
            print(f"{n:>8} {look * 1e6:>15.0f} us {re * 1e3:>11.1f} ms {post * 1e3:>9.1f} ms")


if __name__ == "__main__":
    main()
