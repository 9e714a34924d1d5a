"""One val-loss rise, one set of limits: O101, O102 and O103 judge the same rise by the same
``rise_limit`` / ``noise_z`` / ``min_points_after`` (the ``rise`` option group), however it is set."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import curvediag
from curvediag.cli import app
from curvediag.config import resolve
from curvediag.engine import rule_options
from curvediag.errors import UsageError
from curvediag.rules import OPTION_GROUPS, RULES, members

from ..conftest import decay

N = 40
T = np.arange(N)
TRAIN = decay(N, 2.3, 0.05, 6)
ACC_UP = 1 - 0.9 * np.exp(-T / 5)
ACC_PEAK = np.minimum(1 - 0.9 * np.exp(-T / 4), 0.9) - 0.006 * np.maximum(0, T - 14)


def val(slope: float) -> np.ndarray:
    """Minimum near epoch 12, then up by ``slope`` per epoch."""
    return 0.3 + 2.0 * np.exp(-T / 4) + slope * np.maximum(0, T - 12)


def logs(slope: float) -> dict[str, dict]:
    # O101 fires on the first (val_acc falls), O103 on the second (val_acc still rises); O102 on both
    return {
        "cramming": {"loss": TRAIN, "val_loss": val(slope), "accuracy": ACC_UP, "val_accuracy": ACC_PEAK},
        "over-confident": {"loss": TRAIN, "val_loss": val(slope), "accuracy": ACC_UP, "val_accuracy": ACC_UP * 0.95},
    }


RISE_RULES = {"O101", "O102", "O103"}
# every way to name the one setting: the group, and each member's code and name
KEYS = ["rise"] + [k for r in RULES if r.code in RISE_RULES for k in (r.code, r.name)]


def fired(h, options=None) -> set[str]:
    # O102's quieter form (a plateau) is its own option, switched off to see the rise alone
    opts = {"O102": {"train_drop": 10.0}, **(options or {})}
    if "O102" in (options or {}):
        opts["O102"] = {"train_drop": 10.0, **options["O102"]}
    rep = curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, options=opts)
    return {f.code for f in rep.findings} & RISE_RULES


def test_the_group_is_the_rise_rules():
    assert set(OPTION_GROUPS) == {"rise"}
    assert {r.code for r in members(OPTION_GROUPS["rise"])} == RISE_RULES


@pytest.mark.parametrize("key", KEYS)
def test_raising_the_limit_anywhere_turns_all_three_off_together(key):
    for name, h in logs(0.012).items():
        on = fired(h)
        assert on == ({"O101", "O102"} if name == "cramming" else {"O102", "O103"}), (name, on)
        rise = curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}).findings[0].evidence["rise"]
        assert fired(h, {key: {"rise_limit": rise * 1.1}}) == set(), (name, key)
        assert fired(h, {key: {"rise_limit": rise * 0.9}}) == on, (name, key)
        assert fired(h, {key: {"min_points_after": 40}}) == set(), (name, key)


@pytest.mark.parametrize("key", KEYS)
def test_lowering_the_limit_anywhere_turns_all_three_on_together(key):
    for name, h in logs(0.002).items():  # a rise of about 7%: under the default 10%
        assert fired(h) == set(), name
        assert fired(h, {key: {"rise_limit": 0.03}}) == ({"O101", "O102"} if name == "cramming" else {"O102", "O103"}), (name, key)


def test_every_member_sees_the_one_value():
    for key in KEYS:
        opts = rule_options({key: {"rise_limit": 0.3, "noise_z": 4.0}})
        assert all(opts[c]["rise_limit"] == 0.3 and opts[c]["noise_z"] == 4.0 for c in RISE_RULES), key
        assert opts["L102"]["rise_limit"] == 0.2  # L102's own, different bound: not the rise's
    assert rule_options({"L102": {"rise_limit": 0.5}})["O102"]["rise_limit"] == 0.1
    # the same value twice is one setting; two values are refused, naming both
    assert rule_options({"O102": {"rise_limit": 0.2}, "rise": {"rise_limit": 0.2}})["O103"]["rise_limit"] == 0.2
    with pytest.raises(UsageError, match="set it once") as e:
        rule_options({"O102": {"rise_limit": 0.2}, "over-confidence": {"rise_limit": 0.3}})
    assert "0.2 (O102)" in str(e.value) and "0.3 (over-confidence)" in str(e.value)
    with pytest.raises(UsageError, match="no option 'acc_drop'"):
        rule_options({"rise": {"acc_drop": 0.1}})
    with pytest.raises(UsageError, match="between 0 and"):
        rule_options({"rise": {"rise_limit": -1}})


def test_the_configuration_file_sets_the_group_and_refuses_two_values(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.curvediag.rules.rise]\nrise_limit = 1000.0\n")
    s = resolve(cwd=tmp_path, environ={})
    assert s.rules == {"rise": {"rise_limit": 1000.0}}
    h = logs(0.012)["over-confident"]
    found = {f.code for f in curvediag.diagnose({k: list(map(float, v)) for k, v in h.items()}, settings=s).findings}
    assert not found & {"O102", "O103"} and found  # (E101, G102 still speak: not the rise's rules)
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["config"]).stdout
    assert "rules.rise = rise_limit=1000.0" in out
    (tmp_path / "pyproject.toml").write_text(
        "[tool.curvediag.rules.O101]\nrise_limit = 0.2\n[tool.curvediag.rules.O102]\nrise_limit = 0.3\n")
    with pytest.raises(UsageError, match="set it once"):
        resolve(cwd=tmp_path, environ={})
    r = CliRunner().invoke(app, ["analyze", "x.csv"])
    assert r.exit_code == 2 and "set it once" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    (tmp_path / "pyproject.toml").write_text("[tool.curvediag.rules.rise]\nplateau_tol = 0.1\n")
    with pytest.raises(UsageError, match="unknown option 'plateau_tol'"):
        resolve(cwd=tmp_path, environ={})
