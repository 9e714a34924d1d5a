"""The command line follows ruff's conventions (issue 15, section 6): `rules --format json`, `rule --all`,
rule docs as plain text at the terminal's width, `--statistics`, `-q`, the configuration file holding
what the command line can say (columns, metric, input format, extend-select, per-path settings),
`--input-format` taking the names reports print, `--run` matching names and prefixes, environment
errors naming the variable, no trailing spaces in text output, sparklines resampled to the width."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.rules import BASELINE_RULES, RULES

from ..conftest import SAMPLE_VERDICTS, real_log_files, sample

runner = CliRunner()
ALL = [*RULES, *BASELINE_RULES]
MARKUP = re.compile(r"`|\*\*|(?<![\w*])\*[^*\s][^*]*\*(?![\w*])")


def invoke(*args, env=None, cwd=None, monkeypatch=None):
    return runner.invoke(app, list(args), env={"COLUMNS": "80", **(env or {})})


# --------------------------------------------------------------------------- rules / rule


def test_rules_format_json_lists_every_rule_with_its_options():
    r = invoke("rules", "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [d["code"] for d in data] == [x.code for x in ALL]
    for d, rule in zip(data, ALL):
        assert d["name"] == rule.name and d["options"] == dict(rule.options) and d["summary"] == rule.summary()
        assert d["kind"] == ("comparison" if rule in BASELINE_RULES else "verdict" if rule.verdict else "secondary")
        assert d["verdict"] == (rule.verdict.value if rule.verdict else None)
        assert d["severity"] in ("info", "warning", "error")


def test_rule_all_explains_every_rule_and_json_carries_the_explanation():
    r = invoke("rule", "--all")
    assert r.exit_code == 0, r.output
    heads = [line.split()[0] for line in r.stdout.splitlines() if re.match(r"[A-Z]\d{3} [a-z-]+ \(", line)]
    assert heads == [x.code for x in ALL]
    data = json.loads(invoke("rule", "--all", "-f", "json").stdout)
    assert [d["code"] for d in data] == [x.code for x in ALL]
    assert all(d["explanation"] == x.doc() and d["remedies"] == [str(m) for m in x.remedies] for d, x in zip(data, ALL))
    one = json.loads(invoke("rule", "O102", "-f", "json").stdout)
    assert one["code"] == "O102" and one["name"] == "val-loss-rising"


@pytest.mark.parametrize("args", [[], ["O102", "--all"], ["nope"]])
def test_rule_needs_one_rule_or_all(args):
    r = invoke("rule", *args)
    assert r.exit_code == 2 and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("columns", [50, 72, 120])
def test_rule_docs_are_plain_text_at_the_terminal_width(columns):
    for rule in ALL:
        r = invoke("rule", rule.code, env={"COLUMNS": str(columns)})
        assert r.exit_code == 0
        for line in r.stdout.splitlines():
            assert len(line) <= columns, (rule.code, line)
            assert not MARKUP.search(line), (rule.code, line)  # no raw Markdown/RST markup
            assert line == line.rstrip()
    wide = invoke("rule", "T101", env={"COLUMNS": "120"}).stdout
    assert max(len(x) for x in wide.splitlines()) > 100  # the width is used, not a fixed 80


def test_rule_text_keeps_every_word_of_the_doc():
    for rule in ALL:
        shown = " ".join(invoke("rule", rule.code, env={"COLUMNS": "60"}).stdout.split())
        for word in re.sub(r"[`*]", "", rule.doc()).split():
            assert word in shown, (rule.code, word)


# --------------------------------------------------------------------------- --statistics, -q

LOGS = [str(sample(n)) for n in SAMPLE_VERDICTS]


def _findings():
    data = json.loads(invoke("analyze", *LOGS, "-f", "json", "--fail-on", "never").stdout)
    return [f for d in data if "findings" in d for f in d["findings"]], data


def test_statistics_count_the_findings_per_code_and_keep_the_status():
    findings, data = _findings()
    plain = invoke("analyze", *LOGS)
    r = invoke("analyze", *LOGS, "--statistics")
    assert r.exit_code == plain.exit_code == 1
    counts = {}
    for f in findings:
        counts[f["code"]] = counts.get(f["code"], 0) + 1
    rows = [line.split() for line in r.stdout.splitlines()]
    assert {row[1]: int(row[0]) for row in rows} == counts
    assert [int(row[0]) for row in rows] == sorted((int(row[0]) for row in rows), reverse=True)
    js = json.loads(invoke("analyze", *LOGS, "--statistics", "-f", "json").stdout)
    assert {d["code"]: d["count"] for d in js} == counts
    for d in js:
        assert d["logs"] == sum(any(f["code"] == d["code"] for f in rep.get("findings", [])) for rep in data)
    bad = invoke("analyze", *LOGS, "--statistics", "-f", "junit")
    assert bad.exit_code == 2 and "--statistics" in bad.stderr


def test_quiet_prints_one_line_per_finding_and_nothing_else():
    findings, _ = _findings()
    r = invoke("analyze", *LOGS, "-q")
    assert r.exit_code == invoke("analyze", *LOGS).exit_code
    lines = r.stdout.splitlines()
    assert len(lines) == len(findings)
    for line, f in zip(lines, findings):
        assert line.endswith(f"{f['code']} {f['name']} {f['severity']}: {f['message']}")
    assert invoke("analyze", LOGS[0], "--quiet", "--select", "X101").stdout == ""  # no finding: nothing to say
    assert invoke("analyze", LOGS[0], "-q", "-f", "json").stdout.startswith("[")  # machine formats unchanged (json: always an array)


# --------------------------------------------------------------------------- configuration


CUSTOM = "step,TrainObjective,HeldOutObjective,HeldOutScore\n" + "".join(
    f"{i},{2 * 0.9 ** i + 0.05:.5f},{2 * 0.9 ** i + 0.3 + 0.02 * max(0, i - 15):.5f},{0.5 + 0.01 * min(i, 20):.4f}\n"
    for i in range(40))


def _cfg(tmp_path, text):
    (tmp_path / "pyproject.toml").write_text(text)
    return str(tmp_path / "pyproject.toml")


def test_config_holds_the_column_mapping_and_metric(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text(CUSTOM)
    by_cli = invoke("analyze", str(log), "-f", "json", "--fail-on", "never", "--loss", "TrainObjective",
                    "--val-loss", "HeldOutObjective", "--metric", "HeldOutScore")
    assert by_cli.exit_code == 0, by_cli.output
    cfg = _cfg(tmp_path, '[tool.curvediag]\nloss = "TrainObjective"\nval-loss = "HeldOutObjective"\nmetric = "HeldOutScore"\n')
    by_file = invoke("analyze", str(log), "-f", "json", "--fail-on", "never", "--config", cfg)
    assert by_file.exit_code == 0, by_file.output
    assert json.loads(by_file.stdout)[0]["source"] == json.loads(by_cli.stdout)[0]["source"]
    assert json.loads(by_file.stdout)[0]["source"]["columns"]["val_loss"] == "HeldOutObjective"
    d = json.loads(invoke("config", "--config", cfg, "-f", "json").stdout)
    assert d["loss"] == "TrainObjective" and d["metric"] == "HeldOutScore" and d["origin"]["metric"] == cfg
    # the command line wins over the file
    r = invoke("analyze", str(log), "-f", "json", "--fail-on", "never", "--config", cfg, "--metric", "TrainObjective")
    assert json.loads(r.stdout)[0]["source"]["columns"].get("metric", "TrainObjective") == "TrainObjective"


@pytest.mark.parametrize("text, words", [
    ('loss = 3', "loss must be a column name"),
    ('input-format = "excel"', "unknown input format 'excel'"),
    ('extend-select = ["ZZ9"]', "extend-select names no rule"),
    ('[[per-path]]\nignore = ["O103"]', "paths must be a list"),
    ('[[per-path]]\npaths = ["a/*"]\nfail-on = "error"', "cannot be set per path"),
    ('[[per-path]]\npaths = ["a/*"]\nnum-classes = 1', "num-classes must be between"),
    ('per-path = 3', "per-path must be an array of tables"),
])
def test_config_errors_name_the_key(tmp_path, text, words):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(text + "\n")
    r = invoke("analyze", str(sample("healthy.csv")), "--config", str(cfg))
    assert r.exit_code == 2 and words in r.stderr and str(cfg) in r.stderr, r.stderr


def test_config_input_format_and_extend_select(tmp_path):
    cfg = _cfg(tmp_path, '[tool.curvediag]\ninput-format = "keras_csv"\nselect = ["D"]\nextend-select = ["O102"]\n')
    d = json.loads(invoke("config", "--config", cfg, "-f", "json").stdout)
    assert d["input-format"] == "csv"
    assert d["enabled"] == [r.code for r in RULES if r.code.startswith("D")] + ["O102"]
    r = invoke("analyze", str(sample("overfitting.csv")), "--config", cfg, "-f", "json", "--fail-on", "never")
    assert [f["code"] for f in json.loads(r.stdout)[0]["findings"]] == ["O102"]
    # a log that is not CSV is refused when the file says it is
    r = invoke("analyze", str(sample("cramming_history.json")), "--config", cfg)
    assert r.exit_code == 2


def test_per_path_settings_apply_to_the_matching_logs_only(tmp_path, monkeypatch):
    for d in ("asr", "vision"):
        (tmp_path / "runs" / d).mkdir(parents=True)
        shutil.copy(sample("overfitting.csv"), tmp_path / "runs" / d / "log.csv")
    (tmp_path / "runs" / "custom").mkdir()
    (tmp_path / "runs" / "custom" / "log.csv").write_text(CUSTOM)
    _cfg(tmp_path, '[tool.curvediag]\nignore = ["T102"]\n'
                   '[[tool.curvediag.per-path]]\npaths = ["runs/asr/*"]\nignore = ["O", "T102"]\n'
                   '[[tool.curvediag.per-path]]\npaths = ["runs/custom/"]\nloss = "TrainObjective"\n'
                   'val-loss = "HeldOutObjective"\n')
    monkeypatch.chdir(tmp_path)
    logs = ["runs/asr/log.csv", "runs/vision/log.csv", "./runs/custom/log.csv"]
    r = invoke("analyze", *logs, "-f", "json", "--fail-on", "never")
    assert r.exit_code == 0, r.output
    asr, vision, custom = json.loads(r.stdout)
    codes = lambda rep: {f["code"] for f in rep["findings"]}  # noqa: E731
    assert "O102" in codes(vision) and not codes(asr) & {"O102", "O103", "T102"} and "T102" not in codes(vision)
    assert asr["verdict"] != "overfitting" and vision["verdict"] == "overfitting"
    assert custom["source"]["columns"]["train_loss"] == "TrainObjective"
    # an absolute path matches relative to the config file's directory
    r = invoke("analyze", str(tmp_path / "runs" / "asr" / "log.csv"), "-f", "json", "--fail-on", "never")
    assert "O102" not in codes(json.loads(r.stdout)[0])
    # the command line still wins over a per-path entry
    r = invoke("analyze", "runs/custom/log.csv", "--loss", "HeldOutScore", "-f", "json", "--fail-on", "never")
    assert json.loads(r.stdout)[0]["source"]["columns"]["train_loss"] == "HeldOutScore"
    # inspect, plot and watch read the log with its entry too
    r = invoke("inspect", "runs/custom/log.csv", "-f", "json")
    assert r.exit_code == 0 and "TrainObjective" in r.stdout
    (tmp_path / "runs" / "bad").mkdir()
    shutil.copy(sample("healthy.csv"), tmp_path / "runs" / "bad" / "log.csv")
    with open(tmp_path / "pyproject.toml", "a") as f:
        f.write('[[tool.curvediag.per-path]]\npaths = ["*/bad/*"]\nloss = "no_such_column"\n')
    for cmd in (["analyze"], ["inspect"], ["plot"], ["watch", "--idle", "0", "--interval", "0.01"]):
        r = invoke(*cmd, "runs/bad/log.csv")
        assert r.exit_code == 2 and "no_such_column" in r.stderr, (cmd, r.stderr)
        assert invoke(*cmd, "runs/vision/log.csv").exit_code in (0, 1), cmd


# --------------------------------------------------------------------------- --input-format, --run, environment


def _formats_seen():
    seen = {}
    for p in [sample(n) for n in SAMPLE_VERDICTS] + real_log_files():
        try:
            seen.setdefault(curvediag.diagnose(p).source.format, p)
        except curvediag.InputError:
            pass
    return seen


def test_input_format_accepts_every_name_a_report_prints():
    from curvediag.config import INPUT_FORMAT_NAMES

    seen = _formats_seen()
    assert set(seen) <= set(INPUT_FORMAT_NAMES), sorted(set(seen) - set(INPUT_FORMAT_NAMES))
    for fmt, p in seen.items():
        if p.is_dir():
            continue
        r = invoke("analyze", str(p), "--input-format", fmt, "-f", "json", "--fail-on", "never")
        assert r.exit_code == 0, (fmt, p, r.stderr)
        detected = invoke("analyze", str(p), "-f", "json", "--fail-on", "never")
        assert json.loads(r.stdout)[0]["verdict"] == json.loads(detected.stdout)[0]["verdict"], (fmt, p)
    r = invoke("analyze", str(sample("healthy.csv")), "--input-format", "excel")
    assert r.exit_code == 2 and "keras_csv" in r.stderr  # the known names are listed


def test_every_input_format_name_is_a_reader_or_a_documented_format():
    from curvediag import readers
    from curvediag.config import INPUT_FORMAT_NAMES

    from ..conftest import REPO

    doc = (REPO / "docs" / "formats.md").read_text()
    for name, reader in INPUT_FORMAT_NAMES.items():
        assert reader is None or reader in readers.FORMATS, name
        assert name in readers.FORMATS or f"`{name}`" in doc, name


def test_run_matching_exact_then_unique_prefix():
    from curvediag.readers.runs import AmbiguousRun, pick

    runs = [("a1b2c3", "bold-fox-1"), ("a1ffff", "bold-fox-12"), ("c3d4e5", "calm-sea")]
    assert pick("bold-fox-1", runs) == 0  # an exact name beats the longer name it prefixes
    assert pick("calm", runs) == 2 and pick("c3d4", runs) == 2 and pick("a1b2c3", runs) == 0
    assert pick("nope", runs) is None
    with pytest.raises(AmbiguousRun, match="bold-fox-1 .*bold-fox-12"):
        pick("bold", runs)
    with pytest.raises(AmbiguousRun):
        pick("a1", runs)


def _wandb_export(path, names):
    head = ["Step"] + [f"{n} - {k}" for n in names for k in ("train/loss", "val/loss")]
    rows = [",".join([str(i)] + [f"{(2 + j) * 0.9 ** i + 0.1:.4f}" for j, _ in enumerate(names) for _ in range(2)])
            for i in range(20)]
    path.write_text(",".join(head) + "\n" + "\n".join(rows) + "\n")


def test_run_option_matches_names_and_prefixes_in_each_store(tmp_path):
    from ..readers.test_stores import mlflow_run

    export = tmp_path / "wandb.csv"
    _wandb_export(export, ["bold-fox-1", "bold-fox-12", "calm-sea"])
    mlflow_run(tmp_path, run_id="a1b2c3d4e5", name="bold-fox-1")
    mlflow_run(tmp_path, run_id="a1ff00d4e5", name="bold-fox-12")
    mlflow_run(tmp_path, run_id="c3d4e5f6a7", name="calm-sea")
    ids = {"bold-fox-1": "a1b2c3d4e5", "bold-fox-12": "a1ff00d4e5", "calm-sea": "c3d4e5f6a7"}
    for target in (export, tmp_path / "mlruns"):
        for run, expect in (("calm", "calm-sea"), ("bold-fox-1", "bold-fox-1"), ("bold-fox-12", "bold-fox-12"),
                            ("c3d4", "calm-sea"), ("a1b2", "bold-fox-1")):
            if target == export and run in ("c3d4", "a1b2"):
                continue  # a W&B export holds names only
            r = invoke("inspect", str(target), "--run", run, "-f", "json")
            assert r.exit_code == 0, (target, run, r.stderr)
            notes = " ".join(json.loads(r.stdout)["notes"])
            assert (expect if target == export else ids[expect]) in notes, (target, run, notes)
        r = invoke("analyze", str(target), "--run", "bold")
        assert r.exit_code == 2 and "matches several" in r.stderr and "bold-fox-12" in r.stderr, r.stderr
        r = invoke("analyze", str(target), "--run", "zzz")
        assert r.exit_code == 2 and "calm-sea" in r.stderr  # the choices are listed


@pytest.mark.parametrize("var, value", [("CURVEDIAG_FAIL_ON", "sometimes"), ("CURVEDIAG_FORMAT", "pdf"),
                                        ("CURVEDIAG_SELECT", "ZZ9"), ("CURVEDIAG_IGNORE", "ZZ9"),
                                        ("CURVEDIAG_NUM_CLASSES", "1"), ("CURVEDIAG_CONFIG", "/no/such/file.toml")])
def test_environment_errors_name_the_variable(var, value):
    r = invoke("analyze", str(sample("healthy.csv")), env={var: value})
    assert r.exit_code == 2 and var in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


# --------------------------------------------------------------------------- text output


def _text_outputs(tmp_path):
    logs = [str(sample(n)) for n in SAMPLE_VERDICTS]
    for columns in ("60", "80", "160"):
        env = {"COLUMNS": columns}
        for log in logs:
            yield invoke("analyze", log, "--fail-on", "never", env=env).stdout
            yield invoke("analyze", log, "--fail-on", "never", "-q", env=env).stdout
            yield invoke("inspect", log, env=env).stdout
            yield invoke("plot", log, env=env).stdout
        yield invoke("analyze", *logs, "--fail-on", "never", "--full", env=env).stdout
        yield invoke("analyze", *logs, "--statistics", env=env).stdout
        yield invoke("rule", "--all", env=env).stdout
    yield invoke("rules").stdout
    yield invoke("config").stdout
    out = tmp_path / "report.txt"
    invoke("analyze", *logs, "--full", "-o", str(out))
    yield out.read_text()


def test_no_trailing_spaces_in_text_output(tmp_path):
    n = 0
    for text in _text_outputs(tmp_path):
        for line in text.splitlines():
            assert line == line.rstrip(), repr(line)
            n += 1
    assert n > 1000


def test_sparklines_are_resampled_to_the_width_not_cropped():
    from curvediag.render.text import resample, sparkline

    values = [float(i) for i in range(24)]
    assert resample(values, 6) == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5]  # the whole curve, averaged
    assert sparkline(values, 6) == "▁▂▄▅▇█"
    assert sparkline([1.0, 2.0, float("nan"), 4.0], 2)[-1] == "×"  # a bin holding a NaN shows it
    for columns in (60, 66, 80, 100):
        out = invoke("analyze", str(sample("diverged.csv")), env={"COLUMNS": str(columns)}).stdout
        rows = [line for line in out.splitlines() if line.startswith(("train_loss", "val_loss"))]
        assert rows
        for row in rows:
            assert len(row) <= columns, row
            assert row.endswith("×"), row  # the NaN tail is in the picture at every width
