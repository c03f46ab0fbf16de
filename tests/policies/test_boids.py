"""Boids: the vectorised rules equal the readable per-agent ones, and a flock forms."""

import numpy as np

from envs.flocking import FlockingModel
from policies.boids import Boids, BoidsParams, boids_decide


def test_vectorised_equals_per_agent_reference():
    model = FlockingModel(n_agents=80, world_size=12.0, sensor_noise_pos=0.1, rng=4)
    model.step()
    obs = model.observe()
    params = BoidsParams()
    fast = Boids(params).act(obs)
    for row in range(obs.n):
        np.testing.assert_allclose(fast[row], boids_decide(obs.for_agent(row), params), atol=1e-9)


def test_separation_pushes_apart_and_cohesion_pulls_together():
    model = FlockingModel(n_agents=2, world_size=20.0, initial_speed=0.0, rng=0)
    model.drones[0].pos = (10.0, 10.0)
    model.drones[1].pos = (10.5, 10.0)  # inside the separation radius
    close = Boids(BoidsParams(cruise_speed=0)).act(model.observe())
    assert close[0, 0] < 0 < close[1, 0]
    model.drones[1].pos = (13.0, 10.0)  # sensed, but not too close
    far = Boids(BoidsParams(cruise_speed=0)).act(model.observe())
    assert far[0, 0] > 0 > far[1, 0]


def test_a_flock_forms_without_collisions():
    model = FlockingModel(n_agents=100, world_size=40.0, policy="boids", rng=1)
    start = model.metrics["polarization"]
    collisions = 0.0
    for _ in range(600):
        model.step()
        collisions += model.metrics["collisions"]
    assert start < 0.3 and model.metrics["polarization"] > 0.9
    assert collisions == 0
