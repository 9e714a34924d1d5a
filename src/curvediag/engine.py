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
* checks each rule's declared ``needs`` (the curves it reads) and ``min_points`` before calling
  it, and words the skip reason itself, one way for every rule ("no validation loss in the log
  (needs val_loss)", "needs 5 finite val_loss points, the log has 3");
* records why each selected rule could not run (that reason, or the rule's own
  :class:`~curvediag.rules.Skip` message for a reason of its own, such as no ``--num-classes``).

:mod:`curvediag.summary` then turns the findings into the verdict, headline and summaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Mapping

from ._np import quiet_numerics
from .analysis import Context
from .settings import Settings, rule_enabled
from .curves import Curves
from .errors import UsageError
from .report import Finding, Report, Skipped
from .rules import OPTION_GROUPS, RULES, Rule, Skip, members
from .rules.options import check_option
from .rules.base import alternatives, missing_reason, points_needed, too_few_reason
from .summary import build_report
from . import resample
from .verdict import Verdict, precedence


def rule_options(overrides: Mapping[str, Mapping[str, Any]] | None = None, rules: Sequence[type[Rule]] = RULES) -> dict[str, dict[str, Any]]:
    """Each rule's options (of ``rules``, default the single-log rules): its defaults updated with
    ``overrides[code or name]``, each checked for its kind and range as the configuration file's are
    (a NaN or negative threshold is refused).

    An option of a shared group (:data:`~curvediag.rules.OPTION_GROUPS`, e.g. ``rise``: the val-loss
    rise O101, O102 and O103 judge) has one value, set under the group's name or under any member's
    code or name, and every member judges with it; two different values for it are an error."""
    overrides = overrides or {}
    shared: dict[str, dict[str, Any]] = {name: dict(grp.defaults) for name, grp in OPTION_GROUPS.items()}
    set_by: dict[tuple[str, str], tuple[Any, str]] = {}  # (group, option) -> (value, where it was set)

    def share(group: str, k: str, value: Any, where: str) -> None:
        seen = set_by.get((group, k))
        if seen is not None and seen[0] != value:
            grp = OPTION_GROUPS[group]
            users = ", ".join(r.code for r in members(grp))
            raise UsageError(f"option {k!r} of {grp.what} is one setting shared by {users} ([rules.{group}]), "
                             f"set to {seen[0]:g} ({seen[1]}) and {value:g} ({where}); set it once")
        set_by[(group, k)] = (value, where)
        shared[group][k] = value

    for name, grp in OPTION_GROUPS.items():
        for k, v in (overrides.get(name) or {}).items():
            if k not in grp.defaults:
                raise UsageError(f"option group {name!r} ({grp.what}) has no option {k!r}; options: {', '.join(grp.defaults)}")
            share(name, k, check_option(v, grp.Options.spec(k), f"option {k!r} of {grp.what}"), name)
    own: dict[str, dict[str, Any]] = {}
    for r in rules:
        opts = dict(r.options)
        for key in (r.code, r.name):
            for k, v in (overrides.get(key) or {}).items():
                if k not in opts:
                    raise UsageError(f"rule {r.code} ({r.name}) has no option {k!r}; options: {', '.join(opts) or 'none'}")
                value = check_option(v, r.Options.spec(k), f"option {k!r} of rule {r.code} ({r.name})")
                in_group = next((g.name for g in r.groups if k in g.defaults), None)
                if in_group is not None:
                    share(in_group, k, value, key)
                else:
                    opts[k] = value
        own[r.code] = opts
    for r in rules:
        for grp in r.groups:
            own[r.code].update(shared[grp.name])
    return own


def unmet_need(rule: type[Rule], ctx: Context) -> str | None:
    """Why ``rule`` cannot run on this log by its declared ``needs`` and ``min_points``, or None."""
    for need in rule.needs:
        t = ctx.first_track(*alternatives(need))
        if t is None:
            return missing_reason(need)
        need_n = points_needed(rule.min_points, t.name)
        if t.n < need_n:
            return too_few_reason(t.name, need_n, t.n)
    return None


def enabled_rules(settings: Settings) -> tuple[tuple[str, str], ...]:
    """(code, name) of every rule the settings switch on, in evaluation order."""
    return tuple((r.code, r.name) for r in RULES if rule_enabled(r.code, r.name, settings.select, settings.ignore))


def _run(
    ctx: Context, select: tuple[str, ...], ignore: tuple[str, ...], opts: dict[str, dict[str, Any]], verdicts_only: bool = False
) -> tuple[list[Finding], list[Skipped], list[Finding]]:
    """Run the rules on ``ctx``: (findings, skipped, unheard).  ``verdicts_only``: only the rules that
    give a verdict, and only the enabled ones (what a copy of the run is re-judged with)."""
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    unheard: list[Finding] = []  # what deselected verdict rules would have said
    too_short = False
    for rule_cls in RULES:
        enabled = rule_enabled(rule_cls.code, rule_cls.name, select, ignore)
        if verdicts_only and (rule_cls.verdict is None or not enabled):
            continue
        if not enabled and (rule_cls.verdict is None or too_short):
            continue
        rule = rule_cls()
        if too_short and not rule_cls.judges_short_logs:
            skipped.append(Skipped(rule.code, rule.name, "too few points to judge"))
            continue
        unmet = unmet_need(rule_cls, ctx)
        if unmet is not None:
            if enabled:
                skipped.append(Skipped(rule.code, rule.name, unmet))
            continue
        try:
            f = rule.check(ctx, rule_cls.Options.of(opts[rule.code]))
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
    return findings, skipped, unheard


def _verdict_of(findings: list[Finding]) -> str:
    """The verdict the findings give (that of highest precedence; healthy when none has one)."""
    return min((str(f.verdict) for f in findings if f.verdict is not None), key=precedence, default="healthy")


def assess(curves: Curves, settings: Settings, verdict: str) -> tuple[float | None, str | None]:
    """How sure ``verdict`` is: the share of copies of the run, drawn from its own noise
    (:mod:`curvediag.resample`), that the same rules judge the same way, and the verdict the
    others give most often (None when every copy agrees).  :data:`COPIES_FIRST` copies are judged
    first; when every one agrees the verdict is sure and the rest are not drawn (most runs cost
    that few), else :data:`COPIES` in all.  None for a run too short to judge."""
    if verdict == "insufficient_data":
        return None, None
    select, ignore = tuple(settings.select), tuple(settings.ignore)
    opts = rule_options(settings.rules)
    votes: dict[str, int] = {}
    n = 0
    for copy in resample.copies(curves, COPIES):
        ctx = Context(copy, opts, settings.num_classes, quick=True)
        v = _verdict_of(_run(ctx, select, ignore, opts, verdicts_only=True)[0])
        votes[v] = votes.get(v, 0) + 1
        n += 1
        if n == COPIES_FIRST and votes.get(verdict, 0) == n:
            break
    agree = votes.pop(verdict, 0)
    other = max(votes, key=lambda k: (votes[k], -precedence(k)), default=None)
    return agree / n, other


#: Copies of a run judged first; when all agree, the verdict is sure (see :func:`assess`).
COPIES_FIRST = 4
#: Copies judged in all when the first ones do not all agree.
COPIES = 16


def _worst_head(curves: Curves, settings: Settings | None) -> tuple[Report, Curves]:
    """A log of several loss heads and no total (``reg_loss``/``reg_val_loss``,
    ``cls_loss``/``cls_val_loss``): each head judged on its own; the report is the head whose
    verdict comes first in precedence (the one a CI gate must see: a head that does not learn
    fails the run however well the other does), the first head on a tie, a head too short to
    judge only when no head can be judged.  A note gives every head's verdict."""
    from dataclasses import replace

    each = [(curves.head, replace(curves, heads=()))] + list(curves.heads)
    judged = [(h, analyse(c, settings)) for h, c in each]

    def rank(i: int) -> int:
        v = judged[i][1].verdict
        return len(Verdict) if v == Verdict.INSUFFICIENT_DATA else precedence(v)

    pick = min(range(len(judged)), key=rank)
    head, rep = judged[pick]
    note = (f"{len(judged)} loss heads and no total loss: each judged on its own "
            f"({', '.join(f'{h} {r.verdict}' for h, r in judged)}); this report is of head {head!r}, "
            + ("the most severe verdict" if len({r.verdict for _, r in judged}) > 1 else "the first logged with a validation loss"))
    return replace(rep, source=replace(rep.source, notes=(*rep.source.notes, note))), each[pick][1]


def analyse_judged(curves: Curves, settings: Settings | None = None) -> tuple[Report, Curves]:
    """:func:`analyse`, and the curves the report is of: ``curves`` themselves, or, for a log of
    several loss heads, the head's curves the report judges (what a plot beside it must show)."""
    if curves.heads:
        return _worst_head(curves, settings)
    return analyse(curves, settings), curves


@quiet_numerics
def analyse(curves: Curves, settings: Settings | None = None) -> Report:
    """Diagnose ``curves`` under ``settings`` (defaults when None); see the module's doc."""
    if curves.heads:
        return _worst_head(curves, settings)[0]
    settings = settings or Settings()
    select, ignore = tuple(settings.select), tuple(settings.ignore)
    opts = rule_options(settings.rules)
    on = frozenset(r.code for r in RULES if rule_enabled(r.code, r.name, select, ignore))
    ctx = Context(curves, opts, settings.num_classes, enabled=on)
    findings, skipped, unheard = _run(ctx, select, ignore, opts)
    verdict = _verdict_of(findings)
    confidence, alternative = assess(curves, settings, verdict)
    return build_report(ctx, findings, skipped, unheard, confidence=confidence, alternative=alternative)


__all__ = ["analyse", "analyse_judged", "assess", "enabled_rules", "rule_options", "unmet_need"]
