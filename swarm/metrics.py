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


def polarization(engine: Swarm) -> np.ndarray:
    """Vicsek's order parameter |sum of unit headings| / n (1: aligned, ~0: disordered).

    Drones at rest have no heading and count as zero vectors (Vicsek et al. 1995, eq. 2).
    """
    speed = np.sqrt((engine.vel**2).sum(axis=1))
    unit = np.where(speed[:, None] > 0, engine.vel / np.maximum(speed, 1e-300)[:, None], 0.0)
    unit[~engine.alive] = 0.0
    sx = _per_env_sum(engine, unit[:, 0])
    sy = _per_env_sum(engine, unit[:, 1])
    n = np.maximum(n_alive(engine), 1)
    return np.sqrt(sx**2 + sy**2) / n


def cohesion(engine: Swarm) -> np.ndarray:
    """Mean distance of alive drones to the swarm's centroid (m); circular mean on a torus."""
    c = engine.config
    alive = engine.alive.astype(float)
    n = np.maximum(n_alive(engine), 1)
    if c.torus:
        angle = engine.pos * (2 * np.pi / c.world_size)
        cx = _per_env_sum(engine, np.cos(angle[:, 0]) * alive)
        sx = _per_env_sum(engine, np.sin(angle[:, 0]) * alive)
        cy = _per_env_sum(engine, np.cos(angle[:, 1]) * alive)
        sy = _per_env_sum(engine, np.sin(angle[:, 1]) * alive)
        centre = np.column_stack([np.arctan2(sx, cx), np.arctan2(sy, cy)])
        centre = np.mod(centre, 2 * np.pi) * (c.world_size / (2 * np.pi))
    else:
        centre = np.column_stack(
            [_per_env_sum(engine, engine.pos[:, k] * alive) / n for k in range(2)]
        )
    d = engine.pos - centre[engine.env]
    if c.torus:
        d -= c.world_size * np.round(d / c.world_size)
    dist = np.sqrt((d**2).sum(axis=1)) * alive
    return _per_env_sum(engine, dist) / n


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
