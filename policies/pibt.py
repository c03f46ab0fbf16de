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
Near jams the local problems hold a hundred robots or more, two thirds of the robots solve
one, three times a step; what keeps that fast without changing a move: the relayed beacons
come sorted by priority and each distinct one stored once (:func:`relayed_view`), so a
robot only sorts the roots it heard this round and merges, and it clears only the scratch
it wrote (measured in ``experiments/bench_pibt_jam.py``).

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

**Commitments under rotation** (``commit``, default on; the League's default planner keeps
each robot's decided cell until it is reached in the same way). A push takes effect over
several steps, and with bounded views the plan that started it may not be seen again in
the next step (the pusher's chain origin is out of range): the pushed robot, half turned,
then plans toward its goal again, turns back, and queues meeting head-on end up facing
each other mid-turn. So a robot whose plan chose a neighbouring cell it has not reached
(it turned toward it, or its move was stopped) remembers it (``committed``, own memory),
ranks it first and plans ``COMMITTED_PRIORITY`` above uncommitted robots; its beacons carry
that preference list and priority, so every view plans it first. Backtracking can still
send it elsewhere (then it commits to that). On the 13 x 49 map of
``warehouse_throughput.toml`` (4 x 6 shelf blocks, 5-cell radio, seeds 0-1, 1,000 steps)
decentralised PIBT at 128 robots deadlocked 124-128 robots and finished 0.13-0.59 tasks a
step without; with commitments none deadlocks and it finishes 0.81-0.85 (whole-map PIBT:
0.90-0.92 without, 0.94-0.95 with commitments).

**Unknown cells** (``unknown_cells``). A robot knows which cells within its radio range
are taken (it hears every robot there); beyond it, it knows nothing. With ``"free"`` (the
default) its local PIBT lets a push chain run into such a cell as if it were empty; where
it is not, the world cancels the chain's moves, and in dense traffic these optimistic plans
seed jams that grow (MR23-I-10 under rotation with guidance: from the state at step 450,
300 more steps leave 475 robots stuck for 100 steps). With ``"occupied"`` such a cell counts
as taken by a robot that stays, so a chain only pushes toward cells someone in range vouched
for: from the same state 1 robot is stuck. It is cautious where the floor is open: on the
13 x 49 test map (seeds 0-2, 1,000 steps) no robot locks at any size, but rotate throughput
without guidance falls from 0.77 / 0.83 / 0.50 to 0.70 / 0.52 / 0.26 tasks a step at 64 /
128 / 192 robots (with crisscross guidance 1.54 / 2.30 / 1.62 to 1.51 / 1.92 / 1.24; grid
moves without guidance 1.18 / 1.56 / 1.02 to 1.12 / 1.28 / 0.88). The rule reads the robot's
own cell, the public map and what it heard (the audit passes).

**Relayers vouch for their range** (``relay_vouches``, default off). With unknown cells
occupied a chain stops at the edge of the robot's own radio range, also inside a jam, where
the relay round has brought the robots up to ``relay_radius`` cells away into its problem:
the cells among them where nobody stands still count as taken. But a relay lists every robot
its sender heard, and the sender hears every robot within its radio range, so a cell within
that range of a relayer where no relayed robot stands is free. With ``relay_vouches`` such a
cell (within ``relay_radius`` of the robot too) counts as known. The relayer's cell is the
one in the first-round beacon the robot heard from it (:func:`relayer_cells`; a relayer
whose beacon was lost vouches for nothing): no message is added, and the information still
travels the relay's two hops. Where the relayer lost a packet, or kept only its nearest
senders (``max_inbox``), it could not list every robot in its range, and a chain may plan
into such a robot's cell; the world stops the move (an attempted conflict, as with
``unknown_cells = "free"``). Measured on MR23-I-10 (rotate, flow w = 10, reach 32, k = 30,
w = 2, the scenario's 5-cell radio; ``experiments/bench_mainround.py --controllers
pibt-vouch``): from the whole-map run's state at step 2,500 (``--switch``) the next 500 steps
finish 8,624 errands with it against 8,252 without (the whole map: 9,080; a 10-cell radio
without it: 8,634), and the League's 5,000 steps 89,979 against 87,396 (46.2 against 44.9 %
of the best known) for 96,499 bytes per robot per step against 91,630 (seed 1: 91,271
against 87,597). Relays asked for by every robot, not only near blocked ones, add nothing
(8,626 from that state). On MR23-I-06 (flow w = 16) it does not help: 122,720 errands
against 124,150 (62.2 against 62.9 %).

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

**Distance in the priority** (``distance_priority`` k, default 0). Okumura et al.'s
priority is the task's age alone. With k > 0 a robot plans with its age minus k times its
hop distance to its goal (:func:`swarm.grid.policy.priorities`; its own field and age, so
the audit passes), so robots about to finish go first, free their cells and take their next
errand, while a task older than another by more than k times its distance still ranks
above it. Chosen on held-out errands (``first_task_round`` 25, 1,000 steps, decentralised,
unknown cells occupied): MR23-I-10 with flow w = 10, reach 32, k = 0 / 3 / 10 / 30 / 1000:
22,784 / 23,721 / 23,990 / 24,148 / 23,866 errands (whole map, k = 0 / 10: 22,718 /
24,424); MR23-I-06 with flow w = 16, k = 0 / 10 / 30: 27,354 / 27,860 / 28,188. Over the
League's 5,000 steps from round 0 (README) k = 30 lifts the decentralised planner from
57.0 % to 61.2 % of the best known on MR23-I-06 and from 40.2 % to 43.4 % on MR23-I-10.

**A step in place costs more** (``wait_cost`` w, default 1). In the ranking of a robot's
candidate cells a step spent in place away from the goal (waiting, or turning toward it)
costs w moves (:func:`swarm.grid.policy.rotate_preferences`,
:func:`~swarm.grid.policy.preferences`). With w = 1 a robot in a queue waits rather than
take a neighbouring cell no nearer its goal; with w = 2 that cell and waiting rank alike
(keyed ties decide), so some robots step aside and the queue moves. Chosen on held-out
errands (MR23-I-10, rotate, flow w = 10, reach 32, k = 30, 1,000 steps from round 25,
decentralised; ``experiments/bench_mainround.py --wait-cost``): w = 1 / 2 / 3: 24,148 /
24,526 / 24,115 errands (whole map, 2,000 steps: 44,487 / 45,210 / 45,913). Over the
League's 5,000 steps w = 2 lifts the decentralised planner from 43.4 % to 44.9 % of the best
known on MR23-I-10 and from 61.2 % to 62.9 % on MR23-I-06, whole-map PIBT from 49.2 % to
51.0 % and from 62.5 % to 63.7 % (README). The default stays 1: on the default generated
warehouse (``swarm run warehouse --motion rotate --guidance crisscross --guidance-weight 6``,
unknown cells occupied, 1,000 steps, seeds 0-2) w = 2 costs errands at 64 / 128 / 192
robots: 1,568-1,632 against 1,697-1,783, 997-1,241 against 1,432-1,563, 195-444 against
433-475; where queues are short and the aisles narrow, stepping aside is a detour.

**Whole map** (``view = "global"``): one PIBT over every robot on the whole map (Algorithm
1 as published, one problem instead of one per robot; under rotation with the same
commitments), a centralised reference for the
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
    BEACON_PRIORITY,
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
from swarm.threads import filled, robot_chunks, robot_kernel, serial_and_parallel

_NO_ROWS = np.zeros(0, np.int64)
BLOCKED = -2  # occupancy mark of a sensed robot that sent no beacon: it stays where it is
# priorities grow by one per step while a task is open (its age), so a priority carried over
# from last step grows by one too: otherwise it would always trail the own priorities of the
# robots stuck beside it and never decide anything
GROWTH_PER_STEP = 1.0
# under rotation a robot committed to a neighbouring cell plans before every uncommitted one:
# its priority is raised by this much, above any task age (ages count steps)
COMMITTED_PRIORITY = 1e6


def _local_pibt_chunks(
    own_cell, own_prio, own_prefs, d_ptr, d_table, d_ref, r_ptr, r_table, r_ref, sense_ptr,
    sense_cell, n_free, hop_discount, n_chunks, frow, fcol, r2, vouch_r2, v_ptr, v_cell,
):  # fmt: skip
    """(R,) free cell each robot moves to, from PIBT on its own local problem, and (R,) the
    priority it inherited there (-inf when nobody pushed it).

    Robot i's problem is itself and the beacons it received: this round's,
    ``d_table[d_ref[e]]`` for e in ``d_ptr[i]:d_ptr[i + 1]``, then the relayed first-round
    beacons ``r_table[r_ref[e]]``, e in ``r_ptr[i]:r_ptr[i + 1]``, of robots it did not
    hear this round (a robot is known by its cell: two robots never share one). A beacon is
    (cell, priority, 5 preferences, blocked) (:data:`swarm.grid.policy.BEACON_DIM`).

    Robots are solved in ``n_chunks`` interleaved chunks (``prange``: one per thread task;
    chunk c takes robots c, c + n_chunks, ...: the robots of a jam, whose problems are the
    large ones, spread over the chunks), each with its own scratch, which every robot leaves
    clean: a robot's answer depends on its inputs alone, so any chunking and thread count
    gives the same result.
    """
    n = own_cell.shape[0]
    out = own_cell.copy()
    inherited = filled(n, -np.inf)
    max_local = 1
    for i in range(n):
        heard = d_ptr[i + 1] - d_ptr[i] + r_ptr[i + 1] - r_ptr[i]
        max_local = max(max_local, heard + 1)
    for chunk in numba.prange(n_chunks):
        _solve_robots(chunk, n, n_chunks, own_cell, own_prio, own_prefs, d_ptr, d_table,
                      d_ref, r_ptr, r_table, r_ref, sense_ptr, sense_cell, n_free,
                      hop_discount, max_local, out, inherited, frow, fcol, r2, vouch_r2, v_ptr,
                      v_cell)  # fmt: skip
    return out, inherited


@numba.njit(cache=True)
def _sort_descending(idx, key, n):
    """Sort ``idx[:n]`` and ``key[:n]`` by descending key, stably (insertion: linear on a
    sorted input, and few elements)."""
    for q0 in range(1, n):
        a = idx[q0]
        ka = key[q0]
        q = q0
        while q > 0 and key[q - 1] < ka:
            idx[q] = idx[q - 1]
            key[q] = key[q - 1]
            q -= 1
        idx[q] = a
        key[q] = ka


@numba.njit(cache=True)
def _merge_descending(idx, key, n, out):
    """Merge the two sorted parts ``idx[p, :n[p]]`` (p = 0, 1) into ``out`` by descending
    key, part 0 first on ties; returns the count."""
    x = 0
    y = 0
    o = 0
    while x < n[0] and y < n[1]:
        if key[1, y] > key[0, x]:
            out[o] = idx[1, y]
            y += 1
        else:
            out[o] = idx[0, x]
            x += 1
        o += 1
    while x < n[0]:
        out[o] = idx[0, x]
        x += 1
        o += 1
    while y < n[1]:
        out[o] = idx[1, y]
        y += 1
        o += 1
    return o


@numba.njit(cache=True)
def _solve_robots(
    first, stop, step, own_cell, own_prio, own_prefs, d_ptr, d_table, d_ref, r_ptr, r_table,
    r_ref, sense_ptr, sense_cell, n_free, hop_discount, max_local, out, inherited, frow, fcol,
    r2, vouch_r2, v_ptr, v_cell,
):  # fmt: skip
    """Robots ``first, first + step, ...`` below ``stop`` of :func:`_local_pibt_chunks`, with
    scratch of their own."""
    occ_from = np.full(n_free, -1, np.int64)  # free cell -> local agent standing there
    occ_to = np.full(n_free, -1, np.int64)  # free cell -> local agent reserving it
    cell = np.empty(max_local, np.int64)
    prio = np.empty(max_local)
    prefs = np.empty((max_local, 5), np.int64)
    to = np.empty(max_local, np.int64)
    # the robots stronger than robot i (heard this round, then relayed) and their
    # priorities, then all of them in the order they are run
    roots = np.empty((2, max_local), np.int64)
    key = np.empty((2, max_local))
    order = np.empty(max_local, np.int64)
    n_roots = np.empty(2, np.int64)
    st_a = np.empty(max_local + 1, np.int64)
    st_p = np.empty(max_local + 1, np.int64)
    st_k = np.empty(max_local + 1, np.int64)
    st_c = np.empty(max_local + 1)  # priority the frame's agent acts with (inherited)
    got = np.empty(max_local)  # priority each local agent inherited when pushed (-inf: not)
    for i in range(first, stop, step):
        # the local problem: robot i (local 0) and the robots it heard from; the robots
        # stronger than robot i are its roots
        m = 1
        cell[0] = own_cell[i]
        prio[0] = own_prio[i]
        p0 = prio[0]
        occ_from[cell[0]] = 0
        to[0] = -1
        got[0] = -np.inf
        for k in range(5):
            prefs[0, k] = own_prefs[i, k]
        n_roots[0] = 0
        n_roots[1] = 0
        for src in range(2):  # this round's beacons, then the relayed ones not heard again
            ptr = d_ptr if src == 0 else r_ptr
            table = d_table if src == 0 else r_table
            ref = d_ref if src == 0 else r_ref
            for e in range(ptr[i], ptr[i + 1]):
                row = ref[e]
                c = np.int64(table[row, 0])
                if occ_from[c] != -1:
                    continue
                cell[m] = c
                occ_from[c] = m
                prio[m] = table[row, 1]
                for k in range(5):  # element by element: a row slice assignment is far slower
                    prefs[m, k] = np.int64(table[row, 2 + k])
                to[m] = -1
                got[m] = -np.inf
                if prio[m] > p0:
                    roots[src, n_roots[src]] = m
                    key[src, n_roots[src]] = prio[m]
                    n_roots[src] += 1
                m += 1
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            c = sense_cell[e]
            if occ_from[c] == -1:  # sensed, not heard
                occ_from[c] = BLOCKED
                occ_to[c] = BLOCKED
        # roots by descending priority, ties in local order, then robot i itself (local 0):
        # it is decided, pushed or as a root, by then, and lower roots would come after it.
        # Each part sorted in place (stable; np.argsort would allocate for each robot; the
        # relayed part comes sorted, :func:`_relayed`), then merged (ties: the part heard
        # this round first, as its local indices are lower)
        _sort_descending(roots[0], key[0], n_roots[0])
        _sort_descending(roots[1], key[1], n_roots[1])
        n_order = _merge_descending(roots, key, n_roots, order)
        r = 0
        while to[0] == -1:
            if r < n_order:
                root = order[r]
                r += 1
                if to[root] != -1:
                    continue
            else:
                root = 0
            _pibt_from(root, cell, prio[root], prefs, occ_from, occ_to, to, st_a, st_p, st_k,
                       st_c, hop_discount, got, frow, fcol, frow[own_cell[i]],
                       fcol[own_cell[i]], r2, vouch_r2, v_cell, v_ptr[i], v_ptr[i + 1])  # fmt: skip
        inherited[i] = got[0]
        out[i] = to[0]
        # clean the shared scratch for the next robot: only the agents' cells, the sensed
        # cells and reserved cells were written, and a reservation occ_to[v] = a always has
        # to[a] == v (:func:`_pibt_from`), so clearing each agent's to[a] clears them all
        for a in range(m):
            occ_from[cell[a]] = -1
            if to[a] >= 0:
                occ_to[to[a]] = -1
        for e in range(sense_ptr[i], sense_ptr[i + 1]):
            occ_from[sense_cell[e]] = -1
            occ_to[sense_cell[e]] = -1


_local_pibt, _local_pibt_parallel = serial_and_parallel(_local_pibt_chunks)


@numba.njit(cache=True, inline="always")
def _unknown(v, frow, fcol, at_r, at_c, r2, vouch_r2, v_cell, v_lo, v_hi):
    """Whether free cell ``v``, where no robot the planning robot (at ``at_r``, ``at_c``)
    knows stands, is unknown to it: further than ``r2`` (squared cells) and not vouched for
    (:func:`_vouched`). Both PIBT and EPIBT (``policies.epibt``) treat such a cell as taken."""
    dr = frow[v] - at_r
    dc = fcol[v] - at_c
    d2 = dr * dr + dc * dc
    return d2 > r2 and not _vouched(v, frow, fcol, d2, r2, vouch_r2, v_cell, v_lo, v_hi)


@numba.njit(cache=True, inline="always")
def _vouched(v, frow, fcol, d2, r2, vouch_r2, v_cell, v_lo, v_hi):
    """Whether free cell ``v``, ``d2`` squared cells from the planning robot, lies within
    ``vouch_r2`` of it and within ``r2`` of a relayer's cell ``v_cell[v_lo:v_hi]`` (the
    relayer heard every robot there, and its relay listed them)."""
    if d2 > vouch_r2:
        return False
    for q in range(v_lo, v_hi):
        if v_cell[q] < 0:  # a relayer whose beacon the robot did not hear
            continue
        er = frow[v] - frow[v_cell[q]]
        ec = fcol[v] - fcol[v_cell[q]]
        if er * er + ec * ec <= r2:
            return True
    return False


@numba.njit(cache=True)
def _pibt_from(root, cell, prio_root, prefs, occ_from, occ_to, to, st_a, st_p, st_k, st_c,
               hop_discount, got, frow, fcol, at_r, at_c, r2, vouch_r2, v_cell, v_lo,
               v_hi):  # fmt: skip
    """Algorithm 1, PIBT(root, none), with an explicit stack (the recursion of Okumura et
    al.): reserves in ``to`` / ``occ_to`` a cell for ``root`` and for every agent it pushes
    out of the way, each pushed agent acting with its pusher's priority less
    ``hop_discount`` (``got[k]``: the last priority agent k inherited). ``occ_from``: cell ->
    agent standing there (< 0: none, or a sensed robot that cannot be pushed), ``prefs``
    (agents, 5) each agent's candidate cells, best first (-1: none). With ``r2`` > 0 a cell
    where no agent stands counts as free only within ``r2`` (squared cells) of the planning
    robot at (``at_r``, ``at_c``), or where :func:`_vouched`.

    Every reservation ``occ_to[v] = a`` left has ``to[a] == v``: an agent moving on frees
    its own, and the one overwrite (a pushed agent that cannot move stays on its cell) takes
    the cell from its pusher, which then moves on (the callers' cleanup relies on it)."""
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
            no_one = r2 > 0.0 and occ_from[v] == -1  # no robot it knows stands there
            if no_one and _unknown(v, frow, fcol, at_r, at_c, r2, vouch_r2, v_cell, v_lo, v_hi):
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
                       st_c, 0.0, got, _NO_ROWS, _NO_ROWS, 0, 0, 0.0, 0.0, _NO_ROWS, 0,
                       0)  # fmt: skip
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
    known_radius: float = 0.0,
    vouchers: tuple[np.ndarray, np.ndarray, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(R,) free cell each robot moves to and (R,) priority it inherits in its own plan.

    ``own`` (R,) the priorities the robots plan with, ``prefs`` (R, 5) their candidate
    cells; ``beacons_heard``: this round's beacons; ``relayed``: the first-round beacons of
    robots further away that the relay round brought (:func:`relayed_view`); ``sensed``:
    the cells of the robots sensed (:func:`~swarm.grid.world.sensed_cells`);
    ``known_radius`` > 0: a cell further than that from the planning robot, where no robot
    it heard stands, counts as taken (``unknown_cells = "occupied"``); 0: as free.
    ``vouchers`` (ptr (R + 1,), cells, radius): such a cell still counts as free within
    ``radius`` of the robot and ``known_radius`` of one of its relayers' cells, robot i's
    ``cells[ptr[i]:ptr[i + 1]]`` (:func:`relayer_cells`, ``relay_vouches``).
    """
    chunks = robot_chunks(obs.n)
    kernel = _local_pibt_parallel if chunks > 1 else _local_pibt
    r2 = known_radius * known_radius if np.isfinite(known_radius) else 0.0
    frow = fcol = _NO_ROWS  # free cell -> row, column: only read when unknown cells are taken
    if r2 > 0.0:
        frow, fcol = obs.known["grid"].free_rowcol
    v_ptr, v_cell, vouch_radius = vouchers or (np.zeros(obs.n + 1, np.int64), _NO_ROWS, 0.0)
    return kernel(
        obs.own["fcell"], own, np.ascontiguousarray(prefs, dtype=np.int64),
        beacons_heard.ptr, beacons_heard.table, beacons_heard.rows, relayed.ptr, relayed.table,
        relayed.rows,
        obs.neighbors.ptr, sensed, obs.known["grid"].neighbors.shape[0], hop_discount,
        chunks,  # one scratch of 2 x free cells per chunk: few chunks
        frow, fcol, r2, float(vouch_radius) ** 2, v_ptr, v_cell,
    )  # fmt: skip


def committed_first(
    prefs: np.ndarray, own: np.ndarray, committed: np.ndarray, fcell: np.ndarray,
    lift: float = COMMITTED_PRIORITY,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Preferences and priorities with each robot's commitment kept (under rotation): a
    robot whose last plan chose a neighbouring cell it has not reached yet (it was turning
    toward it, or its move was stopped) ranks that cell first and plans ``lift`` above the
    uncommitted robots, in its own beacons and so in every view; backtracking can still move
    it elsewhere. Own memory only. ``lift`` must exceed any gap between two robots' own
    priorities: ``COMMITTED_PRIORITY`` (task ages) plus, with ``distance_priority`` k, k
    times the map's free cells (no distance is longer), the same public number for every
    robot."""
    active = (committed >= 0) & (committed != fcell)
    first = prefs == committed[:, None]
    rows = np.flatnonzero(active & first.any(axis=1))
    if len(rows) == 0:
        return prefs, own
    order = np.argsort(~first[rows], axis=1, kind="stable")  # the committed cell, then the rest
    prefs, own = prefs.copy(), own.copy()
    prefs[rows] = np.take_along_axis(prefs[rows], order, axis=1)
    own[rows] += lift
    return prefs, own


def near_blocked(blocked: np.ndarray, heard: Inbox) -> np.ndarray:
    """(R,) robots that were blocked last step (their own memory: the planned move did not
    happen) or heard a first-round beacon from one that was (its blocked flag)."""
    kernel = robot_kernel(len(blocked), _near_blocked_serial, _near_blocked_parallel)
    return kernel(blocked, heard.ptr, heard.table, heard.rows)


def _near_blocked_rows(blocked, ptr, table, rows):
    """:func:`near_blocked`, receiver by receiver (the flags summed in packet order, as a
    weighted bincount would)."""
    out = np.empty(blocked.shape[0], np.bool_)
    for i in numba.prange(blocked.shape[0]):
        flags = 0.0
        for e in range(ptr[i], ptr[i + 1]):
            flags += table[rows[e], BEACON_BLOCKED]
        out[i] = blocked[i] or flags > 0
    return out


_near_blocked_serial, _near_blocked_parallel = serial_and_parallel(_near_blocked_rows)


def relay_lists(asked: np.ndarray, heard: Inbox) -> tuple[np.ndarray, np.ndarray]:
    """(entry_ptr (R + 1,), entries): every robot that heard a relay request relays the
    first-round beacons it heard (a list of at most one entry per comm link)."""
    count = np.where(asked, heard.counts, 0)
    ptr = np.zeros(len(asked) + 1, np.int64)
    np.cumsum(count, out=ptr[1:])
    kernel = robot_kernel(len(asked), _relay_rows_serial, _relay_rows_parallel)
    entries = np.empty((ptr[-1], heard.table.shape[1]))
    kernel(asked, heard.ptr, heard.table, heard.rows, ptr, entries)
    return ptr, entries


def _relay_rows(asked, ptr, table, rows, out_ptr, out):
    """Each asked receiver's packets, in order, from ``out_ptr[i]`` of ``out`` (numpy's
    gather of ~10^5 beacon rows was 1.2 ms of a 10,000-robot step)."""
    for i in numba.prange(asked.shape[0]):
        if asked[i]:
            o = out_ptr[i]
            for e in range(ptr[i], ptr[i + 1]):
                for j in range(table.shape[1]):
                    out[o, j] = table[rows[e], j]
                o += 1


_relay_rows_serial, _relay_rows_parallel = serial_and_parallel(_relay_rows)


def relay_round(
    obs: LocalObservation, heard: Inbox, blocked: np.ndarray, started: bool, radius: float,
    vouch: bool,
) -> tuple[Inbox, tuple[np.ndarray, np.ndarray, float] | None]:  # fmt: skip
    """The relay round (rounds ``request`` and ``relay``; nothing with ``radius`` 0): robots
    that were blocked or heard a blocked neighbour (``blocked`` only, before the first
    step) ask, their neighbours relay what they heard, and each asking robot keeps the
    relayed beacons within ``radius`` (:func:`relayed_view`); with ``vouch`` also its
    relayers' cells (:func:`relayer_cells`) as ``local_pibt``'s ``vouchers``."""
    if radius <= 0:
        return Inbox.empty(obs.n, BEACON_DIM), None
    # every robot takes part, if only to hear a request: whether it relays depends on its
    # neighbours, so it cannot skip the rounds on what it knows itself
    radio = obs.radio
    need = near_blocked(blocked, heard) if started else blocked
    requests = radio.send("request", np.ones((obs.n, 1)), speaking=need)
    ptr, entries = relay_lists(requests.counts > 0, heard)
    relays = radio.send("relay", entries, entry_ptr=ptr, owned=True)  # fresh: not copied
    relayed = relayed_view(obs, need, heard, relays, radius)
    vouchers = (*relayer_cells(need, heard, relays), radius) if vouch else None
    return relayed, vouchers


def relayer_cells(
    need: np.ndarray, heard: Inbox, relays: ListInbox
) -> tuple[np.ndarray, np.ndarray]:
    """(ptr (R + 1,), cells): for each robot that ``need``s the relays, the cell of the
    sender of each relay it received, ``cells[ptr[i]:ptr[i + 1]]`` in packet order, read
    from the first-round beacon it heard from the same sender (-1 where it heard none)."""
    count = np.where(need, relays.counts, 0)
    ptr = np.zeros(len(need) + 1, np.int64)
    np.cumsum(count, out=ptr[1:])
    cells = np.empty(ptr[-1], np.int64)
    hsender = np.asarray(heard.sender, np.int64)
    rsender = np.asarray(relays.sender, np.int64)
    labels = 1 + max(hsender.max(initial=-1), rsender.max(initial=-1))
    chunks = robot_chunks(len(need))
    kernel = _relayer_parallel if chunks > 1 else _relayer_serial
    kernel(need.astype(np.bool_), heard.ptr, hsender, heard.table, heard.rows, relays.ptr,
           rsender, ptr, cells, labels, chunks)  # fmt: skip
    return ptr, cells


def _relayer_chunks(need, hptr, hsender, htable, hrows, rptr, rsender, ptr, cells, labels,
                    n_chunks):  # fmt: skip
    """:func:`relayer_cells` in ``n_chunks`` interleaved chunks of receivers, each with a
    scratch from sender label to the cell its beacon gave (written, read, then cleared per
    receiver: tens of beacons and relays each)."""
    n = need.shape[0]
    for chunk in numba.prange(n_chunks):
        cell_of = np.full(labels, np.int64(-1))
        for i in range(chunk, n, n_chunks):
            if need[i]:
                for h in range(hptr[i], hptr[i + 1]):
                    cell_of[hsender[h]] = np.int64(htable[hrows[h], BEACON_CELL])
                o = ptr[i]
                for e in range(rptr[i], rptr[i + 1]):
                    cells[o] = cell_of[rsender[e]]
                    o += 1
                for h in range(hptr[i], hptr[i + 1]):
                    cell_of[hsender[h]] = -1


_relayer_serial, _relayer_parallel = serial_and_parallel(_relayer_chunks)


def relayed_view(obs: LocalObservation, need: np.ndarray, heard: Inbox, relays: ListInbox,
                 radius: float) -> Inbox:  # fmt: skip
    """For each robot that ``need``s it, the relayed first-round beacons of robots within
    ``radius`` cells of its own cell that it did not hear itself (each once, known by its
    cell); an inbox (CSR by receiver) of beacons, other robots' parts empty.

    Each robot's part comes sorted by descending priority (stably: equal priorities in the
    order they arrived), the order its local problems run their roots in, three times a
    step (:func:`_solve_robots`). Its table holds each distinct relayed message once: a
    beacon is relayed by every robot that heard it, so the relay table repeats each one
    tens of times, and the local problems read it from the cache instead.
    """
    g = obs.known["grid"]
    ptr, packet, rows, table = _relayed(
        obs.own["fcell"], need.astype(np.bool_), heard.ptr, heard.table[:, BEACON_CELL], heard.rows,
        relays.ptr, relays.ref, relays.entry_ptr, np.ascontiguousarray(relays.table, np.float64),
        g.free_cells, *g.free_rowcol, g.height, g.width, float(radius) ** 2,
    )  # fmt: skip
    return Inbox(ptr, relays.sender[packet], table, rows)


def _relayed(
    fcell: np.ndarray,
    need: np.ndarray,
    ptr0: np.ndarray,
    cell0: np.ndarray,
    ref0: np.ndarray,
    rptr: np.ndarray,
    rref: np.ndarray,
    entry_ptr: np.ndarray,
    table: np.ndarray,
    free_cells: np.ndarray,
    row_of: np.ndarray,
    col_of: np.ndarray,
    height: int,
    width: int,
    r2: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_relayed_chunks` on the thread pool from
    :data:`swarm.threads.PARALLEL_MIN_ROBOTS` robots (the same answer bit for bit on any
    number of threads), on one thread below."""
    chunks = robot_chunks(fcell.shape[0])
    kernel = _relayed_parallel if chunks > 1 else _relayed_serial
    return kernel(fcell, need, ptr0, cell0, ref0, rptr, rref, entry_ptr, table, free_cells,
                  row_of, col_of, height, width, r2, chunks)  # fmt: skip


def _relayed_chunks(fcell, need, ptr0, cell0, ref0, rptr, rref, entry_ptr, table, free_cells,
                    row_of, col_of, height, width, r2, n_chunks):  # fmt: skip
    """Per receiver that needs it: the packet each kept entry came in, its row in the table
    of distinct relayed messages (:func:`_distinct_rows`), and that table. Kept: the first
    entry from each cell within ``r2`` (squared cells) of the receiver's that it did not
    hear directly, in packet order (:func:`_scan_part`), then stably sorted by descending
    priority.

    A receiver hears tens of relays, each the whole list of what its sender heard, so most
    entries repeat. Each list is kept as bitmaps of its cells too, a 64-bit word per 8 x 8
    tile of the map (:func:`_list_tiles`), and a receiver ORs its lists' words in packet
    order (:func:`_tile_part`): the bits new in a packet are the cells it brings first.
    The kept entries are marked in a bitmap over the ranks of the distinct priorities and
    read back in rank order (:func:`_sort_part`). Where the order within a packet matters
    (equal priorities) or a cell's relays differ, the receiver scans its entries one at a
    time and sorts them by insertion instead. Any path gives the same answer.

    The receivers are scanned in ``n_chunks`` interleaved chunks (``prange``: a jam's
    receivers, the busy ones, spread over the chunks), each with its own scratch, its
    receivers' parts back to back in a region of its own (sized by their relays' entries;
    written from its start, so only the pages kept entries reach are touched). On one
    chunk that is the answer; on more, the parts are then copied back to back in receiver
    order: the same arrays, bit for bit, whatever the chunks and threads.
    """
    n = fcell.shape[0]
    n_free = free_cells.shape[0]
    packed, distinct, first, one_each = _distinct_rows(table, n_free)
    rank, n_ranks = _dense_ranks(distinct[:, BEACON_PRIORITY])
    tiles_w = (width + 7) >> 3
    n_words = ((height + 7) >> 3) * tiles_w
    word_of = np.empty(n_free, np.int64)  # free cell -> its tile's word, bit
    bit_of = np.empty(n_free, np.int64)
    msg_at = filled(height * width, np.int64(-1))  # map cell -> row of its message
    for k in numba.prange(n_free):
        word_of[k] = (row_of[k] >> 3) * tiles_w + (col_of[k] >> 3)
        bit_of[k] = np.int64(1) << (((row_of[k] & 7) << 3) | (col_of[k] & 7))
        msg_at[free_cells[k]] = first[k]
    n_lists = entry_ptr.shape[0] - 1
    list_end = np.empty(n_lists, np.int64)
    spread_word = np.empty(packed.shape[0], np.int64)  # list s's pairs from entry_ptr[s]
    spread_bits = np.empty(packed.shape[0], np.int64)
    base = filled(n_chunks + 1, np.int64(0))  # chunk k's region starts at base[k]
    for chunk in numba.prange(n_chunks):
        lists = (chunk * n_lists // n_chunks, (chunk + 1) * n_lists // n_chunks)
        _list_tiles(lists[0], lists[1], entry_ptr, packed, word_of, bit_of, n_words, list_end,
                    spread_word, spread_bits)  # fmt: skip
        for i in range(chunk, n, n_chunks):
            if need[i]:  # entries receiver i can keep: its relays' entries
                for e in range(rptr[i], rptr[i + 1]):
                    base[chunk + 1] += entry_ptr[rref[e] + 1] - entry_ptr[rref[e]]
    # the pairs back to back (CSR by list): the receivers read them many times (left spread
    # over the entries' span, one thread's relay scan took 9.8-10.1 ms against 8.8)
    list_ptr, pair_word, pair_bits = _packed(entry_ptr[:n_lists], list_end, spread_word,
                                             spread_bits)  # fmt: skip
    for k in range(n_chunks):
        base[k + 1] += base[k]
    bound = base[n_chunks]
    ptr = np.empty(n + 1, np.int64)
    ends = np.empty(n, np.int64)  # where receiver i's part ends (it starts at ptr[i])
    rows = np.empty(bound, np.int64)
    packet = np.empty(bound, np.int64)
    for chunk in numba.prange(n_chunks):
        _relay_chunk(chunk, n_chunks, base, fcell, need, ptr0, cell0, ref0, rptr, rref,
                     entry_ptr, packed, distinct, one_each, rank, n_ranks, list_ptr, pair_word,
                     pair_bits, word_of, bit_of, row_of, col_of, tiles_w, n_words, width, r2,
                     msg_at, ptr, ends, rows, packet)  # fmt: skip
    if n_chunks == 1:
        ptr[n] = ends[n - 1] if n > 0 else 0
        return ptr, packet[: ptr[n]], rows[: ptr[n]], distinct
    ptr, out_packet, out_rows = _packed(ptr[:n], ends, packet, rows)  # in receiver order
    return ptr, out_packet, out_rows, distinct


@numba.njit(cache=True, inline="always")
def _packed(start, end, a, b):
    """Parts ``start[k]:end[k]`` of ``a`` and ``b`` back to back: (ptr (K + 1,), a's, b's),
    each part copied by one ``prange`` iteration (on the pool in a parallel caller)."""
    n_parts = start.shape[0]
    ptr = np.empty(n_parts + 1, np.int64)
    ptr[0] = 0
    for k in range(n_parts):
        ptr[k + 1] = ptr[k] + end[k] - start[k]
    out_a = np.empty(ptr[n_parts], a.dtype)
    out_b = np.empty(ptr[n_parts], b.dtype)
    for k in numba.prange(n_parts):
        for q in range(end[k] - start[k]):
            out_a[ptr[k] + q] = a[start[k] + q]
            out_b[ptr[k] + q] = b[start[k] + q]
    return ptr, out_a, out_b


@numba.njit(cache=True)
def _relay_chunk(chunk, n_chunks, base, fcell, need, ptr0, cell0, ref0, rptr, rref, entry_ptr,
                 packed, distinct, one_each, rank, n_ranks, list_ptr, pair_word, pair_bits,
                 word_of, bit_of, row_of, col_of, tiles_w, n_words, width, r2, msg_at, ptr,
                 ends, rows, packet):  # fmt: skip
    """The parts of receivers chunk, chunk + n_chunks, ... (:func:`_relayed_chunks`), with
    a scratch of the chunk's own, back to back from ``base[chunk]``: receiver i's from
    ``ptr[i]`` to ``ends[i]``."""
    n = fcell.shape[0]
    n_free = row_of.shape[0]
    rank_words = np.zeros((n_ranks + 63) >> 6, np.int64)  # the ranks a receiver kept
    rank_summary = np.zeros((((n_ranks + 63) >> 6) + 63) >> 6, np.int64)  # its words not zero
    row_at = np.empty(n_ranks, np.int64)  # rank -> the receiver's entry: row, packet
    packet_at = np.empty(n_ranks, np.int64)
    seen = np.zeros(n_words, np.int64)  # the cells the receiver met, by tile
    touched = np.empty(n_words, np.int64)  # the words of seen it set
    stamp = np.full(n_free, -1, np.int64)  # cell -> last receiver that met it (scan)
    c = base[chunk]  # the chunk's parts back to back in its region
    for i in range(chunk, n, n_chunks):
        ptr[i] = c
        ends[i] = c
        if not need[i]:
            continue
        if one_each:
            end = _tile_part(i, c, fcell, ptr0, cell0, ref0, rptr, rref, list_ptr,
                             pair_word, pair_bits, word_of, bit_of, row_of, col_of,
                             tiles_w, width, r2, msg_at, rank, seen, touched, rank_words,
                             rank_summary, row_at, packet_at, rows, packet)  # fmt: skip
            if end >= 0:
                c = end
                ends[i] = c
                continue
        c = _scan_part(i, c, fcell, ptr0, cell0, ref0, rptr, rref, entry_ptr, packed,
                       row_of, col_of, r2, stamp, rows, packet)  # fmt: skip
        if not _sort_part(ptr[i], c, rows, packet, rank, rank_words, row_at, packet_at):
            _insertion_part(ptr[i], c, rows, packet, distinct)
        ends[i] = c


@numba.njit(cache=True)
def _distinct_rows(table, n_free):
    """The distinct messages of ``table`` (M, D), each once; (M,) for each message its row
    there times 2^32 plus its cell (one word: the scalar scan reads both at once); (F,) the
    row of the first message from each free cell (-1: none); and whether no cell's
    messages differ. A message is compared with the first from its cell: equal bits share
    a row."""
    m, d = table.shape
    packed = np.empty(m, np.int64)
    bits = table.view(np.int64)
    first = np.full(n_free, -1, np.int64)
    distinct = np.empty((m, d))
    distinct_bits = distinct.view(np.int64)
    one_each = True
    n = 0
    for f in range(m):
        k = np.int64(table[f, 0])
        c = first[k]
        if c >= 0:
            same = True
            for j in range(d):
                if bits[f, j] != distinct_bits[c, j]:
                    same = False
                    break
            if same:
                packed[f] = (c << 32) | k
                continue
            one_each = False
        else:
            first[k] = n
        for j in range(d):
            distinct[n, j] = table[f, j]
        packed[f] = (n << 32) | k
        n += 1
    return packed, distinct[:n].copy(), first, one_each


@numba.njit(cache=True)
def _dense_ranks(prio):
    """(N,) rank of each priority among the distinct ones, 0 the highest (equal priorities,
    equal ranks), and the number of ranks."""
    by_prio = np.argsort(-prio)
    rank = np.empty(prio.shape[0], np.int64)
    n_ranks = 0
    for q in range(prio.shape[0]):
        if q == 0 or prio[by_prio[q]] != prio[by_prio[q - 1]]:
            n_ranks += 1
        rank[by_prio[q]] = n_ranks - 1
    return rank, n_ranks


@numba.njit(cache=True)
def _list_tiles(first, stop, entry_ptr, packed, word_of, bit_of, n_words, list_end, pair_word,
                pair_bits):  # fmt: skip
    """Relay lists ``first:stop`` (list s: entries ``entry_ptr[s]:entry_ptr[s + 1]``) as
    (word, bits) pairs, its cells in each tile it touches: list s's pairs are written from
    ``entry_ptr[s]`` (a list has at most one pair per entry) to ``list_end[s]``, so the
    lists can be tiled by any number of threads at once."""
    low = (np.int64(1) << 32) - 1
    slot = np.full(n_words, -1, np.int64)  # word -> its pair in the current list
    for s in range(first, stop):
        n_pairs = entry_ptr[s]
        for f in range(entry_ptr[s], entry_ptr[s + 1]):
            k = packed[f] & low
            w = word_of[k]
            if slot[w] < 0:
                slot[w] = n_pairs
                pair_word[n_pairs] = w
                pair_bits[n_pairs] = 0
                n_pairs += 1
            pair_bits[slot[w]] |= bit_of[k]
        list_end[s] = n_pairs
        for p in range(entry_ptr[s], n_pairs):
            slot[pair_word[p]] = -1


# index of the lowest set bit of a 64-bit word, by de Bruijn multiplication (words are
# int64: numba turns mixed uint64 / int64 arithmetic into floats)
_DE_BRUIJN = np.int64(0x03F79D71B4CA8B09)
_LOWEST_BIT = np.zeros(64, np.int64)
_LOWEST_BIT[
    (
        ((np.uint64(1) << np.arange(64, dtype=np.uint64)) * np.uint64(_DE_BRUIJN)) >> np.uint64(58)
    ).astype(np.int64)
] = np.arange(64)


@numba.njit(cache=True, inline="always")
def _lowest_bit(word):
    """(the lowest set bit of ``word`` alone, its index)."""
    lowest = word & -word
    return lowest, _LOWEST_BIT[((lowest * _DE_BRUIJN) >> 58) & 63]


@numba.njit(cache=True, inline="always")
def _tile_part(
    i, c, fcell, ptr0, cell0, ref0, rptr, rref, list_ptr, pair_word, pair_bits, word_of, bit_of,
    row_of, col_of, tiles_w, width, r2, msg_at, rank, seen, touched, rank_words, rank_summary,
    row_at, packet_at, rows, packet,
):  # fmt: skip
    """Receiver i's kept entries (:func:`_relayed`) by the lists' tile bitmaps, written from
    ``c`` on by descending priority; returns the new end, or -1 (nothing written) if two
    share a priority (their order is then the packet order, entry by entry). The scratch
    (``seen``, ``rank_words``, ``rank_summary``) is left zero."""
    n_touched = 0
    for e in range(ptr0[i] - 1, ptr0[i + 1]):  # own cell and the cells heard: met already
        k = fcell[i] if e < ptr0[i] else np.int64(cell0[ref0[e]])
        w = word_of[k]
        if seen[w] == 0:
            touched[n_touched] = w
            n_touched += 1
        seen[w] |= bit_of[k]
    ri = row_of[fcell[i]]
    ci = col_of[fcell[i]]
    dup = np.int64(0)  # not zero: two kept entries share a rank
    for e in range(rptr[i], rptr[i + 1]):
        s = rref[e]
        for p in range(list_ptr[s], list_ptr[s + 1]):
            w = pair_word[p]
            new = pair_bits[p] & ~seen[w]  # cells packet e brings first: met now
            if new == 0:
                continue
            if seen[w] == 0:
                touched[n_touched] = w
                n_touched += 1
            seen[w] |= new
            tr = (w // tiles_w) << 3
            tc = (w % tiles_w) << 3
            while new != 0:
                lowest, b = _lowest_bit(new)
                new ^= lowest
                dr = tr + (b >> 3) - ri
                dc = tc + (b & 7) - ci
                if dr * dr + dc * dc <= r2:  # kept: marked by its priority's rank
                    row = msg_at[(tr + (b >> 3)) * width + tc + (b & 7)]
                    q = rank[row]
                    bit = np.int64(1) << (q & 63)
                    word = rank_words[q >> 6]
                    dup |= word & bit
                    rank_words[q >> 6] = word | bit
                    rank_summary[q >> 12] |= np.int64(1) << ((q >> 6) & 63)
                    row_at[q] = row
                    packet_at[q] = e
    for t in range(n_touched):
        seen[touched[t]] = 0
    for sw in range(rank_summary.shape[0]):  # read back in rank order
        summary = rank_summary[sw]
        rank_summary[sw] = 0
        while summary != 0:
            lowest, b = _lowest_bit(summary)
            summary ^= lowest
            w = (sw << 6) + b
            bits = rank_words[w]
            rank_words[w] = 0
            if dup == 0:
                c = _emit_word(w, bits, row_at, packet_at, rows, packet, c)
    return c if dup == 0 else -1


@numba.njit(cache=True)
def _scan_part(i, c, fcell, ptr0, cell0, ref0, rptr, rref, entry_ptr, packed, row_of, col_of,
               r2, stamp, rows, packet):  # fmt: skip
    """Receiver i's kept entries (:func:`_relayed`), one entry at a time in packet order,
    written from ``c`` on; returns the new end."""
    low = (np.int64(1) << 32) - 1
    stamp[fcell[i]] = i
    for e in range(ptr0[i], ptr0[i + 1]):  # heard directly: not again
        stamp[np.int64(cell0[ref0[e]])] = i
    ri = row_of[fcell[i]]
    ci = col_of[fcell[i]]
    for e in range(rptr[i], rptr[i + 1]):
        r = rref[e]
        for f in range(entry_ptr[r], entry_ptr[r + 1]):
            x = packed[f]
            k = x & low
            if stamp[k] == i:
                continue
            stamp[k] = i  # kept now, or out of range now and later
            dr = row_of[k] - ri
            dc = col_of[k] - ci
            if dr * dr + dc * dc <= r2:
                rows[c] = x >> 32
                packet[c] = e
                c += 1
    return c


@numba.njit(cache=True)
def _sort_part(lo, hi, rows, packet, rank, words, row_at, packet_at):
    """Sort ``rows[lo:hi]`` (and ``packet``) by the rank of their priority, 0 first, by a
    bitmap over the ranks (``words`` left zero); False, with nothing changed, if two share
    a rank (equal priorities: their order is the caller's)."""
    first_w = words.shape[0]
    last_w = -1
    dup = np.int64(0)
    for q in range(lo, hi):
        k = rank[rows[q]]
        bit = np.int64(1) << (k & 63)
        dup |= words[k >> 6] & bit
        words[k >> 6] |= bit
        row_at[k] = rows[q]
        packet_at[k] = packet[q]
        first_w = min(first_w, k >> 6)
        last_w = max(last_w, k >> 6)
    o = lo
    for w in range(first_w, last_w + 1):
        bits = words[w]
        words[w] = 0
        if dup == 0:
            o = _emit_word(w, bits, row_at, packet_at, rows, packet, o)
    return dup == 0


@numba.njit(cache=True, inline="always")
def _emit_word(w, bits, row_at, packet_at, rows, packet, o):
    """The entries of bitmap word ``w``'s set ``bits``, lowest rank first, written to
    ``rows`` / ``packet`` from ``o`` on (the read-back of both rank sorts); the new end."""
    while bits != 0:
        lowest, b = _lowest_bit(bits)
        bits ^= lowest
        rows[o] = row_at[(w << 6) + b]
        packet[o] = packet_at[(w << 6) + b]
        o += 1
    return o


@numba.njit(cache=True)
def _insertion_part(lo, hi, rows, packet, table):
    """Stable insertion sort of ``rows[lo:hi]`` (and ``packet``) by descending priority of
    ``table[rows]``."""
    for q0 in range(lo + 1, hi):
        row = rows[q0]
        pk = packet[q0]
        ka = table[row, BEACON_PRIORITY]
        q = q0
        while q > lo and table[rows[q - 1], BEACON_PRIORITY] < ka:
            rows[q] = rows[q - 1]
            packet[q] = packet[q - 1]
            q -= 1
        rows[q] = row
        packet[q] = pk


_relayed_serial, _relayed_parallel = serial_and_parallel(_relayed_chunks)


def pushed_by(obs: LocalObservation, pushes: Inbox, hop: float) -> np.ndarray:
    """(R,) the strongest claim (minus a hop) of a heard neighbour that plans to move into
    each robot's cell (-inf: none): the priority a robot inherits in its next planning round,
    so that a push decided in a neighbour's view reaches the robot pushed, one hop a round.
    Each robot broadcast (target, claim) (:data:`PLAN_DIM`)."""
    out = np.empty(obs.n)
    kernel = robot_kernel(obs.n, _strongest_push_serial, _strongest_push_parallel)
    kernel(pushes.ptr, pushes.table, pushes.rows, obs.own["fcell"], hop, out)
    return out


def _strongest_push(ptr, table, ref, fcell, hop, out):
    """:func:`pushed_by`, receiver by receiver (each writes its own row)."""
    for i in numba.prange(fcell.shape[0]):
        best = -np.inf
        for e in range(ptr[i], ptr[i + 1]):
            r = ref[e]
            if np.int64(table[r, 0]) == fcell[i] and table[r, 1] - hop > best:
                best = table[r, 1] - hop
        out[i] = best


_strongest_push_serial, _strongest_push_parallel = serial_and_parallel(_strongest_push)


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
    kernel = robot_kernel(obs.n, _yield_serial, _yield_parallel)
    kernel(heard.ptr, heard.table, heard.rows, obs.own["fcell"], target,
           claim.astype(np.float64), out)  # fmt: skip
    return out


def _yield_to_stronger(ptr, table, ref, fcell, target, claim, out):
    """:func:`arbitrate`, receiver by receiver (each writes its own row)."""
    for i in numba.prange(fcell.shape[0]):
        out[i] = target[i]
        if target[i] == fcell[i]:
            continue
        for e in range(ptr[i], ptr[i + 1]):
            r = ref[e]
            if np.int64(table[r, 0]) == target[i] and table[r, 1] > claim[i]:
                out[i] = fcell[i]
                break


_yield_serial, _yield_parallel = serial_and_parallel(_yield_to_stronger)


PLAN_DIM = 2  # (planned free cell, claim): what push and arbitration rounds carry


def plans(target: np.ndarray, claim: np.ndarray) -> np.ndarray:
    return np.stack([target.astype(np.float64), claim.astype(np.float64)], axis=1)


class LocalPlannerParams(StrictConfig):
    """The parameters every decentralised warehouse planner of this package shares (PIBT,
    EPIBT): what a robot knows, the relay and arbitration rounds, priorities, the view."""

    distance_priority: int = Field(
        0,
        ge=0,
        le=1000,
        description="steps of task age that one cell of remaining distance to the goal costs "
        "in a robot's priority (0: task age alone; larger: robots near their goals go first, "
        "see swarm.grid.policy.priorities)",
    )
    unknown_cells: Literal["free", "occupied"] = Field(
        "free",
        description="a cell beyond the robot's radio range with no robot it knows on it: free "
        "(optimistic), or occupied by a robot that stays (a push chain stops at the edge of "
        "what the robot knows; see policies.pibt)",
    )
    relay_radius: float = Field(
        10.0,
        ge=0,
        description="relay round: robots next to a blocked robot add the robots "
        "their neighbours heard, within this many cells, to their local problem (0: off)",
    )
    relay_vouches: bool = Field(
        False,
        description="with unknown cells occupied: a robot that received relays also knows "
        "the cells within radio range of each relayer (and within relay_radius of itself): "
        "a relay lists every robot its sender heard, so a cell there that no relayed robot "
        "stands on is free (see policies.pibt)",
    )
    arbitrate: bool = Field(
        True, description="last message round: a robot yields a cell a stronger neighbour claims"
    )
    view: Literal["local", "global"] = Field(
        "local",
        description="'local': decentralised (the radio); 'global': one planning over every "
        "robot (a centralised reference; no messages, fails the locality audit)",
    )


class PIBTParams(LocalPlannerParams):
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
    commit: bool = Field(
        True,
        description="under rotation: a robot keeps the neighbouring cell it planned to enter "
        "until it is there, ranking it first and planning before uncommitted robots",
    )
    turn_cost: int = Field(
        1,
        ge=0,
        le=4,
        description="under rotation: steps a quarter turn costs when ranking the cell ahead "
        "against turning (0: distance alone)",
    )
    wait_cost: int = Field(
        1,
        ge=1,
        le=10,
        description="steps a step in place (waiting, or turning in place) away from the goal "
        "costs when ranking the own cell against the neighbours (1: what a move costs; "
        "2: a robot in a queue may step aside rather than wait)",
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
        self.committed = np.zeros(0, np.int64)  # (R,) cell a robot is turning toward, or -1

    @property
    def memory_fields(self) -> tuple[str, ...]:
        return ("inherited", "intended", "committed")

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
        target, inherited, _, _ = self._plan(obs)
        return target, inherited

    def _plan(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(R,) free cell each robot will be in after its action (under rotation its own
        cell unless it moves forward), (R,) priority it inherited, (R,) its action, (R,) the
        cell its PIBT plan chose (under rotation the cell it turns toward)."""
        p = self.params
        own = priorities(obs, self.seed, p.distance_priority)
        turn = None
        if rotating(obs):
            prefs, turn = rotate_preferences(obs, self.seed, p.turn_cost, p.wait_cost)
            if p.commit and self._started(obs):
                lift = COMMITTED_PRIORITY + p.distance_priority * len(obs.known["grid"].free_cells)
                prefs, own = committed_first(prefs, own, self.committed, obs.own["fcell"], lift)
        else:
            prefs, _ = preferences(obs, self.seed, p.wait_cost)
        if p.view == "global":
            target, inherited = global_pibt(obs, own, prefs)
            if turn is None:
                return target, inherited, action_codes(obs, target), target
            actions = rotate_codes(obs, target, turn)
            nxt = np.where(actions == FORWARD, target, obs.own["fcell"])
            return nxt, inherited, actions, target
        return self._local_plan(obs, own, prefs, turn)

    def _local_plan(
        self, obs: LocalObservation, own: np.ndarray, prefs: np.ndarray, turn: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The decentralised plan (:meth:`_plan`): message rounds, local PIBT, arbitration.
        Under rotation the planned cells become actions before the arbitration, and a robot
        that keeps its cell announces it with an infinite claim: a neighbour planned into it
        stays instead of being stopped by the world (which would flag it blocked)."""
        p, radio = self.params, obs.radio
        carried = self.carried(obs)
        started = self._started(obs)
        blocked = obs.own["fcell"] != self.intended if started else np.zeros(obs.n, bool)
        sensed = sensed_cells(obs)
        # how far a robot knows which cells are free: its radio range (every robot in it is
        # heard), or 0 (unknown cells count as free)
        known = obs.known["comm_radius"] if p.unknown_cells == "occupied" else 0.0
        claim = np.maximum(own, carried)
        heard = radio.send("beacon_0", beacons(obs, claim, prefs, blocked))
        relayed, vouchers = relay_round(obs, heard, blocked, started, p.relay_radius,
                                        p.relay_vouches and known > 0)  # fmt: skip
        for round_ in range(p.rounds):
            if round_ > 0:
                heard = radio.send(f"beacon_{round_}", beacons(obs, np.maximum(own, carried),
                                                               prefs, blocked))  # fmt: skip
            target, inherited = local_pibt(obs, np.maximum(own, carried), prefs, heard,
                                           relayed, p.hop_discount, sensed, known,
                                           vouchers)  # fmt: skip
            claim = np.maximum(np.maximum(own, carried), inherited)
            if round_ + 1 < p.rounds:
                pushes = radio.send(f"push_{round_ + 1}", plans(target, claim))
                carried = np.maximum(carried, pushed_by(obs, pushes, p.hop_discount))
        if turn is None:
            if p.arbitrate:
                msgs = radio.send("arbitrate", plans(target, claim))
                target = arbitrate(obs, msgs, target, claim)
            return target, inherited, action_codes(obs, target), target
        actions = rotate_codes(obs, target, turn)
        forward = actions == FORWARD
        nxt = np.where(forward, target, obs.own["fcell"])
        if p.arbitrate:
            msgs = radio.send("arbitrate", plans(nxt, np.where(forward, claim, np.inf)))
            final = arbitrate(obs, msgs, nxt, claim)
            actions = np.where(final != nxt, WAIT, actions)
            nxt = final
        return nxt, inherited, actions, target

    def decide(self, obs: LocalObservation) -> Decision:
        """The moves, and the memory of this step's plan: the priority each robot inherited,
        the cell it planned to be in and the neighbouring cell it committed to (each robot
        its own)."""
        target, inherited, actions, planned = self._plan(obs)
        committed = np.where(planned != obs.own["fcell"], planned, -1)
        memory = {"inherited": inherited, "intended": target, "committed": committed}
        return Decision(actions, memory=memory)

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.decide(obs).actions
