"""The Mesa view: handles read and write the arrays, DataCollector, batch_run, per-agent path."""

import mesa
import numpy as np
import pytest
from mesa.agent import AgentSet

from envs.flocking import FlockingModel
from policies.boids import BoidsParams, boids_decide
from swarm.model import Drone


def test_agents_are_mesa_agents_in_row_order():
    model = FlockingModel(n_agents=12, rng=0)
    assert isinstance(model.agents, AgentSet) and len(model.agents) == 12
    assert [a.row for a in model.agents] == list(range(12))
    assert all(isinstance(a, Drone) for a in model.agents)


def test_handles_never_drift_from_the_arrays():
    model = FlockingModel(n_agents=30, world_size=20.0, rng=1)
    for _ in range(5):
        model.step()
    for drone in model.agents:
        np.testing.assert_array_equal(drone.pos, model.engine.pos[drone.row])
        np.testing.assert_array_equal(drone.vel, model.engine.vel[drone.row])
        assert drone.alive == model.engine.alive[drone.row]


def test_setting_pos_moves_the_drone_and_what_others_sense():
    model = FlockingModel(n_agents=20, world_size=50.0, sense_radius=2.0, rng=2)
    target = model.drones[0]
    mover = model.drones[1]
    mover.pos = target.pos + np.array([0.5, 0.0]) if target.pos[0] < 49 else target.pos - 0.5
    np.testing.assert_array_equal(model.engine.pos[1], mover.pos)
    assert mover in target.neighbors
    assert 1 in set(model.comm_graph.neighbors(0))
    obs = model.observe().for_agent(0)
    assert 1 in obs.neighbor_ids.tolist()


def test_bad_handle_writes_are_rejected():
    model = FlockingModel(n_agents=3, world_size=10.0, rng=0)
    with pytest.raises(ValueError, match="outside the arena"):
        model.drones[0].pos = (11.0, 1.0)
    with pytest.raises(ValueError, match="2 finite numbers"):
        model.drones[0].vel = (np.nan, 1.0)


def test_datacollector_records_every_metric_every_step():
    model = FlockingModel(n_agents=40, rng=0)
    for _ in range(7):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 8  # initial state + 7 steps
    assert {"polarization", "cohesion", "min_separation", "collisions", "n_components"} <= set(
        frame.columns
    )
    assert frame["polarization"].between(0, 1).all()


def test_batch_run_works_on_the_scenario_model():
    results = mesa.batch_run(
        FlockingModel,
        parameters={"n_agents": [10, 20], "rng": [0, 1]},
        max_steps=3,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    assert len(results) == 4
    assert {r["n_agents"] for r in results} == {10, 20}
    assert all("polarization" in r for r in results)


def test_policy_and_observe_do_not_advance_the_model():
    model = FlockingModel(n_agents=30, rng=0)
    model.step()
    before = model.engine.pos.copy()
    obs = model.observe()
    a1 = model.policy(obs)
    a2 = model.policy.act(obs)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(model.engine.pos, before)
    assert model.steps == 1 and model.engine.t == 1


class ReadableBoid(Drone):
    """The slow, readable path: one drone decides from its own observation."""

    params = BoidsParams()

    def decide(self, obs):
        return boids_decide(obs, self.params)


def test_per_agent_drones_fly_exactly_like_the_vectorised_policy():
    kw = dict(n_agents=40, world_size=15.0, policy="boids", rng=9)
    fast = FlockingModel(**kw)
    slow = FlockingModel(agent_class=ReadableBoid, **kw)
    for _ in range(30):
        fast.step()
        slow.step()
    np.testing.assert_allclose(slow.engine.pos, fast.engine.pos, rtol=0, atol=1e-9)


def test_handles_are_made_only_when_asked_for():
    model = FlockingModel(n_agents=50, rng=0)
    model.step()
    assert model._drones is None
    assert len(model.agents) == 50
