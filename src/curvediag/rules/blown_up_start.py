from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats
from ..analysis import Context
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, fmt
from .options import RuleOptions, factor, share


_PREFIX = 1025  # the points after the first read before the whole series


@dataclass(frozen=True)
class BlownUpStartOptions(RuleOptions):
    """The options of D103 (``[tool.curvediag.rules.D103]``)."""

    factor: float = factor(100.0, "the first loss at least this many times the median of the rest blew up inside epoch 0")
    acc_gain: float = share(0.1, "the accuracy may end at most this much (absolute) above its start for nothing learned")


class BlownUpStart(Rule):
    """The loss blew up inside the first epoch and the model never recovered.

    **What it detects.** The first logged training loss (the validation loss when no
    training loss is logged) is at least ``factor`` times the median of the rest — the
    explosion happened inside epoch 0 — and a tenth of that above every later
    value (it stands alone) — and afterwards nothing was learned: the
    accuracy (validation, else training) shows no significant rise over the run
    (Mann-Kendall z < 1.645 after the first point) and ends no more than ``acc_gain``
    above where it started, staying at chance or swinging; without an accuracy, the
    loss after the first point shows no significant fall; and in either case the
    loss never falls by another order of magnitude after its second point (a loss
    that goes on from 0.04 to 2e-6 is learning, however high its first epoch was). A first epoch far above the
    rest that is followed by real learning is a bad start, not divergence, and is
    not reported here.

    **Why it matters.** One huge step in the first epoch (a learning rate far too
    high, unscaled inputs) can throw the weights somewhere training never comes
    back from: the rest of the run is wasted, however calm the later numbers look.
    """

    code = "D103"
    name = "blown-up-start"
    verdict = Verdict.DIVERGED
    Options = BlownUpStartOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = 5
    remedies = (
        "Lower the learning rate (10x or more) and add warm-up for the first steps.",
        "Normalise the inputs (standardise features, scale images to [0, 1]).",
        "Clip gradients (clip_grad_norm_ / clipnorm=1.0).",
        "Check the initialisation of the last layer (small weights, bias at the class log-frequencies).",
    )

    def check(self, ctx: Context, opts: BlownUpStartOptions) -> Finding | None:
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        # the first *logged* value, not a smoothed start: the point is that it stands alone
        series = ctx.curves.series[t.name].finite()
        first = float(series.y[0])
        # it stands alone: 10x above every later value (a loss that falls towards 0 as a model
        # memorises has a tiny median, but its second point is near its first), and far above the
        # typical later value -- the median, a sort, only for the few logs that pass the first test.
        # The next few points usually decide already (the bound only rises with more points);
        # the whole series is read, without a copy, only when they do not.
        bound = 0.1 * opts.factor
        if first < bound * float(np.max(np.abs(series.y[1:_PREFIX]))):
            return None
        rest_y = series.y[1:]
        highest = max(float(np.max(rest_y)), -float(np.min(rest_y)))  # max |y| without an |y| copy
        if first < bound * highest:
            return None
        later = np.abs(rest_y)
        rest = float(np.median(later))
        if rest <= 0 or first / rest < opts.factor:
            return None
        evidence = {"metric": t.name, "first": first, "median_after": rest, "ratio": first / rest,
                    "limit": opts.factor}
        second, last = float(series.y[1]), float(np.median(series.y[-3:]))
        if second > 0 and last < 0.1 * second:
            return None  # it fell by another order of magnitude afterwards: learning (or memorising)
        acc = ctx.track(VAL_ACC) or ctx.track(TRAIN_ACC)
        if acc is not None and acc.n >= 5:
            after = acc.y[1:]
            z = stats.mann_kendall_z(after)
            gain = acc.end - float(acc.y[0])
            evidence.update(acc_metric=acc.name, acc_trend_z=z, acc_gain=gain, acc_min=float(np.min(acc.y)),
                            acc_max=float(np.max(acc.y)))
            if z >= 1.645 or gain > opts.acc_gain:
                return None  # it learned after the bad start
            sh = ctx.curves.series[acc.name].shown
            lo, hi = sorted((sh(float(np.min(acc.y))), sh(float(np.max(acc.y)))))
            later = (f"{ctx.label(acc.name)} then shows no gain (ends {ctx.shown(acc.name, acc.end)} from "
                     f"{ctx.shown(acc.name, float(acc.y[0]))}, swinging {lo:.4g}-{hi:.4g})")
        else:
            z = stats.mann_kendall_z(series.y[1:])
            evidence.update(trend_z_after=z)
            if z <= -1.96:
                return None
            later = f"{t.name} then shows no significant fall (Mann-Kendall z={z:.2f})"
        axis = ctx.axis_word
        msg = (f"the first {t.name} {fmt(first)} is {first / rest:.3g}x the median of the rest ({fmt(rest)}): it "
               f"blew up inside the first {axis}; {later}; limit {opts.factor:g}x")
        x0 = float(series.x[0])
        return self.finding(msg, {**evidence, "onset": x0}, span=(x0, float(series.x[-1])))
