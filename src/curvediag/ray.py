"""A Ray Tune stopper on curvediag's rules: :class:`CurvediagStopper` stops a trial whose reported
metrics are diverged, not learning, or past their best.

    >>> from ray import tune
    >>> from curvediag.ray import CurvediagStopper
    >>> tuner = tune.Tuner(train_fn, run_config=tune.RunConfig(stop=CurvediagStopper(patience=10)))

Each result a trial reports (``tune.report({"loss": ..., "val_loss": ...})``) is one row of that
trial's :class:`~curvediag.monitor.Monitor`, at ``step = training_iteration``: its numeric metrics
under the names reported, read as a log file's columns of those names would be (``loss``,
``val_loss``, ``val_accuracy``, ``eval_loss``, ...).  Tune's own bookkeeping (``time_total_s``,
``timestamp``, ``pid``, ... :data:`ray.tune.result.AUTO_RESULT_KEYS`) is left out.  A metric
curvediag has no name for (``score``, ``mean_loss``) is named with ``metric=`` and ``mode=``, as
Tune's own stoppers and schedulers take them: ``mode="min"`` reads it as the validation loss,
``mode="max"`` as the validation quality metric.

A NaN or an infinity in a loss (or in ``metric``) stops the trial at once when ``"diverged"`` is in
``stop_on``, however few results have arrived.  ``stop_all()`` is False: one bad trial says nothing
about the others; ``stop_all=True`` ends the experiment once any trial was stopped (a sweep where
one divergence means the setup itself is broken).  A result's ``step`` or ``epoch`` key is not
read: the axis is ``training_iteration``.
"""

from __future__ import annotations

from typing import Any, Iterable

try:
    from ray.tune import Stopper
    from ray.tune.result import AUTO_RESULT_KEYS, DEBUG_METRICS, TRAINING_ITERATION
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError('curvediag.ray needs Ray Tune: pip install "curvediag[ray]"') from e

from ._sweep import TrialWatch, check_arguments
from .settings import Settings

#: result keys that are Tune's bookkeeping, not the trial's metrics
IGNORED = frozenset(AUTO_RESULT_KEYS) | frozenset(DEBUG_METRICS) | {"done", "should_checkpoint", "experiment_tag"}


class CurvediagStopper(Stopper):
    """Stops a trial whose results curvediag diagnoses as one of ``stop_on`` (verdicts, rule codes
    or names: ``("diverged", "not_learning")``) once ``min_points`` results are in (a NaN loss at
    once), or, with ``patience=N``, whose judged validation curve has gone N results past its best.

    ``metric``/``mode``: the result key to read as the validation loss (``"min"``) or quality
    metric (``"max"``) when curvediag would not recognise its name.  ``settings``: a
    :class:`~curvediag.settings.Settings` for the rules.  ``stop_all``: end the whole experiment once
    a trial was stopped (default False).  :attr:`reasons` maps each stopped trial id to why."""

    def __init__(
        self,
        stop_on: Iterable[str] = ("diverged", "not_learning"),
        patience: int | None = None,
        min_points: int = 5,
        settings: Settings | None = None,
        *,
        metric: str | None = None,
        mode: str | None = None,
        stop_all: bool = False,
    ):
        self.stop_on = check_arguments(stop_on, patience, min_points)
        if (metric is None) != (mode is None) or mode not in (None, "min", "max"):
            raise ValueError('give metric and mode together; mode is "min" or "max"')
        settings = settings or Settings()
        if metric is not None:
            settings = settings.reading(columns={"val_loss" if mode == "min" else "metric": metric})
        self.settings = settings
        self.patience = None if patience is None else int(patience)
        self.min_points = int(min_points)
        self.metric = metric
        self._stop_all = bool(stop_all)
        self._watches: dict[str, TrialWatch] = {}
        #: trial id -> why curvediag stopped it ("D102 exploding-loss: ...")
        self.reasons: dict[str, str] = {}

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        w = self._watches.get(trial_id)
        if w is None:
            w = self._watches[trial_id] = TrialWatch(self.settings, self.stop_on, self.patience, self.min_points,
                                                     watched=self.metric, source=f"<tune trial {trial_id}>")
        step = result.get(TRAINING_ITERATION)
        if step is None:
            step = w.fed + 1
        metrics = {str(k): v for k, v in result.items() if k not in IGNORED and str(k) not in ("step", "epoch")}
        if metrics:
            w.feed(step, metrics)
        reason = w.decide()
        if reason is not None:
            self.reasons.setdefault(trial_id, reason)
            del self._watches[trial_id]  # Tune stops the trial; its points are no longer needed
            return True
        if result.get("done"):
            self._watches.pop(trial_id, None)
        return False

    def stop_all(self) -> bool:
        return self._stop_all and bool(self.reasons)


__all__ = ["CurvediagStopper", "IGNORED"]
