"""Property-based fuzzing: whatever bytes, tables or JSON come in, the only outcomes
are a report (exit 0/1) or exit 2 with one line on stderr naming the input —
never a traceback, never a hang."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curvediag.cli import app

from ..conftest import REPO

pytestmark = pytest.mark.slow  # the whole file (pyproject.toml's markers: the fast suite leaves it out)

runner = CliRunner()
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def check(tmp_path, name: str, data: bytes) -> None:
    p = tmp_path / name
    p.write_bytes(data)
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code in (0, 2), (r.exit_code, r.stderr, r.exception)
    if r.exit_code == 0:
        json.loads(r.stdout)
    else:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"curvediag: {p}: "), r.stderr
    assert r.exception is None or isinstance(r.exception, SystemExit)


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(tmp_path, data):
    check(tmp_path, "x.csv", data)


_cell = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["", "NA", "nan", "inf", "-", "abc", "1e400", "0x10", "5%", " 3 ", '"q"']),
)
_names = st.lists(
    st.sampled_from(["epoch", "step", "loss", "val_loss", "acc", "val_acc", "lr", "foo", "", "Loss", "val/loss"]),
    min_size=1, max_size=6,
)


@FUZZ
@given(_names, st.lists(st.lists(_cell, min_size=0, max_size=7), max_size=30), st.sampled_from([",", ";", "\t"]))
def test_random_csv_tables(tmp_path, names, rows, sep):
    text = sep.join(names) + "\n" + "\n".join(sep.join(r) for r in rows) + "\n"
    check(tmp_path, "t.csv", text.encode())


_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.text(max_size=5)),
    lambda kids: st.one_of(
        st.lists(kids, max_size=6),
        st.dictionaries(st.sampled_from(["loss", "val_loss", "epoch", "step", "acc", "log_history", "x", "metrics"]), kids, max_size=5),
    ),
    max_leaves=40,
)


@FUZZ
@given(_json)
def test_random_json_structures(tmp_path, obj):
    check(tmp_path, "h.json", json.dumps(obj).encode())


@FUZZ
@given(st.lists(_json, min_size=1, max_size=8))
def test_random_json_lines(tmp_path, objs):
    check(tmp_path, "h.jsonl", "\n".join(json.dumps(o) for o in objs).encode())


def test_no_input_can_run_code():
    src = "\n".join(p.read_text() for p in (REPO / "src" / "curvediag").rglob("*.py"))
    for banned in (r"\bimport pickle\b", r"\bpickle\.load", r"\beval\(", r"\bexec\(", r"yaml\.load\(", r"\bmarshal\b"):
        assert not re.search(banned, src), banned
