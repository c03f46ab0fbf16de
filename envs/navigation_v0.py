"""``navigation_v0``: cooperative navigation (:mod:`envs.navigation`) as a PettingZoo env,
the local-observation counterpart of MPE's ``simple_spread_v3``.

Version ``v0``. A thin adapter (:mod:`swarm.marl`) over the engine ``NavigationModel`` uses.

=================  =====================================================================
Agents             ``drone_0`` .. ``drone_{n_agents-1}`` (default 3); a crashed drone
                   terminates and leaves ``agents``
Action space       ``Box(-a, a, (dim,), float32)``: acceleration (m/s^2), ``a = max_accel``
                   (default 3), ``dim`` = 2 or 3; ``Discrete(5)`` with
                   ``continuous_actions=False`` in the plane only (no-op, -x, +x, -y, +y, as
                   MPE). Out-of-space actions raise an error (or are clipped with
                   ``out_of_box="clip"``)
Observation        float32 vector of named segments (``env.layout.view(obs, NAME)``):
                   ``own_pos`` (dim,) m, ``own_vel`` (dim,) m/s; ``neighbor_rel_pos``
                   (k, dim), ``neighbor_rel_vel`` (k, dim), ``neighbor_mask`` (k,) of the
                   k = ``k_neighbors`` nearest sensed drones; ``inbox`` (m, dim + 2): what
                   the m = ``inbox_slots`` nearest comm-graph neighbours sent last step,
                   each the landmark nearest to that neighbour relative to me (m, dim), the
                   neighbour's distance to it (m) and a seen flag; ``inbox_mask`` (m,);
                   ``landmark_rel_pos`` (landmark_slots, dim) m and ``landmark_mask``
                   (landmark_slots,) of the landmarks within ``landmark_range``, nearest
                   first (dim = 2, or 3 with ``dim = 3``: a cube, landmarks uniform in it)
State              ``pos`` (N, dim), ``vel`` (N, dim), ``alive`` (N,), ``landmarks``
                   (L, dim)
Reward             ``(1 - local_ratio) * global + local_ratio * local``; global = minus the
                   sum over landmarks of the distance to the nearest alive drone (shared),
                   local = minus the drone's collisions (``local_ratio`` 0.5, as
                   simple_spread_v3)
Termination        a drone crashes (faults); the task itself never terminates (as MPE)
Truncation         ``max_cycles`` steps (default 100)
Arguments          env: ``max_cycles``, ``continuous_actions``, ``k_neighbors``,
                   ``inbox_slots``, ``out_of_box``, ``render_mode``; scenario: every field of
                   :class:`envs.navigation.NavigationConfig` (``n_agents``,
                   ``n_landmarks``, ``landmark_range``, ``landmark_slots``, ``local_ratio``,
                   ``world_size``, ``dim``, ...)
=================  =====================================================================

Example::

    from envs import navigation_v0
    env = navigation_v0.parallel_env(n_agents=3, max_cycles=25)
    obs, infos = env.reset(seed=0)
    env.layout.view(obs["drone_0"], "landmark_rel_pos")  # (landmark_slots, 2)

Version history: v0, first release; ``dim = 3`` (a cube) added without changing the 2-D
env.
"""

from swarm.marl import env_module

parallel_env, raw_env, env, metadata = env_module("navigation")
