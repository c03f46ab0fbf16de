"""Correlated random walk: the search baseline.

Each drone flies at constant speed; its heading turns by a Gaussian angle every step (a
correlated random walk, E. A. Codling, M. J. Plank, S. Benhamou, "Random walk models in
biology", J. R. Soc. Interface 5, 813-834, 2008, sec. 3). Walls reflect it. The turn of
row i at step t is a keyed draw of (seed, t, i): it depends on no other drone.

In 3-D (``dim = 3``) the heading is a point on the sphere: from rest a direction uniform on
it (Archimedes: z uniform in [-1, 1], azimuth uniform), and each step a turn by a Gaussian
tangent vector of ``turn_std`` radians per axis, applied along the great circle (the
sphere's exponential map): Codling et al.'s walk with its wrapped-normal turn taken to the
sphere, and the 2-D walk again when restricted to the plane.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.rng import keyed_normal, keyed_uniform


def correlated_walk(
    obs: LocalObservation, seed: int, speed: float | np.ndarray, turn_std: float
) -> np.ndarray:
    """(R, dim) velocity of a correlated random walk at ``speed`` (one, or (R,) each row's):
    the own heading (a random one from rest) turned by a keyed Gaussian angle of (seed,
    step, own id); zero when crashed."""
    if obs.vel.shape[1] == 3:
        return _correlated_walk_3d(obs, seed, speed, turn_std)
    ids = obs.ids  # each drone's own random stream
    moving = (obs.vel**2).sum(axis=1) > 0
    heading = np.where(
        moving,
        np.arctan2(obs.vel[:, 1], obs.vel[:, 0]),
        2 * np.pi * keyed_uniform(seed, obs.step, ids, 0),
    )
    heading = heading + turn_std * keyed_normal(seed, obs.step, ids)
    out = np.reshape(speed, (-1, 1)) * np.column_stack([np.cos(heading), np.sin(heading)])
    out[~obs.alive] = 0.0
    return out


def tangent_basis(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(e1, e2), each (R, 3): an orthonormal basis of the plane normal to each row of the unit
    vectors ``unit`` (R, 3), for turning a heading in 3-D. e1 is normal to the heading and the
    z axis (the x axis where the heading is nearly vertical, so the cross product never
    vanishes), e2 = heading x e1."""
    axis = np.zeros_like(unit)
    steep = np.abs(unit[:, 2]) > 0.9
    axis[~steep, 2] = 1.0
    axis[steep, 0] = 1.0
    e1 = np.cross(axis, unit)
    e1 /= np.sqrt((e1**2).sum(axis=1))[:, None]
    return e1, np.cross(unit, e1)


def _correlated_walk_3d(
    obs: LocalObservation, seed: int, speed: float | np.ndarray, turn_std: float
) -> np.ndarray:
    """(R, 3) velocity of the walk on the sphere of headings (module docstring); keyed draws
    of (seed, step, own id, k) with k = 1, 2 for rest and 3, 4 for the turn."""
    ids = obs.ids
    speed_now = np.sqrt((obs.vel**2).sum(axis=1))
    z = 2.0 * keyed_uniform(seed, obs.step, ids, 1) - 1.0
    azimuth = 2 * np.pi * keyed_uniform(seed, obs.step, ids, 2)
    ring = np.sqrt(1.0 - z * z)
    fresh = np.column_stack([ring * np.cos(azimuth), ring * np.sin(azimuth), z])
    moving = speed_now > 0
    heading = np.where(moving[:, None], obs.vel / np.maximum(speed_now, 1e-300)[:, None], fresh)
    e1, e2 = tangent_basis(heading)
    g1 = turn_std * keyed_normal(seed, obs.step, ids, 3)
    g2 = turn_std * keyed_normal(seed, obs.step, ids, 4)
    angle = np.sqrt(g1 * g1 + g2 * g2)
    # turn by ``angle`` towards (g1 e1 + g2 e2): sin(angle) / angle taken as 1 at 0
    along = np.where(angle > 0, np.sin(angle) / np.maximum(angle, 1e-300), 1.0)
    turned = (
        np.cos(angle)[:, None] * heading + (along * g1)[:, None] * e1 + (along * g2)[:, None] * e2
    )
    out = np.reshape(speed, (-1, 1)) * turned
    out[~obs.alive] = 0.0
    return out


class RandomWalkParams(StrictConfig):
    speed: float | None = Field(None, gt=0, description="cruise speed (m/s); default max_speed")
    turn_std: float = Field(0.3, ge=0, description="std of the heading change per step (rad)")


class RandomWalk(Policy):
    name = "random_walk"
    citation = "Codling, E. A., Plank, M. J., Benhamou, S. (2008). J. R. Soc. Interface 5, 813."
    action_kind = "velocity"
    scenario = "search"
    Params = RandomWalkParams
    dims = (2, 3)

    def act(self, obs: LocalObservation) -> np.ndarray:
        speed = self.params.speed or obs.max_speed
        return correlated_walk(obs, self.seed, speed, self.params.turn_std)
