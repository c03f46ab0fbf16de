"""The Vicsek model: constant speed, heading = neighbours' mean heading + noise.

T. Vicsek, A. Czirók, E. Ben-Jacob, I. Cohen, O. Shochet, "Novel type of phase transition in
a system of self-driven particles", Phys. Rev. Lett. 75, 1226 (1995), eq. (1):

    theta_i(t + 1) = <theta(t)>_r + delta_theta,   delta_theta ~ U[-eta/2, eta/2]

where <theta>_r is the direction of the summed velocities of the particles within radius r,
the particle itself included. The command is a velocity (``action_kind = "velocity"``); run it
with ``max_accel = inf`` for the original kinematic model. The noise of row i at step t is a
keyed draw of (seed, t, i), so it does not depend on any other drone.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.rng import keyed_uniform


class VicsekParams(StrictConfig):
    speed: float = Field(1.0, gt=0, description="constant speed v0 (m/s)")
    eta: float = Field(0.5, ge=0, le=2 * np.pi, description="noise amplitude eta (radians)")


class Vicsek(Policy):
    name = "vicsek"
    citation = "Vicsek, T. et al. (1995). Phys. Rev. Lett. 75, 1226, eq. (1)."
    action_kind = "velocity"
    Params = VicsekParams

    def act(self, obs: LocalObservation) -> np.ndarray:
        p = self.params
        nb = obs.neighbors
        speed = np.sqrt((obs.vel**2).sum(axis=1))
        own = np.where(speed[:, None] > 0, obs.vel / np.maximum(speed, 1e-300)[:, None], 0.0)
        # neighbour velocity = own velocity + relative velocity; use unit headings
        nbr_vel = obs.vel[nb.owner] + nb.rel_vel
        nbr_speed = np.sqrt((nbr_vel**2).sum(axis=1))
        nbr_unit = nbr_vel / np.maximum(nbr_speed, 1e-300)[:, None]
        nbr_unit[nbr_speed == 0] = 0.0
        total = own + nb.segment_sum(nbr_unit)
        theta = np.arctan2(total[:, 1], total[:, 0])
        rows = obs.ids  # each drone's own noise stream
        noise = p.eta * (keyed_uniform(self.seed, obs.step, rows) - 0.5)
        theta = theta + noise
        out = p.speed * np.column_stack([np.cos(theta), np.sin(theta)])
        out[~obs.alive] = 0.0
        return out
