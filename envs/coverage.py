"""Coverage: drones spread over a region so that every point is close to some drone, weighted
by how much that point matters (a density), each drone using only the neighbours it senses.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones, kinematic by default (``max_accel = inf``)
Region             the arena, a box of side ``world_size``, discretised into square cells of
                   side ``resolution`` (m); density ``phi`` uniform or a Gaussian bump at
                   ``density_center`` with std ``density_sigma``. The map (cells and their
                   density) is known to every drone: ``obs.known["region"]``
Spawn              clustered in the square of side ``spawn_extent`` at the (0, 0) corner,
                   as in the simulations of Cortés et al. (2004)
Sensing            neighbours within ``sense_radius``
Default policy     ``lloyd`` (Cortés, Martínez, Karataş, Bullo 2004)
Metrics            locational_cost ``H = sum_q phi(q) min_i ||q - p_i||^2 dA`` (Cortés et al.
                   2004, eq. 2, on the cells; m^2 for a unit-mass density);
                   limited_cost ``H_r``: the same with each distance capped at ``r`` =
                   ``sense_radius / 2``, the cost the range-limited controller descends
                   (Cortés, Martínez, Bullo 2005); centroid_distance: mean distance of a
                   drone to the centroid of its (full) Voronoi cell, 0 at a centroidal
                   Voronoi configuration (m); coverage_fraction: share of the area within
                   ``sense_radius`` of a drone; n_components; n_alive
Reward (envs)      ``-locational_cost / n_alive`` of the drone's environment, shared by its
                   drones (their rewards sum to minus the locational cost)
=================  =====================================================================

Arguments are the fields of :class:`CoverageConfig` plus ``rng`` (the seed). Example::

    from envs.coverage import CoverageModel
    model = CoverageModel(n_agents=20, world_size=20, sense_radius=8, density="gaussian",
                          rng=1)
    for _ in range(200):
        model.step()
    model.metrics["centroid_distance"]  # -> ~0: a centroidal Voronoi configuration
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.spatial import cKDTree

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.scenario import Scenario


class CoverageConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the coverage task's own fields."""

    policy: str = Field("lloyd", description="controller name (see `swarm list`)")
    boundary: Literal["torus", "box"] = Field(
        "box", description="the region is a box (coverage of a torus is not defined here)"
    )
    max_accel: float = Field(
        float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf: kinematic drones",
    )
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s)")
    spawn_extent: float | None = Field(
        None, gt=0, description="side of the square at the (0, 0) corner drones spawn in (m); "
        "default the whole region",
    )  # fmt: skip
    resolution: float | None = Field(
        None, gt=0, description="side of a region cell (m); default world_size / 100"
    )
    density: Literal["uniform", "gaussian"] = Field(
        "uniform", description="importance density phi over the region"
    )
    density_center: tuple[float, float] | None = Field(
        None, description="centre of the gaussian density (m); default the region's centre"
    )
    density_sigma: float | None = Field(
        None, gt=0, description="std of the gaussian density (m); default world_size / 6"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CoverageConfig:
        if self.boundary != "box":
            raise ValueError("boundary: coverage needs 'box' (the region has edges)")
        if self.spawn_extent is not None and self.spawn_extent > self.world_size:
            raise ValueError(
                f"spawn_extent ({self.spawn_extent}) must be <= world_size ({self.world_size})"
            )
        cells = self.world_size / self.cell_side
        if cells > 2000:
            raise ValueError(
                f"resolution: {self.cell_side} m makes {cells:.0f} cells per side; at most 2000"
            )
        return self

    @property
    def cell_side(self) -> float:
        return self.resolution if self.resolution is not None else self.world_size / 100


@dataclass(frozen=True, eq=False)
class RegionMap:
    """The discretised region every drone carries: cells of side ``cell`` and their weight."""

    cell: float  # side of a cell (m)
    per_side: int  # cells per side
    weight: np.ndarray  # (per_side, per_side) density x cell area, [ix, iy]

    @property
    def centres(self) -> np.ndarray:
        """(per_side^2, 2) cell centres (m), flattened [ix, iy]."""
        ticks = (np.arange(self.per_side) + 0.5) * self.cell
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        return np.column_stack([gx.ravel(), gy.ravel()])


def make_region(config: CoverageConfig) -> RegionMap:
    per_side = max(1, round(config.world_size / config.cell_side))
    cell = config.world_size / per_side
    ticks = (np.arange(per_side) + 0.5) * cell
    if config.density == "uniform":
        phi = np.ones((per_side, per_side))
    else:
        cx, cy = config.density_center or (0.5 * config.world_size, 0.5 * config.world_size)
        sigma = config.density_sigma or config.world_size / 6
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        phi = np.exp(-((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * sigma**2))
    phi = phi / (phi.sum() * cell * cell)  # unit mass over the region
    return RegionMap(cell=cell, per_side=per_side, weight=phi * cell * cell)


class Coverage(Scenario):
    """Spawn clustered at a corner; report the locational cost and the CVT residual."""

    name = "coverage"

    def __init__(self, config: CoverageConfig):
        super().__init__(config)
        self.region = make_region(config)
        self._points = self.region.centres  # (Q, 2) cell centres
        self._weights = self.region.weight.ravel()  # (Q,)
        self.metric_functions = {
            "locational_cost": self.locational_cost,
            "limited_cost": self.limited_cost,
            "centroid_distance": self.centroid_distance,
            "coverage_fraction": self.coverage_fraction,
            "n_components": m.n_components,
            "n_alive": m.n_alive,
        }
        self._cache_key: tuple | None = None
        self._cache: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def render_layers(self, engine: Swarm) -> list[Any]:
        """The density function (when not uniform) as a raster under the drones."""
        from swarm.viewer.layers import Cells

        layers = super().render_layers(engine)
        if self.config.density == "uniform":
            return layers
        weight = self.region.weight.T[::-1]  # [ix, iy] -> image rows, top first
        return [Cells("density", (0.0, 0.0), self.region.cell, values=weight), *layers]

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        c = self.config
        extent = c.spawn_extent if c.spawn_extent is not None else c.world_size
        engine.pos[rows] = rng.uniform(0.0, extent, size=(len(rows), 2))
        heading = rng.uniform(-np.pi, np.pi, size=len(rows))
        engine.vel[rows] = c.initial_speed * np.column_stack([np.cos(heading), np.sin(heading)])

    def knowledge(self) -> dict[str, RegionMap]:
        return {"region": self.region}

    # ----------------------------------------------------------------- metrics
    def _nearest(self, engine: Swarm) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per env: (alive rows, distance of each cell to its nearest drone, its index)."""
        key = (engine.t, engine.pos.tobytes(), engine.alive.tobytes())
        if key != self._cache_key:
            self._cache = []
            for e in range(engine.n_envs):
                rows = np.flatnonzero(engine.alive & (engine.env == e))
                if len(rows) == 0:
                    self._cache.append((rows, np.full(len(self._points), np.inf), rows))
                    continue
                dist, nearest = cKDTree(engine.pos[rows]).query(self._points)
                self._cache.append((rows, dist, nearest))
            self._cache_key = key
        return self._cache

    def locational_cost(self, engine: Swarm) -> np.ndarray:
        return np.array([(self._weights * d**2).sum() for _, d, _ in self._nearest(engine)])

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) minus the drone's share of its environment's locational cost, ``-H / n``
        with n its alive drones (shared: the drones' rewards sum to ``-H``)."""
        alive = engine.alive.reshape(engine.n_envs, engine.n_agents)
        share = self.locational_cost(engine) / np.maximum(alive.sum(axis=1), 1)
        return np.where(engine.alive, -share[engine.env], 0.0)

    def limited_cost(self, engine: Swarm) -> np.ndarray:
        r = 0.5 * self.config.sense_radius
        return np.array(
            [(self._weights * np.minimum(d, r) ** 2).sum() for _, d, _ in self._nearest(engine)]
        )

    def coverage_fraction(self, engine: Swarm) -> np.ndarray:
        r = self.config.sense_radius
        return np.array([(d <= r).mean() for _, d, _ in self._nearest(engine)])

    def centroid_distance(self, engine: Swarm) -> np.ndarray:
        out = np.zeros(engine.n_envs)
        for e, (rows, _, nearest) in enumerate(self._nearest(engine)):
            if len(rows) == 0:
                continue
            mass = np.bincount(nearest, weights=self._weights, minlength=len(rows))
            centroid = (
                np.column_stack(
                    [
                        np.bincount(
                            nearest, weights=self._weights * self._points[:, k], minlength=len(rows)
                        )
                        for k in range(2)
                    ]
                )
                / np.maximum(mass, 1e-300)[:, None]
            )
            has_cell = mass > 0
            gap = np.sqrt(((centroid - engine.pos[rows]) ** 2).sum(axis=1))
            out[e] = gap[has_cell].mean() if has_cell.any() else 0.0
        return out


class CoverageModel(SwarmModel):
    """Mesa model of the coverage scenario (see the module docstring)."""

    name = "coverage"
    scenario_class = Coverage
    config_class = CoverageConfig
