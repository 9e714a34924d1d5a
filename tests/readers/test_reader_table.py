"""The readers' one detection table: every --input-format name chooses its reader, content is
sniffed in the table's order, magic bytes are spelled once, MLflow builds its table without the
TensorBoard reader, and run-directory discovery lives in readers/discover.py."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from curvediag import readers
from curvediag.errors import InputError
from curvediag.readers import READERS, Reader, read_table
from curvediag.readers.source import EVENT_MAGIC, SQLITE_MAGIC

SRC = Path(readers.__file__).resolve().parents[1]

KERAS = "epoch,loss,val_loss\n0,1.0,1.1\n1,0.8,0.9\n2,0.6,0.8\n"


def _string_constants(path: Path):
    """Every bytes/str literal in the code of ``path`` (docstrings left out)."""
    tree = ast.parse(path.read_text())
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)) and id(node) not in docs:
            yield node.value


@pytest.mark.parametrize("magic", [b"SQLite format", b"brain.Event", "events.out.tfevents", b"\x1f\x8b",
                                   b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"])
def test_every_magic_constant_is_spelled_once_in_the_code(magic):
    hits = []
    for f in sorted(SRC.rglob("*.py")):
        for c in _string_constants(f):
            if type(c) is type(magic) and magic in c:
                hits.append(f.relative_to(SRC).as_posix())
    assert hits == ["readers/source.py"], hits


def test_formats_are_the_names_of_the_table():
    assert readers.FORMATS == tuple(n for r in READERS for n in r.names)
    assert len(set(readers.FORMATS)) == len(readers.FORMATS)
    assert all(isinstance(r, Reader) for r in READERS)


@pytest.mark.parametrize("data, want", [
    (SQLITE_MAGIC + b"\x00" * 100, "MLflow SQLite"),
    (b"{" + EVENT_MAGIC + b"\x00" * 60, "TensorBoard"),   # an event file's length byte may be '{'
    (b'{"loss": [1, 2]}', "JSON / JSON Lines"),
    ('[{"loss": 1}]'.encode("utf-16"), "JSON / JSON Lines"),  # decoded first: not the bytes path
    (b"<html><body>x</body></html>", "HTML or XML"),
    (b"Epoch 1/3\n10/10 - 1s - loss: 0.5 - val_loss: 0.6\n", "Keras console"),
    (KERAS.encode(), "CSV"),
])
def test_content_picks_the_first_reader_that_sniffs_it(data, want, monkeypatch):
    """Order matters: the magic bytes before JSON (a TensorBoard record may start with '{'),
    JSON before text; the reader chosen is the first whose sniff says yes."""
    chosen = []
    table = tuple(
        Reader(r.label, r.names, r.sniff, (lambda inp, r=r: chosen.append(r.label) or r.read(inp)), r.always)
        for r in READERS
    )
    monkeypatch.setattr(readers, "READERS", table)
    try:
        read_table(data, "x.log")
    except InputError:
        pass
    assert chosen == [want]


@pytest.mark.parametrize("fmt", readers.FORMATS)
def test_each_format_name_chooses_its_reader_without_sniffing(fmt, monkeypatch):
    chosen = []
    table = tuple(
        Reader(r.label, r.names, r.sniff, (lambda inp, r=r: chosen.append(r) or r.read(inp)), r.always)
        for r in READERS
    )
    monkeypatch.setattr(readers, "READERS", table)
    try:
        read_table(KERAS.encode(), "x.csv", fmt)
    except InputError:
        pass
    assert len(chosen) == 1 and fmt in chosen[0].names


def test_a_database_is_never_read_as_the_text_format_asked_for(tmp_path):
    with pytest.raises(InputError, match="SQLite database cannot be read from stdin"):
        read_table(SQLITE_MAGIC + b"\x00" * 100, "<stdin>", "csv")


def test_blank_input_is_empty_whatever_the_format(tmp_path):
    for fmt in [None, "csv", "json", "keras_console", "wandb_csv", "no-such-format"]:
        with pytest.raises(InputError, match="empty file"):
            read_table(b"  \n\t\n", "x", fmt)


def test_unknown_format_names_the_known_ones():
    with pytest.raises(InputError) as e:
        read_table(KERAS.encode(), "x", "parquet")
    assert e.value.problem == f"unknown input format 'parquet' (known: {', '.join(readers.FORMATS)})"


def test_mlflow_reader_does_not_import_the_tensorboard_reader():
    code = ("import sys; import curvediag.readers.mlflow; "
            "print('curvediag.readers.tfevents' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_empty_mlflow_run_says_mlflow_not_tensorboard(tmp_path):
    """Bug fixed on purpose: a file-store run without metric files was 'TensorBoard event file(s)
    with no scalar summaries'."""
    import curvediag

    run = tmp_path / "mlruns" / "0" / "abc123"
    (run / "metrics").mkdir(parents=True)
    (run / "meta.yaml").write_text("run_id: abc123\n")
    with pytest.raises(InputError) as e:
        curvediag.diagnose(str(tmp_path))
    assert e.value.problem == "MLflow run abc123 with no metrics"


def test_directory_discovery_lives_in_discover():
    """readers/__init__.py dispatches; it neither globs nor walks directories itself."""
    text = (SRC / "readers" / "__init__.py").read_text()
    assert not re.search(r"\.(r?glob|iterdir)\(|os\.walk|os\.scandir", text)
    mlflow = (SRC / "readers" / "mlflow.py").read_text()
    assert "def find_runs" not in mlflow and "def is_run_dir" not in mlflow and "**/" not in mlflow
    assert "def read_event_dir" in (SRC / "readers" / "discover.py").read_text()
