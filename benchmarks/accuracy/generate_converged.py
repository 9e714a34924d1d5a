"""Add healthy runs that are really *converged* to the labelled benchmark.

    python benchmarks/accuracy/generate_converged.py     # appends to runs/ and labels.csv

Why: the first generator's "healthy" runs stopped after 40-80 epochs while their
validation loss was still falling 10-70% of its level per quarter; read by the
protocol of ../shared/real_logs/LABELS.md (the rate relative to the *current*
level, not to the whole run's drop) those runs are still improving, and they were
relabelled so. These runs train the same sensible models with a decaying learning
rate (x0.96 per epoch) for 150-250 epochs, so the loss settles.

A run is kept as healthy only when its curve shows it, by a plain criterion that
does not use curvediag: the 5-point moving average of val_loss ends within 3% of
its minimum and fell less than 2% of its final level over the last quarter.
Runs that do not settle are written as still_improving when the same average has
its minimum at the end and fell at least 5% over the last quarter, and dropped
otherwise (ambiguous by this criterion; say how many).
"""

from __future__ import annotations

import csv
import json
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent / "scripts"))
from generate import EXT, FORMATS, _ma, write_epoch_log  # noqa: E402
from trainer import Config, train  # noqa: E402

SEEDS = range(200, 216)


def draw(seed: int) -> Config:
    r = random.Random(f"converged-{seed}")
    return Config(
        dataset=r.choice(("digits", "wine", "breast_cancer", "moons", "regression")),
        hidden=r.choice([(32,), (64,), (64, 32)]),
        weight_decay=r.choice([1e-3, 3e-3]),
        dropout=r.choice([0.0, 0.1]),
        lr=r.choice([2e-3, 3e-3]),
        lr_growth=0.96,
        epochs=r.choice([150, 200, 250]),
        batch=r.choice([32, 64]),
        seed=seed,
    )


def label(vl) -> str | None:
    vs = _ma(np.asarray(vl, float))
    n = vs.size
    q = max(2, n // 4)
    fall = (vs[-q - 1] - vs[-1]) / abs(vs[-1])
    near_min = (vs[-1] - vs.min()) / abs(vs.min()) < 0.03
    if near_min and fall < 0.02:
        return "healthy"
    if int(np.argmin(vs)) >= n - 2 and fall >= 0.05:
        return "still_improving"
    return None


def job(seed):
    cfg = draw(seed)
    return seed, cfg, train(cfg)


def main() -> int:
    rows, dropped = [], 0
    with ProcessPoolExecutor() as ex:
        for seed, cfg, h in ex.map(job, SEEDS):
            if not np.all(np.isfinite(h["val_loss"])):
                dropped += 1
                continue
            verdict = label(h["val_loss"])
            if verdict is None:
                dropped += 1
                continue
            fmt = FORMATS[seed % len(FORMATS)]
            name = f"{verdict}_converged_s{seed}.{EXT[fmt]}"
            write_epoch_log(HERE / "runs" / name, fmt, h)
            rows.append({
                "file": name, "verdict": verdict, "onset": "", "format": fmt, "dataset": cfg.dataset, "seed": seed,
                "cause": f"sensible model, learning rate decaying x0.96 per epoch, {cfg.epochs} epochs",
                "config": json.dumps({k: v for k, v in asdict(cfg).items() if v != getattr(Config(), k)}),
            })
    path = HERE / "labels.csv"
    with path.open() as f:
        old = list(csv.DictReader(f))
    names = {r["file"] for r in rows}
    keep = [r for r in old if r["file"] not in names]
    fields = list(old[0])
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(sorted(keep + [{k: r.get(k, "") for k in fields} for r in rows], key=lambda r: r["file"]))
    print(f"added {len(rows)} runs: {[r['verdict'] for r in rows].count('healthy')} healthy; dropped {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
