"""Decentralised PIBT: priority inheritance with backtracking among comm neighbours.

Okumura, Machida, Défago, Tamura (2022), "Priority inheritance with backtracking for
iterative multi-agent path finding", Artificial Intelligence 310, 103752 (Algorithm 1,
``PIBT``): agents decide one step at a time in decreasing priority; an agent takes its most
preferred free candidate cell (closest to its goal); if another, undecided agent stands
there, that agent *inherits* the priority and must move out first (recursively); if it
cannot, the first agent *backtracks* to its next candidate. Priorities grow by one every step
an agent has not reached its goal and reset when it does (Sec. 4.1), which gives every agent
its turn (reachability on biconnected graphs, Thm. 2).

Decentralised version (this module). Each robot broadcasts a beacon to its comm neighbours:
its cell, its priority and its preference list (5 candidate cells sorted by its own distance
field). Robot i then runs Algorithm 1 on the *local* problem made of itself and the robots
whose beacons it heard, with robots it senses but did not hear (lost packets) treated as
obstacles that stay put, and executes its own move from that local plan. Everything a
robot learns about another comes out of a message (``obs.radio``, :mod:`swarm.radio`), and
the locality audit replays each robot's inboxes to it alone (``swarm audit warehouse``).
Neighbouring robots solve overlapping local problems; they agree whenever the inheritance
chains that concern them lie inside both neighbourhoods (chains longer than the comm radius
are rare at warehouse densities). Where they disagree, the world cancels the conflicting
moves (counted as attempted conflicts), so executed collisions stay zero.

**Inheritance carried over time** (our adaptation, needed by the bounded views). With
views of radius R, two long queues meeting head-on in a one-lane aisle can deadlock: the
robots at the front cannot see the high-priority robots at the back of each queue, so their
local plans disagree, the world cancels both fronts, and nothing changes. So a robot that was
pushed in its own local plan remembers the priority it inherited (the pusher's, minus
``hop_discount`` per hop, so the order along a chain is the same in every view) and, if its
planned move was cancelled, uses ``max(own priority, inherited + 1)`` in its next beacon
(``+ 1``: priorities are task ages and grow by one a step; a carried value that did not grow
would always trail the own priorities of the robots stuck beside it and decide nothing).

**Chains compared by their origin** (``hop_discount``, default 1e-6). A robot's claim in a
chain is the origin's priority minus one ``hop_discount`` per push. Where two chains meet
head-on (two queues in one lane), each robot compares the members of both chains that it
sees, and each view sees a different stretch of each chain: the comparison is the same in
every view only if it is decided by the origins, i.e. if ``hop_discount`` times the chain
lengths stays far below the gaps between the robots' own priorities (keyed fractions, about
``1 / R`` apart). With 1e-3 and chains of tens of robots it did not: on the League's
sortation_large with 2,400 robots, two queues meeting head-on in the bottom row were split
differently by neighbouring views (robot k pushed right in its own view, its neighbour
pushed left in its own), the contenders for the front cells yielded to each other's chain
in the arbitration round, every move of both queues was cancelled, the carried claims
spread over the whole jam, and 340 robots stood still for good. At 1e-6 the same run has no
stuck robot and 400 times fewer cancelled moves (task ages up to 10^5 steps keep 1e-6 four
orders of magnitude above the float spacing).

**Relay round near blocked robots** (``relay_radius``, default 10 cells). A jam that has
formed (every cell of a region full) is only undone by push chains longer than a comm
radius. A robot that was blocked last step (its planned move cancelled: own memory), or that
heard a beacon flagged so, adds to its local problem the robots within ``relay_radius`` that
its neighbours heard and relayed (their first-round beacons, a second message hop); other
robots, away from jams, skip it (the relayed robots enter with their first-round priority
in every round). On sortation_large a jam of 45 stuck robots built with the old discount
dissolves within 250 steps with it and does not without; on the generated map of the tests
(one-lane aisles, 5-cell radio) 80 robots lock without it (60-80 of 80, 3 seeds) and none
does with it.

**Relay request.** The relay is asked for: a robot near a blocked one broadcasts a request
(one float), and only robots that heard one relay what they heard (a list of at most one
beacon per comm link), so away from jams nothing is relayed.

**Message rounds within a step** (``rounds``, default 3). After each planning round every
robot announces its planned cell and its claim (the priority it planned with); a robot that
hears a stronger neighbour planning to move into its cell inherits that claim (minus a hop)
and plans again. A push decided in one robot's view thus reaches the robot pushed in the
same step, one hop a round, instead of one hop a step.

**Arbitration** (``arbitrate``). A last round: a robot whose planned cell a heard neighbour
with a stronger claim also plans to enter stays put. Contenders for a cell are at most two
cells apart, so they hear each other (packet losses aside): where local plans still disagree
the stronger robot moves instead of both being stopped by the world.

Measured (``experiments/warehouse_throughput.toml``, ``tests/policies/test_pibt.py``): on a
generated warehouse with one-lane aisles and a 5-cell radio, 40 robots: one round without
carrying locks 40 of 40 robots; the default matches PIBT with the whole map in range.
Information travels ``2 rounds - 1 + arbitrate + relay`` comm hops per step (7 by default,
``message_hops``): each later planning round reads priorities that took in pushes from the
senders' neighbours, two hops a round. The locality test moves robots beyond that many hops.

The rounds, as declared (:meth:`PIBT.rounds`; floats per message): ``beacon_0`` (8: cell,
priority, 5 preferences, blocked flag), ``request`` (1) and ``relay`` (8 per entry, at most
one entry per link), then per later planning round ``push_k`` (2: planned cell, claim) and
``beacon_k`` (8), and ``arbitrate`` (2). Each is carried with the scenario's packet loss and
inbox cap, and counted (``messages_sent``, ``bytes_sent``, ``message_rounds`` metrics).

The per-robot search is a numba kernel with an explicit stack (Algorithm 1's recursion).

**Under the League's action model** (``motion = "rotate"``: headings; forward, quarter
turns, wait) PIBT still decides on cells, as the League's default planner does: each robot
ranks its five candidate cells by a heading-aware cost (``turn_cost`` steps per quarter
turn, :func:`swarm.grid.policy.rotate_preferences`), in which the own cell (turning toward
the goal, or waiting) ranks before a side cell at equal distance, so a robot plans to enter
a cell it is not facing only when it is pushed out of its own. It then turns its reserved
cell into an action (:func:`swarm.grid.policy.rotate_codes`): forward if the cell is ahead,
its turn (or wait) if it is its own cell, else a quarter turn toward the cell, keeping its
own. A push thus takes effect over several steps (the pushed robot turns, then drives off
while still pushed); a robot planned into the cell of one that turns instead of leaving is
stopped by the world's resolver (an attempted conflict, never an executed collision).
Measured on MR23-I-10's map with its first 2,000 robots (300 steps): restricting the
candidates to the two cells a robot can enter in one step (ahead, own) deadlocks 70 % of
the robots in the one-lane aisles (queues meeting head-on cannot turn around), this scheme
none; ``turn_cost`` 1 finishes 2 % more tasks than 0.

**Guidance** (the warehouse's ``guidance = "crisscross"``, :mod:`swarm.grid.guidance`).
One step at a time, PIBT sends every robot down its shortest path, so queues bound opposite
ways meet head-on in the one-lane aisles, and the lower-priority queue is pushed back out
of the aisle: moves that are not waits but undo progress. With a guidance graph every robot
ranks its candidate cells by the move's cost plus its own goal's guided cost-to-goal
(:func:`swarm.grid.policy.preferences`, :func:`~swarm.grid.policy.rotate_preferences`;
static map knowledge, like the BFS fields, in ``obs.known["guide"]``): under crisscross
guidance (rows alternate east/west, columns north/south; moving against them costs
``guidance_weight``) aisles become one-way streets in the cost and opposite flows use
neighbouring aisles. The local and the global PIBT both read the same preference lists;
nothing else changes (messages, priorities, inheritance). With ``guidance_weight`` 1 every
robot moves exactly as without guidance (tested). Measured
(``experiments/bench_guidance.py``, 3 seeds x 1,000 steps, the 13 x 49 map of
``warehouse_throughput.toml``, grid moves): tasks per step 1.18 -> 1.89 at 64 robots, 1.56
-> 3.14 (weight 2) / 3.32 (weight 3) at 128, 1.02 -> 3.08 / 3.15 at 192; waiting falls
from 22 % to 9-12 % at 128 robots. Under rotation it helps at 64 robots (0.74 -> 1.33), but
from 128 robots on that map the rotate scheme jams with or without guidance. On the
League's warehouse_small_200 (1,000 steps): 3.94 -> 5.18 / 5.34 tasks per step (grid),
2.14 -> 3.81 / 4.04 (rotate); on warehouse_large_200, already at 97 % of free flow, -2 to
+6 %: where robots rarely meet, the detours buy nothing.

**Whole map** (``view = "global"``): one PIBT over every robot on the whole map (Algorithm
1 as published, one problem instead of one per robot), a centralised reference for the
decentralised controller: it reads every robot's state from the batch, sends no message
and fails the locality audit by design. ``comm_radius = inf`` gives the same information
through the radio but costs O(R^2) a step, too much for 10,000 robots.
"""

from __future__ import annotations

from typing import Literal

import numba
import numpy as np
from pydantic import Field

from swarm.comm import Inbox
from swarm.config import StrictConfig
from swarm.grid.policy import (
    BEACON_BLOCKED,
    BEACON_CELL,
    BEACON_DIM,
    GridPolicy,
    action_codes,
    beacons,
    preferences,
    priorities,
    rotate_codes,
    rotate_preferences,
    rotating,
)
from swarm.grid.world import FORWARD, WAIT, sensed_cells
from swarm.observation import LocalObservation
from swarm.policy import Decision
from swarm.radio import ListInbox, Round
from swarm.threads import serial_and_parallel

# robots from which the local problems are solved on the thread pool: each robot's problem
# is tens of robots, so far fewer rows pay than for the drones' kernels
PARALLEL_MIN_ROBOTS = 2_000
BLOCKED = -2  # occupancy mark of a sensed robot that sent no beacon: it stays where it is
# priorities grow by one per step while a task is open (its age), so a priority carried over
# from last step grows by one too: otherwise it would always trail the own priorities of the
# robots stuck beside it and never decide anything
GROWTH_PER_STEP = 1.0


def _local_pibt_chunks(
    own_cell, own_prio, own_prefs, d_ptr, d_table, d_ref, r_ptr, r_table, r_ref, sense_ptr,
    sense_cell, n_free, hop_discount, n_chunks,
):  # fmt: skip
    """(R,) free cell each robot moves to, from PIBT on its own local problem, and (R,) the
    priority it inherited there (-inf when nobody pushed it).

    Robot i's problem is itself and the beacons it received: this round's,
    ``d_table[d_ref[e]]`` for e in ``d_ptr[i]:d_ptr[i + 1]``, then the relayed first-round
    beacons ``r_table[r_ref[e]]``, e in ``r_ptr[i]:r_ptr[i + 1]``, of robots it did not
    hear this round (a robot is known by its cell: two robots never share one). A beacon is
    (cell, priority, 5 preferences, blocked) (:data:`swarm.grid.policy.BEACON_DIM`).

    Robots are solved in ``n_chunks`` contiguous chunks (``prange``: one per thread task),
    each with its own scratch, which every robot leaves clean: a robot's answer depends on
    its inputs alone, so any chunking and thread count gives the same result.
    """
    n = own_cell.shape[0]
    out = own_cell.copy()
    inherited = np.full(n, -np.inf)
    max_local = 1
    for i in range(n):
        heard = d_ptr[i + 1] - d_ptr[i] + r_ptr[i + 1] - r_ptr[i]
        max_local = max(max_local, heard + 1)
    for chunk in numba.prange(n_chunks):
        first = chunk * n // n_chunks
        last = (chunk + 1) * n // n_chunks
        _solve_robots(first, last, own_cell, own_prio, own_prefs, d_ptr, d_table, d_ref,
                      r_ptr, r_table, r_ref, sense_ptr, sense_cell, n_free, hop_discount,
                      max_local, out, inherited)  # fmt: skip
    return out, inherited


@numba.njit(cache=True)
def _solve_robots(
    first, last, own_cell, own_prio, own_prefs, d_ptr, d_table, d_ref, r_ptr, r_table, r_ref,
    sense_ptr, sense_cell, n_free, hop_discount, max_local, out, inherited,
):  # fmt: skip
    """Robots ``first..last-1`` of :func:`_local_pibt_chunks`, with scratch of their own."""
    occ_from = np.full(n_free, -1, np.int64)  # free cell -> local agent standing there
    occ_to = np.full(n_free, -1, np.int64)  # free cell -> local agent reserving it
    cell = np.empty(max_local, np.int64)
    prio = np.empty(max_local)
    prefs = np.empty((max_local, 5), np.int64)
    to = np.empty(max_local, np.int64)
    order = np.empty(max_local, np.int64)
    st_a = np.empty(max_local + 1, np.int64)
    st_p = np.empty(max_local + 1, np.int64)
    st_k = np.empty(max_local + 1, np.int64)
    st_c = np.empty(max_local + 1)  # priority the frame's agent acts with (inherited)
    got = np.empty(max_local)  # priority each local agent inherited when pushed (-inf: not)
    for i in range(first, last):
        # the local problem: robot i (local 0) and the robots it heard from
        m = 1
        cell[0] = own_cell[i]
        prio[0] = own_prio[i]
        occ_from[cell[0]] = 0
        for k in range(5):
            prefs[0, k] = own_prefs[i, k]
        for src in range(2):  # this round's beacons, then the relayed ones not heard again
            ptr = d_ptr if src == 0 else r_ptr
            table = d_table if src == 0 else r_table
            ref = d_ref if src == 0 else r_ref
            for e in range(ptr[i], ptr[i + 1]):
                msg = table[ref[e]]
                c = np.int64(msg[0])
                if occ_from[c] != -1:
                    continue
                cell[m] = c
                occ_from[c] = m
                prio[m] = msg[1]
                for k in range(5):  # element by element: a row slice assignment is far slower
                    prefs[m, k] = np.int64(msg[2 + k])
                m += 1
        for a in range(m):
            occ_from[cell[a]] = a
            to[a] = -1
            got[a] = -np.inf
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            c = sense_cell[e]
            if occ_from[c] == -1:  # sensed, not heard
                occ_from[c] = BLOCKED
                occ_to[c] = BLOCKED
        # roots by descending priority, ties in local order, but only down to robot i
        # itself (local 0): it is decided, pushed or as a root, by then, and lower roots
        # would come after it. A stable insertion sort in place (np.argsort would allocate
        # for each robot) of the stronger robots only.
        n_roots = 0
        for a in range(1, m):
            if prio[a] > prio[0]:
                q = n_roots
                while q > 0 and prio[order[q - 1]] < prio[a]:
                    order[q] = order[q - 1]
                    q -= 1
                order[q] = a
                n_roots += 1
        order[n_roots] = 0
        n_roots += 1
        for r in range(n_roots):
            root = order[r]
            if to[0] != -1:
                break
            if to[root] != -1:
                continue
            _pibt_from(root, cell, prio[root], prefs, occ_from, occ_to, to, st_a, st_p, st_k,
                       st_c, hop_discount, got)  # fmt: skip
        inherited[i] = got[0]
        out[i] = to[0]
        if to[0] == -1:
            out[i] = cell[0]
        for a in range(m):  # clean the shared scratch for the next robot
            occ_from[cell[a]] = -1
            occ_to[cell[a]] = -1
            if to[a] >= 0:
                occ_to[to[a]] = -1
            for k in range(5):
                if prefs[a, k] >= 0:
                    occ_to[prefs[a, k]] = -1
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            occ_from[sense_cell[e]] = -1
            occ_to[sense_cell[e]] = -1


_local_pibt, _local_pibt_parallel = serial_and_parallel(_local_pibt_chunks)


@numba.njit(cache=True)
def _pibt_from(root, cell, prio_root, prefs, occ_from, occ_to, to, st_a, st_p, st_k, st_c,
               hop_discount, got):  # fmt: skip
    """Algorithm 1, PIBT(root, none), with an explicit stack (the recursion of Okumura et
    al.): reserves in ``to`` / ``occ_to`` a cell for ``root`` and for every agent it pushes
    out of the way, each pushed agent acting with its pusher's priority less
    ``hop_discount`` (``got[k]``: the last priority agent k inherited). ``occ_from``: cell ->
    agent standing there (< 0: none, or a sensed robot that cannot be pushed), ``prefs``
    (agents, 5) each agent's candidate cells, best first (-1: none)."""
    sp = 0
    st_a[0] = root
    st_p[0] = -1
    st_k[0] = 0
    st_c[0] = prio_root
    ret = -1  # result of the frame just popped: 1 valid, 0 invalid, -1 none
    while sp >= 0:
        a = st_a[sp]
        p = st_p[sp]
        if ret == 1:  # the pushed agent moved out: a's reservation stands
            sp -= 1
            continue
        ret = -1  # fresh frame, or the pushed agent failed: try the next candidate
        went = False
        while st_k[sp] < 5:
            v = prefs[a, st_k[sp]]
            st_k[sp] += 1
            if v < 0 or occ_to[v] != -1:
                continue
            if p >= 0 and cell[p] == v:  # never swap with the agent pushing a
                continue
            if to[a] >= 0 and occ_to[to[a]] == a:
                occ_to[to[a]] = -1
            to[a] = v
            occ_to[v] = a
            k = occ_from[v]
            if k >= 0 and k != a and to[k] == -1:
                sp += 1  # k inherits a's priority and must move out of v
                st_a[sp] = k
                st_p[sp] = a
                st_k[sp] = 0
                st_c[sp] = st_c[sp - 1] - hop_discount
                got[k] = st_c[sp]
                went = True
                break
            ret = 1
            sp -= 1
            went = True
            break
        if not went:  # no candidate works: stay, and report failure upwards
            if to[a] >= 0 and occ_to[to[a]] == a:
                occ_to[to[a]] = -1
            to[a] = cell[a]
            occ_to[cell[a]] = a
            ret = 0
            sp -= 1


@numba.njit(cache=True)
def _global_pibt(cell, prio, prefs, n_free):
    """(R,) free cell each robot moves to and (R,) whether it was pushed, from one PIBT
    (Algorithm 1) over every robot: roots by descending priority (ties by row)."""
    n = cell.shape[0]
    occ_from = np.full(n_free, -1, np.int64)
    occ_to = np.full(n_free, -1, np.int64)
    for a in range(n):
        occ_from[cell[a]] = a
    to = np.full(n, -1, np.int64)
    got = np.full(n, -np.inf)
    order = np.argsort(-prio, kind="mergesort")
    st_a = np.empty(n + 1, np.int64)
    st_p = np.empty(n + 1, np.int64)
    st_k = np.empty(n + 1, np.int64)
    st_c = np.empty(n + 1)
    for root in order:
        if to[root] == -1:
            _pibt_from(root, cell, prio[root], prefs, occ_from, occ_to, to, st_a, st_p, st_k,
                       st_c, 0.0, got)  # fmt: skip
    return to, got > -np.inf


def global_pibt(
    obs: LocalObservation, prio: np.ndarray, prefs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(R,) free cell each robot moves to and (R,) priority it inherited (-inf: not pushed),
    from one PIBT over every robot of the batch (the centralised reference)."""
    target, pushed = _global_pibt(
        obs.own["fcell"], np.asarray(prio, np.float64), np.ascontiguousarray(prefs, np.int64),
        obs.known["grid"].neighbors.shape[0],
    )  # fmt: skip
    return target, np.where(pushed, prio, -np.inf)


def local_pibt(
    obs: LocalObservation,
    own: np.ndarray,
    prefs: np.ndarray,
    beacons_heard: Inbox,
    relayed: Inbox,
    hop_discount: float,
    sensed: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(R,) free cell each robot moves to and (R,) priority it inherits in its own plan.

    ``own`` (R,) the priorities the robots plan with, ``prefs`` (R, 5) their candidate
    cells; ``beacons_heard``: this round's beacons; ``relayed``: the first-round beacons of
    robots further away that the relay round brought (:func:`relayed_view`); ``sensed``:
    the cells of the robots sensed (:func:`~swarm.grid.world.sensed_cells`).
    """
    threads = numba.get_num_threads()
    parallel = obs.n >= PARALLEL_MIN_ROBOTS and threads > 1
    kernel = _local_pibt_parallel if parallel else _local_pibt
    return kernel(
        obs.own["fcell"], own, np.ascontiguousarray(prefs, dtype=np.int64),
        beacons_heard.ptr, beacons_heard.table, beacons_heard.rows, relayed.ptr, relayed.table,
        relayed.rows,
        obs.neighbors.ptr, sensed, obs.known["grid"].neighbors.shape[0], hop_discount,
        threads if parallel else 1,  # one scratch of 2 x free cells per chunk: few chunks
    )  # fmt: skip


def near_blocked(blocked: np.ndarray, heard: Inbox) -> np.ndarray:
    """(R,) robots that were blocked last step (their own memory: the planned move did not
    happen) or heard a first-round beacon from one that was (its blocked flag)."""
    flags = heard.table[heard.rows, BEACON_BLOCKED]
    flagged = np.bincount(heard.owner, weights=flags, minlength=len(blocked))
    return blocked | (flagged > 0)


def relay_lists(asked: np.ndarray, heard: Inbox) -> tuple[np.ndarray, np.ndarray]:
    """(entry_ptr (R + 1,), entries): every robot that heard a relay request relays the
    first-round beacons it heard (a list of at most one entry per comm link)."""
    keep = asked[heard.owner]
    count = np.where(asked, heard.counts, 0)
    ptr = np.zeros(len(asked) + 1, np.int64)
    np.cumsum(count, out=ptr[1:])
    return ptr, heard.table[heard.rows[keep]]


def relayed_view(obs: LocalObservation, need: np.ndarray, heard: Inbox, relays: ListInbox,
                 radius: float) -> Inbox:  # fmt: skip
    """For each robot that ``need``s it, the relayed first-round beacons of robots within
    ``radius`` cells of its own cell that it did not hear itself (each once, known by its
    cell); an inbox (CSR by receiver) of beacons, other robots' parts empty."""
    g = obs.known["grid"]
    cells = np.ascontiguousarray(relays.table[:, BEACON_CELL]).astype(np.int64)
    ptr, pick, packet = _relayed(
        obs.own["fcell"], need.astype(np.bool_), heard.ptr, heard.table[:, BEACON_CELL], heard.rows,
        relays.ptr, relays.ref, relays.entry_ptr, cells, g.free_cells, g.width,
        float(radius) ** 2,
    )  # fmt: skip
    return Inbox(ptr, relays.sender[packet], relays.table, pick)


@numba.njit(cache=True)
def _relayed(fcell, need, ptr0, cell0, ref0, rptr, rref, entry_ptr, cells, free_cells, width,
             r2):  # fmt: skip
    """Per receiver that needs it: the entries (rows of the relay table) kept, and the
    packet each came in."""
    n = fcell.shape[0]
    stamp = np.full(free_cells.shape[0], -1, np.int64)
    bound = 0
    for i in range(n):
        if need[i]:
            for e in range(rptr[i], rptr[i + 1]):
                bound += entry_ptr[rref[e] + 1] - entry_ptr[rref[e]]
    ptr = np.empty(n + 1, np.int64)
    out = np.empty(bound, np.int64)
    packet = np.empty(bound, np.int64)
    c = 0
    for i in range(n):
        ptr[i] = c
        if not need[i]:
            continue
        stamp[fcell[i]] = i
        for e in range(ptr0[i], ptr0[i + 1]):  # heard directly: not again
            stamp[np.int64(cell0[ref0[e]])] = i
        ri, ci = divmod(np.int64(free_cells[fcell[i]]), width)
        for e in range(rptr[i], rptr[i + 1]):
            r = rref[e]
            for f in range(entry_ptr[r], entry_ptr[r + 1]):
                k = cells[f]
                if stamp[k] == i:
                    continue
                rk, ck = divmod(np.int64(free_cells[k]), width)
                dr = rk - ri
                dc = ck - ci
                if dr * dr + dc * dc <= r2:
                    stamp[k] = i
                    out[c] = f
                    packet[c] = e
                    c += 1
    ptr[n] = c
    return ptr, out[:c], packet[:c]


def pushed_by(obs: LocalObservation, pushes: Inbox, hop: float) -> np.ndarray:
    """(R,) the strongest claim (minus a hop) of a heard neighbour that plans to move into
    each robot's cell (-inf: none): the priority a robot inherits in its next planning round,
    so that a push decided in a neighbour's view reaches the robot pushed, one hop a round.
    Each robot broadcast (target, claim) (:data:`PLAN_DIM`)."""
    out = np.empty(obs.n)
    _strongest_push(pushes.ptr, pushes.table, pushes.rows, obs.own["fcell"], hop, out)
    return out


@numba.njit(cache=True)
def _strongest_push(ptr, table, ref, fcell, hop, out):
    for i in range(fcell.shape[0]):
        best = -np.inf
        for e in range(ptr[i], ptr[i + 1]):
            r = ref[e]
            if np.int64(table[r, 0]) == fcell[i] and table[r, 1] - hop > best:
                best = table[r, 1] - hop
        out[i] = best


def arbitrate(
    obs: LocalObservation, heard: Inbox, target: np.ndarray, claim: np.ndarray
) -> np.ndarray:
    """Last message round: each robot announces its planned cell and its claim (the
    priority it planned with, or inherited); a robot whose planned cell a heard neighbour
    with a stronger claim also plans to enter stays where it is. Two robots contending for
    a cell are at most two cells apart, so they hear each other (unless a packet is lost):
    where the local plans disagree, the stronger robot moves instead of both being stopped.
    """
    out = np.empty(obs.n, np.int64)
    _yield_to_stronger(heard.ptr, heard.table, heard.rows, obs.own["fcell"], target,
                       claim.astype(np.float64), out)  # fmt: skip
    return out


@numba.njit(cache=True)
def _yield_to_stronger(ptr, table, ref, fcell, target, claim, out):
    for i in range(fcell.shape[0]):
        out[i] = target[i]
        if target[i] == fcell[i]:
            continue
        for e in range(ptr[i], ptr[i + 1]):
            r = ref[e]
            if np.int64(table[r, 0]) == target[i] and table[r, 1] > claim[i]:
                out[i] = fcell[i]
                break


PLAN_DIM = 2  # (planned free cell, claim): what push and arbitration rounds carry


def plans(target: np.ndarray, claim: np.ndarray) -> np.ndarray:
    return np.stack([target.astype(np.float64), claim.astype(np.float64)], axis=1)


class PIBTParams(StrictConfig):
    """Parameters of decentralised PIBT."""

    hop_discount: float = Field(
        1e-6,
        gt=0,
        lt=1,
        description="inherited priority lost per push (orders a chain); far "
        "below the gaps between robots' own priorities (see the docstring)",
    )
    carry_inheritance: bool = Field(
        True, description="carry inherited priorities to the next step (see the docstring)"
    )
    rounds: int = Field(
        3, ge=1, le=8, description="planning rounds per step, each after hearing who pushes me"
    )
    arbitrate: bool = Field(
        True, description="second message round: a robot yields a cell a stronger neighbour claims"
    )
    relay_radius: float = Field(
        10.0,
        ge=0,
        description="relay round: robots next to a blocked robot add the robots "
        "their neighbours heard, within this many cells, to their local problem (0: off)",
    )
    turn_cost: int = Field(
        1,
        ge=0,
        le=4,
        description="under rotation: steps a quarter turn costs when ranking the cell ahead "
        "against turning (0: distance alone)",
    )
    view: Literal["local", "global"] = Field(
        "local",
        description="'local': decentralised (the radio); 'global': one PIBT over every robot "
        "(a centralised reference; no messages, fails the locality audit)",
    )


class PIBT(GridPolicy):
    """Decentralised PIBT (see the module docstring)."""

    name = "pibt"
    citation = (
        "Okumura, Machida, Defago, Tamura (2022). Priority inheritance with backtracking for "
        "iterative multi-agent path finding. Artificial Intelligence 310, 103752. Algorithm 1."
    )
    Params = PIBTParams

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides):
        super().__init__(params, seed, **overrides)
        # per-robot memory, row i written from robot i's own computation only
        self.inherited = np.zeros(0)  # (R,) priority inherited in last step's local plan
        self.intended = np.zeros(0, np.int64)  # (R,) free cell last step's plan moved to

    @property
    def memory_fields(self) -> tuple[str, ...]:
        return ("inherited", "intended")

    def rounds(self) -> tuple[Round, ...]:
        """First beacons; a relay request and the relays (``relay_radius``); a push and new
        beacons before each later planning round; the arbitration."""
        p = self.params
        if p.view == "global":
            return ()
        out = [Round("beacon_0", BEACON_DIM)]
        if p.relay_radius > 0:
            out += [Round("request", 1), Round("relay", BEACON_DIM, per_link=True)]
        for k in range(1, p.rounds):
            out += [Round(f"push_{k}", PLAN_DIM), Round(f"beacon_{k}", BEACON_DIM)]
        if p.arbitrate:
            out.append(Round("arbitrate", PLAN_DIM))
        return tuple(out)

    @property
    def message_hops(self) -> int:
        """Comm hops a robot's action depends on. The first plan reads the beacons (1 hop);
        with the relay round also what the neighbours heard (2). Each later round reads
        beacons whose priorities took in the pushes their senders heard, which came from
        the plans of *their* neighbours: 2 more hops a round. Arbitration reads the last
        plans: 1 more. So ``2 rounds - 1 + arbitrate + relay``."""
        p = self.params
        return 2 * p.rounds - 1 + int(p.arbitrate) + int(p.relay_radius > 0)

    def _started(self, obs: LocalObservation) -> bool:
        return len(self.intended) == obs.n

    def carried(self, obs: LocalObservation) -> np.ndarray:
        """(R,) inherited priority each robot carries into this step: only robots whose
        planned move did not happen (the world cancelled it) carry one."""
        if not self._started(obs) or not self.params.carry_inheritance:
            return np.full(obs.n, -np.inf)
        blocked = obs.own["fcell"] != self.intended
        return np.where(blocked, self.inherited + GROWTH_PER_STEP, -np.inf)

    def targets(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray]:
        """(R,) free cell each robot moves to, after the step's message rounds, and (R,) the
        priority it inherited in its own last plan."""
        target, inherited, _ = self._plan(obs)
        return target, inherited

    def _plan(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(R,) free cell each robot will be in after its action (under rotation its own
        cell unless it moves forward), (R,) priority it inherited, (R,) its action."""
        p = self.params
        own = priorities(obs, self.seed)
        turn = None
        if rotating(obs):
            prefs, turn = rotate_preferences(obs, self.seed, p.turn_cost)
        else:
            prefs, _ = preferences(obs, self.seed)
        if p.view == "global":
            target, inherited = global_pibt(obs, own, prefs)
            if turn is None:
                return target, inherited, action_codes(obs, target)
            actions = rotate_codes(obs, target, turn)
            return np.where(actions == FORWARD, target, obs.own["fcell"]), inherited, actions
        return self._local_plan(obs, own, prefs, turn)

    def _local_plan(
        self, obs: LocalObservation, own: np.ndarray, prefs: np.ndarray, turn: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The decentralised plan (:meth:`_plan`): message rounds, local PIBT, arbitration.
        Under rotation the planned cells become actions before the arbitration, and a robot
        that keeps its cell announces it with an infinite claim: a neighbour planned into it
        stays instead of being stopped by the world (which would flag it blocked)."""
        p, radio = self.params, obs.radio
        carried = self.carried(obs)
        started = self._started(obs)
        blocked = obs.own["fcell"] != self.intended if started else np.zeros(obs.n, bool)
        sensed = sensed_cells(obs)
        claim = np.maximum(own, carried)
        heard = radio.send("beacon_0", beacons(obs, claim, prefs, blocked))
        relayed = Inbox.empty(obs.n, BEACON_DIM)
        if p.relay_radius > 0:
            # every robot takes part, if only to hear a request: whether it relays depends
            # on its neighbours, so it cannot skip the rounds on what it knows itself
            need = near_blocked(blocked, heard) if started else blocked
            requests = radio.send("request", np.ones((obs.n, 1)), speaking=need)
            ptr, entries = relay_lists(requests.counts > 0, heard)
            relays = radio.send("relay", entries, entry_ptr=ptr)
            relayed = relayed_view(obs, need, heard, relays, p.relay_radius)
        for round_ in range(p.rounds):
            if round_ > 0:
                heard = radio.send(f"beacon_{round_}", beacons(obs, np.maximum(own, carried),
                                                               prefs, blocked))  # fmt: skip
            target, inherited = local_pibt(obs, np.maximum(own, carried), prefs, heard,
                                           relayed, p.hop_discount, sensed)  # fmt: skip
            claim = np.maximum(np.maximum(own, carried), inherited)
            if round_ + 1 < p.rounds:
                pushes = radio.send(f"push_{round_ + 1}", plans(target, claim))
                carried = np.maximum(carried, pushed_by(obs, pushes, p.hop_discount))
        if turn is None:
            if p.arbitrate:
                msgs = radio.send("arbitrate", plans(target, claim))
                target = arbitrate(obs, msgs, target, claim)
            return target, inherited, action_codes(obs, target)
        actions = rotate_codes(obs, target, turn)
        forward = actions == FORWARD
        nxt = np.where(forward, target, obs.own["fcell"])
        if p.arbitrate:
            msgs = radio.send("arbitrate", plans(nxt, np.where(forward, claim, np.inf)))
            final = arbitrate(obs, msgs, nxt, claim)
            actions = np.where(final != nxt, WAIT, actions)
            nxt = final
        return nxt, inherited, actions

    def decide(self, obs: LocalObservation) -> Decision:
        """The moves, and the memory of this step's plan: the priority each robot inherited
        and the cell it planned to be in (each robot its own)."""
        target, inherited, actions = self._plan(obs)
        return Decision(actions, memory={"inherited": inherited, "intended": target})

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.decide(obs).actions
