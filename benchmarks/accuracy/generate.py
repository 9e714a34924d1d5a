"""Generate the labelled benchmark: real training runs under induced causes.

    pip install -e ".[samples]"
    python benchmarks/accuracy/generate.py             # writes benchmarks/accuracy/runs/ and labels.csv
    python benchmarks/accuracy/generate.py --patterns  # re-makes only the failure-pattern runs (issue 10)

Every run really trains a small numpy MLP (scripts/trainer.py) on a dataset
bundled with scikit-learn, with one cause induced and hyper-parameters drawn
per seed.  A run is *labelled by what its curves show*: `verify()` below
checks the intended cause against the numbers with plain, deliberately
simple criteria (independent of curvediag's rules, with margins), and a run
that does not clearly show its cause is dropped, not relabelled.

The failure patterns real logs show (issue 10: nothing generalised, quality
collapse, a blow-up inside epoch 0, violent instability, non-finite values
hidden by Hugging Face's logging filter) are made by `make_patterns()`.  Those
runs are never dropped: `judge()` labels the ones whose numbers clearly show
the pattern, and every other one carries a human label (`HUMAN`, written after
reading the one-line summary printed for it, kept in labels.csv's `summary`
column) with `ambiguous=1`.  The generator is not run in CI; its output is
committed.
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


# ---- failure patterns real logs show (issue 10): kept with a human label, never dropped --------

CHANCE_SETS = ("digits", "wine", "breast_cancer", "moons")


def draw_pattern(pattern: str, seed: int) -> tuple[Config, str]:
    """Hyper-parameters for one run of a failure pattern; returns (config, short description)."""
    r = random.Random(f"pattern-{pattern}-{seed}")
    ds = CHANCE_SETS[seed % len(CHANCE_SETS)]
    if pattern == "nolearn_randlabels":
        cfg = Config(dataset=ds, hidden=(4,), label_noise=1.0, init_scale=r.choice([0.1, 0.2, 0.3]),
                     lr=r.choice([1e-3, 3e-3]), epochs=r.choice([30, 40, 60]))
        what = "every training label random, a 4-unit model: nothing to generalise"
    elif pattern == "nolearn_frozen":
        cfg = Config(dataset=ds, hidden=r.choice([(64,), (64, 32)]), freeze="all_but_last", init_scale=1e-3,
                     lr=r.choice([1e-3, 3e-3]), epochs=r.choice([30, 40, 60]))
        what = "feature layers frozen at a random init of scale 1e-3: only the output layer trains"
    elif pattern == "nolearn_brokenfeat":
        feats = "constant" if seed % 2 else "random"
        cfg = Config(dataset=ds, hidden=(4,) if feats == "random" else (32,), features=feats,
                     init_scale=r.choice([0.2, 0.3]), lr=r.choice([1e-3, 3e-3]), epochs=r.choice([30, 40, 60]))
        what = f"broken feature extractor: {feats} inputs unrelated to the labels"
    elif pattern == "collapse":
        ds = "digits" if seed % 3 else "breast_cancer"
        cfg = Config(dataset=ds, hidden=r.choice([(256,), (512,)]), label_noise=r.choice([0.5, 0.6, 0.7]),
                     label_smoothing=r.choice([0.6, 0.7, 0.8]), lr=2e-3, epochs=r.choice([100, 120, 150]))
        what = (f"{cfg.label_noise:.0%} of training labels random, label smoothing {cfg.label_smoothing:g}, big model: "
                "accuracy falls from its peak while the smoothed loss barely moves")
    elif pattern == "blowup_epoch0":
        cfg = Config(dataset=ds, hidden=(64,), raw_inputs=True, lr=r.choice([5.0, 10.0, 20.0, 30.0]),
                     epochs=r.choice([20, 30, 40]))
        what = f"Adam at lr {cfg.lr:g} on unscaled inputs: the loss explodes inside epoch 0"
    elif pattern == "unstable":
        ds = ("breast_cancer", "wine")[seed % 2]
        cfg = Config(dataset=ds, hidden=(64,), raw_inputs=True, lr=r.choice([0.01, 0.02, 0.03]), epochs=r.choice([30, 40, 50]))
        what = f"Adam at lr {cfg.lr:g} on unscaled inputs: a learning rate at the edge of stability"
    elif pattern == "hf_nonfinite":
        ds = ("moons", "wine", "breast_cancer")[seed % 3]
        cfg = Config(dataset=ds, hidden=(64,), dtype="float16", optimizer="sgd", momentum=0.9,
                     lr=r.choice([0.003, 0.01, 0.03]), lr_growth=r.choice([1.6, 1.8, 2.0]), epochs=20,
                     skip_nonfinite=seed % 4 == 3 or seed >= 6, fp32_eval=seed >= 6, eval_every=10)
        what = ("float16 training, SGD with a growing learning rate: activations overflow, the loss turns NaN; "
                + ("a loss scaler skips the non-finite steps; " if cfg.skip_nonfinite else "")
                + ("evaluation in full precision; " if cfg.fp32_eval else "")
                + "logged as Hugging Face's Trainer logs it (logging_nan_inf_filter)")
    else:
        raise ValueError(pattern)
    cfg.seed = seed
    return cfg, what


def _chance(cfg: Config) -> tuple[int, float]:
    from trainer import load

    _, _, ytr, yva = load(cfg.dataset, cfg.seed)
    k = int(max(ytr.max(), yva.max()) + 1)
    return k, float(np.bincount(yva.astype(int)).max() / len(yva))


def _g(x) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.3g}"


def summarise(cfg: Config, tl, vl, va) -> tuple[dict, str]:
    """The numbers a person reads off the curves, and a one-line summary of them."""
    tl, vl = np.asarray(tl, float), np.asarray(vl, float)
    va = np.full(vl.size, np.nan) if va is None else np.asarray(va, float)
    k, maj = _chance(cfg)
    fin = np.isfinite(vl)
    n = {"k": k, "chance": max(1.0 / k, maj), "n": vl.size}
    n["tl0"], n["tl_last"] = float(tl[0]), float(tl[-1])
    n["tl_rest_median"] = float(np.nanmedian(tl[1:])) if tl.size > 1 else float("nan")
    n["vl0"], n["vl_last"] = float(vl[0]), float(vl[-1])
    n["vl_min"] = float(np.nanmin(vl)) if fin.any() else float("nan")
    n["vl_imin"] = int(np.nanargmin(vl)) if fin.any() else -1
    pos = vl[fin & (vl > 0)]
    jumps = pos[1:] / pos[:-1] if pos.size > 1 else np.ones(1)
    jumps = np.maximum(jumps, 1 / jumps)
    n["max_jump"] = float(jumps.max())
    n["jumps5"] = int((jumps >= 5).sum())
    half = jumps[jumps.size // 2:]
    n["max_jump_2nd_half"] = float(half.max()) if half.size else 1.0
    sa = _ma(va, 3)
    n["va0"], n["va_last"], n["va_max"], n["va_min"] = float(va[0]), float(va[-1]), float(va.max()), float(va.min())
    n["va_imax"] = int(np.argmax(sa))
    n["va_peak_s"], n["va_tail_s"] = float(sa.max()), float(np.mean(va[-max(2, va.size // 5):]))
    line = (f"n={vl.size} tl {_g(tl[0])}->{_g(tl[-1])} (median after first {_g(n['tl_rest_median'])}) | "
            f"vl {_g(vl[0])} min {_g(n['vl_min'])}@{n['vl_imin']} last {_g(vl[-1])} "
            f"(last/first {_g(vl[-1] / vl[0])}, last/min {_g(vl[-1] / n['vl_min'])}) max jump x{_g(n['max_jump'])} "
            f"({n['jumps5']} >=5x, 2nd half x{_g(n['max_jump_2nd_half'])}) | "
            f"va {_g(va[0])} max {_g(va.max())}@{int(np.argmax(va))} last {_g(va[-1])} min {_g(va.min())} "
            f"tail {_g(n['va_tail_s'])} | chance {_g(n['chance'])} (K={k})")
    return n, line


def judge(pattern: str, n: dict, extra: dict | None = None) -> tuple[str | None, float | None, str]:
    """The label the numbers clearly show, its onset, and why; (None, None, why not) when they do not."""
    def near_chance(a: float) -> bool:
        return a <= n["chance"] + 0.05

    if pattern.startswith("nolearn"):
        moved = abs(n["vl_last"] / n["vl0"] - 1)
        fell = n["tl_last"] < n["tl0"]
        if moved <= 0.05 and near_chance(n["va_tail_s"]) and n["va_max"] <= n["chance"] + 0.1 and fell:
            return "not_learning", None, f"val_loss ends {moved:.0%} from its start, val_acc at chance {n['chance']:.2f}"
        return None, None, f"val_loss moved {moved:.0%}; val_acc tail {n['va_tail_s']:.2f}, max {n['va_max']:.2f} vs chance {n['chance']:.2f}"
    if pattern == "collapse":
        drop = n["va_peak_s"] - n["va_tail_s"]
        rise = n["vl_last"] / n["vl_min"] - 1
        if drop >= 0.15 and rise <= 0.15:
            return "cramming", float(n["va_imax"]), f"val_acc falls {drop:.2f} from its peak and stays down; val_loss only +{rise:.0%}"
        return None, float(n["va_imax"]), f"val_acc falls {drop:.2f} from its peak; val_loss +{rise:.0%} over its minimum"
    if pattern == "blowup_epoch0":
        ratio = n["tl0"] / n["tl_rest_median"]
        if ratio >= 100 and (near_chance(n["va_tail_s"]) or n["va_max"] - n["va_min"] >= 0.2):
            return "diverged", 0.0, f"first train loss x{ratio:.0f} the rest; val_acc then at chance or swinging"
        return None, 0.0, f"first train loss x{ratio:.0f} the rest; val_acc tail {n['va_tail_s']:.2f}"
    if pattern == "unstable":
        swing = n["va_min"] <= n["chance"] + 0.05
        if n["jumps5"] >= 2 and n["max_jump_2nd_half"] >= 5 and swing:
            return "diverged", None, (f"val_loss jumps >=5x {n['jumps5']} times (x{n['max_jump']:.0f} max, still x{n['max_jump_2nd_half']:.0f} "
                                      f"in the second half); val_acc swings {n['va_min']:.2f}-{n['va_max']:.2f}")
        return None, None, f"val_loss jumps >=5x {n['jumps5']} times, x{n['max_jump_2nd_half']:.1f} in the second half; val_acc {n['va_min']:.2f}-{n['va_max']:.2f}"
    if pattern == "hf_nonfinite":
        e = extra or {}
        if e.get("first_bad_grad_epoch") is not None and e.get("last_grad_bad"):
            return "diverged", e["first_bad_grad_epoch"], (f"grad_norm non-finite from epoch {e['first_bad_grad_epoch']:.2f} to the end; "
                                                          f"{e['zero_losses']} logged losses exactly 0, eval_loss non-finite: {e['eval_bad']}")
        return None, e.get("first_bad_grad_epoch"), f"grad_norm non-finite in {e.get('bad_grads', 0)} logs, last finite: {not e.get('last_grad_bad')}"
    raise ValueError(pattern)


# Human labels for runs whose curves do not clearly show the intended pattern, written after reading the
# summary line `python generate.py --patterns` prints for each run (and its full curves):
# file -> (verdict, note[, onset]).  These runs are kept (ambiguous=1), not dropped.
HUMAN: dict[str, tuple] = {
    "nolearn_randlabels_s1.json": ("not_learning", "nothing generalised: val_acc 0.22-0.33, under the majority rate 0.43 "
                                   "throughout; val_loss creeps 1.08->1.17 (+8%, near ln 3) as the 4-unit model fits random "
                                   "labels (train 1.10->0.98); a reader could call the creep overfitting"),
    "nolearn_randlabels_s2.jsonl": ("not_learning", "nothing generalised: val_acc 0.23-0.53, under the majority rate 0.61; "
                                    "val_loss 0.698->0.767 (+10%, noisy, near ln 2) while train falls 0.694->0.637"),
    "nolearn_frozen_s0.csv": ("not_learning", "val_loss 2.30->2.28 (-1%, at ln 10) and train 2.30->2.27 over 60 epochs; "
                              "val_acc drifts noisily from chance 0.11 to ~0.25: barely anything learned"),
    "nolearn_frozen_s2.jsonl": ("not_learning", "val_acc exactly the majority rate 0.608 in all 60 epochs; val_loss "
                                "0.686->0.632 (-8%): only the class prior was learned"),
    "nolearn_frozen_s3.csv": ("still_improving", "the frozen extractor still carries signal on moons: val_acc 0.47->0.86, "
                              "val_loss falls steadily 0.692->0.613 with its minimum at the last epoch (-3.6% over the "
                              "last quarter); a reader could call an 11% drop in 40 epochs not_learning"),
    "nolearn_brokenfeat_s0.csv": ("not_learning", "val_acc at chance (0.08-0.12 vs 0.11) throughout; train 2.30->2.10 "
                                  "while val_loss rises 2.31->2.70 (+17%) from epoch 0: nothing generalised, the 4-unit "
                                  "model fits noise; a reader could call the rise overfitting"),
    "nolearn_brokenfeat_s2.jsonl": ("cramming", "memorises features unrelated to the labels: train 0.68->0.45 (-33%), "
                                    "val_loss 0.67->0.93 (+37%) from epoch 3, val_acc 0.62->0.50 (under the majority "
                                    "0.61): more than a little training-loss fall, so not the nothing-generalised shape"),
    "nolearn_brokenfeat_s4.csv": ("not_learning", "val_acc at chance (0.06-0.12 vs 0.11) throughout; train 2.31->2.13, "
                                  "val_loss 2.30->2.54 (+10%) from epoch 0: nothing generalised"),
    "collapse_s0.csv": ("cramming", "noisy: val_acc ~0.78 over epochs 0-45 (peak 0.85), ~0.69 over the last 40 (chance "
                        "0.63) while val_loss creeps 0.67->0.70 (+4%) and train falls: a slow quality collapse"),
    "collapse_s3.csv": ("cramming", "very noisy: val_acc mean ~0.72 over epochs 10-40 (peak 0.84), ~0.65 over the last 30 "
                        "(chance 0.64); val_loss 0.66->0.72 (+10%), train falls 0.81->0.62; weak collapse"),
    "blowup_epoch0_s3.csv": ("diverged", "first train loss 60.9 vs ~0.8 after (x76, under the x100 criterion); val_loss "
                             "then jumps x3-x22 (0.63->14.2->26.5 at epochs 17-19), val_acc swings 0.47-0.80 and ends at "
                             "chance 0.53"),
    "unstable_s2.jsonl": ("diverged", "blows up at the end: val_loss 0.675->0.99->1.89->5.72 (x8.5) and train "
                          "0.55->2.86 in the last 3 epochs, val_acc 0.94->0.79; no single >=5x jump"),
    "unstable_s5.csv": ("diverged", "never settles: first train loss 186, val_loss 89 at epoch 0 and 3.8-16.7 in the "
                        "second half (3-15x ln 3, jumps up to x4.4) with no trend, val_acc 0.46-0.82"),
    "hf_nonfinite_s4_trainer_state.json": ("overfitting", "no overflow after all: train loss underflows to exactly 0 "
                                           "with grad_norm exactly 0 (fp16 saturated softmax) while eval_loss rises "
                                           "0.032->1.17 (x37) from epoch 7.5 and eval_accuracy holds 0.96; 8 evaluations",
                                           7.5),
}


def write_trainer_state(path: Path, cfg: Config, s: dict, logging_steps: int = 5, with_eval: bool = True) -> dict:
    """Write a per-step run as Hugging Face's Trainer writes trainer_state.json.

    The training loss goes through the Trainer's ``logging_nan_inf_filter`` (on by default), as its training
    loop does it (transformers 4.x, from memory of ``Trainer._inner_training_loop``): a NaN/inf step loss is
    not added; instead ``tr_loss += tr_loss / (1 + global_step - _globalstep_last_logged)``, so a window whose
    steps are all non-finite logs a loss of exactly 0.0.  Every ``logging_steps`` it logs
    ``loss = round(tr_loss / steps_in_window, 4)``, the ``grad_norm`` of the last step (NaN/inf as computed) and
    the learning rate; evaluation entries carry ``eval_loss``/``eval_accuracy`` (not filtered).  Keys sorted and
    indent 2, as ``TrainerState.save_to_json`` writes them (json.dumps writes NaN/Infinity literals).
    Returns what the log shows about the non-finite values.
    """
    steps = len(s["step"])
    per_epoch = round(s["step"][0] / s["epoch"][0])
    val = dict(zip(s["val_step"], zip(s["val_loss"], s["val_acc"])))
    hist, tr_loss, last_logged, total = [], 0.0, 0, 0.0
    for i in range(steps):
        global_step = i  # before the optimizer step increments it
        loss = s["train_loss"][i]
        if not math.isfinite(loss):
            tr_loss = tr_loss + tr_loss / (1 + global_step - last_logged)
        else:
            tr_loss = tr_loss + loss
        global_step = i + 1
        epoch = global_step / per_epoch
        if global_step % logging_steps == 0 or global_step == steps:
            hist.append({"epoch": epoch, "grad_norm": float(s["grad_norm"][i]),
                         "learning_rate": float(s["lr"][i]), "loss": round(tr_loss / (global_step - last_logged), 4),
                         "step": global_step})
            total += tr_loss
            tr_loss, last_logged = 0.0, global_step
        if with_eval and global_step in val:
            vl, va = val[global_step]
            hist.append({"epoch": epoch, "eval_accuracy": float(va), "eval_loss": float(vl),
                         "eval_runtime": 0.0412, "eval_samples_per_second": 4563.1, "eval_steps_per_second": 145.6,
                         "step": global_step})
    hist.append({"epoch": steps / per_epoch, "step": steps, "total_flos": 1.0 * steps * cfg.batch * 64 * 6,
                 "train_loss": total / steps, "train_runtime": round(steps * 0.004, 4),
                 "train_samples_per_second": 8000.0, "train_steps_per_second": 250.0})
    state = {
        "best_metric": None, "best_model_checkpoint": None, "epoch": steps / per_epoch,
        "eval_steps": cfg.eval_every if with_eval else 500, "global_step": steps, "is_hyper_param_search": False,
        "is_local_process_zero": True, "is_world_process_zero": True, "log_history": hist,
        "logging_steps": logging_steps, "max_steps": steps, "num_input_tokens_seen": 0, "num_train_epochs": cfg.epochs,
        "save_steps": 500,
        "stateful_callbacks": {"TrainerControl": {"args": {"should_epoch_stop": False, "should_evaluate": False,
                                                           "should_log": False, "should_save": True,
                                                           "should_training_stop": True}, "attributes": {}}},
        "total_flos": 1.0 * steps * cfg.batch * 64 * 6, "train_batch_size": cfg.batch, "trial_name": None,
        "trial_params": None,
    }
    path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    logs = [h for h in hist if "grad_norm" in h]
    bad = [h["epoch"] for h in logs if not math.isfinite(h["grad_norm"])]
    evals = [h for h in hist if "eval_loss" in h]
    return {
        "first_bad_grad_epoch": bad[0] if bad else None, "bad_grads": len(bad),
        "last_grad_bad": bool(logs) and not math.isfinite(logs[-1]["grad_norm"]),
        "zero_losses": sum(h["loss"] == 0 for h in logs),
        "nonfinite_losses_logged": sum(not math.isfinite(h["loss"]) for h in logs),
        "eval_bad": sum(not math.isfinite(h["eval_loss"]) for h in evals) if evals else "no eval",
        "logged_losses": [h["loss"] for h in logs], "logged_grads": [h["grad_norm"] for h in logs],
    }


PATTERN_PLAN = {"nolearn_randlabels": 5, "nolearn_frozen": 5, "nolearn_brokenfeat": 5, "collapse": 6,
                "blowup_epoch0": 6, "unstable": 6, "hf_nonfinite": 10}
PATTERN_FORMATS = ("keras_csv", "history_json", "jsonl", "custom_csv", "fastai_csv")
PATTERN_VERDICT = {"nolearn_randlabels": "not_learning", "nolearn_frozen": "not_learning",
                   "nolearn_brokenfeat": "not_learning", "collapse": "cramming", "blowup_epoch0": "diverged",
                   "unstable": "diverged", "hf_nonfinite": "diverged"}


def pattern_job(args):
    pattern, seed = args
    cfg, what = draw_pattern(pattern, seed)
    return pattern, seed, cfg, what, train(cfg)


def make_patterns(out: Path) -> list[dict]:
    """Train every failure-pattern run, write it to ``out`` and return its labels.csv rows."""
    jobs = [(p, s) for p, n in PATTERN_PLAN.items() for s in range(n)]
    rows, unlabelled = [], []
    with ProcessPoolExecutor() as ex:
        for pattern, seed, cfg, what, h in ex.map(pattern_job, jobs):
            extra = None
            if pattern == "hf_nonfinite":
                name, fmt = f"{pattern}_s{seed}_trainer_state.json", "hf_trainer_state"
                train_only = seed % 3 == 2 and not cfg.fp32_eval
                extra = write_trainer_state(out / name, cfg, h, with_eval=not train_only)
                if train_only:
                    fmt = "hf_trainer_state_train_only"
                # judged on the cadence of the logs: logged (filtered) loss, validation where logged
                tl = extra["logged_losses"]
                vl, va = (h["val_loss"], h["val_acc"]) if not train_only else (tl, None)  # train-only: the loss is all it shows
            else:
                fmt = PATTERN_FORMATS[seed % len(PATTERN_FORMATS)]
                if pattern == "collapse" and fmt == "fastai_csv":
                    fmt = "keras_csv"
                name = f"{pattern}_s{seed}.{EXT[fmt]}"
                write_epoch_log(out / name, fmt, h)
                tl, vl, va = h["loss"], h["val_loss"], h["val_accuracy"]
            n, line = summarise(cfg, tl, vl, va)
            if extra is not None:
                lg = extra["logged_grads"]
                line += (f" | HF log: {len(lg)} train logs, grad_norm non-finite in {extra['bad_grads']} "
                         f"(from epoch {_g(extra['first_bad_grad_epoch'])}), {extra['zero_losses']} losses exactly 0, "
                         f"{extra['nonfinite_losses_logged']} non-finite losses logged, eval_loss non-finite: {extra['eval_bad']}")
            verdict, onset, why = judge(pattern, n, extra)
            ambiguous = verdict is None
            if name in HUMAN:
                verdict, why, *given = HUMAN[name]
                onset = given[0] if given else onset
                ambiguous = True
            if verdict != PATTERN_VERDICT[pattern] and not (name in HUMAN and len(HUMAN[name]) > 2):
                onset = None
            print(f"{name}: {'AMBIGUOUS ' if ambiguous else ''}{verdict} -- {why}\n    {line}", flush=True)
            if verdict is None:
                unlabelled.append(name)
                continue
            rows.append({
                "file": name, "verdict": verdict,
                "onset": "" if onset is None else f"{onset:g}",
                "format": fmt, "dataset": cfg.dataset, "seed": seed, "cause": what,
                "config": json.dumps({k: v for k, v in asdict(cfg).items() if v != getattr(Config(), k)}),
                "pattern": pattern, "ambiguous": int(ambiguous), "note": why, "summary": line,
            })
    if unlabelled:
        raise SystemExit(f"no label for {unlabelled}: read their summaries above and add them to HUMAN")
    return rows


def job(args):
    cause, seed, per_step = args
    cfg, what = draw(cause, seed)
    if per_step:
        cfg.eval_every = 25
        cfg.epochs = max(10, min(cfg.epochs, 60))
    h = train(cfg)
    return cause, seed, per_step, cfg, what, h


FIELDS = ("file", "verdict", "onset", "format", "dataset", "seed", "cause", "config", "pattern", "ambiguous", "note",
          "summary")


def write_labels(rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: r["file"])
    with (HERE / "labels.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(FIELDS), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**{k: r.get(k, "") for k in FIELDS}, "ambiguous": int(str(r.get("ambiguous") or 0) != "0")})


def main_patterns() -> int:
    """Re-make only the failure-pattern runs (issue 10), keeping the original runs and their rows."""
    with (HERE / "labels.csv").open() as f:
        old = list(csv.DictReader(f))
    keep = [r for r in old if not r.get("pattern")]
    for r in old:
        if r.get("pattern"):
            (RUNS / r["file"]).unlink(missing_ok=True)
    rows = make_patterns(RUNS)
    write_labels(keep + rows)
    amb = sum(r["ambiguous"] for r in rows)
    print(f"{len(rows)} pattern runs ({amb} ambiguous, human-labelled) beside {len(keep)} original runs")
    return 0


def main(argv: list[str] | None = None) -> int:
    import shutil

    argv = sys.argv[1:] if argv is None else argv
    if "--patterns" in argv:
        return main_patterns()
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
    rows += make_patterns(out)
    shutil.rmtree(RUNS, ignore_errors=True)
    out.rename(RUNS)
    write_labels(rows)
    kept = {}
    for r in rows:
        kept[r["verdict"]] = kept.get(r["verdict"], 0) + 1
    print(f"kept {len(rows)} runs: {kept}")
    print(f"dropped (curve did not clearly show the cause): {dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
