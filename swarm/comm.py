"""Local communication: link models, a lossy delayed channel, and the networkx view.

The hot path keeps links as a :class:`~swarm.neighbors.NeighborTable` (receiver row ->
sender rows, with distances). networkx is the interface users read (``model.comm_graph``),
built lazily when read or kept in sync incrementally (only changed edges are touched);
``swarm bench`` measures both.

Messages: every agent may broadcast one fixed-size vector per step. A message decided at step
t travels along the links of step t and arrives in the receiver's inbox at step
``t + 1 + delay``. Each packet (sender j -> receiver i) is dropped with probability
``packet_drop``, drawn from a keyed stream so the drop of one packet never depends on other
agents (see :mod:`swarm.rng`). ``max_inbox`` caps bandwidth: a receiver keeps the packets of
its nearest senders.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numba
import numpy as np
from scipy.spatial import cKDTree

from swarm.neighbors import NeighborTable, insert_k_best, radius_neighbors
from swarm.rng import keyed_uniform
from swarm.threads import parallel_pays


def table_from_edges(
    receiver: np.ndarray,
    sender: np.ndarray,
    pos: np.ndarray,
    vel: np.ndarray,
    world_size: float,
    torus: bool,
) -> NeighborTable:
    """A neighbour table (rows in row order) from directed edges ``sender -> receiver``."""
    return table_on(edge_lists(receiver, sender, pos.shape[0]), pos, vel, world_size, torus)


def edge_lists(
    receiver: np.ndarray, sender: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ptr, receiver, sender) of directed edges in row order, senders ascending: the part of
    a table that depends on who is linked, not on where anyone is (read-only)."""
    order = np.lexsort((sender, receiver))
    receiver = receiver[order].astype(np.int64)
    sender = sender[order].astype(np.int32)
    ptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(receiver, minlength=n_rows), out=ptr[1:])
    for values in (ptr, receiver, sender):
        values.flags.writeable = False
    return ptr, receiver, sender


def table_on(
    lists: tuple[np.ndarray, np.ndarray, np.ndarray],
    pos: np.ndarray,
    vel: np.ndarray,
    world_size: float,
    torus: bool,
) -> NeighborTable:
    """The neighbour table of the edge lists (:func:`edge_lists`) at these positions."""
    ptr, receiver, sender = lists
    rel = pos[sender] - pos[receiver]
    if torus:
        rel -= world_size * np.round(rel / world_size)
    rows = np.arange(pos.shape[0], dtype=np.int64)
    return NeighborTable(
        ptr=ptr,
        seg_row=rows,
        row_seg=rows.copy(),
        idx=sender,
        rel_pos=rel,
        rel_vel=vel[sender] - vel[receiver],
        dist=np.sqrt((rel**2).sum(axis=1)),
    )


class LinkModel:
    """Decides which pairs can talk this step. Links are symmetric (undirected)."""

    name = "base"

    def links(self, pos, vel, alive, env, n_envs, world_size, torus, sensing) -> NeighborTable:
        raise NotImplementedError


class RangeLinks(LinkModel):
    """Unit-disk links: i and j talk when closer than ``radius``."""

    name = "range"

    def __init__(self, radius: float):
        self.radius = radius
        self._hint = 0

    def links(self, pos, vel, alive, env, n_envs, world_size, torus, sensing):
        if sensing is not None:  # sensing ran at the same radius without a field of view
            return sensing
        table = radius_neighbors(
            pos, vel, alive, env, n_envs, world_size, torus, self.radius, capacity_hint=self._hint
        )
        self._hint = int(table.n_edges * 1.1)
        return table


class KNearestLinks(LinkModel):
    """Each agent links to its k nearest alive agents (same env); symmetrised by union. In 2-D
    or 3-D (scipy's k-d tree over the positions, periodic on a torus)."""

    name = "knn"

    def __init__(self, k: int):
        self.k = k

    def links(self, pos, vel, alive, env, n_envs, world_size, torus, sensing):
        rows = np.flatnonzero(alive)
        dim = pos.shape[1]  # 2, or 3 in a cube
        if len(rows) < 2:
            return NeighborTable.empty(pos.shape[0], dim)
        # envs are stacked along one more axis 3L apart, farther than any in-env distance
        pts = np.column_stack([pos[rows], env[rows] * 3.0 * world_size])
        box = [world_size] * dim + [0.0] if torus else None
        if torus:
            pts[:, :dim] %= world_size
        tree = cKDTree(pts, boxsize=box)
        k = min(self.k + 1, len(rows))
        _, nn = tree.query(pts, k=k)
        src = np.repeat(rows, k - 1)
        dst = rows[nn[:, 1:].ravel()]
        keep = (env[src] == env[dst]) & (src != dst)
        src, dst = src[keep], dst[keep]
        return _symmetric_table(src, dst, pos, vel, world_size, torus)


class FixedLinks(LinkModel):
    """A fixed topology, any ``nx.Graph`` on nodes ``0..N-1``, the same in every env."""

    name = "fixed"

    def __init__(self, graph: nx.Graph, n_agents: int):
        bad = [
            v for v in graph.nodes if not (isinstance(v, int | np.integer) and 0 <= v < n_agents)
        ]
        if bad:
            raise ValueError(
                f"comm_topology: nodes must be the agent rows 0..{n_agents - 1}; got {bad[:5]}"
            )
        edges = np.array([(u, v) for u, v in graph.edges if u != v], dtype=np.int64).reshape(-1, 2)
        self.n_agents = n_agents
        self.edges = edges
        # who is linked changes only when a drone crashes: the edge lists of the last alive
        # mask are kept, and a step only measures the links at the new positions
        self._alive: np.ndarray | None = None
        self._lists: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def links(self, pos, vel, alive, env, n_envs, world_size, torus, sensing):
        if self._lists is None or self._alive is None or not np.array_equal(self._alive, alive):
            offsets = np.arange(n_envs, dtype=np.int64)[:, None] * self.n_agents
            u = (self.edges[:, 0][None, :] + offsets).ravel()
            v = (self.edges[:, 1][None, :] + offsets).ravel()
            keep = alive[u] & alive[v]
            self._lists = _symmetric_lists(u[keep], v[keep], pos.shape[0])
            self._alive = alive.copy()
        return table_on(self._lists, pos, vel, world_size, torus)


def _symmetric_lists(src, dst, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edge lists of undirected links ``src - dst`` (each once in each direction)."""
    a = np.concatenate([src, dst]).astype(np.int64)
    b = np.concatenate([dst, src]).astype(np.int64)
    keys = np.unique(a * n + b)
    return edge_lists(keys // n, keys % n, n)


def _symmetric_table(src, dst, pos, vel, world_size, torus) -> NeighborTable:
    return table_on(_symmetric_lists(src, dst, pos.shape[0]), pos, vel, world_size, torus)


def topology_graph(name: str, n_agents: int, rng: np.random.Generator) -> nx.Graph:
    """Named fixed topologies, generated with the run's generator (never unseeded)."""
    if name == "ring":
        return nx.cycle_graph(n_agents)
    if name == "complete":
        return nx.complete_graph(n_agents)
    if name == "line":
        return nx.path_graph(n_agents)
    if name == "star":
        return nx.star_graph(n_agents - 1)
    if name == "grid":
        side = int(np.ceil(np.sqrt(n_agents)))
        g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(side, side))
        return g.subgraph(range(n_agents)).copy()
    if name == "small_world":
        return nx.connected_watts_strogatz_graph(n_agents, min(4, n_agents - 1), 0.1, seed=rng)
    if name == "moore":
        return moore_graph(n_agents)
    raise ValueError(f"unknown topology {name!r}")


def moore_graph(n_agents: int) -> nx.Graph:
    """The king's-move lattice (Moore neighbourhood: 8 neighbours) on ``side x side`` cells,
    ``side = ceil(sqrt(n_agents))``, node k at row ``k // side``, column ``k % side``.

    Periodic (a torus, as in Nowak & May's spatial games) when ``n_agents`` fills the square
    (``side * side``): every node then has exactly 8 neighbours (fewer distinct ones when
    ``side < 3``). Otherwise the cells past ``n_agents`` are missing and the lattice is open
    at its edges, like ``grid``.
    """
    side = math.isqrt(max(n_agents - 1, 0)) + 1  # ceil(sqrt(n)), at least 1
    periodic = side * side == n_agents
    g = nx.empty_graph(n_agents)
    k = np.arange(n_agents)
    row, col = k // side, k % side
    for dr, dc in ((0, 1), (1, -1), (1, 0), (1, 1)):  # each undirected pair once
        r, c = row + dr, col + dc
        if periodic:
            r, c, keep = r % side, c % side, np.ones(n_agents, bool)
        else:
            keep = (r < side) & (c >= 0) & (c < side)
        other = r * side + c
        keep &= (other < n_agents) & (other != k)
        g.add_edges_from(zip(k[keep].tolist(), other[keep].tolist(), strict=True))
    return g


TOPOLOGIES = ("ring", "complete", "line", "star", "grid", "small_world", "moore")


@dataclass(frozen=True, eq=False)
class Inbox:
    """Messages received, CSR in receiver order: row i reads ``msg[ptr[i]:ptr[i+1]]``.

    ``msg`` is ``table`` itself, or ``table[ref]`` when ``ref`` is given: a radio round
    (:mod:`swarm.radio`) hands receivers the table of what was sent and the row of each
    packet instead of copying every packet out (compiled controllers read ``table[ref[e]]``;
    ``msg`` copies on first use). Either way only what was sent can be read.
    """

    ptr: np.ndarray  # (R + 1,) int64
    sender: np.ndarray  # (K,) int, the sender's label (its row for the drones' channel)
    table: np.ndarray  # (K, D) the messages, or (T, D) the sent table that ``ref`` indexes
    ref: np.ndarray | None = None  # (K,) row of ``table`` holding each packet's message

    @cached_property
    def msg(self) -> np.ndarray:
        """(K, D) float64 the message of each packet, in receiver order."""
        return self.table if self.ref is None else self.table[self.ref]

    @cached_property
    def rows(self) -> np.ndarray:
        """(K,) row of ``table`` of each packet (what compiled readers index with)."""
        return np.arange(len(self.sender)) if self.ref is None else self.ref

    @cached_property
    def counts(self) -> np.ndarray:
        return np.diff(self.ptr)

    @cached_property
    def owner(self) -> np.ndarray:
        """(K,) receiving row of each message."""
        return np.repeat(np.arange(len(self.ptr) - 1, dtype=np.int32), self.counts)

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        from swarm.neighbors import segment_sum

        return segment_sum(self.ptr, values)

    def of(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(senders, messages) that ``row`` received."""
        s = slice(int(self.ptr[row]), int(self.ptr[row + 1]))
        return self.sender[s], self.table[s] if self.ref is None else self.table[self.ref[s]]

    @classmethod
    def empty(cls, n_rows: int, dim: int) -> Inbox:
        return cls(np.zeros(n_rows + 1, np.int64), np.zeros(0, np.int32), np.zeros((0, dim)))


class Channel:
    """Carries broadcasts along links with drops, delay and an inbox cap."""

    def __init__(
        self,
        n_rows: int,
        dim: int,
        packet_drop: float,
        delay: int,
        max_inbox: int | None,
        seed: int,
    ):
        self.n_rows = n_rows
        self.dim = dim
        self.packet_drop = packet_drop
        self.max_inbox = max_inbox
        self.seed = seed
        self._in_flight: deque[Inbox] = deque(
            [Inbox.empty(n_rows, dim)] * (delay + 1),
            maxlen=delay + 1,  # one shared, read-only
        )

    def inbox(self) -> Inbox:
        """What arrives now: the oldest packets in flight."""
        return self._in_flight[0]

    def send(
        self, step: int, links: NeighborTable, messages: np.ndarray, alive: np.ndarray
    ) -> None:
        """Broadcast ``messages`` (R, D) along ``links``; advances the channel by one step."""
        if self.packet_drop > 0:
            # keyed per (step, sender, receiver): the drop never depends on other packets
            delivered = keyed_uniform(self.seed, step, links.idx, links.owner) >= self.packet_drop
        else:
            delivered = np.ones(0, dtype=bool)
        cap = -1 if self.max_inbox is None else int(self.max_inbox)
        chunks = numba.get_num_threads() if parallel_pays(self.n_rows) else 1
        ptr, sender = route(links, alive, delivered, cap, chunks, np.int32)
        # the deque's maxlen drops the packets just delivered; its head is the next arrival
        self._in_flight.append(Inbox(ptr, sender, messages[sender]))

    def drop_receivers(self, dead: np.ndarray) -> None:
        """Crashed agents receive nothing more: purge them from packets in flight."""
        for k, box in enumerate(self._in_flight):
            keep = ~dead[box.owner]
            if keep.all():
                continue
            counts = np.bincount(box.owner[keep], minlength=self.n_rows)
            ptr = np.zeros(self.n_rows + 1, np.int64)
            np.cumsum(counts, out=ptr[1:])
            self._in_flight[k] = Inbox(ptr, box.sender[keep], box.msg[keep])


@numba.njit(cache=True, inline="always")
def _n_kept(a, b, check, delivered):
    """Link entries ``a:b`` whose packet was delivered (all when not ``check``)."""
    n_kept = 0
    for e in range(a, b):
        if not check or delivered[e]:
            n_kept += 1
    return n_kept


@numba.njit(cache=True, inline="always")
def _route_one(a, b, idx, dist, check, delivered, max_inbox, best_d, best_e, cursor,
               out_sender):  # fmt: skip
    """One receiver's packets, link entries ``a:b`` (:func:`_route`), from
    ``out_sender[cursor]``; returns the cursor after them."""
    n_kept = _n_kept(a, b, check, delivered)
    if max_inbox < 0 or n_kept <= max_inbox:
        for e in range(a, b):
            if not check or delivered[e]:
                out_sender[cursor] = idx[e]
                cursor += 1
        return cursor
    n = 0
    for e in range(a, b):
        if check and not delivered[e]:
            continue
        n = insert_k_best(best_d, best_e, n, max_inbox, dist[e], e)  # ties: table order
    # the chosen ones go out in table order, as the unlimited inbox lists them: a few
    # entries, sorted in place (np.sort would allocate per receiver)
    for t in range(1, n):
        e = best_e[t]
        q = t
        while q > 0 and best_e[q - 1] > e:
            best_e[q] = best_e[q - 1]
            q -= 1
        best_e[q] = e
    for t in range(n):
        out_sender[cursor] = idx[best_e[t]]
        cursor += 1
    return cursor


@numba.njit(cache=True)
def _route(ptr, row_seg, idx, dist, alive, delivered, max_inbox, out_ptr, out_sender):
    """The packets each receiver gets, CSR in row order; returns how many. Plain-loop meaning::

    for each receiver row i (ascending), alive:
        packets = i's link entries (table order) whose packet was ``delivered``
                  (an empty ``delivered`` means all were)
        if max_inbox >= 0: keep the max_inbox nearest senders (stable on ties),
                           still in table order
        out_sender[...] = their senders
    """
    cursor = 0
    check = delivered.shape[0] > 0
    cap = max(max_inbox, 1)
    best_d = np.empty(cap)
    best_e = np.empty(cap, np.int64)
    for i in range(row_seg.shape[0]):
        out_ptr[i] = cursor
        if alive[i]:
            s = row_seg[i]
            cursor = _route_one(ptr[s], ptr[s + 1], idx, dist, check, delivered, max_inbox,
                                best_d, best_e, cursor, out_sender)  # fmt: skip
    out_ptr[row_seg.shape[0]] = cursor
    return cursor


@numba.njit(cache=True, parallel=True)
def _route_chunks(ptr, row_seg, idx, dist, alive, delivered, max_inbox, out_ptr, out_sender,
                  n_chunks):  # fmt: skip
    """:func:`_route` on the pool, the same arrays: each chunk of receivers counts its
    packets, the counts are summed into ``out_ptr``, then each chunk writes its own."""
    n = row_seg.shape[0]
    check = delivered.shape[0] > 0
    size = (n + n_chunks - 1) // n_chunks
    count = np.empty(n + 1, np.int64)
    for c in numba.prange(n_chunks):
        for i in range(c * size, min(n, (c + 1) * size)):
            s = row_seg[i]
            kept = _n_kept(ptr[s], ptr[s + 1], check, delivered) if alive[i] else 0
            count[i] = kept if max_inbox < 0 else min(kept, max_inbox)
    out_ptr[0] = 0
    for i in range(n):
        out_ptr[i + 1] = out_ptr[i] + count[i]
    for c in numba.prange(n_chunks):
        cap = max(max_inbox, 1)
        best_d = np.empty(cap)
        best_e = np.empty(cap, np.int64)
        for i in range(c * size, min(n, (c + 1) * size)):
            if alive[i]:
                s = row_seg[i]
                _route_one(ptr[s], ptr[s + 1], idx, dist, check, delivered, max_inbox, best_d,
                           best_e, out_ptr[i], out_sender)  # fmt: skip
    return out_ptr[n]


def route(links: NeighborTable, alive: np.ndarray, delivered: np.ndarray, max_inbox: int,
          chunks: int, dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(ptr (R + 1,), sender (K,) of ``dtype``, default the links'): the packets each
    receiver gets along ``links`` (:func:`_route`), on ``chunks`` > 1 chunks of receivers
    on the pool (the same arrays)."""
    ptr = np.empty(links.n_rows + 1, np.int64)
    sender = np.empty(links.n_edges, links.idx.dtype if dtype is None else dtype)
    args = (links.ptr, links.row_seg, links.idx, links.dist, alive, delivered, max_inbox, ptr,
            sender)  # fmt: skip
    m = _route_chunks(*args, chunks) if chunks > 1 else _route(*args)
    return ptr, sender[:m]


def undirected_edges(links: NeighborTable) -> np.ndarray:
    """(E, 2) int64 edges u < v of a symmetric link table, sorted."""
    u = links.owner.astype(np.int64)
    v = links.idx.astype(np.int64)
    mask = u < v
    n = max(links.n_rows, 1)
    keys = np.sort(u[mask] * n + v[mask])
    return np.column_stack([keys // n, keys % n])


class CommGraphView:
    """``networkx.Graph`` view of the current links: nodes are alive rows.

    mode ``"lazy"`` builds the graph when it is read (cached until the links change);
    mode ``"incremental"`` keeps one graph and, each step, adds and removes only the edges
    and nodes that changed.
    """

    def __init__(self, n_rows: int, mode: str = "lazy"):
        self.n_rows = n_rows
        self.mode = mode
        self._graph: nx.Graph | None = None
        self._keys = np.zeros(0, np.int64)
        self._alive = np.zeros(n_rows, bool)
        self._links = NeighborTable.empty(n_rows)
        self._fresh = False

    def release(self) -> None:
        """Drop the lazy view's reference to the links while new ones are being sensed."""
        if self.mode == "lazy":
            self._links = NeighborTable.empty(self.n_rows)
            self._fresh = False

    def update(self, links: NeighborTable, alive: np.ndarray) -> None:
        self._links = links
        if self.mode == "incremental":
            self._sync(alive)
        else:
            self._alive = alive.copy()
            self._fresh = False

    def _sync(self, alive: np.ndarray) -> None:
        g = self._graph if self._graph is not None else nx.Graph()
        n = self.n_rows
        edges = self.edges
        keys = edges[:, 0] * n + edges[:, 1]
        gone = np.setdiff1d(self._keys, keys, assume_unique=True)
        new = np.setdiff1d(keys, self._keys, assume_unique=True)
        g.remove_edges_from(zip((gone // n).tolist(), (gone % n).tolist(), strict=True))
        g.remove_nodes_from(np.flatnonzero(self._alive & ~alive).tolist())
        g.add_nodes_from(np.flatnonzero(alive & ~self._alive).tolist())
        g.add_edges_from(zip((new // n).tolist(), (new % n).tolist(), strict=True))
        self._graph, self._keys, self._alive = g, keys, alive.copy()
        self._fresh = True

    def graph(self) -> nx.Graph:
        if not self._fresh:
            g = nx.Graph()
            g.add_nodes_from(np.flatnonzero(self._alive).tolist())
            g.add_edges_from(self.edges.tolist())
            self._graph = g
            self._fresh = True
        assert self._graph is not None
        return self._graph

    @property
    def edges(self) -> np.ndarray:
        """(E, 2) current undirected edges u < v, without building the networkx graph."""
        return undirected_edges(self._links)
