"""Cooperative navigation: N drones must cover N landmarks, each drone seeing only the
landmarks within its sensing range and what its comm-graph neighbours tell it.

Version ``v0``. The local-observation counterpart of MPE's ``simple_spread`` (Lowe et al.
2017, "Multi-Agent Actor-Critic for Mixed Cooperative-Competitive Environments"; PettingZoo
``mpe2.simple_spread_v3``), so results can be set beside the MARL literature. What differs:
an MPE agent observes every landmark and every other agent; here a drone senses landmarks
only within ``landmark_range`` (the ``landmark_slots`` nearest, with a mask) and drones only
within ``sense_radius``, and learns the rest from messages.

=================  =====================================================================
Agents             ``n_agents`` drones (double integrators), hovering at spawn
Landmarks          ``n_landmarks`` fixed points (default one per drone), uniform in the
                   arena; drones spawn uniformly too (as in simple_spread)
Arena              square of side ``world_size``, ``box`` walls by default; with ``dim = 3``
                   a cube of that side, landmarks and drones uniform in it (altitude in
                   [0, world_size], the box's floor and ceiling being the altitude limits)
Sensing            drones within ``sense_radius``; landmarks within ``landmark_range``:
                   ``obs.own["landmark_rel_pos"]`` (R, landmark_slots, dim), nearest first
                   (Euclidean distance in the plane or the cube), and
                   ``obs.own["landmark_mask"]`` (R, landmark_slots), 1 where a slot holds a
                   landmark
Messages           in the envs every drone broadcasts, each step, the absolute position of
                   the nearest landmark it senses (dim coordinates), its own distance to it
                   and a flag (0 when it senses none): ``dim + 2`` floats; a receiver reads
                   the landmark relative to itself
Default policy     ``random_walk`` (a baseline; learned policies are the point here); the
                   controllers that fly in 3-D (``random_walk``, ``boids``,
                   ``olfati_saber``, ``rendezvous``, ``vicsek``) run in the cube too
Metrics            coverage_cost: sum over landmarks of the distance to the nearest alive
                   drone (m; simple_spread's negative global reward); landmarks_covered:
                   share of landmarks with an alive drone within ``cover_radius`` (a ball
                   in 3-D); collisions; n_components of the comm graph; n_alive
=================  =====================================================================

Reward (as ``simple_spread_v3`` with ``local_ratio``), for drone i of environment e:

    global_e = - sum_l min_{alive j} |p_j - l|          (shared by every drone of e)
    local_i  = - #{j : |p_j - p_i| < collision_radius}  (collisions of drone i)
    r_i      = (1 - local_ratio) * global_e + local_ratio * local_i

Episodes end at ``max_cycles`` (truncation, the env's argument); a crashed drone terminates
(faults: ``crash_at``, ``crash_rate``), and its position no longer counts in ``global_e``. A
landmark nobody alive is left to cover counts as the arena's diagonal (``sqrt(dim)
world_size``).

Arguments are the fields of :class:`NavigationConfig` plus ``rng`` (the seed). Example::

    from envs.navigation import NavigationModel
    model = NavigationModel(n_agents=3, rng=1)
    model.observe().own["landmark_rel_pos"]  # (3, landmark_slots, 2)
    cube = NavigationModel(n_agents=3, dim=3, rng=1)
    cube.observe().own["landmark_rel_pos"]  # (3, landmark_slots, 3)
"""

from __future__ import annotations

from typing import Any, Literal

import numba
import numpy as np
from pydantic import Field

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.neighbors import insert_k_best
from swarm.observation import LocalObservation
from swarm.scenario import Scenario, Segment, collision_table

_NEAREST_KEY = "navigation.nearest_drone"  # engine.scratch: (E, L) of the sensed state


@numba.njit(cache=True)
def _sense_landmarks(pos, env, alive, landmarks, reach, world, torus, rel, mask, nearest):
    """One pass over drones x their env's landmarks, in the plane or the cube (``dim`` =
    ``pos.shape[1]``). Plain-loop meaning::

    for each alive drone i of env e, each landmark l of e:
        d = landmarks[e, l] - pos[i]        (minimum image on a torus)
        nearest[e, l] = min(nearest[e, l], |d|)
    rel[i, t], mask[i, t] = d, 1 for the t-th nearest landmark with |d| <= reach
    (ascending distance, ties by landmark index; slots beyond stay 0)
    """
    k = mask.shape[1]
    dim = pos.shape[1]
    n_landmarks = landmarks.shape[1]
    best_d = np.empty(k)
    best_l = np.empty(k, np.int64)
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        e = env[i]
        n = 0
        for lm in range(n_landmarks):
            sq = 0.0  # 0 + dx^2 + dy^2 is dx^2 + dy^2 to the bit: the 2-D pass as it was
            for a in range(dim):
                x = _offset(landmarks, e, lm, pos, i, a, world, torus)
                sq += x * x
            d = np.sqrt(sq)
            if d < nearest[e, lm]:
                nearest[e, lm] = d
            if d <= reach:
                n = insert_k_best(best_d, best_l, n, k, d, lm)  # ties: landmark order
        for t in range(n):
            for a in range(dim):
                rel[i, t, a] = _offset(landmarks, e, best_l[t], pos, i, a, world, torus)
            mask[i, t] = 1.0


@numba.njit(cache=True)
def _spread_reward(nearest, env, alive, ptr, seg_row, dist, collision_radius, local_ratio,
                   unreachable, out):  # fmt: skip
    """:meth:`Navigation.reward` for every row; ``nearest`` (E, L) per landmark (inf:
    nobody left to cover it, counted as ``unreachable``)."""
    cost = np.zeros(nearest.shape[0])
    for e in range(nearest.shape[0]):
        for lm in range(nearest.shape[1]):
            d = nearest[e, lm]
            cost[e] += d if np.isfinite(d) else unreachable
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        hits = 0.0
        for q in range(ptr[s], ptr[s + 1]):
            if dist[q] < collision_radius:
                hits += 1.0
        out[i] = -(1.0 - local_ratio) * cost[env[i]] - local_ratio * hits if alive[i] else 0.0


@numba.njit(cache=True)
def _landmark_reports(messages, pos, receivers, world, torus, out):
    """Row j: the landmark of message j relative to its receiver (minimum image on a
    torus), times the seen flag; the sender's distance to it; the seen flag. A message is
    ``[landmark (dim), distance, seen]``."""
    dim = pos.shape[1]
    for j in range(receivers.shape[0]):
        seen = messages[j, dim + 1]
        for d in range(dim):
            rel = messages[j, d] - pos[receivers[j], d]
            if torus:
                rel -= world * np.round(rel / world)
            out[j, d] = rel * seen
        out[j, dim] = messages[j, dim]
        out[j, dim + 1] = seen


@numba.njit(cache=True, inline="always")
def _offset(landmarks, e, lm, pos, i, a, world, torus):
    """Coordinate ``a`` of landmark lm of env e relative to drone i (minimum image on a
    torus)."""
    x = landmarks[e, lm, a] - pos[i, a]
    if torus:
        x -= world * np.rint(x / world)
    return x


@numba.njit(cache=True)
def _nearest_landmark_messages(pos, rel, mask, world, torus, out):
    """Row i's message: the position of its nearest sensed landmark (``dim`` coordinates,
    wrapped into the arena on a torus), its distance to it, 1; all zero when it senses
    none."""
    dim = pos.shape[1]
    for i in range(pos.shape[0]):
        if mask[i, 0] == 0.0:
            for f in range(dim + 2):
                out[i, f] = 0.0
            continue
        sq = 0.0  # 0 + x^2 + y^2 is x^2 + y^2 to the bit: the 2-D message as it was
        for a in range(dim):
            x = pos[i, a] + rel[i, 0, a]
            if torus:
                x = np.mod(x, world)
            out[i, a] = x
            sq += rel[i, 0, a] * rel[i, 0, a]
        out[i, dim] = np.sqrt(sq)
        out[i, dim + 1] = mask[i, 0]


class NavigationConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the navigation task's own fields."""

    dims = (2, 3)  # landmarks in the square, or in the cube (uniform in all three axes)

    n_agents: int = Field(3, ge=1, description="number of drones")
    world_size: float = Field(
        8.0, gt=0, description="side of the arena (m): a square, or a cube with dim = 3"
    )
    boundary: Literal["torus", "box"] = Field(
        "box", description="torus wraps around; box has reflecting walls (in 3-D its floor "
        "and ceiling are the altitude limits)",
    )  # fmt: skip
    max_speed: float = Field(1.5, gt=0, description="speed limit (m/s)")
    max_accel: float = Field(3.0, gt=0, description="acceleration limit (m/s^2)")
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s); drones hover")
    sense_radius: float = Field(3.0, gt=0, description="range of the on-board sensor (m)")
    policy: str = Field("random_walk", description="controller name (see `swarm list`)")
    n_landmarks: int | None = Field(
        None, ge=1, description="landmarks to cover; default one per drone"
    )
    landmark_range: float | None = Field(
        None, gt=0, description="distance at which a drone senses a landmark (m); "
        "default sense_radius",
    )  # fmt: skip
    landmark_slots: int = Field(
        3, ge=1, description="nearest landmarks a drone's observation holds (masked slots)"
    )
    cover_radius: float = Field(
        0.5, gt=0, description="a landmark counts as covered with a drone this close (m)"
    )
    local_ratio: float = Field(
        0.5, ge=0, le=1, description="weight of the own collision penalty against the "
        "shared coverage reward (simple_spread's local_ratio)",
    )  # fmt: skip

    @property
    def landmark_count(self) -> int:
        """Landmarks per environment (``n_landmarks``, default one per drone)."""
        return self.n_landmarks if self.n_landmarks is not None else self.n_agents

    def memory_parts(self) -> dict[str, float]:
        """The engine's, plus the landmark slots of every observation and the drone x
        landmark distances of the landmark pass."""
        parts = super().memory_parts()
        parts["landmark_slots"] = self.n_agents * self.landmark_slots * (16.0 + 16.0 * self.dim)
        parts["n_landmarks"] = (self.n_agents + 1) * self.landmark_count * (8.0 + 8.0 * self.dim)
        return parts

    @property
    def landmark_reach(self) -> float:
        """Range of the landmark sensor (``landmark_range``, default ``sense_radius``)."""
        return self.landmark_range if self.landmark_range is not None else self.sense_radius


class Navigation(Scenario):
    """Place landmarks and drones; drones sense nearby landmarks; reward coverage."""

    name = "navigation"
    message_dim = 4  # landmark x, y (m), sender's distance to it (m), seen flag; 5 in 3-D

    def __init__(self, config: NavigationConfig):
        super().__init__(config)
        self.dim = config.dim
        self.message_dim = config.dim + 2  # landmark (dim) m, distance to it m, seen flag
        self.landmarks = np.zeros((0, config.landmark_count, self.dim))  # (E, L, dim) metres
        self.metric_functions = {
            "coverage_cost": self.coverage_cost,
            "landmarks_covered": self.landmarks_covered,
            "collisions": m.collisions,
            "n_components": m.n_components,
            "n_alive": m.n_alive,
        }

    # ----------------------------------------------------------------- world
    def render_layers(self, engine: Swarm) -> list[Any]:
        """Env 0's landmarks under the drones: filled once a drone is within reach (in 3-D
        spheres at the landmarks' three coordinates)."""
        from swarm.viewer.layers import Circles

        marks = self.landmarks[0]
        near = np.sqrt(((engine.pos[: engine.n_agents, None] - marks[None]) ** 2).sum(-1))
        alive = engine.alive[: engine.n_agents, None]
        covered = (np.where(alive, near, np.inf) <= self.config.cover_radius).any(axis=0)
        colour = np.where(covered[:, None], [[250, 200, 60]], [[120, 100, 50]]).astype(np.uint8)
        return [
            Circles("landmarks", marks, self.config.cover_radius, colour),
            *super().render_layers(engine),
        ]

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Drones of ``rows`` uniform and hovering; new landmarks for their environments,
        uniform in the square (or the cube: altitude uniform in [0, world_size] too)."""
        c = self.config
        dim = self.dim
        if self.landmarks.shape[0] != engine.n_envs:
            self.landmarks = np.zeros((engine.n_envs, c.landmark_count, dim))
        super().spawn(engine, rows, rng)
        envs = np.unique(engine.env[rows])
        self.landmarks[envs] = rng.uniform(
            0.0, c.world_size, size=(len(envs), c.landmark_count, dim)
        )
        if engine.obstacles is not None:  # every landmark in the open, where a drone fits
            marks = self.landmarks[envs].reshape(-1, dim)
            cleared = engine.obstacles.push_out(marks, c.collision_radius)
            self.landmarks[envs] = cleared.reshape(len(envs), c.landmark_count, dim)

    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        """The ``landmark_slots`` nearest landmarks within ``landmark_range`` of each drone.

        The same compiled pass (:func:`_sense_landmarks`) measures every landmark's distance
        to its nearest alive drone, which the reward and metrics of this state then reuse.
        """
        rel, mask, nearest = self._landmark_pass(engine)
        engine.scratch[_NEAREST_KEY] = nearest
        return {"landmark_rel_pos": rel, "landmark_mask": mask}

    def _landmark_pass(self, engine: Swarm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = self.config
        k, L = c.landmark_slots, self.landmarks.shape[1]
        rel = np.zeros((engine.rows, k, self.dim))
        mask = np.zeros((engine.rows, k))
        nearest = np.full((engine.n_envs, L), np.inf)
        _sense_landmarks(
            engine.pos, engine.env, engine.alive, self.landmarks, float(c.landmark_reach),
            float(c.world_size), bool(c.torus), rel, mask, nearest,
        )  # fmt: skip
        return rel, mask, nearest

    def knowledge(self) -> dict[str, float]:
        return {"landmark_range": self.config.landmark_reach}

    # ----------------------------------------------------------------- learning hooks
    def observation_segments(self) -> list[Segment]:
        c = self.config
        k, r = c.landmark_slots, c.landmark_reach
        return [
            Segment(
                "landmark_rel_pos",
                (k, self.dim),
                -r,
                r,
                "sensed landmarks, nearest first (m)",
                vectors=(0,),
            ),
            Segment(
                "landmark_mask", (k,), 0.0, 1.0, "1 where the slot holds a landmark", vectors=()
            ),
        ]

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        return {name: obs.own[name] for name in ("landmark_rel_pos", "landmark_mask")}

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        """Nearest sensed landmark in absolute coordinates (dim), own distance to it, seen
        flag."""
        c = self.config
        out = np.empty((obs.n, self.message_dim))
        _nearest_landmark_messages(
            obs.pos, obs.own["landmark_rel_pos"], obs.own["landmark_mask"],
            float(c.world_size), bool(c.torus), out,
        )  # fmt: skip
        return out

    def message_segment(self) -> Segment:
        c = self.config
        bound = max(c.world_size, c.landmark_reach)
        return Segment(
            "message", (self.dim + 2,), -bound, bound,
            f"a neighbour's landmark relative to me (m, {self.dim}), its distance to it (m), "
            "seen flag",
        )  # fmt: skip

    def read_messages(
        self, obs: LocalObservation, receivers: np.ndarray, messages: np.ndarray
    ) -> np.ndarray:
        """The sender's landmark relative to the receiver's own position."""
        c = self.config
        out = np.empty((len(receivers), self.dim + 2))
        _landmark_reports(messages, obs.pos, receivers, float(c.world_size), bool(c.torus), out)
        return out

    def state_segments(self) -> list[Segment]:
        c = self.config
        return [
            Segment("landmarks", (c.landmark_count, self.dim), 0.0, c.world_size, "positions (m)")
        ]

    def state_features(self, engine: Swarm) -> dict[str, np.ndarray]:
        return {"landmarks": self.landmarks.copy()}

    def _nearest_drone(self, engine: Swarm) -> np.ndarray:
        """(E, L) distance from each landmark to the nearest alive drone of its env (m)."""
        nearest = engine.scratch.get(_NEAREST_KEY)  # measured when the state was sensed
        if nearest is None or nearest.shape != self.landmarks.shape[:2]:
            nearest = self._landmark_pass(engine)[2]
        return np.where(np.isfinite(nearest), nearest, self._unreachable)

    @property
    def _unreachable(self) -> float:
        """A landmark's distance when nobody is left to cover it: the farthest a landmark
        can be from anything in the arena (the diagonal of the square, or of the cube)."""
        return float(np.sqrt(float(self.dim)) * self.config.world_size)

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) simple_spread's reward: shared coverage plus own collisions (module doc)::

            (1 - local_ratio) * -coverage_cost[env] + local_ratio * -(drones closer than
            collision_radius), 0 for crashed drones

        in one compiled pass over the landmark distances and the collision table.
        """
        c = self.config
        nearest = engine.scratch.get(_NEAREST_KEY)  # measured when the state was sensed
        if nearest is None or nearest.shape != self.landmarks.shape[:2]:
            nearest = self._landmark_pass(engine)[2]
        table = collision_table(engine)
        out = np.zeros(engine.rows)  # a row without a table segment would read 0
        if table is None:
            ptr, seg_row, dist = np.zeros(engine.rows + 1, np.int64), np.arange(engine.rows), \
                np.zeros(0)  # fmt: skip
        else:
            ptr, seg_row, dist = table.ptr, table.seg_row, table.dist
        _spread_reward(nearest, engine.env, engine.alive, ptr, seg_row, dist,
                       float(c.collision_radius), float(c.local_ratio), self._unreachable,
                       out)  # fmt: skip
        return out

    # ----------------------------------------------------------------- metrics
    def coverage_cost(self, engine: Swarm) -> np.ndarray:
        """(E,) sum over landmarks of the distance to the nearest alive drone (m)."""
        return self._nearest_drone(engine).sum(axis=1)

    def landmarks_covered(self, engine: Swarm) -> np.ndarray:
        """(E,) share of landmarks with an alive drone within ``cover_radius``."""
        return (self._nearest_drone(engine) <= self.config.cover_radius).mean(axis=1)


class NavigationModel(SwarmModel):
    """Mesa model of the cooperative navigation scenario (see the module docstring)."""

    name = "navigation"
    scenario_class = Navigation
    config_class = NavigationConfig
