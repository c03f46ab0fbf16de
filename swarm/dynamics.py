"""Drone dynamics and the arena: a double integrator with speed and acceleration limits.

Semi-implicit Euler (velocity first, then position with the new velocity), which is what a
flight controller's inner loop does each tick and is stable for the stiff separation terms of
flocking controllers. Walls reflect (position mirrored, normal velocity reversed); a torus
wraps.
"""

from __future__ import annotations

import numpy as np


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


def integrate(
    pos: np.ndarray,  # (R, 2) updated in place
    vel: np.ndarray,  # (R, 2) updated in place
    accel: np.ndarray,  # (R, 2) commanded acceleration
    alive: np.ndarray,  # (R,) bool; crashed rows do not move
    dt: float,
    max_speed: float,
    max_accel: float,
    world_size: float,
    torus: bool,
) -> None:
    """Advance one step in place."""
    accel = clip_norm(np.where(alive[:, None], accel, 0.0), max_accel)
    new_vel = clip_norm(vel + accel * dt, max_speed)
    new_vel[~alive] = 0.0
    vel[:] = new_vel
    pos += vel * dt
    if torus:
        np.mod(pos, world_size, out=pos)
        # np.mod can return world_size itself for tiny negative inputs
        pos[pos >= world_size] = 0.0
        return
    low = pos < 0.0
    high = pos > world_size
    pos[low] = -pos[low]
    pos[high] = 2.0 * world_size - pos[high]
    np.clip(pos, 0.0, world_size, out=pos)
    vel[low | high] *= -1.0
