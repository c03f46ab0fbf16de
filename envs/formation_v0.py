"""``formation_v0``: the formation scenario (:mod:`envs.formation`) as a PettingZoo
environment.

Version ``v0``. A thin adapter (:mod:`swarm.marl`, whose docstring documents the spaces):
the same engine and spawn as the Mesa model; the learner's accelerations take the place of
the controller.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}``; a crashed drone terminates
Action space       ``Box(-a, a, (dim,), float32)`` acceleration (m/s^2), ``dim`` = 2 or 3
                   (3-D shapes: ``sphere``, ``cube``, ``helix``); ``Discrete(5)`` with
                   ``continuous_actions=False`` (in the plane only)
Observation        ``own_pos``, ``own_vel``, ``neighbor_rel_pos``, ``neighbor_rel_vel``,
                   ``neighbor_mask`` (see :mod:`swarm.marl`); the scenario defines no task
                   segments yet
State              ``pos`` (N, dim), ``vel`` (N, dim), ``alive`` (N,)
Reward             0: the scenario defines no reward hook yet (``Scenario.reward``); its
                   metrics are in :mod:`envs.formation`
Termination        a drone crashes; truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.formation.FormationConfig`
=================  =====================================================================

Version history: v0, first release (API only; a learning reward is still to come).
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("formation")
