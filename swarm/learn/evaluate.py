"""``swarm eval``: a learned policy and classic controllers on the same seeds and metrics.

Each controller runs the scenario's Mesa model (the same engine, spawn and faults for the same
seed) for one training episode (the env's ``max_cycles`` steps unless told otherwise). The
table holds the scenario's final metrics and the episode's team return: the sum over steps of
the mean reward over the drones, exactly what the trainer reports as ``episode_return``
(the scenario's ``reward`` hook, which reads the state the step led to). The learned policy
sits in the model's ``Policy`` slot through :func:`~swarm.learn.policy.load_policy`.

Besides the registered controllers, ``uniform_random`` (actions drawn uniformly from the
training action box, the usual "random" baseline of the MARL literature) can be named.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from swarm.config import ConfigError
from swarm.learn.policy import LearnedPolicy, load_policy
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.registry import POLICIES, scenario_class
from swarm.rng import keyed_uniform

UNIFORM_RANDOM = "uniform_random"


class UniformRandom(Policy):
    """Accelerations uniform in the box [-bound, bound]^2: the random baseline. Row i's draw
    is keyed by (seed, step, row), so it depends on no other drone."""

    name = UNIFORM_RANDOM

    def __init__(self, bound: float, seed: int = 0):
        super().__init__(seed=seed)
        self.bound = float(bound)

    def act(self, obs: LocalObservation) -> np.ndarray:
        rows = np.arange(obs.n)[:, None]
        u = keyed_uniform(self.seed, obs.step, rows, np.arange(2)[None, :])
        out = self.bound * (2.0 * u - 1.0)
        out[~obs.alive] = 0.0
        return out


def episode_length(scenario: str, env_config: dict[str, Any]) -> int:
    """``max_cycles`` of the scenario's env for these arguments."""
    from swarm.marl import SwarmParallelEnv

    return SwarmParallelEnv(scenario, **env_config).max_cycles


def action_bound(scenario: str, env_config: dict[str, Any]) -> float:
    """Largest acceleration component of the env's action box (m/s^2)."""
    from swarm.marl import SwarmParallelEnv

    env = SwarmParallelEnv(scenario, **env_config)
    return float(env.action_space(env.possible_agents[0]).high[0])


def run_model(model: Any, steps: int) -> dict[str, float]:
    """Step a Mesa model ``steps`` times: its final metrics and the episode's team return."""
    team_return = 0.0
    none = np.zeros((model.engine.rows, 2))  # the scenarios' rewards read the state only
    for _ in range(steps):
        model.step()
        team_return += float(np.mean(model.scenario.reward(model.engine, none)))
    return {**model.metrics, "episode_return": team_return}


def baseline_model(scenario: str, name: str, env_config: dict[str, Any], seed: int) -> Any:
    """The scenario's Mesa model, seeded, with controller ``name`` (registered, or
    ``uniform_random``) in its slot; env-only arguments of ``env_config`` are dropped."""
    model_class = scenario_class(scenario)
    fields = model_class.config_class.model_fields
    config = {k: v for k, v in env_config.items() if k in fields}
    if name == UNIFORM_RANDOM:
        model = model_class(rng=seed, **config)
        model.policy = UniformRandom(action_bound(scenario, env_config), model.engine.policy_seed)
        return model
    if name not in POLICIES:
        raise ConfigError(
            f"--against: unknown controller {name!r}; allowed: {UNIFORM_RANDOM}, "
            f"{', '.join(sorted(POLICIES))}"
        )
    return model_class(rng=seed, **{**config, "policy": name})


def compare(
    scenario: str,
    policy_path: Path,
    against: list[str],
    episodes: int,
    seed: int,
    config: dict[str, Any],
    steps: int | None = None,
) -> pd.DataFrame:
    """One row per (controller, seed): final metrics and the episode's team return."""
    learned: LearnedPolicy = load_policy(policy_path, **config)
    if learned.trained_on != scenario:
        raise ConfigError(
            f"eval: the policy was trained on {learned.trained_on!r}, not {scenario!r}"
        )
    env_config = learned.env_config
    steps = steps if steps is not None else episode_length(scenario, env_config)
    rows = []
    for s in range(seed, seed + episodes):
        rows.append({"controller": "learned", "seed": s, **run_model(learned.make_model(s), steps)})
        for name in against:
            metrics = run_model(baseline_model(scenario, name, env_config, s), steps)
            rows.append({"controller": name, "seed": s, **metrics})
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    """Metrics as rows, controllers as columns (mean over seeds)."""
    means = table.drop(columns="seed").groupby("controller", sort=False).mean().T
    return means.to_string(float_format=lambda v: f"{v:.4g}")
