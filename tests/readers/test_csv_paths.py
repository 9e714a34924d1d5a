"""Two CSV parsers, one behaviour: the standard-library path for small, plain files
(spares pandas' import) must give exactly what the pandas path gives, or decline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import curvediag.readers.csv as csvmod
from curvediag.errors import InputError
from curvediag.readers.source import decode

from ..conftest import REAL_LOGS, real_log_files

REPO = Path(__file__).resolve().parents[2]


def _outcome(text: str, simple: bool):
    with pytest.MonkeyPatch.context() as m:
        m.setattr(csvmod, "_simple_worthwhile", lambda text: simple)
        try:
            t = csvmod.read_csv(text, "log.csv")
        except InputError as e:
            return ("error", str(e))
    return (
        t.names,
        {k: v.tobytes() for k, v in t.values.items()},  # bit-for-bit, NaN and -0.0 included
        {k: p.tolist() for k, p in t.present.items()},
        t.rows,
        t.format,
        t.notes,
        t.boundaries,
        t.fastai,
    )


def _same(a, b):
    """Equal outcomes; values may differ in the last bit (pandas' parser vs float())."""
    if a[0] == "error" or b[0] == "error":
        return a == b
    if a[0] != b[0] or a[2:] != b[2:]:
        return False
    for k in a[1]:
        x, y = np.frombuffer(a[1][k]), np.frombuffer(b[1][k])
        if not np.allclose(x, y, rtol=1e-15, atol=0, equal_nan=True) or not np.array_equal(np.isnan(x), np.isnan(y)):
            return False
    return True


def _csv_texts():
    files = [p for p in real_log_files() if p.suffix in (".csv", ".log")]
    files += sorted((REPO / "sample_logs").glob("*.csv"))
    files += sorted((REPO / "benchmarks" / "accuracy" / "runs").glob("*.csv"))
    out = []
    for p in files:
        text = decode(p.read_bytes(), str(p))
        if text.lstrip()[:1] not in "{[" and "Epoch 1/" not in text[:20000]:
            out.append((p, text))
    return out


TEXTS = _csv_texts()


def test_every_csv_log_reads_the_same_through_both_parsers():
    assert len(TEXTS) > 50
    simple = []
    for p, text in TEXTS:
        if csvmod._parse_simple(text, csvmod._sniff_sep(csvmod._header_line(text))) is not None:
            simple.append(p)
        a, b = _outcome(text, True), _outcome(text, False)
        assert _same(a, b), p
    # the fast path is the common one, not a corner: most of these logs take it
    assert len(simple) > len(TEXTS) / 2, (len(simple), len(TEXTS))
    assert REPO / "sample_logs" / "healthy.csv" in simple
    if REAL_LOGS.exists():
        assert any(p.is_relative_to(REAL_LOGS) for p in simple)


@pytest.mark.parametrize(
    "text",
    [
        'epoch,loss\n0,"1,0"\n1,0.5\n',  # a separator inside quotes
        'epoch,loss\n0,"1.0" \n1,0.5\n',  # text after a quoted part
        'epoch,loss\n0,"say ""hi"""\n1,0.5\n',  # quotes inside quotes
        "epoch,loss\n0,1.0\n1,0.5,9\n",  # ragged
        "epoch,loss\n0,1.0\n1,0.5\n2,abc\n3,0.4\n",  # one bad cell: pandas words the error
        "epoch,loss\n0,1.0\n1,\u00a00.5\n",  # white space pandas strips in some columns only
        "epoch,loss\n0,1.0\n1,\u0661\n",  # a digit float() reads and pandas does not
        "epoch,loss\n0,1.0\n1,True\n",  # pandas reads booleans
        "loss,loss\n1.0,2.0\n0.5,1.0\n",  # duplicate names
        "epoch,loss\n0,1.0\r1,0.5\r",  # old Mac line ends
        "epoch,loss\n0,1_0\n1,0.5\n",  # Python-only number syntax
        "epoch,loss\n",  # header only
    ],
)
def test_unusual_csv_goes_to_pandas(text):
    assert csvmod._parse_simple(text, ",") is None
    # ... and whatever pandas makes of it is the answer
    a, b = _outcome(text, True), _outcome(text, False)
    assert a == b


@pytest.mark.parametrize(
    "text",
    [
        "epoch,loss,val_acc\n0,1.0,50%\n1,0.8,61.5%\n",  # percentages
        "epoch,loss,val_acc\n0,1.0,50\t%\n1,0.8,61.5%\n",  # white space before the % sign (found by the fuzz)
        "epoch,train_loss,valid_loss,time\n0,1.0,1.1,00:03\n1,0.5,0.6,00:04\n",  # fastai's time column
        "epoch,loss,note\n0,1.0,warmup\n1,0.5,\n2,0.4,3\n3,0.3,cosine\n",  # a mostly-text column
        "epoch,loss,val_loss\n0,1.0,nan\n1,0.5,NaN\n",  # NaN tokens
        ",loss,val_loss\n0,1.0,1.1\n1,0.5,0.6\n",  # pandas' to_csv index column
        '"Step","run - loss","run - val_loss"\n"1","1.0",""\n"2","0.5","0.6"\n',  # W&B quotes every cell
    ],
)
def test_common_oddities_are_read_without_pandas_and_alike(text):
    assert csvmod._parse_simple(text, ",") is not None
    assert _same(_outcome(text, True), _outcome(text, False))


def test_the_simple_parser_handles_the_plain_cases():
    text = "\nepoch,loss, val_loss\r\n0,1.0,NA\r\n1,nan,-Infinity\r\n\r\nepoch,loss,val_loss\n2,1e-3,.5\n"
    names, values, present, rows, header_rows, dropped = csvmod._parse_simple(text, ",")
    assert names == ["epoch", "loss", "val_loss"] and rows == 4 and header_rows == [2] and not dropped
    assert values[0][:2] == [0.0, 1.0] and values[2][3] == 0.5 and values[2][1] == -np.inf
    assert present[2] == [False, True, False, True] and present[1][:2] == [True, True]


NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-1000, 1000).map(str),
    st.integers(-(10**30), 10**30).map(str),  # past int64 and uint64: pandas reads these as text first
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.just("9" * 400),  # overflows to inf
)
ODD = st.sampled_from(
    ["", "NA", "N/A", "null", "None", "-", "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "INF",
     "1e5", ".5", "5.", "+1", "-0", " 1.5", "1.5 ", "\t2", "abc", "1.5%", "%", "5%%", '"3"', "0x10", "1_0",
     "\u0661", "\u00a01", "00:03", "epoch", "loss", "time", "resnet-50", "True",
     '"1.5"', '""', '"NA"', '"nan"', '"abc"', '" 2"', '"1,5"', '"a""b"', '"loss"', '"', 'x"y']
)
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, ODD, st.sampled_from(["00:03", "00:04", "abc", ""]))
NAMES = st.sampled_from(
    ["epoch", "step", "loss", "val_loss", "acc", "val_acc", "lr", "time", "1", "nan", "NA", " loss", "", '"loss"', '"val_loss"', '""']
)


@st.composite
def tables(draw):
    names = draw(st.lists(NAMES, min_size=1, max_size=5, unique=draw(st.booleans())))
    width = len(names)
    rows = draw(st.lists(st.lists(CELLS, min_size=width, max_size=width + draw(st.sampled_from([0, 0, 0, 1]))), max_size=8))
    return names, rows


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    table=tables(),
    sep=st.sampled_from([",", ";", "\t"]),
    crlf=st.booleans(),
    blank=st.integers(0, 9),
    repeat_header=st.integers(0, 9),
)
def test_random_tables_read_the_same_or_go_to_pandas(table, sep, crlf, blank, repeat_header):
    names, rows = table
    lines = [sep.join(names)] + [sep.join(r) for r in rows]
    if blank < len(lines):
        lines.insert(blank, "")
    if 0 < repeat_header < len(lines):
        lines.insert(repeat_header, sep.join(names))
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    if csvmod._parse_simple(text, csvmod._sniff_sep(csvmod._header_line(text))) is None:
        return
    a, b = _outcome(text, True), _outcome(text, False)
    assert _same(a, b), text


def test_the_cli_reads_a_plain_csv_without_pandas_and_says_the_same(tmp_path):
    import json
    import subprocess
    import sys

    import pandas  # noqa: F401  (loaded, so the in-process read below takes the pandas path)

    from curvediag.api import diagnose

    log = REPO / "sample_logs" / "healthy.csv"
    code = (
        "import sys, runpy; sys.argv = ['curvediag', 'analyze', sys.argv[1], '--format', 'json'];\n"
        "try:\n    from curvediag import cli; cli.main_status()\n"
        "except SystemExit:\n    pass\n"
        "print('pandas' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"
    assert json.loads(out.stdout)[0] == json.loads(json.dumps(diagnose(log).to_dict()))  # in-process: pandas path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.,;\t\n\r eE+-%\"abcNAnif_:\u0661\u00a0")), max_size=200))
def test_any_text_gives_a_table_or_an_input_error_on_either_path(text):
    a, b = _outcome(text, True), _outcome(text, False)  # raise on anything but a table or an InputError
    assert all(o[0] == "error" or isinstance(o[0], list) for o in (a, b))
    if text.strip() and csvmod._parse_simple(text, csvmod._sniff_sep(csvmod._header_line(text))) is not None:
        assert _same(a, b), text
