"""Keyed random streams: pure functions of their keys, and statistically sound."""

import numpy as np
from scipy import stats

from swarm.rng import keyed_normal, keyed_uniform


def test_a_draw_depends_only_on_its_own_keys():
    rows = np.arange(1000)
    all_rows = keyed_uniform(7, 3, rows)
    some_rows = keyed_uniform(7, 3, rows[500:])
    np.testing.assert_array_equal(all_rows[500:], some_rows)
    assert not np.array_equal(keyed_uniform(7, 4, rows), all_rows)
    assert not np.array_equal(keyed_uniform(8, 3, rows), all_rows)


def test_uniform_and_normal_distributions():
    u = keyed_uniform(1, np.arange(200_000))
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = keyed_normal(2, np.arange(200_000))
    assert stats.kstest(z, "norm").pvalue > 1e-3


def test_broadcast_keys():
    grid = keyed_uniform(5, np.arange(4)[:, None], np.arange(3)[None, :])
    assert grid.shape == (4, 3) and len(np.unique(grid)) == 12
