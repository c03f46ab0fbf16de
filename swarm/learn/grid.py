"""A grid scenario (the warehouse) as a :class:`~swarm.learn.envs.TrainEnv` with discrete moves.

The drones' batched env steps E arenas in one engine call; the grid world has no such
engine, so this adapter keeps E :class:`swarm.grid.marl.GridParallelEnv` copies and steps
their models one after the other (each step is one vectorised call over its N robots, so
the Python loop is over environments, not robots). It reuses the env's own pieces (the
model's ``step_with`` hook, its observation encoder, its ``state()``, its seeding), so a
policy trained here reads exactly what ``warehouse_v0`` hands a learner.

Actions are ``Discrete(n_actions)``: the trainer builds a categorical actor for them
(``n_actions`` > 0 says so; ``act_dim`` 1 is the stored action index). Every robot acts
every step (nothing crashes), and all robots of an env are truncated together after
``max_cycles`` steps, when the env is reset from its own stream of seeds.

Messages (``--actor gnn``): :meth:`GridTrainEnv.comm_senders` lists each robot's nearest
comm neighbours (the world's links within ``comm_radius``, ties by id), so the trainer
delivers to each robot the learned messages its neighbours composed from their own
observations one step earlier, as for the drones; the deployed policy sends them on the
warehouse radio (a declared round, counted in bytes) and picks the same senders.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swarm.config import ConfigError
from swarm.learn.envs import StepResult
from swarm.neighbors import NeighborTable


def is_grid_scenario(scenario: str) -> bool:
    """Whether a registered scenario runs on the grid world (discrete moves, no engine):
    its default controller is a :class:`~swarm.grid.policy.GridPolicy`."""
    from swarm.grid.policy import GridPolicy
    from swarm.registry import POLICIES, SCENARIOS, policy_class, scenario_class

    if scenario not in SCENARIOS:
        return False
    default = scenario_class(scenario).config_class.model_fields.get("policy")
    name = getattr(default, "default", None)
    return name in POLICIES and issubclass(policy_class(name), GridPolicy)


def grid_senders(tables: list[NeighborTable], n_agents: int, k: int) -> np.ndarray:
    """(E, N, k) from one comm-link table per env (rows = ids, as in the grid world): each
    receiver's k senders with the smallest (distance, id), -1 padded; one sort for all envs
    (the tables' own order is raster order, so ties are broken here, by id)."""
    E = len(tables)
    out = np.full((E * n_agents, k), -1, dtype=np.int64)
    if not tables or k < 1:
        return out.reshape(E, n_agents, k)
    base = np.repeat(np.arange(E, dtype=np.int64) * n_agents, [t.n_edges for t in tables])
    owner = np.concatenate([t.owner for t in tables]).astype(np.int64) + base
    sender = np.concatenate([t.idx for t in tables]).astype(np.int64)
    dist = np.concatenate([t.dist for t in tables])
    order = np.lexsort((sender, dist, owner))  # by receiver, then nearest, then id
    owner, sender = owner[order], sender[order]
    rank = np.arange(len(owner)) - np.searchsorted(owner, owner, side="left")
    keep = rank < k
    out[owner[keep], rank[keep]] = sender[keep]
    return out.reshape(E, n_agents, k)


class GridTrainEnv:
    """``n_envs`` copies of grid scenario ``scenario`` behind the trainer protocol."""

    def __init__(self, scenario: str, n_envs: int, config: dict[str, Any]):
        from swarm.grid.marl import GridParallelEnv  # the PettingZoo stack, on first use

        self.envs = [GridParallelEnv(scenario, **config) for _ in range(n_envs)]
        first = self.envs[0]
        self.n_envs, self.n_agents = n_envs, len(first.possible_agents)
        self.obs_dim, self.state_dim = first.layout.size, first.state_layout.size
        self.act_dim, self.n_actions = 1, int(first.n_actions)
        self.action_low = np.zeros(1)
        self.action_high = np.full(1, self.n_actions - 1.0)
        self.max_cycles = first.max_cycles
        self.teams: list[Any] = []

    def _obs(self, env: Any) -> np.ndarray:
        return env.encoder(env.model.observe(radio=False))

    def reset(self, seed: int) -> np.ndarray:
        """Every env from its own seed drawn from ``seed`` (distinct starts and tasks)."""
        seeds = np.random.SeedSequence(seed).generate_state(self.n_envs, np.uint32)
        for env, s in zip(self.envs, seeds, strict=True):
            env.reset(seed=int(s))
        return np.stack([self._obs(env) for env in self.envs])

    def state(self) -> np.ndarray:
        return np.stack([env.state() for env in self.envs])

    def comm_senders(self, k: int) -> np.ndarray:
        """(E, N, k) each robot's k nearest comm neighbours (the world's links within
        ``comm_radius``), nearest first, ties by id, -1 padded: whose message a GNN actor
        reads next step. The deployed policy picks the same k from its inbox
        (:class:`~swarm.learn.policy.LearnedGridPolicy`), so training and the radio agree."""
        tables = [env.model.world.links_table() for env in self.envs]
        return grid_senders(tables, self.n_agents, k)

    def step(self, actions: np.ndarray) -> StepResult:
        moves = np.asarray(actions)
        if moves.shape != (self.n_envs, self.n_agents):
            raise ConfigError(
                f"grid env: actions of shape {moves.shape}; expected (n_envs, n_agents) = "
                f"({self.n_envs}, {self.n_agents}) move codes"
            )
        E, N = self.n_envs, self.n_agents
        obs = np.zeros((E, N, self.obs_dim), np.float32)
        reward = np.zeros((E, N))
        truncated = np.zeros((E, N), bool)
        final_obs, final_state, ended = obs.copy(), None, False
        for e, env in enumerate(self.envs):
            reward[e] = env.model.step_with(moves[e].astype(np.int64))
            env.steps += 1
            obs[e] = self._obs(env)
            if env.steps >= env.max_cycles:  # a time limit: bootstrap from the final state
                truncated[e] = True
                final_obs[e] = obs[e]
                if final_state is None:
                    final_state = np.zeros((E, self.state_dim), np.float32)
                final_state[e] = env.state()
                env.reset()  # the env's own stream of seeds: the next episode differs
                obs[e] = self._obs(env)
                ended = True
        if not ended:
            final_obs = obs
        terminated = np.zeros((E, N), bool)
        return StepResult(obs, reward, terminated, truncated, final_obs, final_state)
