"""Olfati-Saber's flocking algorithm: alpha-lattices from sigma-norm potentials.

R. Olfati-Saber, "Flocking for multi-agent dynamic systems: algorithms and theory", IEEE
Trans. Automatic Control 51(3), 2006. Algorithm 1 (eq. 23, free flocking):

    u_i = sum_j phi_alpha(||q_j - q_i||_sigma) n_ij + sum_j a_ij(q) (p_j - p_i)

with the sigma-norm ||z||_sigma = (sqrt(1 + eps ||z||^2) - 1) / eps (eq. 8), the bump
function rho_h (eq. 10), phi_alpha(z) = rho_h(z / r_alpha) phi(z - d_alpha) (eq. 15),
n_ij = (q_j - q_i) / sqrt(1 + eps ||q_j - q_i||^2) and a_ij = rho_h(||q_j - q_i||_sigma / r_alpha).
Algorithm 2 adds the navigational feedback of a static gamma-agent at ``goal``:
``-c1 (q_i - q_r) - c2 p_i`` (eq. 24). Defaults are the paper's: d = 7, r = 1.2 d,
eps = 0.1, a = b = 5, h = 0.2; d defaults to what the drone's sensor can see (r = sensing
radius), since a drone cannot keep a spacing it cannot sense. The paper works in R^m, so the
same code runs with ``dim = 3`` (a ``goal`` then has three coordinates).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import ConfigError, StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy


class OlfatiSaberParams(StrictConfig):
    distance: float | None = Field(
        None, gt=0, description="desired inter-agent distance d (m); default sense_radius / ratio"
    )
    ratio: float = Field(1.2, gt=1, description="interaction range r = ratio * d")
    eps: float = Field(0.1, gt=0, description="sigma-norm parameter epsilon")
    a: float = Field(5.0, gt=0, description="action function parameter a")
    b: float = Field(5.0, gt=0, description="action function parameter b (a <= b)")
    h: float = Field(0.2, gt=0, lt=1, description="bump function parameter h")
    goal: tuple[float, float] | tuple[float, float, float] | None = Field(
        None, description="gamma-agent position (Alg. 2): x, y (and z with dim = 3)"
    )
    c1: float = Field(0.2, ge=0, description="gamma position gain (Alg. 2)")
    c2: float = Field(0.4, ge=0, description="gamma velocity gain (Alg. 2)")


class OlfatiSaber(Policy):
    name = "olfati_saber"
    citation = "Olfati-Saber, R. (2006). IEEE TAC 51(3), 401-420, Algorithms 1 and 2."
    action_kind = "acceleration"
    Params = OlfatiSaberParams
    dims = (2, 3)

    def _sigma_norm(self, sq: np.ndarray) -> np.ndarray:
        eps = self.params.eps
        return (np.sqrt(1.0 + eps * sq) - 1.0) / eps

    def _bump(self, z: np.ndarray) -> np.ndarray:
        h = self.params.h
        out = np.where(z < h, 1.0, 0.5 * (1.0 + np.cos(np.pi * (z - h) / (1.0 - h))))
        return np.where((z >= 0) & (z <= 1), out, 0.0)

    def act(self, obs: LocalObservation) -> np.ndarray:
        p = self.params
        nb = obs.neighbors
        distance = p.distance if p.distance is not None else obs.sense_radius / p.ratio
        r = p.ratio * distance
        r_alpha = self._sigma_norm(np.array(r * r))
        d_alpha = self._sigma_norm(np.array(distance**2))
        sq = (nb.rel_pos**2).sum(axis=1)
        z = self._sigma_norm(sq)
        c = abs(p.a - p.b) / np.sqrt(4 * p.a * p.b)
        s = z - d_alpha + c
        phi = 0.5 * ((p.a + p.b) * s / np.sqrt(1 + s * s) + (p.a - p.b))
        phi_alpha = self._bump(z / r_alpha) * phi
        n_ij = nb.rel_pos / np.sqrt(1.0 + p.eps * sq)[:, None]
        a_ij = self._bump(z / r_alpha)
        u = nb.segment_sum(phi_alpha[:, None] * n_ij + a_ij[:, None] * nb.rel_vel)
        if p.goal is not None:
            if len(p.goal) != obs.pos.shape[1]:
                raise ConfigError(
                    f"policy_params (olfati_saber): goal has {len(p.goal)} coordinates; the "
                    f"drones fly in {obs.pos.shape[1]}-D, so give {obs.pos.shape[1]}"
                )
            offset = obs.pos - np.asarray(p.goal)
            if obs.torus:
                offset -= obs.world_size * np.round(offset / obs.world_size)
            u += -p.c1 * offset - p.c2 * obs.vel
        u[~obs.alive] = 0.0
        return u
