"""A tiny batched task for trainer tests: each agent steers to its own goal.

Agents move on the plane at the velocity they choose (clipped to [-1, 1] per axis, 0.1 s
steps); reward is minus the distance to the own goal; episodes last ``horizon`` steps (a time
limit: truncation). Agents sit on a ring of comm links (i hears i-1 and i+1). The optimal
policy is known (head straight for the goal), so learning is visible within seconds.
It follows :class:`swarm.learn.envs.TrainEnv` without the engine, so the PPO and trainer
tests do not depend on any scenario.
"""

from __future__ import annotations

import numpy as np

from swarm.learn.envs import StepResult

DT = 0.1  # seconds per step
ARENA = 1.0  # goals and starts in [-ARENA, ARENA]^2 (m)


class ToyReach:
    act_dim = 2
    obs_dim = 4  # goal - position (2), position (2)
    action_low = np.array([-1.0, -1.0])
    action_high = np.array([1.0, 1.0])

    def __init__(self, n_envs: int, n_agents: int = 3, horizon: int = 16):
        self.n_envs, self.n_agents, self.horizon = n_envs, n_agents, horizon
        self.state_dim = 4 * n_agents
        self.pos = np.zeros((n_envs, n_agents, 2))
        self.goal = np.zeros((n_envs, n_agents, 2))
        self.t = np.zeros(n_envs, dtype=np.int64)
        self.rng = np.random.default_rng(0)

    def _spawn(self, envs: np.ndarray) -> None:
        shape = (len(envs), self.n_agents, 2)
        self.pos[envs] = self.rng.uniform(-ARENA, ARENA, shape)
        self.goal[envs] = self.rng.uniform(-ARENA, ARENA, shape)
        self.t[envs] = 0

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.goal - self.pos, self.pos], axis=-1)

    def reset(self, seed: int) -> np.ndarray:
        self.rng = np.random.default_rng(seed)
        self._spawn(np.arange(self.n_envs))
        return self._obs()

    def state(self) -> np.ndarray:
        return np.concatenate([self.pos, self.goal], axis=-1).reshape(self.n_envs, -1)

    def comm_senders(self, k: int) -> np.ndarray:
        i = np.arange(self.n_agents)
        ring = np.stack([(i - 1) % self.n_agents, (i + 1) % self.n_agents], axis=1)
        out = np.full((self.n_envs, self.n_agents, k), -1, dtype=np.int64)
        out[:, :, : min(k, 2)] = ring[:, : min(k, 2)]
        return out

    def step(self, actions: np.ndarray) -> StepResult:
        self.pos += DT * np.clip(actions, -1.0, 1.0)
        self.t += 1
        reward = -np.linalg.norm(self.goal - self.pos, axis=-1)
        truncated = np.repeat((self.t >= self.horizon)[:, None], self.n_agents, axis=1)
        final_obs, final_state = self._obs(), self.state()
        ended = np.flatnonzero(truncated[:, 0])
        if len(ended):
            self._spawn(ended)
        return StepResult(
            obs=self._obs(),
            reward=reward,
            terminated=np.zeros_like(truncated),
            truncated=truncated,
            final_obs=final_obs,
            final_state=final_state,
        )
