"""``warehouse_v0``: the warehouse scenario (:mod:`envs.warehouse`) as a PettingZoo environment.

Version ``v0``. A thin adapter (:mod:`swarm.grid.marl`, whose docstring details the
observation): the same grid world, map, task stream and conflict rules as
``WarehouseModel``; the learner's moves take the place of the controller. Like RWARE
(Papoudakis et al. 2021), robots see an egocentric window of robots, shelves and goals.

=================  =====================================================================
Agents             ``robot_0`` .. ``robot_{n_agents-1}``; none terminates (the task stream
                   never ends); all are truncated together after ``max_cycles`` steps
Action space       ``Discrete(5)``: 0 wait, 1 north, 2 east, 3 south, 4 west; under
                   ``motion = "rotate"`` (the League's action model) ``Discrete(4)``:
                   0 wait, 1 forward, 2 clockwise, 3 counter-clockwise. Moves into
                   shelves or walls become waits; vertex and swap conflicts are cancelled
                   by the world (all robots move at once). A non-integer, out-of-range or
                   array-valued action (any shape but ``()``), a missing or unknown agent
                   raises an error naming the agent and what is allowed; nothing is applied
Observation        ``Box(0/-1, 1, (3 s^2 + 8,), float32)``, s = 2 ``view_radius`` + 1, named
                   segments (``env.layout.view(obs, NAME)``): ``view`` (3, s, s) egocentric
                   window, channels sensed robots / shelves+walls+outside / own goal;
                   ``goal_offset`` (2,) goal minus own cell over max(H, W); ``has_task``
                   (1,); ``toward_goal`` (5,) grid moves that shorten the shortest path;
                   under ``motion = "rotate"`` also ``heading`` (4,) one-hot (east, south,
                   west, north), so ``(3 s^2 + 12,)``
State              ``pos`` (N, 2), ``goal`` (N, 2) cells as (row, col) / (H - 1, W - 1) and
                   ``has_task`` (N,) of every robot (``state_space`` is its Box)
Reward             per robot: the number of tasks it finished in this step (0 or 1: reached
                   its League task, or delivered a Poisson order); the sum over robots and
                   steps is the scenario's ``tasks_finished``
Termination        never; truncation at ``max_cycles`` (default 500)
Arguments          env: ``max_cycles``, ``view_radius`` (default 3), ``render_mode``
                   (None, "human", "rgb_array"), ``continuous_actions`` (False only;
                   accepted for parity with the drone envs); scenario: every field of
                   :class:`envs.warehouse.WarehouseConfig` (``n_agents``, ``layout``,
                   ``instance``, ``map``, ``tasks``, ``orders_rate``, ``sense_radius``, ...).
                   ``policy`` is unused: the learner acts
Seeding            ``reset(seed)`` draws starts and tasks; ``reset()`` continues the env's
                   stream, so episodes differ; a seed that is not None or an integer >= 0
                   is a ``ConfigError``
=================  =====================================================================

Example::

    from envs import warehouse_v0
    env = warehouse_v0.parallel_env(n_agents=10, max_cycles=200)     # generated layout
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)

Version history: v0, first release.
"""

from swarm.grid.marl import grid_env_module

parallel_env, raw_env, env, metadata = grid_env_module("warehouse")
