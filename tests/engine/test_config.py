"""Settings: pyproject discovery, --config, environment, CLI precedence, unknown keys,
rule selection."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.config import resolve, rule_enabled
from curvediag.errors import UsageError

from ..conftest import sample

runner = CliRunner()


def test_rule_selection_longest_prefix_wins():
    assert rule_enabled("O102", "val-loss-rising", (), ())
    assert not rule_enabled("O102", "val-loss-rising", ("D",), ())
    assert rule_enabled("O102", "val-loss-rising", ("O",), ("O1",)) is False
    assert rule_enabled("O102", "val-loss-rising", ("O102",), ("O1",))  # longer select beats shorter ignore
    assert not rule_enabled("O102", "val-loss-rising", ("O",), ("val-loss-rising",))  # a name is a full match
    assert not rule_enabled("O102", "val-loss-rising", ("O102",), ("O102",))  # ignore wins a tie


def test_pyproject_found_by_walking_up(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nfail-on = "error"\nignore = ["E101"]\n[tool.curvediag.rules.O102]\nrise_limit = 0.3\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    s = resolve(cwd=sub, environ={})
    assert s.fail_on == "error" and s.ignore == ("E101",) and s.rules == {"O102": {"rise_limit": 0.3}}
    assert s.origin["fail-on"].endswith("pyproject.toml")


def test_precedence_cli_over_env_over_file(tmp_path):
    cfg = tmp_path / "cd.toml"
    cfg.write_text('fail-on = "info"\nformat = "markdown"\nnum-classes = 3\n')
    env = {"CURVEDIAG_FAIL_ON": "warning", "CURVEDIAG_CONFIG": str(cfg)}
    s = resolve(environ=env)
    assert (s.fail_on, s.format, s.num_classes) == ("warning", "markdown", 3)
    s = resolve(environ=env, cli={"fail-on": "error", "format": None})
    assert (s.fail_on, s.format) == ("error", "markdown")
    assert s.origin == {"fail-on": "command line", "format": str(cfg), "num-classes": str(cfg)}


@pytest.mark.parametrize(
    "toml,needle",
    [
        ('fail_on = "error"\n', "unknown key 'fail_on'"),
        ('fail-on = "sometimes"\n', "fail-on must be one of"),
        ('select = ["Z9"]\n', "select names no rule: 'Z9'"),
        ("[rules.O999]\nx = 1\n", "rules.O999: no such rule"),
        ("[rules.O102]\nrise = 0.2\n", "unknown option 'rise'"),
        ('[rules.O102]\nrise_limit = "high"\n', "must be a number"),
        ("fail-on = [\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_usage_errors_naming_the_key(tmp_path, toml, needle):
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    with pytest.raises(UsageError, match=needle.replace("[", r"\[")):
        resolve(str(cfg), environ={})
    r = runner.invoke(app, ["analyze", str(sample("healthy.csv")), "--config", str(cfg)])
    assert r.exit_code == 2 and needle.split("'")[0] in r.stderr


def test_unknown_environment_variable_is_an_error():
    with pytest.raises(UsageError, match="CURVEDIAG_FAILON"):
        resolve(environ={"CURVEDIAG_FAILON": "error"})


def test_cli_uses_file_settings_and_select(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nfail-on = "error"\n')
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["analyze", str(sample("overfitting.csv"))]).exit_code == 0  # a warning < error
    r = runner.invoke(app, ["analyze", str(sample("overfitting.csv")), "--fail-on", "warning"])
    assert r.exit_code == 1
    r = runner.invoke(app, ["analyze", str(sample("overfitting.csv")), "--ignore", "O1", "--format", "json"])
    d = json.loads(r.stdout)[0]
    assert d["verdict"] != "overfitting" and not any(f["code"].startswith("O1") for f in d["findings"])
    r = runner.invoke(app, ["analyze", str(sample("cramming_history.json")), "--select", "O102", "--format", "json"])
    assert [f["code"] for f in json.loads(r.stdout)[0]["findings"]] == ["O102"]


def test_rule_thresholds_from_the_file_move_the_verdict(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[rules.losses-still-falling]\ngain_limit = 0.9\n")
    r = runner.invoke(app, ["analyze", str(sample("still_improving_fastai.csv")), "--config", str(cfg), "--format", "json"])
    assert json.loads(r.stdout)[0]["verdict"] == "healthy"


def test_exit_zero():
    r = runner.invoke(app, ["analyze", str(sample("diverged.csv")), "--exit-zero"])
    assert r.exit_code == 0 and "DIVERGED" in r.stdout
    r = runner.invoke(app, ["analyze", "/no/such.csv", "--exit-zero"])
    assert r.exit_code == 2


def test_config_command(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.curvediag]\nselect = ["D", "L"]\n')
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["config", "--format", "json"], env={"CURVEDIAG_FAIL_ON": "error"})
    d = json.loads(r.stdout)
    assert d["fail-on"] == "error" and d["origin"]["fail-on"] == "environment"
    assert d["enabled"] == ["D101", "D102", "D103", "D104", "L101", "L102", "L103"]
    r = runner.invoke(app, ["config"])
    assert "select" in r.stdout and "pyproject.toml" in r.stdout


def test_the_cli_choices_are_the_library_lists():
    # cli.py spells its choices out so that --help imports nothing; they must not drift from the lists the
    # library checks settings against
    from curvediag import cli, config, readers, report

    assert [e.value for e in cli.FailOn] == list(config.FAIL_ON) == ["never", *report.SEVERITIES[1:]]
    assert [e.value for e in cli.Format] == list(config.FORMATS)
    assert [e.value for e in cli.InputFormat] == list(readers.FORMATS)
