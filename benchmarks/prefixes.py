"""The judgement live: every labelled run replayed prefix by prefix, as a callback sees it.

    python benchmarks/prefixes.py                 # every set: real, real2, corpus
    python benchmarks/prefixes.py --set corpus    # one set (repeat --set for several)
    python benchmarks/prefixes.py --json

Callbacks, ``watch``, the Optuna pruner and the Ray stopper judge a run before it ends.  For every
labelled run of the development sets and the committed corpus (``benchmarks/labelled.py``) this cuts
the run after its 5th, 6th, ... evaluation (the validation loss's points, or the only loss's; every
curve up to that position, as a callback would have received it) and diagnoses each prefix with the
default settings (``curvediag.engine.analyse``, what ``Monitor.check`` runs).  On a long log the
prefixes are subsampled: every one up to the 20th evaluation and the 8 after the labelled onset, then at
most 15 more, evenly spaced, and the whole run (the lateness below is then exact to the sampling step,
printed per run).  A run labelled diverged, overfitting, cramming or not_learning is judged until its
verdict first says so; a run labelled healthy or still_improving on every sampled prefix.  It prints:

- false alarms: the share of runs labelled healthy or still_improving whose verdict on some prefix is
  an error-level one (diverged, not_learning, cramming; goal 0), each listed with the prefix length and
  the headline; and, beside it, the runs with an error-level *finding* on a prefix (what
  ``stop_on=("not_learning",)`` would stop on even when the verdict is milder);
- lateness: for runs labelled diverged, overfitting or cramming, how many evaluations after the labelled
  onset (``onset_epoch``, a 0-based position; or after the 5th evaluation, the first judged, when the onset
  is earlier) the prefix verdict first says so (median per label and
  overall; goal: median <= 2, diverged <= 1), per run, with the runs it never says so on any prefix.
  A negative lateness is a verdict given before the labelled onset (the corpus's generate.py runs give a
  divergence's onset as its first non-finite value, where a growing learning rate has often blown the loss
  up several evaluations earlier).  Beside it: how soon any failing verdict is given, and when runs labelled
  not_learning are first called so.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled import BAD, SETS, Case, available, load, onset_position, subsample  # noqa: E402
from verdicts import cut_at, evaluations  # noqa: E402

FIRST = 5  # evaluations before the first prefix is judged
DENSE = 20  # every prefix up to this many evaluations
SPARSE = 15  # at most this many more on a long log
ERROR_VERDICTS = ("diverged", "not_learning", "cramming")
GOOD = ("healthy", "still_improving")
LATE = ("diverged", "overfitting", "cramming")


def lengths(n: int, onset: int | None) -> list[int]:
    """The prefix lengths (numbers of evaluations) to judge on a run of ``n`` evaluations: the whole
    run always among them."""
    keep = set(range(FIRST, min(n, DENSE) + 1)) | {n}
    if n > DENSE:
        span = n - DENSE
        k = min(SPARSE, span)
        keep.update(DENSE + round(span * (i + 1) / k) for i in range(k))
    if onset is not None:
        keep.update(range(max(FIRST, onset + 1), min(n, onset + 9) + 1))
    return sorted(p for p in keep if FIRST <= p <= n)


def replay(case: Case) -> dict:
    from curvediag.api import load_curves
    from curvediag.config import Settings
    from curvediag.engine import analyse

    out = {"set": case.set, "file": case.file, "label": case.label, "confidence": case.confidence,
           "scored": case.scored, "prefixes": []}
    try:
        curves = load_curves(case.path)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        return out
    settings = Settings()
    ev = evaluations(curves)
    if ev is None:
        out["error"] = "no loss or accuracy curve"
        return out
    ev = [float(x) for x in ev]
    onset = onset_position(case, ev)
    out["evaluations"], out["onset"] = len(ev), onset
    first_only = case.label in LATE + ("not_learning",)  # only when the verdict first says so
    for k in lengths(len(ev), onset):
        if first_only and out["prefixes"] and out["prefixes"][-1]["verdict"] == case.label:
            break
        try:
            rep = analyse(cut_at(curves, ev[k - 1]), settings)
        except Exception as e:
            out["prefixes"].append({"n": k, "x": ev[k - 1], "verdict": f"error: {type(e).__name__}",
                                    "headline": str(e)[:120], "error_findings": []})
            continue
        errs = sorted({f"{f.code} {f.verdict or ''}".strip() for f in rep.findings if f.severity == "error"})
        # what a callback acts on: stop_reason() stops only on a sure verdict (confidence >= report.SURE)
        from curvediag.report import SURE

        sure = rep.confidence is None or rep.confidence >= SURE
        out["prefixes"].append({"n": k, "x": ev[k - 1], "verdict": str(getattr(rep.verdict, "value", rep.verdict)),
                                "headline": rep.headline, "sure": sure,
                                "error_findings": errs})
    return out


def summarise(rows: list[dict]) -> dict:
    good = [r for r in rows if r["label"] in GOOD and r["prefixes"]]
    alarms, finding_alarms, stops = [], [], []
    for r in good:
        hit = next((p for p in r["prefixes"] if p["verdict"] in ERROR_VERDICTS or p["verdict"].startswith("error")), None)
        if hit:
            alarms.append({"file": r["file"], "label": r["label"], "scored": r["scored"], "n": hit["n"],
                           "of": r["evaluations"], "verdict": hit["verdict"], "headline": hit["headline"],
                           "prefixes_alarmed": sum(1 for p in r["prefixes"] if p["verdict"] in ERROR_VERDICTS)})
        stop = next((p for p in r["prefixes"] if p["verdict"] in ERROR_VERDICTS and p.get("sure", True)), None)
        if stop:
            stops.append({"file": r["file"], "label": r["label"], "n": stop["n"], "of": r["evaluations"],
                          "verdict": stop["verdict"]})
        fh = next((p for p in r["prefixes"] if p["error_findings"]), None)
        if fh:
            finding_alarms.append({"file": r["file"], "label": r["label"], "n": fh["n"], "of": r["evaluations"],
                                   "findings": fh["error_findings"], "verdict": fh["verdict"]})
    scored_good = [r for r in good if r["scored"]]
    late = []
    for r in rows:
        if r["label"] not in LATE or not r["prefixes"]:
            continue
        first = next((p for p in r["prefixes"] if p["verdict"] == r["label"]), None)
        flagged = next((p for p in r["prefixes"] if p["verdict"] in BAD), None)
        i = [p["n"] for p in r["prefixes"]]
        late.append({"file": r["file"], "label": r["label"], "scored": r["scored"], "onset": r.get("onset"),
                     "of": r["evaluations"], "first": None if first is None else first["n"] - 1,
                     "lateness": None if first is None or r.get("onset") is None else first["n"] - 1 - _from(r),
                     "flagged_lateness": None if flagged is None or r.get("onset") is None
                     else flagged["n"] - 1 - _from(r),
                     "step": None if first is None else _gap(i, first["n"]),
                     "final": r["prefixes"][-1]["verdict"] if first is None else r["label"]})

    def med(xs):
        return statistics.median(xs) if xs else None

    timed = [x for x in late if x["lateness"] is not None]
    flagged = [x["flagged_lateness"] for x in late if x["flagged_lateness"] is not None]
    nl = [r for r in rows if r["label"] == "not_learning" and r["prefixes"]]
    nl_first = [next((p["n"] for p in r["prefixes"] if p["verdict"] == "not_learning"), None) for r in nl]
    return {
        "good_runs": len(good), "good_scored": len(scored_good),
        "false_alarm_share": len(alarms) / len(good) if good else None,
        "false_alarm_share_scored": (sum(1 for a in alarms if a["scored"]) / len(scored_good)) if scored_good else None,
        "false_alarms": alarms,
        "stop_share": len(stops) / len(good) if good else None,
        "stops": stops,
        "error_finding_share": len(finding_alarms) / len(good) if good else None,
        "error_findings": finding_alarms,
        "late_runs": len(late),
        "lateness_median": med([x["lateness"] for x in timed]),
        "lateness_median_by_label": {lab: med([x["lateness"] for x in timed if x["label"] == lab]) for lab in LATE},
        "never_said": sum(1 for x in late if x["first"] is None),
        "early": sum(1 for x in timed if x["lateness"] < 0),
        "flagged_lateness_median": med(flagged),
        "not_learning_runs": len(nl),
        "not_learning_first_median": med([n for n in nl_first if n is not None]),
        "not_learning_never": sum(1 for n in nl_first if n is None),
        "no_onset": sum(1 for x in late if x["onset"] is None and x["first"] is not None),
        "lateness": late,
        "prefixes_judged": sum(len(r["prefixes"]) for r in rows),
        "unreadable": [{"file": r["file"], "error": r["error"]} for r in rows if "error" in r],
    }


def _from(r: dict) -> int:
    """Where lateness is counted from: the onset, or the first judged prefix's last evaluation if later
    (an onset at evaluation 0 cannot be seen before 5 evaluations have arrived)."""
    return max(r["onset"], FIRST - 1)


def _gap(ns: list[int], n: int) -> int:
    j = ns.index(n)
    return n - ns[j - 1] if j > 0 else 1


def _f(v, fmt=".3f") -> str:
    return "-" if v is None else format(v, fmt)


def text(name: str, s: dict) -> str:
    L = [f"== {name}: {SETS[name]}  ({s['prefixes_judged']} prefixes judged)", "",
         f"false alarms: {_f(s['false_alarm_share'])} of {s['good_runs']} healthy/still_improving runs get an "
         f"error-level verdict on some prefix (scored runs: {_f(s['false_alarm_share_scored'])} of "
         f"{s['good_scored']}; goal 0)"]
    for a in s["false_alarms"]:
        L.append(f"  {a['verdict']} at evaluation {a['n']} of {a['of']} ({a['prefixes_alarmed']} prefixes)  "
                 f"{a['file']} (label {a['label']}{'' if a['scored'] else ', not scored'})")
        L.append(f"      {a['headline'][:150]}")
    L.append(f"of which sure enough to stop training (a callback's stop_on acts only on confidence >= 0.75): "
             f"{_f(s['stop_share'])} of {s['good_runs']}")
    for a in s["stops"]:
        L.append(f"  {a['verdict']} at evaluation {a['n']} of {a['of']}  {a['file']} (label {a['label']})")
    L.append(f"error-level findings on a prefix of a good run (each finding, whatever the verdict's confidence): "
             f"{_f(s['error_finding_share'])} of {s['good_runs']}")
    for a in s["error_findings"]:
        L.append(f"  {', '.join(a['findings'])} at evaluation {a['n']} of {a['of']} (verdict {a['verdict']})  "
                 f"{a['file']}")
    by = s["lateness_median_by_label"]
    L += ["", f"lateness (evaluations after the labelled onset until the prefix verdict says so): median "
          f"{_f(s['lateness_median'], 'g')} over {s['late_runs']} runs; diverged {_f(by['diverged'], 'g')}, "
          f"overfitting {_f(by['overfitting'], 'g')}, cramming {_f(by['cramming'], 'g')}; never said on any prefix: "
          f"{s['never_said']}; said before the onset: {s['early']}",
          f"  any failing verdict (diverged, not_learning, cramming, overfitting) first given: median "
          f"{_f(s['flagged_lateness_median'], 'g')} evaluations after the onset",
          f"  not_learning runs: {s['not_learning_runs']}, first said at evaluation (median) "
          f"{_f(s['not_learning_first_median'], 'g')}, never said: {s['not_learning_never']}"]
    for x in sorted(s["lateness"], key=lambda x: (x["label"], x["lateness"] if x["lateness"] is not None else 1e9)):
        said = "never" if x["first"] is None else f"first at evaluation {x['first'] + 1}"
        lat = "" if x["lateness"] is None else f", lateness {x['lateness']:+d}" + (
            f" (sampled every {x['step']})" if x["step"] and x["step"] > 1 else "")
        L.append(f"  {x['label']:<12} onset {x['onset'] if x['onset'] is not None else '-'} of {x['of']}: {said}{lat}"
                 f", final {x['final']}  {x['file']}{'' if x['scored'] else ' (not scored)'}")
    for u in s["unreadable"]:
        L.append(f"  unreadable: {u['file']}: {u['error']}")
    return "\n".join(L)


def run(names: list[str], jobs: int = 2, sample: int | None = None) -> dict:
    out = {}
    for name in names:
        cases = subsample(load(name), sample)
        if jobs > 1:
            with ProcessPoolExecutor(jobs) as ex:
                rows = list(ex.map(replay, cases, chunksize=2))
        else:
            rows = [replay(c) for c in cases]
        out[name] = {"summary": summarise(rows), "rows": rows}
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", action="append", choices=list(SETS), help="real, real2 or corpus (default: all)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes (default 2)")
    ap.add_argument("--sample", type=int, metavar="N", help="only N runs of each set, spread over it (a smoke test)")
    a = ap.parse_args(argv)
    names = a.set or list(SETS)
    missing = [n for n in names if not available(n)]
    if missing and a.set:
        print(f"prefixes: no labels for {', '.join(missing)}", file=sys.stderr)
        return 2
    for n in missing:
        print(f"prefixes: skipping {n}: {SETS[n]} not found", file=sys.stderr)
    names = [n for n in names if n not in missing]
    res = run(names, a.jobs, a.sample)
    if a.json:
        print(json.dumps({n: res[n]["summary"] for n in names}, indent=1, default=str))
    else:
        print("\n\n".join(text(n, res[n]["summary"]) for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
