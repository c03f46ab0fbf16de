"""One way to apply a step: the Mesa model, the PettingZoo env and the batched env all apply a
:class:`~swarm.policy.Decision` through the same function (drones:
``Swarm.apply_decision``; grid robots: ``WarehouseModel.apply``), and ``step_with`` is a
model's step with a learner's actions in place of the controller's."""

import numpy as np
import pytest

from envs import navigation_v0, warehouse_v0
from envs.warehouse import WarehouseModel
from swarm.engine import Swarm
from swarm.grid.layout import LayoutParams
from swarm.marl.batched import BatchedSwarmEnv
from swarm.model import SwarmModel
from swarm.registry import scenario_class

LAYOUT = LayoutParams(block_rows=2, block_cols=3, shelf_width=4)


@pytest.fixture
def applied(monkeypatch):
    """Count the calls of the functions that apply a step."""
    calls = {"drones": 0, "robots": 0}
    drones, robots = Swarm.apply_decision, WarehouseModel.apply

    def count_drones(self, *args, **kwargs):
        calls["drones"] += 1
        return drones(self, *args, **kwargs)

    def count_robots(self, *args, **kwargs):
        calls["robots"] += 1
        return robots(self, *args, **kwargs)

    monkeypatch.setattr(Swarm, "apply_decision", count_drones)
    monkeypatch.setattr(WarehouseModel, "apply", count_robots)
    return calls


def test_every_way_of_stepping_drones_applies_a_decision_through_the_engine(applied):
    model = scenario_class("navigation")(rng=0, n_agents=4)
    model.step()
    env = navigation_v0.parallel_env(n_agents=4, max_cycles=5)
    env.reset(seed=0)
    env.step({a: env.action_space(a).sample() for a in env.agents})
    batched = BatchedSwarmEnv("navigation", n_envs=3, n_agents=4)
    batched.reset(seed=0)
    batched.step(np.zeros((3, 4, 2), np.float32))
    assert applied["drones"] == 3


def test_every_way_of_stepping_robots_applies_a_decision_through_the_model(applied):
    model = WarehouseModel(rng=0, n_agents=6, layout=LAYOUT)
    model.step()
    env = warehouse_v0.parallel_env(n_agents=6, layout=LAYOUT, max_cycles=5)
    env.reset(seed=0)
    env.step(dict.fromkeys(env.agents, 0))
    assert applied["robots"] == 2


def test_step_with_the_controllers_own_actions_is_its_step():
    """Greedy yielding keeps no memory, so its actions given from outside step the world
    exactly as the model's own step does (same allocation, same moves)."""
    a = WarehouseModel(rng=5, n_agents=10, layout=LAYOUT, policy="greedy_yield")
    b = WarehouseModel(rng=5, n_agents=10, layout=LAYOUT, policy="greedy_yield")
    for _ in range(30):
        a.step()
        b.step_with(b.policy.act(b.observe()))
        np.testing.assert_array_equal(a.world.cell, b.world.cell)
    assert a.metrics["tasks_finished"] == b.metrics["tasks_finished"]


def test_drone_step_with_external_accelerations_moves_like_the_engine():
    model = SwarmModel(rng=1, n_agents=5, policy="boids")
    accel = np.tile([[0.5, -0.25]], (5, 1))
    engine = Swarm(model.config, np.random.default_rng(0))
    engine.pos[:], engine.vel[:] = model.engine.pos, model.engine.vel
    engine.invalidate()
    model.step_with(accel)
    engine.apply(accel)
    np.testing.assert_array_equal(model.engine.pos, engine.pos)
