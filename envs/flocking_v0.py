"""``flocking_v0``: the flocking scenario (:mod:`envs.flocking`) as a PettingZoo environment.

Version ``v0``. A thin adapter (:mod:`swarm.marl`): the same engine, spawn and dynamics as
``FlockingModel``; the learner's actions take the place of the controller.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}``; a crashed drone terminates and
                   leaves ``agents``
Action space       ``Box(-a, a, (d,), float32)``: acceleration (m/s^2), ``a = max_accel``,
                   d = ``dim`` (2, or 3 in a cube); ``Discrete(5)`` with
                   ``continuous_actions=False`` (2-D only: no-op, -x, +x, -y, +y).
                   Out-of-space actions raise an error (or are clipped with
                   ``out_of_box="clip"``); the engine limits the norm to ``max_accel``
Observation        float32 vector of named segments (``env.layout.view(obs, NAME)``):
                   ``own_pos`` (d,) m, ``own_vel`` (d,) m/s, ``neighbor_rel_pos`` (k, d) m
                   and ``neighbor_rel_vel`` (k, d) m/s of the k = ``k_neighbors`` nearest
                   sensed drones, ``neighbor_mask`` (k,); flocking sends no messages, so no
                   inbox segments
State              ``pos`` (N, d), ``vel`` (N, d), ``alive`` (N,) of every drone
Reward             per drone: alignment (mean cosine of heading to the sensed neighbours')
                   minus cohesion (distance to their centre over ``sense_radius``; -1 when
                   alone) minus 1 per drone closer than ``collision_radius``
                   (:class:`envs.flocking.Flocking`)
Termination        a drone crashes (faults: ``crash_at``, ``crash_rate``)
Truncation         ``max_cycles`` steps (default 100)
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: every field of
                   :class:`envs.flocking.FlockingConfig` (``n_agents``, ``world_size``, ...)
=================  =====================================================================

Example::

    from envs import flocking_v0
    env = flocking_v0.parallel_env(n_agents=10, world_size=15, max_cycles=200)
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)

Version history: v0, first release.
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("flocking")
