"""Regenerate sample_logs/: one real training run per verdict, with fixed seeds.

    pip install -e ".[samples]"
    python scripts/make_samples.py

Each log comes from actually training a small numpy MLP (scripts/trainer.py)
on a dataset bundled with scikit-learn, with one cause induced, and is
written in the format a real framework would write.  The script checks that
curvediag gives the intended verdict and exits 1 if it does not.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from trainer import Config, train  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "sample_logs"

SAMPLES = [
    # file, verdict, config, how it was made
    ("healthy.csv", "healthy",
     Config(hidden=(64,), weight_decay=3e-3, dropout=0.2, lr=2e-3, epochs=150, seed=0),
     "digits, 64 hidden units, dropout 0.2, weight decay 3e-3, Adam 2e-3, 150 epochs (trained until val_loss settles)"),
    ("overfitting.csv", "overfitting",
     Config(dataset="moons", hidden=(256, 256), train_size=60, epochs=200, lr=3e-3, seed=0),
     "make_moons (noise 0.3), only 60 training examples, 2x256 hidden units, no regularisation, 200 epochs"),
    ("cramming_history.json", "cramming",
     Config(hidden=(512,), label_noise=0.5, epochs=150, seed=0),
     "digits with half the training labels replaced at random, 512 hidden units, no regularisation, 150 epochs"),
    ("not_learning.jsonl", "not_learning",
     Config(optimizer="sgd", lr=1e-5, momentum=0.0, epochs=40, seed=0),
     "digits, plain SGD with a learning rate of 1e-5 (far too small), 40 epochs"),
    ("diverged.csv", "diverged",
     Config(dataset="regression", optimizer="sgd", lr=0.005, lr_growth=1.25, momentum=0.9, epochs=30, seed=0),
     "make_regression (MSE), SGD with momentum, learning rate 0.005 growing 25% per epoch (a runaway schedule), "
     "no clipping; the logger keeps writing nan"),
    ("still_improving_fastai.csv", "still_improving",
     Config(optimizer="sgd", lr=0.002, momentum=0.0, epochs=25, seed=0),
     "digits, plain SGD with a learning rate of 0.002, stopped after 25 epochs"),
    ("insufficient_data.csv", "insufficient_data",
     Config(hidden=(64,), weight_decay=1e-4, epochs=2, seed=0),
     "the healthy run stopped after 2 epochs"),
]


def _cell(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else repr(float(v)))


def write_keras_csv(path: Path, h: dict) -> None:
    """Keras CSVLogger: epoch first, then the keys sorted."""
    keys = sorted(h)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", *keys])
        for i in range(len(h["loss"])):
            w.writerow([i, *(_cell(h[k][i]) for k in keys)])


def write_fastai_csv(path: Path, h: dict) -> None:
    """fastai CSVLogger: epoch,train_loss,valid_loss,<metrics>,time (metrics on the validation set)."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["epoch", "train_loss", "valid_loss", "accuracy", "time"])
        for i in range(len(h["loss"])):
            w.writerow([i, f"{h['loss'][i]:.6f}", f"{h['val_loss'][i]:.6f}", f"{h['val_accuracy'][i]:.6f}", "00:01"])


def write_history_json(path: Path, h: dict) -> None:
    """json.dump(model.fit(...).history)."""
    path.write_text(json.dumps(h))


def write_jsonl(path: Path, h: dict) -> None:
    """One JSON object per epoch, as a custom training loop appends them."""
    with path.open("w") as f:
        for i in range(len(h["loss"])):
            rec = {"epoch": i + 1, "train_loss": h["loss"][i], "val_loss": h["val_loss"][i]}
            if "accuracy" in h:
                rec["train_acc"] = h["accuracy"][i]
                rec["val_acc"] = h["val_accuracy"][i]
            f.write(json.dumps(rec) + "\n")


WRITERS = {".csv": write_keras_csv, ".json": write_history_json, ".jsonl": write_jsonl}


def main() -> int:
    import curvediag

    OUT.mkdir(exist_ok=True)
    rows, failed = [], 0
    for name, verdict, cfg, how in SAMPLES:
        h = train(cfg)
        path = OUT / name
        writer = write_fastai_csv if "fastai" in name else WRITERS[path.suffix]
        writer(path, h)
        got = curvediag.diagnose(path).verdict
        ok = got == verdict
        failed += not ok
        rows.append(f"| `{name}` | {verdict} | {how} |")
        print(f"{name:30s} intended {verdict:18s} got {got:18s} {'ok' if ok else 'MISMATCH'}")
    (OUT / "README.md").write_text(
        "# Sample logs\n\nReal training runs of a small numpy MLP (`scripts/trainer.py`) on datasets bundled "
        "with scikit-learn, one induced cause each, written by `scripts/make_samples.py` with fixed seeds.\n\n"
        "| file | verdict | how it was made |\n|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
