"""Swarm metrics, computed by the observer (never by a controller), one value per env.

Each function takes the engine and returns an ``(E,)`` array, so the Mesa model (E = 1),
the PettingZoo env and batched training all report the same numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numba
import numpy as np

from swarm.neighbors import radius_neighbors

if TYPE_CHECKING:
    from swarm.engine import Swarm


def _per_env_sum(engine: Swarm, values: np.ndarray) -> np.ndarray:
    return np.bincount(engine.env, weights=values, minlength=engine.n_envs)


def n_alive(engine: Swarm) -> np.ndarray:
    return _per_env_sum(engine, engine.alive.astype(float))


def messages_sent(engine: Swarm) -> np.ndarray:
    """(E,) packets each living drone sent along its comm links in the last step (one
    broadcast reaches every link; a lost packet was still sent)."""
    return engine.sent_per_drone.copy()  # divided by those alive when they sent


def bytes_sent(engine: Swarm) -> np.ndarray:
    """(E,) bytes each living drone sent in the last step: packets x the message's floats x 8."""
    return messages_sent(engine) * 8.0 * engine.message_width


def message_rounds(engine: Swarm) -> np.ndarray:
    """(E,) message rounds in the last step: a drone controller broadcasts once per step."""
    return np.full(engine.n_envs, 1.0 if engine.channel is not None else 0.0)


def message_hops(engine: Swarm) -> np.ndarray:
    """(E,) the most links information crossed within the last step: one per round."""
    return message_rounds(engine)


# Communication, recorded for every drone scenario beside its own metrics.
COMM_METRICS = {
    "messages_sent": messages_sent,
    "bytes_sent": bytes_sent,
    "message_rounds": message_rounds,
    "message_hops": message_hops,
}


@numba.njit(cache=True)
def _moments(pos, vel, alive, env, n_envs, world, torus):
    """Per env: alive count, summed unit headings, and the centroid (circular on a torus)."""
    count = np.zeros(n_envs)
    heading = np.zeros((n_envs, 2))
    acc = np.zeros((n_envs, 4))  # torus: cos/sin sums per axis; box: coordinate sums
    scale = 2.0 * np.pi / world
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        e = env[i]
        count[e] += 1.0
        speed = np.sqrt(vel[i, 0] ** 2 + vel[i, 1] ** 2)
        if speed > 0.0:
            heading[e, 0] += vel[i, 0] / speed
            heading[e, 1] += vel[i, 1] / speed
        if torus:
            acc[e, 0] += np.cos(pos[i, 0] * scale)
            acc[e, 1] += np.sin(pos[i, 0] * scale)
            acc[e, 2] += np.cos(pos[i, 1] * scale)
            acc[e, 3] += np.sin(pos[i, 1] * scale)
        else:
            acc[e, 0] += pos[i, 0]
            acc[e, 1] += pos[i, 1]
    centre = np.zeros((n_envs, 2))
    for e in range(n_envs):
        if torus:
            for k in range(2):
                angle = np.arctan2(acc[e, 2 * k + 1], acc[e, 2 * k])
                centre[e, k] = (angle % (2.0 * np.pi)) / scale
        elif count[e] > 0:
            centre[e, 0] = acc[e, 0] / count[e]
            centre[e, 1] = acc[e, 1] / count[e]
    spread = np.zeros(n_envs)
    half = 0.5 * world
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        e = env[i]
        dx = pos[i, 0] - centre[e, 0]
        dy = pos[i, 1] - centre[e, 1]
        if torus:
            dx = dx - world if dx > half else (dx + world if dx < -half else dx)
            dy = dy - world if dy > half else (dy + world if dy < -half else dy)
        spread[e] += np.sqrt(dx * dx + dy * dy)
    return count, heading, spread


@numba.njit(cache=True)
def _moments_3d(pos, vel, alive, env, n_envs, world, torus):
    """:func:`_moments` for (R, 3) arrays (the 2-D kernel stays as it was, bit for bit)."""
    count = np.zeros(n_envs)
    heading = np.zeros((n_envs, 3))
    acc = np.zeros((n_envs, 6))  # torus: cos/sin sums per axis; box: coordinate sums
    scale = 2.0 * np.pi / world
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        e = env[i]
        count[e] += 1.0
        speed = np.sqrt(vel[i, 0] ** 2 + vel[i, 1] ** 2 + vel[i, 2] ** 2)
        for k in range(3):
            if speed > 0.0:
                heading[e, k] += vel[i, k] / speed
            if torus:
                acc[e, 2 * k] += np.cos(pos[i, k] * scale)
                acc[e, 2 * k + 1] += np.sin(pos[i, k] * scale)
            else:
                acc[e, k] += pos[i, k]
    centre = np.zeros((n_envs, 3))
    for e in range(n_envs):
        for k in range(3):
            if torus:
                angle = np.arctan2(acc[e, 2 * k + 1], acc[e, 2 * k])
                centre[e, k] = (angle % (2.0 * np.pi)) / scale
            elif count[e] > 0:
                centre[e, k] = acc[e, k] / count[e]
    spread = np.zeros(n_envs)
    half = 0.5 * world
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        e = env[i]
        d2 = 0.0
        for k in range(3):
            d = pos[i, k] - centre[e, k]
            if torus:
                d = d - world if d > half else (d + world if d < -half else d)
            d2 += d * d
        spread[e] += np.sqrt(d2)
    return count, heading, spread


def _swarm_moments(engine: Swarm):
    if "moments" not in engine.scratch:
        c = engine.config
        kernel = _moments if engine.pos.shape[1] == 2 else _moments_3d
        engine.scratch["moments"] = kernel(
            engine.pos, engine.vel, engine.alive, engine.env, engine.n_envs, c.world_size, c.torus
        )
    return engine.scratch["moments"]


def polarization(engine: Swarm) -> np.ndarray:
    """Vicsek's order parameter |sum of unit headings| / n (1: aligned, ~0: disordered).

    Drones at rest have no heading and count as zero vectors (Vicsek et al. 1995, eq. 2).
    """
    count, heading, _ = _swarm_moments(engine)
    return np.sqrt((heading**2).sum(axis=1)) / np.maximum(count, 1)


def cohesion(engine: Swarm) -> np.ndarray:
    """Mean distance of alive drones to the swarm's centroid (m); circular mean on a torus
    (per axis, in 3-D too)."""
    count, _, spread = _swarm_moments(engine)
    return spread / np.maximum(count, 1)


def min_separation(engine: Swarm) -> np.ndarray:
    """Closest distance between two alive drones (m), capped at the sensing radius."""
    table = engine.neighbors
    out = np.full(engine.n_envs, engine.config.sense_radius)
    if table.n_edges and engine.n_envs == 1:
        out[0] = min(out[0], table.dist.min())
    elif table.n_edges:
        np.minimum.at(out, engine.env[table.owner], table.dist)
    return out


def collisions(engine: Swarm) -> np.ndarray:
    """Number of pairs of alive drones closer than ``collision_radius`` now."""
    c = engine.config
    if c.collision_radius <= 0:
        return np.zeros(engine.n_envs)
    table = engine.neighbors
    if c.fov_deg < 360.0 or c.collision_radius > c.sense_radius:
        table = radius_neighbors(
            engine.pos, engine.vel, engine.alive, engine.env, engine.n_envs, c.world_size,
            c.torus, c.collision_radius,
        )  # fmt: skip
    close = table.dist < c.collision_radius
    # the table lists each pair twice (i sees j, j sees i)
    return np.bincount(engine.env[table.owner[close]], minlength=engine.n_envs) / 2.0


@numba.njit(cache=True)
def _count_components(alive, owner, idx, env, n_envs):
    """Union-find over the link entries; components among alive rows, per env."""
    n = alive.shape[0]
    parent = np.arange(n)
    for e in range(owner.shape[0]):
        a = owner[e]
        b = idx[e]
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        while parent[b] != b:
            parent[b] = parent[parent[b]]
            b = parent[b]
        if a != b:
            parent[max(a, b)] = min(a, b)
    out = np.zeros(n_envs)
    for i in range(n):
        if alive[i] and parent[i] == i:
            out[env[i]] += 1
    return out


def n_components(engine: Swarm) -> np.ndarray:
    """Connected components of the comm graph among alive drones."""
    links = engine.links
    return _count_components(engine.alive, links.owner, links.idx, engine.env, engine.n_envs)


def algebraic_connectivity(engine: Swarm) -> np.ndarray:
    """Second-smallest Laplacian eigenvalue of env 0's comm graph (0 if disconnected)."""
    graph = engine.graph_view.graph()
    out = np.zeros(engine.n_envs)
    if graph.number_of_nodes() > 1 and nx.is_connected(graph):
        out[0] = nx.algebraic_connectivity(graph, method="tracemin_lu", seed=0)
    return out


FLOCKING_METRICS = {
    "polarization": polarization,
    "cohesion": cohesion,
    "min_separation": min_separation,
    "collisions": collisions,
    "n_components": n_components,
    "n_alive": n_alive,
}


def obstacle_contacts(engine: Swarm) -> np.ndarray:
    """(E,) alive drones closer than their own radius (half of ``collision_radius``) to an
    obstacle, now."""
    return np.bincount(engine.env[engine.touching_obstacles()], minlength=engine.n_envs).astype(
        float
    )


def obstacle_contacts_total(engine: Swarm) -> np.ndarray:
    """(E,) drone-steps spent in contact with an obstacle since the spawn."""
    return engine.obstacle_contacts_total.copy()


def obstacle_clearance(engine: Swarm) -> np.ndarray:
    """(E,) the smallest distance from an alive drone to an obstacle's surface (m; < 0 inside
    one), capped at the sensing radius."""
    engine.obs  # noqa: B018 - sense first if the state was edited
    out = np.full(engine.n_envs, float(engine.config.sense_radius))
    nearest = np.where(engine.alive, engine.obstacle_reading.nearest, np.inf)
    np.minimum.at(out, engine.env, nearest)
    return out


# reported by every drone scenario that has obstacles
OBSTACLE_METRICS = {
    "obstacle_contacts": obstacle_contacts,
    "obstacle_contacts_total": obstacle_contacts_total,
    "obstacle_clearance": obstacle_clearance,
}
