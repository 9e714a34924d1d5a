"""The rule registry.  Codes are stable and never reused.

Each rule lives in its own module; its class docstring is its documentation
(``curvediag rule CODE`` prints it).  :data:`BASELINE_RULES` (codes B1xx) compare a run with its
baseline logs and run only when a baseline is given (:mod:`curvediag.comparison`).
"""

from __future__ import annotations

from .base import Rule, Skip
from .baseline import BASELINE_RULES
from .chance_level import ChanceLevel
from .cramming import Cramming
from .early_stopping import EarlyStoppingAdvice
from .generalisation_gap import GeneralisationGap
from .loss_spikes import LossSpikes
from .oscillation import OscillatingLoss
from .over_confidence import OverConfidence
from .plateau import Plateau
from .training_length import BestEpochEarly
from .unstable_loss import UnstableLoss
from .val_better import ValBetterThanTrain
from .blown_up_start import BlownUpStart
from .exploding_loss import ExplodingLoss
from .flat_loss import FlatLoss
from .non_finite_loss import NonFiniteLoss
from .nothing_generalised import NothingGeneralised
from .overfitting import Overfitting
from .still_improving import StillImproving
from .too_few_points import TooFewPoints

#: In evaluation order.
RULES: tuple[type[Rule], ...] = (
    TooFewPoints,
    NonFiniteLoss,
    ExplodingLoss,
    BlownUpStart,
    UnstableLoss,
    FlatLoss,
    NothingGeneralised,
    Cramming,
    Overfitting,
    StillImproving,
    # secondary findings: no verdict of their own, severity info
    OverConfidence,
    LossSpikes,
    OscillatingLoss,
    Plateau,
    BestEpochEarly,
    EarlyStoppingAdvice,
    GeneralisationGap,
    ValBetterThanTrain,
    ChanceLevel,
)


#: Every rule: the single-log rules, then the comparison rules.
ALL_RULES: tuple[type[Rule], ...] = RULES + BASELINE_RULES


def get_rule(key: str) -> type[Rule] | None:
    k = key.strip().lower()
    for r in ALL_RULES:
        if r.code.lower() == k or r.name == k:
            return r
    return None


__all__ = ["RULES", "BASELINE_RULES", "ALL_RULES", "Rule", "Skip", "get_rule"]
