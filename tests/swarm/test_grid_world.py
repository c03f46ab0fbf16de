"""Step semantics: conflict resolution, the collision invariant on every step of randomised
runs, sensing and comm links against brute force, action validation."""

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarm.grid.layout import LayoutParams, generate_layout
from swarm.grid.maps import parse_map
from swarm.grid.world import (
    GridWorld,
    _move_kernel,
    count_collisions,
    neighbor_tables,
    resolve_conflicts,
)

CORRIDOR = parse_map("type octile\nheight 1\nwidth 6\nmap\n......\n")


def test_swap_is_cancelled_for_both_robots():
    nxt, cancelled = resolve_conflicts(np.array([1, 2]), np.array([2, 1]), 6)
    assert nxt.tolist() == [1, 2] and cancelled == 2


def test_two_robots_into_one_cell_both_wait_and_a_stayer_keeps_its_cell():
    nxt, cancelled = resolve_conflicts(np.array([1, 3]), np.array([2, 2]), 6)
    assert nxt.tolist() == [1, 3] and cancelled == 2
    nxt, cancelled = resolve_conflicts(np.array([1, 2]), np.array([2, 2]), 6)
    assert nxt.tolist() == [1, 2] and cancelled == 1


def test_following_is_allowed_and_a_cancelled_leader_stops_the_train():
    # 0 -> 1 -> 2 -> 3: a train moving east is fine
    nxt, c = resolve_conflicts(np.array([0, 1, 2]), np.array([1, 2, 3]), 6)
    assert nxt.tolist() == [1, 2, 3] and c == 0
    # the leader meets a robot coming the other way: the whole train must wait (fixpoint)
    nxt, c = resolve_conflicts(np.array([0, 1, 2, 3]), np.array([1, 2, 3, 2]), 6)
    assert nxt.tolist() == [0, 1, 2, 3] and c == 4


def test_rotation_of_four_robots_is_allowed():
    # a 2x2 block: cells 0 1 / 2 3 (free indices), rotating clockwise
    nxt, c = resolve_conflicts(np.array([0, 1, 3, 2]), np.array([1, 3, 2, 0]), 4)
    assert c == 0 and count_collisions(np.array([0, 1, 3, 2]), nxt, 4) == (0, 0)


def test_collision_counter_sees_vertex_and_swap_collisions():
    assert count_collisions(np.array([0, 2, 4]), np.array([1, 1, 1]), 6) == (2, 0)
    assert count_collisions(np.array([1, 2]), np.array([2, 1]), 6) == (0, 1)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40), cells=st.integers(2, 60),
       resolve=st.booleans())  # fmt: skip
def test_compiled_move_equals_the_numpy_rules(seed, n, cells, resolve):
    """The step's compiled resolver and counter give what the readable numpy rules give, on
    crowded random moves (vertex, swap, following, chains), and leave the scratch clean."""
    rng = np.random.default_rng(seed)
    n = min(n, cells)
    cur = rng.choice(cells, n, replace=False)
    nxt = np.where(rng.random(n) < 0.7, rng.integers(0, cells, n), cur)
    nxt[: n // 3] = cur[::-1][: n // 3]  # some swaps and cycles
    occ, claims = np.full(cells, -1, np.int64), np.zeros(cells, np.int64)
    got, cancelled, vertex, swap, moved = _move_kernel(cur, nxt, resolve, occ, claims)
    want, want_cancelled = resolve_conflicts(cur, nxt, cells) if resolve else (nxt, 0)
    assert got.tolist() == want.tolist() and cancelled == want_cancelled
    assert (vertex, swap) == count_collisions(cur, want, cells)
    assert moved == int((want != cur).sum())
    assert (occ == -1).all() and (claims == 0).all()


@pytest.mark.parametrize(("ra", "rb"), [(2.0, 3.5), (3.5, 2.0), (1.0, 1.0), (0.5, 4.2)])
def test_one_scan_for_two_radii_lists_each_radius_in_raster_order(ra, rb):
    world, _ = random_world(3, 50)
    rc = world.grid.rowcol(world.cell).astype(float)
    d = np.sqrt(((rc[:, None] - rc[None]) ** 2).sum(-1))
    pair = neighbor_tables(world.grid, world.cell, world.occupancy(), ra, rb)
    for radius, got in zip((ra, rb), pair, strict=True):
        for i in range(50):
            near = [j for j in range(50) if j != i and d[i, j] <= radius]
            want = sorted(near, key=lambda j: world.cell[j])  # raster order of their cells
            assert got.neighbors_of(i).tolist() == want
            # offsets (columns, rows) and distances in cells, as the drones' tables
            s = got.row_slice(i)
            assert np.array_equal(got.rel_pos[s][:, ::-1], rc[want] - rc[i])
            assert np.allclose(got.dist[s], d[i, want])


@pytest.mark.parametrize("chunks", [2, 3, 7])
def test_the_window_scan_in_chunks_lays_out_the_one_chunk_tables(chunks):
    """Each chunk of robots writes into its own region (the first of a pair downward, to
    where its partner starts), then the regions are closed up: the same entries, in the same
    order, as one chunk (the serial compile runs the chunks one after another;
    tests/swarm/test_threads.py runs them on the pool)."""
    from swarm.grid.world import _close_regions, _window_pairs_serial

    world, _ = random_world(5, 60)
    rows, cols = np.divmod(world.cell, world.grid.width)
    per_robot = 59

    def scan(n_chunks):
        bound = 60 * per_robot
        out = [np.full(61, -7), np.full(bound, -7), np.full((bound, 2), -7.0), np.full(bound, -7.0)]
        out += [
            np.full(61, -7),
            np.full(bound, -7),
            np.full((bound, 2), -7.0),
            np.full(bound, -7.0),
        ]
        found = np.zeros((2, n_chunks), np.int64)
        _window_pairs_serial(world.occupancy(), world.grid.height, world.grid.width, rows, cols,
                             2.5, 4.0, per_robot, n_chunks, *out, found)  # fmt: skip
        spans = [_close_regions(60, per_robot, found[k], *out[4 * k : 4 * k + 4]) for k in (0, 1)]
        first, m = zip(*spans, strict=True)
        return [a[first[k // 4] : first[k // 4] + m[k // 4]] if k % 4 else a
                for k, a in enumerate(out)]  # fmt: skip

    one, many = scan(1), scan(chunks)
    for a, b in zip(one, many, strict=True):
        np.testing.assert_array_equal(a, b)
    assert len(one[1]) > 60


def test_an_infinite_radio_reaches_every_robot():
    world, _ = random_world(4, 12)
    sensed, links = neighbor_tables(world.grid, world.cell, world.occupancy(), 2.0, np.inf)
    assert links.counts.tolist() == [11] * 12
    assert sensed.counts.sum() < 12 * 11


def random_world(seed, n, resolve=True):
    g = generate_layout(LayoutParams(block_rows=2, block_cols=2, shelf_width=3))
    rng = np.random.default_rng(seed)
    starts = rng.choice(g.free_cells, n, replace=False)
    return GridWorld(g, starts, sense_radius=2.0, comm_radius=3.5, resolve=resolve), rng


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(2, 60))
def test_random_actions_never_collide_on_any_step(seed, n):
    world, rng = random_world(seed, n)
    for _ in range(15):
        before = world.fcell
        counts = world.apply(rng.integers(0, 5, n))
        after = world.fcell
        assert len(np.unique(after)) == n  # vertex: one robot per cell
        moved = after != before
        swapped = [
            (i, j)
            for i in np.flatnonzero(moved)
            for j in np.flatnonzero(before == after[i])
            if after[j] == before[i]
        ]
        assert not swapped
        assert (counts.vertex_collisions, counts.swap_collisions) == (0, 0)
        step = np.abs(np.diff(world.grid.rowcol(world.grid.free_cells[np.stack([before, after])]),
                              axis=0)).sum(axis=-1)  # fmt: skip
        assert (step <= 1).all()  # at most one cell per step
        assert world.grid.free.ravel()[world.cell].all()


def test_without_the_resolver_the_counter_reports_collisions():
    world = GridWorld(CORRIDOR, np.array([1, 2, 4]), resolve=False)
    counts = world.apply(np.array([2, 4, 4]))  # 1<->2 swap, 4 -> 3
    assert counts.swap_collisions == 1
    world = GridWorld(CORRIDOR, np.array([1, 3]), resolve=False)
    assert world.apply(np.array([2, 4])).vertex_collisions == 1


def test_moves_into_walls_become_waits_and_are_counted():
    world = GridWorld(CORRIDOR, np.array([0, 5]))
    counts = world.apply(np.array([4, 1]))  # west off the map, north off the map
    assert world.cell.tolist() == [0, 5] and counts.invalid_moves == 2


@pytest.mark.parametrize("bad", [np.array([0, 5]), np.array([0.5, 1]), np.array([0]), [np.nan, 1]])
def test_bad_actions_get_a_clear_error(bad):
    world = GridWorld(CORRIDOR, np.array([0, 5]))
    with pytest.raises(ValueError, match="actions: "):
        world.apply(bad)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sensing_and_links_match_brute_force(seed):
    world, _ = random_world(seed, 40)
    rc = world.grid.rowcol(world.cell).astype(float)
    d = np.sqrt(((rc[:, None] - rc[None]) ** 2).sum(-1))
    obs = world.observe(np.full(40, -1), np.full(40, -1), np.zeros(40, int), np.zeros(40, int))
    for radius, table in ((2.0, obs.neighbors), (3.5, obs.links)):
        got = {(int(i), int(j)) for i, j in zip(table.owner, table.idx, strict=True)}
        want = {(i, j) for i in range(40) for j in range(40) if i != j and d[i, j] <= radius}
        assert got == want
    g = world.comm_graph
    assert isinstance(g, nx.Graph) and g.number_of_nodes() == 40
    assert g.number_of_edges() == len(obs.links.idx) // 2
    # the view follows the arrays: after a step the graph is rebuilt from the new links
    world.apply(np.full(40, 2))
    obs = world.observe(np.full(40, -1), np.full(40, -1), np.zeros(40, int), np.zeros(40, int))
    assert world.comm_graph.number_of_edges() == len(obs.links.idx) // 2


def test_the_grid_observation_is_the_drones_observation_type_in_cells():
    """One observation type: a robot's own cell is its (column, row) position, the sensed
    offsets are cells, and the sensed robots' cells follow from them alone."""
    from swarm.grid.world import sensed_cells
    from swarm.observation import LocalObservation

    world, _ = random_world(4, 30)
    obs = world.observe(np.full(30, -1), np.full(30, -1), np.zeros(30, int), np.zeros(30, int))
    assert isinstance(obs, LocalObservation) and obs.radio is None  # no rounds asked for
    rows, cols = np.divmod(world.cell, world.grid.width)
    np.testing.assert_array_equal(obs.pos, np.stack([cols, rows], axis=1))
    t = obs.neighbors
    np.testing.assert_array_equal(obs.pos[t.idx] - obs.pos[t.owner], t.rel_pos)
    np.testing.assert_array_equal(sensed_cells(obs), world.fcell[t.idx])
