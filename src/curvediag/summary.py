"""What a report says about the run as a whole, from the findings the engine collected:
the verdict and its headline, the best epoch, the final gap, the loss-and-accuracy reading
and the per-metric summaries.  :func:`build_report` assembles the :class:`~curvediag.report.Report`."""

from __future__ import annotations

import math
from typing import Any

from ._np import np

from . import projection
from .analysis import Context
from .curves import GRAD_NORM, LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Series
from .report import BORDERLINE, SURE, Finding, MetricSummary, Report, Skipped
from .verdict import Verdict, precedence, verdict_of
from . import remedies
from .wording import at

SPARK_POINTS = 24


def _verdict(findings: list[Finding]) -> tuple[Verdict, Finding | None]:
    """The verdict of highest precedence among the findings (healthy when none has one), and
    the first finding that gives it."""
    main = min((f for f in findings if f.verdict is not None), key=lambda f: precedence(f.verdict), default=None)
    if main is None or main.verdict is None:
        return Verdict.HEALTHY, None
    return verdict_of(str(main.verdict)), main


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def build_report(
    ctx: Context, findings: list[Finding], skipped: list[Skipped], unheard: list[Finding] | None = None,
    confidence: float | None = None, alternative: str | None = None,
) -> Report:
    from dataclasses import replace

    curves = ctx.curves
    verdict, main = _verdict(findings)
    findings.sort(key=lambda f: precedence(f.verdict))  # stable
    # remedies in the log's framework, advice the log shows was already followed left out; the
    # report's own list once each, the deciding finding's first (findings are sorted by precedence)
    facts = remedies.facts_of(ctx)
    pairs = [(f, f.remedies) for f in findings]
    todo = remedies.for_cause(pairs, facts, verdict)
    merged = remedies.merged_params(pairs)
    findings = [replace(f, remedies=remedies.for_finding(f.remedies, facts, merged)) for f in findings]

    best_epoch: float | None = None
    best_metric: str | None = None
    last_pos = 0.0
    for name, lower in ((VAL_LOSS, True), (VAL_ACC, False)):
        s = curves.get(name)
        if s is None:
            continue
        fin = s.finite()
        if len(fin):
            i = int(np.argmin(fin.y) if lower else np.argmax(fin.y))
            best_epoch, best_metric, last_pos = float(fin.x[i]), name, float(fin.x[-1])
            break
    onset = None
    if main is not None:
        onset = main.evidence.get("onset", main.evidence.get("first_non_finite"))
        if onset is None and main.verdict == "diverged" and main.span:
            onset = main.span[0]
    metrics = tuple(_summary(s) for n, s in curves.series.items() if n != LR or len(s.finite()))
    report = Report(
        source=curves.source,
        verdict=verdict,
        severity=verdict.severity,
        headline=_headline(ctx, verdict, main, best_epoch, best_metric, unheard or []) + _doubt(verdict, confidence, alternative),
        best_epoch=best_epoch,
        best_epoch_metric=best_metric,
        onset_epoch=_num(onset),
        epochs_after_best=None if best_epoch is None else last_pos - best_epoch,
        final_gap=_final_gap(ctx),
        findings=tuple(findings),
        skipped=tuple(skipped),
        metrics=metrics,
        interpretation=_interpret(ctx),
        projection=projection.for_report(ctx, verdict),
        remedies=todo,
        confidence=confidence,
        alternative=alternative,
    )
    return report


def _summary(s: Series) -> MetricSummary:
    lower = s.name not in (TRAIN_ACC, VAL_ACC)
    label = s.label
    if s.as_read:
        # a quality metric or an error rate judged as 1 - rate: show the values the log holds
        # (an error rate: lower is better), under the column's name
        lower = s.inverted
        s = s.with_xy(s.x, s.as_logged())
    fin = s.finite()  # s itself when every point is finite: no copy
    if len(fin) and s.name not in (LR, GRAD_NORM):  # a learning rate or gradient norm has no "best"
        i = int(np.argmin(fin.y) if lower else np.argmax(fin.y))
        best: float | None = float(fin.y[i])
        best_at: float | None = float(fin.x[i])
    else:
        best = best_at = None
    y = s.y
    if y.size > SPARK_POINTS:
        idx = np.linspace(0, y.size - 1, SPARK_POINTS).round().astype(int)
        y = y[idx]
    return MetricSummary(
        name=s.name,
        column=s.column,
        points=len(s),
        non_finite=len(s) - len(fin),
        first=float(s.y[0]) if len(s) else None,
        best=best,
        best_at=best_at,
        last=float(s.y[-1]) if len(s) else None,
        lower_is_better=lower,
        values=tuple(float(v) for v in y),
        label=label,
    )


def _final_gap(ctx: Context) -> dict[str, float | None]:
    t, v = ctx.track(TRAIN_LOSS), ctx.track(VAL_LOSS)
    ta, va = ctx.track(TRAIN_ACC), ctx.track(VAL_ACC)
    gap: dict[str, float | None] = {"loss": None, "loss_relative": None, "acc": None}
    if t is not None and v is not None:
        g = v.end - t.end
        gap["loss"] = g
        gap["loss_relative"] = g / abs(t.end) if t.end != 0 else None
    kinds = [ctx.curves.series[n].as_read for n in (TRAIN_ACC, VAL_ACC) if n in ctx.curves.series]
    if ta is not None and va is not None and not any(kinds):  # an accuracy beside an F1 or a WER: no gap
        gap["acc"] = ta.end - va.end
    return gap


def _at(pos: float, ctx: Context) -> str:
    return at(pos, ctx.axis_word)


def _headline(ctx: Context, verdict: Verdict, main: Finding | None, best: float | None, best_metric: str | None, unheard: list[Finding]) -> str:
    """One sentence: the verdict, where it starts, and the finding's main measurement.

    When a rule the configuration switched off would have decided a worse verdict, the
    headline says so instead of calling the run healthy."""
    if unheard:
        first, u = _verdict(unheard)
        if u is not None and first.precedence < verdict.precedence:
            said = f"{verdict.headline}: {main.message.split('; ')[0]}" if main is not None else "No selected rule fired"
            return (f"{said}; but {u.code} ({u.name}), switched off by the configuration, would say "
                    f"{first}: {u.message.split('; ')[0]}.")
    if main is not None:
        return f"{verdict.headline}: {main.message.split('; ')[0]}."
    if best is not None and best_metric == VAL_LOSS:
        v = ctx.track(VAL_LOSS)
        up = projection.turned_up_words(v, ctx.axis_word) if v is not None else None
        if up is not None:  # the projection says it turned up: the headline says how little
            return f"Healthy: val_loss reached its best at {_at(best, ctx)}; {up}, too small a rise to call overfitting."
        return f"Healthy: val_loss reached its best at {_at(best, ctx)} and did not turn up."
    if best is not None and best_metric is not None:  # set together
        return f"Healthy: {ctx.label(best_metric)} reached its best at {_at(best, ctx)}."
    t = ctx.main_loss or ctx.judged
    if t is None or t.name.startswith("1 - "):
        name = ctx.label(t.name[4:]) if t is not None else "the metric"
        return f"Healthy: no rule found a problem in {name}; no loss is logged, so only the metric was judged."
    return f"Healthy: {t.name} fell and settled; no validation curve to check generalisation."


def _doubt(verdict: Verdict, confidence: float | None, alternative: str | None) -> str:
    """' Not sure: overfitting or healthy (56% of copies ...)' when under ``SURE`` of the copies of the run
    agree with the verdict; '' when sure."""
    if confidence is None or alternative is None or confidence >= SURE:
        return ""
    word = "Borderline" if confidence < BORDERLINE else "Not sure"
    return (f" {word}: {verdict} or {alternative} ({confidence:.0%} of copies of the run drawn from its own noise "
            f"are judged {verdict}).")


def _interpret(ctx: Context) -> str | None:
    """Loss and accuracy read together (the four high/low combinations)."""
    loss = ctx.track(VAL_LOSS) or ctx.track(TRAIN_LOSS)
    acc = ctx.track(VAL_ACC) if ctx.track(VAL_LOSS) else ctx.track(TRAIN_ACC)
    if acc is None and ctx.track(VAL_ACC) is not None and loss is not None:
        acc = ctx.track(VAL_ACC)
    if loss is None or acc is None or loss.n < 2 or acc.n < 2:
        return None
    series = ctx.curves.get(acc.name)
    if series is not None and series.quality:
        return None  # mAP, F1 ... are not accuracies: the four-way reading does not apply
    k = ctx.num_classes
    if k:
        ref, ref_name = math.log(k), f"chance (ln {k} = {math.log(k):.3f})"
        chance = 1.0 / k
    else:
        ref, ref_name = loss.start, "its starting level"
        chance = None
    if ref <= 0 or loss.end < 0:
        return None
    loss_high = loss.end > 0.5 * ref
    acc_high = acc.end >= ((chance + 1) / 2 if chance is not None else 0.8)
    acc_ref = f" (chance {chance:.3f})" if chance is not None else ""
    facts = f"final {loss.name} {loss.end:.4g} is {loss.end / ref * 100:.0f}% of {ref_name}; {acc.name} {acc.end:.3f}{acc_ref}"
    if loss_high and not acc_high:
        meaning = "high loss with low accuracy: large errors on most examples"
    elif not loss_high and not acc_high:
        meaning = "low loss with low accuracy: small errors on many examples"
    elif loss_high and acc_high:
        meaning = "high loss with high accuracy: large, confident errors on a few examples"
    else:
        meaning = "low loss with high accuracy: small errors on a few examples, the ideal case"
    return f"{meaning} ({facts})."
