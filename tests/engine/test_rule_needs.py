"""Rules declare the curves they read (``needs``) and the points each must have (``min_points``);
the engine checks them before calling a rule and words every such skip reason one way."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.analysis import Context
from curvediag.api import load_curves
from curvediag.cli import app
from curvediag.curves import CANONICAL
from curvediag.docs import rules_markdown
from curvediag.engine import unmet_need
from curvediag.rules import RULES
from curvediag.rules.base import alternatives, describe_needs, missing_reason, points_needed, too_few_reason

from ..conftest import decay, noisy

# canonical name -> the column a Keras history would call it
KERAS = {"train_loss": "loss", "val_loss": "val_loss", "train_acc": "accuracy", "val_acc": "val_accuracy"}


def log(n: int, without: tuple[str, ...] = ()) -> dict[str, list[float]]:
    full = {
        "loss": noisy(decay(n, 2.3, 0.05, max(2, n / 6)), 0.01, 1),
        "val_loss": noisy(decay(n, 2.2, 0.3, max(2, n / 6)), 0.01, 2),
        "accuracy": list(1 - 0.9 * np.exp(-np.arange(n) / max(2, n / 6))),
        "val_accuracy": list(0.97 * (1 - 0.9 * np.exp(-np.arange(n) / max(2, n / 6)))),
    }
    return {k: v for k, v in full.items() if k not in {KERAS[w] for w in without}}


def skipped(rep):
    return {s.code: s.reason for s in rep.skipped}


DECLARING = [r for r in RULES if r.needs]


def test_needs_name_canonical_series_and_most_rules_declare_them():
    for r in RULES:
        assert isinstance(r.needs, tuple), r.code
        names = {n for need in r.needs for n in alternatives(need)}
        assert names <= set(CANONICAL) and all(alternatives(need) for need in r.needs), r.code
        if not isinstance(r.min_points, int):
            assert set(r.min_points) <= names, (r.code, "min_points names a curve it does not need")
    # only the too-short check and the non-finite check (it reads NaN, which a track drops) declare none
    assert {r.code for r in RULES if not r.needs} == {"X101", "D101"}


@pytest.mark.parametrize("rule", DECLARING, ids=lambda r: r.code)
def test_a_missing_curve_is_skipped_by_the_engine_with_one_wording(rule):
    for need in rule.needs:
        rest = log(40, without=alternatives(need))
        if not rest:
            continue  # a log with none of the four curves is unreadable, not a skip
        rep = curvediag.diagnose(rest, num_classes=10)
        assert skipped(rep).get(rule.code) == missing_reason(need), (rule.code, need, skipped(rep))
        assert rule.code not in {f.code for f in rep.findings}


@pytest.mark.parametrize("rule", DECLARING, ids=lambda r: r.code)
def test_too_few_points_are_skipped_by_the_engine_with_one_wording(rule):
    for need in rule.needs:
        name = alternatives(need)[0]  # the one the rule reads when the log has every curve
        m = points_needed(rule.min_points, name)
        if m <= 1:
            continue
        h = log(40)
        col = KERAS[name]
        h[col] = h[col][: m - 1] + [math.nan] * (40 - (m - 1))  # m - 1 finite points, the rest not logged
        ctx = Context(load_curves(h))
        assert unmet_need(rule, ctx) == too_few_reason(name, m, m - 1), (rule.code, name)
        assert skipped(curvediag.diagnose(h, num_classes=10)).get(rule.code) == too_few_reason(name, m, m - 1)
        h[col] = log(40)[col][:m] + [math.nan] * (40 - m)
        assert unmet_need(rule, Context(load_curves(h))) is None, (rule.code, name)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_what_a_rule_declares_is_enough_for_it_to_run(rule):
    # every curve, at the declared minimum (6 at least), with
    # --num-classes: no rule may skip, or fail, for want of data it did not declare
    n = max([6] + [points_needed(rule.min_points, x) for need in rule.needs for x in alternatives(need)])
    rep = curvediag.diagnose(log(n), num_classes=10)
    assert rule.code not in skipped(rep), skipped(rep)


def test_the_reason_names_the_alternative_the_rule_would_read():
    # P101 reads the validation loss, else the training loss
    p101 = next(r for r in RULES if r.code == "P101")
    assert p101.needs == (("val_loss", "train_loss"),)
    h = log(40, without=("val_loss",))
    h["loss"] = h["loss"][:9]
    h = {"loss": h["loss"]}
    assert skipped(curvediag.diagnose(h))["P101"] == "needs 10 finite train_loss points, the log has 9"
    assert missing_reason(("train_loss", "val_loss")) == (
        "no training loss or validation loss in the log (needs train_loss or val_loss)")


def test_rule_and_the_rules_doc_say_what_each_rule_needs():
    md = rules_markdown()
    runner = CliRunner()
    for r in RULES:
        text = describe_needs(r.needs, r.min_points)
        out = runner.invoke(app, ["rule", r.code]).stdout
        # `rule` prints plain text wrapped at the terminal's width (issue 15): the same words, no backticks
        assert f"Needs: {text}".replace("`", "") in " ".join(out.split()), (r.code, out)
        assert f"Needs: {text}" in md.split(f"## {r.code} ")[1].split("\n## ")[0], r.code
