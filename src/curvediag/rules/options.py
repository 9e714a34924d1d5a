"""Typed rule options: one frozen dataclass per rule (or option group), each field with its default,
its kind (the range it is checked against) and a one-line definition.

    @dataclass(frozen=True)
    class Opts(RuleOptions):
        window: float = share(0.2, "share of the run (its last part) the plateau is measured over")

    class Plateau(Rule):
        Options = Opts

From that one declaration come the docs' "Options" section (``Rule.doc``, docs/rules.md,
``curvediag rule``), the defaults (``Rule.options``, ``curvediag config``, the README rule table)
and the check of a value set in the configuration file (``[tool.curvediag.rules.CODE]``) or the
library's ``options=`` (:func:`check_option`: one-line errors, exit 2).  A rule reads its options
as attributes (``opts.window``).

Kinds: :data:`SHARE` (a share of a run or of a level, in [0, 1]), :data:`FACTOR` (a ratio, at least 1),
:data:`COUNT` (a whole number of points, epochs or windows, at least 1) and :data:`AMOUNT` (any other
threshold: a finite number, at least 0 -- no negative tolerances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from ..errors import UsageError
from ..settings import _kind, _shown, _whole  # the configuration's value words, written once

#: The largest value any rule option may take (a finite bound: 1e308 is a typo, not a threshold).
MAX_OPTION = 1e6


@dataclass(frozen=True)
class Kind:
    """The range of a rule option."""

    name: str
    lo: float
    hi: float
    whole: bool = False

    def describe(self) -> str:
        """For people: 'share, 0-1', 'factor, >= 1', 'count, whole >= 1', 'amount, >= 0'."""
        if self.whole:
            return f"{self.name}, a whole number >= {self.lo:g}"
        if self.hi == MAX_OPTION:
            return f"{self.name}, >= {self.lo:g}"
        return f"{self.name}, {self.lo:g}-{self.hi:g}"


SHARE = Kind("share", 0.0, 1.0)
FACTOR = Kind("factor", 1.0, MAX_OPTION)
COUNT = Kind("count", 1, MAX_OPTION, whole=True)
AMOUNT = Kind("amount", 0.0, MAX_OPTION)


def _field(default: float, kind: Kind, doc: str) -> Any:
    if kind.whole != (isinstance(default, int) and not isinstance(default, bool)):
        raise TypeError(f"a {kind.name} option's default must be {'an int' if kind.whole else 'a float'}: {default!r}")
    if not kind.lo <= default <= kind.hi:
        raise ValueError(f"default {default!r} outside its range ({kind.describe()})")
    return field(default=default, metadata={"kind": kind, "doc": doc})


def share(default: float, doc: str) -> Any:
    """A share of a run or of a level, in [0, 1]."""
    return _field(default, SHARE, doc)


def factor(default: float, doc: str) -> Any:
    """A ratio, at least 1."""
    return _field(default, FACTOR, doc)


def count(default: int, doc: str) -> Any:
    """A whole number of points, epochs or windows, at least 1."""
    return _field(default, COUNT, doc)


def amount(default: float, doc: str) -> Any:
    """Any other threshold: a finite number, at least 0."""
    return _field(default, AMOUNT, doc)


@dataclass(frozen=True)
class Spec:
    """One declared option: its name, default, kind and one-line definition."""

    name: str
    default: Any
    kind: Kind
    doc: str


_O = TypeVar("_O", bound="RuleOptions")


@dataclass(frozen=True)
class RuleOptions:
    """The base of every rule's (and option group's) options dataclass; it declares none."""

    @classmethod
    def specs(cls) -> tuple[Spec, ...]:
        return tuple(Spec(f.name, f.default, f.metadata["kind"], f.metadata["doc"]) for f in fields(cls))

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {s.name: s.default for s in cls.specs()}

    @classmethod
    def spec(cls, name: str) -> Spec:
        """The declared option ``name`` (KeyError when there is none)."""
        for s in cls.specs():
            if s.name == name:
                return s
        raise KeyError(name)

    @classmethod
    def of(cls: type[_O], values: dict[str, Any]) -> _O:
        """The options a rule judges with, from checked values (defaults for what they omit)."""
        return cls(**{k: v for k, v in values.items() if k in cls.defaults()})


def check_option(value: object, spec: Spec, where: str) -> int | float:
    """A rule option checked against its kind and range; the value the rule will see.  ``where``
    begins the one-line error (``pyproject.toml: rules.O102.rise_limit``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{where} must be a number, not {_kind(value)}")
    if not math.isfinite(value):
        raise UsageError(f"{where} must be a finite number, not {value}")
    kind = spec.kind
    if kind.whole:
        k = _whole(value)
        if k is None or not kind.lo <= k <= kind.hi:
            raise UsageError(f"{where} must be a whole number between {kind.lo:g} and {kind.hi:.0f}, not {_shown(value)}")
        return k
    if not kind.lo <= value <= kind.hi:
        raise UsageError(f"{where} must be between {kind.lo:g} and {kind.hi:g}, not {value:g}")
    return float(value)


def check_table(opts: object, options: type[RuleOptions], rkey: str, where: str) -> dict[str, Any]:
    """A ``[rules.<rkey>]`` table of the configuration file (or the environment): each key a declared
    option (``-`` read as ``_``), each value checked; the values by option name."""
    if not isinstance(opts, dict):
        raise UsageError(f"{where}: rules.{rkey} must be a table of options")
    out: dict[str, Any] = {}
    for okey, oval in opts.items():
        name = okey.replace("-", "_")
        if name not in options.defaults():
            known = ", ".join(options.defaults()) or "none"
            raise UsageError(f"{where}: rules.{rkey}: unknown option {okey!r} (options: {known})")
        out[name] = check_option(oval, options.spec(name), f"{where}: rules.{rkey}.{okey}")
    return out


def options_markdown(options: type[RuleOptions]) -> list[str]:
    """The "Options" table of docs/rules.md."""
    specs = options.specs()
    if not specs:
        return []
    out = ["| option | default | kind | definition |", "|---|---|---|---|"]
    out += [f"| `{s.name}` | {s.default:g} | {s.kind.describe()} | {s.doc} |" for s in specs]
    return out


def options_text(options: type[RuleOptions]) -> str:
    """The "**Options.**" paragraph ``Rule.doc`` ends with (``curvediag rule CODE``)."""
    specs = options.specs()
    if not specs:
        return "**Options.** None."
    return "**Options.** " + " ".join(f"``{s.name}`` (default {s.default:g}; {s.kind.describe()}): {s.doc}." for s in specs)


def defaults_cell(options: type[RuleOptions]) -> str:
    """The README rule table's defaults column: '`window` 0.2, `limit` 0.01'."""
    return ", ".join(f"`{s.name}` {s.default:g}" for s in options.specs())


__all__ = ["AMOUNT", "COUNT", "FACTOR", "MAX_OPTION", "SHARE", "Kind", "RuleOptions", "Spec", "amount", "check_option",
           "check_table", "count", "defaults_cell", "factor", "options_markdown", "options_text", "share"]
