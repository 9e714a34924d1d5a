"""What ``curvediag compare`` says about the real runs of tests/data/compare (made by make_runs.py),
and what one comparison costs.

    python benchmarks/compare/report.py

Prints, for each run against the four baseline seeds (and against seed 0 alone), its own verdict,
the comparison findings at warning or above (what fails the CI gate), the info ones, and the time
per comparison (four baseline logs and the run read and diagnosed, the B rules run)."""

from __future__ import annotations

import time
from pathlib import Path

import curvediag

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "compare"
RUNS = ("rerun_seed4", "shuffled_labels", "lr_x10", "small_data")


def main() -> None:
    base = sorted(str(p) for p in DATA.glob("baseline_seed*.csv"))
    for label, baseline in (("4 seeds", base), ("seed 0 alone", base[:1])):
        print(f"against {label}:")
        for name in RUNS:
            t0 = time.perf_counter()
            r = curvediag.compare(baseline, str(DATA / f"{name}.csv"))
            ms = (time.perf_counter() - t0) * 1000
            gate = sorted(f.code for f in r.findings if f.code.startswith("B") and f.severity in ("warning", "error"))
            info = sorted(f.code for f in r.findings if f.code.startswith("B") and f.severity == "info")
            print(f"  {name:16s} own verdict {r.verdict:12s} gate {' '.join(gate) or '-':20s} "
                  f"info {' '.join(info) or '-':10s} {'FAIL' if gate else 'pass'}  {ms:6.1f} ms")


if __name__ == "__main__":
    main()
