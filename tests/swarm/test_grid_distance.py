"""Distance fields: BFS agrees with scipy's shortest paths; the cache evicts correctly;
the free-flow bound matches a hand count."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from swarm.grid.distance import DistanceBank, bfs, free_flow_tasks, pair_distances
from swarm.grid.layout import LayoutParams, generate_layout
from swarm.grid.maps import parse_map


def scipy_distances(g):
    nbr = g.neighbors
    src = np.repeat(np.arange(len(nbr)), 4)
    dst = nbr[:, 1:].ravel()
    keep = dst >= 0
    adj = sp.csr_matrix((np.ones(keep.sum()), (src[keep], dst[keep])), shape=(len(nbr),) * 2)
    return shortest_path(adj, unweighted=True)


def test_bfs_fields_match_scipy_on_a_generated_layout():
    g = generate_layout(LayoutParams(block_rows=2, block_cols=2, shelf_width=3))
    ref = scipy_distances(g)
    bank = DistanceBank(g)
    goals = np.array([0, 17, len(g.free_cells) - 1])
    slots = bank.slots(goals)
    for goal, slot in zip(goals, slots, strict=True):
        assert np.array_equal(bank.fields[slot], ref[goal].astype(int))
        assert np.array_equal(bfs(g, int(g.free_cells[goal]))[g.free], ref[goal].astype(int))


def test_unreachable_cells_read_as_unreached():
    g = parse_map("type octile\nheight 1\nwidth 3\nmap\n.@.\n")
    bank = DistanceBank(g)
    slot = bank.slots(np.array([0]))
    assert bank.lookup(slot, np.array([1]))[0] == bank.unreached
    assert bank.lookup(slot, np.array([-1]))[0] == bank.unreached  # a wall


def test_bank_evicts_least_recently_used_and_never_kept_fields():
    g = generate_layout(LayoutParams(block_rows=1, block_cols=2))
    row_mb = len(g.free_cells) * 2 / 2**20
    bank = DistanceBank(g, max_mb=3.5 * row_mb)  # room for 3 fields
    a = bank.slots(np.array([0, 1, 2]))
    bank.slots(np.array([0]))  # 0 is now the most recently used
    b = bank.slots(np.array([3]), keep=a[2:3])  # must evict 1 (LRU), not 2 (kept)
    assert b[0] == a[1]
    assert bank.slot_of_goal[1] == -1 and bank.slot_of_goal[2] == a[2]
    ref = scipy_distances(g)
    for goal in (0, 2, 3):
        assert np.array_equal(bank.fields[bank.slot_of_goal[goal]], ref[goal])
    assert bank.computed == 4


def test_free_flow_bound_in_a_corridor_by_hand():
    g = parse_map("type octile\nheight 1\nwidth 6\nmap\n......\n")
    # robot 0 at cell 0, tasks 5 then 0 then 5 ...: each trip takes 5 steps
    assert free_flow_tasks(g, np.array([0]), np.array([5, 0]), 10).tolist() == [2]
    assert free_flow_tasks(g, np.array([0]), np.array([5, 0]), 14).tolist() == [2]
    # a task on the robot's own cell takes one step (finished at the end of a step)
    assert free_flow_tasks(g, np.array([3]), np.array([3]), 7).tolist() == [7]
    # two robots, round robin: robot k gets tasks k, k + 2, ... (mod 4)
    # robot 0: cells 1 (1 step), 3 (2), 1 (2) -> 3 tasks by t=5; robot 1: 4 (1), 0 (4) -> 2
    got = free_flow_tasks(g, np.array([0, 5]), np.array([1, 4, 3, 0]), 5)
    assert got.tolist() == [3, 2]
    # from round 1: robot 0 gets cells 3 (3 steps), 1 (2) -> 2 by t=5; robot 1: 0 (5) -> 1
    got = free_flow_tasks(g, np.array([0, 5]), np.array([1, 4, 3, 0]), 5, first_round=1)
    assert got.tolist() == [2, 1]


def test_pair_distances_match_scipy():
    g = generate_layout(LayoutParams(block_rows=2, block_cols=2))
    ref = scipy_distances(g)
    rng = np.random.default_rng(3)
    goals = rng.integers(0, len(g.free_cells), 50)
    sources = rng.integers(0, len(g.free_cells), 50)
    got = pair_distances(g, goals, sources, 10**9)
    assert np.array_equal(got, ref[goals, sources].astype(int))


def test_a_robot_alone_reads_only_its_own_goals_field():
    """What the audit hands a robot alone (``DistanceBank.alone``): its own goal's field and
    the open orders'; another robot's goal is refused by ``lookup`` and reads as unreached
    through ``fields`` (what compiled readers index)."""
    from types import SimpleNamespace

    g = generate_layout(LayoutParams(block_rows=2, block_cols=2, shelf_width=3))
    bank = DistanceBank(g)
    slots = bank.slots(np.array([0, 17, 30]))
    obs = SimpleNamespace(own={"goal_slot": slots}, known={"board": None})
    alone = bank.alone(obs, 1)
    cells = np.arange(5)
    np.testing.assert_array_equal(alone.lookup(slots[1:2], cells), bank.lookup(slots[1:2], cells))
    with pytest.raises(LookupError, match="other robots' goals"):
        alone.lookup(slots[0:1], cells)
    np.testing.assert_array_equal(alone.fields[slots[1]], bank.fields[slots[1]])
    assert (alone.fields[slots[0]] == bank.unreached).all()
    # compact: only the readable rows; another robot's goal refused
    rows, renumbered = alone.compact(np.array([slots[1], -1, slots[1]]))
    assert rows.shape == (1, len(g.free_cells))
    np.testing.assert_array_equal(renumbered, [0, -1, 0])
    np.testing.assert_array_equal(rows[0], bank.fields[slots[1]])
    with pytest.raises(LookupError, match="other robots' goals"):
        alone.compact(slots)
    nobody = bank.alone(SimpleNamespace(own={"goal_slot": np.array([-1])}, known={}), 0)
    rows, renumbered = nobody.compact(np.array([-1, -1]))
    assert rows.shape[0] == 0 and (renumbered == -1).all()
    with pytest.raises(LookupError):
        nobody.compact(slots[:1])
