"""Lloyd coverage: the compiled r-limited cell equals a plain per-drone computation; local;
deterministic."""

import numpy as np
from message_locality import assert_deterministic, assert_local

from envs.coverage import CoverageModel
from policies.lloyd import limited_cell_centroids


def make(seed: int) -> CoverageModel:
    return CoverageModel(
        n_agents=40, world_size=30.0, sense_radius=4.0, comm_radius=5.0, resolution=0.5,
        sensor_noise_pos=0.05, rng=seed,
    )  # fmt: skip


def test_far_drones_leave_the_action_unchanged():
    assert assert_local(make, range(4)) >= 15


def test_same_seed_same_run_and_different_seeds_differ():
    assert_deterministic(make, steps=20)


def test_compiled_cells_equal_a_plain_reference():
    """Reference: every cell of the map, nearest of the drone and what it senses, within r."""
    model = CoverageModel(n_agents=25, world_size=15.0, sense_radius=5.0, resolution=0.3, rng=4)
    obs = model.observe()
    r = 2.5
    centroid, mass = limited_cell_centroids(obs, r)
    region = obs.known["region"]
    centres = region.centres
    weight = region.weight.ravel()
    for i in range(obs.n):
        a = obs.for_agent(i)
        rel = centres - a.pos
        d_self = (rel**2).sum(axis=1)
        mine = d_self <= r * r
        for other in a.rel_pos:
            mine &= ((rel - other) ** 2).sum(axis=1) > d_self
        m = weight[mine].sum()
        assert mass[i] == np.float64(m) or abs(mass[i] - m) < 1e-12
        if m > 0:
            expected = (weight[mine, None] * rel[mine]).sum(axis=0) / m
            np.testing.assert_allclose(centroid[i], expected, atol=1e-12)
