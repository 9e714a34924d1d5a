"""Is the projection honest?  Cut real runs short, project, compare with what happened.

    python benchmarks/projection_coverage.py            # the table
    python benchmarks/projection_coverage.py --json     # the same figures for tools
    python benchmarks/projection_coverage.py --list     # also every projected cut

Every log in ``../shared/real_logs`` that loads (source "real") and every committed
benchmark run in ``benchmarks/accuracy/runs`` (source "benchmark") is cut at 50%,
60% and 70% of the judged loss's points (val_loss, else the only loss).  The cut
curve — smoothed again, as if the run had stopped there — is projected to the
run's true last position, and compared with the truth: the smoothed actual loss
there (a Theil-Sen line through the last few points, read at the last one).

Printed per source and overall:

- **coverage**: how often the truth falls inside the interval (nominal: the
  interval's level, ``projection.LEVEL``);
- **MAE change**: the median absolute error of the projected relative change
  (percentage points of the level at the cut), beside that of predicting "no
  change" and the median true change, so the figure can be read;
- **width**: the median width of the interval (percentage points);
- **refused**: how often it refused to project, with the reasons counted
  (turned up, too short, too noisy ...).

The method's constants (``projection.WIDEN`` and the rest) are set once for all
runs together, never per file.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REAL = ROOT.parent / "shared" / "real_logs"
RUNS = HERE / "accuracy" / "runs"
CUTS = (0.5, 0.6, 0.7)
NOT_LOGS = {"SOURCES.md", "LABELS.md", "LABELS.json"}


def _files():
    if REAL.is_dir():
        for p in sorted(REAL.rglob("*")):
            if p.is_file() and p.name not in NOT_LOGS:
                yield "real", p
    for p in sorted(RUNS.iterdir()):
        if p.is_file():
            yield "benchmark", p


def _truth(x, y) -> float:
    """The smoothed level at the last point: a Theil-Sen line through the last few points."""
    import numpy as np

    from curvediag import stats

    m = max(3, min(9, stats.window_for(y.size)))
    xs, ys = x[-m:], y[-m:]
    i, j = np.triu_indices(xs.size, 1)
    slope = float(np.median((ys[j] - ys[i]) / (xs[j] - xs[i])))
    return float(np.median(ys - slope * (xs - xs[-1])))


def evaluate() -> dict:
    import numpy as np

    from curvediag.analysis import Context, Track
    from curvediag.api import load_curves
    from curvediag.curves import Series
    from curvediag.errors import InputError
    from curvediag.projection import LEVEL, judged_track, project_track

    rows = []
    unreadable = 0
    for source, path in _files():
        try:
            curves = load_curves(str(path))
        except (InputError, Exception):  # noqa: BLE001 - a log that does not load is not counted
            unreadable += 1
            continue
        ctx = Context(curves)
        full = judged_track(ctx)
        if full is None or full.n < 4:
            continue
        truth = _truth(full.x, full.y)
        end = float(full.x[-1])
        for cut in CUTS:
            m = int(round(cut * full.n))
            if m < 2 or m >= full.n:
                continue
            s = Series(full.name, full.column, full.x[:m].copy(), full.y[:m].copy())
            t = Track.of(s)
            mid = float(t.x[-1]) + 0.5 * (end - float(t.x[-1]))
            p = project_track(t, ctx.axis_word, positions=(mid, end))
            row = {"source": source, "file": str(path.relative_to(path.parents[1])), "cut": cut,
                   "points": int(m), "projected": p.projected, "reason": p.reason}
            if p.projected:
                h = p.horizon_100
                true_change = truth / p.at_end - 1.0
                row.update({
                    "value": h.value, "low": h.low, "high": h.high, "truth": truth,
                    "inside": bool(h.low <= truth <= h.high),
                    "change": h.change, "true_change": true_change,
                    "err": abs(h.change - true_change), "err_flat": abs(true_change),
                    "width": h.change_high - h.change_low, "family": p.family,
                })
            rows.append(row)

    def summary(sel):
        pro = [r for r in sel if r["projected"]]
        reasons = Counter(_reason_kind(r["reason"]) for r in sel if not r["projected"])
        out = {"cuts": len(sel), "runs": len({r["file"] for r in sel}), "projected": len(pro),
               "refused": (len(sel) - len(pro)) / len(sel) if sel else float("nan"),
               "refusals": dict(reasons)}
        if pro:
            out.update({
                "coverage": float(np.mean([r["inside"] for r in pro])),
                "below": float(np.mean([r["truth"] < r["low"] for r in pro])),
                "above": float(np.mean([r["truth"] > r["high"] for r in pro])),
                "mae_change": float(np.median([r["err"] for r in pro])),
                "mae_flat": float(np.median([r["err_flat"] for r in pro])),
                "median_true_change": float(np.median([r["true_change"] for r in pro])),
                "median_width": float(np.median([r["width"] for r in pro])),
            })
        return out

    result = {"level": LEVEL, "unreadable": unreadable, "groups": {}}
    for name, sel in (("real", [r for r in rows if r["source"] == "real"]),
                      ("benchmark", [r for r in rows if r["source"] == "benchmark"]),
                      ("overall", rows)):
        result["groups"][name] = summary(sel)
    result["rows"] = rows
    return result


def _reason_kind(reason: str | None) -> str:
    if reason is None:
        return "-"
    for key in ("turned up", "too short", "too uncertain", "not positive", "diverged", "non-finite"):
        if key in reason:
            return key
    return "other"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT / "src"))
    res = evaluate()
    if "--json" in argv:
        print(json.dumps({k: v for k, v in res.items() if k != "rows" or "--list" in argv}, indent=2))
        return 0
    lvl = res["level"]
    print(f"Projection to the true end of runs cut at {', '.join(f'{c:.0%}' for c in CUTS)} "
          f"(nominal interval {lvl:.0%})\n")
    print("| source | runs | cuts | projected | coverage | below / above | MAE change | MAE 'no change' "
          "| median true change | median width | refused |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, g in res["groups"].items():
        if not g["projected"]:
            print(f"| {name} | {g['runs']} | {g['cuts']} | 0 | - | - | - | - | - | - | {g['refused']:.0%} |")
            continue
        print(f"| {name} | {g['runs']} | {g['cuts']} | {g['projected']} | {g['coverage']:.2f} | "
              f"{g['below']:.2f} / {g['above']:.2f} | {g['mae_change'] * 100:.1f} pp | {g['mae_flat'] * 100:.1f} pp | "
              f"{g['median_true_change'] * 100:+.1f}% | {g['median_width'] * 100:.1f} pp | {g['refused']:.0%} |")
    print()
    for name, g in res["groups"].items():
        print(f"refusals ({name}): " + (", ".join(f"{k} {v}" for k, v in sorted(g["refusals"].items())) or "none"))
    if res["unreadable"]:
        print(f"({res['unreadable']} files did not load and are not counted)")
    if "--list" in argv:
        print()
        for r in res["rows"]:
            if r["projected"]:
                mark = "in " if r["inside"] else "OUT"
                print(f"{mark} {r['source']:9} {r['file']:60} cut {r['cut']:.0%}: change {r['change'] * 100:+6.1f}% "
                      f"[{(r['value'] and r['low'] / r['value'] * (1 + r['change']) - 1) * 100:+6.1f}, "
                      f"{(r['high'] / r['value'] * (1 + r['change']) - 1) * 100:+6.1f}] true {r['true_change'] * 100:+6.1f}% "
                      f"({r['family']})")
            else:
                print(f"--  {r['source']:9} {r['file']:60} cut {r['cut']:.0%}: {r['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
