"""Measure verdict accuracy on the labelled benchmark, beside three baselines.

    python benchmarks/accuracy/run.py             # table for people
    python benchmarks/accuracy/run.py --json      # figures for tools

Prints the confusion matrix, accuracy, macro-F1 and onset-epoch error of
curvediag on benchmarks/accuracy/runs (labels in labels.csv), and the same
figures for three overfitting detectors people use today:

(a) Keras ``EarlyStopping(monitor="val_loss", patience=5)``: "overfitting" when
    it would have stopped the run early (five evaluations without a new minimum).
(b) The SageMaker-Debugger-style Overfit rule: "overfitting" when
    (val_loss - train_loss) / train_loss > 0.1 at any evaluation after the first 10%.
(c) Naive: "overfitting" when the last val_loss is above the minimum val_loss.

Baselines can only say "overfitting" or "healthy"; the binary column compares
everyone on "is something wrong with generalisation" (overfitting or cramming).

Rows of labels.csv with ``ambiguous=1`` carry a human label for a run whose
curves do not clearly show one cause (generate.py keeps them instead of dropping
them).  The headline figures (``curvediag``) are over the *clear* rows, the ones
tests/docs/test_benchmark.py holds at >= 0.95: a label that is a judgment call is not
a target to tune a rule to.  ``curvediag_all`` counts every row, ambiguous ones
included, and ``ambiguous`` the ambiguous rows alone; both are printed beside
it, with accuracy per failure pattern (labels.csv's ``pattern`` column, the
runs issue 10 added) and every miss with curvediag's headline.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LABELS = ("healthy", "overfitting", "cramming", "not_learning", "diverged", "still_improving", "insufficient_data")


def load_labels(path: Path = HERE / "labels.csv") -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def is_ambiguous(row: dict) -> bool:
    return str(row.get("ambiguous") or "0").strip() not in ("", "0")


def _val_train(curves):
    v = curves.get("val_loss")
    t = curves.get("train_loss")
    return v, t


def baseline_early_stopping(curves, patience: int = 5):
    v, _ = _val_train(curves)
    if v is None:
        return "healthy", None
    y = v.y
    best, best_i, wait = np.inf, 0, 0
    for i, val in enumerate(y):
        if val < best:  # NaN compares False: counts as no improvement, as in Keras
            best, best_i, wait = val, i, 0
        else:
            wait += 1
            if wait >= patience:
                return "overfitting", float(v.x[best_i])
    return "healthy", None


def baseline_sagemaker(curves, threshold: float = 0.1):
    v, t = _val_train(curves)
    if v is None or t is None:
        return "healthy", None
    start = int(0.1 * len(v))
    for i in range(start, len(v)):
        tv = float(np.interp(v.x[i], t.x, t.y))
        if tv > 0 and (v.y[i] - tv) / tv > threshold:
            return "overfitting", float(v.x[i])
    return "healthy", None


def baseline_naive(curves):
    v, _ = _val_train(curves)
    if v is None:
        return "healthy", None
    y = v.y
    if np.nanmin(y) < y[-1] or not np.isfinite(y[-1]):
        return "overfitting", float(v.x[int(np.nanargmin(y))])
    return "healthy", None


def scores(truth: list[str], pred: list[str]) -> dict:
    labels = [label for label in LABELS if label in truth or label in pred]
    cm = {a: {b: 0 for b in labels} for a in labels}
    for a, b in zip(truth, pred):
        cm[a][b] += 1
    f1s = []
    for label in labels:
        if label not in truth:
            continue
        tp = cm[label][label]
        fp = sum(cm[a][label] for a in labels) - tp
        fn = sum(cm[label].values()) - tp
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    acc = sum(a == b for a, b in zip(truth, pred)) / len(truth)
    bad = ("overfitting", "cramming")
    bt = [a in bad for a in truth]
    bp = [b in bad for b in pred]
    tp = sum(a and b for a, b in zip(bt, bp))
    prec = tp / sum(bp) if sum(bp) else 0.0
    rec = tp / sum(bt) if sum(bt) else 0.0
    return {
        "accuracy": acc,
        "macro_f1": float(np.mean(f1s)),
        "binary_f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0,
        "confusion": cm,
        "labels": labels,
    }


def evaluate(runs_dir: Path = HERE / "runs", labels: list[dict] | None = None) -> dict:
    import curvediag
    from curvediag.api import load_curves

    labels = labels if labels is not None else load_labels()
    truth, pred, amb, patterns = [], [], [], []
    base = {"early_stopping": [], "sagemaker_overfit": [], "naive_last_gt_min": []}
    onset_hits, onset_total, misses = 0, 0, []
    for row in labels:
        path = runs_dir / row["file"]
        rep = curvediag.diagnose(path)
        curves = load_curves(path)
        truth.append(row["verdict"])
        pred.append(rep.verdict)
        amb.append(is_ambiguous(row))
        patterns.append(row.get("pattern") or "")
        if rep.verdict != row["verdict"]:
            misses.append((row["file"], row["verdict"], rep.verdict, amb[-1], rep.headline))
        base["early_stopping"].append(baseline_early_stopping(curves)[0])
        base["sagemaker_overfit"].append(baseline_sagemaker(curves)[0])
        base["naive_last_gt_min"].append(baseline_naive(curves)[0])
        if row["verdict"] in ("overfitting", "cramming", "diverged") and row["onset"] and not amb[-1]:
            onset_total += 1
            true_onset = float(row["onset"])
            ref = curves.get("val_loss") or curves.get("train_loss")  # a train-only log: its only loss
            length = float(ref.x[-1] - ref.x[0])
            step = float(np.median(np.diff(ref.x))) if len(ref) > 1 else 1.0
            tol = max(2 * step, 0.05 * length)
            if rep.verdict == row["verdict"] and rep.onset_epoch is not None and abs(rep.onset_epoch - true_onset) <= tol:
                onset_hits += 1
    clear = [not a for a in amb]
    def pick(xs, keep):
        return [x for x, k in zip(xs, keep) if k]

    out = {"runs": len(labels), "clear_runs": sum(clear), "ambiguous_runs": sum(amb),
           "curvediag": scores(pick(truth, clear), pick(pred, clear)), "curvediag_all": scores(truth, pred),
           "misses": misses}
    out["ambiguous"] = scores(pick(truth, amb), pick(pred, amb)) if any(amb) else None
    out["curvediag"]["onset_within_tolerance"] = onset_hits / onset_total if onset_total else None
    out["onset_runs"] = onset_total
    per = {}
    for name in sorted(set(patterns) - {""}):
        keep = [q == name for q in patterns]
        t, q, a = pick(truth, keep), pick(pred, keep), pick(amb, keep)
        right = [x == y for x, y in zip(t, q)]
        per[name] = {"runs": len(t), "right": sum(right), "clear_runs": a.count(False),
                     "clear_right": sum(r for r, x in zip(right, a) if not x)}
    out["patterns"] = per
    for name, p in base.items():
        out[name] = scores(pick(truth, clear), pick(p, clear))
    return out


def table(res: dict) -> str:
    lines = []
    cd = res["curvediag_all"]
    labels = cd["labels"]
    short = {label: label[:8] for label in labels}
    lines.append(f"curvediag on {res['runs']} labelled runs, {res['ambiguous_runs']} of them ambiguous "
                 "(rows: label, columns: verdict; every run)")
    lines.append("")
    lines.append("| label | " + " | ".join(short[b] for b in labels) + " |")
    lines.append("|---|" + "---|" * len(labels))
    for a in labels:
        if sum(cd["confusion"][a].values()) == 0:
            continue
        lines.append(f"| {a} | " + " | ".join(str(cd["confusion"][a][b]) for b in labels) + " |")
    cd = res["curvediag"]
    lines.append("")
    lines.append(f"On the {res['clear_runs']} clear runs (ambiguous ones left out):")
    lines.append("")
    lines.append("| detector | accuracy | macro-F1 | overfitting-or-cramming F1 | onset within tolerance |")
    lines.append("|---|---|---|---|---|")
    onset = cd["onset_within_tolerance"]
    lines.append(
        f"| curvediag | {cd['accuracy']:.3f} | {cd['macro_f1']:.3f} | {cd['binary_f1']:.3f} | "
        f"{'-' if onset is None else f'{onset:.3f}'} ({res['onset_runs']} runs) |"
    )
    names = {
        "early_stopping": "Keras EarlyStopping(patience=5)",
        "sagemaker_overfit": "SageMaker Overfit rule (ratio > 0.1)",
        "naive_last_gt_min": "naive last val_loss > min",
    }
    for key, name in names.items():
        s = res[key]
        lines.append(f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} | {s['binary_f1']:.3f} | - |")
    lines.append("")
    amb = res["ambiguous"]
    lines.append(f"curvediag accuracy: clear runs {cd['accuracy']:.3f} ({res['clear_runs']}), every run "
                 f"{res['curvediag_all']['accuracy']:.3f} ({res['runs']}), ambiguous runs "
                 f"{'-' if amb is None else format(amb['accuracy'], '.3f')} ({res['ambiguous_runs']})")
    if res["patterns"]:
        lines.append("")
        lines.append("| failure pattern (issue 10) | right / runs | clear runs right |")
        lines.append("|---|---|---|")
        tot = [0, 0, 0, 0]
        for name, p in res["patterns"].items():
            lines.append(f"| {name} | {p['right']} / {p['runs']} | {p['clear_right']} / {p['clear_runs']} |")
            tot = [tot[0] + p["right"], tot[1] + p["runs"], tot[2] + p["clear_right"], tot[3] + p["clear_runs"]]
        lines.append(f"| all patterns | {tot[0]} / {tot[1]} ({tot[0] / tot[1]:.3f}) | "
                     f"{tot[2]} / {tot[3]} ({tot[2] / max(tot[3], 1):.3f}) |")
    if res["misses"]:
        lines.append("")
        lines.append("misses (label -> verdict: curvediag's headline):")
        for f, a, b, ambiguous, headline in res["misses"]:
            lines.append(f"- {f}{' [ambiguous]' if ambiguous else ''}: {a} -> {b}: {headline}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    res = evaluate()
    if "--json" in argv:
        print(json.dumps({k: v for k, v in res.items()}, indent=2, default=str))
    else:
        print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
