"""CSV family: Keras CSVLogger, fastai CSVLogger, custom CSVs.

Separators ``,`` ``;`` tab and ``|`` are sniffed from the header line.  Cells
``''``, ``NA``, ``N/A``, ``null``, ``None`` are *missing*; ``nan``, ``inf``,
``Infinity`` are *recorded* values (evidence of divergence).
"""

from __future__ import annotations

import io
import math
import re
import sys
import warnings
from typing import Any

from .._np import np

from ..columns import norm
from ..errors import InputError
from ..table import RawTable
from .source import MAX_COLUMNS, too_many_columns

MISSING = ["", "NA", "N/A", "n/a", "na", "null", "NULL", "None", "none", "#N/A", "-"]
_MISSING_SET = frozenset(MISSING)
_SEPARATORS = (",", ";", "\t", "|")

_KERAS = frozenset(
    {"epoch", "loss", "acc", "accuracy", "lr", "learningrate"}
    | {"val" + k for k in ("loss", "acc", "accuracy")}
)


def _sniff_sep(header: str) -> str:
    counts = {s: header.count(s) for s in _SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


_NOT_SPACE = re.compile(r"\S")


def _header_line(text: str, start: int = 0) -> str:
    """The first non-blank line (from ``start``), without splitting the whole text (one
    search in C: a loop over millions of blank lines took seconds)."""
    return _line_from(text, start)[0]


def _line_from(text: str, start: int) -> tuple[str, int]:
    """The first non-blank line at or after ``start``, and where it ends."""
    m = _NOT_SPACE.search(text, start)
    if m is None:
        return "", len(text)
    begin = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.start())
    end = len(text) if end < 0 else end
    return text[begin:end].rstrip("\r"), end


def _format_name(names: list[str]) -> tuple[str, bool]:
    normed = [norm(n) for n in names]
    s = set(normed)
    if "trainboxloss" in s and any(n.startswith("metrics") for n in normed):
        return "ultralytics_csv", False
    if normed[:3] == ["epoch", "trainloss", "validloss"] or {"trainloss", "validloss", "time"} <= s:
        return "fastai_csv", True
    if normed and normed[0] == "epoch" and "loss" in s:
        # Keras CSVLogger: epoch first, then sorted keys; metrics beyond loss/acc are allowed
        return "keras_csv", False
    return "csv", False


def _read(pd, src, sep: str, header: str, dtype=None):
    return pd.read_csv(
        src,
        sep=sep,
        dtype=dtype,
        keep_default_na=False,
        na_values=MISSING,
        # space-padded cells (older Ultralytics) need it; it costs a third of the parse otherwise
        skipinitialspace=(sep + " ") in header,
        skip_blank_lines=True,
        engine="c",
        encoding="utf-8",
    )


_SIMPLE_MAX = 256 << 10  # characters: above this pandas' C parser pays for its import
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAN_TOKENS = frozenset(("nan", "-nan", "+nan"))
_INF_TOKENS = {t: s * math.inf for s, ts in ((1, ("inf", "+inf", "infinity", "+infinity")), (-1, ("-inf", "-infinity"))) for t in ts}
# a cell made only of digits and these, yet not a number, may be read differently by pandas: ask it
_NUMBER_CHARS = frozenset("+-.eE_%")

def _lines(text: str) -> list[str] | None:
    """The non-empty lines of a text, or None when one holds a bare carriage return or only
    white space (pandas' rules apply to those)."""
    lines = []
    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if not line:
            continue
        if "\r" in line or not line.strip():
            return None
        lines.append(line)
    return lines


def _simple_names(header_cells: list[str]) -> list[str] | None:
    """The column names of a header line ('' for an unnamed index column), or None when they
    are duplicate, empty once normalised or number-like (pandas' rules apply)."""
    names = [n.strip() for n in header_cells]
    named = [n for n in names if n]  # an unnamed column is an index (pandas' to_csv writes one): dropped
    if not named or len(set(named)) != len(named) or any(not norm(n) or n.startswith("Unnamed:") or _token(n) for n in named):
        return None  # duplicate or number-like names: pandas' rules apply
    return names


#: what :func:`_odd_cell` says of a cell: (value, present, counts as text, a repeated header, not a number)
_Odd = tuple[float, bool, bool, bool, bool]


def _odd_cell(c: str, name: str) -> _Odd | None:
    """A stripped cell that is not a plain number, as the pandas path reads it: a gap, the
    column's name again (a repeated header), a NaN or inf token, a percentage, or text; None
    when pandas may read it otherwise (booleans, '1_0', other white space)."""
    if c != c.strip():
        return None  # other white space: pandas strips it in some columns, not in others
    low = c.lower()
    if c in _MISSING_SET:
        return math.nan, False, False, False, False
    if c == name:
        return math.nan, False, True, True, False
    if low in _NAN_TOKENS:
        return math.nan, True, True, False, False
    if low in _INF_TOKENS:
        return _INF_TOKENS[low], True, False, False, False
    if c.endswith("%") and _NUMBER.fullmatch(c.rstrip("%").strip(" \t")):
        return float(c.rstrip("%")) / 100.0, True, True, False, False
    if low in ("true", "false") or all(ch.isdigit() or ch.isspace() or ch in _NUMBER_CHARS for ch in c):
        return None  # pandas reads booleans; "1_0", "1e", "0\t%", "\u0661" are for it to judge
    # plainly text ("00:03", "resnet"): counts against the column
    return math.nan, False, True, False, True


def _kept_columns(names: list[str], present: list[list[bool]], texty: list[bool], bad: list[int]) -> list[int] | None:
    """The indices of the columns kept as metrics by the pandas path's rule: a column with a
    non-number, non-gap cell is text, kept only when at most half its filled cells fail to
    parse; None when such a column is kept (an error: pandas words it)."""
    keep = []
    for i, name in enumerate(names):
        if not name:
            continue
        # pandas reads a column with any non-number, non-gap cell as text, then keeps it
        # as a metric only when at most half its filled cells fail to parse
        if texty[i]:
            filled = sum(present[i]) + bad[i]  # nan tokens count as filled, gaps and headers do not
            if filled == 0 or bad[i] > 0.5 * filled:
                continue
            if bad[i]:
                return None  # an error: pandas words it
        keep.append(i)
    return keep


def _parse_simple(text: str, sep: str) -> tuple[list[str], list[list[float]], list[list[bool]], int, list[int], bool] | None:
    """A small CSV without ragged rows or quotes inside cells, parsed with the standard
    library — most logs; it spares the user pandas' import (~0.3 s) on every run.

    Returns ``(names, values, present, rows, header_rows, dropped_index)`` — per kept
    column a list of floats and a list of presence flags — exactly what the pandas path gives for the
    same text (a differential test holds the two together), or None for anything
    unusual, which then goes to pandas.  Text columns (fastai's ``time``) are dropped
    by the pandas path's rule: more than half their filled cells are not numbers.
    """
    quoted = '"' in text
    lines = _lines(text)
    if lines is None or len(lines) < 2:
        return None
    split = (lambda line: _split_quoted(line, sep)) if quoted else (lambda line: line.split(sep))
    header_cells = split(lines[0])
    names = None if header_cells is None else _simple_names(header_cells)
    if names is None:
        return None
    width = len(names)
    number = _NUMBER.fullmatch
    values: list[list[float]] = [[] for _ in names]
    present: list[list[bool]] = [[] for _ in names]
    texty = [False] * width  # a cell pandas cannot read as a number (header, NaN token, %, text): a text column
    bad = [0] * width
    header_rows: list[int] = []
    for r, line in enumerate(lines[1:]):
        cells = split(line)
        if cells is None or len(cells) != width:
            return None
        header = False
        for i, cell in enumerate(cells):
            if not names[i]:
                continue
            c = cell.strip(" \t")
            if number(c):
                values[i].append(float(c))
                present[i].append(True)
                continue
            odd = _odd_cell(c, names[i])
            if odd is None:
                return None
            v, p, as_text, is_header, not_number = odd
            header = header or is_header
            bad[i] += not_number
            texty[i] = texty[i] or as_text
            values[i].append(v)
            present[i].append(p)
        if header:
            header_rows.append(r)
    keep = _kept_columns(names, present, texty, bad)
    if keep is None:
        return None
    kept = ([names[i] for i in keep], [values[i] for i in keep], [present[i] for i in keep])
    return (*kept, len(lines) - 1, header_rows, sum(1 for n in names if n) < width)


def _split_quoted(line: str, sep: str) -> list[str] | None:
    """Cells of a line where some are wholly quoted (W&B exports quote every cell): the
    quotes removed.  None when a quote is anywhere else (a separator or quote inside a
    cell, text around a quoted part): pandas' tokenizer reads those."""
    cells = line.split(sep)
    for i, c in enumerate(cells):
        if '"' in c:
            if len(c) < 2 or c[0] != '"' or c[-1] != '"' or '"' in c[1:-1]:
                return None
            cells[i] = c[1:-1]
    return cells


def _token(cell: str) -> bool:
    """A cell a column name must not look like: a number, a gap or a NaN/inf token."""
    c = cell.strip(" \t")
    low = c.lower()
    return bool(_NUMBER.fullmatch(c)) or c in _MISSING_SET or low in _NAN_TOKENS or low in _INF_TOKENS


def _simple_worthwhile(text: str) -> bool:
    """The simple parser exists to spare pandas' import; once pandas is loaded (a notebook,
    a run over many logs), its C parser is the faster one (7 ms against 37 ms at 10k rows)."""
    return len(text) <= _SIMPLE_MAX and "pandas" not in sys.modules


def read_csv(text: str, source: str, path: str | None = None, head_only: bool = False) -> RawTable:
    """Parse CSV ``text``; ``path``, when given, is a plain UTF-8 file holding that text
    (or, with ``head_only``, starting with it), which pandas reads faster from disk than
    from a string."""
    header, end = _line_from(text, 0)
    sep = _sniff_sep(header)
    # pandas' handling of so wide a table is quadratic in places (duplicate names; a first data
    # row wider than the header becomes an index of that many levels)
    width = max(header.count(sep), _line_from(text, end)[0].count(sep)) + 1
    if width > MAX_COLUMNS:
        raise too_many_columns(source, width)
    simple = _parse_simple(text, sep) if not head_only and _simple_worthwhile(text) else None
    if simple is None:
        big = head_only or len(text) > _SIMPLE_MAX
        names, values, present, rows, header_rows, dropped_index = _read_pandas(text, source, path, sep, header, big)
    else:
        raw_names, cols, pres, rows, header_at, dropped_index = simple
        header_rows = np.zeros(rows, dtype=bool)
        header_rows[header_at] = True
        names, values, present = [], {}, {}
        for name, col, p in zip(raw_names, cols, pres):
            names.append(name)
            values[name] = np.array(col, dtype=float)
            present[name] = np.array(p, dtype=bool)
    _refuse_decimal_commas(text, sep, names, source)
    if not names:
        raise InputError(source, "no numeric columns")
    fmt, fastai = _format_name(names)
    normed = {norm(n) for n in names}
    if fmt == "csv" and {"epoch", "step"} <= normed and any(not p.all() for p in present.values()):
        fmt = "lightning_csv"  # sparse rows: step rows, validation rows, epoch rows
    boundaries = [int(i) for i in np.flatnonzero(header_rows)]
    notes = ["leading unnamed index column ignored"] if dropped_index else []
    if sep != ",":
        notes.append(f"separator {sep!r}")
    if boundaries:
        for name in names:
            present[name][header_rows] = False
    return RawTable(names, values, present, rows, fmt, notes, boundaries, fastai)


_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+(?:[eE][+-]?[0-9]+)?")


def _refuse_decimal_commas(text: str, sep: str, kept: list[str], source: str) -> None:
    """A column dropped as text whose cells are numbers written with a decimal comma
    (``0,123``, a European spreadsheet's export) is named as that.  They are not read as
    numbers: ``1,234`` may as well be a thousand, and a wrong guess scales a curve by 1000."""
    import csv as _csv  # the standard library's (absolute import)

    lines = []
    for line in text[: 1 << 16].split("\n"):
        if line.strip():
            lines.append(line.rstrip("\r"))
        if len(lines) > 50:
            break
    if len(lines) < 2:
        return
    try:
        rows = list(_csv.reader(lines, delimiter=sep))
    except _csv.Error:  # a bare \r inside a line: not this problem
        return
    header = [c.strip() for c in rows[0]]
    keep = set(kept)
    if all(not n or n in keep for n in header):
        return  # nothing dropped: the usual case costs one header check
    for i, name in enumerate(header):
        if not name or name in keep:
            continue
        cells = [r[i].strip() for r in rows[1:] if i < len(r) and r[i].strip() not in _MISSING_SET]
        commas = [c for c in cells if _DECIMAL_COMMA.fullmatch(c)]
        if commas and len(commas) * 2 > len(cells):
            raise InputError(
                source,
                f"numbers with decimal commas in column {name!r} ({commas[0]!r}); curvediag reads decimal points only: "
                "save the log with '.' as the decimal separator",
            )


def _pandas_frame(pd: Any, text: str, source: str, path: str | None, sep: str, header: str, big: bool) -> Any:
    """The log as a pandas DataFrame (a big one parsed straight to float64 when it is all
    numbers); pandas' parse errors as input errors."""
    try:
        with warnings.catch_warnings():
            # mixed types across pandas' chunks just give an object column, which is handled below
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            df = None
            if big:
                try:
                    # all numbers (the usual big log): parsed straight to float64, so no integer
                    # column is converted afterwards (a fresh 8 MB array per million rows)
                    df = _read(pd, path if path is not None else io.StringIO(text), sep, header, dtype=float)
                except ValueError as e:
                    if isinstance(e, (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError)):
                        raise
            if df is None:  # a small log, or text cells
                df = _read(pd, path if path is not None else io.StringIO(text), sep, header)
    except pd.errors.EmptyDataError:
        raise InputError(source, "empty file") from None
    except pd.errors.ParserError as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else "malformed CSV"
        raise InputError(source, f"malformed CSV: {msg}") from None
    except UnicodeDecodeError as e:
        raise InputError(source, f"not UTF-8 text (undecodable byte at offset {e.start}); binary or unsupported encoding") from None
    except (ValueError, MemoryError, OverflowError) as e:
        raise InputError(source, f"malformed CSV: {e}") from None
    return df


def _text_column(pd: Any, col: Any, name: str, source: str) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """(repeated-header rows, (values, present)) of a column pandas read as text: gaps, NaN
    tokens, percentages and the column's name repeated read as the simple path reads them;
    (values, present) None for a text column (more than half its filled cells not numbers: fastai's "time");
    an input error for a metric column with a cell that is no number."""
    s = col.astype(str).str.strip()
    missing = s.isin(_MISSING_SET).to_numpy() | col.isna().to_numpy()
    v = pd.to_numeric(s.str.rstrip("%").where(~s.isin(_MISSING_SET)), errors="coerce").to_numpy(
        dtype=float, na_value=np.nan
    )
    lowered = s.str.lower()
    nan_token = lowered.isin(("nan", "-nan", "+nan")).to_numpy()
    bad = np.isnan(v) & ~missing & ~nan_token
    is_header = (s == name).to_numpy()
    bad &= ~is_header
    filled = (~missing & ~is_header).sum()
    if filled == 0 or bad.sum() > 0.5 * filled:
        return is_header, None  # a text column (fastai's "time", a run name): not a metric
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            source,
            f"non-numeric value {col.iloc[first]!r} in column {name!r} at data row {first + 1}",
        )
    p = ~missing & ~is_header
    pct = s.str.endswith("%").to_numpy() & p
    if pct.any():
        v = np.where(pct, v / 100.0, v)
    return is_header, (v, p)


def _read_pandas(
    text: str, source: str, path: str | None, sep: str, header: str, big: bool
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray], int, np.ndarray, bool]:
    """The pandas path: ``(names, values, present, rows, header_rows, dropped_index)`` of a
    log the simple path does not take (big, ragged, quoted, unusual cells)."""
    import pandas as pd

    df = _pandas_frame(pd, text, source, path, sep, header, big)
    raw_names = [str(c).strip() for c in df.columns]
    if len(raw_names) == 1 and sep == "," and not norm(raw_names[0]):
        raise InputError(source, "not a table: no column names in the first line")
    rows = len(df)
    if rows == 0:
        raise InputError(source, "header only, no data rows")

    names: list[str] = []
    values: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    header_rows = np.zeros(rows, dtype=bool)
    dropped_index = False
    for i, name in enumerate(raw_names):
        col = df.iloc[:, i]
        if name == "" or name.startswith("Unnamed:"):
            dropped_index = True
            continue
        if name in values:  # duplicate header names: keep the first
            continue
        if col.dtype.kind in "biuf":
            if col.dtype == np.float64:
                v = col.to_numpy()  # no copy: missing cells are already NaN
            else:
                v = col.to_numpy(dtype=float, na_value=np.nan)
            p = ~np.isnan(v)
        else:
            is_header, got = _text_column(pd, col, name, source)
            header_rows |= is_header
            if got is None:
                continue
            v, p = got
        names.append(name)
        values[name] = v
        present[name] = p

    return names, values, present, rows, header_rows, dropped_index
