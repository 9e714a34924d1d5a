"""Settings files: every valid TOML spelling of the table is read; every bad value, key,
type or file is one line naming the file and the key, exit 2 -- never a traceback or a hang."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.config import resolve
from curvediag.errors import UsageError

from ..conftest import sample

runner = CliRunner()
SRC = str(Path(curvediag.__file__).resolve().parent.parent)


def run(*args, **kw):
    return runner.invoke(app, [str(a) for a in args], **kw)


SPELLINGS = {
    "table header": '[tool.curvediag]\nfail-on = "error"\n',
    "quoted key": '[tool."curvediag"]\nfail-on = "error"\n',
    "single-quoted key": "[tool.'curvediag']\nfail-on = 'error'\n",
    "inline table under [tool]": '[tool]\ncurvediag = {fail-on = "error"}\n',
    "dotted key under [tool]": '[tool]\ncurvediag.fail-on = "error"\n',
    "dotted key at top level": 'tool.curvediag.fail-on = "error"\n',
    "spaced dotted key": 'tool . curvediag . fail-on = "error"\n',
    "rules sub-table only": '[tool.curvediag.rules.O102]\nrise_limit = 0.2\n',
    "unicode escape in a quoted key": '[tool."curve\\u0064iag"]\nfail-on = "error"\n',
}


@pytest.mark.parametrize("kind", list(SPELLINGS))
def test_every_toml_spelling_of_the_table_is_read(tmp_path, kind):
    (tmp_path / "pyproject.toml").write_text(SPELLINGS[kind] + '\n[project]\nname = "x"\n')
    s = resolve(cwd=tmp_path, environ={})
    assert s.config_file == str(tmp_path / "pyproject.toml")
    if "rules" in kind:
        assert s.rules == {"O102": {"rise_limit": 0.2}}
    else:
        assert s.fail_on == "error" and s.origin["fail-on"] == str(tmp_path / "pyproject.toml")


def test_a_pyproject_without_the_table_is_not_a_config_file(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.black]\nline-length = 100\n')
    s = resolve(cwd=tmp_path, environ={})
    assert s.config_file is None and s.fail_on == "warning"


BAD = [
    # (TOML body, the key the message must name, words of the message)
    ("[tool]\ncurvediag = 5\n", "tool.curvediag", "must be a table"),
    ('tool.curvediag = "x"\n', "tool.curvediag", "must be a table"),
    ("[tool.curvediag]\nnum-classes = inf\n", "num-classes", "whole number"),
    ("[tool.curvediag]\nnum-classes = nan\n", "num-classes", "whole number"),
    ("[tool.curvediag]\nnum-classes = 2.5\n", "num-classes", "whole number"),
    ("[tool.curvediag]\nnum-classes = 1e30\n", "num-classes", "between 2 and"),
    ("[tool.curvediag]\nnum-classes = true\n", "num-classes", "whole number"),
    ('[tool.curvediag]\nnum-classes = "ten"\n', "num-classes", "whole number"),
    ("[tool.curvediag]\nnum-classes = [10]\n", "num-classes", "whole number"),
    ("[tool.curvediag.rules.E101]\npatience = nan\n", "rules.E101.patience", "finite"),
    ("[tool.curvediag.rules.E101]\npatience = inf\n", "rules.E101.patience", "finite"),
    ("[tool.curvediag.rules.E101]\npatience = 0\n", "rules.E101.patience", "between 1 and"),
    ("[tool.curvediag.rules.E101]\npatience = 2.5\n", "rules.E101.patience", "whole number"),
    ("[tool.curvediag.rules.E101]\npatience = 1e12\n", "rules.E101.patience", "between 1 and"),
    ("[tool.curvediag.rules.P101]\nwindow = 1e12\n", "rules.P101.window", "between 0 and 1"),
    ("[tool.curvediag.rules.P101]\nwindow = -0.5\n", "rules.P101.window", "between 0 and 1"),
    ("[tool.curvediag.rules.O102]\nplateau_tol = -1\n", "rules.O102.plateau_tol", "between 0 and"),
    ("[tool.curvediag.rules.O102]\nrise_limit = -0.1\n", "rules.O102.rise_limit", "between 0 and"),
    ("[tool.curvediag.rules.O102]\nrise_limit = 1e300\n", "rules.O102.rise_limit", "between 0 and"),
    ("[tool.curvediag.rules.I101]\nspike_factor = 0.5\n", "rules.I101.spike_factor", "between 1 and"),
    ('[tool.curvediag.rules.O102]\nrise_limit = "0.2"\n', "rules.O102.rise_limit", "must be a number"),
    ("[tool.curvediag.rules.O102]\nrise_limit = true\n", "rules.O102.rise_limit", "must be a number"),
    ("[tool.curvediag.rules.O102]\nrise_limit = [0.2]\n", "rules.O102.rise_limit", "must be a number"),
    ("[tool.curvediag.rules.O102]\nbogus = 1\n", "bogus", "unknown option"),
    ("[tool.curvediag.rules.Z999]\nx = 1\n", "Z999", "no such rule"),
    ("[tool.curvediag.rules]\nO102 = 5\n", "rules.O102", "table of options"),
    ("[tool.curvediag]\nrules = 5\n", "rules", "table of tables"),
    ("[tool.curvediag]\nfail-on = 3\n", "fail-on", "must be one of"),
    ("[tool.curvediag]\nfail-on = [\"error\"]\n", "fail-on", "must be one of"),
    ("[tool.curvediag]\nformat = {a = 1}\n", "format", "must be one of"),
    ("[tool.curvediag]\nselect = 5\n", "select", "list of rule"),
    ("[tool.curvediag]\nignore = [1, 2]\n", "ignore", "list of rule"),
    ("[tool.curvediag]\nselect = [\"ZZ\"]\n", "select", "names no rule"),
    ("[tool.curvediag]\nbogus-key = 1\n", "bogus-key", "unknown key"),
    ("[tool.curvediag]\nfail-on = \n", "pyproject.toml", "not valid TOML"),
    ("[tool.curvediag]\nx = " + "[" * 5000 + "]" * 5000 + "\n", "pyproject.toml", "not valid TOML"),
]


@pytest.mark.parametrize("body,key,words", BAD, ids=[f"{i}:{b.splitlines()[-1][:30]}" for i, (b, _, _) in enumerate(BAD)])
def test_a_bad_config_is_one_line_naming_file_and_key(tmp_path, monkeypatch, body, key, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(body)
    for args in (["analyze", sample("healthy.csv")], ["config"]):
        r = run(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr, r.exception)
        err = r.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith(f"curvediag: {tmp_path / 'pyproject.toml'}: ") and key in err and words in err, err


def test_bad_environment_values_name_the_variable():
    for env, words in (({"CURVEDIAG_NUM_CLASSES": "inf"}, "num-classes"), ({"CURVEDIAG_NUM_CLASSES": "1e40"}, "num-classes"),
                       ({"CURVEDIAG_FAIL_ON": "sometimes"}, "fail-on")):
        with pytest.raises(UsageError, match=f"environment: {words}"):
            resolve(environ=env)
    assert resolve(environ={"CURVEDIAG_NUM_CLASSES": "10"}).num_classes == 10


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo", "directory"])
def test_a_config_that_is_not_a_regular_file_is_refused_not_read(tmp_path, special):
    path = special
    if special == "fifo":
        path = tmp_path / "cfg.toml"
        os.mkfifo(path)
    elif special == "directory":
        path = tmp_path
    e = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for how in (["--config", str(path)], []):
        env = dict(e, CURVEDIAG_CONFIG=str(path)) if not how else e
        r = subprocess.run([sys.executable, "-m", "curvediag", "analyze", str(sample("healthy.csv")), *how],
                           capture_output=True, env=env, timeout=60)
        err = r.stderr.decode()
        assert r.returncode == 2 and len(err.splitlines()) == 1 and str(path) in err, err


def test_an_oversized_config_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)
    r = run("analyze", sample("healthy.csv"), "--config", big)
    assert r.exit_code == 2 and "larger than" in r.stderr


def test_an_unreadable_pyproject_is_one_line(tmp_path, monkeypatch):
    # as root every file is readable: deny the open itself, as the kernel would for another user
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nfail-on = "error"\n')
    real_open = os.open

    def denied(path, *a, **k):
        if str(path).endswith("pyproject.toml"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(path, *a, **k)

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "open", denied)
    monkeypatch.setattr(Path, "open", lambda self, *a, **k: denied(self) if self.name == "pyproject.toml" else open(self, *a, **k))
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: denied(self))
    r = run("analyze", sample("healthy.csv"))
    assert r.exit_code == 2, (r.stdout, r.stderr, r.exception)
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and "pyproject.toml" in err and "permission denied" in err.lower(), err
