"""Many runs: 1,000 small logs in one invocation, sequential and with --jobs.

    python benchmarks/many_runs.py [--logs 1000] [--runs 3]

Prints the median wall time and throughput (logs per second) of
`curvediag analyze <1000 paths> --format jsonl` with --jobs 1 and --jobs 0
(one process per core).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    n = int(argv[argv.index("--logs") + 1]) if "--logs" in argv else 1000
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 3
    samples = sorted(p for p in (REPO / "sample_logs").iterdir() if p.suffix in (".csv", ".json", ".jsonl"))
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(n):
            src = samples[i % len(samples)]
            dst = Path(d) / f"run{i:04d}{src.suffix}"
            shutil.copy(src, dst)
            paths.append(str(dst))
        results = {}
        for jobs in ("1", "0"):
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "curvediag", "analyze", *paths, "--format", "jsonl",
                                "--fail-on", "never", "--jobs", jobs], stdout=subprocess.DEVNULL, check=True)
                times.append(time.perf_counter() - t)
            results[jobs] = statistics.median(times)
    cores = os.cpu_count() or 1
    for jobs, t in results.items():
        label = "--jobs 1" if jobs == "1" else f"--jobs 0 ({cores} cores)"
        print(f"{n} logs, {label:22s}: median {t:6.2f} s, {n / t:7.1f} logs/s")
    print(f"speed-up with --jobs 0: {results['1'] / results['0']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
