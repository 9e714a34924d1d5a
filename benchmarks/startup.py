"""Start-up: `curvediag analyze` on a 30-epoch log against importing what it must import.

    python benchmarks/startup.py [--runs 15]

Runs the commands interleaved (so machine noise hits all of them alike) and
prints the median wall time of each and the ratios.  Targets: analyze <= 1.15x
`python -c "import pandas, typer, rich.console"`; `--help` and `rules` import
no pandas and take under 150 ms.

Two logs: a plain Keras-style CSV (read by the standard-library parser, no
pandas import, like most small logs: quoted, fastai, Lightning, Ultralytics CSVs
too) and the same epochs with a True/False column, which only pandas reads —
both are held to the target.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


# Users' installs have bytecode (.pyc) caches; a development shell that sets
# PYTHONDONTWRITEBYTECODE would time the compilation of our sources on every run instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=ENV)
    return time.perf_counter() - t


def main(argv: list[str]) -> int:
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 15
    with tempfile.TemporaryDirectory() as d:
        log = Path(d) / "training.log"
        lines = (REPO / "sample_logs" / "healthy.csv").read_text().splitlines()[:31]
        log.write_text("\n".join(lines) + "\n")
        flagged = Path(d) / "flagged.csv"  # a boolean column: pandas reads it
        flagged.write_text("\n".join(ln + (",is_best" if i == 0 else ",False") for i, ln in enumerate(lines)) + "\n")
        py = sys.executable
        cmds = {
            "import pandas, typer, rich.console": [py, "-c", "import pandas, typer, rich.console"],
            "curvediag analyze (30 epochs)": [py, "-m", "curvediag", "analyze", str(log), "--fail-on", "never"],
            "  same + bool column (pandas path)": [py, "-m", "curvediag", "analyze", str(flagged), "--fail-on", "never"],
            "curvediag --help": [py, "-m", "curvediag", "--help"],
            "curvediag rules": [py, "-m", "curvediag", "rules"],
            "python -c pass": [py, "-c", "pass"],
        }
        for cmd in cmds.values():  # warm the page cache and .pyc files
            timed(cmd)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(runs):
            for k, cmd in cmds.items():
                times[k].append(timed(cmd))
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in med.items():
            print(f"{k:38s} median {v * 1000:7.1f} ms  (min {min(times[k]) * 1000:.1f}, {runs} runs)")
        base = med["import pandas, typer, rich.console"]
        print(f"\nanalyze / import baseline: {med['curvediag analyze (30 epochs)'] / base:.2f}x (target <= 1.15x)")
        print(f"  pandas path / import baseline: {med['  same + bool column (pandas path)'] / base:.2f}x (target <= 1.15x)")
        for k in ("curvediag --help", "curvediag rules"):
            print(f"{k}: {med[k] * 1000:.0f} ms, {med[k] - med['python -c pass']:.3f} s above a bare interpreter")
        check = (
            "import sys, runpy; sys.argv = ['curvediag'] + sys.argv[1:];\n"
            "try:\n    from curvediag import cli; cli.main_status()\nexcept SystemExit:\n    pass\n"
            "print('pandas' in sys.modules, 'numpy' in sys.modules, file=sys.stderr)"
        )
        for args in (["--help"], ["rules"], ["analyze", str(log)], ["analyze", str(flagged)]):
            out = subprocess.run([sys.executable, "-c", check, *args], capture_output=True, text=True)
            pandas_loaded, numpy_loaded = out.stderr.strip().splitlines()[-1].split()
            name = " ".join(args[:1] + [Path(a).name for a in args[1:]])
            print(f"curvediag {name}: pandas imported: {pandas_loaded}, numpy imported: {numpy_loaded}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
