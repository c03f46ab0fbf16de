"""Cooperative navigation: landmark sensing is local, messages carry landmarks between
neighbours, and the reward is simple_spread's (checked against hand-computed values)."""

import numpy as np
import pytest

from envs.navigation import NavigationConfig, NavigationModel
from swarm.config import ConfigError
from swarm.marl import BatchedSwarmEnv, SwarmParallelEnv


def place(model_or_env, pos, landmarks, vel=None):
    """Put drones and landmarks of env 0 where a test wants them."""
    engine = model_or_env.engine
    engine.pos[:] = pos
    engine.vel[:] = 0.0 if vel is None else vel
    scenario = engine.scenario
    scenario.landmarks[0] = landmarks
    engine.invalidate()
    return engine, scenario


def test_defaults_follow_simple_spread():
    c = NavigationConfig()
    assert c.n_agents == 3 and c.landmark_count == 3 and c.local_ratio == 0.5
    assert c.landmark_reach == c.sense_radius and c.boundary == "box"
    with pytest.raises(ConfigError, match="local_ratio"):
        NavigationConfig.build("navigation", local_ratio=1.5)


def test_drones_sense_only_landmarks_within_range_nearest_first():
    model = NavigationModel(n_agents=2, n_landmarks=3, landmark_range=2.0, landmark_slots=3,
                            world_size=10.0, rng=0)  # fmt: skip
    engine, _ = place(
        model, pos=[[1.0, 1.0], [9.0, 9.0]], landmarks=[[2.5, 1.0], [1.0, 2.0], [5.0, 5.0]]
    )
    own = engine.obs.own
    assert np.allclose(own["landmark_rel_pos"][0], [[0.0, 1.0], [1.5, 0.0], [0.0, 0.0]])
    assert own["landmark_mask"][0].tolist() == [1.0, 1.0, 0.0]
    assert not own["landmark_mask"][1].any() and not own["landmark_rel_pos"][1].any()


def test_reward_is_simple_spreads_shared_coverage_plus_own_collisions():
    env = SwarmParallelEnv("navigation", n_agents=3, world_size=10.0, collision_radius=0.3)
    env.reset(seed=0)
    # drone 0 on landmark 0; drones 1 and 2 collide 0.2 m apart, 3 m and 4 m from landmark 1;
    # landmark 2 is 5 m from drone 2 and farther from the others
    pos = [[1.0, 1.0], [5.0, 5.0], [5.0, 5.2]]
    landmarks = [[1.0, 1.0], [8.0, 5.0], [5.0, 0.2]]
    engine, scenario = place(env, pos, landmarks)
    d = lambda p, q: float(np.hypot(*(np.subtract(p, q))))  # noqa: E731
    coverage = 0.0 + 3.0 + min(d(p, landmarks[2]) for p in pos)
    assert scenario.coverage_cost(engine)[0] == pytest.approx(coverage)
    reward = scenario.reward(engine, np.zeros((3, 2)))
    assert reward == pytest.approx([-0.5 * coverage, -0.5 * coverage - 0.5, -0.5 * coverage - 0.5])
    assert scenario.landmarks_covered(engine)[0] == pytest.approx(1 / 3)


def test_crashed_drones_no_longer_cover_landmarks():
    model = NavigationModel(n_agents=2, n_landmarks=1, world_size=10.0, rng=0)
    engine, scenario = place(model, pos=[[1.0, 1.0], [6.0, 1.0]], landmarks=[[1.0, 1.0]])
    assert scenario.coverage_cost(engine)[0] == pytest.approx(0.0)
    engine.crash([0])
    assert scenario.coverage_cost(engine)[0] == pytest.approx(5.0)


def test_messages_tell_a_neighbour_where_my_landmark_is_relative_to_it():
    """Drone 1 cannot sense the landmark (4 m away, range 3 m) but drone 0 can, and its
    message arrives one step later, read relative to drone 1's new position."""
    cfg = dict(n_agents=2, n_landmarks=1, world_size=10.0, sense_radius=3.0, comm_radius=5.0)
    env = SwarmParallelEnv("navigation", k_neighbors=1, inbox_slots=2, **cfg)
    env.reset(seed=0)
    place(env, pos=[[3.0, 5.0], [1.0, 5.0]], landmarks=[[5.0, 5.0]])
    obs, *_ = env.step({"drone_0": np.zeros(2), "drone_1": np.zeros(2)})
    x = obs["drone_1"]
    assert not env.layout.view(x, "landmark_mask").any()  # out of its own range
    inbox, mask = env.layout.view(x, "inbox"), env.layout.view(x, "inbox_mask")
    assert mask.tolist() == [1.0, 0.0]
    own = env.engine.pos[1]
    assert np.allclose(inbox[0], [5.0 - own[0], 5.0 - own[1], 2.0, 1.0], atol=1e-5)


def test_spawn_for_some_envs_keeps_the_other_envs_landmarks():
    env = BatchedSwarmEnv("navigation", n_envs=3, n_agents=2)
    env.reset(seed=1)
    before = env.core.scenario.landmarks.copy()
    env.core.restart(np.array([1]))
    after = env.core.scenario.landmarks
    assert np.array_equal(after[[0, 2]], before[[0, 2]]) and not np.array_equal(after[1], before[1])


def test_mesa_model_runs_with_its_default_controller_and_reports_metrics():
    model = NavigationModel(n_agents=4, rng=2)
    for _ in range(5):
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    assert list(df.columns) == [
        "coverage_cost", "landmarks_covered", "collisions", "n_components", "n_alive",
        "messages_sent", "bytes_sent", "message_rounds", "message_hops",
    ]  # fmt: skip
    assert len(df) == 6 and (df["coverage_cost"] > 0).all()
