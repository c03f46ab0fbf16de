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
                   ``neighbor_mask`` (see :mod:`swarm.marl`); the task's ``slot_error``
                   (dim,) m, the mean of ``(p_j - p_i) - (p*_j - p*_i)`` over the sensed
                   neighbours holding a slot, ``slot_peers`` (1,) how many, ``slot_held``
                   (1,) 1 if the drone holds a slot (:class:`envs.formation.Formation`)
State              ``pos`` (N, dim), ``vel`` (N, dim), ``alive`` (N,)
Reward             per drone holding a slot: minus its mean displacement error to those
                   neighbours over ``sense_radius`` (capped at 1), minus 1 per drone closer
                   than ``collision_radius``; -1 without a slot or a slot-holding neighbour
                   in sight (:class:`envs.formation.Formation`). Train with
                   ``assignment="spawn"`` (slots given at take-off): with the default
                   ``"auction"`` the slots are the classic controller's to win, and a
                   learned actor's drones hold none
Termination        a drone crashes; truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.formation.FormationConfig`
=================  =====================================================================

Example::

    from envs import formation_v0
    env = formation_v0.parallel_env(n_agents=16, world_size=8, spawn_extent=6,
                                    assignment="spawn", max_accel=6.0, max_cycles=50)
    obs, infos = env.reset(seed=0)

Version history: v0, first release (API only); the reward, the ``slot_*`` observation
segments and ``assignment="spawn"`` were added within v0, before any trained results were
published (the default ``"auction"`` env is otherwise unchanged).
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("formation")
