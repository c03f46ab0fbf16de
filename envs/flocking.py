"""Flocking: drones that align and stay together using only what they sense nearby.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones (double integrators, max speed and acceleration)
Arena              square of side ``world_size``; ``torus`` (wraps) or ``box`` (reflecting)
Sensing            neighbours within ``sense_radius`` (optional ``fov_deg``, Gaussian noise)
Communication      links by ``comm_model`` (range / knn / fixed graph), drops, delay, caps
Default policy     ``boids`` (Reynolds 1987); also ``vicsek``, ``olfati_saber``
Metrics            polarization (Vicsek's order parameter), cohesion (mean distance to the
                   centroid, m), min_separation (m, capped at the sensing radius),
                   collisions (pairs closer than ``collision_radius``), n_components of the
                   comm graph, n_alive; algebraic_connectivity on request
=================  =====================================================================

Arguments are the fields of :class:`FlockingConfig` (all of :class:`~swarm.engine.SwarmConfig`)
plus ``rng`` (the seed). Example::

    from envs.flocking import FlockingModel
    model = FlockingModel(n_agents=500, world_size=60, policy="vicsek", rng=1)
    for _ in range(200):
        model.step()
    model.datacollector.get_model_vars_dataframe().tail()
"""

from __future__ import annotations

from swarm.engine import SwarmConfig
from swarm.model import SwarmModel
from swarm.scenario import Scenario


class FlockingConfig(SwarmConfig):
    """Flocking uses the engine's settings as they are; see :class:`SwarmConfig`."""


class Flocking(Scenario):
    """Spawn uniformly with random headings; report the flocking metrics."""

    name = "flocking"


class FlockingModel(SwarmModel):
    """Mesa model of the flocking scenario (see the module docstring)."""

    name = "flocking"
    scenario_class = Flocking
    config_class = FlockingConfig
