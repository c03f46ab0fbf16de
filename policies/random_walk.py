"""Correlated random walk: the search baseline.

Each drone flies at constant speed; its heading turns by a Gaussian angle every step (a
correlated random walk, E. A. Codling, M. J. Plank, S. Benhamou, "Random walk models in
biology", J. R. Soc. Interface 5, 813-834, 2008, sec. 3). Walls reflect it. The turn of
row i at step t is a keyed draw of (seed, t, i): it depends on no other drone.
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
    """(R, 2) velocity of a correlated random walk at ``speed`` (one, or (R,) each row's):
    the own heading (a random one from rest) turned by a keyed Gaussian angle of (seed,
    step, own id); zero when crashed."""
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


class RandomWalkParams(StrictConfig):
    speed: float | None = Field(None, gt=0, description="cruise speed (m/s); default max_speed")
    turn_std: float = Field(0.3, ge=0, description="std of the heading change per step (rad)")


class RandomWalk(Policy):
    name = "random_walk"
    citation = "Codling, E. A., Plank, M. J., Benhamou, S. (2008). J. R. Soc. Interface 5, 813."
    action_kind = "velocity"
    scenario = "search"
    Params = RandomWalkParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        speed = self.params.speed or obs.max_speed
        return correlated_walk(obs, self.seed, speed, self.params.turn_std)
