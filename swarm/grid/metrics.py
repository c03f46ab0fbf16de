"""Warehouse metrics, updated once per step from the world's arrays (O(R) per step).

* ``tasks_finished``, ``throughput`` (tasks finished per step, over the run so far) and
  ``mean_service_time`` (League: steps from reveal to finish; Poisson: from arrival to
  delivery).
* ``executed_collisions`` (vertex + swap collisions that actually happened; must stay 0) and
  ``attempted_conflicts`` (moves the world cancelled), ``invalid_moves`` (into walls).
* ``wait_fraction``: share of robot-steps in which a robot with a task did not move.
* Deadlock / livelock detector over a window of ``window`` steps: a robot with a task is
  *deadlocked* when it has not moved for ``window`` steps, *livelocked* when it moved but its
  distance to its goal has not improved for ``window`` steps; the system has *stalled* when
  no task was finished in the last ``window`` steps although robots had tasks.
* ``messages_sent``, ``bytes_sent`` (per robot), ``message_rounds`` and ``message_hops``
  (at most one hop per round) of the last step, from the radio (:mod:`swarm.radio`).
* :func:`band_census`: robots standing, moving, turning and bound, turns taken back
  (:class:`TurnReversals`), and errands finished, in each horizontal band of the map, for a
  profile of where robots crowd over a run (``experiments/bench_mainround.py --profile``).
"""

from __future__ import annotations

import numba
import numpy as np

from swarm.grid.tasks import TaskStream
from swarm.grid.world import StepCounts

METRIC_NAMES = (
    "tasks_finished",
    "throughput",
    "mean_service_time",
    "executed_collisions",
    "attempted_conflicts",
    "invalid_moves",
    "wait_fraction",
    "deadlocked",
    "livelocked",
    "stalled",
)
# per robot, the last step (swarm.radio counts them; the model reports them)
COMM_METRIC_NAMES = ("messages_sent", "bytes_sent", "message_rounds", "message_hops")


class GridMetrics:
    """Running counters and the deadlock / livelock detector."""

    def __init__(self, n: int, window: int = 100):
        self.window = window
        self.steps = 0
        self.tasks_finished = 0
        self.executed_collisions = 0
        self.attempted_conflicts = 0
        self.invalid_moves = 0
        self.task_steps = 0  # robot-steps with a task
        self.task_waits = 0  # ... of which the robot did not move
        self.last_moved = np.zeros(n, np.int64)  # (R,) last step the robot moved
        self.last_progress = np.zeros(n, np.int64)  # (R,) last step it got closer to its goal
        self.best_dist = np.full(n, np.iinfo(np.int64).max, np.int64)  # (R,) closest so far
        self.last_finish = 0  # last step a task was finished
        self._goal = np.full(n, -2, np.int64)
        self._has_task = np.zeros(n, bool)
        self._now = 0

    def record(self, t: int, counts: StepCounts, done: np.ndarray, tasks: TaskStream,
               dist: np.ndarray, had_task: np.ndarray) -> None:  # fmt: skip
        """After the step that ended at ``t``: ``done`` (R,) bool robots that finished a task
        in it, ``dist`` (R,) distance to the (possibly new) goal."""
        finished, task_steps, task_waits = _record_robots(
            t, counts.moved_mask, done, tasks.goal, dist, had_task, self._goal,
            self.best_dist, self.last_progress, self.last_moved,
        )  # fmt: skip
        self.steps += 1
        self._now = t
        self.tasks_finished += finished
        if finished:
            self.last_finish = t
        self.executed_collisions += counts.vertex_collisions + counts.swap_collisions
        self.attempted_conflicts += counts.attempted_conflicts
        self.invalid_moves += counts.invalid_moves
        self.task_steps += task_steps
        self.task_waits += task_waits
        self._has_task = tasks.goal >= 0

    def values(self, tasks: TaskStream) -> dict[str, float]:
        t, w = self._now, self.window
        has = self._has_task
        idle_for = t - self.last_moved
        stuck = has & (idle_for >= w)
        no_progress = has & (t - self.last_progress >= w)
        return {
            "tasks_finished": float(self.tasks_finished),
            "throughput": self.tasks_finished / max(self.steps, 1),
            "mean_service_time": (
                tasks.service_sum / self.tasks_finished if self.tasks_finished else float("nan")
            ),
            "executed_collisions": float(self.executed_collisions),
            "attempted_conflicts": float(self.attempted_conflicts),
            "invalid_moves": float(self.invalid_moves),
            "wait_fraction": self.task_waits / max(self.task_steps, 1),
            "deadlocked": float(stuck.sum()),
            "livelocked": float((no_progress & ~stuck).sum()),
            "stalled": float(has.any() and t - self.last_finish >= w and t >= w),
        }


def band_census(
    rows: np.ndarray, goal_rows: np.ndarray, moved: np.ndarray, finished: np.ndarray,
    height: int, bands: int, turned: np.ndarray | None = None, undone: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """(bands, 6) int64 for ``bands`` horizontal stripes of a map ``height`` rows high (row r
    in stripe ``r * bands // height``): the robots standing in each (``rows``, (R,) each
    robot's row), those of them that moved to another cell in the step (``moved``, (R,)
    bool; a quarter turn under rotation is not a move), the robots whose goal lies in it
    (``goal_rows``, -1 for a robot without a goal, counted nowhere), the errands finished
    there in the step (``finished``, (R,) each robot's count), the robots that turned in
    place (``turned``, (R,) bool; none when omitted, as on the 4-connected grid) and those of
    them whose turn took back their previous one (``undone``, :class:`TurnReversals`). Rows
    must lie in ``0 .. height - 1``.

    Whole-run figures hide where a warehouse jams: a profile of these counts over a run
    shows where robots queue, how much of the time they stand there, and whether the errands
    served there keep up (on the League's warehouse_large, whose stations sit in the top and
    bottom rows, one of those bands fills); under rotation, the turns and the turns taken
    back show how much of the standing is turning toward cells the planner then gives to
    others."""
    band = np.asarray(rows, np.int64) * bands // height
    goal_rows = np.asarray(goal_rows, np.int64)
    has = goal_rows >= 0
    none = np.zeros(len(band), bool)
    turned = none if turned is None else np.asarray(turned, bool)
    undone = none if undone is None else np.asarray(undone, bool)
    return np.stack(
        [
            np.bincount(band, minlength=bands),
            np.bincount(band[np.asarray(moved, bool)], minlength=bands),
            np.bincount(goal_rows[has] * bands // height, minlength=bands),
            np.bincount(band, weights=finished, minlength=bands).astype(np.int64),
            np.bincount(band[turned], minlength=bands),
            np.bincount(band[undone], minlength=bands),
        ],
        axis=1,
    )


class TurnReversals:
    """Which quarter turns take back the same robot's previous one, step by step.

    A turn is *taken back* when a robot turns one way and, within ``window`` steps and
    without leaving its cell in between, turns the other way: two steps spent to face where
    it faced (a u-turn, two turns the same way, is not). Under rotation a one-step planner
    turns a robot toward the cell it plans to enter; if the next plan gives that cell to
    another robot, the robot turns back. The share of turns taken back is thus a measure of
    plans that do not hold from one step to the next. Per robot, its own last turn only."""

    def __init__(self, n: int, window: int = 3):
        if window < 1:
            raise ValueError(f"window: at least 1 step (got {window})")
        self.window = window
        self._last_turn = np.zeros(n, np.int8)  # +1 clockwise, -1 counter-clockwise, 0 none
        self._last_step = np.zeros(n, np.int64)

    def update(
        self, step: int, heading_before: np.ndarray, heading_after: np.ndarray,
        moved: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """(R,) bool: the robots that turned in place in ``step``, and those whose turn took
        back their last one. Headings 0..3 clockwise (east, south, west, north)."""
        change = (np.asarray(heading_after, np.int64) - np.asarray(heading_before, np.int64)) % 4
        moved = np.asarray(moved, bool)
        turned = (change != 0) & ~moved
        quarter = np.where(change == 1, 1, np.where(change == 3, -1, 0)).astype(np.int8)
        undone = (
            turned
            & (quarter != 0)
            & (quarter == -self._last_turn)
            & (step - self._last_step <= self.window)
        )
        self._last_turn[moved] = 0  # a move ends the turn it followed
        self._last_turn[turned] = quarter[turned]
        self._last_step[turned] = step
        return turned, undone


@numba.njit(cache=True)
def _record_robots(t, moved, done, goal, dist, had_task, prev_goal, best_dist, last_progress,
                   last_moved):  # fmt: skip
    """The per-robot part of :meth:`GridMetrics.record`, one pass, arrays updated in place;
    returns (tasks finished, robot-steps with a task, of which waiting). Per robot::

        moved:            last_moved = t
        changed = goal != prev_goal or done      (a new or finished task is progress)
        changed:          best_dist = dist; last_progress = t; last_moved >= t - 1
        dist < best_dist: best_dist = dist; last_progress = t
        prev_goal = goal
    """
    finished = 0
    task_steps = 0
    task_waits = 0
    for i in range(goal.shape[0]):
        if done[i]:
            finished += 1
        if had_task[i]:
            task_steps += 1
            if not moved[i]:
                task_waits += 1
        if moved[i]:
            last_moved[i] = t
        changed = goal[i] != prev_goal[i] or done[i]
        if changed:
            best_dist[i] = dist[i]
            last_progress[i] = t
            if last_moved[i] < t - 1:
                last_moved[i] = t - 1
        elif dist[i] < best_dist[i]:
            best_dist[i] = dist[i]
            last_progress[i] = t
        prev_goal[i] = goal[i]
    return finished, task_steps, task_waits
