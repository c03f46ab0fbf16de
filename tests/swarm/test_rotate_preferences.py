"""The compiled rotate-model preferences (``swarm.grid.policy.rotate_preferences``) give the
same candidates and turns, to the bit, as the numpy version they replaced, kept here as the
reference: with and without guidance, robots with and without goals, every heading; and
what a higher ``wait_cost`` changes (the own cell's cost only)."""

from __future__ import annotations

import numpy as np
import pytest

from envs.warehouse import WarehouseModel
from swarm.grid.policy import CODE_HEADING, rotate_preferences
from swarm.grid.world import CLOCKWISE, COUNTER_CLOCKWISE, HEADING_MOVE, WAIT
from swarm.rng import keyed_uniform


def _quarters(down: np.ndarray, heading: np.ndarray) -> np.ndarray:
    diff = np.abs(np.arange(4)[None, :] - heading[:, None])
    q = np.where(down, np.minimum(diff, 4 - diff), 9)
    out = q.min(axis=1)
    return np.where(out == 9, 0, out)


def numpy_rotate_preferences(obs, seed: int, turn_cost: int = 1, wait_cost: int = 1):
    """The numpy version the compiled one replaced (8451d7c's ``rotate_preferences``), with
    the step in place costing ``wait_cost`` instead of 1."""
    bank, slot = obs.known["bank"], obs.own["goal_slot"]
    guide = obs.known.get("guide")
    field = bank if guide is None else guide  # what d reads: hops, or guided costs
    nbr = obs.known["grid"].neighbors
    heading = obs.own["heading"].astype(np.int64)
    n = obs.n
    rows = np.arange(n)
    fcell = obs.own["fcell"]
    cand = nbr[fcell].astype(np.int64)  # (R, 5) by move code
    has = slot >= 0
    dist = np.zeros(cand.shape, np.int64)
    dist[has] = field.lookup(slot[has, None], cand[has])
    dist[cand < 0] = field.unreached
    ahead_code = HEADING_MOVE[heading]
    ahead = cand[rows, ahead_code]
    if guide is None:
        step_own = step_ahead = np.ones((n, 5), np.int64)
    else:
        step_own, step_ahead = guide.cost[fcell], guide.cost[np.maximum(ahead, 0)]
    # downhill headings (R, 4) at the own cell and at the cell ahead
    down_own = np.zeros((n, 4), bool)
    down_own[:, CODE_HEADING[1:]] = (cand[:, 1:] >= 0) & (
        step_own[:, 1:] + dist[:, 1:] == dist[:, :1]
    )
    nxt = nbr[np.maximum(ahead, 0)].astype(np.int64)
    d_nxt = np.zeros(nxt.shape, np.int64)
    d_nxt[has] = field.lookup(slot[has, None], nxt[has])
    d_nxt[nxt < 0] = field.unreached
    down_ahead = np.zeros((n, 4), bool)
    down_ahead[:, CODE_HEADING[1:]] = (nxt[:, 1:] >= 0) & (
        step_ahead[:, 1:] + d_nxt[:, 1:] == d_nxt[:, :1]
    )
    q_cw = _quarters(down_own, (heading + 1) % 4)
    q_ccw = _quarters(down_own, (heading + 3) % 4)
    tie = keyed_uniform(seed, obs.step, obs.ids[:, None], np.arange(6)[None, :])
    clockwise = (q_cw < q_ccw) | ((q_cw == q_ccw) & (tie[:, 5] < 0.5))
    at_goal = has & (dist[:, 0] == 0)
    cost = np.empty((n, 5))
    quarter = (CODE_HEADING[None, 1:] - heading[:, None]) % 4
    quarter = np.minimum(quarter, 4 - quarter)
    cost[:, 1:] = step_own[:, 1:] + dist[:, 1:] + turn_cost * (quarter + 1) + 0.5 * tie[:, 1:5]
    v_ahead = dist[rows, ahead_code] + turn_cost * _quarters(down_ahead, heading)
    cost[rows, ahead_code] = step_own[rows, ahead_code] + v_ahead
    cost[:, 0] = np.where(
        at_goal, 0.0, wait_cost + dist[:, 0] + turn_cost * np.minimum(q_cw, q_ccw)
    )
    cost[:, 0] += 0.25  # forward wins ties with staying; staying wins ties with turning
    no_goal = np.where(np.arange(5) == 0, 0.0, 1.0)[None, :] + 0.5 * tie[:, :5]
    cost[~has] = no_goal[~has]
    cost[cand < 0] = np.inf
    order = np.argsort(cost, axis=1, kind="stable")
    prefs = np.where(np.isfinite(cost[rows[:, None], order]), cand[rows[:, None], order], -1)
    forward_best = cost[rows, ahead_code] <= cost[:, 0]
    idle = ~has | at_goal | forward_best | ~down_own.any(axis=1)
    stay_turn = np.where(idle, WAIT, np.where(clockwise, CLOCKWISE, COUNTER_CLOCKWISE))
    return prefs, stay_turn


@pytest.mark.parametrize("guidance", ["none", "crisscross", "flow"])
@pytest.mark.parametrize(("turn_cost", "wait_cost"), [(0, 1), (1, 1), (2, 1), (1, 2), (2, 3)])
def test_compiled_preferences_are_the_numpy_ones(guidance, turn_cost, wait_cost):
    extra = {} if guidance == "none" else {"guidance": guidance, "guidance_weight": 4}
    model = WarehouseModel(n_agents=120, motion="rotate", policy="pibt", rng=3, **extra)
    rng = np.random.default_rng(turn_cost)
    checked = 0
    for step in range(25):
        obs = model.observe(radio=False)
        if step % 5 == 0:  # every heading, whatever the run has reached
            obs.own["heading"] = rng.integers(0, 4, obs.n).astype(obs.own["heading"].dtype)
        if step % 5 == 1:  # robots without a goal (new arrays: the world's stay as they are)
            obs.own["goal_slot"] = np.where(rng.random(obs.n) < 0.3, -1, obs.own["goal_slot"])
        for seed in (0, 7):
            got = rotate_preferences(obs, seed, turn_cost, wait_cost)
            want = numpy_rotate_preferences(obs, seed, turn_cost, wait_cost)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
            checked += obs.n
        model.step()
    assert checked == 25 * 2 * 120


def test_a_costlier_wait_ranks_a_side_cell_before_the_own_cell_only_away_from_the_goal():
    """A higher ``wait_cost`` moves the own cell down the list (never at the goal), and the
    other candidates keep their order."""
    model = WarehouseModel(n_agents=120, motion="rotate", policy="pibt", rng=3)
    for _ in range(5):
        model.step()
    obs = model.observe(radio=False)
    # a sixth of the robots stand on their goals (preferences are each robot's own)
    on_goal = (np.arange(obs.n) % 6 == 0) & (obs.own["goal_slot"] >= 0)
    obs.own["fcell"] = np.where(on_goal, obs.own["goal_f"], obs.own["fcell"])
    plain, _ = rotate_preferences(obs, 0, 1, 1)
    costly, _ = rotate_preferences(obs, 0, 1, 3)
    at_goal = obs.own["fcell"] == obs.own["goal_f"]

    def own_rank(prefs):
        return np.argmax(prefs == obs.own["fcell"][:, None], axis=1)

    assert (own_rank(costly) >= own_rank(plain)).all()
    moved_down = own_rank(costly) > own_rank(plain)
    assert moved_down.sum() > 10 and not (moved_down & at_goal).any()
    assert at_goal.sum() >= 15 and (own_rank(costly)[at_goal] == 0).all()
    for a, b, own in zip(plain, costly, obs.own["fcell"], strict=True):  # the rest in order
        assert [c for c in a if c != own] == [c for c in b if c != own]
