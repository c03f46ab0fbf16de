"""``pursuit_v0``: the pursuit–evasion game (:mod:`envs.pursuit`) as a PettingZoo environment.

Version ``v0``. A thin adapter (:mod:`swarm.marl`, whose docstring documents the spaces):
the same engine, teams and spawn as the Mesa model; the learners' accelerations take the
place of both teams' controllers.

=================  =====================================================================
Agents             ``pursuer_0`` .. ``pursuer_{P-1}``, then ``evader_0`` ..
                   ``evader_{E-1}`` (``P = pursuers``, ``E = n_agents - pursuers``); a
                   caught evader terminates
Action space       ``Box(-a, a, (d,), float32)`` acceleration (m/s^2), d = ``dim`` (2, or 3
                   in a cube), one bound for both kinds (that of the faster team; each
                   team's own top speed still limits it); ``Discrete(5)`` with
                   ``continuous_actions=False`` (2-D only)
Observation        the engine's segments (own position and velocity, the nearest sensed
                   agents), plus ``own_team``, ``nearest_pursuer``, ``sees_pursuer``,
                   ``nearest_evader``, ``sees_evader``: the same layout for both kinds
State              ``pos`` (N, d), ``vel`` (N, d), ``alive`` (N,), ``team`` (N,): global,
                   for either team's centralised critic (as mpe2's ``simple_tag``);
                   ``swarm train pursuit`` trains one policy per team on it (self-play)
Reward             a pursuer: +1 for every capture in the step, shared by its team; an
                   evader: -1 in the step it is caught; with ``shaping`` also minus (pursuer)
                   or plus (evader) ``shaping`` x the distance to the nearest opponent /
                   ``world_size`` per step
Termination        an evader is caught; truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.pursuit.PursuitConfig`
=================  =====================================================================

Version history: v0, first release.
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("pursuit")
