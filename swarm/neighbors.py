"""Local sensing: who is within range of whom, in O(N + E) per step.

A uniform cell grid (cell side >= the query radius) compiled with numba: agents are
bucketed by cell with a counting sort, then each agent scans the 3 x 3 block of cells around
its own. Agents are visited in cell order so neighbouring agents are read from neighbouring
memory, which keeps the cost per agent flat from 10^4 to 10^6 agents (scipy's cKDTree was
measured at 2.7x more per agent at 10^6 than at 10^4 on this workload, see the bench).

Batched environments share one grid: the cell index carries the environment index, so a
search never crosses environments. The result is a directed neighbour table in CSR form:
row i's neighbours are ``idx[ptr[i]:ptr[i + 1]]``, each with its relative position,
relative velocity and distance, in a deterministic order that depends only on agents in
row i's own 3 x 3 block of cells.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numba
import numpy as np

from swarm.threads import even_runs, parallel_pays, scans_downward, serial_and_parallel

_EMPTY_I32 = np.zeros(0, dtype=np.int32)


@dataclass(frozen=True, eq=False)
class NeighborTable:
    """Directed neighbour lists, grouped in segments, one segment per row.

    Segments are stored in spatial (cell) order, not row order, so building and reducing
    the table streams through memory; ``row_seg`` maps a row to its segment. Use the methods
    (``owner``, ``segment_sum``, ``neighbors_of``) rather than slicing by row number.
    """

    ptr: np.ndarray  # (R + 1,) int64, segment s spans entries ptr[s]:ptr[s+1]
    seg_row: np.ndarray  # (R,) int64, row whose neighbours segment s lists
    row_seg: np.ndarray  # (R,) int64, segment of row i (inverse of seg_row)
    idx: np.ndarray  # (M,) int32, row of the neighbour
    # (M, dim) float64, neighbour position minus own (minimum image on a torus); dim = 2 or 3
    rel_pos: np.ndarray
    rel_vel: np.ndarray  # (M, dim) float64, neighbour velocity minus own
    dist: np.ndarray  # (M,) float64, Euclidean distance
    # (M,) int8 team of the neighbour (what it looks like: a pursuer, an evader), where the
    # scenario has teams; None in a one-team swarm
    team: np.ndarray | None = None
    # (M,) int32 segment of the neighbour (``row_seg[idx]``), where the grid search wrote it:
    # the component count's unions then stay in cell order instead of reading ``row_seg`` at
    # random once per entry (28.6 -> 18.2 ms on two threads at 10^6 drones); None elsewhere
    seg: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.seg_row)

    @property
    def n_edges(self) -> int:
        return len(self.idx)

    @cached_property
    def counts(self) -> np.ndarray:
        """(R,) number of neighbours of each row."""
        return np.diff(self.ptr)[self.row_seg]

    @cached_property
    def owner(self) -> np.ndarray:
        """(M,) int32 row that each entry belongs to (the entry's observer); filled on the
        thread pool for large tables (numpy's repeat was 17 ms of a 10^6-drone step)."""
        out = np.empty(int(self.ptr[-1] - self.ptr[0]), np.int32)
        fill = _fill_owner_parallel if parallel_pays(self.n_rows) else _fill_owner
        fill(self.ptr, self.seg_row, out)
        return out

    def owners_of(self, entries: np.ndarray) -> np.ndarray:
        """(K,) int64 row that each of the entries at positions ``entries`` (0 to
        ``n_edges - 1``, as they index :attr:`idx`) belongs to: a binary search per entry,
        for a few entries of a large table (filling :attr:`owner` for ten million entries to
        read a handful was 30 ms of a 10^6-drone step)."""
        entries = np.asarray(entries, dtype=np.int64)
        segments = np.searchsorted(self.ptr, entries + self.ptr[0], side="right") - 1
        return self.seg_row[segments]

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        """Per-row sums of a per-entry array ``(M,)`` or ``(M, D)``; rows without entries get 0."""
        flat = values.ndim == 1
        width = int(np.prod(values.shape[1:]))  # 1 for (M,)
        vals = np.ascontiguousarray(values.reshape(values.shape[0], width), dtype=np.float64)
        out = np.zeros((self.n_rows, vals.shape[1]))
        _segment_sum_to_rows(self.ptr, self.seg_row, vals, out)
        return out[:, 0] if flat else out

    def row_slice(self, row: int) -> slice:
        s = self.row_seg[row]
        return slice(int(self.ptr[s]), int(self.ptr[s + 1]))

    def neighbors_of(self, row: int) -> np.ndarray:
        return self.idx[self.row_slice(row)]

    def one_row(self, row: int, ids: np.ndarray | None = None) -> NeighborTable:
        """Row ``row``'s entries alone, as the table of a batch of one (copies); ``ids``
        relabels the neighbours by identity (what the locality audit hands an agent)."""
        s = self.row_slice(row)
        idx = self.idx[s] if ids is None else ids[self.idx[s]]
        return NeighborTable(
            ptr=np.array([0, s.stop - s.start], dtype=self.ptr.dtype),
            seg_row=np.zeros(1, dtype=self.seg_row.dtype),
            row_seg=np.zeros(1, dtype=self.row_seg.dtype),
            idx=idx.copy(),
            rel_pos=self.rel_pos[s].copy(),
            rel_vel=self.rel_vel[s].copy(),
            dist=self.dist[s].copy(),
            team=None if self.team is None else self.team[s].copy(),
        )

    def to_row_order(self) -> np.ndarray:
        """(M,) entry permutation that lists row 0's entries first, then row 1's, ..."""
        starts = self.ptr[:-1][self.row_seg]
        counts = self.counts
        offsets = np.arange(self.n_edges) - np.repeat(np.cumsum(counts) - counts, counts)
        return np.repeat(starts, counts) + offsets

    @classmethod
    def empty(cls, n_rows: int, dim: int = 2) -> NeighborTable:
        """The table of ``n_rows`` rows with no entries (``rel_pos`` (0, dim)); one read-only
        instance per size, since every step's sensing starts from one (allocating it showed
        in profiles)."""
        return _empty_table(cls, n_rows, dim)


# per env: up to this many agents, every pair of the env is tested directly (no cell grid).
# The choice depends on the env's size alone, never on how many envs are batched, so an env
# sees its neighbours in the same order alone or in a batch. Up to 64 agents the pair tests
# (at most 63 per agent) cost less than bucketing: at N = 30 the bucket sort and the
# reorder cost twice the 870 pair tests.
DENSE_MAX_AGENTS = 64


def _dense_pays(block: int) -> bool:
    """Whether testing every pair of each env of ``block`` agents beats the cell grid."""
    return 0 < block <= DENSE_MAX_AGENTS


def _env_blocks(env: np.ndarray, n_envs: int, block: int) -> bool:
    """Whether rows are environments in order, ``block`` rows each (the engine's layout)."""
    if env.shape[0] != n_envs * block:
        return False
    if n_envs == 1:
        return True  # env ids lie in 0..n_envs-1: every row is env 0
    return bool(np.array_equal(env, _block_layout(n_envs, block)))


@functools.lru_cache(maxsize=8)
def _block_layout(n_envs: int, block: int) -> np.ndarray:
    """Read-only (n_envs * block,) env id of each row in the engine's layout."""
    layout = np.repeat(np.arange(n_envs, dtype=np.int64), block)
    layout.flags.writeable = False
    return layout


def _dense_neighbors(
    pos: np.ndarray, vel: np.ndarray, active: np.ndarray, block: int, world_size: float,
    torus: bool, radius: float, fov_deg: float, n_active: int, capacity_hint: int,
    pool: BufferPool | None,
) -> NeighborTable:  # fmt: skip
    """Small environments (many envs of a few agents: batched training; one env of tens:
    the PettingZoo env): every pair of an environment tested directly, rows in row order.
    Same entries as the cell grid (tested); a bucket sort per step would cost more than the
    pairs it saves. Output sized like the grid's (a hint, counted exactly if exceeded)."""
    n_rows = pos.shape[0]
    capacity = min(n_rows * (block - 1), max(int(capacity_hint), 16 * n_active // 10 + 64))
    ptr = np.empty(n_rows + 1, np.int64)
    cos_half = math.cos(math.radians(fov_deg) / 2.0)
    while True:
        if pool is not None:
            idx, rel_pos, rel_vel, dist, _ = pool.take(capacity)
        else:
            idx, rel_pos, rel_vel, dist, _ = BufferPool(keep=0).take(capacity)
        m = _scan_dense(pos, vel, active, block, float(radius), float(world_size), torus,
                        fov_deg < 360.0, cos_half, ptr, idx, rel_pos, rel_vel, dist)  # fmt: skip
        if m <= len(idx):
            break
        capacity = m
    rows = _identity_rows(n_rows)
    # in row order each row is its own segment: the neighbour's segment is its row
    return NeighborTable(ptr, rows, rows, idx[:m], rel_pos[:m], rel_vel[:m], dist[:m],
                         seg=idx[:m])  # fmt: skip


@functools.lru_cache(maxsize=8)
def _identity_rows(n_rows: int) -> np.ndarray:
    """Read-only ``arange(n_rows)``: the seg_row and row_seg of a table in row order."""
    rows = np.arange(n_rows, dtype=np.int64)
    rows.flags.writeable = False
    return rows


@numba.njit(cache=True, inline="always")
def insert_k_best(best_d, best_i, n, k, d, i):
    """Insert (d, i) into the k smallest so far, ascending (``best_d``/``best_i`` hold n);
    returns the new count. Strictly smaller goes ahead, so ties keep insertion order: the
    one selection rule of the k nearest neighbours, inbox cap and sensed landmarks."""
    p = n
    while p > 0 and d < best_d[p - 1]:
        p -= 1
    if p >= k:
        return n
    for q in range(min(n, k - 1), p, -1):
        best_d[q] = best_d[q - 1]
        best_i[q] = best_i[q - 1]
    best_d[p] = d
    best_i[p] = i
    return n + 1 if n < k else n


@numba.njit(cache=True, inline="always")
def _min_image(d, world, half):
    """One coordinate difference wrapped into [-world/2, world/2] (both ends within one wrap)."""
    if d > half:
        d -= world
    elif d < -half:
        d += world
    return d


@numba.njit(cache=True, inline="always")
def _sensed(ddx, ddy, d2, r2, vx, vy, speed, use_fov, cos_half_fov):
    """Whether an agent at offset (ddx, ddy), squared distance d2, is in range and, with a
    field of view, ahead of an observer moving at (vx, vy) (one at rest sees all around)."""
    if d2 > r2:
        return False
    if use_fov and speed > 0.0 and d2 > 0.0:
        return (ddx * vx + ddy * vy) >= cos_half_fov * np.sqrt(d2) * speed
    return True


@numba.njit(cache=True, inline="always")
def _put_entry(cursor, limit, idx, rel_pos, rel_vel, dist, j, dx, dy, dvx, dvy, d2):
    """Write entry ``cursor`` of a search's output when it is below ``limit`` (past it the
    searches only count, so the caller can retry with the exact size)."""
    if cursor < limit:
        idx[cursor] = j
        rel_pos[cursor, 0] = dx
        rel_pos[cursor, 1] = dy
        rel_vel[cursor, 0] = dvx
        rel_vel[cursor, 1] = dvy
        dist[cursor] = np.sqrt(d2)


@numba.njit(cache=True)
def _scan_dense(
    pos, vel, active, block, radius, world, torus, use_fov, cos_half_fov,
    ptr, idx, rel_pos, rel_vel, dist,
):  # fmt: skip
    """Row i's active neighbours among the rows of its environment block, in row order.
    Returns the entry count; past the output's capacity it counts without writing, so the
    caller can retry exactly (as :func:`_scan`)."""
    r2 = radius * radius
    half = 0.5 * world
    cursor = 0
    for i in range(pos.shape[0]):
        ptr[i] = cursor
        if not active[i]:
            continue
        base = (i // block) * block
        px = pos[i, 0]
        py = pos[i, 1]
        vx = vel[i, 0]
        vy = vel[i, 1]
        speed = np.sqrt(vx * vx + vy * vy)
        for q in range(base, base + block):
            if q == i or not active[q]:
                continue
            ddx = pos[q, 0] - px
            ddy = pos[q, 1] - py
            if torus:
                ddx = _min_image(ddx, world, half)
                ddy = _min_image(ddy, world, half)
            d2 = ddx * ddx + ddy * ddy
            if not _sensed(ddx, ddy, d2, r2, vx, vy, speed, use_fov, cos_half_fov):
                continue
            _put_entry(cursor, idx.shape[0], idx, rel_pos, rel_vel, dist, q, ddx, ddy,
                       vel[q, 0] - vx, vel[q, 1] - vy, d2)  # fmt: skip
            cursor += 1
    ptr[pos.shape[0]] = cursor
    return cursor


@functools.lru_cache(maxsize=64)
def _empty_table(cls: type[NeighborTable], n_rows: int, dim: int = 2) -> NeighborTable:
    rows = np.arange(n_rows, dtype=np.int64)
    arrays = [np.zeros(n_rows + 1, np.int64), rows, rows.copy(), _EMPTY_I32,
              np.zeros((0, dim)), np.zeros((0, dim)), np.zeros(0)]  # fmt: skip
    for a in arrays:
        a.setflags(write=False)
    return cls(*arrays)


@numba.njit(cache=True)
def _segment_sum_to_rows(ptr, seg_row, values, out):
    for s in range(seg_row.shape[0]):
        row = seg_row[s]
        for e in range(ptr[s], ptr[s + 1]):
            for d in range(values.shape[1]):
                out[row, d] += values[e, d]


def segment_sum(ptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per-segment sums of ``values`` for CSR segment starts ``ptr`` (empty segments give 0)."""
    n_rows = len(ptr) - 1
    out_shape = (n_rows, *values.shape[1:])
    if values.shape[0] == 0:
        return np.zeros(out_shape, dtype=np.result_type(values.dtype, np.float64))
    # a zero row past the end keeps every start a valid index: clipping the starts of empty
    # trailing segments to the last entry instead cut that entry from the segment before them
    padded = np.concatenate([values, np.zeros((1, *values.shape[1:]), dtype=values.dtype)])
    sums = np.add.reduceat(padded, ptr[:-1], axis=0)
    empty = ptr[1:] == ptr[:-1]
    sums[empty] = 0
    return sums


def _entry_arrays(capacity: int, dim: int) -> tuple[np.ndarray, ...]:
    """Empty (idx, rel_pos, rel_vel, dist) for ``capacity`` entries and 10 % more (the count
    drifts step to step)."""
    capacity = int(capacity * 1.1) + 64
    return (np.empty(capacity, np.int32), np.empty((capacity, dim)), np.empty((capacity, dim)),
            np.empty(capacity), np.empty(capacity, np.int32))  # fmt: skip


class BufferPool:
    """Reuses the large per-step output arrays of the search, but only when they are free.

    Fresh arrays cost page faults on first write (measured: +1.7 ms per step at 10^4 agents,
    a third of the search). A buffer set is reused only when no table, observation or view
    anywhere still references it (checked by reference count), so a table a user kept is
    never overwritten; otherwise a new set is allocated.
    """

    def __init__(self, keep: int = 2):
        self.keep = keep
        self._sets: list[tuple[np.ndarray, ...]] = []
        self._stash: tuple[np.ndarray, ...] | None = None

    @staticmethod
    def _free(buffers: tuple[np.ndarray, ...]) -> bool:
        # references: the tuple, getrefcount's argument, the generator's loop variable
        return all(sys.getrefcount(b) <= 3 for b in buffers)

    def take(self, capacity: int, dim: int = 2) -> tuple[np.ndarray, ...]:
        """(idx, rel_pos, rel_vel, dist, seg) holding at least ``capacity`` entries of ``dim``
        coordinates."""
        for buffers in self._sets:
            if len(buffers[0]) >= capacity and buffers[1].shape[1] == dim and self._free(buffers):
                return buffers
        # every free set is too small (else it was returned): forget it rather than keep
        # it beside the new one (the first step's sets, sized before any hint, would
        # otherwise stay for the whole run)
        self._sets = [buffers for buffers in self._sets if not self._free(buffers)]
        buffers = _entry_arrays(capacity, dim)
        self._sets.append(buffers)
        if len(self._sets) > self.keep:
            self._sets.pop(0)  # forgotten here; freed once its last holder lets go
        return buffers

    def stash(self, capacity: int, dim: int = 2) -> tuple[np.ndarray, ...]:
        """Scratch (idx, rel_pos, rel_vel, dist, seg) of at least ``capacity`` entries for the
        parallel compaction, kept for the next step when ``keep`` allows (never handed out
        as a table, so always free)."""
        kept = self._stash
        if kept is not None and len(kept[0]) >= capacity and kept[1].shape[1] == dim:
            return kept
        kept = _entry_arrays(capacity, dim)
        if self.keep:
            self._stash = kept
        return kept


def grid_shape(world_size: float, radius: float, n_active: int, n_envs: int, torus: bool):
    """Cells per side and cell side: cells no smaller than ``radius``, at most ~4 per agent."""
    per_side = int(np.floor(world_size / radius)) if radius > 0 else 1
    cap = int(np.sqrt(max(4 * n_active, 1) / max(n_envs, 1)))
    per_side = max(1, min(per_side, max(cap, 1)))
    return per_side, world_size / per_side


@numba.njit(cache=True, inline="always")
def _rows_by_cell(cell, start):
    """The counting sort's second half: ``start`` (cell counts shifted by one) becomes the
    cell starts in place, and the rows (cell -1: none) are returned in cell order, each
    cell's rows ascending."""
    n_cells = start.shape[0] - 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    order = np.empty(start[n_cells], np.int64)
    for i in range(cell.shape[0]):
        c = cell[i]
        if c >= 0:
            order[fill[c]] = i
            fill[c] += 1
    return order


@numba.njit(cache=True)
def _bucket(pos, active, env, n_envs, per_side, cell_size):
    n = pos.shape[0]
    per_env = per_side * per_side
    n_cells = n_envs * per_env
    cell = np.full(n, -1, np.int64)
    start = np.zeros(n_cells + 1, np.int64)
    for i in range(n):
        if active[i]:
            cx = int(pos[i, 0] / cell_size)
            cy = int(pos[i, 1] / cell_size)
            cx = min(max(cx, 0), per_side - 1)
            cy = min(max(cy, 0), per_side - 1)
            c = env[i] * per_env + cy * per_side + cx
            cell[i] = c
            start[c + 1] += 1
    return cell, start, _rows_by_cell(cell, start)


@numba.njit(cache=True, inline="always")
def _scan_row(
    k, spos, svel, cell, start, order, per_side, r2, world, half, torus, small_torus, use_fov,
    cos_half_fov, stencil, shift, cursor, limit, idx, rel_pos, rel_vel, dist, seg, down,
):  # fmt: skip
    """Segment k (row ``order[k]``): its neighbours written from entry ``cursor`` on while
    below ``limit`` (past it only counted); returns the cursor after its last entry. The
    one definition of a row's entries and their order, for the serial and parallel scans.
    ``down`` (a literal, so each caller compiles one way): the candidates in reverse, each
    written below ``cursor`` while at or above ``limit``, so the same entries in the same
    order end at ``cursor``; returns where they start."""
    per_env = per_side * per_side
    c = cell[order[k]]
    env_base = (c // per_env) * per_env
    local = c - env_base
    cy = local // per_side
    cx = local - cy * per_side
    # the (up to 9) distinct cells around, each with the shift that unwraps the torus,
    # so the inner loop below has no wrap-around branches
    n_st = 0
    for dy in range(-1, 2):
        for dx in range(-1, 2):
            nx_ = cx + dx
            ny_ = cy + dy
            sx = 0.0
            sy = 0.0
            if torus:
                if nx_ < 0:
                    nx_ += per_side
                    sx = -world
                elif nx_ >= per_side:
                    nx_ -= per_side
                    sx = world
                if ny_ < 0:
                    ny_ += per_side
                    sy = -world
                elif ny_ >= per_side:
                    ny_ -= per_side
                    sy = world
            elif nx_ < 0 or ny_ < 0 or nx_ >= per_side or ny_ >= per_side:
                continue
            nc = env_base + ny_ * per_side + nx_
            dup = False
            for s in range(n_st):
                if stencil[s] == nc:
                    dup = True
                    break
            if not dup:
                stencil[n_st] = nc
                # a small torus unwraps by minimum image below instead
                shift[n_st, 0] = 0.0 if small_torus else sx
                shift[n_st, 1] = 0.0 if small_torus else sy
                n_st += 1
    px = spos[k, 0]
    py = spos[k, 1]
    vx = svel[k, 0]
    vy = svel[k, 1]
    speed = np.sqrt(vx * vx + vy * vy)
    for s_ in range(n_st):
        s = n_st - 1 - s_ if down else s_
        nc = stencil[s]
        ox = shift[s, 0] - px
        oy = shift[s, 1] - py
        first, stop = start[nc], start[nc + 1]
        for q_ in range(first, stop):
            q = first + stop - 1 - q_ if down else q_
            if q == k:
                continue
            ddx = spos[q, 0] + ox
            ddy = spos[q, 1] + oy
            if small_torus:  # fewer than 3 cells a side: a cell can be its own neighbour
                ddx = _min_image(ddx, world, half)
                ddy = _min_image(ddy, world, half)
            d2 = ddx * ddx + ddy * ddy
            if not _sensed(ddx, ddy, d2, r2, vx, vy, speed, use_fov, cos_half_fov):
                continue
            at = cursor - 1 if down else cursor
            if at >= limit if down else at < limit:
                _put_entry(at, at + 1, idx, rel_pos, rel_vel, dist, order[q], ddx, ddy,
                           svel[q, 0] - vx, svel[q, 1] - vy, d2)  # fmt: skip
                seg[at] = q
            cursor = at if down else at + 1
    return cursor


@numba.njit(cache=True)
def _scan(
    spos, svel, cell, start, order, per_side, radius, world, torus, use_fov, cos_half_fov,
    ptr, idx, rel_pos, rel_vel, dist, seg,
):  # fmt: skip
    """One pass over agents in cell order; segment k (row ``order[k]``) is written at ``ptr[k]``.

    ``spos``/``svel`` are positions and velocities in cell order (``pos[order]``), so both
    the reads and the writes stream through memory: that is what keeps 10^6 agents as cheap
    per agent as 10^4. Returns the number of entries found; when it exceeds the capacity of
    the output arrays, counting goes on without writing so the caller can retry exactly.
    """
    stencil = np.empty(9, np.int64)
    shift = np.zeros((9, 2))
    small_torus = torus and per_side < 3
    r2 = radius * radius
    cursor = 0
    for k in range(order.shape[0]):
        ptr[k] = cursor
        cursor = _scan_row(k, spos, svel, cell, start, order, per_side, r2, world, 0.5 * world,
                           torus, small_torus, use_fov, cos_half_fov, stencil, shift, cursor,
                           idx.shape[0], idx, rel_pos, rel_vel, dist, seg, False)  # fmt: skip
    ptr[order.shape[0]] = cursor
    return cursor


@numba.njit(cache=True, parallel=True)
def _scan_chunks(
    spos, svel, cell, start, order, per_side, radius, world, torus, use_fov, cos_half_fov,
    bounds, region, ptr, idx, rel_pos, rel_vel, dist, seg, counts, runs,
):  # fmt: skip
    """:func:`_scan` on threads: chunk c (segments ``bounds[c]:bounds[c + 1]``) writes into
    its own region ``region[c]:region[c + 1]`` of the output arrays, ``ptr`` relative to
    where its entries start; ``counts[c]`` is how many entries it found (more than its
    region holds: retry with bigger regions). A downward chunk
    (:func:`~swarm.threads.scans_downward`) scans its segments last to first, each written
    downward below the last: its entries end at its region's end, where its partner's
    begin. :func:`_compact` then closes the gaps between pairs. A thread scans a run of
    chunks (``runs``: :func:`~swarm.threads.even_runs`)."""
    small_torus = torus and per_side < 3
    r2 = radius * radius
    n_chunks = bounds.shape[0] - 1
    for r in numba.prange(runs.shape[0] - 1):
        stencil = np.empty(9, np.int64)
        shift = np.zeros((9, 2))
        for c in range(runs[r], runs[r + 1]):
            if scans_downward(c, n_chunks):
                top = region[c + 1]
                for k in range(bounds[c + 1] - 1, bounds[c] - 1, -1):
                    top = _scan_row(
                        k, spos, svel, cell, start, order, per_side, r2, world, 0.5 * world,
                        torus, small_torus, use_fov, cos_half_fov, stencil, shift, top,
                        region[c], idx, rel_pos, rel_vel, dist, seg, True,
                    )  # fmt: skip
                    ptr[k] = top
                counts[c] = region[c + 1] - top
                for k in range(bounds[c], bounds[c + 1]):
                    ptr[k] -= top
                continue
            cursor = region[c]
            for k in range(bounds[c], bounds[c + 1]):
                ptr[k] = cursor - region[c]
                cursor = _scan_row(
                    k, spos, svel, cell, start, order, per_side, r2, world, 0.5 * world, torus,
                    small_torus, use_fov, cos_half_fov, stencil, shift, cursor, region[c + 1],
                    idx, rel_pos, rel_vel, dist, seg, False,
                )  # fmt: skip
            counts[c] = cursor - region[c]


@numba.njit(cache=True, inline="always")
def _copy_entry(i, j, src_idx, src_pos, src_vel, src_dist, src_seg, dst_idx, dst_pos, dst_vel,
                dst_dist, dst_seg, three):  # fmt: skip
    """Entry i of the ``src`` arrays into entry j of the ``dst`` arrays; coordinates by name
    (a loop over them cost the 2-D compaction time)."""
    dst_idx[j] = src_idx[i]
    dst_seg[j] = src_seg[i]
    dst_pos[j, 0] = src_pos[i, 0]
    dst_pos[j, 1] = src_pos[i, 1]
    dst_vel[j, 0] = src_vel[i, 0]
    dst_vel[j, 1] = src_vel[i, 1]
    if three:
        dst_pos[j, 2] = src_pos[i, 2]
        dst_vel[j, 2] = src_vel[i, 2]
    dst_dist[j] = src_dist[i]


@numba.njit(cache=True, inline="always")
def _source_of(q, c, region, offset):
    """Where destination entry q of chunk c lies before the compaction."""
    return region[c] + q - offset[c]


@numba.njit(cache=True, parallel=True)
def _stash_sources(cut, chunk_at, stash_from, stash_at, region, offset, idx, rel_pos,
                   rel_vel, dist, seg, s_idx, s_pos, s_vel, s_dist, s_seg):  # fmt: skip
    """For each part t but the last, the sources of its destination entries
    ``stash_from[t]:cut[t + 1]`` copied to the stash at ``stash_at[t]``: they lie at or
    past ``cut[t + 1]``, where a later part writes."""
    three = rel_pos.shape[1] == 3
    for t in numba.prange(cut.shape[0] - 2):
        c = chunk_at[t]
        for q in range(stash_from[t], cut[t + 1]):
            while q >= offset[c + 1]:
                c += 1
            _copy_entry(_source_of(q, c, region, offset), stash_at[t] + q - stash_from[t],
                        idx, rel_pos, rel_vel, dist, seg, s_idx, s_pos, s_vel, s_dist,
                        s_seg, three)  # fmt: skip


@numba.njit(cache=True, parallel=True)
def _move_entries(cut, chunk_at, stash_from, stash_at, region, offset, idx, rel_pos, rel_vel,
                  dist, seg, s_idx, s_pos, s_vel, s_dist, s_seg):  # fmt: skip
    """Part t writes destination entries ``cut[t]:cut[t + 1]``, in order, each from its
    source, or from the stash from ``stash_from[t]`` on (:func:`_stash_sources` filled it
    first). No other part writes there, and it reads nothing another part writes: a source
    never lies before its destination (``offset[c] <= region[c]``), earlier parts write
    below ``cut[t]``, and what lies at or past ``cut[t + 1]`` comes from the stash. Within
    a part the forward copy is safe as in a serial compaction."""
    three = rel_pos.shape[1] == 3
    for t in numba.prange(cut.shape[0] - 1):
        c = chunk_at[t]
        for q in range(cut[t], cut[t + 1]):
            while q >= offset[c + 1]:
                c += 1
            if q < stash_from[t]:
                _copy_entry(_source_of(q, c, region, offset), q, idx, rel_pos, rel_vel, dist,
                            seg, idx, rel_pos, rel_vel, dist, seg, three)  # fmt: skip
            else:
                _copy_entry(stash_at[t] + q - stash_from[t], q, s_idx, s_pos, s_vel, s_dist,
                            s_seg, idx, rel_pos, rel_vel, dist, seg, three)  # fmt: skip


def _absolute_ptr(bounds, offset, ptr):
    """Each chunk's segment starts made absolute (they were relative to its region)."""
    for c in numba.prange(bounds.shape[0] - 1):
        for k in range(bounds[c], bounds[c + 1]):
            ptr[k] += offset[c]


_absolute_ptr_serial, _absolute_ptr_parallel = serial_and_parallel(_absolute_ptr)


# the most stash, as a share of the table's entries, the compaction may copy aside. Part t
# stashes the sources of its last entries that lie where part t + 1 writes: as many as the
# regions' slack before them (with the engine's hint, 26 % over each chunk's count). At 10^6
# drones, before the chunks went in pairs: 13 % of the table for two parts (the scan's
# chunks for two threads); with chunks for 16 threads, 10 % for two parts and 19 % for
# three, past a quarter for four, so the compaction moves on two or three threads whatever
# their count
STASH_SHARE = 0.25


def _compaction_parts(region: np.ndarray, offset: np.ndarray, most: int):
    """The destination entries that move (from the first non-empty chunk whose region
    starts past its offset), cut into at most ``most`` parts of about equal entries: (cut
    (P + 1,), each part's first chunk, where its stashed entries start, where they go in the
    stash). Parts are added one at a time while the stash stays within
    :data:`STASH_SHARE` of the entries (it grows with the parts: counting down from a
    many-core machine's thread count cost milliseconds a step)."""
    n_chunks, m = len(offset) - 1, int(offset[-1])
    moved = np.flatnonzero((region[:-1] != offset[:-1]) & (offset[1:] > offset[:-1]))
    start = int(offset[moved[0]]) if len(moved) else m
    shift = region[:-1] - offset[:-1]  # per chunk: how far its entries move down
    plan = None
    for parts in range(1, max(min(most, m - start), 1) + 1):
        cut = np.unique(np.linspace(start, m, parts + 1).round().astype(np.int64))
        if len(cut) == 1:  # nothing moves
            cut = np.array([m, m], np.int64)
        chunk_at = np.searchsorted(offset, cut[:-1], side="right") - 1
        chunk_at = np.minimum(chunk_at, n_chunks - 1)
        # the first entry of each part whose source lies at or past the next cut: sources
        # rise with the entry, so per chunk it is max(offset, next cut - shift), clipped
        stash_from = cut[1:].copy()
        for t in range(len(cut) - 2):
            lo, hi = chunk_at[t], np.searchsorted(offset, cut[t + 1], side="left")
            first = np.maximum(offset[lo:hi], cut[t + 1] - shift[lo:hi])
            first = first[(first < offset[lo + 1 : hi + 1]) & (first < cut[t + 1])]
            if len(first):
                stash_from[t] = max(int(first.min()), int(cut[t]))
        sizes = cut[1:] - stash_from
        if parts > 1 and sizes.sum() > STASH_SHARE * m:
            break
        stash_at = np.zeros(len(sizes), np.int64)
        np.cumsum(sizes[:-1], out=stash_at[1:])
        plan = cut, chunk_at, stash_from, stash_at
    return plan


def _compact(bounds, region, offset, ptr, out, pool, most_parts, base=0):
    """Chunk c's entries moved down from ``region[c]`` to ``offset[c]`` of the same arrays
    and its segments' ``ptr`` made absolute, counted from ``base`` (where the table will
    start): the serial scan's layout, whatever the chunking. In place, on numba's
    threads: the entries that move (none on two threads; the chunks after the first pair's
    with one chunk per thread, :func:`_scan_parallel`) are cut into parts of equal size,
    one per thread; the sources of a part's last entries, which the next part's writes
    would cover, are first copied to a stash (at most :data:`STASH_SHARE`, so two or three
    parts on any thread count), not the whole table to a second one, which would double
    the memory at 10^7. At most ``most_parts`` parts."""
    cut, chunk_at, stash_from, stash_at = _compaction_parts(region, offset, most_parts)
    size = int(stash_at[-1] + cut[-1] - stash_from[-1])
    source = pool if pool is not None else BufferPool(keep=0)
    stash = source.stash(size, out[1].shape[1])
    args = (cut, chunk_at, stash_from, stash_at, region, offset, *out, *stash)
    _stash_sources(*args)
    _move_entries(*args)
    fix = _absolute_ptr_parallel if most_parts > 1 else _absolute_ptr_serial
    fix(bounds, offset - base, ptr)


# Rows per chunk of the parallel scan at most; None: one chunk per thread, the fewest for
# the compaction to move (the first pair's entries stay where they are). The tests set it
# small, for many chunks. (swarm.threads decides when the parallel scan pays: below, one
# thread's scan beats starting threads and moving the entries once more.)
SCAN_CHUNK: int | None = None


def _scan_parallel(
    chunks: Callable[..., None], args: tuple, n_seg: int, ptr: np.ndarray, capacity: int,
    pool: BufferPool | None, dim: int = 2,
) -> tuple[int, tuple[np.ndarray, ...]]:  # fmt: skip
    """The entries of a serial scan, bit for bit, found by ``chunks`` (:func:`_scan_chunks`,
    :func:`_scan_chunks_3d`: called with ``*args, bounds, region, ptr, *out, counts,
    runs``) on numba's threads over ``n_seg`` segments, each chunk into its own region of
    the output arrays (sized by its share of the rows, 20 % over); returns the count and
    the output arrays cut to the table. Chunks go in pairs that meet at the boundary of
    their regions, the first scanning downward (:func:`~swarm.threads.scans_downward`), so
    a pair's entries lie back to back where they were written: with one chunk per thread,
    two threads move nothing, and more move the pairs after the first down onto it, in
    place on the threads (:func:`_compact`): the table costs 20 % more memory than the
    serial scan's, and a stash of at most a quarter of it, not a second copy. One driver
    for both dimensions, so the chunking and the retry are the same in 2-D and 3-D."""
    threads = numba.get_num_threads()
    n_chunks = threads if SCAN_CHUNK is None else max(threads, -(-n_seg // SCAN_CHUNK))
    bounds = np.linspace(0, n_seg, n_chunks + 1).round().astype(np.int64)
    sizes = np.diff(bounds)
    per_row = capacity / max(n_seg, 1)
    want = (sizes * per_row * 1.2).astype(np.int64) + 64
    counts = np.zeros(len(sizes), np.int64)
    runs = even_runs(bounds, threads)
    while True:  # a region that fills up is retried once, sized by its count
        region = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(want, out=region[1:])
        source = pool if pool is not None else BufferPool(keep=0)
        out = source.take(int(region[-1]), dim)
        chunks(*args, bounds, region, ptr, *out, counts, runs)
        if (counts <= want).all():
            break
        # the same headroom as a hinted step, so the next step reuses these buffers
        want = np.maximum(want, (counts * 1.2).astype(np.int64) + 64)
        out = None  # the short set is free to go
    # where each chunk's entries start: a downward chunk's end at its region's end
    first = region.copy()
    down = np.array([scans_downward(c, n_chunks) for c in range(n_chunks)], bool)
    first[:-1][down] = region[1:][down] - counts[down]
    base = int(first[0])  # the table starts with the first chunk's entries
    offset = base + np.concatenate([[0], np.cumsum(counts)])  # where each chunk's go
    m = int(offset[-1]) - base
    _compact(bounds, first, offset, ptr, out, pool, threads, base)
    ptr[n_seg] = m
    return m, tuple(array[base : base + m] for array in out)


def _fill_owners(ptr, seg_row, out):
    """``out[ptr[s] - ptr[0]:ptr[s + 1] - ptr[0]] = seg_row[s]`` for every segment s (each
    writes its own entries: any thread count, the same array as numpy's repeat)."""
    for s in numba.prange(seg_row.shape[0]):
        row = seg_row[s]
        for e in range(ptr[s] - ptr[0], ptr[s + 1] - ptr[0]):
            out[e] = row


_fill_owner, _fill_owner_parallel = serial_and_parallel(_fill_owners)


def _gather_rows(pos, vel, order):
    """``pos[order]`` and ``vel[order]`` of (R, 2) or (R, 3) rows, each row copied alone
    (any thread count, the same arrays as numpy's gather). One loop per width, coordinates
    by name: a loop over them made the 2-D gather 40 % slower at 10^6 rows."""
    dim = pos.shape[1]
    spos = np.empty((order.shape[0], dim))
    svel = np.empty((order.shape[0], dim))
    if dim == 2:
        for k in numba.prange(order.shape[0]):
            i = order[k]
            spos[k, 0] = pos[i, 0]
            spos[k, 1] = pos[i, 1]
            svel[k, 0] = vel[i, 0]
            svel[k, 1] = vel[i, 1]
    else:
        for k in numba.prange(order.shape[0]):
            i = order[k]
            spos[k, 0] = pos[i, 0]
            spos[k, 1] = pos[i, 1]
            spos[k, 2] = pos[i, 2]
            svel[k, 0] = vel[i, 0]
            svel[k, 1] = vel[i, 1]
            svel[k, 2] = vel[i, 2]
    return spos, svel


_gather_pairs, _gather_pairs_parallel = serial_and_parallel(_gather_rows)


def radius_neighbors(
    pos: np.ndarray,
    vel: np.ndarray,
    active: np.ndarray,
    env: np.ndarray,
    n_envs: int,
    world_size: float,
    torus: bool,
    radius: float,
    fov_deg: float = 360.0,
    capacity_hint: int = 0,
    pool: BufferPool | None = None,
) -> NeighborTable:
    """Every active row's active neighbours within ``radius`` (and its field of view).

    Args:
        pos: (R, 2) positions in [0, world_size]; vel: (R, 2) velocities (heading for the FOV).
            (R, 3) for both: the 3-D search (:func:`_radius_neighbors_3d`, no field of view).
        active: (R,) bool, rows that sense and can be sensed (crashed agents are not active).
        env: (R,) int environment index of each row; rows of different envs never meet.
        fov_deg: field of view centred on the velocity; 360 disables it. A row at rest sees
            all around (it has no heading).
        capacity_hint: expected number of entries (e.g. last step's); a good hint makes the
            search a single pass, a bad one costs a second pass, never a wrong answer.
        pool: where to take output arrays from (the engine keeps one); None allocates.
    """
    n_rows = pos.shape[0]
    n_active = int(np.count_nonzero(active))
    if n_active == 0 or radius <= 0:
        return NeighborTable.empty(n_rows, pos.shape[1])
    if pos.shape[1] == 3:
        if fov_deg < 360.0:
            raise ValueError("fov_deg: the 3-D search has no field of view; use 360")
        return _radius_neighbors_3d(pos, vel, active, env, n_envs, world_size, torus, radius,
                                    n_active, capacity_hint, pool)  # fmt: skip
    block = n_rows // max(n_envs, 1)
    if _dense_pays(block) and _env_blocks(env, n_envs, block):
        return _dense_neighbors(pos, vel, active, block, world_size, torus, radius, fov_deg,
                                n_active, capacity_hint, pool)  # fmt: skip
    per_side, cell_size = grid_shape(world_size, radius, n_active, n_envs, torus)
    cell, start, order = _bucket(pos, active, env, n_envs, per_side, cell_size)
    # numpy's fancy indexing of (R, 2) rows costs 5x a compiled copy at 10^6 rows
    gather = _gather_pairs_parallel if parallel_pays(n_active) else _gather_pairs
    spos, svel = gather(np.ascontiguousarray(pos), np.ascontiguousarray(vel), order)
    use_fov = fov_deg < 360.0
    cos_half = math.cos(math.radians(fov_deg) / 2.0)
    args = (spos, svel, cell, start, order, per_side, float(radius), float(world_size), torus)
    capacity = max(int(capacity_hint), 16 * n_active // 10 + 64)
    # inactive rows get empty segments after the active ones
    ptr = np.empty(n_rows + 1, np.int64)
    if parallel_pays(n_active):
        m, (idx, rel_pos, rel_vel, dist, seg) = _scan_parallel(
            _scan_chunks, (*args, use_fov, cos_half), order.shape[0], ptr, capacity, pool
        )
    else:
        while True:
            if pool is not None:
                idx, rel_pos, rel_vel, dist, seg = pool.take(capacity)
            else:
                idx, rel_pos, rel_vel, dist, seg = BufferPool(keep=0).take(capacity)
            m = _scan(*args, use_fov, cos_half, ptr, idx, rel_pos, rel_vel, dist, seg)
            if m <= len(idx):
                break
            capacity = int(m * 1.25)
            idx = rel_pos = rel_vel = dist = seg = None  # the short set is free to go
    return _cell_order_table(ptr, order, active, m, idx, rel_pos, rel_vel, dist, seg)


def _cell_order_table(
    ptr: np.ndarray, order: np.ndarray, active: np.ndarray, m: int, idx: np.ndarray,
    rel_pos: np.ndarray, rel_vel: np.ndarray, dist: np.ndarray, seg: np.ndarray,
) -> NeighborTable:  # fmt: skip
    """The table of a grid scan's first ``m`` entries: segments of the active rows in cell
    ``order``, then empty segments of the inactive rows."""
    n_rows, n_active = active.shape[0], order.shape[0]
    ptr[n_active:] = m
    seg_row = np.concatenate([order, np.flatnonzero(~active)]) if n_active < n_rows else order
    row_seg = np.empty(n_rows, np.int64)
    if parallel_pays(n_rows):  # numpy's scatter was 2 ms of a 10^6-drone step
        _invert_on_the_pool(seg_row, row_seg)
    else:
        row_seg[seg_row] = np.arange(n_rows)
    return NeighborTable(ptr, seg_row, row_seg, idx[:m], rel_pos[:m], rel_vel[:m], dist[:m],
                         seg=seg[:m])  # fmt: skip


@numba.njit(cache=True, parallel=True)
def _invert_on_the_pool(seg_row, out):
    """``out[seg_row[s]] = s`` for every segment (a permutation: no two write one row)."""
    for s in numba.prange(seg_row.shape[0]):
        out[seg_row[s]] = s


# ------------------------------------------------------------------------ 3-D
# The same cell grid in a cube (dim = 3): cells of side >= the radius, each agent scans the
# 3 x 3 x 3 block of cells around its own, agents bucketed by a counting sort and visited in
# cell order (x fastest, then y, then z) so that reads and writes stream through memory.
# Large swarms scan on threads through the 2-D path's driver (:func:`_scan_parallel`,
# :func:`_compact`, :func:`_gather_rows`); there is no small-env (dense) variant in 3-D.

# cells of side >= radius / REACH_3D, each agent scanning the (2 REACH_3D + 1)^3 block around
# its own: 1 is the 3 x 3 x 3 block of cells of side >= radius (27 r^3 of candidates for a
# ball of 4.2 r^3), 2 the 5 x 5 x 5 block of half-size cells (15.6 r^3)
REACH_3D = 1


def grid_shape_3d(
    world_size: float, radius: float, n_active: int, n_envs: int, reach: int = REACH_3D
) -> tuple[int, float]:
    """Cells per side and cell side of the cube: cells no smaller than ``radius / reach``
    (so the block within ``reach`` cells covers the ball), at most ~4 per agent (a sparse
    swarm in a big cube would otherwise scan empty cells)."""
    per_side = int(np.floor(world_size * reach / radius)) if radius > 0 else 1
    cap = int(np.cbrt(max(4 * n_active, 1) / max(n_envs, 1)))
    per_side = max(1, min(per_side, max(cap, 1)))
    return per_side, world_size / per_side


@numba.njit(cache=True)
def _bucket_3d(pos, active, env, n_envs, per_side, cell_size):
    """Counting sort of active rows by cell: (cell of each row or -1, cell starts, rows in
    cell order). Cell ``env * per_side^3 + (cz * per_side + cy) * per_side + cx``."""
    n = pos.shape[0]
    per_env = per_side * per_side * per_side
    n_cells = n_envs * per_env
    cell = np.full(n, -1, np.int64)
    start = np.zeros(n_cells + 1, np.int64)
    top = per_side - 1
    for i in range(n):
        if active[i]:
            cx = min(max(int(pos[i, 0] / cell_size), 0), top)
            cy = min(max(int(pos[i, 1] / cell_size), 0), top)
            cz = min(max(int(pos[i, 2] / cell_size), 0), top)
            c = env[i] * per_env + (cz * per_side + cy) * per_side + cx
            cell[i] = c
            start[c + 1] += 1
    return cell, start, _rows_by_cell(cell, start)


@numba.njit(cache=True, inline="always")
def _wrap_cell(n, per_side, world):
    """A neighbouring cell index along one axis of a torus, wrapped, and the shift (-world,
    0 or world) that unwraps positions read from it."""
    if n < 0:
        return n + per_side, -world
    if n >= per_side:
        return n - per_side, world
    return n, 0.0


@numba.njit(cache=True)
def _block_ranges_3d(c, per_side, reach, world, torus, start, lo, hi, shift):
    """The agents of the cells within ``reach`` cells of cell ``c`` along each axis (a block
    of (2 reach + 1)^3) as ranges ``lo[t]:hi[t]`` of the cell-ordered rows, each with the
    shift that unwraps the torus; returns how many. The cells of a row along x are adjacent
    in cell order, so each row is one range (split where the torus wraps). On a torus of
    fewer than 2 reach + 1 cells a side, each distinct cell is one range, unshifted (the
    scan then unwraps by minimum image)."""
    per_env = per_side * per_side * per_side
    env_base = (c // per_env) * per_env
    local = c - env_base
    cz = local // (per_side * per_side)
    cy = (local // per_side) % per_side
    cx = local % per_side
    n = 0
    if torus and per_side < 2 * reach + 1:
        for dz in range(-reach, reach + 1):
            for dy in range(-reach, reach + 1):
                for dx in range(-reach, reach + 1):
                    nz = (cz + dz) % per_side
                    ny = (cy + dy) % per_side
                    nc = env_base + (nz * per_side + ny) * per_side + (cx + dx) % per_side
                    dup = False
                    for t in range(n):
                        if lo[t] == start[nc] and hi[t] == start[nc + 1]:
                            dup = True
                            break
                    if not dup and start[nc + 1] > start[nc]:  # distinct non-empty cells
                        lo[n] = start[nc]
                        hi[n] = start[nc + 1]
                        shift[n, 0] = shift[n, 1] = shift[n, 2] = 0.0
                        n += 1
        return n
    for dz in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            ny, sy = cy + dy, 0.0
            nz, sz = cz + dz, 0.0
            if torus:
                ny, sy = _wrap_cell(ny, per_side, world)
                nz, sz = _wrap_cell(nz, per_side, world)
            elif ny < 0 or nz < 0 or ny >= per_side or nz >= per_side:
                continue
            row = env_base + (nz * per_side + ny) * per_side
            x0, x1 = cx - reach, cx + reach
            if x0 < 0:
                if torus:  # the row's last cells, seen across the seam
                    lo[n], hi[n] = start[row + per_side + x0], start[row + per_side]
                    shift[n, 0], shift[n, 1], shift[n, 2] = -world, sy, sz
                    n += 1
                x0 = 0
            if x1 >= per_side:
                if torus:  # the row's first cells, seen across the seam
                    lo[n], hi[n] = start[row], start[row + x1 - per_side + 1]
                    shift[n, 0], shift[n, 1], shift[n, 2] = world, sy, sz
                    n += 1
                x1 = per_side - 1
            lo[n], hi[n] = start[row + x0], start[row + x1 + 1]
            shift[n, 0], shift[n, 1], shift[n, 2] = 0.0, sy, sz
            n += 1
    return n


@numba.njit(cache=True, inline="always")
def _scan_row_3d(
    k, spos, svel, order, n_ranges, lo, hi, shift, r2, world, half, small_torus,
    cursor, limit, idx, rel_pos, rel_vel, dist, seg, down,
):  # fmt: skip
    """Segment k (row ``order[k]``): the rows within range in the ``n_ranges`` ranges of its
    cell's block (:func:`_block_ranges_3d`), written from entry ``cursor`` on while below
    ``limit`` (past it only counted); returns the cursor after its last entry. The one
    definition of a row's entries and their order, for the serial and parallel scans;
    ``down`` as for :func:`_scan_row`."""
    px = spos[k, 0]
    py = spos[k, 1]
    pz = spos[k, 2]
    vx = svel[k, 0]
    vy = svel[k, 1]
    vz = svel[k, 2]
    for t_ in range(n_ranges):
        t = n_ranges - 1 - t_ if down else t_
        ox = shift[t, 0] - px
        oy = shift[t, 1] - py
        oz = shift[t, 2] - pz
        for q_ in range(lo[t], hi[t]):
            q = lo[t] + hi[t] - 1 - q_ if down else q_
            if q == k:
                continue
            ddx = spos[q, 0] + ox
            ddy = spos[q, 1] + oy
            ddz = spos[q, 2] + oz
            if small_torus:
                ddx = _min_image(ddx, world, half)
                ddy = _min_image(ddy, world, half)
                ddz = _min_image(ddz, world, half)
            d2 = ddx * ddx + ddy * ddy + ddz * ddz
            if d2 > r2:
                continue
            at = cursor - 1 if down else cursor
            if at >= limit if down else at < limit:
                idx[at] = order[q]
                rel_pos[at, 0] = ddx
                rel_pos[at, 1] = ddy
                rel_pos[at, 2] = ddz
                rel_vel[at, 0] = svel[q, 0] - vx
                rel_vel[at, 1] = svel[q, 1] - vy
                rel_vel[at, 2] = svel[q, 2] - vz
                dist[at] = np.sqrt(d2)
                seg[at] = q
            cursor = at if down else at + 1
    return cursor


@numba.njit(cache=True)
def _scan_3d(
    spos, svel, cell, start, order, per_side, reach, radius, world, torus,
    ptr, idx, rel_pos, rel_vel, dist, seg,
):  # fmt: skip
    """:func:`_scan` in 3-D: segment k (row ``order[k]``) lists the rows within ``radius`` in
    the cells within ``reach`` of its own (:func:`_block_ranges_3d`), written at ``ptr[k]``.
    Past the output's capacity it counts without writing, so the caller can retry with the
    exact size."""
    side = 2 * reach + 1
    lo = np.empty(side * side * side, np.int64)
    hi = np.empty(side * side * side, np.int64)
    shift = np.zeros((side * side * side, 3))
    # a cell can be reached twice across the seam: each once, by minimum image
    small_torus = torus and per_side < side
    r2 = radius * radius
    half = 0.5 * world
    limit = idx.shape[0]
    cursor = 0
    n_ranges = 0
    last = -1
    for k in range(order.shape[0]):
        ptr[k] = cursor
        c = cell[order[k]]
        if c != last:  # rows come in cell order: the block changes once per cell
            last = c
            n_ranges = _block_ranges_3d(c, per_side, reach, world, torus, start, lo, hi, shift)
        cursor = _scan_row_3d(k, spos, svel, order, n_ranges, lo, hi, shift, r2, world, half,
                              small_torus, cursor, limit, idx, rel_pos, rel_vel, dist, seg,
                              False)  # fmt: skip
    ptr[order.shape[0]] = cursor
    return cursor


@numba.njit(cache=True, parallel=True)
def _scan_chunks_3d(
    spos, svel, cell, start, order, per_side, reach, radius, world, torus,
    bounds, region, ptr, idx, rel_pos, rel_vel, dist, seg, counts, runs,
):  # fmt: skip
    """:func:`_scan_3d` on threads, as :func:`_scan_chunks` is :func:`_scan`: chunk c
    (segments ``bounds[c]:bounds[c + 1]``) writes into its own region
    ``region[c]:region[c + 1]`` (upward, or downward from its end:
    :func:`~swarm.threads.scans_downward`), ``ptr`` relative to where its entries start,
    and counts its entries in ``counts[c]``; :func:`_compact` then closes the gaps between
    pairs. Each chunk keeps its own block ranges (a function of the cell alone, so the
    entries do not depend on where a chunk starts or which way it goes). A thread scans a
    run of chunks (``runs``)."""
    side = 2 * reach + 1
    small_torus = torus and per_side < side
    r2 = radius * radius
    half = 0.5 * world
    n_chunks = bounds.shape[0] - 1
    for r in numba.prange(runs.shape[0] - 1):
        for c in range(runs[r], runs[r + 1]):
            lo = np.empty(side * side * side, np.int64)
            hi = np.empty(side * side * side, np.int64)
            shift = np.zeros((side * side * side, 3))
            down = scans_downward(c, n_chunks)
            cursor = region[c + 1] if down else region[c]
            n_ranges = 0
            last = -1
            for j in range(bounds[c], bounds[c + 1]):
                k = bounds[c + 1] - 1 - (j - bounds[c]) if down else j
                cell_k = cell[order[k]]
                if cell_k != last:
                    last = cell_k
                    n_ranges = _block_ranges_3d(cell_k, per_side, reach, world, torus, start, lo,
                                                hi, shift)  # fmt: skip
                if down:
                    cursor = _scan_row_3d(k, spos, svel, order, n_ranges, lo, hi, shift, r2,
                                          world, half, small_torus, cursor, region[c], idx,
                                          rel_pos, rel_vel, dist, seg, True)  # fmt: skip
                    ptr[k] = cursor
                else:
                    ptr[k] = cursor - region[c]
                    cursor = _scan_row_3d(k, spos, svel, order, n_ranges, lo, hi, shift, r2,
                                          world, half, small_torus, cursor, region[c + 1], idx,
                                          rel_pos, rel_vel, dist, seg, False)  # fmt: skip
            if down:
                counts[c] = region[c + 1] - cursor
                for k in range(bounds[c], bounds[c + 1]):
                    ptr[k] -= cursor
            else:
                counts[c] = cursor - region[c]


def _radius_neighbors_3d(
    pos: np.ndarray, vel: np.ndarray, active: np.ndarray, env: np.ndarray, n_envs: int,
    world_size: float, torus: bool, radius: float, n_active: int, capacity_hint: int,
    pool: BufferPool | None,
) -> NeighborTable:  # fmt: skip
    """:func:`radius_neighbors` for (R, 3) positions: the cube's cell grid, on threads where
    :func:`~swarm.threads.parallel_pays` (the 2-D driver :func:`_scan_parallel`, the same
    table bit for bit), else serial."""
    per_side, cell_size = grid_shape_3d(world_size, radius, n_active, n_envs, REACH_3D)
    cell, start, order = _bucket_3d(pos, active, env, n_envs, per_side, cell_size)
    threaded = parallel_pays(n_active)
    gather = _gather_pairs_parallel if threaded else _gather_pairs
    spos, svel = gather(np.ascontiguousarray(pos), np.ascontiguousarray(vel), order)
    args = (spos, svel, cell, start, order, per_side, REACH_3D, float(radius),
            float(world_size), bool(torus))  # fmt: skip
    capacity = max(int(capacity_hint), 16 * n_active // 10 + 64)
    ptr = np.empty(pos.shape[0] + 1, np.int64)
    if threaded:
        m, (idx, rel_pos, rel_vel, dist, seg) = _scan_parallel(
            _scan_chunks_3d, args, order.shape[0], ptr, capacity, pool, 3
        )
        return _cell_order_table(ptr, order, active, m, idx, rel_pos, rel_vel, dist, seg)
    while True:
        source = pool if pool is not None else BufferPool(keep=0)
        idx, rel_pos, rel_vel, dist, seg = source.take(capacity, 3)
        m = _scan_3d(*args, ptr, idx, rel_pos, rel_vel, dist, seg)
        if m <= len(idx):
            break
        capacity = int(m * 1.25)
        idx = rel_pos = rel_vel = dist = seg = None  # the short set is free to go
    return _cell_order_table(ptr, order, active, m, idx, rel_pos, rel_vel, dist, seg)


@numba.njit(cache=True)
def _k_smallest(ptr, key, k, out):
    for i in range(ptr.shape[0] - 1):
        a = ptr[i]
        b = ptr[i + 1]
        if b == a:
            continue
        seg = np.argsort(key[a:b], kind="mergesort")
        for t in range(min(k, b - a)):
            out[i, t] = a + seg[t]


def k_smallest_per_row(ptr: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """(R, k) entry positions of the k smallest ``key`` per CSR row, ascending; -1 pads.

    Ties keep the table's order (stable), so the result is deterministic.
    """
    out = np.full((len(ptr) - 1, k), -1, np.int64)
    if k > 0 and len(key):
        _k_smallest(ptr, np.ascontiguousarray(key, dtype=np.float64), k, out)
    return out


def brute_force_neighbors(
    pos: np.ndarray,
    vel: np.ndarray,
    active: np.ndarray,
    env: np.ndarray,
    world_size: float,
    torus: bool,
    radius: float,
    fov_deg: float = 360.0,
) -> set[tuple[int, int]]:
    """All-pairs reference (O(R^2)) of the directed pairs (i, j) that i senses; for tests.
    Any number of coordinates (positions (R, 2) or (R, 3)); the field of view is a cone."""
    d = pos[None, :, :] - pos[:, None, :]  # d[i, j] = pos[j] - pos[i]
    if torus:
        half = world_size / 2
        d = np.where(d > half, d - world_size, np.where(d < -half, d + world_size, d))
    d2 = (d**2).sum(-1)
    ok = (d2 <= radius * radius) & active[:, None] & active[None, :]
    ok &= env[:, None] == env[None, :]
    np.fill_diagonal(ok, False)
    if fov_deg < 360.0:
        speed = np.linalg.norm(vel, axis=1)
        dist = np.sqrt(d2)
        dot = (d * vel[:, None, :]).sum(-1)
        cos_half = np.cos(np.deg2rad(fov_deg) / 2)
        visible = (dot >= cos_half * dist * speed[:, None]) | (speed[:, None] == 0) | (dist == 0)
        ok &= visible
    i, j = np.nonzero(ok)
    return set(zip(i.tolist(), j.tolist(), strict=True))
