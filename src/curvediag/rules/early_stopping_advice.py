from __future__ import annotations

from dataclasses import dataclass

from .._np import np

from .. import stats
from ..analysis import Context
from ..curves import LR, VAL_LOSS
from ..remedies import facts_of, remedy
from ..report import Finding
from .base import Rule, amount, at, fmt
from .options import RuleOptions, count
from .steps import plateau_drops, ultralytics_patience


def replay(y: np.ndarray, patience: int) -> tuple[int | None, int]:
    """Keras' EarlyStopping(monitor="val_loss") on ``y``: (index it stops at, or None when it
    runs to the end; index of the best value it had seen when it stopped)."""
    best, best_i, wait = np.inf, 0, 0
    for i, val in enumerate(y):
        if val < best:  # NaN compares False: no improvement, as in Keras
            best, best_i, wait = val, i, 0
            continue
        wait += 1
        if wait >= patience and i < len(y) - 1:
            return i, best_i
    return None, best_i


def patience_to_keep(y: np.ndarray, i_best: int, min_delta: float = 0.0) -> int:
    """The smallest patience with which EarlyStopping reaches index ``i_best``: one more than
    the longest run of evaluations without a new minimum (by more than ``min_delta``) before it."""
    best, wait, longest = np.inf, 0, 0
    for val in y[: i_best + 1]:
        if val < best - min_delta:
            best, wait = val, 0
        else:
            wait += 1
            longest = max(longest, wait)
    return longest + 1


#: Each framework's early stopping by default, verified in the frameworks' source (Keras 3
#: ``EarlyStopping(patience=0, min_delta=0)``, Lightning ``EarlyStopping(patience=3, min_delta=0.0)``,
#: transformers ``EarlyStoppingCallback(early_stopping_patience=1, early_stopping_threshold=0.0)``,
#: Ultralytics ``cfg/default.yaml`` ``patience: 100``): (what the message calls it, patience).  All
#: count evaluations without an improvement and stop when that count reaches the patience, as
#: :func:`replay` does.
FRAMEWORK_DEFAULT_PATIENCE: dict[str, tuple[str, int]] = {
    "keras": ("Keras EarlyStopping", 0),
    "lightning": ("Lightning EarlyStopping", 3),
    "hf": ("EarlyStoppingCallback", 1),
    "ultralytics": ("Ultralytics", 100),
}


@dataclass(frozen=True)
class EarlyStoppingAdviceOptions(RuleOptions):
    """The options of E101 (``[tool.curvediag.rules.E101]``)."""

    patience: int = count(5, "evaluations without a new best, where the log does not say its own patience")


class EarlyStoppingAdvice(Rule):
    """Early stopping would have stopped this run; the final weights are past the best.

    **What it detects.** Keras' ``EarlyStopping(monitor="val_loss",
    patience=patience)`` replayed on the log. When it would have stopped before the
    run ended, *and* the best validation loss it had seen by then is the run's best,
    the epochs after it were wasted and the best checkpoint is the one to keep. When
    that patience would have stopped *before* the run's best epoch, the advice is
    the patience that would have reached it instead. When the final epoch is the
    best, there is nothing to restore and nothing is said.

    The patience replayed is the run's own where the log says it (``trainer_state.json``'s
    ``EarlyStoppingCallback`` state, Ultralytics' ``args.yaml`` beside ``results.csv``),
    else ``patience``; the callback is named in the log's framework. Where the log does not say
    its patience but its framework is known, the framework's default is replayed too and the
    message says where it would have stopped "with <framework>'s default patience=N" (Keras
    ``EarlyStopping`` 0, Lightning ``EarlyStopping`` 3, Hugging Face ``EarlyStoppingCallback`` 1,
    Ultralytics 100; each with ``min_delta`` 0). The audit adds:

    * whether the best evaluation is **within noise** of several others (within twice the
      validation loss's point-to-point noise: which of them is "best" is luck, as with a
      tiny validation set) or a **one-evaluation dip** far below its neighbours (an early
      spike that early stopping keeps);
    * where the learning rate is logged and stepped down (``ReduceLROnPlateau``): how many
      evaluations it waited before each drop, and whether early stopping would have ended
      the run before the first drop (a patience not above the plateau's: the LR never
      drops);
    * **a patience that fits this run's noise**: the one that reaches the best when only
      improvements larger than the noise count (``min_delta`` = that noise).

    **Why it matters.** The epochs after the best were spent without improving the
    validation loss; the final weights are that many epochs past the best ones.
    Early stopping with too small a patience would have thrown the best ones away.
    """

    code = "E101"
    name = "early-stopping-advice"
    Options = EarlyStoppingAdviceOptions
    needs = (VAL_LOSS,)
    min_points = 3
    remedies = (remedy("restore-best"), remedy("early-stopping"))

    def check(self, ctx: Context, opts: EarlyStoppingAdviceOptions) -> Finding | None:
        fin = ctx.curves.series[VAL_LOSS].finite()  # as logged, not smoothed
        y, x = fin.y, fin.x
        p, source = self._patience(ctx, int(opts.patience))
        i_final = int(np.argmin(y))  # the run's best (NaN-free: finite points only)
        if i_final == len(y) - 1:
            return None  # the last evaluation is the best: nothing to restore
        i_stop, i_seen = replay(y, p)
        if i_stop is None:
            return None
        axis = ctx.axis_word
        wasted = float(x[-1] - x[i_final])
        evidence = {"stop_at": float(x[i_stop]), "best_at_stop": float(x[i_seen]), "best": float(x[i_final]),
                    "past_best": wasted, "patience": p, "patience_from": source}
        call = self._callback(ctx, p)
        audit = self._default_replay(ctx, y, x, source, evidence) + self._audit(ctx, y, x, i_final, i_stop, p, evidence)
        if i_seen == i_final:
            return self.finding(
                f"{call} would have stopped at {at(float(x[i_stop]), axis)}, keeping the best "
                f"val_loss ({fmt(float(y[i_final]))} at {at(float(x[i_final]), axis)}); the final weights are "
                f"{amount(wasted, axis)} past it: restore that checkpoint" + audit,
                evidence,
                span=(float(x[i_stop]), float(x[-1])),
                remedies=(remedy("restore-best"), remedy("early-stopping", patience=p)),
            )
        need = patience_to_keep(y, i_final)
        evidence["patience_to_keep_best"] = need
        return self.finding(
            f"{call} would have stopped at {at(float(x[i_stop]), axis)}, before the best "
            f"val_loss ({fmt(float(y[i_final]))} at {at(float(x[i_final]), axis)}, {fmt(float(y[i_seen]))} seen "
            f"by then); a patience of at least {need} reaches it; the final weights are {amount(wasted, axis)} past "
            f"the best: restore that checkpoint" + audit,
            evidence,
            span=(float(x[i_final]), float(x[-1])),
            remedies=(remedy("early-stopping", patience=need), remedy("restore-best")),
        )

    @staticmethod
    def _patience(ctx: Context, default: int) -> tuple[int, str]:
        """The run's own early-stopping patience where the log says it, else the option's."""
        facts = ctx.curves.source.facts or {}
        es = facts.get("early_stopping_patience")
        if isinstance(es, int) and es >= 1:
            return es, "trainer_state"
        if ctx.curves.source.format == "ultralytics_csv":
            up = ultralytics_patience(ctx.curves.source.path)
            if up is not None and up >= 1:
                return up, "args.yaml"
        return default, "option"

    @staticmethod
    def _default_replay(ctx: Context, y: np.ndarray, x: np.ndarray, source: str, ev: dict) -> str:
        """Where the framework's default early stopping would have stopped, when the log does not say
        its own patience (the clause, and its evidence)."""
        fw = facts_of(ctx).get("framework")
        if source != "option" or fw not in FRAMEWORK_DEFAULT_PATIENCE:
            return ""
        who, d = FRAMEWORK_DEFAULT_PATIENCE[fw]
        who += "'" if who.endswith("s") else "'s"
        stop, seen = replay(y, d)
        axis = ctx.axis_word
        ev["framework_default_patience"] = d
        ev["framework_default_stop_at"] = float(x[stop]) if stop is not None else None
        if stop is None:
            return f"; with {who} default patience={d} it would not have stopped"
        kept = "the best" if seen == int(np.argmin(y)) else f"{fmt(float(y[seen]))} at {at(float(x[seen]), axis)}, not the best"
        return f"; with {who} default patience={d} it would have stopped at {at(float(x[stop]), axis)}, keeping {kept}"

    @staticmethod
    def _callback(ctx: Context, p: int) -> str:
        fw = facts_of(ctx).get("framework")
        if fw == "hf":
            return f"EarlyStoppingCallback(early_stopping_patience={p})"
        if fw == "ultralytics":
            return f"Ultralytics' patience={p}"
        return f"EarlyStopping(patience={p})"

    @staticmethod
    def _audit(ctx: Context, y: np.ndarray, x: np.ndarray, i_best: int, i_stop: int, p: int, ev: dict) -> str:
        """The clauses the audit adds to the message (and its evidence)."""
        axis = ctx.axis_word
        out = []
        sigma = stats.noise_sigma(y)
        if np.isfinite(sigma) and sigma > 0:
            best = float(y[i_best])
            near = [i for i in range(len(y)) if i != i_best and y[i] <= best + 2 * sigma]
            ev["noise"] = float(sigma)
            ev["near_best"] = len(near)
            if len(near) >= 3:
                where = ", ".join(at(float(x[i]), axis) for i in near[:5]) + (" ..." if len(near) > 5 else "")
                out.append(f"the best is within noise (2 x {fmt(sigma)}) of {len(near)} other evaluations "
                           f"({where}): which of them is best is luck")
            elif 0 < i_best < len(y) - 1 and not near:
                nb = min(float(y[i_best - 1]), float(y[i_best + 1]))
                if nb - best > 3 * sigma:
                    ev["best_isolated_dip"] = True
                    out.append(f"the best is a one-evaluation dip ({fmt(best)} against {fmt(nb)} either side, "
                               f"{(nb - best) / sigma:.3g} times the noise): an early spike early stopping would keep")
            near_best = [i for i in range(len(y)) if y[i] <= best + sigma]
            first_near = min(near_best) if near_best else i_best
            fit = patience_to_keep(y, first_near, min_delta=float(sigma)) + 1
            ev["noise_patience"] = fit
            ev["noise_min_delta"] = float(sigma)
            out.append(f"a patience of {fit} with min_delta={fmt(sigma)} (the noise of val_loss) fits this run")
        lr = ctx.curves.get(LR)
        if lr is not None:
            fin = lr.finite()
            drops = plateau_drops(fin.y, 0.7)
            if drops:
                waits = []
                for k in drops:
                    xd = float(fin.x[k])
                    seen = y[x < xd]
                    if seen.size:
                        waits.append(int(seen.size - 1 - int(np.argmin(seen))))
                first = float(fin.x[drops[0]])
                ev["lr_drops"] = len(drops)
                if waits:
                    q = int(np.median(waits))
                    ev["lr_plateau_patience"] = q
                    if float(x[i_stop]) < first:
                        ev["stops_before_lr_drop"] = True
                        out.append(f"it would have stopped before the learning rate's first drop at "
                                   f"{at(first, axis)} (ReduceLROnPlateau waited about {q} evaluations): with a "
                                   f"patience not above {q}, the LR never drops; give early stopping at least {q + 2}")
        return "".join("; " + c for c in out)
