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
obstacles that stay put, and executes its own move from that local plan. No robot uses
anything beyond its comm neighbourhood, so the locality contract holds by construction.
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

The per-robot search is a numba kernel with an explicit stack (Algorithm 1's recursion).
"""

from __future__ import annotations

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.grid.policy import GridPolicy, action_codes, preferences, priorities
from swarm.grid.world import GridObservation

BLOCKED = -2  # occupancy mark of a sensed robot that sent no beacon: it stays where it is
# priorities grow by one per step while a task is open (its age), so a priority carried over
# from last step grows by one too: otherwise it would always trail the own priorities of the
# robots stuck beside it and never decide anything
GROWTH_PER_STEP = 1.0


@numba.njit(cache=True)
def _local_pibt(
    own_cell, own_prio, own_prefs, in_ptr, in_sender, in_split, far_prio, sense_ptr, sense_cell,
    n_free, hop_discount,
):  # fmt: skip
    """(R,) free cell each robot moves to, from PIBT on its own local problem, and (R,) the
    priority it inherited there (-inf when nobody pushed it).

    Robot i's problem is itself and the beacons it heard: the (cell, priority, preferences)
    that each sender ``in_sender[e]``, e in ``in_ptr[i]:in_ptr[i + 1]``, broadcast, read
    from the broadcast arrays at the sender's row (:meth:`GridObservation.packets`).
    """
    n = own_cell.shape[0]
    out = own_cell.copy()
    inherited = np.full(n, -np.inf)
    occ_from = np.full(n_free, -1, np.int64)  # free cell -> local agent standing there
    occ_to = np.full(n_free, -1, np.int64)  # free cell -> local agent reserving it
    max_local = 1
    for i in range(n):
        max_local = max(max_local, in_ptr[i + 1] - in_ptr[i] + 1)
    cell = np.empty(max_local, np.int64)
    prio = np.empty(max_local)
    prefs = np.empty((max_local, 5), np.int64)
    to = np.empty(max_local, np.int64)
    order = np.empty(max_local, np.int64)
    st_a = np.empty(max_local + 1, np.int64)
    st_p = np.empty(max_local + 1, np.int64)
    st_k = np.empty(max_local + 1, np.int64)
    st_c = np.empty(max_local + 1)  # priority the frame's agent acts with (inherited)
    for i in range(n):
        # the local problem: robot i (local 0) and the robots it heard from
        m = 1
        cell[0] = own_cell[i]
        prio[0] = own_prio[i]
        for k in range(5):
            prefs[0, k] = own_prefs[i, k]
        for e in range(in_ptr[i], in_ptr[i + 1]):
            j = in_sender[e]
            cell[m] = own_cell[j]
            # heard directly: this round's beacon; relayed: the first round's, one hop older
            prio[m] = own_prio[j] if e < in_split[i] else far_prio[j]
            for k in range(5):  # element by element: a row slice assignment is far slower
                prefs[m, k] = own_prefs[j, k]
            m += 1
        for a in range(m):
            occ_from[cell[a]] = a
            to[a] = -1
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
            # Algorithm 1, PIBT(root, none), with an explicit stack
            sp = 0
            st_a[0] = root
            st_p[0] = -1
            st_k[0] = 0
            st_c[0] = prio[root]
            ret = -1  # result of the frame just popped: 1 valid, 0 invalid, -1 none
            while sp >= 0:
                a = st_a[sp]
                p = st_p[sp]
                if ret == 1:  # the pushed agent moved out: a's reservation stands
                    sp -= 1
                    continue
                ret = -1  # fresh frame, or the pushed agent failed: try the next candidate
                pushed = False
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
                        if k == 0:
                            inherited[i] = st_c[sp]
                        pushed = True
                        break
                    ret = 1
                    sp -= 1
                    pushed = True
                    break
                if not pushed:  # no candidate works: stay, and report failure upwards
                    if to[a] >= 0 and occ_to[to[a]] == a:
                        occ_to[to[a]] = -1
                    to[a] = cell[a]
                    occ_to[cell[a]] = a
                    ret = 0
                    sp -= 1
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
    return out, inherited


def local_pibt(
    obs: GridObservation,
    own: np.ndarray,
    prefs: np.ndarray,
    inherited: np.ndarray,
    hop_discount: float,
    channel: int = 0,
    relayed: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(R,) free cell each robot moves to and (R,) priority it inherits for the next step.

    ``own`` (R,) priorities and ``prefs`` (R, 5) candidate cells (:func:`priorities`,
    :func:`preferences`: the same in every round of a step, computed once); ``inherited``
    (R,): what each robot carries in (its own memory, or a push heard this step).
    ``relayed``: (ptr, sender, prio) of :func:`relayed_view`, the robots two hops away that
    each robot adds to its local problem with the priority of their first-round beacon.
    """
    prio = np.maximum(own, inherited)
    ptr, sender = obs.packets(channel)  # the beacons heard: (cell, prio, prefs) of senders
    far_prio = prio
    split = ptr[1:]
    if relayed is not None:
        ptr, sender, split = _merge_views(ptr, sender, relayed[0], relayed[1], obs.n)
        far_prio = relayed[2]
    return _local_pibt(
        obs.fcell, prio, np.ascontiguousarray(prefs, dtype=np.int64), ptr, sender, split,
        far_prio, obs.sensed.ptr, obs.sensed_fcell, obs.grid.neighbors.shape[0], hop_discount,
    )  # fmt: skip


def near_blocked(obs: GridObservation, blocked: np.ndarray) -> np.ndarray:
    """(R,) robots that were blocked last step (their own memory: the planned move did not
    happen) or heard a first-round beacon from one that was (a flag in the beacon)."""
    ptr, sender = obs.packets(0)
    out = blocked.copy()
    _any_heard(ptr, sender, blocked, out)
    return out


@numba.njit(cache=True)
def _any_heard(ptr, sender, flag, out):
    for i in range(out.shape[0]):
        if out[i]:
            continue
        for e in range(ptr[i], ptr[i + 1]):
            if flag[sender[e]]:
                out[i] = True
                break


def relayed_view(
    obs: GridObservation, need: np.ndarray, radius: float, channel: int
) -> tuple[np.ndarray, np.ndarray]:
    """(ptr (R + 1,), sender (K,)): for each robot that ``need``s it, the robots within
    ``radius`` cells that a comm neighbour heard in the first beacon round (channel 0) and
    relayed to it on ``channel``; CSR by receiver. Every robot relays the beacons it heard
    (its own packets of channel 0); robot i keeps the relayed senders within ``radius`` of
    its own cell (their cells are in the beacons) that it did not hear itself."""
    ptr0, sender0 = obs.packets(0)
    rptr, rsender = obs.packets(channel)
    rows, cols = np.divmod(obs.cell, obs.grid.width)
    return _relayed(ptr0, sender0, rptr, rsender, rows, cols, float(radius) ** 2,
                    need.astype(np.bool_))  # fmt: skip


@numba.njit(cache=True)
def _relayed(ptr0, sender0, rptr, rsender, rows, cols, r2, need):
    n = rows.shape[0]
    stamp = np.full(n, -1, np.int64)
    bound = 0
    for i in range(n):
        if need[i]:
            for e in range(rptr[i], rptr[i + 1]):
                j = rsender[e]
                bound += ptr0[j + 1] - ptr0[j]
    ptr = np.empty(n + 1, np.int64)
    out = np.empty(bound, np.int64)
    c = 0
    for i in range(n):
        ptr[i] = c
        if not need[i]:
            continue
        stamp[i] = i
        for e in range(ptr0[i], ptr0[i + 1]):  # heard directly: not relayed again
            stamp[sender0[e]] = i
        for e in range(rptr[i], rptr[i + 1]):
            j = rsender[e]
            for f in range(ptr0[j], ptr0[j + 1]):
                k = sender0[f]
                if stamp[k] == i:
                    continue
                dr = rows[k] - rows[i]
                dc = cols[k] - cols[i]
                if dr * dr + dc * dc <= r2:
                    stamp[k] = i
                    out[c] = k
                    c += 1
    ptr[n] = c
    return ptr, out[:c]


@numba.njit(cache=True)
def _merge_views(ptr, sender, rel_ptr, rel_sender, n):
    """Per receiver: this round's senders, then the relayed ones not heard this round;
    returns (ptr, sender, split), split[i] the end of receiver i's direct part."""
    stamp = np.full(n, -1, np.int64)
    out_ptr = np.empty(n + 1, np.int64)
    out = np.empty(sender.shape[0] + rel_sender.shape[0], np.int64)
    split = np.empty(n, np.int64)
    c = 0
    for i in range(n):
        out_ptr[i] = c
        for e in range(ptr[i], ptr[i + 1]):
            k = sender[e]
            stamp[k] = i
            out[c] = k
            c += 1
        split[i] = c
        for e in range(rel_ptr[i], rel_ptr[i + 1]):
            k = rel_sender[e]
            if stamp[k] != i:
                out[c] = k
                c += 1
    out_ptr[n] = c
    return out_ptr, out[:c], split


def pushed_by(
    obs: GridObservation, target: np.ndarray, claim: np.ndarray, hop: float, channel: int
) -> np.ndarray:
    """(R,) the strongest claim (minus a hop) of a heard neighbour that plans to move into
    each robot's cell (-inf: none): the priority a robot inherits in its next planning round,
    so that a push decided in a neighbour's view reaches the robot pushed, one hop a round.
    Each robot broadcasts (target, claim); robot i reads the packets it heard.
    """
    ptr, sender = obs.packets(channel)
    out = np.empty(obs.n)
    _strongest_push(ptr, sender, obs.fcell, target, claim.astype(np.float64), hop, out)
    return out


@numba.njit(cache=True)
def _strongest_push(ptr, sender, fcell, target, claim, hop, out):
    for i in range(fcell.shape[0]):
        best = -np.inf
        for e in range(ptr[i], ptr[i + 1]):
            j = sender[e]
            if target[j] == fcell[i] and claim[j] - hop > best:
                best = claim[j] - hop
        out[i] = best


def arbitrate(obs: GridObservation, target: np.ndarray, claim: np.ndarray) -> np.ndarray:
    """Second message round: each robot announces its planned cell and its claim (the
    priority it planned with, or inherited); a robot whose planned cell a heard neighbour
    with a stronger claim also plans to enter stays where it is. Two robots contending for
    a cell are at most two cells apart, so they hear each other (unless a packet is lost):
    where the local plans disagree, the stronger robot moves instead of both being stopped.
    """
    ptr, sender = obs.packets(channel=99)
    out = np.empty(obs.n, np.int64)
    _yield_to_stronger(ptr, sender, obs.fcell, target, claim.astype(np.float64), out)
    return out


@numba.njit(cache=True)
def _yield_to_stronger(ptr, sender, fcell, target, claim, out):
    for i in range(fcell.shape[0]):
        out[i] = target[i]
        if target[i] == fcell[i]:
            continue
        for e in range(ptr[i], ptr[i + 1]):
            j = sender[e]
            if target[j] == target[i] and claim[j] > claim[i]:
                out[i] = fcell[i]
                break


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
        self._pending: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def message_hops(self) -> int:
        """Comm hops a robot's action depends on. The first plan reads the beacons (1 hop);
        with the relay round also what the neighbours heard (2). Each later round reads
        beacons whose priorities took in the pushes their senders heard, which came from
        the plans of *their* neighbours: 2 more hops a round. Arbitration reads the last
        plans: 1 more. So ``2 rounds - 1 + arbitrate + relay``."""
        p = self.params
        return 2 * p.rounds - 1 + int(p.arbitrate) + int(p.relay_radius > 0)

    def carried(self, obs: GridObservation) -> np.ndarray:
        """(R,) inherited priority each robot carries into this step: only robots whose
        planned move did not happen (the world cancelled it) carry one."""
        if len(self.inherited) != obs.n or not self.params.carry_inheritance:
            return np.full(obs.n, -np.inf)
        blocked = obs.fcell != self.intended
        return np.where(blocked, self.inherited + GROWTH_PER_STEP, -np.inf)

    def targets(self, obs: GridObservation) -> np.ndarray:
        """(R,) free cell each robot moves to."""
        carried = self.carried(obs)
        own = priorities(obs, self.seed)
        prefs, _ = preferences(obs, self.seed)
        hop = self.params.hop_discount
        relayed = None
        if self.params.relay_radius > 0 and len(self.intended) == obs.n:
            need = near_blocked(obs, obs.fcell != self.intended)
            if need.any():
                rptr, rsender = relayed_view(obs, need, self.params.relay_radius, channel=98)
                relayed = (rptr, rsender, np.maximum(own, carried))
        for round_ in range(self.params.rounds):
            target, inherited = local_pibt(obs, own, prefs, carried, hop, channel=2 * round_,
                                           relayed=relayed)  # fmt: skip
            claim = np.maximum(np.maximum(own, carried), inherited)
            if round_ + 1 < self.params.rounds:
                carried = np.maximum(carried, pushed_by(obs, target, claim, hop, 2 * round_ + 1))
        if self.params.arbitrate:
            target = arbitrate(obs, target, claim)
        self._pending = (obs.step, inherited, target)
        return target

    def act(self, obs: GridObservation) -> np.ndarray:
        return action_codes(obs, self.targets(obs))

    def commit(self, obs: GridObservation, actions: np.ndarray) -> None:
        """Remember the priorities inherited this step (each robot its own)."""
        if self._pending is not None and self._pending[0] == obs.step:
            _, self.inherited, self.intended = self._pending
