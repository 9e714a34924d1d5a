from __future__ import annotations

import math

from ..analysis import Context
from ..report import Finding
from ..curves import TRAIN_LOSS
from .base import Rule, at, fmt
from .steps import SpikeTriageOptions, triage

#: Spikes described one by one in the evidence and the message; the rest are counted.
MAX_LISTED = 5


class SpikeTriage(Rule):
    """Loss spikes, each triaged (recovered, lingered, diverged), with a rollback plan.

    **What it detects.** Points of the training loss as logged (per step, not averaged)
    whose log lies ``z_limit`` robust standard deviations above the median of the
    ``window`` points before it (the noise is the spread of the log loss's
    point-to-point changes there, so a falling trend is not noise), at least
    ``min_rise`` above that median and above the median of the last three points (a
    slow climb is a trend, not a spike). Consecutive points (and gaps of one) are one spike.
    Spikes that follow one another before the loss is back are one episode. Each is
    triaged against the level before it: **recovered** when the median of half a
    ``window`` of points returns to within the pre-spike noise within ``linger`` windows
    (the position where it is back is given), **lingered** when the run goes on but
    settles higher (or comes back only later), **diverged**
    when it never comes back within twice the pre-spike level or the loss becomes
    non-finite, **unresolved** when the log ends too soon after it to tell. Where ``grad_norm`` is logged, a spike whose gradient norm jumped at the
    same step (``z_limit`` on its own log scale) is told apart from one without: an
    optimisation instability, versus a bad batch that the gradients did not feel.

    **The plan**, for the first spike that lingered or diverged: restart from the last checkpoint at
    or before the last step before the spike (the ``checkpoint-N`` directories beside a
    ``trainer_state.json``, else its ``save_steps``), skip the batches of the steps in the
    spike, or lower the learning rate (the median logged over the window before the spike, halved). PaLM
    restarted about 100 steps before each spike and skipped 200-500 batches; OPT-175B
    restarted dozens of times.

    **Why it matters.** A recovered spike costs some steps; one that lingers leaves the
    weights in a worse region for the rest of the run; one that diverges ends it.
    """

    code = "R101"
    name = "spike-triage"
    needs = (TRAIN_LOSS,)
    min_points = 3  # on the evaluation cadence; the rule counts the logged points itself
    Options = SpikeTriageOptions
    remedies = (
        "Restart from the last checkpoint before the spike and skip the batches it was seen on (the plan above).",
        "Lower the peak learning rate, or lengthen the warm-up.",
        "Clip gradients (max_grad_norm / clip_grad_norm_ 1.0); check the batches at the spike for bad data.",
    )

    def check(self, ctx: Context, opts: SpikeTriageOptions) -> Finding | None:
        got = triage(ctx, opts)
        if got is None:
            return None
        triaged, plan = got
        return self._report(triaged, plan, ctx.axis_word, float(opts.z_limit), float(opts.min_rise), int(opts.window))

    def _report(self, triaged: list[dict], plan: dict | None, axis: str, zl: float, min_rise: float, w: int) -> Finding:
        """The finding: each spike triaged, and the restart plan."""
        counts = {k: sum(e["outcome"] == k for e in triaged) for k in ("recovered", "lingered", "diverged", "unresolved")}
        evidence: dict = {"spikes": len(triaged), **counts, "z_limit": zl, "min_rise": min_rise, "window": w}
        parts = []
        for n, e in enumerate(triaged[:MAX_LISTED], 1):
            for k, v in e.items():
                evidence[f"spike{n}_{k}"] = v
            where = at(e["start"], axis) if e["start"] == e["end"] else f"{axis}s {fmt(e['start'])}-{fmt(e['end'])}"
            grad = ""
            if "grad_norm_spike" in e:
                grad = ", with a grad_norm spike" if e["grad_norm_spike"] else ", grad_norm calm"
            back = f", back at {at(e['back_at'], axis)}" if "back_at" in e else ""
            what = {"recovered": f"recovered{back}", "lingered": f"lingered: settled higher{back}", "diverged": "diverged",
                    "unresolved": "the log ends before it can tell"}[e["outcome"]]
            z = f"z {e['z']:.3g}" if math.isfinite(e["z"]) else "no noise before it"
            parts.append(f"{where} ({e['ratio']:.3g}x the level before, {z}{grad}): {what}")
        more = f"; {len(triaged) - MAX_LISTED} more" if len(triaged) > MAX_LISTED else ""
        msg = (f"train_loss spiked {len(triaged)} time{'s' * (len(triaged) != 1)} "
               f"(limit z {zl:g} over the {w} points before, and +{min_rise:.0%}): " + "; ".join(parts) + more)
        remedies = None
        if plan:
            for k, v in plan.items():
                evidence[f"plan_{k}"] = v
            msg += "; plan: " + self._plan_text(plan)
            remedies = (f"Roll back: {self._plan_text(plan)}.",) + self.remedies[1:]
        span = (triaged[0]["start"], triaged[-1]["end"])
        return self.finding(msg, evidence, span=span, remedies=remedies)

    @staticmethod
    def _plan_text(plan: dict) -> str:
        out = []
        if "restart_at_or_before" in plan:
            c = plan.get("checkpoint")
            ck = f" (checkpoint-{c})" if c is not None else ""
            # global_step, the trainer's own counter: on an epoch axis these are not positions on it
            out.append(f"restart from the last checkpoint at or before global_step {plan['restart_at_or_before']}{ck}, "
                       f"skip the batches of global_steps {plan['skip_from']}-{plan['skip_to']}")
        if "lr_advised" in plan:
            out.append(f"or lower the learning rate from {plan['lr_before_spike']:.3g} to {plan['lr_advised']:.3g}")
        return ", ".join(out) if out else "lower the learning rate"
