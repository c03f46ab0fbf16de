"""A registered scenario as a :class:`~swarm.learn.envs.TrainEnv`, over ``swarm.marl``.

:class:`swarm.marl.BatchedSwarmEnv` steps E environments x N agents in one engine call
(observations ``(E, N, obs_dim)``, actions ``(E, N, act_dim)``, rewards ``(E, N)``, done flags,
auto-reset) and is the same code as the PettingZoo env. This adapter only renames: it adds
the final observation of episodes that ended (for bootstrapping at a time limit) and the comm
senders a GNN actor reads (:func:`~swarm.learn.envs.nearest_senders` of the engine's links).

Status: written before ``swarm.marl`` landed; the attribute names it reads are listed in
``_REQUIRED`` and checked with one clear error, so a mismatch is found at once.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from swarm.config import ConfigError
from swarm.learn.envs import StepResult, nearest_senders

# what this adapter reads from a BatchedSwarmEnv
_REQUIRED = ("reset", "step", "state", "engine", "n_envs", "n_agents", "obs_dim", "act_dim",
             "action_low", "action_high")  # fmt: skip


def _batched_env_class() -> Any:
    try:
        return importlib.import_module("swarm.marl").BatchedSwarmEnv
    except (ImportError, AttributeError):
        raise ConfigError(
            "scenario: training on a registered scenario needs swarm.marl.BatchedSwarmEnv, "
            "which this installation lacks; train a module:factory env of your own instead"
        ) from None


class BatchedTrainEnv:
    """``n_envs`` copies of ``scenario`` behind the trainer protocol."""

    def __init__(self, scenario: str, n_envs: int, config: dict[str, Any]):
        self.env = _batched_env_class()(scenario, n_envs=n_envs, **config)
        missing = [name for name in _REQUIRED if not hasattr(self.env, name)]
        if missing:
            raise ConfigError(
                f"scenario {scenario!r}: its batched env lacks {', '.join(missing)} "
                "(swarm.learn.batched expects them)"
            )
        self.n_envs, self.n_agents = self.env.n_envs, self.env.n_agents
        self.obs_dim, self.act_dim = self.env.obs_dim, self.env.act_dim
        self.action_low = np.asarray(self.env.action_low, dtype=np.float64)
        self.action_high = np.asarray(self.env.action_high, dtype=np.float64)
        self.state_dim = int(np.asarray(self.env.state()).shape[-1])

    def reset(self, seed: int) -> np.ndarray:
        out = self.env.reset(seed=seed)
        return np.asarray(out[0] if isinstance(out, tuple) else out)

    def state(self) -> np.ndarray:
        return np.asarray(self.env.state())

    def comm_senders(self, k: int) -> np.ndarray:
        engine = self.env.engine
        engine.obs  # noqa: B018 - sense first if the state was edited
        return nearest_senders(engine.links, self.n_envs, self.n_agents, k)

    def step(self, actions: np.ndarray) -> StepResult:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        shape = (self.n_envs, self.n_agents)
        terminated = np.broadcast_to(np.asarray(terminated, bool).reshape(self.n_envs, -1), shape)
        truncated = np.broadcast_to(np.asarray(truncated, bool).reshape(self.n_envs, -1), shape)
        obs = np.asarray(obs)
        final_obs = np.asarray(info.get("final_obs", obs))
        final_state = np.asarray(info.get("final_state", self.state()))
        return StepResult(obs, np.asarray(reward), terminated, truncated, final_obs, final_state)
