"""The PettingZoo env of a drone scenario: :class:`SwarmParallelEnv` (one arena), and the
per-agent spaces and name lookups it shares with the grid robots' env (:class:`NamedAgents`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from swarm.config import ConfigError
from swarm.engine import Swarm
from swarm.marl.actions import (
    _NOT_FINITE,
    _OUTSIDE,
    DISCRETE_DIRECTIONS,
    DISCRETE_DOC,
    _screen_actions,
    check_reset_seed,
    discrete_actions,
)
from swarm.marl.core import _Core
from swarm.viewer.envdisplay import EnvDisplay

RENDER_FPS = 10  # frames per second of the "human" window (metadata["render_fps"])


def env_metadata(name: str) -> dict[str, Any]:
    """PettingZoo metadata of ``{name}_v0`` (drone and grid envs alike)."""
    return {
        "name": f"{name}_v0",
        "render_modes": ["human", "rgb_array"],
        "is_parallelizable": True,
        "render_fps": RENDER_FPS,
    }


def _check_render_mode(name: str, render_mode: str | None) -> None:
    modes = env_metadata(name)["render_modes"]
    if render_mode is not None and render_mode not in modes:
        raise ConfigError(
            f"{name}_v0: render_mode {render_mode!r}; allowed: None, {', '.join(modes)}"
        )


class NamedAgents:
    """Per-agent spaces and name lookups shared by the drone and grid parallel envs: they
    set ``possible_agents``, ``_index`` (name -> row) and the two space dicts."""

    possible_agents: list[str]
    _index: dict[str, int]
    observation_spaces: dict[str, gymnasium.spaces.Space]
    action_spaces: dict[str, gymnasium.spaces.Space]

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        self._agent_index(agent)
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        self._agent_index(agent)
        return self.action_spaces[agent]

    def _agent_index(self, agent: Any) -> int:
        """Row of ``agent``, or a KeyError naming the env and the agents it has."""
        if agent not in self._index:
            raise KeyError(
                f"{self}: unknown agent {agent!r}; agents are "
                f"{self.possible_agents[0]} .. {self.possible_agents[-1]}"
            )
        return self._index[agent]


class SwarmParallelEnv(NamedAgents, ParallelEnv):
    """PettingZoo parallel env of a registered scenario (see :mod:`swarm.marl`).

    Args:
        scenario: a name in :data:`swarm.registry.SCENARIOS`.
        render_mode: None, "human" or "rgb_array".
        **config: env arguments (:class:`~swarm.marl.config.EnvConfig`) and the scenario
            config's fields.
    """

    metadata: dict[str, Any] = env_metadata("swarm")

    def __init__(self, scenario: str, render_mode: str | None = None, **config: Any):
        _check_render_mode(scenario, render_mode)
        self.core = _Core(scenario, 1, config)
        self.metadata = env_metadata(scenario)
        self.render_mode = render_mode
        self.max_cycles = self.core.settings.max_cycles  # read at every step (tests set it)
        n = self.core.n_agents
        self.possible_agents = list(self.core.agent_names)
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.layout = self.core.encoder.layout
        self.observation_spaces = {a: self.layout.box() for a in self.possible_agents}
        if self.core.settings.continuous_actions:
            b = self.core.bound
            self.action_spaces = {
                a: gymnasium.spaces.Box(-b, b, (self.core.dim,), dtype=np.float32)
                for a in self.possible_agents
            }
        else:
            self.action_spaces = {a: gymnasium.spaces.Discrete(5) for a in self.possible_agents}
        self.state_space = self.core.state_layout.box()
        self._display = EnvDisplay(str(self), RENDER_FPS)  # the viewer's renderer
        self._all_rows = np.arange(n, dtype=np.int64)
        self._live_cache: tuple[list[str] | None, set[str]] = (None, set())
        self._all_active = np.ones((1, n), dtype=bool)
        dim = self.core.dim
        self._action_low = np.full(dim, -self.core.bound, dtype=np.float32).astype(np.float64)
        self._action_high = np.full(dim, self.core.bound, dtype=np.float32).astype(np.float64)

    def __str__(self) -> str:
        return self.metadata["name"]

    @property
    def engine(self) -> Swarm:
        """The engine under this env (its arrays are the state; the dicts are views)."""
        return self.core._live()

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """New episode; ``seed`` restarts the generator, None continues its stream."""
        seed = check_reset_seed(self, seed)
        if seed is not None:
            rng = np.random.default_rng(seed)
        elif self.core.rng is None:
            rng = np.random.default_rng()
        else:
            rng = self.core.rng
        self.core.start(rng)
        self.agents = self.possible_agents[:]
        obs = self.core.observe()[0]
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {} for a in self.possible_agents},
        )

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        if not self.agents:
            raise RuntimeError(f"{self}: the episode is over (no live agents); call reset()")
        rows, values = self._check(actions)
        if rows is self._all_rows:
            accel = self.core.to_accel(values)  # every agent acts, in row order
        else:
            accel = np.zeros((self.core.n_agents, self.core.dim))
            accel[rows] = self.core.to_accel(values, rows)
        reward, terminated, _ = self.core.advance(accel)
        truncate = bool(self.core.steps[0] >= self.max_cycles)
        obs = self.core.observe()[0]
        agents = self.agents
        reward_list, terminated_list = reward.tolist(), terminated.tolist()
        if rows is self._all_rows:  # agents are possible_agents: row i is agents[i]
            observations = dict(zip(agents, obs, strict=True))
            rewards = dict(zip(agents, reward_list, strict=True))
            terminations = dict(zip(agents, terminated_list, strict=True))
        else:
            index = self._index
            observations = {a: obs[index[a]] for a in agents}
            rewards = {a: float(reward_list[index[a]]) for a in agents}
            terminations = {a: bool(terminated_list[index[a]]) for a in agents}
        truncations = {a: truncate and not terminations[a] for a in agents}
        infos: dict[str, dict] = {a: {} for a in agents}
        if truncate or any(terminated_list):
            self.agents = [a for a in agents if not (terminations[a] or truncations[a])]
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # ----------------------------------------------------------------- validation
    def _check(self, actions: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, values) of the live agents' actions, every one validated before any use."""
        if not isinstance(actions, Mapping):
            raise TypeError(f"{self}: actions must be a dict agent -> action, got {type(actions)}")
        live = self.agents
        if len(actions) != len(live) or actions.keys() != self._live_keys(live):
            self._key_problems(actions)
        if len(live) == len(self.possible_agents):
            rows = self._all_rows  # nobody crashed: live is possible_agents, in order
        else:
            rows = np.fromiter((self._index[a] for a in live), dtype=np.int64, count=len(live))
        if self.core.settings.continuous_actions:
            values = self._continuous([actions[a] for a in live])
        else:
            values = self._discrete([actions[a] for a in live])
        return rows, values

    def _live_keys(self, live: list[str]) -> set[str] | Any:
        """The live agents as a set (cached while the list object stays the same)."""
        if self._live_cache[0] is not live:
            self._live_cache = (live, set(live))
        return self._live_cache[1]

    def _key_problems(self, actions: Mapping[str, Any]) -> None:
        live = set(self.agents)
        unknown = [k for k in actions if k not in self._index]
        if unknown:
            raise KeyError(
                f"{self}: unknown agent(s) {', '.join(map(repr, unknown))}; agents are "
                f"{self.possible_agents[0]} .. {self.possible_agents[-1]}"
            )
        gone = [k for k in actions if k not in live]
        if gone:
            raise KeyError(
                f"{self}: agent(s) {', '.join(gone)} terminated or were truncated; "
                "leave them out of the actions"
            )
        missing = [a for a in self.agents if a not in actions]
        raise KeyError(f"{self}: missing actions for live agent(s) {', '.join(missing)}")

    def _continuous(self, given: list[Any], agents: list[str] | None = None) -> np.ndarray:
        agents = agents or self.agents
        low, high = self._action_low, self._action_high
        try:
            values = np.asarray(given, dtype=np.float64)
        except (TypeError, ValueError):
            values = None
        if values is None or values.shape != (len(given), self.core.dim):
            self._diagnose_shape(given, agents)
        checked = np.empty((1, len(given), self.core.dim))
        clip = self.core.settings.out_of_box == "clip"
        problem, _, i = _screen_actions(
            values[None], self._all_active[:, : len(given)], low, high, clip, checked
        )
        if problem == _NOT_FINITE:
            raise ValueError(f"{self}: {agents[i]}: action {given[i]!r} is not finite")
        if problem == _OUTSIDE:
            raise ValueError(
                f"{self}: {agents[i]}: action {values[i].tolist()} is outside the action "
                f"space [{low[0]:g}, {high[0]:g}]^{self.core.dim} (m/s^2); pass "
                "out_of_box='clip' to clip"
            )
        return checked[0]

    def _diagnose_shape(self, given: list[Any], agents: list[str]) -> None:
        dim = self.core.dim
        axes = "x, y" if dim == 2 else "x, y, z"
        for agent, value in zip(agents, given, strict=True):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"{self}: {agent}: action {value!r} is not numeric; expected {dim} floats "
                    "(acceleration, m/s^2)"
                ) from None
            if arr.shape != (dim,):
                raise ValueError(
                    f"{self}: {agent}: action has shape {arr.shape}; expected ({dim},) "
                    f"(acceleration {axes} in m/s^2)"
                )
        raise ValueError(f"{self}: actions could not be read")  # unreachable in practice

    def _discrete(self, given: list[Any], agents: list[str] | None = None) -> np.ndarray:
        names = agents or self.agents
        return discrete_actions(self, names, given, len(DISCRETE_DIRECTIONS), DISCRETE_DOC)

    def check_action(self, agent: str, action: Any) -> None:
        """Raise the error ``step`` would raise for this one action (the AEC env checks each
        action as it is given, so a bad one is never buffered)."""
        if agent not in self._index:
            self._key_problems({agent: action})
        if self.core.settings.continuous_actions:
            self._continuous([action], [agent])
        else:
            self._discrete([action], [agent])

    # ----------------------------------------------------------------- the rest of the API
    def state(self) -> np.ndarray:
        """(state_dim,) float32 global state of the arena (for centralised critics)."""
        return self.core.state()[0]

    def render(self) -> np.ndarray | None:
        """The viewer's picture of arena 0 (:mod:`swarm.viewer.envdisplay`): returned in
        ``rgb_array`` mode, shown in a window in ``human`` mode (the same pixels)."""
        if self.render_mode is None:
            gymnasium.logger.warn(f"{self}: render() without a render_mode; pass render_mode")
            return None
        if self.render_mode == "rgb_array":
            return self._display.frame(self.core._live())
        self._display.show(self.core._live())
        return None

    def close(self) -> None:
        self._display.close()
