from __future__ import annotations

from dataclasses import dataclass

from ..analysis import MIN_POINTS, STILL_FALLING_GAIN, Context, recent_fall
from ..verdict import Verdict
from ..curves import TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS
from ..remedies import remedy
from ..report import Finding
from .base import Rule, Skip, amount, at, change, fmt, gain_of_level, missing_reason, pct, span, too_few_reason
from ..projection import expected_gain
from .options import RuleOptions, share


@dataclass(frozen=True)
class StillImprovingOptions(RuleOptions):
    """The options of T101 (``[tool.curvediag.rules.T101]``)."""

    gain_limit: float = share(STILL_FALLING_GAIN, "the further fall a run as long again would bring, as a share of the current level")


class StillImproving(Rule):
    """The loss was still clearly falling when training stopped: train longer.

    **What it detects.** The judged loss — the validation loss, or the only loss
    logged, or in a log with no loss the error (1 - the accuracy or quality
    metric) — is still falling at the end of the run at a rate that matters relative
    to its *current* level. All of:

    - *A material gain ahead.* The mean of its last quarter is compared with the
      mean of the quarter before it (relative to the last quarter's mean), and the
      quarter before that says how fast the fall is slowing down. Continuing at that
      rate, slowing by that ratio every quarter, another run as long as this one
      must lower the loss by at least ``gain_limit`` of its current level. The ratio
      is at most 0.9, and at most 0.5 unless the last quarter's fall is 3 standard
      errors clear of the curve's own noise: a slow, steady fall (a learning rate
      too small) counts, the drift of a noisy plateau does not. Where the tail can
      be fitted (the report's projection), the fit has a say too: a gain whose
      pessimistic end (of the 80% range, another run as long) reaches
      ``gain_limit`` counts on its own, and one whose optimistic end stays under it
      rules the finding out.
    - *Its lowest point at the end*: within the last tenth of the run (at least
      the last two points), or the last point within 0.5% of the minimum.
    - *A trend, not noise*: Mann-Kendall z <= -1.645 over the second half of the
      run (16 points or more); z <= -1.0, or the last three points falling in turn,
      on runs of 10-15 points; the last three points falling in turn on shorter runs.

    The rate is a share of the current level, not of the whole run's drop, so a
    steep first epoch cannot hide a tail that is still falling; and it works on
    5-epoch runs as on 500-epoch ones. The training loss beside a validation loss
    need not be falling too.

    **Why it matters.** The run was stopped while it was still getting better;
    more epochs (or a schedule that does not decay so soon) would very likely give
    a better model.
    """

    code = "T101"
    name = "losses-still-falling"
    verdict = Verdict.STILL_IMPROVING
    Options = StillImprovingOptions
    # the judged loss (Context.judged): the validation loss when it has 3 points, else the only loss,
    # else the error of the accuracy; it checks the points of the one it judges itself
    needs = ((VAL_LOSS, TRAIN_LOSS, VAL_ACC, TRAIN_ACC),)
    remedies = (
        remedy("train-longer"),
        "If the learning rate already decayed to near zero, lengthen or restart the schedule.",
        "A somewhat higher learning rate may reach the same loss in fewer epochs.",
    )

    def check(self, ctx: Context, opts: StillImprovingOptions) -> Finding | None:
        t = ctx.judged
        if t is None:
            raise Skip(missing_reason(self.needs[0]))
        if t.n < MIN_POINTS:
            raise Skip(too_few_reason(t.name, MIN_POINTS, t.n))
        f = recent_fall(t)
        evidence = {"metric": t.name, "gain_limit": opts.gain_limit, **f}
        # the fitted projection (projection.py), where it can be made: a confident gain (the
        # pessimistic end of its range) counts on its own; a confident *no* gain (the optimistic
        # end under the limit) overrules the quarter test

        proj = expected_gain(t, 1.0, ctx.axis_word) if not (ctx.quick or t.name.startswith("1 - ")) else None
        if proj is not None:
            evidence.update(projected_gain=proj[0], projected_gain_low=proj[1], projected_gain_high=proj[2])
        by_rate = f["expected_gain"] >= opts.gain_limit and (proj is None or proj[2] >= opts.gain_limit)
        by_fit = proj is not None and proj[1] >= opts.gain_limit
        if not (f["min_at_end"] and f["sure"] and (by_rate or by_fit)):
            return None
        axis = ctx.axis_word
        q = f["quarter_points"]
        last = span(float(t.x[t.n - q]), float(t.x[-1]), axis)
        prev = span(float(t.x[max(0, t.n - 2 * q)]), float(t.x[t.n - q - 1]), axis)
        where = ("its last point" if f["min_at"] == float(t.x[-1])
                 else f"{at(f['min_at'], axis)}, near the end at {at(float(t.x[-1]), axis)}")
        # the fall in words relative to the earlier level (the rate the rule judges is relative to the later)
        below = change(f["previous_quarter_mean"], f["last_quarter_mean"])
        if q == 1:  # one point each: values, not averages
            fall = (f"its last value ({at(float(t.x[-1]), axis)}) is {fmt(f['last_quarter_mean'])}, "
                    f"{below} the one before ({at(float(t.x[-2]), axis)})")
        else:
            fall = (f"its average over {last} is {fmt(f['last_quarter_mean'])}, {below} the "
                    f"average over {prev} ({fmt(f['previous_quarter_mean'])})")
        msg = f"{t.name} is still falling: {fall}, and its lowest value is at {where}; "
        if proj is not None:
            msg += (f"fitted to its tail, another run as long would lower it about {proj[0] * 100:.1f}% "
                    f"(range {proj[1] * 100:.1f} to {proj[2] * 100:.1f}%)")
        else:
            msg += (f"at that pace another {amount(float(t.x[-1] - t.x[0]), axis)} would lower it "
                    f"{gain_of_level(f['expected_gain'])}")
        msg += f"; limit {pct(opts.gain_limit)}"
        return self.finding(msg, evidence, span=(f["start"], float(t.x[-1])))
