from __future__ import annotations

from dataclasses import dataclass

import math

from .._np import np

from .. import stats
from ..analysis import MIN_POINTS, NOT_LEARNING_POINTS, STILL_FALLING_GAIN, Context, Track, recent_fall
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, Skip, fmt, pct, span
from .options import RuleOptions, amount, share


def _chance_class_count(loss: float, acc: float | None) -> int | None:
    """K when the loss sits at ln K (a uniform guess over K classes) *and* accuracy sits near
    1/K: never from the loss alone (a regression loss can sit at any number)."""
    if acc is None or not (0.5 < loss < 7.0):
        return None
    k = int(round(math.exp(loss)))
    if k < 2 or abs(loss - math.log(k)) > 0.01 * math.log(k):
        return None
    if acc is not None and abs(acc - 1.0 / k) > max(0.05, 0.5 / k):
        return None
    return k


@dataclass(frozen=True)
class FlatLossOptions(RuleOptions):
    """The options of L101 (``[tool.curvediag.rules.L101]``)."""

    flat_limit: float = amount(0.02, "the smoothed training loss improving by less than this share of its start is flat")
    oscillation_limit: float = amount(0.10, "improving by less than this, with no significant downward trend, only oscillates")
    stuck_limit: float = amount(0.25, "a net fall under this, with an accuracy that never rose, is stuck")
    acc_gain: float = share(0.05, "an accuracy improving by more than this (absolute) is still learning")


class FlatLoss(Rule):
    """The training loss does not decrease, or only oscillates: the model is not learning.

    **What it detects.** Over the whole run the (smoothed) training loss improves
    by less than ``flat_limit`` of its starting level, or by less than
    ``oscillation_limit`` (or by less than 3x its own point-to-point noise) with
    no significant downward trend (Mann-Kendall z > -1.96) — i.e. it only
    wobbles, or drifts up. Accuracy, when logged, must not have
    improved either (by more than ``acc_gain`` absolute): a loss that stays flat
    while accuracy climbs (net, start to end) is still learning. Conversely, when
    training accuracy (or, without it, a validation accuracy that never moved at
    all) never rose (and stayed below 0.9) while the loss fell less than
    ``stuck_limit`` net, the model is stuck even if one early spike makes the
    loss look as if it fell — unless the loss is still falling steadily at the end
    of the run (a net fall of at least twice ``flat_limit``, a significant trend,
    its lowest point at the end, on course to lose another 2.5% over a run as long
    again, as ``losses-still-falling`` measures it, and an accuracy that moved at
    all):
    a learning rate too small is slow learning, not none. With ``--num-classes K``
    the loss is compared with ln K and accuracy with 1/K, the values of a uniform
    guess; without it, a loss sitting at ln K for some K is called chance level only
    when accuracy sits near 1/K too (never from the loss alone).

    A loss whose (smoothed) best is ``stuck_limit`` or more below its start, and
    more than 4x its own noise, has learned, and is never called not learning here, however flat it sits now (a
    stall after a fall is a plateau: ``loss-plateau``).
    An accuracy rising with a significant trend (Mann-Kendall z >= 1.96, by more than 3x its
    noise and 0.01) beside a loss that does not trend up (z <= 0) vetoes the finding, however
    little the loss moved: the accuracy's trend is beyond its own noise, and a loss that moves
    little (a label-smoothed or distillation objective) may show no trend of its own under noise.
    A validation loss that fell by ``stuck_limit`` or more with a significant trend
    vetoes the finding: that is learning which generalises, whatever the training
    loss did.

    **Why it matters.** Nothing is being learned; more epochs will not help.
    """

    code = "L101"
    name = "flat-training-loss"
    verdict = Verdict.NOT_LEARNING
    Options = FlatLossOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = MIN_POINTS
    remedies = (
        "Tune the learning rate: a flat loss suggests it is far too low (or the network is dead); "
        "a loss that oscillates around its start suggests it is too high. Run a learning-rate range test.",
        "Check the data pipeline: inputs and labels aligned, labels not constant or shuffled apart from inputs, inputs normalised.",
        "Check that the loss matches the output activation (e.g. CrossEntropyLoss expects logits, not softmax outputs).",
        "Check the initialisation and activations (dead ReLUs, vanishing gradients); try He/Xavier init, batch norm, or a residual design.",
        "Overfit a single small batch first: if even that fails, the bug is in the model or the loss.",
    )

    def check(self, ctx: Context, opts: FlatLossOptions) -> Finding | None:
        """In passes: the loss' shape (:func:`_shape`), a stuck accuracy (:func:`_stuck_accuracy`),
        the signs that it learns after all (:func:`_learns_elsewhere`, a climbing accuracy), then
        the message and the chance level."""
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        if ctx.points < NOT_LEARNING_POINTS:
            # "flat" and "slow" cannot be told apart on fewer evaluations (a prefix of a slow run)
            raise Skip(f"needs {NOT_LEARNING_POINTS} evaluations of its longest loss curve, the log has {ctx.points}")
        sh = _shape(t, opts)
        stuck = _stuck_accuracy(ctx, t, sh, opts)
        if not (sh.flat or sh.oscillating or stuck is not None):
            return None
        if sh.imp_best >= opts.stuck_limit and (not np.isfinite(t.sigma) or sh.start - sh.best > 4 * t.sigma):
            return None  # a loss that has been far below its start has learned: a stall now is a plateau
        if _learns_elsewhere(ctx, t, sh, opts):
            return None
        acc = ctx.track(VAL_ACC) or ctx.track(TRAIN_ACC)
        evidence = {
            "metric": t.name,
            "start": sh.start,
            "best": sh.best,
            "end": sh.end,
            "improvement": sh.imp_best,
            "limit": opts.flat_limit if sh.flat else opts.oscillation_limit if sh.oscillating else opts.stuck_limit,
            "trend_z": sh.z,
        }
        acc_end = None
        if acc is not None and acc.n >= MIN_POINTS:
            acc_end = acc.end
            gain = acc.end - acc.start
            noise = acc.sigma if np.isfinite(acc.sigma) else 0.0
            evidence.update(acc_metric=acc.name, acc_start=acc.start, acc_end=acc_end, acc_gain=gain)
            if gain > max(opts.acc_gain, 3 * noise):
                return None  # accuracy is climbing: it is learning
        msg = _message(ctx, t, sh, stuck, opts) + _chance(ctx, sh.end, acc_end, evidence)
        if acc is not None and acc_end is not None and "acc_gain" in evidence:
            name = acc.name
            s = ctx.curves.series[name]
            d = s.shown(acc.end) - s.shown(acc.start)
            msg += f"; {ctx.label(name)} {'changed' if s.as_read else 'gained'} {d:+.3g}"
        return self.finding(msg, evidence, span=(float(t.x[0]), float(t.x[-1])))


@dataclass(frozen=True)
class _Shape:
    """What the rule measures on the judged loss: smoothed start, best and end, the improvements
    to the best and to the end (relative to the start), the Mann-Kendall trend, and whether the
    loss is flat or only oscillates."""

    start: float
    best: float
    end: float
    imp_best: float
    imp_end: float
    z: float
    flat: bool
    oscillating: bool


def _shape(t: Track, opts: FlatLossOptions) -> _Shape:
    """Pass 1: the loss' shape: flat (improved less than ``flat_limit`` at its best), or only
    oscillating (no significant downward trend and a net change under ``oscillation_limit`` or
    inside the curve's own noise)."""
    start = t.start
    best = float(np.min(t.s))
    end = t.end
    imp_best = stats.rel(start - best, start)
    imp_end = stats.rel(start - end, start)
    z = stats.mann_kendall_z(t.y)
    flat = imp_best < opts.flat_limit
    # no significant downward trend: it wobbles, or even drifts up
    # (a net change inside the curve's own noise counts as none)
    within_noise = t.n >= 10 and np.isfinite(t.sigma) and (start - end) < 3 * t.sigma
    oscillating = t.n >= 6 and z > -1.96 and (imp_end < opts.oscillation_limit or within_noise)
    return _Shape(start, best, end, imp_best, imp_end, z, bool(flat), bool(oscillating))


def _stuck_accuracy(ctx: Context, t: Track, sh: _Shape, opts: FlatLossOptions) -> Track | None:
    """Pass 2: the accuracy that never moved while the loss did not fall much either, or None.
    Training accuracy; validation accuracy counts only when it never moved at all (a dead network
    predicting the majority class; a validation accuracy that swings is no evidence).  A loss
    still falling steadily at the end beside it (a learning rate too small) is learning, however
    slowly, unless the accuracy never changed at all."""
    stuck = ctx.track(TRAIN_ACC)
    if stuck is None:
        va = ctx.track(VAL_ACC)
        if va is not None and va.n >= 6 and float(np.ptp(va.s)) <= opts.acc_gain:
            stuck = va
    if not (
        stuck is not None
        and stuck.n >= 6
        and sh.imp_end < opts.stuck_limit
        and stuck.end - stuck.start <= opts.acc_gain
        and stuck.end < 0.9
    ):
        return None
    if not (sh.flat or sh.oscillating):
        # a loss still falling steadily at the end (a learning rate too small) is learning,
        # however slowly, even while accuracy has not moved yet
        f = recent_fall(t)
        # (it must have fallen clearly more than the flat limit, or noise on a flat loss
        # could pass for a slow fall)
        # (an accuracy that never changed at all is a network predicting one class, whose loss
        # only converges to the class prior)
        if (f["sure"] and f["min_at_end"] and sh.z <= -1.96 and f["expected_gain"] >= STILL_FALLING_GAIN
                and sh.imp_end >= 2 * opts.flat_limit and float(np.ptp(stuck.y)) > 1e-9):
            return None
    return stuck


def _learns_elsewhere(ctx: Context, t: Track, sh: _Shape, opts: FlatLossOptions) -> bool:
    """Pass 3: signs that the model learns after all: an accuracy rising with a significant trend
    beside a loss that does not trend up (a label-smoothed or distillation objective moves little,
    and its trend may drown in its noise; the accuracy's trend is measured against its own noise),
    or the validation loss falling far and surely (heavy augmentation or dropout keep the training
    loss high and noisy)."""
    a = ctx.track(VAL_ACC) or ctx.track(TRAIN_ACC)
    if sh.z <= 0 and a is not None and a.n >= 6:
        a_noise = a.sigma if np.isfinite(a.sigma) else 0.0
        if stats.mann_kendall_z(a.y) >= 1.96 and a.end - a.start > max(0.01, 3 * a_noise):
            return True
    v = ctx.track(VAL_LOSS)
    if t.name == TRAIN_LOSS and v is not None and v.n >= 6:
        v_imp = stats.rel(v.start - v.end, v.start)
        if v_imp >= opts.stuck_limit and stats.mann_kendall_z(v.y) <= -1.96:
            return True
    return False


def _message(ctx: Context, t: Track, sh: _Shape, stuck: Track | None, opts: FlatLossOptions) -> str:
    """Pass 4: what is wrong, in words: the loss flat, only oscillating, or beside a stuck accuracy."""
    over = span(float(t.x[0]), float(t.x[-1]), ctx.axis_word)  # the axis' units, not the points judged
    if sh.flat:
        return (
            f"{t.name} improved only {pct(sh.imp_best)} over {over} "
            f"(smoothed {fmt(sh.start)} -> best {fmt(sh.best)}); limit {pct(opts.flat_limit)}"
        )
    if sh.oscillating or stuck is None:
        return (
            f"{t.name} only oscillates: {sh.imp_end * -100:+.1f}% net change over {over} with no "
            f"significant downward trend (Mann-Kendall z={sh.z:.2f}); limit {pct(opts.oscillation_limit)} "
            "improvement"
        )
    return (
        f"{stuck.name} never rose ({stuck.start:.3f} -> {stuck.end:.3f}) and "
        f"{t.name} fell only {pct(sh.imp_end)} net over {over}; limits {opts.acc_gain:.2f} "
        f"accuracy, {pct(opts.stuck_limit)} loss"
    )


def _chance(ctx: Context, end: float, acc_end: float | None, evidence: dict) -> str:
    """Pass 5: the chance level, in words (and evidence): of the classes the user gave, or the
    class count the loss and accuracy sit at the chance level of."""
    k = ctx.num_classes
    if k and k >= 2:
        chance_loss, chance_acc = math.log(k), 1.0 / k
        evidence.update(chance_loss=chance_loss, chance_acc=chance_acc)
        msg = f"; chance level for {k} classes is loss {chance_loss:.3f}"
        if acc_end is not None:
            msg += f", accuracy {chance_acc:.3f} (now {acc_end:.3f})"
        return msg
    got = _chance_class_count(end, acc_end)
    if got:
        evidence.update(chance_classes=got)
        return f"; the loss sits at ln {got} = {math.log(got):.3f}, the loss of a uniform guess over {got} classes"
    return ""
