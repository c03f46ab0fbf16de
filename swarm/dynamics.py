"""Drone dynamics and the arena: a double integrator with speed and acceleration limits.

Semi-implicit Euler (velocity first, then position with the new velocity), which is what a
flight controller's inner loop does each tick and is stable for the stiff separation terms of
flocking controllers. Walls reflect (position mirrored, normal velocity reversed); a torus
wraps. One fused numba pass per step: the numpy version made five temporaries of (R, 2).
"""

from __future__ import annotations

import numba
import numpy as np

from swarm.threads import parallel_pays, serial_and_parallel


def clip_norm(vectors: np.ndarray, limit: float) -> np.ndarray:
    """Scale rows of ``vectors`` (R, 2) whose norm exceeds ``limit`` down to ``limit``."""
    if not np.isfinite(limit):
        return vectors
    norm = np.sqrt((vectors**2).sum(axis=1))
    scale = np.minimum(1.0, limit / np.maximum(norm, 1e-300))
    return vectors * scale[:, None]


def velocity_command_to_accel(vel: np.ndarray, desired_vel: np.ndarray, dt: float) -> np.ndarray:
    """Acceleration that reaches ``desired_vel`` in one step (before the limits apply)."""
    return (desired_vel - vel) / dt


@numba.njit(cache=True, inline="always")
def _advance(pos, vel, accel, i, dt, max_speed, max_accel, world, torus):
    """Row i's step: clip acceleration, then speed, then move and bound."""
    ax = accel[i, 0]
    ay = accel[i, 1]
    a = np.sqrt(ax * ax + ay * ay)
    if a > max_accel:  # never true for max_accel = inf
        ax *= max_accel / a
        ay *= max_accel / a
    vx = vel[i, 0] + ax * dt
    vy = vel[i, 1] + ay * dt
    v = np.sqrt(vx * vx + vy * vy)
    if v > max_speed:
        vx *= max_speed / v
        vy *= max_speed / v
    x = pos[i, 0] + vx * dt
    y = pos[i, 1] + vy * dt
    if torus:
        x %= world
        y %= world
        if x >= world:  # x % world can round up to world for tiny negative x
            x = 0.0
        if y >= world:
            y = 0.0
    else:
        if x < 0.0:
            x = -x
            vx = -vx
        elif x > world:
            x = 2.0 * world - x
            vx = -vx
        if y < 0.0:
            y = -y
            vy = -vy
        elif y > world:
            y = 2.0 * world - y
            vy = -vy
        x = min(max(x, 0.0), world)
        y = min(max(y, 0.0), world)
    pos[i, 0] = x
    pos[i, 1] = y
    vel[i, 0] = vx
    vel[i, 1] = vy


def _integrate_all(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """Every row with one limit; each row writes only itself (any thread count)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance(pos, vel, accel, i, dt, max_speed, max_accel, world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0


def _integrate_each(pos, vel, accel, alive, dt, max_speed, max_accel, world, torus):
    """:func:`_integrate_all` with each row's own limits (teams of different platforms)."""
    for i in numba.prange(pos.shape[0]):
        if alive[i]:
            _advance(pos, vel, accel, i, dt, max_speed[i], max_accel[i], world, torus)
        else:
            vel[i, 0] = 0.0
            vel[i, 1] = 0.0


_integrate, _integrate_parallel = serial_and_parallel(_integrate_all)
_integrate_rows, _integrate_rows_parallel = serial_and_parallel(_integrate_each)


def integrate(
    pos: np.ndarray,  # (R, 2) updated in place
    vel: np.ndarray,  # (R, 2) updated in place
    accel: np.ndarray,  # (R, 2) commanded acceleration
    alive: np.ndarray,  # (R,) bool; crashed rows do not move
    dt: float,
    max_speed: float | np.ndarray,  # one limit, or (R,) each row's own
    max_accel: float | np.ndarray,
    world_size: float,
    torus: bool,
) -> None:
    """Advance one step in place: clip acceleration, then speed, then move and bound."""
    accel = np.ascontiguousarray(accel, dtype=np.float64)
    if np.ndim(max_speed) or np.ndim(max_accel):
        rows = len(pos)
        speed = np.broadcast_to(np.asarray(max_speed, dtype=np.float64), rows)
        limit = np.broadcast_to(np.asarray(max_accel, dtype=np.float64), rows)
        kernel = _integrate_rows_parallel if parallel_pays(rows) else _integrate_rows
        kernel(pos, vel, accel, alive, float(dt), np.ascontiguousarray(speed),
               np.ascontiguousarray(limit), float(world_size), bool(torus))  # fmt: skip
        return
    kernel = _integrate_parallel if parallel_pays(len(pos)) else _integrate
    kernel(pos, vel, accel, alive, float(dt), float(max_speed), float(max_accel),
           float(world_size), bool(torus))  # fmt: skip
