from __future__ import annotations


from ..analysis import MIN_POINTS, Context
from ..verdict import Verdict
from ..report import Finding
from .base import Rule
from .options import RuleOptions


class TooFewPoints(Rule):
    """The log is too short to judge.

    **What it detects.** Fewer than 3 finite points in every loss curve. Three
    points can be enough when the change is large against the noise, so logs of
    3 to 5 points are judged, but only on large relative changes.

    **Why it matters.** A trend needs at least three points; with fewer, any
    verdict would be a guess.

    **Options.** None.
    """

    code = "X101"
    name = "too-few-points"
    verdict = Verdict.INSUFFICIENT_DATA
    judges_short_logs = True
    remedies = (
        "Log every epoch (or every N steps) for both training and validation loss.",
        "Run at least a few epochs before judging the curves.",
    )

    def check(self, ctx: Context, opts: RuleOptions) -> Finding | None:
        n = ctx.points
        if n >= MIN_POINTS:
            return None
        return self.finding(
            f"the longest {'loss' if ctx.main_loss is not None else 'metric'} curve has {n} finite point{'s' if n != 1 else ''}; at least {MIN_POINTS} are needed",
            {"points": n, "needed": MIN_POINTS},
        )
