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
    0 wait, 1 north, 2 east, 3 south, 4 west; under the League's action model
    (``obs.known["motion"] == "rotate"``) 0 wait, 1 forward, 2 clockwise,
    3 counter-clockwise.
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

**Under rotation** (:func:`rotate_preferences`, :func:`rotate_codes`) a robot can only enter
two cells in a step: the one ahead (forward) and its own (rotate or wait). Its preference
list ranks its five candidate cells by a heading-aware cost to its goal (``turn_cost`` per 90
degrees of rotation the path needs), the side and rear cells after its own at equal
distance, so a planner over cells (PIBT, greedy yielding) puts a robot in a side cell only
when pushing it out of its own; the robot then turns toward that cell and keeps its own,
and a robot planned into its cell is stopped by the world (an attempted conflict, never a
collision). A robot planned to stay rotates toward its best neighbouring cell (its
``stay_turn``), or waits when that cell is ahead (it is blocked) or it is at its goal.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numba
import numpy as np

from swarm.comm import Inbox
from swarm.config import StrictConfig
from swarm.grid.distance import readable_fields
from swarm.grid.world import CLOCKWISE, COUNTER_CLOCKWISE, FORWARD, HEADING_MOVE, WAIT
from swarm.observation import LocalObservation
from swarm.policy import Decision, Remembers
from swarm.radio import Round
from swarm.rng import keyed_uniform
from swarm.threads import robot_chunks, serial_and_parallel

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
    motions: ClassVar[tuple[str, ...]] = ("grid", "rotate")  # action models it plans for
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


def priorities(obs: LocalObservation, seed: int, distance_weight: int = 0) -> np.ndarray:
    """(R,) PIBT priority: steps since the current task was revealed, plus a keyed fraction
    in [0, 1) that breaks ties and differs per robot (Okumura et al. 2022, Sec. 4.1).

    ``distance_weight`` k > 0 subtracts k times the robot's hop distance to its goal (its own
    field; a robot without a task, or whose goal it cannot reach, counts 0), so robots near
    their goals go first and finish.
    The age still grows by one a step, so a task older than another by more than k times
    its own distance ranks above it however near the other is: no task waits behind newer
    ones for ever (the argument of Okumura et al. for ages alone, delayed by at most k times
    the map's diameter). An integer k keeps the priorities integers plus the keyed
    fractions, so the gaps between robots stay what ``hop_discount`` (policies.pibt)
    assumes."""
    prio = obs.own["task_age"] + keyed_uniform(seed, obs.ids, 7)
    if distance_weight:
        slot = obs.own["goal_slot"]
        has = slot >= 0
        bank = obs.known["bank"]
        hops = np.zeros(obs.n)
        hops[has] = bank.lookup(slot[has], obs.own["fcell"][has])
        hops[hops >= bank.unreached] = 0.0
        prio = prio - distance_weight * hops
    return prio


def preferences(
    obs: LocalObservation, seed: int, wait_cost: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """(R, 5) candidate free cells, best first, and their (R, 5) ranking costs.

    Candidates are the cell itself and its four neighbours; walls go last as -1. Without
    guidance the cost is the candidate's distance to the own goal (walls
    ``bank.unreached``). With a guidance graph (``obs.known["guide"]``) it is the move's cost
    plus the candidate's guided cost-to-goal, ``cost(u -> n) + d_guided(n)`` (staying:
    the wait's cost, 1, plus ``d_guided(u)``): with unit costs the same order, shifted by 1.
    ``wait_cost`` w > 1 adds w - 1 to staying away from the goal (a step spent in place
    costs w, a move 1; :func:`rotate_preferences`). A robot without a goal prefers to stay
    (0) over moving (1).
    """
    bank, slot = obs.known["bank"], obs.own["goal_slot"]
    guide = obs.known.get("guide")
    fcell = obs.own["fcell"]
    cand = obs.known["grid"].neighbors[fcell].astype(np.int64)  # (R, 5): by action
    has = slot >= 0
    dist = np.empty(cand.shape, np.int64)
    if guide is None:
        dist[has] = bank.lookup(slot[has, None], cand[has])
        wall = bank.unreached
    else:
        dist[has] = guide.cost[fcell[has]] + guide.lookup(slot[has, None], cand[has])
        wall = guide.unreached + int(guide.cost.max()) + 1  # after every reachable cost
    if wait_cost != 1:  # a step in place away from a goal it can reach (walls stay last)
        unreached = bank.unreached if guide is None else guide.unreached
        here = dist[:, 0] if guide is None else dist[:, 0] - guide.cost[fcell, 0]  # own field
        away = has & (fcell != obs.own["goal_f"]) & (here < unreached)
        dist[away, 0] += wait_cost - 1
    dist[~has] = np.where(np.arange(5) == 0, 0, 1)[None, :]
    dist[cand < 0] = wall
    tie = keyed_uniform(seed, obs.step, obs.ids[:, None], np.arange(5)[None, :])
    order = np.argsort(dist + tie, axis=1)
    rows = np.arange(obs.n)[:, None]
    return cand[rows, order], dist[rows, order]


# heading of each grid move code (0 wait has none): north 3, east 0, south 1, west 2
CODE_HEADING = np.array([-1, 3, 0, 1, 2], np.int64)


def rotate_preferences(
    obs: LocalObservation, seed: int, turn_cost: int = 1, wait_cost: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Under rotation: (R, 5) candidate free cells, best first (walls last as -1), and (R,)
    the rotation each robot makes if it keeps its cell (``stay_turn``: 0 wait, 2 clockwise,
    3 counter-clockwise).

    Costs, from the robot's own field d and move costs c (BFS and unit costs; with a
    guidance graph, ``obs.known["guide"]``, its guided field and move costs): a state
    (cell x, heading h) is worth ``V(x, h) = d(x) + turn_cost q(x, h)``, q the quarter turns
    from h to the nearest heading that leads downhill from x (a move x -> n with
    ``c(x -> n) + d(n) = d(x)``, the first move of a cheapest path: on unit costs
    ``d(n) < d(x)``; 0 at the goal). The cell ahead costs ``c(own -> ahead) + V(ahead, h)``;
    the own cell ``w + V(own, h +- 1)`` (the better quarter turn, a step; the
    ``stay_turn``), or 0 at the goal; another neighbour n, which the robot can only enter
    after turning toward it, ``c(own -> n) + d(n) + turn_cost (q + 1)`` for the q quarter
    turns it needs. With ``wait_cost`` w = 1 (a step in place costs what a move does) a side
    cell at the own cell's distance ranks after the own cell: a robot chooses it only when
    pushed out of its own; with w = 2 the two tie, and a robot in a queue may step aside
    rather than wait (PIBTParams.wait_cost). Forward wins ties; with ``turn_cost`` 1 a
    quarter turn costs what it takes, a step, so a robot facing away from its goal turns
    rather than drives off; 0 ranks by distance alone. A robot without a goal prefers to
    stay (wait). Ties use keyed numbers, so a robot's choice never depends on other robots.
    """
    fields, unreached, slot, step_cost, guided = goal_fields(obs)
    nbr = obs.known["grid"].neighbors
    tie = keyed_uniform(seed, obs.step, obs.ids[:, None], np.arange(6)[None, :])
    prefs = np.empty((obs.n, 5), np.int64)
    stay_turn = np.empty(obs.n, np.int64)
    chunks = robot_chunks(obs.n)
    kernel = _rotate_parallel if chunks > 1 else _rotate_serial
    kernel(
        fields, unreached, slot, nbr,
        np.asarray(obs.own["fcell"], np.int64), np.asarray(obs.own["heading"], np.int64),
        step_cost, guided, tie, np.int64(turn_cost), float(wait_cost), prefs,
        stay_turn, chunks,
    )  # fmt: skip
    return prefs, stay_turn


_UNIT_COSTS = np.ones((1, 5), np.int64)  # read as every move costing 1 (no guidance)


def goal_fields(obs: LocalObservation) -> tuple[np.ndarray, np.int64, np.ndarray, np.ndarray, bool]:
    """What a compiled ranking of moves reads of the robots' own goals: the (S, F) fields
    (guided costs where the map has guidance, else hops), their ``unreached`` value, the
    slots to index them with (:func:`~swarm.grid.distance.readable_fields`), the (F, 5)
    move costs (or (1, 5) ones) and whether they are guided."""
    guide = obs.known.get("guide")
    field = obs.known["bank"] if guide is None else guide
    step_cost = _UNIT_COSTS if guide is None else np.ascontiguousarray(guide.cost, np.int64)
    fields, slot = readable_fields(field, obs.own["goal_slot"])
    return fields, np.int64(field.unreached), slot, step_cost, guide is not None


_CODE_HEADING = tuple(int(h) for h in CODE_HEADING)
_HEADING_MOVE = tuple(int(k) for k in HEADING_MOVE)


@numba.njit(cache=True)
def _quarters_to(down, heading):
    """Quarter turns from ``heading`` to the nearest heading marked in ``down`` (4,); 0 where
    none is (the goal)."""
    best = 9
    for h in range(4):
        if down[h]:
            diff = abs(h - heading)
            best = min(best, min(diff, 4 - diff))
    return 0 if best == 9 else best


def _rotate_preferences_chunks(fields, unreached, slot, nbr, fcell, heading, step_cost, guided,
                               tie, turn_cost, wait_cost, prefs, stay_turn, n_chunks):  # fmt: skip
    """:func:`rotate_preferences` robot by robot, with the same arithmetic in the same order
    (so the same costs to the bit, and a stable sort of the five: the same candidates);
    robots in ``n_chunks`` interleaved chunks, each writing its own robots' rows."""
    for c in numba.prange(n_chunks):
        _rotate_rows(fields, unreached, slot, nbr, fcell, heading, step_cost, guided, tie,
                     turn_cost, wait_cost, prefs, stay_turn, c, n_chunks)  # fmt: skip


_rotate_serial, _rotate_parallel = serial_and_parallel(_rotate_preferences_chunks)


@numba.njit(cache=True)
def _rotate_rows(fields, unreached, slot, nbr, fcell, heading, step_cost, guided, tie, turn_cost,
                 wait_cost, prefs, stay_turn, first, stride):  # fmt: skip
    """Robots ``first, first + stride, ...`` of :func:`_rotate_preferences_chunks`."""
    down_own = np.empty(4, np.bool_)
    down_ahead = np.empty(4, np.bool_)
    cand = np.empty(5, np.int64)
    dist = np.empty(5, np.int64)
    d_nxt = np.empty(5, np.int64)
    cost = np.empty(5)
    order = np.empty(5, np.int64)
    for i in range(first, fcell.shape[0], stride):
        has = slot[i] >= 0
        h = heading[i]
        own = fcell[i]
        for k in range(5):
            cand[k] = nbr[own, k]
            if cand[k] < 0:
                dist[k] = unreached
            elif has:
                dist[k] = np.int64(fields[slot[i], cand[k]])
            else:
                dist[k] = 0
        ahead_code = _HEADING_MOVE[h]
        ahead = cand[ahead_code]
        at = max(ahead, 0)
        so = own if guided else 0
        sa = at if guided else 0
        for k in range(1, 5):
            down_own[_CODE_HEADING[k]] = cand[k] >= 0 and step_cost[so, k] + dist[k] == dist[0]
        for k in range(5):
            u = nbr[at, k]
            if u < 0:
                d_nxt[k] = unreached
            elif has:
                d_nxt[k] = np.int64(fields[slot[i], u])
            else:
                d_nxt[k] = 0
        for k in range(1, 5):
            u = nbr[at, k]
            down_ahead[_CODE_HEADING[k]] = u >= 0 and step_cost[sa, k] + d_nxt[k] == d_nxt[0]
        q_cw = _quarters_to(down_own, (h + 1) % 4)
        q_ccw = _quarters_to(down_own, (h + 3) % 4)
        clockwise = q_cw < q_ccw or (q_cw == q_ccw and tie[i, 5] < 0.5)
        at_goal = has and dist[0] == 0
        if has:
            for k in range(1, 5):
                quarter = (_CODE_HEADING[k] - h) % 4
                quarter = min(quarter, 4 - quarter)
                cost[k] = (step_cost[so, k] + dist[k] + turn_cost * (quarter + 1)) + 0.5 * tie[i, k]
            v_ahead = dist[ahead_code] + turn_cost * _quarters_to(down_ahead, h)
            cost[ahead_code] = step_cost[so, ahead_code] + v_ahead
            if at_goal:
                cost[0] = 0.0
            else:
                cost[0] = (wait_cost + dist[0]) + turn_cost * min(q_cw, q_ccw)
            cost[0] += 0.25
        else:
            cost[0] = 0.0 + 0.5 * tie[i, 0]
            for k in range(1, 5):
                cost[k] = 1.0 + 0.5 * tie[i, k]
        any_down = False
        for k in range(5):
            if cand[k] < 0:
                cost[k] = np.inf
            if k < 4 and down_own[k]:
                any_down = True
        for k in range(5):  # stable insertion sort of the five costs
            order[k] = k
            j = k
            while j > 0 and cost[order[j - 1]] > cost[order[j]]:
                order[j - 1], order[j] = order[j], order[j - 1]
                j -= 1
        for k in range(5):
            c = order[k]
            prefs[i, k] = cand[c] if np.isfinite(cost[c]) else -1
        forward_best = cost[ahead_code] <= cost[0]
        if not has or at_goal or forward_best or not any_down:
            stay_turn[i] = WAIT
        elif clockwise:
            stay_turn[i] = CLOCKWISE
        else:
            stay_turn[i] = COUNTER_CLOCKWISE


def _turn_toward(heading: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(R,) the rotation that starts turning ``heading`` toward ``target`` (a U-turn:
    clockwise)."""
    diff = (target - heading) % 4
    return np.where(diff == 0, WAIT, np.where(diff == 3, COUNTER_CLOCKWISE, CLOCKWISE))


def rotate_codes(obs: LocalObservation, target_f: np.ndarray, stay_turn: np.ndarray) -> np.ndarray:
    """(R,) rotate-model action toward each robot's planned free cell: forward when it is
    the cell ahead, its ``stay_turn`` when it is the own cell, else (another neighbour)
    the quarter turn toward it (a U-turn: clockwise). A robot that turns keeps its cell;
    a robot planned into that cell is stopped by the world (an attempted conflict)."""
    fcell = obs.own["fcell"]
    cand = obs.known["grid"].neighbors[fcell]
    heading = obs.own["heading"].astype(np.int64)
    rows = np.arange(obs.n)
    ahead = cand[rows, HEADING_MOVE[heading]]
    code = np.argmax(cand == target_f[:, None], axis=1)
    turn = _turn_toward(heading, CODE_HEADING[code])
    out = np.where(target_f == fcell, stay_turn, turn)
    return np.where((ahead >= 0) & (target_f == ahead), FORWARD, out).astype(np.int64)


def rotating(obs: LocalObservation) -> bool:
    """Whether the world runs the League's action model (headings, forward and turns)."""
    return obs.known.get("motion", "grid") == "rotate"


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
