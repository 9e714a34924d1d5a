"""A small numpy MLP that really trains, logging per-epoch curves like Keras.

Used by make_samples.py (the bundled sample logs) to produce *real* training
curves with induced causes: too little data and no regularisation, noisy
labels, learning rates far too small or too large, ...  Deterministic for a
given seed.  Needs scikit-learn only for its bundled datasets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Config:
    dataset: str = "digits"       # digits | wine | breast_cancer | moons | regression
    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"      # relu | tanh
    optimizer: str = "adam"       # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    dropout: float = 0.0
    epochs: int = 50
    batch: int = 32
    train_size: int | None = None  # subsample the training set
    label_noise: float = 0.0       # share of training labels replaced at random
    init_scale: float = 1.0        # multiplies He/Xavier init; 0 gives a dead network
    clip: float | None = None
    lr_growth: float = 1.0         # lr multiplied by this after every epoch (a runaway schedule)
    eval_every: int = 0            # > 0: per-step log, validation every this many steps
    raw_inputs: bool = False       # skip the input standardisation (digits: pixels 0-16, not 0-1)
    input_scale: float = 1.0       # multiplies every input feature (after any standardisation)
    features: str = "real"         # real | random (noise unrelated to the labels) | constant: a broken extractor
    freeze: str = ""               # "" | "all_but_last": only the output layer trains (a frozen random extractor)
    dtype: str = "float64"         # float64 | float16 (forward and backward in half precision, fp64 master weights)
    skip_nonfinite: bool = False   # skip the update when a gradient is non-finite (as a dynamic loss scaler does)
    fp32_eval: bool = False        # with float16: evaluate in full precision (only training runs in half)
    label_smoothing: float = 0.0   # cross-entropy against (1 - e) one-hot + e / K, for training and validation
    seed: int = 0


def load(dataset: str, seed: int, raw: bool = False):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if dataset == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        X = X if raw else X / 16.0
    elif dataset == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif dataset == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif dataset == "moons":
        X, y = datasets.make_moons(n_samples=1500, noise=0.3, random_state=seed)
    elif dataset == "regression":
        X, y = datasets.make_regression(n_samples=1500, n_features=20, n_informative=10, noise=20.0, random_state=seed)
        y = y / y.std()
    else:
        raise ValueError(dataset)
    Xtr, Xva, ytr, yva = train_test_split(X, y, test_size=0.3, random_state=seed)
    mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-8
    if dataset != "digits" and not raw:
        Xtr, Xva = (Xtr - mu) / sd, (Xva - mu) / sd
    return Xtr, Xva, ytr, yva


def train(cfg: Config) -> dict[str, list]:
    """Train and return Keras-style history: loss, val_loss (+ accuracy, val_accuracy).

    With ``eval_every`` the history is per step instead: ``step``/``train_loss``/
    ``grad_norm``/``lr``/``epoch`` for every batch (the loss and gradient norm as computed,
    NaN/inf included) and ``val_step``/``val_loss``/``val_acc`` every ``eval_every`` steps.
    """
    rng = np.random.default_rng(cfg.seed)
    Xtr, Xva, ytr, yva = load(cfg.dataset, cfg.seed, cfg.raw_inputs)
    if cfg.features != "real":
        frng = np.random.default_rng(cfg.seed + 7919)  # its own stream: the other draws stay as they were
        if cfg.features == "random":
            Xtr, Xva = frng.normal(size=Xtr.shape), frng.normal(size=Xva.shape)
        elif cfg.features == "constant":
            Xtr, Xva = np.ones_like(Xtr), np.ones_like(Xva)
        else:
            raise ValueError(cfg.features)
    if cfg.input_scale != 1.0:
        Xtr, Xva = Xtr * cfg.input_scale, Xva * cfg.input_scale
    regression = cfg.dataset == "regression"
    if cfg.train_size:
        idx = rng.choice(len(Xtr), size=min(cfg.train_size, len(Xtr)), replace=False)
        Xtr, ytr = Xtr[idx], ytr[idx]
    k = 1 if regression else int(max(ytr.max(), yva.max()) + 1)
    if cfg.label_noise and not regression:
        ytr = ytr.copy()
        flip = rng.random(len(ytr)) < cfg.label_noise
        ytr[flip] = rng.integers(0, k, flip.sum())
    sizes = (Xtr.shape[1], *cfg.hidden, k)
    W, b = [], []
    for i, (a, c) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = np.sqrt(2.0 / a) if cfg.activation == "relu" else np.sqrt(1.0 / a)
        W.append(rng.normal(0, gain * cfg.init_scale, (a, c)))
        b.append(np.zeros(c))
    params = W + b
    trainable = [True] * len(params)
    if cfg.freeze == "all_but_last":
        trainable = [i == len(W) - 1 or i == 2 * len(W) - 1 for i in range(len(params))]
    elif cfg.freeze:
        raise ValueError(cfg.freeze)
    half = cfg.dtype == "float16"
    if half:
        Xtr, Xva = Xtr.astype(np.float16), Xva.astype(np.float16)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0

    def act(z):
        return np.maximum(z, 0) if cfg.activation == "relu" else np.tanh(z)

    def dact(z, a):
        return (z > 0).astype(float) if cfg.activation == "relu" else 1 - a * a

    def forward(X, train=False, low=None):
        low = half if low is None else low
        hs, zs, masks = [X], [], []
        h = X
        Ws, bs = (W, b) if not low else ([w.astype(np.float16) for w in W], [c.astype(np.float16) for c in b])
        for i in range(len(W) - 1):
            z = h @ Ws[i] + bs[i]
            h = act(z)
            mask = None
            if train and cfg.dropout:
                mask = (rng.random(h.shape) >= cfg.dropout) / (1 - cfg.dropout)
                h = h * mask
            zs.append(z)
            masks.append(mask)
            hs.append(h)
        out = h @ Ws[-1] + bs[-1]
        return out, hs, zs, masks

    def loss_and_grad(out, y):
        with np.errstate(all="ignore"):
            if regression:
                d = out[:, 0] - y
                return float(np.mean(d * d)), (2 * d / len(y))[:, None], None
            z = out - out.max(1, keepdims=True)
            lse = np.log(np.exp(z).sum(1, keepdims=True))
            logp = z - lse
            p = np.exp(logp)
            if cfg.label_smoothing:
                e = cfg.label_smoothing
                tgt = np.full(out.shape, e / out.shape[1])
                tgt[np.arange(len(y)), y] += 1 - e
                loss = float(-(tgt * logp).sum(1).mean())
                g = p - tgt
            else:
                loss = float(-logp[np.arange(len(y)), y].mean())
                g = p.copy()
                g[np.arange(len(y)), y] -= 1
            acc = float((out.argmax(1) == y).mean())
            return loss, g / len(y), acc

    hist: dict[str, list[float]] = {"loss": [], "val_loss": []}
    if not regression:
        hist["accuracy"], hist["val_accuracy"] = [], []
    steps: dict[str, list] = {"step": [], "train_loss": [], "grad_norm": [], "lr": [], "epoch": [],
                              "val_step": [], "val_loss": [], "val_acc": []}
    per_epoch = -(-len(Xtr) // cfg.batch)

    def evaluate():
        with np.errstate(all="ignore"):
            if half and cfg.fp32_eval:
                out, *_ = forward(Xva.astype(float), low=False)
            else:
                out, *_ = forward(Xva)
            return loss_and_grad(out, yva)
    lr = cfg.lr
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(Xtr))
        tot, tot_acc, seen = 0.0, 0.0, 0
        for s in range(0, len(order), cfg.batch):
            bi = order[s : s + cfg.batch]
            X, y = Xtr[bi], ytr[bi]
            with np.errstate(all="ignore"):
                out, hs, zs, masks = forward(X, train=True)
                loss, g, acc = loss_and_grad(out, y)
                tot += loss * len(bi)
                tot_acc += (acc or 0.0) * len(bi)
                seen += len(bi)
                gW, gb = [None] * len(W), [None] * len(b)
                if half:
                    g = g.astype(np.float16)
                for i in range(len(W) - 1, -1, -1):
                    prod = hs[i].T @ g  # in half precision when half: it is this product that overflows
                    gW[i] = (prod.astype(float) if half else prod) + cfg.weight_decay * W[i]
                    gb[i] = g.sum(0)
                    if i:
                        g = g @ (W[i].T.astype(np.float16) if half else W[i].T)
                        if masks[i - 1] is not None:
                            g = g * masks[i - 1]
                        g = g * dact(zs[i - 1], act(zs[i - 1]))
                grads = [q.astype(float) for q in gW + gb] if half else gW + gb
                grads = [q if tr else np.zeros_like(q) for q, tr in zip(grads, trainable)]
                norm = np.sqrt(sum(float((q * q).sum()) for q, tr in zip(grads, trainable) if tr))
                if cfg.clip and norm > cfg.clip:
                    grads = [q * (cfg.clip / norm) for q in grads]
                t += 1
                if cfg.eval_every:
                    steps["step"].append(t)
                    steps["train_loss"].append(loss)
                    steps["grad_norm"].append(norm)
                    steps["lr"].append(lr)
                    steps["epoch"].append(t / per_epoch)
                    if t % cfg.eval_every == 0:
                        vl, _, va = evaluate()
                        steps["val_step"].append(t)
                        steps["val_loss"].append(vl)
                        steps["val_acc"].append(va)
                skip = cfg.skip_nonfinite and not np.isfinite(norm)
                for j, (p, q) in enumerate(zip(params, grads)):
                    if not trainable[j] or skip:
                        continue
                    if cfg.optimizer == "adam":
                        m[j] = 0.9 * m[j] + 0.1 * q
                        v[j] = 0.999 * v[j] + 0.001 * q * q
                        mh, vh = m[j] / (1 - 0.9**t), v[j] / (1 - 0.999**t)
                        p -= lr * mh / (np.sqrt(vh) + 1e-8)
                    else:
                        m[j] = cfg.momentum * m[j] + q
                        p -= lr * m[j]
        lr *= cfg.lr_growth
        vloss, _, vacc = evaluate()
        hist["loss"].append(tot / seen)
        hist["val_loss"].append(vloss)
        if not regression:
            hist["accuracy"].append(tot_acc / seen)
            hist["val_accuracy"].append(vacc)
    if cfg.eval_every:
        return steps
    return hist
