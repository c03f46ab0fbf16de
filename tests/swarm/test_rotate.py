"""The League of Robot Runners' action model (``motion = "rotate"``): headings, forward moves
and quarter turns in the grid world, the controllers under it, locality, the PettingZoo env,
and the default 4-connected model unchanged."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from envs import warehouse_v0
from envs.warehouse import WarehouseModel
from swarm.cli import main
from swarm.grid.layout import LayoutParams
from swarm.grid.maps import parse_map
from swarm.grid.world import (
    CLOCKWISE,
    COUNTER_CLOCKWISE,
    FORWARD,
    WAIT,
    GridWorld,
    check_actions,
)
from swarm.testing import assert_local

ROOM = parse_map("type octile\nheight 3\nwidth 4\nmap\n....\n....\n...@\n")
LAYOUT = LayoutParams(block_rows=4, block_cols=6)


def world(starts, headings, resolve: bool = True) -> GridWorld:
    return GridWorld(ROOM, np.array(starts), motion="rotate", headings=np.array(headings),
                     resolve=resolve)  # fmt: skip


def test_forward_moves_along_the_heading_and_turns_change_the_heading_only():
    # cells row * 4 + col; headings 0 east, 1 south, 2 west, 3 north
    w = world([5, 0, 10], [0, 1, 3])
    counts = w.apply(np.array([FORWARD, CLOCKWISE, COUNTER_CLOCKWISE]))
    assert w.cell.tolist() == [6, 0, 10] and w.heading.tolist() == [0, 2, 2]
    assert counts.moved == 1 and counts.invalid_moves == 0
    w.apply(np.array([FORWARD, FORWARD, FORWARD]))  # east to 7; west off the map; west to 9
    assert w.cell.tolist() == [7, 0, 9] and w.heading.tolist() == [0, 2, 2]
    # four quarter turns either way bring a heading back
    for turn in (CLOCKWISE, COUNTER_CLOCKWISE):
        before = w.heading.copy()
        for _ in range(4):
            w.apply(np.full(3, turn))
        assert (w.heading == before).all()


def test_forward_into_a_wall_or_off_the_map_is_a_wait_counted_invalid():
    w = world([0, 7], [3, 1])  # north off the map; south into the obstacle at (2, 3)
    counts = w.apply(np.array([FORWARD, FORWARD]))
    assert w.cell.tolist() == [0, 7] and w.heading.tolist() == [3, 1]
    assert counts.invalid_moves == 2 and counts.moved == 0
    counts = w.apply(np.array([CLOCKWISE, WAIT]))  # turns and waits are never invalid
    assert counts.invalid_moves == 0 and w.heading.tolist() == [0, 1]


def test_conflicting_forwards_are_cancelled_and_a_turning_robot_keeps_its_cell():
    # head-on swap: both cancelled
    w = world([4, 5], [0, 2])
    counts = w.apply(np.array([FORWARD, FORWARD]))
    assert w.cell.tolist() == [4, 5] and counts.attempted_conflicts == 2
    # two robots forward into cell 5: both cancelled, headings unchanged
    w = world([4, 1], [0, 1])
    counts = w.apply(np.array([FORWARD, FORWARD]))
    assert w.cell.tolist() == [4, 1] and counts.attempted_conflicts == 2
    # a robot turning in the cell ahead stays: the follower is stopped, the train too
    w = world([4, 5, 6], [0, 0, 0])
    counts = w.apply(np.array([FORWARD, FORWARD, CLOCKWISE]))
    assert w.cell.tolist() == [4, 5, 6] and w.heading.tolist() == [0, 0, 1]
    assert counts.attempted_conflicts == 2 and counts.vertex_collisions == 0
    # following a robot that drives on is allowed
    w = world([4, 5], [0, 0])
    w.apply(np.array([FORWARD, FORWARD]))
    assert w.cell.tolist() == [5, 6]


def test_without_the_resolver_the_counter_sees_rotate_collisions():
    w = world([4, 5, 6], [0, 2, 3], resolve=False)
    counts = w.apply(np.array([FORWARD, FORWARD, CLOCKWISE]))  # a swap of 4 and 5
    assert counts.swap_collisions == 1
    w = world([4, 6], [0, 2], resolve=False)
    counts = w.apply(np.array([FORWARD, FORWARD]))  # both into 5
    assert counts.vertex_collisions == 1


def test_actions_are_checked_against_the_motion_model():
    with pytest.raises(ValueError, match=r"allowed 0\.\.3"):
        world([0], [0]).apply(np.array([4]))
    assert check_actions(np.array([4]), 1).tolist() == [4]  # a grid move
    with pytest.raises(ValueError, match="headings"):
        world([0, 1], [0, 4])


def test_robots_start_facing_east_as_in_the_league():
    m = WarehouseModel(n_agents=10, layout=LAYOUT, motion="rotate", rng=0)
    assert m.world.heading.dtype == np.int8 and (m.world.heading == 0).all()
    assert m.observe().own["heading"].tolist() == [0] * 10
    assert "heading" not in WarehouseModel(n_agents=10, layout=LAYOUT, rng=0).observe().own


def run(policy: str, motion: str, steps: int, n: int = 60, seed: int = 5, **params) -> tuple:
    m = WarehouseModel(n_agents=n, layout=LAYOUT, policy=policy, policy_params=params,
                       motion=motion, rng=seed)  # fmt: skip
    digest = hashlib.sha256()
    for _ in range(steps):
        m.step()
        digest.update(m.world.cell.tobytes())
        if m.world.heading is not None:
            digest.update(m.world.heading.tobytes())
    return m, digest.hexdigest()


@pytest.mark.parametrize(
    "policy,params,least",
    [("pibt", {}, 100), ("pibt", {"view": "global"}, 100), ("greedy_yield", {}, 1)],
)
def test_dense_rotate_runs_have_no_executed_collision(policy, params, least):
    """120 robots (over a third of the free cells) on one-lane aisles for 300 steps: zero
    executed collisions at every step, counted from the cells alone; the PIBT variants keep
    finishing tasks (greedy yielding jams, as on the grid)."""
    m = WarehouseModel(n_agents=120, layout=LAYOUT, policy=policy, policy_params=params,
                       motion="rotate", rng=1)  # fmt: skip
    for _ in range(300):
        m.step()
        assert m.last_counts.vertex_collisions == 0 and m.last_counts.swap_collisions == 0
    assert m.metrics["executed_collisions"] == 0
    assert m.metrics["tasks_finished"] >= least


def test_commitments_keep_half_turned_pushes_from_locking_the_aisles():
    """128 robots on the 13 x 49 map (37 % of the free cells), 5-cell radio, 600 steps:
    without commitments seed 0 locks every robot (queues meeting head-on, each robot
    half turned between two plans); with them no robot is locked on seeds 0-1 and seed 0
    finishes over three times the tasks. Commitments are the pushed robots' own memory."""

    def finish(seed: int, commit: bool):
        m = WarehouseModel(n_agents=128, layout=LAYOUT, motion="rotate", rng=seed,
                           policy_params={"commit": commit})  # fmt: skip
        for _ in range(600):
            m.step()
        return m.metrics["tasks_finished"], m.metrics["deadlocked"]

    tasks_off, locked_off = finish(0, commit=False)
    assert locked_off == 128
    for seed in (0, 1):
        tasks, locked = finish(seed, commit=True)
        assert locked == 0 and tasks > 3 * tasks_off, seed


def test_cells_beyond_the_radio_counted_as_occupied_keep_192_robots_moving():
    """192 robots on the 13 x 49 map (55 % of the free cells), seed 0, 600 steps: with
    unknown cells taken as free a push chain runs into cells nobody in range vouched for, the
    world cancels it, and 174 robots end up locked; taken as occupied, none is. The rule
    reads only the robot's own cell, the public map and what it heard: it passes the
    audit (with packet loss and an inbox cap)."""

    def run(unknown: str):
        m = WarehouseModel(n_agents=192, layout=LAYOUT, motion="rotate", rng=0,
                           policy_params={"unknown_cells": unknown})  # fmt: skip
        for _ in range(600):
            m.step()
        return m.metrics["tasks_finished"], m.metrics["deadlocked"]

    tasks_free, locked_free = run("free")
    tasks, locked = run("occupied")
    assert locked_free > 150 and locked == 0 and tasks > 1.5 * tasks_free
    rough = dict(layout=LayoutParams(block_rows=3, block_cols=3, shelf_width=4),
                 sense_radius=2.5, comm_radius=3.5, packet_drop=0.2, max_inbox=6)  # fmt: skip
    assert assert_local("pibt", "warehouse", n_agents=30, steps=12, motion="rotate",
                        policy_params={"unknown_cells": "occupied"}, **rough) == 360  # fmt: skip


def test_rotate_runs_are_deterministic_and_differ_from_the_grid():
    a, ha = run("pibt", "rotate", 120)
    b, hb = run("pibt", "rotate", 120)
    assert ha == hb and a.metrics["tasks_finished"] == b.metrics["tasks_finished"]
    assert run("pibt", "grid", 120)[1] != ha


def test_the_default_motion_is_bit_identical_to_before_the_rotate_model():
    """Fingerprints of fixed-seed runs of the 4-connected model, recorded before the
    League's action model was added (cell hashes, tasks, cancelled moves, bytes)."""
    before = {
        "pibt": ("c15f072909308ad9", 355, 29, 1937.951111),
        "greedy_yield": ("fabc7af737751e26", 27, 10800, 799.729778),
        "auction": ("8051f305dfe69ff8", 126, 37, 2357.331111),
    }
    for policy, expected in before.items():
        kw = dict(tasks="poisson") if policy == "auction" else {}
        m = WarehouseModel(n_agents=60, layout=LAYOUT, policy=policy, rng=5, **kw)
        digest = hashlib.sha256()
        for _ in range(300):
            m.step()
            digest.update(m.world.cell.tobytes())
        s = m.summary()
        got = (digest.hexdigest()[:16], s["tasks_finished"], s["attempted_conflicts"],
               round(s["bytes_per_agent_step"], 6))  # fmt: skip
        assert got == expected, policy


def test_turn_cost_ranks_turning_before_driving_away():
    """One robot facing away from its goal turns (two quarter turns) instead of driving off:
    it reaches the goal in at most BFS distance + 2 steps with the heading-aware cost."""
    m = WarehouseModel(n_agents=1, layout=LAYOUT, motion="rotate", rng=3)
    d0 = int(m._dist_to_goal()[0])
    first = int(m.tasks.finished[0])
    steps = 0
    while m.tasks.finished[0] == first and steps < d0 + 3:
        m.step()
        steps += 1
    assert m.tasks.finished[0] > first


@pytest.mark.parametrize("name", ["pibt", "greedy_yield"])
def test_rotate_controllers_are_local(name):
    rough = dict(layout=LayoutParams(block_rows=3, block_cols=3, shelf_width=4),
                 sense_radius=2.5, comm_radius=3.5, packet_drop=0.2, max_inbox=6)  # fmt: skip
    assert assert_local(name, "warehouse", n_agents=30, steps=12, motion="rotate", **rough) == 360


def test_swarm_audit_passes_under_rotate():
    code = main(["audit", "warehouse", "--policy", "pibt", "--agents", "20", "--steps", "5",
                 "--motion", "rotate"])  # fmt: skip
    assert code == 0


def test_warehouse_v0_under_rotate_passes_the_pettingzoo_api_test():
    small = dict(n_agents=6, layout=LayoutParams(block_rows=2, block_cols=3, shelf_width=4))
    env = warehouse_v0.parallel_env(motion="rotate", max_cycles=30, **small)
    parallel_api_test(env, num_cycles=15)
    env = warehouse_v0.parallel_env(motion="rotate", max_cycles=30, view_radius=2, **small)
    obs, _ = env.reset(seed=0)
    assert env.action_space("robot_0").n == 4
    assert env.observation_space("robot_0").shape == (3 * 25 + 12,)
    heading = env.layout.view(obs["robot_0"], "heading")
    assert heading.tolist() == [1.0, 0.0, 0.0, 0.0]  # facing east
    env.step(dict.fromkeys(env.agents, CLOCKWISE))
    assert env.model.world.heading.tolist() == [1] * 6
    with pytest.raises(ValueError):
        env.step(dict.fromkeys(env.agents, 4))
    assert (
        env.encoder(env.model.observe(radio=False)).tolist()
        == env.encoder.reference(env.model.observe(radio=False)).astype(np.float32).tolist()
    )


def test_the_global_state_carries_the_headings_under_rotation() -> None:
    """A centralised critic needs what each robot can do next: its heading, one-hot."""
    from envs.warehouse_v0 import parallel_env

    env = parallel_env(n_agents=20, motion="rotate")
    env.reset(seed=0)
    for step in range(3):  # robot i turns clockwise i mod 4 times: every heading
        env.step({agent: 2 if step < i % 4 else 0 for i, agent in enumerate(env.agents)})
    state = env.state()
    heading = env.state_layout.view(state[None], "heading")[0]
    assert len(set(env.model.world.heading.tolist())) > 1
    np.testing.assert_array_equal(heading.argmax(axis=1), env.model.world.heading)
    assert state.shape == env.state_space.shape
