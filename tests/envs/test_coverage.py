"""Coverage scenario: Lloyd descent never raises the cost it descends and reaches a
centroidal Voronoi configuration (Cortés et al. 2004, Theorem 2 / Lloyd's algorithm).

Tolerances: ``H_r`` may rise by at most 1e-12 (round-off) in one step; at convergence the
mean distance of a drone to its Voronoi cell's centroid is below 1e-6 m in a 20 m region.
"""

import numpy as np
import pytest

from envs.coverage import CoverageConfig, CoverageModel, make_region
from swarm.config import ConfigError


def run(steps: int, **cfg) -> tuple[CoverageModel, list[dict]]:
    model = CoverageModel(n_agents=16, world_size=20.0, resolution=0.25, spawn_extent=5.0, **cfg)
    history = [dict(model.metrics)]
    for _ in range(steps):
        model.step()
        history.append(dict(model.metrics))
    return model, history


@pytest.mark.parametrize("density", ["uniform", "gaussian"])
def test_full_range_lloyd_never_raises_the_cost_and_reaches_a_cvt(density):
    _, history = run(200, sense_radius=30.0, density=density, rng=1)
    cost = np.array([h["locational_cost"] for h in history])
    assert (np.diff(cost) <= 1e-12).all()
    assert cost[-1] < 0.2 * cost[0]
    assert history[-1]["centroid_distance"] < 1e-6
    assert history[0]["centroid_distance"] > 1.0


def test_range_limited_lloyd_never_raises_the_limited_cost():
    _, history = run(200, sense_radius=6.0, rng=2)
    limited = np.array([h["limited_cost"] for h in history])
    assert (np.diff(limited) <= 1e-12).all()
    assert limited[-1] < 0.6 * limited[0]  # capped at r^2 = 9 m^2 per unit mass
    assert history[-1]["coverage_fraction"] > 0.95 > 0.5 > history[0]["coverage_fraction"]


def test_a_gaussian_density_pulls_the_drones_to_its_centre():
    uniform, _ = run(150, sense_radius=30.0, rng=3)
    peaked, _ = run(150, sense_radius=30.0, density="gaussian", density_sigma=3.0, rng=3)
    spread = [np.abs(mod.engine.pos - 10.0).mean() for mod in (uniform, peaked)]
    assert spread[1] < 0.6 * spread[0]


def test_the_known_cvt_of_two_drones_on_a_square():
    """Two generators on a uniform square: the CVT splits it in halves, generators at the
    halves' centroids (Du, Faber, Gunzburger 1999, SIAM Review 41, sec. 2)."""
    model = CoverageModel(
        n_agents=2, world_size=10.0, resolution=0.1, sense_radius=30.0, spawn_extent=2.0, rng=0
    )
    for _ in range(300):
        model.step()
    pos = model.engine.pos[np.lexsort(model.engine.pos.T[::-1])]
    halves = [[2.5, 5.0], [7.5, 5.0]] if np.ptp(pos[:, 0]) > np.ptp(pos[:, 1]) else [
        [5.0, 2.5], [5.0, 7.5]]  # fmt: skip
    np.testing.assert_allclose(np.sort(pos, axis=0), np.sort(halves, axis=0), atol=1e-6)


def test_region_density_has_unit_mass():
    for density in ("uniform", "gaussian"):
        region = make_region(CoverageConfig(world_size=12.0, resolution=0.3, density=density))
        assert region.weight.sum() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boundary": "torus"}, "boundary"),
        ({"resolution": 0.001}, "resolution"),
        ({"spawn_extent": 99.0}, "spawn_extent"),
        ({"density": "ring"}, "density"),
    ],
)
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        CoverageModel(n_agents=4, rng=0, **kwargs)
