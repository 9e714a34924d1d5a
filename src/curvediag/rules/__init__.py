"""The rule registry.  Codes are stable and never reused.

Each rule lives in its own module; its class docstring is its documentation
(``curvediag rule CODE`` prints it).
"""

from __future__ import annotations

from .base import Rule, Skip
from .chance_level import ChanceLevel
from .val_loss_up_val_acc_down import Cramming
from .early_stopping_advice import EarlyStoppingAdvice
from .generalisation_gap import GeneralisationGap
from .loss_spikes import LossSpikes
from .oscillating_loss import OscillatingLoss
from .over_confidence import OverConfidence
from .loss_plateau import Plateau
from .best_epoch_early import BestEpochEarly
from .unstable_loss import UnstableLoss
from .val_better_than_train import ValBetterThanTrain
from .blown_up_start import BlownUpStart
from .exploding_loss import ExplodingLoss
from .flat_training_loss import FlatLoss
from .non_finite_loss import NonFiniteLoss
from .nothing_generalised import NothingGeneralised
from .val_loss_rising import Overfitting
from .losses_still_falling import StillImproving
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


def get_rule(key: str) -> type[Rule] | None:
    k = key.strip().lower()
    for r in RULES:
        if r.code.lower() == k or r.name == k:
            return r
    return None


__all__ = ["RULES", "Rule", "Skip", "get_rule"]
