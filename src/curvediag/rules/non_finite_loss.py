from __future__ import annotations


from .._np import np

from ..analysis import Context
from ..curves import GRAD_NORM, TRAIN_LOSS, VAL_LOSS, Series
from ..verdict import Verdict
from ..report import Finding
from .base import Rule, Skip, at, missing_reason
from .options import RuleOptions


class NonFiniteLoss(Rule):
    """A loss became NaN or infinite.

    **What it detects.** Any NaN, +inf or -inf recorded in the training or
    validation loss, or in the gradient norm (``grad_norm``): Hugging Face's
    Trainer drops non-finite losses from ``loss`` by default
    (``logging_nan_inf_filter``), so a NaN gradient norm — or a loss of exactly 0
    beside one — is often the only trace of an overflow. Missing cells (empty,
    ``NA``) are not counted: only values the logger actually wrote.

    **Why it matters.** Once a loss is NaN the weights are NaN too; every epoch
    after it is wasted, and a checkpoint saved after it is unusable. Loggers keep
    writing ``nan`` rows, so a run can "finish" without anyone noticing.

    A training loss of exactly 0 beside a NaN validation loss is called out: it
    is the signature of a mixed-precision (fp16) overflow, not of success.

    A short non-finite stretch early in the run that the run recovered from (every
    non-finite point in the first third of its curve, and at least 5 finite points
    after the last one, all finite) is reported as an info finding without a verdict: the
    run is judged by what follows. A NaN at the end of a run (or of a prefix a
    callback sees) is divergence at once.

    **Options.** None: a single non-finite loss is one too many.
    """

    code = "D101"
    name = "non-finite-loss"
    verdict = Verdict.DIVERGED
    judges_short_logs = True  # a NaN is divergence at any length: no trend is needed
    remedies = (
        "Lower the learning rate (try 3-10x lower) or add warm-up.",
        "Clip gradients (e.g. clip_grad_norm_ / clipnorm=1.0).",
        "Check the inputs and labels for NaN/inf and for a log or division of zero in the loss.",
        "With mixed precision, use dynamic loss scaling (GradScaler / LossScaleOptimizer) or bf16.",
        "Resume from the last checkpoint saved before the first non-finite epoch.",
    )

    def check(self, ctx: Context, opts: RuleOptions) -> Finding | None:
        # the raw series: the non-finite points are what this rule reads (a Track holds finite ones only)
        present = [ctx.curves.series[n] for n in (TRAIN_LOSS, VAL_LOSS, GRAD_NORM) if n in ctx.curves.series]
        if not any(s.name != GRAD_NORM for s in present):
            raise Skip(missing_reason((TRAIN_LOSS, VAL_LOSS)))
        hits = []
        for s in present:
            if not s.finite_mask.all():  # the mask is kept on the series: one pass shared with finite()
                bad = ~s.finite_mask
                i = int(np.flatnonzero(bad)[0])
                kind = "NaN" if np.isnan(s.y[i]) else "infinite"
                hits.append((float(s.x[i]), s, int(bad.sum()), kind))
        if not hits:
            return None
        pos, s, count, kind = min(hits, key=lambda h: h[0])
        axis = ctx.axis_word
        recovered = self.recovered(hits, axis)
        if recovered is not None:
            return recovered
        if count == len(s):
            what = f"{s.name} is {kind} at every one of its {count} points"
        else:
            what = f"{s.name} became {kind} at {at(pos, axis)} ({count} of {len(s)} points non-finite)"
        end = max(float(h[1].x[-1]) for h in hits)
        evidence = {"first_non_finite": pos, "metric": s.name, "non_finite_points": count, "points": len(s)}
        for h in hits:
            if h[1] is not s:
                evidence[f"{h[1].name}_non_finite_points"] = h[2]
        msg = f"{what}; limit: none allowed"
        if s.name == GRAD_NORM:
            msg += (
                "; the losses logged beside it look finite because trainers drop or average non-finite "
                "losses (Hugging Face's logging_nan_inf_filter), so the gradient norm is the evidence"
            )
        t, v = ctx.curves.get(TRAIN_LOSS), ctx.curves.get(VAL_LOSS)
        g = ctx.curves.get(GRAD_NORM)
        if t is not None and g is not None:
            g_bad = g.x[~np.isfinite(g.y)]
            zeros = t.x[t.y == 0]
            if g_bad.size and zeros.size and np.isin(zeros, g_bad).any():
                evidence["zero_train_loss_beside_nan_grad"] = 1
                msg += "; train_loss is exactly 0 where grad_norm is NaN: a mixed-precision (fp16) overflow"
        if t is not None and v is not None:
            v_bad = v.x[~np.isfinite(v.y)]
            zeros = t.x[t.y == 0]
            if v_bad.size and zeros.size and np.isin(zeros, v_bad).any():
                evidence["zero_train_loss_beside_nan"] = 1
                msg += (
                    "; train_loss is exactly 0 where val_loss is NaN: a mixed-precision (fp16) overflow, "
                    "not a perfect fit"
                )
        return self.finding(msg, evidence, span=(pos, end))

    def recovered(self, hits: list[tuple[float, Series, int, str]], axis: str) -> Finding | None:
        """An info finding (no verdict) when every non-finite point lies in the first third of its
        curve and at least 5 finite points follow the last of them, in every curve that had one: the
        run came back and is judged by what follows (the other rules read the finite points)."""
        last_bad = max(float(h[1].x[~h[1].finite_mask][-1]) for h in hits)
        first_bad = min(h[0] for h in hits)
        for _, s, _, _ in hits:
            after = int((s.x > last_bad).sum())
            idx = np.flatnonzero(~s.finite_mask)
            if after < 5 or not s.finite_mask[s.x > last_bad].all() or idx[-1] >= len(s) / 3:
                return None
        names = ", ".join(dict.fromkeys(h[1].name for h in hits))
        count = sum(h[2] for h in hits)
        from dataclasses import replace

        f = self.finding(
            f"{names} non-finite at {count} point{'s' if count != 1 else ''} between {at(first_bad, axis)} and "
            f"{at(last_bad, axis)}, then finite to the end: the run recovered, and is judged by what follows",
            {"first_non_finite": first_bad, "last_non_finite": last_bad, "non_finite_points": count, "recovered": 1},
            span=(first_bad, last_bad),
        )
        return replace(f, verdict=None, severity="info")
