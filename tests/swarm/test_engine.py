"""Determinism, dynamics limits, arena boundaries, faults and action validation."""

import numpy as np
import pytest

from envs.flocking import FlockingModel
from swarm.dynamics import integrate
from swarm.engine import SwarmConfig


def trajectory(seed, steps=200, **cfg):
    model = FlockingModel(rng=seed, **cfg)
    for _ in range(steps):
        model.step()
    return model.engine.pos.copy(), model.engine.vel.copy(), model.engine.alive.copy()


NOISY = dict(
    n_agents=60, world_size=20.0, sensor_noise_pos=0.1, sensor_noise_vel=0.05, packet_drop=0.2,
    crash_rate=0.002, fov_deg=300.0,
)  # fmt: skip


@pytest.mark.parametrize("policy", ["boids", "vicsek", "olfati_saber"])
def test_same_seed_same_trajectory_bit_for_bit(policy):
    a = trajectory(11, policy=policy, **NOISY)
    b = trajectory(11, policy=policy, **NOISY)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_different_seeds_differ():
    a = trajectory(1, steps=20, **NOISY)
    b = trajectory(2, steps=20, **NOISY)
    assert not np.array_equal(a[0], b[0])


def test_speed_and_acceleration_limits_hold():
    pos = np.zeros((3, 2)) + 5.0
    vel = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    accel = np.array([[100.0, 0.0], [0.0, 1.0], [3.0, 4.0]])
    integrate(pos, vel, accel, np.ones(3, bool), dt=0.1, max_speed=2.0, max_accel=2.0,
              world_size=10.0, torus=True)  # fmt: skip
    np.testing.assert_allclose(vel[0], [1.2, 0.0])  # accel clipped to 2 m/s^2
    np.testing.assert_allclose(vel[1], [0.0, 0.1])
    np.testing.assert_allclose(np.linalg.norm(vel[2]), 0.2)
    np.testing.assert_allclose(pos[0], [5.12, 5.0])  # semi-implicit Euler


def test_box_walls_reflect_and_torus_wraps():
    pos = np.array([[9.95, 5.0]])
    vel = np.array([[1.0, 0.0]])
    integrate(pos, vel, np.zeros((1, 2)), np.ones(1, bool), 0.1, 5.0, 5.0, 10.0, torus=False)
    np.testing.assert_allclose(pos, [[9.95, 5.0]])
    np.testing.assert_allclose(vel, [[-1.0, 0.0]])
    pos = np.array([[9.95, 5.0]])
    vel = np.array([[1.0, 0.0]])
    integrate(pos, vel, np.zeros((1, 2)), np.ones(1, bool), 0.1, 5.0, 5.0, 10.0, torus=True)
    np.testing.assert_allclose(pos, [[0.05, 5.0]], atol=1e-12)


def test_speeds_stay_within_limit_over_a_run():
    model = FlockingModel(n_agents=100, world_size=20.0, boundary="box", rng=3)
    for _ in range(50):
        model.step()
        speed = np.linalg.norm(model.engine.vel, axis=1)
        assert speed.max() <= model.config.max_speed + 1e-9
        assert (model.engine.pos >= 0).all() and (model.engine.pos <= 20.0).all()


def test_crashed_drones_stop_sense_nothing_and_are_not_sensed():
    model = FlockingModel(n_agents=50, world_size=10.0, crash_at={3: [0, 7]}, rng=0)
    for _ in range(3):
        model.step()
    engine = model.engine
    assert not engine.alive[[0, 7]].any() and engine.alive.sum() == 48
    frozen = engine.pos[[0, 7]].copy()
    for _ in range(5):
        model.step()
    np.testing.assert_array_equal(engine.pos[[0, 7]], frozen)
    nb = model.observe().neighbors
    assert nb.counts[[0, 7]].sum() == 0
    assert not np.isin(nb.idx, [0, 7]).any()
    assert model.metrics["n_alive"] == 48


def test_crash_rate_removes_about_the_expected_fraction():
    model = FlockingModel(n_agents=2000, world_size=100.0, crash_rate=0.01, rng=0)
    for _ in range(20):
        model.step()
    lost = 1 - model.engine.alive.mean()
    assert abs(lost - (1 - 0.99**20)) < 0.03


def test_actions_are_validated_at_the_boundary():
    model = FlockingModel(n_agents=5, rng=0)
    engine = model.engine
    with pytest.raises(ValueError, match=r"expected shape \(5, 2\)"):
        engine.apply(np.zeros((4, 2)))
    bad = np.zeros((5, 2))
    bad[2, 1] = np.nan
    before = engine.pos.copy()
    with pytest.raises(ValueError, match=r"non-finite values for rows \[2\]"):
        engine.apply(bad)
    np.testing.assert_array_equal(engine.pos, before)  # nothing half-applied
    with pytest.raises(ValueError, match="action_kind"):
        engine.apply(np.zeros((5, 2)), action_kind="teleport")


def test_nan_in_a_live_rows_state_or_message_is_refused_naming_the_rows():
    from envs.consensus import ConsensusModel

    model = ConsensusModel(n_agents=5, policy="average_consensus", rng=0)
    engine = model.engine
    value = np.zeros(5)
    value[3] = np.nan
    with pytest.raises(ValueError, match=r"state\['value'\]: NaN for rows \[3\]"):
        engine.apply(np.zeros((5, 2)), state={"value": value})
    with pytest.raises(ValueError, match=r"messages: NaN for rows \[3\]"):
        engine.apply(np.zeros((5, 2)), messages=value[:, None])
    assert engine.t == 0  # nothing was applied
    engine.crash([3])
    engine.apply(np.zeros((5, 2)), messages=value[:, None], state={"value": value})
    assert engine.t == 1  # a crashed drone's row is never used
    inf = np.full(5, np.inf)  # +-inf is a meaningful value ("no bid yet")
    engine.apply(np.zeros((5, 2)), state={"value": inf})


def test_positions_overflowing_float64_are_one_clear_error():
    from swarm.config import NumericalError

    model = FlockingModel(n_agents=10, dt=1e308, initial_speed=2.5, rng=0)  # 2.5e308 m
    with pytest.raises(NumericalError, match=r"positions overflowed .*dt = 1e\+308"):
        model.step()


def test_a_sensing_range_beyond_the_arena_counts_everyone_without_overflow():
    """The fuzz found --sense-radius 1e308 overflowing the memory estimate (radius squared)."""
    config = SwarmConfig(n_agents=10, sense_radius=1e308)
    assert config.expected_neighbors(1e308) == 9.0
    huge = SwarmConfig(n_agents=10, world_size=1e308)  # and an arena beyond the float range
    assert huge.expected_neighbors(5.0) == 0.0
