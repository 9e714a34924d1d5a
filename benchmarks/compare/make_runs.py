"""Real training runs for ``curvediag compare``: a tiny MLP trained with torch on a synthetic
classification task, written as Keras-like CSV logs (epoch,loss,accuracy,val_loss,val_accuracy).

    python benchmarks/compare/make_runs.py [OUT_DIR]     # default: tests/data/compare

* ``baseline_seed{0..3}.csv``: the seed sweep (same data, four initialisations and batch orders);
* ``rerun_seed4.csv``: one more seed of the same recipe, a re-run that must pass;
* broken variants that must be flagged: ``shuffled_labels.csv`` (training labels permuted: the
  network memorises, its training loss falls while validation stays at or above chance),
  ``lr_x10.csv`` (the learning rate ten times the baseline's) and ``small_data.csv`` (a tenth of
  the training set).

Everything is seeded and runs on one CPU thread with deterministic algorithms, so the logs are
the same on every run of the script (on the same torch build).  About a minute on one core.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn

CLASSES, INFORMATIVE, NOISE = 5, 8, 12
N_TRAIN, N_VAL = 2000, 1000
EPOCHS, BATCH, LR, HIDDEN, DROPOUT = 30, 64, 1e-3, 128, 0.2
LABEL_NOISE = 0.05


def make_data(seed: int = 0):
    """Gaussian clusters (two per class) in a few informative dimensions plus pure-noise ones;
    5% of the labels flipped, so a perfect fit is impossible and the task is not trivial."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(CLASSES * 2, INFORMATIVE, generator=g) * 1.6

    def draw(n: int):
        k = torch.randint(0, CLASSES * 2, (n,), generator=g)
        x_inf = centres[k] + torch.randn(n, INFORMATIVE, generator=g)
        x = torch.cat([x_inf, torch.randn(n, NOISE, generator=g)], dim=1)
        y = k % CLASSES
        flip = torch.rand(n, generator=g) < LABEL_NOISE
        y = torch.where(flip, torch.randint(0, CLASSES, (n,), generator=g), y)
        return x, y

    return draw(N_TRAIN), draw(N_VAL)


def model(dropout: float) -> nn.Module:
    return nn.Sequential(
        nn.Linear(INFORMATIVE + NOISE, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(HIDDEN, CLASSES),
    )


def train(seed: int, *, lr: float = LR, shuffle_labels: bool = False, train_share: float = 1.0,
          dropout: float = DROPOUT) -> list[dict]:
    (x, y), (xv, yv) = make_data(0)  # the same data for every run; the seed is the run's own
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(1000 + seed)
    if train_share < 1.0:
        keep = torch.randperm(len(x), generator=g)[: int(len(x) * train_share)]
        x, y = x[keep], y[keep]
    if shuffle_labels:
        y = y[torch.randperm(len(y), generator=g)]
    net = model(dropout)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for epoch in range(EPOCHS):
        net.train()
        order = torch.randperm(len(x), generator=g)
        total = correct = 0.0
        for i in range(0, len(x), BATCH):
            idx = order[i : i + BATCH]
            out = net(x[idx])
            loss = loss_fn(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)  # Keras' running mean over the epoch
            correct += float((out.argmax(1) == y[idx]).sum())
        net.eval()
        with torch.no_grad():
            out = net(xv)
            val_loss = float(loss_fn(out, yv))
            val_acc = float((out.argmax(1) == yv).float().mean())
        rows.append({"epoch": epoch, "loss": total / len(x), "accuracy": correct / len(x),
                     "val_loss": val_loss, "val_accuracy": val_acc})
    return rows


RUNS = {
    **{f"baseline_seed{s}": dict(seed=s) for s in range(4)},
    "rerun_seed4": dict(seed=4),
    "shuffled_labels": dict(seed=4, shuffle_labels=True),
    "lr_x10": dict(seed=4, lr=LR * 10),
    "small_data": dict(seed=4, train_share=0.1),
}


def main(out: Path) -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    out.mkdir(parents=True, exist_ok=True)
    for name, kw in RUNS.items():
        t0 = time.perf_counter()
        rows = train(**kw)  # type: ignore[arg-type]
        with open(out / f"{name}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            for r in rows:
                w.writerow({k: (v if k == "epoch" else repr(float(v))) for k, v in r.items()})
        best = min(rows, key=lambda r: r["val_loss"])
        print(f"{name:18s} best val_loss {best['val_loss']:.4f} at epoch {best['epoch']:2d}, final {rows[-1]['val_loss']:.4f}, "
              f"final loss {rows[-1]['loss']:.4f}, val_acc {rows[-1]['val_accuracy']:.3f} "
              f"(chance ln {CLASSES} = {math.log(CLASSES):.3f}; {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests" / "data" / "compare")
