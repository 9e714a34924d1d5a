"""The library API: ``curvediag.diagnose(...)``.  The CLI is a thin layer over it."""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

from ._np import np

from . import projection
from .analysis import Context
from .curves import GRAD_NORM, LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS, Curves
from .errors import InputError, UsageError
from .report import PRECEDENCE, SEVERITY_OF, Finding, MetricSummary, Report, Skipped
from .rules import RULES, Skip
from .table import RawTable, to_curves

SPARK_POINTS = 24


def _overrides(columns: Mapping[str, str] | None, **named: str | None) -> dict[str, str]:
    out = {k: v for k, v in (columns or {}).items() if v}
    out.update({k: v for k, v in named.items() if v})
    return out


def _table_from_frame(df, source: str) -> RawTable:
    """A DataFrame: NaN cells are taken as *missing* (pandas cannot tell them from
    a recorded NaN); +/-inf are recorded values."""
    names, values, present = [], {}, {}
    for c in df.columns:
        col = df[c]
        if col.dtype.kind not in "biuf":
            import pandas as pd

            col = pd.to_numeric(col, errors="coerce")
            if col.notna().sum() == 0:
                continue
        v = col.to_numpy(dtype=float, na_value=np.nan)
        names.append(str(c))
        values[str(c)] = v
        present[str(c)] = ~np.isnan(v)
    return RawTable(names, values, present, len(df), "dataframe")


def load_curves(
    log: Any,
    *,
    input_format: str | None = None,
    columns: Mapping[str, str] | None = None,
    run: str | None = None,
) -> Curves:
    """Read ``log`` (a path, ``-``, a pandas DataFrame, or a Keras ``history.history`` dict)."""
    from .readers import load

    overrides = dict(columns or {})
    if isinstance(log, (str, os.PathLike)):
        return load(os.fspath(log), input_format, overrides, run)
    from .readers.json import _from_object

    if isinstance(log, dict):
        return to_curves(_from_object(log, "<dict>"), "<dict>", overrides)
    if hasattr(log, "columns") and hasattr(log, "to_numpy"):
        return to_curves(_table_from_frame(log, "<DataFrame>"), "<DataFrame>", overrides)
    if hasattr(log, "history") and isinstance(log.history, dict):  # a keras History object
        return to_curves(_from_object(log.history, "<History>"), "<History>", overrides)
    raise UsageError(f"cannot diagnose a {type(log).__name__}; pass a path, a DataFrame or a dict of lists")


def inspect_log(
    path: str, *, input_format: str | None = None, columns: Mapping[str, str] | None = None, run: str | None = None
) -> dict:
    """What curvediag reads from a log, before any judgement: the format, the axis,
    every numeric column with its point counts, and the mapping to canonical curves."""
    from .readers import load_table

    table, source = load_table(os.fspath(path), input_format, run)
    curves = to_curves(table, source, dict(columns or {}))
    cols = []
    for name in table.names:
        v, p = table.values[name], table.present[name]
        cols.append({
            "column": name,
            "points": int(p.sum()),
            "non_finite": int((p & ~np.isfinite(v)).sum()),
            "used_as": (["axis"] if name == curves.source.axis else [])
            + [k for k, sr in curves.series.items() if name in sr.column.split(" + ")],
        })
    return {
        "path": source,
        "format": table.format,
        "rows": table.rows,
        "axis": curves.source.axis,
        "axis_kind": curves.axis_kind,
        "columns": cols,
        "mapping": dict(curves.source.columns),
        "analysed_points": {k: len(s) for k, s in curves.series.items()},
        "notes": list(curves.source.notes),
    }


def rule_options(overrides: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Each rule's options: its defaults updated with ``overrides[code or name]``, each checked
    for its kind and range as the configuration file's are (a NaN or negative threshold is refused)."""
    from .config import _option

    out = {}
    for r in RULES:
        opts = dict(r.options)
        for key in (r.code, r.name):
            for k, v in ((overrides or {}).get(key) or {}).items():
                if k not in opts:
                    raise UsageError(f"rule {r.code} ({r.name}) has no option {k!r}; options: {', '.join(opts) or 'none'}")
                opts[k] = _option(v, opts[k], k, f"option {k!r} of rule {r.code} ({r.name})")
        out[r.code] = opts
    return out


def diagnose(
    log: Any,
    *,
    input_format: str | None = None,
    loss: str | None = None,
    val_loss: str | None = None,
    acc: str | None = None,
    val_acc: str | None = None,
    metric: str | None = None,
    columns: Mapping[str, str] | None = None,
    num_classes: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    run: str | None = None,
    select: tuple[str, ...] | list[str] = (),
    ignore: tuple[str, ...] | list[str] = (),
) -> Report:
    """Diagnose one training log and return a :class:`~curvediag.report.Report`.

    ``log`` is a path (CSV, JSON, JSON Lines, ...), ``"-"`` for stdin, a pandas
    DataFrame, or a Keras ``history.history`` dict.  ``loss``/``val_loss``/
    ``acc``/``val_acc`` name columns the reader cannot recognise; ``metric``
    names the validation quality metric to judge instead of accuracy (mAP, F1,
    top-1 ...; error rates such as WER are read as 1 - rate).
    ``num_classes`` enables comparisons with chance (ln K, 1/K).  ``options``
    overrides rule thresholds: ``{"O102": {"rise_limit": 0.2}}``.  ``run`` picks
    one run from a file or store that holds several (MLflow, W&B exports).
    ``select``/``ignore`` choose rules by code, prefix or name (longest prefix wins).

    Raises :class:`~curvediag.errors.InputError` for unreadable input.
    """
    return diagnose_with_curves(
        log, input_format=input_format, loss=loss, val_loss=val_loss, acc=acc, val_acc=val_acc, metric=metric,
        columns=columns, num_classes=num_classes, options=options, run=run, select=select, ignore=ignore,
    )[0]


def diagnose_with_curves(
    log: Any,
    *,
    input_format: str | None = None,
    loss: str | None = None,
    val_loss: str | None = None,
    acc: str | None = None,
    val_acc: str | None = None,
    metric: str | None = None,
    columns: Mapping[str, str] | None = None,
    num_classes: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    run: str | None = None,
    select: tuple[str, ...] | list[str] = (),
    ignore: tuple[str, ...] | list[str] = (),
) -> tuple[Report, Curves]:
    """:func:`diagnose`, also returning the curves it read (for plots), so a log is parsed once."""
    if num_classes is not None and num_classes < 2:
        raise UsageError("num_classes must be at least 2")
    if metric and val_acc:
        raise UsageError("give --metric or --val-acc, not both")
    cols = _overrides(columns, train_loss=loss, val_loss=val_loss, train_acc=acc, val_acc=val_acc, metric=metric)
    curves = load_curves(log, input_format=input_format, columns=cols, run=run)
    report = diagnose_curves(curves, num_classes=num_classes, options=options, select=tuple(select), ignore=tuple(ignore))
    return report, curves


def diagnose_curves(
    curves: Curves,
    *,
    num_classes: int | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
) -> Report:
    from .config import rule_enabled

    opts = rule_options(options)
    ctx = Context(curves, opts, num_classes)
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    unheard: list[Finding] = []  # what deselected verdict rules would have said
    too_short = False
    for rule_cls in RULES:
        enabled = rule_enabled(rule_cls.code, rule_cls.name, select, ignore)
        if not enabled and (rule_cls.verdict is None or too_short):
            continue
        rule = rule_cls()
        if too_short and rule.code != "D101":
            skipped.append(Skipped(rule.code, rule.name, "too few points to judge"))
            continue
        try:
            f = rule.check(ctx, opts[rule.code])
        except Skip as s:
            if enabled:
                skipped.append(Skipped(rule.code, rule.name, str(s)))
            continue
        if f is None:
            continue
        if rule.verdict == "insufficient_data":
            # too short is a fact about the log, not an opinion a selection can switch off:
            # no verdict of healthy may come from fewer points than the rules need
            too_short = True
        if enabled or rule.verdict == "insufficient_data":
            findings.append(f)
        else:
            unheard.append(f)
    return build_report(ctx, findings, skipped, unheard)


def _verdict(findings: list[Finding]) -> tuple[str, Finding | None]:
    for v in PRECEDENCE:
        for f in findings:
            if f.verdict == v:
                return v, f
    return "healthy", None


def _num(v) -> float | None:
    return None if v is None else float(v)


def build_report(
    ctx: Context, findings: list[Finding], skipped: list[Skipped], unheard: list[Finding] | None = None
) -> Report:
    curves = ctx.curves
    verdict, main = _verdict(findings)
    findings.sort(key=lambda f: (PRECEDENCE.index(f.verdict) if f.verdict in PRECEDENCE else 99))  # stable

    best_epoch = best_metric = None
    last_pos = None
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
        severity=SEVERITY_OF[verdict],
        headline=_headline(ctx, verdict, main, best_epoch, best_metric, unheard or []),
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
    )
    return report


def _summary(s) -> MetricSummary:
    lower = s.name not in (TRAIN_ACC, VAL_ACC)
    if s.inverted:
        # an error rate judged as 1 - rate: show the values the log holds (lower is better)
        s = s.with_xy(s.x, s.as_logged())
        lower = True
    fin = s.finite()  # s itself when every point is finite: no copy
    if len(fin) and s.name not in (LR, GRAD_NORM):  # a learning rate or gradient norm has no "best"
        i = int(np.argmin(fin.y) if lower else np.argmax(fin.y))
        best, best_at = float(fin.y[i]), float(fin.x[i])
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
    )


def _final_gap(ctx: Context) -> dict[str, float | None]:
    t, v = ctx.track(TRAIN_LOSS), ctx.track(VAL_LOSS)
    ta, va = ctx.track(TRAIN_ACC), ctx.track(VAL_ACC)
    gap: dict[str, float | None] = {"loss": None, "loss_relative": None, "acc": None}
    if t is not None and v is not None:
        g = v.end - t.end
        gap["loss"] = g
        gap["loss_relative"] = g / abs(t.end) if t.end != 0 else None
    if ta is not None and va is not None:
        gap["acc"] = ta.end - va.end
    return gap


def _at(pos, ctx) -> str:
    from .rules.base import at

    return at(pos, ctx.axis_word)


_HEADLINE = {
    "diverged": "Training diverged",
    "not_learning": "Not learning",
    "cramming": "Cramming",
    "overfitting": "Overfitting",
    "still_improving": "Still improving (train longer)",
    "insufficient_data": "Too few points to judge",
}


def _headline(ctx: Context, verdict: str, main: Finding | None, best, best_metric, unheard: list[Finding]) -> str:
    """One sentence: the verdict, where it starts, and the finding's main measurement.

    When a rule the configuration switched off would have decided a worse verdict, the
    headline says so instead of calling the run healthy."""
    if unheard:
        first, _ = _verdict(unheard)
        u = next(f for f in unheard if f.verdict == first)
        if PRECEDENCE.index(first) < (PRECEDENCE.index(verdict) if verdict in PRECEDENCE else len(PRECEDENCE)):
            said = f"{_HEADLINE[verdict]}: {main.message.split('; ')[0]}" if main is not None else "No selected rule fired"
            return (f"{said}; but {u.code} ({u.name}), switched off by the configuration, would say "
                    f"{first}: {u.message.split('; ')[0]}.")
    if main is not None:
        return f"{_HEADLINE[verdict]}: {main.message.split('; ')[0]}."
    if best is not None and best_metric == VAL_LOSS:
        return f"Healthy: val_loss reached its best at {_at(best, ctx)} and did not turn up."
    if best is not None:
        return f"Healthy: {best_metric} reached its best at {_at(best, ctx)}."
    t = ctx.main_loss or ctx.judged
    if t is None or t.name.startswith("1 - "):
        name = t.name[4:] if t is not None else "the metric"
        return f"Healthy: no rule found a problem in {name}; no loss is logged, so only the metric was judged."
    return f"Healthy: {t.name} fell and settled; no validation curve to check generalisation."


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


__all__ = ["diagnose", "diagnose_with_curves", "diagnose_curves", "load_curves", "InputError"]
