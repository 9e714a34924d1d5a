"""Remedies in the user's own framework.

A rule names a remedy by id (:class:`Remedy`, ``Remedy("stop-at-best")``), optionally with
parameters of its own (E101: the ``patience`` that reaches the best epoch); plain strings are
remedies that read the same in every framework.  :data:`TABLE` holds, per remedy id and per
framework (chosen by the detected format, :data:`FRAMEWORK_OF`), the variants of its text: each
needs some facts, and the first whose facts are all known is said.  Facts come from the log
(``trainer_state.json``'s ``best_model_checkpoint``, ``best_metric``, its EarlyStoppingCallback
state: :attr:`curvediag.curves.SourceInfo.facts`), from the curves (the monitored column's name
as logged) and from the rule.  A variant whose text is ``None`` is advice the log shows was
already followed: it is not given.

:func:`for_finding` words one finding's remedies; :func:`for_report` the report's list: every
finding's remedies once, those of the finding that decided the verdict first, a remedy that
another one covers (``stop-at-best`` covers ``restore-best`` and ``early-stopping``) folded into
it with its parameters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from .curves import VAL_ACC, VAL_LOSS

if TYPE_CHECKING:
    from .analysis import Context
    from .report import Finding


@dataclass(frozen=True)
class Remedy:
    """A remedy by id, with the rule's own parameters (``(("patience", 14),)``)."""

    id: str
    params: tuple[tuple[str, Any], ...] = ()

    def __str__(self) -> str:  # the generic wording (``curvediag rule``, docs/rules.md)
        return _say(self.id, "generic", dict(_DEFAULTS, **dict(self.params))) or self.id


def remedy(id: str, **params: Any) -> Remedy:
    if id not in TABLE:
        raise KeyError(f"no remedy {id!r} in curvediag.remedies.TABLE")
    return Remedy(id, tuple(sorted(params.items())))


#: The detected format (``source.format``) -> the framework whose words the remedies use.
FRAMEWORK_OF = {
    "hf_trainer_state": "hf",
    "hf_log_history": "hf",
    "lightning_csv": "lightning",
    "ultralytics_csv": "ultralytics",
    "keras_csv": "keras",
    "keras_history_json": "keras",
    "keras_console": "keras",
    "fastai_csv": "fastai",
}

#: Parameters every text may use, when neither the log nor the rule gives them.
_DEFAULTS: dict[str, Any] = {"patience": 5, "monitor": "val_loss", "hf_monitor": "eval_loss", "metric": "val_acc",
                             "mode": "min", "metric_mode": "max", "greater": "True"}

# (facts needed, text or None).  Texts are str.format templates over the facts and parameters.
Variant = tuple[tuple[str, ...], "str | None"]

#: remedy id -> framework -> variants, most specific first; "generic" is the fallback of every framework.
TABLE: dict[str, dict[str, tuple[Variant, ...]]] = {
    "stop-at-best": {
        "generic": (((), "Stop at the best epoch: use early stopping on {monitor} (patience {patience}) and restore "
                         "the best checkpoint rather than keeping the final weights."),),
        "keras": (((), "Stop at the best epoch with early stopping: EarlyStopping(monitor=\"{monitor}\", patience={patience}, "
                       "restore_best_weights=True), or ModelCheckpoint(monitor=\"{monitor}\", save_best_only=True)."),),
        "hf": (
            (("best_model_checkpoint", "es_patience", "patience_short"),
             "Load the best checkpoint trainer_state.json records, {best_model_checkpoint} ({best_by} {best_metric} "
             "at step {best_step}), not the final weights; EarlyStoppingCallback ran with "
             "early_stopping_patience={es_patience}: {patience} reaches the best here."),
            (("best_model_checkpoint",),
             "Load the best checkpoint trainer_state.json records, {best_model_checkpoint} ({best_by} {best_metric} "
             "at step {best_step}), not the final weights (load_best_model_at_end=True does it at the end of "
             "training)."),
            (("es_patience", "patience_short"),
             "Stop at the best evaluation: EarlyStoppingCallback ran with early_stopping_patience={es_patience}; "
             "{patience} reaches the best here; with TrainingArguments(load_best_model_at_end=True, "
             "metric_for_best_model=\"{hf_monitor}\") the best checkpoint is loaded at the end."),
            (("es_patience",),
             "Keep the best evaluation: EarlyStoppingCallback ran; add TrainingArguments(load_best_model_at_end=True, "
             "metric_for_best_model=\"{hf_monitor}\") so that the best checkpoint, not the last, is loaded at the end."),
            ((), "Stop at the best evaluation with early stopping: TrainingArguments(load_best_model_at_end=True, "
                 "metric_for_best_model=\"{hf_monitor}\") with EarlyStoppingCallback(early_stopping_patience={patience}); "
                 "the best checkpoint is then trainer.state.best_model_checkpoint."),
        ),
        "lightning": (((), "Stop at the best epoch with early stopping: ModelCheckpoint(monitor=\"{monitor}\", mode=\"{mode}\") and "
                           "EarlyStopping(monitor=\"{monitor}\", mode=\"{mode}\", patience={patience}); then load "
                           "checkpoint_callback.best_model_path (trainer.test(ckpt_path=\"best\"))."),),
        "ultralytics": (((), "Stop at the best epoch with early stopping: model.train(..., patience={patience}), and deploy "
                             "weights/best.pt (the best fitness epoch), not last.pt."),),
        "fastai": (((), "Stop at the best epoch with early stopping: learn.fit(..., cbs=[EarlyStoppingCallback(monitor=\"{monitor}\", "
                        "patience={patience}), SaveModelCallback(monitor=\"{monitor}\")]): the best weights are "
                        "loaded at the end."),),
    },
    "restore-best": {
        "generic": (((), "Restore the best checkpoint (by {monitor}) rather than keeping the final weights."),),
        "keras": (((), "Restore the best weights: ModelCheckpoint(monitor=\"{monitor}\", save_best_only=True) or "
                       "EarlyStopping(monitor=\"{monitor}\", restore_best_weights=True)."),),
        "hf": (
            (("best_model_checkpoint",),
             "Load the best checkpoint trainer_state.json records, {best_model_checkpoint} ({best_by} {best_metric} "
             "at step {best_step}), not the final weights (load_best_model_at_end=True does it at the end of "
             "training)."),
            ((), "Keep the best checkpoint: TrainingArguments(load_best_model_at_end=True, "
                 "metric_for_best_model=\"{hf_monitor}\"), the same save and eval strategy."),
        ),
        "lightning": (((), "Restore the best checkpoint: ModelCheckpoint(monitor=\"{monitor}\", mode=\"{mode}\"), "
                           "then checkpoint_callback.best_model_path (ckpt_path=\"best\")."),),
        "ultralytics": (((), "Use weights/best.pt (the best fitness epoch), not last.pt."),),
        "fastai": (((), "Restore the best epoch: SaveModelCallback(monitor=\"{monitor}\") loads its weights at the "
                        "end of fit."),),
    },
    "early-stopping": {
        "generic": (((), "Add early stopping on {monitor} with a patience of at least {patience} evaluations to save "
                         "the epochs after the best."),),
        "keras": (((), "Add EarlyStopping(monitor=\"{monitor}\", patience={patience}, restore_best_weights=True) to "
                       "save the epochs after the best."),),
        "hf": (
            (("es_patience", "patience_short"),
             "EarlyStoppingCallback ran with early_stopping_patience={es_patience}; {patience} reaches the best here."),
            (("es_patience",), None),  # early stopping already ran: nothing to add
            ((), "Add EarlyStoppingCallback(early_stopping_patience={patience}) (it needs load_best_model_at_end=True "
                 "and metric_for_best_model=\"{hf_monitor}\")."),
        ),
        "lightning": (((), "Add EarlyStopping(monitor=\"{monitor}\", mode=\"{mode}\", patience={patience}) to save the "
                           "epochs after the best."),),
        "ultralytics": (((), "Train with patience={patience} (model.train(..., patience={patience})) to save the "
                             "epochs after the best."),),
        "fastai": (((), "Add EarlyStoppingCallback(monitor=\"{monitor}\", patience={patience}) to save the epochs "
                        "after the best."),),
    },
    "select-by-metric": {
        "generic": (((), "Select the checkpoint by {metric} (the metric you ship), not by {monitor}."),),
        "keras": (((), "Select the checkpoint by {metric}: ModelCheckpoint(monitor=\"{metric}\", mode=\"{metric_mode}\", "
                       "save_best_only=True), not by {monitor}."),),
        "hf": (
            (("best_by_metric",), None),  # trainer_state.json's best checkpoint is already chosen by it
            ((), "Select the checkpoint by {metric}: metric_for_best_model=\"{metric}\", greater_is_better={greater}, "
                 "with load_best_model_at_end=True, not by {hf_monitor}."),
        ),
        "lightning": (((), "Select the checkpoint by {metric}: ModelCheckpoint(monitor=\"{metric}\", "
                           "mode=\"{metric_mode}\"), not by {monitor}."),),
        "ultralytics": (((), "best.pt is chosen by fitness (0.1 mAP50 + 0.9 mAP50-95), not by the loss: deploy it."),),
        "fastai": (((), "Select the epoch by {metric}: SaveModelCallback(monitor=\"{metric}\"), not by {monitor}."),),
    },
    "train-longer": {
        "generic": (((), "Train for more epochs; keep early stopping on {monitor} so it stops at the right time."),),
        "keras": (((), "Train for more epochs (model.fit(..., initial_epoch=<last epoch>) resumes); keep "
                       "EarlyStopping(monitor=\"{monitor}\", restore_best_weights=True)."),),
        "hf": (((), "Train longer: raise num_train_epochs (or max_steps) and resume with "
                    "trainer.train(resume_from_checkpoint=True); keep load_best_model_at_end=True."),),
        "lightning": (((), "Train longer: raise Trainer(max_epochs=...) and resume with trainer.fit(..., "
                           "ckpt_path=\"last\"); keep EarlyStopping(monitor=\"{monitor}\")."),),
        "ultralytics": (((), "Train longer: raise epochs= (or resume=True from weights/last.pt); keep "
                             "patience={patience}."),),
        "fastai": (((), "Train longer: more epochs of learn.fit_one_cycle; keep "
                        "SaveModelCallback(monitor=\"{monitor}\")."),),
    },
    "regularise": {
        "generic": (((), "Add regularisation: weight decay (L2), dropout, label smoothing."),),
        "keras": (((), "Add regularisation: Dropout layers, kernel_regularizer=keras.regularizers.L2(1e-4), or "
                       "AdamW(weight_decay=...); label smoothing in the loss (label_smoothing=0.1)."),),
        "hf": (((), "Add regularisation: TrainingArguments(weight_decay=0.01, label_smoothing_factor=0.1); "
                    "raise the model's dropout (config hidden_dropout_prob / dropout)."),),
        "lightning": (((), "Add regularisation: weight decay in configure_optimizers (AdamW(weight_decay=...)), "
                           "dropout, label smoothing (CrossEntropyLoss(label_smoothing=0.1))."),),
        "ultralytics": (((), "Add regularisation: model.train(..., weight_decay=..., dropout=... (classify), "
                             "label_smoothing=...)."),),
        "fastai": (((), "Add regularisation: learn.fit_one_cycle(..., wd=0.1), more dropout (ps=), "
                        "LabelSmoothingCrossEntropy()."),),
    },
    "more-data": {
        "generic": (((), "Augment the training data, or collect more of it."),),
        "ultralytics": (((), "Augment more (mosaic=, mixup=, degrees=, hsv_h= in model.train) or label more "
                             "images."),),
        "fastai": (((), "Augment more (aug_transforms() in the DataBlock's batch_tfms), or collect more data."),),
    },
    "smaller-model": {
        "generic": (((), "Use a smaller or simpler model (fewer layers or units)."),),
        "ultralytics": (((), "Use a smaller model (yolo11s/n instead of m/l/x)."),),
    },
}

#: A remedy that says what another says, and more: the other is folded into it (its parameters kept).
COVERS: dict[str, tuple[str, ...]] = {"stop-at-best": ("restore-best", "early-stopping")}


def _say(id: str, framework: str, facts: Mapping[str, Any]) -> str | None:
    variants = TABLE[id].get(framework) or TABLE[id]["generic"]
    for needs, text in variants:
        if all(facts.get(k) is not None for k in needs):
            return None if text is None else text.format_map(_Missing(facts))
    return None  # pragma: no cover - every framework ends with a variant that needs nothing


class _Missing(dict):
    def __missing__(self, key: str) -> str:  # a parameter nobody gave: shown as a placeholder
        return f"<{key}>"


def _num(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def facts_of(ctx: "Context") -> dict[str, Any]:
    """The facts every remedy text may use on this log: the framework's own names for the
    monitored curves, and what the log says was already done."""
    curves = ctx.curves
    src = curves.source
    known = dict(getattr(src, "facts", None) or {})
    f: dict[str, Any] = dict(_DEFAULTS, framework=known.get("framework") or framework_of(src.format))
    vl, va = curves.get(VAL_LOSS), curves.get(VAL_ACC)
    if vl is not None and " + " not in vl.column:
        f["monitor"] = vl.column
        f["hf_monitor"] = vl.column if vl.column.startswith("eval_") else "eval_loss"
    if va is not None:
        f["metric"] = va.column
        f["metric_mode"] = "min" if va.inverted else "max"
        f["greater"] = "False" if va.inverted else "True"
    if known.get("best_model_checkpoint"):
        f["best_model_checkpoint"] = known["best_model_checkpoint"]
        f["best_metric"] = _num(known["best_metric"]) if known.get("best_metric") is not None else "?"
        f["best_step"] = _num(known.get("best_step", "?"))
        f["best_by"] = known.get("metric_for_best_model") or "best_metric"
        if va is not None and known.get("metric_for_best_model") in (va.column, "eval_" + va.column.removeprefix("eval_")):
            f["best_by_metric"] = True
    if known.get("early_stopping_patience") is not None:
        f["es_patience"] = known["early_stopping_patience"]
    return f


def _with(facts: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(facts, **params)
    es = out.get("es_patience")
    if es is not None and "patience" in params and int(params["patience"]) > int(es):
        out["patience_short"] = True
    return out


def _words(items: Iterable["Remedy | str"], facts: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for it in items:
        text = it if isinstance(it, str) else _say(it.id, facts["framework"], _with(facts, dict(it.params)))
        if text is not None and text not in out:
            out.append(text)
    return out


def for_finding(items: Iterable["Remedy | str"], facts: dict[str, Any],
                merged: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, ...]:
    """One finding's remedies, worded for the log's framework (advice already followed dropped),
    with the parameters ``merged`` over the report (:func:`for_report`), so that one remedy reads
    the same under every finding."""
    merged = merged or {}
    return tuple(_words([it if isinstance(it, str) else Remedy(it.id, tuple(sorted({**dict(it.params), **merged.get(it.id, {})}.items())))
                         for it in items], facts))


def merged_params(findings: Iterable[tuple["Finding", tuple["Remedy | str", ...]]]) -> dict[str, dict[str, Any]]:
    """Each remedy id's parameters over all findings (the first finding's win), a covered id's
    given to the remedy that covers it too."""
    out: dict[str, dict[str, Any]] = {}
    for _, items in findings:
        for it in items:
            if isinstance(it, Remedy):
                for k, v in it.params:
                    out.setdefault(it.id, {}).setdefault(k, v)
    for cover, covered in COVERS.items():
        for c in covered:
            for k, v in out.get(c, {}).items():
                out.setdefault(cover, {}).setdefault(k, v)
    return out


def for_report(findings: Iterable[tuple["Finding", tuple["Remedy | str", ...]]], facts: dict[str, Any],
               everywhere: dict[str, dict[str, Any]] | None = None) -> tuple[str, ...]:
    """Every finding's remedies once, in the findings' order (the deciding finding first): one id
    once, its parameters merged (the first finding's win), a covered remedy folded into the one
    that covers it."""
    findings = list(findings)
    everywhere = merged_params(findings) if everywhere is None else everywhere
    order: list["Remedy | str"] = []
    params: dict[str, dict[str, Any]] = {}
    for _, items in findings:
        for it in items:
            if isinstance(it, str):
                if it not in order:
                    order.append(it)
                continue
            target = next((c for c, covered in COVERS.items() if it.id in covered and c in params), it.id)
            if target in params:
                for k, v in it.params:
                    params[target].setdefault(k, v)
                continue
            params[it.id] = dict(it.params)
            order.append(Remedy(it.id))
            # an earlier remedy this one covers is folded into it
            for covered in COVERS.get(it.id, ()):
                if covered in params:
                    for k, v in params.pop(covered).items():
                        params[it.id].setdefault(k, v)
                    order = [o for o in order if not (isinstance(o, Remedy) and o.id == covered)]
    merged = [o if isinstance(o, str) else Remedy(o.id, tuple(sorted({**params[o.id], **everywhere.get(o.id, {})}.items())))
              for o in order]
    return tuple(_words(merged, facts))


#: remedies a report lists (each finding keeps all of its own)
REPORT_LIMIT = 5


def _topic(text: str) -> str:
    """What a remedy is about, by its first words ("lower the learning", "clip gradients e"): two
    rules' wordings of one piece of advice share it."""
    import re

    return " ".join(re.findall(r"[a-z0-9]+", text.lower())[:3])


def for_cause(findings: Iterable[tuple["Finding", tuple["Remedy | str", ...]]], facts: dict[str, Any],
              verdict: str | None, limit: int = REPORT_LIMIT) -> tuple[str, ...]:
    """The report's remedies: those of the findings that decided ``verdict`` (a run that diverged is not
    also told its learning rate may be too low, as a not-learning finding beside it would say), one
    piece of advice once however many rules word it (:func:`_topic`), at most ``limit``; a verdict no
    finding decides (healthy, still improving by the projection) takes every finding's."""
    findings = list(findings)
    deciding = [(f, items) for f, items in findings if verdict is not None and f.verdict == verdict]
    chosen = for_report(deciding or findings, facts, merged_params(findings))  # worded as under each finding
    out: list[str] = []
    seen: set[str] = set()
    for text in chosen:
        topic = _topic(text)
        if topic in seen:
            continue
        seen.add(topic)
        out.append(text)
    return tuple(out[:limit])


def framework_of(fmt: str) -> str:
    return FRAMEWORK_OF.get(fmt, "generic")
