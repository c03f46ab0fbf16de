"""Average consensus over the comm graph (Olfati-Saber and Murray 2004).

R. Olfati-Saber, R. M. Murray, "Consensus problems in networks of agents with switching
topology and time-delays", IEEE Trans. Automatic Control 49(9), 1520-1533, 2004, protocol
(A1) ``x_i' = sum_{j in N_i} (x_j - x_i)``, here in its discrete-time form (Olfati-Saber,
Fax, Murray, Proc. IEEE 95(1), 2007, eq. 18):

    x_i(k+1) = x_i(k) + eps * sum_{j in N_i} (x_j(k) - x_i(k)),    0 < eps < 1 / Delta

(``Delta``: the graph's largest degree). On a connected undirected graph every value tends
to the average of the initial values, and the disagreement decays at least as fast as
``(1 - eps * lambda_2)^k`` when ``eps * lambda_max <= 1``.

Values travel only as messages: each drone broadcasts its value, and updates with the
values in its inbox (sent by its comm neighbours one step earlier). The value is the
scenario's engine-carried ``obs.own["value"]``; a drone broadcasts the value it is about to
hold, so at step k+1 its inbox holds exactly its neighbours' ``x_j(k)``. With lossy links the
received sets stop being symmetric and the average drifts (as the theory says it may).
Drones hover (zero velocity command).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy


class AverageConsensusParams(StrictConfig):
    eps: float = Field(
        0.05, gt=0, description="step size eps; must be < 1 / (largest degree) to converge"
    )


class AverageConsensus(Policy):
    name = "average_consensus"
    dims = (2, 3)  # acts on values only; hovers in any dimension
    citation = (
        "Olfati-Saber, R., Murray, R. M. (2004). IEEE TAC 49(9), 1520-1533, protocol (A1); "
        "discrete form: Olfati-Saber, Fax, Murray (2007), Proc. IEEE 95(1), eq. (18)."
    )
    action_kind = "velocity"
    message_dim = 1
    scenario = "consensus"
    scenarios = ("consensus",)  # reads the consensus task's readings
    Params = AverageConsensusParams

    def updated_values(self, obs: LocalObservation) -> np.ndarray:
        """(R,) x + eps * sum over the inbox of (x_j - x); crashed rows keep theirs."""
        x = obs.own["value"]
        inbox = obs.inbox
        pull = inbox.segment_sum(inbox.msg[:, 0] - x[inbox.owner])
        return np.where(obs.alive, x + self.params.eps * pull, x)

    def act(self, obs: LocalObservation) -> np.ndarray:
        return np.zeros(obs.vel.shape)  # hover: (R, dim)

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        return self.updated_values(obs)[:, None]

    def next_state(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        return {"value": self.updated_values(obs)}
