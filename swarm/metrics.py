"""Swarm metrics, computed by the observer (never by a controller), one value per env.

Each function takes the engine and returns an ``(E,)`` array, so the Mesa model (E = 1),
the PettingZoo env and batched training all report the same numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numba
import numpy as np

from swarm import threads
from swarm.neighbors import radius_neighbors
from swarm.threads import even_runs, filled, parallel_pays, serial_and_parallel

if TYPE_CHECKING:
    from swarm.engine import Swarm
    from swarm.neighbors import NeighborTable


def n_alive(engine: Swarm) -> np.ndarray:
    """(E,) drones alive in each env (a weighted bincount of every row cost 3.7 ms at 10^6)."""
    if engine.n_envs == 1:
        return np.array([float(np.count_nonzero(engine.alive))])
    return np.bincount(engine.env[engine.alive], minlength=engine.n_envs).astype(np.float64)


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


# rows per chunk of the chunked metric sums: fixed, never derived from the thread count, so
# that 1 and N threads add the same numbers in the same order
MOMENT_CHUNK = 16_384


def _chunk_envs(env, chunk):
    """Each chunk of ``chunk`` rows' lowest and highest env, and where its per-env partial
    sums start: one slot per env it spans (the engine's rows are envs in order, so a chunk
    spans one env or a few consecutive ones)."""
    n = env.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    lo = np.empty(n_chunks, np.int64)
    hi = np.empty(n_chunks, np.int64)
    for c in numba.prange(n_chunks):
        low = high = env[c * chunk]
        for i in range(c * chunk + 1, min(n, (c + 1) * chunk)):
            low = min(low, env[i])
            high = max(high, env[i])
        lo[c] = low
        hi[c] = high
    start = filled(n_chunks + 1, 0)
    for c in range(n_chunks):
        start[c + 1] = start[c] + hi[c] - lo[c] + 1
    return lo, hi, start


_env_spans, _env_spans_parallel = serial_and_parallel(_chunk_envs)


@numba.njit(cache=True)
def _sum_rows(pos, vel, alive, env, first, stop, base, out_count, out_heading, out_acc, scale,
              torus):  # fmt: skip
    """Rows ``first:stop`` summed into the slots of envs ``base``.. (the serial kernels'
    first loop, one copy per width so that the coordinates stay unrolled). The sums run in
    arrays of this call's own, copied out at the end, so that no row's update writes a cache
    line that the next chunk's slots share."""
    count = np.zeros_like(out_count)
    heading = np.zeros_like(out_heading)
    acc = np.zeros_like(out_acc)
    _sum_rows_into(pos, vel, alive, env, first, stop, base, count, heading, acc, scale, torus)
    out_count[:] = count
    out_heading[:] = heading
    out_acc[:] = acc


@numba.njit(cache=True)
def _sum_rows_into(pos, vel, alive, env, first, stop, base, count, heading, acc, scale, torus):
    if pos.shape[1] == 2:
        for i in range(first, stop):
            if not alive[i]:
                continue
            e = env[i] - base
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
        return
    for i in range(first, stop):
        if not alive[i]:
            continue
        e = env[i] - base
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


@numba.njit(cache=True)
def _spread_rows(pos, alive, env, first, stop, base, centre, out_spread, world, torus):
    """Rows ``first:stop``' distances to their env's centre, summed into the slots of envs
    ``base``.. (the serial kernels' second loop; in an array of its own, as :func:`_sum_rows`)."""
    spread = np.zeros_like(out_spread)
    _spread_rows_into(pos, alive, env, first, stop, base, centre, spread, world, torus)
    out_spread[:] = spread


@numba.njit(cache=True)
def _spread_rows_into(pos, alive, env, first, stop, base, centre, spread, world, torus):
    half = 0.5 * world
    if pos.shape[1] == 2:
        for i in range(first, stop):
            if not alive[i]:
                continue
            e = env[i]
            dx = pos[i, 0] - centre[e, 0]
            dy = pos[i, 1] - centre[e, 1]
            if torus:
                dx = dx - world if dx > half else (dx + world if dx < -half else dx)
                dy = dy - world if dy > half else (dy + world if dy < -half else dy)
            spread[e - base] += np.sqrt(dx * dx + dy * dy)
        return
    for i in range(first, stop):
        if not alive[i]:
            continue
        e = env[i]
        d2 = 0.0
        for k in range(3):
            d = pos[i, k] - centre[e, k]
            if torus:
                d = d - world if d > half else (d + world if d < -half else d)
            d2 += d * d
        spread[e - base] += np.sqrt(d2)


def _chunked_moments(pos, vel, alive, env, n_envs, world, torus, chunk, lo, hi, start, runs):
    """:func:`_moments` (2-D or 3-D) summed over fixed chunks of ``chunk`` rows: each chunk
    sums its rows into its own slots, then the chunks' sums are added in chunk order, so the
    result is the same bit for bit on any thread count (and, with one chunk, the serial
    kernel's: a sum that starts at +0.0 is never -0.0, so adding it to 0.0 changes nothing).
    ``lo``, ``hi``, ``start``: :func:`_chunk_envs` of ``env``; ``runs``: the chunks in runs
    of about equal rows, one per thread (:func:`~swarm.threads.even_runs`)."""
    n, dim = pos.shape
    count = filled(n_envs, 0.0)
    heading = filled((n_envs, dim), 0.0)
    spread = filled(n_envs, 0.0)
    n_chunks = lo.shape[0]
    slots = start[n_chunks]
    part_count = filled(slots, 0.0)
    part_heading = filled((slots, dim), 0.0)
    part_acc = filled((slots, 2 * dim), 0.0)  # torus: cos/sin sums per axis; box: coordinates
    scale = 2.0 * np.pi / world
    for r in numba.prange(runs.shape[0] - 1):
        for c in range(runs[r], runs[r + 1]):
            a, b = start[c], start[c + 1]
            _sum_rows(
                pos, vel, alive, env, c * chunk, min(n, (c + 1) * chunk), lo[c],
                part_count[a:b], part_heading[a:b], part_acc[a:b], scale, torus,
            )  # fmt: skip
    acc = filled((n_envs, 2 * dim), 0.0)
    for c in range(n_chunks):
        for e in range(lo[c], hi[c] + 1):
            s = start[c] + e - lo[c]
            count[e] += part_count[s]
            for k in range(dim):
                heading[e, k] += part_heading[s, k]
            for k in range(2 * dim):
                acc[e, k] += part_acc[s, k]
    centre = filled((n_envs, dim), 0.0)
    for e in range(n_envs):
        for k in range(dim):
            if torus:
                angle = np.arctan2(acc[e, 2 * k + 1], acc[e, 2 * k])
                centre[e, k] = (angle % (2.0 * np.pi)) / scale
            elif count[e] > 0:
                centre[e, k] = acc[e, k] / count[e]
    part_spread = filled(slots, 0.0)
    for r in numba.prange(runs.shape[0] - 1):
        for c in range(runs[r], runs[r + 1]):
            a, b = start[c], start[c + 1]
            _spread_rows(
                pos, alive, env, c * chunk, min(n, (c + 1) * chunk), lo[c], centre,
                part_spread[a:b], world, torus,
            )  # fmt: skip
    for c in range(n_chunks):
        for e in range(lo[c], hi[c] + 1):
            spread[e] += part_spread[start[c] + e - lo[c]]
    return count, heading, spread


_moments_chunked, _moments_chunked_parallel = serial_and_parallel(_chunked_moments)


def serial_moments(
    pos: np.ndarray, vel: np.ndarray, alive: np.ndarray, env: np.ndarray, n_envs: int,
    world: float, torus: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """:func:`moments` as one chunk on one thread: every row summed in row order (the sums
    small swarms and training envs have always had, bit for bit)."""
    chunk = max(pos.shape[0], 1)
    lo, hi, start = _env_spans(env, chunk)
    runs = np.array([0, len(lo)], np.int64)
    return _moments_chunked(pos, vel, alive, env, n_envs, world, torus, chunk, lo, hi, start,
                            runs)  # fmt: skip


def moments(
    pos: np.ndarray, vel: np.ndarray, alive: np.ndarray, env: np.ndarray, n_envs: int,
    world: float, torus: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Per env: alive count, summed unit headings, and the summed distance to the centroid.

    Below :data:`~swarm.threads.PARALLEL_MIN_AGENTS` rows the serial kernels, unchanged
    (small swarms and training envs keep their values bit for bit); from there on the
    chunked sums, on the pool where it pays and on one thread otherwise, so ``--threads 1``
    and ``--threads N`` agree (they may differ from the serial kernel in the last bits).
    """
    rows = pos.shape[0]
    if rows < threads.PARALLEL_MIN_AGENTS:  # one chunk: the plain serial sums
        return serial_moments(pos, vel, alive, env, n_envs, world, torus)
    threaded = parallel_pays(rows)
    if n_envs == 1:  # env ids lie in 0..n_envs - 1: every chunk is env 0's, no pass needed
        lo = hi = np.zeros(-(-rows // MOMENT_CHUNK), np.int64)
        start = np.arange(len(lo) + 1, dtype=np.int64)
    else:
        lo, hi, start = (_env_spans_parallel if threaded else _env_spans)(env, MOMENT_CHUNK)
    kernel = _moments_chunked_parallel if threaded else _moments_chunked
    ends = np.minimum(np.arange(len(lo) + 1, dtype=np.int64) * MOMENT_CHUNK, rows)
    runs = even_runs(ends, numba.get_num_threads() if threaded else 1)
    return kernel(pos, vel, alive, env, n_envs, world, torus, MOMENT_CHUNK, lo, hi, start,
                  runs)  # fmt: skip


def _swarm_moments(engine: Swarm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if "moments" not in engine.scratch:
        c = engine.config
        engine.scratch["moments"] = moments(
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
    close = np.flatnonzero(table.dist < c.collision_radius)
    # the table lists each pair twice (i sees j, j sees i)
    return np.bincount(engine.env[table.owners_of(close)], minlength=engine.n_envs) / 2.0


@numba.njit(cache=True)
def _count_components(alive, ptr, seg_row, idx, env, n_envs):
    """Union-find over the link entries, segment by segment (each entry with its segment's
    row: no observer array to fill, 13 ms at 10^6); components among alive rows, per env."""
    n = alive.shape[0]
    parent = np.arange(n)
    for s in range(seg_row.shape[0]):
        a = _root(parent, seg_row[s])  # the segment row's root, kept as its links join sets
        for e in range(ptr[s] - ptr[0], ptr[s + 1] - ptr[0]):
            b = _root(parent, idx[e])
            if a != b:
                parent[max(a, b)] = min(a, b)
                a = min(a, b)
    out = np.zeros(n_envs)
    for i in range(n):
        if alive[i] and parent[i] == i:
            out[env[i]] += 1
    return out


@numba.njit(cache=True)
def _root(parent, a):
    """The root of ``a``, halving the path on the way."""
    while parent[a] != a:
        parent[a] = parent[parent[a]]
        a = parent[a]
    return a


@numba.njit(cache=True)
def _union(parent, a, b):
    a = _root(parent, a)
    b = _root(parent, b)
    if a != b:
        parent[max(a, b)] = min(a, b)


# the parallel component count cuts the segments into this many chunks per thread (each
# chunk a patch of space, most of its links inside it; numba hands each thread one run of
# consecutive iterations, so more chunks would only cut more links), none below
# COMPONENT_MIN_CHUNK segments; a chunk has room for CROSS_PER_SEGMENT links to other chunks
# per segment (a chunk with more scans its links again, on the pool, into room of the right
# size). At 10^6 drones in chunks of 250,000 segments, 0.3 % of the links leave their chunk
# in the plane (0.03 a segment), 2 % in a cube (0.2); in chunks of 31,250 (16 threads), 2.4 %
# and 16 %. The count is an integer, the same for any chunking, so the chunks may follow the
# thread count.
COMPONENT_CHUNKS_PER_THREAD = 1
COMPONENT_MIN_CHUNK = 16_384
CROSS_PER_SEGMENT = 0.25


@numba.njit(cache=True)
def _keep_cross(ptr, seg_of, nbr, first, stop, out):
    """Segments ``first:stop``'s links to segments outside them, as (s, t) pairs into
    ``out`` (as many as fit); returns how many there are."""
    kept = 0
    for s in range(first, stop):
        for j in range(ptr[s], ptr[s + 1]):
            t = nbr[j] if seg_of.shape[0] == 0 else seg_of[nbr[j]]
            if not first <= t < stop:
                if kept < out.shape[0]:
                    out[kept, 0] = s
                    out[kept, 1] = t
                kept += 1
    return kept


def _chunk_unions(ptr, seg_row, row_seg, nbr, seg_of, alive, env, n_envs, chunk, cross):
    """Components of the link table among alive rows, per env, by union-find over segments:
    entry j links its segment to segment ``nbr[j]`` where ``seg_of`` is empty (the table's
    ``seg``: no read but the entry's own), else ``seg_of[nbr[j]]`` (``idx`` and
    ``row_seg``: a read at random, one per entry).

    Segments lie in cell order, so a chunk of consecutive segments is a patch of space and
    most of its links stay inside it: each chunk unions those in its own slice of ``parent``
    (no other chunk reads or writes it) and keeps the links that leave it in its own
    ``cross.shape[0] // n_chunks`` slots (a chunk with more keeps them all in a second pass);
    then one serial pass unions the kept links, and the roots are counted by chunks of rows.
    Few parallel loops: on a busy machine each one waits for a thread to be scheduled.
    """
    n = seg_row.shape[0]
    n_chunks = (n + chunk - 1) // chunk
    cap = cross.shape[0] // n_chunks
    direct = seg_of.shape[0] == 0
    parent = np.empty(n, np.int64)
    n_cross = filled(n_chunks, 0)
    lo = np.empty(n_chunks, np.int64)  # the envs of each chunk of rows (for the count)
    hi = np.empty(n_chunks, np.int64)
    for c in numba.prange(n_chunks):
        first, stop = c * chunk, min(n, (c + 1) * chunk)
        low = high = env[first]
        for s in range(first, stop):
            parent[s] = s
            low = min(low, env[s])
            high = max(high, env[s])
        lo[c] = low
        hi[c] = high
        kept = 0
        for s in range(first, stop):
            root = _root(parent, s)  # s's root, kept as its links join sets to it
            for j in range(ptr[s], ptr[s + 1]):
                t = nbr[j] if direct else seg_of[nbr[j]]
                if first <= t < stop:
                    other = _root(parent, t)
                    if other != root:
                        parent[max(root, other)] = min(root, other)
                        root = min(root, other)
                else:
                    if kept < cap:
                        cross[c * cap + kept, 0] = s
                        cross[c * cap + kept, 1] = t
                    kept += 1
        n_cross[c] = kept
    more = filled(n_chunks + 1, 0)  # where each overflowing chunk's links go
    for c in range(n_chunks):
        more[c + 1] = more[c] + (n_cross[c] if n_cross[c] > cap else 0)
    extra = np.empty((more[n_chunks], 2), cross.dtype)
    if more[n_chunks] > 0:
        for c in numba.prange(n_chunks):
            if n_cross[c] > cap:
                _keep_cross(ptr, seg_of, nbr, c * chunk, min(n, (c + 1) * chunk),
                            extra[more[c] : more[c + 1]])  # fmt: skip
    for c in range(n_chunks):
        pairs = (
            cross[c * cap : c * cap + n_cross[c]]
            if n_cross[c] <= cap
            else extra[more[c] : more[c + 1]]
        )
        for k in range(pairs.shape[0]):
            _union(parent, pairs[k, 0], pairs[k, 1])
    start = filled(n_chunks + 1, 0)
    for c in range(n_chunks):
        start[c + 1] = start[c] + hi[c] - lo[c] + 1
    part = filled(start[n_chunks], 0.0)
    for c in numba.prange(n_chunks):
        _count_roots(parent, row_seg, alive, env, c * chunk, min(n, (c + 1) * chunk), lo[c],
                     part[start[c] : start[c + 1]])  # fmt: skip
    out = filled(n_envs, 0.0)
    for c in range(n_chunks):
        for e in range(lo[c], hi[c] + 1):
            out[e] += part[start[c] + e - lo[c]]
    return out


@numba.njit(cache=True)
def _count_roots(parent, row_seg, alive, env, first, stop, base, out):
    """Alive rows ``first:stop`` that are their component's root, per env from ``base`` (in
    an array of this call's own, as :func:`_sum_rows`)."""
    count = np.zeros_like(out)
    for i in range(first, stop):
        s = row_seg[i]
        if alive[i] and parent[s] == s:
            count[env[i] - base] += 1.0
    out[:] = count


_components_chunked, _components_chunked_parallel = serial_and_parallel(_chunk_unions)


_NO_ROWS = np.zeros(0, np.int64)  # seg_of of a table whose entries carry their segment


def count_components(
    links: NeighborTable, alive: np.ndarray, env: np.ndarray, n_envs: int
) -> np.ndarray:
    """(E,) connected components of a link table among alive rows; on the pool where it
    pays (any method counts the same integer). On the pool the unions run over segments,
    in chunks of cell order, reading each entry's segment where the search wrote it
    (``links.seg``), else from ``row_seg``."""
    rows = alive.shape[0]
    if not parallel_pays(rows):
        return _count_components(alive, links.ptr, links.seg_row, links.idx, env, n_envs)
    if links.seg is not None:
        nbr, seg_of = links.seg, _NO_ROWS
    else:
        nbr, seg_of = links.idx, links.row_seg
    n_chunks = COMPONENT_CHUNKS_PER_THREAD * numba.get_num_threads()
    chunk = max(COMPONENT_MIN_CHUNK, -(-rows // n_chunks))
    n_chunks = -(-rows // chunk)
    cap = max(1, int(chunk * CROSS_PER_SEGMENT))
    cross = np.empty((n_chunks * cap, 2), np.int32 if rows < 2**31 else np.int64)
    return _components_chunked_parallel(
        links.ptr, links.seg_row, links.row_seg, nbr, seg_of, alive, env, n_envs, chunk, cross
    )


def n_components(engine: Swarm) -> np.ndarray:
    """Connected components of the comm graph among alive drones."""
    return count_components(engine.links, engine.alive, engine.env, engine.n_envs)


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
