"""The controller slot of the grid world: a batch of local observations -> (R,) actions.

Warehouse controllers subclass :class:`GridPolicy` (not the drones'
:class:`swarm.policy.Policy`: their actions are discrete moves, not (R, 2) accelerations)
and declare ``scenario = "warehouse"``. Like the drones' policies they are pure functions of
the observation: ``act`` never changes the world or the policy, and randomness comes from
keyed streams of (seed, step, row), so a robot's draw never depends on other robots.

Hooks (as for the drones, :mod:`swarm.policy`: ``decide(obs)`` returns the step's whole
:class:`~swarm.policy.Decision`, actions and new per-robot memory; the default asks ``act``):

``rounds() -> tuple[Round, ...]``
    The message rounds the controller uses in a step, in order, each with the floats of one
    message (:class:`swarm.radio.Round`). ``obs.radio.send(name, messages)`` carries a
    round to the comm neighbours and returns what each robot heard; nothing else reaches
    another robot, and every packet and byte is counted (:mod:`swarm.radio`).
``act(obs) -> (R,) int``
    0 wait, 1 north, 2 east, 3 south, 4 west.
``claim(obs) -> (claims (R,), bids (R,))``
    For the Poisson stream: the order id each idle robot claims (-1 none) and its bid (lower
    is better). The default claims the nearest open order without coordinating (a baseline);
    :mod:`policies.auction` coordinates claims with comm neighbours. The open orders come
    from the warehouse management system (``obs.known["board"]``, a central service; its traffic is
    counted apart from the robots').

Shared pieces here: the *preference list* (each robot's five candidate cells, best first,
by distance to its own goal, ties broken by a keyed random number) and the *beacon* that
carries a robot's cell, priority, preference list and whether its last planned move was
blocked to its comm neighbours.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from swarm.comm import Inbox
from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Decision, Remembers
from swarm.radio import Round
from swarm.rng import keyed_uniform

# beacon layout (floats): own free cell, priority, the 5 preferred cells (-1 padding), and
# 1.0 when the robot's planned move was blocked last step
BEACON_CELL = 0
BEACON_PRIORITY = 1
BEACON_PREFS = slice(2, 7)
BEACON_BLOCKED = 7
BEACON_DIM = 8


class NoParams(StrictConfig):
    """A controller without parameters."""


class GridPolicy(Remembers):
    """Base class of warehouse controllers (see the module docstring)."""

    name: ClassVar[str] = "grid_policy"
    citation: ClassVar[str] = ""
    scenario: ClassVar[str] = "warehouse"
    scenarios: ClassVar[tuple[str, ...] | None] = ("warehouse",)
    Params: ClassVar[type[StrictConfig]] = NoParams

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides: Any):
        self.params = params if params is not None else self.Params.build(self.name, **overrides)
        self.seed = int(seed)

    @property
    def message_hops(self) -> int:
        """Comm hops information travels within one step before a robot acts: 1 when robots
        act on what their neighbours broadcast about themselves; k when they exchange k
        rounds of messages (each round's messages computed from the last round's). A
        robot's action depends only on robots within this many hops (the locality test)."""
        return 1

    def rounds(self) -> tuple[Round, ...]:
        """The message rounds of a step's move decision, in order (none by default)."""
        return ()

    def claim_rounds(self) -> tuple[Round, ...]:
        """The message rounds of the order allocation (:meth:`claim`), in order."""
        return ()

    @property
    def memory_fields(self) -> tuple[str, ...]:
        """Attributes holding per-robot memory, row i robot i's (the audit slices them)."""
        return ()

    def decide(self, obs: LocalObservation) -> Decision:
        """The step's whole decision: (R,) moves and new memory (messages go through
        ``obs.radio`` in the declared rounds). Pure: the model applies it."""
        return Decision(np.asarray(self.act(obs)))

    def act(self, obs: LocalObservation) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, obs: LocalObservation) -> np.ndarray:
        return self.act(obs)

    def commit(self, obs: LocalObservation, actions: np.ndarray) -> None:
        """Called once per step with the actions taken, before the world moves (for
        controllers that keep memory without returning it from :meth:`decide`)."""

    def claim(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray]:
        """Nearest open order for every idle robot, no coordination (a baseline)."""
        claims = np.full(obs.n, -1, np.int64)
        bids = np.full(obs.n, np.inf)
        board = obs.known["board"]
        idle = np.flatnonzero(obs.own["phase"] == 0)
        if board is None or board.n == 0 or len(idle) == 0:
            return claims, bids
        cost = order_costs(obs, idle)
        best = np.argmin(cost, axis=1)
        best_cost = cost[np.arange(len(idle)), best]
        ok = best_cost < obs.known["bank"].unreached
        claims[idle[ok]] = board.order_id[best[ok]]
        bids[idle[ok]] = best_cost[ok]
        return claims, bids

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


def order_costs(obs: LocalObservation, rows: np.ndarray) -> np.ndarray:
    """(len(rows), O) steps from each robot to each open order's pick cell."""
    board = obs.known["board"]
    assert board is not None
    return obs.known["bank"].lookup(board.pick_slot[None, :], obs.own["fcell"][rows, None])


def priorities(obs: LocalObservation, seed: int) -> np.ndarray:
    """(R,) PIBT priority: steps since the current task was revealed, plus a keyed fraction
    in [0, 1) that breaks ties and differs per robot (Okumura et al. 2022, Sec. 4.1)."""
    return obs.own["task_age"] + keyed_uniform(seed, obs.ids, 7)


def preferences(obs: LocalObservation, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(R, 5) candidate free cells, best first, and their (R, 5) distances to the own goal.

    Candidates are the cell itself and its four neighbours; walls go last as -1 (distance
    ``bank.unreached``). A robot without a goal prefers to stay (0) over moving (1).
    """
    bank, slot = obs.known["bank"], obs.own["goal_slot"]
    cand = obs.known["grid"].neighbors[obs.own["fcell"]].astype(np.int64)  # (R, 5): by action
    has = slot >= 0
    dist = np.empty(cand.shape, np.int64)
    dist[has] = bank.lookup(slot[has, None], cand[has])
    dist[~has] = np.where(np.arange(5) == 0, 0, 1)[None, :]
    dist[cand < 0] = bank.unreached
    tie = keyed_uniform(seed, obs.step, obs.ids[:, None], np.arange(5)[None, :])
    order = np.argsort(dist + tie, axis=1)
    rows = np.arange(obs.n)[:, None]
    return cand[rows, order], dist[rows, order]


def beacons(
    obs: LocalObservation, prio: np.ndarray, prefs: np.ndarray, blocked: np.ndarray | None = None
) -> np.ndarray:
    """(R, BEACON_DIM) what each robot tells its comm neighbours."""
    out = np.empty((obs.n, BEACON_DIM))
    out[:, BEACON_CELL] = obs.own["fcell"]
    out[:, BEACON_PRIORITY] = prio
    out[:, BEACON_PREFS] = prefs
    out[:, BEACON_BLOCKED] = 0.0 if blocked is None else blocked
    return out


BEACON = Round("beacon", BEACON_DIM)


def exchange_beacons(obs: LocalObservation, seed: int) -> tuple[np.ndarray, np.ndarray, Inbox]:
    """Own priorities (R,), own preference lists (R, 5), and the beacons heard (round
    ``beacon``)."""
    prio = priorities(obs, seed)
    prefs, _ = preferences(obs, seed)
    inbox = obs.radio.send(BEACON.name, beacons(obs, prio, prefs))
    return prio, prefs, inbox


def action_codes(obs: LocalObservation, target_f: np.ndarray) -> np.ndarray:
    """(R,) action code that moves each robot to the free cell ``target_f`` (a neighbour)."""
    nbr = obs.known["grid"].neighbors[obs.own["fcell"]]
    match = nbr == target_f[:, None]
    match[:, 0] |= ~match.any(axis=1)  # not a neighbour (should not happen): wait
    return np.argmax(match, axis=1).astype(np.int64)
