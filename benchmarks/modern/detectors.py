"""Each modern-training detector's hits, misses and false alarms on the labelled logs of tests/data/modern/.

    python benchmarks/modern/detectors.py            # a table per detector, then each disagreement

M101 (epoch-staircase): a hit is a log labelled with a staircase that M101 flags; a miss one it does not flag; a
false alarm a log labelled without one that it flags (logs labelled unclear are not scored).  Its eval judgement
(rising / falling / none) is compared where the label gives one.
R101 (spike-triage): per log, whether it has spikes (hit, miss, false alarm as above), and whether the outcomes it
gives (recovered, lingered, diverged, unresolved) are the labelled ones, as sets.
"""

from __future__ import annotations

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "modern")


def score(data: str = DATA) -> dict:
    sys.path.insert(0, os.path.join(HERE, "..", "..", "src"))
    from curvediag import diagnose

    labels = json.load(open(os.path.join(data, "LABELS.json")))
    out: dict = {"M101": {"hit": [], "miss": [], "false_alarm": [], "quiet": [], "eval_agree": [], "eval_disagree": []},
                 "R101": {"hit": [], "miss": [], "false_alarm": [], "quiet": [], "outcome_agree": [],
                          "outcome_disagree": []}}
    for lab in labels:
        r = diagnose(os.path.join(data, lab["file"]))
        f = {x.code: x for x in r.findings}
        name = lab["file"]
        m = f.get("M101")
        if lab["staircase"] is not None:
            key = ("hit" if m else "miss") if lab["staircase"] else ("false_alarm" if m else "quiet")
            out["M101"][key].append(name)
        if m is not None and lab["staircase"] and lab["eval"] is not None:
            said = m.evidence.get("eval")
            out["M101"]["eval_agree" if said == lab["eval"] else "eval_disagree"].append(f"{name}: said {said}, label {lab['eval']}")
        s = f.get("R101")
        want = bool(lab["spikes"])
        out["R101"][("hit" if s else "miss") if want else ("false_alarm" if s else "quiet")].append(name)
        if s is not None and want:
            said = {v for k, v in s.evidence.items() if k.endswith("_outcome")}
            ok = said == set(lab["spikes"])
            out["R101"]["outcome_agree" if ok else "outcome_disagree"].append(
                f"{name}: said {sorted(said)}, label {sorted(set(lab['spikes']))}")
    return out


def main() -> None:
    res = score()
    for code, r in res.items():
        print(f"{code}: hits {len(r['hit'])}, misses {len(r['miss'])}, false alarms {len(r['false_alarm'])}, "
              f"quiet where right {len(r['quiet'])}")
        extra = ("eval_agree", "eval_disagree") if code == "M101" else ("outcome_agree", "outcome_disagree")
        print(f"  {extra[0]}: {len(r[extra[0]])}, {extra[1]}: {len(r[extra[1]])}")
        for k in ("miss", "false_alarm", extra[1]):
            for n in r[k]:
                print(f"  {k}: {n}")


if __name__ == "__main__":
    main()
