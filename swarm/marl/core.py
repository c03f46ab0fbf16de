"""The one step shared by the PettingZoo and batched envs: :class:`_Core` runs E arenas of
one scenario over one engine, so with E = 1, the same seed and the same actions both envs
give identical observations and rewards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numba
import numpy as np

from swarm.config import ConfigError
from swarm.engine import Swarm
from swarm.marl.actions import DISCRETE_DIRECTIONS
from swarm.marl.config import action_bound, split_config
from swarm.marl.encoding import ObservationEncoder, state_layout
from swarm.policy import Decision
from swarm.safety import shielded_actions
from swarm.scenario import Scenario


class _Core:
    """E arenas of one scenario over one engine: what both envs run, step for step."""

    def __init__(self, name: str, n_envs: int, values: Mapping[str, Any]):
        if not isinstance(n_envs, int | np.integer) or n_envs < 1:
            raise ConfigError(f"n_envs: must be an integer >= 1 (got {n_envs!r})")
        self.name = name
        self.model_class, self.settings, self.config = split_config(name, values)
        self.n_envs, self.n_agents = int(n_envs), self.config.n_agents
        self.dim = self.config.dim  # coordinates of a position and of an action
        self.scenario: Scenario = self.model_class.scenario_class(self.config)
        self.encoder = ObservationEncoder(self.scenario, self.settings)
        self.state_layout = state_layout(self.scenario)
        self.talks = self.encoder.slots > 0
        self.bound = action_bound(self.config)
        teams = self.scenario.teams()
        if teams:  # one action space for every kind: wide enough for the most agile team
            self.bound = max(
                action_bound(
                    self.config.model_copy(
                        update={"max_speed": t.max_speed, "max_accel": t.max_accel}
                    )
                )
                for t in teams
            )
        # agents are named by kind (pursuer_0, evader_0) where the scenario has teams
        self.agent_names = (
            [f"{t.name}_{k}" for t in teams for k in range(t.n)] if teams
            else [f"drone_{i}" for i in range(self.n_agents)]
        )  # fmt: skip
        self.engine: Swarm | None = None
        self.rng: np.random.Generator | None = None
        self.steps = np.zeros(self.n_envs, dtype=np.int64)  # (E,) steps since each env's reset

    def start(self, rng: np.random.Generator) -> None:
        """A fresh engine drawn from ``rng``, as the Mesa model builds it (same spawn)."""
        self.rng = rng
        self.scenario = self.model_class.scenario_class(self.config)
        self.encoder.scenario = self.scenario
        engine = Swarm(self.config, rng, n_envs=self.n_envs, scenario=self.scenario)
        if self.talks:
            engine.open_channel(self.scenario.message_dim)
        self.scenario.spawn(engine, np.arange(engine.rows), rng)
        engine.leave_obstacles(np.arange(engine.rows))
        engine.reset_faults()
        engine.sense()
        self.engine = engine
        self.steps[:] = 0

    def restart(self, envs: np.ndarray) -> None:
        """Start new episodes in ``envs`` only, in place (the others keep running): the
        scenario respawns their rows and task state, their clock and ``crash_at`` schedule
        start again from step 0 (:meth:`Swarm.restart_envs`)."""
        engine = self._live()
        N = self.n_agents
        rows = (envs[:, None] * N + np.arange(N)[None, :]).ravel()
        engine.restart_envs(envs)
        self.scenario.spawn(engine, rows, engine.rng)
        engine.leave_obstacles(rows)
        engine.apply_faults(envs)
        engine.invalidate()
        engine.sense()
        self.steps[envs] = 0

    def _live(self) -> Swarm:
        if self.engine is None:
            raise RuntimeError(f"{self.name}_v0: call reset() before step()")
        return self.engine

    def observe(self) -> np.ndarray:
        """(E, N, obs_dim) float32."""
        engine = self._live()
        return self.encoder(engine.obs).reshape(self.n_envs, self.n_agents, -1)

    def state(self) -> np.ndarray:
        """(E, state_dim) float32."""
        engine = self._live()
        E, N = self.n_envs, self.n_agents
        parts = {
            "pos": engine.pos.reshape(E, N, self.dim),
            "vel": engine.vel.reshape(E, N, self.dim),
            "alive": engine.alive.reshape(E, N),
            **self.scenario.state_features(engine),
        }
        return self.state_layout.pack(parts, E)

    def advance(self, accel: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One engine step with accelerations (R, dim): (reward, terminated, active), each (R,).

        ``active``: the row was alive before the step (its transition is real); dead rows get
        reward 0 and stay terminated.
        """
        engine = self._live()
        active = engine.alive.copy()
        everyone = bool(active.all())  # nobody crashed: no masking needed (the common case)
        held = [engine.obs]
        messages = (
            self.check_messages(self.scenario.broadcast(held[0]), active) if self.talks else None
        )
        accel = accel if everyone else np.where(active[:, None], accel, 0.0)
        if self.config.safety != "none":  # the learner flies behind the layer too
            accel, engine.intervention = shielded_actions(held[0], accel, self.config)
        # the drones' one way to apply a step, as the Mesa model's (a learner decided)
        engine.apply_decision(held.pop(), Decision(accel, messages))
        self.steps += 1
        reward = self.scenario.reward(engine, accel)
        if not everyone:
            reward = np.where(active, reward, 0.0)
        terminated = np.asarray(self.scenario.terminated(engine), dtype=bool) | ~engine.alive
        return reward, terminated, active

    def check_messages(self, messages: Any, alive: np.ndarray) -> np.ndarray:
        """Validate the (R, message_dim) broadcast before the channel carries it: the shape,
        and finite values for live drones (a NaN would spread to every receiver's
        observation). One vectorised test in the common case; the diagnosis only on failure.
        """
        rows, dim = self.n_envs * self.n_agents, self.scenario.message_dim
        try:
            arr = np.asarray(messages, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.shape != (rows, dim):
            got = "unreadable values" if arr is None else f"shape {arr.shape}"
            raise ValueError(
                f"{self.name}_v0: broadcast messages have {got}; expected ({rows}, {dim}) "
                "(drones x message_dim floats)"
            )
        if _all_finite(arr):
            return arr
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1) & alive)  # crashed rows send nothing
        if len(bad):
            e, i = divmod(int(bad[0]), self.n_agents)
            raise ValueError(
                f"{self.name}_v0: the scenario's broadcast gave drone_{i} (env {e}) the "
                f"non-finite message {arr[bad[0]].tolist()} ({len(bad)} drone(s) in all); "
                "messages must be finite"
            )
        return arr

    def to_accel(self, actions: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """World-frame accelerations (..., dim) from validated actions of ``rows`` (None:
        every row, in order): Box values or Discrete indices (2-D only). With
        ``frame="body"`` the actions are on each drone's own axes, those of the observation
        it acted on (the engine's current one), and are turned back to the world's here;
        a Discrete action's unit direction turns the same way."""
        if self.settings.continuous_actions:
            accel = actions
        else:
            accel = DISCRETE_DIRECTIONS[actions] * self.bound
        if self.settings.frame == "world":
            return accel
        vel = self._live().obs.vel
        vel = vel if rows is None else vel[rows]
        return self.encoder.actions_to_world(accel.reshape(len(vel), self.dim), vel)


@numba.njit(cache=True)
def _all_finite(values):
    """Whether every value is finite: one compiled pass with early exit (a few times cheaper
    than ``np.isfinite(values).all()`` on the small arrays of a PettingZoo step)."""
    for v in values.flat:
        if not np.isfinite(v):
            return False
    return True
