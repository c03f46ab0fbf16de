"""A safety layer that keeps any controller from colliding, from local sensing only: ORCA,
or control barrier functions (:class:`Cbf`, ``safety = "cbf"``).

Optimal reciprocal collision avoidance (van den Berg, Guy, Lin, Manocha 2011, "Reciprocal
n-body collision avoidance", Robotics Research, Springer STAR 70, pp. 3-19), written from
the paper. Each drone, on its own observation alone:

1. takes the controller's command as a *preferred velocity* ``v_pref`` (an acceleration
   command ``a`` flies ``v + a dt`` this step, a velocity command is one);
2. for every sensed neighbour (relative position ``p``; its own velocity relative to the
   neighbour's, ``-rel_vel``, as sensed; combined radius ``r = collision_radius (1 +
   margin)``) builds the velocity obstacle truncated at the time horizon ``tau`` (the cone
   of relative velocities that close to within ``r`` before ``tau``, cut off by the disc
   of centre ``p / tau``, radius ``r / tau``), the smallest change ``u`` of the relative
   velocity that leaves it, and the half-plane ``ORCA = {v : (v - (v_own + u / 2)) . n >=
   0}`` (``n``: the obstacle's outward normal where ``u`` meets it): each of the two takes
   half of the responsibility;
3. picks the velocity closest to ``v_pref`` inside every half-plane and the speed disc, by
   the paper's incremental 2-D linear program, and when no velocity satisfies them all
   (dense crowds), the velocity that minimises the largest penetration of the half-planes,
   the 3-D linear program of section 5.2 (in 3-D: half-spaces, a 3-D program and a 4-D
   fallback, below);
4. returns the corrected command in the controller's own kind (an acceleration
   ``(v_new - v) / dt``).

A drone whose ``v_pref`` already satisfies every half-plane keeps its command bit for bit,
so the layer changes nothing where nothing is in the way (the intervention is exactly 0).
The per-drone work is one numba kernel over the neighbour table's segments (row i reads only
its own velocity, speed limit and table segment), so the layer passes the locality audit.

What the layer leaves out, or handles its own way:

* **obstacles** (:mod:`swarm.obstacles`): for each sensed obstacle (its nearest point, in
  ``obs.own``) a *hard* half-plane (a half-space in 3-D, for spheres and boxes): approach
  the obstacle's supporting line (plane) at that point at most at ``(d - r_own) / tau``
  (``r_own``: the drone's own radius, half the combined one, with the margin). The
  obstacles are convex, so their distance is a convex function of position and never falls
  faster than that approach: a drone that starts clear stays clear at any ``dt <= tau``
  (and one inside leaves within a step). This is more
  conservative than the paper's velocity obstacles of polygon edges, and needs no edge
  bookkeeping. When the obstacle lines and the reachable-velocity polygon have nothing in
  common (too fast to brake in time), the polygon gives way and the platform's limits clip;
  obstacle lines that contradict each other turn soft. ORCA does not plan: a drone whose
  goal lies straight behind a large block stops against it (``urban``); in a forest, whose
  poles leave room between them, everyone gets through. Walls of a ``box`` arena are not
  avoided;
* **3-D** (``dim = 3``): the same construction one dimension up. A neighbour's velocity
  obstacle is the cone of apex 0 around ``p``, half-angle ``asin(r / |p|)``, cut off by the
  sphere of centre ``p / tau``, radius ``r / tau``; ``u`` leaves it through the cutoff
  sphere or across the cone's side, in the plane of the axis and ``w`` (exactly on the axis,
  a head-on pair, every side is as near: each drone takes ``axis x z``, or ``axis x x``
  along z, of its own axis, so the two sidestep in opposite directions, each to its right as
  in the plane), and the ORCA set is a half-space. The linear program adds the half-spaces
  one at a time inside the speed ball: when the optimum breaks one, the new optimum lies on
  its plane, a 2-D program in the disc where that plane cuts the ball, which in turn moves
  onto the line where two planes meet (:func:`_lp3d`). When none fits, the fallback
  minimises the largest penetration, a 4-D program solved as the plane's 3-D one: each plane
  penetrated deeper than the optimum so far becomes the objective of a 3-D program over the
  planes bisecting it and each earlier one (:func:`_lp4d`). Obstacles give a hard half-space
  at each sensed nearest point (:func:`_obstacle_plane`, the plane's argument unchanged),
  and a finite ``max_accel`` keeps the velocity in a polyhedron inscribed in the reachable
  ball (32 faces, their normals at the vertices of an icosahedron and of its dual
  dodecahedron, at 0.923 ``max_accel dt`` from the velocity, every vertex on the ball;
  ``polygon_sides`` is the plane's setting only). Optima often sit where three or more
  planes meet (a vertex of the polyhedron), so the 3-D programs count a plane as broken only
  beyond 1e-10 m/s, where rounding alone would fail them. The 2-D kernels are separate and
  unchanged;
* **dynamics**: ORCA assumes velocity control (holonomic, instant). With a finite
  ``max_accel`` the velocities reachable this step form the disc ``|v - v_now| <=
  max_accel dt``; the layer adds its inscribed regular polygon (``polygon_sides``
  half-planes) as *hard* constraints, the way the paper treats obstacle constraints:
  every velocity the LP returns is reachable, and the 3-D program only trades off the
  reciprocal half-planes. A crowd the platform cannot brake for in time may then still
  collide (the reachable set and the half-planes can be disjoint): acceleration-velocity
  obstacles (van den Berg, Snape, Guy, Manocha 2011, ICRA) would be the principled
  extension. With ``max_accel = inf`` (kinematic drones) the layer is the paper's ORCA;
* **sensing**: only neighbours within the sensing range and field of view count; their
  velocity is what sensing gives (noisy where configured), never their command. A neighbour
  that does not reciprocate (a crashed drone, which nobody senses, or another team's drone
  without the layer) gets half the responsibility all the same;
* **neighbours**: only the ``max_neighbors`` (10) nearest sensed ones give half-planes,
  as implementations of the paper limit them: in a crowd the far ones are shadowed by the
  near ones, and each more half-plane makes the program costlier and less often feasible;
* drones already closer than ``r`` (not covered by the paper's guarantee) use the cutoff
  disc of horizon ``dt`` instead of ``tau``, so they separate within one step; two at the
  very same place and velocity have no direction between them, so each leaves along one of
  its own identity's (``obs.ids``: a golden-angle direction, a point of a spiral on the
  sphere in 3-D), different for any two drones (the CBF layer does the same);
* **time steps**: each chosen velocity is held for a step. Where every program is
  feasible that is safe at any ``dt``; in a dense crowd, where the fallback penetrates the
  half-planes, the penetration grows with the step: keep ``max_speed * dt`` at about a
  tenth of ``collision_radius`` (the crossing scenario's 10 ms steps at 3 m/s), and the
  margin (``safety_margin``, 25 % of the radius by default) absorbs what is left. Measured
  on the antipodal crossing of 100 drones: 0 collisions at 10 ms steps, collisions at 50 ms
  and 100 ms (``experiments/crossing.toml``); in 3-D, 0 collisions at 10 ms steps for 100
  and 1,000 drones on a sphere, 5 seeds each (``experiments/crossing_3d.toml``).

The other layer, ``safety = "cbf"`` (:class:`Cbf`), filters accelerations through pairwise
control barrier functions (Wang, Ames, Egerstedt 2017) with the same linear program, and
holds only while every drone's program is feasible: measured on the crossing at 20 m/s^2,
no contact up to 8 drones, collisions from 16 (the README's table), where ORCA has none. In
3-D its barriers are half-spaces of the acceleration, solved by the same 3-D program and 4-D
fallback: on the 3-D crossing at 20 m/s^2, no contact up to 32 drones (20 m cube), 3-9 pairs
at 100 (60 m cube, seeds 0-2; closest approach 0.175-0.224 m).

Use it by config (``safety = "orca"``, ``safety_horizon = tau``; every drone scenario:
``swarm run flocking --set safety=orca``), which wraps the model's controller in
:class:`SafePolicy`, or around any controller by hand: ``SafePolicy(Boids(), "orca",
OrcaParams(radius=0.3))``. The PettingZoo and batched envs filter the learner's actions
the same way when the config asks for it (:func:`shielded_actions`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.neighbors import insert_k_best
from swarm.policy import Decision, Policy

if TYPE_CHECKING:
    from swarm.engine import Swarm, SwarmConfig
    from swarm.observation import LocalObservation

CITATION = (
    "van den Berg, Guy, Lin, Manocha (2011), Reciprocal n-body collision avoidance, "
    "Robotics Research, Springer STAR 70, pp. 3-19"
)
_EPS = 1e-12  # determinants below this are parallel lines
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0  # 1 / golden ratio: the golden angle is 2 pi (1 - it)
_SQRT2_FRAC = math.sqrt(2.0) - 1.0  # an irrational step independent of the golden one


@numba.njit(cache=True, inline="always")
def _own_direction2(ident):
    """A unit direction of the drone's own, from its identity alone (the golden angle times
    it): two drones at the same place with the same velocity have no geometry to tell them
    apart, and the neighbour's identity is not at hand, so each moves its own way; two
    different identities pick different ones (the golden angle is irrational), though two
    nearly alike part slowly in the first step, until their offset gives them a direction."""
    a = 2.0 * math.pi * ((float(ident) * _INV_PHI) % 1.0)
    return math.cos(a), math.sin(a)


@numba.njit(cache=True, inline="always")
def _own_direction3(ident):
    """:func:`_own_direction2` in 3-D: a point of a spiral on the unit sphere (the Fibonacci
    sphere's golden-angle azimuth, its height stepped by another irrational, as no count of
    drones is known), a different point for each identity."""
    k = float(ident)
    a = 2.0 * math.pi * ((k * _INV_PHI) % 1.0)
    z = 1.0 - 2.0 * ((k * _SQRT2_FRAC + 0.5) % 1.0)
    h = math.sqrt(max(1.0 - z * z, 0.0))
    return h * math.cos(a), h * math.sin(a), z


class OrcaParams(StrictConfig):
    """Settings of the ORCA layer (units: metres, seconds)."""

    horizon: float = Field(2.0, gt=0, description="time horizon tau of the velocity obstacles (s)")
    radius: float = Field(0.3, gt=0, description="combined radius of two drones (m)")
    margin: float = Field(
        0.25, ge=0, le=1,
        description="fraction added to the radius: room for the fallback's penetration and dt",
    )  # fmt: skip
    max_accel: float = Field(
        math.inf, gt=0, allow_inf_nan=True,
        description="acceleration limit (m/s^2); finite: only reachable velocities",
    )  # fmt: skip
    max_neighbors: int = Field(
        10, ge=0, description="the nearest sensed neighbours that count (0: every one)"
    )
    accel_cap: float = Field(
        math.inf, gt=0, allow_inf_nan=True,
        description="a cap on every drone's acceleration limit (a quadrotor's tilt and thrust)",
    )  # fmt: skip
    polygon_sides: int = Field(
        16, ge=4, le=64,
        description="sides of the polygon inscribed in the reachable disc (2-D; in 3-D a "
        "fixed polyhedron of 32 faces)",
    )  # fmt: skip
    gamma: float = Field(
        1.0, gt=0, description="cbf: gain of the class-K function gamma h^3 (how fast the "
        "barrier may fall toward 0)",
    )  # fmt: skip


# ---------------------------------------------------------------------------- the LPs
# A half-plane is a point q and a unit direction d; the permitted side is on the left of d:
# det(d, v - q) >= 0. Lines live in the arrays qx, qy, dx, dy (first n used).


@numba.njit(cache=True, inline="always")
def _det(ax, ay, bx, by):
    return ax * by - ay * bx


@numba.njit(cache=True)
def _lp1(qx, qy, dx, dy, i, vmax, ox, oy, directional):
    """The optimum on line i subject to lines 0..i-1 and the speed disc: the point of the
    line closest to ``o`` (or farthest along ``o`` when ``directional``). Returns
    (feasible, x, y)."""
    along = qx[i] * dx[i] + qy[i] * dy[i]
    disc = along * along + vmax * vmax - (qx[i] * qx[i] + qy[i] * qy[i])
    if disc < 0.0:
        return False, 0.0, 0.0  # the line misses the speed disc
    root = math.sqrt(disc)
    lo = -along - root
    hi = -along + root
    for j in range(i):
        # line j on line i's points q_i + t d_i:  t det(d_j, d_i) >= -det(d_j, q_i - q_j)
        a = _det(dx[j], dy[j], dx[i], dy[i])
        b = _det(dx[j], dy[j], qx[i] - qx[j], qy[i] - qy[j])
        if abs(a) <= _EPS:
            if b < 0.0:
                return False, 0.0, 0.0  # parallel, and line i lies outside line j
            continue
        t = -b / a
        if a > 0.0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False, 0.0, 0.0
    if directional:
        t = hi if ox * dx[i] + oy * dy[i] > 0.0 else lo
    else:
        t = dx[i] * (ox - qx[i]) + dy[i] * (oy - qy[i])
        t = min(max(t, lo), hi)
    return True, qx[i] + t * dx[i], qy[i] + t * dy[i]


@numba.njit(cache=True)
def _lp2(qx, qy, dx, dy, n, vmax, ox, oy, directional):
    """The 2-D linear program: the velocity closest to ``o`` (or, ``directional``, farthest
    along the unit vector ``o``) in the speed disc and lines 0..n-1, added one at a time. Returns
    (k, x, y): k = n on success, else the first line that made it infeasible (x, y then
    the optimum of lines 0..k-1)."""
    if directional:
        rx = ox * vmax
        ry = oy * vmax
    else:
        norm2 = ox * ox + oy * oy
        if norm2 > vmax * vmax:
            scale = vmax / math.sqrt(norm2)
            rx = ox * scale
            ry = oy * scale
        else:
            rx = ox
            ry = oy
    for i in range(n):
        if _det(dx[i], dy[i], rx - qx[i], ry - qy[i]) < 0.0:  # the optimum breaks line i
            ok, x, y = _lp1(qx, qy, dx, dy, i, vmax, ox, oy, directional)
            if not ok:
                return i, rx, ry
            rx = x
            ry = y
    return n, rx, ry


@numba.njit(cache=True)
def _lp3(qx, qy, dx, dy, n, n_hard, first, vmax, rx, ry, px, py, ex, ey):
    """Section 5.2: no velocity satisfies every line, so minimise the largest penetration
    ``max_k det(d_k, q_k - v)`` over lines ``n_hard..n-1`` (lines 0..n_hard-1 stay hard).
    Incremental in 3-D: when line i is penetrated deeper than the optimum so far, the new
    optimum has line i's penetration as the objective; every earlier soft line j then
    permits the side of the bisector of i and j where j is penetrated less than i
    (projected lines ``px, py, ex, ey``), and the 2-D LP moves as far into line i as they
    allow. ``first``: the line where the 2-D LP failed, (rx, ry) its optimum so far."""
    depth = 0.0
    for i in range(first, n):
        if _det(dx[i], dy[i], qx[i] - rx, qy[i] - ry) <= depth:
            continue
        m = 0
        for j in range(n_hard):
            px[m] = qx[j]
            py[m] = qy[j]
            ex[m] = dx[j]
            ey[m] = dy[j]
            m += 1
        for j in range(n_hard, i):
            a = _det(dx[i], dy[i], dx[j], dy[j])
            if abs(a) <= _EPS:
                if dx[i] * dx[j] + dy[i] * dy[j] > 0.0:
                    continue  # same direction: j is never penetrated deeper than i here
                bx = 0.5 * (qx[i] + qx[j])  # opposite: the bisector runs midway
                by = 0.5 * (qy[i] + qy[j])
            else:
                t = _det(dx[j], dy[j], qx[i] - qx[j], qy[i] - qy[j]) / a
                bx = qx[i] + t * dx[i]  # where i and j cross, both penetrated by 0
                by = qy[i] + t * dy[i]
            ux = dx[j] - dx[i]
            uy = dy[j] - dy[i]
            norm = math.sqrt(ux * ux + uy * uy)
            px[m] = bx
            py[m] = by
            ex[m] = ux / norm
            ey[m] = uy / norm
            m += 1
        k, x, y = _lp2(px, py, ex, ey, m, vmax, -dy[i], dx[i], True)
        if k == m:  # (fails only by rounding: then the previous optimum stays)
            rx = x
            ry = y
        depth = _det(dx[i], dy[i], qx[i] - rx, qy[i] - ry)
    return rx, ry


# ---------------------------------------------------------------------------- ORCA lines
@numba.njit(cache=True, inline="always")
def _orca_line(px, py, wx, wy, ownx, owny, r, tau, dt, ident):
    """The ORCA half-plane of a drone with velocity (ownx, owny) against a neighbour at
    relative position (px, py), the drone's velocity relative to it (wx, wy) = v_own - v_nb.
    ``ident``: the drone's own identity, which picks its way out of a neighbour at the same
    place and velocity (:func:`_own_direction2`). Returns (qx, qy, dx, dy): the line through
    v_own + u / 2, permitted side on the left."""
    dist2 = px * px + py * py
    r2 = r * r
    if dist2 > r2:
        # the cutoff disc's centre p / tau; w: the relative velocity seen from it
        cx = wx - px / tau
        cy = wy - py / tau
        c2 = cx * cx + cy * cy
        along = cx * px + cy * py
        if along < 0.0 and along * along > r2 * c2:
            # closest to the cutoff arc: push out (or in) along the radius through w
            c = math.sqrt(c2)
            nx = cx / c
            ny = cy / c
            ux = (r / tau - c) * nx
            uy = (r / tau - c) * ny
            dirx = ny
            diry = -nx
        else:
            # closest to a leg: the tangents from the origin, at angle asin(r / |p|) to p
            leg = math.sqrt(dist2 - r2)
            if _det(px, py, cx, cy) > 0.0:  # left of the axis: the left leg
                dirx = (px * leg - py * r) / dist2
                diry = (px * r + py * leg) / dist2
            else:  # the right leg, walked backwards so the permitted side is on the left
                dirx = -(px * leg + py * r) / dist2
                diry = -(-px * r + py * leg) / dist2
            s = wx * dirx + wy * diry
            ux = s * dirx - wx
            uy = s * diry - wy
    else:
        # already closer than r: the cutoff disc of one step, to separate within it
        cx = wx - px / dt
        cy = wy - py / dt
        c = math.sqrt(cx * cx + cy * cy)
        if c > 0.0:
            nx = cx / c
            ny = cy / c
        elif dist2 > 0.0:
            d = math.sqrt(dist2)
            nx = -px / d
            ny = -py / d
        else:  # same place, same velocity: each its own way (a shared one never separates)
            nx, ny = _own_direction2(ident)
        ux = (r / dt - c) * nx
        uy = (r / dt - c) * ny
        dirx = ny
        diry = -nx
    return ownx + 0.5 * ux, owny + 0.5 * uy, dirx, diry


@numba.njit(cache=True, inline="always")
def _obstacle_line(rx, ry, d, body, tau, dt):
    """The half-plane of velocities that keep a drone ``body`` clear of a convex obstacle
    whose nearest point is at (rx, ry) from it, signed distance ``d``: approach the obstacle's
    supporting line at most at (d - body) / tau (beyond ``body``: never reach it; inside:
    leave within one step, dt). The distance to a convex set is convex, so it falls at most
    by the approach along the normal: each step keeps (d - body) >= (1 - dt / tau) of its
    value. Returns (qx, qy, dx, dy), permitted side on the left."""
    norm = math.sqrt(rx * rx + ry * ry)
    if norm > 0.0:
        nx = rx / norm
        ny = ry / norm
    else:
        nx = -1.0
        ny = 0.0
    if d < 0.0:  # inside: the nearest point is the way out
        nx = -nx
        ny = -ny
    # n points from the drone into the obstacle; permitted: v . n <= (d - body) / horizon
    horizon = tau if d > body else dt
    bound = (d - body) / horizon
    return bound * nx, bound * ny, -ny, nx


@numba.njit(cache=True)
def _line_scratch(size):
    """Per-kernel scratch: the k-nearest selection (distances, entries), the lines (q, d)
    and the 3-D program's projected lines."""
    return (np.empty(size), np.empty(size, np.int64), np.empty(size), np.empty(size),
            np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size),
            np.empty(size))  # fmt: skip


@numba.njit(cache=True, inline="always")
def _put_line(qx, qy, dx, dy, n, lqx, lqy, ldx, ldy):
    """Store half-plane (lqx, lqy, ldx, ldy) as line ``n``; returns the new line count."""
    qx[n] = lqx
    qy[n] = lqy
    dx[n] = ldx
    dy[n] = ldy
    return n + 1


@numba.njit(cache=True, inline="always")
def _sensed_slots(mask, row):
    """How many obstacle slots row ``row`` fills (the mask fills slots from the first)."""
    sensed = 0
    for t in range(mask.shape[1]):
        if mask[row, t] > 0.0:
            sensed += 1
    return sensed


@numba.njit(cache=True, inline="always")
def _nearest_entries(ptr, s, dist, nearest, best_d, best_e):
    """Table entries of segment ``s`` that count, into ``best_e``: the ``nearest`` closest,
    ascending (ties in table order), or all of them (``nearest`` 0). Returns how many."""
    count = ptr[s + 1] - ptr[s]
    if 0 < nearest < count:
        kept = 0
        for e in range(ptr[s], ptr[s + 1]):
            kept = insert_k_best(best_d, best_e, kept, nearest, dist[e], e)
        return kept
    for q in range(count):
        best_e[q] = ptr[s] + q
    return count


@numba.njit(cache=True)
def _orca_rows(ptr, seg_row, rel_pos, rel_vel, dist, vel, pref, vmax, active, ids, radius, tau,
               dt, reach, sides, nearest, obst_rel, obst_dist, obst_mask, out,
               changed):  # fmt: skip
    """Every active row's safe velocity (``out``, ``changed`` True) from its own segment of
    the neighbour table, its velocity ``vel``, preferred velocity ``pref`` and speed limit
    ``vmax``; rows whose preference breaks no half-plane are left with ``changed`` False.
    ``ids``: (R,) each row's own identity (its way out of a neighbour at the same place).
    ``reach``: (R,) each row's max_accel * dt (inf: every velocity reachable), ``sides`` of
    its polygon;
    ``nearest``: how many of the nearest neighbours count (0: all sensed); ``obst_*``: each
    row's obstacle reading (slots of nearest points, signed distances, mask; zero slots
    without obstacles), whose lines are hard, after the polygon's."""
    longest = 0
    for s in range(seg_row.shape[0]):
        longest = max(longest, ptr[s + 1] - ptr[s])
    slots = obst_mask.shape[1]
    body = 0.5 * radius  # a drone's own radius: the combined one is two drones'
    best_d, best_e, qx, qy, dx, dy, px, py, ex, ey = _line_scratch(longest + sides + slots)
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        sensed = _sensed_slots(obst_mask, row)
        if not active[row] or (ptr[s + 1] == ptr[s] and sensed == 0):
            continue
        vx = vel[row, 0]
        vy = vel[row, 1]
        limit = vmax[row]
        step = reach[row]
        ox = pref[row, 0]
        oy = pref[row, 1]
        # the preference as the platform would fly it (speed-limited)
        norm2 = ox * ox + oy * oy
        fx = ox
        fy = oy
        if norm2 > limit * limit:
            scale = limit / math.sqrt(norm2)
            fx = ox * scale
            fy = oy * scale
        # hard lines first: the polygon inscribed in the reachable disc (when it binds)
        polygon = 0
        if step < 2.0 * limit:
            polygon = sides
        n = polygon
        clear = True
        for t in range(sensed):  # the mask fills slots from the first
            lqx, lqy, ldx, ldy = _obstacle_line(obst_rel[row, t, 0], obst_rel[row, t, 1],
                                                obst_dist[row, t], body, tau, dt)  # fmt: skip
            n = _put_line(qx, qy, dx, dy, n, lqx, lqy, ldx, ldy)
            if _det(ldx, ldy, fx - lqx, fy - lqy) < 0.0:  # the command breaks it
                clear = False
        hard = n
        kept = _nearest_entries(ptr, s, dist, nearest, best_d, best_e)
        for q in range(kept):
            e = best_e[q]
            lqx, lqy, ldx, ldy = _orca_line(rel_pos[e, 0], rel_pos[e, 1], -rel_vel[e, 0],
                                            -rel_vel[e, 1], vx, vy, radius, tau, dt,
                                            ids[row])  # fmt: skip
            n = _put_line(qx, qy, dx, dy, n, lqx, lqy, ldx, ldy)
            if _det(ldx, ldy, fx - lqx, fy - lqy) < 0.0:  # the command breaks it
                clear = False
        if clear:
            continue
        for k in range(polygon):
            a0 = 2.0 * math.pi * k / sides
            a1 = 2.0 * math.pi * (k + 1) / sides
            x0 = vx + step * math.cos(a0)
            y0 = vy + step * math.sin(a0)
            ux = vx + step * math.cos(a1) - x0
            uy = vy + step * math.sin(a1) - y0
            norm = math.sqrt(ux * ux + uy * uy)
            qx[k] = x0
            qy[k] = y0
            dx[k] = ux / norm
            dy[k] = uy / norm
        k, rx, ry = _lp2(qx, qy, dx, dy, n, limit, ox, oy, False)
        if k < hard:
            # the reachable set misses the speed disc (a drone faster than its limit) or
            # every obstacle line (too fast to brake in time): solve without it and let the
            # platform's limits clip
            p = polygon
            obstacles = hard - p
            k, rx, ry = _lp2(qx[p:], qy[p:], dx[p:], dy[p:], n - p, limit, ox, oy, False)
            if k < n - p:
                # obstacle lines that contradict each other (squeezed between two) turn soft
                keep = obstacles if k >= obstacles else 0
                rx, ry = _lp3(qx[p:], qy[p:], dx[p:], dy[p:], n - p, keep, k, limit, rx, ry,
                              px, py, ex, ey)  # fmt: skip
        elif k < n:
            rx, ry = _lp3(qx, qy, dx, dy, n, hard, k, limit, rx, ry, px, py, ex, ey)
        out[row, 0] = rx
        out[row, 1] = ry
        changed[row] = True


# ---------------------------------------------------------------------------- 3-D LPs
# A half-space ("plane") is row k of an (m, 6) array: a point q = pl[k, 0:3] on its boundary
# and its unit normal n = pl[k, 3:6], pointing to the permitted side: (v - q) . n >= 0.
# Optima often sit where three or more planes meet (a vertex of the reachable polyhedron),
# where rounding alone would "break" a plane through the vertex and fail the program: a plane
# counts as broken, and a line's interval as empty, only beyond _TOL (m/s).
_TOL = 1e-10
# Two unit normals closer than 1e-8 (squared: 1e-16) are the same direction to the fallback:
# skipping such a bisector misjudges which of the two planes is penetrated deeper by at most
# 2 vmax 1e-8, and keeping it would divide the rounding of its offset (~1e-16 |q|) by |w|
_SAME2 = 1e-16


@numba.njit(cache=True, inline="always")
def _breaks(pl, k, x, y, z):
    """How far (x, y, z) lies outside plane k (> 0: it breaks it)."""
    return (pl[k, 0] - x) * pl[k, 3] + (pl[k, 1] - y) * pl[k, 4] + (pl[k, 2] - z) * pl[k, 5]


@numba.njit(cache=True, inline="always")
def _meet(pl, i, j):
    """Where planes i and j meet (both not parallel): a point of the line, and the line's
    unit direction. Returns (ok, bx, by, bz, ux, uy, uz); ok False when they are parallel."""
    nx = pl[i, 3]
    ny = pl[i, 4]
    nz = pl[i, 5]
    # the line's direction n_j x n_i
    ux = pl[j, 4] * nz - pl[j, 5] * ny
    uy = pl[j, 5] * nx - pl[j, 3] * nz
    uz = pl[j, 3] * ny - pl[j, 4] * nx
    norm = math.sqrt(ux * ux + uy * uy + uz * uz)
    if norm <= _EPS:
        return False, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    ux /= norm
    uy /= norm
    uz /= norm
    # m = u x n_i: in plane i, across the line; walk from q_i along m onto plane j
    mx = uy * nz - uz * ny
    my = uz * nx - ux * nz
    mz = ux * ny - uy * nx
    den = mx * pl[j, 3] + my * pl[j, 4] + mz * pl[j, 5]  # = -norm
    t = ((pl[j, 0] - pl[i, 0]) * pl[j, 3] + (pl[j, 1] - pl[i, 1]) * pl[j, 4]
         + (pl[j, 2] - pl[i, 2]) * pl[j, 5]) / den  # fmt: skip
    return True, pl[i, 0] + t * mx, pl[i, 1] + t * my, pl[i, 2] + t * mz, ux, uy, uz


@numba.njit(cache=True)
def _lp_line3(pl, count, bx, by, bz, ux, uy, uz, vmax, ox, oy, oz, directional):
    """The optimum on the line b + t u subject to planes 0..count-1 and the speed ball: the
    point closest to ``o`` (or farthest along ``o``, ``directional``). Returns (feasible, x,
    y, z)."""
    along = bx * ux + by * uy + bz * uz
    disc = along * along + vmax * vmax - (bx * bx + by * by + bz * bz)
    if disc < 0.0:
        return False, 0.0, 0.0, 0.0  # the line misses the ball
    root = math.sqrt(disc)
    lo = -along - root
    hi = -along + root
    for k in range(count):
        # plane k on the line: t (u . n_k) >= (q_k - b) . n_k
        den = ux * pl[k, 3] + uy * pl[k, 4] + uz * pl[k, 5]
        num = _breaks(pl, k, bx, by, bz)
        if abs(den) <= _EPS:
            if num > _TOL:
                return False, 0.0, 0.0, 0.0  # parallel, and the line lies outside plane k
            continue
        t = num / den
        if den > 0.0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi + _TOL:
            return False, 0.0, 0.0, 0.0
    if lo > hi:  # empty by rounding only: the point where the bounds cross
        lo = hi = 0.5 * (lo + hi)
    if directional:
        t = hi if ox * ux + oy * uy + oz * uz > 0.0 else lo
    else:
        t = ux * (ox - bx) + uy * (oy - by) + uz * (oz - bz)
        t = min(max(t, lo), hi)
    return True, bx + t * ux, by + t * uy, bz + t * uz


@numba.njit(cache=True)
def _lp_plane3(pl, i, vmax, ox, oy, oz, directional):
    """The optimum on plane i subject to planes 0..i-1 and the speed ball: a 2-D linear
    program in the disc where plane i cuts the ball, the earlier planes added one at a time
    (when the optimum breaks plane j, the new one lies on the line where i and j meet).
    Returns (feasible, x, y, z)."""
    nx = pl[i, 3]
    ny = pl[i, 4]
    nz = pl[i, 5]
    dist = pl[i, 0] * nx + pl[i, 1] * ny + pl[i, 2] * nz  # the plane's offset along n
    r2 = vmax * vmax - dist * dist
    if r2 < 0.0:
        return False, 0.0, 0.0, 0.0  # the plane misses the ball
    cx = dist * nx  # the centre of the disc
    cy = dist * ny
    cz = dist * nz
    if directional:
        s = ox * nx + oy * ny + oz * nz  # o projected onto the plane
        px = ox - s * nx
        py = oy - s * ny
        pz = oz - s * nz
        p2 = px * px + py * py + pz * pz
        if p2 <= _EPS:
            rx = cx
            ry = cy
            rz = cz
        else:
            f = math.sqrt(r2 / p2)
            rx = cx + f * px
            ry = cy + f * py
            rz = cz + f * pz
    else:
        s = _breaks(pl, i, ox, oy, oz)  # o projected onto the plane, then into the disc
        rx = ox + s * nx
        ry = oy + s * ny
        rz = oz + s * nz
        ex = rx - cx
        ey = ry - cy
        ez = rz - cz
        e2 = ex * ex + ey * ey + ez * ez
        if e2 > r2:
            f = math.sqrt(r2 / e2)
            rx = cx + f * ex
            ry = cy + f * ey
            rz = cz + f * ez
    for j in range(i):
        if _breaks(pl, j, rx, ry, rz) > _TOL:
            ok, bx, by, bz, ux, uy, uz = _meet(pl, i, j)
            if not ok:
                return False, 0.0, 0.0, 0.0  # parallel: all of plane i breaks plane j
            ok, x, y, z = _lp_line3(pl, j, bx, by, bz, ux, uy, uz, vmax, ox, oy, oz,
                                    directional)  # fmt: skip
            if not ok:
                return False, 0.0, 0.0, 0.0
            rx = x
            ry = y
            rz = z
    return True, rx, ry, rz


@numba.njit(cache=True)
def _lp3d(pl, n, vmax, ox, oy, oz, directional):
    """The 3-D linear program: the velocity closest to ``o`` (or, ``directional``, farthest
    along the unit vector ``o``) in the speed ball and planes 0..n-1, added one at a time
    (when the optimum breaks plane i, the new one lies on it: :func:`_lp_plane3`). Returns
    (k, x, y, z): k = n on success, else the first plane that made it infeasible (x, y, z
    then the optimum of planes 0..k-1)."""
    if directional:
        rx = ox * vmax
        ry = oy * vmax
        rz = oz * vmax
    else:
        norm2 = ox * ox + oy * oy + oz * oz
        if norm2 > vmax * vmax:
            scale = vmax / math.sqrt(norm2)
            rx = ox * scale
            ry = oy * scale
            rz = oz * scale
        else:
            rx = ox
            ry = oy
            rz = oz
    for i in range(n):
        if _breaks(pl, i, rx, ry, rz) > _TOL:  # the optimum breaks plane i
            ok, x, y, z = _lp_plane3(pl, i, vmax, ox, oy, oz, directional)
            if not ok:
                return i, rx, ry, rz
            rx = x
            ry = y
            rz = z
    return n, rx, ry, rz


@numba.njit(cache=True)
def _lp4d(pl, n, n_hard, first, vmax, rx, ry, rz, proj):
    """Section 5.2 in 3-D: no velocity satisfies every plane, so minimise the largest
    penetration ``max_k (q_k - v) . n_k`` over planes ``n_hard..n-1`` (planes 0..n_hard-1
    stay hard), a 4-D program solved incrementally: when plane i is penetrated deeper than
    the optimum so far, the new optimum has plane i's penetration as the objective; every
    earlier soft plane j then permits the side of the bisecting plane of i and j where j is
    penetrated less than i (into ``proj``: normal n_j - n_i, offset q_j . n_j - q_i . n_i,
    not the line where i and j meet, ill-conditioned when they are nearly parallel), and the
    3-D program moves as far into plane i as they allow. ``first``: the plane where the 3-D
    program failed, (rx, ry, rz) its optimum so far."""
    depth = 0.0
    for i in range(first, n):
        if _breaks(pl, i, rx, ry, rz) <= depth:
            continue
        m = 0
        for j in range(n_hard):
            for c in range(6):
                proj[m, c] = pl[j, c]
            m += 1
        for j in range(n_hard, i):
            # j penetrated no deeper than i: (q_j - v) . n_j <= (q_i - v) . n_i, i.e.
            # v . w >= q_j . n_j - q_i . n_i with w = n_j - n_i. Written so, the plane is
            # well conditioned however nearly parallel i and j are (where they meet is not),
            # and opposite normals need no case of their own (w = 2 n_j: midway)
            wx = pl[j, 3] - pl[i, 3]
            wy = pl[j, 4] - pl[i, 4]
            wz = pl[j, 5] - pl[i, 5]
            w2 = wx * wx + wy * wy + wz * wz
            if w2 <= _SAME2:
                continue  # same direction: j is never penetrated deeper than i here
            gap = (pl[j, 0] * pl[j, 3] + pl[j, 1] * pl[j, 4] + pl[j, 2] * pl[j, 5]
                   - pl[i, 0] * pl[i, 3] - pl[i, 1] * pl[i, 4] - pl[i, 2] * pl[i, 5])  # fmt: skip
            norm = math.sqrt(w2)
            at = gap / w2
            proj[m, 0] = wx * at
            proj[m, 1] = wy * at
            proj[m, 2] = wz * at
            proj[m, 3] = wx / norm
            proj[m, 4] = wy / norm
            proj[m, 5] = wz / norm
            m += 1
        k, x, y, z = _lp3d(proj, m, vmax, pl[i, 3], pl[i, 4], pl[i, 5], True)
        if k == m:  # (fails only by rounding: then the previous optimum stays)
            rx = x
            ry = y
            rz = z
        depth = _breaks(pl, i, rx, ry, rz)
    return rx, ry, rz


# ---------------------------------------------------------------------------- ORCA planes
@numba.njit(cache=True, inline="always")
def _across(ax, ay, az):
    """A unit vector perpendicular to the unit vector a, odd in a (the other drone of a pair,
    which sees -a, gets the opposite one): a x z, or a x x along the z axis."""
    h2 = ax * ax + ay * ay
    if h2 > 1e-12:
        h = math.sqrt(h2)
        return ay / h, -ax / h, 0.0
    h = math.sqrt(ay * ay + az * az)
    return 0.0, az / h, -ay / h


@numba.njit(cache=True, inline="always")
def _orca_plane(px, py, pz, wx, wy, wz, ownx, owny, ownz, r, tau, dt, ident):
    """The ORCA half-space of a drone with velocity ``own`` against a neighbour at relative
    position p, the drone's velocity relative to it w = v_own - v_nb: the velocity obstacle
    is the cone of apex 0 around p, half-angle asin(r / |p|), cut off by the sphere of centre
    p / tau, radius r / tau; ``ident``: the drone's own identity (:func:`_orca_line`). Returns
    (qx, qy, qz, nx, ny, nz): the plane through v_own + u / 2 and its normal, pointing out of
    the obstacle."""
    dist2 = px * px + py * py + pz * pz
    r2 = r * r
    if dist2 > r2:
        # the cutoff sphere's centre p / tau; w: the relative velocity seen from it
        cx = wx - px / tau
        cy = wy - py / tau
        cz = wz - pz / tau
        c2 = cx * cx + cy * cy + cz * cz
        along = cx * px + cy * py + cz * pz
        if along < 0.0 and along * along > r2 * c2:
            # closest to the cutoff sphere: push out (or in) along the radius through w
            c = math.sqrt(c2)
            nx = cx / c
            ny = cy / c
            nz = cz / c
            ux = (r / tau - c) * nx
            uy = (r / tau - c) * ny
            uz = (r / tau - c) * nz
        else:
            # closest to the cone's side: in the plane of the axis and w, the leg at angle
            # asin(r / |p|) from the axis, on w's side
            d = math.sqrt(dist2)
            ax = px / d
            ay = py / d
            az = pz / d
            wa = wx * ax + wy * ay + wz * az
            ex = wx - wa * ax  # w's part across the axis
            ey = wy - wa * ay
            ez = wz - wa * az
            rho = math.sqrt(ex * ex + ey * ey + ez * ez)
            if rho > 1e-6 * math.sqrt(wx * wx + wy * wy + wz * wz):
                ex /= rho
                ey /= rho
                ez /= rho
            else:  # on the axis (to rounding): every side is as near; one both drones agree on
                ex, ey, ez = _across(ax, ay, az)
            sin = r / d
            cos = math.sqrt(dist2 - r2) / d
            lx = cos * ax + sin * ex  # the leg
            ly = cos * ay + sin * ey
            lz = cos * az + sin * ez
            s = wx * lx + wy * ly + wz * lz
            ux = s * lx - wx
            uy = s * ly - wy
            uz = s * lz - wz
            nx = cos * ex - sin * ax  # out of the cone, across the leg
            ny = cos * ey - sin * ay
            nz = cos * ez - sin * az
    else:
        # already closer than r: the cutoff sphere of one step, to separate within it
        cx = wx - px / dt
        cy = wy - py / dt
        cz = wz - pz / dt
        c = math.sqrt(cx * cx + cy * cy + cz * cz)
        if c > 0.0:
            nx = cx / c
            ny = cy / c
            nz = cz / c
        elif dist2 > 0.0:
            d = math.sqrt(dist2)
            nx = -px / d
            ny = -py / d
            nz = -pz / d
        else:  # same place, same velocity: each its own way (a shared one never separates)
            nx, ny, nz = _own_direction3(ident)
        ux = (r / dt - c) * nx
        uy = (r / dt - c) * ny
        uz = (r / dt - c) * nz
    return ownx + 0.5 * ux, owny + 0.5 * uy, ownz + 0.5 * uz, nx, ny, nz


@numba.njit(cache=True, inline="always")
def _obstacle_plane(rx, ry, rz, d, body, tau, dt):
    """:func:`_obstacle_line` in 3-D: approach the obstacle's supporting plane at the nearest
    point (at (rx, ry, rz) from the drone, signed distance ``d``) at most at (d - body) /
    tau (inside: leave within dt). Returns (qx, qy, qz, nx, ny, nz), n toward the permitted
    side."""
    norm = math.sqrt(rx * rx + ry * ry + rz * rz)
    if norm > 0.0:
        nx = rx / norm
        ny = ry / norm
        nz = rz / norm
    else:
        nx = -1.0
        ny = 0.0
        nz = 0.0
    if d < 0.0:  # inside: the nearest point is the way out
        nx = -nx
        ny = -ny
        nz = -nz
    # n points from the drone into the obstacle; permitted: v . n <= (d - body) / horizon
    horizon = tau if d > body else dt
    bound = (d - body) / horizon
    return bound * nx, bound * ny, bound * nz, -nx, -ny, -nz


@numba.njit(cache=True, inline="always")
def _put_plane(pl, n, qx, qy, qz, nx, ny, nz):
    """Store a half-space as plane ``n``; returns the new plane count."""
    pl[n, 0] = qx
    pl[n, 1] = qy
    pl[n, 2] = qz
    pl[n, 3] = nx
    pl[n, 4] = ny
    pl[n, 5] = nz
    return n + 1


def _reach_polyhedron() -> tuple[np.ndarray, float]:
    """The faces of the polyhedron inscribed in the unit ball that the 3-D layer keeps the
    reachable velocities in: 32 outward unit normals (the 12 vertices of an icosahedron and
    the 20 of its dual dodecahedron: every direction is within 22.7 degrees of one) and the
    faces' distance from the centre, set so that the polyhedron's farthest vertex lies on
    the sphere (every vertex is where three faces meet: found by trying each triple)."""
    phi = (1.0 + math.sqrt(5.0)) / 2.0
    dirs = []
    for a in (-1.0, 1.0):
        for b in (-1.0, 1.0):
            dirs += [(0.0, a, b * phi), (a, b * phi, 0.0), (b * phi, 0.0, a)]  # icosahedron
            dirs += [(0.0, a * phi, b / phi), (b / phi, 0.0, a * phi), (a * phi, b / phi, 0.0)]
            for c in (-1.0, 1.0):
                dirs.append((a, b, c))  # the cube inside the dodecahedron
    normals = np.array(dirs)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    i, j, k = np.array(
        [(i, j, k) for i in range(32) for j in range(i + 1, 32) for k in range(j + 1, 32)]
    ).T
    mats = np.stack([normals[i], normals[j], normals[k]], axis=1)
    solvable = np.abs(np.linalg.det(mats)) > 1e-9
    corners = np.linalg.solve(mats[solvable], np.ones((int(solvable.sum()), 3, 1)))[..., 0]
    corners = corners[(corners @ normals.T <= 1.0 + 1e-9).all(axis=1)]
    return np.ascontiguousarray(normals), float(1.0 / np.linalg.norm(corners, axis=1).max())


REACH_NORMALS, REACH_INRADIUS = _reach_polyhedron()


@numba.njit(cache=True)
def _orca_rows3(ptr, seg_row, rel_pos, rel_vel, dist, vel, pref, vmax, active, ids, radius,
                tau, dt, reach, normals, inradius, nearest, obst_rel, obst_dist, obst_mask,
                out, changed):  # fmt: skip
    """:func:`_orca_rows` in 3-D: half-spaces, the 3-D linear program and its 4-D fallback.
    With a finite ``reach`` (max_accel dt) the velocities reachable this step are kept in the
    polyhedron of faces ``normals`` at ``inradius`` times ``reach`` from the velocity (hard,
    first), inscribed in the reachable ball."""
    longest = 0
    for s in range(seg_row.shape[0]):
        longest = max(longest, ptr[s + 1] - ptr[s])
    slots = obst_mask.shape[1]
    faces = normals.shape[0]
    body = 0.5 * radius  # a drone's own radius: the combined one is two drones'
    size = longest + faces + slots
    best_d = np.empty(size)
    best_e = np.empty(size, np.int64)
    pl = np.empty((size, 6))
    proj = np.empty((size, 6))
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        sensed = _sensed_slots(obst_mask, row)
        if not active[row] or (ptr[s + 1] == ptr[s] and sensed == 0):
            continue
        vx = vel[row, 0]
        vy = vel[row, 1]
        vz = vel[row, 2]
        limit = vmax[row]
        step = reach[row]
        ox = pref[row, 0]
        oy = pref[row, 1]
        oz = pref[row, 2]
        # the preference as the platform would fly it (speed-limited)
        norm2 = ox * ox + oy * oy + oz * oz
        fx = ox
        fy = oy
        fz = oz
        if norm2 > limit * limit:
            scale = limit / math.sqrt(norm2)
            fx = ox * scale
            fy = oy * scale
            fz = oz * scale
        # hard planes first: the polyhedron inscribed in the reachable ball (when it binds)
        poly = 0
        if step < 2.0 * limit:
            poly = faces
        n = poly
        clear = True
        for t in range(sensed):  # the mask fills slots from the first
            qx, qy, qz, nx, ny, nz = _obstacle_plane(
                obst_rel[row, t, 0], obst_rel[row, t, 1], obst_rel[row, t, 2],
                obst_dist[row, t], body, tau, dt,
            )  # fmt: skip
            n = _put_plane(pl, n, qx, qy, qz, nx, ny, nz)
            if _breaks(pl, n - 1, fx, fy, fz) > 0.0:  # the command breaks it
                clear = False
        hard = n
        kept = _nearest_entries(ptr, s, dist, nearest, best_d, best_e)
        for q in range(kept):
            e = best_e[q]
            qx, qy, qz, nx, ny, nz = _orca_plane(
                rel_pos[e, 0], rel_pos[e, 1], rel_pos[e, 2], -rel_vel[e, 0], -rel_vel[e, 1],
                -rel_vel[e, 2], vx, vy, vz, radius, tau, dt, ids[row],
            )  # fmt: skip
            n = _put_plane(pl, n, qx, qy, qz, nx, ny, nz)
            if _breaks(pl, n - 1, fx, fy, fz) > 0.0:  # the command breaks it
                clear = False
        if clear:
            continue
        h = inradius * step
        for k in range(poly):
            # permitted: (v - v_now) . normal <= h
            _put_plane(pl, k, vx + h * normals[k, 0], vy + h * normals[k, 1],
                       vz + h * normals[k, 2], -normals[k, 0], -normals[k, 1],
                       -normals[k, 2])  # fmt: skip
        k, rx, ry, rz = _lp3d(pl, n, limit, ox, oy, oz, False)
        if k < hard:
            # the reachable set misses the speed ball (a drone faster than its limit) or
            # every obstacle plane (too fast to brake in time): solve without it and let the
            # platform's limits clip
            p = poly
            obstacles = hard - p
            sub = pl[p:]
            k, rx, ry, rz = _lp3d(sub, n - p, limit, ox, oy, oz, False)
            if k < n - p:
                # obstacle planes that contradict each other (squeezed between two) turn soft
                keep = obstacles if k >= obstacles else 0
                rx, ry, rz = _lp4d(sub, n - p, keep, k, limit, rx, ry, rz, proj)
        elif k < n:
            rx, ry, rz = _lp4d(pl, n, hard, k, limit, rx, ry, rz, proj)
        out[row, 0] = rx
        out[row, 1] = ry
        out[row, 2] = rz
        changed[row] = True


# ---------------------------------------------------------------------------- CBF lines
@numba.njit(cache=True, inline="always")
def _barrier_line(mx, my, norm, dvx, dvy, alpha_sum, share, ds, gamma, amax):
    """The control-barrier half-plane of a pair (Wang, Ames, Egerstedt 2017, eq. 13-15):
    with ``dp = p_i - p_j = norm (mx, my)`` (a unit direction and a distance), ``dv = v_i -
    v_j`` and ``alpha_sum`` the two acceleration limits added, the barrier ``h = sqrt(2
    alpha_sum (|dp| - ds)) + dp . dv / |dp|`` stays >= 0 while ``-dp . (u_i - u_j) <= b``;
    drone i takes ``share`` of ``b``: ``m . u_i >= -share b / |dp|``. Closer than ``ds``:
    accelerate apart at half of ``amax`` at least. Returns (qx, qy, dx, dy), permitted side
    on the left."""
    if norm <= ds:
        bound = 0.5 * amax  # already too close: only accelerating apart is permitted
    else:
        root = math.sqrt(2.0 * alpha_sum * (norm - ds))
        along = norm * (mx * dvx + my * dvy)  # dp . dv
        h = root + along / norm
        b = (gamma * h * h * h * norm - along * along / (norm * norm) + dvx * dvx + dvy * dvy
             + alpha_sum * along / root)  # fmt: skip
        bound = -share * b / norm
    # permitted: u . m >= bound
    return bound * mx, bound * my, my, -mx


@numba.njit(cache=True, inline="always")
def _wall_line(mx, my, d, vx, vy, amax, ds, gamma):
    """The barrier of a convex obstacle, from its supporting line at the nearest point
    (outward normal (mx, my), distance ``d``): ``h = sqrt(2 amax (d - ds)) + m . v`` is >= 0
    while the drone can still stop short of that line, and ``m . u >= -gamma h^3 - amax (m .
    v) / sqrt(2 amax (d - ds))`` keeps it so. The obstacle lies beyond the line (convexity),
    so the drone keeps off the obstacle; unlike a point neighbour, the line gives no credit
    for flying past it. Closer than ``ds``: accelerate away at half of ``amax`` at least.
    Returns (qx, qy, dx, dy), permitted side on the left."""
    if d <= ds:
        bound = 0.5 * amax
    else:
        root = math.sqrt(2.0 * amax * (d - ds))
        away = mx * vx + my * vy
        h = root + away
        bound = -gamma * h * h * h - amax * away / root
    return bound * mx, bound * my, my, -mx


@numba.njit(cache=True)
def _cbf_rows(ptr, seg_row, rel_pos, rel_vel, dist, vel, pref, amax, active, ids, ds, gamma,
              nearest, obst_rel, obst_dist, obst_mask, out, changed):  # fmt: skip
    """Every active row's safe acceleration: the one closest to ``pref`` within its limit
    ``amax`` that keeps every pair barrier (half the responsibility; a neighbour is assumed
    to share the row's limit) and every obstacle barrier (all of it; ``ds / 2``, the drone's
    own radius) from falling faster than ``gamma h^3``; the 2-D linear program of
    :func:`_lp2` finds it, :func:`_lp3` the least violation where none exists. A neighbour
    at the very same place gives its barrier along the row's own direction (``ids``:
    :func:`_own_direction2`), as it gives no direction of its own."""
    longest = 0
    for s in range(seg_row.shape[0]):
        longest = max(longest, ptr[s + 1] - ptr[s])
    slots = obst_mask.shape[1]
    best_d, best_e, qx, qy, dx, dy, px, py, ex, ey = _line_scratch(longest + slots)
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        sensed = _sensed_slots(obst_mask, row)
        if not active[row] or (ptr[s + 1] == ptr[s] and sensed == 0):
            continue
        limit = amax[row]
        vx = vel[row, 0]
        vy = vel[row, 1]
        ox = pref[row, 0]
        oy = pref[row, 1]
        fx = ox
        fy = oy
        norm2 = ox * ox + oy * oy
        if norm2 > limit * limit:  # the command as the platform would fly it
            scale = limit / math.sqrt(norm2)
            fx = ox * scale
            fy = oy * scale
        n = 0
        clear = True
        for t in range(sensed):  # obstacles first: hard, all the responsibility
            d = obst_dist[row, t]
            rx = obst_rel[row, t, 0]
            ry = obst_rel[row, t, 1]
            length = math.sqrt(rx * rx + ry * ry)
            mx = -1.0
            my = 0.0
            if length > 0.0:  # from the obstacle toward the drone (out of it, when inside)
                mx = (-rx if d >= 0.0 else rx) / length
                my = (-ry if d >= 0.0 else ry) / length
            # the supporting line at the nearest point; inside counts as touching
            lqx, lqy, ldx, ldy = _wall_line(mx, my, max(d, 0.0), vx, vy, limit, 0.5 * ds, gamma)
            n = _put_line(qx, qy, dx, dy, n, lqx, lqy, ldx, ldy)
            if _det(ldx, ldy, fx - lqx, fy - lqy) < 0.0:  # the command breaks it
                clear = False
        hard = n
        kept = _nearest_entries(ptr, s, dist, nearest, best_d, best_e)
        for q in range(kept):
            e = best_e[q]
            norm = dist[e]
            if norm > 0.0:
                mx = -rel_pos[e, 0] / norm
                my = -rel_pos[e, 1] / norm
            else:  # same place: each its own way (a shared one never separates)
                mx, my = _own_direction2(ids[row])
            lqx, lqy, ldx, ldy = _barrier_line(mx, my, norm, -rel_vel[e, 0], -rel_vel[e, 1],
                                               2.0 * limit, 0.5, ds, gamma, limit)  # fmt: skip
            n = _put_line(qx, qy, dx, dy, n, lqx, lqy, ldx, ldy)
            if _det(ldx, ldy, fx - lqx, fy - lqy) < 0.0:  # the command breaks it
                clear = False
        if clear:
            continue
        k, rx, ry = _lp2(qx, qy, dx, dy, n, limit, ox, oy, False)
        if k < n:
            keep = hard if k >= hard else 0  # obstacle lines that contradict turn soft
            rx, ry = _lp3(qx, qy, dx, dy, n, keep, k, limit, rx, ry, px, py, ex, ey)
        out[row, 0] = rx
        out[row, 1] = ry
        changed[row] = True


@numba.njit(cache=True, inline="always")
def _barrier_plane(mx, my, mz, norm, dvx, dvy, dvz, alpha_sum, share, ds, gamma, amax):
    """:func:`_barrier_line` in 3-D: the pair's barrier half-space ``m . u_i >= bound``
    (``dp = norm m``). Returns (qx, qy, qz, nx, ny, nz), n toward the permitted side."""
    if norm <= ds:
        bound = 0.5 * amax  # already too close: only accelerating apart is permitted
    else:
        root = math.sqrt(2.0 * alpha_sum * (norm - ds))
        along = norm * (mx * dvx + my * dvy + mz * dvz)  # dp . dv
        h = root + along / norm
        b = (gamma * h * h * h * norm - along * along / (norm * norm) + dvx * dvx + dvy * dvy
             + dvz * dvz + alpha_sum * along / root)  # fmt: skip
        bound = -share * b / norm
    return bound * mx, bound * my, bound * mz, mx, my, mz


@numba.njit(cache=True, inline="always")
def _wall_plane(mx, my, mz, d, vx, vy, vz, amax, ds, gamma):
    """:func:`_wall_line` in 3-D: the barrier of an obstacle's supporting plane at the
    nearest point (outward normal m, distance ``d``). Returns (qx, qy, qz, nx, ny, nz)."""
    if d <= ds:
        bound = 0.5 * amax
    else:
        root = math.sqrt(2.0 * amax * (d - ds))
        away = mx * vx + my * vy + mz * vz
        h = root + away
        bound = -gamma * h * h * h - amax * away / root
    return bound * mx, bound * my, bound * mz, mx, my, mz


@numba.njit(cache=True)
def _cbf_rows3(ptr, seg_row, rel_pos, rel_vel, dist, vel, pref, amax, active, ids, ds, gamma,
               nearest, obst_rel, obst_dist, obst_mask, out, changed):  # fmt: skip
    """:func:`_cbf_rows` in 3-D: the barriers are half-spaces of the acceleration, the 3-D
    linear program (:func:`_lp3d`) finds the closest one in the limit ball, its 4-D fallback
    (:func:`_lp4d`) the least violation where none exists; a neighbour at the same place
    gives its barrier along the row's own direction (:func:`_own_direction3`)."""
    longest = 0
    for s in range(seg_row.shape[0]):
        longest = max(longest, ptr[s + 1] - ptr[s])
    slots = obst_mask.shape[1]
    size = longest + slots
    best_d = np.empty(size)
    best_e = np.empty(size, np.int64)
    pl = np.empty((size, 6))
    proj = np.empty((size, 6))
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        sensed = _sensed_slots(obst_mask, row)
        if not active[row] or (ptr[s + 1] == ptr[s] and sensed == 0):
            continue
        limit = amax[row]
        vx = vel[row, 0]
        vy = vel[row, 1]
        vz = vel[row, 2]
        ox = pref[row, 0]
        oy = pref[row, 1]
        oz = pref[row, 2]
        fx = ox
        fy = oy
        fz = oz
        norm2 = ox * ox + oy * oy + oz * oz
        if norm2 > limit * limit:  # the command as the platform would fly it
            scale = limit / math.sqrt(norm2)
            fx = ox * scale
            fy = oy * scale
            fz = oz * scale
        n = 0
        clear = True
        for t in range(sensed):  # obstacles first: hard, all the responsibility
            d = obst_dist[row, t]
            rx = obst_rel[row, t, 0]
            ry = obst_rel[row, t, 1]
            rz = obst_rel[row, t, 2]
            length = math.sqrt(rx * rx + ry * ry + rz * rz)
            mx = -1.0
            my = 0.0
            mz = 0.0
            if length > 0.0:  # from the obstacle toward the drone (out of it, when inside)
                sign = -1.0 if d >= 0.0 else 1.0
                mx = sign * rx / length
                my = sign * ry / length
                mz = sign * rz / length
            # the supporting plane at the nearest point; inside counts as touching
            qx, qy, qz, nx, ny, nz = _wall_plane(mx, my, mz, max(d, 0.0), vx, vy, vz, limit,
                                                 0.5 * ds, gamma)  # fmt: skip
            n = _put_plane(pl, n, qx, qy, qz, nx, ny, nz)
            if _breaks(pl, n - 1, fx, fy, fz) > 0.0:  # the command breaks it
                clear = False
        hard = n
        kept = _nearest_entries(ptr, s, dist, nearest, best_d, best_e)
        for q in range(kept):
            e = best_e[q]
            norm = dist[e]
            if norm > 0.0:
                mx = -rel_pos[e, 0] / norm
                my = -rel_pos[e, 1] / norm
                mz = -rel_pos[e, 2] / norm
            else:  # same place: each its own way (a shared one never separates)
                mx, my, mz = _own_direction3(ids[row])
            qx, qy, qz, nx, ny, nz = _barrier_plane(
                mx, my, mz, norm, -rel_vel[e, 0], -rel_vel[e, 1], -rel_vel[e, 2], 2.0 * limit,
                0.5, ds, gamma, limit,
            )  # fmt: skip
            n = _put_plane(pl, n, qx, qy, qz, nx, ny, nz)
            if _breaks(pl, n - 1, fx, fy, fz) > 0.0:  # the command breaks it
                clear = False
        if clear:
            continue
        k, rx, ry, rz = _lp3d(pl, n, limit, ox, oy, oz, False)
        if k < n:
            keep = hard if k >= hard else 0  # obstacle planes that contradict turn soft
            rx, ry, rz = _lp4d(pl, n, keep, k, limit, rx, ry, rz, proj)
        out[row, 0] = rx
        out[row, 1] = ry
        out[row, 2] = rz
        changed[row] = True


# ---------------------------------------------------------------------------- the filter
def own_max_speed(obs: LocalObservation) -> np.ndarray:
    """(R,) each drone's own speed limit: its team's where the scenario has teams."""
    per_row = obs.own.get("max_speed") if obs.own else None
    if per_row is not None:
        return np.ascontiguousarray(per_row, dtype=np.float64)
    return np.full(obs.n, float(obs.max_speed))


def own_max_accel(obs: LocalObservation, default: float) -> np.ndarray:
    """(R,) each drone's own acceleration limit: its team's where the scenario has teams,
    else ``default`` (the layer's ``max_accel``)."""
    per_row = obs.own.get("max_accel") if obs.own else None
    if per_row is not None:
        return np.ascontiguousarray(per_row, dtype=np.float64)
    return np.full(obs.n, float(default))


def own_ids(obs: LocalObservation) -> np.ndarray:
    """(R,) each drone's own identity, which breaks the tie of a neighbour at its very place
    (each flies its own way out, :func:`_own_direction2`)."""
    return np.ascontiguousarray(obs.ids, dtype=np.int64)


def sensed_obstacles(obs: LocalObservation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's obstacle reading (nearest points (R, k, dim), signed distances (R, k),
    mask (R, k)) from its own observation; k = 0 where the map has no obstacles."""
    own = obs.own or {}
    if "obstacle_mask" in own:
        keys = ("obstacle_rel_pos", "obstacle_dist", "obstacle_mask")
        rel, dist, mask = (np.ascontiguousarray(own[key], dtype=np.float64) for key in keys)
        return rel, dist, mask
    dim = np.shape(obs.vel)[1]
    return np.zeros((obs.n, 0, dim)), np.zeros((obs.n, 0)), np.zeros((obs.n, 0))


class Layer:
    """What the safety layers share: their settings and each drone's acceleration limit."""

    name: ClassVar[str] = "layer"

    def __init__(self, params: OrcaParams):
        self.params = params

    def accel_limits(self, obs: LocalObservation) -> np.ndarray:
        """(R,) each drone's acceleration limit (its team's where teams differ), capped by
        ``accel_cap`` (a quadrotor's tilt and thrust limit)."""
        return np.minimum(own_max_accel(obs, self.params.max_accel), self.params.accel_cap)

    def filter(
        self, obs: LocalObservation, commands: np.ndarray, kind: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Safe commands of the same ``kind`` ("acceleration" or "velocity") and (R,) the
        change of each drone's commanded velocity (m/s)."""
        raise NotImplementedError


class Orca(Layer):
    """The ORCA filter: safe commands from commands, row by row (see the module docstring)."""

    name: ClassVar[str] = "orca"

    def velocities(
        self, obs: LocalObservation, preferred: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(R, dim) safe velocities and (R,) bool: which rows the half-planes (half-spaces in
        3-D) changed (the others keep ``preferred``, unclipped)."""
        p = self.params
        table = obs.neighbors
        out = np.array(preferred, dtype=np.float64, order="C", copy=True)
        changed = np.zeros(obs.n, dtype=bool)
        obst = sensed_obstacles(obs)
        if table.n_edges == 0 and not obst[2].any():
            return out, changed
        vel = np.ascontiguousarray(obs.vel, dtype=np.float64)
        radius = p.radius * (1.0 + p.margin)
        reach = self.accel_limits(obs) * obs.dt
        ids = own_ids(obs)
        if vel.shape[1] == 3:
            _orca_rows3(
                table.ptr, table.seg_row, table.rel_pos, table.rel_vel, table.dist, vel,
                out.copy(), own_max_speed(obs), np.ascontiguousarray(obs.alive), ids, radius,
                p.horizon, float(obs.dt), reach, REACH_NORMALS, REACH_INRADIUS,
                p.max_neighbors, *obst, out, changed,
            )  # fmt: skip
            return out, changed
        _orca_rows(
            table.ptr, table.seg_row, table.rel_pos, table.rel_vel, table.dist, vel,
            out.copy(), own_max_speed(obs), np.ascontiguousarray(obs.alive), ids, radius,
            p.horizon, float(obs.dt), reach, p.polygon_sides, p.max_neighbors, *obst, out,
            changed,
        )  # fmt: skip
        return out, changed

    def filter(
        self, obs: LocalObservation, commands: np.ndarray, kind: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Safe commands of the same ``kind`` ("acceleration" or "velocity") and (R,) the
        change of each drone's commanded velocity (m/s; for accelerations |change| x dt)."""
        commands = np.asarray(commands, dtype=np.float64)
        vel = np.asarray(obs.vel, dtype=np.float64)
        dt = float(obs.dt)
        if kind == "velocity":
            preferred = commands
        elif kind == "acceleration":
            accel = commands
            limit = self.accel_limits(obs)
            if np.isfinite(limit).any():  # what the platform would fly
                norm = np.sqrt((commands**2).sum(axis=1))
                over = norm > limit
                if over.any():
                    accel = commands.copy()
                    accel[over] *= (limit[over] / norm[over])[:, None]
            preferred = vel + accel * dt
        else:
            raise ValueError(f"action_kind: {kind!r}; allowed: acceleration, velocity")
        safe, changed = self.velocities(obs, preferred)
        if not changed.any():
            return commands, np.zeros(obs.n)
        out = commands.copy()
        if kind == "velocity":
            out[changed] = safe[changed]
        else:
            out[changed] = (safe[changed] - vel[changed]) / dt
        change = np.zeros(obs.n)
        delta = safe[changed] - preferred[changed]
        change[changed] = np.sqrt((delta**2).sum(axis=1))
        return out, change


class Cbf(Layer):
    """Control-barrier-function filter (Wang, Ames, Egerstedt 2017, "Safety barrier
    certificates for collisions-free multirobot systems", IEEE T-RO 33(3)): safe
    accelerations from commands, row by row, for double integrators with an acceleration
    limit.

    Each drone, from its own observation: for every sensed neighbour (the ``max_neighbors``
    nearest) the pair barrier ``h = sqrt(2 (a_i + a_j)(|dp| - Ds)) + dp . dv / |dp|`` (it is
    >= 0 exactly while the two can still brake apart before ``Ds`` with their limits
    ``a_i``, ``a_j``; a neighbour's limit is taken to be the drone's own), kept from
    falling faster than ``gamma h^3``: a half-plane of the drone's acceleration with half of
    the pair's budget; for every sensed obstacle the barrier of its supporting line at the
    nearest point (:func:`_wall_line`), with all of it. The acceleration closest to the
    command inside them and the limit disc is one 2-D linear program per drone (the ORCA
    layer's, in acceleration space; the paper solves the same quadratic program with a QP
    solver), the least violation where none fits. In 3-D the same with half-spaces, the
    limit ball and the 3-D program (:func:`_cbf_rows3`). ``Ds`` is ``collision_radius (1 +
    safety_margin)``.

    What it assumes: the double integrator (the quadrotor's lag is not modelled: the
    barrier holds for the acceleration commanded, not the one delivered), a finite
    ``max_accel`` (refused otherwise), continuous time (the guarantee of the paper; at the
    crossing's 10 ms steps the discretisation is far inside the margin), reciprocity.
    """

    name: ClassVar[str] = "cbf"

    def filter(
        self, obs: LocalObservation, commands: np.ndarray, kind: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Safe commands of the same ``kind`` and (R,) the change of each drone's commanded
        velocity (m/s: the acceleration's change x dt)."""
        p = self.params
        commands = np.asarray(commands, dtype=np.float64)
        vel = np.asarray(obs.vel, dtype=np.float64)
        dt = float(obs.dt)
        if kind == "velocity":
            wanted = (commands - vel) / dt
        elif kind == "acceleration":
            wanted = commands
        else:
            raise ValueError(f"action_kind: {kind!r}; allowed: acceleration, velocity")
        limit = self.accel_limits(obs)
        if not np.isfinite(limit).all():
            raise ValueError("safety: cbf needs a finite max_accel (m/s^2)")
        table = obs.neighbors
        obst = sensed_obstacles(obs)
        safe = np.array(wanted, dtype=np.float64, order="C", copy=True)
        changed = np.zeros(obs.n, dtype=bool)
        if (table.n_edges or obst[2].any()) and vel.shape[1] == 3:
            _cbf_rows3(
                table.ptr, table.seg_row, table.rel_pos, table.rel_vel, table.dist,
                np.ascontiguousarray(vel), np.ascontiguousarray(wanted, dtype=np.float64),
                np.ascontiguousarray(limit, dtype=np.float64), np.ascontiguousarray(obs.alive),
                own_ids(obs), p.radius * (1.0 + p.margin), p.gamma, p.max_neighbors, *obst, safe,
                changed,
            )  # fmt: skip
        elif table.n_edges or obst[2].any():
            _cbf_rows(
                table.ptr, table.seg_row, table.rel_pos, table.rel_vel, table.dist,
                np.ascontiguousarray(vel), np.ascontiguousarray(wanted, dtype=np.float64),
                np.ascontiguousarray(limit, dtype=np.float64), np.ascontiguousarray(obs.alive),
                own_ids(obs), p.radius * (1.0 + p.margin), p.gamma, p.max_neighbors, *obst, safe,
                changed,
            )  # fmt: skip
        if not changed.any():
            return commands, np.zeros(obs.n)
        out = commands.copy()
        if kind == "velocity":
            out[changed] = vel[changed] + safe[changed] * dt
        else:
            out[changed] = safe[changed]
        change = np.zeros(obs.n)
        delta = safe[changed] - wanted[changed]
        change[changed] = np.sqrt((delta**2).sum(axis=1)) * dt
        return out, change


METHODS: dict[str, type[Layer]] = {"orca": Orca, "cbf": Cbf}


class SafePolicy(Policy):
    """Any controller behind the safety layer: ``decide`` asks ``inner``, then filters its
    actions (a :class:`Policy` itself, so the audit, Mesa model, viewer and runner treat it
    like any controller).

    The inner controller's messages, state updates and memory pass through unchanged. Per
    step the layer remembers each drone's ``intervention`` (the change of its commanded
    velocity, m/s), a per-agent memory field like any other, which the audit checks too.
    """

    name: ClassVar[str] = "safe"
    citation: ClassVar[str] = CITATION

    def __init__(
        self,
        inner: Policy,
        method: str = "orca",
        params: OrcaParams | None = None,
        seed: int | None = None,
        **overrides: Any,
    ):
        if not isinstance(inner, Policy):  # e.g. rebuilt from params alone: not possible
            raise TypeError(f"SafePolicy wraps a Policy, not {type(inner).__name__}")
        if method not in METHODS:
            raise ValueError(f"safety: unknown method {method!r}; allowed: {', '.join(METHODS)}")
        self.inner = inner
        self.method = method
        self.params = params if params is not None else OrcaParams.build("safety", **overrides)
        self.seed = inner.seed if seed is None else seed
        self.layer = METHODS[method](self.params)
        self.name = f"{getattr(inner, 'name', type(inner).__name__)}+{method}"
        self.action_kind = inner.action_kind
        self.message_dim = inner.message_dim
        self.memory_fields = (*inner.memory_fields, "intervention")
        self.intervention = np.zeros(0)  # (R,) last step's change per drone (m/s)

    def __getattr__(self, name: str) -> Any:
        """Anything else is the inner controller's (its memory, ``prepare``, a learned
        policy's checkpoint, a team controller's ``policies``)."""
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        inner = self.__dict__.get("inner")
        if inner is not None and name in inner.memory_fields:
            setattr(inner, name, value)  # the audit hands a lone agent its memory rows
        else:
            object.__setattr__(self, name, value)

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        decision = self.inner.decide(obs, messages)
        actions, change = self.layer.filter(obs, decision.actions, self.inner.action_kind)
        memory = {**(decision.memory or {}), "intervention": change}
        return Decision(actions, decision.messages, decision.state, memory)

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.decide(obs, False).actions

    def commit(self, obs: LocalObservation, actions: np.ndarray) -> None:
        self.inner.commit(obs, actions)

    def remember(self, memory: dict[str, Any] | None) -> None:
        rest = dict(memory or {})
        if "intervention" in rest:
            self.intervention = rest.pop("intervention")
        if rest:
            self.inner.remember(rest)

    def __repr__(self) -> str:
        return f"SafePolicy({self.inner!r}, {self.method!r}, {self.params!r})"


# ---------------------------------------------------------------------------- config
def layer_params(config: SwarmConfig) -> OrcaParams:
    """The layer's settings from a scenario config: radius, horizon, the platform's limit
    (a quadrotor's tilt and thrust limit too; its attitude lag is not modelled here)."""
    cap = config.tilt_thrust_limit if config.dynamics == "quadrotor" else math.inf
    return OrcaParams(
        horizon=config.safety_horizon,
        radius=config.collision_radius,
        margin=config.safety_margin,
        max_accel=config.max_accel,  # teams carry their own in the observation
        accel_cap=cap,
        gamma=config.safety_gamma,
    )


def shielded(policy: Any, config: SwarmConfig) -> Any:
    """``policy`` behind the layer the config asks for (as it is with ``safety = "none"``,
    or when it is already behind one)."""
    if config.safety == "none" or isinstance(policy, SafePolicy) or policy is None:
        return policy
    return SafePolicy(policy, config.safety, layer_params(config))


def shielded_actions(
    obs: LocalObservation, accel: np.ndarray, config: SwarmConfig
) -> tuple[np.ndarray, np.ndarray]:
    """A learner's accelerations (R, dim) through the layer the config asks for, and (R,)
    each drone's intervention (zeros with ``safety = "none"``)."""
    if config.safety == "none":
        return accel, np.zeros(len(accel))
    return METHODS[config.safety](layer_params(config)).filter(obs, accel, "acceleration")


# ---------------------------------------------------------------------------- metrics
def interventions(engine: Swarm) -> np.ndarray:
    """(E,) mean change the layer made to the alive drones' commanded velocity in the last
    step (m/s); 0 without a layer."""
    if engine.intervention is None:
        return np.zeros(engine.n_envs)
    weights = engine.alive.astype(float)
    total = np.bincount(engine.env, weights=engine.intervention * weights,
                        minlength=engine.n_envs)  # fmt: skip
    alive = np.bincount(engine.env, weights=weights, minlength=engine.n_envs)
    return total / np.maximum(alive, 1.0)


def intervention_max(engine: Swarm) -> np.ndarray:
    """(E,) largest change the layer made to a drone's commanded velocity last step (m/s)."""
    out = np.zeros(engine.n_envs)
    if engine.intervention is not None:
        np.maximum.at(out, engine.env, np.where(engine.alive, engine.intervention, 0.0))
    return out


SAFETY_METRICS = {"interventions": interventions, "intervention_max": intervention_max}


# ---------------------------------------------------------------------------- collisions
@numba.njit(cache=True)
def _swept(ptr, seg_row, idx, rel_pos, pos, env, world, torus, radius, closest, hits, pairs):
    """Each pair (owner < neighbour) of a table sensed *before* a step: its closest distance
    during the step's straight-line motion from the table's offset to the current one.
    Per env the smallest (``closest``, lowered from its start); per row the pairs that came closer
    than ``radius`` (``hits``); their keys ``owner * R + neighbour`` into ``pairs``, which
    returns how many."""
    n_rows = pos.shape[0]
    found = 0
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        for e in range(ptr[s], ptr[s + 1]):
            j = idx[e]
            if j <= i:
                continue
            ax = rel_pos[e, 0]
            ay = rel_pos[e, 1]
            bx = pos[j, 0] - pos[i, 0]
            by = pos[j, 1] - pos[i, 1]
            if torus:  # minimum image
                bx -= world * np.rint(bx / world)
                by -= world * np.rint(by / world)
            mx = bx - ax
            my = by - ay
            m2 = mx * mx + my * my
            t = 0.0
            if m2 > 0.0:
                t = min(max(-(ax * mx + ay * my) / m2, 0.0), 1.0)
            cx = ax + t * mx
            cy = ay + t * my
            d = math.sqrt(cx * cx + cy * cy)
            k = env[i]
            if d < closest[k]:
                closest[k] = d
            if d < radius:
                hits[i] += 1.0
                hits[j] += 1.0
                if found < pairs.shape[0]:
                    pairs[found] = i * n_rows + j
                found += 1
    return found


@numba.njit(cache=True)
def _swept3(ptr, seg_row, idx, rel_pos, pos, env, world, torus, radius, closest, hits, pairs):
    """:func:`_swept` in 3-D."""
    n_rows = pos.shape[0]
    found = 0
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        for e in range(ptr[s], ptr[s + 1]):
            j = idx[e]
            if j <= i:
                continue
            ax = rel_pos[e, 0]
            ay = rel_pos[e, 1]
            az = rel_pos[e, 2]
            bx = pos[j, 0] - pos[i, 0]
            by = pos[j, 1] - pos[i, 1]
            bz = pos[j, 2] - pos[i, 2]
            if torus:  # minimum image
                bx -= world * np.rint(bx / world)
                by -= world * np.rint(by / world)
                bz -= world * np.rint(bz / world)
            mx = bx - ax
            my = by - ay
            mz = bz - az
            m2 = mx * mx + my * my + mz * mz
            t = 0.0
            if m2 > 0.0:
                t = min(max(-(ax * mx + ay * my + az * mz) / m2, 0.0), 1.0)
            cx = ax + t * mx
            cy = ay + t * my
            cz = az + t * mz
            d = math.sqrt(cx * cx + cy * cy + cz * cz)
            k = env[i]
            if d < closest[k]:
                closest[k] = d
            if d < radius:
                hits[i] += 1.0
                hits[j] += 1.0
                if found < pairs.shape[0]:
                    pairs[found] = i * n_rows + j
                found += 1
    return found


def swept_separation(
    engine: Swarm, before: Any, radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """After a step, from the neighbour table ``before`` it (engine.neighbors, not sensed
    again yet): per env the closest two drones came during the step (capped at the sensing
    radius), per row how many drones it came closer than ``radius`` to, and the keys
    ``i * R + j`` (i < j) of those pairs. Every drone moved in a straight line during the
    step (the integrator flies the new velocity for dt), so a pair that crossed within the
    step is caught, not only one that ends it close. Exact for every pair that can come
    that close within one step when the table's range exceeds ``radius`` + 2 max_speed dt."""
    c = engine.config
    swept = _swept3 if engine.pos.shape[1] == 3 else _swept
    closest = np.full(engine.n_envs, float(c.sense_radius))
    hits = np.zeros(engine.rows)
    pairs = np.zeros(64, np.int64)
    found = swept(before.ptr, before.seg_row, before.idx, before.rel_pos, engine.pos,
                  engine.env, float(c.world_size), c.torus, float(radius), closest, hits,
                  pairs)  # fmt: skip
    if found > len(pairs):
        pairs = np.zeros(found, np.int64)
        closest[:] = c.sense_radius
        hits[:] = 0.0
        swept(before.ptr, before.seg_row, before.idx, before.rel_pos, engine.pos, engine.env,
              float(c.world_size), c.torus, float(radius), closest, hits, pairs)  # fmt: skip
    return closest, hits, pairs[:found]
