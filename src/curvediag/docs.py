"""docs/rules.md, generated from the rules themselves (their docstrings are the docs).

    python -m curvediag.docs > docs/rules.md

A test fails when the committed file is stale.
"""

from __future__ import annotations


def rules_markdown() -> str:
    from .rules import BASELINE_RULES, RULES
    from .rules import describe_groups
    from .rules.base import describe_needs

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
