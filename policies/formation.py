"""Displacement-based formation control, slots assigned by a consensus-based auction, and
1/d collision avoidance.

Control law. K.-K. Oh, M.-C. Park, H.-S. Ahn, "A survey of multi-agent formation control",
Automatica 53, 424-440, 2015, displacement-based control of single integrators (Sec. 5):
agents sense the relative positions of their neighbours in a common orientation and steer
their displacements to the desired ones,

    u_i = k sum_{j in N_i} a_ij ((p_j - p_i) - (p*_j - p*_i)),

with ``p*_i`` the slot drone i holds, ``N_i`` the neighbours it senses (their relative
positions ``p_j - p_i`` come from the sensor) whose slot it knows, and ``a_ij = 1 / |N_i|``
(row-normalised weights, so ``k dt < 1`` keeps the discrete step stable whatever the
degree). It is consensus on ``xi_i = p_i - p*_i``: on a connected sensing graph every ``xi_i``
tends to one common value and the drones hold the shape, translated; scaling a drone's
step down to the speed limit keeps ``xi_i`` inside the convex hull of its neighbours', so the
limit does not break convergence. Its weak point is connectivity: drones that lose sight of
each other form the shape in pieces.

Drones know their own position (``obs.pos``), so ``anchor_gain`` ``k_a > 0`` adds the
position-based term of the same survey (Sec. 4), ``k_a (anchor + p*_i - p_i)``: the shape is
then also placed at the anchor, and pieces of a split swarm form the same shape in the same
place. The default ``k_a = 0`` is the pure displacement-based law.

Collision avoidance (a repulsive potential in the style of Khatib 1986): each neighbour
closer than the safety radius ``d_s`` adds ``c (1/d - 1/d_s) e / d`` along the unit vector
``e`` pointing away from it. ``d_s`` is capped at ``SAFETY_SHARE`` of the shape's smallest slot
spacing, so the repulsion vanishes in the target shape and does not bias it.

Slot assignment. H.-L. Choi, L. Brunet, J. P. How, "Consensus-based decentralized auctions
for robust task assignment", IEEE Trans. Robotics 25(4), 912-926, 2009, CBAA (Algorithms 1
and 2) with slots as tasks and the bid ``c_ik = -||p_i - (anchor + p*_k)||`` (m; the shape is
priced where it is meant to be centred, ``obs.known["anchor"]``):

1. consensus: every drone broadcasts its tables, the highest bid ``y_i`` it knows per slot
   and that bid's drone ``z_i``; a receiver keeps, per slot, the highest bid it hears, ties to
   the lower drone index (Alg. 2), and drops its own slot if it sees itself outbid;
2. auction: a drone without a slot bids on the best slot it can still win (``c_ik > y_ik``)
   (Alg. 1).

With as many slots as drones this ends conflict-free, each slot held by exactly one drone,
and every table agrees. A drone learns the slot of a neighbour it senses from its own
winner table (the drone whose index is the winner of slot k holds k), so packet loss delays
the assignment but never leaves a drone without an answer. The tables are the scenario's
engine-carried state (``obs.own``), changed only through :meth:`Formation.next_state`.
Everything per drone runs in numba kernels over its inbox and neighbour segments.

Slots planned at take-off (the scenario's ``assignment = "spawn"``, published to every drone
as ``obs.known["assignment"]``): the plan, which drone holds which slot, is uploaded before
launch, so there is nothing to auction. The controller then runs no CBAA and broadcasts
nothing (``message_dim = 0``: no tables of M floats, which at 10^4 drones would not fit in
memory), and reads its neighbours' planned slots through the scenario's displacement reading
``obs.own["slot_error"]`` (:meth:`Formation._planned_velocity` says why that is the same law).

In 3-D (``dim = 3``) nothing changes but the number of coordinates: the displacement law is
consensus on ``xi_i = p_i - p*_i`` in R^3 (Oh et al.'s analysis holds in any dimension), the
bid is the Euclidean distance in the cube, and the repulsion pushes along the 3-D line of
sight. Sensing in a common orientation is what keeps the law simple: in 3-D it assumes
every drone knows north and up (a compass and gravity), as a real quadrotor does.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy

SAFETY_SHARE = 0.9  # safety radius at most this share of the smallest slot spacing


class FormationParams(StrictConfig):
    gain: float = Field(
        2.0, gt=0, description="k (1/s): share of the mean displacement error closed per second"
    )
    safety_radius: float = Field(
        1.0,
        gt=0,
        description="d_s (m): neighbours closer than this push away (capped at 0.9 x the "
        "smallest slot spacing)",
    )
    repulsion: float = Field(3.0, ge=0, description="c (m^2/s): strength of the 1/d push")
    anchor_gain: float = Field(
        0.0,
        ge=0,
        description="k_a (1/s): pull towards the own slot at the anchor (absolute position); "
        "0 is the pure displacement-based law",
    )


@numba.njit(cache=True)
def cbaa_round(
    inbox_ptr, inbox_msg, alive, ids, pos, priced_slots, bid_in, winner_in, slot_in
):  # pragma: no cover - compiled
    """One round of CBAA per drone: merge the tables heard (Alg. 2), release a lost slot,
    bid on the best winnable slot (Alg. 1). Returns new (bid (R, M), winner (R, M), slot (R,)).

    A message is ``[y (M), z (M)]``; ``z`` holds drone ids as floats, -1 for none; drone i
    bids as ``ids[i]``.
    """
    R, M = bid_in.shape
    dim = pos.shape[1]
    bid = bid_in.copy()
    winner = winner_in.copy()
    slot = slot_in.copy()
    for i in range(R):
        if not alive[i]:
            continue
        for e in range(inbox_ptr[i], inbox_ptr[i + 1]):
            for k in range(M):
                y = inbox_msg[e, k]
                z = np.int64(inbox_msg[e, M + k])
                if z < 0:
                    continue
                if y > bid[i, k] or (y == bid[i, k] and (winner[i, k] < 0 or z < winner[i, k])):
                    bid[i, k] = y
                    winner[i, k] = z
        own = slot[i]
        me = ids[i]
        if own >= 0 and winner[i, own] != me:
            slot[i] = -1
        if slot[i] < 0:
            best = -1
            best_bid = -np.inf
            for k in range(M):
                sq = 0.0  # 0 + dx^2 + dy^2 is dx^2 + dy^2 to the bit: the 2-D bid as it was
                for a in range(dim):
                    sq += (pos[i, a] - priced_slots[k, a]) ** 2
                c = -np.sqrt(sq)
                can_win = c > bid[i, k] or (
                    c == bid[i, k] and (winner[i, k] < 0 or me < winner[i, k])
                )
                if can_win and c > best_bid:
                    best = k
                    best_bid = c
            if best >= 0:
                slot[i] = best
                bid[i, best] = best_bid
                winner[i, best] = me
    return bid, winner, slot


@numba.njit(cache=True)
def formation_velocity(
    ptr,
    seg_row,
    idx,
    rel_pos,
    dist,
    alive,
    ids,
    winner,
    slot,
    shape,
    n_agents,
    gain,
    safety,
    push,
):  # pragma: no cover - compiled
    """(R, dim) velocity: the displacement law over the sensed neighbours whose slot the
    drone knows, plus the repulsion of those closer than ``safety``; each coordinate summed
    on its own, so the plane's and the cube's laws are one kernel."""
    R, M = winner.shape
    dim = rel_pos.shape[1]
    out = np.zeros((R, dim))
    f = np.zeros(dim)  # the displacement sum of one drone
    r = np.zeros(dim)  # its repulsion
    slot_of = np.full(n_agents, -1)  # drone (index within its env) -> slot, per drone
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        if not alive[i]:
            continue
        base = (ids[i] // n_agents) * n_agents  # first id of the drone's environment
        own = slot[i]
        if own >= 0:
            for k in range(M):
                if winner[i, k] >= 0:
                    slot_of[winner[i, k] - base] = k
        f[:] = 0.0
        r[:] = 0.0
        count = 0
        for e in range(ptr[s], ptr[s + 1]):
            if own >= 0:
                other = slot_of[idx[e] - base]
                if other >= 0 and other != own:
                    for a in range(dim):
                        f[a] += rel_pos[e, a] - (shape[other, a] - shape[own, a])
                    count += 1
        _repulsion(ptr[s], ptr[s + 1], rel_pos, dist, safety, push, r)
        for a in range(dim):
            if count > 0:
                out[i, a] = gain * f[a] / count
            out[i, a] += r[a]
        if own >= 0:
            for k in range(M):
                if winner[i, k] >= 0:
                    slot_of[winner[i, k] - base] = -1
    return out


@numba.njit(cache=True)
def planned_velocity(
    ptr, seg_row, rel_pos, dist, alive, slot_error, gain, safety, push
):  # pragma: no cover - compiled
    """(R, dim) velocity with the slots planned at take-off: ``gain`` times the displacement
    reading (the mean of ``(p_j - p_i) - (p*_j - p*_i)``, 0 without one), plus the same 1/d
    repulsion as :func:`formation_velocity`, summed in the same order."""
    R, dim = slot_error.shape
    out = np.zeros((R, dim))
    r = np.zeros(dim)
    for s in range(seg_row.shape[0]):
        i = seg_row[s]
        if not alive[i]:
            continue
        r[:] = 0.0
        _repulsion(ptr[s], ptr[s + 1], rel_pos, dist, safety, push, r)
        for a in range(dim):
            out[i, a] = gain * slot_error[i, a] + r[a]
    return out


@numba.njit(cache=True)
def _repulsion(first, stop, rel_pos, dist, safety, push, r):  # pragma: no cover - compiled
    """Add to ``r`` the 1/d push away from the neighbours of entries ``first:stop`` closer
    than ``safety`` (both velocity laws share it, summed in entry order)."""
    for e in range(first, stop):
        d = dist[e]
        if d > 0.0 and d < safety:
            w = push * (1.0 / d - 1.0 / safety) / d
            for a in range(r.shape[0]):
                r[a] -= w * rel_pos[e, a]


def slots_planned(known: dict[str, Any]) -> bool:
    """Whether the slots were planned at take-off (``assignment = "spawn"``): a fact every
    drone knows before launch, so each decides the same way without talking."""
    return known.get("assignment") == "spawn"


class Formation(Policy):
    name = "formation"
    dims = (2, 3)  # the displacement law and the auction read every coordinate
    citation = (
        "Oh, K.-K., Park, M.-C., Ahn, H.-S. (2015). Automatica 53, 424-440, displacement-based "
        "control (Sec. 5); slots: Choi, Brunet, How (2009), IEEE T-RO 25(4), CBAA (Alg. 1-2)."
    )
    action_kind = "velocity"
    scenario = "formation"
    scenarios = ("formation",)  # reads the formation task's readings
    Params = FormationParams

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides: Any):
        super().__init__(params, seed, **overrides)
        self.message_dim = 0  # two numbers per slot, set by prepare()

    def prepare(self, known: dict[str, Any]) -> None:
        """Size the broadcast for the shape: ``[y (M), z (M)]``; nothing when the slots were
        planned at take-off (no auction runs, so no channel need open)."""
        self.message_dim = 0 if slots_planned(known) else 2 * len(known["slots"])

    def auction(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bid (R, M), winner (R, M), slot (R,)) after this step's CBAA round."""
        known = obs.known
        priced = known["anchor"][None, :] + known["slots"]
        inbox = obs.inbox
        msg = inbox.msg
        if msg.shape[1] != 2 * len(priced):  # no channel (message_dim 0): nothing heard
            msg = np.zeros((0, 2 * len(priced)))
            ptr = np.zeros(obs.n + 1, dtype=np.int64)
        else:
            ptr = inbox.ptr
        own = obs.own
        return cbaa_round(
            ptr, np.ascontiguousarray(msg), obs.alive, obs.ids, obs.pos, priced,
            own["slot_bid"], own["slot_winner"], own["slot"],
        )  # fmt: skip

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        """One CBAA round gives the velocity, the broadcast and the new slot state; with
        slots planned at take-off no round runs: the velocity alone, an empty broadcast
        (sends nothing) and the slots left as planned."""
        if slots_planned(obs.known):
            empty = np.zeros((obs.n, 0)) if messages else None
            return Decision(self._planned_velocity(obs), empty, {})
        bid, winner, slot = self.auction(obs)
        broadcast = np.concatenate([bid, winner.astype(np.float64)], axis=1) if messages else None
        state = {"slot_bid": bid, "slot_winner": winner, "slot": slot}
        return Decision(self._velocity(obs, winner, slot), broadcast, state)

    def act(self, obs: LocalObservation) -> np.ndarray:
        if slots_planned(obs.known):
            return self._planned_velocity(obs)
        _, winner, slot = self.auction(obs)
        return self._velocity(obs, winner, slot)

    def _planned_velocity(self, obs: LocalObservation) -> np.ndarray:
        """The displacement law on the slots planned at take-off, no auction.

        Why it is the auction path's law: :func:`formation_velocity` gives drone i holding
        slot ``p*_i`` the *mean*, over the sensed neighbours j whose slot it knows and that
        hold another slot, of ``(p_j - p_i) - (p*_j - p*_i)``, times ``gain`` (0 with no
        such neighbour or no own slot). With the plan every drone knows every neighbour's
        slot (the auction's tables complete), and the scenario's ``obs.own["slot_error"]``
        is exactly that mean over exactly those neighbours (sensed, planned slot, a slot
        other than i's; 0 where none or i holds none), so ``gain * slot_error`` is the
        auction path's displacement term with complete tables (equal up to rounding: the
        scenario sums the terms in its own order). A drone reads its neighbours' planned
        slots only through that reading: the plan's other rows are not in its own
        observation. The 1/d repulsion (same kernel loop, same sensed distances), the
        anchor term (on the planned slot) and the speed limit are :meth:`_velocity`'s.
        One difference: the scenario's reading uses noise-free relative positions, so with
        ``sensor_noise_pos > 0`` the displacement term here does not see the noise (the
        repulsion still does)."""
        known = obs.known
        own = obs.own
        safety = min(self.params.safety_radius, SAFETY_SHARE * known["min_spacing"])
        nb = obs.neighbors
        velocity = planned_velocity(
            nb.ptr, nb.seg_row, np.ascontiguousarray(nb.rel_pos), nb.dist, obs.alive,
            np.ascontiguousarray(own["slot_error"], dtype=np.float64), self.params.gain,
            safety, self.params.repulsion,
        )  # fmt: skip
        slot = own["planned_slot"]
        return self._anchored(obs, velocity, slot)

    def _anchored(
        self, obs: LocalObservation, velocity: np.ndarray, slot: np.ndarray
    ) -> np.ndarray:
        """``velocity`` plus the anchor term of the drones holding ``slot``, within the speed
        limit (in place)."""
        known = obs.known
        if self.params.anchor_gain > 0:
            held = obs.alive & (slot >= 0)
            goal = known["anchor"] + known["slots"][np.maximum(slot, 0)]
            velocity[held] += self.params.anchor_gain * (goal[held] - obs.pos[held])
        speed = np.sqrt((velocity**2).sum(axis=1))
        velocity *= np.minimum(1.0, obs.max_speed / np.maximum(speed, 1e-300))[:, None]
        return velocity

    def _velocity(self, obs: LocalObservation, winner: np.ndarray, slot: np.ndarray) -> np.ndarray:
        known = obs.known
        safety = min(self.params.safety_radius, SAFETY_SHARE * known["min_spacing"])
        nb = obs.neighbors
        n_agents = winner.shape[1]
        velocity = formation_velocity(
            nb.ptr, nb.seg_row, nb.idx, np.ascontiguousarray(nb.rel_pos), nb.dist, obs.alive,
            obs.ids, winner, slot, known["slots"], n_agents, self.params.gain, safety,
            self.params.repulsion,
        )  # fmt: skip
        return self._anchored(obs, velocity, slot)

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        if slots_planned(obs.known):
            return np.zeros((obs.n, 0))
        bid, winner, _ = self.auction(obs)
        return np.concatenate([bid, winner.astype(np.float64)], axis=1)

    def next_state(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        if slots_planned(obs.known):
            return {}
        bid, winner, slot = self.auction(obs)
        return {"slot_bid": bid, "slot_winner": winner, "slot": slot}
