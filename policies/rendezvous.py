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

In 3-D (``dim = 3``) it is the circumcenter law of J. Cortés, S. Martínez, F. Bullo, "Robust
rendezvous for mobile autonomous agents via proximity graphs in arbitrary dimensions", IEEE
Trans. Automatic Control 51(8), 1289-1298, 2006, which defines it in R^d: the centre of the
smallest *sphere* enclosing the drone and the drones it sees (Welzl's move-to-front
recursion unrolled into four nested loops, supports of up to four points:
:func:`_enclosing_centres_3d`), and constraint *balls* of radius V/2 centred at the
midpoints, with the same argument and the same guarantee: the visibility graph only gains
edges. The step along the segment to the centre is cut where it would leave the first ball,
the same formula in any dimension.
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


@numba.njit(cache=True)
def _ball_two(p, i, j):
    """(x, y, z, radius) of the ball with segment p_i p_j as diameter (``p`` (K, 3))."""
    cx = 0.5 * (p[i, 0] + p[j, 0])
    cy = 0.5 * (p[i, 1] + p[j, 1])
    cz = 0.5 * (p[i, 2] + p[j, 2])
    return cx, cy, cz, _dist(p, i, cx, cy, cz)


@numba.njit(cache=True, inline="always")
def _dist(p, i, cx, cy, cz):
    """|p_i - c|."""
    return np.sqrt((p[i, 0] - cx) ** 2 + (p[i, 1] - cy) ** 2 + (p[i, 2] - cz) ** 2)


@numba.njit(cache=True)
def _ball_three(p, i, j, k):
    """The smallest ball with p_i, p_j, p_k on its sphere: centred at their circumcentre, in
    their plane. Collinear points have none; then the widest pair's ball (which holds all
    three)."""
    ux, uy, uz = p[j, 0] - p[i, 0], p[j, 1] - p[i, 1], p[j, 2] - p[i, 2]
    vx, vy, vz = p[k, 0] - p[i, 0], p[k, 1] - p[i, 1], p[k, 2] - p[i, 2]
    wx, wy, wz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx  # u x v
    ww = wx * wx + wy * wy + wz * wz
    uu = ux * ux + uy * uy + uz * uz
    vv = vx * vx + vy * vy + vz * vz
    if ww <= 1e-24 * uu * vv:
        best = _ball_two(p, i, j)
        for a, b in ((i, k), (j, k)):
            cand = _ball_two(p, a, b)
            if cand[3] > best[3]:
                best = cand
        return best
    # circumcentre relative to p_i: ((|u|^2 v - |v|^2 u) x (u x v)) / (2 |u x v|^2)
    sx, sy, sz = uu * vx - vv * ux, uu * vy - vv * uy, uu * vz - vv * uz
    ox = (sy * wz - sz * wy) / (2.0 * ww)
    oy = (sz * wx - sx * wz) / (2.0 * ww)
    oz = (sx * wy - sy * wx) / (2.0 * ww)
    return p[i, 0] + ox, p[i, 1] + oy, p[i, 2] + oz, np.sqrt(ox * ox + oy * oy + oz * oz)


@numba.njit(cache=True)
def _ball_four(p, i, j, k, m, slack):
    """The ball with p_i, p_j, p_k, p_m on its sphere: the circumsphere, from
    ``2 (x - p_i) . o = |x - p_i|^2`` for x = p_j, p_k, p_m by Cramer's rule. Coplanar points
    have none (unless concyclic); then the smallest ball of the pairs' and the triples' that
    holds all four."""
    ux, uy, uz = p[j, 0] - p[i, 0], p[j, 1] - p[i, 1], p[j, 2] - p[i, 2]
    vx, vy, vz = p[k, 0] - p[i, 0], p[k, 1] - p[i, 1], p[k, 2] - p[i, 2]
    wx, wy, wz = p[m, 0] - p[i, 0], p[m, 1] - p[i, 1], p[m, 2] - p[i, 2]
    vw = (vy * wz - vz * wy, vz * wx - vx * wz, vx * wy - vy * wx)  # v x w
    wu = (wy * uz - wz * uy, wz * ux - wx * uz, wx * uy - wy * ux)  # w x u
    uv = (uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx)  # u x v
    det = ux * vw[0] + uy * vw[1] + uz * vw[2]  # u . (v x w)
    uu = ux * ux + uy * uy + uz * uz
    vv = vx * vx + vy * vy + vz * vz
    ww = wx * wx + wy * wy + wz * wz
    if abs(det) > 1e-12 * np.sqrt(uu * vv * ww):
        # o = (|u|^2 (v x w) + |v|^2 (w x u) + |w|^2 (u x v)) / (2 det)
        ox = (uu * vw[0] + vv * wu[0] + ww * uv[0]) / (2.0 * det)
        oy = (uu * vw[1] + vv * wu[1] + ww * uv[1]) / (2.0 * det)
        oz = (uu * vw[2] + vv * wu[2] + ww * uv[2]) / (2.0 * det)
        return p[i, 0] + ox, p[i, 1] + oy, p[i, 2] + oz, np.sqrt(ox * ox + oy * oy + oz * oz)
    four = (i, j, k, m)
    best = _ball_two(p, i, j)
    best_r = np.inf
    for a in range(4):
        for b in range(a + 1, 4):
            cand = _ball_two(p, four[a], four[b])
            if cand[3] < best_r and _holds(p, four, cand, slack):
                best, best_r = cand, cand[3]
            for c in range(b + 1, 4):
                cand = _ball_three(p, four[a], four[b], four[c])
                if cand[3] < best_r and _holds(p, four, cand, slack):
                    best, best_r = cand, cand[3]
    return best


@numba.njit(cache=True)
def _holds(p, rows, ball, slack):
    """Whether the ball (x, y, z, radius) holds the points ``p[rows]``."""
    for q in rows:
        if _dist(p, q, ball[0], ball[1], ball[2]) > ball[3] + slack:
            return False
    return True


@numba.njit(cache=True)
def _enclosing_centres_3d(ptr, seg_row, rel, keep, out):
    """Per row: centre (relative to the row) of the smallest sphere enclosing the row itself
    (at the origin) and its neighbours: Welzl 1991 unrolled into nested loops, each level
    adding a point that lies outside the current ball to the ball's support (at most four
    in 3-D), in the table's deterministic neighbour order."""
    slack = 1e-12
    for s in range(seg_row.shape[0]):
        lo, hi = ptr[s], ptr[s + 1]
        p = np.zeros((hi - lo + 1, 3))
        n = 1
        for e in range(lo, hi):
            if keep[e]:
                p[n, 0] = rel[e, 0]
                p[n, 1] = rel[e, 1]
                p[n, 2] = rel[e, 2]
                n += 1
        ball = (p[0, 0], p[0, 1], p[0, 2], 0.0)
        for i in range(1, n):
            if _dist(p, i, ball[0], ball[1], ball[2]) <= ball[3] + slack:
                continue
            ball = (p[i, 0], p[i, 1], p[i, 2], 0.0)
            for j in range(i):
                if _dist(p, j, ball[0], ball[1], ball[2]) <= ball[3] + slack:
                    continue
                ball = _ball_two(p, i, j)
                for k in range(j):
                    if _dist(p, k, ball[0], ball[1], ball[2]) <= ball[3] + slack:
                        continue
                    ball = _ball_three(p, i, j, k)
                    for m in range(k):
                        if _dist(p, m, ball[0], ball[1], ball[2]) <= ball[3] + slack:
                            continue
                        ball = _ball_four(p, i, j, k, m, slack)
        row = seg_row[s]
        out[row, 0] = ball[0]
        out[row, 1] = ball[1]
        out[row, 2] = ball[2]


class Rendezvous(Policy):
    name = "rendezvous"
    citation = (
        "Ando, H., Oasa, Y., Suzuki, I., Yamashita, M. (1999). IEEE TRA 15(5), 818-828; in R^d: "
        "Cortés, J., Martínez, S., Bullo, F. (2006). IEEE TAC 51(8), 1289-1298."
    )
    action_kind = "velocity"
    scenario = "consensus"
    dims = (2, 3)  # smallest enclosing circle or sphere, constraint disks or balls
    Params = RendezvousParams

    def displacement(self, obs: LocalObservation) -> np.ndarray:
        """(R, dim) the constrained step towards the circumcenter (m)."""
        nb = obs.neighbors
        visibility = min(self.params.visibility or obs.sense_radius, obs.sense_radius)
        v_half = 0.5 * visibility
        seen = nb.dist <= visibility
        dim = obs.pos.shape[1]
        goal = np.zeros((obs.n, dim))
        centres = _enclosing_centres if dim == 2 else _enclosing_centres_3d
        centres(nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), seen, goal)
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
