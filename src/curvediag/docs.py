"""docs/rules.md and README's rule table, generated from the rules themselves (their docstrings are
the docs; their ``Options`` dataclasses the defaults, ranges and definitions of their thresholds).

    python -m curvediag.docs > docs/rules.md
    python -m curvediag.docs --readme      # the rule table of README.md (paste it over the old one)

A test fails when either is stale.
"""

from __future__ import annotations

import inspect


def rules_markdown() -> str:
    from .rules import BASELINE_RULES, RULES
    from .rules.base import describe_groups, describe_needs
    from .rules.options import options_markdown

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
    from .rules import BASELINE_RULES, RULES
    from .rules.options import defaults_cell

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


if __name__ == "__main__":
    import sys

    sys.stdout.write(readme_rule_table() if sys.argv[1:] == ["--readme"] else rules_markdown())
