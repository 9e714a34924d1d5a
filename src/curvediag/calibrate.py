"""``curvediag calibrate``: thresholds just above what a team's good runs show.

Fixed thresholds fail across model sizes and datasets.  :func:`calibrate` reads runs a team
considers good, measures on each what the rules judge (the val-loss rise above its minimum, how
long the validation loss stalls while the training loss falls, the largest spike z and ratio, the
patience early stopping needs to keep the best), and sets each limit ``margin`` above the largest
value measured (never below a floor that would make a rule fire on ordinary noise).  :func:`to_toml`
writes the result as a ``[tool.curvediag.rules.*]`` configuration with a report of the measurements
as comments; ``analyze --config FILE`` (or the same tables in ``pyproject.toml``) then uses it.

A limit none of the runs measured (no run stalled, none logged per step) keeps its default and the
report says so.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable
from ._np import np
from .analysis import Context
from .api import load_curves
from .curves import TRAIN_LOSS, VAL_LOSS
from .engine import rule_options
from .rules import OPTION_GROUPS, get_rule
from .rules.early_stopping_advice import patience_to_keep
from .rules.loss_spikes import LossSpikes
from .rules.steps import spike_flags
from .rules.val_loss_rising import Overfitting

#: (option group or rule code, option, what it measures, floor, ceiling, whole number)
LIMITS: tuple[tuple[str, str, str, float, float, bool], ...] = (
    ("rise", "rise_limit", "val_loss rise above its smoothed minimum (relative)", 0.01, math.inf, False),
    ("O102", "plateau_share", "share of the run val_loss stalled near its minimum while train_loss fell", 0.1, 0.99,
     False),
    ("I101", "spike_factor", "largest loss / median of the points before it, on the judged cadence", 1.5, math.inf,
     False),
    ("R101", "z_limit", "largest spike z of the per-step log loss", 3.0, math.inf, False),
    ("E101", "patience", "evaluations without a new best before the best (patience that keeps it)", 1, 10_000, True),
)


@dataclass
class Calibration:
    runs: list[str]
    margin: float
    #: (group or code, option) -> (largest value measured, the run it came from)
    measured: dict[tuple[str, str], tuple[float, str]] = field(default_factory=dict)
    #: (group or code, option) -> the limit set
    limits: dict[tuple[str, str], float] = field(default_factory=dict)

    def options(self) -> dict[str, dict[str, Any]]:
        """As ``diagnose(options=...)`` / ``[tool.curvediag.rules]`` take them."""
        out: dict[str, dict[str, Any]] = {}
        for (key, opt), v in self.limits.items():
            out.setdefault(key, {})[opt] = v
        return out


def _measures(curves) -> dict[tuple[str, str], float]:
    """What the calibrated rules measure on one run (only the measurements it has)."""

    ctx = Context(curves)
    opts = rule_options()
    out: dict[tuple[str, str], float] = {}
    r = ctx.val_rise
    if r is not None and r.points_after >= 2 and r.relative > 0:
        out[("rise", "rise_limit")] = float(r.relative)
    f = Overfitting().plateau(ctx, Overfitting.Options.of(dict(opts["O102"], plateau_share=0.0)))
    if f is not None:
        out[("O102", "plateau_share")] = float(f.evidence["plateau_share"])
    t = ctx.main_loss
    if t is not None and t.n >= 8 and float(np.min(t.y)) > 0:
        f = LossSpikes().spikes(ctx, LossSpikes.Options(spike_factor=1.0))
        if f is not None:
            out[("I101", "spike_factor")] = float(f.evidence["worst_ratio"])
    s = curves.get(TRAIN_LOSS)
    if s is not None:
        fin = s.finite()
        if fin.y.size >= 30 and float(np.min(fin.y)) > 0:
            flags, z, _, _ = spike_flags(np.log(fin.y), 20, 0.0, math.log1p(0.25))
            zs = z[flags & np.isfinite(z)]
            if zs.size:  # no jump of 25% at all: nothing measured, the default stands
                out[("R101", "z_limit")] = float(np.max(zs))
    v = curves.get(VAL_LOSS)
    if v is not None and len(v.finite()) >= 3:
        y = v.finite().y
        out[("E101", "patience")] = float(patience_to_keep(y, int(np.argmin(y))))
    return out


def calibrate(paths: Iterable[str], margin: float = 1.1, read: Callable[[str], Any] | None = None) -> Calibration:
    """Measure every run in ``paths`` (logs read as ``analyze`` reads them; ``read`` overrides how)
    and set each limit ``margin`` times above the largest measurement."""
    if read is None:
        read = load_curves
    runs = list(paths)
    cal = Calibration(runs, margin)
    for p in runs:
        for which, value in _measures(read(p)).items():
            if which not in cal.measured or value > cal.measured[which][0]:
                cal.measured[which] = (value, p)
    for key, opt, _, floor, ceiling, whole in LIMITS:
        got = cal.measured.get((key, opt))
        if got is None:
            continue
        v = got[0]
        if whole:
            limit: float = float(min(ceiling, max(floor, math.ceil(v) + 1)))
        elif opt == "spike_factor":
            limit = min(ceiling, max(floor, 1 + (v - 1) * margin))
        else:
            limit = min(ceiling, max(floor, v * margin))
        cal.limits[(key, opt)] = int(limit) if whole else float(f"{limit:.4g}")
    return cal


def to_toml(cal: Calibration) -> str:
    """The ``[tool.curvediag.rules.*]`` tables, with the measurements as comments."""
    lines = [f"# curvediag calibrate: limits {cal.margin:g}x above what {len(cal.runs)} good "
             f"run{'s' * (len(cal.runs) != 1)} show",
             "# use: curvediag analyze --config THIS_FILE ... (or copy the tables into pyproject.toml)", "#"]
    for key, opt, what, *_ in LIMITS:
        got = cal.measured.get((key, opt))
        default = OPTION_GROUPS[key].defaults[opt] if key in OPTION_GROUPS else get_rule(key).options[opt]  # type: ignore[union-attr]
        if got is None:
            lines.append(f"# {key}.{opt}: no run measured it ({what}); default {default:g} kept")
        else:
            lines.append(f"# {key}.{opt}: {what}: largest {got[0]:.4g} ({os.path.basename(got[1])}); "
                         f"limit {cal.limits[(key, opt)]:g} (default {default:g})")
    lines.append("")
    for key, opts in cal.options().items():
        lines.append(f"[tool.curvediag.rules.{key}]")
        for opt, v in opts.items():
            lines.append(f"{opt} = {v:g}" if isinstance(v, float) else f"{opt} = {v}")
        lines.append("")
    return "\n".join(lines)
