"""Task streams: the League's round-robin stream, per-robot goal sequences and a Poisson
order stream.

All keep, per robot, the current goal cell (``goal`` (R,), -1 without a task), when it was
revealed, and the bank slot of its distance field (refreshed only for robots whose goal
changed, so a step costs O(R) plus one BFS per new goal not yet cached).

**League stream** (League of Robot Runners 2023, ``taskAssignmentStrategy: roundrobin``,
``numTasksReveal: 1``; the start kit's ``InfAssignSystem``): robot k's c-th task is
``tasks[(c * n + k) % m]``. Each robot knows only its current task; the next is revealed the
step it reaches the current one, i.e. when its cell equals the task cell at the end of a step
(standing still counts, so a robot whose next task is the cell it is on finishes it next
step). ``wrap="cycle"`` reuses the list as the start kit does; ``wrap="stop"`` hands each
task out once (robot k stops when ``c * n + k >= m``). ``first_round`` f starts every robot
at its task number f instead of 0 (robot k's first task is ``tasks[f * n + k]``): a run on
errands that a run from round 0 does not reach in its steps, to choose settings on held-out
errands of the same stream.

**Sequence stream** (an instance's ``goalSequences``, :mod:`swarm.grid.maps`): robot k's
c-th task is the c-th goal of its own sequence, revealed as the League stream reveals (same
counter, same rule); ``wrap`` "cycle" restarts a sequence, "stop" leaves the robot without a
task after its last goal. The sequences are held as CSR (flat cells and per-robot offsets),
so a step is array work over the robots that finished, as with the League stream.

**Poisson order stream**: orders arrive as a Poisson process of ``rate`` orders per step;
each picks at a service point (``S``) and delivers to an emitter (``E``), both uniform. Open
orders sit on a shared board; idle robots claim them (the controller's allocator decides
which); when several robots claim one order in a step the board gives it to the lowest bid
(then lowest row) and counts the others as claim conflicts. Service time = delivery step -
arrival step.
"""

from __future__ import annotations

import numpy as np

from swarm.grid.distance import DistanceBank, free_flow
from swarm.grid.maps import EMITTER, SERVICE, GridMap
from swarm.grid.world import OrderBoard

IDLE, TO_PICK, TO_DROP = 0, 1, 2


class TaskStream:
    """Per-robot task state shared by both streams."""

    def __init__(self, grid: GridMap, bank: DistanceBank, n: int):
        self.grid = grid
        self.bank = bank
        self.goal = np.full(n, -1, np.int64)  # (R,) linear goal cell, -1 none
        self.goal_slot = np.full(n, -1, np.int64)  # (R,) bank slot of the goal's field
        self.revealed_at = np.zeros(n, np.int64)  # (R,) step the current task was revealed
        self.phase = np.zeros(n, np.int8)  # (R,) IDLE / TO_PICK / TO_DROP
        self.finished = np.zeros(n, np.int64)  # (R,) tasks finished by each robot
        self.service_sum = 0  # sum of service times of finished tasks (steps)

    def task_age(self, t: int) -> np.ndarray:
        return np.where(self.goal >= 0, t - self.revealed_at, 0)

    def board(self) -> OrderBoard | None:
        return None

    def _set_goals(self, rows: np.ndarray, cells: np.ndarray, t: int) -> None:
        """Give ``rows`` new goals (linear cells, -1 none), revealed at step ``t``."""
        self.goal[rows] = cells
        self.revealed_at[rows] = t
        has = cells >= 0
        self.goal_slot[rows] = -1
        if has.any():
            keep = np.delete(self.goal_slot, rows[has])
            fid = self.grid.free_id[cells[has]]
            self.goal_slot[rows[has]] = self.bank.slots(fid, keep=keep)

    def update(self, cell: np.ndarray, t: int) -> int:
        """Robots on their goal after the step ending at ``t`` finish; returns how many."""
        raise NotImplementedError


class LeagueTasks(TaskStream):
    """The League's round-robin task stream (see the module docstring)."""

    def __init__(
        self, grid, bank, tasks: np.ndarray, n: int, wrap: str = "cycle", first_round: int = 0
    ):
        super().__init__(grid, bank, n)
        if wrap not in ("cycle", "stop"):
            raise ValueError(f"wrap: {wrap!r}; allowed: 'cycle', 'stop'")
        if first_round < 0:
            raise ValueError(f"first_round: {first_round}; allowed: 0 or more")
        self.tasks = np.asarray(tasks, dtype=np.int64)
        self.wrap = wrap
        self.first_round = first_round
        # (R,) index c of each robot's current task
        self.counter = np.full(n, first_round, np.int64)
        self.phase[:] = TO_PICK
        self._reveal(np.arange(n), 0)

    def task_of(self, rows: np.ndarray, counter: np.ndarray) -> np.ndarray:
        """Cell of robot ``rows``' task number ``counter`` (-1 when the list is used up)."""
        n, m = len(self.goal), len(self.tasks)
        k = counter * n + rows
        if self.wrap == "stop":
            return np.where(k < m, self.tasks[np.minimum(k, m - 1)], -1)
        return self.tasks[k % m]

    def _reveal(self, rows: np.ndarray, t: int) -> None:
        cells = self.task_of(rows, self.counter[rows])
        self._set_goals(rows, cells, t)
        self.phase[rows] = np.where(cells >= 0, TO_PICK, IDLE)

    def update(self, cell: np.ndarray, t: int) -> int:
        done = np.flatnonzero((self.goal >= 0) & (cell == self.goal))
        if len(done):
            self.finished[done] += 1
            self.service_sum += int((t - self.revealed_at[done]).sum())
            self.counter[done] += 1
            self._reveal(done, t)
        return len(done)


class SequenceTasks(LeagueTasks):
    """Per-robot goal sequences (see the module docstring): the League stream's counter and
    reveal rule, with robot k's task c read from its own sequence instead of the shared list.
    """

    def __init__(
        self,
        grid: GridMap,
        bank: DistanceBank,
        cells: np.ndarray,
        offsets: np.ndarray,
        wrap: str = "cycle",
        first_round: int = 0,
    ):
        offsets = np.asarray(offsets, dtype=np.int64)
        self.begin = offsets[:-1]  # (R,) first goal of each robot in ``tasks``
        self.length = np.diff(offsets)  # (R,) goals in each robot's sequence
        if len(self.length) == 0 or (self.length < 1).any():
            raise ValueError("goal sequences: every robot needs at least one goal")
        super().__init__(grid, bank, cells, len(self.length), wrap, first_round)

    def task_of(self, rows: np.ndarray, counter: np.ndarray) -> np.ndarray:
        """Cell of robot ``rows``' goal number ``counter`` (-1 past the end under "stop")."""
        length = self.length[rows]
        if self.wrap == "stop":
            cells = self.tasks[self.begin[rows] + np.minimum(counter, length - 1)]
            return np.where(counter < length, cells, -1)
        return self.tasks[self.begin[rows] + counter % length]

    @property
    def completed(self) -> np.ndarray:
        """(R,) bool: the robot reached every goal it was given: as many goals as its
        sequence holds under "cycle" (each at least once), the end of its sequence under
        "stop" (from ``first_round`` on, the goals before it are never handed out)."""
        if self.wrap == "stop":
            return self.counter >= self.length
        return self.counter - self.first_round >= self.length


def free_flow_sequences(
    grid: GridMap,
    starts: np.ndarray,
    cells: np.ndarray,
    offsets: np.ndarray,
    n_steps: int,
    wrap: str = "cycle",
    first_round: int = 0,
) -> np.ndarray:
    """(n,) goals each robot reaches within ``n_steps`` alone on the map, following its own
    sequence (:class:`SequenceTasks`) from goal ``first_round`` on: an upper bound on what
    it can do among others, since its goals do not depend on them. A goal is one step at
    least (reached at the end of a step, standing on it counts); under "stop" a robot's
    count ends with its sequence.
    Doubling batches of goals, one BFS per distinct goal per batch, as the League bound
    (:func:`swarm.grid.distance.free_flow_tasks`)."""
    offsets = np.asarray(offsets, dtype=np.int64)
    begin, length = offsets[:-1], np.diff(offsets)

    def goals_of(robots: np.ndarray, rounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        size = length[robots, None]
        rounds = rounds + first_round
        if wrap == "stop":
            return cells[begin[robots, None] + np.minimum(rounds, size - 1)], rounds < size
        goals = cells[begin[robots, None] + rounds % size]
        return goals, np.ones(goals.shape, bool)

    return free_flow(grid, starts, n_steps, goals_of)


class PoissonOrders(TaskStream):
    """Orders arriving as a Poisson process, picked at S cells, delivered to E cells."""

    def __init__(
        self,
        grid: GridMap,
        bank: DistanceBank,
        n: int,
        rate: float,
        rng: np.random.Generator,
        max_open: int = 1000,
    ):
        super().__init__(grid, bank, n)
        picks, drops = grid.cells_of(SERVICE), grid.cells_of(EMITTER)
        if len(picks) == 0 or len(drops) == 0:
            raise ValueError(
                f"map {grid.name}: a Poisson order stream needs service (S) and emitter (E) cells"
            )
        self.picks, self.drops = picks, drops
        self.rate = rate
        self.rng = rng
        self.max_open = max_open
        self.next_id = 0
        self.open_id = np.zeros(0, np.int64)  # (O,) ids of open, unclaimed orders
        self.open_pick = np.zeros(0, np.int64)  # (O,) linear pick cells
        self.open_drop = np.zeros(0, np.int64)  # (O,) linear delivery cells
        self.open_arrival = np.zeros(0, np.int64)  # (O,) arrival steps
        self.drop_of = np.full(n, -1, np.int64)  # (R,) delivery cell of the robot's order
        self.arrival_of = np.zeros(n, np.int64)  # (R,) arrival step of the robot's order
        self.arrived = 0  # orders that arrived
        self.rejected = 0  # orders lost because the board was full
        self.claim_conflicts = 0  # claims that lost to another robot's claim

    def arrive(self, t: int) -> None:
        """New orders of step ``t`` (from the run's generator)."""
        k = int(self.rng.poisson(self.rate))
        self.arrived += k
        room = max(self.max_open - len(self.open_id), 0)
        self.rejected += max(k - room, 0)
        k = min(k, room)
        if k == 0:
            return
        self.open_id = np.concatenate([self.open_id, self.next_id + np.arange(k)])
        self.next_id += k
        self.open_pick = np.concatenate([self.open_pick, self.rng.choice(self.picks, k)])
        self.open_drop = np.concatenate([self.open_drop, self.rng.choice(self.drops, k)])
        self.open_arrival = np.concatenate([self.open_arrival, np.full(k, t, np.int64)])

    def board(self) -> OrderBoard:
        fid = self.grid.free_id
        pick_f = fid[self.open_pick].astype(np.int64)
        slots = self.bank.slots(pick_f, keep=self.goal_slot) if len(pick_f) else pick_f
        return OrderBoard(
            order_id=self.open_id.copy(),
            pick_f=pick_f,
            drop_f=fid[self.open_drop].astype(np.int64),
            arrival=self.open_arrival.copy(),
            pick_slot=slots,
        )

    def accept(self, claim: np.ndarray, bid: np.ndarray, t: int) -> int:
        """Resolve claims (R,) of order ids (-1 none) with bids (R,) (lower wins); returns
        the number of orders handed out."""
        rows = np.flatnonzero((claim >= 0) & (self.phase == IDLE))
        if len(rows) == 0 or len(self.open_id) == 0:
            return 0
        pos = np.searchsorted(self.open_id, claim[rows])
        valid = (pos < len(self.open_id)) & (self.open_id[np.minimum(pos, len(self.open_id) - 1)]
                                             == claim[rows])  # fmt: skip
        rows, pos = rows[valid], pos[valid]
        order = np.lexsort((rows, bid[rows], pos))  # by order, then bid, then row
        rows, pos = rows[order], pos[order]
        first = np.ones(len(pos), bool)
        first[1:] = pos[1:] != pos[:-1]
        self.claim_conflicts += int((~first).sum())
        win, got = rows[first], pos[first]
        self.phase[win] = TO_PICK
        self.drop_of[win] = self.open_drop[got]
        self.arrival_of[win] = self.open_arrival[got]
        self._set_goals(win, self.open_pick[got], t)
        keep = np.ones(len(self.open_id), bool)
        keep[got] = False
        self.open_id, self.open_pick = self.open_id[keep], self.open_pick[keep]
        self.open_drop, self.open_arrival = self.open_drop[keep], self.open_arrival[keep]
        return len(win)

    def update(self, cell: np.ndarray, t: int) -> int:
        at = (self.goal >= 0) & (cell == self.goal)
        picked = np.flatnonzero(at & (self.phase == TO_PICK))
        delivered = np.flatnonzero(at & (self.phase == TO_DROP))
        if len(delivered):
            self.finished[delivered] += 1
            self.service_sum += int((t - self.arrival_of[delivered]).sum())
            self.phase[delivered] = IDLE
            self._set_goals(delivered, np.full(len(delivered), -1, np.int64), t)
        if len(picked):
            self.phase[picked] = TO_DROP
            self._set_goals(picked, self.drop_of[picked], t)
        return len(delivered)
