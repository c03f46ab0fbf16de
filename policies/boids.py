"""Boids: separation, alignment and cohesion (Reynolds 1987).

C. W. Reynolds, "Flocks, herds and schools: a distributed behavioral model", SIGGRAPH 1987.
Each drone steers by three rules over the neighbours it senses:

* separation: away from neighbours closer than ``separation_radius``, weighted 1/d
  (the push grows as they get closer);
* alignment: towards the neighbours' mean velocity;
* cohesion: towards the neighbours' mean position;
* and, as Reynolds' boids fly between a minimum and a maximum speed, a pull towards a
  preferred ``cruise_speed`` along the current heading.

The command is an acceleration: ``w_sep * sep + w_ali * ali + w_coh * coh`` (+ cruise).
Reynolds' boids fly in 3-D; the rules are the same vectors with three coordinates, so the
controller runs with ``dim = 3`` (a kernel of its own, leaving the 2-D one as it was).
Two versions are here: :func:`boids_decide`, one drone written plainly (the reference, and
what a custom Mesa agent would write), and :class:`Boids`, the hot path, one fused numba pass
over the neighbour table (numpy's per-operation overhead cost 4x more at 1,000 drones);
``tests/policies/test_boids.py`` proves they agree.
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import AgentObservation, LocalObservation
from swarm.policy import Policy
from swarm.threads import parallel_pays, serial_and_parallel


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
    dims = (2, 3)

    def act(self, obs: LocalObservation) -> np.ndarray:
        p = self.params
        nb = obs.neighbors
        accel = np.zeros(obs.vel.shape)  # (R, dim)
        if obs.vel.shape[1] == 2:
            kernel = _boids_parallel if parallel_pays(obs.n) else _boids
        else:
            kernel = _boids_3d_parallel if parallel_pays(obs.n) else _boids_3d
        kernel(
            nb.ptr, nb.seg_row, nb.rel_pos, nb.rel_vel, nb.dist, obs.vel, obs.alive,
            p.separation_radius, p.w_separation, p.w_alignment, p.w_cohesion,
            p.cruise_speed, p.w_speed, accel,
        )  # fmt: skip
        return accel


def _boids_rules(
    ptr, seg_row, rel_pos, rel_vel, dist, vel, alive, sep_radius, w_sep, w_ali, w_coh,
    cruise, w_speed, accel,
):  # fmt: skip
    """The three rules for every drone in one pass over its segment of the neighbour table
    (each segment writes only its own drone's row: any thread count, the same result)."""
    for s in numba.prange(seg_row.shape[0]):
        i = seg_row[s]
        if not alive[i]:
            continue
        sep_x = sep_y = ali_x = ali_y = coh_x = coh_y = 0.0
        for e in range(ptr[s], ptr[s + 1]):
            d = dist[e]
            if 0.0 < d < sep_radius:  # away from the neighbour, unit vector / d
                sep_x -= rel_pos[e, 0] / (d * d)
                sep_y -= rel_pos[e, 1] / (d * d)
            ali_x += rel_vel[e, 0]
            ali_y += rel_vel[e, 1]
            coh_x += rel_pos[e, 0]
            coh_y += rel_pos[e, 1]
        count = max(ptr[s + 1] - ptr[s], 1)
        ax = w_sep * sep_x + (w_ali * ali_x + w_coh * coh_x) / count
        ay = w_sep * sep_y + (w_ali * ali_y + w_coh * coh_y) / count
        speed = np.sqrt(vel[i, 0] ** 2 + vel[i, 1] ** 2)
        if cruise > 0.0 and w_speed > 0.0:
            pull = w_speed * (cruise - speed) / max(speed, 1e-12)
            ax += pull * vel[i, 0]
            ay += pull * vel[i, 1]
        accel[i, 0] = ax
        accel[i, 1] = ay


_boids, _boids_parallel = serial_and_parallel(_boids_rules)


def _boids_rules_3d(
    ptr, seg_row, rel_pos, rel_vel, dist, vel, alive, sep_radius, w_sep, w_ali, w_coh,
    cruise, w_speed, accel,
):  # fmt: skip
    """:func:`_boids_rules` with three coordinates (the same terms in the same order)."""
    for s in numba.prange(seg_row.shape[0]):
        i = seg_row[s]
        if not alive[i]:
            continue
        sep_x = sep_y = sep_z = ali_x = ali_y = ali_z = coh_x = coh_y = coh_z = 0.0
        for e in range(ptr[s], ptr[s + 1]):
            d = dist[e]
            if 0.0 < d < sep_radius:  # away from the neighbour, unit vector / d
                sep_x -= rel_pos[e, 0] / (d * d)
                sep_y -= rel_pos[e, 1] / (d * d)
                sep_z -= rel_pos[e, 2] / (d * d)
            ali_x += rel_vel[e, 0]
            ali_y += rel_vel[e, 1]
            ali_z += rel_vel[e, 2]
            coh_x += rel_pos[e, 0]
            coh_y += rel_pos[e, 1]
            coh_z += rel_pos[e, 2]
        count = max(ptr[s + 1] - ptr[s], 1)
        ax = w_sep * sep_x + (w_ali * ali_x + w_coh * coh_x) / count
        ay = w_sep * sep_y + (w_ali * ali_y + w_coh * coh_y) / count
        az = w_sep * sep_z + (w_ali * ali_z + w_coh * coh_z) / count
        speed = np.sqrt(vel[i, 0] ** 2 + vel[i, 1] ** 2 + vel[i, 2] ** 2)
        if cruise > 0.0 and w_speed > 0.0:
            pull = w_speed * (cruise - speed) / max(speed, 1e-12)
            ax += pull * vel[i, 0]
            ay += pull * vel[i, 1]
            az += pull * vel[i, 2]
        accel[i, 0] = ax
        accel[i, 1] = ay
        accel[i, 2] = az


_boids_3d, _boids_3d_parallel = serial_and_parallel(_boids_rules_3d)


def boids_decide(obs: AgentObservation, params: BoidsParams) -> np.ndarray:
    """The same rules for one drone, written plainly (the readable reference)."""
    if len(obs.dist) == 0:
        return _cruise(obs.vel[None, :], params)[0]
    separation = np.zeros_like(obs.vel)  # (dim,)
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
