"""The rules' documentation, generated from the rules themselves (their docstrings are the docs;
their ``Options`` dataclasses the defaults, ranges and definitions of their thresholds):
docs/rules.md, README's rule table, and what ``curvediag rules`` / ``rule CODE`` (and the MCP tools) print.

    python -m curvediag.docs > docs/rules.md
    python -m curvediag.docs --readme      # the rule table of README.md (paste it over the old one)

A test fails when either is stale.
"""

from __future__ import annotations

import inspect
import re
import textwrap

from .rules import BASELINE_RULES, RULES, describe_groups
from .rules.base import describe_needs
from .rules.options import defaults_cell, options_markdown


def rules_markdown() -> str:
    out = [
        "# curvediag rules",
        "",
        "Generated from the rules' own documentation by `python -m curvediag.docs > docs/rules.md`;",
        "do not edit by hand. `curvediag rule CODE` prints the same text.",
        "",
        "| code | name | verdict | summary |",
        "|---|---|---|---|",
    ]
    for r in RULES:
        out.append(f"| [{r.code}](#{r.code.lower()}-{r.name}) | {r.name} | {r.verdict or '— (info)'} | {r.summary()} |")
    out += [
        "",
        "Comparison rules run only when a baseline is given (`curvediag compare`, `analyze --baseline`,",
        "`curvediag.compare`): they measure a run against its baseline logs and never set its verdict.",
        "",
        "| code | name | severity | summary |",
        "|---|---|---|---|",
    ]
    for r in BASELINE_RULES:
        out.append(f"| [{r.code}](#{r.code.lower()}-{r.name}) | {r.name} | {_level(r)} | {r.summary()} |")
    for r in RULES + BASELINE_RULES:
        out += ["", f"## {r.code} {r.name}", ""]
        if r in BASELINE_RULES:
            out.append(f"Comparison finding (severity {_level(r)}): it never sets the verdict.")
        else:
            out.append(f"Verdict: `{r.verdict}` (severity {'per verdict' if r.verdict else 'info'})." if r.verdict
                       else "Secondary finding (severity info): it never sets the verdict.")
            out += ["", f"Needs: {describe_needs(r.needs, r.min_points)}."]
            out += [x for s in describe_groups(r) for x in ("", s)]
        out += ["", inspect.cleandoc(r.__doc__ or "")]
        out += ["", "**Options.**" + ("" if r.options else " None.")]
        if r.options:
            out += [""] + options_markdown(r.Options)
        if r.remedies:
            out += ["", "Remedies:", ""]
            out += [f"- {x}" for x in r.remedies]
    return "\n".join(out) + "\n"


#: what the defaults column says of a rule with no options
_NO_OPTIONS = {"X101": "3 points", "D101": "none allowed"}


def readme_rule_table() -> str:
    """README's rule table: each rule's code, name, verdict and its options' defaults (from ``Options``)."""

    out = ["| code | name | verdict | default thresholds |", "|---|---|---|---|"]
    for r in RULES:
        out.append(f"| {r.code} | {r.name} | {r.verdict or '— (info)'} | {defaults_cell(r.Options) or _NO_OPTIONS.get(r.code, 'none')} |")
    for r in BASELINE_RULES:
        level = "info; error when the new verdict is an error" if r.code == "B105" else r.level
        out.append(f"| {r.code} | {r.name} | — (comparison, {level}) | {defaults_cell(r.Options) or 'none'} |")
    return "\n".join(out) + "\n"


def _level(r) -> str:
    """A comparison rule's severity; B105's is error for a new error verdict."""
    return "info; error for an error verdict" if r.code == "B105" else r.level


def rules_text() -> str:
    """``curvediag rules``: one line per rule (code, name, verdict, summary), the comparison rules after."""

    out = [f"{r.code}  {r.name:28s} {r.verdict or '-':18s} {r.summary()}" for r in RULES]
    out.append("\nComparison rules (run only with a baseline: compare, analyze --baseline):")
    out += [f"{r.code}  {r.name:28s} {'-':18s} {r.summary()}" for r in BASELINE_RULES]
    return "\n".join(out) + "\n"


def rule_kind(r) -> str:

    return "comparison" if r in BASELINE_RULES else "verdict" if r.verdict else "secondary"


def rule_dict(r, explanation: bool) -> dict:
    """One rule as ``rules --format json`` / ``rule --format json`` give it."""

    kind = rule_kind(r)
    severity = getattr(r, "level", "info") if kind == "comparison" else r.verdict.severity if r.verdict else "info"
    d = {"code": r.code, "name": r.name, "kind": kind, "verdict": r.verdict.value if r.verdict else None,
         "severity": severity,
         "summary": r.summary(), "options": dict(r.options)}
    if explanation:
        d["needs"] = plain_doc(describe_needs(r.needs, r.min_points), 0) if kind != "comparison" else None
        d["explanation"] = r.doc()
        d["remedies"] = [str(x) for x in r.remedies]
    return d



def plain_doc(text: str, width: int) -> str:
    """A rule's documentation (Markdown/RST-flavoured: ``**Heading.**``, ``code``, *emphasis*, lists)
    as plain text for a terminal: the markup dropped, paragraphs and list items wrapped at ``width``
    (0: not wrapped)."""
    import textwrap

    text = re.sub(r"``([^`]+)``", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    text = re.sub(r"(?<![\w*])\*([^*\s](?:[^*]*[^*\s])?)\*(?![\w*])", r"\1", text)
    if not width:
        return text
    out = []
    for para in re.split(r"\n\s*\n", text.strip("\n")):
        lines = para.splitlines()
        items: list[list[str]] = []
        for line in lines:
            m = re.match(r"(\s*)([-*]|\d+\.) (.*)", line)
            if m or not items:
                items.append([m.group(0).strip() if m else line.strip()])
            else:
                items[-1].append(line.strip())
        if len(items) == 1 and not re.match(r"([-*]|\d+\.) ", items[0][0]):
            out.append(textwrap.fill(" ".join(items[0]), width, break_on_hyphens=False))
            continue
        block = []
        for it in items:
            first, _, rest = " ".join(it).partition(" ")
            indent = " " * (len(first) + 3)
            block.append(textwrap.fill(rest, width, initial_indent=f"  {first} ", subsequent_indent=indent,
                                       break_on_hyphens=False))
        out.append("\n".join(block))
    return "\n\n".join(out)


def explain_text(r, width: int) -> str:
    """``curvediag rule CODE`` as text: plain, wrapped at ``width``."""


    kind = f"comparison rule, severity {getattr(r, 'level', 'info')}" if r in BASELINE_RULES else f"verdict: {r.verdict or '-'}"
    wrap = lambda s, indent="": textwrap.fill(s, width, subsequent_indent=indent, break_on_hyphens=False)  # noqa: E731
    out = [wrap(f"{r.code} {r.name} ({kind})", "  ")]
    if r not in BASELINE_RULES:
        out.append(wrap(plain_doc(f"Needs: {describe_needs(r.needs, r.min_points)}", 0), "  "))
    out += ["", plain_doc(r.doc(), width)]
    if r.options:  # the one-line summary of the Options paragraph r.doc() ends with (both from r.Options)
        out += ["", wrap("Defaults: " + ", ".join(f"{k} = {v}" for k, v in r.options.items()), "  ")]
    out += [wrap(plain_doc(s, 0), "  ") for s in describe_groups(r)]
    if r.remedies:
        out += ["", "Remedies:"]
        out += [textwrap.fill(plain_doc(str(rem), 0), width, initial_indent="  - ", subsequent_indent="    ",
                              break_on_hyphens=False) for rem in r.remedies]
    return "\n".join(out) + "\n"



if __name__ == "__main__":
    import sys

    sys.stdout.write(readme_rule_table() if sys.argv[1:] == ["--readme"] else rules_markdown())
