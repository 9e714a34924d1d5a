"""The engine: curves and settings in, a :class:`~curvediag.report.Report` out.

:func:`analyse` is the one place rules are selected and run, whoever calls it (the CLI,
:func:`curvediag.diagnose`, a batch of logs).  It

* selects the rules ``settings.select`` / ``settings.ignore`` switch on (longest prefix wins);
* runs them in :data:`~curvediag.rules.RULES` order on one shared :class:`~curvediag.analysis.Context`;
* once X101 (too few points) fires, skips the rest with "too few points to judge": no verdict
  may come from fewer points than the rules need, whatever the selection -- except the rules
  that need no trend (``judges_short_logs``: a NaN loss is divergence at any length);
* also runs switched-off *verdict* rules, unheard: what they would have said reaches only the
  headline ("... but O102, switched off by the configuration, would say overfitting");
* records why each selected rule could not run (its :class:`~curvediag.rules.Skip` message).

:mod:`curvediag.summary` then turns the findings into the verdict, headline and summaries.
"""

from __future__ import annotations

from typing import Any, Mapping

from .analysis import Context
from .config import Settings, rule_enabled
from .curves import Curves
from .errors import UsageError
from .report import Finding, Report, Skipped
from .rules import RULES, Skip
from .summary import build_report


def rule_options(overrides: Mapping[str, Mapping[str, Any]] | None = None, rules=RULES) -> dict[str, dict[str, Any]]:
    """Each rule's options (of ``rules``, default the single-log rules): its defaults updated with
    ``overrides[code or name]``, each checked for its kind and range as the configuration file's
    are (a NaN or negative threshold is refused)."""
    from .config import _option

    out = {}
    for r in rules:
        opts = dict(r.options)
        for key in (r.code, r.name):
            for k, v in ((overrides or {}).get(key) or {}).items():
                if k not in opts:
                    raise UsageError(f"rule {r.code} ({r.name}) has no option {k!r}; options: {', '.join(opts) or 'none'}")
                opts[k] = _option(v, opts[k], k, f"option {k!r} of rule {r.code} ({r.name})")
        out[r.code] = opts
    return out


def enabled_rules(settings: Settings) -> tuple[tuple[str, str], ...]:
    """(code, name) of every rule the settings switch on, in evaluation order."""
    return tuple((r.code, r.name) for r in RULES if rule_enabled(r.code, r.name, settings.select, settings.ignore))


def analyse(curves: Curves, settings: Settings | None = None) -> Report:
    """Diagnose ``curves`` under ``settings`` (defaults when None); see the module's doc."""
    settings = settings or Settings()
    select, ignore = tuple(settings.select), tuple(settings.ignore)
    opts = rule_options(settings.rules)
    ctx = Context(curves, opts, settings.num_classes)
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    unheard: list[Finding] = []  # what deselected verdict rules would have said
    too_short = False
    for rule_cls in RULES:
        enabled = rule_enabled(rule_cls.code, rule_cls.name, select, ignore)
        if not enabled and (rule_cls.verdict is None or too_short):
            continue
        rule = rule_cls()
        if too_short and not rule_cls.judges_short_logs:
            skipped.append(Skipped(rule.code, rule.name, "too few points to judge"))
            continue
        try:
            f = rule.check(ctx, opts[rule.code])
        except Skip as s:
            if enabled:
                skipped.append(Skipped(rule.code, rule.name, str(s)))
            continue
        if f is None:
            continue
        if rule.verdict == "insufficient_data":
            # too short is a fact about the log, not an opinion a selection can switch off:
            # no verdict of healthy may come from fewer points than the rules need
            too_short = True
        if enabled or rule.verdict == "insufficient_data":
            findings.append(f)
        else:
            unheard.append(f)
    return build_report(ctx, findings, skipped, unheard)


__all__ = ["analyse", "enabled_rules", "rule_options"]
