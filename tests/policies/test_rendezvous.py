"""Rendezvous (Ando et al. 1999): local, deterministic, steps stay in the constraint disks."""

import numpy as np
from message_locality import assert_deterministic, assert_local

from envs.consensus import ConsensusModel


def make(seed: int) -> ConsensusModel:
    return ConsensusModel(
        n_agents=40, world_size=30.0, sense_radius=4.0, comm_radius=5.0, spawn_extent=20.0,
        sensor_noise_pos=0.05, policy="rendezvous", rng=seed,
    )  # fmt: skip


def test_far_drones_leave_the_action_unchanged():
    assert assert_local(make, range(4)) >= 15


def test_same_seed_same_run_and_different_seeds_differ():
    assert_deterministic(make)


def test_each_step_keeps_every_pair_within_visibility():
    """After one step, every pair that saw each other is still within V = sense_radius."""
    model = ConsensusModel(
        n_agents=60, world_size=30.0, sense_radius=4.0, spawn_extent=18.0,
        policy="rendezvous", rng=3,
    )  # fmt: skip
    for _ in range(30):
        nb = model.engine.neighbors
        pairs = np.column_stack([nb.owner, nb.idx])
        model.step()
        gap = model.engine.pos[pairs[:, 0]] - model.engine.pos[pairs[:, 1]]
        assert np.sqrt((gap**2).sum(axis=1)).max() <= 4.0 + 1e-9


def test_a_lone_drone_stays_put_and_two_drones_meet_in_the_middle():
    model = ConsensusModel(n_agents=3, world_size=30.0, sense_radius=4.0, policy="rendezvous")
    model.engine.pos[:] = [[5.0, 5.0], [20.0, 20.0], [23.0, 20.0]]
    model.engine.invalidate()
    for _ in range(20):
        model.step()
    np.testing.assert_allclose(model.engine.pos, [[5.0, 5.0], [21.5, 20.0], [21.5, 20.0]])
