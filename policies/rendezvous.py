"""Rendezvous with connectivity preservation: the circumcenter algorithm.

H. Ando, Y. Oasa, I. Suzuki, M. Yamashita, "Distributed memoryless point convergence
algorithm for mobile robots with limited visibility", IEEE Trans. Robotics and Automation
15(5), 818-828, 1999. Each drone, seeing the drones within its visibility range V (the
sensing radius):

1. computes the centre c of the smallest circle enclosing itself and the drones it sees;
2. moves towards c, but only as far as every neighbour j's constraint disk allows: the
   disk of radius V/2 centred at the midpoint of i and j. Both i and j stay in that disk,
   so no pair that sees each other now can be farther than V apart after the step: the
   visibility graph only gains edges, and a connected swarm stays connected while it
   shrinks to a point.

Memoryless and local: the step of drone i uses only the relative positions it senses. The
guarantee assumes the drone reaches the commanded displacement in one step (``max_accel =
inf``, the consensus scenario's default); the speed limit only shortens the step along the
same segment, which keeps it inside every constraint disk.
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy


class RendezvousParams(StrictConfig):
    visibility: float | None = Field(
        None,
        gt=0,
        description="visibility range V (m) the guarantee keeps; default (and at most) "
        "sense_radius",
    )


@numba.njit(cache=True)
def _circle_two(ax, ay, bx, by):
    return 0.5 * (ax + bx), 0.5 * (ay + by), 0.5 * np.hypot(ax - bx, ay - by)


@numba.njit(cache=True)
def _circle_three(ax, ay, bx, by, cx, cy):
    """Circumcircle of three points; the widest pair's circle if they are collinear."""
    d = 2.0 * (ax * (by - cy) + bx * (cy - ay) + cx * (ay - by))
    if abs(d) < 1e-12:
        best = _circle_two(ax, ay, bx, by)
        for cand in (_circle_two(ax, ay, cx, cy), _circle_two(bx, by, cx, cy)):
            if cand[2] > best[2]:
                best = cand
        return best
    a2, b2, c2 = ax * ax + ay * ay, bx * bx + by * by, cx * cx + cy * cy
    ux = (a2 * (by - cy) + b2 * (cy - ay) + c2 * (ay - by)) / d
    uy = (a2 * (cx - bx) + b2 * (ax - cx) + c2 * (bx - ax)) / d
    return ux, uy, np.hypot(ax - ux, ay - uy)


@numba.njit(cache=True)
def _enclosing_centres(ptr, seg_row, rel, keep, out):
    """Per row: centre (relative to the row) of the smallest circle enclosing the row itself
    (at the origin) and its neighbours; incremental algorithm (Welzl 1991, iterative form),
    in the table's deterministic neighbour order."""
    for s in range(seg_row.shape[0]):
        lo, hi = ptr[s], ptr[s + 1]
        xs = np.zeros(hi - lo + 1)
        ys = np.zeros(hi - lo + 1)
        n = 1
        for e in range(lo, hi):
            if keep[e]:
                xs[n] = rel[e, 0]
                ys[n] = rel[e, 1]
                n += 1
        cx, cy, r = xs[0], ys[0], 0.0
        slack = 1e-12
        for i in range(1, n):
            if np.hypot(xs[i] - cx, ys[i] - cy) <= r + slack:
                continue
            cx, cy, r = xs[i], ys[i], 0.0
            for j in range(i):
                if np.hypot(xs[j] - cx, ys[j] - cy) <= r + slack:
                    continue
                cx, cy, r = _circle_two(xs[i], ys[i], xs[j], ys[j])
                for k in range(j):
                    if np.hypot(xs[k] - cx, ys[k] - cy) <= r + slack:
                        continue
                    cx, cy, r = _circle_three(xs[i], ys[i], xs[j], ys[j], xs[k], ys[k])
        row = seg_row[s]
        out[row, 0] = cx
        out[row, 1] = cy


class Rendezvous(Policy):
    name = "rendezvous"
    citation = "Ando, H., Oasa, Y., Suzuki, I., Yamashita, M. (1999). IEEE TRA 15(5), 818-828."
    action_kind = "velocity"
    scenario = "consensus"
    Params = RendezvousParams

    def displacement(self, obs: LocalObservation) -> np.ndarray:
        """(R, 2) the constrained step towards the circumcenter (m)."""
        nb = obs.neighbors
        visibility = min(self.params.visibility or obs.sense_radius, obs.sense_radius)
        v_half = 0.5 * visibility
        seen = nb.dist <= visibility
        goal = np.zeros((obs.n, 2))
        _enclosing_centres(nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), seen, goal)
        # largest t in [0, 1] with ||t * goal - mid_j|| <= V/2 for every neighbour j
        u = goal[nb.owner]
        mid = 0.5 * nb.rel_pos
        uu = (u**2).sum(axis=1)
        um = (u * mid).sum(axis=1)
        mm = (mid**2).sum(axis=1)
        root = np.sqrt(np.maximum(um**2 - uu * (mm - v_half**2), 0.0))
        t_entry = np.where(uu > 0, (um + root) / np.maximum(uu, 1e-300), 1.0)
        t = np.ones(obs.n)
        np.minimum.at(t, nb.owner[seen], np.clip(t_entry[seen], 0.0, 1.0))
        step = t[:, None] * goal
        step[~obs.alive] = 0.0
        return step

    def act(self, obs: LocalObservation) -> np.ndarray:
        step = self.displacement(obs)
        speed = np.sqrt((step**2).sum(axis=1)) / obs.dt
        scale = np.minimum(1.0, obs.max_speed / np.maximum(speed, 1e-300))
        return step / obs.dt * scale[:, None]
