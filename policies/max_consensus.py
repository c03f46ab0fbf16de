"""Max-consensus by flooding, and leader election with it.

Each drone keeps the largest value it has heard of and broadcasts it:

    x_i(k+1) = max(x_i(k), max_{j in N_i} x_j(k))

On a connected fixed graph every drone holds the global maximum after exactly
``diameter`` rounds (the flooding bound; N. A. Lynch, *Distributed Algorithms*, Morgan
Kaufmann 1996, sec. 4.1, FloodMax leader election: with unique identifiers as values the
maximum identifier is the leader, and each drone knows whether it is the leader by comparing
with its own). Values travel only as messages, one hop per step; the first step is an idle
round (no message has arrived yet). Drones hover.
"""

from __future__ import annotations

import numpy as np

from swarm.observation import LocalObservation
from swarm.policy import Policy


class MaxConsensus(Policy):
    name = "max_consensus"
    dims = (2, 3)  # acts on values only; hovers in any dimension
    citation = "Lynch, N. A. (1996). Distributed Algorithms, sec. 4.1 (FloodMax)."
    action_kind = "velocity"
    message_dim = 1
    scenario = "consensus"
    scenarios = ("consensus",)  # reads the consensus task's readings

    def updated_values(self, obs: LocalObservation) -> np.ndarray:
        """(R,) max of own value and the inbox; crashed rows keep theirs."""
        x = obs.own["value"]
        heard = x.copy()
        np.maximum.at(heard, obs.inbox.owner, obs.inbox.msg[:, 0])
        return np.where(obs.alive, heard, x)

    def act(self, obs: LocalObservation) -> np.ndarray:
        return np.zeros(obs.vel.shape)  # hover: (R, dim)

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        return self.updated_values(obs)[:, None]

    def next_state(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        return {"value": self.updated_values(obs)}
