"""The Vicsek model reproduces the phase transition of Vicsek et al. 1995 (Fig. 2).

Their parameters: unit interaction radius, dt = 1, speed v = 0.03, periodic box of side L.
"""

import numpy as np
import pytest

from envs.flocking import FlockingModel


def order_parameter(eta: float, n: int, side: float, steps: int = 400, seed: int = 0) -> float:
    model = FlockingModel(
        n_agents=n, world_size=side, boundary="torus", sense_radius=1.0, dt=1.0,
        max_accel=float("inf"), initial_speed=0.03, collision_radius=0.0,
        policy="vicsek", policy_params={"speed": 0.03, "eta": eta}, rng=seed,
    )  # fmt: skip
    values = []
    for t in range(steps):
        model.step()
        if t >= steps - 100:
            values.append(model.metrics["polarization"])
    return float(np.mean(values))


def test_order_falls_with_noise_at_density_4():
    """Fig. 2a, N = 400, L = 10: ordered at low noise, disordered at high noise."""
    va = [order_parameter(eta, 400, 10.0) for eta in (0.5, 2.0, 3.0, 4.5)]
    assert va[0] > 0.95  # ordered phase
    assert va[3] < 0.2  # disordered phase: ~ 1/sqrt(N) fluctuations
    assert va[0] > va[1] > va[2] > va[3]


def test_order_rises_with_density_at_fixed_noise():
    """Fig. 2b, eta = 2: sparse swarms stay disordered, dense ones order."""
    sparse = order_parameter(2.0, 200, 20.0)  # rho = 0.5
    dense = order_parameter(2.0, 100, 5.0)  # rho = 4
    assert sparse < 0.4 < 0.7 < dense


def test_speed_is_constant_and_noise_is_bounded():
    model = FlockingModel(
        n_agents=50, world_size=5.0, sense_radius=1.0, dt=1.0, max_accel=float("inf"),
        policy="vicsek", policy_params={"speed": 0.03, "eta": 0.0}, rng=1,
    )  # fmt: skip
    model.step()
    np.testing.assert_allclose(np.linalg.norm(model.engine.vel, axis=1), 0.03)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_isolated_drone_keeps_its_heading_up_to_the_noise(eta):
    model = FlockingModel(
        n_agents=1, world_size=50.0, dt=1.0, max_accel=float("inf"), initial_speed=0.03,
        policy="vicsek", policy_params={"speed": 0.03, "eta": eta}, rng=2,
    )  # fmt: skip
    h0 = np.arctan2(*model.engine.vel[0][::-1])
    model.step()
    h1 = np.arctan2(*model.engine.vel[0][::-1])
    turn = (h1 - h0 + np.pi) % (2 * np.pi) - np.pi
    assert abs(turn) <= eta / 2 + 1e-12
