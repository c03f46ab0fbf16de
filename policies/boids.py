"""Boids: separation, alignment and cohesion (Reynolds 1987).

C. W. Reynolds, "Flocks, herds and schools: a distributed behavioral model", SIGGRAPH 1987.
Each drone steers by three rules over the neighbours it senses:

* separation: away from neighbours closer than ``separation_radius``, weighted 1/d
  (the push grows as they get closer);
* alignment: towards the neighbours' mean velocity;
* cohesion: towards the neighbours' mean position;
* and, as Reynolds' boids fly between a minimum and a maximum speed, a pull towards a
  preferred ``cruise_speed`` along the current heading.

The command is an acceleration: ``w_sep * sep + w_ali * ali + w_coh * coh``. Both a
vectorised version (:class:`Boids`, the hot path) and a per-agent one (:func:`boids_decide`,
the readable reference) are here; ``tests/policies/test_boids.py`` proves they agree.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import AgentObservation, LocalObservation
from swarm.policy import Policy


class BoidsParams(StrictConfig):
    separation_radius: float = Field(1.0, gt=0, description="repel neighbours closer than this (m)")
    w_separation: float = Field(3.0, ge=0, description="weight of separation (1/s^2)")
    w_alignment: float = Field(1.0, ge=0, description="weight of alignment (1/s)")
    w_cohesion: float = Field(0.3, ge=0, description="weight of cohesion (1/s^2)")
    cruise_speed: float = Field(1.5, ge=0, description="preferred speed (m/s); 0 disables")
    w_speed: float = Field(1.0, ge=0, description="gain towards the preferred speed (1/s)")


class Boids(Policy):
    name = "boids"
    citation = "Reynolds, C. W. (1987). Flocks, herds and schools. SIGGRAPH '87, 25-34."
    action_kind = "acceleration"
    Params = BoidsParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        p = self.params
        nb = obs.neighbors
        count = np.maximum(nb.counts, 1)[:, None]
        close = (nb.dist < p.separation_radius) & (nb.dist > 0)
        # away from each close neighbour, scaled by 1/d (unit vector / d)
        weight = np.where(close, 1.0 / np.maximum(nb.dist, 1e-9) ** 2, 0.0)
        separation = -nb.segment_sum(nb.rel_pos * weight[:, None])
        alignment = nb.segment_sum(nb.rel_vel) / count
        cohesion = nb.segment_sum(nb.rel_pos) / count
        accel = p.w_separation * separation + p.w_alignment * alignment + p.w_cohesion * cohesion
        accel += _cruise(obs.vel, p)
        accel[~obs.alive] = 0.0
        return accel


def boids_decide(obs: AgentObservation, params: BoidsParams) -> np.ndarray:
    """The same rules for one drone, written plainly (the readable reference)."""
    if len(obs.dist) == 0:
        return _cruise(obs.vel[None, :], params)[0]
    separation = np.zeros(2)
    for rel, d in zip(obs.rel_pos, obs.dist, strict=True):
        if 0 < d < params.separation_radius:
            separation -= rel / d**2
    alignment = obs.rel_vel.mean(axis=0)
    cohesion = obs.rel_pos.mean(axis=0)
    return (
        params.w_separation * separation
        + params.w_alignment * alignment
        + params.w_cohesion * cohesion
        + _cruise(obs.vel[None, :], params)[0]
    )


def _cruise(vel: np.ndarray, params: BoidsParams) -> np.ndarray:
    """Speed regulation along the heading, as Reynolds' boids keep between min and max speed."""
    if params.cruise_speed == 0 or params.w_speed == 0:
        return np.zeros_like(vel)
    speed = np.sqrt((vel**2).sum(axis=1))
    heading = vel / np.maximum(speed, 1e-12)[:, None]
    return params.w_speed * (params.cruise_speed - speed)[:, None] * heading
