"""The verdicts a report can give, each with its severity, its precedence and its headline phrase.

A :class:`Verdict` is a ``str``: ``Verdict.OVERFITTING == "overfitting"``, it formats and
serialises (JSON) as its value, so machine formats show the plain word.  The members are
declared in precedence order: when several verdict rules fire, the first member among them
decides the report's verdict (:mod:`curvediag.summary`); ``healthy`` is what is left when
none fires.
"""

from __future__ import annotations

from enum import Enum


class Verdict(str, Enum):
    # value, severity, headline phrase -- in precedence order (first wins)
    DIVERGED = ("diverged", "error", "Training diverged")
    NOT_LEARNING = ("not_learning", "error", "Not learning")
    CRAMMING = ("cramming", "error", "Cramming")
    OVERFITTING = ("overfitting", "warning", "Overfitting")
    STILL_IMPROVING = ("still_improving", "info", "Still improving (train longer)")
    INSUFFICIENT_DATA = ("insufficient_data", "warning", "Too few points to judge")  # fails the default gate
    HEALTHY = ("healthy", "ok", "Healthy")

    severity: str
    headline: str

    def __new__(cls, value: str, severity: str, headline: str) -> "Verdict":
        member = str.__new__(cls, value)
        member._value_ = value
        member.severity = severity
        member.headline = headline
        return member

    @property
    def precedence(self) -> int:
        """0 for the verdict that wins over every other; ``healthy`` loses to all."""
        return list(Verdict).index(self)

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


_BY_VALUE: dict[str, Verdict] = {v.value: v for v in Verdict}


def verdict_of(value: str) -> Verdict:
    """The member for a verdict's value ("overfitting" -> Verdict.OVERFITTING); KeyError if none."""
    return _BY_VALUE[value]


def precedence(verdict: str | None) -> int:
    """The rank of a verdict (given as a member or its value); None, a secondary finding, ranks last."""
    return verdict_of(verdict).precedence if verdict is not None else len(Verdict)


__all__ = ["Verdict", "precedence", "verdict_of"]
