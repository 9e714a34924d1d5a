"""Keras 3 callback: diagnose the curves while ``model.fit`` trains, on the rules ``curvediag
analyze`` uses on a finished log.

The three lines a user adds::

    from curvediag.keras import CurvediagCallback
    cb = CurvediagCallback(stop_on=("diverged",), report_path="curvediag.json")
    model.fit(x, y, validation_data=(xv, yv), epochs=50, callbacks=[cb])

What it reads: the ``logs`` dict Keras passes to ``on_epoch_end(epoch, logs)`` -- ``loss``, the
compiled metrics (``accuracy``, ...), and the ``val_*`` entries on the epochs that validated (with
``validation_freq > 1`` the other epochs have no ``val_*`` entries: the callback logs only what is
there, aligned by the epoch number Keras passes, 0-based as ``keras.callbacks.CSVLogger`` writes
it).  The dict is copied, never changed.  Batch-level logs are not read.

When it checks: at every ``check_every``-th epoch end once ``min_points`` epochs have arrived; a
NaN or infinite loss is checked (and, with ``stop_on=("diverged",)``, stops) at once.

How it stops: a finding whose verdict, rule code or name is in ``stop_on`` sets
``model.stop_training = True`` -- Keras' own stop flag, as ``EarlyStopping`` sets it -- and
nothing else; ``stop_on=()`` (the default) only observes.

Epochs in what it prints are numbered as Keras displays them (``Epoch 5`` is the epoch printed as
``Epoch 5/25``, index 4 of the ``logs``); the report, ``on_finding``'s alerts and CSVLogger keep the
0-based index.

Each new finding is said once, one line, through Keras' own printing (``io_utils.print_msg``:
standard output, or ``absl`` logging after ``keras.config.disable_interactive_logging()``), and
passed to ``on_finding`` as a :class:`curvediag.monitor.Alert`.  ``report_path`` gets the JSON
report object (as ``Report.to_dict()``: one element of ``curvediag analyze --format json``'s array), atomically, when the callback stops
training and when training ends (``on_train_end``).  :attr:`CurvediagCallback.report` is the last
:class:`~curvediag.report.Report`.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable

try:
    import keras
except ImportError as e:  # keras missing, or its backend (KERAS_BACKEND) not installed
    if getattr(e, "name", None) == "keras":
        raise ImportError('curvediag.keras needs Keras 3: pip install "curvediag[keras]"') from None
    import os as _os

    _backend = _os.environ.get("KERAS_BACKEND")
    raise ImportError(
        f"curvediag.keras could not import keras ({e}): Keras' backend is "
        + (f"{_backend!r} (KERAS_BACKEND)" if _backend else "TensorFlow by default (KERAS_BACKEND is not set)")
        + "; set KERAS_BACKEND to the backend you have installed before importing "
        '(export KERAS_BACKEND=torch, or os.environ["KERAS_BACKEND"] = "torch" first in the script; '
        "jax and tensorflow are the others), or install that backend"
    ) from None

from .settings import Settings
from .monitor import Alert, Observer
from .report import Finding, Report


_EPOCHS = re.compile(r"\bepochs (\d+)-(\d+)(?!\d|\.\d)")
_EPOCH = re.compile(r"\bepoch (\d+)(?!\d|\.\d)")


def keras_epochs(text: str) -> str:
    """The epoch positions of a finding's or a headline's text as Keras displays them: ``epoch 4`` (the
    0-based index of the ``logs``, of CSVLogger and of the report) becomes ``Epoch 5`` and ``epochs 30-39``
    ``Epochs 31-40``, capitalised as Keras prints ``Epoch 5/25``; amounts (``10 epochs``) stay."""
    text = _EPOCHS.sub(lambda m: f"Epochs {int(m[1]) + 1}-{int(m[2]) + 1}", text)
    return _EPOCH.sub(lambda m: f"Epoch {int(m[1]) + 1}", text)


def keras_line(alert: Alert) -> str:
    """A finding for Keras' log, its epochs counted as Keras displays them (``Epoch 6/25`` is epoch 5 of the
    ``logs``, of CSVLogger and of the report): ``curvediag: O102 val-loss-rising (warning) at Epoch 6: ...``,
    the message's own positions too (:func:`keras_epochs`)."""
    f = alert.finding
    if alert.at is None or alert.axis != "epoch" or not float(alert.at).is_integer():
        return alert.line()
    return f"curvediag: {f.code} {f.name} ({f.severity}) at Epoch {int(alert.at) + 1}: {keras_epochs(f.message)}"


def _print_msg(line: str) -> None:
    """Keras' own printing, as its callbacks (EarlyStopping, TerminateOnNaN) use it."""
    try:
        from keras.src.utils import io_utils
    except ImportError:  # a Keras that moved it: its public logging switch decides
        print(line, flush=True)
        return
    io_utils.print_msg(line)


class CurvediagCallback(keras.callbacks.Callback):
    """Diagnose the epoch logs of ``model.fit`` as they arrive; optionally stop the run.

    ``stop_on``: verdicts, rule codes or names that stop training (``("diverged",)``; empty:
    observe only).  ``check_every``: check at every N-th epoch end.  ``min_points``: epochs logged
    before findings are said (a NaN/infinite loss is said, and stops, from the first).
    ``report_path``: the JSON report, written atomically on stop and at the end of training.
    ``on_finding``: called with each new :class:`~curvediag.monitor.Alert` at or above ``level``.
    ``settings``: a :class:`~curvediag.settings.Settings` (column names, rule options, num_classes)."""

    def __init__(
        self,
        stop_on: Iterable[str] = (),
        check_every: int = 1,
        min_points: int = 5,
        report_path: str | None = None,
        on_finding: Callable[[Alert], Any] | None = None,
        level: str = "warning",
        settings: Settings | None = None,
        restore_best_weights: bool = False,
    ):
        super().__init__()
        self._args: dict[str, Any] = dict(stop_on=stop_on, check_every=check_every, min_points=min_points,
                          report_path=report_path, on_finding=on_finding, level=level, settings=settings)
        self.restore_best_weights = bool(restore_best_weights)
        self._lines: list[str] = []  # said after Keras' own line for the epoch (at the next epoch's start)
        self._best: tuple[str, float, int] | None = None  # (metric, value, 0-based epoch)
        self._best_weights: Any = None
        self.observer = self._observer()  # the arguments are checked here, not at fit time

    def _observer(self) -> Observer:
        return Observer(source="<keras>", say=self._lines.append, line=keras_line, **self._args)

    def _flush(self) -> None:
        """The lines due, printed after Keras' metrics line of the epoch that found them (Keras prints
        it after every callback's ``on_epoch_end``), never between ``Epoch 6/25`` and its numbers."""
        lines, self._lines[:] = list(self._lines), []
        for line in lines:
            _print_msg(line)

    def on_train_begin(self, logs: dict | None = None) -> None:
        if self.observer.monitor.rows:  # a second fit() with the same callback: a new run
            self._lines.clear()
            self.observer = self._observer()
        self._best, self._best_weights = None, None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._flush()

    def _track_best(self, epoch: int, metrics: dict) -> None:
        """The best val_loss (else loss) so far and, with ``restore_best_weights``, a copy of its weights
        (read only: the model is changed only at the end, and only when asked)."""
        for name in ("val_loss", "loss"):
            raw: Any = metrics.get(name)
            try:
                v = float(raw)
            except (TypeError, ValueError):
                continue
            if not math.isfinite(v):
                return
            if self._best is None or (self._best[0] == name and v < self._best[1]):
                self._best = (name, v, epoch)
                if self.restore_best_weights:
                    self._best_weights = self.model.get_weights()
            return

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {str(k): v for k, v in dict(logs or {}).items() if str(k) not in ("epoch", "step")}
        self._track_best(epoch, metrics)
        self.observer.log(epoch=epoch, **metrics)
        if self.observer.evaluate():
            self.model.stop_training = True
            self._lines.append(self._best_line())

    def _best_line(self) -> str:
        if self._best is None:
            return "curvediag: no finite loss was logged: no best weights to restore"
        name, value, epoch = self._best
        if self.restore_best_weights:
            return f"curvediag: the best {name} was {value:.4g} at Epoch {epoch + 1}: restoring its weights"
        return (f"curvediag: the best {name} was {value:.4g} at Epoch {epoch + 1} (restore_best_weights=True "
                "restores those weights, as EarlyStopping's does)")

    def on_train_end(self, logs: dict | None = None) -> None:
        self.observer.close()
        if self.restore_best_weights and self._best_weights is not None and self.observer.stopped_by is not None:
            self.model.set_weights(self._best_weights)
        report = self.observer.monitor.report
        if report is not None:  # always a last word: the verdict, and where the report went
            where = (f"report written to {self.observer.report_path}" if self.observer.report_path
                     else "no report_path: the report is not written (cb.report holds it)")
            headline = keras_epochs(report.headline)
            self._lines.append(f"curvediag: {report.verdict} ({report.severity}): {headline} ({where})")
        self._flush()

    @property
    def report(self) -> Report | None:
        """The last check's report (None before the first check)."""
        return self.observer.monitor.report

    @property
    def stopped_by(self) -> Finding | None:
        """The finding that stopped training (None when it did not stop it)."""
        return self.observer.stopped_by

    @property
    def alerts(self) -> list[Alert]:
        """Every finding found so far, each once, with the epoch it appeared at."""
        return list(self.observer.monitor.alerts)


__all__ = ["CurvediagCallback"]
