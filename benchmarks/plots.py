"""Plot cost: `curvediag analyze LOG --plot FILE` for a long per-step log, PNG and HTML.

    python benchmarks/plots.py [--steps 200000] [--runs 3]

Writes a JSON Lines log of STEPS training steps (validation every 1,000) to a temporary
directory and prints, per format, the median wall time of `analyze` with and without
`--plot` (the difference is the plot's cost) and the file's size.  Raw curves are drawn
min/max-decimated to at most plot.MAX_DRAWN points, so the cost grows slowly with STEPS.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    steps = int(argv[argv.index("--steps") + 1]) if "--steps" in argv else 200_000
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "steps.jsonl"
        with log.open("w") as fh:
            for s in range(steps):
                rec = {"step": s, "loss": (2 * math.exp(-s / (steps / 5)) + 0.1) * (1 + 0.2 * rng.gauss(0, 1)),
                       "lr": 1e-3 * min(1, s / 1000) * (1 - s / steps) + 1e-7}
                if s % 1000 == 999:
                    rec["val_loss"] = 2 * math.exp(-s / (steps / 5)) + 0.2
                fh.write(json.dumps(rec) + "\n")

        def timed(*extra) -> float:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(log), "--fail-on", "never", *extra],
                               env=env, check=True, stdout=subprocess.DEVNULL)
                times.append(time.perf_counter() - t)
            return statistics.median(times)

        base = timed()
        print(f"{steps:,} steps, median of {runs}: analyze alone {base:.2f} s")
        for ext in ("png", "svg", "html"):
            out = Path(d) / f"c.{ext}"
            t = timed("--plot", str(out))
            print(f"  --plot .{ext}: {t:.2f} s (+{t - base:.2f} s for the plot), {out.stat().st_size / 1e3:,.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
