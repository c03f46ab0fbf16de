"""Metrics against hand-computed values."""

import networkx as nx
import numpy as np
import pytest

from envs.flocking import FlockingModel


def placed(pos, vel, **cfg):
    """A model whose drones sit exactly at ``pos`` with velocities ``vel``."""
    model = FlockingModel(n_agents=len(pos), rng=0, **cfg)
    model.engine.pos[:] = pos
    model.engine.vel[:] = vel
    model.engine.invalidate()
    return model


def test_polarization_of_aligned_opposed_and_resting_drones():
    pos = [[1, 1], [5, 5], [9, 9], [2, 8]]
    assert placed(pos, [[1, 0]] * 4).metrics["polarization"] == pytest.approx(1.0)
    opposed = [[1, 0], [-2, 0], [0, 3], [0, -1]]
    assert placed(pos, opposed).metrics["polarization"] == pytest.approx(0.0, abs=1e-12)
    resting = [[1, 0], [1, 0], [0, 0], [0, 0]]  # no heading counts as a zero vector
    assert placed(pos, resting).metrics["polarization"] == pytest.approx(0.5)


def test_cohesion_uses_the_circular_mean_across_the_wrap():
    pos = [[0.5, 5.0], [9.5, 5.0]]  # 1 m apart through the wrap on a 10 m torus
    model = placed(pos, [[1, 0]] * 2, world_size=10.0)
    assert model.metrics["cohesion"] == pytest.approx(0.5)
    boxed = placed(pos, [[1, 0]] * 2, world_size=10.0, boundary="box")
    assert boxed.metrics["cohesion"] == pytest.approx(4.5)


def test_separation_collisions_and_components():
    pos = [[1.0, 1.0], [1.2, 1.0], [1.0, 1.25], [8.0, 8.0]]
    model = placed(pos, [[0, 0]] * 4, world_size=10.0, sense_radius=2.0, collision_radius=0.3)
    m = model.metrics
    assert m["min_separation"] == pytest.approx(0.2)
    assert m["collisions"] == 2  # (0, 1) at 0.2 m and (0, 2) at 0.25 m; (1, 2) is 0.32 m
    assert m["n_components"] == 2
    model.crash([3])
    assert model.metrics["n_components"] == 1 and model.metrics["n_alive"] == 3


def test_collisions_and_the_living_are_counted_per_arena_of_a_batch():
    """Each arena's close pairs, counted by hand from the positions, and its living drones."""
    from swarm.engine import Swarm, SwarmConfig
    from swarm.metrics import collisions, n_alive

    config = SwarmConfig(n_agents=60, world_size=4.0, sense_radius=1.0, collision_radius=0.3)
    engine = Swarm(config, np.random.default_rng(1), n_envs=3)
    engine.pos[:] = np.random.default_rng(2).uniform(0.0, 4.0, engine.pos.shape)
    engine.alive[5] = False
    engine.sense()
    want = []
    for arena in range(3):
        rows = np.flatnonzero((engine.env == arena) & engine.alive)
        gap = engine.pos[rows, None, :] - engine.pos[None, rows, :]
        gap -= 4.0 * np.round(gap / 4.0)  # the torus's nearest image
        dist = np.sqrt((gap**2).sum(axis=-1))
        want.append(int((dist[np.triu_indices(len(rows), 1)] < 0.3).sum()))
    assert sum(want) > 3 and len(set(want)) > 1
    np.testing.assert_array_equal(collisions(engine), want)
    np.testing.assert_array_equal(n_alive(engine), [59.0, 60.0, 60.0])


def test_algebraic_connectivity_of_a_ring_on_request():
    n = 12
    model = FlockingModel(
        n_agents=n, comm_model="fixed", comm_topology=nx.cycle_graph(n),
        algebraic_connectivity=True, rng=0,
    )  # fmt: skip
    expected = 2 - 2 * np.cos(2 * np.pi / n)  # Laplacian spectrum of the cycle C_n
    assert model.metrics["algebraic_connectivity"] == pytest.approx(expected, rel=1e-6)
    model.crash([0, 6])  # the ring splits into two paths
    assert model.metrics["algebraic_connectivity"] == 0.0
