"""EPIBT (policies.epibt): its operations, the packed rankings, conflict-free whole-map
plans, the locality audit and known behaviour under the League's action model."""

import itertools

import numpy as np
import pytest

from envs.warehouse import WarehouseModel
from policies.epibt import (
    EPIBT,
    OPERATIONS,
    SHIFTED,
    _walk,
    global_operations,
    hold_operations,
    local_operations,
    operation_beacons,
    rank_operations,
    unpack_rankings,
)
from swarm.comm import Inbox
from swarm.config import ConfigError
from swarm.grid.layout import LayoutParams
from swarm.grid.maps import parse_map
from swarm.grid.policy import BEACON_DIM, priorities
from swarm.grid.world import CLOCKWISE, COUNTER_CLOCKWISE, FORWARD, WAIT

LAYOUT = LayoutParams(block_rows=3, block_cols=3, shelf_width=4)
ROUGH = dict(layout=LAYOUT, sense_radius=2.5, comm_radius=3.5, packet_drop=0.2, max_inbox=6,
             motion="rotate")  # fmt: skip
NAMES = {WAIT: "W", FORWARD: "F", CLOCKWISE: "R", COUNTER_CLOCKWISE: "C"}


def _operation_table(m, cell, heading, ops, nbr, paths, dirs, valid):
    """Every operation of robots ``0..m-1`` walked from their cells and headings."""
    for a in range(m):
        for o in range(len(ops)):
            valid[a, o] = _walk(cell[a], heading[a], o, ops, nbr, paths[a, o], dirs[a, o])


def visit(op) -> tuple:
    """The cells (relative) and final heading an action string leads to from the origin
    facing east."""
    row = col = heading = 0
    cells = []
    for a in op:
        if a == FORWARD:
            row, col = row + [0, 1, 0, -1][heading], col + [1, 0, -1, 0][heading]
        elif a in (CLOCKWISE, COUNTER_CLOCKWISE):
            heading = (heading + (1 if a == CLOCKWISE else 3)) % 4
        cells.append((row, col))
    return tuple(cells), heading


def test_the_operations_are_the_papers_seventeen():
    """Every action string of length 3 with no turn after the last forward and, between
    forwards, no mix of the two turns and no third turn the same way, is the same motion
    (cells and final heading) as exactly one of 17 operations; WWW first; each shifted
    operation is the same operation one action on (a wait appended)."""
    names = ["".join(NAMES[a] for a in op) for op in OPERATIONS]
    assert len(names) == 17 and names[0] == "WWW" and names[1] == "FFF"
    motions = [visit(op) for op in OPERATIONS]
    assert len(set(motions)) == 17
    for op in itertools.product(range(4), repeat=3):
        s = "".join(NAMES[a] for a in op)
        tail = s[s.rfind("F") + 1 :] if "F" in s else s
        stretches = s.split("F")
        ok = not set(tail) & {"R", "C"} and all(
            not ({"R", "C"} <= set(p)) and p.count("R") < 3 and p.count("C") < 3 for p in stretches
        )
        assert (visit(op) in motions) == ok or not ok
    for k, op in enumerate(OPERATIONS):
        shifted = (*op[1:], WAIT)
        want = [j for j, o in enumerate(OPERATIONS) if tuple(o) == shifted]
        assert SHIFTED[k] == (want[0] if want else 0)


def model_at(steps: int, n_agents: int = 60, seed: int = 0, **params) -> WarehouseModel:
    model = WarehouseModel(n_agents=n_agents, layout=LAYOUT, motion="rotate", policy="epibt",
                           rng=seed, policy_params=params)  # fmt: skip
    for _ in range(steps):
        model.step()
    return model


def ranking_key(o, path, heading, d, nbr) -> int:
    """Operation o's rank key by hand: the step it reaches the goal at, else the end
    state's distance plus a quarter turn per heading away from a step downhill, plus 3."""
    arrive = [t for t in range(3) if d[path[t]] == 0]
    if arrive:
        return arrive[0]
    h = heading
    for a in OPERATIONS[o]:
        h = (h + (1 if a == CLOCKWISE else 3 if a == COUNTER_CLOCKWISE else 0)) % 4
    x = path[-1]
    downhill = [k for k in range(1, 5) if nbr[x, k] >= 0 and d[nbr[x, k]] + 1 == d[x]]
    headings = [[3, 0, 1, 2][k - 1] for k in downhill]
    quarters = min((min((g - h) % 4, (h - g) % 4) for g in headings), default=0)
    return int(d[x]) + quarters + 3


def test_a_robots_candidates_are_ranked_by_arrival_then_cost_to_go():
    """The packed ranking of each robot lists every operation that drives into no wall (not
    WWW), best first: one that reaches the goal earlier first, then by the end state's BFS
    distance plus a quarter turn per heading away from a step downhill; ties by index."""
    model = model_at(5)
    obs = model.observe(rounds=())
    lists = unpack_rankings(rank_operations(obs, turn_cost=1))
    nbr, bank = obs.known["grid"].neighbors, obs.known["bank"]
    paths = np.empty((1, 17, 3), np.int64)
    dirs = np.empty((1, 17, 3), np.int64)
    valid = np.empty((1, 17), bool)
    for i in range(obs.n):
        cell, heading = obs.own["fcell"][i], obs.own["heading"][i]
        _operation_table(1, np.array([cell]), np.array([heading]), OPERATIONS, nbr, paths,
                         dirs, valid)  # fmt: skip
        assert sorted(lists[i]) == [o for o in range(1, 17) if valid[0, o]]
        slot = obs.own["goal_slot"][i]
        if slot >= 0:
            d = bank.fields[slot]
            keys = [(ranking_key(o, paths[0, o], heading, d, nbr), o) for o in lists[i]]
            assert keys == sorted(keys)


def reservations(cell, heading, ops, nbr):
    """(R, 3) the cells and (R, 3) the move codes of each robot's operation."""
    n = len(cell)
    paths = np.empty((n, 17, 3), np.int64)
    dirs = np.empty((n, 17, 3), np.int64)
    valid = np.empty((n, 17), bool)
    _operation_table(n, cell, heading, OPERATIONS, nbr, paths, dirs, valid)
    rows = np.arange(n)
    assert valid[rows, ops].all()
    return paths[rows, ops], dirs[rows, ops]


@pytest.mark.parametrize("seed", range(4))
def test_whole_map_operations_never_conflict_at_any_of_their_three_steps(seed):
    """One EPIBT over every robot: no two robots' operations share a cell at any step or
    trade cells between two steps (following is allowed), so the world cancels nothing."""
    model = model_at(20, n_agents=90, seed=seed, view="global")
    obs = model.observe(rounds=())
    prio = priorities(obs, 0, 30)
    ranking = rank_operations(obs, 1)
    held = np.zeros(obs.n, np.int64)
    ops = global_operations(obs, prio, held, ranking, 10)
    paths, _ = reservations(obs.own["fcell"], obs.own["heading"], ops,
                            obs.known["grid"].neighbors)  # fmt: skip
    before = obs.own["fcell"]
    for t in range(3):
        assert len(np.unique(paths[:, t])) == obs.n
        at = dict(zip(before.tolist(), range(obs.n), strict=True))
        for a in range(obs.n):
            b = at.get(int(paths[a, t]))
            assert b is None or b == a or paths[b, t] != before[a]
        before = paths[:, t]
    assert model.metrics["attempted_conflicts"] == 0
    assert model.metrics["executed_collisions"] == 0


def test_epibt_swaps_head_on_robots_in_a_ring():
    """Two robots meeting head-on on a ring road both finish: one turns out of the way."""
    text = "type octile\nheight 3\nwidth 5\nmap\n.....\n.@@@.\n.....\n"
    from tests.policies.test_pibt import run_plain

    for view in ("global", "local"):
        stream = run_plain(text, [0, 4], [4, 0], EPIBT(seed=1, view=view), 40,
                           motion="rotate")  # fmt: skip
        assert stream.finished.tolist() == [1, 1]


def test_a_robot_whose_move_did_not_happen_holds_a_wait(monkeypatch):
    """A robot holds the rest of last step's operation, shifted by one, where its move
    happened; where the world cancelled it, "wait, wait, wait" (what it had planned no
    longer starts from where it stands)."""
    import policies.epibt

    model = model_at(5, n_agents=90, seed=1, unknown_cells="free")
    seen = []
    real = policies.epibt.local_operations

    def spy(obs, prio, held, *args, **kwargs):
        seen.append(held.copy())
        return real(obs, prio, held, *args, **kwargs)

    monkeypatch.setattr(policies.epibt, "local_operations", spy)
    cancelled = 0
    for _ in range(40):
        seen.clear()
        blocked = model.world.fcell != model.policy.intended
        want = np.where(blocked, 0, SHIFTED[model.policy.operation])
        model.step()
        np.testing.assert_array_equal(seen[0], want)
        cancelled += int(blocked.sum())
    assert cancelled > 0  # the rule was exercised


def test_a_weaker_robot_whose_held_operation_meets_a_stronger_ones_holds_a_wait():
    """In a local problem the held operations were planned in different views and can
    conflict: the stronger robot keeps its own, the weaker one (by priority, not by its
    place in the problem) holds "wait, wait, wait"; following is no conflict, and neither
    robot drives into one that stays."""
    nbr = parse_map("type octile\nheight 1\nwidth 6\nmap\n......\n").neighbors
    op = {"".join(NAMES[a] for a in o): k for k, o in enumerate(OPERATIONS)}
    east, west = 0, 2
    fww = op["FWW"]
    # head-on into one cell, then a swap: the weaker waits, whichever its index
    for cells, prio in (([1, 3], [2.0, 1.0]), ([1, 3], [1.0, 2.0]), ([1, 2], [1.0, 2.0])):
        got = hold_operations(np.array(cells), np.array([east, west]), np.array(prio),
                              np.array([fww, fww]), nbr)  # fmt: skip
        weaker = int(np.argmin(prio))
        assert got[weaker] == 0 and got[1 - weaker] == fww
    # following: both keep theirs
    got = hold_operations(np.array([1, 2]), np.array([east, east]), np.array([1.0, 2.0]),
                          np.array([fww, op["FFW"]]), nbr)  # fmt: skip
    assert got.tolist() == [fww, op["FFW"]]
    # into a robot that stays (sensed, not heard)
    got = hold_operations(np.array([1]), np.array([east]), np.array([5.0]), np.array([fww]),
                          nbr, stays=np.array([2]))  # fmt: skip
    assert got.tolist() == [0]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"unknown_cells": "occupied", "relay_vouches": True},
        {"rounds": 1, "arbitrate": False, "relay_radius": 0},
    ],
)
def test_epibt_is_local_under_loss_and_a_capped_inbox(params):
    """Each robot's action, replayed with only its own inboxes, equals the batch's."""
    from swarm.testing import assert_local

    assert assert_local("epibt", "warehouse", n_agents=40, steps=10, policy_params=params,
                        **ROUGH) == 400  # fmt: skip


def test_local_operations_are_the_same_on_one_and_two_threads(robot_threads, monkeypatch):
    """Any chunking of the robots gives the same operations (each robot leaves its chunk's
    scratch clean), against a serial run of the same step, twice."""
    import swarm.threads

    model = model_at(30, n_agents=80, seed=2, unknown_cells="occupied")
    obs = model.observe(rounds=model.policy.rounds())
    prio = priorities(obs, 0, 30)
    ranking = rank_operations(obs, 1)
    held = SHIFTED[model.policy.operation]
    heard = obs.radio.send("beacon_0", operation_beacons(obs, prio, held, ranking,
                                                         np.zeros(obs.n)))  # fmt: skip
    empty = Inbox.empty(obs.n, BEACON_DIM)
    got = local_operations(obs, prio, held, ranking, heard, empty, 10, 3.5)
    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_ROBOTS", 10**9)
    for _ in range(2):
        want = local_operations(obs, prio, held, ranking, heard, empty, 10, 3.5)
        np.testing.assert_array_equal(got, want)


def test_epibt_refuses_the_grid_model_before_the_run():
    with pytest.raises(ConfigError, match=r"field 'motion'.*allowed: rotate"):
        WarehouseModel(n_agents=10, layout=LAYOUT, policy="epibt")


def test_decentralised_epibt_runs_without_collisions_and_finishes_errands():
    """On the small generated warehouse, local views, unknown cells not entered: nobody
    collides, nobody stays stuck, errands get done."""
    model = model_at(300, n_agents=60, unknown_cells="occupied")
    m = model.metrics
    assert m["executed_collisions"] == 0
    assert m["tasks_finished"] > 100
    assert m["deadlocked"] == 0
