"""Every CI recipe in the README, and the GitHub Action (action.yml), run as the CI system runs them.

Each snippet of the README's "Use in CI" and "Watch a run" sections is extracted and run under the shell
the CI system uses -- GitHub's default ``bash --noprofile --norc -eo pipefail {0}``, GitLab's script lines
under ``bash -eo pipefail`` -- in a scratch directory holding a healthy, a failing or an unreadable log,
with a fake ``$GITHUB_STEP_SUMMARY``.  ``pip`` is a stub on PATH that records what it was asked to install
(nothing is installed; the requirement is checked to name this project and its extras), and ``curvediag``
runs this checkout.  Checked: the step summary holds the report also when the gate fails, the annotations /
job log are printed, the artifacts exist, and the step's exit status is the gate's own.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from ..conftest import REPO, SAMPLES

README = (REPO / "README.md").read_text()
GITHUB_SHELL = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]  # GitHub's `shell: bash` ({0} = the script)


def section(title: str) -> str:
    """The README text under ``### title`` up to the next heading of the same or a higher level."""
    start = README.index(f"\n### {title}\n")
    end = re.search(r"\n##{1,2} ", README[start + 1:])
    return README[start: start + 1 + end.start()] if end else README[start:]


def fenced(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```([a-z]*)\n(.*?)```", text, flags=re.S)


def _exe(path: Path, body: str) -> None:
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def ci(tmp_path):
    """A scratch workspace and the environment a CI step runs with: PATH holding the stub ``pip``, a
    ``curvediag`` that runs this checkout and ``python`` (this interpreter)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    pip_log = tmp_path / "pip-args"
    _exe(bin_dir / "pip", f'#!/bin/sh\nprintf "%s\\n" "$@" >> {shlex.quote(str(pip_log))}\n')
    _exe(bin_dir / "curvediag", f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m curvediag "$@"\n')
    os.symlink(sys.executable, bin_dir / "python")
    summary = tmp_path / "step_summary.md"
    summary.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CURVEDIAG_", "GITHUB_", "COLUMNS"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(REPO / "src"),
               GITHUB_STEP_SUMMARY=str(summary), RUNNER_TEMP=str(tmp_path / "runner_temp"), NO_COLOR="1")
    (tmp_path / "runner_temp").mkdir()

    class CI:
        pass

    c = CI()
    c.work, c.env, c.summary, c.pip_log, c.tmp = work, env, summary, pip_log, tmp_path
    return c


def run_script(ci, script: str, shell=GITHUB_SHELL, env=None, timeout=120) -> subprocess.CompletedProcess:
    path = ci.tmp / "step.sh"
    path.write_text(script)
    return subprocess.run([*shell, str(path)], cwd=ci.work, env={**ci.env, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


#: the logs each recipe is run on: a sample (or raw bytes) -> the status `analyze --fail-on error` gives
CASES = {"healthy": ("healthy.csv", 0), "failing": ("diverged.csv", 1), "unreadable": (b"", 2)}


def put_log(ci, case: str, where: str = "runs/last/metrics.csv") -> int:
    src, status = CASES[case]
    dest = ci.work / where
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(src if isinstance(src, bytes) else (SAMPLES / src).read_bytes())
    return status


def check_pip_requirement(ci, extras=("plot",)) -> None:
    """The stub pip was asked for this project, from git, with extras this project has."""
    from packaging.requirements import Requirement

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    args = ci.pip_log.read_text().splitlines()
    assert args[0] == "install", args
    req = Requirement(args[-1])
    assert req.name == "curvediag" and set(req.extras) == set(extras)
    assert req.url and req.url.startswith("git+https://github.com/") and req.url.endswith("/curvediag"), req.url
    optional = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(req.extras) <= set(optional)


def gate_status(ci, *args: str) -> int:
    """What the gate itself says: `curvediag analyze` alone, its exit status."""
    return subprocess.run([sys.executable, "-m", "curvediag", "analyze", *args], cwd=ci.work, env=ci.env,
                          capture_output=True).returncode


def test_each_ci_section_has_its_snippets():
    use = fenced(section("Use in CI"))
    assert [lang for lang, _ in use] == ["sh", "yaml", "yaml", "yaml", "yaml", "yaml", "text"]
    assert [lang for lang, _ in fenced(section("Watch a run"))] == ["bash"]


def test_the_install_line_names_this_project_from_git(ci):
    (lang, line), = fenced(section("Use in CI"))[:1]
    r = run_script(ci, line)
    assert r.returncode == 0, r.stderr
    check_pip_requirement(ci)
    assert "OWNER" in line and "OWNER" in section("Use in CI").split("```")[0]  # the placeholder is explained


def _github_steps():
    return yaml.safe_load(fenced(section("Use in CI"))[2][1])


@pytest.mark.parametrize("case", CASES)
def test_github_actions_step_writes_the_summary_and_exits_with_the_gate(ci, case):
    expected = put_log(ci, case)
    step, upload = _github_steps()
    assert set(step) == {"name", "run"}  # no `shell:`: GitHub's default bash -eo pipefail
    r = run_script(ci, step["run"])
    assert r.returncode == expected == gate_status(ci, "runs/last/", "--fail-on", "error"), r.stderr
    check_pip_requirement(ci)
    summary = ci.summary.read_text()
    if case == "unreadable":
        assert "no report (exit 2)" in summary
        assert "runs/last" in r.stderr
    else:
        assert summary.startswith("## curvediag") and ("healthy" in summary if expected == 0 else "diverged" in summary)
        assert "`runs/last/metrics.csv`" in summary
    if case == "failing":
        assert "::error file=runs/last/metrics.csv,title=curvediag D101" in r.stdout  # the annotations
    # the artifact step runs after a failure too, and what it uploads is there
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    for p in upload["with"]["path"].splitlines():
        assert (ci.work / p).is_file() or case == "unreadable", p


def _gitlab_job():
    return yaml.safe_load(fenced(section("Use in CI"))[3][1])["curvediag"]


@pytest.mark.parametrize("case", CASES)
def test_gitlab_job_prints_to_the_log_writes_junit_and_exits_with_the_gate(ci, case):
    import xml.etree.ElementTree as ET

    expected = put_log(ci, case)
    job = _gitlab_job()
    r = run_script(ci, "\n".join(job["script"]) + "\n", shell=["bash", "-eo", "pipefail"])
    assert r.returncode == expected == gate_status(ci, "runs/last/", "--fail-on", "error"), r.stderr
    check_pip_requirement(ci)
    assert job["artifacts"]["when"] == "always"
    junit = ci.work / job["artifacts"]["reports"]["junit"]
    if case == "unreadable":
        assert "runs/last" in r.stderr and not junit.exists()
        return
    assert "runs/last/metrics.csv" in r.stdout  # the job log shows the report, not only the JUnit file
    assert ("HEALTHY" if expected == 0 else "DIVERGED") in r.stdout
    failures = sum(int(s.get("failures", 0)) for s in ET.parse(junit).getroot().iter("testsuite"))
    assert (failures > 0) == (expected == 1)
    for p in job["artifacts"]["paths"]:
        assert (ci.work / p).is_file(), p


def _gitlab_metrics_job():
    return yaml.safe_load(fenced(section("Use in CI"))[4][1])["curvediag-metrics"]


@pytest.mark.parametrize("case", CASES)
def test_gitlab_metrics_job_writes_the_metrics_report(ci, case):
    expected = put_log(ci, case)
    job = _gitlab_metrics_job()
    r = run_script(ci, "\n".join(job["script"]) + "\n", shell=["bash", "-eo", "pipefail"])
    check_pip_requirement(ci, extras=())
    report = ci.work / job["artifacts"]["reports"]["metrics"]
    if case == "unreadable":
        assert r.returncode == 2 and not report.exists()
        return
    assert r.returncode == 0, r.stderr  # --fail-on never: the widget shows the numbers, it does not gate
    text = report.read_text()
    assert text.endswith("# EOF\n") and 'curvediag_best_val_loss{run="runs/last/metrics.csv"}' in text
    errors = re.search(r'^curvediag_findings\{run="runs/last/metrics.csv",severity="error"\} (\d+)$', text, re.M)
    assert (int(errors.group(1)) > 0) == (expected == 1)


@pytest.mark.parametrize("case", CASES)
def test_azure_step_logs_issues_and_exits_with_the_gate(ci, case):
    expected = put_log(ci, case)
    (step,) = yaml.safe_load(fenced(section("Use in CI"))[5][1])
    r = run_script(ci, step["script"], shell=["bash", "--noprofile", "--norc", "-e"])  # Azure's `script` on Linux
    assert r.returncode == expected == gate_status(ci, "runs/last/", "--fail-on", "error"), r.stderr
    check_pip_requirement(ci, extras=())
    if case == "failing":
        assert "##vso[task.logissue type=error;sourcepath=runs/last/metrics.csv;" in r.stdout
    elif case == "unreadable":
        assert "##vso[task.logissue type=error;sourcepath=runs/last;code=unreadable]" in r.stdout
    else:
        assert "##vso" not in r.stdout and "healthy" in r.stdout


TRAIN = """\
import sys, time
from pathlib import Path
rows = Path({src!r}).read_text().splitlines()
out = Path("runs/metrics.csv")
out.parent.mkdir(parents=True, exist_ok=True)
with out.open("w") as f:
    for row in rows:
        f.write(row + "\\n")
        f.flush()
        time.sleep(0.02)
time.sleep({linger})  # still "training" after the last row written
sys.exit({status})
"""


def _watch_script(idle: str | None = None) -> str:
    (_, script), = fenced(section("Watch a run"))
    if idle is not None:  # the recipe's --idle 120 would make a passing run wait two minutes here
        assert "--idle 120" in script
        script = script.replace("--idle 120", f"--idle {idle}")
    return script


@pytest.mark.slow  # watch's real writer and --idle waits, as tests/runners/test_watch.py
def test_watch_recipe_stops_a_diverging_run_and_exits_with_the_gate(ci):
    (ci.work / "train.py").write_text(TRAIN.format(src=str(SAMPLES / "diverged.csv"), linger=300, status=0))
    r = run_script(ci, _watch_script(), timeout=90)
    assert r.returncode == 1, (r.stdout, r.stderr)
    # stopped as diverged: on the climbing training loss (D102) when watch checks before the NaN row
    # arrives, on the NaN (D101) when it checks later (which depends on the machine's load)
    assert "D101" in r.stdout or "D102" in r.stdout
    assert "diverged after" in r.stdout
    # training was killed, not waited for (it would have lingered 300 s)
    alive = subprocess.run(["pgrep", "-f", str(ci.work / "train.py")], capture_output=True, text=True)
    assert not alive.stdout.strip() or alive.returncode != 0


@pytest.mark.slow  # watch's real writer and --idle waits, as tests/runners/test_watch.py
@pytest.mark.parametrize("train_status", [0, 3])
def test_watch_recipe_passes_the_curves_and_keeps_trainings_status(ci, train_status):
    (ci.work / "train.py").write_text(TRAIN.format(src=str(SAMPLES / "healthy.csv"), linger=0, status=train_status))
    r = run_script(ci, _watch_script(idle="1"), timeout=90)
    assert r.returncode == train_status, (r.stdout, r.stderr)


# --------------------------------------------------------------------------- the GitHub Action (action.yml)

ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def expression(expr: str, inputs: dict[str, str], action_path: str) -> str:
    """The value of a ``${{ ... }}`` expression, for the few forms action.yml may use: ``inputs.NAME``,
    ``github.action_path`` and ``a || b``.  Any other expression fails the test (add it here, as GitHub
    evaluates it, before using it)."""
    expr = expr.strip()
    if "||" in expr:
        return next((v for v in (expression(e, inputs, action_path) for e in expr.split("||")) if v), "")
    if expr.startswith("inputs."):
        name = expr[len("inputs."):]
        assert name in ACTION["inputs"], f"action.yml uses an undeclared input {name!r}"
        return inputs[name]
    if expr == "github.action_path":
        return action_path
    raise AssertionError(f"expression not understood by this test: {expr!r}")


def substitute(text: str, inputs, action_path) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: expression(m.group(1), inputs, action_path), text)


def run_action(ci, **given: str) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run action.yml's steps as GitHub runs a composite action: each ``run:`` (with ``${{ }}``
    substituted in it and in its ``env``) under its ``shell``, in order, stopping at the first failure.
    Returns the last step's result and the outputs it wrote to $GITHUB_OUTPUT."""
    assert ACTION["runs"]["using"] == "composite"
    given = {k.replace("_", "-"): v for k, v in given.items()}  # fail_on= -> the input fail-on
    undeclared = set(given) - set(ACTION["inputs"])
    assert not undeclared, undeclared
    inputs = {k: str(v.get("default", "")) for k, v in ACTION["inputs"].items()}
    inputs.update(given)
    for name, spec in ACTION["inputs"].items():
        if spec.get("required"):
            assert inputs[name], f"required input {name} not given"
    outputs_file = ci.tmp / "github_output"
    outputs_file.write_text("")
    result = None
    for step in ACTION["runs"]["steps"]:
        assert step["shell"] == "bash"  # composite run steps must name their shell; bash = -eo pipefail
        assert "if" not in step
        env = {k: substitute(str(v), inputs, str(REPO)) for k, v in step.get("env", {}).items()}
        assert "${{" not in step["run"], "inputs reach the script through env, never pasted into it"
        result = run_script(ci, step["run"], env={**env, "GITHUB_OUTPUT": str(outputs_file)})
        if result.returncode != 0:
            break
    outputs = dict(line.split("=", 1) for line in outputs_file.read_text().splitlines() if "=" in line)
    return result, outputs


def test_action_declares_what_the_readme_says():
    assert set(ACTION["inputs"]) == {"paths", "fail-on", "format", "summary", "args", "version", "install"}
    assert ACTION["inputs"]["paths"]["required"] is True
    use = section("Use in CI")
    for name in ACTION["inputs"]:
        assert f"`{name}`" in use, name
    assert "`status`" in use and set(ACTION["outputs"]) == {"status"}
    example = yaml.safe_load(fenced(use)[1][1])
    (step,) = example
    assert step["uses"].startswith("OWNER/curvediag@") and set(step["with"]) <= set(ACTION["inputs"])


@pytest.mark.parametrize("case", CASES)
def test_action_annotates_writes_the_summary_and_exits_with_the_gate(ci, case):
    expected = put_log(ci, case)
    r, outputs = run_action(ci, paths="runs/last/", fail_on="error")
    assert r.returncode == expected == gate_status(ci, "runs/last/", "--fail-on", "error"), r.stderr
    assert outputs["status"] == str(expected)
    assert ci.pip_log.read_text().splitlines() == ["install", "--disable-pip-version-check", str(REPO)]
    assert (REPO / "pyproject.toml").is_file()  # the action's own checkout is what pip installs
    summary = ci.summary.read_text()
    if case == "unreadable":
        assert "no report (exit status 2)" in summary and "runs/last" in r.stderr
        return
    assert summary.startswith("## curvediag") and "`runs/last/metrics.csv`" in summary
    if case == "failing":
        assert "diverged" in summary
        assert "::error file=runs/last/metrics.csv,title=curvediag D101" in r.stdout
    # the report in the summary is the one `analyze --format markdown` gives
    md = subprocess.run([sys.executable, "-m", "curvediag", "analyze", "runs/last/", "--format", "markdown",
                         "--fail-on", "error"], cwd=ci.work, env=ci.env, capture_output=True, text=True).stdout
    assert summary == md


def test_action_inputs_several_paths_globs_args_format_and_no_summary(ci):
    put_log(ci, "healthy", "runs/a/metrics.csv")
    put_log(ci, "failing", "runs/b/metrics.csv")
    r, outputs = run_action(ci, paths="runs/*/\n", fail_on="warning", format="text", summary="false",
                            args="--ignore D,I101,E101,G102,T102 --no-color")
    assert r.returncode == 0, r.stderr  # the failing log's findings ignored through args
    assert outputs["status"] == "0"
    # text: a summary table, each run named by its shortest unique path suffix
    assert re.search(r"^a/metrics\.csv\s+healthy", r.stdout, re.M) and re.search(r"^b/metrics\.csv\s", r.stdout, re.M)
    assert "::" not in r.stdout
    assert ci.summary.read_text() == ""


def test_action_install_source(ci):
    put_log(ci, "healthy")
    run_action(ci, paths="runs/last/", version="0.4.0")
    assert ci.pip_log.read_text().splitlines()[-1] == "curvediag==0.4.0"
    req = "curvediag @ git+https://github.com/OWNER/curvediag@v0.4.0"
    run_action(ci, paths="runs/last/", version="0.4.0", install=req)
    assert ci.pip_log.read_text().splitlines()[-1] == req


def test_action_paths_cannot_inject_shell(ci):
    put_log(ci, "healthy")
    marker = ci.tmp / "pwned"
    r, outputs = run_action(ci, paths=f"runs/last/ $(touch {marker}) `touch {marker}`")
    assert not marker.exists()
    assert r.returncode == 2 and outputs["status"] == "2"


def test_run_scripts_are_checked_by_bash_syntax():
    for step in ACTION["runs"]["steps"]:
        r = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    for lang, body in fenced(section("Use in CI")) + fenced(section("Watch a run")):
        scripts = [body] if lang in ("sh", "bash") else []
        if lang == "yaml":
            doc = yaml.safe_load(body)
            if isinstance(doc, list):
                scripts = [s.get("run") or s["script"] for s in doc if "run" in s or "script" in s]
            else:
                scripts = ["\n".join(job["script"]) for job in doc.values()]
        for s in scripts:
            r = subprocess.run(["bash", "-n"], input=textwrap.dedent(s), capture_output=True, text=True)
            assert r.returncode == 0, (s, r.stderr)


@pytest.mark.parametrize("planted", ["--exit-zero", "--fail-on=never", "--help", "--plot=x.svg", "-f"])
def test_action_paths_are_never_read_as_options(ci, planted):
    """Issue 20: with ``paths: "*"``, a pull request that adds an empty file named ``--exit-zero``
    turned a failing gate green; ``--plot=x.svg`` wrote a file; ``--help`` passed with no analysis.
    The paths come after ``--``: such a file is a log to read (an empty one: unreadable, exit 2)."""
    put_log(ci, "failing", "diverged.csv")
    (ci.work / planted).write_bytes(b"")
    r, outputs = run_action(ci, paths="*", fail_on="error")
    assert r.returncode == 2 and outputs["status"] == "2", (r.returncode, r.stdout, r.stderr)
    assert "empty file" in r.stdout + r.stderr  # the planted name was read as a path
    assert sorted(p.name for p in ci.work.iterdir()) == sorted(["diverged.csv", planted])  # nothing written
    # without the planted file the gate is red for the diverged log, as analyze says
    (ci.work / planted).unlink()
    r, outputs = run_action(ci, paths="*", fail_on="error")
    assert r.returncode == 1 and outputs["status"] == "1"


def test_action_paths_given_as_option_words_are_paths(ci):
    put_log(ci, "failing", "log.csv")
    r, outputs = run_action(ci, paths="--plot=x.svg log.csv", fail_on="error")
    assert r.returncode == 2 and not (ci.work / "x.svg").exists()
    assert "--plot=x.svg: no such file" in r.stdout + r.stderr
