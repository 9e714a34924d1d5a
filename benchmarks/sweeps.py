"""Cost of the sweep integrations per decision: one ``CurvediagPruner.prune`` call (Optuna) and
one ``CurvediagStopper`` call (Ray Tune) after each new evaluation, at 10, 30, 100 and 300
evaluations of a healthy trial, and a call with nothing new (Optuna asks again).

    python benchmarks/sweeps.py [--repeats 5]

Each call feeds the trial's Monitor the new point only and diagnoses the points so far (every
rule); medians over repeats on this machine (shared and noisy): orders of magnitude, not pass/fail.
Needs optuna and ray[tune]; a library that is missing is skipped.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

POINTS = (10, 30, 100, 300)


def curve(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return 0.2 + 2.0 * np.exp(-np.arange(n) / 8) * (1 + 0.02 * rng.standard_normal(n))


def optuna_costs(repeats: int) -> None:
    import optuna

    from curvediag.optuna import CurvediagPruner

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for n in POINTS:
        new, same = [], []
        for _ in range(repeats):
            pruner = CurvediagPruner()
            study = optuna.create_study(pruner=pruner)
            trial = study.ask()
            for step, v in enumerate(curve(n).tolist()):
                trial.report(v, step)
                frozen = study._storage.get_trial(trial._trial_id)
                t = time.perf_counter()
                pruned = pruner.prune(study, frozen)
                dt = time.perf_counter() - t
                assert not pruned
            new.append(dt)
            t = time.perf_counter()
            pruner.prune(study, frozen)
            same.append(time.perf_counter() - t)
        print(f"optuna prune   {n:>4} evaluations: {statistics.median(new) * 1e3:8.2f} ms after a new one, "
              f"{statistics.median(same) * 1e6:8.1f} us with nothing new")


def ray_costs(repeats: int) -> None:
    from curvediag.ray import CurvediagStopper

    for n in POINTS:
        new = []
        for _ in range(repeats):
            stopper = CurvediagStopper()
            for i, v in enumerate(curve(n).tolist(), 1):
                result = {"loss": v * 0.9, "val_loss": v, "training_iteration": i, "time_total_s": i * 0.1,
                          "timestamp": 1_700_000_000 + i, "pid": 1, "done": False, "trial_id": "t"}
                t = time.perf_counter()
                stopped = stopper("t", result)
                dt = time.perf_counter() - t
                assert not stopped
            new.append(dt)
        print(f"ray stopper    {n:>4} evaluations: {statistics.median(new) * 1e3:8.2f} ms per result")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    for name, fn in (("optuna", optuna_costs), ("ray.tune", ray_costs)):
        try:
            __import__(name)
        except ImportError:
            print(f"{name}: not installed, skipped")
            continue
        fn(args.repeats)


if __name__ == "__main__":
    main()
