"""``swarm eval``: a learned policy and classic controllers on the same seeds and metrics.

Each controller runs the scenario's Mesa model (the same engine, spawn and faults for the same
seed) for ``steps`` steps; the table holds the scenario's final metrics, averaged over the
seeds. The learned policy sits in the model's ``Policy`` slot through
:class:`~swarm.learn.policy.LearnedPolicy`, fed by the scenario env's observation encoder.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pandas as pd

from swarm.config import ConfigError
from swarm.learn.checkpoint import load_checkpoint, resolve_checkpoint
from swarm.learn.policy import Encoder, LearnedPolicy
from swarm.registry import scenario_class

DEFAULT_STEPS = 200  # steps per evaluation episode when the scenario does not say


def observation_encoder(scenario: str, config: dict[str, Any]) -> Encoder:
    """The scenario env's function from a batch of local observations to (R, obs_dim)."""
    try:
        return importlib.import_module("swarm.marl").observation_encoder(scenario, **config)
    except (ImportError, AttributeError):
        raise ConfigError(
            "eval: a learned policy needs its scenario's observation encoder "
            "(swarm.marl.observation_encoder), which this installation lacks"
        ) from None


def run_episode(scenario: str, config: dict[str, Any], seed: int, steps: int,
                learned: LearnedPolicy | None = None) -> dict[str, float]:  # fmt: skip
    """Final metrics of one seeded run, with ``learned`` in the Policy slot if given."""
    model = scenario_class(scenario)(rng=seed, **config)
    if learned is not None:
        model.policy = learned
        model.engine.open_channel(learned.message_dim)
        model.engine.sense()
    for _ in range(steps):
        model.step()
    return dict(model.metrics)


def compare(
    scenario: str,
    policy_path: Path,
    against: list[str],
    episodes: int,
    seed: int,
    config: dict[str, Any],
    steps: int = DEFAULT_STEPS,
) -> pd.DataFrame:
    """One row per (controller, seed): the scenario's final metrics."""
    saved = load_checkpoint(resolve_checkpoint(policy_path))
    trained_on = saved["job"].get("scenario")
    if trained_on and trained_on != scenario:
        raise ConfigError(f"eval: the policy was trained on {trained_on!r}, not {scenario!r}")
    config = {**saved["job"].get("env_config", {}), **config}
    learned_cfg = {**config, "max_inbox": saved["net_spec"]["max_senders"]}
    encode = observation_encoder(scenario, config)
    learned = LearnedPolicy.from_checkpoint(policy_path, encode)
    rows = []
    for s in range(seed, seed + episodes):
        metrics = run_episode(scenario, learned_cfg, s, steps, learned)
        rows.append({"controller": "learned", "seed": s, **metrics})
        for name in against:
            metrics = run_episode(scenario, {**config, "policy": name}, s, steps)
            rows.append({"controller": name, "seed": s, **metrics})
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    """Metrics as rows, controllers as columns (mean over seeds)."""
    means = table.drop(columns="seed").groupby("controller", sort=False).mean().T
    return means.to_string(float_format=lambda v: f"{v:.4g}")
