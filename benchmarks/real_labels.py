"""Verdict accuracy on real training logs read by a person.

    python benchmarks/real_labels.py               # accuracy, confusion, every disagreement
    python benchmarks/real_labels.py --json        # the same figures for tools
    python benchmarks/real_labels.py --all         # also list the low-confidence and unclear ones

Reads ``../shared/real_logs/LABELS.json`` (protocol in ``LABELS.md`` beside it:
one person's reading of each log from its numbers and a plot, without running
curvediag), diagnoses every log with the default settings, and prints:

- accuracy on the high + medium confidence labels (the figure the project is
  judged on), and on high alone;
- the confusion matrix (rows: the person's label, columns: curvediag's verdict);
- every disagreement, with the label's evidence beside curvediag's headline, so
  a reader can see *why* the two readings differ.

This is a development set.  Use it to find where the rules read a curve
differently from a person; change the rule for the pattern, not for one file.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "real_logs"
ORDER = ("diverged", "not_learning", "cramming", "overfitting", "still_improving", "healthy",
         "insufficient_data", "unclear")


def evaluate(real: Path = REAL) -> dict:
    import curvediag

    labels = json.loads((real / "LABELS.json").read_text())
    rows = []
    for lab in labels:
        path = real / lab["file"]
        try:
            rep = curvediag.diagnose(path)
            verdict, headline = rep.verdict, rep.headline
        except Exception as e:  # an error is a disagreement, shown as such
            verdict, headline = "error", f"{type(e).__name__}: {e}"
        rows.append({**lab, "curvediag": verdict, "headline": headline})
    scored = [r for r in rows if r["confidence"] in ("high", "medium") and r["verdict"] != "unclear"]
    high = [r for r in scored if r["confidence"] == "high"]
    low = [r for r in rows if r not in scored]

    def acc(rs):
        return sum(r["curvediag"] == r["verdict"] for r in rs) / len(rs) if rs else float("nan")

    return {
        "logs": len(rows),
        "scored": len(scored),
        "accuracy_high_medium": acc(scored),
        "accuracy_high": acc(high),
        "agreement_low_unclear": acc([r for r in low if r["verdict"] != "unclear"]),
        "rows": rows,
    }


def confusion(rows) -> str:
    truth = [v for v in ORDER if any(r["verdict"] == v for r in rows)]
    pred = [v for v in ORDER + ("error",) if any(r["curvediag"] == v for r in rows)]
    w = max(len(v) for v in truth) + 1
    cols = [p[:9] for p in pred]
    out = [" " * w + " | " + " | ".join(f"{c:>9}" for c in cols)]
    for t in truth:
        cells = [sum(1 for r in rows if r["verdict"] == t and r["curvediag"] == p) for p in pred]
        out.append(f"{t:<{w}} | " + " | ".join(f"{c:>9}" for c in cells))
    return "\n".join(out)


def report(res: dict, show_all: bool = False) -> str:
    rows = res["rows"]
    scored = [r for r in rows if r["confidence"] in ("high", "medium") and r["verdict"] != "unclear"]
    lines = [
        f"real logs: {res['logs']}, scored (high + medium confidence): {res['scored']}",
        f"accuracy (high + medium): {res['accuracy_high_medium']:.3f}",
        f"accuracy (high):          {res['accuracy_high']:.3f}",
        f"agreement on low-confidence labels (not scored): {res['agreement_low_unclear']:.3f}",
        "",
        "confusion on the scored logs (rows: label, columns: curvediag)",
        confusion(scored),
        "",
    ]
    shown = rows if show_all else scored
    wrong = [r for r in shown if r["curvediag"] != r["verdict"]]
    lines.append(f"disagreements ({len(wrong)}):")
    for r in wrong:
        lines.append(f"- {r['file']}  [{r['confidence']}] label {r['verdict']}, curvediag {r['curvediag']}")
        lines.extend(textwrap.wrap("label: " + r["evidence"], 110, initial_indent="    ", subsequent_indent="      "))
        lines.extend(textwrap.wrap("curvediag: " + r["headline"], 110, initial_indent="    ",
                                   subsequent_indent="      "))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not (REAL / "LABELS.json").is_file():
        print(f"real_labels: {REAL / 'LABELS.json'} not found (../shared beside the repository)", file=sys.stderr)
        return 2
    res = evaluate()
    if "--json" in argv:
        print(json.dumps({k: v for k, v in res.items()}, indent=1))
    else:
        print(report(res, "--all" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
