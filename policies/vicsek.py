"""The Vicsek model: constant speed, heading = neighbours' mean heading + noise.

T. Vicsek, A. Czirók, E. Ben-Jacob, I. Cohen, O. Shochet, "Novel type of phase transition in
a system of self-driven particles", Phys. Rev. Lett. 75, 1226 (1995), eq. (1):

    theta_i(t + 1) = <theta(t)>_r + delta_theta,   delta_theta ~ U[-eta/2, eta/2]

where <theta>_r is the direction of the summed velocities of the particles within radius r,
the particle itself included. The command is a velocity (``action_kind = "velocity"``); run it
with ``max_accel = inf`` for the original kinematic model. The noise of row i at step t is a
keyed draw of (seed, t, i), so it does not depend on any other drone.

In 3-D (``dim = 3``; Vicsek et al. define the model in any dimension, and H. Chaté, F.
Ginelli, G. Grégoire, F. Raynaud, "Collective motion of self-propelled particles interacting
without cohesion", Phys. Rev. E 77, 046113 (2008), study it in three) the mean direction is
that of the summed unit velocities as in the plane, and the noise is Chaté et al.'s: the new
heading is uniform on the spherical cap centred on the mean direction whose solid angle is
the share ``eta / (2 pi)`` of the sphere (their ``4 pi eta_C`` with ``eta_C = eta / (2 pi)``),
as in the plane the turn is uniform on the share ``eta / (2 pi)`` of the circle. By Archimedes
the cosine of the turn is then uniform in ``[1 - eta / pi, 1]`` and the azimuth around the
mean uniform; ``eta = 2 pi`` makes the heading uniform on the sphere. A drone whose summed
velocities cancel (alone and at rest) takes the mean direction +x, as ``atan2(0, 0) = 0``
does in the plane.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from policies.random_walk import tangent_basis
from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.rng import keyed_uniform


class VicsekParams(StrictConfig):
    speed: float = Field(1.0, gt=0, description="constant speed v0 (m/s)")
    eta: float = Field(
        0.5,
        ge=0,
        le=2 * np.pi,
        description="noise amplitude eta (radians): turns uniform in [-eta/2, eta/2] in the "
        "plane; in 3-D headings uniform on the cap around the mean covering eta / (2 pi) of "
        "the sphere (Chaté et al. 2008)",
    )


class Vicsek(Policy):
    name = "vicsek"
    citation = (
        "Vicsek, T. et al. (1995). Phys. Rev. Lett. 75, 1226, eq. (1); in 3-D as Chaté, H., "
        "Ginelli, F., Grégoire, G., Raynaud, F. (2008). Phys. Rev. E 77, 046113."
    )
    action_kind = "velocity"
    dims = (2, 3)  # a mean heading and a random rotation about it, in the plane or in space
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
        if total.shape[1] == 3:
            return self._act_3d(obs, total)
        theta = np.arctan2(total[:, 1], total[:, 0])
        rows = obs.ids  # each drone's own noise stream
        noise = p.eta * (keyed_uniform(self.seed, obs.step, rows) - 0.5)
        theta = theta + noise
        out = p.speed * np.column_stack([np.cos(theta), np.sin(theta)])
        out[~obs.alive] = 0.0
        return out

    def _act_3d(self, obs: LocalObservation, total: np.ndarray) -> np.ndarray:
        """(R, 3) velocity: the mean direction of ``total`` (R, 3) turned onto a uniform
        point of the cap around it covering eta / (2 pi) of the sphere; keyed draws (seed,
        step, own id, k), k = 1 for the angle, 2 for the azimuth."""
        p = self.params
        norm = np.sqrt((total**2).sum(axis=1))
        mean = np.zeros_like(total)
        mean[:, 0] = 1.0  # the summed velocities cancel: +x, as atan2(0, 0) in the plane
        moving = norm > 0
        mean[moving] = total[moving] / norm[moving, None]
        e1, e2 = tangent_basis(mean)  # the plane normal to the mean direction
        rows = obs.ids  # each drone's own noise stream
        cos_cap = max(1.0 - p.eta / np.pi, -1.0)  # the cap's area: 2 pi (1 - cos) = 2 eta
        cos_t = 1.0 - (1.0 - cos_cap) * keyed_uniform(self.seed, obs.step, rows, 1)
        sin_t = np.sqrt(np.maximum(1.0 - cos_t * cos_t, 0.0))
        azimuth = 2.0 * np.pi * keyed_uniform(self.seed, obs.step, rows, 2)
        heading = (
            cos_t[:, None] * mean
            + (sin_t * np.cos(azimuth))[:, None] * e1
            + (sin_t * np.sin(azimuth))[:, None] * e2
        )
        out = p.speed * heading
        out[~obs.alive] = 0.0
        return out
