"""``swarm eval``: a learned policy and classic controllers on the same seeds and metrics.

Each controller runs the scenario's Mesa model (the same engine, spawn and faults for the same
seed) for one training episode (the env's ``max_cycles`` steps unless told otherwise). The
table holds the scenario's final metrics and the episode's team return: the sum over steps of
the mean reward over the drones, exactly what the trainer reports as ``episode_return``
(the scenario's ``reward`` hook, which reads the state the step led to). The learned policy
sits in the model's ``Policy`` slot through :func:`~swarm.learn.policy.load_policy`.

Besides the registered controllers, ``uniform_random`` (actions drawn uniformly from the
training action box, the usual "random" baseline of the MARL literature; on the grid,
moves drawn uniformly from the action codes) can be named.

Grid scenarios (the warehouse) run their own model the same way; their row holds the
model's final metrics (tasks per step ``throughput``, ``attempted_conflicts``,
``wait_fraction``, ``executed_collisions``, ...) and the team return (tasks per robot).

Both tables keep one row per (controller or pairing, seed); :mod:`swarm.learn.report` turns
them into means, interquartile means and bootstrap intervals, and into files.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from swarm.config import ConfigError
from swarm.grid.policy import GridPolicy
from swarm.grid.world import n_actions
from swarm.learn.grid import is_grid_scenario
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


class GridUniformRandom(GridPolicy):
    """Moves drawn uniformly from the grid's action codes: the warehouse's random baseline.
    Row i's draw is keyed by (seed, step, row), so it depends on no other robot."""

    name = UNIFORM_RANDOM

    def act(self, obs: LocalObservation) -> np.ndarray:
        n_codes = n_actions(obs.known.get("motion", "grid"))
        u = keyed_uniform(self.seed, obs.step, np.arange(obs.n), 0)
        return np.minimum((u * n_codes).astype(np.int64), n_codes - 1)


GRID_METRICS = ("throughput", "attempted_conflicts", "wait_fraction", "executed_collisions",
                "tasks_finished")  # fmt: skip


def run_grid_model(model: Any, steps: int) -> dict[str, float]:
    """Step a grid model ``steps`` times: its final metrics (throughput = tasks per step,
    attempted_conflicts = moves the world cancelled, wait_fraction, executed_collisions,
    which the world keeps at 0) and the team return the trainer reports (tasks finished per
    robot over the episode: the sum over steps of the mean reward)."""
    for _ in range(steps):
        model.step()
    metrics = dict(model.metrics)
    return {**metrics, "episode_return": metrics["tasks_finished"] / model.world.n}


def episode_length(scenario: str, env_config: dict[str, Any]) -> int:
    """``max_cycles`` of the scenario's env for these arguments."""
    from swarm.learn.grid import is_grid_scenario

    if is_grid_scenario(scenario):
        from swarm.grid.marl import GridParallelEnv

        return GridParallelEnv(scenario, **env_config).max_cycles
    from swarm.marl import SwarmParallelEnv

    return SwarmParallelEnv(scenario, **env_config).max_cycles


def action_bound(scenario: str, env_config: dict[str, Any]) -> float:
    """Largest acceleration component of the env's action box (m/s^2)."""
    from swarm.marl import SwarmParallelEnv

    env = SwarmParallelEnv(scenario, **env_config)
    return float(env.action_space(env.possible_agents[0]).high[0])


def run_model(model: Any, steps: int) -> dict[str, float]:
    """Step a Mesa model ``steps`` times: its final metrics and the episode's team return
    (with teams, each team's too: ``pursuer_return``, the mean over its agents)."""
    team_return = 0.0
    engine = model.engine
    none = np.zeros((engine.rows, 2))  # the scenarios' rewards read the state only
    teams = engine.teams.names if engine.teams is not None else ()
    per_team = np.zeros(len(teams))
    for _ in range(steps):
        model.step()
        reward = np.asarray(model.scenario.reward(engine, none), dtype=np.float64)
        team_return += float(np.mean(reward))
        for code in range(len(teams)):
            per_team[code] += float(np.mean(reward[engine.teams.team == code]))
    returns = {f"{name}_return": float(v) for name, v in zip(teams, per_team, strict=True)}
    return {**model.metrics, "episode_return": team_return, **returns}


def baseline_model(scenario: str, name: str, env_config: dict[str, Any], seed: int) -> Any:
    """The scenario's Mesa model, seeded, with controller ``name`` (registered, or
    ``uniform_random``) in its slot; env-only arguments of ``env_config`` are dropped."""
    model_class = scenario_class(scenario)
    fields = model_class.config_class.model_fields
    config = {k: v for k, v in env_config.items() if k in fields}
    if name == UNIFORM_RANDOM and is_grid_scenario(scenario):
        model = model_class(rng=seed, **config)
        model.policy = GridUniformRandom(seed=seed)
        return model
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
    learned = load_policy(policy_path, **config)
    if learned.trained_on != scenario:
        raise ConfigError(
            f"eval: the policy was trained on {learned.trained_on!r}, not {scenario!r}"
        )
    env_config = learned.env_config
    steps = steps if steps is not None else episode_length(scenario, env_config)
    run = run_grid_model if is_grid_scenario(scenario) else run_model
    rows = []
    for s in range(seed, seed + episodes):
        rows.append({"controller": "learned", "seed": s, **run(learned.make_model(s), steps)})
        for name in against:
            metrics = run(baseline_model(scenario, name, env_config, s), steps)
            rows.append({"controller": name, "seed": s, **metrics})
    table = pd.DataFrame(rows)
    table.attrs["steps"] = steps  # the episode length, for reports (marl-eval's step_count)
    return table


def _cell(stats: dict[str, Any]) -> str:
    """``mean | IQM [low, high]``: the IQM's interval; (n=k) when NaN seeds were left out."""
    if stats["n"] == 0:
        return "n/a"
    low, high = stats["iqm_ci"]
    ci = "[n/a]" if not np.isfinite(low) else f"[{low:.4g}, {high:.4g}]"
    text = f"{stats['mean']:.4g} | {stats['iqm']:.4g} {ci}"
    return text + (f" (n={stats['n']})" if stats["n_missing"] else "")


def format_table(table: pd.DataFrame, summary: dict[str, Any] | None = None) -> str:
    """Metrics as rows, controllers as columns; a cell: the mean over seeds, then the
    interquartile mean with its bootstrap interval (``summary``: from
    :func:`swarm.learn.report.summarize`, computed here when not given)."""
    from swarm.learn.report import summarize

    summary = summary if summary is not None else summarize(table, ["controller"])
    cells = {controller: {metric: _cell(stats) for metric, stats in metrics.items()}
             for controller, metrics in summary["groups"].items()}  # fmt: skip
    shown = pd.DataFrame(cells)
    shown.columns.name = "controller"
    return shown.to_string()


# --------------------------------------------------------------------------- cross-play
def crossplay(
    scenario: str,
    choices: dict[str, list[str]],
    episodes: int,
    seed: int,
    config: dict[str, Any],
    steps: int | None = None,
) -> pd.DataFrame:
    """Every pairing of the teams' ``choices`` (team -> controller names or learned runs; a
    team left out plays the config's controller) on the same seeds: one row per (pairing,
    seed) with a column per team naming what it played, the model's headline fields
    (``summary()``), its metrics and each team's return. Episodes last ``steps`` (default:
    the env's ``max_cycles``, with the first learned policy's training settings).
    ``table.attrs["headline"]`` lists the columns worth a summary (headline fields and team
    returns)."""
    from swarm.registry import is_learned, model_maker

    fields = scenario_class(scenario).team_policy_fields  # team -> its controller's field
    teams = list(fields)
    unknown = sorted(set(choices) - set(teams))
    if unknown:
        raise ConfigError(f"--policy: unknown team {unknown[0]!r}; teams of {scenario}: "
                          f"{', '.join(teams)}")  # fmt: skip
    options = [choices.get(team) or [None] for team in teams]
    pairings = [dict(zip(teams, p, strict=True)) for p in itertools.product(*options)]

    def given(pairing: dict[str, str | None]) -> list[str]:
        return [f"{team}={c}" for team, c in pairing.items() if c is not None]

    # every pairing plays the first learned policy's training settings (then ``config``),
    # so that all rows of the table are the same game
    trained: dict[str, Any] = {}
    for pairing in pairings:
        if any(c is not None and is_learned(c) for c in pairing.values()):
            policies = model_maker(scenario, given(pairing), config)(seed).policy.policies
            trained = next(p.env_config for p in policies.values() if isinstance(p, LearnedPolicy))
            break
    env_config = {**trained, **config}
    fields_of_model = scenario_class(scenario).config_class.model_fields
    model_config = {k: v for k, v in env_config.items() if k in fields_of_model}
    steps = steps if steps is not None else episode_length(scenario, env_config)
    rows = []
    headline: list[str] = []
    for pairing in pairings:
        make = model_maker(scenario, given(pairing), model_config)
        for s in range(seed, seed + episodes):
            model = make(s)
            labels = {team: c or getattr(model.config, fields[team]) for team, c in pairing.items()}
            metrics = run_model(model, steps)
            # competing teams' mean return means nothing: show each team's
            headline = [*model.summary(), *(k for k in metrics if k.endswith("_return")
                                             and k != "episode_return")]  # fmt: skip
            rows.append({**labels, "seed": s, **model.summary(), **metrics})
    table = pd.DataFrame(rows)
    table.attrs["headline"] = headline  # the columns a cross-play table shows
    table.attrs["steps"] = steps
    return table


def interval(values: np.ndarray, confidence: float = 0.95, seed: int = 0) -> tuple[float, ...]:
    """(mean, low, high, n) of the finite ``values``: the mean's bootstrap interval over
    seeds (:func:`swarm.learn.report.estimate`), NaN bounds below two values."""
    from swarm.learn.report import estimate

    found = estimate(values, confidence, seed=seed)
    return (found["mean"], *found["mean_ci"], found["n"])


def crossplay_summary(table: pd.DataFrame, teams: list[str], columns: list[str]) -> pd.DataFrame:
    """Per pairing, ``column``: "mean [low, high]" (95 % bootstrap over seeds; NaN values,
    e.g. the capture time of an episode without capture, left out and counted as ``n``)."""
    out = []
    for pairing, group in table.groupby(teams, sort=False):
        row = dict(zip(teams, pairing, strict=True))
        for col in columns:
            mean, low, high, n = interval(group[col].to_numpy())
            text = "n/a" if n == 0 else f"{mean:.3g} [{low:.3g}, {high:.3g}]"
            row[col] = text + (f" (n={n})" if n < len(group) else "")
        out.append(row)
    return pd.DataFrame(out)
