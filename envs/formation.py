"""Formation: drones reach and hold a shape (a line, a wedge, a circle, a grid, or any set of
points), deciding among themselves who takes which place, with only the neighbours they sense
and the messages of their comm neighbours.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones, kinematic by default (``max_accel = inf``: the
                   single integrators of the formation-control literature)
Arena              a box of side ``world_size``; drones spawn uniformly in the square of
                   side ``spawn_extent`` centred on the formation's ``center``
Shape              ``shape``: ``line``, ``wedge`` (a V of two arms at +-``WEDGE_HALF_ANGLE``
                   behind the apex), ``circle``, ``grid`` (rows of ``ceil(sqrt(n))``), or a
                   list of ``n_agents`` points; neighbouring slots ``scale`` metres apart
                   (custom points are multiplied by ``scale``). Known to every drone from
                   take-off: ``obs.known["slots"]`` (M, 2) slot offsets from the shape's
                   centroid, ``obs.known["anchor"]`` (2,) where the shape is meant to be
                   centred (used only to price slots), ``obs.known["min_spacing"]`` (m)
Per-agent state    each drone's view of the slot assignment (engine-carried, ``obs.own``):
                   ``slot`` (R,) its own slot, -1 for none; ``slot_bid`` (R, M) the highest
                   bid it has heard per slot, ``-inf`` for none; ``slot_winner`` (R, M) that
                   bid's drone (row), -1 for none: the tables of a consensus-based auction
                   (Choi, Brunet, How 2009). Nobody knows where the others are beyond its
                   sensing range
Default policy     ``formation``: displacement-based control (Oh, Park, Ahn 2015) with 1/d
                   collision avoidance, slots won in a local auction
Metrics            formation_error: RMS distance (m) between the drones holding a slot and
                   their slots after the best rigid alignment (rotation + translation,
                   Kabsch in 2-D) of the shape onto them, NaN while nobody holds a slot;
                   assigned (share of alive drones holding a slot); conflicts (drones
                   holding a slot another alive drone also holds); convergence_time (s, first
                   time everyone is assigned, without conflicts, with formation_error <=
                   ``tolerance``; NaN before); collisions (pairs closer than
                   ``collision_radius`` now) and collisions_total (pair-steps so far);
                   min_separation (m); n_components of the comm graph; n_alive
=================  =====================================================================

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
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from scipy.spatial.distance import pdist

from swarm import metrics as m
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.policy import Policy
from swarm.scenario import Scenario

SHAPES = ("line", "wedge", "circle", "grid")
WEDGE_HALF_ANGLE = math.radians(30.0)  # each arm of the V, from the axis behind the apex


class FormationConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the formation task's own fields."""

    n_agents: int = Field(20, ge=1, description="number of drones")
    world_size: float = Field(40.0, gt=0, description="side of the square arena (m)")
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
    shape: Literal["line", "wedge", "circle", "grid"] | list[tuple[float, float]] = Field(
        "grid",
        description=f"target shape: one of {', '.join(SHAPES)}, or a list of n_agents "
        "[x, y] points (in units of scale)",
    )
    scale: float = Field(
        1.5, gt=0, description="distance between neighbouring slots (m); multiplies points"
    )
    center: tuple[float, float] | None = Field(
        None, description="where the shape is meant to be centred (m); default arena centre"
    )
    spawn_extent: float | None = Field(
        None,
        gt=0,
        description="side of the square around center drones spawn in (m); default half the arena",
    )
    tolerance: float | None = Field(
        None, gt=0, description="formation_error counted as converged (m); default scale / 20"
    )

    @model_validator(mode="after")
    def _consistent(self) -> FormationConfig:
        if self.boundary != "box":
            raise ValueError("boundary: formation needs 'box'")
        if not isinstance(self.shape, str):
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
            raise ValueError(f"center: {centre.tolist()} is outside [0, {self.world_size}]^2")
        placed = self.slots + centre
        if placed.min() < 0 or placed.max() > self.world_size:
            span = np.ptp(self.slots, axis=0).max()
            raise ValueError(
                f"shape/scale: the formation spans {span:.3g} m around {centre.tolist()} and "
                f"does not fit in the arena [0, {self.world_size}]^2; lower scale or n_agents"
            )
        half = 0.5 * self.extent
        if (centre - half < 0).any() or (centre + half > self.world_size).any():
            raise ValueError(
                f"spawn_extent: a {self.extent} m square around {centre.tolist()} leaves the "
                f"arena [0, {self.world_size}]^2"
            )
        return self

    def memory_parts(self) -> dict[str, float]:
        """The engine's, plus every drone's bid on every slot (one slot per drone)."""
        parts = super().memory_parts()
        parts["n_agents"] += self.n_agents * self.n_agents * 24.0
        return parts

    @property
    def anchor(self) -> tuple[float, float]:
        if self.center is not None:
            return self.center
        return (0.5 * self.world_size, 0.5 * self.world_size)

    @property
    def extent(self) -> float:
        return self.spawn_extent if self.spawn_extent is not None else 0.5 * self.world_size

    @property
    def slots(self) -> np.ndarray:
        """(M, 2) slot offsets from the shape's centroid (m)."""
        return shape_points(self.shape, self.n_agents, self.scale)

    @property
    def converged_error(self) -> float:
        return self.tolerance if self.tolerance is not None else self.scale / 20


def shape_points(
    shape: str | list[tuple[float, float]] | np.ndarray, n: int, scale: float
) -> np.ndarray:
    """(n, 2) slots of a named shape (neighbours ``scale`` apart) or scaled custom points,
    centred on their centroid."""
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
        raise ValueError(f"shape: unknown {shape!r}; allowed: {', '.join(SHAPES)} or points")
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


class Formation(Scenario):
    """Spawn near the anchor with no slots; measure the shape the drones hold."""

    name = "formation"

    def __init__(self, config: FormationConfig):
        super().__init__(config)
        self.slots = config.slots  # (M, 2) m, centred
        spacing = float(pdist(self.slots).min()) if len(self.slots) > 1 else config.scale
        self._known = {
            "slots": self.slots,
            "anchor": np.asarray(config.anchor, dtype=float),
            "min_spacing": spacing,
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
        drones that hold slots (so the gap between ring and drone is the formation error)."""
        from swarm.viewer.layers import Circles

        n = engine.n_agents
        held = np.flatnonzero(self._holders(engine)[:n])
        layers = super().render_layers(engine)
        if len(held) < 2:
            return layers
        slots = engine.agent_state["slot"][held]
        angle, shift, _ = kabsch_2d(self.slots[slots], engine.pos[held])
        rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        placed = self.slots @ rot.T + shift
        radius = max(self.config.collision_radius, 0.1 * self.config.scale)
        return [Circles("slots", placed, radius, (250, 200, 60), filled=False), *layers]

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        c = self.config
        low = np.asarray(c.anchor) - 0.5 * c.extent
        engine.pos[rows] = low + rng.uniform(0.0, c.extent, size=(len(rows), 2))
        heading = rng.uniform(-np.pi, np.pi, size=len(rows))
        engine.vel[rows] = c.initial_speed * np.column_stack([np.cos(heading), np.sin(heading)])
        M = len(self.slots)
        state = engine.agent_state
        if "slot" not in state:
            state["slot"] = np.full(engine.rows, -1, dtype=np.int64)
            state["slot_bid"] = np.full((engine.rows, M), -np.inf)
            state["slot_winner"] = np.full((engine.rows, M), -1, dtype=np.int64)
        state["slot"][rows] = -1
        state["slot_bid"][rows] = -np.inf
        state["slot_winner"][rows] = -1
        self.converged_at = np.full(engine.n_envs, -1, dtype=np.int64)
        self.collision_steps = np.zeros(engine.n_envs)

    def knowledge(self) -> dict[str, Any]:
        return self._known

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
        onto the positions of their holders (:func:`kabsch_2d`, vectorised over envs)."""
        E = engine.n_envs
        held = self._holders(engine)
        env = engine.env[held]
        a = self.slots[engine.agent_state["slot"][held]]
        b = engine.pos[held]
        n = np.bincount(env, minlength=E).astype(float)
        safe = np.maximum(n, 1.0)[:, None]
        a_mean = np.column_stack([np.bincount(env, a[:, k], E) for k in range(2)]) / safe
        b_mean = np.column_stack([np.bincount(env, b[:, k], E) for k in range(2)]) / safe
        a = a - a_mean[env]
        b = b - b_mean[env]
        dot = np.bincount(env, (a * b).sum(axis=1), E)
        cross = np.bincount(env, a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0], E)
        sq = (
            np.bincount(env, (a**2).sum(axis=1), E)
            + np.bincount(env, (b**2).sum(axis=1), E)
            - 2 * np.hypot(dot, cross)
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
