"""An env's keyword arguments: the env's own (:class:`EnvConfig`) split from the scenario
config's fields (:func:`split_config`), and the bounds they imply for actions and speeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import Field

from swarm.config import ConfigError, StrictConfig
from swarm.engine import SwarmConfig
from swarm.registry import SCENARIOS, scenario_class
from swarm.scenario import Scenario


class EnvConfig(StrictConfig):
    """Arguments of the env itself (the rest go to the scenario's config)."""

    max_cycles: int = Field(100, ge=1, description="steps per episode before truncation")
    continuous_actions: bool = Field(
        True, description="Box acceleration actions; False: Discrete(5) (MPE's order)"
    )
    k_neighbors: int = Field(4, ge=0, description="nearest sensed drones in the observation")
    inbox_slots: int = Field(
        4, ge=0, description="messages in the observation (nearest senders; scenarios that talk)"
    )
    out_of_box: Literal["reject", "clip"] = Field(
        "reject", description="an action outside the action space: error, or clip to the box"
    )
    frame: Literal["world", "body"] = Field(
        "world",
        description="axes of observations and actions: world (the arena's, with the absolute "
        "own_pos), or body (x along the drone's own velocity, yaw only in 3-D; no own_pos): "
        "a policy trained in the body frame cannot key on a compass heading or on where in "
        "the arena it is, so it carries over to other arena sizes (swarm.marl.encoding)",
    )


def _is_drone_model(model_class: type) -> bool:
    """Whether a registered model runs on the drone engine (a :class:`Scenario` subclass)."""
    hook = getattr(model_class, "scenario_class", None)
    return isinstance(hook, type) and issubclass(hook, Scenario)


def split_fields(
    name: str, values: Mapping[str, Any], env_class: type[StrictConfig], config_class: type
) -> tuple[Any, Any]:
    """(env arguments, scenario config) from one flat set of an env's keyword arguments;
    an argument neither knows fails with one line listing both sets of fields."""
    env_fields, config_fields = set(env_class.model_fields), set(config_class.model_fields)
    unknown = sorted(set(values) - env_fields - config_fields)
    if unknown:
        raise ConfigError(
            f"{name}_v0: unknown argument(s) {', '.join(unknown)}; env arguments: "
            f"{', '.join(sorted(env_fields))}; scenario fields: {', '.join(sorted(config_fields))}"
        )
    settings = env_class.build(f"{name}_v0", **{k: v for k, v in values.items() if k in env_fields})
    config = config_class.build(name, **{k: v for k, v in values.items() if k not in env_fields})
    return settings, config


def split_config(name: str, values: Mapping[str, Any]) -> tuple[type, EnvConfig, SwarmConfig]:
    """(model class, env arguments, scenario config) from one flat set of keyword arguments."""
    model_class = scenario_class(name)
    if not _is_drone_model(model_class):
        drone = sorted(n for n in SCENARIOS if _is_drone_model(scenario_class(n)))
        raise ConfigError(
            f"{name}: not a drone scenario, so it has no drone env here (a grid scenario's "
            f"env is envs/{name}_v0.py); drone scenarios: {', '.join(drone)}"
        )
    settings, config = split_fields(name, values, EnvConfig, model_class.config_class)
    if config.dim == 3 and not settings.continuous_actions:
        raise ConfigError(
            f"{name}_v0: continuous_actions: Discrete(5) moves in the plane (MPE's order); "
            "use True (Box actions) with dim = 3"
        )
    talks = model_class.scenario_class.message_dim > 0 and settings.inbox_slots > 0
    if talks and config.max_inbox is None:
        # the inbox keeps the nearest senders, as many as the observation has slots for
        config = config.model_copy(update={"max_inbox": settings.inbox_slots})
    return model_class, settings, config


def action_bound(config: SwarmConfig) -> float:
    """Largest acceleration component an action may ask for (m/s^2); see :mod:`swarm.marl`."""
    if np.isfinite(config.max_accel):
        return float(config.max_accel)
    return 2.0 * config.max_speed / config.dt


def _speed_bound(config: SwarmConfig) -> float:
    return max(config.max_speed, config.initial_speed)
