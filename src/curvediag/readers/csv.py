"""CSV family: Keras CSVLogger, fastai CSVLogger, custom CSVs.

Separators ``,`` ``;`` tab and ``|`` are sniffed from the header line.  Cells
``''``, ``NA``, ``N/A``, ``null``, ``None`` are *missing*; ``nan``, ``inf``,
``Infinity`` are *recorded* values (evidence of divergence).
"""

from __future__ import annotations

import io
import warnings

from .._np import np

from ..columns import norm
from ..errors import InputError
from ..table import RawTable

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


def _header_line(text: str) -> str:
    """The first non-blank line, without splitting the whole text."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end].rstrip("\r")
        if line.strip():
            return line
        start = end + 1
    return ""


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


def _read(pd, src, sep: str, header: str):
    return pd.read_csv(
        src,
        sep=sep,
        keep_default_na=False,
        na_values=MISSING,
        # space-padded cells (older Ultralytics) need it; it costs a third of the parse otherwise
        skipinitialspace=(sep + " ") in header,
        skip_blank_lines=True,
        engine="c",
        encoding="utf-8",
    )


def read_csv(text: str, source: str, path: str | None = None) -> RawTable:
    """Parse CSV ``text``; ``path``, when given, is a plain UTF-8 file holding exactly
    that text, which pandas reads faster from disk than from a string."""
    import pandas as pd

    header = _header_line(text)
    sep = _sniff_sep(header)
    try:
        with warnings.catch_warnings():
            # mixed types across pandas' chunks just give an object column, which is handled below
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
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
            s = col.astype(str).str.strip()
            missing = s.isin(_MISSING_SET).to_numpy() | col.isna().to_numpy()
            v = pd.to_numeric(s.str.rstrip("%").where(~s.isin(_MISSING_SET)), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
            lowered = s.str.lower()
            nan_token = lowered.isin(("nan", "-nan", "+nan")).to_numpy()
            bad = np.isnan(v) & ~missing & ~nan_token
            is_header = (s == name).to_numpy()
            header_rows |= is_header
            bad &= ~is_header
            filled = (~missing & ~is_header).sum()
            if filled == 0 or bad.sum() > 0.5 * filled:
                continue  # a text column (fastai's "time", a run name): not a metric
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
        names.append(name)
        values[name] = v
        present[name] = p

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
