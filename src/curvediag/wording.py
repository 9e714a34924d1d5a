"""Numbers and positions in words, as findings and headlines say them: ``pct(0.384)`` '38%',
``change(a, b)`` '70% below', ``at(12, "epoch")`` 'epoch 12', ``span``, ``amount``, ``fmt``.
A vocabulary below the rules and the summary (the rules import them through
:mod:`curvediag.rules.base` too)."""

from __future__ import annotations


def pct(x: float) -> str:
    """0.384 -> '38%' (one decimal under 10%)."""
    v = abs(x) * 100
    if v >= 1e5:  # a blow-up: 9.5e+79%, not eighty digits
        return f"{v:.2g}%"
    s = f"{v:.1f}" if v < 10 else f"{v:.0f}"
    if s == "100" and v < 100:  # a fall of 99.6% is not all of it
        s = f"{v:.1f}" if v < 99.95 else ">99.9"
    return s + "%"


def change(earlier: float, later: float) -> str:
    """Where ``later`` sits against ``earlier``, relative to the earlier value: '70% below',
    '12% above' (a fall of a positive value is never more than 100% below it).  When the two
    differ in sign, or the earlier is 0, a percentage means nothing: the difference itself
    ('0.8 below')."""
    d = later - earlier
    word = "below" if d < 0 else "above"
    if earlier != 0 and (later == 0 or (earlier > 0) == (later > 0)):
        return f"{pct(d / abs(earlier))} {word}"
    return f"{fmt(abs(d))} {word}"


def gain_of_level(gain: float) -> str:
    """An expected further fall, as a share of the current level: 'about 13% more'; at or beyond
    the whole level (a pace that cannot last: a loss does not fall below 0) 'by more than its
    whole current level (a pace that cannot last)'."""
    if not gain < 1.0:
        return "by more than its whole current level (a pace that cannot last)"
    return f"about {pct(gain)} more"


def fmt(v: float) -> str:
    """A measurement with 4 significant digits."""
    return f"{v:.4g}"


def _position(pos: float) -> str:
    return f"{pos:g}" if float(pos).is_integer() else f"{pos:.3g}"


def at(pos: float, axis: str) -> str:
    """'epoch 12' / 'step 1500' (integers shown without .0)."""
    return f"{axis} {_position(pos)}"


def span(start: float, end: float, axis: str) -> str:
    """'epochs 15-19' / 'steps 100-5000' ('epoch 19' when both ends are one position): a stretch
    of the run named in the axis' own units, never by a count of the (downsampled) points a
    rule works on."""
    a, b = _position(start), _position(end)
    return at(start, axis) if a == b else f"{axis}s {a}-{b}"


def amount(length: float, axis: str) -> str:
    """A distance along the axis: '24 epochs', '1 epoch', '2,000 steps', '2.84 epochs' (3 significant
    digits: 7.99661 epochs is '8 epochs')."""
    v = float(f"{length:.3g}")
    n = f"{int(v):,}" if v.is_integer() else f"{v:g}"
    return f"{n} {axis}{'' if v == 1 else 's'}"
