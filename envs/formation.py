"""Formation: drones reach and hold a shape (a line, a wedge, a circle, a grid, in 3-D a
sphere, a cube lattice or a helix, or any set of points), deciding among themselves who takes
which place, with only the neighbours they sense and the messages of their comm neighbours.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones, kinematic by default (``max_accel = inf``: the
                   single integrators of the formation-control literature)
Arena              a box of side ``world_size``: a square, or with ``dim = 3`` a cube whose
                   floor and ceiling are the altitude limits; drones spawn uniformly in the
                   square (cube) of side ``spawn_extent`` centred on the formation's
                   ``center``
Shape              ``shape``: ``line``, ``wedge`` (a V of two arms at +-``WEDGE_HALF_ANGLE``
                   behind the apex), ``circle``, ``grid`` (rows of ``ceil(sqrt(n))``), or a
                   list of ``n_agents`` points; neighbouring slots ``scale`` metres apart
                   (custom points are multiplied by ``scale``). With ``dim = 3`` also
                   ``sphere`` (a Fibonacci lattice on a sphere, the closest slots ``scale``
                   apart), ``cube`` (a cubic lattice of side ``ceil(n^(1/3))``, filled from
                   the bottom layer) and ``helix`` (vertical, ``HELIX_SLOTS_PER_TURN`` slots
                   a turn), or [x, y, z] points; a planar shape (or [x, y] points) with
                   ``dim = 3`` is flown level, in the horizontal plane through ``center``,
                   which is at mid altitude by default (as a display team flies a figure
                   seen from the ground, not a figure stood on its edge). Known to every
                   drone from take-off: ``obs.known["slots"]`` (M, dim) slot offsets from
                   the shape's centroid, ``obs.known["anchor"]`` (dim,) where the shape is
                   meant to be centred (used only to price slots),
                   ``obs.known["min_spacing"]`` (m), ``obs.known["assignment"]``
                   (``"auction"`` or ``"spawn"``, below)
Per-agent state    each drone's view of the slot assignment (engine-carried, ``obs.own``):
                   ``slot`` (R,) its own slot, -1 for none; ``slot_bid`` (R, M) the highest
                   bid it has heard per slot, ``-inf`` for none; ``slot_winner`` (R, M) that
                   bid's drone (row), -1 for none: the tables of a consensus-based auction
                   (Choi, Brunet, How 2009). Nobody knows where the others are beyond its
                   sensing range
Default policy     ``formation``: displacement-based control (Oh, Park, Ahn 2015) with 1/d
                   collision avoidance, slots won in a local auction (the same law in 3-D),
                   or given at take-off with ``assignment = "spawn"`` (below)
Metrics            formation_error: RMS distance (m) between the drones holding a slot and
                   their slots after the best rigid alignment (rotation + translation,
                   Kabsch: closed form in 2-D, SVD with the determinant sign fix in 3-D, so
                   a rotation of SO(3), never a reflection) of the shape onto them, NaN
                   while nobody holds a slot; assigned (share of alive drones holding a
                   slot); conflicts (drones holding a slot another alive drone also holds);
                   convergence_time (s, first time everyone is assigned, without conflicts,
                   with formation_error <= ``tolerance``; NaN before); collisions (pairs
                   closer than ``collision_radius`` now) and collisions_total (pair-steps
                   so far); min_separation (m); n_components of the comm graph; n_alive
=================  =====================================================================

Slot assignment (``assignment``). By default (``"auction"``) nobody holds a slot at
take-off: the slots are won in the ``formation`` controller's CBAA, whose tables are the
engine-carried state above, changed only by that controller. A learned actor runs no auction,
so with it every drone would stay without a slot (and the reward below at its floor).
``assignment="spawn"`` hands out the slots at take-off instead: the scenario solves, per env,
the assignment of least total distance between the drones and the priced slots (``anchor +
slot``, the auction's own bid; :func:`scipy.optimize.linear_sum_assignment`, what the auction
approximates) and tells each drone its own slot only, written into its tables as a won
auction would leave them, so the ``formation`` controller still runs (its CBAA keeps the
slots and spreads the tables) and both controllers fly the same assignment. The learning
problem is then the motion alone; a learned auction is a separate question. The solve is
centralised, at take-off only (a mission plan uploaded before launch), and costs seconds at
10^4 drones (the last few results are remembered, since every controller evaluated on one
seed spawns the same drones).

Learning hooks (the PettingZoo env ``envs.formation_v0`` and the batched env). Each drone
reads, beside the engine's segments, the displacement reading of the sensed neighbours j that
have a slot in the take-off plan (uploaded to every drone with ``assignment = "spawn"``, so a
drone reads a neighbour's slot from it by the identity of the neighbour it senses; under
``"auction"`` there is no plan and the readings are zero): ``slot_error`` (dim,) the mean
of ``(p_j - p_i) - (p*_j - p*_i)`` (m, the direction the displacement law of Oh, Park, Ahn
2015 moves i), ``slot_peers`` how many such neighbours (capped at ``PEERS_CAP``) and
``slot_held`` (1 if i has a slot in the plan); they are also in ``obs.own``. The reading
uses the sensed relative positions without sensor noise. Reward of drone i (true state),
over the same neighbours ``H_i``:

    r_i = - min(mean_{j in H_i} |(p_j - p_i) - (p*_j - p*_i)|, sense_radius) / sense_radius
          - COLLISION_PENALTY * #{j : |p_j - p_i| < collision_radius}

so 0 in the shape (any translation of it: the law does not place the shape), down to -1 for
displacements a sensing radius off; a drone without a slot or with nobody holding one in
sight gets -1 (flying away from the others is never a way out), a crashed drone 0. Row i's
reward and readings depend only on its own slot and what it senses within ``sense_radius``.

Crashed drones keep the slot they held (nobody hears that they fell), so a crash leaves a
hole in the shape; the survivors' error is measured on the slots they hold. The formation's
position is not controlled: a displacement-based law keeps the centroid of ``p_i - p*_i`` of
the swarm where the drones started (for symmetric sensing), and the error is measured after
alignment for that reason.

Arguments are the fields of :class:`FormationConfig` plus ``rng`` (the seed). Example::

    from envs.formation import FormationModel
    model = FormationModel(n_agents=16, world_size=30, sense_radius=8, shape="wedge",
                           scale=1.5, spawn_extent=8, rng=1)
    for _ in range(300):
        model.step()
    model.metrics["formation_error"]  # -> ~0 (m)
    sphere = FormationModel(n_agents=20, dim=3, shape="sphere", sense_radius=6,
                            spawn_extent=8, rng=0)  # the same, in a cube
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist, pdist

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.scenario import Scenario, Segment, collision_counts, random_headings

SHAPES = ("line", "wedge", "circle", "grid")  # planar; horizontal at the anchor in 3-D
SHAPES_3D = ("sphere", "cube", "helix")  # with dim = 3 only
WEDGE_HALF_ANGLE = math.radians(30.0)  # each arm of the V, from the axis behind the apex
HELIX_SLOTS_PER_TURN = 8  # slots on one turn of the helix
HELIX_RISE = 0.5  # climb of the helix from one slot to the next, in units of scale
GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))  # rad: azimuth step of the Fibonacci lattice


class FormationConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the formation task's own fields."""

    dims = (2, 3)  # planar shapes in the square; 3-D shapes (and planar ones, level) in a cube

    n_agents: int = Field(20, ge=1, description="number of drones")
    world_size: float = Field(
        40.0, gt=0, description="side of the arena (m): a square, or a cube with dim = 3"
    )
    policy: str = Field("formation", description="controller name (see `swarm list`)")
    boundary: Literal["torus", "box"] = Field(
        "box", description="the arena is a box (a shape on a torus has no single embedding)"
    )
    max_accel: float = Field(
        float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf: kinematic drones",
    )
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s)")
    shape: (
        Literal["line", "wedge", "circle", "grid", "sphere", "cube", "helix"]
        | list[tuple[float, float]]
        | list[tuple[float, float, float]]
    ) = Field(
        "grid",
        description=f"target shape: one of {', '.join(SHAPES)} (planar; level at the anchor's "
        f"altitude with dim = 3), {', '.join(SHAPES_3D)} (dim = 3), or a list of n_agents "
        "[x, y] or, with dim = 3, [x, y, z] points (in units of scale)",
    )
    scale: float = Field(
        1.5, gt=0, description="distance between neighbouring slots (m); multiplies points"
    )
    center: tuple[float, float] | tuple[float, float, float] | None = Field(
        None,
        description="where the shape is meant to be centred (m), dim coordinates; default "
        "the arena's centre (mid altitude in 3-D)",
    )
    spawn_extent: float | None = Field(
        None,
        gt=0,
        description="side of the square (cube with dim = 3) around center drones spawn in "
        "(m); default half the arena",
    )
    tolerance: float | None = Field(
        None, gt=0, description="formation_error counted as converged (m); default scale / 20"
    )
    assignment: Literal["auction", "spawn"] = Field(
        "auction",
        description="who assigns the slots: 'auction', the controller (the formation "
        "policy's CBAA; a learned actor runs none, so its drones hold no slot); 'spawn', the "
        "scenario at take-off (the least total distance assignment, each drone told its own "
        "slot only), so that a learned actor learns the motion alone",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FormationConfig:
        if self.boundary != "box":
            raise ValueError("boundary: formation needs 'box'")
        arena = f"[0, {self.world_size}]^{self.dim}"
        if self.dim == 2 and isinstance(self.shape, str) and self.shape in SHAPES_3D:
            raise ValueError(
                f"shape: {self.shape} is a 3-D shape; use dim = 3, or one of {', '.join(SHAPES)}"
            )
        if self.center is not None and len(self.center) != self.dim:
            raise ValueError(
                f"center: {len(self.center)} coordinates given; dim = {self.dim} needs {self.dim}"
            )
        if not isinstance(self.shape, str):
            if self.dim == 2 and self.shape and len(self.shape[0]) == 3:
                raise ValueError("shape: [x, y, z] points need dim = 3; give [x, y] points")
            if len(self.shape) != self.n_agents:
                raise ValueError(
                    f"shape: {len(self.shape)} points given; need one per drone "
                    f"(n_agents = {self.n_agents})"
                )
            points = np.asarray(self.shape, dtype=float)
            if not np.isfinite(points).all():
                raise ValueError("shape: points must be finite numbers")
            if len(points) > 1 and pdist(points).min() == 0:
                raise ValueError("shape: two points coincide; slots must be distinct")
        centre = np.asarray(self.anchor)
        if not ((0 <= centre).all() and (centre <= self.world_size).all()):
            raise ValueError(f"center: {centre.tolist()} is outside {arena}")
        placed = self.slots + centre
        if placed.min() < 0 or placed.max() > self.world_size:
            span = np.ptp(self.slots, axis=0).max()
            raise ValueError(
                f"shape/scale: the formation spans {span:.3g} m around {centre.tolist()} and "
                f"does not fit in the arena {arena}; lower scale or n_agents"
            )
        half = 0.5 * self.extent
        if (centre - half < 0).any() or (centre + half > self.world_size).any():
            box = "square" if self.dim == 2 else "cube"
            raise ValueError(
                f"spawn_extent: a {self.extent} m {box} around {centre.tolist()} leaves the "
                f"arena {arena}"
            )
        return self

    def memory_parts(self) -> dict[str, float]:
        """The engine's, plus every drone's bid on every slot (one slot per drone)."""
        parts = super().memory_parts()
        parts["n_agents"] += self.n_agents * self.n_agents * 24.0
        return parts

    @property
    def anchor(self) -> tuple[float, ...]:
        """Where the shape is meant to be centred: ``center``, default the arena's centre."""
        if self.center is not None:
            return self.center
        return (0.5 * self.world_size,) * self.dim

    @property
    def extent(self) -> float:
        return self.spawn_extent if self.spawn_extent is not None else 0.5 * self.world_size

    @property
    def slots(self) -> np.ndarray:
        """(M, dim) slot offsets from the shape's centroid (m)."""
        return shape_points(self.shape, self.n_agents, self.scale, self.dim)

    @property
    def converged_error(self) -> float:
        return self.tolerance if self.tolerance is not None else self.scale / 20


def shape_points(
    shape: str | list[tuple[float, ...]] | np.ndarray, n: int, scale: float, dim: int = 2
) -> np.ndarray:
    """(n, dim) slots of a named shape (neighbours ``scale`` apart) or scaled custom points,
    centred on their centroid. With ``dim = 3`` a planar shape (or [x, y] points) lies level,
    z = 0: the horizontal plane through the anchor."""
    if isinstance(shape, str) and shape in SHAPES_3D:
        return _shape_points_3d(shape, n, scale)
    if not isinstance(shape, str) and np.asarray(shape).shape[-1] == 3:
        points = np.asarray(shape, dtype=float).reshape(-1, 3) * scale
        return points - points.mean(axis=0)
    flat = _planar_points(shape, n, scale)
    return flat if dim == 2 else np.column_stack([flat, np.zeros(len(flat))])


def _planar_points(
    shape: str | list[tuple[float, ...]] | np.ndarray, n: int, scale: float
) -> np.ndarray:
    """(n, 2) slots of a planar shape or [x, y] points, centred on their centroid."""
    k = np.arange(n, dtype=float)
    if not isinstance(shape, str):
        points = np.asarray(shape, dtype=float).reshape(-1, 2) * scale
    elif shape == "line":
        points = np.column_stack([k * scale, np.zeros(n)])
    elif shape == "wedge":  # apex first, then alternately right and left arm, one step back
        step = np.ceil(k / 2)
        side = np.where(k % 2 == 1, 1.0, -1.0)
        points = np.column_stack(
            [
                -step * scale * math.cos(WEDGE_HALF_ANGLE),
                side * step * scale * math.sin(WEDGE_HALF_ANGLE),
            ]
        )
    elif shape == "circle":  # chord between neighbours = scale
        radius = scale / (2 * math.sin(math.pi / n)) if n > 1 else 0.0
        angle = 2 * math.pi * k / n
        points = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    elif shape == "grid":
        cols = math.ceil(math.sqrt(n))
        points = scale * np.column_stack([k % cols, k // cols])
    else:
        raise ValueError(
            f"shape: unknown {shape!r}; allowed: {', '.join(SHAPES + SHAPES_3D)} or points"
        )
    return points - points.mean(axis=0)


def _shape_points_3d(shape: str, n: int, scale: float) -> np.ndarray:
    """(n, 3) slots of a 3-D shape, centred on their centroid:

    * ``sphere``: a Fibonacci lattice on a sphere (z in equal steps across (-1, 1), the
      azimuth turning by the golden angle: nearly even spacing, cf. A. González 2010, Math.
      Geosci. 42, 49-64), its radius chosen so that the two closest slots are ``scale``
      apart;
    * ``cube``: a cubic lattice of side ``ceil(n^(1/3))`` filled layer by layer from the
      bottom, slots ``scale`` apart (the ``grid`` one dimension up);
    * ``helix``: a vertical helix, ``HELIX_SLOTS_PER_TURN`` slots per turn, rising
      ``HELIX_RISE * scale`` from slot to slot, its radius such that consecutive slots are
      ``scale`` apart.
    """
    k = np.arange(n, dtype=float)
    if shape == "sphere":
        if n == 1:
            return np.zeros((1, 3))
        z = 1.0 - (2.0 * k + 1.0) / n
        ring = np.sqrt(1.0 - z * z)
        azimuth = GOLDEN_ANGLE * k
        unit = np.column_stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z])
        points = unit * (scale / pdist(unit).min())
    elif shape == "cube":
        side = round(n ** (1.0 / 3.0))
        side += int(side**3 < n)
        points = scale * np.column_stack([k % side, (k // side) % side, k // (side * side)])
    else:  # helix
        turn = 2.0 * math.pi / HELIX_SLOTS_PER_TURN  # rad from slot to slot
        rise = HELIX_RISE * scale
        radius = math.sqrt(scale**2 - rise**2) / (2.0 * math.sin(0.5 * turn))
        angle = turn * k
        points = np.column_stack([radius * np.cos(angle), radius * np.sin(angle), rise * k])
    return points - points.mean(axis=0)


def kabsch_2d(shape: np.ndarray, pos: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Best rigid alignment of ``shape`` (n, 2) onto ``pos`` (n, 2): rotation only, no
    reflection, no scaling. Returns (angle (rad), translation (2,), RMS residual (m)), so that
    ``R(angle) @ shape_k + translation ~ pos_k``.

    In the plane Kabsch's SVD has a closed form: with both sets centred, the angle maximising
    ``sum_k pos_k . R shape_k`` is ``atan2(sum a x b, sum a . b)`` and the residual is
    ``sum |a|^2 + sum |b|^2 - 2 sqrt((sum a . b)^2 + (sum a x b)^2)``.
    """
    a = shape - shape.mean(axis=0)
    b = pos - pos.mean(axis=0)
    dot = float((a * b).sum())
    cross = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    angle = math.atan2(cross, dot)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    translation = pos.mean(axis=0) - rot @ shape.mean(axis=0)
    sq = (a**2).sum() + (b**2).sum() - 2 * math.hypot(dot, cross)
    return angle, translation, math.sqrt(max(sq, 0.0) / len(a))


def kabsch_3d(shape: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Best rigid alignment of ``shape`` (n, 3) onto ``pos`` (n, 3): a rotation in SO(3), no
    reflection, no scaling. Returns (rotation (3, 3), translation (3,), RMS residual (m)), so
    that ``rotation @ shape_k + translation ~ pos_k``.

    W. Kabsch, Acta Cryst. A32, 922-923 (1976) and A34, 827-828 (1978): with both sets
    centred (a, b) and ``H = sum_k a_k b_k^T = U S V^T``, the rotation is ``V diag(1, 1, d)
    U^T`` with ``d = sign(det(V U^T))`` (d = -1 would otherwise give a reflection), and the
    residual ``sum |a|^2 + sum |b|^2 - 2 (s_1 + s_2 + d s_3)``.
    """
    a = shape - shape.mean(axis=0)
    b = pos - pos.mean(axis=0)
    u, sing, vt = np.linalg.svd(a.T @ b)
    d = 1.0 if np.linalg.det(vt.T @ u.T) >= 0 else -1.0
    rotation = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    translation = pos.mean(axis=0) - rotation @ shape.mean(axis=0)
    sq = (a**2).sum() + (b**2).sum() - 2 * (sing[0] + sing[1] + d * sing[2])
    return rotation, translation, math.sqrt(max(sq, 0.0) / len(a))


def _kabsch_trace_3d(a: np.ndarray, b: np.ndarray, env: np.ndarray, n_envs: int) -> np.ndarray:
    """(E,) ``max_R sum_k b_k . R a_k`` over rotations R in SO(3), per env, for centred rows
    ``a``, ``b`` (K, 3): ``s_1 + s_2 + d s_3`` of each env's ``H = sum a b^T``
    (:func:`kabsch_3d`), all envs in one batched SVD."""
    h = np.stack(
        [np.bincount(env, a[:, i] * b[:, j], n_envs) for i in range(3) for j in range(3)], axis=1
    ).reshape(n_envs, 3, 3)
    u, sing, vt = np.linalg.svd(h)
    d = np.where(np.linalg.det(u) * np.linalg.det(vt) >= 0, 1.0, -1.0)
    return sing[:, 0] + sing[:, 1] + d * sing[:, 2]


def _assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the least-cost assignment of ``cost`` (drones x free slots),
    remembered for the last few cost matrices: every controller evaluated on one seed spawns
    the same drones, and at 10^4 drones one solve takes seconds."""
    key = hashlib.sha1(cost.tobytes()).hexdigest() + str(cost.shape)
    if key not in _ASSIGNED:
        if len(_ASSIGNED) >= 4:
            _ASSIGNED.pop(next(iter(_ASSIGNED)))
        _ASSIGNED[key] = linear_sum_assignment(cost)
    got, slot = _ASSIGNED[key]
    return got.copy(), slot.copy()


_ASSIGNED: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # cost digest -> assignment
PEERS_CAP = 16  # the slot_peers feature saturates here


class Formation(Scenario):
    """Spawn near the anchor (with slots, for ``assignment = "spawn"``); measure the shape
    the drones hold; reward each drone's local displacement error."""

    name = "formation"
    COLLISION_PENALTY = 1.0  # per neighbour closer than collision_radius, as flocking's

    def __init__(self, config: FormationConfig):
        super().__init__(config)
        self.slots = config.slots  # (M, dim) m, centred
        spacing = float(pdist(self.slots).min()) if len(self.slots) > 1 else config.scale
        self._known = {
            "slots": self.slots,
            "anchor": np.asarray(config.anchor, dtype=float),
            "min_spacing": spacing,
            # who assigns the slots (a fact of the mission, known before launch): with
            # "spawn" the plan is uploaded, so a controller need not auction them
            "assignment": config.assignment,
        }
        self.converged_at = np.zeros(0, dtype=np.int64)  # (E,) step; -1 until converged
        self.collision_steps = np.zeros(0)  # (E,) pair-steps closer than collision_radius
        self.metric_functions = {
            "formation_error": self.formation_error,
            "assigned": self.assigned,
            "conflicts": self.conflicts,
            "convergence_time": self.convergence_time,
            "collisions": m.collisions,
            "collisions_total": self.collisions_total,
            "min_separation": m.min_separation,
            "n_components": m.n_components,
            "n_alive": m.n_alive,
        }

    def render_layers(self, engine: Swarm) -> list[Any]:
        """The target shape of env 0 as rings, placed by the best rigid alignment onto the
        drones that hold slots (so the gap between ring and drone is the formation error);
        in 3-D spheres, placed by the rotation of SO(3) that fits best."""
        from swarm.viewer.layers import Circles

        n = engine.n_agents
        held = np.flatnonzero(self._holders(engine)[:n])
        layers = super().render_layers(engine)
        if len(held) < 2:
            return layers
        slots = engine.agent_state["slot"][held]
        if engine.dim == 3:
            rot, shift, _ = kabsch_3d(self.slots[slots], engine.pos[held])
        else:
            angle, shift, _ = kabsch_2d(self.slots[slots], engine.pos[held])
            rot = np.array(
                [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
            )
        placed = self.slots @ rot.T + shift
        radius = max(self.config.collision_radius, 0.1 * self.config.scale)
        return [Circles("slots", placed, radius, (250, 200, 60), filled=False), *layers]

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Uniform in the square (cube in 3-D) of side ``spawn_extent`` around the anchor,
        random headings; nobody holds a slot yet."""
        c = self.config
        low = np.asarray(c.anchor) - 0.5 * c.extent
        engine.pos[rows] = low + rng.uniform(0.0, c.extent, size=(len(rows), engine.dim))
        engine.vel[rows] = c.initial_speed * random_headings(rng, len(rows), engine.dim)
        M = len(self.slots)
        state = engine.agent_state
        if "slot" not in state:
            state["slot"] = np.full(engine.rows, -1, dtype=np.int64)
            state["slot_bid"] = np.full((engine.rows, M), -np.inf)
            state["slot_winner"] = np.full((engine.rows, M), -1, dtype=np.int64)
            state["planned_slot"] = np.full(engine.rows, -1, dtype=np.int64)
        state["slot"][rows] = -1
        state["planned_slot"][rows] = -1
        state["slot_bid"][rows] = -np.inf
        state["slot_winner"][rows] = -1
        if c.assignment == "spawn":
            self._assign_at_spawn(engine, rows)
        self.converged_at = np.full(engine.n_envs, -1, dtype=np.int64)
        self.collision_steps = np.zeros(engine.n_envs)

    def _assign_at_spawn(self, engine: Swarm, rows: np.ndarray) -> None:
        """``assignment = "spawn"``: per env, the spawned ``rows`` take the slots nobody else
        alive there holds, by the assignment of least total distance to the priced slots
        (``anchor + slot``; the auction's bid, solved exactly by
        :func:`scipy.optimize.linear_sum_assignment`). Each drone is told its own slot only,
        written as the auction would have left it (own bid and winner entry), so the
        ``formation`` controller's CBAA keeps it and spreads the tables from there."""
        state = engine.agent_state
        priced = np.asarray(self.config.anchor) + self.slots
        for e in np.unique(engine.env[rows]):
            mine = rows[engine.env[rows] == e]
            others = np.setdiff1d(np.flatnonzero(engine.env == e), mine)
            taken = state["slot"][others][engine.alive[others]]
            free = np.setdiff1d(np.arange(len(self.slots)), taken)
            if len(free) == 0 or len(mine) == 0:
                continue
            cost = cdist(engine.pos[mine], priced[free])
            got, slot = _assignment(cost)
            drone, k = mine[got], free[slot]
            state["slot"][drone] = k
            state["planned_slot"][drone] = k
            state["slot_bid"][drone, k] = -cost[got, slot]
            state["slot_winner"][drone, k] = engine.ids[drone]

    def knowledge(self) -> dict[str, Any]:
        return self._known

    # ----------------------------------------------------------------- learning hooks
    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        """Each drone's displacement reading (:meth:`displacements`): ``slot_error`` (R, dim)
        the mean of ``(p_j - p_i) - (p*_j - p*_i)`` over the sensed neighbours j holding a
        slot, 0 when it holds none or senses none; ``slot_peers`` (R,) how many those are;
        ``slot_held`` (R,) 1 where it holds a slot."""
        error, _, peers = self.displacements(engine, engine.neighbors)
        held = (engine.agent_state["planned_slot"] >= 0) & engine.alive
        return {"slot_error": error, "slot_peers": peers, "slot_held": held.astype(float)}

    def displacements(self, engine: Swarm, table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row i with a slot in the take-off plan, over the entries of ``table`` (the
        sensed neighbours) whose drone j has one too: (mean displacement error ``(p_j -
        p_i) - (p*_j - p*_i)`` (R, dim) m, mean of its norm (R,) m, their number (R,));
        zeros for rows with none. The plan (``assignment = "spawn"``: which drone holds
        which slot) is uploaded to every drone before launch, so row i reads j's slot from
        it by the identity of a neighbour it senses, and nothing beyond its sensing range:
        the displacement-based objective of Oh, Park, Ahn (2015). Under ``"auction"`` there
        is no plan and every reading is zero: a neighbour's auctioned slot lives in its own
        tables, which travel only in the auction's counted messages."""
        if self.config.assignment != "spawn":  # no plan: nothing to read, nothing to sum
            n = table.n_rows
            return np.zeros((n, table.rel_pos.shape[1])), np.zeros(n), np.zeros(n)
        slot = engine.agent_state["planned_slot"]
        owner = table.owner
        mine, theirs = slot[owner], slot[table.idx]
        use = (mine >= 0) & (theirs >= 0) & (mine != theirs)
        want = np.where(use[:, None], self.slots[theirs] - self.slots[mine], 0.0)
        diff = np.where(use[:, None], table.rel_pos - want, 0.0)
        norm = np.sqrt((diff**2).sum(axis=1))
        count = table.segment_sum(use.astype(float))
        safe = np.maximum(count, 1.0)
        return table.segment_sum(diff) / safe[:, None], table.segment_sum(norm) / safe, count

    def observation_segments(self) -> list[Segment]:
        """The displacement reading (:meth:`observe`) in the actor's vector."""
        c = self.config
        r = 2.0 * c.sense_radius
        return [
            Segment("slot_error", (c.dim,), -r, r, "mean of (p_j - p_i) - (p*_j - p*_i) over "
                    "the sensed neighbours holding a slot (m)", vectors=(0,)),
            Segment("slot_peers", (1,), 0.0, float(PEERS_CAP), "how many those are "
                    f"(capped at {PEERS_CAP})", vectors=()),
            Segment("slot_held", (1,), 0.0, 1.0, "1 where the drone holds a slot", vectors=()),
        ]  # fmt: skip

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        own = obs.own
        return {
            "slot_error": own["slot_error"],
            "slot_peers": own["slot_peers"][:, None],
            "slot_held": own["slot_held"][:, None],
        }

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) the local displacement objective minus collisions (module docstring)::

            r_i = -min(mean_j |(p_j - p_i) - (p*_j - p*_i)|, sense_radius) / sense_radius
                  - COLLISION_PENALTY * #{j : |p_j - p_i| < collision_radius}

        over the sensed neighbours j holding a slot; a drone without a slot, or sensing
        nobody who holds one, gets the worst displacement term, -1 (as flocking's lone
        drone: flying away is never a way out). Crashed drones get 0."""
        engine.obs  # noqa: B018 - sense first if the state was edited
        _, error, peers = self.displacements(engine, engine.neighbors)
        r = self.config.sense_radius
        held = engine.agent_state["planned_slot"] >= 0
        shape = np.where(held & (peers > 0), -np.minimum(error, r) / r, -1.0)
        reward = shape - self.COLLISION_PENALTY * collision_counts(engine)
        return np.where(engine.alive, reward, 0.0)

    def update(self, engine: Swarm) -> None:
        """Record the first convergence and count collisions (after everyone moved)."""
        done = (
            (self.formation_error(engine) <= self.config.converged_error)
            & (self.assigned(engine) == 1.0)
            & (self.conflicts(engine) == 0)
        )
        self.converged_at[done & (self.converged_at < 0)] = engine.t
        self.collision_steps += m.collisions(engine)

    # ----------------------------------------------------------------- metrics
    def _holders(self, engine: Swarm) -> np.ndarray:
        """(R,) bool: alive drones holding a slot."""
        return engine.alive & (engine.agent_state["slot"] >= 0)

    def formation_error(self, engine: Swarm) -> np.ndarray:
        """Per env: RMS residual (m) of the best rotation + translation of the held slots
        onto the positions of their holders (:func:`kabsch_2d`, or :func:`kabsch_3d` in
        3-D, vectorised over envs)."""
        E = engine.n_envs
        dim = engine.dim
        held = self._holders(engine)
        env = engine.env[held]
        a = self.slots[engine.agent_state["slot"][held]]
        b = engine.pos[held]
        n = np.bincount(env, minlength=E).astype(float)
        safe = np.maximum(n, 1.0)[:, None]
        a_mean = np.column_stack([np.bincount(env, a[:, k], E) for k in range(dim)]) / safe
        b_mean = np.column_stack([np.bincount(env, b[:, k], E) for k in range(dim)]) / safe
        a = a - a_mean[env]
        b = b - b_mean[env]
        if dim == 3:
            aligned = _kabsch_trace_3d(a, b, env, E)
        else:
            dot = np.bincount(env, (a * b).sum(axis=1), E)
            cross = np.bincount(env, a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], E)
            aligned = np.hypot(dot, cross)
        sq = (
            np.bincount(env, (a**2).sum(axis=1), E)
            + np.bincount(env, (b**2).sum(axis=1), E)
            - 2 * aligned
        )
        rms = np.sqrt(np.maximum(sq, 0.0) / safe[:, 0])
        return np.where(n > 0, rms, np.nan)

    def assigned(self, engine: Swarm) -> np.ndarray:
        alive = np.bincount(engine.env, engine.alive.astype(float), engine.n_envs)
        held = np.bincount(engine.env, self._holders(engine).astype(float), engine.n_envs)
        return held / np.maximum(alive, 1.0)

    def conflicts(self, engine: Swarm) -> np.ndarray:
        """Drones holding a slot that another alive drone of their env also holds."""
        held = self._holders(engine)
        M = len(self.slots)
        key = engine.env[held] * M + engine.agent_state["slot"][held]
        count = np.bincount(key, minlength=engine.n_envs * M).reshape(engine.n_envs, M)
        return np.maximum(count - 1, 0).sum(axis=1).astype(float)

    def convergence_time(self, engine: Swarm) -> np.ndarray:
        return np.where(self.converged_at >= 0, self.converged_at * self.config.dt, np.nan)

    def collisions_total(self, engine: Swarm) -> np.ndarray:
        return self.collision_steps.copy()


class FormationModel(SwarmModel):
    """Mesa model of the formation scenario (see the module docstring)."""

    name = "formation"
    scenario_class = Formation
    config_class = FormationConfig

    def _make_policy(self) -> Policy:
        """The controller, told the shape before the channel opens: the slot auction's
        message holds two numbers per slot, so its size depends on the task."""
        policy = super()._make_policy()
        prepare = getattr(policy, "prepare", None)
        if prepare is not None:
            prepare(self.scenario.knowledge())
        return policy
