"""Exact transforms of a log never change its verdict (issue 19, item 6).

Every labelled log of ``../shared/real_logs`` and ``../shared/real_logs2``, every sample log and
every run of the committed benchmark corpus (``benchmarks/accuracy/runs``) is read into its raw
table and written back as a plain CSV: that CSV's verdict is the reference.  Then the same table is
written again, changed in a way that changes nothing a person reads from the curves:

- ``as-csv``: the log itself against that CSV (its table in another format);
- ``x10`` / ``x0.1``: the loss columns multiplied by 10 or 0.1 (loss has no absolute scale);
- ``renamed``: the loss and accuracy columns given other usual names (``loss`` -> ``train_loss``,
  ``val_loss`` -> ``validation_loss``, ``val_accuracy`` -> ``validation_accuracy`` ...; a loss
  head's columns keep their head: ``reg_val_loss`` -> ``val_reg_loss``);
- ``json`` / ``jsonl``: the same table as a JSON list of records, and as JSON Lines;
- ``epoch+1`` / ``epoch+100``: the epoch column renumbered (1-based instead of 0-based, an offset);
- ``twice``: every row written twice, one after the other;
- ``appended``: the whole table written twice, one copy after the other;
- ``twice-in-format``: every record written twice in the log's own format (each line of a CSV or JSON
  Lines log, each element of a Keras history's lists, each ``log_history`` entry of a
  ``trainer_state.json``, each record of a JSON list); compared with the log itself;
- ``split``: each row written as two rows with the same epoch (or step): the training columns, then
  the validation columns (the layout of loggers that write a train row and a val row).

Each must give the reference verdict: 0 flips.  A log that a transform cannot express is skipped for
that transform only (a fastai table as JSON: fastai's unprefixed ``accuracy`` is the validation
accuracy only in its own CSV layout; ``split`` needs an axis column).  The tests skip visibly when
``../shared`` is not beside the repository (the sample and benchmark logs are always there).

``python tests/engine/test_invariance.py [TRANSFORM ...]`` prints every flip (the figures of the metamorphic
benchmark).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SETS = ("real_logs", "real_logs2")
BENCH = REPO / "benchmarks" / "accuracy"

TRANSFORMS = ("as-csv", "x10", "x0.1", "renamed", "json", "jsonl", "epoch+1", "epoch+100", "twice", "split",
              "appended", "twice-in-format")


def labelled(name: str) -> list[Path]:
    d = SHARED / name
    if not (d / "LABELS.json").is_file():
        return []
    return [d / r["file"] for r in json.loads((d / "LABELS.json").read_text())]


def benchmark_runs() -> list[Path]:
    with (BENCH / "labels.csv").open() as f:
        return [BENCH / "runs" / r["file"] for r in csv.DictReader(f)]


def samples() -> list[Path]:
    return sorted(p for p in (REPO / "sample_logs").iterdir() if p.suffix in (".csv", ".json", ".jsonl"))


# ---------------------------------------------------------------------------------------------
# The table of a log, and its transforms


class Table:
    """A log's raw table as plain rows: ``names`` and ``rows`` (dicts; a cell absent where the
    log recorded nothing), the columns read as each canonical curve, its axis columns."""

    def __init__(self, path: Path):
        from curvediag.columns import find_axis, map_columns
        from curvediag.readers import load_table

        raw, _ = load_table(str(path))
        start = max([b for b in raw.boundaries if b > 0], default=0)  # the last of appended runs
        self.fastai = raw.fastai
        self.names = list(raw.names)
        self.rows: list[dict[str, float]] = []
        for i in range(start, raw.rows):
            self.rows.append({n: float(raw.values[n][i]) for n in self.names if raw.present[n][i]})
        mapping = map_columns(self.names, None, unprefixed_metrics_are_validation=raw.fastai)
        self.mapped = {canon: col for canon, (col, _) in mapping.columns.items()}
        self.plain = {canon for canon, (_, how) in mapping.columns.items() if not how}  # read as logged
        self.heads = {h: {canon: col for canon, (col, _) in cols.items()} for h, cols in mapping.heads}
        self.epoch, self.step = find_axis(self.names)

    def loss_columns(self) -> list[str]:
        cols = []
        for canon in ("train_loss", "val_loss"):
            col = self.mapped.get(canon)
            if col:
                cols.extend(col.split("+"))
        return cols

    def csv(self, names=None, rows=None) -> str:
        names, rows = names or self.names, rows if rows is not None else self.rows
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([_cell(r[n]) if n in r else "" for n in names])
        return out.getvalue()


def _cell(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _renamed(t: Table) -> tuple[list[str], list[dict]] | None:
    from curvediag.columns import norm

    taken = {norm(n) for n in t.names}
    new: dict[str, str] = {}
    if t.heads:  # a head's columns keep their head: 'reg_val_loss' -> 'val_reg_loss'
        forms = {"train_loss": "train_{}_loss", "val_loss": "val_{}_loss", "train_acc": "train_{}_accuracy",
                 "val_acc": "val_{}_accuracy"}
        for h, cols in t.heads.items():
            for canon, col in cols.items():
                target = forms[canon].format(h) if canon in forms else None
                if target and norm(target) not in taken and norm(target) != norm(col):
                    new[col] = target
                    taken.add(norm(target))
        return ([new.get(n, n) for n in t.names], [{new.get(k, k): v for k, v in r.items()} for r in t.rows]) if new else None
    for canon, choices in (("train_loss", ("train_loss", "training_loss", "loss")),
                           ("val_loss", ("validation_loss", "val_loss", "valid_loss")),
                           ("train_acc", ("train_accuracy", "train_acc", "accuracy")),
                           ("val_acc", ("validation_accuracy", "val_acc", "val_accuracy"))):
        col = t.mapped.get(canon)
        if not col or "+" in col or canon not in t.plain or (canon.endswith("acc") and t.fastai):
            continue
        target = next((c for c in choices if norm(c) not in taken and norm(c) != norm(col)), None)
        if target:
            new[col] = target
            taken.add(norm(target))
    if not new:
        return None
    return [new.get(n, n) for n in t.names], [{new.get(k, k): v for k, v in r.items()} for r in t.rows]


def transformed(t: Table, kind: str) -> tuple[str, str] | None:
    """(file suffix, content) of the transformed table, or None when the transform does not apply."""
    if kind in ("x10", "x0.1"):
        f = 10.0 if kind == "x10" else 0.1
        cols = set(t.loss_columns())
        if not cols:
            return None
        return ".csv", t.csv(rows=[{k: v * f if k in cols else v for k, v in r.items()} for r in t.rows])
    if kind == "renamed":
        r = _renamed(t)
        return None if r is None else (".csv", t.csv(*r))
    if kind in ("json", "jsonl"):
        if t.fastai:
            return None
        recs = [{n: r[n] for n in t.names if n in r} for r in t.rows]
        if kind == "json":
            return ".json", json.dumps(recs)
        return ".jsonl", "".join(json.dumps(r) + "\n" for r in recs)
    if kind.startswith("epoch+"):
        if t.epoch is None:
            return None
        off = float(kind[len("epoch+"):])
        return ".csv", t.csv(rows=[{k: v + off if k == t.epoch else v for k, v in r.items()} for r in t.rows])
    if kind == "twice":
        return ".csv", t.csv(rows=[r for r in t.rows for _ in range(2)])
    if kind == "appended":  # the whole table written again after itself (a logger opened in append mode)
        return ".csv", t.csv(rows=t.rows + t.rows)
    if kind == "split":
        axis = [c for c in (t.epoch, t.step) if c]
        val = {c for canon in ("val_loss", "val_acc") for c in (t.mapped.get(canon) or "").split("+") if c}
        if not axis or not val:
            return None
        rows = []
        for r in t.rows:
            tr = {k: v for k, v in r.items() if k not in val}
            va = {k: v for k, v in r.items() if k in val or k in axis}
            rows.extend(x for x in (tr, va) if set(x) - set(axis))
        return ".csv", t.csv(rows=rows)
    raise ValueError(kind)


def twice_in_format(path: Path) -> tuple[str, str] | None:
    """(suffix, content): every record of the log written twice in its own format, or None for a
    format this does not write (binary logs, directories, Keras console output ...)."""
    text = path.read_text(errors="replace")
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("log_history"), list):
        return ".json", json.dumps({**obj, "log_history": [e for e in obj["log_history"] for _ in range(2)]})
    if isinstance(obj, dict) and obj and all(isinstance(v, list) for v in obj.values()):
        return ".json", json.dumps({k: [e for e in v for _ in range(2)] for k, v in obj.items()})
    if isinstance(obj, list) and obj and all(isinstance(e, dict) for e in obj):
        return ".json", json.dumps([e for e in obj for _ in range(2)])
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if obj is None and lines and lines[0].lstrip().startswith("{"):
        return ".jsonl", "".join(f"{ln}\n{ln}\n" for ln in lines)
    if obj is None and lines and "," in lines[0] and path.suffix in (".csv", ".log"):
        return path.suffix, lines[0] + "\n" + "".join(f"{ln}\n{ln}\n" for ln in lines[1:])
    return None


#: L103 (loss-at-chance) compares a loss with ln K: the one rule that reads a loss's absolute level, by
#: design (issue 19: "a loss at or above chance is not learning"); the scale transforms judge without it
SCALE_FREE = ("L103",)


def verdict_of(path: Path, ignore: tuple[str, ...] = ()) -> str:
    import curvediag

    return str(curvediag.diagnose(path, ignore=ignore).verdict)


def flips(path: Path, tmp: Path, kinds=TRANSFORMS) -> tuple[str, dict[str, str]]:
    """(the reference verdict, {transform: verdict} for every transform that gave another)."""
    t = Table(path)
    ref = tmp / "reference.csv"
    ref.write_text(t.csv())
    base = verdict_of(ref)
    out = {}
    own = None  # the log itself, read as it is
    for kind in kinds:
        if kind == "as-csv":
            own = own or verdict_of(path)
            if own != base:
                out[kind] = own
            continue
        got = twice_in_format(path) if kind == "twice-in-format" else transformed(t, kind)
        if got is None:
            continue
        suffix, text = got
        p = tmp / f"t_{kind.replace('+', 'p')}{suffix}"
        p.write_text(text)
        v = verdict_of(p)
        want = base
        if kind in ("x10", "x0.1"):
            v, want = verdict_of(p, SCALE_FREE), verdict_of(ref, SCALE_FREE)
        if kind == "twice-in-format":
            want = own = own or verdict_of(path)
        if v != want:
            out[kind] = v
    return base, out


# ---------------------------------------------------------------------------------------------
# Tests


def _ids(paths: list[Path], root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in paths]


@pytest.mark.slow
@pytest.mark.parametrize("name", SETS)
def test_exact_transforms_of_real_logs_never_flip_the_verdict(name, tmp_path):
    paths = labelled(name)
    if not paths:
        pytest.skip(f"{SHARED / name / 'LABELS.json'} not found: ../shared is not beside the repository")
    bad = {}
    for p in paths:
        d = tmp_path / p.name
        d.mkdir()
        base, f = flips(p, d)
        if f:
            bad[p.relative_to(SHARED / name).as_posix()] = (base, f)
    assert not bad, json.dumps(bad, indent=1)


def test_exact_transforms_of_sample_logs_never_flip_the_verdict(tmp_path):
    bad = {}
    for p in samples():
        d = tmp_path / p.name
        d.mkdir()
        base, f = flips(p, d)
        if f:
            bad[p.name] = (base, f)
    assert not bad, json.dumps(bad, indent=1)


@pytest.mark.slow
def test_exact_transforms_of_the_benchmark_corpus_never_flip_the_verdict(tmp_path):
    bad = {}
    for p in benchmark_runs():
        d = tmp_path / p.name
        d.mkdir()
        base, f = flips(p, d)
        if f:
            bad[p.name] = (base, f)
    assert not bad, json.dumps(bad, indent=1)


def test_the_transforms_change_the_file(tmp_path):
    """The transforms are real: each writes a table that differs from the reference as intended."""
    t = Table(REPO / "sample_logs" / "overfitting.csv")
    ref = t.csv()
    for kind in TRANSFORMS:
        if kind in ("as-csv", "twice-in-format"):
            continue
        got = transformed(t, kind)
        assert got is not None, kind
        assert got[1] != ref, kind
    native = twice_in_format(REPO / "sample_logs" / "not_learning.jsonl")
    lines = [ln for ln in (REPO / "sample_logs" / "not_learning.jsonl").read_text().splitlines() if ln.strip()]
    assert native is not None and native[1].splitlines() == [ln for ln in lines for _ in range(2)]
    twice = transformed(t, "twice")[1].splitlines()
    assert len(twice) == 2 * len(ref.splitlines()) - 1
    renamed = transformed(t, "renamed")[1].splitlines()[0].split(",")
    assert "validation_loss" in renamed and "train_loss" in renamed


def main(argv: list[str]) -> int:  # pragma: no cover - the benchmark's printout
    import tempfile

    kinds = tuple(a for a in argv if a in TRANSFORMS) or TRANSFORMS

    groups = [(n, labelled(n), SHARED / n) for n in SETS]
    groups += [("sample_logs", samples(), REPO / "sample_logs"), ("benchmark corpus", benchmark_runs(), BENCH / "runs")]
    for name, paths, root in groups:
        if not paths:
            print(f"{name}: not found (skipped)")
            continue
        counts = dict.fromkeys(kinds, 0)
        shown = []
        with tempfile.TemporaryDirectory() as tmp:
            for i, p in enumerate(paths):
                d = Path(tmp) / str(i)
                d.mkdir()
                try:
                    base, f = flips(p, d, kinds)
                except Exception as e:  # a log the reference cannot be written for: shown
                    shown.append(f"  {p.relative_to(root)}: {type(e).__name__}: {e}")
                    continue
                for k, v in f.items():
                    counts[k] += 1
                    shown.append(f"  {p.relative_to(root)}: {base} -> {v} ({k})")
        print(f"{name}: {len(paths)} logs; flips per transform: "
              + ", ".join(f"{k} {c}" for k, c in counts.items()))
        print("\n".join(shown))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
