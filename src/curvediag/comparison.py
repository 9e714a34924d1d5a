"""A run compared with its baseline: what one run alone cannot show.

:func:`compare` diagnoses the run and each baseline log (the seeds of the recipe the run is meant
to match) with :func:`curvediag.engine.analyse`, measures both on the same footing
(:class:`Comparison`) and runs the comparison rules (:data:`curvediag.rules.BASELINE_RULES`, codes
``B1xx``) on them.  The result is the run's own :class:`~curvediag.report.Report` -- its verdict
unchanged -- with the comparison findings added and the headline saying what regressed, so every
output format and the exit status carry it.

Every measure is scale-free (losses multiplied by 10 give the same findings) and judged against
the baseline's own variation: the spread (standard deviation) of its seeds when several are given,
else the noise of its one curve.  A measure regresses when it lies beyond the worst baseline seed
by more than ``spreads`` times that spread *and* by a ``margin`` relative to the baseline's level.

:func:`compare_paths` is what ``curvediag compare`` and ``analyze --baseline`` run: a
:class:`~curvediag.report.Batch` of compared runs.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Sequence

from ._np import quiet_numerics
from .baseline_measures import (  # noqa: F401 - offered here as before
    GRID_POINTS, Beyond, Comparison, Profile, area, beyond, rank,
)
from .batch import one
from .curves import Curves
from .engine import enabled_rules as own
from .engine import rule_options as options
from .errors import CurvediagError
from .pipeline import diagnose_curves, diagnose_log
from .report import Batch, Finding, Report, Skipped, Unreadable, severity_rank
from .rules import BASELINE_RULES, Skip
from .settings import Settings, rule_enabled

def rule_options(settings: Settings) -> dict[str, dict[str, Any]]:
    """Each comparison rule's options: its defaults with the settings' overrides (checked)."""
    return options(settings.rules, BASELINE_RULES)


def enabled_rules(settings: Settings) -> tuple[tuple[str, str], ...]:
    return tuple((r.code, r.name) for r in BASELINE_RULES if rule_enabled(r.code, r.name, settings.select, settings.ignore))


@quiet_numerics
def compare_reports(run: tuple[Report, Curves], baseline: Sequence[tuple[Report, Curves]], settings: Settings) -> Report:
    """The run's report with the comparison findings (and skips) added; see the module's doc."""
    if not baseline:
        raise CurvediagError("a comparison needs at least one baseline log")
    report, curves = run
    cmp = Comparison(Profile.of(curves, report, settings), tuple(Profile.of(c, r, settings) for r, c in baseline),
                     "step" if curves.axis_kind == "step" else "epoch")
    opts = rule_options(settings)
    found: list[Finding] = []
    skipped: list[Skipped] = []
    for rule_cls in BASELINE_RULES:
        if not rule_enabled(rule_cls.code, rule_cls.name, settings.select, settings.ignore):
            continue
        rule = rule_cls()
        try:
            f = rule.compare(cmp, rule.Options.of(opts[rule.code]))
        except Skip as s:
            skipped.append(Skipped(rule.code, rule.name, str(s)))
            continue
        if f is not None:
            found.append(f)
    return replace(report, findings=report.findings + tuple(found), skipped=report.skipped + tuple(skipped),
                   headline=_headline(report.headline, found, len(baseline)))


def _headline(own: str, found: list[Finding], n: int) -> str:
    logs = f"{n} log{'s' if n != 1 else ''}"
    worst = [f for f in found if f.severity != "info"]
    if not worst:
        return f"{own} No regression against the baseline ({logs})."
    worst.sort(key=lambda f: -severity_rank(f.severity))  # stable: rule order within a severity
    more = f" (and {len(worst) - 1} more)" if len(worst) > 1 else ""
    return f"{own} Regression against the baseline ({logs}): {worst[0].code} {worst[0].message.split('; ')[0]}{more}."


def compare(baseline: Any, run: Any, settings: Settings | None = None) -> Report:
    """Compare ``run`` with ``baseline`` and return the run's Report with the comparison findings.

    ``baseline`` is one log or a sequence of them (the seeds of the reference recipe); each log, and
    ``run``, is a path, a DataFrame, a Keras history dict or :class:`~curvediag.curves.Curves`
    already read.  ``settings`` is a :class:`~curvediag.settings.Settings` (defaults when None).
    Raises :class:`~curvediag.errors.InputError` for a log that cannot be read."""
    s = settings or Settings()
    logs = [baseline] if isinstance(baseline, (str, bytes, os.PathLike, Curves, dict)) or hasattr(baseline, "columns") else list(baseline)

    def pair(log: Any) -> tuple[Report, Curves]:
        return diagnose_curves(log, s) if isinstance(log, Curves) else diagnose_log(log, s)

    return compare_reports(pair(run), [pair(b) for b in logs], s)


def read_baseline(paths: Sequence[str], settings: Settings, debug: bool = False) -> list[tuple[Report, Curves]]:
    """Each baseline log diagnosed: raises CurvediagError with the first unreadable one's line."""
    out = []
    for p in paths:
        r = one(p, settings, debug)
        if isinstance(r, Unreadable):
            raise CurvediagError(f"baseline {r.message}")
        out.append(r)
    return out


def compare_paths(baseline: Sequence[tuple[Report, Curves]], runs: Sequence[str], settings: Settings,
                  debug: bool = False, own_rules: bool = True) -> tuple["Batch", list[Curves | None]]:
    """A Batch of every run compared with ``baseline`` (an unreadable run is its Unreadable entry),
    and the curves each run read.  ``own_rules``: the Batch's rules (JUnit's test cases) include
    the single-log rules as well as the comparison rules."""
    items: list[Report | Unreadable] = []
    curves: list[Curves | None] = []
    for p in runs:
        r = one(p, settings, debug)
        if isinstance(r, Unreadable):
            items.append(r)
            curves.append(None)
        else:
            items.append(compare_reports(r, baseline, settings))
            curves.append(r[1])
    rules = (own(settings) if own_rules else ()) + enabled_rules(settings)
    return Batch(tuple(runs), tuple(items), settings, rules), curves


def regressions(batch: "Batch") -> "Batch":
    """The batch with only the comparison findings in each report: what ``compare``'s exit status
    is judged on (a run that overfits as its baseline does is no regression)."""
    codes = {r.code for r in BASELINE_RULES}
    items = tuple(it if not isinstance(it, Report) else replace(it, findings=tuple(f for f in it.findings if f.code in codes))
                  for it in batch.items)
    return replace(batch, items=items)


__all__ = ["compare", "compare_reports", "compare_paths", "read_baseline", "regressions", "Comparison", "Profile",
           "beyond", "area"]
