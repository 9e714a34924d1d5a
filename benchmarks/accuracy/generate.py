"""Generate the labelled benchmark: real training runs under induced causes.

    pip install -e ".[samples]"
    python benchmarks/accuracy/generate.py          # writes benchmarks/accuracy/runs/ and labels.csv

Every run really trains a small numpy MLP (scripts/trainer.py) on a dataset
bundled with scikit-learn, with one cause induced and hyper-parameters drawn
per seed.  A run is *labelled by what its curves show*: `verify()` below
checks the intended cause against the numbers with plain, deliberately
simple criteria (independent of curvediag's rules, with margins), and a run
that does not clearly show its cause is dropped, not relabelled.  The
generator is not run in CI; its output is committed.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "scripts"))
from trainer import Config, train  # noqa: E402

RUNS = HERE / "runs"
CLASSIFICATION = ("digits", "wine", "breast_cancer", "moons")


def draw(cause: str, seed: int) -> tuple[Config, str]:
    """Hyper-parameters for one run of a cause; returns (config, short description)."""
    r = random.Random(f"{cause}-{seed}")
    ds = r.choice(CLASSIFICATION + ("regression",))
    if cause == "healthy":
        h = r.choice([(32,), (64,), (128,), (64, 32)])
        cfg = Config(dataset=ds, hidden=h, weight_decay=r.choice([3e-4, 1e-3, 3e-3]), dropout=r.choice([0.0, 0.1, 0.2]),
                     lr=r.choice([1e-3, 2e-3]), epochs=r.choice([40, 60, 80]), batch=r.choice([32, 64]))
        what = "sensible model with weight decay, trained to convergence"
    elif cause == "overfitting":
        cfg = Config(dataset=ds, hidden=r.choice([(256,), (512,), (256, 256)]), train_size=r.choice([30, 60, 100]),
                     lr=r.choice([2e-3, 3e-3, 5e-3]), epochs=r.choice([120, 160, 200]), batch=r.choice([16, 32]))
        what = f"only {cfg.train_size} training examples, big model, no regularisation"
    elif cause == "cramming":
        ds = r.choice(CLASSIFICATION)
        cfg = Config(dataset=ds, hidden=r.choice([(256,), (512,), (256, 256)]), label_noise=r.choice([0.4, 0.6, 0.8, 1.0]),
                     lr=r.choice([1e-3, 2e-3]), epochs=r.choice([100, 150]), batch=32)
        what = f"{cfg.label_noise:.0%} of training labels random, big model, no regularisation"
    elif cause == "not_learning":
        kind = r.choice(["tiny_lr", "dead", "huge_lr"])
        if kind == "tiny_lr":
            cfg = Config(dataset=ds, optimizer="sgd", momentum=0.0, lr=r.choice([1e-7, 1e-6, 3e-6]), epochs=r.choice([30, 50]))
            what = f"learning rate {cfg.lr:g}: far too small"
        elif kind == "dead":
            cfg = Config(dataset=ds, init_scale=0.0, epochs=r.choice([30, 50]))
            what = "all-zero initialisation: a dead network"
        else:
            ds = r.choice(CLASSIFICATION)
            cfg = Config(dataset=ds, optimizer="sgd", momentum=0.9, lr=r.choice([2.0, 3.0, 5.0]), epochs=r.choice([30, 50]))
            what = f"SGD learning rate {cfg.lr:g}: so large the loss oscillates at chance"
    elif cause == "diverged":
        cfg = Config(dataset=ds, optimizer="sgd", momentum=0.9, lr=r.choice([0.005, 0.01, 0.02]),
                     lr_growth=r.choice([1.3, 1.4, 1.5]), epochs=r.choice([40, 50]))
        what = f"learning rate {cfg.lr:g} growing x{cfg.lr_growth:g} per epoch, no clipping; logging continues after NaN"
    elif cause == "still_improving":
        cfg = Config(dataset=ds, optimizer="sgd", momentum=0.0, lr=r.choice([3e-4, 1e-3, 2e-3]) if ds != "regression" else 1e-4,
                     epochs=r.choice([15, 20, 30]))
        what = f"small learning rate {cfg.lr:g}, stopped after {cfg.epochs} epochs"
    else:
        raise ValueError(cause)
    cfg.seed = seed
    return cfg, what


# ---- labelling: what the curve shows -------------------------------------------------

def _ma(y: np.ndarray, w: int = 5) -> np.ndarray:
    w = max(1, min(w, y.size))
    pad = np.pad(y, (w // 2, w - 1 - w // 2), mode="edge")
    return np.convolve(pad, np.ones(w) / w, mode="valid")


def verify(cause: str, tl, vl, va=None, ta=None) -> tuple[bool, float | None]:
    """(shows the cause clearly, ground-truth onset index or None)."""
    tl, vl = np.asarray(tl, float), np.asarray(vl, float)
    bad = ~np.isfinite(tl) | ~np.isfinite(vl)
    if cause == "diverged":
        if bad.any():
            return True, float(np.flatnonzero(bad)[0])
        return False, None
    if bad.any() or tl.size < 5:
        return False, None
    vs, ts = _ma(vl), _ma(tl)
    imin = int(np.argmin(vs))
    rise = (vs[-1] - vs[imin]) / abs(vs[imin])
    total = vs[0] - vs[imin]
    q = max(2, tl.size // 4)
    last_share = (vs[-q - 1] - vs[-1]) / total if total > 0 else 0.0
    accs = _ma(np.asarray(va, float)) if va is not None else None
    if cause == "overfitting":
        ok = rise > 0.15 and ts[-1] < ts[imin] and (accs is None or accs[-1] >= accs.max() - 0.02)
        return ok, float(imin)
    if cause == "cramming":
        if accs is None or rise <= 0.15:
            return False, float(imin)
        fell = accs[-1] < accs.max() - 0.05
        memorised = ta is not None and accs.max() < accs[0] + 0.05 and _ma(np.asarray(ta, float))[-1] - accs[-1] > 0.3
        return bool(fell or memorised), float(imin)
    if cause == "not_learning":
        # flat: under 2% net change, or a loss stuck within 10% while accuracy never moves
        flat = ts[-1] > 0.98 * ts[0]
        stuck = accs is not None and ts[-1] > 0.9 * ts[0] and np.ptp(accs) < 0.03
        acc_flat = accs is None or accs[-1] - accs[0] < 0.05
        return bool((flat or stuck) and acc_flat), None
    if cause == "still_improving":
        visible = (vs[0] - vs[-1]) / abs(vs[0]) > 0.05  # a decline a plot shows, not a creep
        return bool(visible and imin >= vl.size - 2 and last_share > 0.15 and ts[-1] < ts[-q - 1]), None
    if cause == "healthy":
        return bool(rise < 0.03 and last_share < 0.03 and total > 0.3 * abs(vs[0])), None
    raise ValueError(cause)


# ---- writers: the formats frameworks write ---------------------------------------------

def _f(v: float) -> str:
    return "nan" if math.isnan(v) else ("inf" if math.isinf(v) else f"{v:.6g}")


def write_epoch_log(path: Path, fmt: str, h: dict) -> None:
    n = len(h["loss"])
    acc = "accuracy" in h
    if fmt == "keras_csv":
        keys = sorted(h)
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["epoch", *keys])
            for i in range(n):
                w.writerow([i, *(_f(h[k][i]) for k in keys)])
    elif fmt == "fastai_csv":
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["epoch", "train_loss", "valid_loss", *(["accuracy"] if acc else []), "time"])
            for i in range(n):
                w.writerow([i, _f(h["loss"][i]), _f(h["val_loss"][i]), *([_f(h["val_accuracy"][i])] if acc else []), "00:02"])
    elif fmt == "custom_csv":  # no epoch column, percent accuracy
        with path.open("w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["train_loss", "val_loss", *(["train_acc", "val_acc"] if acc else [])])
            for i in range(n):
                extra = [_f(100 * h["accuracy"][i]), _f(100 * h["val_accuracy"][i])] if acc else []
                w.writerow([_f(h["loss"][i]), _f(h["val_loss"][i]), *extra])
    elif fmt == "history_json":
        path.write_text(json.dumps({k: [float(f"{v:.6g}") for v in vs] for k, vs in h.items()}))
    elif fmt == "jsonl":
        with path.open("w") as f:
            for i in range(n):
                rec = {"epoch": i + 1, "train_loss": h["loss"][i], "val_loss": h["val_loss"][i]}
                if acc:
                    rec.update(train_acc=h["accuracy"][i], val_acc=h["val_accuracy"][i])
                f.write(json.dumps({k: float(f"{v:.6g}") for k, v in rec.items()}) + "\n")
    else:
        raise ValueError(fmt)


def write_step_log(path: Path, s: dict) -> None:
    """A per-step CSV as a Lightning-style logger writes it: sparse validation cells."""
    val = dict(zip(s["val_step"], zip(s["val_loss"], s["val_acc"])))
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        acc = s["val_acc"] and s["val_acc"][0] is not None
        w.writerow(["step", "train_loss", "val_loss", *(["val_acc"] if acc else [])])
        for st, tl in zip(s["step"], s["train_loss"]):
            v = val.get(st)
            row = [st, _f(tl), _f(v[0]) if v else ""]
            if acc:
                row.append(_f(v[1]) if v else "")
            w.writerow(row)


FORMATS = ("keras_csv", "history_json", "jsonl", "fastai_csv", "custom_csv")
EXT = {"keras_csv": "csv", "history_json": "json", "jsonl": "jsonl", "fastai_csv": "csv", "custom_csv": "csv"}


def job(args):
    cause, seed, per_step = args
    cfg, what = draw(cause, seed)
    if per_step:
        cfg.eval_every = 25
        cfg.epochs = max(10, min(cfg.epochs, 60))
    h = train(cfg)
    return cause, seed, per_step, cfg, what, h


def main() -> int:
    import shutil

    out = HERE / "runs.new"  # written aside, swapped in at the end
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    plan = {"healthy": 40, "overfitting": 60, "cramming": 36, "not_learning": 40, "diverged": 36, "still_improving": 60}
    jobs = [(c, s, False) for c, n in plan.items() for s in range(n)]
    jobs += [(c, 100 + s, True) for c in ("healthy", "overfitting", "diverged", "still_improving") for s in range(5)]
    rows, dropped = [], {}
    with ProcessPoolExecutor() as ex:
        for cause, seed, per_step, cfg, what, h in ex.map(job, jobs):
            if per_step:
                # judge on the validation cadence, with training loss averaged over each interval
                vs = np.asarray(h["val_step"])
                tl_all = np.asarray(h["train_loss"])
                tl = [np.mean(tl_all[max(0, s - 25):s]) for s in vs]
                ok, onset = verify(cause, tl, h["val_loss"], None if cfg.dataset == "regression" else h["val_acc"])
                onset = None if onset is None else float(vs[int(onset)])
            else:
                ok, onset = verify(cause, h["loss"], h["val_loss"], h.get("val_accuracy"), h.get("accuracy"))
            if not ok:
                dropped[cause] = dropped.get(cause, 0) + 1
                continue
            if per_step:
                fmt, name = "step_csv", f"{cause}_s{seed}_steps.csv"
                if cfg.dataset == "regression":
                    h["val_acc"] = [None] * len(h["val_acc"])
                write_step_log(out / name, h)
            else:
                fmt = FORMATS[(seed + len(cause)) % len(FORMATS)]
                if cause == "cramming" and fmt == "fastai_csv":
                    fmt = "keras_csv"  # cramming is judged with training accuracy, which fastai does not log
                name = f"{cause}_s{seed}.{EXT[fmt]}"
                write_epoch_log(out / name, fmt, h)
            rows.append({
                "file": name, "verdict": cause, "onset": "" if onset is None else f"{onset:g}", "format": fmt,
                "dataset": cfg.dataset, "seed": seed, "cause": what,
                "config": json.dumps({k: v for k, v in asdict(cfg).items() if v != getattr(Config(), k)}),
            })
    rows.sort(key=lambda r: r["file"])
    shutil.rmtree(RUNS, ignore_errors=True)
    out.rename(RUNS)
    with (HERE / "labels.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    kept = {}
    for r in rows:
        kept[r["verdict"]] = kept.get(r["verdict"], 0) + 1
    print(f"kept {len(rows)} runs: {kept}")
    print(f"dropped (curve did not clearly show the cause): {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
