"""Distance fields on the static map: breadth-first search from a goal, cached per goal.

Every robot knows the map (League rules), so the exact shortest-path distance from any cell
to its goal is local knowledge; so is a guidance graph's cost-to-goal (a bank built with
``guidance`` keeps one beside each BFS field, :class:`GuidedFields`,
:mod:`swarm.grid.guidance`). A :class:`DistanceBank` keeps one field per goal cell in a
2-D array (slot x free cell), so a batch of robots reads its distances with one gather,
without a Python loop over robots; fields are computed by a numba BFS (about 0.2 ms on a
140 x 500 League map) and evicted least-recently-used when the memory budget is reached,
never while a robot still uses them.

:func:`free_flow_tasks` is the free-flow bound of a League task stream: how many tasks each
robot would finish in T steps if it were alone on the map (each task takes
``max(1, distance)`` steps: a robot standing on its next task finishes it on the next step).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import numba
import numpy as np

from swarm.grid.guidance import fields_chunks, guided_fields, incoming_costs
from swarm.grid.maps import GridMap
from swarm.threads import serial_and_parallel


@numba.njit(cache=True)
def _bfs_into(nbr, goal, out, queue, unreached):
    """Hop distances from free cell ``goal`` into ``out`` (F,), ``unreached`` where none."""
    out[:] = unreached
    out[goal] = 0
    queue[0] = goal
    head = 0
    tail = 1
    while head < tail:
        u = queue[head]
        head += 1
        du = out[u] + 1
        for k in range(1, 5):
            v = nbr[u, k]
            if v >= 0 and out[v] == unreached:
                out[v] = du
                queue[tail] = v
                tail += 1


def _bfs_chunks(nbr, goals, slots, bank, unreached, n_chunks):
    """BFS fields of ``goals`` into rows ``slots`` of ``bank`` (distinct), in ``n_chunks``
    interleaved chunks with a queue each: every field depends on its goal alone."""
    for c in numba.prange(n_chunks):
        queue = np.empty(nbr.shape[0], np.int64)
        for i in range(c, goals.shape[0], n_chunks):
            _bfs_into(nbr, goals[i], bank[slots[i]], queue, unreached)


_bfs_serial, _bfs_parallel = serial_and_parallel(_bfs_chunks)


def bfs_fields(nbr: np.ndarray, goals: np.ndarray, slots: np.ndarray, bank: np.ndarray,
               unreached: int) -> None:  # fmt: skip
    """Write the BFS fields of free-index ``goals`` into the distinct rows ``slots`` of
    ``bank``, on the thread pool when there is enough of it (:func:`fields_chunks`)."""
    chunks = fields_chunks(len(goals), nbr.shape[0])
    kernel = _bfs_parallel if chunks > 1 else _bfs_serial
    kernel(nbr, goals, slots, bank, unreached, chunks)


@numba.njit(cache=True)
def _pair_distances(nbr, goals, ptr, pair_order, sources, out, unreached):
    """out[p] = distance(goal of pair p, sources[p]); pairs grouped by goal through ptr."""
    field = np.empty(nbr.shape[0], np.int64)
    queue = np.empty(nbr.shape[0], np.int64)
    for g in range(goals.shape[0]):
        _bfs_into(nbr, goals[g], field, queue, unreached)
        for q in range(ptr[g], ptr[g + 1]):
            p = pair_order[q]
            out[p] = field[sources[p]]


def bfs(grid: GridMap, goal_cell: int) -> np.ndarray:
    """(H, W) int64 hop distances to ``goal_cell`` (linear index); -1 where unreachable."""
    fid = int(grid.free_id[goal_cell])
    if fid < 0:
        raise ValueError(f"goal cell {goal_cell} is an obstacle")
    field = np.empty(len(grid.free_cells), np.int64)
    unreached = np.iinfo(np.int64).max
    _bfs_into(grid.neighbors, fid, field, np.empty(len(field), np.int64), unreached)
    out = np.full(grid.n_cells, -1, np.int64)
    out[grid.free_cells] = np.where(field == unreached, -1, field)
    return out.reshape(grid.height, grid.width)


class DistanceBank:
    """Cached BFS fields, one row per goal, indexed by free-cell index (see module docstring).

    Args:
        grid: the static map.
        max_mb: memory budget for the fields (MiB); the bank grows up to it, then evicts the
            least recently used fields that no robot is using. It exceeds the budget, rather
            than fail, when more distinct goals are in use at once than fit.
        guidance: (F, 5) move costs of a guidance graph (:mod:`swarm.grid.guidance`), or
            None. With it the bank also keeps, in the same slot as each BFS field, the goal's
            guided cost-to-goal field (``guided``, read through :attr:`guide`); the BFS fields
            stay the true hop distances (metrics, free-flow bounds, allocation).
    """

    def __init__(self, grid: GridMap, max_mb: float = 512.0, guidance: np.ndarray | None = None):
        self.grid = grid
        self.nbr = np.ascontiguousarray(grid.neighbors)
        n_free = self.nbr.shape[0]
        self.dtype = np.uint16 if n_free < np.iinfo(np.uint16).max else np.int32
        self.unreached = int(np.iinfo(self.dtype).max)
        self.guidance: np.ndarray | None = None
        slot_bytes = n_free * np.dtype(self.dtype).itemsize
        if guidance is not None:
            guidance = np.asarray(guidance, np.int64)
            if guidance.shape != (n_free, 5) or guidance.min() < 1 or guidance.max() > 255:
                raise ValueError("guidance: (free cells, 5) integer move costs 1..255 expected")
            self.guidance = guidance
            self.guidance.flags.writeable = False
            self._incoming = incoming_costs(self.nbr, guidance)  # the reversed edges' costs
            # a guided distance is at most max cost x hops (< free cells)
            small = int(guidance.max()) * n_free < np.iinfo(np.uint16).max
            self.guided_dtype = np.uint16 if small else np.int32
            self.guided_unreached = int(np.iinfo(self.guided_dtype).max)
            self.guided = np.empty((0, n_free), self.guided_dtype)  # (S, F), slots as fields
            slot_bytes += n_free * np.dtype(self.guided_dtype).itemsize
        self.max_slots = max(1, int(max_mb * 2**20 // slot_bytes))
        self.fields = np.empty((0, n_free), self.dtype)  # (S, F) distances; slot s = one goal
        self.goal_of_slot = np.zeros(0, np.int64)  # (S,) free index of slot's goal, -1 unused
        self.slot_of_goal = np.full(n_free, -1, np.int64)  # (F,) slot holding goal, -1 none
        self.last_used = np.zeros(0, np.int64)  # (S,) clock of last request, for LRU
        self._clock = 0
        self.computed = 0  # BFS runs so far (cache misses)

    def slots(self, goals: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """(K,) slots holding the fields of free-index ``goals`` (K,), computing missing ones.

        ``keep``: slots that must not be evicted now (fields robots are using).
        """
        goals = np.asarray(goals, dtype=np.int64)
        self._clock += 1
        slot = self.slot_of_goal[goals]
        missing = np.unique(goals[slot < 0])
        if len(missing):
            new = self._free_slots(len(missing), goals, keep)
            bfs_fields(self.nbr, missing, new, self.fields, self.unreached)
            if self.guidance is not None:
                guided_fields(self.nbr, self._incoming, missing, self.guided, new,
                              self.guided_unreached)  # fmt: skip
            self.computed += len(missing)
            old = self.goal_of_slot[new]
            self.slot_of_goal[old[old >= 0]] = -1
            self.goal_of_slot[new] = missing
            self.slot_of_goal[missing] = new
            slot = self.slot_of_goal[goals]
        self.last_used[slot] = self._clock
        return slot

    def _free_slots(self, count: int, goals: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
        unused = np.flatnonzero(self.goal_of_slot < 0)
        if len(unused) >= count:
            return unused[:count]
        protected = np.zeros(len(self.goal_of_slot), bool)
        held = self.slot_of_goal[goals]
        protected[held[held >= 0]] = True
        if keep is not None:
            k = np.asarray(keep)
            protected[k[k >= 0]] = True
        victims = np.flatnonzero(~protected & (self.goal_of_slot >= 0))
        victims = victims[np.argsort(self.last_used[victims], kind="stable")]
        need = count - len(unused)
        if len(victims) >= need and len(self.goal_of_slot) >= self.max_slots:
            return np.concatenate([unused, victims[:need]])
        self._grow(len(self.goal_of_slot) + need)
        return np.flatnonzero(self.goal_of_slot < 0)[:count]

    def _grow(self, at_least: int) -> None:
        old = len(self.goal_of_slot)
        size = max(at_least, min(max(2 * old, 64), self.max_slots))
        fields = np.empty((size, self.fields.shape[1]), self.dtype)
        fields[:old] = self.fields
        self.fields = fields
        if self.guidance is not None:
            guided = np.empty((size, self.guided.shape[1]), self.guided_dtype)
            guided[:old] = self.guided
            self.guided = guided
        self.goal_of_slot = np.concatenate([self.goal_of_slot, np.full(size - old, -1, np.int64)])
        self.last_used = np.concatenate([self.last_used, np.zeros(size - old, np.int64)])

    def lookup(self, slots: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Distances (int64) from free-index ``cells`` to the goals of ``slots`` (broadcast);
        ``cells`` < 0 (walls) and unreachable cells read as ``unreached``."""
        slots, cells = np.broadcast_arrays(np.asarray(slots), np.asarray(cells))
        out = self.fields[slots, np.maximum(cells, 0)].astype(np.int64)
        out[cells < 0] = self.unreached
        return out

    @property
    def nbytes(self) -> int:
        extra = self.guided.nbytes if self.guidance is not None else 0
        return int(self.fields.nbytes + extra)

    @cached_property
    def guide(self) -> GuidedFields | None:
        """The guided fields as robots read them (``obs.known["guide"]``); None without
        guidance."""
        return None if self.guidance is None else GuidedFields(self)

    def alone(self, obs: Any, row: int) -> OwnFields:
        """What robot ``row`` may read of the cache alone (the locality audit): the fields of
        its own goal and of the open orders on the public board."""
        return OwnFields(self, allowed_slots(obs, row))


def allowed_slots(obs: Any, row: int) -> np.ndarray:
    """The bank slots robot ``row`` may read alone: its own goal's and the open orders' on
    the public board (the same slots in the BFS and the guided fields)."""
    board = obs.known.get("board")
    slot = obs.own["goal_slot"][row : row + 1]
    board_slots = board.pick_slot if board is not None else np.zeros(0, np.int64)
    return np.concatenate([slot[slot >= 0], board_slots])


def readable_fields(fields: Any, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (S, F) array a compiled reader indexes by goal slot, and the slots to index it
    with: a bank's own array as it is, or, through the audit's view of one robot
    (:class:`OwnFields`), only the rows it may read (:meth:`OwnFields.compact`)."""
    if isinstance(fields, OwnFields):
        return fields.compact(slots)
    return fields.fields, np.asarray(slots, dtype=np.int64)


class OwnFields:
    """A view of a :class:`DistanceBank` that reads only the ``allowed`` slots. The shared
    cache also holds every other robot's goal field and which goal each slot belongs to;
    read through this view, another robot's goal is refused (``lookup``) or reads as
    unreached (``fields``, for compiled readers)."""

    def __init__(self, bank: DistanceBank, allowed: np.ndarray):
        self._bank = bank
        self._allowed = np.unique(np.asarray(allowed, dtype=np.int64))
        self.unreached = bank.unreached

    def lookup(self, slots: np.ndarray, cells: np.ndarray) -> np.ndarray:
        wanted = np.unique(np.asarray(slots, dtype=np.int64))
        other = np.setdiff1d(wanted, self._allowed)
        if len(other):
            raise LookupError(f"distance fields {other[:3].tolist()} are other robots' goals")
        return self._bank.lookup(slots, cells)

    def compact(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A, F) the allowed slots' fields and ``slots`` renumbered into those rows (-1 stays
        -1: no goal): what a compiled reader indexes, without :attr:`fields`' copy of the
        whole bank (a GB on a League map). Another robot's goal is refused, as by
        :meth:`lookup`."""
        slots = np.asarray(slots, dtype=np.int64)
        row = np.searchsorted(self._allowed, slots)
        known = row < len(self._allowed)
        known[known] = self._allowed[row[known]] == slots[known]
        other = (slots >= 0) & ~known
        if other.any():
            raise LookupError(
                f"distance fields {slots[other][:3].tolist()} are other robots' goals"
            )
        return self._bank.fields[self._allowed], np.where(slots >= 0, row, -1)

    @cached_property
    def fields(self) -> np.ndarray:
        """(S, F) the bank's fields with only the allowed rows filled in."""
        out = np.full_like(self._bank.fields, self.unreached)
        out[self._allowed] = self._bank.fields[self._allowed]
        return out


class GuidedFields:
    """The guided cost-to-goal fields of a :class:`DistanceBank` with guidance, in the same
    slots as its BFS fields (``obs.own["goal_slot"]``), and the guidance's (F, 5) move costs
    ``cost`` (public, like the map). Planners rank a candidate cell n of a robot in cell u
    by ``cost[u, k] + lookup(slot, n)``."""

    def __init__(self, bank: DistanceBank):
        self._bank = bank
        self.unreached = bank.guided_unreached
        self.cost = bank.guidance

    @property
    def fields(self) -> np.ndarray:
        """(S, F) guided fields (the bank's current array: it grows)."""
        return self._bank.guided

    def lookup(self, slots: np.ndarray, cells: np.ndarray) -> np.ndarray:
        """Guided costs (int64) from free-index ``cells`` to the goals of ``slots``
        (broadcast); walls (``cells`` < 0) and unreachable cells read as ``unreached``."""
        slots, cells = np.broadcast_arrays(np.asarray(slots), np.asarray(cells))
        out = self._bank.guided[slots, np.maximum(cells, 0)].astype(np.int64)
        out[cells < 0] = self.unreached
        return out

    def alone(self, obs: Any, row: int) -> OwnGuide:
        """What robot ``row`` may read alone (the locality audit): its own goal's guided
        field (and the open orders' on the board), and the public move costs."""
        return OwnGuide(self, allowed_slots(obs, row))


class OwnGuide(OwnFields):
    """:class:`OwnFields` of the guided fields: other robots' goals refused, the public
    move costs kept."""

    def __init__(self, guide: GuidedFields, allowed: np.ndarray):
        super().__init__(guide, allowed)  # type: ignore[arg-type]
        self.cost = guide.cost


def free_flow(
    grid: GridMap,
    starts: np.ndarray,
    n_steps: int,
    goals_of: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """(n,) goals each robot reaches within ``n_steps`` alone on the map: an upper bound on
    what it can do among others when its goals do not depend on them.

    ``goals_of(robots, rounds)`` gives, for each robot and round (task number), the goal's
    linear cell and whether the robot has that task at all ((k, b) arrays each). A goal costs
    one step at least (reached at the end of a step, standing on it counts). Rounds are
    added in doubling batches, one BFS per distinct goal per batch, until every robot's
    time is used up.
    """
    fid = grid.free_id
    n = len(starts)
    done = np.zeros(n, np.int64)
    elapsed = np.zeros(n, np.int64)
    prev = fid[np.asarray(starts, dtype=np.int64)].astype(np.int64)
    robots = np.arange(n)
    first, batch = 0, 8
    unreached = np.iinfo(np.int64).max // 4  # the BFS's mark of a cell not reached
    over = n_steps + 1  # a cost above the budget; small, so cumulative sums cannot overflow
    while len(robots) and n_steps > 0:
        cells, has = goals_of(robots, np.arange(first, first + batch)[None, :])
        goal = fid[cells].astype(np.int64)
        source = np.concatenate([prev[robots, None], goal[:, :-1]], axis=1)
        dist = pair_distances(grid, goal.ravel(), source.ravel(), unreached).reshape(goal.shape)
        cost = np.where(has, np.clip(dist, 1, over), over)
        cum = elapsed[robots, None] + np.cumsum(cost, axis=1)
        finished = (cum <= n_steps).sum(axis=1)
        done[robots] += finished
        go_on = finished == batch
        elapsed[robots] = cum[:, -1]
        prev[robots] = goal[:, -1]
        robots = robots[go_on]
        first += batch
        batch *= 2
    return done


def free_flow_tasks(
    grid: GridMap, starts: np.ndarray, tasks: np.ndarray, n_steps: int, first_round: int = 0
):
    """(n,) tasks each robot finishes within ``n_steps`` alone, League round robin stream:
    robot k's c-th task is ``tasks[(c * n + k) % m]`` (League 2023 ``roundrobin``), c from
    ``first_round`` on."""
    n, m = len(starts), len(tasks)

    def goals_of(robots: np.ndarray, rounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cells = tasks[((rounds + first_round) * n + robots[:, None]) % m]
        return cells, np.ones(cells.shape, bool)

    return free_flow(grid, starts, n_steps, goals_of)


def pair_distances(grid: GridMap, goals: np.ndarray, sources: np.ndarray, unreached: int):
    """(P,) hop distances between free-index ``goals[p]`` and ``sources[p]``."""
    uniq, inv = np.unique(goals, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    ptr = np.zeros(len(uniq) + 1, np.int64)
    np.cumsum(np.bincount(inv, minlength=len(uniq)), out=ptr[1:])
    out = np.empty(len(goals), np.int64)
    _pair_distances(grid.neighbors, uniq, ptr, order, sources, out, unreached)
    return out
