"""Olfati-Saber's Algorithm 1 builds an alpha-lattice: neighbours settle at distance d."""

import numpy as np

from envs.flocking import FlockingModel


def test_free_flocking_forms_a_collision_free_alpha_lattice():
    model = FlockingModel(n_agents=100, world_size=40.0, policy="olfati_saber", rng=1)
    collisions = 0.0
    for _ in range(400):
        model.step()
        collisions += model.metrics["collisions"]
    d = model.observe().sense_radius / 1.2  # the default spacing: r / kappa
    spacing = model.engine.neighbors.dist
    assert collisions == 0
    assert abs(np.median(spacing) - d) < 0.05 * d  # quasi alpha-lattice: ||q_j - q_i|| ~ d
    assert spacing.min() > 0.85 * d
    assert model.metrics["polarization"] > 0.95  # velocity matching
    assert model.metrics["n_components"] == 1


def test_gamma_agent_brings_the_flock_to_the_goal():
    model = FlockingModel(
        n_agents=30, world_size=60.0, boundary="box", policy="olfati_saber",
        policy_params={"goal": (30.0, 30.0)}, rng=2,
    )  # fmt: skip
    for _ in range(600):
        model.step()
    centroid = model.engine.pos.mean(axis=0)
    assert np.linalg.norm(centroid - 30.0) < 2.0
