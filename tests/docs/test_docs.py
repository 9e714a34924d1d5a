"""The README, --help and the docs stay true to the code."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from curvediag.cli import app
from curvediag.report import VERDICTS
from curvediag.rules import RULES

from ..conftest import REPO
from ..runners.test_api import TOP_KEYS

README = (REPO / "README.md").read_text()
#: reference material the README links to: input formats, the JSON contract, the figures
DOCS = {name: (REPO / "docs" / name).read_text() for name in ("formats.md", "json.md", "performance.md", "accuracy.md")}


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    first = code_blocks(README)[0].strip().splitlines()
    assert len(first) == 2
    assert "sample_logs/" in first[0] and "curvediag analyze" in first[0]
    assert "pytest" in first[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert first[1] in ci
    sample = re.search(r"sample_logs/\S+", first[0]).group(0)
    assert (REPO / sample).is_file()


def test_readme_example_output_is_current(monkeypatch):
    monkeypatch.chdir(REPO)
    block = next(b for b in code_blocks(README) if b.startswith("$ curvediag analyze"))
    cmd, _, shown = block.partition("\n")
    args = cmd.split()[2:] + ["--no-color", "--fail-on", "never"]
    r = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    strip = lambda s: "\n".join(line.rstrip() for line in s.strip().splitlines())  # noqa: E731
    assert strip(r.stdout) == strip(shown)


def test_readme_documents_every_verdict_rule_and_json_key():
    for v in VERDICTS:
        assert f"`{v}`" in README, v
    for key in TOP_KEYS:  # the JSON contract lives in docs/json.md (linked from the README)
        assert f"| `{key}` |" in DOCS["json.md"], key
    for r in RULES:
        row = next((line for line in README.splitlines() if line.startswith(f"| {r.code} |")), None)
        assert row is not None, r.code
        assert f"| {r.name} |" in row and (r.verdict or "") in row
        for opt, default in r.options.items():
            assert f"`{opt}` {default:g}" in row, f"{r.code} {opt} default {default} not in README"


def test_readme_documents_every_analyze_option():
    r = CliRunner().invoke(app, ["analyze", "--help"])
    opts = set(re.findall(r"(--[a-z][a-z-]+)", r.stdout)) - {"--help"}
    for opt in opts:
        assert opt in README, opt


def test_readme_opens_with_the_two_commands_the_brief_promises():
    # the first installs only what analyze needs (no test extra) and runs it on a bundled sample;
    # the second installs the test extra and runs the suite, as .ci/run does
    block = code_blocks(README)[0].strip().splitlines()
    assert len(block) == 2
    first, second = block
    assert first.startswith("pip install -e . &&") and "[test]" not in first and "analyze sample_logs/" in first
    assert second == 'pip install -e ".[test]" && python -m pytest'
    assert second in (REPO / ".ci" / "run").read_text()


def test_readme_links_each_reference_page():
    for name in DOCS:
        assert f"](docs/{name})" in README, name


def test_json_doc_holds_every_key_of_the_schema():
    from curvediag.schema import REPORT, UNREADABLE

    from ..runners.test_api import FINDING_KEYS

    doc = DOCS["json.md"]
    table = {m for m in re.findall(r"^\| `([a-z_]+)` \|", doc, flags=re.M)}
    assert table == set(REPORT["properties"]) == TOP_KEYS
    from curvediag.curves import CANONICAL  # the metrics' keys (the schema lets the map grow)

    for key in FINDING_KEYS | set(CANONICAL):
        assert f"`{key}`" in doc, key
    for key in UNREADABLE["required"]:
        assert f'"{key}"' in doc, key


def test_formats_doc_has_a_row_for_every_format_a_log_is_read_as():
    """Each ``source.format`` the samples and real logs are read as is a row of docs/formats.md;
    every --input-format name is documented (docs/formats.md or the README's usage)."""
    import curvediag
    from curvediag import readers
    from curvediag.errors import InputError

    from ..conftest import SAMPLE_VERDICTS, real_log_files, sample

    doc = DOCS["formats.md"]
    rows = {name for line in doc.splitlines() if line.startswith("| `")
            for name in re.findall(r"`([a-z0-9_]+)`", line.split("|")[1])}
    seen = set()
    for p in [sample(n) for n in SAMPLE_VERDICTS] + real_log_files():
        try:
            seen.add(curvediag.diagnose(p).source.format)
        except InputError:
            pass
    assert seen and seen <= rows, sorted(seen - rows)
    usage = code_blocks(README)[next(i for i, b in enumerate(code_blocks(README)) if "--input-format" in b)]
    for name in readers.FORMATS:
        assert f"`{name}`" in doc or name in usage, name
