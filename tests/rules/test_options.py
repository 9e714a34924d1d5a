"""Typed rule options (issue 21, item 6) and the curves a rule may declare.

Each rule's options are one dataclass (``Rule.Options``): default, kind (range) and one-line
definition of every threshold.  Docs, ``curvediag rule``, the configuration check and the README
rule table come from it; and every canonical curve a rule may declare in ``needs`` is tracked."""

from __future__ import annotations

import dataclasses
import pathlib

import pytest

import curvediag
from curvediag import engine
from curvediag.curves import CANONICAL
from curvediag.errors import UsageError
from curvediag.rules import ALL_RULES, OPTION_GROUPS, RULES, Rule
from curvediag.rules.options import COUNT, RuleOptions, check_option

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_every_option_is_declared_with_a_default_a_kind_and_a_definition():
    for r in ALL_RULES:
        assert issubclass(r.Options, RuleOptions) and dataclasses.is_dataclass(r.Options), r.code
        assert r.options == r.Options.defaults(), r.code
        for s in r.Options.specs():
            assert s.doc and "\n" not in s.doc, (r.code, s.name)
            assert s.kind.lo <= s.default <= s.kind.hi, (r.code, s.name)
            assert isinstance(s.default, int) == (s.kind is COUNT), (r.code, s.name)
            check_option(s.default, s, "default")  # every default passes its own check
        assert r.Options() == r.Options.of({}), r.code
    for g in OPTION_GROUPS.values():
        for r in RULES:
            if g in r.groups:
                assert issubclass(r.Options, g.Options), (r.code, g.name)


def test_the_range_comes_from_the_declaration():
    from curvediag.rules.loss_plateau import Plateau
    from curvediag.rules.loss_spikes import LossSpikes

    with pytest.raises(UsageError, match="between 0 and 1"):
        check_option(1.5, Plateau.Options.spec("window"), "window")
    with pytest.raises(UsageError, match="between 1 and"):
        check_option(0.5, LossSpikes.Options.spec("spike_factor"), "spike_factor")


def test_rules_read_typed_options():
    from curvediag.rules.loss_plateau import Plateau

    opts = Plateau.Options.of({"window": 0.3})
    assert opts.window == 0.3 and opts.limit == Plateau.options["limit"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.window = 0.5  # type: ignore[misc]


def test_readme_rule_table_is_generated_from_the_declarations():
    from curvediag.docs import readme_rule_table

    assert readme_rule_table() in (REPO / "README.md").read_text(), "regenerate README's rule table: python -m curvediag.docs --readme"


@pytest.mark.parametrize("curve", CANONICAL)
def test_a_rule_declaring_any_canonical_curve_runs_when_the_log_has_it(curve, monkeypatch):
    class Declares(Rule):
        """Test rule."""

        code = "Z8" + str(CANONICAL.index(curve))
        name = "declares-" + curve.replace("_", "-")
        needs = (curve,)
        min_points = 3

        def check(self, ctx, opts):
            t = ctx.need(curve)
            return self.finding(f"{curve} has {t.n} points", {"n": t.n})

    rules, options_of = engine.RULES + (Declares,), engine.rule_options
    monkeypatch.setattr(engine, "RULES", rules)
    monkeypatch.setattr(engine, "rule_options", lambda overrides=None: options_of(overrides, rules))
    n = 12
    log = {
        "epoch": list(range(n)),
        "loss": [2.0 / (i + 1) for i in range(n)],
        "val_loss": [2.1 / (i + 1) for i in range(n)],
        "accuracy": [0.5 + 0.03 * i for i in range(n)],
        "val_accuracy": [0.5 + 0.025 * i for i in range(n)],
        "lr": [1e-3 * 0.9 ** i for i in range(n)],
        "grad_norm": [1.0 + 0.1 * i for i in range(n)],
    }
    from curvediag.api import load_curves

    assert curve in load_curves(log).series, curve
    report = curvediag.diagnose(log)
    assert any(f.code == Declares.code for f in report.findings), [(s.code, s.reason) for s in report.skipped]
