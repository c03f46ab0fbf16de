"""Local auction task allocation for the Poisson order stream, with PIBT motion.

Market-based allocation (Dias, Zlot, Kalra, Stentz 2006, "Market-based multirobot
coordination: a survey and analysis", Proc. IEEE 94(7)) restricted to one bidding round
among comm neighbours per step, in the spirit of the consensus-based auction (Choi, Brunet,
How 2009, "Consensus-based decentralized auctions for robust task allocation", IEEE T-RO
25(4), bundle size 1):

1. Every idle robot computes its cost for each open order on the shared board (steps to the
   pick cell, from its distance fields) and broadcasts a bid for its cheapest order.
2. It then claims the cheapest order that no comm neighbour outbid it on (a lower cost, or an
   equal cost from a lower identity). Robots too far apart to hear each other may still claim the
   same order; the board gives it to the lowest bid and the loser bids again next step (the
   ``claim_conflicts`` metric counts these, and is what the auction lowers compared with the
   uncoordinated nearest-order claim of the base class).

Motion is :mod:`policies.pibt`'s decentralised PIBT.
"""

from __future__ import annotations

import numpy as np

from policies.pibt import PIBT
from swarm.grid.policy import order_costs
from swarm.observation import LocalObservation
from swarm.radio import Round


class Auction(PIBT):
    """Local one-round auction for orders; decentralised PIBT for motion."""

    name = "auction"
    citation = (
        "Choi, Brunet, How (2009). Consensus-based decentralized auctions for robust task "
        "allocation. IEEE T-RO 25(4), 912-926; Dias, Zlot, Kalra, Stentz (2006), Proc. IEEE "
        "94(7). Motion: Okumura et al. (2022), Artificial Intelligence 310, 103752."
    )

    def claim_rounds(self) -> tuple[Round, ...]:
        """One bid per idle robot: (column of the board, cost)."""
        return (Round("bid", 2),)

    def claim(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray]:
        claims = np.full(obs.n, -1, np.int64)
        bids = np.full(obs.n, np.inf)
        board = obs.known["board"]
        idle = np.flatnonzero(obs.own["phase"] == 0)
        if board is None or board.n == 0:  # the board is shared: the same for every robot
            return claims, bids
        # a busy robot takes part too, silently: whether the round happens never depends
        # on other robots
        cost = order_costs(obs, idle).astype(np.float64)  # (I, O)
        cost[cost >= obs.known["bank"].unreached] = np.inf
        # round 1: everyone bids for its cheapest order
        first = np.argmin(cost, axis=1)
        first_cost = cost[np.arange(len(idle)), first]
        message = np.full((obs.n, 2), [-1.0, np.inf])
        has_bid = np.isfinite(first_cost)
        message[idle[has_bid], 0] = first[has_bid]  # column of the board
        message[idle[has_bid], 1] = first_cost[has_bid]
        bidding = np.zeros(obs.n, bool)
        bidding[idle[has_bid]] = True
        inbox = obs.radio.send("bid", message, speaking=bidding)
        # round 2: drop the orders a neighbour wins against us, take the cheapest left
        col = np.full(obs.n, -1, np.int64)
        col[idle] = np.arange(len(idle))
        receiver = np.repeat(np.arange(obs.n), np.diff(inbox.ptr))
        their_order = inbox.msg[:, 0].astype(np.int64)
        their_cost = inbox.msg[:, 1]
        mine = (col[receiver] >= 0) & (their_order >= 0)
        r, o = col[receiver[mine]], their_order[mine]
        my_cost = cost[r, o]
        beaten = (their_cost[mine] < my_cost) | (
            (their_cost[mine] == my_cost) & (inbox.sender[mine] < obs.ids[idle[r]])
        )
        cost[r[beaten], o[beaten]] = np.inf
        best = np.argmin(cost, axis=1)
        best_cost = cost[np.arange(len(idle)), best]
        ok = np.isfinite(best_cost)
        claims[idle[ok]] = board.order_id[best[ok]]
        bids[idle[ok]] = best_cost[ok]
        return claims, bids
