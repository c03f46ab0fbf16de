"""Greedy shortest path with local yielding: a reactive baseline.

Every robot steps along its distance field (the map's shortest paths, BFS) towards its goal,
and settles local contests with the robots it hears from, by priority, the way reactive
multi-robot navigation does it (yielding rules of the kind used in Kiva-style systems;
Wurman, D'Andrea, Mountz 2008, "Coordinating hundreds of cooperative, autonomous vehicles
in warehouses", AI Magazine 29(1)). Priorities are as in :mod:`policies.pibt` (steps since
the task was revealed, keyed tie-break), exchanged in one beacon round (``beacon``) with
comm neighbours:

1. A robot takes the first cell of its preference list (closest to its goal) unless it is
   *blocked*: a robot stands there and intends to stay, a higher-priority neighbour claims
   the same cell, or a higher-priority neighbour stands there heading into our cell
   (head-on). Then it tries its next candidates, but never one farther from its goal than
   staying (it waits instead).
2. A robot *yields* (steps aside) when a higher-priority neighbour wants its cell and it was
   not going to leave anyway (it wants to stay, or the two meet head-on): it takes its best
   candidate that nobody stands on or claims, even away from its goal, else waits.

Under the League's action model (``motion = "rotate"``) the candidate cells are ranked by a
heading-aware cost (:func:`swarm.grid.policy.rotate_preferences`) and the chosen cell becomes
an action (:func:`swarm.grid.policy.rotate_codes`): forward if it is ahead, else a turn
toward it (the robot keeps its cell; the world stops anyone planned into it).

With a guidance graph (the warehouse's ``guidance``, :mod:`swarm.grid.guidance`) the
preference list ranks cells by the move's cost plus the guided cost-to-goal instead of the
hop distance (:func:`swarm.grid.policy.preferences`, under rotation
:func:`~swarm.grid.policy.rotate_preferences`), so "farther from its goal than staying"
is measured on the guided costs too.

There is no inheritance and no backtracking, so robots can wait for each other in corridors
(the deadlock detector reports it); that is what makes it a baseline for :mod:`policies.pibt`.
"""

from __future__ import annotations

import numba
import numpy as np

from swarm.grid.policy import (
    BEACON,
    BEACON_CELL,
    BEACON_PREFS,
    BEACON_PRIORITY,
    GridPolicy,
    action_codes,
    beacons,
    exchange_beacons,
    priorities,
    rotate_codes,
    rotate_preferences,
    rotating,
)
from swarm.grid.world import sensed_cells
from swarm.observation import LocalObservation
from swarm.radio import Round


@numba.njit(cache=True)
def _greedy_yield(own_cell, own_prio, own_prefs, in_ptr, in_cell, in_prio, in_want,
                  sense_ptr, sense_cell):  # fmt: skip
    n = own_cell.shape[0]
    out = own_cell.copy()
    for i in range(n):
        me = own_cell[i]
        first = own_prefs[i, 0]
        a, b = in_ptr[i], in_ptr[i + 1]
        # must i clear its cell for a higher-priority neighbour?
        clear = False
        for e in range(a, b):
            if in_want[e] == me and in_prio[e] > own_prio[i]:
                if first == me or first == in_cell[e]:
                    clear = True
        chosen = me
        for k in range(5):
            v = own_prefs[i, k]
            if v < 0:
                break
            if v == me:
                if clear:
                    continue  # look further: anything but staying
                break  # staying beats moving away from the goal
            blocked = False
            for e in range(a, b):
                if in_cell[e] == v and (in_want[e] == v or clear):
                    blocked = True  # someone stands there and stays (or we flee: avoid all)
                elif in_cell[e] == v and in_want[e] == me and in_prio[e] > own_prio[i]:
                    blocked = True  # head-on with a higher priority
                elif in_want[e] == v and (in_prio[e] > own_prio[i] or clear):
                    blocked = True  # a higher priority claims the cell
            for e in range(sense_ptr[i], sense_ptr[i + 1]):
                if sense_cell[e] == v:
                    heard = False
                    for f in range(a, b):
                        if in_cell[f] == v:
                            heard = True
                    if not heard:
                        blocked = True  # sensed, silent: assume it stays
            if not blocked:
                chosen = v
                break
        out[i] = chosen
    return out


class GreedyYield(GridPolicy):
    """Greedy shortest path with local yielding (see the module docstring)."""

    name = "greedy_yield"
    citation = (
        "Wurman, D'Andrea, Mountz (2008). Coordinating hundreds of cooperative, autonomous "
        "vehicles in warehouses. AI Magazine 29(1), 9-19 (reactive local traffic rules)."
    )

    def rounds(self) -> tuple[Round, ...]:
        return (BEACON,)

    def act(self, obs: LocalObservation) -> np.ndarray:
        turns = None
        if rotating(obs):
            prio = priorities(obs, self.seed)
            prefs, turns = rotate_preferences(obs, self.seed)
            inbox = obs.radio.send(BEACON.name, beacons(obs, prio, prefs))
        else:
            prio, prefs, inbox = exchange_beacons(obs, self.seed)
        msg = inbox.msg
        target = _greedy_yield(
            obs.own["fcell"],
            prio,
            prefs,
            inbox.ptr,
            msg[:, BEACON_CELL].astype(np.int64),
            np.ascontiguousarray(msg[:, BEACON_PRIORITY]),
            msg[:, BEACON_PREFS][:, 0].astype(np.int64),
            obs.neighbors.ptr,
            sensed_cells(obs),
        )
        if turns is not None:
            return rotate_codes(obs, target, turns)
        return action_codes(obs, target)
