"""Map a log's column names to canonical metrics.

Matching is case- and separator-insensitive: ``val_loss``, ``ValLoss``,
``val/loss`` and ``VAL-LOSS`` all normalise to ``valloss``.  Each canonical
metric has an ordered list of aliases; the first alias present wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .curves import GRAD_NORM, LR, TRAIN_ACC, TRAIN_LOSS, VAL_ACC, VAL_LOSS

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def norm(name: str) -> str:
    """Normalise a column name for matching."""
    return _NON_ALNUM.sub("", str(name).strip().lower())


EPOCH_AXIS = ("epoch", "epochs", "ep")
STEP_AXIS = ("step", "steps", "globalstep", "iter", "iters", "iteration", "iterations", "trainerglobalstep")

# Ordered by preference.  "test" names are a fallback when no validation column exists.
ALIASES: dict[str, tuple[str, ...]] = {
    TRAIN_LOSS: (
        "trainloss", "trainlossepoch", "loss", "lossepoch", "trainingloss", "losstrain", "trloss", "totalloss",
        "traintotalloss", "avgtrainloss", "trainavgloss", "meantrainloss", "trainlossstep", "lossstep",
        "trainepochloss", "epochloss", "losstrainepoch", "losstraining", "losstrainingepoch",
    ),
    VAL_LOSS: (
        "valloss", "vallossepoch", "validloss", "validationloss", "evalloss", "lossval", "lossvalid",
        "devloss", "valtotalloss", "avgvalloss", "valavgloss", "meanvalloss", "validationepochloss",
        "valepochloss", "evalepochloss", "lossvalepoch", "lossvalidepoch", "lossvalidation",
        "lossvalidationepoch", "lossevalepoch", "lossdev", "testloss", "losstest", "losstestepoch",
    ),
    TRAIN_ACC: (
        "trainacc", "trainaccepoch", "trainaccuracy", "trainaccuracyepoch", "acc", "accepoch", "accuracy",
        "trainingaccuracy", "trainingacc", "categoricalaccuracy", "sparsecategoricalaccuracy",
        "binaryaccuracy", "accuracytrain", "acctrain", "trainaccstep", "accstep", "trainepochaccuracy",
        "epochaccuracy", "accuracytrainepoch", "acctrainepoch", "trainacc1", "traintop1", "acc1",
    ),
    VAL_ACC: (
        "valacc", "valaccepoch", "valaccuracy", "validacc", "validaccuracy", "validationacc",
        "validationaccuracy", "evalacc", "evalaccuracy", "valcategoricalaccuracy",
        "valsparsecategoricalaccuracy", "valbinaryaccuracy", "accuracyval", "accval", "devacc",
        "devaccuracy", "validationepochaccuracy", "valepochaccuracy", "accuracyvalepoch", "accvalepoch",
        "accuracyvalid", "accuracyvalidation", "valacc1", "validacc1", "evalacc1", "valtop1", "evaltop1",
        "valaccuracytop1", "valacctop1", "metricsaccuracytop1",
        "testacc", "testaccuracy", "accuracytest", "acctest", "testacc1", "testtop1",
    ),
    LR: ("lr", "learningrate", "lrepoch", "lrpg0", "lradam", "lradamw", "lrsgd"),
    GRAD_NORM: (
        "gradnorm", "traingradnorm", "gradnormtotal", "totalgradnorm", "gradientnorm", "traingradientnorm",
        "gradnormepoch", "gradnormstep", "grad20normtotal",  # Lightning's grad_norm(): 'grad_2.0_norm_total'
    ),
}

# Validation top-1 accuracy with a qualifier in the name: 'test_192_acc1' (evaluated at 192 px).
_VAL_ACC1 = re.compile(r"^(val|valid|validation|eval|test)\d+(acc|accuracy)(1|top1)$")

# Lower-is-better columns read as 1 - value into an accuracy slot.
ERROR_RATE_ALIASES: dict[str, tuple[str, ...]] = {
    TRAIN_ACC: ("trainerrorrate", "trainerror"),
    VAL_ACC: (
        "valerrorrate", "validerrorrate", "validationerrorrate", "evalerrorrate", "errorrate",
        # speech and OCR: word/character error rates, lower is better
        "evalwer", "valwer", "wer", "evalcer", "valcer", "cer",
    ),
}

_FALLBACK_PREFIX = "test"

# Quality metrics used in the val_acc slot when no accuracy is logged (higher is better),
# most preferred first: mAP50-95 (Ultralytics, COCO), top-1, F1, mIoU, Dice, AUC.
QUALITY_ALIASES = (
    "metricsmap5095b", "metricsmap5095m", "valmap5095", "map5095", "bboxmap", "cocobboxmap", "segmmap",
    "bboxmap5095", "metricsmap05095",
    "bboxap", "metricsmap50b", "metricsmap05", "map50", "valmap", "map",
    "top1",
    "evalf1", "evalmacrof1", "evaloverallf1", "valf1", "valmacrof1", "f1", "macrof1",
    "valmiou", "miou", "valdice", "valdicecoef", "valauc", "evalauc",
)

# Loss components summed to a total when no total is logged (Ultralytics/YOLOv5: box + cls + dfl/obj).
_COMPONENT_PREFIX = {TRAIN_LOSS: ("train",), VAL_LOSS: ("val",)}


@dataclass(frozen=True)
class Mapping:
    """canonical name -> (source column, transform).  transform is '' (as logged),
    'error_rate' (read as 1 - value), 'quality' (a quality metric, not an accuracy),
    'error_rate_quality' (both), or 'sum' (the column is then 'a+b+c', the
    components added up)."""

    columns: dict[str, tuple[str, str]]
    notes: tuple[str, ...]
    #: every loss head of a multi-head log without a total, each (head, its columns), the one
    #: ``columns`` holds first; each is judged on its own (:func:`_choose_head`)
    heads: tuple[tuple[str, dict[str, tuple[str, str]]], ...] = ()


_DATALOADER = re.compile(r"dataloaderidx(\d+)$")


@dataclass
class _Choice:
    """What :func:`map_columns` has chosen so far: canonical name -> (column, transform), the
    notes for people, and the columns already taken (each column is read as one curve)."""

    chosen: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def take(self, canon: str, col: str, transform: str = "") -> None:
        """Read column ``col`` as curve ``canon``."""
        self.chosen[canon] = (col, transform)
        self.used.add(col)


def _index_names(names: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(normalised name -> first column of that name, base name -> the columns of the other
    validation sets): Lightning logs one column per validation set, 'val_loss/dataloader_idx_1',
    whose first set is read under the base name."""
    by_norm: dict[str, str] = {}
    extra_sets: dict[str, list[str]] = {}
    for n in names:
        key = norm(n)
        m = _DATALOADER.search(key)
        if m:  # Lightning logs one column per validation set: 'val_loss/dataloader_idx_1'
            base = key[: m.start()]
            if m.group(1) == "0" or base not in by_norm:
                by_norm.setdefault(base, n)
            else:
                extra_sets.setdefault(base, []).append(n)
        by_norm.setdefault(key, n)
    return by_norm, extra_sets


def _take_overrides(names: list[str], by_norm: dict[str, str], overrides: dict[str, str] | None, got: _Choice) -> None:
    """Pass 1: the columns the user named (``--loss`` ..., ``--metric`` for the validation quality
    metric); KeyError for a name no column has."""
    for canon, col in (overrides or {}).items():
        if col is None:
            continue
        match = col if col in names else by_norm.get(norm(col))
        if match is None:
            raise KeyError(col)
        transform = ""
        if canon == "metric":  # --metric: the validation quality metric, whatever it is
            canon = VAL_ACC
            n = norm(match)
            if n.endswith(("wer", "cer", "error", "errorrate")):
                transform = "error_rate_quality"
            elif "acc" not in n:
                transform = "quality"
            got.notes.append(f"{match!r} chosen as the validation quality metric (--metric)")
        got.take(canon, match, transform)


def _take_aliases(by_norm: dict[str, str], fastai: bool, got: _Choice) -> None:
    """Pass 2: each canonical curve not named by the user from its known names (ALIASES, in
    order), else from an error rate read as 1 - rate; fastai's unprefixed accuracy is validation."""
    aliases = {k: list(v) for k, v in ALIASES.items()}
    if fastai:
        for a in ("acc", "accuracy"):
            aliases[TRAIN_ACC].remove(a)
            aliases[VAL_ACC].append(a)
    for canon in (VAL_LOSS, TRAIN_LOSS, VAL_ACC, TRAIN_ACC, LR, GRAD_NORM):
        if canon in got.chosen:
            continue
        for alias in aliases[canon]:
            col = by_norm.get(alias)
            if col is not None and col not in got.used:
                got.take(canon, col)
                if _FALLBACK_PREFIX in alias:
                    got.notes.append(f"no validation column; {col!r} used as {canon}")
                break
        else:
            for alias in ERROR_RATE_ALIASES.get(canon, ()):
                col = by_norm.get(alias)
                if col is not None and col not in got.used:
                    quality = alias.endswith(("wer", "cer"))
                    got.take(canon, col, "error_rate_quality" if quality else "error_rate")
                    break


def _take_val_acc_pattern(names: list[str], got: _Choice) -> None:
    """Pass 3: a validation accuracy by pattern (_VAL_ACC1: 'val_top1' ...) when no alias matched."""
    if VAL_ACC in got.chosen:
        return
    col = next((n for n in names if n not in got.used and _VAL_ACC1.match(norm(n))), None)
    if col is not None:
        got.take(VAL_ACC, col)
        if norm(col).startswith(_FALLBACK_PREFIX):
            got.notes.append(f"no validation column; {col!r} used as {VAL_ACC}")


def _take_components(names: list[str], got: _Choice) -> None:
    """Pass 4: a loss logged only as components (Ultralytics' box + cls + dfl) read as their sum."""
    for canon, prefixes in _COMPONENT_PREFIX.items():
        if canon in got.chosen:
            continue
        parts = [n for n in names if n not in got.used and _is_component(n, prefixes)]
        if len(parts) >= 2:
            got.chosen[canon] = ("+".join(parts), "sum")
            got.used.update(parts)
            got.notes.append(f"{canon} is the sum of {len(parts)} loss components: {', '.join(parts)}")


def _take_quality(by_norm: dict[str, str], got: _Choice) -> None:
    """Pass 6: with no accuracy, a quality metric (F1, mAP ...) as the validation curve."""
    if VAL_ACC in got.chosen:
        return
    for alias in QUALITY_ALIASES:
        col = by_norm.get(alias)
        if col is not None and col not in got.used:
            got.take(VAL_ACC, col, "quality")
            got.notes.append(f"no accuracy logged; {col!r} used as the validation quality metric (higher is better)")
            break


def _take_fuzzy(names: list[str], got: _Choice) -> None:
    """Pass 8, the last resort for descriptive names ('train_loss_nats_per_byte',
    'validation_loss_total'): the shortest loss column with the curve's prefix."""
    for canon, prefixes in _FUZZY.items():
        if canon in got.chosen:
            continue
        cands = [
            n for n in names
            if n not in got.used and norm(n).startswith(prefixes) and "loss" in norm(n)
        ]
        if cands:
            col = min(cands, key=lambda n: len(norm(n)))
            got.take(canon, col)
            got.notes.append(f"{col!r} taken as {canon} (closest name)")


def map_columns(
    names: list[str],
    overrides: dict[str, str] | None = None,
    unprefixed_metrics_are_validation: bool = False,
) -> Mapping:
    """Choose a source column for each canonical metric.

    ``overrides`` maps canonical names to user-given column names (matched
    case-insensitively).  ``unprefixed_metrics_are_validation`` is for fastai,
    whose ``accuracy``/``error_rate`` columns are computed on the validation set.

    In passes, each taking only columns no earlier pass took: the user's names, the known
    names, a validation accuracy by pattern, summed loss components, loss heads, a quality
    metric, losses named by their function, the closest names.
    """
    by_norm, extra_sets = _index_names(names)
    got = _Choice()
    _take_overrides(names, by_norm, overrides, got)
    _take_aliases(by_norm, unprefixed_metrics_are_validation, got)
    _take_val_acc_pattern(names, got)
    _take_components(names, got)
    # Pass 5: several loss heads and no total
    head_notes, heads = _choose_head(names, got.chosen, got.used, user=bool({TRAIN_LOSS, VAL_LOSS} & set(overrides or {})))
    got.notes.extend(head_notes)
    _take_quality(by_norm, got)
    for canon, (col, _) in list(got.chosen.items()):
        others = extra_sets.get(_DATALOADER.sub("", norm(col)), [])
        if others:
            got.notes.append(f"several validation sets: {col!r} used as {canon}; not judged: {', '.join(others)}")
    if TRAIN_LOSS not in got.chosen and VAL_LOSS not in got.chosen:  # pass 7
        got.notes.extend(_loss_by_function(names, got.chosen, got.used))
    _take_fuzzy(names, got)
    chosen = got.chosen
    if heads:
        # the other heads read the log's other curves (lr, grad_norm, an accuracy not of one head) too
        shared = {k: v for k, v in chosen.items() if k not in (TRAIN_LOSS, VAL_LOSS, TRAIN_ACC, VAL_ACC)}
        heads = [(heads[0][0], dict(chosen))] + [(h, {**shared, **cols}) for h, cols in heads[1:]]
    return Mapping(chosen, tuple(got.notes), tuple(heads))


_ROLES = {
    "train": TRAIN_LOSS, "training": TRAIN_LOSS, "tr": TRAIN_LOSS,
    "val": VAL_LOSS, "valid": VAL_LOSS, "validation": VAL_LOSS, "eval": VAL_LOSS, "dev": VAL_LOSS,
    "test": "test",
}
_TOTAL_HEADS = ("total", "overall", "combined", "sum", "all")
_TOKENS = re.compile(r"[0-9a-z]+")


_ACC_TOKENS = ("acc", "accuracy")


def _head_loss(name: str) -> tuple[str, str, int] | None:
    """'reg_val_loss' -> ('reg', 'val_loss', 0): a loss of one head of a multi-head model,
    named '<head>_[train|val|test_]loss' or '[train|val|test_]<head>_loss' (a Lightning
    '_epoch' / '_step' suffix ranks 1 / 2); a head's accuracy ('cls_val_accuracy',
    'val_out1_acc') likewise, as 'train_acc' / 'val_acc'.  None when the name is no such metric."""
    toks = _TOKENS.findall(str(name).strip().lower())
    rank = 0
    if toks and toks[-1] in ("epoch", "step"):
        rank = 1 if toks[-1] == "epoch" else 2
        toks = toks[:-1]
    if len(toks) < 2 or toks[-1] not in ("loss", *_ACC_TOKENS):
        return None
    body = toks[:-1]
    roles = [t for t in body if t in _ROLES]
    head = [t for t in body if t not in _ROLES]
    if len(roles) > 1 or not head:
        return None
    role = _ROLES[roles[0]] if roles else TRAIN_LOSS
    if toks[-1] != "loss":
        role = {TRAIN_LOSS: TRAIN_ACC, VAL_LOSS: VAL_ACC}.get(role, "test_acc")
    return "_".join(head), role, rank


_Heads = dict[str, dict[str, tuple[int, str]]]


def _loss_heads(names: list[str], used: set[str]) -> _Heads:
    """head -> role -> (rank, column) of the columns not yet taken that are a loss (or an
    accuracy) of one head; heads with an accuracy alone ('categorical_accuracy') are none."""
    heads: _Heads = {}
    for n in names:
        if n in used:
            continue
        h = _head_loss(n)
        if h is None:
            continue
        head, role, rank = h
        slot = heads.setdefault(head, {})
        if role not in slot or rank < slot[role][0]:
            slot[role] = (rank, n)
    # a head is a loss head: accuracies alone ('categorical_accuracy') name no head
    return {h: slot for h, slot in heads.items() if {TRAIN_LOSS, VAL_LOSS, "test"} & set(slot)}


def _head_columns(heads: _Heads, head: str, names: list[str]) -> str:
    """The columns of one head, in file order, for people."""
    return ", ".join(c for _, c in sorted(heads[head].values(), key=lambda rc: names.index(rc[1])))


def _read_head(heads: _Heads, head: str) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """(canonical name -> (column, ''), words for people) of one head's curves; its test
    loss and accuracy stand in for validation ones."""
    slot = heads[head]
    got: dict[str, tuple[str, str]] = {}
    for canon, alt in ((TRAIN_LOSS, None), (VAL_LOSS, "test"), (TRAIN_ACC, None), (VAL_ACC, "test_acc")):
        rc = slot.get(canon) or (slot.get(alt) if alt else None)
        if rc is not None:
            got[canon] = (rc[1], "")
    return got, [f"{c!r} as {canon}" for canon, (c, _) in got.items()]


def _fill(chosen: dict[str, tuple[str, str]], used: set[str], got: dict[str, tuple[str, str]]) -> None:
    """A judged head's curves into ``chosen``: its losses always, its accuracies where none is chosen."""
    for canon, c in got.items():
        if canon in (TRAIN_LOSS, VAL_LOSS) or canon not in chosen:
            chosen[canon] = c
            used.add(c[0])


def _choose_head(
    names: list[str], chosen: dict[str, tuple[str, str]], used: set[str], user: bool = False
) -> tuple[list[str], list[tuple[str, dict[str, tuple[str, str]]]]]:
    """Several loss heads ('reg_loss', 'reg_val_loss', 'cls_loss', 'cls_val_loss') and no total:
    every head is judged on its own (the report is the head with the most severe verdict, see
    :func:`curvediag.engine.analyse`).  The first head logged with a validation loss fills
    ``chosen``; every head is returned as (head, its columns), that one first.  A total loss,
    when logged (or a head named 'total'), is what is judged; the heads beside it are then only
    named.  Returns (notes, other heads)."""
    heads = _loss_heads(names, used)
    if not heads:
        return [], []
    if TRAIN_LOSS in chosen or VAL_LOSS in chosen:
        if len(heads) < 2:
            return [], []
        total = ", ".join(repr(chosen[c][0]) for c in (TRAIN_LOSS, VAL_LOSS) if c in chosen)
        what = "the loss named with --loss/--val-loss" if user else "the total loss"
        return [f"{what} is judged ({total}); the per-head (or component) losses beside it are not: "
                + "; ".join(f"{h} ({_head_columns(heads, h, names)})" for h in heads)], []
    order = list(heads)
    total_head = next((h for h in order if h in _TOTAL_HEADS), None)
    if total_head is not None or len(heads) == 1:
        pick = total_head if total_head is not None else order[0]
        why = "the total of the heads" if total_head is not None else "the only loss logged"
        got, words = _read_head(heads, pick)
        _fill(chosen, used, got)
        note = f"loss head {pick!r} judged ({why}): {', '.join(words)}"
        others = [h for h in order if h != pick]
        if others:
            note += "; other heads not judged: " + "; ".join(f"{h} ({_head_columns(heads, h, names)})" for h in others)
        return [note], []
    first = next((h for h in order if VAL_LOSS in heads[h]), order[0])
    order = [first] + [h for h in order if h != first]
    notes: list[str] = []
    rest = []
    for h in order:
        got, words = _read_head(heads, h)
        notes.append(f"loss head {h!r}: {', '.join(words)}")
        if h == first:
            _fill(chosen, used, got)
        else:
            used.update(c for c, _ in got.values())
        rest.append((h, got))
    return notes, rest


#: loss functions a log may name its only losses by (normalised; 'val_mse', 'train_rmse', 'mean_squared_error')
LOSS_FUNCTIONS = {
    "mse": "mean squared error", "meansquarederror": "mean squared error",
    "rmse": "root mean squared error", "rootmeansquarederror": "root mean squared error",
    "mae": "mean absolute error", "meanabsoluteerror": "mean absolute error",
    "msle": "mean squared log error", "meansquaredlogarithmicerror": "mean squared log error",
    "rmsle": "root mean squared log error", "mape": "mean absolute percentage error",
    "meanabsolutepercentageerror": "mean absolute percentage error", "smape": "symmetric MAPE",
    "huber": "Huber loss", "logcosh": "log-cosh loss", "nll": "negative log-likelihood",
    "bce": "binary cross-entropy", "binarycrossentropy": "binary cross-entropy",
    "ce": "cross-entropy", "xent": "cross-entropy", "crossentropy": "cross-entropy",
    "categoricalcrossentropy": "cross-entropy", "sparsecategoricalcrossentropy": "cross-entropy",
    "l1": "L1 loss", "l2": "L2 loss",
}
# role prefixes and suffixes, longest first ('validation' before 'val'); 'test' stands in for 'val'
_FUNCTION_ROLES = (
    ("validation", VAL_LOSS), ("training", TRAIN_LOSS), ("valid", VAL_LOSS), ("train", TRAIN_LOSS),
    ("eval", VAL_LOSS), ("test", "test"), ("val", VAL_LOSS), ("dev", VAL_LOSS), ("tr", TRAIN_LOSS),
)


def _function_loss(name: str) -> tuple[str, str] | None:
    """'val_mse' -> ('mse', 'val_loss'); 'mean_squared_error' -> ('meansquarederror', 'train_loss'):
    a loss named by its function, and its role; None when the name is no such loss."""
    key = norm(name)
    if key in LOSS_FUNCTIONS:
        return key, TRAIN_LOSS
    for role, canon in _FUNCTION_ROLES:
        if key.startswith(role) and key[len(role):] in LOSS_FUNCTIONS:
            return key[len(role):], canon
        if key.endswith(role) and key[: -len(role)] in LOSS_FUNCTIONS:
            return key[: -len(role)], canon
    return None


def _loss_by_function(names: list[str], chosen: dict, used: set) -> list[str]:
    """No column named a loss: losses named by their function ('train_mse'/'val_mse',
    'mae'/'val_mae', 'val_rmse') are the loss curves.  One function is read for both curves (the
    first logged with a validation column, else the first logged), never two mixed (an MAE
    beside an MSE has another scale); a note says which."""
    funcs: dict[str, dict[str, str]] = {}
    for n in names:
        if n in used:
            continue
        f = _function_loss(n)
        if f is not None:
            funcs.setdefault(f[0], {}).setdefault(f[1], n)
    if not funcs:
        return []
    pick = next((f for f, roles in funcs.items() if VAL_LOSS in roles or "test" in roles), next(iter(funcs)))
    roles = funcs[pick]
    read = []
    for canon, alt in ((TRAIN_LOSS, None), (VAL_LOSS, "test")):
        col = roles.get(canon) or (roles.get(alt) if alt else None)
        if col is not None:
            chosen[canon] = (col, "")
            used.add(col)
            read.append(f"{col!r} as {canon}")
    others = [f for f in funcs if f != pick]
    note = f"no column named a loss; the {LOSS_FUNCTIONS[pick]} is read as the loss: {', '.join(read)}"
    if others:
        note += " (not read: " + ", ".join(c for f in others for c in funcs[f].values()) + ")"
    return [note]


_FUZZY = {
    VAL_LOSS: ("validation", "valid", "val", "eval", "dev"),
    TRAIN_LOSS: ("training", "train"),
}


def _is_component(name: str, prefixes: tuple[str, ...]) -> bool:
    """'train/box_loss', 'val/cls_loss': a prefixed, slash-separated loss component."""
    head, sep, tail = str(name).strip().partition("/")
    return bool(sep) and norm(head) in prefixes and norm(tail).endswith("loss")


def find_axis(names: list[str]) -> tuple[str | None, str | None]:
    """Return (epoch column, step column), either possibly None."""
    by_norm: dict[str, str] = {}
    for n in names:
        by_norm.setdefault(norm(n), n)
    epoch = next((by_norm[a] for a in EPOCH_AXIS if a in by_norm), None)
    step = next((by_norm[a] for a in STEP_AXIS if a in by_norm), None)
    return epoch, step
