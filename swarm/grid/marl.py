"""PettingZoo envs over the grid world: one adapter for every grid scenario (the warehouse).

The env is a thin view of the same model the CLI runs (a grid model such as
:class:`envs.warehouse.WarehouseModel`): the model owns the map, the task stream, seeds and
time; the env only swaps the controller for the learner's actions through the model's
``step_with(actions) -> (R,) tasks finished`` hook and reads its local observations. Nothing
here re-implements moves, conflicts or tasks. The drones' counterpart is :mod:`swarm.marl`
(continuous dynamics); the named-segment :class:`~swarm.marl.Layout` is shared with it.

Observation of robot i: one flat float32 vector of named segments (read them back with
``env.layout.view(obs, "view")``), computed from i's local observation only (its own cell and
goal, the robots it senses, the public map and its distance fields):

=================  ==============  =====================================================
``view``           (3, s, s)       egocentric window, s = 2 ``view_radius`` + 1, robot
                                   at the centre, row 0 north: channel 0 sensed robots
                                   (within ``sense_radius``), 1 shelves / walls / outside
                                   the map, 2 own goal
``goal_offset``    (2,)            own goal minus own cell (rows, cols) / max(H, W);
                                   0 without a task
``has_task``       (1,)            1 while the robot has a goal
``toward_goal``    (5,)            per grid move (wait, N, E, S, W): 1 where it shortens
                                   the shortest-path distance to the goal (BFS on the map)
``heading``        (4,)            under ``motion = "rotate"`` only: one-hot heading
                                   (east, south, west, north)
=================  ==============  =====================================================

Actions: ``Discrete(5)`` grid moves (0 wait, 1 north, 2 east, 3 south, 4 west), or under the
League's action model (``motion = "rotate"``) ``Discrete(4)``: 0 wait, 1 forward,
2 clockwise, 3 counter-clockwise (the world's own codes, so a learner and a controller
act alike; the League's start kit numbers them FW 0, CR 1, CCR 2, W 3).

State (centralised critics): every robot's cell ``pos`` (N, 2) and goal ``goal`` (N, 2)
as (row, col) / (H - 1, W - 1), and ``has_task`` (N,).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numba
import numpy as np
from pettingzoo import ParallelEnv
from pydantic import Field, field_validator

from swarm.config import ConfigError, StrictConfig
from swarm.grid.distance import readable_fields
from swarm.grid.maps import ACTION_NAMES
from swarm.grid.world import (
    N_ACTIONS,
    ROTATE_ACTION_NAMES,
    egocentric_kernel,
    egocentric_view,
    n_actions,
    sensed_cells,
)
from swarm.marl import (
    EnvModule,
    Layout,
    NamedAgents,
    check_reset_seed,
    discrete_action,
    discrete_actions,
    pettingzoo_module,
    split_fields,
)
from swarm.marl.parallel import RENDER_FPS, env_metadata
from swarm.observation import LocalObservation
from swarm.registry import scenario_class
from swarm.scenario import Segment
from swarm.viewer.envdisplay import EnvDisplay

# cell colours by map kind (0 shelf/wall, 1 free, 2 delivery 'E', 3 pick 'S'), robots, goals
ACTIONS_DOC = ", ".join(f"{i} {name}" for i, name in enumerate(ACTION_NAMES))
ROTATE_ACTIONS_DOC = ", ".join(f"{i} {name}" for i, name in enumerate(ROTATE_ACTION_NAMES))


class GridEnvConfig(StrictConfig):
    """Arguments of the env itself (the rest go to the scenario's config)."""

    max_cycles: int = Field(500, ge=1, description="steps per episode before truncation")
    view_radius: int = Field(3, ge=1, description="half-width of the egocentric window (cells)")
    continuous_actions: bool = Field(
        False, description="accepted for parity with the drone envs: only False (grid moves)"
    )

    @field_validator("continuous_actions")
    @classmethod
    def _discrete_only(cls, value: bool) -> bool:
        if value:
            raise ValueError("grid robots take discrete moves only (Discrete(5)); pass False")
        return value


def split_grid_config(name: str, values: Mapping[str, Any]) -> tuple[type, GridEnvConfig, Any]:
    """(model class, env arguments, scenario config) from one flat set of keyword arguments."""
    model_class = scenario_class(name)
    settings, config = split_fields(name, values, GridEnvConfig, model_class.config_class)
    return model_class, settings, config


class GridObservationEncoder:
    """Batch of local grid observations -> (R, obs_dim) float32 (see the module docstring).

    Row i reads only row i's part of the :class:`~swarm.observation.LocalObservation`, so a
    policy trained on it obeys the locality contract.
    """

    def __init__(self, height: int, width: int, view_radius: int, heading: bool = False):
        self.radius = int(view_radius)
        self.scale = float(max(height, width))
        self.heading = bool(heading)
        side = 2 * self.radius + 1
        segments = (
            Segment("view", (3, side, side), 0.0, 1.0, "robots / shelves+walls / own goal"),
            Segment("goal_offset", (2,), -1.0, 1.0, "goal minus own cell / max(H, W)"),
            Segment("has_task", (1,), 0.0, 1.0, "1 while the robot has a goal"),
            Segment("toward_goal", (N_ACTIONS,), 0.0, 1.0, "actions that shorten the path"),
        )
        if self.heading:
            segments += (Segment("heading", (4,), 0.0, 1.0, "one-hot: east, south, west, north"),)
        self.layout = Layout(segments)

    def __call__(self, obs: LocalObservation) -> np.ndarray:
        """(R, obs_dim) float32, written in one compiled pass (:func:`_encode_grid`; the
        plain numpy meaning is :meth:`reference`, and a test holds them equal)."""
        g, own = obs.known["grid"], obs.own
        out = np.zeros((obs.n, self.layout.size), np.float32)
        rows, cols = np.divmod(own["cell"], g.width)
        other_r, other_c = np.divmod(g.free_cells[sensed_cells(obs)].astype(np.int64), g.width)
        fields, slots = readable_fields(obs.known["bank"], own["goal_slot"])
        _encode_grid(
            g.free, rows, cols, obs.neighbors.ptr, other_r, other_c, own["goal"], slots,
            own["fcell"], g.neighbors, fields, self.radius, self.scale, out,
        )  # fmt: skip
        if self.heading:  # the last segment
            out[np.arange(obs.n), self.layout.size - 4 + own["heading"].astype(np.int64)] = 1.0
        return out

    def reference(self, obs: LocalObservation) -> np.ndarray:
        """The same observation built segment by segment with numpy (readable, slower)."""
        g, own = obs.known["grid"], obs.own
        has = own["goal"] >= 0
        offset = np.zeros((obs.n, 2))
        if has.any():
            offset[has] = (g.rowcol(own["goal"][has]) - g.rowcol(own["cell"][has])) / self.scale
        toward = np.zeros((obs.n, N_ACTIONS))
        if has.any():
            rows = np.flatnonzero(has)
            cand = g.neighbors[own["fcell"][rows]].astype(np.int64)  # (k, 5), -1 walls
            slot = own["goal_slot"][rows, None]
            dist = obs.known["bank"].lookup(slot, np.maximum(cand, 0))
            toward[rows] = (cand >= 0) & (dist < dist[:, :1])
        parts = {
            "view": egocentric_view(obs, self.radius),
            "goal_offset": offset,
            "has_task": has[:, None].astype(np.float64),
            "toward_goal": toward,
        }
        if self.heading:
            parts["heading"] = np.eye(4)[own["heading"].astype(np.int64)]
        return self.layout.pack(parts, obs.n)


@numba.njit(cache=True)
def _encode_grid(
    free, rows, cols, ptr, other_r, other_c, goal, goal_slot, fcell, neighbors, fields,
    radius, scale, out,
):  # fmt: skip
    """Fill ``out`` (R, obs_dim), zero on entry, in the layout's order: view (3, s, s)
    (:func:`~swarm.grid.world.egocentric_kernel`), goal_offset (2,), has_task (1,),
    toward_goal (5,). Every value lies in its segment's range by construction."""
    width = free.shape[1]
    goal_r = np.where(goal >= 0, goal // width, -1)
    goal_c = goal - np.maximum(goal_r, 0) * width
    egocentric_kernel(free, rows, cols, ptr, other_r, other_c, goal_r, goal_c, radius, out)
    c_off = 3 * (2 * radius + 1) ** 2
    for i in range(rows.shape[0]):
        if goal[i] < 0 or goal_slot[i] < 0:
            continue
        out[i, c_off] = (goal_r[i] - rows[i]) / scale
        out[i, c_off + 1] = (goal_c[i] - cols[i]) / scale
        out[i, c_off + 2] = 1.0
        d0 = fields[goal_slot[i], neighbors[fcell[i], 0]]
        for code in range(neighbors.shape[1]):
            v = neighbors[fcell[i], code]
            if v >= 0 and fields[goal_slot[i], v] < d0:
                out[i, c_off + 3 + code] = 1.0


def grid_state_layout(n: int, heading: bool = False) -> Layout:
    """The global state for centralised critics; under the League's action model the
    headings too (without them the state would not say what a robot can do next)."""
    segments = [
        Segment("pos", (n, 2), 0.0, 1.0, "robot cells (row, col) / (H - 1, W - 1)"),
        Segment("goal", (n, 2), 0.0, 1.0, "goal cells, same scale (0 without a task)"),
        Segment("has_task", (n,), 0.0, 1.0, "1 while the robot has a goal"),
    ]
    if heading:
        segments.append(
            Segment("heading", (n, 4), 0.0, 1.0, "one-hot heading: east, south, west, north")
        )
    return Layout(tuple(segments))


class GridParallelEnv(NamedAgents, ParallelEnv):
    """PettingZoo parallel env of a registered grid scenario (see the module docstring).

    Args:
        scenario: a grid model's name in :data:`swarm.registry.SCENARIOS`.
        render_mode: None, "human" or "rgb_array".
        **config: env arguments (:class:`GridEnvConfig`) and the scenario config's fields.
    """

    metadata: dict[str, Any] = env_metadata("grid")

    def __init__(self, scenario: str, render_mode: str | None = None, **config: Any):
        self.metadata = env_metadata(scenario)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"{scenario}_v0: render_mode {render_mode!r}; allowed: None, human, rgb_array"
            )
        self.render_mode = render_mode
        self.model_class, self.settings, self.config = split_grid_config(scenario, config)
        self.max_cycles = self.settings.max_cycles  # read at every step (tests set it)
        self.model: Any = None
        self._seed_rng: np.random.Generator | None = None
        probe = self.model_class(config=self.config, rng=0)  # map and robot count, validated
        self.config = probe.config  # n_agents resolved (an instance's team size)
        n, g = probe.world.n, probe.grid_map
        self.possible_agents = [f"robot_{i}" for i in range(n)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        rotate = probe.world.motion == "rotate"
        self.encoder = GridObservationEncoder(
            g.height, g.width, self.settings.view_radius, heading=rotate
        )
        self.layout = self.encoder.layout
        self.state_layout = grid_state_layout(n, heading=rotate)
        box = self.layout.box()
        self.observation_spaces = dict.fromkeys(self.possible_agents, box)
        # the world's action codes: grid moves, or the League's forward / turns / wait
        self.n_actions = n_actions(probe.world.motion)
        self.actions_doc = ROTATE_ACTIONS_DOC if rotate else ACTIONS_DOC
        self.action_spaces = {
            a: gymnasium.spaces.Discrete(self.n_actions) for a in self.possible_agents
        }
        self.state_space = self.state_layout.box()
        self._display = EnvDisplay(str(self), RENDER_FPS)  # the viewer's renderer

    def __str__(self) -> str:
        return self.metadata["name"]

    def _live(self) -> Any:
        if self.model is None:
            raise RuntimeError(f"{self}: call reset() before step()")
        return self.model

    # ----------------------------------------------------------------- episode
    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """New episode: a fresh model (starts, tasks) drawn from ``seed``; None continues the
        env's own stream of seeds, so successive episodes differ."""
        seed = check_reset_seed(self, seed)
        if seed is not None:
            self._seed_rng = np.random.default_rng(seed)
        elif self._seed_rng is None:
            self._seed_rng = np.random.default_rng()
        episode_seed = int(self._seed_rng.integers(2**63 - 1))
        self.model = self.model_class(config=self.config, rng=episode_seed)
        self.model.collect_metrics = False  # the env reports rewards, not a metrics table
        self.steps = 0
        self.agents = self.possible_agents[:]
        obs = self.encoder(self.model.observe(radio=False))
        return (
            {a: obs[i] for i, a in enumerate(self.possible_agents)},
            {a: {} for a in self.possible_agents},
        )

    def step(self, actions: Mapping[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Everyone moves at once; reward = tasks each robot finished in this step."""
        model = self._live()
        if not self.agents:
            raise RuntimeError(f"{self}: the episode is over (truncated); call reset()")
        moves = self._check(actions)
        done = model.step_with(moves)
        self.steps += 1
        truncate = self.steps >= self.max_cycles
        obs = self.encoder(model.observe(radio=False))
        agents = self.agents
        observations = {a: obs[i] for i, a in enumerate(agents)}
        rewards = {a: float(done[i]) for i, a in enumerate(agents)}
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, truncate)
        infos: dict[str, dict] = {a: {} for a in agents}
        if truncate:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    # ----------------------------------------------------------------- validation
    def _check(self, actions: Mapping[str, Any]) -> np.ndarray:
        """(R,) validated moves; every action is checked before any is applied."""
        if not isinstance(actions, Mapping):
            raise TypeError(f"{self}: actions must be a dict agent -> action, got {type(actions)}")
        unknown = [k for k in actions if k not in self._index]
        if unknown:
            raise KeyError(
                f"{self}: unknown agent(s) {', '.join(map(repr, unknown))}; agents are "
                f"{self.possible_agents[0]} .. {self.possible_agents[-1]}"
            )
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise KeyError(f"{self}: missing actions for agent(s) {', '.join(missing)}")
        values = [actions[agent] for agent in self.agents]
        return discrete_actions(self, self.agents, values, self.n_actions, self.actions_doc)

    def check_action(self, agent: str, action: Any) -> None:
        """Raise the error ``step`` would raise for this one action (for the AEC env)."""
        self._agent_index(agent)
        discrete_action(self, agent, action, self.n_actions, self.actions_doc)

    # ----------------------------------------------------------------- the rest of the API
    def state(self) -> np.ndarray:
        """(state_dim,) float32 global state (for centralised critics)."""
        model = self._live()
        g = model.grid_map
        scale = np.array([max(g.height - 1, 1), max(g.width - 1, 1)], np.float64)
        goal = model.tasks.goal
        has = goal >= 0
        goal_rc = np.where(has[:, None], g.rowcol(np.maximum(goal, 0)), 0) / scale
        parts = {"pos": (g.rowcol(model.world.cell) / scale)[None], "goal": goal_rc[None],
                 "has_task": has[None].astype(np.float64)}  # fmt: skip
        if model.world.heading is not None:
            parts["heading"] = np.eye(4)[model.world.heading.astype(np.int64)][None]
        return self.state_layout.pack(parts, 1)[0]

    def render(self) -> np.ndarray | None:
        """The viewer's picture of the warehouse (:func:`swarm.viewer.grid.grid_scene`):
        returned in ``rgb_array`` mode, shown in a window in ``human`` mode (same pixels)."""
        if self.render_mode is None:
            gymnasium.logger.warn(f"{self}: render() without a render_mode; pass render_mode")
            return None
        if self.render_mode == "rgb_array":
            return self._display.frame(self._live())
        self._display.show(self._live())
        return None

    def close(self) -> None:
        self._display.close()


def grid_env_module(name: str) -> EnvModule:
    """The PettingZoo constructors of grid scenario ``name`` (PettingZoo's convention)."""
    return pettingzoo_module(name, GridParallelEnv, env_metadata(name), "GridEnvConfig")
