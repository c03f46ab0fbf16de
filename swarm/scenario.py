"""A scenario: the task on top of the engine, as a few named hooks.

A scenario module in ``envs/`` defines a config class (a :class:`~swarm.engine.SwarmConfig`
subclass with the task's own fields) and a :class:`Scenario` subclass with these hooks, each
vectorised over the engine's rows and environments:

``spawn(engine, rows, rng)``
    Place the drones of the given rows (initial positions and velocities).
``metrics(engine) -> {name: (E,) array}``
    What the DataCollector records every step and ``summary.json`` reports at the end.
``knowledge() -> {name: value}`` (optional)
    Static task facts every drone carries from take-off (the map, the shape to form); they
    reach controllers as ``obs.known``.
``observe(engine) -> {name: (R, ...) array}`` (optional)
    The task's readings each drone makes this step (a signal at its own position, marks on
    the floor under it); they reach controllers in ``obs.own`` beside the engine-carried
    per-agent state ``engine.agent_state``. Row i may depend only on what i can sense.
``update(engine)`` (optional)
    Advance the task's own world once everyone moved (targets found, marks laid).
``render_layers(engine) -> [Layer]`` (optional)
    What the viewer draws, bottom to top, as a declarative draw list
    (:mod:`swarm.viewer.layers`: agents, edges, circles, cells); by default the comm links
    and the drones of environment 0. Add goals or maps by prepending layers.

Learning hooks, used by the PettingZoo and batched envs (:mod:`swarm.marl`); the defaults
give a zero reward, terminate crashed drones only and add no task features:

``observation_segments() -> [Segment]`` and ``task_features(obs) -> {name: (R, *shape)}``
    The task's part of each drone's flat observation vector, computed from the batch of
    *local* observations (usually from what ``observe`` put in ``obs.own``), never the world.
``message_dim``, ``broadcast(obs) -> (R, message_dim)``, ``message_segment()`` and
    ``read_messages(obs, receivers, messages) -> (K, *shape)``: what every drone tells its
    comm-graph neighbours each step in the envs, and how a receiver turns a message into
    features (e.g. an absolute position into a relative one).
``state_segments() -> [Segment]`` and ``state_features(engine) -> {name: (E, *shape)}``
    The task's part of the global state a centralised critic reads (landmark positions).
``reward(engine, actions) -> (R,)`` and ``terminated(engine) -> (R,) bool``
    Evaluated on the state after a step; rows of crashed drones are masked by the env.

The Mesa model class (``SwarmModel`` subclass, two lines) ties config, scenario and engine
together and is what the registry points to.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numba
import numpy as np

from swarm import metrics as m

if TYPE_CHECKING:
    from swarm.engine import Swarm, SwarmConfig
    from swarm.neighbors import NeighborTable
    from swarm.observation import LocalObservation
    from swarm.teams import Team


@dataclass(frozen=True)
class Segment:
    """A named block of a flat feature vector: its shape and the range its values lie in.

    Observation and state vectors are concatenations of segments, read back by name
    (:class:`swarm.marl.Layout`), never by position.

    ``vectors`` says what a body frame (``frame="body"`` in :mod:`swarm.marl`) must do with
    the segment, declared by its author since a shape cannot tell a position from a list of
    flags: the offsets along the last axis at which a spatial vector (``dim`` components x,
    y[, z], world axes) starts, rotated into each drone's own frame; ``()``: nothing in it
    turns with the drone (masks, distances, flags); None (the default): not declared, so a
    body-frame observation refuses the segment rather than mix frames.
    """

    name: str
    shape: tuple[int, ...]
    low: float
    high: float
    doc: str = ""
    vectors: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def collision_counts(engine: Swarm) -> np.ndarray:
    """(R,) number of other alive drones closer than ``collision_radius`` to each row."""
    out = np.zeros(engine.rows)
    table = collision_table(engine)
    if table is not None:
        _count_closer(table.ptr, table.seg_row, table.dist,
                      float(engine.config.collision_radius), out)  # fmt: skip
    return out


def collision_table(engine: Swarm) -> NeighborTable | None:
    """A neighbour table holding every pair closer than ``collision_radius`` (the sensing
    table when it covers that radius all around, else a search of its own); None when
    collisions are off. Count them with ``dist < collision_radius``."""
    from swarm.neighbors import radius_neighbors

    c = engine.config
    if c.collision_radius <= 0:
        return None
    engine.obs  # noqa: B018 - sense first if the state was edited
    if c.fov_deg < 360.0 or c.collision_radius > c.sense_radius:
        return radius_neighbors(
            engine.pos, engine.vel, engine.alive, engine.env, engine.n_envs, c.world_size,
            c.torus, c.collision_radius,
        )  # fmt: skip
    return engine.neighbors


@numba.njit(cache=True)
def _count_closer(ptr, seg_row, dist, radius, out):
    """``out[row] += 1`` for each table entry of the row with ``dist < radius``."""
    for s in range(seg_row.shape[0]):
        for e in range(ptr[s], ptr[s + 1]):
            if dist[e] < radius:
                out[seg_row[s]] += 1.0


def random_headings(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """(n, dim) unit vectors uniform on the circle, or on the sphere (Archimedes: z uniform in
    [-1, 1], azimuth uniform)."""
    if dim == 2:
        heading = rng.uniform(-np.pi, np.pi, size=n)
        return np.column_stack([np.cos(heading), np.sin(heading)])
    z = rng.uniform(-1.0, 1.0, size=n)
    azimuth = rng.uniform(-np.pi, np.pi, size=n)
    ring = np.sqrt(1.0 - z * z)
    return np.column_stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z])


class Scenario:
    """Base class of scenario hooks; subclasses override what their task needs."""

    name: ClassVar[str] = "scenario"
    metric_functions: ClassVar[dict[str, Callable[[Swarm], np.ndarray]]] = m.FLOCKING_METRICS

    def __init__(self, config: SwarmConfig):
        self.config = config

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Uniform positions in the arena (a square, or a cube with ``dim = 3``), random
        headings at ``initial_speed``."""
        c = self.config
        n = len(rows)
        engine.pos[rows] = rng.uniform(0.0, c.world_size, size=(n, engine.dim))
        engine.vel[rows] = c.initial_speed * random_headings(rng, n, engine.dim)

    def knowledge(self) -> dict[str, Any]:
        """Static task facts every drone knows (``obs.known``); none by default."""
        return {}

    def teams(self) -> tuple[Team, ...] | None:
        """The kinds of agent, in row order (:mod:`swarm.teams`); None: one team."""
        return None

    def radio_pairs(self) -> set[tuple[str, str]]:
        """Pairs of teams that share a radio; by default each team only with itself."""
        return {(team.name, team.name) for team in self.teams() or ()}

    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        """Per-row task readings (``obs.own``), each from what that row can sense; none."""
        return {}

    def update(self, engine: Swarm) -> None:
        """Advance the task's world after everyone moved; nothing by default."""

    def render_layers(self, engine: Swarm) -> list[Any]:
        """The viewer's draw list for the current state: comm links and drones by default."""
        from swarm.viewer.layers import drone_layers  # numpy only; no pygame import

        return drone_layers(engine)

    # ----------------------------------------------------------------- learning hooks
    message_dim: ClassVar[int] = 0  # floats each drone broadcasts in the envs (0: none)

    def observation_segments(self) -> list[Segment]:
        """The task's segments of the flat observation (after the engine's own); none."""
        return []

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        """Segment name -> (R, *shape) values, row i from row i's local observation only."""
        return {}

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        """(R, message_dim) what each drone sends its comm neighbours this step."""
        return np.zeros((obs.n, self.message_dim))

    def message_segment(self) -> Segment:
        """Shape and range of the features one received message becomes."""
        return Segment("message", (self.message_dim,), -np.inf, np.inf)

    def read_messages(
        self, obs: LocalObservation, receivers: np.ndarray, messages: np.ndarray
    ) -> np.ndarray:
        """(K, *message_segment().shape) features of messages (K, D) received by rows
        ``receivers`` (K,); by default the message itself."""
        return messages

    def state_segments(self) -> list[Segment]:
        """The task's segments of the global state (after the drones' own); none."""
        return []

    def state_features(self, engine: Swarm) -> dict[str, np.ndarray]:
        """Segment name -> (E, *shape) task state for a centralised critic."""
        return {}

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) reward of each drone for the step just taken (``actions`` (R, 2)); zero."""
        return np.zeros(engine.rows)

    def terminated(self, engine: Swarm) -> np.ndarray:
        """(R,) bool: the drone's episode is over; by default once it crashed."""
        return ~engine.alive

    # ----------------------------------------------------------------- metrics
    def metric_names(self) -> list[str]:
        names = [*self.metric_functions, *m.COMM_METRICS]
        if self.config.obstacles != "none":
            names += list(m.OBSTACLE_METRICS)
        if self.config.algebraic_connectivity:
            names.append("algebraic_connectivity")
        return names

    def metrics(self, engine: Swarm) -> dict[str, np.ndarray]:
        """The task's metrics, then what the radio carried (``swarm.metrics.COMM_METRICS``)."""
        out = {name: fn(engine) for name, fn in self.metric_functions.items()}
        out.update({name: fn(engine) for name, fn in m.COMM_METRICS.items()})
        if self.config.obstacles != "none":
            out.update({name: fn(engine) for name, fn in m.OBSTACLE_METRICS.items()})
        if self.config.algebraic_connectivity:
            out["algebraic_connectivity"] = m.algebraic_connectivity(engine)
        return out
