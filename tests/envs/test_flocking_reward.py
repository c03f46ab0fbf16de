"""Flocking's learning reward (alignment + cohesion - collisions) on hand-made formations."""

import numpy as np
import pytest

from envs.flocking import Flocking, FlockingModel


def reward_for(pos, vel, **cfg):
    model = FlockingModel(n_agents=len(pos), world_size=50.0, boundary="box", rng=0, **cfg)
    engine = model.engine
    engine.pos[:] = pos
    engine.vel[:] = vel
    engine.invalidate()
    engine.obs  # noqa: B018 - sense the hand-made state
    return model.scenario.reward(engine, np.zeros((len(pos), 2)))


def test_a_line_flying_in_step_gets_full_alignment_and_cohesion_by_position():
    pos = [[10.0, 10.0], [11.0, 10.0], [12.0, 10.0]]
    r = reward_for(pos, [[1.0, 0.0]] * 3)  # sense_radius 5: everyone sees everyone
    # ends: neighbours' centre 1.5 m away -> cohesion -1.5/5; the middle drone is centred
    assert r == pytest.approx([1.0 - 0.3, 1.0, 1.0 - 0.3])


def test_opposite_headings_are_penalised_and_a_lonely_drone_gets_minus_one():
    r = reward_for([[10.0, 10.0], [12.0, 10.0], [40.0, 40.0]], [[1, 0], [-1, 0], [1, 0]])
    assert r == pytest.approx([-1.0 - 0.4, -1.0 - 0.4, -Flocking.COHESION_WEIGHT])


def test_collisions_cost_one_per_drone_too_close():
    r = reward_for([[10.0, 10.0], [10.1, 10.0]], [[1.0, 0.0]] * 2, collision_radius=0.3)
    assert r == pytest.approx([1.0 - 0.02 - 1.0] * 2)


def test_crashed_drones_get_no_reward():
    model = FlockingModel(n_agents=5, rng=0)
    model.engine.crash([1])
    assert model.scenario.reward(model.engine, np.zeros((5, 2)))[1] == 0.0
