"""How often a verdict flips under a 1% jitter of the losses, or when they are multiplied by 10.

    python benchmarks/robustness.py              # real logs and the benchmark's clear runs
    python benchmarks/robustness.py --draws 20

Loss is not a percentage: every rule is meant to be scale-free and robust to noise, so a
verdict that flips when the losses are multiplied by 10 or each point is jittered by 1% is
a bug -- or a run that sits on a rule's edge. For every real log in ../shared/real_logs and
every clear run of benchmarks/accuracy it diagnoses ``draws`` jittered copies (each loss
point times 1 + 0.01 N(0, 1), fixed seeds) and the copy times 10, and prints the flip rate
and the runs that flipped (with how often and to what).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "real_logs"
BENCH = HERE / "accuracy"


def transformed(curves, f):
    from curvediag.curves import Curves

    return Curves(curves.source, {k: s.with_xy(s.x, f(k, s.y)) for k, s in curves.series.items()}, curves.axis_kind)


def flips(path: Path, draws: int):
    from curvediag.api import diagnose_curves, load_curves

    losses = ("train_loss", "val_loss")
    c = load_curves(path)
    base = diagnose_curves(c).verdict
    jit = {}
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        v = diagnose_curves(transformed(c, lambda k, y: y * (1 + 0.01 * rng.standard_normal(y.size)) if k in losses else y)).verdict
        if v != base:
            jit[v] = jit.get(v, 0) + 1
    scaled = diagnose_curves(transformed(c, lambda k, y: 10 * y if k in losses else y)).verdict
    return base, jit, scaled


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10)
    a = ap.parse_args(argv)
    sets = []
    if (REAL / "LABELS.json").is_file():
        sets.append(("real logs", [REAL / r["file"] for r in json.loads((REAL / "LABELS.json").read_text())]))
    with (BENCH / "labels.csv").open() as f:
        sets.append(("benchmark (clear runs)", [BENCH / "runs" / r["file"] for r in csv.DictReader(f)
                                                if r.get("ambiguous", "0") in ("0", "")]))
    for name, paths in sets:
        n_jit = n_scaled = 0
        lines = []
        for p in paths:
            base, jit, scaled = flips(p, a.draws)
            n_jit += sum(jit.values())
            n_scaled += scaled != base
            if jit or scaled != base:
                extra = "" if scaled == base else f"; x10 -> {scaled}"
                lines.append(f"  {sum(jit.values()):2}/{a.draws} {base:15} -> {jit}{extra}  {p.name}")
        print(f"{name}: {len(paths)} runs, 1% jitter flips {n_jit / (len(paths) * a.draws):.3f} of "
              f"{len(paths) * a.draws} draws, x10 flips {n_scaled} runs")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
