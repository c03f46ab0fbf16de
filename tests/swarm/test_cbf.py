"""The control-barrier-function layer (safety = "cbf"): the barrier against its definition,
braking in time, small crossings without contact, obstacles, locality, config boundaries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs.crossing import CrossingModel
from swarm.config import ConfigError
from swarm.safety import _barrier_line
from swarm.testing import assert_local

DS = 0.3 * 1.25  # collision_radius (1 + safety_margin), the defaults


def test_the_half_plane_is_the_papers_inequality():
    """At random states, u is permitted exactly when -dp . u <= share b (Wang, Ames,
    Egerstedt 2017): b rebuilt here from h = sqrt(2 a (|dp| - Ds)) + dp . dv / |dp|."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        dp = rng.uniform(-3, 3, 2)
        norm = float(np.hypot(*dp))
        if norm <= DS:
            continue
        dv = rng.uniform(-4, 4, 2)
        a, gamma, share = 12.0, 0.7, 0.5
        h = math.sqrt(2 * a * (norm - DS)) + dp @ dv / norm
        b = (gamma * h**3 * norm - (dv @ dp) ** 2 / norm**2 + dv @ dv
             + a * (dv @ dp) / math.sqrt(2 * a * (norm - DS)))  # fmt: skip
        qx, qy, dx, dy = _barrier_line(dp[0] / norm, dp[1] / norm, norm, dv[0], dv[1], a, share,
                                       DS, gamma, 6.0)  # fmt: skip
        u = rng.uniform(-10, 10, 2)
        left = dx * (u[1] - qy) - dy * (u[0] - qx) >= 0
        assert left == (-dp @ u <= share * b + 1e-9) or abs(-dp @ u - share * b) < 1e-6


def head_on(**config) -> CrossingModel:
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, safety="cbf", max_accel=6.0,
                          rng=0, **config)  # fmt: skip
    return model


def test_a_head_on_pair_brakes_before_touching():
    """Two drones at 3 m/s straight at each other with 6 m/s^2: each brakes in time and they
    stop about Ds apart, never closer (goto alone flies through)."""
    model = head_on()
    closest = np.inf
    for _ in range(900):
        model.step()
        closest = min(closest, float(np.hypot(*(model.engine.pos[0] - model.engine.pos[1]))))
    assert DS * 0.98 <= closest <= DS * 1.1
    assert model.summary()["collisions_total"] == 0


@pytest.mark.parametrize("n_agents", [4, 8])
def test_a_small_crossing_has_no_contact(n_agents):
    model = CrossingModel(n_agents=n_agents, world_size=20.0, safety="cbf", max_accel=20.0, rng=1)
    for _ in range(1500):
        model.step()
    summary = model.summary()
    assert summary["collisions_total"] == 0 and summary["closest_approach"] >= 0.3


def test_a_drone_brakes_before_a_pole(tmp_path):
    pole = tmp_path / "pole.json"
    pole.write_text('{"discs": [{"center": [10.0, 10.0], "radius": 1.0}]}')
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, safety="cbf", max_accel=6.0,
                          obstacles=str(pole), rng=0)  # fmt: skip
    for _ in range(600):
        model.step()
    assert model.metrics["obstacle_contacts_total"] == 0
    assert model.metrics["obstacle_clearance"] >= 0.5 * DS * 0.98


def test_cbf_passes_the_audit():
    checked = assert_local("goto", "crossing", n_agents=12, steps=30, safety="cbf",
                           max_accel=10.0, world_size=20.0)  # fmt: skip
    assert checked == 12 * 30


def test_cbf_refuses_unbounded_acceleration_in_one_line():
    with pytest.raises(ConfigError) as err:
        CrossingModel(n_agents=4, safety="cbf")  # the crossing is kinematic by default
    assert "max_accel" in str(err.value) and "\n" not in str(err.value)
