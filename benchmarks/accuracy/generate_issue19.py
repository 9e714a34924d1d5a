"""Add the patterns issue 19 names to the labelled benchmark, as really trained runs.

    pip install -e ".[samples]"                              # scikit-learn for the datasets
    python benchmarks/accuracy/generate_issue19.py           # (re)writes the i19_* runs and their rows
    python benchmarks/accuracy/generate_issue19.py --dry-run # train and print the summaries only

Every run trains a small numpy MLP on CPU (a second or two each, seeded: the same numbers on
every machine with the same numpy) with one thing done as people do it in real training:

- ``i19_lr_high``: a constant learning rate too high for the model: the training loss falls for an
  epoch or two, then rises and swings (SGD with momentum, or Adam at 0.05-0.3);
- ``i19_lr_double``: a schedule that doubles the learning rate every epoch from a sensible start: the
  loss falls, then blows up (to NaN with SGD, to a swinging plateau far above its minimum with Adam);
- ``i19_tiny_val``: a validation set of 20-40 examples, so that accuracy moves in quanta of 2.5-5
  points: healthy, still-improving and overfitting runs;
- ``i19_one_epoch``: a large easy dataset, converged inside the first epoch; some log an evaluation
  before training (epoch 0, as Lightning's and Keras' callbacks can), most do not;
- ``i19_early_nan``: the validation loss taken as log() of softmax probabilities held in float16, with
  a big initialisation: while the model is confidently wrong on some validation example (a probability
  under float16's 6e-8) val_loss is infinite, for the first epochs; then normal for the rest;
- ``i19_chance``: a binary task whose inputs a preprocessing bug replaced by a constant (or whose
  labels were shuffled against the inputs): the loss sits at the entropy of the class prior (ln 2 for
  balanced classes) and accuracy at the majority rate;
- ``i19_flat_val``: a big model with weight decay whose validation loss settles at its minimum and
  stays there while the training loss keeps falling;
- ``i19_borderline``: runs that sit between two readings (a val_loss a few percent above its minimum,
  a last quarter still falling a few percent), kept with a human label and a note (``ambiguous=1``).

Labels: each run is labelled by what its numbers show, read as a person would (protocol:
../shared/real_logs/LABELS.md), never by running curvediag.  ``judge()`` writes the label when plain
criteria (with margins, no curvediag code; the rate of fall relative to the current level, as LABELS.md
reads it) show it clearly; every other run has its label in ``HUMAN``,
written after reading the one-line summary this script prints, and is marked ``ambiguous=1`` with the
note.  The summary line is kept in labels.csv's ``summary`` column.
"""

from __future__ import annotations

import csv
import json
import math
import random
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from generate import EXT, FIELDS, RUNS, _ma, write_epoch_log, write_labels  # noqa: E402

PREFIX = "i19_"


@dataclass
class Cfg:
    dataset: str = "digits"  # digits | wine | breast_cancer | moons | regression
    n_samples: int = 1500  # moons and regression: how many examples are drawn
    hidden: tuple[int, ...] = (64,)
    optimizer: str = "adam"  # adam | sgd
    lr: float = 1e-3
    lr_factor: float = 1.0  # the learning rate is multiplied by this after every epoch
    momentum: float = 0.9
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    epochs: int = 30
    batch: int = 32
    train_size: int | None = None
    val_size: int | None = None  # a validation set this small (drawn from the held-out 30%)
    init_scale: float = 1.0
    features: str = "real"  # real | constant (a preprocessing bug) | shuffled (labels shuffled against inputs)
    fp16_naive_eval: bool = False  # validation loss as log() of softmax probabilities held in float16
    eval_before: bool = False  # log an evaluation before the first epoch (epoch 0)
    seed: int = 0


def load(cfg: Cfg):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if cfg.dataset == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X = X / 16.0
    elif cfg.dataset == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif cfg.dataset == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif cfg.dataset == "moons":
        X, y = datasets.make_moons(n_samples=cfg.n_samples, noise=0.3, random_state=cfg.seed)
    elif cfg.dataset == "regression":
        X, y = datasets.make_regression(n_samples=cfg.n_samples, n_features=20, n_informative=10, noise=20.0,
                                        random_state=cfg.seed)
        y = y / y.std()
    else:
        raise ValueError(cfg.dataset)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=cfg.seed)
    if cfg.dataset != "digits":
        mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
        Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd
    rng = np.random.default_rng(cfg.seed + 101)
    if cfg.val_size:
        i = rng.choice(len(Xva), size=cfg.val_size, replace=False)
        Xva, yva = Xva[i], yva[i]
    if cfg.train_size:
        i = rng.choice(len(Xtr), size=min(cfg.train_size, len(Xtr)), replace=False)
        Xtr, ytr = Xtr[i], ytr[i]
    if cfg.features == "constant":
        Xtr, Xva = np.ones_like(Xtr), np.ones_like(Xva)
    elif cfg.features == "shuffled":
        ytr, yva = rng.permutation(ytr), rng.permutation(yva)
    return Xtr, Xva, ytr, yva


def train(cfg: Cfg) -> dict[str, list[float]]:  # noqa: C901 (one training loop, read top to bottom)
    """Keras-style history: loss, val_loss (+ accuracy, val_accuracy), one entry per epoch."""
    rng = np.random.default_rng(cfg.seed)
    Xtr, Xva, ytr, yva = load(cfg)
    reg = cfg.dataset == "regression"
    k = 1 if reg else int(max(ytr.max(), yva.max()) + 1)
    sizes = (Xtr.shape[1], *cfg.hidden, k)
    W = [rng.normal(0, math.sqrt(2.0 / a) * cfg.init_scale, (a, c)) for a, c in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(c) for c in sizes[1:]]
    params = W + b
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]

    def forward(X):
        hs, h = [X], X
        for i in range(len(W) - 1):
            h = np.maximum(h @ W[i] + b[i], 0)
            hs.append(h)
        return h @ W[-1] + b[-1], hs

    def loss_grad(out, y, naive16=False):
        with np.errstate(all="ignore"):
            if reg:
                d = out[:, 0] - y
                return float(np.mean(d * d)), (2 * d / len(y))[:, None], None
            z = out - out.max(1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(1, keepdims=True))
            p = np.exp(logp)
            if naive16:  # log(softmax) taken of probabilities held in half precision: under 6e-8 they are 0
                p16 = p.astype(np.float16).astype(np.float64)
                loss = float(-np.log(p16[np.arange(len(y)), y.astype(int)]).mean())
                return loss, None, float((out.argmax(1) == y).mean())
            tgt = np.zeros(out.shape)
            tgt[np.arange(len(y)), y.astype(int)] = 1.0
            if cfg.label_smoothing:
                tgt = tgt * (1 - cfg.label_smoothing) + cfg.label_smoothing / k
            loss = float(-(tgt * logp).sum(1).mean())
            return loss, (p - tgt) / len(y), float((out.argmax(1) == y).mean())

    def evaluate():
        out, _ = forward(Xva)
        vl, _, va = loss_grad(out, yva, cfg.fp16_naive_eval)
        tout, _ = forward(Xtr)
        tl, _, ta = loss_grad(tout, ytr)
        return tl, vl, ta, va

    hist: dict[str, list[float]] = {"loss": [], "val_loss": []}
    if not reg:
        hist["accuracy"], hist["val_accuracy"] = [], []

    def record(tl, vl, ta, va):
        hist["loss"].append(tl)
        hist["val_loss"].append(vl)
        if not reg:
            hist["accuracy"].append(ta)
            hist["val_accuracy"].append(va)

    if cfg.eval_before:
        record(*evaluate())
    lr, t = cfg.lr, 0
    for _ in range(cfg.epochs):
        order = rng.permutation(len(Xtr))
        tot = acc = seen = 0.0
        for s in range(0, len(order), cfg.batch):
            bi = order[s:s + cfg.batch]
            with np.errstate(all="ignore"):
                out, hs = forward(Xtr[bi])
                loss, g, a = loss_grad(out, ytr[bi])
                tot, acc, seen = tot + loss * len(bi), acc + (a or 0.0) * len(bi), seen + len(bi)
                gW, gb = [None] * len(W), [None] * len(b)
                for i in range(len(W) - 1, -1, -1):
                    gW[i] = hs[i].T @ g + cfg.weight_decay * W[i]
                    gb[i] = g.sum(0)
                    if i:
                        g = (g @ W[i].T) * (hs[i] > 0)
                t += 1
                for j, (p, q) in enumerate(zip(params, gW + gb)):
                    if cfg.optimizer == "adam":
                        m[j] = 0.9 * m[j] + 0.1 * q
                        v[j] = 0.999 * v[j] + 0.001 * q * q
                        p -= lr * (m[j] / (1 - 0.9 ** t)) / (np.sqrt(v[j] / (1 - 0.999 ** t)) + 1e-8)
                    else:
                        m[j] = cfg.momentum * m[j] + q
                        p -= lr * m[j]
        lr *= cfg.lr_factor
        _, vl, _, va = evaluate()
        record(tot / seen, vl, acc / seen, va)
    return hist


# ---- the runs ------------------------------------------------------------------------------

CLS = ("digits", "wine", "breast_cancer", "moons")


def plan() -> list[tuple[str, int, Cfg, str]]:
    """(pattern, seed, config, what was done) for every run."""
    out = []

    def add(pattern: str, seed: int, cfg: Cfg, what: str) -> None:
        cfg.seed = seed
        out.append((pattern, seed, cfg, what))

    for s in range(8):
        r = random.Random(f"i19-lr-high-{s}")
        ds = CLS[s % 4]
        if s % 2:
            cfg = Cfg(dataset=ds, optimizer="adam", lr=r.choice([0.2, 0.3, 0.5]), epochs=r.choice([25, 30, 40]))
        else:
            cfg = Cfg(dataset=ds, optimizer="sgd", lr=r.choice([0.5, 0.8, 1.0, 1.2]), epochs=r.choice([25, 30, 40]))
        add("lr_high", s, cfg, f"{cfg.optimizer} at a constant learning rate {cfg.lr:g}: too high for this model")
    for s in range(6):
        r = random.Random(f"i19-lr-double-{s}")
        ds = CLS[s % 4]
        if s % 2:
            cfg = Cfg(dataset=ds, optimizer="adam", lr=r.choice([1e-4, 2e-4]), lr_factor=r.choice([1.6, 2.0]),
                      epochs=r.choice([20, 24]))
        else:
            cfg = Cfg(dataset=ds, optimizer="sgd", lr=r.choice([0.002, 0.003]), lr_factor=r.choice([1.6, 2.0]),
                      epochs=r.choice([18, 20]))
        add("lr_double", s, cfg, f"{cfg.optimizer}, learning rate {cfg.lr:g} multiplied by {cfg.lr_factor:g} every epoch")
    for s in range(9):
        r = random.Random(f"i19-tiny-val-{s}")
        ds = ("digits", "breast_cancer", "moons")[s % 3]
        vs = r.choice([20, 25, 30, 40])
        kind = ("healthy", "still_improving", "overfitting")[s // 3]
        if kind == "healthy":
            cfg = Cfg(dataset=ds, hidden=(64,), weight_decay=1e-3, lr=3e-3, lr_factor=0.95, epochs=r.choice([80, 120]),
                      val_size=vs)
            what = f"a sensible model trained to convergence, validated on {vs} examples"
        elif kind == "still_improving":
            cfg = Cfg(dataset=ds, optimizer="sgd", momentum=0.0, lr=r.choice([2e-3, 4e-3]), epochs=r.choice([20, 30]),
                      val_size=vs)
            what = f"a small learning rate, stopped early, validated on {vs} examples"
        else:
            cfg = Cfg(dataset=ds, hidden=(256,), train_size=r.choice([40, 60, 100]), lr=3e-3, epochs=r.choice([150, 200]),
                      batch=16, val_size=vs)
            what = f"{cfg.train_size} training examples, a big model, no regularisation, validated on {vs} examples"
        add("tiny_val", s, cfg, what)
    for s in range(6):
        r = random.Random(f"i19-one-epoch-{s}")
        ds = ("moons", "regression")[s % 2]
        cfg = Cfg(dataset=ds, n_samples=r.choice([20000, 30000]), hidden=(32,), lr=3e-3, weight_decay=1e-4,
                  lr_factor=0.9, epochs=r.choice([8, 12, 20]), eval_before=s in (1, 2))
        add("one_epoch", s, cfg, f"{cfg.n_samples} examples of an easy task: converged inside the first epoch"
            + ("; an evaluation logged before training" if cfg.eval_before else ""))
    for s in range(5):
        r = random.Random(f"i19-early-nan-{s}")
        ds = ("digits", "moons", "moons", "breast_cancer", "digits")[s]
        cfg = Cfg(dataset=ds, init_scale=(4.0, 5.0, 4.0, 4.0, 4.0)[s], fp16_naive_eval=True,
                  weight_decay=1e-3, lr=r.choice([1e-3, 2e-3]), lr_factor=0.97, epochs=r.choice([60, 100]))
        add("early_nan", s, cfg, f"initialisation x{cfg.init_scale:g}, validation loss as log() of float16 probabilities: "
            "while the model is confidently wrong on some example, val_loss is infinite")
    for s in range(6):
        ds = ("breast_cancer", "moons")[s % 2]
        feats = ("constant", "shuffled")[(s // 2) % 2]
        cfg = Cfg(dataset=ds, hidden=(8,), features=feats, weight_decay=1e-2, lr=1e-3, epochs=(20, 30, 40)[s % 3],
                  n_samples=2000)
        add("chance", s, cfg, "binary task, inputs replaced by a constant by a preprocessing bug" if feats == "constant"
            else "binary task, labels shuffled against the inputs: nothing to learn")
    for s in range(5):
        r = random.Random(f"i19-flat-val-{s}")
        ds = ("digits", "breast_cancer", "moons", "wine", "digits")[s]
        cfg = Cfg(dataset=ds, hidden=(256,), weight_decay=r.choice([1e-3, 3e-3]), lr=2e-3, lr_factor=0.97,
                  epochs=r.choice([120, 160]), train_size=r.choice([None, 400]))
        add("flat_val", s, cfg, "a big model with weight decay: validation loss settles while the training loss "
            "keeps falling")
    for s in range(6):
        r = random.Random(f"i19-borderline-{s}")
        ds = CLS[s % 4]
        if s % 2:
            cfg = Cfg(dataset=ds, hidden=(128,), train_size=r.choice([200, 300]), weight_decay=3e-4, lr=2e-3,
                      epochs=r.choice([60, 80]))
            what = f"{cfg.train_size} training examples, a mid-sized model, light weight decay"
        else:
            cfg = Cfg(dataset=ds, optimizer="sgd", momentum=0.9, lr=r.choice([2e-3, 3e-3]), lr_factor=0.97,
                      epochs=r.choice([40, 60]))
            what = f"SGD at {cfg.lr:g} decaying 3% per epoch: the fall fades out"
        add("borderline", s, cfg, what)
    return out


# ---- reading the numbers --------------------------------------------------------------------


def _g(x) -> str:
    return "nan" if x is None or not np.isfinite(x) else f"{x:.3g}"


def prior(cfg: Cfg) -> tuple[int, float, float]:
    """(classes K, the validation majority rate, the entropy of the validation class prior)."""
    _, _, _, yva = load(cfg)
    if cfg.dataset == "regression":
        return 1, float("nan"), float("nan")
    p = np.bincount(yva.astype(int)) / len(yva)
    p = p[p > 0]
    return int(len(p)), float(p.max()), float(-(p * np.log(p)).sum())


def summarise(cfg: Cfg, h: dict) -> tuple[dict, str]:
    tl, vl = np.asarray(h["loss"], float), np.asarray(h["val_loss"], float)
    va = np.asarray(h.get("val_accuracy", [np.nan] * vl.size), float)
    k, maj, ent = prior(cfg)
    fin = np.isfinite(vl)
    n = {"n": vl.size, "k": k, "majority": maj, "entropy": ent, "nonfinite_val": int((~fin).sum()),
         "nonfinite_train": int((~np.isfinite(tl)).sum())}
    q = max(2, vl.size // 4)

    def quart(y):
        y = y[np.isfinite(y)]
        return (float(np.mean(y[-2 * q:-q])), float(np.mean(y[-q:]))) if y.size >= 2 * q else (np.nan, np.nan)

    vq, tq = quart(vl), quart(tl)
    imin = int(np.nanargmin(vl)) if fin.any() else -1
    line = (f"n={vl.size} | tl {' '.join(_g(x) for x in tl[:6])} ... min {_g(np.nanmin(tl))}@{int(np.nanargmin(tl))} "
            f"last {_g(tl[-1])}; quarters {_g(tq[0])}->{_g(tq[1])} | vl {' '.join(_g(x) for x in vl[:6])} ... "
            f"min {_g(vl[imin]) if imin >= 0 else 'nan'}@{imin} last {_g(vl[-1])}; quarters {_g(vq[0])}->{_g(vq[1])} "
            f"({_g(100 * (vq[1] / vq[0] - 1))}%)")
    if np.isfinite(va).any():
        line += (f" | va {' '.join(_g(x) for x in va[:4])} ... max {_g(np.nanmax(va))}@{int(np.nanargmax(va))} "
                 f"last {_g(va[-1])} tail {_g(np.nanmean(va[-q:]))} step {_g(_quantum(va))} | majority {_g(maj)} "
                 f"ln-prior {_g(ent)} (K={k})")
    if n["nonfinite_val"] or n["nonfinite_train"]:
        line += f" | non-finite: val {n['nonfinite_val']} (first {int(np.flatnonzero(~fin)[0]) if (~fin).any() else '-'}), train {n['nonfinite_train']}"
    return n, line


def _quantum(va) -> float:
    d = np.abs(np.diff(va[np.isfinite(va)]))
    d = d[d > 1e-9]
    return float(d.min()) if d.size else float("nan")


def _clear(tl, vl, va, ta) -> tuple[str | None, float | None]:
    """The one of healthy / still_improving / overfitting plain criteria show, read as LABELS.md says: the
    fall of the last quarter relative to the current level (not to the whole run's drop)."""
    tl, vl = np.asarray(tl, float), np.asarray(vl, float)
    if vl.size < 8 or not np.isfinite(vl).all():
        return None, None
    vs, ts = _ma(vl), _ma(tl)
    q = max(2, vl.size // 4)
    imin = int(np.argmin(vs))
    rise = (vs[-1] - vs[imin]) / abs(vs[imin])
    fall = (np.mean(vl[-2 * q:-q]) - np.mean(vl[-q:])) / abs(np.mean(vl[-q:]))
    learned = (vs[0] - vs[imin]) / abs(vs[0]) > 0.1
    if learned and rise < 0.03 and abs(fall) < 0.03:
        return "healthy", None
    if learned and fall > 0.05 and imin >= vl.size - 2 and ts[-1] < ts[-q - 1]:
        return "still_improving", None
    acc_kept = va is None or _ma(np.asarray(va, float))[-1] >= np.max(_ma(np.asarray(va, float))) - 0.02
    if rise > 0.15 and ts[-1] < ts[imin] and acc_kept:
        return "overfitting", float(imin)
    return None, None


def judge(pattern: str, cfg: Cfg, h: dict, n: dict) -> tuple[str | None, float | None, str]:
    """The label plain criteria show clearly, its onset, and why; (None, None, why not) otherwise."""
    tl, vl = np.asarray(h["loss"], float), np.asarray(h["val_loss"], float)
    va = np.asarray(h["val_accuracy"], float) if "val_accuracy" in h else None
    ta = np.asarray(h["accuracy"], float) if "accuracy" in h else None
    if pattern in ("lr_high", "lr_double"):
        bad = ~np.isfinite(tl) | (np.abs(tl) > 1e6)
        first_bad = int(np.flatnonzero(bad)[0]) if bad.any() else tl.size
        ts = _ma(np.where(np.isfinite(tl), tl, np.nan), 3)
        i = int(np.nanargmin(ts[:first_bad])) if first_bad > 0 else 0
        # the last good point: before the training loss first exceeds twice its minimum (or turns non-finite)
        lo = int(np.nanargmin(tl[:max(first_bad, 1)]))
        up = [j for j in range(lo + 1, tl.size) if not np.isfinite(tl[j]) or tl[j] > 2 * tl[lo]]
        onset = float(up[0] - 1 if up else lo)
        if bad[first_bad:].all() and first_bad < tl.size:
            return "diverged", onset, f"training loss non-finite or beyond 1e6 from epoch index {first_bad} on"
        tail = tl[-max(2, tl.size // 4):]
        back_up = np.median(tail) > 0.5 * tl[0]  # risen back to the level it started from, not 1e-18 -> 1e-9
        if np.all(np.isfinite(tail)) and back_up and np.median(tail) > 2 * np.nanmin(ts) and np.nanmax(ts[i:]) > 3 * np.nanmin(ts):
            return "diverged", onset, (f"training loss rises from its minimum {_g(np.nanmin(tl))} to a last-quarter median "
                                       f"{_g(np.median(tail))} (x{_g(np.median(tail) / np.nanmin(ts))} the smoothed minimum)")
        return None, None, "no clear blow-up by the plain criteria"
    if pattern == "chance":
        half = vl[vl.size // 2:]
        vah = va[va.size // 2:]
        if np.all(half >= 0.97 * n["entropy"]) and np.mean(vah) <= n["majority"] + 0.03:
            return "not_learning", None, (f"val_loss stays at the prior's entropy {_g(n['entropy'])} (ln 2 = 0.693), "
                                          f"val_acc at the majority rate {_g(n['majority'])}")
        return None, None, "not clearly at chance"
    if pattern == "early_nan":
        fin = np.isfinite(vl)
        k = int(np.argmax(fin))
        if k == 0 or not fin[k:].all():
            return None, None, "no early non-finite stretch that recovers"
        lab, onset = _clear(tl[k:], vl[k:], None if va is None else va[k:], None if ta is None else ta[k:])
        if lab is None:
            return None, None, f"val_loss non-finite for the first {k} evaluations; what follows is not clear"
        return lab, None if onset is None else onset + k, (f"val_loss non-finite (inf) for the first {k} evaluations, "
                                                          f"then finite; what follows is {lab}")
    if pattern == "one_epoch":
        start = 1 if cfg.eval_before else 0
        y = vl[start:]
        q = max(2, y.size // 4)
        flat = abs(np.mean(y[-q:]) / np.mean(y[-2 * q:-q]) - 1) < 0.02 and y[-1] <= 1.05 * y.min()
        good = (va is not None and va[start] > 0.8) or (va is None and y[0] < 0.5)
        if flat and good:
            return "healthy", None, ("converged in the first epoch: val_loss flat within 2% from there, at its minimum, "
                                     + (f"val_acc {_g(va[start])} after one epoch" if va is not None
                                        else f"MSE {_g(y[0])} of a unit-variance target after one epoch"))
        return None, None, "not clearly converged and flat"
    if pattern == "borderline":
        return None, None, "a borderline run: human label"
    lab, onset = _clear(tl, vl, va, ta)
    if lab is None:
        return None, None, "the plain criteria show none of healthy, still_improving, overfitting"
    return lab, onset, {"healthy": "val_loss settled: the last quarter within 3% of the one before, within 3% of its "
                                   "minimum",
                        "still_improving": "val_loss still falling: the last quarter over 5% below the one before "
                                           "(relative to its level), minimum at the end",
                        "overfitting": "val_loss over 15% above its minimum while the training loss falls, accuracy "
                                       "kept"}[lab]


# file -> (verdict, note[, onset[, clear]]): read from the numbers (the summary this script prints, and the
# whole history where the summary was not enough); ambiguous=1 unless ``clear`` is True.
HUMAN: dict[str, tuple] = {
    "i19_lr_high_s0.csv": ("diverged", "SGD at 0.5: training loss falls to 0.211 at epoch 12, then rises and swings "
                           "around 0.4 (2x) to the end while train accuracy falls 0.95->0.79 and val_acc 0.93->0.76: the "
                           "optimisation got worse, not only the generalisation; never blown up, so diverged vs "
                           "overfitting is a judgment call", 12),
    "i19_lr_high_s1.json": ("diverged", "Adam at 0.5: the training loss jumps between 0 and 1-4 from one epoch to the "
                            "next (0.0134, 1.28, 0, 0, 2e-9, 0.541, 0, ..., 4.36) and val_loss between 0 and 10.7, "
                            "while val_acc stays 0.96-1.0: unstable at every epoch (README: 'keeps jumping several-fold "
                            "between evaluations'); a reader of the accuracy alone would call it fine", 1, True),
    "i19_lr_high_s3.csv": ("healthy", "Adam at 0.2 on moons: converged in epoch 1 (train 0.28, val 0.28, val_acc "
                           "~0.89, the ceiling of moons with noise 0.3), flat after; val_loss swings 0.24-0.375 at this "
                           "learning rate and the last quarter averages 13% above the one before, inside that swing"),
    "i19_lr_high_s4.csv": ("not_learning", "SGD at 1.0 on digits: after epoch 0 (val_acc 0.38) the network dies: "
                           "train loss 2.38-2.42 and val_loss ~2.36 (ln 10 = 2.30), accuracy at chance 0.10 for the "
                           "other 24 epochs; the loss rose 12% at epoch 1 (a divergence reading), then never moved"),
    "i19_lr_high_s5.csv": ("overfitting", "Adam at 0.2 on wine: training loss reaches 1e-18 (memorised); val_loss "
                           "swings 6e-5..1.26 over epochs 0-13, then climbs steadily from 1.8e-7 at epoch 13 to 2.08 "
                           "while val_acc stays 0.98: over-confident; the early swings could be read as instability",
                           13),
    "i19_lr_high_s7.jsonl": ("healthy", "Adam at 0.5 on moons: converged in epoch 1 (val_acc ~0.9), then flat with "
                             "swings of +-20% in both losses at this learning rate; no trend up or down", None, True),
    "i19_tiny_val_s2.json": ("healthy", "25 validation examples: val_acc sits at 0.76 (steps of 0.04); val_loss 0.421 "
                             "-> min 0.390 at epoch 16, creeps to 0.407 (+4%) and is flat for the last 80 epochs while "
                             "train loss falls 0.34 -> 0.214: settled; a slight-overfitting reading is possible"),
    "i19_tiny_val_s6.csv": ("overfitting", "20 validation examples (val_acc in steps of 0.05, 0.70-0.80 from epoch 10 "
                            "on): val_loss min 0.904 at epoch 34, then rises slowly to 0.969 at the end (+7%) while "
                            "train loss falls to 0.002; mild", 34),
    "i19_tiny_val_s7.json": ("overfitting", "40 validation examples: val_loss min 0.0473 at epoch 4, then rises to "
                             "0.076 (+60%) while train loss falls to 4e-4; val_acc 1.0 -> 0.975 is one example of 40, "
                             "not a fall in accuracy (not cramming)", 4, True),
    "i19_tiny_val_s8.jsonl": ("overfitting", "20 validation examples: val_loss min 0.164 at epoch 9, then 0.21-0.26 to "
                              "the end (+40%) while train loss falls 0.6 -> 0.044; val_acc 0.95 -> 0.90 is one example "
                              "of 20 (not cramming)", 9, True),
    "i19_one_epoch_s1.csv": ("healthy", "regression, 20000 examples, an evaluation before training: val_loss 4.57 -> "
                             "0.043 after one epoch, then creeps to 0.0134; flat over the last 4 evaluations (0.0136, "
                             "0.0136, 0.0133, 0.0134), 7% below the quarter before"),
    "i19_one_epoch_s3.json": ("healthy", "regression, 30000 examples: val_loss 0.021 after epoch 1, 0.0097 by epoch 7, "
                              "flat after (0.00959-0.00967; the last quarter 5% below the one before)"),
    "i19_one_epoch_s5.csv": ("still_improving", "regression, 20000 examples, 8 epochs: val_loss 0.036 after epoch 1, "
                             "still falling 2-4% an epoch at the end (0.0212, 0.0196, 0.0191, 0.0187)", None, True),
    "i19_flat_val_s1.json": ("overfitting", "breast_cancer, 400 training examples, a big model with weight decay: "
                             "val_loss min 0.0843 at epoch 13, creeps up to 0.092 (+10%) and stays flat there while "
                             "train loss falls 0.41 -> 0.0099 and val_acc 0.971 -> 0.953 (3 examples of 171): mild, "
                             "settled overfitting", 13),
    "i19_flat_val_s2.jsonl": ("healthy", "moons, a big model with weight decay: val_loss 0.312 -> 0.226 by epoch 50, "
                              "flat at its minimum after (0.225-0.227), train loss flat at 0.195-0.2: converged",
                              None, True),
    "i19_early_nan_s3.jsonl": ("healthy", "breast_cancer: val_loss infinite for the first 6 evaluations, then "
                               "finite and falling to 0.277 (minimum at the end); the last quarter only 3.7% below the "
                               "one before, val_acc flat at 0.959 since epoch 14: settled, still creeping down"),
    "i19_borderline_s0.csv": ("still_improving", "digits, SGD with a decaying rate: val_loss still falls 0.255 -> "
                              "0.238 over the last 15 epochs (-7%; the quarter's mean 10% below the one before), "
                              "minimum at the end; the fall fades as the rate decays, healthy is the other reading"),
    "i19_borderline_s1.json": ("still_improving", "wine, 200 examples: val_loss 0.0266 -> 0.0223 over the last "
                               "quarter (-16%), minimum at the end; val_acc at 1.0 since epoch 22, so a reader of the "
                               "accuracy would call it healthy"),
    "i19_borderline_s2.jsonl": ("healthy", "breast_cancer, SGD decaying: val_loss 0.1 -> 0.0987 over the last "
                                "quarter (-1.3%; its mean 3% below the quarter before), val_acc flat at 0.959: "
                                "settled, still creeping down"),
    "i19_borderline_s3.csv": ("still_improving", "moons, 300 examples: val_loss noisy (+-0.01) but falling: "
                              "last-quarter mean 0.265, 6% below the quarter before (0.281), train loss falling too; "
                              "the trend is about twice the noise"),
    "i19_borderline_s4.csv": ("still_improving", "digits, SGD decaying, 40 epochs: val_loss 0.403 -> 0.356 over the "
                              "last quarter (-12%), minimum at the end, val_acc still rising", None, True),
    "i19_borderline_s5.csv": ("still_improving", "wine, 200 examples: val_loss 0.0714 -> 0.066 over the last quarter "
                              "(-8%), minimum at the end", None, True),
}


def job(item):
    pattern, seed, cfg, what = item
    return pattern, seed, cfg, what, train(cfg)


def main(argv: list[str]) -> int:
    dry = "--dry-run" in argv
    items = plan()
    rows, unlabelled = [], []
    with ProcessPoolExecutor(2) as ex:
        results = list(ex.map(job, items))
    for i, (pattern, seed, cfg, what, h) in enumerate(results):
        fmt = FORMATS_CYCLE[i % len(FORMATS_CYCLE)]
        if cfg.dataset == "regression" and fmt == "custom_csv":
            fmt = "keras_csv"
        name = f"{PREFIX}{pattern}_s{seed}.{EXT[fmt]}"
        n, line = summarise(cfg, h)
        verdict, onset, why = judge(pattern, cfg, h, n)
        ambiguous = verdict is None
        if name in HUMAN:
            verdict, why, *given = HUMAN[name]
            onset = given[0] if given else None
            ambiguous = not (len(given) > 1 and given[1])
        print(f"{name}: {'AMBIGUOUS ' if ambiguous else ''}{verdict} onset {onset} -- {why}\n    {what}\n    {line}",
              flush=True)
        if verdict is None:
            unlabelled.append(name)
            continue
        if not dry:
            write_epoch_log(RUNS / name, fmt, h)
        rows.append({"file": name, "verdict": verdict, "onset": "" if onset is None else f"{onset:g}", "format": fmt,
                     "dataset": cfg.dataset, "seed": seed, "cause": what,
                     "config": json.dumps({k: v for k, v in asdict(cfg).items() if v != getattr(Cfg(), k)}),
                     "pattern": PREFIX + pattern, "ambiguous": int(ambiguous), "note": why, "summary": line})
    if unlabelled:
        print(f"no label for {len(unlabelled)}: {unlabelled}: read their summaries and add them to HUMAN")
        return 1
    if dry:
        return 0
    with (HERE / "labels.csv").open() as f:
        keep = [r for r in csv.DictReader(f) if not r["file"].startswith(PREFIX)]
    write_labels(keep + rows)
    print(f"{len(rows)} issue-19 runs ({sum(r['ambiguous'] for r in rows)} ambiguous) beside {len(keep)} others")
    return 0


FORMATS_CYCLE = ("keras_csv", "history_json", "jsonl", "fastai_csv", "custom_csv")
assert FIELDS  # the labels.csv columns generate.py writes

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
