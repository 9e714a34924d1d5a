"""MLflow's SQLite database read as an attacker or an unlucky user would hand it over:
odd names, WAL files, read-only directories, hostile schemas, wrong cell types, damage,
locks and Ctrl-C.  Every read leaves the directory exactly as it was."""

from __future__ import annotations

import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.errors import InputError
from curvediag.readers import load_table
from curvediag.readers import mlflow as mlflow_reader

SRC = str(Path(__file__).resolve().parents[2] / "src")
runner = CliRunner()

SCHEMA = (
    "CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,"
    " run_uuid VARCHAR(32) NOT NULL, step BIGINT DEFAULT '0' NOT NULL, is_nan BOOLEAN DEFAULT '0' NOT NULL)"
)
LOOSE = "CREATE TABLE metrics (key, value, timestamp, run_uuid, step, is_nan)"  # no types: anything goes in


def make_db(path, n=30, wal=False, schema=SCHEMA, run="r1", rows=None):
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute(schema)
    con.execute("CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250))")
    con.execute("INSERT INTO runs VALUES (?, 'brave-owl')", (run,))
    data = rows if rows is not None else [("loss", 2 * math.exp(-i / 5) + 0.05, 1000 + i, run, i, 0) for i in range(n)]
    con.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", data)
    con.commit()
    con.close()
    return Path(path)


def snapshot(root) -> dict:
    """Every entry below ``root``: its type, size, mtime and bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            body = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_size, st.st_mtime_ns, body)
    return out


def analyze(*args):
    return runner.invoke(app, ["analyze", *map(str, args), "--format", "json", "--fail-on", "never"])


def one_error_line(r, path, phrase):
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0] and phrase in lines[0], lines[0]
    assert "Traceback" not in r.stderr


# --- names are file names, never URI syntax ------------------------------------------------


@pytest.mark.parametrize("name", ["exp#1/mlflow.db", "x.db?mode=rwc", "a%41b.db", "sp ace&mode=rw.db", "exp?x#y/m.db"])
def test_uri_syntax_in_the_path_opens_that_file_and_creates_nothing(tmp_path, name):
    db = tmp_path / name
    db.parent.mkdir(parents=True, exist_ok=True)
    make_db(db)
    before = snapshot(tmp_path)
    r = analyze(db)
    assert r.exit_code == 0, r.output
    assert '"mlflow_sqlite"' in r.stdout
    assert snapshot(tmp_path) == before


# --- WAL and journals: nothing created or changed beside the database -----------------------


def test_wal_database_without_wal_file_creates_no_wal_or_shm(tmp_path):
    db = make_db(tmp_path / "mlflow.db", wal=True)
    assert sorted(os.listdir(tmp_path)) == ["mlflow.db"]
    before = snapshot(tmp_path)
    table, _ = load_table(str(db))
    assert table.rows == 30
    assert snapshot(tmp_path) == before


def test_wal_database_with_a_live_writer_reads_its_commits_and_touches_nothing(tmp_path):
    db = make_db(tmp_path / "mlflow.db", n=10, wal=True)
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the new rows stay in -wal only
    writer.executemany("INSERT INTO metrics VALUES ('loss', ?, ?, 'r1', ?, 0)", [(0.5, 2000 + i, 10 + i) for i in range(20)])
    writer.commit()
    try:
        assert os.path.getsize(str(db) + "-wal") > 0 and os.path.exists(str(db) + "-shm")
        before = snapshot(tmp_path)
        table, _ = load_table(str(db))
        assert table.rows == 30  # the committed rows in -wal are read
        assert snapshot(tmp_path) == before  # -shm included
    finally:
        writer.close()


def test_hot_journal_of_a_crashed_writer_is_rolled_back_in_a_copy(tmp_path):
    db = make_db(tmp_path / "src.db", n=30)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("PRAGMA cache_size=1")  # spill pages into the file mid-transaction
    writer.execute("BEGIN")
    writer.executemany("INSERT INTO metrics VALUES ('loss', 9.0, ?, 'r1', ?, 0)", [(5000 + i, 1000 + i) for i in range(3000)])
    crashed = tmp_path / "crash"
    crashed.mkdir()
    shutil.copyfile(db, crashed / "mlflow.db")  # the state a killed writer leaves behind
    shutil.copyfile(str(db) + "-journal", crashed / "mlflow.db-journal")
    writer.execute("ROLLBACK")
    writer.close()
    assert os.path.getsize(crashed / "mlflow.db-journal") > 0
    before = snapshot(crashed)
    table, _ = load_table(str(crashed / "mlflow.db"))
    assert table.rows == 30  # the transaction never committed: not seen
    assert snapshot(crashed) == before


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to drop DAC override")
@pytest.mark.parametrize("wal", [False, True])
def test_database_in_a_read_only_directory(wal):
    # root ignores permissions; without CAP_DAC_OVERRIDE a 0555 directory is read-only to it too
    d = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        make_db(d / "mlflow.db", wal=wal)
        d.chmod(0o555)
        before = snapshot(d)
        cmd = [SETPRIV, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m", "curvediag",
               "analyze", str(d / "mlflow.db"), "--format", "json", "--fail-on", "never"]
        p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
        assert p.returncode == 0, p.stderr
        assert '"mlflow_sqlite"' in p.stdout
        assert snapshot(d) == before
    finally:
        d.chmod(0o755)
        shutil.rmtree(d)


# --- hostile schemas: only real tables, bounded queries ----------------------------------------

ENDLESS = (
    "CREATE VIEW metrics AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c)"
    " SELECT 'loss' AS key, 1.0 AS value, i AS timestamp, 'r1' AS run_uuid, i AS step, 0 AS is_nan FROM c"
)
BLOBS = (
    "CREATE VIEW metrics AS WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c LIMIT 50)"
    " SELECT 'loss' AS key, randomblob(100000000) AS value, i AS timestamp, 'r1' AS run_uuid, i AS step, 0 AS is_nan FROM c"
)


def raw_db(path, *statements):
    con = sqlite3.connect(path)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()
    return path


HOSTILE = {
    "endless_view": ((ENDLESS,), "is a view, not a table"),
    "blob_view": ((BLOBS,), "is a view, not a table"),
    "generated_column": (
        ("CREATE TABLE metrics (key, timestamp, run_uuid, step, is_nan,"
         " value AS (length(hex(zeroblob(400000)))) VIRTUAL)",
         "INSERT INTO metrics (key, timestamp, run_uuid, step, is_nan) VALUES ('loss', 1, 'r1', 1, 0)"),
        "computed on reading",
    ),
    "no_metrics": (("CREATE TABLE t (x)",), "without an MLflow 'metrics' table (tables: t)"),
    "metrics_without_columns": (("CREATE TABLE metrics (x, y)",), "has no column(s) key, value, run_uuid, step"),
}
if hasattr(sqlite3.Connection, "setlimit"):  # Python >= 3.11
    HOSTILE["big_blob_table"] = (
        (LOOSE, "INSERT INTO metrics VALUES ('loss', zeroblob(2000000), 1, 'r1', 1, 0)"),
        "value longer than 1 MiB",
    )
if "ENABLE_FTS5" in " ".join(r[0] for r in sqlite3.connect(":memory:").execute("PRAGMA compile_options")):
    HOSTILE["virtual_table"] = (("CREATE VIRTUAL TABLE metrics USING fts5(key, value, run_uuid, step)",), "is a virtual table")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_schema_is_refused_promptly(tmp_path, name):
    statements, phrase = HOSTILE[name]
    db = raw_db(tmp_path / f"{name}.db", *statements)
    before = snapshot(tmp_path)
    r = analyze(db)
    one_error_line(r, db, phrase)
    assert snapshot(tmp_path) == before


def test_a_query_over_the_time_limit_is_stopped(tmp_path, monkeypatch):
    db = make_db(tmp_path / "mlflow.db", n=5000)
    monkeypatch.setattr(mlflow_reader, "TIME_LIMIT", 0.0)
    one_error_line(analyze(db), db, "took longer than 0 s")


def test_a_run_over_the_row_limit_is_refused(tmp_path, monkeypatch):
    db = make_db(tmp_path / "mlflow.db", n=100)
    monkeypatch.setattr(mlflow_reader, "MAX_ROWS", 99)
    one_error_line(analyze(db), db, "more than 99 metric rows")


def test_ctrl_c_stops_a_query_that_would_never_end(tmp_path):
    # a real process reading an endless query (the view check is switched off to get one):
    # SIGINT ends it promptly with the shell's 130
    db = raw_db(tmp_path / "endless.db", ENDLESS)
    code = (
        "import sys; import curvediag.readers.mlflow as m;"
        "m._table_columns = lambda *a, **k: dict.fromkeys(('key', 'value', 'run_uuid', 'step', 'timestamp', 'is_nan'), 0);"
        "sys.argv[0] = 'curvediag'; from curvediag.cli import main; main()"
    )
    p = subprocess.Popen([sys.executable, "-c", code, "analyze", str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": SRC})
    time.sleep(2.5)  # start-up and well into the query
    assert p.poll() is None, p.communicate()
    p.send_signal(signal.SIGINT)
    try:
        out, err = p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail("SIGINT did not stop the query")
    assert p.returncode == 130, err  # 128 + SIGINT, as shells report an interrupted command
    # exactly one line naming what happened, never a traceback
    assert err.strip() == "curvediag: interrupted" and "Traceback" not in err, err


# --- cells of the wrong type ---------------------------------------------------------------------


def _rows(bad):
    good = [["loss", 1.0 / (i + 1), 1000 + i, "r1", i, 0] for i in range(20)]
    good[5] = bad
    return [tuple(r) for r in good]


BAD_CELLS = {
    "text_value": (["loss", "abc", 1005, "r1", 5, 0], "value is the text 'abc'"),
    "null_value": (["loss", None, 1005, "r1", 5, 0], "value is NULL"),
    "blob_value": (["loss", b"\x00\x01", 1005, "r1", 5, 0], "value is a blob of 2 bytes"),
    "null_step": (["loss", 0.5, 1005, "r1", None, 0], "step is NULL"),
    "text_step": (["loss", 0.5, 1005, "r1", "five", 0], "step is the text 'five'"),
    "fraction_step": (["loss", 0.5, 1005, "r1", 5.5, 0], "step 5.5 is not a whole number"),
    "inf_step": (["loss", 0.5, 1005, "r1", math.inf, 0], "step inf is not a whole number"),
    "null_key": ([None, 0.5, 1005, "r1", 5, 0], "key is NULL"),
    "null_run": (["loss", 0.5, 1005, None, 5, 0], "rows without a run_uuid"),
}


@pytest.mark.parametrize("name", sorted(BAD_CELLS))
def test_a_cell_of_the_wrong_type_is_one_clear_line(tmp_path, name):
    bad, phrase = BAD_CELLS[name]
    db = make_db(tmp_path / f"{name}.db", schema=LOOSE, rows=_rows(bad))
    one_error_line(analyze(db), db, phrase)


def test_integer_run_ids_and_mlflow_encodings_of_nan_and_inf(tmp_path):
    rows = [("loss", 1.0 / (i + 1), 1000 + i, 7, i, 0) for i in range(20)]
    rows[10] = ("loss", 0.0, 1010, 7, 10, 1)  # MLflow writes NaN as 0 with is_nan set
    rows[11] = ("loss", 1.7976931348623157e308, 1011, 7, 11, 0)  # and inf as the largest float
    db = make_db(tmp_path / "m.db", schema=LOOSE, rows=rows, run=7)
    table, _ = load_table(str(db), run="7")
    v = table.values["loss"]
    assert math.isnan(v[10]) and v[11] == math.inf and v[9] == pytest.approx(0.1)
    assert "MLflow run 7" in table.notes[-1]


# --- damaged, locked, foreign ------------------------------------------------------------------


def test_damaged_truncated_locked_and_foreign_databases_each_say_so(tmp_path):
    good = make_db(tmp_path / "good.db", n=3000)
    data = good.read_bytes()
    cases = {}
    cases["truncated"] = (data[: len(data) // 2], "a truncated SQLite database")
    cases["header_only"] = (data[:60], "shorter than its 100-byte header")
    corrupt = bytearray(data)
    corrupt[4096 + 8 : 4096 + 400] = bytes(range(256)) + bytes(136)
    cases["corrupt"] = (bytes(corrupt), "a damaged SQLite database")
    bad_page = bytearray(data)
    bad_page[16:18] = b"\x00\x03"
    cases["bad_page_size"] = (bytes(bad_page), "a damaged SQLite database (page size 3")
    seen = set()
    for name, (content, phrase) in cases.items():
        p = tmp_path / f"{name}.db"
        p.write_bytes(content)
        r = analyze(p)
        one_error_line(r, p, phrase)
        seen.add(r.stderr.split(": ", 2)[2])
    locked = make_db(tmp_path / "locked.db")
    holder = sqlite3.connect(locked, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = analyze(locked)
        one_error_line(r, locked, "locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    foreign = raw_db(tmp_path / "foreign.db", "CREATE TABLE notes (x)")
    one_error_line(analyze(foreign), foreign, "without an MLflow 'metrics' table")
    assert len(seen) == len(cases)  # each damage its own words


def test_text_that_is_not_utf8_is_named(tmp_path):
    db = make_db(tmp_path / "m.db", schema=LOOSE, rows=[])
    raw_db(db, "INSERT INTO metrics VALUES (CAST(x'6c6fff73' AS TEXT), 0.5, 1, 'r1', 1, 0)")
    one_error_line(analyze(db), db, "text that is not UTF-8")


def test_mutated_databases_are_read_or_refused_in_one_line(tmp_path):
    """Random damage to a real MLflow-shaped database: never an exception other than
    InputError, never a file left beside it (seeded, so a failure reproduces)."""
    import random

    good = make_db(tmp_path / "good.db", n=300)
    base = good.read_bytes()
    work = tmp_path / "w"
    work.mkdir()
    rng = random.Random(11)
    outcomes = set()
    for _ in range(400):
        b = bytearray(base)
        for _ in range(rng.randint(1, 30)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        f = work / "mlflow.db"
        f.write_bytes(bytes(b))
        try:
            load_table(str(f), run=rng.choice([None, "r1", "brave-owl", "zz"]))
            outcomes.add("read")
        except InputError as e:
            assert "\n" not in str(e)
            outcomes.add(e.problem[:20])
        assert os.listdir(work) == ["mlflow.db"]
    assert "read" in outcomes and len(outcomes) > 3


def test_a_database_is_not_read_into_memory_before_sqlite_opens_it(tmp_path, monkeypatch):
    import curvediag.readers as readers

    db = make_db(tmp_path / "mlflow.db")

    def refuse(path):
        raise AssertionError(f"{path} read whole")

    monkeypatch.setattr(readers, "read_bytes", refuse)
    table, source = load_table(str(db))
    assert table.format == "mlflow_sqlite" and source == str(db)
    table, _ = load_table(str(tmp_path))  # found in a run directory
    assert table.format == "mlflow_sqlite"


# --- reading fast (issue 11, section 6) --------------------------------------------------------


def _traced(monkeypatch) -> list[str]:
    statements: list[str] = []
    real = sqlite3.connect

    def connect(*a, **k):
        con = real(*a, **k)
        con.set_trace_callback(statements.append)
        return con

    monkeypatch.setattr(mlflow_reader.sqlite3, "connect", connect)
    return statements


def test_a_one_run_database_is_read_without_grouping_its_rows(tmp_path, monkeypatch):
    # the usual database holds one run: one scan without a sort tells it, no GROUP BY of every row
    statements = _traced(monkeypatch)
    db = make_db(tmp_path / "one.db", n=50)
    table, _ = load_table(str(db))
    assert table.rows == 50 and not any("GROUP BY" in s for s in statements)
    # two runs: grouped, and the one with the latest timestamp is read, as before
    statements.clear()
    rows = [("loss", 1.0, 1000 + i, "old", i, 0) for i in range(10)] + [("loss", 2.0, 5000 + i, "new", i, 0) for i in range(7)]
    table, _ = load_table(str(make_db(tmp_path / "two.db", rows=rows, run="new")))
    assert any("GROUP BY" in s for s in statements)
    assert table.rows == 7 and "MLflow run new; 2 runs in the database" in table.notes[-1]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["loss", "val_loss", "lr", "acc"]), st.integers(0, 12),
                          st.floats(allow_nan=False, width=32) | st.just(0.0), st.booleans()), min_size=1, max_size=40))
def test_metric_rows_read_into_arrays_as_the_per_key_lists_did(rows):
    # the batches go straight into arrays; the previous reader built per-key lists of (step, value)
    # in the query's order and handed them to table_from_scalars: the same table
    from curvediag.readers.tfevents import table_from_scalars

    with tempfile.TemporaryDirectory() as d:
        data = [(k, v, 1000 + i % 5, "r1", s, int(nan)) for i, (k, s, v, nan) in enumerate(rows)]
        db = make_db(os.path.join(d, "m.db"), rows=data)
        got, _ = load_table(str(db))
        con = sqlite3.connect(db)
        tags: dict = {}
        for key, step, value in con.execute(
            "SELECT key, step, CASE WHEN is_nan THEN NULL ELSE value END FROM metrics WHERE run_uuid = 'r1' ORDER BY step, timestamp"
        ):
            tags.setdefault(key, []).append((step, value))
        con.close()
    want = table_from_scalars(tags, "x")
    assert (got.names, got.rows) == (want.names, want.rows)
    for k in want.names:
        assert np.array_equal(got.values[k], want.values[k], equal_nan=True)
        assert np.array_equal(got.present[k], want.present[k])
