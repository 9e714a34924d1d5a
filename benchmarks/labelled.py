"""The labelled runs the verdict benchmarks score: two development sets and the committed corpus.

Shared by ``benchmarks/verdicts.py`` and ``benchmarks/prefixes.py``:

- ``real``:   ``../shared/real_logs``  (LABELS.json; protocol in LABELS.md beside it), 66 public logs;
- ``real2``:  ``../shared/real_logs2`` (LABELS.json), the second development set, labelled blind;
- ``corpus``: ``benchmarks/accuracy`` (labels.csv), runs we trained with a known cause.

A run is *scored* when its label is sure: confidence high or medium (and not ``unclear``) in the real
sets, ``ambiguous=0`` in the corpus.  Every run is still replayed by the robustness and prefix figures.

``onset`` is the 0-based position, in the log's sequence of evaluations, of the last good point before
overfitting, cramming or divergence (LABELS.md's ``onset_epoch``); the corpus's step logs give it as a
step and :func:`onset_position` converts it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared"
SETS = {
    "real": SHARED / "real_logs",
    "real2": SHARED / "real_logs2",
    "corpus": HERE / "accuracy",
}
#: a person would fail the run in CI: the gate should exit 1 exactly for these
BAD = ("overfitting", "cramming", "not_learning", "diverged")
ORDER = ("diverged", "not_learning", "cramming", "overfitting", "still_improving", "healthy",
         "insufficient_data", "unclear")
_STEP_FORMATS = ("hf_trainer_state", "hf_trainer_state_train_only", "step_csv")


@dataclass
class Case:
    set: str
    file: str  # relative to the set's folder (the corpus: to runs/)
    path: Path
    label: str
    confidence: str  # high / medium / low (the corpus: high for a clear run, low for an ambiguous one)
    scored: bool
    onset: float | None  # 0-based position, or (onset_is_x) a value on the log's axis
    onset_is_x: bool = False
    evidence: str = ""
    extra: dict = field(default_factory=dict)


def available(name: str) -> bool:
    root = SETS[name]
    return (root / ("labels.csv" if name == "corpus" else "LABELS.json")).is_file()


def load(name: str) -> list[Case]:
    """The labelled runs of one set, in the labels file's order."""
    root = SETS[name]
    out = []
    if name == "corpus":
        with (root / "labels.csv").open() as f:
            for r in csv.DictReader(f):
                amb = str(r.get("ambiguous") or "0").strip() not in ("", "0")
                onset = float(r["onset"]) if r.get("onset") else None
                out.append(Case(name, r["file"], root / "runs" / r["file"], r["verdict"], "low" if amb else "high",
                                not amb, onset, r.get("format") in _STEP_FORMATS,
                                r.get("note") or r.get("cause") or "", {"pattern": r.get("pattern") or ""}))
        return out
    for r in json.loads((root / "LABELS.json").read_text()):
        scored = r["confidence"] in ("high", "medium") and r["verdict"] != "unclear"
        out.append(Case(name, r["file"], root / r["file"], r["verdict"], r["confidence"], scored,
                        r.get("onset_epoch"), False, r.get("evidence", "")))
    return out


def subsample(cases: list[Case], n: int | None) -> list[Case]:
    """``n`` of ``cases``, evenly spread over the list (all of them when ``n`` is None)."""
    if n is None or n >= len(cases):
        return cases
    return [cases[round(i * (len(cases) - 1) / max(n - 1, 1))] for i in range(n)]


def onset_position(case: Case, eval_x) -> int | None:
    """The labelled onset as a 0-based position among the evaluations at ``eval_x``."""
    if case.onset is None:
        return None
    if not case.onset_is_x:
        return int(case.onset)
    for i, x in enumerate(eval_x):
        if x >= case.onset - 1e-9:
            return i
    return len(eval_x) - 1
