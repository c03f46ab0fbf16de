"""Search and rescue: targets hidden in a region; drones with short-range sensors must find
them all.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones (default 20), spawned in the square of side
                   ``spawn_extent`` at the (0, 0) corner (a base; default world_size / 10,
                   so almost no target starts within range: the drones must go and look)
Region             the arena, a box of side ``world_size``; with ``dim = 3`` a cube (a
                   volume to search: the floors of a building, a canopy), the base a cube
                   of side ``spawn_extent`` at the (0, 0, 0) corner
Targets            ``n_targets`` points, uniform in the region, unknown to the drones; one is
                   found when an alive drone comes within ``detect_radius``. Each emits a
                   signal ``exp(-d^2 / (2 signal_sigma^2))`` (summed over targets) that a
                   drone measures at its own position with Gaussian noise ``signal_noise``
Marks              the region is a grid of ``mark_cell`` squares (cubes in 3-D); a drone
                   entering a cell marks it (a count), and reads the marks of the 3 x 3
                   (3 x 3 x 3) cells around its own (stigmergy: written and read only where
                   the drone is)
Readings           ``obs.own["signal"]`` (R,), ``obs.own["marks"]`` (R, 3, 3), or
                   (R, 3, 3, 3) in 3-D (``inf`` outside the region); ``obs.known``:
                   ``detect_radius``, ``mark_cell``
Default policy     ``random_walk`` (baseline); also ``stigmergy`` (node counting; both in
                   3-D too),
                   ``pso`` (particle swarm on the signal; it climbs to one source and
                   needs a spread start, ``spawn_extent = world_size``, and comm links:
                   from the default base it stays put), ``cbaa`` (regions allocated by a
                   consensus-based auction, each swept with a lawnmower path)
Metrics            fraction_found; time_to_find_all (s, NaN until all are found);
                   area_visited (share of mark cells entered); revisit_ratio (cell entries
                   into an already marked cell / all entries); n_components; n_alive
Reward (envs)      targets of the drone's environment found this step, shared by its drones
Clock              found times count the environment's own steps (``engine.env_t``), so a
                   batched environment restarted alone starts its clock again
=================  =====================================================================

Arguments are the fields of :class:`SearchConfig` plus ``rng`` (the seed). Example::

    from envs.search import SearchModel
    model = SearchModel(n_agents=8, world_size=40, n_targets=12, policy="cbaa", rng=1)
    while model.metrics["fraction_found"] < 1:
        model.step()
    model.metrics["time_to_find_all"]
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.rng import derive_seed, keyed_normal
from swarm.scenario import Scenario, random_headings

# the most mark cells of a 3-D region (32 M: 256 MB of marks per arena)
MAX_VOXELS = 1 << 25


class SearchConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the search task's own fields."""

    dims = (2, 3)  # a region or a volume (pso and cbaa plan in the plane: 2-D only)

    # 20 drones from a corner base: their sensors cover under the arena, and few targets lie
    # near the base, so the search takes time (100 drones spread over the whole region found
    # every target at step 0)
    n_agents: int = Field(20, ge=1, description="number of drones")
    policy: str = Field("random_walk", description="controller name (see `swarm list`)")
    boundary: Literal["torus", "box"] = Field(
        "box", description="the search region is a box with walls"
    )
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s)")
    spawn_extent: float | None = Field(
        None,
        gt=0,
        description="side of the base square at (0, 0) drones start from (m); default "
        "world_size / 10 (set it to world_size to spread them over the whole region)",
    )
    n_targets: int = Field(10, ge=1, description="number of hidden targets")
    detect_radius: float | None = Field(
        None, gt=0, description="a target within this range is found (m); default sense_radius"
    )
    signal_sigma: float | None = Field(
        None, gt=0, description="width of each target's signal (m); default world_size / 4"
    )
    signal_noise: float = Field(0.0, ge=0, description="std of the signal reading's noise")
    mark_cell: float | None = Field(
        None,
        gt=0,
        description="side of a mark cell (m); default detect_radius / 2, so the 3 x 3 cells a "
        "drone reads lie within about its detection range",
    )

    @model_validator(mode="after")
    def _consistent(self) -> SearchConfig:
        if self.boundary != "box":
            raise ValueError("boundary: search needs 'box' (the region has edges)")
        if self.spawn_extent is not None and self.spawn_extent > self.world_size:
            raise ValueError(
                f"spawn_extent ({self.spawn_extent}) must be <= world_size ({self.world_size})"
            )
        if self.world_size / self.cell > 1000:
            raise ValueError(f"mark_cell: {self.cell} m gives over 1000 cells per side")
        if self.dim == 3 and (self.world_size / self.cell) ** 3 > MAX_VOXELS:
            raise ValueError(
                f"mark_cell: {self.cell} m gives over {MAX_VOXELS:,} cells in the "
                f"{self.world_size} m cube; use cells of at least "
                f"{self.world_size / MAX_VOXELS ** (1 / 3):.3g} m"
            )
        return self

    def memory_parts(self) -> dict[str, float]:
        """The engine's, plus the targets and the drone x target distances of detection."""
        parts = super().memory_parts()
        parts["n_targets"] = (self.n_agents + 1) * self.n_targets * 24.0
        per_side = np.ceil(self.world_size / self.cell)
        parts["mark_cell"] = 8.0 * per_side**self.dim  # the marks of one arena
        return parts

    @property
    def extent(self) -> float:
        """Side of the base square the drones spawn in (m)."""
        return self.spawn_extent if self.spawn_extent is not None else self.world_size / 10

    @property
    def detect(self) -> float:
        return self.detect_radius if self.detect_radius is not None else self.sense_radius

    @property
    def cell(self) -> float:
        return self.mark_cell if self.mark_cell is not None else self.detect / 2


class Search(Scenario):
    """Hide targets, count marks, report how fast the targets are found."""

    name = "search"

    def __init__(self, config: SearchConfig):
        super().__init__(config)
        self.per_side = max(1, int(np.ceil(config.world_size / config.cell)))
        self.dim = config.dim
        self.targets = np.zeros((0, config.n_targets, self.dim))  # (E, T, dim) metres
        self.found_at = np.zeros((0, config.n_targets), dtype=np.int64)  # (E, T) step; -1
        # (E, G, G) entries per cell, (E, G, G, G) in 3-D
        self.marks = np.zeros((0, *[self.per_side] * self.dim))
        self.last_cell = np.zeros(0, dtype=np.int64)  # (R,) flat cell of each drone
        self.entries = np.zeros(0)  # (E,) cell entries
        self.revisits = np.zeros(0)  # (E,) entries into an already marked cell
        self.noise_seed = 0
        self.metric_functions = {
            "fraction_found": self.fraction_found,
            "time_to_find_all": self.time_to_find_all,
            "area_visited": self.area_visited,
            "revisit_ratio": self.revisit_ratio,
            "n_components": m.n_components,
            "n_alive": m.n_alive,
        }

    def render_layers(self, engine: Swarm) -> list[Any]:
        """Env 0's visited-cell marks (entries per cell, unvisited transparent), its targets
        (found: bright, still hidden: dim rings) and the drones."""
        from swarm.viewer.layers import Cells, Circles

        marks = self.marks[0] if self.dim == 2 else self.marks[0].sum(axis=2)  # seen from above
        marks = marks.T[::-1]  # [ix, iy] -> image rows, top first
        shown = np.where(marks > 0, np.log1p(marks), np.nan)
        found = self.found_at[0] >= 0
        colour = np.where(found[:, None], [[255, 90, 90]], [[150, 70, 70]]).astype(np.uint8)
        return [
            Cells("marks", (0.0, 0.0), self.config.cell, values=shown, low=0.0),
            Circles("targets", self.targets[0], self.config.detect, colour, filled=False),
            *super().render_layers(engine),
        ]

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        c = self.config
        engine.pos[rows] = rng.uniform(0.0, c.extent, size=(len(rows), self.dim))
        engine.vel[rows] = c.initial_speed * random_headings(rng, len(rows), self.dim)
        E = engine.n_envs
        envs = np.unique(engine.env[rows])
        first = self.targets.shape[0] != E  # this scenario's first spawn on this engine
        if first:
            self.targets = np.zeros((E, c.n_targets, self.dim))
            self.found_at = np.full((E, c.n_targets), -1, dtype=np.int64)
            self.marks = np.zeros((E, *[self.per_side] * self.dim))
            self.entries = np.zeros(E)
            self.revisits = np.zeros(E)
            self.last_cell = np.full(engine.rows, -1, dtype=np.int64)
        # only the environments being spawned start a new task; the others keep theirs
        self.targets[envs] = rng.uniform(0.0, c.world_size, (len(envs), c.n_targets, self.dim))
        self.found_at[envs] = -1
        self.marks[envs] = 0.0
        self.entries[envs] = 0.0
        self.revisits[envs] = 0.0
        self.last_cell[np.isin(engine.env, envs)] = -1
        if first or len(envs) == E:
            self.noise_seed = derive_seed(rng)
        self.update(engine, envs)

    def knowledge(self) -> dict[str, float]:
        return {"detect_radius": self.config.detect, "mark_cell": self.config.cell}

    # ----------------------------------------------------------------- world
    def _cells(self, pos: np.ndarray) -> np.ndarray:
        """(R, dim) integer mark cell of each position."""
        return np.clip(np.floor(pos / self.config.cell).astype(np.int64), 0, self.per_side - 1)

    def signal_at(self, env: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Noise-free signal strength at positions ``pos`` (R, dim) of envs ``env`` (R,)."""
        c = self.config
        sigma = c.signal_sigma if c.signal_sigma is not None else c.world_size / 4
        d2 = ((pos[:, None, :] - self.targets[env]) ** 2).sum(axis=2)  # (R, T)
        return np.exp(-d2 / (2 * sigma**2)).sum(axis=1)

    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        c = self.config
        rows = np.arange(engine.rows)
        signal = self.signal_at(engine.env, engine.pos)
        if c.signal_noise > 0:
            signal = signal + c.signal_noise * keyed_normal(self.noise_seed, engine.t, rows)
        marks = self._marks_around(engine.env, self._cells(engine.pos))
        alive = engine.alive
        return {
            "signal": np.where(alive, signal, 0.0),
            "marks": np.where(alive.reshape(-1, *[1] * self.dim), marks, np.inf),
        }

    def _marks_around(self, env: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """(R, 3, 3) marks of the cells around each row's own (R, 3, 3, 3) in 3-D; inf
        outside the region."""
        span = np.arange(-1, 2)
        index, inside = [env.reshape(-1, *[1] * self.dim)], True
        for axis in range(self.dim):
            shape = [1] * self.dim
            shape[axis] = 3
            g = cell[:, axis].reshape(-1, *[1] * self.dim) + span.reshape(shape)
            inside = inside & (g >= 0) & (g < self.per_side)
            index.append(np.clip(g, 0, self.per_side - 1))
        return np.where(inside, self.marks[tuple(index)], np.inf)

    def update(self, engine: Swarm, envs: np.ndarray | None = None) -> None:
        """Targets within detect range of an alive drone are found (at the env's own step
        ``engine.env_t``); drones mark new cells. ``envs``: only these environments."""
        c = self.config
        E, N = engine.n_envs, engine.n_agents
        pos = engine.pos.reshape(E, N, self.dim)
        alive = engine.alive.reshape(E, N)
        d2 = ((pos[:, :, None, :] - self.targets[:, None, :, :]) ** 2).sum(axis=3)  # (E, N, T)
        seen = ((d2 <= c.detect**2) & alive[:, :, None]).any(axis=1)
        in_scope = np.ones(E, dtype=bool) if envs is None else np.isin(np.arange(E), envs)
        seen &= in_scope[:, None]
        now = np.broadcast_to(engine.env_t[:, None], self.found_at.shape)
        newly = seen & (self.found_at < 0)
        self.found_at[newly] = now[newly]
        cell = self._cells(engine.pos)
        flat = np.ravel_multi_index(tuple(cell.T), [self.per_side] * self.dim)
        moving = engine.alive & in_scope[engine.env]
        entered = moving & (flat != self.last_cell)
        rows = np.flatnonzero(entered)
        env = engine.env[rows]
        where = (env, *cell[rows].T)
        before = self.marks[where]
        np.add.at(self.entries, env, 1.0)
        np.add.at(self.revisits, env, (before > 0).astype(float))
        np.add.at(self.marks, where, 1.0)
        self.last_cell = np.where(moving, flat, self.last_cell)

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) targets of the drone's environment found this step (shared by its drones):
        the team is paid once per target, when ``fraction_found`` rises."""
        found_now = (self.found_at == engine.env_t[:, None]).sum(axis=1).astype(np.float64)
        return np.where(engine.alive, found_now[engine.env], 0.0)

    # ----------------------------------------------------------------- metrics
    def fraction_found(self, engine: Swarm) -> np.ndarray:
        return (self.found_at >= 0).mean(axis=1)

    def time_to_find_all(self, engine: Swarm) -> np.ndarray:
        done = (self.found_at >= 0).all(axis=1)
        return np.where(done, self.found_at.max(axis=1) * self.config.dt, np.nan)

    def area_visited(self, engine: Swarm) -> np.ndarray:
        return (self.marks > 0).mean(axis=tuple(range(1, self.dim + 1)))

    def revisit_ratio(self, engine: Swarm) -> np.ndarray:
        return self.revisits / np.maximum(self.entries, 1.0)


class SearchModel(SwarmModel):
    """Mesa model of the search scenario (see the module docstring)."""

    name = "search"
    scenario_class = Search
    config_class = SearchConfig
