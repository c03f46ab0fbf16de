"""PettingZoo and batched environments over the engine: one adapter for every scenario.

The env is a thin view of the same engine the Mesa model steps (:class:`~swarm.engine.Swarm`):
the scenario spawns, the engine senses, moves, carries messages and applies faults, and the
scenario's hooks (:mod:`swarm.scenario`) give the task's observation features, reward and
termination. Nothing here re-implements physics or sensing.

* :class:`SwarmParallelEnv` is a ``pettingzoo.ParallelEnv`` (one arena, ``n_envs = 1``);
  the AEC env is derived from it with PettingZoo's own ``parallel_to_aec`` conversion.
* :class:`BatchedSwarmEnv` steps E arenas x N drones in one engine call, on arrays, with
  auto-reset. Both run :class:`~swarm.marl.core._Core`, so with E = 1, the same seed and the
  same actions they give identical observations and rewards (tested), across episode
  boundaries too.

One module per concern (this package re-exports the public names):

* :mod:`swarm.marl.encoding`: :class:`Layout` (a vector as named segments), the observation
  function :class:`ObservationEncoder` with its compiled kernels, and the state's layout;
* :mod:`swarm.marl.actions`: the action checks (discrete indices, ``reset`` seeds, the
  compiled screen of Box actions, the AEC env that checks each action at its turn);
* :mod:`swarm.marl.config`: :class:`EnvConfig` and the split of an env's keyword arguments
  into env and scenario config; the action bound;
* :mod:`swarm.marl.core`: the one step both envs run;
* :mod:`swarm.marl.parallel`: :class:`SwarmParallelEnv`, the PettingZoo env;
* :mod:`swarm.marl.batched`: :class:`BatchedSwarmEnv`;
* this package: the ``envs/<name>_v0.py`` constructors (:func:`env_module`,
  :func:`pettingzoo_module`) and :func:`observation_encoder`.

Observation of drone i: one flat float32 vector, a concatenation of named segments
(:class:`Layout`; read them back with ``layout.view(obs, "neighbor_rel_pos")``, never by
position), computed only from i's local observation (the locality contract):

=================  ==============  =====================================================
``own_pos``        (d,)            own position (m; GPS-like, in [0, world_size])
``own_vel``        (d,)            own velocity (m/s)
``neighbor_rel_pos`` (k, d)        the k = ``k_neighbors`` nearest sensed drones,
                                   position relative to own (m), nearest first
``neighbor_rel_vel`` (k, d)        their velocity relative to own (m/s)
``neighbor_mask``  (k,)            1 where the slot holds a sensed drone, else 0
``inbox``          (m, F)          m = ``inbox_slots`` messages received from comm-graph
                                   neighbours (the nearest senders), as the scenario reads
                                   them (only for scenarios that send messages)
``inbox_mask``     (m,)            1 where the slot holds a message
task segments      scenario's      ``Scenario.observation_segments()`` (e.g. landmarks)
=================  ==============  =====================================================

d is the scenario's ``dim``: 2, or 3 (x, y, altitude z) where it flies in a cube.
With ``frame="body"`` there is no ``own_pos``, and every vector (own velocity, neighbours,
marked task and message vectors) is on the drone's own axes: x along its horizontal
velocity, z up (world axes while it hovers); actions are then given on those axes too and
turned back to the world's before the engine applies them (:mod:`swarm.marl.encoding`).
Empty slots and crashed drones read 0. Values are clipped to the segment's range (a noisy
sensor saturates), so every observation lies in ``observation_space``.

Actions: continuous acceleration (m/s^2), a ``Box`` ``[-a, a]^d`` with ``a = max_accel`` (or
``2 max_speed / dt`` for kinematic drones, ``max_accel = inf``: enough to reverse at full
speed in one step); the engine then limits the norm to ``max_accel``, so corners of the
square (cube) are scaled down onto the disc (ball). With ``continuous_actions=False`` (2-D
only): ``Discrete(5)``, MPE's order: 0 no-op, 1 -x, 2 +x, 3 -y, 4 +y, each at acceleration
``a``. Out-of-space
actions are rejected with an error naming the agent (``out_of_box="reject"``, the default)
or clipped to the box (``out_of_box="clip"``); wrong keys, shapes, types and NaN are always
rejected, and nothing is applied unless every action is valid. The scenario's broadcast is
checked alike before the channel carries it ((R, message_dim), finite for live drones), and
``reset(seed)`` takes None or an integer >= 0 only.

State (centralised critics): every drone's position (m), velocity (m/s) and alive flag, then
the scenario's ``state_segments()``; ``state_space`` is its Box.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.wrappers import OrderEnforcingWrapper

from swarm.config import ConfigError
from swarm.marl.actions import CheckedAECEnv, check_reset_seed, discrete_action, discrete_actions
from swarm.marl.batched import BatchedSwarmEnv
from swarm.marl.config import EnvConfig, split_config, split_fields
from swarm.marl.encoding import Layout, ObservationEncoder
from swarm.marl.parallel import NamedAgents, SwarmParallelEnv, env_metadata
from swarm.registry import SCENARIOS

__all__ = [
    "BatchedSwarmEnv",
    "EnvConfig",
    "EnvModule",
    "Layout",
    "NamedAgents",
    "ObservationEncoder",
    "SwarmParallelEnv",
    "check_reset_seed",
    "discrete_action",
    "discrete_actions",
    "env_module",
    "observation_encoder",
    "pettingzoo_module",
    "split_fields",
]


class EnvModule(NamedTuple):
    """What an ``envs/<name>_v0.py`` module exposes, made for one scenario."""

    parallel_env: Callable[..., ParallelEnv]
    raw_env: Callable[..., AECEnv]
    env: Callable[..., AECEnv]
    metadata: dict[str, Any]


def pettingzoo_module(
    name: str, parallel_class: type[ParallelEnv], metadata: dict[str, Any], config_doc: str
) -> EnvModule:
    """PettingZoo's module convention for scenario ``name`` over one parallel env class (the
    drones' :class:`SwarmParallelEnv` or the grid robots' env): the AEC env is derived from
    it, checking each action at its turn (:class:`CheckedAECEnv`)."""
    if name not in SCENARIOS:
        raise ConfigError(f"scenario: unknown {name!r}; allowed: {', '.join(sorted(SCENARIOS))}")

    def parallel_env(render_mode: str | None = None, **config: Any) -> ParallelEnv:
        return parallel_class(name, render_mode=render_mode, **config)

    def raw_env(render_mode: str | None = None, **config: Any) -> AECEnv:
        return CheckedAECEnv(parallel_env(render_mode=render_mode, **config))

    def env(render_mode: str | None = None, **config: Any) -> AECEnv:
        return OrderEnforcingWrapper(raw_env(render_mode=render_mode, **config))

    parallel_env.__doc__ = f"The {name} scenario as a PettingZoo ParallelEnv (keyword args: "
    parallel_env.__doc__ += f"{config_doc} fields and the scenario config's fields)."
    raw_env.__doc__ = f"The {name} scenario as an AEC env derived from the parallel env."
    env.__doc__ = f"The {name} AEC env with PettingZoo's order-enforcing wrapper."
    return EnvModule(parallel_env, raw_env, env, metadata)


def env_module(name: str) -> EnvModule:
    """The PettingZoo constructors of drone scenario ``name``."""
    return pettingzoo_module(name, SwarmParallelEnv, env_metadata(name), "EnvConfig")


def observation_encoder(scenario: str, **config: Any) -> ObservationEncoder:
    """The observation function of scenario ``scenario``'s envs for these arguments: a
    learned controller in the Mesa model reads exactly what it was trained on."""
    model_class, settings, cfg = split_config(scenario, config)
    return ObservationEncoder(model_class.scenario_class(cfg), settings)
