"""An Optuna pruner on curvediag's rules: :class:`CurvediagPruner` prunes a trial whose reported
values (``trial.report(value, step)``) are diverged, not learning, or past their best.

    >>> import optuna
    >>> from curvediag.optuna import CurvediagPruner
    >>> study = optuna.create_study(direction="minimize", pruner=CurvediagPruner(patience=10))

In the objective, as with any pruner::

    trial.report(val_loss, step=epoch)
    if trial.should_prune():
        raise optuna.TrialPruned()

How the value is read.  Minimising, it is read as the validation loss (the column ``val_loss``);
maximising, as the validation quality metric (the column ``value`` read as ``--metric value``:
higher is better, not taken for an accuracy).  ``name`` logs it under another name, read as a
log column of that name would be (``name="val_accuracy"``: an accuracy).

A NaN (or an infinity) reported value prunes the trial at once when ``"diverged"`` is in
``prune_on``, whatever the direction and however few values have been reported: curvediag reads a
non-finite loss as divergence at any length, and Optuna's own pruners agree (``ThresholdPruner``
prunes on NaN; ``PercentilePruner`` and ``MedianPruner`` prune a trial whose best so far is NaN).

Cost: one :class:`~curvediag.monitor.Monitor` per running trial, kept on the pruner (the most
recent ``cache`` trials), fed only the steps reported since the last call; a call with no new step
returns the last decision without diagnosing again.  A call after a new step costs one
:meth:`~curvediag.monitor.Monitor.check` (``benchmarks/sweeps.py`` prints it: tens of ms here,
most of it the still-improving rule's projection), small beside an epoch of training.  Why a trial was pruned is kept in
:attr:`CurvediagPruner.reasons` and in the trial's user attribute ``curvediag_pruned``.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

try:
    import optuna
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('curvediag.optuna needs Optuna: pip install "curvediag[optuna]"') from e

from ._sweep import TrialWatch, check_arguments
from .settings import Settings

#: the trial user attribute that records why curvediag pruned it
USER_ATTR = "curvediag_pruned"


class CurvediagPruner(optuna.pruners.BasePruner):
    """Prunes a trial whose intermediate values curvediag diagnoses as one of ``prune_on``
    (verdicts, rule codes or names: ``("diverged", "not_learning")``) once ``min_points`` values
    are in (a NaN at once), or, with ``patience=N``, that has gone N evaluations past its best.

    ``wrapped``: another pruner (``optuna.pruners.MedianPruner()``) consulted too; the trial is
    pruned when either says so.  ``settings``: a :class:`~curvediag.settings.Settings` for the rules
    (``Settings.of(select=..., rules=...)``).  Single-objective studies only, as
    ``trial.should_prune`` itself."""

    def __init__(
        self,
        prune_on: Iterable[str] = ("diverged", "not_learning"),
        patience: int | None = None,
        min_points: int = 5,
        settings: Settings | None = None,
        wrapped: optuna.pruners.BasePruner | None = None,
        *,
        name: str | None = None,
        cache: int = 256,
    ):
        self.prune_on = check_arguments(prune_on, patience, min_points)
        self.patience = None if patience is None else int(patience)
        self.min_points = int(min_points)
        self.settings = settings
        self.wrapped = wrapped
        self.name = name
        self.cache = max(1, int(cache))
        self._watches: OrderedDict[tuple[str, int], TrialWatch] = OrderedDict()
        #: trial number -> why curvediag pruned it ("D102 exploding-loss: ...")
        self.reasons: dict[int, str] = {}

    def _watch(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> TrialWatch:
        key = (study.study_name, trial.number)
        w = self._watches.get(key)
        if w is not None:
            self._watches.move_to_end(key)
            return w
        settings = self.settings or Settings()
        column = self.name
        if column is None:
            if study.direction == optuna.study.StudyDirection.MAXIMIZE:
                column = "value"
                if not (settings.columns.get("metric") or settings.columns.get("val_acc")):
                    settings = settings.reading(columns={"metric": column})
            else:
                column = "val_loss"
        w = TrialWatch(settings, self.prune_on, self.patience, self.min_points, watched=column,
                       source=f"<optuna trial {trial.number}>")
        self._watches[key] = w
        while len(self._watches) > self.cache:
            self._watches.popitem(last=False)
        return w

    def prune(self, study: optuna.study.Study, trial: optuna.trial.FrozenTrial) -> bool:
        values: dict[int, float] = trial.intermediate_values
        if values:
            w = self._watch(study, trial)
            last = w.last_step
            new = sorted(s for s in values if last is None or s > last)
            if w.fed + len(new) != len(values):  # a step reported out of order: read them all again
                self._watches.pop((study.study_name, trial.number), None)
                w = self._watch(study, trial)
                new = sorted(values)
            for step in new:
                w.feed(step, {str(w.watched): values[step]})
            reason = w.decide() if new or w.reason else None
            if reason is not None:
                if trial.number not in self.reasons:
                    self.reasons[trial.number] = reason
                    study._storage.set_trial_user_attr(trial._trial_id, USER_ATTR, reason)
                return True
        return bool(self.wrapped is not None and self.wrapped.prune(study, trial))


__all__ = ["CurvediagPruner", "USER_ATTR"]
