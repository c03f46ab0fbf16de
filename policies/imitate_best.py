"""Imitate the best: adopt the strategy of the best scorer heard (Nowak & May 1992).

M. A. Nowak, R. M. May, "Evolutionary games and spatial chaos", Nature 359, 826-829, 1992:
every generation each player plays its neighbours (and itself) and then takes over the
strategy of the highest scorer among its neighbours and itself, all players at once.

Here the neighbours are the drone's comm-graph neighbours and everything travels as
messages (``message_dim = 2``: strategy, payoff), so a generation takes two steps
(:mod:`envs.spatial_dilemma`); the phase is the parity of ``obs.step``, a clock every
drone reads:

* even step (adopt): from the (strategy, payoff) pairs heard, keep the own strategy unless
  every top scorer (the drone itself included, payoffs within a relative 1e-9 counting as
  equal) plays the other one, then adopt that; broadcast the strategy now held. At step 0
  nothing has been heard and nothing changes.
* odd step (play): play one game with each neighbour heard (their broadcast strategies)
  and, with ``self_interaction``, one with itself, under the rules every drone knows
  (``obs.known["game"]``); keep the payoff and broadcast (strategy, payoff).

Strategy and payoff are the scenario's engine-carried state (``obs.own``), updated through
the decision's ``state``. A lost packet leaves that neighbour out of that game or that
comparison. With ``speed`` > 0 the drones fly a correlated random walk while they play
(each heading turn a keyed draw of (seed, step, own id)); else they hover.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from policies.random_walk import correlated_walk
from swarm.comm import Inbox
from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy

TIE_TOLERANCE = 1e-9  # relative: payoffs this close count as a tie


class ImitateBestParams(StrictConfig):
    speed: float = Field(
        0.0, ge=0, description="random-walk speed while playing (m/s); 0: hover in place"
    )
    turn_std: float = Field(0.3, ge=0, description="std of the heading change per step (rad)")


def segment_max(inbox: Inbox, values: np.ndarray) -> np.ndarray:
    """(R,) largest of ``values`` (one per packet) per receiver; -inf with no packet."""
    n_rows = len(inbox.ptr) - 1
    if len(values) == 0:
        return np.full(n_rows, -np.inf)
    padded = np.concatenate([values, [-np.inf]])
    out = np.maximum.reduceat(padded, inbox.ptr[:-1])
    out[inbox.ptr[1:] == inbox.ptr[:-1]] = -np.inf
    return out


def imitate(strategy: np.ndarray, payoff: np.ndarray, inbox: Inbox) -> np.ndarray:
    """(R,) strategies after one update from the (strategy, payoff) messages in ``inbox``:
    the own one unless every top scorer heard, itself included, plays the other."""
    heard_strategy, heard_payoff = inbox.msg[:, 0], inbox.msg[:, 1]
    best = np.maximum(payoff, segment_max(inbox, heard_payoff))
    same = heard_strategy == strategy[inbox.owner]
    best_same = np.maximum(payoff, segment_max(inbox, np.where(same, heard_payoff, -np.inf)))
    keep = best_same >= best - TIE_TOLERANCE * np.maximum(1.0, np.abs(best))
    return np.where(keep, strategy, 1.0 - strategy)


class ImitateBest(Policy):
    name = "imitate_best"
    citation = (
        "Nowak, M. A., May, R. M. (1992). Evolutionary games and spatial chaos. Nature 359, 826."
    )
    action_kind = "velocity"
    message_dim = 2  # strategy, payoff
    scenario = "spatial_dilemma"
    scenarios = ("spatial_dilemma",)  # reads the game's strategies and rules
    Params = ImitateBestParams

    def play(self, obs: LocalObservation) -> tuple[np.ndarray, np.ndarray]:
        """(strategy, payoff) each drone holds after this step, (R,) each."""
        strategy, payoff = obs.own["strategy"], obs.own["payoff"]
        inbox = obs.inbox
        if obs.step % 2:  # play the strategies heard
            cooperators = inbox.segment_sum(inbox.msg[:, 0])
            new_payoff = obs.known["game"].payoff(strategy, cooperators, inbox.counts)
            new_strategy = strategy
        else:  # adopt the best scorer's strategy
            new_strategy = imitate(strategy, payoff, inbox)
            new_payoff = payoff
        alive = obs.alive
        return np.where(alive, new_strategy, strategy), np.where(alive, new_payoff, payoff)

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        strategy, payoff = self.play(obs)
        broadcast = np.column_stack([strategy, payoff]) if messages else None
        return Decision(self.act(obs), broadcast, {"strategy": strategy, "payoff": payoff})

    def act(self, obs: LocalObservation) -> np.ndarray:
        speed = self.params.speed
        if speed == 0:
            return np.zeros((obs.n, 2))
        return correlated_walk(obs, self.seed, min(speed, obs.max_speed), self.params.turn_std)

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        return np.column_stack(self.play(obs))

    def next_state(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        strategy, payoff = self.play(obs)
        return {"strategy": strategy, "payoff": payoff}
