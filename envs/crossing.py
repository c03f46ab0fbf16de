"""Antipodal crossing: drones on a circle (a sphere in 3-D) each fly to the opposite point,
all through the centre.

Version ``v0``. The standard test of collision avoidance (van den Berg, Guy, Lin, Manocha
2011, and most papers since): every straight path meets every other one in the middle at once,
so a controller that only flies to its goal collides, and a safety layer
(:mod:`swarm.safety`, ``safety = "orca"``) must get everyone across untouched. It flies in
the plane or, with ``dim = 3``, in a cube (the drones start on a sphere).

=================  =====================================================================
Agents             ``n_agents`` drones, evenly spaced on a circle of radius
                   ``ring_radius`` (default 0.45 ``world_size``) around the arena's centre,
                   each displaced by up to ``jitter`` m per axis (from the seed), hovering;
                   with ``dim = 3`` evenly spread on the sphere of that radius around the
                   cube's centre (the Fibonacci sphere: :func:`fibonacci_sphere`)
Goals              each drone's antipodal point (its start mirrored through the centre),
                   in ``obs.own["goal"]`` (dim,) m: the drone's own waypoint, nobody else's
Arena              square (cube) of side ``world_size``, ``box`` walls; the ring (sphere)
                   must leave ``MIN_GAP`` = 3 collision radii between the two closest starts
                   (checked: on the sphere the closest pair of its points, about 3.09
                   ``ring_radius / sqrt(n_agents)`` apart, so a sphere holds far more
                   drones than a ring of the same radius)
Dynamics           double integrators at ``max_speed`` (3 m/s), kinematic by default
                   (``max_accel = inf``: ORCA's velocity control; finite values work), 10 ms
                   steps (a drone moves 0.1 collision radii a step at top speed: a safety
                   layer that holds each velocity for a step needs steps that short)
Sensing            neighbours within ``sense_radius`` (2 m)
Default policy     ``goto`` (straight at the goal at top speed, braking onto it)
Metrics            collisions (pairs that came closer than ``collision_radius`` during the
                   last step), collisions_total (collisions since the spawn: a pair counts
                   each time it comes that close after a step apart), min_separation
                   (the closest two drones came during the last step, m, capped at the
                   sensing radius), closest_approach (the same over the whole run),
                   arrived_fraction (share of drones that have reached their goal, within
                   ``goal_radius``), time_to_goal (steps until every drone had arrived;
                   NaN before), interventions and intervention_max (change the safety
                   layer made to the commanded velocities, mean and max, m/s), n_alive
Reward (envs)      progress toward the goal in the step (m) minus one per drone it came
                   closer than ``collision_radius`` to
=================  =====================================================================

Collisions are checked along the step, not only at its end: the integrator flies each
drone's new velocity in a straight line for ``dt``, so two drones that cross within a step
(0.6 m of closing at 3 m/s each, twice the default collision radius) are caught by their
closest approach on those segments, computed from the neighbour table sensed before the
step (exact when ``sense_radius >= collision_radius + 2 max_speed dt`` and the sensor sees
all around; otherwise a search of its own at that range).

``summary.json`` has ``collisions_total``, ``closest_approach``, ``arrived_fraction``,
``time_to_goal`` (null until all arrived) and ``mean_intervention``. The experiment
``experiments/crossing.toml`` runs 100 and 1,000 drones with and without ORCA;
``experiments/crossing_3d.toml`` the same on a sphere (``swarm run crossing --dim 3
--safety orca``).

Example::

    from envs.crossing import CrossingModel
    model = CrossingModel(n_agents=100, safety="orca", rng=0)
    while np.isnan(model.metrics["time_to_goal"]):   # about 2,800 steps
        model.step()
    model.summary()   # {'collisions_total': 0.0, 'time_to_goal': 2765.0, ...}
"""

from __future__ import annotations

import functools
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.neighbors import radius_neighbors
from swarm.observation import LocalObservation
from swarm.safety import intervention_max, interventions, swept_separation
from swarm.scenario import Scenario, Segment

MIN_GAP = 3.0  # collision radii between neighbours on the ring at the start
RING_FRACTION = 0.45  # default ring radius, as a fraction of world_size
GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))  # radians between successive sphere points


def fibonacci_sphere(index: np.ndarray, n: int) -> np.ndarray:
    """(len(index), 3) points ``index`` of the Fibonacci sphere of ``n`` points (Swinbank and
    Purser 2006; Gonzalez 2010, Math. Geosci. 42): point i at height z = 1 - (2 i + 1) / n,
    i golden angles around the z axis. Equal areas in z give equal areas on the sphere
    (Archimedes), and the golden angle spreads each band's point away from its neighbours':
    near-even spacing, about 3.09 / sqrt(n) between nearest points."""
    i = np.asarray(index, dtype=np.float64)
    z = 1.0 - (2.0 * i + 1.0) / n
    around = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    azimuth = GOLDEN_ANGLE * i
    return np.column_stack([around * np.cos(azimuth), around * np.sin(azimuth), z])


@functools.lru_cache(maxsize=64)
def unit_spacing(n: int, dim: int) -> float:
    """The distance between the two closest of ``n`` starts on the unit circle (evenly
    spaced: 2 sin(pi / n)) or the unit Fibonacci sphere (measured with a k-d tree)."""
    if dim == 2:
        return 2.0 * math.sin(math.pi / n)
    from scipy.spatial import cKDTree

    points = fibonacci_sphere(np.arange(n), n)
    dist, _ = cKDTree(points).query(points, k=2)
    return float(dist[:, 1].min())


class CrossingConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the crossing's own fields."""

    dims = (2, 3)  # a circle in the square, or a sphere in the cube (spawn below)
    n_agents: int = Field(100, ge=2, description="drones on the ring (a sphere with dim = 3)")
    world_size: float = Field(
        60.0, gt=0, description="side of the square arena (m), a cube with dim = 3"
    )
    boundary: Literal["torus", "box"] = Field("box", description="box: reflecting walls")
    max_accel: float = Field(
        float("inf"), gt=0, allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf (default): velocity control, as ORCA's",
    )  # fmt: skip
    dt: float = Field(
        0.01, gt=0, description="seconds per step: 100 Hz, steps of 0.1 collision radii at 3 m/s"
    )
    sense_radius: float = Field(2.0, gt=0, description="range of the on-board sensor (m)")
    initial_speed: float = Field(0.0, ge=0, description="spawn speed, toward the goal (m/s)")
    policy: str = Field("goto", description="controller (see `swarm list`)")
    ring_radius: float | None = Field(
        None,
        gt=0,
        description="radius of the start circle (or sphere) (m); default 0.45 world_size",
    )
    jitter: float = Field(
        0.05, ge=0, description="each start displaced by up to this much per axis (m)"
    )
    goal_radius: float = Field(0.5, gt=0, description="within this of its goal a drone arrived")

    @property
    def ring(self) -> float:
        return self.ring_radius if self.ring_radius is not None else RING_FRACTION * self.world_size

    @model_validator(mode="after")
    def _ring_fits_and_is_sparse(self) -> CrossingConfig:
        ring, half = self.ring, 0.5 * self.world_size
        if ring + self.jitter >= half:
            raise ValueError(
                f"ring_radius ({ring:g} m) plus jitter must stay inside the arena: below "
                f"half of world_size ({half:g} m)"
            )
        # the closest two starts of the unit circle (sphere), less two jitters at worst
        chord = unit_spacing(self.n_agents, self.dim)
        shake = 2.0 * math.sqrt(self.dim) * self.jitter
        gap = ring * chord - shake
        need = MIN_GAP * self.collision_radius
        if gap < need:
            ring_needed = (need + shake) / chord
            shape = "sphere" if self.dim == 3 else "ring"
            raise ValueError(
                f"ring_radius: {self.n_agents} drones on a {shape} of {ring:g} m start "
                f"{max(gap, 0.0):.3g} m apart, below {MIN_GAP:g} collision radii ({need:g} m); "
                f"use a ring of >= {ring_needed:.4g} m (world_size >= "
                f"{ring_needed / RING_FRACTION:.4g} m), fewer drones or less jitter"
            )
        return self


class Crossing(Scenario):
    """Ring spawn, antipodal goals, collisions along each step (see the module docstring)."""

    name = "crossing"
    PROGRESS_WEIGHT = 1.0  # reward per metre gained toward the goal
    COLLISION_PENALTY = 1.0  # per drone it came closer than collision_radius to in the step

    def __init__(self, config: CrossingConfig):
        super().__init__(config)
        self.goal = np.zeros((0, config.dim))  # (R, dim) each drone's goal (m)
        self.arrived_at = np.zeros(0, np.int64)  # (R,) step it first reached its goal; -1 not
        self.distance = np.zeros(0)  # (R,) to its goal after the last step (m)
        self.progress = np.zeros(0)  # (R,) metres gained toward the goal in the last step
        self.hits = np.zeros(0)  # (R,) drones it came closer than collision_radius to, last step
        self.moved = np.zeros(0, bool)  # (E,) a step was taken since the spawn
        self.step_collisions = np.zeros(0)  # (E,) pairs in contact during the last step
        self.step_closest = np.zeros(0)  # (E,) closest approach during the last step (m)
        self.closest = np.zeros(0)  # (E,) closest approach since the spawn (m)
        self.contacts = np.zeros(0, np.int64)  # sorted keys i * R + j (i < j) in contact, last step
        self.events = np.zeros(0)  # (E,) collisions since the spawn (contacts begun)
        self.pos_before = np.zeros((0, config.dim))  # (R, dim) at the last sensing (own search)
        c = config
        # the sensing table before a step holds every pair that can touch during it
        self.exact = c.fov_deg >= 360.0 and c.sense_radius >= (
            c.collision_radius + 2.0 * c.max_speed * c.dt
        )
        self.metric_functions = {
            "collisions": self.collisions,
            "collisions_total": self.collisions_total,
            "min_separation": self.min_separation,
            "closest_approach": self.closest_approach,
            "arrived_fraction": self.arrived_fraction,
            "time_to_goal": self.time_to_goal,
            "interventions": interventions,
            "intervention_max": intervention_max,
            "n_alive": m.n_alive,
        }

    # ----------------------------------------------------------------- world
    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Drone i of each arena at angle 2 pi i / N on the ring (point i of the Fibonacci
        sphere in 3-D), jittered; goal opposite."""
        c = self.config
        dim = engine.dim
        if len(self.goal) != engine.rows:
            self.goal = np.zeros((engine.rows, dim))
            self.arrived_at = np.full(engine.rows, -1, np.int64)
            self.distance = np.zeros(engine.rows)
            self.progress = np.zeros(engine.rows)
            self.hits = np.zeros(engine.rows)
            self.pos_before = np.zeros((engine.rows, dim))
            E = engine.n_envs
            self.moved = np.zeros(E, bool)
            self.step_collisions = np.zeros(E)
            self.step_closest = np.full(E, c.sense_radius)
            self.closest = np.full(E, c.sense_radius)
            self.events = np.zeros(E)
        rows = np.asarray(rows, np.int64)
        centre = 0.5 * c.world_size
        if dim == 3:
            ring = fibonacci_sphere(rows % engine.n_agents, engine.n_agents)
        else:
            angle = 2.0 * np.pi * (rows % engine.n_agents) / engine.n_agents
            ring = np.column_stack([np.cos(angle), np.sin(angle)])
        start = centre + c.ring * ring + rng.uniform(-c.jitter, c.jitter, size=(len(rows), dim))
        goal = 2.0 * centre - start
        if engine.obstacles is not None:  # starts and goals in the open, a drone's width clear
            start = engine.obstacles.push_out(start, c.collision_radius)
            goal = engine.obstacles.push_out(goal, c.collision_radius)
        engine.pos[rows] = start
        self.goal[rows] = goal
        offset = self.goal[rows] - start
        self.distance[rows] = np.sqrt((offset**2).sum(axis=1))
        engine.vel[rows] = c.initial_speed * offset / self.distance[rows][:, None]
        self.arrived_at[rows] = -1
        self.progress[rows] = 0.0
        self.hits[rows] = 0.0
        envs = np.unique(engine.env[rows])
        self.moved[envs] = False
        self.step_collisions[envs] = 0.0
        self.step_closest[envs] = c.sense_radius
        self.closest[envs] = c.sense_radius
        self.events[envs] = 0.0
        if len(self.contacts):
            self.contacts = self.contacts[~np.isin(engine.env[self.contacts // engine.rows], envs)]

    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        """Each drone's own goal (a waypoint it was given, not a reading of others)."""
        if not self.exact:
            self.pos_before = engine.pos.copy()
        return {"goal": self.goal.copy()}

    def update(self, engine: Swarm) -> None:
        """After everyone moved: arrivals, progress, and contacts along the step."""
        c = self.config
        offset = self.goal - engine.pos
        distance = np.sqrt((offset**2).sum(axis=1))
        self.progress = np.where(engine.alive, self.distance - distance, 0.0)
        self.distance = distance
        new = engine.alive & (self.arrived_at < 0) & (distance <= c.goal_radius)
        self.arrived_at[new] = engine.env_t[engine.env[new]]
        reach = c.collision_radius + 2.0 * c.max_speed * c.dt
        before = engine.neighbors if self.exact else radius_neighbors(
            self.pos_before, engine.vel, engine.alive, engine.env, engine.n_envs, c.world_size,
            c.torus, reach,
        )  # fmt: skip
        closest, self.hits, pairs = swept_separation(engine, before, c.collision_radius)
        self.step_closest = closest
        self.closest = np.minimum(self.closest, closest)
        E = engine.n_envs
        self.step_collisions = np.bincount(engine.env[pairs // engine.rows],
                                           minlength=E).astype(float)  # fmt: skip
        pairs = np.sort(pairs)
        begun = pairs[~np.isin(pairs, self.contacts, assume_unique=True)] if len(pairs) else pairs
        self.events += np.bincount(engine.env[begun // engine.rows], minlength=E)
        self.contacts = pairs
        self.moved[:] = True

    def render_layers(self, engine: Swarm) -> list[Any]:
        """Env 0's goals (rings) under the drones."""
        from swarm.viewer.layers import Circles

        goals = self.goal[: engine.n_agents]
        return [
            Circles("goals", goals, self.config.goal_radius, (120, 100, 50), filled=False),
            *super().render_layers(engine),
        ]

    # ----------------------------------------------------------------- learning hooks
    def observation_segments(self) -> list[Segment]:
        w = self.config.world_size
        d = self.config.dim
        return [
            Segment(
                "goal_rel_pos", (d,), -w, w, "own goal relative to own position (m)", vectors=(0,)
            )
        ]

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        return {"goal_rel_pos": obs.own["goal"] - obs.pos}

    def state_segments(self) -> list[Segment]:
        c = self.config
        return [Segment("goals", (c.n_agents, c.dim), 0.0, c.world_size, "goal positions (m)")]

    def state_features(self, engine: Swarm) -> dict[str, np.ndarray]:
        return {"goals": self.goal.reshape(engine.n_envs, engine.n_agents, engine.dim)}

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) metres gained toward the goal minus the drones it touched in the step."""
        reward = self.PROGRESS_WEIGHT * self.progress - self.COLLISION_PENALTY * self.hits
        return np.where(engine.alive, reward, 0.0)

    # ----------------------------------------------------------------- metrics
    def collisions(self, engine: Swarm) -> np.ndarray:
        """Pairs that came closer than ``collision_radius`` during the last step."""
        return self.step_collisions.copy()

    def collisions_total(self, engine: Swarm) -> np.ndarray:
        """Collisions since the spawn: a pair counts each time it comes closer than
        ``collision_radius`` after a step apart."""
        return self.events.copy()

    def min_separation(self, engine: Swarm) -> np.ndarray:
        """The closest two drones came during the last step (m; at the spawn: now), capped
        at the sensing radius."""
        if self.moved.all():
            return self.step_closest.copy()
        return np.where(self.moved, self.step_closest, m.min_separation(engine))

    def closest_approach(self, engine: Swarm) -> np.ndarray:
        """The closest two drones came since the spawn (m), capped at the sensing radius."""
        return np.minimum(self.closest, self.min_separation(engine))

    def arrived_fraction(self, engine: Swarm) -> np.ndarray:
        """Share of each arena's drones that have reached their goal."""
        arrived = np.bincount(engine.env[self.arrived_at >= 0], minlength=engine.n_envs)
        return arrived / engine.n_agents

    def time_to_goal(self, engine: Swarm) -> np.ndarray:
        """Steps until every drone had reached its goal; NaN before."""
        last = np.zeros(engine.n_envs)
        np.maximum.at(last, engine.env, self.arrived_at.astype(float))
        done = np.bincount(engine.env[self.arrived_at >= 0], minlength=engine.n_envs)
        return np.where(done == engine.n_agents, last, np.nan)


class CrossingModel(SwarmModel):
    """Mesa model of the antipodal crossing (see the module docstring)."""

    name = "crossing"
    scenario_class = Crossing
    config_class = CrossingConfig

    def summary(self) -> dict[str, Any]:
        """Headline fields of ``summary.json``."""
        metrics = self.metrics
        time = metrics["time_to_goal"]
        frame = self.datacollector.get_model_vars_dataframe()
        steps = frame["interventions"].iloc[1:]
        return {
            "collisions_total": metrics["collisions_total"],
            "closest_approach": metrics["closest_approach"],
            "arrived_fraction": metrics["arrived_fraction"],
            "time_to_goal": None if np.isnan(time) else time,
            "mean_intervention": float(steps.mean()) if len(steps) else 0.0,
        }
