from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from ..analysis import Context
from ..curves import TRAIN_LOSS, VAL_LOSS
from ..report import Finding
from .base import Rule, Skip, at
from .options import RuleOptions, factor
from .secondary import causal_median
from .steps import SpikeTriageOptions, triage


@dataclass(frozen=True)
class LossSpikesOptions(RuleOptions):
    """The options of I101 (``[tool.curvediag.rules.I101]``)."""

    spike_factor: float = factor(2.0, "a loss this many times the median of the points before it is a spike")


class LossSpikes(Rule):
    """The loss spiked and recovered: unstable optimisation.

    **What it detects.** Points where the training loss (the validation loss when
    no training loss is logged) jumps above ``spike_factor`` times the median of
    the points just before it, and comes back below 1.25x that level within a few
    points. A blow-up that never comes back is divergence (D102), not a spike.
    Per-step logs are judged on the validation cadence (or binned), so ordinary
    batch-to-batch noise is not a spike.

    **Each spike is reported once.** A training-loss spike that R101 (spike-triage)
    reports, triaged with its outcome and a rollback plan, is R101's and not counted
    here (the interval a point of the judged curve stands for overlaps the steps of an
    R101 spike). This rule reports the rest: validation-loss spikes (a log without a
    training loss), training-loss spikes R101 does not flag (judged here on the
    evaluation cadence against ``spike_factor``), and every spike when R101 cannot run
    (fewer than its ``min_logged`` points as logged) or is switched off.

    **Why it matters.** Each spike undoes progress and can leave the weights in a
    worse region; frequent spikes usually mean the learning rate is too high for
    some batches, or a few bad batches.
    """

    code = "I101"
    name = "loss-spikes"
    Options = LossSpikesOptions
    needs = ((TRAIN_LOSS, VAL_LOSS),)
    min_points = 8
    remedies = (
        "Lower the learning rate, or decay it; add warm-up at the start.",
        "Clip gradients (clip_grad_norm_ / clipnorm=1.0).",
        "Use a larger batch size, or check the batches at the spikes for outliers or bad labels.",
    )

    def check(self, ctx: Context, opts: LossSpikesOptions) -> Finding | None:
        return self.spikes(ctx, opts, leave_to_r101=True)

    def spikes(self, ctx: Context, opts: LossSpikesOptions, leave_to_r101: bool = False) -> Finding | None:
        """The finding on every spike (``leave_to_r101``: but those R101 reports; what :meth:`check`
        says).  :mod:`curvediag.calibrate` measures them all."""
        t = ctx.need(TRAIN_LOSS, VAL_LOSS)
        if np.min(t.y) <= 0:
            raise Skip("the loss is not positive; spikes are judged as ratios")
        w = max(3, t.n // 20)
        base = causal_median(t.y, w)
        spikes = []
        for i in range(w, t.n - 1):
            if t.y[i] > opts.spike_factor * base[i]:
                after = t.y[i + 1 : i + 1 + 2 * w]
                if after.size and np.min(after) < 1.25 * base[i]:
                    spikes.append((i, float(t.y[i] / base[i])))
        # one spike = one run of consecutive flagged points
        runs = [s for k, s in enumerate(spikes) if k == 0 or s[0] != spikes[k - 1][0] + 1]
        left = 0
        if runs and leave_to_r101 and t.name == TRAIN_LOSS:
            theirs = self._r101_spans(ctx)
            if theirs:
                mine = self._runs(spikes)
                keep = [r for r in mine if not self._covered(t.x, r, theirs)]
                left = len(mine) - len(keep)
                spikes = [s for r in keep for s in r]
                runs = [r[0] for r in keep]
        if not runs:
            return None
        worst = max(s[1] for s in spikes)
        where = ", ".join(at(float(t.x[i]), ctx.axis_word) for i, _ in runs[:5]) + (" ..." if len(runs) > 5 else "")
        return self.finding(
            f"{t.name} spiked {len(runs)} time{'s' if len(runs) > 1 else ''} and recovered ({where}); "
            f"worst {worst:.3g}x the level before it; limit {opts.spike_factor:g}x"
            + (f"; {left} more reported by R101 (spike-triage)" if left else ""),
            {"metric": t.name, "spikes": len(runs), "worst_ratio": worst, "first_spike": float(t.x[runs[0][0]]),
             "limit": opts.spike_factor, **({"left_to_R101": left} if left else {})},
            span=(float(t.x[runs[0][0]]), float(t.x[runs[-1][0]])),
        )

    @staticmethod
    def _runs(spikes: list[tuple[int, float]]) -> list[list[tuple[int, float]]]:
        """The flagged points grouped into spikes (runs of consecutive indices)."""
        out: list[list[tuple[int, float]]] = []
        for s in spikes:
            if out and s[0] == out[-1][-1][0] + 1:
                out[-1].append(s)
            else:
                out.append([s])
        return out

    @staticmethod
    def _covered(x: np.ndarray, run: list[tuple[int, float]], spans: list[tuple[float, float]]) -> bool:
        """Whether a spike of the judged curve is one of R101's: the interval a flagged point stands for
        (after the point before it, up to it: a point on the evaluation cadence is the mean of the
        steps since the previous one) overlaps the steps of an R101 spike."""
        for i, _ in run:
            lo, hi = float(x[i - 1]) if i > 0 else -np.inf, float(x[i])
            if any(a <= hi and b > lo for a, b in spans):
                return True
        return False

    @staticmethod
    def _r101_spans(ctx: Context) -> list[tuple[float, float]]:
        """(start, end) of each training-loss spike R101 reports on this log; none when it is switched
        off or cannot run."""
        if not ctx.rule_on("R101") or TRAIN_LOSS not in ctx.curves.series:
            return []
        opts = SpikeTriageOptions.of(ctx.options.get("R101", {}))
        try:
            got = triage(ctx, opts)
        except Skip:
            return []
        return [(float(e["start"]), float(e["end"])) for e in got[0]] if got else []
