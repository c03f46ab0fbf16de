"""The trainer's view of a batched environment: arrays in, arrays out.

Trainers need five things from E environments x N agents, all numpy arrays:
``reset(seed) -> obs (E, N, D)``, ``step(actions (E, N, A)) -> StepResult``, ``state()``
(E, S) for a centralised critic, ``comm_senders(k)`` (E, N, k) for a GNN actor (who hears
whom this step), and the dimensions and action box. :class:`TrainEnv` states that protocol;
:func:`make_train_env` builds it for a registered scenario from the batched env API
(:class:`swarm.marl.BatchedSwarmEnv`), which steps every environment in one engine call.
An env whose agents form teams with different goals also lists them (``teams``: a list of
:class:`~swarm.learn.teams.TeamColumns`); the trainer then gives each team a policy of
its own.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from swarm.config import ConfigError
from swarm.neighbors import NeighborTable


@dataclass
class StepResult:
    """One batched step. Episodes that ended were reset already (``obs`` is the new start)."""

    obs: np.ndarray  # (E, N, D) observation after the step (a fresh episode where done)
    reward: np.ndarray  # (E, N)
    terminated: np.ndarray  # (E, N) bool, the agent is done for good (task ended, crashed)
    truncated: np.ndarray  # (E, N) bool, a time limit ended it (the value after it counts)
    final_obs: np.ndarray  # (E, N, D) last observation of an episode that ended (else obs)
    # (E, S) global state at that last observation; None when no episode ended this step
    final_state: np.ndarray | None
    # (E, N) bool, the agent took part in this step (alive before it); None: every agent.
    # Transitions of inactive agents (crashed earlier) are masked out of the PPO loss.
    active: np.ndarray | None = None


class TrainEnv(Protocol):
    """What a trainer steps. Dimensions are attributes so networks can be sized up front."""

    n_envs: int
    n_agents: int
    obs_dim: int
    act_dim: int
    state_dim: int
    action_low: np.ndarray  # (A,)
    action_high: np.ndarray  # (A,)
    # an env with discrete actions also sets ``n_actions`` (> 0): the actor is then
    # categorical, ``act_dim`` is 1 and ``step`` receives (E, N) action indices

    def reset(self, seed: int) -> np.ndarray: ...

    def step(self, actions: np.ndarray) -> StepResult: ...

    def state(self) -> np.ndarray: ...

    def comm_senders(self, k: int) -> np.ndarray: ...


def nearest_senders(links: NeighborTable, n_envs: int, n_agents: int, k: int) -> np.ndarray:
    """(E, N, k) in-env index of each agent's k nearest comm-graph neighbours, -1 padded.

    These are the agents whose broadcast reaches it this step (a channel with ``max_inbox=k``
    keeps the same nearest senders), so a GNN trained on them runs unchanged on the engine.
    """
    rows = n_envs * n_agents
    out = np.full((rows, k), -1, dtype=np.int64)
    if links.n_edges:
        owner = links.owner.astype(np.int64)
        order = np.lexsort((links.dist, owner))  # by receiver, nearest sender first
        owner = owner[order]
        first = np.searchsorted(owner, owner, side="left")
        rank = np.arange(len(owner)) - first  # 0 for the nearest sender of each receiver
        keep = rank < k
        out[owner[keep], rank[keep]] = links.idx[order][keep] % n_agents
    return out.reshape(n_envs, n_agents, k)


def make_train_env(scenario: str, n_envs: int, config: dict[str, Any]) -> TrainEnv:
    """A :class:`TrainEnv` of ``n_envs`` environments.

    ``scenario`` is a registered scenario (its batched env) or ``"module:factory"``, any
    callable ``factory(n_envs, **config)`` returning a :class:`TrainEnv`: a task of your own,
    trained by the same command and trainers.
    """
    if ":" in scenario:
        module, _, attr = scenario.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ConfigError(f"scenario: cannot load {scenario!r} ({err})") from None
        return factory(n_envs, **config)
    from swarm.learn.grid import GridTrainEnv, is_grid_scenario

    if is_grid_scenario(scenario):  # discrete grid moves (the warehouse)
        return GridTrainEnv(scenario, n_envs, config)
    from swarm.learn.batched import BatchedTrainEnv

    return BatchedTrainEnv(scenario, n_envs, config)
