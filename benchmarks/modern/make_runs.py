"""Train the small runs tests/data/modern/trained/ holds (torch, CPU, a few seconds each), each with one
cause induced, and write them as Hugging Face ``trainer_state.json`` files (fractional ``epoch``, ``step``,
``loss`` averaged over ``logging_steps``, ``grad_norm``, ``learning_rate``, ``eval_loss`` each epoch).

    python benchmarks/modern/make_runs.py [OUT_DIR]     # default tests/data/modern/trained

The runs (``EXPECT`` says what each detector must say about each):
  staircase_memorise  random features with a learnable teacher and 30% noisy labels, a wide MLP, 6 epochs:
                      the training loss steps down at each boundary while the eval loss still falls early
  staircase_overfit   pure random labels, 8 epochs: steps at every boundary, eval loss rising
  stream_no_staircase the same model on fresh samples every epoch (nothing to memorise): no steps
  spike_recovered     one corrupted batch (inputs x30) at step 300: a spike that recovers
  spike_lingered      the learning rate x100 for 10 steps at step 300: the loss settles higher
  spike_diverged      the learning rate ramped x10 per 20 steps from step 300: it never comes back
  healthy_per_step    the plain run: no spike, no staircase
"""

from __future__ import annotations

import json
import math
import os
import sys

import torch
from torch import nn

D, K = 32, 10


def _data(n: int, noise: float, seed: int, teacher: torch.Tensor):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    y = (x @ teacher).argmax(1)
    flip = torch.rand(n, generator=g) < noise
    y[flip] = torch.randint(0, K, (int(flip.sum()),), generator=g)
    return x, y


def train(name: str, *, epochs: int, noise: float, stream: bool = False, width: int = 512, n: int = 800,
          batch: int = 16, lr: float = 1e-3, log_every: int = 2, corrupt_at: int | None = None,
          lr_burst: tuple[int, int, float] | None = None, lr_ramp: int | None = None, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    teacher = torch.randn(D, K, generator=torch.Generator().manual_seed(99))
    xtr, ytr = _data(n, noise, seed + 1, teacher)
    xev, yev = _data(400, noise, seed + 2, teacher)
    model = nn.Sequential(nn.Linear(D, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, K))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lossf = nn.CrossEntropyLoss()
    steps_per_epoch = n // batch
    log: list[dict] = []
    step, acc_loss, acc_g, acc_n = 0, 0.0, 0.0, 0
    g = torch.Generator().manual_seed(seed + 3)
    for ep in range(epochs):
        if stream:
            xtr, ytr = _data(n, noise, seed + 100 + ep, teacher)
        perm = torch.randperm(n, generator=g)
        model.train()
        for b in range(steps_per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            xb, yb = xtr[idx], ytr[idx]
            if corrupt_at is not None and step == corrupt_at:
                xb = xb * 30.0
            cur = lr
            if lr_burst and lr_burst[0] <= step < lr_burst[0] + lr_burst[1]:
                cur = lr * lr_burst[2]
            if lr_ramp is not None and step >= lr_ramp:
                cur = lr * 10 ** ((step - lr_ramp) / 20)
            for pg in opt.param_groups:
                pg["lr"] = cur
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")))
            opt.step()
            step += 1
            acc_loss += float(loss.detach())
            acc_g += gn
            acc_n += 1
            if step % log_every == 0:
                log.append({"epoch": round(ep + (b + 1) / steps_per_epoch, 4), "grad_norm": acc_g / acc_n,
                            "learning_rate": cur, "loss": round(acc_loss / acc_n, 4), "step": step})
                acc_loss, acc_g, acc_n = 0.0, 0.0, 0
        model.eval()
        with torch.no_grad():
            ev = float(lossf(model(xev), yev))
        log.append({"epoch": float(ep + 1), "eval_loss": round(ev, 4), "step": step})
    return {"best_metric": None, "best_model_checkpoint": None, "epoch": float(epochs), "global_step": step,
            "log_history": log, "logging_steps": log_every, "max_steps": step, "num_train_epochs": epochs,
            "save_steps": 100, "train_batch_size": batch, "_made_by": f"benchmarks/modern/make_runs.py {name}"}


RUNS = {
    "staircase_memorise": dict(epochs=6, noise=0.3),
    "staircase_overfit": dict(epochs=8, noise=1.0),
    "stream_no_staircase": dict(epochs=6, noise=0.3, stream=True),
    "spike_recovered": dict(epochs=3, noise=0.0, n=3200, log_every=1, corrupt_at=300, stream=True),
    "spike_lingered": dict(epochs=3, noise=0.0, n=3200, log_every=1, lr_burst=(300, 10, 100.0), stream=True),
    "spike_diverged": dict(epochs=3, noise=0.0, n=3200, log_every=1, lr_ramp=300, stream=True),
    "healthy_per_step": dict(epochs=3, noise=0.0, n=3200, log_every=1, stream=True),
}

#: what each detector must say: (M101 fires, its eval judgement or None) and R101's outcomes
EXPECT = {
    "staircase_memorise": {"M101": True, "R101": ()},
    "staircase_overfit": {"M101": True, "R101": ()},
    "stream_no_staircase": {"M101": False, "R101": ()},
    "spike_recovered": {"M101": False, "R101": ("recovered",)},
    "spike_lingered": {"M101": False, "R101": ("lingered",)},
    "spike_diverged": {"M101": False, "R101": ("diverged",)},
    "healthy_per_step": {"M101": False, "R101": ()},
}


def main(out: str) -> None:
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for name, kw in RUNS.items():
        state = train(name, **kw)
        for e in state["log_history"]:
            for k, v in list(e.items()):
                if isinstance(v, float) and not math.isfinite(v):
                    e[k] = None if k != "loss" else v
        with open(os.path.join(out, f"{name}_trainer_state.json"), "w") as f:
            json.dump(state, f, indent=1)
        print(name, state["global_step"], "steps")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "modern", "trained"))
