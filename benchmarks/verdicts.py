"""How right the verdicts are, and how steady: accuracy, the CI gate, and what may not change them.

    python benchmarks/verdicts.py                   # every set: real, real2, corpus
    python benchmarks/verdicts.py --set real2       # one set (repeat --set for several)
    python benchmarks/verdicts.py --quick           # skip the 1% noise draws
    python benchmarks/verdicts.py --json            # the same figures for tools
    python benchmarks/verdicts.py --all             # also list disagreements on labels not scored

The sets (``benchmarks/labelled.py``): ``real`` (../shared/real_logs) and ``real2``
(../shared/real_logs2), the two development sets of public logs read by a person, and ``corpus``
(benchmarks/accuracy: runs we trained with a known cause).  Labels with confidence high or medium
(the corpus: ``ambiguous=0``) are scored; the rest are replayed but not scored.  For each set it prints:

- accuracy of the verdict on the scored runs (and on every labelled run);
- the gate: ``analyze`` with the default settings exits 1 exactly when the label is overfitting,
  cramming, not_learning or diverged (``curvediag.output.exit_status`` on the library's report, so the
  default ``--fail-on`` and whatever it spares are the CLI's own); the share right, the good runs it
  fails and the bad runs it passes;
- the confusion matrix (rows: label, columns: verdict) and every disagreement (file, label, verdict,
  gate, headline; the report's ``confidence`` and ``alternative`` where it carries them);
- exact transforms, each of which must flip nothing (counts of verdict and gate flips, and the runs;
  and of reports whose best epoch moved, which must not either: one evaluation later for renumbered epochs):
  losses x10 and x0.1; the log rewritten as CSV (against the original), and from that CSV: as JSON and
  JSON Lines, with renamed columns, with renumbered epochs (the axis shifted by one evaluation), with
  every row written twice;
- 1% multiplicative noise on the losses (each point times 1 + 0.01 N(0, 1), 5 fixed seeds): the flip
  rate of the verdict and of the gate, the rate of gate flips where neither the run nor its noisy copy
  is reported borderline (the issue's "no gate flip outside runs reported as borderline"), and the
  runs that flip (skipped by ``--quick``);
- the last evaluation dropped (the run cut at its second-to-last evaluation): flip rate and runs.

Rewritten logs go to a temporary directory, never beside the inputs.  ``real_labels.py`` and
``robustness.py`` are the older, narrower scripts for the first set; this one supersedes them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled import BAD, ORDER, SETS, Case, available, load, subsample  # noqa: E402

SEEDS = 5
NOISE = 0.01
LOSSES = ("train_loss", "val_loss")
EXACT = ("x10", "x0.1", "csv", "json", "jsonl", "renamed", "renumbered", "twice")
#: what each exact transform is compared with: the original log, or the log rewritten as CSV
AGAINST = {"x10": "original", "x0.1": "original", "csv": "original", "json": "csv", "jsonl": "csv",
           "renamed": "csv", "renumbered": "csv", "twice": "csv"}
CANON = {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "accuracy", "val_acc": "val_accuracy",
         "lr": "lr", "grad_norm": "grad_norm"}
RENAMED = {"train_loss": "training_loss", "val_loss": "validation_loss", "train_acc": "train_acc",
           "val_acc": "valid_acc", "lr": "learning_rate", "grad_norm": "gradient_norm"}


# --- one run: its verdict and gate, under every transform ------------------------------------------


def _settings():
    from curvediag.config import Settings

    return Settings()


def _judge(rep, settings) -> tuple[str, int, float | None]:
    """(verdict, exit status, best epoch) of a report, the exit status as ``analyze`` computes it."""
    from curvediag.batch import Batch
    from curvediag.output import exit_status

    verdict = str(getattr(rep.verdict, "value", rep.verdict))  # a plain string: printed and dumped as such
    return verdict, exit_status(Batch((rep.source.path,), (rep,), settings=settings)), rep.best_epoch


def _safe(fn) -> tuple[str, int, float | None]:
    try:
        return fn()
    except Exception as e:  # a transform the tool cannot read is a flip, shown as such
        return f"error: {type(e).__name__}: {str(e)[:80]}", 2, None


def _with(curves, series: dict):
    from curvediag.curves import Curves

    return Curves(curves.source, series, curves.axis_kind)


def scale_losses(curves, f):
    return _with(curves, {k: s.with_xy(s.x, f(k, s.y)) if k in LOSSES else s for k, s in curves.series.items()})


def cut_at(curves, xmax: float):
    out = {}
    for k, s in curves.series.items():
        keep = s.x <= xmax
        out[k] = s.with_xy(s.x[keep], s.y[keep])
    return _with(curves, out)


def evaluations(curves):
    """The x of the run's evaluations: the validation loss's (or accuracy's), else the training loss's."""
    for k in ("val_loss", "val_acc", "train_loss", "train_acc"):
        s = curves.get(k)
        if s is not None:
            return s.x
    return None


def _name(s, renamed: bool) -> tuple[str, object]:
    """The column a rewritten log gives ``s``, and its values: a quality metric or an error rate
    keeps its own column (as logged) so that it is read the same way."""
    if s.as_read and " + " not in s.column and "+" not in s.column:
        return (s.column.upper() if renamed else s.column), s.as_logged()
    return (RENAMED if renamed else CANON)[s.name], s.y


def wide_rows(curves, renamed: bool = False, shift: float = 0.0) -> tuple[list[str], list[dict]]:
    """The curves as one wide table: an axis column and a column per series, a row per position."""
    axis = "step" if curves.axis_kind == "step" else "epoch"
    cols, by_x = [axis], {}
    for s in curves.series.values():
        if len(s) == 0:
            continue
        name, ys = _name(s, renamed)
        cols.append(name)
        for x, y in zip(s.x.tolist(), ys.tolist()):
            by_x.setdefault(x, {})[name] = y
    rows = []
    for x in sorted(by_x):
        r = {axis: x + shift}
        r.update(by_x[x])
        rows.append(r)
    return cols, rows


def _num(v) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v)) if isinstance(v, float) else str(v)


def write_csv(path: Path, cols, rows, twice: bool = False) -> None:
    lines = [",".join(cols)]
    for r in rows:
        line = ",".join(_num(r[c]) if c in r else "" for c in cols)
        lines.extend([line, line] if twice else [line])
    path.write_text("\n".join(lines) + "\n")



def write_json(path: Path, cols, rows, lines: bool) -> None:
    def enc(r):
        # json.dumps writes NaN/Infinity as the bare literals Python's json (and Keras) write
        return json.dumps({c: r[c] for c in cols if c in r})

    if lines:
        path.write_text("\n".join(enc(r) for r in rows) + "\n")
    else:
        path.write_text("[" + ",\n".join(enc(r) for r in rows) + "]\n")


def replay(case: Case, noise: bool = True) -> dict:
    """Diagnose one labelled run and every transform of it."""
    from curvediag.api import diagnose_with_curves
    from curvediag.engine import analyse
    from curvediag.api import diagnose

    import numpy as np

    settings = _settings()
    out = {"set": case.set, "file": case.file, "label": case.label, "confidence": case.confidence,
           "scored": case.scored, "evidence": case.evidence}
    try:
        rep, curves = diagnose_with_curves(case.path, settings=settings)
    except Exception as e:
        out.update(verdict="error", gate=2, headline=f"{type(e).__name__}: {e}", transforms={}, noise=[],
                   drop_last=None)
        return out
    verdict, gate, _ = _judge(rep, settings)
    out.update(verdict=verdict, gate=gate, headline=rep.headline, best_epoch=rep.best_epoch,
               borderline=bool(getattr(rep, "borderline", False)))
    for key in ("confidence", "alternative"):  # carried by reports since issue 19, if at all
        v = getattr(rep, key, None)
        if v is not None:
            out["report_" + key] = v if isinstance(v, (int, float, str)) else str(v)

    def judged(c):
        return _safe(lambda: _judge(analyse(c, settings), settings))

    def judged_noisy(c):
        """(verdict, exit status, borderline) of a noisy copy."""
        try:
            rep = analyse(c, settings)
        except Exception as e:
            return f"error: {type(e).__name__}", 2, False
        v, g, _ = _judge(rep, settings)
        return v, g, bool(getattr(rep, "borderline", False))

    t = {"x10": judged(scale_losses(curves, lambda k, y: y * 10.0)),
         "x0.1": judged(scale_losses(curves, lambda k, y: y * 0.1))}
    ev = evaluations(curves)
    step = float(np.median(np.diff(ev))) if ev is not None and len(ev) > 1 else 1.0
    out["step"] = step
    with tempfile.TemporaryDirectory(prefix="curvediag-verdicts-") as tmp:
        d = Path(tmp)
        cols, rows = wide_rows(curves)
        files = {"csv": d / "log.csv", "json": d / "log.json", "jsonl": d / "log.jsonl",
                 "twice": d / "twice.csv"}
        write_csv(files["csv"], cols, rows)
        write_csv(files["twice"], cols, rows, twice=True)
        write_json(files["json"], cols, rows, lines=False)
        write_json(files["jsonl"], cols, rows, lines=True)
        rcols, rrows = wide_rows(curves, renamed=True)
        files["renamed"] = d / "renamed.csv"
        write_csv(files["renamed"], rcols, rrows)
        ncols, nrows = wide_rows(curves, shift=step)
        files["renumbered"] = d / "renumbered.csv"
        write_csv(files["renumbered"], ncols, nrows)
        for k, p in files.items():
            t[k] = _safe(lambda p=p: _judge(diagnose(p, settings=settings), settings))
    out["transforms"] = t
    out["noise"] = []
    if noise:
        seed0 = zlib.crc32(f"{case.set}/{case.file}".encode())
        for seed in range(SEEDS):
            rng = np.random.default_rng([seed, seed0])
            out["noise"].append(judged_noisy(scale_losses(
                curves, lambda k, y: y * (1.0 + NOISE * rng.standard_normal(y.size)))))
    out["drop_last"] = judged(cut_at(curves, float(ev[-2])))[:2] if ev is not None and len(ev) > 2 else None
    return out


def _replay(args) -> dict:
    return replay(*args)


# --- figures --------------------------------------------------------------------------------------


def gate_right(r: dict) -> bool:
    return (r["gate"] == 1) == (r["label"] in BAD)


def summarise(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["scored"]]
    labelled = [r for r in rows if r["label"] != "unclear"]

    def share(rs, f):
        return sum(1 for r in rs if f(r)) / len(rs) if rs else None

    good = [r for r in scored if r["label"] not in BAD]
    bad = [r for r in scored if r["label"] in BAD]
    s = {
        "runs": len(rows), "scored": len(scored),
        "accuracy": share(scored, lambda r: r["verdict"] == r["label"]),
        "accuracy_high": share([r for r in scored if r["confidence"] == "high"],
                               lambda r: r["verdict"] == r["label"]),
        "accuracy_every_label": share(labelled, lambda r: r["verdict"] == r["label"]),
        "gate_right": share(scored, gate_right),
        "gate_fails_good": share(good, lambda r: r["gate"] == 1),
        "gate_passes_bad": share(bad, lambda r: r["gate"] != 1),
        "good_runs": len(good), "bad_runs": len(bad),
        "confusion": confusion_dict(scored),
    }
    ok = [r for r in rows if r["verdict"] != "error"]
    exact = {}
    for k in EXACT:
        ref = {"original": lambda r: (r["verdict"], r["gate"]), "csv": lambda r: tuple(r["transforms"]["csv"])}[AGAINST[k]]
        flips = [(r["file"], ref(r)[0], r["transforms"][k][0]) for r in ok if r["transforms"][k][0] != ref(r)[0]]
        gflips = [r["file"] for r in ok if r["transforms"][k][1] != ref(r)[1]]
        moved = [r["file"] for r in ok if _moved(r, k)]
        exact[k] = {"against": AGAINST[k], "verdict_flips": len(flips), "gate_flips": len(gflips),
                    "runs": [{"file": f, "from": a, "to": b} for f, a, b in flips],
                    "gate_runs": gflips, "best_epoch_moved": len(moved), "moved_runs": moved}
    s["exact"] = exact
    noisy = [r for r in ok if r["noise"]]
    if noisy:
        draws = sum(len(r["noise"]) for r in noisy)
        runs = []
        for r in noisy:
            to = Counter(v for v, *_ in r["noise"] if v != r["verdict"])
            g = sum(1 for _, x, *_ in r["noise"] if x != r["gate"])
            # a gate flip the report owns up to: the run, or its noisy copy, is reported as borderline
            sure_g = sum(1 for _, x, *b in r["noise"] if x != r["gate"] and not (r.get("borderline") or (b and b[0])))
            if to or g:
                runs.append({"file": r["file"], "verdict": r["verdict"], "flips": sum(to.values()), "to": dict(to),
                             "gate_flips": g, "sure_gate_flips": sure_g, "draws": len(r["noise"]), "label": r["label"],
                             "report_confidence": r.get("report_confidence")})
        s["noise"] = {"runs": len(noisy), "draws": draws,
                      "verdict_flip_rate": sum(x["flips"] for x in runs) / draws,
                      "gate_flip_rate": sum(x["gate_flips"] for x in runs) / draws,
                      "sure_gate_flip_rate": sum(x["sure_gate_flips"] for x in runs) / draws,
                      "runs_sure_gate_flipping": sum(1 for x in runs if x["sure_gate_flips"]),
                      "runs_flipping": sum(1 for x in runs if x["flips"]),
                      "runs_gate_flipping": sum(1 for x in runs if x["gate_flips"]),
                      "flipped": runs}
    dl = [r for r in ok if r["drop_last"] is not None]
    flips = [{"file": r["file"], "from": r["verdict"], "to": r["drop_last"][0], "gate_flip": r["drop_last"][1] != r["gate"],
              "label": r["label"], "report_confidence": r.get("report_confidence")}
             for r in dl if r["drop_last"][0] != r["verdict"] or r["drop_last"][1] != r["gate"]]
    s["drop_last"] = {"runs": len(dl), "verdict_flip_rate": sum(1 for f in flips if f["from"] != f["to"]) / max(len(dl), 1),
                      "gate_flip_rate": sum(1 for f in flips if f["gate_flip"]) / max(len(dl), 1), "flipped": flips}
    return s


def _moved(r: dict, k: str) -> bool:
    """The best epoch a transform reports is not the one it should (the same; one evaluation later for
    renumbered epochs)."""
    got = r["transforms"][k][2]
    ref = r["best_epoch"] if AGAINST[k] == "original" else r["transforms"]["csv"][2]
    if got is None or ref is None:
        return (got is None) != (ref is None)
    want = ref + (r.get("step", 1.0) if k == "renumbered" else 0.0)
    return abs(got - want) > 1e-6 * max(1.0, abs(want))


def confusion_dict(rows: list[dict]) -> dict:
    out: dict = {}
    for r in rows:
        out.setdefault(r["label"], Counter())[r["verdict"]] += 1
    return {k: dict(v) for k, v in out.items()}


def confusion_table(rows: list[dict]) -> str:
    truth = [v for v in ORDER if any(r["label"] == v for r in rows)]
    seen = {r["verdict"] for r in rows}
    pred = [v for v in ORDER if v in seen] + sorted(v for v in seen if v not in ORDER)
    w = max([len(v) for v in truth] + [5]) + 1
    out = [" " * w + " | " + " | ".join(f"{p[:9]:>9}" for p in pred)]
    for t in truth:
        cells = [sum(1 for r in rows if r["label"] == t and r["verdict"] == p) for p in pred]
        out.append(f"{t:<{w}} | " + " | ".join(f"{c:>9}" for c in cells))
    return "\n".join(out)


def _f(v, fmt=".3f") -> str:
    return "-" if v is None else format(v, fmt)


def text(name: str, rows: list[dict], s: dict, show_all: bool) -> str:
    L = [f"== {name}: {SETS[name]}", "",
         f"runs {s['runs']}, scored {s['scored']} (high + medium confidence; the corpus: clear runs)",
         f"accuracy (scored)        {_f(s['accuracy'])}",
         f"accuracy (high / clear)  {_f(s['accuracy_high'])}",
         f"accuracy (every label)   {_f(s['accuracy_every_label'])}",
         f"gate right (scored)      {_f(s['gate_right'])}   fails a good run {_f(s['gate_fails_good'])} "
         f"(of {s['good_runs']}), passes a bad one {_f(s['gate_passes_bad'])} (of {s['bad_runs']})",
         "", "confusion on the scored runs (rows: label, columns: verdict)",
         confusion_table([r for r in rows if r["scored"]]), ""]
    shown = [r for r in rows if (r["scored"] or (show_all and r["label"] != "unclear"))]
    wrong = [r for r in shown if r["verdict"] != r["label"] or not gate_right(r)]
    L.append(f"disagreements ({len(wrong)}{'' if show_all else ', scored runs'}; gate x: the exit status is wrong):")
    for r in wrong:
        doubt = ""
        if "report_confidence" in r:
            doubt = f", confidence {r['report_confidence']}"
        if "report_alternative" in r:
            doubt += f", alternative {r['report_alternative']}"
        g = "" if gate_right(r) else f" gate x (exit {r['gate']})"
        L.append(f"- {r['file']} [{r['confidence']}] label {r['label']}, verdict {r['verdict']}{g}{doubt}")
        if r.get("evidence"):
            L.extend(textwrap.wrap("label: " + r["evidence"], 110, initial_indent="    ",
                                   subsequent_indent="      "))
        L.extend(textwrap.wrap("curvediag: " + (r.get("headline") or ""), 110, initial_indent="    ",
                               subsequent_indent="      "))
    L += ["", "exact transforms (goal: 0 flips)"]
    for k, e in s["exact"].items():
        L.append(f"  {k:<11} vs {e['against']:<8}  verdict flips {e['verdict_flips']:3}   gate flips {e['gate_flips']:3}"
                 f"   best epoch moved {e['best_epoch_moved']:3}")
        for f in e["runs"]:
            L.append(f"      {f['file']}: {f['from']} -> {f['to']}")
        for f in e["gate_runs"]:
            if not any(f == x["file"] for x in e["runs"]):
                L.append(f"      {f}: gate only")
        for f in e["moved_runs"]:
            L.append(f"      {f}: best epoch moved")
    if "noise" in s:
        n = s["noise"]
        L += ["", f"1% noise on the losses, {SEEDS} seeds: verdict flip rate {n['verdict_flip_rate']:.3f} "
              f"({n['runs_flipping']} of {n['runs']} runs), gate flip rate {n['gate_flip_rate']:.3f} "
              f"({n['runs_gate_flipping']} runs); gate flips where neither the run nor its noisy copy is reported "
              f"borderline {n['sure_gate_flip_rate']:.3f} ({n['runs_sure_gate_flipping']} runs)"]
        for f in sorted(n["flipped"], key=lambda f: (-f["flips"], f["file"])):
            c = "" if f["report_confidence"] is None else f", confidence {f['report_confidence']}"
            L.append(f"  {f['flips']}/{f['draws']} {f['verdict']} -> {f['to']}, gate {f['gate_flips']}/{f['draws']}"
                     f" (not borderline {f['sure_gate_flips']})"
                     f"  {f['file']} (label {f['label']}{c})")
    d = s["drop_last"]
    L += ["", f"last evaluation dropped: verdict flip rate {d['verdict_flip_rate']:.3f}, gate flip rate "
          f"{d['gate_flip_rate']:.3f} ({len(d['flipped'])} of {d['runs']} runs change)"]
    for f in d["flipped"]:
        c = "" if f["report_confidence"] is None else f", confidence {f['report_confidence']}"
        L.append(f"  {f['from']} -> {f['to']}{' (gate flips)' if f['gate_flip'] else ''}  {f['file']} "
                 f"(label {f['label']}{c})")
    return "\n".join(L)


def run(names: list[str], noise: bool = True, jobs: int = 2, sample: int | None = None) -> dict:
    out = {}
    for name in names:
        cases = subsample(load(name), sample)
        args = [(c, noise) for c in cases]
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as ex:
                rows = list(ex.map(_replay, args, chunksize=4))
        else:
            rows = [replay(*a) for a in args]
        out[name] = {"summary": summarise(rows), "rows": rows}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", choices=list(SETS), help="real, real2 or corpus (default: all)")
    ap.add_argument("--quick", action="store_true", help="skip the 1%% noise draws")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--all", action="store_true", help="also list disagreements on labels not scored")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    ap.add_argument("--sample", type=int, metavar="N", help="only N runs of each set, spread over it (a smoke test)")
    a = ap.parse_args(argv)
    names = a.set or list(SETS)
    missing = [n for n in names if not available(n)]
    if missing and a.set:
        print(f"verdicts: no labels for {', '.join(missing)} ({', '.join(str(SETS[n]) for n in missing)})",
              file=sys.stderr)
        return 2
    for n in missing:
        print(f"verdicts: skipping {n}: {SETS[n]} not found", file=sys.stderr)
    names = [n for n in names if n not in missing]
    res = run(names, noise=not a.quick, jobs=a.jobs, sample=a.sample)
    if a.json:
        print(json.dumps(res, indent=1, default=str))
    else:
        print("\n\n".join(text(n, res[n]["rows"], res[n]["summary"], a.all) for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
