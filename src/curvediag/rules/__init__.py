"""The rule registry.  Codes are stable and never reused.

Each rule lives in its own module; its class docstring is its documentation
(``curvediag rule CODE`` prints it).
"""

from __future__ import annotations

from .base import Rule, Skip
from .cramming import Cramming
from .exploding_loss import ExplodingLoss
from .flat_loss import FlatLoss
from .non_finite_loss import NonFiniteLoss
from .overfitting import Overfitting
from .still_improving import StillImproving
from .too_few_points import TooFewPoints

#: In evaluation order.
RULES: tuple[type[Rule], ...] = (
    TooFewPoints,
    NonFiniteLoss,
    ExplodingLoss,
    FlatLoss,
    Cramming,
    Overfitting,
    StillImproving,
)


def get_rule(key: str) -> type[Rule] | None:
    k = key.strip().lower()
    for r in RULES:
        if r.code.lower() == k or r.name == k:
            return r
    return None


__all__ = ["RULES", "Rule", "Skip", "get_rule"]
