"""Formation's learning reward and readings: local (a far drone changes nothing), the right
sign (a drone in its slot scores higher than a displaced one), and slots given at take-off
with ``assignment="spawn"`` (the least total distance, conflict-free)."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from envs.formation import Formation, FormationModel

CFG = dict(world_size=30.0, sense_radius=4.0, spawn_extent=20.0, assignment="spawn")


def sensed(model: FormationModel) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(reward (R,), the drone's readings) of the model's current, possibly edited, state."""
    engine = model.engine
    engine.invalidate()
    obs = engine.obs
    return model.scenario.reward(engine, np.zeros((engine.rows, 2))), obs.own


def in_shape(n: int = 9, **cfg) -> FormationModel:
    """Every drone exactly at its slot (a 3 x 3 grid at the anchor), hovering."""
    model = FormationModel(n_agents=n, rng=0, **{**CFG, **cfg})
    engine = model.engine
    slot = engine.agent_state["slot"]
    engine.pos[:] = np.asarray(model.config.anchor) + model.scenario.slots[slot]
    engine.vel[:] = 0.0
    return model


def test_spawn_assignment_is_the_least_total_distance_and_conflict_free():
    model = FormationModel(n_agents=25, rng=3, **CFG)
    engine, scenario = model.engine, model.scenario
    slot = engine.agent_state["slot"]
    assert sorted(slot) == list(range(25))
    assert scenario.assigned(engine)[0] == 1.0 and scenario.conflicts(engine)[0] == 0
    cost = cdist(engine.pos, np.asarray(model.config.anchor) + scenario.slots)
    rows, cols = linear_sum_assignment(cost)
    assert cost[np.arange(25), slot].sum() == pytest.approx(cost[rows, cols].sum())
    # each drone's auction tables say it won its own slot and nothing else
    won = engine.agent_state["slot_winner"]
    assert (won[np.arange(25), slot] == engine.ids).all() and (won >= 0).sum() == 25


def test_the_auction_default_assigns_nothing_at_take_off():
    model = FormationModel(n_agents=9, rng=0, **{**CFG, "assignment": "auction"})
    reward, own = sensed(model)
    assert (model.engine.agent_state["slot"] == -1).all()
    assert reward == pytest.approx(np.full(9, -1.0))  # no slot: the worst displacement term
    assert (own["slot_held"] == 0).all() and (own["slot_error"] == 0).all()


def test_a_drone_in_its_slot_scores_higher_than_a_displaced_one():
    model = in_shape()
    reward, own = sensed(model)
    assert reward == pytest.approx(np.zeros(9), abs=1e-12)  # the best there is
    assert np.abs(own["slot_error"]).max() < 1e-12 and (own["slot_held"] == 1).all()
    centre = int(np.flatnonzero(model.engine.agent_state["slot"] == 4)[0])  # middle of 3 x 3
    model.engine.pos[centre] += [0.6, 0.0]
    moved, own = sensed(model)
    assert moved[centre] < reward[centre] and moved[centre] == pytest.approx(-0.6 / 4.0)
    others = np.arange(9) != centre
    assert (moved[others] < 0).all()  # each neighbour sees one displacement among eight
    # the reading points where the drone should go: its neighbours' displacements say
    # "0.6 m to the left of where you are"
    assert own["slot_error"][centre] == pytest.approx([-0.6, 0.0])


def test_a_lone_drone_and_collisions_are_penalised():
    model = in_shape()
    engine = model.engine
    engine.pos[0] = [1.0, 1.0]  # far from everyone: nobody with a slot in sight
    reward, own = sensed(model)
    assert reward[0] == -1.0 and own["slot_peers"][0] == 0
    model = in_shape()
    a, b = 0, 1
    model.engine.pos[b] = model.engine.pos[a] + [0.1, 0.0]  # closer than collision_radius
    reward, _ = sensed(model)
    assert reward[a] < -Formation.COLLISION_PENALTY


def test_reward_and_readings_are_local_a_far_drone_changes_nothing():
    model = FormationModel(n_agents=40, rng=1, **CFG)
    engine = model.engine
    before, own = sensed(model)
    before_error = own["slot_error"].copy()
    pos = engine.pos.copy()
    dist = cdist(pos, pos)
    # a pair (i, far) with far beyond sensing range of i and of i's neighbours (both before
    # and after the move), so nothing i senses changes
    reach = model.config.sense_radius
    i, far = next((i, j) for i in range(40) for j in range(40) if dist[i, j] > 3 * reach + 1.0)
    engine.pos[far] += np.sign(pos[far] - pos[i]) * 0.5  # further away still, 0.5 m a side
    engine.vel[far] = [2.0, -1.0]
    after, own = sensed(model)
    assert after[i] == before[i]
    assert (own["slot_error"][i] == before_error[i]).all()


def test_crashed_drones_get_no_reward():
    model = FormationModel(n_agents=9, rng=0, **CFG)
    model.engine.crash([2])
    reward, _ = sensed(model)
    assert reward[2] == 0.0
