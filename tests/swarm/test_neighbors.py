"""The cell-grid neighbour search equals an all-pairs computation, in every configuration."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarm.neighbors import (
    NeighborTable,
    _dense_pays,
    brute_force_neighbors,
    k_smallest_per_row,
    radius_neighbors,
    segment_sum,
)


def random_state(seed, n, world, n_envs=1, dead_fraction=0.0):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, world, size=(n, 2))
    vel = rng.normal(size=(n, 2))
    vel[rng.random(n) < 0.1] = 0.0  # some at rest: no heading
    alive = rng.random(n) >= dead_fraction
    env = rng.integers(0, n_envs, size=n)
    return pos, vel, alive, env


def as_pairs(table: NeighborTable) -> set[tuple[int, int]]:
    return set(zip(table.owner.tolist(), table.idx.tolist(), strict=True))


@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 150),
    world=st.floats(1.0, 30.0),
    radius=st.floats(0.05, 12.0),
    torus=st.booleans(),
    fov=st.sampled_from([360.0, 270.0, 90.0, 10.0]),
    n_envs=st.integers(1, 3),
    dead=st.sampled_from([0.0, 0.3]),
)
def test_cell_grid_equals_brute_force(seed, n, world, radius, torus, fov, n_envs, dead):
    pos, vel, alive, env = random_state(seed, n, world, n_envs, dead)
    if torus:
        pos %= world
    table = radius_neighbors(pos, vel, alive, env, n_envs, world, torus, radius, fov)
    assert as_pairs(table) == brute_force_neighbors(pos, vel, alive, env, world, torus, radius, fov)


def check_pairwise_path(seed, per_env, n_envs, world, radius, torus, fov, dead):
    """Rows in env blocks take the pairwise path: the same entries as brute force, and the
    same geometry as the cell grid (which the same rows shuffled out of blocks take)."""
    n = per_env * n_envs
    pos, vel, alive, _ = random_state(seed, n, world, 1, dead)
    env = np.repeat(np.arange(n_envs), per_env)
    if torus:
        pos %= world
    table = radius_neighbors(pos, vel, alive, env, n_envs, world, torus, radius, fov)
    assert as_pairs(table) == brute_force_neighbors(pos, vel, alive, env, world, torus, radius, fov)
    shuffled = np.random.default_rng(seed).permutation(n)  # rows not in env blocks: cell grid
    grid = radius_neighbors(pos[shuffled], vel[shuffled], alive[shuffled], env[shuffled],
                            n_envs, world, torus, radius, fov)  # fmt: skip
    back = {(int(shuffled[a]), int(shuffled[b])): k for k, (a, b) in
            enumerate(zip(grid.owner, grid.idx, strict=True))}  # fmt: skip
    for k, pair in enumerate(zip(table.owner.tolist(), table.idx.tolist(), strict=True)):
        np.testing.assert_allclose(table.rel_pos[k], grid.rel_pos[back[pair]], atol=1e-9)
        assert table.dist[k] == pytest.approx(grid.dist[back[pair]], abs=1e-9)


@given(
    seed=st.integers(0, 10_000),
    per_env=st.integers(1, 8),
    n_envs=st.integers(1, 40),
    world=st.floats(1.0, 30.0),
    radius=st.floats(0.05, 12.0),
    torus=st.booleans(),
    fov=st.sampled_from([360.0, 90.0]),
    dead=st.sampled_from([0.0, 0.3]),
)
def test_small_envs_searched_pairwise_equal_brute_force_and_the_cell_grid(
    seed, per_env, n_envs, world, radius, torus, fov, dead
):
    """Many envs of <= 8 agents: the batched-training layout."""
    check_pairwise_path(seed, per_env, n_envs, world, radius, torus, fov, dead)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    per_env=st.integers(9, 64),
    n_envs=st.integers(1, 4),
    world=st.floats(1.0, 30.0),
    radius=st.floats(0.05, 12.0),
    torus=st.booleans(),
    fov=st.sampled_from([360.0, 90.0]),
    dead=st.sampled_from([0.0, 0.3]),
)
def test_envs_of_up_to_64_searched_pairwise(seed, per_env, n_envs, world, radius, torus, fov,
                                            dead):  # fmt: skip
    """Envs of 9 to 64 agents (the PettingZoo env, batched envs of tens): pairwise too."""
    assert _dense_pays(per_env)
    check_pairwise_path(seed, per_env, n_envs, world, radius, torus, fov, dead)


def test_an_env_lists_its_neighbours_alike_alone_or_batched():
    """The search path depends on the env's size only, so an env's table (and the inbox
    order built from it) is the same whether it runs alone or beside others."""
    rng = np.random.default_rng(0)
    n, world = 30, 6.0
    pos = rng.uniform(0, world, (3 * n, 2))
    vel = rng.normal(size=(3 * n, 2))
    alive = np.ones(3 * n, bool)
    batched = radius_neighbors(pos, vel, alive, np.repeat(np.arange(3), n), 3, world, False, 2.0)
    alone = radius_neighbors(pos[:n], vel[:n], alive[:n], np.zeros(n, np.int64), 1, world,
                             False, 2.0, capacity_hint=1)  # fmt: skip
    for i in range(n):
        assert batched.idx[batched.row_slice(i)].tolist() == alone.idx[alone.row_slice(i)].tolist()


def test_entries_carry_exact_geometry_with_torus_wrap():
    pos = np.array([[0.2, 5.0], [9.9, 5.0], [5.0, 5.0]])
    vel = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    table = radius_neighbors(pos, vel, np.ones(3, bool), np.zeros(3, np.int64), 1, 10.0, True, 1.0)
    s = table.row_slice(0)
    assert table.idx[s].tolist() == [1]
    np.testing.assert_allclose(table.rel_pos[s], [[-0.3, 0.0]], atol=1e-12)
    np.testing.assert_allclose(table.rel_vel[s], [[-1.0, 2.0]])
    np.testing.assert_allclose(table.dist[s], [0.3], atol=1e-12)
    assert table.counts.tolist() == [1, 1, 0]


def test_box_does_not_wrap():
    pos = np.array([[0.2, 5.0], [9.9, 5.0]])
    table = radius_neighbors(
        pos, np.zeros((2, 2)), np.ones(2, bool), np.zeros(2, np.int64), 1, 10.0, False, 1.0
    )
    assert table.n_edges == 0


def test_envs_never_meet_even_at_the_same_place():
    pos = np.array([[1.0, 1.0], [1.0, 1.0], [1.1, 1.0]])
    env = np.array([0, 1, 0])
    table = radius_neighbors(pos, np.zeros((3, 2)), np.ones(3, bool), env, 2, 5.0, True, 1.0)
    assert as_pairs(table) == {(0, 2), (2, 0)}


def test_a_small_capacity_hint_still_gives_every_entry():
    pos, vel, alive, env = random_state(3, 400, 10.0)
    full = radius_neighbors(pos, vel, alive, env, 1, 10.0, True, 1.5)
    tiny = radius_neighbors(pos, vel, alive, env, 1, 10.0, True, 1.5, capacity_hint=1)
    assert as_pairs(full) == as_pairs(tiny)


def test_segment_sum_matches_a_per_row_loop():
    pos, vel, alive, env = random_state(1, 200, 8.0, dead_fraction=0.2)
    table = radius_neighbors(pos, vel, alive, env, 1, 8.0, True, 1.2)
    got = table.segment_sum(table.rel_pos)
    for row in range(200):
        expected = table.rel_pos[table.row_slice(row)].sum(axis=0)
        np.testing.assert_allclose(got[row], expected, atol=1e-12)
    ordered = table.to_row_order()
    assert np.all(np.diff(table.owner[ordered]) >= 0)


@pytest.mark.parametrize("n_envs", [1, 3])
def test_owners_of_some_entries_are_their_observers(n_envs):
    """Dead rows (empty segments in the middle and at the end) and a table whose ``ptr``
    does not start at 0 (``one_row``)."""
    pos, vel, alive, env = random_state(2, 300, 12.0, n_envs=n_envs, dead_fraction=0.3)
    table = radius_neighbors(pos, vel, alive, env, n_envs, 12.0, False, 1.0)
    counts = np.diff(table.ptr)[: int(alive.sum())]  # the living rows' segments come first
    assert (counts[1:-1] == 0).any() and (counts > 0).sum() > 50  # empty ones in the middle
    every = np.arange(table.n_edges)
    np.testing.assert_array_equal(table.owners_of(every), table.owner)
    some = np.random.default_rng(0).choice(every, 40)
    np.testing.assert_array_equal(table.owners_of(some), table.owner[some])
    assert len(table.owners_of(every[:0])) == 0
    row = int(table.owner[table.n_edges // 2])
    one = table.one_row(row)
    shifted = dataclasses.replace(one, ptr=one.ptr + 7)
    np.testing.assert_array_equal(shifted.owners_of(np.arange(shifted.n_edges)), 0)


def test_plain_segment_sum_handles_empty_segments():
    ptr = np.array([0, 2, 2, 5])
    values = np.arange(5.0)
    np.testing.assert_array_equal(segment_sum(ptr, values), [1.0, 0.0, 9.0])


def test_k_smallest_per_row_is_sorted_and_padded():
    ptr = np.array([0, 3, 3, 5])
    key = np.array([3.0, 1.0, 2.0, 9.0, 8.0])
    out = k_smallest_per_row(ptr, key, 2)
    assert out.tolist() == [[1, 2], [-1, -1], [4, 3]]


@pytest.mark.parametrize("n", [0, 1])
def test_degenerate_sizes(n):
    pos, vel, alive, env = random_state(0, n, 5.0)
    table = radius_neighbors(pos, vel, alive, env, 1, 5.0, True, 1.0)
    assert table.n_edges == 0 and table.n_rows == n


def test_plain_segment_sum_keeps_the_last_entry_before_empty_trailing_segments():
    """Found by the locality audit: with the rows after it empty, a row lost its last
    message (average consensus moved differently in the batch than alone)."""
    ptr = np.array([0, 1, 3, 3, 3])
    values = np.array([1.0, 2.0, 4.0])
    np.testing.assert_array_equal(segment_sum(ptr, values), [1.0, 6.0, 0.0, 0.0])
    np.testing.assert_array_equal(segment_sum(ptr, values[:, None])[:, 0], [1.0, 6.0, 0.0, 0.0])
