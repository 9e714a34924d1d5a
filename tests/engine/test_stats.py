"""The statistics against scipy as an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from curvediag import stats

arrays = st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False), min_size=3, max_size=60).map(np.array)
# values whose ties and order survive scaling exactly (floats a hair apart can round into a tie)
normal = st.lists(st.integers(-1000, 1000), min_size=3, max_size=60).map(lambda v: np.array(v, dtype=float) / 8)



@settings(max_examples=100, deadline=None)
@given(arrays)
def test_mann_kendall_matches_kendall_tau_significance(y):
    x = np.arange(y.size)
    if np.ptp(y) == 0:
        assert stats.mann_kendall_z(y) == 0.0
        return
    res = sps.kendalltau(x, y, method="asymptotic")
    z = stats.mann_kendall_z(y)
    # same direction, and |z| within the continuity correction of scipy's z
    z_scipy = sps.norm.isf(res.pvalue / 2) * np.sign(res.statistic)
    assert z == 0 or np.sign(z) == np.sign(z_scipy)
    n = y.size
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - (counts * (counts - 1) * (2 * counts + 5)).sum()) / 18
    assert abs(abs(z) - abs(z_scipy)) <= 1 / np.sqrt(var) + 1e-6


def test_noise_sigma_recovers_white_noise_level():
    rng = np.random.default_rng(0)
    trend = np.linspace(5, 1, 400)
    est = stats.noise_sigma(trend + 0.1 * rng.standard_normal(400))
    assert est == pytest.approx(0.1, rel=0.15)


@given(normal, st.floats(1e-3, 1e3))
def test_statistics_are_scale_equivariant(y, c):
    assert stats.smooth(y * c) == pytest.approx(stats.smooth(y) * c, rel=1e-9, abs=1e-9)
    assert stats.mann_kendall_z(y * c) == stats.mann_kendall_z(y)


def test_smooth_removes_a_single_spike_and_keeps_ends():
    y = np.ones(30)
    y[10] = 50
    s = stats.smooth(y)
    assert s.max() == 1 and s[0] == y[0] and s[-1] == y[-1]


def test_downsample_keeps_mean_and_length_bound():
    x = np.arange(10_000, dtype=float)
    y = np.sin(x / 500)
    xs, ys = stats.downsample(x, y, 400)
    assert xs.size == ys.size == 400 and ys.mean() == pytest.approx(y.mean(), abs=1e-9)


def test_sen_slope_is_the_lines_slope_whatever_a_few_outliers_do():
    from curvediag.stats import sen_slope

    x = np.arange(50, dtype=float)
    y = 3.0 - 0.02 * x
    y[[5, 17, 40]] += [5.0, -4.0, 9.0]  # three wild points: a least-squares slope would move
    assert sen_slope(x, y) == pytest.approx(-0.02)
    assert np.isnan(sen_slope(np.ones(4), np.arange(4.0)))  # no two x apart: no slope
    big = np.arange(5000, dtype=float)
    assert sen_slope(big, 2.0 * big + 1) == pytest.approx(2.0)  # thinned to 200 points, still exact
