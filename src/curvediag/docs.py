"""docs/rules.md, generated from the rules themselves (their docstrings are the docs), and a rule as
``curvediag rules --format json`` and the MCP server give it (:func:`_rule_dict`).

    python -m curvediag.docs > docs/rules.md

A test fails when the committed file is stale.
"""

from __future__ import annotations

import re
import textwrap

from .rules import BASELINE_RULES, RULES, describe_groups
from .rules.base import describe_needs


def _rule_kind(r) -> str:
    return "comparison" if r in BASELINE_RULES else "verdict" if r.verdict else "secondary"


def _rule_dict(r, explanation: bool) -> dict:
    """One rule as ``rules --format json`` / ``rule --format json`` give it."""
    kind = _rule_kind(r)
    severity = getattr(r, "level", "info") if kind == "comparison" else r.verdict.severity if r.verdict else "info"
    d = {"code": r.code, "name": r.name, "kind": kind, "verdict": r.verdict.value if r.verdict else None,
         "severity": severity,
         "summary": r.summary(), "options": dict(r.options)}
    if explanation:
        d["needs"] = _plain_doc(describe_needs(r.needs, r.min_points), 0) if kind != "comparison" else None
        d["explanation"] = r.doc()
        d["remedies"] = [str(x) for x in r.remedies]
    return d


def _plain_doc(text: str, width: int) -> str:
    """A rule's documentation (Markdown/RST-flavoured: ``**Heading.**``, ``code``, *emphasis*, lists)
    as plain text for a terminal: the markup dropped, paragraphs and list items wrapped at ``width``
    (0: not wrapped)."""
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
        out += ["", r.doc()]
        if r.options:
            out += ["", "| option | default |", "|---|---|"]
            out += [f"| `{k}` | {v:g} |" for k, v in r.options.items()]
        if r.remedies:
            out += ["", "Remedies:", ""]
            out += [f"- {x}" for x in r.remedies]
    return "\n".join(out) + "\n"


def _level(r) -> str:
    """A comparison rule's severity; B105's is error for a new error verdict."""
    return "info; error for an error verdict" if r.code == "B105" else r.level


if __name__ == "__main__":
    import sys

    sys.stdout.write(rules_markdown())
