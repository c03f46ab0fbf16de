"""Enhanced PIBT: priority inheritance over multi-action operations (the rotate model).

Yukhnevich, Andreychuk (2025), "Enhancing PIBT via Multi-Action Operations" (AAAI-26,
arXiv:2511.09193; EPIBT). One-step PIBT (:mod:`policies.pibt`) decides on cells, but under
the League's action model a robot reaches a side cell only after turning, so a plan that
sends it there holds for several steps while every step replans it; EPIBT plans
*operations* instead: sequences of ``DEPTH`` = 3 actions (forward, clockwise,
counter-clockwise, wait), each reserving the cells the robot occupies at t + 1 .. t + 3
and the edges it drives along, so a turn and the drive after it are one decision.

**Operations** (:func:`operations`): every string over {W, F, R, C} of length 3 where no
rotation follows the last forward (a trailing turn gains nothing within the window), a
stretch without a forward never mixes R and C or turns the same way three times; ordered by
weight (a forward at step d counts 10 (3 - d), any other action -(3 - d)) and deduplicated
by the cells visited and the final heading: 17, the "wait, wait, wait" first. A robot ranks
its 16 candidates (all but WWW, which is only ever held, never chosen) by the step at which
the operation reaches its goal, else by its end state's cost to the goal (its own guided
field, plus ``turn_cost`` per quarter turn to the nearest heading downhill) plus 3; ties by
weight (earlier forwards first). A robot without a task ranks by how few and how late its
forward moves are.

**Planning** (Algorithm 1 of the paper, as we read the authors' description): every robot
holds a reservation from the start of the step, the operation it chose last step shifted
by one with a wait appended (its own memory; "wait, wait, wait" when its first move did not
happen: the rest no longer starts where it stands), so a robot nobody disturbs keeps its
plan. Robots are taken in decreasing priority. A robot tries its candidates in rank order:
one that conflicts with nobody (vertex or swap, at any of the three steps; following is
allowed) is taken; one that conflicts with exactly one robot of lower priority than the
chain's root, not in the current chain and visited fewer than ``revisits`` times this step,
pushes it: that robot drops its reservation and replans around the pusher's new one
(recursively); if it fails it gets its reservation back and the pusher tries its next
candidate. A robot that finds nothing keeps what it holds. Each robot executes the first
action of its operation.

**Decentralised** (``view = "local"``, default). Each robot broadcasts a beacon (8 floats,
the layout of :mod:`swarm.grid.policy`'s beacon where it matters to the relay round: cell,
priority, its heading, the operation it holds, its candidate ranking packed in two floats,
and whether its last move was stopped) and runs the planning above on its local problem:
itself and the robots it heard (plus, near stopped robots, those its neighbours relayed:
the relay round of :mod:`policies.pibt`), with the robots it senses but did not hear held
where they stand, and executes its own operation's first action. The operations the robots
hold were planned in different views and can conflict: they are reserved in decreasing
priority, and a robot whose held operation meets a stronger robot's (or enters one that
stays) holds "wait, wait, wait" instead (:func:`_hold_consistent`); otherwise a robot that
finds nothing better keeps a plan into a stronger one's. Neighbouring views differ
at their edges, so the step has several planning rounds (``rounds``), each after a beacon
round that carries the operations the neighbours chose in the last one; in the rounds
``replan_stronger`` names (by default every one), a robot first replans the stronger robots
it heard (one EPIBT over its view), in the others it takes their announced operations as
given and plans only itself. It reads nothing but its own state, the public map and what it
heard (``swarm audit warehouse --policy epibt``).
With ``unknown_cells = "occupied"`` a cell beyond its radio range where no robot it knows
stands is not entered (``relay_vouches``: unless a relayer vouched for it, as in
:mod:`policies.pibt`). A last round (``arbitrate``, :func:`policies.pibt.arbitrate`): a
robot whose next cell a heard neighbour with a stronger claim also enters waits.

**Whole map** (``view = "global"``): one planning over every robot, the centralised
reference; it reads the batch and fails the locality audit by design.

Measured on MR23-I-10 (rotate, flow guidance w = 10, reach 32, ``distance_priority`` 30;
``experiments/bench_mainround.py``, README): over the whole map (``--controllers
epibt-global``) 137,897 errands in the League's 5,000 steps, 70.8 % of its best known and
1.39 times whole-map PIBT with the same settings, no move cancelled (MR23-I-06, flow
w = 16: 89.2 %). Decentralised (``--controllers epibt``, held-out errands) 7,192 errands
in 300 steps against 6,647 for decentralised PIBT, and 23,069 in 1,000 steps against 24,649
(13,592 before held operations were made consistent): jams still grow near the stations,
where neighbouring views plan different operations for the robots at their edges. Making
local views agree on operations there is open.

Only the rotate model: the operations are the rotate model's actions (the warehouse refuses
``motion = "grid"`` with this controller before the run starts).
"""

from __future__ import annotations

import itertools
from typing import ClassVar, Literal

import numba
import numpy as np
from pydantic import Field

from policies.pibt import PLAN_DIM, LocalPlannerParams, _unknown, arbitrate, plans, relay_round
from swarm.comm import Inbox
from swarm.config import StrictConfig
from swarm.grid.guidance import OPPOSITE
from swarm.grid.policy import (
    BEACON_BLOCKED,
    BEACON_CELL,
    BEACON_DIM,
    BEACON_PRIORITY,
    CODE_HEADING,
    GridPolicy,
    _quarters_to,
    goal_fields,
    priorities,
    rotating,
)
from swarm.grid.world import CLOCKWISE, COUNTER_CLOCKWISE, FORWARD, HEADING_MOVE, WAIT, sensed_cells
from swarm.observation import LocalObservation
from swarm.policy import Decision
from swarm.radio import Round
from swarm.threads import robot_chunks, serial_and_parallel

DEPTH = 3
# beacon columns beside the shared ones (cell 0, priority 1, blocked 7)
BEACON_HEADING = 2
BEACON_HELD = 3  # the operation the robot holds (index into OPERATIONS)
BEACON_RANKING = slice(4, 6)  # its candidates, best first, packed (:func:`pack_rankings`)
BLOCKED = -2  # a sensed robot that sent no beacon: it stays where it is
NONE = -1


def operations(depth: int = DEPTH) -> tuple[np.ndarray, np.ndarray]:
    """(K, depth) action codes of the operations (module docstring), "wait" x depth first,
    and (K,) each operation's index once its first action is done (shifted by one, a wait
    appended; WWW where that is not an operation)."""
    turns = (CLOCKWISE, COUNTER_CLOCKWISE)

    def kept(op: tuple[int, ...]) -> bool:
        last_forward = max((i for i, a in enumerate(op) if a == FORWARD), default=-1)
        if any(a in turns for a in op[last_forward + 1 :]):
            return False
        stretch: list[int] = []
        for a in (*op, FORWARD):
            if a != FORWARD:
                stretch.append(a)
                continue
            if set(turns) <= set(stretch) or max(map(stretch.count, turns)) >= 3:
                return False
            stretch = []
        return True

    def weight(op: tuple[int, ...]) -> int:
        return sum((depth - d) * (10 if a == FORWARD else -1) for d, a in enumerate(op))

    wait_all = (WAIT,) * depth
    ranked = sorted((op for op in itertools.product(range(4), repeat=depth) if kept(op)),
                    key=lambda op: (-weight(op), op))  # fmt: skip
    ranked.remove(wait_all)
    seen, ops = set(), []
    for op in [wait_all, *ranked]:
        row = col = heading = 0
        cells = []
        for a in op:
            if a == FORWARD:
                row += (heading == 1) - (heading == 3)
                col += (heading == 0) - (heading == 2)
            elif a in turns:
                heading = (heading + (1 if a == CLOCKWISE else 3)) % 4
            cells.append((row, col))
        if (key := (tuple(cells), heading)) not in seen:
            seen.add(key)
            ops.append(op)
    index = {op: k for k, op in enumerate(ops)}
    shifted = np.array([index.get((*op[1:], WAIT), 0) for op in ops], np.int64)
    return np.array(ops, np.int64), shifted


OPERATIONS, SHIFTED = operations()
N_CANDIDATES = len(OPERATIONS) - 1
_BASE = N_CANDIDATES + 1  # digits of a packed ranking: operation index, 0 ends the list
_PER_FLOAT = 12  # 17 ** 12 < 2 ** 53: exact in a float64
assert N_CANDIDATES <= 2 * _PER_FLOAT


@numba.njit(cache=True, inline="always")
def _walk(cell, heading, op, ops, nbr, path, dirs):
    """The cells (``path``) and move codes (``dirs``, 0: none) of operation ``op`` from
    (``cell``, ``heading``); False if it drives into a wall."""
    for t in range(ops.shape[1]):
        a = ops[op, t]
        dirs[t] = 0
        if a == 1:  # forward
            k = HEADING_MOVE[heading]
            nxt = nbr[cell, k]
            if nxt < 0:
                return False
            dirs[t] = k
            cell = nxt
        elif a == 2:
            heading = (heading + 1) % 4
        elif a == 3:
            heading = (heading + 3) % 4
        path[t] = cell
    return True


@numba.njit(cache=True, inline="always")
def _downhill_quarters(fields, s, nbr, step_cost, guided, x, heading, down):
    """Quarter turns from ``heading`` to the nearest heading of a cheapest first move from
    ``x`` toward goal slot ``s`` (0 at the goal); ``down`` (4,) scratch."""
    for k in range(1, 5):
        n = nbr[x, k]
        down[CODE_HEADING[k]] = n >= 0 and (
            step_cost[x if guided else 0, k] + fields[s, n] == fields[s, x]
        )
    return _quarters_to(down, heading)


def _rank_chunks(fields, slot, nbr, fcell, heading, step_cost, guided, turn_cost, ops, out,
                 n_chunks):  # fmt: skip
    """Each robot's candidate operations, best first, as packed digits ``out`` (R, 2)."""
    for c in numba.prange(n_chunks):
        _rank_rows(fields, slot, nbr, fcell, heading, step_cost, guided, turn_cost, ops, out, c,
                   n_chunks)  # fmt: skip


@numba.njit(cache=True)
def _rank_rows(fields, slot, nbr, fcell, heading, step_cost, guided, turn_cost, ops, out, first,
               stride):  # fmt: skip
    """Robots ``first, first + stride, ...`` of :func:`_rank_chunks`."""
    n_ops, depth = ops.shape
    path = np.empty(depth, np.int64)
    dirs = np.empty(depth, np.int64)
    key = np.empty(n_ops)
    down = np.empty(4, np.bool_)
    for i in range(first, fcell.shape[0], stride):
        s = slot[i]
        key[0] = np.inf
        for o in range(1, n_ops):
            if not _walk(fcell[i], heading[i], o, ops, nbr, path, dirs):
                key[o] = np.inf
                continue
            if s < 0:  # no task: fewest and latest forward moves
                cost = 0.0
                for t in range(depth):
                    if dirs[t] > 0:
                        cost += depth - t
            else:
                cost = -1.0
                for t in range(depth):
                    if fields[s, path[t]] == 0:
                        cost = t
                        break
                if cost < 0:
                    h = heading[i]
                    for t in range(depth):
                        h = (h + (1 if ops[o, t] == 2 else 3 if ops[o, t] == 3 else 0)) % 4
                    x = path[depth - 1]
                    cost = fields[s, x] + turn_cost * _downhill_quarters(
                        fields, s, nbr, step_cost, guided, x, h, down) + depth  # fmt: skip
            key[o] = cost * n_ops + o  # ties: the lower index, the heavier operation
        order = np.argsort(key)
        lo = 0.0
        hi = 0.0
        scale = 1.0
        m = 0
        for q in range(n_ops):
            o = order[q]
            if not np.isfinite(key[o]):
                break
            if m == _PER_FLOAT:
                scale = 1.0
            if m < _PER_FLOAT:
                lo += o * scale
            else:
                hi += o * scale
            scale *= _BASE
            m += 1
        out[i, 0] = lo
        out[i, 1] = hi


_rank_serial, _rank_parallel = serial_and_parallel(_rank_chunks)


def rank_operations(obs: LocalObservation, turn_cost: int) -> np.ndarray:
    """(R, 2) each robot's candidate operations, best first, packed (:func:`unpack_rankings`)
    from its own goal field (guided where the map has guidance)."""
    fields, _, slot, step_cost, guided = goal_fields(obs)
    out = np.empty((obs.n, 2))
    chunks = robot_chunks(obs.n)
    kernel = _rank_parallel if chunks > 1 else _rank_serial
    kernel(fields, slot, obs.known["grid"].neighbors, np.asarray(obs.own["fcell"], np.int64),
           np.asarray(obs.own["heading"], np.int64), step_cost, guided, float(turn_cost),
           OPERATIONS, out, chunks)  # fmt: skip
    return out


@numba.njit(cache=True, inline="always")
def _unpack(lo, hi, out):
    """The operation indices packed in (``lo``, ``hi``) into ``out``; returns the count."""
    m = 0
    for part in range(2):
        v = lo if part == 0 else hi
        for _ in range(_PER_FLOAT):
            d = np.int64(v % _BASE)
            if d == 0:
                return m
            out[m] = d
            m += 1
            v = (v - d) / _BASE
    return m


def unpack_rankings(packed: np.ndarray) -> list[list[int]]:
    """The candidate lists packed by :func:`rank_operations` (tests, inspection)."""
    out = np.empty(2 * _PER_FLOAT, np.int64)
    return [out[: _unpack(lo, hi, out)].tolist() for lo, hi in packed]


@numba.njit(cache=True, inline="always")
def _mark(a, path, dirs, start, owner, res, eres):
    """Write ``owner`` (an agent, or -1 to clear ``a``'s entries) into the cells and edges of
    agent ``a``'s operation (``path``, ``dirs`` from cell ``start``)."""
    prev = start
    for t in range(path.shape[0]):
        x = path[t]
        if owner >= 0 or res[t, x] == a:
            res[t, x] = owner
        k = dirs[t]
        if k > 0:
            back = OPPOSITE[k]
            if owner >= 0 or eres[t, prev, k] == a:
                eres[t, prev, k] = owner
            if owner >= 0 or eres[t, x, back] == a:
                eres[t, x, back] = owner
        prev = x


@numba.njit(cache=True)
def _conflicts(a, path, dirs, start, res, eres, occ, frow, fcol, at_r, at_c, r2, vouch_r2,
               v_cell, v_lo, v_hi):  # fmt: skip
    """(0, -1) if agent ``a``'s operation conflicts with nobody, (1, b) with agent b alone,
    (2, -1) with two or more, a robot that stays (sensed, not heard) or a cell the planning
    robot does not know (beyond ``r2`` of it at (``at_r``, ``at_c``), nobody it knows
    standing there, and not vouched for by a relayer: ``policies.pibt._unknown``)."""
    first = -1
    prev = start
    for t in range(path.shape[0]):
        x = path[t]
        if occ[x] == BLOCKED:
            return 2, -1
        if r2 > 0.0 and occ[x] == NONE and _unknown(x, frow, fcol, at_r, at_c, r2, vouch_r2,
                                                    v_cell, v_lo, v_hi):  # fmt: skip
            return 2, -1
        b = res[t, x]
        if b >= 0 and b != a:
            if first >= 0 and b != first:
                return 2, -1
            first = b
        k = dirs[t]
        if k > 0:
            b = eres[t, prev, k]
            if b >= 0 and b != a:
                if first >= 0 and b != first:
                    return 2, -1
                first = b
        prev = x
    return (0, -1) if first < 0 else (1, first)


@numba.njit(cache=True)
def _plan_operations(m, cell, heading, prio, ranking, cand, n_cand, paths, dirs, walked, ops,
                     nbr, cur, roots, n_roots, stop, res, eres, occ, touched, in_chain, visits,
                     st_a, st_k, st_old, st_child, st_child_old, revisits, frow, fcol, at_r,
                     at_c, r2, vouch_r2, v_cell, v_lo, v_hi):  # fmt: skip
    """EPIBT (module docstring) over agents ``0..m-1``: ``cur`` holds each agent's reserved
    operation on entry (already marked in ``res`` / ``eres``) and its choice on return.
    Roots ``roots[:n_roots]`` in that order (decreasing priority); with ``stop`` >= 0 the
    planning ends once agent ``stop`` is settled (every later root is weaker and cannot push
    it). ``paths`` / ``dirs`` (m, K, DEPTH) the operations of every agent and ``cand[a,
    :n_cand[a]]`` its candidates, best first: ready for the agents marked ``walked`` (for
    the others only the operation they hold), the others' are walked and unpacked from
    ``ranking`` (m, 2) when they first plan (:func:`_prepare`)."""
    for a in range(m):
        touched[a] = False
        in_chain[a] = False
        visits[a] = 0
    for r in range(n_roots):
        root = roots[r]
        if touched[root]:
            if root == stop:
                break
            continue
        touched[root] = True
        visits[root] += 1
        in_chain[root] = True
        _prepare(root, cell, heading, ranking, ops, nbr, paths, dirs, cand, n_cand, walked)
        p_root = prio[root]
        sp = 0
        st_a[0] = root
        st_k[0] = 0
        ret = -1  # result of the frame just finished: 1 took an operation, 0 failed
        while sp >= 0:
            a = st_a[sp]
            if ret == 1:
                sp -= 1
                continue
            if ret == 0:  # the pushed robot failed: both get back what they held
                b = st_child[sp]
                _mark(a, paths[a, cur[a]], dirs[a, cur[a]], cell[a], -1, res, eres)
                cur[a] = st_old[sp]
                if cur[a] >= 0:
                    _mark(a, paths[a, cur[a]], dirs[a, cur[a]], cell[a], a, res, eres)
                cur[b] = st_child_old[sp]
                _mark(b, paths[b, cur[b]], dirs[b, cur[b]], cell[b], b, res, eres)
                ret = -1
            action = 0  # 1 took an operation, 2 pushed a robot
            while st_k[sp] < n_cand[a]:
                o = cand[a, st_k[sp]]
                st_k[sp] += 1
                nc, b = _conflicts(a, paths[a, o], dirs[a, o], cell[a], res, eres, occ, frow,
                                   fcol, at_r, at_c, r2, vouch_r2, v_cell, v_lo, v_hi)  # fmt: skip
                if nc == 0:
                    action = 1
                elif nc == 1 and not in_chain[b] and visits[b] < revisits and prio[b] < p_root:
                    st_old[sp] = cur[a]
                    st_child[sp] = b
                    st_child_old[sp] = cur[b]
                    _mark(b, paths[b, cur[b]], dirs[b, cur[b]], cell[b], -1, res, eres)
                    cur[b] = -1
                    action = 2
                else:
                    continue
                if cur[a] >= 0:
                    _mark(a, paths[a, cur[a]], dirs[a, cur[a]], cell[a], -1, res, eres)
                cur[a] = o
                _mark(a, paths[a, o], dirs[a, o], cell[a], a, res, eres)
                break
            if action == 1:
                ret = 1
                sp -= 1
            elif action == 2:
                b = st_child[sp]
                touched[b] = True
                visits[b] += 1
                in_chain[b] = True
                _prepare(b, cell, heading, ranking, ops, nbr, paths, dirs, cand, n_cand, walked)
                sp += 1
                st_a[sp] = b
                st_k[sp] = 0
                ret = -1
            else:  # nothing works: keep what it holds (a pushed robot: its pusher restores it)
                in_chain[a] = False
                ret = 0
                sp -= 1
        if root == stop:
            break


@numba.njit(cache=True, inline="always")
def _prepare(a, cell, heading, ranking, ops, nbr, paths, dirs, cand, n_cand, walked):
    """Walk every operation of agent ``a`` and unpack its candidates, once (they are valid:
    its own ranking left out those into walls)."""
    if not walked[a]:
        for o in range(ops.shape[0]):
            _walk(cell[a], heading[a], o, ops, nbr, paths[a, o], dirs[a, o])
        n_cand[a] = _unpack(ranking[a, 0], ranking[a, 1], cand[a])
        walked[a] = True


@numba.njit(cache=True)
def _global_operations(cell, heading, prio, held, ranking, nbr, ops, n_free, revisits):
    """(R,) the operation of every robot, from one EPIBT over the whole map."""
    n = cell.shape[0]
    k_ops, depth = ops.shape
    paths = np.empty((n, k_ops, depth), np.int64)
    dirs = np.empty((n, k_ops, depth), np.int64)
    res = np.full((depth, n_free), -1, np.int64)
    eres = np.full((depth, n_free, 5), -1, np.int64)
    occ = np.full(n_free, NONE, np.int64)
    cur = np.empty(n, np.int64)
    walked = np.zeros(n, np.bool_)
    for a in range(n):
        occ[cell[a]] = a
    _hold_consistent(n, prio, held, cell, heading, ops, nbr, paths, dirs, res, eres, occ, cur,
                     np.empty(n, np.int64), np.empty(n))  # fmt: skip
    stack = np.empty((5, n + 1), np.int64)
    _plan_operations(n, cell, heading, prio, ranking, np.empty((n, 2 * _PER_FLOAT), np.int64),
                     np.empty(n, np.int64), paths, dirs, walked, ops, nbr, cur,
                     np.argsort(-prio, kind="mergesort"), n, -1, res, eres, occ,
                     np.empty(n, np.bool_), np.empty(n, np.bool_), np.empty(n, np.int64),
                     stack[0], stack[1], stack[2], stack[3], stack[4], revisits, _NO_ROWS,
                     _NO_ROWS, 0, 0, 0.0, 0.0, _NO_ROWS, 0, 0)  # fmt: skip
    return cur


@numba.njit(cache=True, inline="always")
def _hold(a, op, cell, heading, ops, nbr, paths, dirs, res, eres):
    """Agent ``a``'s operation at the start of the step: ``op`` (its last, shifted), or
    "wait, wait, wait" where that drives into a wall or is no operation; walked and
    reserved. Returns it."""
    if not 0 <= op < ops.shape[0] or not _walk(cell[a], heading[a], op, ops, nbr, paths[a, op],
                                               dirs[a, op]):  # fmt: skip
        op = 0
        _walk(cell[a], heading[a], op, ops, nbr, paths[a, op], dirs[a, op])
    _mark(a, paths[a, op], dirs[a, op], cell[a], a, res, eres)
    return op


_NO_ROWS = np.zeros(0, np.int64)


@numba.njit(cache=True)
def _hold_consistent(m, prio, held, cell, heading, ops, nbr, paths, dirs, res, eres, occ, cur,
                     order, key):  # fmt: skip
    """Agents ``0..m-1`` hold their operations (``cur``; walked and reserved) in decreasing
    priority; one whose ``held`` operation conflicts with a stronger agent's (or enters a
    robot that stays, ``occ`` BLOCKED) holds "wait, wait, wait" instead. Over the whole
    map the held operations never conflict (each is the rest of last step's plan, which the
    world carried out), so this only reserves them; in a local problem they can, since each
    was planned in another robot's view: without this a robot that finds nothing better
    keeps a plan that runs into a stronger robot's. ``order``, ``key`` (m,) scratch."""
    for a in range(m):
        key[a] = -prio[a]
    order[:m] = np.argsort(key[:m], kind="mergesort")
    for q in range(m):
        a = order[q]
        op = held[a]
        if 0 < op < ops.shape[0] and _walk(cell[a], heading[a], op, ops, nbr, paths[a, op],
                                           dirs[a, op]):  # fmt: skip
            nc, _ = _conflicts(a, paths[a, op], dirs[a, op], cell[a], res, eres, occ, _NO_ROWS,
                               _NO_ROWS, 0, 0, 0.0, 0.0, _NO_ROWS, 0, 0)  # fmt: skip
            if nc == 0:
                _mark(a, paths[a, op], dirs[a, op], cell[a], a, res, eres)
                cur[a] = op
                continue
        cur[a] = _hold(a, 0, cell, heading, ops, nbr, paths, dirs, res, eres)


def hold_operations(cell: np.ndarray, heading: np.ndarray, prio: np.ndarray,
                    held: np.ndarray, nbr: np.ndarray,
                    stays: np.ndarray = _NO_ROWS) -> np.ndarray:  # fmt: skip
    """(m,) the operations agents at ``cell`` / ``heading`` hold at the start of a local
    planning (:func:`_hold_consistent`), robots that stay at ``stays`` (tests, inspection)."""
    m, n_free = len(cell), nbr.shape[0]
    k_ops, depth = OPERATIONS.shape
    occ = np.full(n_free, NONE, np.int64)
    occ[np.asarray(cell, np.int64)] = np.arange(m)
    occ[np.asarray(stays, np.int64)] = BLOCKED
    cur = np.empty(m, np.int64)
    _hold_consistent(m, np.asarray(prio, np.float64), np.asarray(held, np.int64),
                     np.asarray(cell, np.int64), np.asarray(heading, np.int64), OPERATIONS, nbr,
                     np.empty((m, k_ops, depth), np.int64), np.empty((m, k_ops, depth), np.int64),
                     np.full((depth, n_free), -1, np.int64),
                     np.full((depth, n_free, 5), -1, np.int64), occ, cur,
                     np.empty(m, np.int64), np.empty(m))  # fmt: skip
    return cur


def _local_chunks(own_cell, own_heading, own_prio, own_held, own_ranking, d_ptr, d_table, d_ref,
                  r_ptr, r_table, r_ref, sense_ptr, sense_cell, nbr, ops, n_free, revisits,
                  n_chunks, frow, fcol, r2, vouch_r2, v_ptr, v_cell, stronger):  # fmt: skip
    """(R,) each robot's operation from EPIBT on its own local problem: itself (local 0)
    and the beacons it heard (``d_table[d_ref[e]]``, e in ``d_ptr[i]:d_ptr[i + 1]``), then
    the relayed ones of robots it did not hear (``r_*``; a robot is known by its cell), the
    robots it sensed without a beacon held where they stand; with ``stronger`` the robots
    of higher priority replan first (as roots), else they keep the operations they
    announced and only the robot itself (pushing weaker ones) plans. Robots in ``n_chunks``
    interleaved chunks with scratch of their own, which every robot leaves clean: any
    chunking and thread count gives the same answer."""
    n = own_cell.shape[0]
    out = np.empty(n, np.int64)
    max_local = 1
    for i in range(n):
        max_local = max(max_local, d_ptr[i + 1] - d_ptr[i] + r_ptr[i + 1] - r_ptr[i] + 1)
    for chunk in numba.prange(n_chunks):
        _local_robots(chunk, n, n_chunks, own_cell, own_heading, own_prio, own_held,
                      own_ranking, d_ptr, d_table, d_ref, r_ptr, r_table, r_ref, sense_ptr,
                      sense_cell, nbr, ops, n_free, revisits, max_local, out, frow, fcol, r2,
                      vouch_r2, v_ptr, v_cell, stronger)  # fmt: skip
    return out


@numba.njit(cache=True)
def _local_robots(first, stop, step, own_cell, own_heading, own_prio, own_held, own_ranking,
                  d_ptr, d_table, d_ref, r_ptr, r_table, r_ref, sense_ptr, sense_cell, nbr, ops,
                  n_free, revisits, max_local, out, frow, fcol, r2, vouch_r2, v_ptr,
                  v_cell, stronger):  # fmt: skip
    """Robots ``first, first + step, ...`` below ``stop`` of :func:`_local_chunks`."""
    k_ops, depth = ops.shape
    res = np.full((depth, n_free), -1, np.int64)
    eres = np.full((depth, n_free, 5), -1, np.int64)
    occ = np.full(n_free, NONE, np.int64)
    cell = np.empty(max_local, np.int64)
    heading = np.empty(max_local, np.int64)
    prio = np.empty(max_local)
    held = np.empty(max_local, np.int64)
    ranking = np.empty((max_local, 2))
    paths = np.empty((max_local, k_ops, depth), np.int64)
    dirs = np.empty((max_local, k_ops, depth), np.int64)
    walked = np.empty(max_local, np.bool_)
    cand = np.empty((max_local, 2 * _PER_FLOAT), np.int64)
    n_cand = np.empty(max_local, np.int64)
    cur = np.empty(max_local, np.int64)
    roots = np.empty(max_local, np.int64)
    key = np.empty(max_local)
    touched = np.empty(max_local, np.bool_)
    in_chain = np.empty(max_local, np.bool_)
    visits = np.empty(max_local, np.int64)
    st_a = np.empty(max_local + 1, np.int64)
    st_k = np.empty(max_local + 1, np.int64)
    st_old = np.empty(max_local + 1, np.int64)
    st_child = np.empty(max_local + 1, np.int64)
    st_child_old = np.empty(max_local + 1, np.int64)
    for i in range(first, stop, step):
        m = 1
        cell[0] = own_cell[i]
        heading[0] = own_heading[i]
        prio[0] = own_prio[i]
        held[0] = own_held[i]
        ranking[0, 0] = own_ranking[i, 0]
        ranking[0, 1] = own_ranking[i, 1]
        occ[cell[0]] = 0
        for src in range(2):  # this round's beacons, then the relayed ones not heard
            ptr = d_ptr if src == 0 else r_ptr
            table = d_table if src == 0 else r_table
            ref = d_ref if src == 0 else r_ref
            for e in range(ptr[i], ptr[i + 1]):
                row = ref[e]
                c = np.int64(table[row, 0])
                if occ[c] != NONE:
                    continue
                cell[m] = c
                occ[c] = m
                prio[m] = table[row, 1]
                heading[m] = np.int64(table[row, 2])
                held[m] = np.int64(table[row, 3])
                ranking[m, 0] = table[row, 4]
                ranking[m, 1] = table[row, 5]
                m += 1
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            if occ[sense_cell[e]] == NONE:  # sensed, not heard: stays where it is
                occ[sense_cell[e]] = BLOCKED
        walked[:m] = False
        _hold_consistent(m, prio, held, cell, heading, ops, nbr, paths, dirs, res, eres, occ,
                         cur, roots, key)  # fmt: skip
        n_roots = 0
        for a in range(m):
            if stronger and a > 0 and prio[a] > prio[0]:
                roots[n_roots] = a
                key[n_roots] = -prio[a]
                n_roots += 1
        order = np.argsort(key[:n_roots], kind="mergesort")
        for q in range(n_roots):
            order[q] = roots[order[q]]
        for q in range(n_roots):
            roots[q] = order[q]
        roots[n_roots] = 0
        at_r = frow[cell[0]] if r2 > 0.0 else 0
        at_c = fcol[cell[0]] if r2 > 0.0 else 0
        _plan_operations(m, cell, heading, prio, ranking, cand, n_cand, paths, dirs, walked,
                         ops, nbr, cur, roots, n_roots + 1, 0, res, eres, occ, touched,
                         in_chain, visits, st_a, st_k, st_old, st_child, st_child_old,
                         revisits, frow, fcol, at_r, at_c, r2, vouch_r2, v_cell, v_ptr[i],
                         v_ptr[i + 1])  # fmt: skip
        out[i] = cur[0]
        # leave the scratch clean: the agents' reservations and cells, the sensed cells
        for a in range(m):
            if cur[a] >= 0:
                _mark(a, paths[a, cur[a]], dirs[a, cur[a]], cell[a], -1, res, eres)
            occ[cell[a]] = NONE
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            occ[sense_cell[e]] = NONE


_local_serial, _local_parallel = serial_and_parallel(_local_chunks)


def global_operations(obs: LocalObservation, prio: np.ndarray, held: np.ndarray,
                      ranking: np.ndarray, revisits: int) -> np.ndarray:  # fmt: skip
    """(R,) each robot's operation from one EPIBT over the whole map (the reference)."""
    nbr = obs.known["grid"].neighbors
    return _global_operations(
        np.asarray(obs.own["fcell"], np.int64), np.asarray(obs.own["heading"], np.int64),
        np.asarray(prio, np.float64), held, ranking, nbr, OPERATIONS, nbr.shape[0], revisits,
    )  # fmt: skip


def local_operations(obs: LocalObservation, prio: np.ndarray, held: np.ndarray,
                     ranking: np.ndarray, heard: Inbox, relayed: Inbox, revisits: int,
                     known_radius: float = 0.0,
                     vouchers: tuple[np.ndarray, np.ndarray, float] | None = None,
                     stronger: bool = True) -> np.ndarray:  # fmt: skip
    """(R,) each robot's operation from EPIBT on its own local problem (its own row, the
    beacons ``heard`` and ``relayed``, the robots it senses); ``known_radius`` > 0: cells
    further than that where nobody it knows stands are not entered, unless ``vouchers``
    (ptr, relayer cells, radius; :func:`policies.pibt.relayer_cells`) vouch for them;
    ``stronger``: the robots of higher priority replan in the robot's problem before it
    does, else they keep the operations they announced."""
    grid = obs.known["grid"]
    chunks = robot_chunks(obs.n)
    kernel = _local_parallel if chunks > 1 else _local_serial
    r2 = known_radius * known_radius if np.isfinite(known_radius) else 0.0
    frow, fcol = grid.free_rowcol if r2 > 0.0 else (_NO_ROWS, _NO_ROWS)
    v_ptr, v_cell, vouch_radius = vouchers or (np.zeros(obs.n + 1, np.int64), _NO_ROWS, 0.0)
    return kernel(
        np.asarray(obs.own["fcell"], np.int64), np.asarray(obs.own["heading"], np.int64),
        np.asarray(prio, np.float64), held, ranking, heard.ptr, heard.table, heard.rows,
        relayed.ptr, relayed.table, relayed.rows, obs.neighbors.ptr, sensed_cells(obs),
        grid.neighbors, OPERATIONS, grid.neighbors.shape[0], revisits, chunks, frow, fcol, r2,
        float(vouch_radius) ** 2, v_ptr, v_cell, stronger,
    )  # fmt: skip


def operation_beacons(obs: LocalObservation, prio: np.ndarray, held: np.ndarray,
                      ranking: np.ndarray, blocked: np.ndarray) -> np.ndarray:  # fmt: skip
    """(R, BEACON_DIM) what each robot tells its neighbours (module docstring)."""
    out = np.zeros((obs.n, BEACON_DIM))
    out[:, BEACON_CELL] = obs.own["fcell"]
    out[:, BEACON_PRIORITY] = prio
    out[:, BEACON_HEADING] = obs.own["heading"]
    out[:, BEACON_HELD] = held
    out[:, BEACON_RANKING] = ranking
    out[:, BEACON_BLOCKED] = blocked
    return out


class EPIBTParams(LocalPlannerParams):
    """Parameters of EPIBT (policies.epibt), beside those every decentralised planner here
    shares."""

    revisits: int = Field(
        10, ge=1, le=100,
        description="times a robot may be asked to replan in one step (pushed, or as a root)",
    )  # fmt: skip
    turn_cost: int = Field(
        1, ge=0, le=4,
        description="steps a quarter turn costs in an operation's end state (0: distance alone)",
    )  # fmt: skip
    rounds: int = Field(
        3, ge=1, le=8,
        description="planning rounds per step: each later one replans with the operations "
        "the neighbours chose in the last, heard in a new beacon",
    )  # fmt: skip
    replan_stronger: Literal["first", "every", "none"] = Field(
        "every",
        description="planning rounds in which a robot replans the stronger robots it hears "
        "before itself (as in one EPIBT over its view); in the others it takes their "
        "announced operations as given and plans only itself, pushing weaker robots",
    )


class EPIBT(GridPolicy):
    """Enhanced PIBT over multi-action operations (see the module docstring)."""

    name = "epibt"
    citation = (
        "Yukhnevich, Andreychuk (2025). Enhancing PIBT via Multi-Action Operations. "
        "AAAI-26, arXiv:2511.09193."
    )
    Params = EPIBTParams
    motions: ClassVar[tuple[str, ...]] = ("rotate",)

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides):
        super().__init__(params, seed, **overrides)
        # per-robot memory, row i written from robot i's own computation only
        self.operation = np.zeros(0, np.int64)  # (R,) the operation chosen last step
        self.intended = np.zeros(0, np.int64)  # (R,) the cell its first action leads to

    @property
    def memory_fields(self) -> tuple[str, ...]:
        return ("operation", "intended")

    def rounds(self) -> tuple[Round, ...]:
        """Beacons; a relay request and the relays (``relay_radius``); new beacons before each
        later planning round; the arbitration."""
        p = self.params
        if p.view == "global":
            return ()
        out = [Round("beacon_0", BEACON_DIM)]
        if p.relay_radius > 0:
            out += [Round("request", 1), Round("relay", BEACON_DIM, per_link=True)]
        out += [Round(f"beacon_{k}", BEACON_DIM) for k in range(1, p.rounds)]
        if p.arbitrate:
            out.append(Round("arbitrate", PLAN_DIM))
        return tuple(out)

    @property
    def message_hops(self) -> int:
        """The beacons (1 hop; each later round's carry plans made from the last round's:
        1 more), the relays (what the neighbours heard: 1 more), the arbitration (1 more)."""
        p = self.params
        return p.rounds + int(p.relay_radius > 0) + int(p.arbitrate)

    def decide(self, obs: LocalObservation) -> Decision:
        """Each robot's first action of its operation, and its memory (the operation, the
        cell it leads to)."""
        if not rotating(obs):
            raise ValueError("epibt plans operations of motion = 'rotate'")
        p = self.params
        started = len(self.operation) == obs.n
        fcell = np.asarray(obs.own["fcell"], np.int64)
        blocked = fcell != self.intended if started else np.zeros(obs.n, bool)
        # the rest of last step's operation; "wait, wait, wait" if its move did not happen
        held = np.where(blocked, 0, SHIFTED[self.operation]) if started else \
            np.zeros(obs.n, np.int64)  # fmt: skip
        prio = priorities(obs, self.seed, p.distance_priority)
        ranking = rank_operations(obs, p.turn_cost)
        if p.view == "global":
            op = global_operations(obs, prio, held, ranking, p.revisits)
        else:
            op = self._local(obs, prio, held, ranking, blocked, started)
        actions = OPERATIONS[op, 0]
        ahead = obs.known["grid"].neighbors[fcell, HEADING_MOVE[obs.own["heading"]]]
        forward = actions == FORWARD
        nxt = np.where(forward, ahead, fcell)
        if p.view == "local" and p.arbitrate:
            msgs = obs.radio.send("arbitrate", plans(nxt, np.where(forward, prio, np.inf)))
            final = arbitrate(obs, msgs, nxt, prio)
            stopped = final != nxt
            actions = np.where(stopped, WAIT, actions)
            nxt = final
        memory = {"operation": op, "intended": nxt}
        return Decision(actions.astype(np.int64), memory=memory)

    def _local(self, obs: LocalObservation, prio: np.ndarray, held: np.ndarray,
               ranking: np.ndarray, blocked: np.ndarray, started: bool) -> np.ndarray:  # fmt: skip
        """The decentralised operations: beacons, relays near stopped robots, local EPIBT."""
        p, radio = self.params, obs.radio
        known = obs.known["comm_radius"] if p.unknown_cells == "occupied" else 0.0
        heard = radio.send("beacon_0", operation_beacons(obs, prio, held, ranking, blocked))
        relayed, vouchers = relay_round(obs, heard, blocked, started, p.relay_radius,
                                        p.relay_vouches and known > 0)  # fmt: skip
        op = local_operations(obs, prio, held, ranking, heard, relayed, p.revisits, known,
                              vouchers, p.replan_stronger != "none")  # fmt: skip
        for round_ in range(1, p.rounds):  # the neighbours' new operations, heard
            heard = radio.send(f"beacon_{round_}",
                               operation_beacons(obs, prio, op, ranking, blocked))  # fmt: skip
            op = local_operations(obs, prio, op, ranking, heard, relayed, p.revisits, known,
                                  vouchers, p.replan_stronger == "every")  # fmt: skip
        return op

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.decide(obs).actions
