"""A registered scenario as a :class:`~swarm.learn.envs.TrainEnv`, over ``swarm.marl``.

:class:`swarm.marl.BatchedSwarmEnv` steps E environments x N drones in one engine call
(observations ``(E, N, obs_dim)``, accelerations ``(E, N, 2)``, rewards ``(E, N)``, per-drone
``terminated``/``truncated``, auto-reset) and is the same code as the PettingZoo env. This
adapter only renames what the trainer reads:

* ``info["final_obs"]``/``info["final_state"]`` (present when some env ended): the last
  observation and state of an episode, to bootstrap a value at a time limit;
* which drones were alive before the step (``active`` (E, N)): only their transitions are
  real; a crashed drone's later rows are masked out of the PPO loss (:mod:`.ppo`). Read from
  the engine before stepping: ``info["active"]`` of swarm.marl is a view of
  ``engine.alive`` that the step itself edits, so it misses the step a drone crashes in;
* the comm senders a GNN actor reads (:func:`~swarm.learn.envs.nearest_senders` of the
  engine's links);
* the agent columns of each team (``teams``), where the scenario has teams: the trainer
  then gives each team a policy of its own (:mod:`swarm.learn.teams`).

Drones train with continuous (Box) actions only (a Gaussian actor); the grid robots'
discrete moves go through :mod:`swarm.learn.grid` (a categorical actor).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swarm.config import ConfigError
from swarm.learn.envs import StepResult, nearest_senders
from swarm.learn.teams import TeamColumns


class BatchedTrainEnv:
    """``n_envs`` copies of ``scenario`` behind the trainer protocol."""

    def __init__(self, scenario: str, n_envs: int, config: dict[str, Any]):
        from swarm.marl import BatchedSwarmEnv  # the PettingZoo stack, loaded on first use

        if config.get("continuous_actions", True) is False:
            raise ConfigError(
                "continuous_actions: the PPO actor is Gaussian and needs Box actions; "
                "leave continuous_actions at true"
            )
        self.env = BatchedSwarmEnv(scenario, n_envs=n_envs, **config)
        self.n_envs, self.n_agents = self.env.n_envs, self.env.n_agents
        self.obs_dim, self.act_dim = self.env.obs_dim, self.env.act_dim
        self.state_dim = self.env.state_dim
        self.action_low = np.asarray(self.env.action_low, dtype=np.float64)
        self.action_high = np.asarray(self.env.action_high, dtype=np.float64)
        self.max_cycles = self.env.max_cycles
        # agent columns of each team, in the declared order (empty: one team)
        self.teams: list[TeamColumns] = []
        for team in self.env.core.scenario.teams() or ():
            start = self.teams[-1].stop if self.teams else 0
            self.teams.append(TeamColumns(team.name, start, start + team.n))

    def reset(self, seed: int) -> np.ndarray:
        obs, _ = self.env.reset(seed=seed)
        return obs

    def state(self) -> np.ndarray:
        return self.env.state()

    def comm_senders(self, k: int) -> np.ndarray:
        engine = self.env.engine
        engine.obs  # noqa: B018 - sense first if the state was edited
        return nearest_senders(engine.links, self.n_envs, self.n_agents, k)

    def step(self, actions: np.ndarray) -> StepResult:
        active = self.env.engine.alive.reshape(self.n_envs, self.n_agents).copy()
        obs, reward, terminated, truncated, info = self.env.step(actions)
        # without an ended env the env gives no final observation: nothing needs one
        final_obs = info.get("final_obs", obs)
        final_state = info["final_state"] if "final_state" in info else None
        return StepResult(obs, reward, terminated, truncated, final_obs, final_state, active=active)
