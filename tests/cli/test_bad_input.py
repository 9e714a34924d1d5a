"""Bad input: one line on stderr naming the file and the problem, exit 2, no traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from curvediag.cli import app

runner = CliRunner()

CASES = {
    "empty.csv": (b"", "empty file"),
    "blank.csv": (b"\n\n   \n", "empty file"),
    "header_only.csv": (b"epoch,loss,val_loss\n", "header only"),
    "binary.csv": (bytes(range(256)) * 4, "binary"),
    "latin1.csv": ("epoch,loss\n0,1.0\n1,0.9 caf\xe9\n".encode("latin-1"), "not UTF-8"),
    "page.csv": (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "HTML"),
    "scalar.json": (b"42", "top level"),
    "numbers.json": (b"[1, 2, 3]", "bare numbers"),
    "nometrics.json": (b'{"name": "run1", "model": "resnet"}', "without metrics"),
    "truncated.json": (b'{"loss": [1.0, 0.9', "invalid JSON"),
    "deep.json": (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    "badline.jsonl": (b'{"loss": 1.0}\n{"loss": 0.9\n{"loss": 0.8}\n', "line 2"),
    "ragged.csv": (b"epoch,loss,val_loss\n0,1.0,1.1\n1,0.9,1.0,7,8\n", "malformed CSV"),
    "noloss.csv": (b"epoch,foo,bar\n0,1,2\n1,2,3\n", "no recognisable loss column"),
    "text.csv": (b"epoch,loss\n0,abc\n1,1.0\n2,0.9\n", "non-numeric value 'abc' in column 'loss'"),
    "allna.csv": (b"epoch,loss,val_loss\n0,NA,NA\n1,NA,NA\n", "hold no values"),
    "emptylist.json": (b"[]", "empty JSON list"),
    "gzipbroken.csv.gz": (b"\x1f\x8b\x08\x00garbage", "gzip"),
    "image.csv": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
    "archive.csv": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(100), "binary"),
    "late_nul.csv": (b"epoch,loss\n" + b"0,1.0\n" * 20000 + b"1,\x000.9\n", "NUL byte at offset"),
    "huge_line.csv": (b"9" * 5_000_000, "header only"),
    "huge_line2.csv": (b"epoch,loss\n" + b"1," + b"x" * 3_000_000 + b"\n", "no recognisable loss column"),
    "latin1_header.csv": ("époque,perte\n0,1\n".encode("latin-1"), "not UTF-8"),
    "cp1252.json": ('{"loss": [1, 2], "note": "\u20ac"}'.encode("cp1252", errors="replace").replace(b"?", b"\x80"), "not UTF-8"),
    "list_of_lists.json": (b"[[1, 2], [3, 4]]", "mixed values"),
    "object_no_metrics.json": (b'{"model": {"layers": 3}}', "no recognisable loss column (columns: model)"),
    "jsonl_not_objects.jsonl": (b'{"loss": 1}\n[1, 2]\n', "line 2: expected a JSON object"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_one_line_exit_2(write, name):
    content, problem = CASES[name]
    p = write(name, content)
    r = runner.invoke(app, ["analyze", str(p), "--format", "json"])
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(p) in lines[0] and problem in lines[0]
    assert "Traceback" not in r.stderr and r.exception is None or isinstance(r.exception, SystemExit)


def test_a_number_too_big_for_a_float_is_infinite_not_an_error(write):
    # 3 million digits on one line: read (no hang), overflowing to inf like float() would
    p = write("huge_number.csv", b"epoch,loss\n0,1.0\n1," + b"9" * 3_000_000 + b"\n")
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert d["verdict"] == "diverged" and d["metrics"]["train_loss"]["last"] is None
    assert d["metrics"]["train_loss"]["non_finite_values"] == {"last": "Infinity"}


def test_missing_file_and_directory(tmp_path):
    r = runner.invoke(app, ["analyze", str(tmp_path / "nope.csv")])
    assert r.exit_code == 2 and r.stderr.strip() == f"curvediag: {tmp_path / 'nope.csv'}: no such file"
    r = runner.invoke(app, ["analyze", str(tmp_path)])
    assert r.exit_code == 2 and "is a directory" in r.stderr


def test_special_file_is_not_read():
    r = runner.invoke(app, ["analyze", "/dev/zero"])
    assert r.exit_code == 2 and "not a regular file" in r.stderr


def test_usage_errors_exit_2():
    assert runner.invoke(app, ["analyze"]).exit_code == 2
    assert runner.invoke(app, ["analyze", "x.csv", "--format", "yaml"]).exit_code == 2
    assert runner.invoke(app, ["analyze", "x.csv", "--fail-on", "sometimes"]).exit_code == 2
    assert runner.invoke(app, ["analyze", "-", "-"], input="").exit_code == 2


def test_unusual_but_valid_text_is_read(write):
    # UTF-8 BOM + CRLF + ';' + NaN/Infinity tokens + percentages
    text = "\ufeffepoch;loss;val_loss;val_acc\r\n0;1.0;1.1;50%\r\n1;0.8;0.9;60%\r\n2;NaN;Infinity;61%\r\n"
    r = runner.invoke(app, ["analyze", str(write("odd.csv", text.encode())), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)[0]
    assert d["verdict"] == "diverged" and d["metrics"]["val_acc"]["last"] == 0.61


def _big(write, name: str, head: bytes, body_row: bytes, tail: bytes = b""):
    rows = (9 << 20) // len(body_row) + 1  # over the 8 MiB fast-path threshold
    return write(name, head + body_row * rows + tail)


def test_large_files_take_the_fast_path_and_still_fail_cleanly(write):
    # invalid UTF-8 near the start of a large file: one line, not a traceback
    p = _big(write, "big_latin.csv", b"epoch,loss\n0,1.0 caf\xe9\n", b"1,0.9\n")
    r = runner.invoke(app, ["analyze", str(p)])
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1 and "not UTF-8" in r.stderr
    # mixed types deep in a large file: pandas' chunk warning must not leak onto stderr
    p = _big(write, "big_mixed.csv", b"epoch,loss\n", b"1,0.9\n", b"2,abc\n")
    r = runner.invoke(app, ["analyze", str(p)])
    assert r.exit_code == 2 and r.stderr.strip().splitlines() == [f"curvediag: {p}: non-numeric value 'abc' in column 'loss' at data row {(9 << 20) // 6 + 2}"]
    # a healthy large log is read through the fast path
    body = b"".join(f"{i},{1.0 / (i + 1):.6f},{1.1 / (i + 1):.6f}\n".encode() for i in range(400_000))
    p = write("big_ok.csv", b"step,train_loss,val_loss\n" + body)
    assert p.stat().st_size > 8 << 20
    r = runner.invoke(app, ["analyze", str(p), "--format", "json", "--fail-on", "never"])
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["metrics"]["train_loss"]["points"] == 400_000
