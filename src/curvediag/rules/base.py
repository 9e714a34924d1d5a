"""The rule interface.

A rule is a class with a stable ``code``, a kebab-case ``name``, the
``verdict`` it supports (or None for secondary findings), default
``options`` (its thresholds) and ``remedies``.  Its docstring is its
documentation: what it detects, why it matters, and its options.

``check(ctx, opts)`` returns a :class:`~curvediag.report.Finding` when the
pattern is present, ``None`` when it is not, and raises :class:`Skip` when
it cannot run (a column is missing, too few points).
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from ..analysis import Context
from ..report import Finding
from ..verdict import Verdict


class Skip(Exception):
    """The rule cannot run on this log; the message says why."""


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    verdict: ClassVar[Verdict | None] = None
    options: ClassVar[dict[str, Any]] = {}
    remedies: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def doc(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0] if cls.doc() else ""

    @property
    def severity(self) -> str:
        return self.verdict.severity if self.verdict else "info"

    def finding(self, message: str, evidence: dict[str, Any], span=None, remedies=None) -> Finding:
        return Finding(
            code=self.code,
            name=self.name,
            verdict=self.verdict,
            severity=self.severity,
            message=message,
            evidence=evidence,
            span=span,
            remedies=tuple(self.remedies if remedies is None else remedies),
        )

    def check(self, ctx: Context, opts: dict[str, Any]) -> Finding | None:  # pragma: no cover
        raise NotImplementedError


def main_loss_or_skip(ctx: Context):
    """The training loss (else the validation loss), or Skip when it is missing or too short."""
    from ..analysis import MIN_POINTS

    t = ctx.main_loss
    if t is None:
        raise Skip("no loss column")
    if t.n < MIN_POINTS:
        raise Skip(f"{t.name} has {t.n} finite points; needs {MIN_POINTS}")
    return t


def val_loss_points_or_skip(ctx: Context, need: int):
    """The finite validation-loss points as logged (not smoothed), or Skip when there
    are fewer than ``need``."""
    from ..curves import VAL_LOSS

    s = ctx.curves.get(VAL_LOSS)
    if s is None:
        raise Skip("no validation loss in the log")
    fin = s.finite()
    if len(fin) < need:
        raise Skip(f"needs at least {need} validation points")
    return fin


def pct(x: float) -> str:
    """0.384 -> '38%' (one decimal under 10%)."""
    v = abs(x) * 100
    if v >= 1e5:  # a blow-up: 9.5e+79%, not eighty digits
        return f"{v:.2g}%"
    s = f"{v:.1f}" if v < 10 else f"{v:.0f}"
    return s + "%"


def fmt(v: float) -> str:
    """A measurement with 4 significant digits."""
    return f"{v:.4g}"


def at(pos: float, axis: str) -> str:
    """'epoch 12' / 'step 1500' (integers shown without .0)."""
    p = f"{pos:g}" if float(pos).is_integer() else f"{pos:.3g}"
    return f"{axis} {p}"
