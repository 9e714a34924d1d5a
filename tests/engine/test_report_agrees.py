"""A report that agrees with itself, on every sample and real log: the values its headline
quotes are the metric table's (or are labelled smoothed), and every position or count of
epochs/steps a message quotes lies inside the log's own axis range (never a count of the
downsampled points a rule works on)."""

from __future__ import annotations

import math
import re

import pytest

from curvediag.api import diagnose_with_curves

from ..conftest import SAMPLES, real_log_files

LOGS = sorted(p for p in SAMPLES.iterdir() if p.suffix != ".md") + real_log_files()
IDS = [p.name for p in LOGS]

NUM = r"-?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?"
_NUMBER = re.compile(rf"(?<![\w.=-]){NUM}")
_POS = re.compile(rf"\b(epoch|step)s? ({NUM})(?:-({NUM}))?")
_COUNT = re.compile(rf"(?<![\w.]){NUM} (epoch|step)s?\b")


def _f(tok: str) -> float:
    return float(tok.replace(",", ""))


def _axis_range(curves) -> tuple[float, float]:
    import numpy as np

    xs = [s.x for s in curves.series.values() if len(s)]
    x = np.concatenate(xs)
    return float(x.min()), float(x.max())


def _step(curves) -> float:
    import numpy as np

    x = max((s.x for s in curves.series.values()), key=len)
    return float(np.median(np.diff(x))) if x.size > 1 else 0.0


def _texts(report) -> list[str]:
    out = [report.headline] + [f.message for f in report.findings]
    if report.projection is not None:
        out.append(report.projection.summary())
    return out


def _table_values(report) -> list[float]:
    vals = []
    for m in report.metrics:
        vals += [v for v in (m.first, m.best, m.last) if v is not None and math.isfinite(v)]
    return vals


def _agrees(tok: str, values: list[float]) -> bool:
    v = _f(tok)
    digits = len(tok.split(".")[1]) if "." in tok and "e" not in tok else 0
    tol = 0.5 * 10 ** -digits * 1.001 if "e" not in tok else abs(v) * 5e-4
    sig = abs(v) * 5e-4  # 4 significant digits
    return any(abs(v - t) <= max(tol, sig) for t in values)


def _smoothed_span(text: str, pos: int) -> bool:
    """``pos`` lies in a stretch labelled smoothed (or an average, a mean): from the label to the
    end of its parenthesis or clause."""
    start = max(text.rfind(";", 0, pos), text.rfind(". ", 0, pos))
    i = max(text.rfind(w, start + 1, pos) for w in ("smoothed", "average", "mean"))
    if i < 0:
        return False
    close = text.find(")", i)
    return close < 0 or close >= pos or text.rfind("(", i, pos) < 0


# words before a number that make it something other than a metric's value
_NOT_A_VALUE = re.compile(
    r"(epochs?|steps?|ln|z=|limit|of|by|rose|fell|gained|changed|than|about|patience=|at least|"
    r"for|over|every|its|the|last|first|another|range|to epoch|chance)\s*$"
)


@pytest.mark.parametrize("path", LOGS, ids=IDS)
def test_headline_values_are_the_tables_or_labelled_smoothed(path):
    report, _ = diagnose_with_curves(path)
    values = _table_values(report)
    h = report.headline
    for m in _NUMBER.finditer(h):
        tok, end = m.group(), m.end()
        if "." not in tok and "e" not in tok:
            continue  # an integer: a count or a class number, not a measured value
        after = h[end:end + 12]
        if re.match(r"(\s*%|x\b|\s*(epoch|step|point|evaluation|class|run|log|head)s?\b|-\d)", after):
            continue  # a share, a ratio, a count, or a span 'epochs 3-9'
        before = h[max(0, m.start() - 14):m.start()]
        if _NOT_A_VALUE.search(before) or before.endswith("-"):
            continue
        if _smoothed_span(h, m.start()):
            continue
        assert _agrees(tok, values), (
            f"{path.name}: headline quotes {tok} ({h!r}), which is none of the metric table's first/best/last "
            f"values {sorted(set(round(v, 4) for v in values))} and is not labelled smoothed")


@pytest.mark.parametrize("path", LOGS, ids=IDS)
def test_positions_and_counts_are_inside_the_axis_range(path):
    report, curves = diagnose_with_curves(path)
    lo, hi = _axis_range(curves)
    length = hi - lo
    step = _step(curves)
    slack = 1e-6 + 0.01 * max(1.0, length)
    for text in _texts(report):
        for m in _POS.finditer(text):
            for tok in (m.group(2), m.group(3)):
                if tok is None:
                    continue
                if text[max(0, m.start() - 8):m.start()].endswith(("another ", "more ")):
                    continue
                v = _f(tok)
                assert lo - slack <= v <= hi + slack, f"{path.name}: {m.group()!r} outside the axis {lo:g}-{hi:g}: {text!r}"
        for m in _COUNT.finditer(text):
            n = _f(m.group().split()[0])
            # a count of epochs (steps) the log covers: at most its axis length (+1: both ends); a
            # projection's 'another N' is the run's length counted from one interval before its first point
            more = step if text[max(0, m.start() - 8):m.start()] == "another " else 0.0
            assert n <= length + 1 + more + slack, f"{path.name}: {m.group()!r} but the axis spans {lo:g}-{hi:g}: {text!r}"


def test_counts_are_in_axis_units_on_a_long_log(write):
    """A 1000-epoch log that rules downsample to 400 points: the message counts 1000 epochs
    (or names the range 0-999), never 400."""
    rows = "\n".join(f"{i},0.64,{5.794 - i * 2e-6:.7f}" for i in range(1000))
    p = write("long.csv", "epoch,acc,loss\n" + rows + "\n")
    report, _ = diagnose_with_curves(p)
    text = " ".join(_texts(report))
    assert report.verdict == "not_learning"
    assert "400" not in text
    assert "epochs 0-999" in text or "1000 epochs" in text or "1,000 epochs" in text


def test_best_at_the_first_evaluation_is_said_so(write):
    rows = "\n".join(f"{i},{1.0 - 0.02 * i:.3f},{0.5 + 0.01 * i:.3f}" for i in range(1, 31))
    p = write("first.csv", "epoch,loss,val_loss\n" + rows + "\n")
    report, _ = diagnose_with_curves(p)
    t102 = next(f for f in report.findings if f.code == "T102")
    assert "0.0%" not in t102.message
    assert "first evaluation" in t102.message and "epoch 1" in t102.message
