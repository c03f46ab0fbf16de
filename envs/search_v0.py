"""``search_v0``: the search and rescue scenario (:mod:`envs.search`) as a PettingZoo environment.

Version ``v0``. A thin adapter (:mod:`swarm.marl`, whose docstring documents the spaces):
the same engine and spawn as the Mesa model; the learner's accelerations take the place of
the controller.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}``; a crashed drone terminates
Action space       ``Box(-a, a, (d,), float32)`` acceleration (m/s^2), d = ``dim`` (2, or 3
                   in a volume); ``Discrete(5)`` with ``continuous_actions=False`` (2-D only)
Observation        ``own_pos``, ``own_vel``, ``neighbor_rel_pos``, ``neighbor_rel_vel``,
                   ``neighbor_mask`` (see :mod:`swarm.marl`); the scenario defines no task
                   segments yet
State              ``pos`` (N, d), ``vel`` (N, d), ``alive`` (N,)
Reward             the number of targets of the drone's environment found this step,
                   shared by its drones (each target pays once, when ``fraction_found``
                   of :mod:`envs.search` rises)
Termination        a drone crashes; truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.search.SearchConfig`
=================  =====================================================================

Version history: v0, first release (the reward was added within v0, before any
trained results were published).
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("search")
