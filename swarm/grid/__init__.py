"""The grid world of the warehouse scenario: maps, layouts, distance fields, robots, tasks.

Modules: :mod:`~swarm.grid.maps` (League / octile formats), :mod:`~swarm.grid.layout`
(generated warehouses), :mod:`~swarm.grid.distance` (cached BFS fields, free-flow bound),
:mod:`~swarm.grid.guidance` (guidance graphs: crisscross move costs, guided fields),
:mod:`~swarm.grid.world` (state arrays, sensing, comm links, conflict-free moves),
:mod:`~swarm.grid.tasks` (League and Poisson streams), :mod:`~swarm.grid.metrics`,
:mod:`~swarm.grid.policy` (the controller base class warehouse policies derive from).
"""
