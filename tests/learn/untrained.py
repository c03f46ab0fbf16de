"""Untrained learned policies whose weights spread like a trained actor's (N(0, 0.5)), what
the locality audits fly: one place for the recipe."""

from __future__ import annotations

from typing import Any

import torch

from swarm.learn.nets import ActorCritic, NetSpec
from swarm.learn.policy import LearnedPolicy
from swarm.marl import observation_encoder


def untrained_policy(
    scenario: str, env_config: dict[str, Any], actor: str = "mlp", seed: int = 0,
    limit: float = 3.0,
) -> LearnedPolicy:  # fmt: skip
    """A shared-parameter actor (``mlp`` or ``gnn``, 16 hidden units, planar accelerations
    within +-``limit``) on ``scenario``'s encoder for ``env_config``, seeded by ``seed``."""
    encode = observation_encoder(scenario, **env_config)
    torch.manual_seed(seed)
    spec = NetSpec(obs_dim=encode.obs_dim, act_dim=2, hidden=16, actor=actor,
                   action_low=[-limit, -limit], action_high=[limit, limit])  # fmt: skip
    model = ActorCritic(spec)
    for p in model.actor.parameters():
        p.data.normal_(0, 0.5)
    return LearnedPolicy(model, encode, scenario=scenario, env_config=env_config)
