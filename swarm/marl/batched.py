"""The batched env: :class:`BatchedSwarmEnv` steps E arenas x N drones in one engine call,
on arrays, with auto-reset (for training; the PettingZoo env is its E = 1 counterpart).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from swarm.engine import Swarm
from swarm.marl.actions import (
    _NOT_FINITE,
    _OUTSIDE,
    DISCRETE_DIRECTIONS,
    _screen_actions,
    check_reset_seed,
)
from swarm.marl.core import _Core


class BatchedSwarmEnv:
    """E arenas x N drones stepped in one engine call, on arrays, with auto-reset.

    ``step(actions)`` takes (E, N, dim) accelerations (dim = 2, or 3 in a cube; or (E, N)
    integers with ``continuous_actions=False``) and returns ``obs`` (E, N, obs_dim) float32,
    ``reward`` (E, N), ``terminated`` (E, N) bool (the drone crashed, now or before), ``truncated``
    (E, N) bool (``max_cycles`` reached) and ``info``. An env whose drones are all
    terminated or truncated starts a new episode at once: ``obs`` holds its first
    observation, ``info["final_obs"]``/``info["final_state"]`` (present when an env ended)
    the last ones, ``info["done_envs"]`` (E,) which ended. ``info["active"]`` (E, N) marks
    drones that were alive before the step (only their transitions are real); actions of
    other drones are ignored. Episodes of all envs ending together start afresh from the
    run's generator exactly as the PettingZoo env's ``reset()`` does (so E = 1 matches it);
    an env ending alone is respawned in place (its rows and its task state only; the other
    envs' task state is untouched) and its clock restarts: ``crash_at`` steps count each
    env's own steps (``engine.env_t``), while the keyed random streams (sensor noise,
    packet drops) go on with the batch's step ``engine.t``.

    The observation layout, reward and termination are those of
    :class:`~swarm.marl.parallel.SwarmParallelEnv`.
    """

    def __init__(self, scenario: str, n_envs: int = 1, **config: Any):
        self.core = _Core(scenario, n_envs, config)
        self.name = f"{scenario}_v0"
        self.n_envs, self.n_agents = self.core.n_envs, self.core.n_agents
        self.max_cycles = self.core.settings.max_cycles
        self.layout = self.core.encoder.layout
        self.state_layout = self.core.state_layout
        self.obs_dim = self.layout.size
        self.state_dim = self.state_layout.size
        self.observation_space = self.layout.box()  # one drone's
        self.state_space = self.state_layout.box()
        b = self.core.bound
        if self.core.settings.continuous_actions:
            self.action_space: gymnasium.spaces.Space = gymnasium.spaces.Box(
                -b, b, (self.core.dim,), dtype=np.float32
            )
            self.act_dim = self.core.dim
            self.action_low = self.action_space.low.astype(np.float64)
            self.action_high = self.action_space.high.astype(np.float64)
        else:
            self.action_space = gymnasium.spaces.Discrete(len(DISCRETE_DIRECTIONS))
            self.act_dim = 1
            self.action_low = np.zeros(1)
            self.action_high = np.full(1, len(DISCRETE_DIRECTIONS) - 1.0)

    @property
    def engine(self) -> Swarm:
        return self.core._live()

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Every env starts a new episode; ``seed`` restarts the generator."""
        seed = check_reset_seed(self.name, seed)
        if seed is not None or self.core.rng is None:
            self.core.start(np.random.default_rng(seed))
        else:
            self.core.start(self.core.rng)
        return self.core.observe(), {}

    def state(self) -> np.ndarray:
        """(E, state_dim) float32."""
        return self.core.state()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        E, N = self.n_envs, self.n_agents
        engine = self.core._live()
        active = engine.alive.reshape(E, N)
        values = self._check(actions, active)
        accel = self.core.to_accel(values).reshape(E * N, self.core.dim)
        reward, terminated, _ = self.core.advance(accel)
        reward, terminated = reward.reshape(E, N), terminated.reshape(E, N)
        truncated = (self.core.steps >= self.max_cycles)[:, None] & ~terminated
        obs = self.core.observe()
        done = (terminated | truncated).all(axis=1)
        info: dict[str, Any] = {"active": active, "done_envs": done}
        if done.any():
            info["final_obs"] = obs
            info["final_state"] = self.core.state()
            if done.all():
                self.core.start(self.core.rng)
            else:
                self.core.restart(np.flatnonzero(done))
            obs = self.core.observe()
        return obs, reward, terminated, truncated, info

    def _check(self, actions: Any, active: np.ndarray) -> np.ndarray:
        """Validated actions of all rows (inactive ones zeroed); errors name env and drone."""
        E, N = self.n_envs, self.n_agents
        continuous = self.core.settings.continuous_actions
        shape = (E, N, self.core.dim) if continuous else (E, N)
        try:
            arr = np.asarray(actions)
        except (TypeError, ValueError):
            raise TypeError(f"{self.name}: actions must be an array of shape {shape}") from None
        if arr.shape != shape:
            raise ValueError(f"{self.name}: actions have shape {arr.shape}; expected {shape}")
        if not continuous:
            if arr.dtype.kind not in "iu":
                raise TypeError(
                    f"{self.name}: discrete actions must be integers 0..4, got dtype {arr.dtype}"
                )
            bad = active & ((arr < 0) | (arr >= len(DISCRETE_DIRECTIONS)))
            if bad.any():
                e, i = np.argwhere(bad)[0]
                raise ValueError(
                    f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = {arr[e, i]} is "
                    "outside Discrete(5): 0..4"
                )
            return np.where(active, arr, 0)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{self.name}: actions must be numeric, got dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        low, high = self.action_low, self.action_high
        clip = self.core.settings.out_of_box == "clip"
        out = np.empty((E, N, self.core.dim))
        problem, e, i = _screen_actions(arr, active, low, high, clip, out)
        if problem == _NOT_FINITE:
            raise ValueError(
                f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = {arr[e, i].tolist()} "
                "is not finite"
            )
        if problem == _OUTSIDE:
            raise ValueError(
                f"{self.name}: actions[{e}, {i}] (env {e}, drone_{i}) = "
                f"{arr[e, i].tolist()} is outside the action space "
                f"[{low[0]:g}, {high[0]:g}]^{self.core.dim} (m/s^2); pass out_of_box='clip' to "
                "clip"
            )
        return out
