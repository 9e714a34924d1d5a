"""Plot cost: `curvediag analyze LOG --plot FILE` (PNG, SVG, HTML) side by side with the same
`analyze` without it, as whole processes: medians of alternating runs, CPU beside wall, ratios,
the load average.  The measure is benchmarks/performance.py's plots section, on its own:

    python benchmarks/plots.py [--rows 1000000] [--runs 3]

The log is the 1M-row CSV of benchmarks/scale.py (a per-step training loss, a validation loss
and a learning rate).  Long curves are min/max-decimated per pixel bucket before drawing
(plot.PIXELS buckets, at most plot.MAX_DRAWN points a line), so what remains of a plot's cost is
matplotlib's own: its import and one figure's layout and rendering.  The goal (issue 22): a plot
costs at most 1.3x the run's CPU.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    def opt(name: str, default: str) -> str:
        return argv[argv.index(name) + 1] if name in argv else default

    sys.path.insert(0, str(HERE))
    import performance

    rows, runs = int(opt("--rows", "1000000")), int(opt("--runs", "3"))
    load = f"{os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as tmp:
        r = performance.plots(rows, runs, tmp)
        sizes = {ext: (Path(tmp) / f"c.{ext}").stat().st_size for ext in ("png", "svg", "html")}
    run = r["run"]
    print(f"{rows:,}-row CSV, medians of {runs} alternating runs, load average {load} before and "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"{'':14}{'CPU':>9}{'wall':>9}{'CPU x':>8}{'wall x':>8}{'+CPU':>8}{'size':>10}")
    print(f"{'analyze':14}{run['cpu']:>8.2f}s{run['wall']:>8.2f}s{1:>8.2f}{1:>8.2f}")
    for ext in ("png", "svg", "html"):
        p = r[ext]
        print(f"{'--plot .' + ext:14}{p['cpu']:>8.2f}s{p['wall']:>8.2f}s{p['cpu_x']:>8.2f}{p['wall_x']:>8.2f}"
              f"{p['cpu'] - run['cpu']:>+7.2f}s{sizes[ext] / 1e3:>8,.0f}kB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
