"""The quadrotor-like dynamics: a first-order lag with tilt and thrust limits.

Checked against known results (the lag's step response, the limits' closed forms, the double
integrator as the limit of no lag), not against the implementation's own output.
"""

import math

import numba
import numpy as np
import pytest

import swarm.threads
from envs.flocking import FlockingModel
from swarm.cli import main
from swarm.config import ConfigError
from swarm.dynamics import GRAVITY, integrate, integrate_quadrotor
from swarm.engine import SwarmConfig

QUAD = dict(dynamics="quadrotor")
SMALL = dict(n_agents=40, world_size=15.0)


def fly_constant(command, steps, dt, tau, *, max_accel=math.inf, tilt_thrust=math.inf, rows=3):
    """Hold ``command`` (2,) for ``steps`` steps from rest in an open box; returns the
    per-step accelerations read off the velocity (m/s^2), (steps, rows, 2)."""
    pos = np.full((rows, 2), 5e5)
    vel = np.zeros((rows, 2))
    realised = np.zeros((rows, 2))
    alive = np.ones(rows, dtype=bool)
    accel = np.tile(np.asarray(command, dtype=float), (rows, 1))
    seen = []
    for _ in range(steps):
        before = vel.copy()
        integrate_quadrotor(pos, vel, realised, accel, alive, dt, 1e9, max_accel, 1e6, False,
                            tau, tilt_thrust)  # fmt: skip
        seen.append((vel - before) / dt)
    return np.array(seen)


@pytest.mark.parametrize("dt, tau", [(0.01, 0.1), (0.1, 0.0785), (0.02, 0.5)])
def test_step_response_reaches_one_minus_one_over_e_after_tau(dt, tau):
    command = np.array([2.0, -1.0])
    seen = fly_constant(command, steps=round(5 * tau / dt) + 2, dt=dt, tau=tau)
    along = seen[:, 0, :] @ command / (command @ command)  # fraction of the command reached
    times = dt * np.arange(1, len(along) + 1)
    # the lag's response 1 - exp(-t / tau) at the end of every step (exact discretisation)
    np.testing.assert_allclose(along, 1.0 - np.exp(-times / tau), rtol=1e-12, atol=1e-12)
    at_tau = np.interp(tau, np.r_[0.0, times], np.r_[0.0, along])  # within a step of tau
    assert abs(at_tau - (1.0 - 1.0 / math.e)) < dt / tau
    assert np.all(np.diff(along) > 0) and along[-1] > 0.99  # monotone, no overshoot


@pytest.mark.parametrize("tilt_deg, tw", [(20.0, 2.25), (60.0, 1.2), (45.0, 1.5), (5.0, 3.0)])
def test_horizontal_acceleration_never_exceeds_tilt_or_thrust(tilt_deg, tw):
    limit = min(GRAVITY * math.tan(math.radians(tilt_deg)), GRAVITY * math.sqrt(tw**2 - 1))
    config = SwarmConfig(**QUAD, thrust_to_weight=tw, max_tilt_deg=tilt_deg, max_accel=math.inf)
    assert config.tilt_thrust_limit == pytest.approx(limit, rel=1e-12)
    rng = np.random.default_rng(0)
    rows = 500
    pos = rng.uniform(0, 50, (rows, 2))
    vel = np.zeros((rows, 2))
    realised = np.zeros((rows, 2))
    alive = np.ones(rows, dtype=bool)
    for _ in range(40):  # wild commands, turning every step, some far past the limit
        accel = rng.normal(scale=5 * limit, size=(rows, 2))
        before = vel.copy()
        integrate_quadrotor(pos, vel, realised, accel, alive, 0.05, 1e9, math.inf, 50.0, True,
                            0.0785, config.tilt_thrust_limit)  # fmt: skip
        for a in (np.linalg.norm(realised, axis=1), np.linalg.norm(vel - before, axis=1) / 0.05):
            assert a.max() <= limit * (1 + 1e-9)
    assert np.linalg.norm(realised, axis=1).max() > 0.9 * limit  # the limit is reached


def test_max_accel_still_applies_below_the_tilt_limit():
    seen = fly_constant([100.0, 0.0], steps=200, dt=0.05, tau=0.1, max_accel=2.0, tilt_thrust=9.0)
    assert seen[:, :, 0].max() <= 2.0 * (1 + 1e-12)
    assert seen[-1, 0, 0] == pytest.approx(2.0, rel=1e-9)


def test_no_lag_and_large_limits_is_the_double_integrator():
    rng = np.random.default_rng(3)
    rows, dt = 200, 0.1
    start_pos, start_vel = rng.uniform(0, 20, (rows, 2)), rng.normal(size=(rows, 2))
    alive = rng.random(rows) > 0.1
    runs = []
    for lagged in (False, True):
        pos, vel, realised = start_pos.copy(), start_vel.copy(), np.zeros((rows, 2))
        steps = np.random.default_rng(4)
        for _ in range(50):
            accel = steps.normal(scale=8.0, size=(rows, 2))
            if lagged:  # tau 1e-9 s at dt 0.1 s: exp(-1e8) = 0, the lag is gone
                integrate_quadrotor(pos, vel, realised, accel, alive, dt, 3.0, 6.0, 20.0, False,
                                    1e-9, 1e6)  # fmt: skip
            else:
                integrate(pos, vel, accel, alive, dt, 3.0, 6.0, 20.0, False)
        runs.append((pos, vel))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_quadrotor_flock_is_deterministic_per_seed_and_lags_behind():
    def run(seed, **cfg):
        model = FlockingModel(rng=seed, **SMALL, **cfg)
        for _ in range(30):
            model.step()
        e = model.engine
        return e.pos.copy(), e.vel.copy(), e.realised_accel.copy()

    a, b = run(7, **QUAD), run(7, **QUAD)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(run(8, **QUAD)[0], a[0])
    plain = run(7)
    assert not np.array_equal(plain[0], a[0])  # the lag changes the flight
    assert not plain[2].any()  # the double integrator never touches the lag state
    limit = SwarmConfig(**QUAD).tilt_thrust_limit
    assert np.linalg.norm(a[2], axis=1).max() <= limit * (1 + 1e-9)


def test_default_is_the_double_integrator_bit_for_bit():
    assert SwarmConfig().dynamics == "double_integrator"

    def run(**cfg):
        model = FlockingModel(rng=5, **SMALL, crash_rate=0.01, **cfg)
        for _ in range(40):
            model.step()
        return model.engine.pos.copy(), model.engine.vel.copy(), model.metrics

    default, explicit = run(), run(dynamics="double_integrator")
    np.testing.assert_array_equal(default[0], explicit[0])
    np.testing.assert_array_equal(default[1], explicit[1])
    assert default[2] == explicit[2]
    # the quadrotor's parameters mean nothing to the double integrator
    other = run(thrust_to_weight=1.5, max_tilt_deg=10.0, attitude_lag=1.0)
    np.testing.assert_array_equal(default[0], other[0])


@pytest.mark.parametrize(
    "field, value",
    [("thrust_to_weight", 1.0), ("thrust_to_weight", 0.5), ("max_tilt_deg", 0.0),
     ("max_tilt_deg", 90.0), ("max_tilt_deg", -5.0), ("attitude_lag", -0.1),
     ("dynamics", "helicopter"), ("thrust_to_weight", math.inf)],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=f"field '{field}'"):
        SwarmConfig.build(**{field: value})


def test_crashed_and_restarted_drones_start_level():
    from swarm.marl import BatchedSwarmEnv

    env = BatchedSwarmEnv("flocking", n_envs=3, n_agents=2, max_cycles=50, **QUAD)
    env.reset(seed=0)
    push = np.full((3, 2, 2), 3.0)
    env.step(push)
    assert np.linalg.norm(env.engine.realised_accel, axis=1).min() > 0  # every row is lagging
    env.engine.crash([2, 3])  # every drone of env 1: it restarts on the next step
    assert not env.engine.realised_accel[[2, 3]].any()
    env.step(np.zeros((3, 2, 2)))
    realised = env.engine.realised_accel
    assert not realised[[2, 3]].any()  # restarted, then commanded 0 from level: still 0
    assert np.abs(realised[[0, 1, 4, 5]]).min() > 0  # the others still feel the last push


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core")
def test_the_lag_flies_the_same_on_one_thread_and_on_two(monkeypatch):
    from envs.pursuit import PursuitModel  # teams: each row's own limits

    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    before = numba.get_num_threads()
    runs = []
    try:
        for count in (1, 2):
            numba.set_num_threads(count)
            for model in (FlockingModel(rng=3, n_agents=500, **QUAD), PursuitModel(rng=3, **QUAD)):
                for _ in range(10):
                    model.step()
                e = model.engine
                runs.append((count, e.pos.copy(), e.vel.copy(), e.realised_accel.copy()))
    finally:
        numba.set_num_threads(before)
    for serial, parallel in zip(runs[:2], runs[2:], strict=True):
        for a, b in zip(serial[1:], parallel[1:], strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_cli_flies_quadrotors_and_the_audit_passes(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "flocking", "--set", "dynamics=quadrotor", "--steps", "50",
                 "--quiet", "--out", str(out)])  # fmt: skip
    assert code == 0
    assert main(["audit", "flocking", "--dynamics", "quadrotor", "--steps", "30"]) == 0
    assert "is local on flocking" in capsys.readouterr().out


# ----------------------------------------------------------------- 3-D: the vertical axis flown
def fly_3d(command, steps, dt, tau, *, tw=2.25, tilt_deg=30.0, max_accel=math.inf):
    """:func:`fly_constant` in 3-D: per-step accelerations (steps, 3) of one drone."""
    pos, vel, realised = np.full((1, 3), 5e5), np.zeros((1, 3)), np.zeros((1, 3))
    accel, alive, seen = np.array([command], dtype=float), np.ones(1, dtype=bool), []
    for _ in range(steps):
        before = vel.copy()
        integrate_quadrotor(pos, vel, realised, accel, alive, dt, 1e9, max_accel, 1e6, False,
                            tau, math.inf, tw, tilt_deg)  # fmt: skip
        seen.append(((vel - before) / dt)[0])
    return np.array(seen)


def test_in_3d_at_hover_the_sideways_limit_is_the_planar_models():
    """Commanding no vertical acceleration, the thrust's vertical part is the weight: the
    sideways limit is g min(tan(tilt), sqrt(TW^2 - 1)), the 2-D model's, and altitude holds."""
    for tw, tilt in ((2.25, 30.0), (1.2, 60.0)):
        got = fly_3d([100.0, 0.0, 0.0], 1, 0.01, 0.0, tw=tw, tilt_deg=tilt)[0]
        expected = GRAVITY * min(math.tan(math.radians(tilt)), math.sqrt(tw * tw - 1.0))
        assert got[0] == pytest.approx(expected, rel=1e-12)
        assert got[2] == pytest.approx(0.0, abs=1e-12)


def test_in_3d_rotors_push_never_pull_and_full_thrust_leaves_no_sideways_authority():
    """Falling is at most free fall (-g), climbing at most (TW - 1) g; with the whole thrust
    spent climbing nothing is left to tilt, and in free fall there is no thrust to tilt."""
    dive = fly_3d([3.0, 0.0, -50.0], 1, 0.01, 0.0)[0]
    np.testing.assert_allclose(dive, [0.0, 0.0, -GRAVITY], atol=1e-12)
    climb = fly_3d([3.0, 0.0, 50.0], 1, 0.01, 0.0)[0]
    np.testing.assert_allclose(climb, [0.0, 0.0, 1.25 * GRAVITY], atol=1e-12)
    # half the weight: T_z = g / 2 leaves tan(30 deg) g / 2 sideways
    half = fly_3d([10.0, 0.0, -GRAVITY / 2], 1, 0.01, 0.0)[0]
    assert half[0] == pytest.approx(GRAVITY / 2 * math.tan(math.radians(30.0)), rel=1e-12)


def test_in_3d_the_lag_is_the_exact_first_order_step_response_on_every_axis():
    """a(t) = a_cmd (1 - exp(-t / tau)) for a command inside the limits, per axis."""
    command = np.array([1.0, -2.0, 1.5])
    seen = fly_3d(command, 20, 0.01, 0.05)
    t = 0.01 * np.arange(1, 21)
    np.testing.assert_allclose(seen, np.outer(1.0 - np.exp(-t / 0.05), command), rtol=1e-9)


def test_in_3d_a_quadrotor_flock_flies_and_is_local():
    model = FlockingModel(rng=2, dim=3, policy="boids", boundary="box", **QUAD, **SMALL)
    for _ in range(30):
        model.step()
    assert model.engine.realised_accel.shape == (40, 3)
    assert np.abs(model.engine.realised_accel[:, 2]).max() > 0  # the vertical axis is flown
    from swarm.testing import assert_local

    assert_local("boids", "flocking", steps=10, dim=3, boundary="box", **QUAD, **SMALL)
