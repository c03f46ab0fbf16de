"""``crossing_v0``: the antipodal crossing (:mod:`envs.crossing`) as a PettingZoo env.

Version ``v0``. A thin adapter (:mod:`swarm.marl`, whose docstring documents the spaces):
the same engine, ring (sphere, ``dim=3``) spawn and goals as the Mesa model; the learners'
accelerations take the place of the controller. With ``safety="orca"`` they fly behind the
same safety layer as the Mesa model's controllers (:func:`swarm.safety.shielded_actions`), so
a policy can be trained and evaluated with or without it.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}`` (default 100); a crashed drone
                   terminates
Action space       ``Box(-a, a, (dim,), float32)`` acceleration (m/s^2), ``a = max_accel``
                   (``2 max_speed / dt`` for the default kinematic drones);
                   ``Discrete(5)`` with ``continuous_actions=False`` (2-D only)
Observation        the engine's segments (own position and velocity, the nearest sensed
                   drones), plus ``goal_rel_pos`` (dim,): the own goal relative to the own
                   position (m)
State              ``pos`` (N, dim), ``vel`` (N, dim), ``alive`` (N,), ``goals`` (N, dim)
Reward             metres gained toward the own goal in the step, minus one per drone it
                   came closer than ``collision_radius`` to during the step
Termination        a drone crashes (faults); truncation at ``max_cycles``
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: the fields of
                   :class:`envs.crossing.CrossingConfig` (``n_agents``, ``world_size``,
                   ``safety``, ``safety_horizon``, ...)
=================  =====================================================================

Version history: v0, first release; ``dim=3`` (a sphere in a cube) came later, the 2-D env
unchanged.
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("crossing")
