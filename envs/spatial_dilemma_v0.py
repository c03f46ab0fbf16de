"""``spatial_dilemma_v0``: the spatial prisoner's dilemma (:mod:`envs.spatial_dilemma`) as a
PettingZoo environment.

Version ``v0``. A thin adapter (:mod:`swarm.marl`, whose docstring documents the spaces):
the same engine and spawn as the Mesa model; the learner's accelerations take the place of
the controller, and no one imitates: each drone keeps the strategy it was given at spawn,
so what a learner can change is whom it plays, by moving.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}``; a crashed drone terminates
Action space       ``Box(-a, a, (2,), float32)`` acceleration (m/s^2); ``Discrete(5)`` with
                   ``continuous_actions=False``
Observation        ``own_pos``, ``own_vel``, ``neighbor_rel_pos``, ``neighbor_rel_vel``,
                   ``neighbor_mask`` (see :mod:`swarm.marl`), ``strategy`` (own: 1
                   cooperate, 0 defect), and the strategies its comm neighbours broadcast
                   (``inbox``, ``inbox_mask``)
State              ``pos`` (N, 2), ``vel`` (N, 2), ``alive`` (N,)
Reward             the drone's payoff after the step: one prisoner's dilemma with each
                   current comm neighbour and one with itself (R = 1, T = ``b``,
                   S = P = 0)
Termination        a drone crashes; truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.spatial_dilemma.SpatialDilemmaConfig`
=================  =====================================================================

Version history: v0, first release.
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("spatial_dilemma")
