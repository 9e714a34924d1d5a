"""The rule interface.

A rule is a class with a stable ``code``, a kebab-case ``name``, the
``verdict`` it supports (or None for secondary findings), its ``Options``
(a :class:`~curvediag.rules.options.RuleOptions` dataclass: each threshold's default, range and
definition) and ``remedies``.  Its docstring is its documentation: what it detects and why it
matters; ``doc()`` ends it with the options, generated from ``Options``.

A rule declares the curves it reads in ``needs`` (canonical names from
:mod:`curvediag.curves`; a tuple inside it lists alternatives, the first the log
has is the one read: ``((TRAIN_LOSS, VAL_LOSS),)`` is "the training loss, else the
validation loss") and the finite points each must have in ``min_points`` (one
number for all, or a mapping from curve name to number; a curve it omits needs one point).
:func:`curvediag.engine.analyse` checks both before it calls the rule and records
the skip reason itself (:func:`missing_reason`, :func:`too_few_reason`), so
``check`` may take them as given.

``check(ctx, opts)`` (``opts`` an instance of the rule's ``Options``, read as ``opts.window``) returns a :class:`~curvediag.report.Finding` when the
pattern is present, ``None`` when it is not, and raises :class:`Skip` when
it cannot run for a reason of its own (no ``--num-classes``, a loss that is not
positive), worded with the same helpers where it is about a curve.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

from ..analysis import Context, Skip  # noqa: F401 - Skip: raised by the rules, defined beside Context
from ..curves import GRAD_NORM, LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..report import Finding
from ..verdict import Verdict
from ..wording import _position, amount, at, change, fmt, gain_of_level, pct, span  # noqa: F401 - for the rules
from .options import RuleOptions, options_text


#: One entry of ``Rule.needs``: a canonical series name, or alternatives (the first the log has is read).
Need = str | tuple[str, ...]

#: What each canonical series is called in a skip reason.
PHRASE = {
    TRAIN_LOSS: "training loss",
    VAL_LOSS: "validation loss",
    TRAIN_ACC: "training accuracy",
    VAL_ACC: "validation accuracy",
    LR: "learning rate",
    GRAD_NORM: "gradient norm",
}


def alternatives(need: Need) -> tuple[str, ...]:
    return (need,) if isinstance(need, str) else tuple(need)


def missing_reason(need: Need) -> str:
    """'no validation loss in the log (needs val_loss)'; alternatives joined with 'or'."""
    names = alternatives(need)
    return f"no {' or '.join(PHRASE.get(n, n) for n in names)} in the log (needs {' or '.join(names)})"


def too_few_reason(name: str, need: int, have: int) -> str:
    """'needs 5 finite val_loss points, the log has 3'."""
    return f"needs {need} finite {name} points, the log has {have}"


def points_needed(min_points: int | Mapping[str, int], name: str) -> int:
    """The finite points curve ``name`` must have under a rule's ``min_points``."""
    return min_points if isinstance(min_points, int) else min_points.get(name, 1)


def describe_needs(needs: tuple[Need, ...], min_points: int | Mapping[str, int]) -> str:
    """For people (``curvediag rule``, docs/rules.md): '`train_loss` or `val_loss`, at least 3 finite
    points'; '`val_acc` and `val_loss`, at least 3 finite points each'; '`val_loss` (at least 6 finite
    points) and `train_loss` (at least 3)'."""
    if not needs:
        return "no declared curves (the rule checks what it reads itself)"
    if isinstance(min_points, int):
        what = " and ".join(" or ".join(f"`{n}`" for n in alternatives(x)) for x in needs)
        if min_points > 1:
            what += f", at least {min_points} finite points{' each' if len(needs) > 1 else ''}"
        return what
    parts = []
    for x in needs:
        alts = " or ".join(f"`{n}`" + (f" (at least {points_needed(min_points, n)} finite points)"
                                        if points_needed(min_points, n) > 1 else "") for n in alternatives(x))
        parts.append(alts)
    return " and ".join(parts)


@dataclass(frozen=True)
class OptionGroup:
    """Options of one measurement that several rules judge (``rules/rise.py``: the val-loss rise).

    Each member rule lists the group in ``Rule.groups`` and its options among its own
    ``Options`` (its dataclass subclasses the group's, so ``curvediag rule`` and docs/rules.md show them), but the value is one:
    set under the group's name (``[tool.curvediag.rules.rise]``, ``options={"rise": {...}}``)
    or, as before the group existed, under any member's code or name -- every member then
    judges with it.  Setting one option to two different values is an error."""

    name: str
    #: the group's options; each member's ``Options`` subclasses it
    Options: type[RuleOptions]
    what: str  # for people: "the val-loss rise"

    @property
    def defaults(self) -> dict[str, Any]:
        return self.Options.defaults()


class Rule:
    code: ClassVar[str]
    name: ClassVar[str]
    verdict: ClassVar[Verdict | None] = None
    #: The curves it reads (a tuple inside lists alternatives, the first present is read); the
    #: engine skips the rule, with the reason, when the log lacks one.
    needs: ClassVar[tuple[Need, ...]] = ()
    #: Option groups (shared measurements) whose options it reads; see :class:`OptionGroup`.
    groups: ClassVar[tuple[OptionGroup, ...]] = ()
    #: Finite points each needed curve must have (the engine checks it): one number for all, or
    #: per curve name (a needed curve it omits must have one point).
    min_points: ClassVar[int | Mapping[str, int]] = 1
    #: its thresholds: default, range and definition of each (:mod:`curvediag.rules.options`)
    Options: ClassVar[type[RuleOptions]] = RuleOptions
    #: the defaults, by option name (derived from ``Options``)
    options: ClassVar[dict[str, Any]] = {}
    #: strings, or :class:`~curvediag.remedies.Remedy` ids worded in the log's framework when the report is built
    remedies: ClassVar[tuple[Any, ...]] = ()
    #: runs even on a log too short to judge (X101 fired): true only for evidence that needs no
    #: trend, such as a NaN loss
    judges_short_logs: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.options = cls.Options.defaults()

    @classmethod
    def doc(cls) -> str:
        """Its docstring, then its options (``**Options.** ...``, generated from ``Options``)."""
        text = inspect.cleandoc(cls.__doc__ or "")
        if not isinstance(cls.__dict__.get("code"), str) or "**Options.**" in text:
            return text
        return f"{text}\n\n{options_text(cls.Options)}"

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0] if cls.doc() else ""

    @property
    def severity(self) -> str:
        return self.verdict.severity if self.verdict else "info"

    def finding(self, message: str, evidence: dict[str, Any], span: tuple[float, float] | None = None,  # noqa: F811 - the parameter, not wording.span
                remedies: tuple[Any, ...] | None = None) -> Finding:  # texts or remedies.Remedy ids
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

    def check(self, ctx: Context, opts: Any) -> Finding | None:  # pragma: no cover
        raise NotImplementedError
