"""The rule registry.  Codes are stable and never reused.

Each rule lives in its own module; its class docstring is its documentation
(``curvediag rule CODE`` prints it).  :data:`BASELINE_RULES` (codes B1xx) compare a run with its
baseline logs and run only when a baseline is given (:mod:`curvediag.comparison`).
"""

from __future__ import annotations

from .base import OptionGroup, Rule, Skip
from .baseline import BASELINE_RULES
from .chance_level import ChanceLevel
from .val_loss_up_val_acc_down import Cramming
from .early_stopping_advice import EarlyStoppingAdvice
from .epoch_staircase import EpochStaircase
from .generalisation_gap import GeneralisationGap
from .loss_spikes import LossSpikes
from .lr_schedule import LrSchedule
from .spike_triage import SpikeTriage
from .oscillating_loss import OscillatingLoss
from .over_confidence import OverConfidence
from .loss_plateau import Plateau
from .loss_at_chance import LossAtChance
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
    LossAtChance,
    Cramming,
    Overfitting,
    StillImproving,
    # secondary findings: no verdict of their own, severity info
    OverConfidence,
    LossSpikes,
    EpochStaircase,
    SpikeTriage,
    LrSchedule,
    OscillatingLoss,
    Plateau,
    BestEpochEarly,
    EarlyStoppingAdvice,
    GeneralisationGap,
    ValBetterThanTrain,
    ChanceLevel,
)


#: The option groups the rules share (a measurement judged by several rules), by name.
OPTION_GROUPS: dict[str, OptionGroup] = {g.name: g for r in RULES for g in r.groups}


def members(group: OptionGroup) -> tuple[type[Rule], ...]:
    """The rules that judge with ``group``'s options, in evaluation order."""
    return tuple(r for r in RULES if group in r.groups)


def describe_groups(rule: type["Rule"]) -> list[str]:
    """One sentence per option group the rule shares (``curvediag rule``, docs/rules.md)."""
    out = []
    for g in rule.groups:
        users = ", ".join(r.code for r in members(g))
        opts = ", ".join(f"`{k}`" for k in g.defaults)
        out.append(f"Shared options: {opts} are {g.what}'s, one setting for {users} "
                   f"(`[tool.curvediag.rules.{g.name}]`, or under any of their codes).")
    return out



#: Every rule: the single-log rules, then the comparison rules.
ALL_RULES: tuple[type[Rule], ...] = RULES + BASELINE_RULES


def get_rule(key: str) -> type[Rule] | None:
    k = key.strip().lower()
    for r in ALL_RULES:
        if r.code.lower() == k or r.name == k:
            return r
    return None


__all__ = ["OPTION_GROUPS", "RULES", "BASELINE_RULES", "ALL_RULES", "OptionGroup", "Rule", "Skip", "describe_groups", "get_rule",
           "members"]
