"""The grid world: robots on a static map, what they sense and hear, and how they move.

State is a handful of numpy arrays (``cell`` (R,) linear cell index ``row * W + col``, the
League's linearisation; ``fcell`` (R,) the same cell as a free-cell index; under the
League's action model, ``heading`` (R,) int8); everything else is derived from them each
step.

Two action models (``motion``):

- ``"grid"`` (default): 4-connected, no heading; actions ``0 wait, 1 north, 2 east,
  3 south, 4 west``.
- ``"rotate"``: the League of Robot Runners 2023 model. A robot has a heading, as in the
  League's start kit ``0 east, 1 south, 2 west, 3 north``, and each step it moves one cell
  forward, rotates 90 degrees, or waits: actions ``0 wait, 1 forward, 2 clockwise,
  3 counter-clockwise`` (0 is wait in both models; the start kit numbers them FW 0, CR 1,
  CCR 2, W 3). Rotations never conflict (the robot keeps its cell); a forward move is a
  move like any other for the rules below. Robots start facing east, as in the start kit.

One step (nothing depends on robot order):

1. **sense** — every robot senses the robots within ``sense_radius`` cells (Euclidean, cell
   centres) and links to those within ``comm_radius``; obstacles block neither. Found with an
   occupancy-grid window scan (numba), O(N r^2).
2. **decide** — the controller maps the batch of local observations to actions (of the
   world's ``motion``, above). Robots may exchange messages with their comm
   neighbours first, in the rounds the controller declares (``obs.radio``,
   :mod:`swarm.radio`: a League step is about a second; a radio round takes milliseconds),
   each packet dropped with probability ``packet_drop`` from a keyed stream, every packet
   and byte counted.
3. **move** — moves into walls or off the map become waits (counted as ``invalid_moves``).
   The world forbids vertex conflicts (two robots in one cell) and swap conflicts (two robots
   trading cells): every conflicting move becomes a wait, repeated until no conflict is left
   (a wait can create a new conflict with a robot following into the cell). Each cancelled
   move counts as an *attempted* conflict. Following (moving into a cell its robot leaves) and
   rotations of three or more robots are allowed, as in the League (Stern et al. 2019,
   "Multi-agent pathfinding: definitions, variants, and benchmarks", SoCS).
4. **check** — executed collisions are counted from the old and new cells alone,
   independently of the resolver; with the resolver on they are 0 by construction (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numba
import numpy as np

from swarm.comm import CommGraphView, Inbox
from swarm.grid.distance import DistanceBank
from swarm.grid.maps import GridMap
from swarm.neighbors import NeighborTable
from swarm.observation import LocalObservation
from swarm.radio import Radio, Round
from swarm.threads import robot_chunks, scans_downward, serial_and_parallel

N_ACTIONS = 5  # wait, north, east, south, west
MOTIONS = ("grid", "rotate")
ROTATE_ACTIONS = 4  # wait, forward, clockwise, counter-clockwise
WAIT, FORWARD, CLOCKWISE, COUNTER_CLOCKWISE = 0, 1, 2, 3
ROTATE_ACTION_NAMES = ("wait", "forward", "clockwise", "counter-clockwise")
HEADING_NAMES = ("east", "south", "west", "north")  # the League's orientations 0..3
# the grid move (column of GridMap.neighbors) one cell along each heading
HEADING_MOVE = np.array([2, 3, 4, 1], np.int64)
# heading change of each rotate action (clockwise: east -> south -> west -> north)
TURN = np.array([0, 0, 1, -1], np.int64)


def n_actions(motion: str) -> int:
    """Actions of a motion model: 5 on the 4-connected grid, 4 under rotation."""
    return ROTATE_ACTIONS if motion == "rotate" else N_ACTIONS


def forward_codes(heading: np.ndarray) -> np.ndarray:
    """(R,) grid move code (``GridMap.neighbors`` column) of a forward step per heading."""
    return HEADING_MOVE[np.asarray(heading, np.int64)]


def neighbor_tables(
    grid: GridMap, cell: np.ndarray, occ: np.ndarray, radius_a: float, radius_b: float
) -> tuple[NeighborTable, NeighborTable]:
    """The robots within ``radius_a`` and within ``radius_b`` of each robot, from one scan of
    the larger window (the occupancy grid around each robot, O(N r^2)): sensing and comm
    links together, as the engine's :class:`~swarm.neighbors.NeighborTable` in row order
    (``rel_pos`` = (columns, rows) to the neighbour, ``dist`` in cells, no velocities),
    neighbours in raster order (tested against brute force). The output arrays are sized for
    the most entries possible (every other robot, or every cell of the disc), so one pass
    suffices; unwritten pages of the bound are never touched."""
    rows, cols = np.divmod(cell, grid.width)
    n = len(cell)
    # beyond the map's diagonal every robot is in range: an infinite radius means that
    diagonal = float(np.hypot(grid.height, grid.width))
    radius_a, radius_b = min(float(radius_a), diagonal), min(float(radius_b), diagonal)
    r = int(np.floor(max(radius_a, radius_b)))
    bound = n * min(n - 1, (2 * r + 1) ** 2 - 1)
    ptr = [np.empty(n + 1, np.int64), np.empty(n + 1, np.int64)]
    idx = [np.empty(bound, np.int64), np.empty(bound, np.int64)]
    rel = [np.empty((bound, 2)), np.empty((bound, 2))]
    dist = [np.empty(bound), np.empty(bound)]
    per_robot = bound // max(n, 1)
    chunks = robot_chunks(n)
    kernel = _window_pairs_parallel if chunks > 1 else _window_pairs_serial
    found = np.zeros((2, chunks), np.int64)
    kernel(occ, grid.height, grid.width, rows, cols, float(radius_a), float(radius_b),
           per_robot, chunks, ptr[0], idx[0], rel[0], dist[0], ptr[1], idx[1], rel[1], dist[1],
           found)  # fmt: skip
    spans = [_close_regions(n, per_robot, found[k], ptr[k], idx[k], rel[k], dist[k])
             for k in (0, 1)]  # fmt: skip
    every = np.arange(n, dtype=np.int64)
    still = np.zeros((max(m for _, m in spans), 2))  # robots on a grid have no velocity to sense
    tables = [
        NeighborTable(ptr=ptr[k], seg_row=every, row_seg=every, idx=idx[k][a : a + m],
                      rel_pos=rel[k][a : a + m], rel_vel=still[:m], dist=dist[k][a : a + m])
        for k, (a, m) in enumerate(spans)
    ]  # fmt: skip
    return tables[0], tables[1]


def _window_pairs_chunks(occ, height, width, rows, cols, ra, rb, per_robot, n_chunks, ptr_a,
                         idx_a, rel_a, dist_a, ptr_b, idx_b, rel_b, dist_b, found):  # fmt: skip
    """Robots within ``ra`` and within ``rb`` (cells, Euclidean between cell centres) of
    each robot, by scanning its window of the occupancy grid ``occ``, with their offsets
    (columns, rows). The robots are split into ``n_chunks`` consecutive chunks; the chunk
    from robot ``lo`` owns the entries from ``lo * per_robot`` (the most a robot can have),
    ``found[:, c]`` its counts, ``ptr`` absolute in the arrays. Chunks go in pairs
    (:func:`~swarm.threads.scans_downward`): the first scans its robots and their windows
    in reverse and writes down from where its partner starts, so on two threads the
    entries are in place; :func:`_close_regions` then closes the gaps between pairs,
    giving the one-chunk layout whatever the chunking."""
    n = rows.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    r = int(np.floor(max(ra, rb)))
    for c in numba.prange(n_chunks):
        lo = min(n, c * size)
        hi = min(n, lo + size)
        if scans_downward(c, n_chunks):
            ca = cb = hi * per_robot
            for i in range(hi - 1, lo - 1, -1):
                ca, cb = _window_row(occ, height, width, rows[i], cols[i], r, ra * ra, rb * rb,
                                     ca, idx_a, rel_a, dist_a, cb, idx_b, rel_b, dist_b,
                                     True)  # fmt: skip
                ptr_a[i] = ca
                ptr_b[i] = cb
            found[0, c] = hi * per_robot - ca
            found[1, c] = hi * per_robot - cb
            continue
        ca = cb = lo * per_robot
        for i in range(lo, hi):
            ptr_a[i] = ca
            ptr_b[i] = cb
            ca, cb = _window_row(occ, height, width, rows[i], cols[i], r, ra * ra, rb * rb, ca,
                                 idx_a, rel_a, dist_a, cb, idx_b, rel_b, dist_b, False)  # fmt: skip
        found[0, c] = ca - lo * per_robot
        found[1, c] = cb - lo * per_robot


_window_pairs_serial, _window_pairs_parallel = serial_and_parallel(_window_pairs_chunks)


@numba.njit(cache=True, inline="always")
def _window_row(occ, height, width, ri, ci, r, ra2, rb2, ca, idx_a, rel_a, dist_a, cb, idx_b,
                rel_b, dist_b, down):  # fmt: skip
    """One robot's window, in raster order: its entries written from ``ca`` and ``cb`` on;
    returns where they end. ``down`` (a literal): the window in reverse, each entry written
    below ``ca`` and ``cb``, so the same entries in the same order end there; returns where
    they start."""
    for dr_ in range(-r, r + 1):
        dr = -dr_ if down else dr_
        rr = ri + dr
        if rr < 0 or rr >= height:
            continue
        for dc_ in range(-r, r + 1):
            dc = -dc_ if down else dc_
            d2 = dr * dr + dc * dc
            if d2 == 0 or (d2 > ra2 and d2 > rb2):
                continue
            cc = ci + dc
            if cc < 0 or cc >= width:
                continue
            j = occ[rr * width + cc]
            if j >= 0:
                d = np.sqrt(d2)
                if d2 <= ra2:
                    at = ca - 1 if down else ca
                    _put_pair(idx_a, rel_a, dist_a, at, j, dc, dr, d)
                    ca = at if down else at + 1
                if d2 <= rb2:
                    at = cb - 1 if down else cb
                    _put_pair(idx_b, rel_b, dist_b, at, j, dc, dr, d)
                    cb = at if down else at + 1
    return ca, cb


@numba.njit(cache=True)
def _put_pair(idx, rel, dist, at, j, dc, dr, d):
    """Entry ``at`` of a table: neighbour ``j`` at offset (``dc``, ``dr``), ``d`` cells away;
    the next entry."""
    idx[at] = j
    rel[at, 0] = dc
    rel[at, 1] = dr
    dist[at] = d
    return at + 1


@numba.njit(cache=True)
def _close_regions(n, per_robot, found, ptr, idx, rel, dist):
    """Move each pair's entries down to follow the previous pair's (in place, in chunk
    order: a chunk never moves up) and make ``ptr`` count from the first chunk's first
    entry; returns (that entry, the total entries)."""
    n_chunks = found.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    first = -1
    to = 0
    for c in range(n_chunks):
        lo = min(n, c * size)
        hi = min(n, lo + size)
        start = hi * per_robot - found[c] if scans_downward(c, n_chunks) else lo * per_robot
        if first < 0:
            first = to = start
        if start != to:
            for e in range(found[c]):
                idx[to + e] = idx[start + e]
                rel[to + e, 0] = rel[start + e, 0]
                rel[to + e, 1] = rel[start + e, 1]
                dist[to + e] = dist[start + e]
            for i in range(lo, hi):
                ptr[i] -= start - to
        to += found[c]
    for i in range(n):
        ptr[i] -= first
    ptr[n] = to - first
    return first, to - first


@dataclass(eq=False)
class OrderBoard:
    """Open, unclaimed orders of a Poisson stream (O,): shared knowledge."""

    order_id: np.ndarray  # (O,) int64
    pick_f: np.ndarray  # (O,) int64 free index of the pick cell
    drop_f: np.ndarray  # (O,) int64 free index of the delivery cell
    arrival: np.ndarray  # (O,) int64 step the order arrived
    pick_slot: np.ndarray  # (O,) int64 bank slot of the pick cell's distance field

    @property
    def n(self) -> int:
        return len(self.order_id)


@dataclass
class StepCounts:
    """What one move phase did (counts over robots)."""

    moved: int = 0
    invalid_moves: int = 0
    attempted_conflicts: int = 0
    vertex_collisions: int = 0
    swap_collisions: int = 0
    moved_mask: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def resolve_conflicts(cur: np.ndarray, nxt: np.ndarray, n_cells: int) -> tuple[np.ndarray, int]:
    """Cancel conflicting moves until none is left; returns (new targets, moves cancelled).

    ``cur``, ``nxt``: (R,) current and intended cells (any integer cell ids < n_cells).
    A vertex conflict cancels every move into the shared cell (a robot staying there keeps
    it); a swap conflict cancels both moves. Cancelling only ever turns moves into waits, so
    the loop ends after at most R rounds (in practice a few). The readable statement of the
    rules: :meth:`GridWorld.apply` runs the compiled :func:`_move_kernel`, tested equal.
    """
    nxt = nxt.copy()
    rows = np.arange(len(cur))
    occ = np.full(n_cells, -1, np.int64)
    occ[cur] = rows
    moving = nxt != cur
    cancelled = 0
    while True:
        claims = np.bincount(nxt, minlength=n_cells)
        vertex = moving & (claims[nxt] > 1)
        other = occ[nxt]
        has = moving & (other >= 0) & (other != rows)
        swap = np.zeros_like(moving)
        swap[has] = nxt[other[has]] == cur[has]
        bad = vertex | swap
        if not bad.any():
            return nxt, cancelled
        nxt[bad] = cur[bad]
        moving &= ~bad
        cancelled += int(bad.sum())


def count_collisions(cur: np.ndarray, new: np.ndarray, n_cells: int) -> tuple[int, int]:
    """(vertex, swap) collisions of a step from the cells before and after it alone.

    vertex: robots sharing a cell beyond the first; swap: pairs that traded cells.
    """
    vertex = len(new) - len(np.unique(new))
    occ = np.full(n_cells, -1, np.int64)
    occ[cur] = np.arange(len(cur))
    j = occ[new]
    rows = np.arange(len(cur))
    pair = (j >= 0) & (j != rows) & (new != cur)
    swaps = int(np.count_nonzero(new[j[pair]] == cur[pair])) // 2
    return vertex, swaps


@numba.njit(cache=True)
def _move_kernel(cur, nxt, resolve, occ, claims):
    """:func:`resolve_conflicts` (when ``resolve``) then :func:`count_collisions`, compiled,
    the same rounds and results (tested); returns (targets, cancelled, vertex, swap, moved).

    ``occ`` (-1) and ``claims`` (0): per-cell scratch of the caller, left as they came, so a
    step touches only the robots' cells, not the whole map.
    """
    n = cur.shape[0]
    nxt = nxt.copy()
    for i in range(n):
        occ[cur[i]] = i
    moving = nxt != cur
    bad = np.zeros(n, np.bool_)
    cancelled = 0
    while resolve:
        for i in range(n):
            claims[nxt[i]] += 1
        any_bad = False
        for i in range(n):
            b = False
            if moving[i]:
                if claims[nxt[i]] > 1:
                    b = True  # vertex conflict
                else:
                    j = occ[nxt[i]]
                    b = j >= 0 and j != i and nxt[j] == cur[i]  # swap conflict
            bad[i] = b
            any_bad = any_bad or b
        for i in range(n):
            claims[nxt[i]] = 0
        if not any_bad:
            break
        for i in range(n):
            if bad[i]:
                nxt[i] = cur[i]
                moving[i] = False
                cancelled += 1
    for i in range(n):
        claims[nxt[i]] += 1
    vertex = 0
    for i in range(n):  # robots beyond the first in each cell, each cell counted once
        if claims[nxt[i]] > 0:
            vertex += claims[nxt[i]] - 1
            claims[nxt[i]] = 0
    swaps = 0
    moved = 0
    for i in range(n):
        if nxt[i] != cur[i]:
            moved += 1
            j = occ[nxt[i]]
            if j >= 0 and j != i and nxt[j] == cur[i]:
                swaps += 1
    for i in range(n):
        occ[cur[i]] = -1
    return nxt, cancelled, vertex, swaps // 2, moved


class GridWorld:
    """Robots on a :class:`GridMap`: state arrays, sensing, comm links and moves."""

    def __init__(
        self,
        grid: GridMap,
        starts: np.ndarray,
        sense_radius: float = 3.0,
        comm_radius: float = 5.0,
        packet_drop: float = 0.0,
        comm_seed: int = 0,
        resolve: bool = True,
        bank: DistanceBank | None = None,
        max_inbox: int | None = None,
        radio_repeats: int = 0,
        motion: str = "grid",
        headings: np.ndarray | None = None,
    ):
        starts = np.asarray(starts, dtype=np.int64)
        if motion not in MOTIONS:
            raise ValueError(f"motion {motion!r}; allowed: {', '.join(MOTIONS)}")
        if starts.ndim != 1 or len(starts) == 0:
            raise ValueError("starts must be a non-empty 1-D array of cells")
        if starts.min() < 0 or starts.max() >= grid.n_cells:
            raise ValueError(f"start cells must lie in 0..{grid.n_cells - 1}")
        if not grid.free.ravel()[starts].all():
            raise ValueError("a start cell is an obstacle")
        if len(np.unique(starts)) != len(starts):
            raise ValueError("two robots start on the same cell")
        self.grid = grid
        self.bank = bank if bank is not None else DistanceBank(grid)
        self.cell = starts.copy()  # (R,) int64 linear cell: the source of truth
        self.motion = motion
        # (R,) int8 heading under rotation (0 east, 1 south, 2 west, 3 north); None on the grid
        self.heading: np.ndarray | None = None
        if motion == "rotate":
            h = np.zeros(len(starts), np.int8) if headings is None else np.asarray(headings)
            if h.shape != starts.shape or h.min() < 0 or h.max() > 3:
                raise ValueError("headings must be (R,) integers in 0..3")
            self.heading = h.astype(np.int8)
        self.sense_radius = float(sense_radius)
        self.comm_radius = float(comm_radius)
        self.packet_drop = float(packet_drop)
        self.comm_seed = int(comm_seed)
        self.max_inbox = max_inbox
        self.radio_repeats = int(radio_repeats)
        self.resolve = resolve
        self.ids = np.arange(len(starts), dtype=np.int64)  # identities (names, not indices)
        self.ids.flags.writeable = False
        self.t = 0
        self.graph_view = CommGraphView(len(starts), mode="lazy")
        self._sensed_at = -1
        self._version = 0
        # per-cell scratch of the compiled steps (free-cell and map-cell indexed), kept at
        # -1 / 0 between uses, so a step costs O(robots), not O(cells)
        n_free = self.grid.neighbors.shape[0]
        self._occ_free = np.full(n_free, -1, np.int64)
        self._claims_free = np.zeros(n_free, np.int64)
        self._occ_map = np.full(grid.n_cells, -1, np.int64)

    @property
    def n(self) -> int:
        return len(self.cell)

    @property
    def fcell(self) -> np.ndarray:
        """(R,) free-cell index of each robot."""
        return self.grid.free_id[self.cell].astype(np.int64)

    def occupancy(self) -> np.ndarray:
        """(H * W,) int64 robot row on each cell, -1 where empty."""
        occ = np.full(self.grid.n_cells, -1, np.int64)
        occ[self.cell] = np.arange(self.n)
        return occ

    def invalidate(self) -> None:
        """The state arrays were edited from outside: sense again before the next use."""
        self._version += 1

    def _sense(self) -> None:
        key = (self.t, self._version)
        if self._sensed_at == key:
            return
        occ, rows = self._occ_map, np.arange(self.n)
        occ[self.cell] = rows
        try:
            self.sensed, self.links = neighbor_tables(
                self.grid, self.cell, occ, self.sense_radius, self.comm_radius
            )
        finally:
            occ[self.cell] = -1
        for table in (self.sensed, self.links):  # shared by every reader of this step
            for values in (table.ptr, table.idx, table.rel_pos, table.rel_vel, table.dist):
                values.flags.writeable = False
        self.graph_view.release()
        self._sensed_at = key

    def radio(self, rounds: tuple[Round, ...], phase: int, who: str, record: bool = False) -> Radio:
        """The radio of this step's ``phase`` (0 move, 1 allocate): carries the declared
        ``rounds`` along the comm links in scan order, with the world's packet loss and
        inbox cap (:mod:`swarm.radio`)."""
        self._sense()
        return Radio(
            self.links, self.ids, rounds, step=self.t, phase=phase, seed=self.comm_seed,
            packet_drop=self.packet_drop, max_inbox=self.max_inbox, repeats=self.radio_repeats,
            who=who, record=record,
        )  # fmt: skip

    def links_table(self) -> NeighborTable:
        """The comm links (a :class:`~swarm.neighbors.NeighborTable`, cell units)."""
        self._sense()
        return self.links

    @property
    def comm_graph(self) -> nx.Graph:
        """The current comm links as a ``networkx.Graph`` on robot rows (built when read)."""
        self.graph_view.update(self.links_table(), np.ones(self.n, bool))
        return self.graph_view.graph()

    def observe(
        self,
        goal: np.ndarray,
        goal_slot: np.ndarray,
        task_age: np.ndarray,
        phase: np.ndarray,
        radio: Radio | None = None,
        board: OrderBoard | None = None,
    ) -> LocalObservation:
        """The batch of local observations (:class:`~swarm.observation.LocalObservation`,
        in cells: ``pos`` is (column, row), a step is one time unit and one cell the top
        speed); ``radio`` carries the decision's message rounds (None: a decision without
        messages).

        ``own``: ``cell``/``fcell`` (linear and free-cell index), ``goal``/``goal_f`` (-1
        without a task), ``goal_slot`` (row of ``bank`` holding the distance field of the
        own goal, -1 none), ``task_age`` (steps since the current task was revealed),
        ``phase`` (0 idle, 1 going to a pick or League task, 2 going to a delivery), and
        under rotation ``heading`` (0 east, 1 south, 2 west, 3 north).
        ``known``: ``grid`` (the public map), ``bank`` (its distance fields), ``motion``
        (the action model, public), ``comm_radius`` (every robot's radio range, its own),
        ``guide`` (the guided cost-to-goal fields and move costs of the map's guidance
        graph, :class:`~swarm.grid.distance.GuidedFields`, or None without guidance) and
        ``board``: the open orders of a Poisson stream (the
        warehouse management system publishes them), or None. Sensed robots' cells:
        :func:`sensed_cells`."""
        self._sense()
        fid = self.grid.free_id
        goal_f = np.where(goal >= 0, fid[np.maximum(goal, 0)], -1).astype(np.int64)
        rows, cols = np.divmod(self.cell, self.grid.width)
        own = {
            "cell": self.cell.copy(),
            "fcell": self.fcell,
            "goal": goal.copy(),
            "goal_f": goal_f,
            "goal_slot": goal_slot.copy(),
            "task_age": task_age.copy(),
            "phase": phase.copy(),
        }
        if self.heading is not None:
            own["heading"] = self.heading.copy()
        return LocalObservation(
            step=self.t,
            dt=1.0,
            max_speed=1.0,
            sense_radius=self.sense_radius,
            pos=np.stack([cols, rows], axis=1).astype(np.float64),
            vel=np.zeros((self.n, 2)),
            alive=np.ones(self.n, bool),
            ids=self.ids,
            neighbors=self.sensed,
            inbox=Inbox.empty(self.n, 0),
            world_size=float(max(self.grid.height, self.grid.width)),
            torus=False,
            own=own,
            known={
                "grid": self.grid,
                "bank": self.bank,
                "board": board,
                "motion": self.motion,
                "guide": self.bank.guide,
                "comm_radius": self.comm_radius,
            },
            links=self.links,
            radio=None if radio is None else radio.port(),
        )

    def apply(self, actions: np.ndarray) -> StepCounts:
        """Move everyone at once (see the module docstring); advances ``t``.

        Under rotation a forward action is the grid move along the heading and a rotation
        turns the heading in place; both models then share the wall, conflict and
        collision rules (a cancelled forward move leaves the heading as it was)."""
        actions = check_actions(actions, self.n, n_actions(self.motion))
        code = actions
        if self.heading is not None:
            code = np.where(actions == FORWARD, forward_codes(self.heading), 0)
            turned = self.heading + TURN[actions]
            self.heading = np.mod(turned, 4).astype(np.int8)
        nbr = self.grid.neighbors
        fcell = self.fcell
        target_f = nbr[fcell, code].astype(np.int64)
        invalid = target_f < 0
        target_f = np.where(invalid, fcell, target_f)
        target_f, cancelled, vertex, swap, n_moved = _move_kernel(
            fcell, target_f, self.resolve, self._occ_free, self._claims_free
        )
        moved = target_f != fcell
        self.cell = self.grid.free_cells[target_f]
        self.t += 1
        return StepCounts(
            moved=n_moved,
            invalid_moves=int(np.count_nonzero(invalid & (code != 0))),
            attempted_conflicts=cancelled,
            vertex_collisions=vertex,
            swap_collisions=swap,
            moved_mask=moved,
        )


@numba.njit(cache=True)
def egocentric_kernel(free, rows, cols, ptr, other_r, other_c, goal_r, goal_c, radius, out):
    """Fill the first 3 s^2 columns of ``out`` (R, >= 3 s^2), zero on entry, with the
    (3, s, s) window of each robot in C order: robots sensed (CSR ptr, their cells),
    obstacles and outside the map, own goal (``goal_r`` -1: none)."""
    height, width = free.shape
    side = 2 * radius + 1
    plane = side * side
    for i in range(rows.shape[0]):
        r0 = rows[i] - radius
        c0 = cols[i] - radius
        for a in range(side):
            rr = r0 + a
            for b in range(side):
                cc = c0 + b
                blocked = rr < 0 or rr >= height or cc < 0 or cc >= width
                if not blocked:
                    blocked = not free[rr, cc]
                out[i, plane + a * side + b] = 1.0 if blocked else 0.0
        for e in range(ptr[i], ptr[i + 1]):
            a = other_r[e] - r0
            b = other_c[e] - c0
            if 0 <= a < side and 0 <= b < side:
                out[i, a * side + b] = 1.0
        if goal_r[i] >= 0:
            a = goal_r[i] - r0
            b = goal_c[i] - c0
            if 0 <= a < side and 0 <= b < side:
                out[i, 2 * plane + a * side + b] = 1.0


def sensed_cells(obs: LocalObservation) -> np.ndarray:
    """(M,) int64 free-cell index of each sensed robot, per entry of ``obs.neighbors``: the
    own cell plus the sensed offset, on the public map."""
    grid, table = obs.known["grid"], obs.neighbors
    base = np.repeat(obs.own["cell"][table.seg_row], np.diff(table.ptr))
    offset = table.rel_pos.astype(np.int64)
    return grid.free_id[base + offset[:, 1] * grid.width + offset[:, 0]].astype(np.int64)


def egocentric_view(obs: LocalObservation, radius: int) -> np.ndarray:
    """(R, 3, 2r+1, 2r+1) float32 local grid around each robot: channel 0 sensed robots,
    1 obstacles (and outside the map), 2 own goal. Built from the local observation only
    (own cell and goal, the cells of the robots it senses, the public map)."""
    g, cell, goal = obs.known["grid"], obs.own["cell"], obs.own["goal"]
    side = 2 * int(radius) + 1
    out = np.zeros((obs.n, 3 * side * side), np.float32)
    rows, cols = np.divmod(cell, g.width)
    other_r, other_c = np.divmod(g.free_cells[sensed_cells(obs)].astype(np.int64), g.width)
    goal_r, goal_c = np.divmod(goal, g.width)
    goal_r = np.where(goal >= 0, goal_r, -1)
    egocentric_kernel(g.free, rows, cols, obs.neighbors.ptr, other_r, other_c, goal_r, goal_c,
                      int(radius), out)  # fmt: skip
    return out.reshape(obs.n, 3, side, side)


def check_actions(actions: np.ndarray, n: int, n_codes: int = N_ACTIONS) -> np.ndarray:
    """Validate a batch of actions: (n,) integers in 0..n_codes - 1 (5 grid moves, or
    :data:`ROTATE_ACTIONS`); a clear error otherwise."""
    a = np.asarray(actions)
    if a.shape != (n,):
        raise ValueError(f"actions: expected shape ({n},), got {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        if (
            np.issubdtype(a.dtype, np.floating)
            and np.isfinite(a).all()
            and (a == np.round(a)).all()
        ):
            a = a.astype(np.int64)
        else:
            names = "0 wait, 1 north, 2 east, 3 south, 4 west"
            if n_codes == ROTATE_ACTIONS:
                names = "0 wait, 1 forward, 2 clockwise, 3 counter-clockwise"
            raise ValueError(f"actions: must be integers {names}")
    if a.size and (a.min() < 0 or a.max() >= n_codes):
        bad = int(a[(a < 0) | (a >= n_codes)][0])
        raise ValueError(f"actions: {bad} is not an action; allowed 0..{n_codes - 1}")
    return a.astype(np.int64)
