"""The antipodal crossing (envs.crossing) and its controller (policies.goto): the ring and
its goals, collisions counted along each step, the metrics, the env's reward, and the known
result: behind ORCA nobody collides, without it everybody does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs import crossing_v0
from envs.crossing import CrossingModel
from swarm.cli import main
from swarm.config import ConfigError
from swarm.experiment import run_experiment
from swarm.experiments.spec import load_spec

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def run_until_arrived(model: CrossingModel, limit: int) -> CrossingModel:
    for _ in range(limit):
        model.step()
        if not np.isnan(model.metrics["time_to_goal"]):
            break
    return model


def test_drones_start_on_a_sparse_ring_and_head_for_the_antipodal_point():
    model = CrossingModel(n_agents=100, world_size=60.0, rng=3)
    pos, goal = model.engine.pos, model.scenario.goal
    centre = np.array([30.0, 30.0])
    radius = np.linalg.norm(pos - centre, axis=1)
    assert np.abs(radius - 27.0).max() <= np.sqrt(2) * 0.05 + 1e-12  # ring of 0.45 L, jitter
    np.testing.assert_allclose(goal - centre, -(pos - centre))  # antipodal
    gaps = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(100) * 1e9
    assert gaps.min() >= 3 * model.config.collision_radius
    np.testing.assert_array_equal(model.observe().own["goal"], goal)
    again = CrossingModel(n_agents=100, world_size=60.0, rng=3).engine.pos
    other = CrossingModel(n_agents=100, world_size=60.0, rng=4).engine.pos
    np.testing.assert_array_equal(again, pos)  # the jitter comes from the seed
    assert not np.array_equal(other, pos)


def test_goto_flies_straight_to_its_goal_and_stops_on_it():
    model = CrossingModel(n_agents=2, world_size=12.0, ring_radius=5.0, jitter=0.0, rng=0)
    start = model.engine.pos.copy()
    assert np.isnan(model.metrics["time_to_goal"]) and model.metrics["arrived_fraction"] == 0
    for _ in range(400):
        model.step()
        path = model.engine.pos - start
        heading = (model.scenario.goal - start) / 10.0
        across = path[:, 0] * heading[:, 1] - path[:, 1] * heading[:, 0]
        np.testing.assert_allclose(across, 0.0, atol=1e-9)  # a straight line
    np.testing.assert_allclose(model.engine.pos, model.scenario.goal, atol=1e-9)
    np.testing.assert_allclose(model.engine.vel, 0.0, atol=1e-9)
    metrics = model.metrics
    assert metrics["arrived_fraction"] == 1.0
    # within 0.5 m of the goal: 8.5 m at 3 m/s (283 steps), then braking at 3 m/s^2 from
    # 1.5 m to 0.5 m: (2 / sqrt 6)(sqrt 1.5 - sqrt 0.5) = 0.42 s
    assert metrics["time_to_goal"] == pytest.approx(283 + 42, abs=2)


def test_a_pair_that_crosses_within_one_step_is_a_collision():
    """At 10 m/s and dt 0.1 two drones 0.9 m apart swap places in one step and end it 1.1 m
    apart: only the check along the step sees them pass 0.05 m from each other."""
    model = CrossingModel(n_agents=2, world_size=20.0, ring_radius=5.0, jitter=0.0,
                          max_speed=10.0, dt=0.1, policy_params={"decel": 1000.0},
                          rng=0)  # fmt: skip
    engine = model.engine
    engine.pos[:] = [[9.55, 10.0], [10.45, 10.05]]
    model.scenario.goal[:] = [[19.0, 10.0], [1.0, 10.05]]
    engine.invalidate()
    model.step()
    assert np.linalg.norm(engine.pos[0] - engine.pos[1]) > 1.0
    metrics = model.metrics
    assert metrics["collisions"] == 1 and metrics["collisions_total"] == 1
    assert metrics["min_separation"] == pytest.approx(0.05)
    model.step()
    assert model.metrics["collisions"] == 0 and model.metrics["collisions_total"] == 1


@pytest.mark.parametrize("seed", [0, 3])
def test_behind_orca_nobody_collides_and_without_it_the_crossing_does(seed):
    safe = run_until_arrived(CrossingModel(n_agents=100, safety="orca", rng=seed), 5000)
    summary = safe.summary()
    assert summary["collisions_total"] == 0
    assert summary["closest_approach"] >= 0.3
    assert summary["arrived_fraction"] == 1.0 and summary["time_to_goal"] is not None
    assert summary["mean_intervention"] > 0
    plain = run_until_arrived(CrossingModel(n_agents=100, rng=seed), 5000).summary()
    assert plain["collisions_total"] > 1000 and plain["mean_intervention"] == 0.0
    assert plain["time_to_goal"] < summary["time_to_goal"]  # the detours cost time


def test_the_experiment_reproduces_the_result_on_a_reduced_run(tmp_path):
    """experiments/crossing.toml at 100 drones, 2 seeds: ORCA 0 collisions, nobody closer
    than the collision radius, everyone arrived; without it every pair collides."""
    spec = load_spec(
        EXPERIMENTS / "crossing.toml",
        ["steps=3000", "seeds=2", "sweep.points=[{n_agents=100, world_size=60.0}]"],
    )
    table = run_experiment(spec, tmp_path, "serial", progress=False).table
    assert (table["status"] == "ok").all(), table["error"].dropna().tolist()
    safe, plain = table[table["safety"] == "orca"], table[table["safety"] == "none"]
    assert (safe["final_collisions_total"] == 0).all()
    assert (safe["final_closest_approach"] >= 0.3).all()
    assert (safe["final_arrived_fraction"] == 1.0).all()
    assert (plain["final_collisions_total"] == 100 * 99 / 2).all()


@pytest.mark.slow
def test_a_thousand_drones_cross_behind_orca_without_a_collision():
    model = CrossingModel(n_agents=1000, world_size=400.0, safety="orca", rng=0)
    summary = run_until_arrived(model, 25000).summary()
    assert summary["collisions_total"] == 0 and summary["arrived_fraction"] == 1.0


def test_a_crowded_ring_fails_with_one_line_naming_it():
    with pytest.raises(ConfigError) as err:
        CrossingModel(n_agents=1000, world_size=60.0, rng=0)
    message = str(err.value)
    assert "\n" not in message and "ring_radius" in message and "world_size >=" in message
    with pytest.raises(ConfigError, match="ring_radius"):
        CrossingModel(world_size=60.0, ring_radius=30.0, rng=0)


def test_run_writes_the_crossing_summary(tmp_path):
    out = tmp_path / "run"
    code = main(["run", "crossing", "--agents", "20", "--steps", "30", "--set", "safety=orca",
                 "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("collisions_total", "closest_approach", "arrived_fraction", "time_to_goal",
                "mean_intervention"):  # fmt: skip
        assert key in summary
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["safety"] == "orca" and config["policy"] == "goto"


def test_env_reward_is_progress_minus_contacts():
    env = crossing_v0.parallel_env(n_agents=2, world_size=12.0, ring_radius=5.0, jitter=0.0,
                                   max_cycles=50)  # fmt: skip
    obs, _ = env.reset(seed=0)
    goal = env.unwrapped.layout.view(obs["drone_0"], "goal_rel_pos")
    np.testing.assert_allclose(np.linalg.norm(goal), 10.0, rtol=1e-6)
    push = {a: env.unwrapped.layout.view(obs[a], "goal_rel_pos") * 100.0 for a in env.agents}
    bound = env.unwrapped.core.bound
    actions = {a: np.clip(v, -bound, bound).astype(np.float32) for a, v in push.items()}
    _, rewards, *_ = env.step(actions)
    for agent in env.agents:
        assert rewards[agent] == pytest.approx(3.0 * 0.01, rel=1e-6)  # top speed toward goal
