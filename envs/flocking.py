"""Flocking: drones that align and stay together using only what they sense nearby.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones (double integrators, max speed and acceleration)
Arena              square of side ``world_size``; ``torus`` (wraps) or ``box`` (reflecting);
                   with ``dim = 3`` a cube of that side (the box's floor and ceiling are
                   the altitude limits), spawn uniform in it with headings uniform on the
                   sphere; 3-D controllers: boids, olfati_saber, random_walk
Sensing            neighbours within ``sense_radius`` (optional ``fov_deg``, Gaussian noise)
Communication      links by ``comm_model`` (range / knn / fixed graph), drops, delay, caps
Default policy     ``boids`` (Reynolds 1987); also ``vicsek``, ``olfati_saber``
Metrics            polarization (Vicsek's order parameter), cohesion (mean distance to the
                   centroid, m), min_separation (m, capped at the sensing radius),
                   collisions (pairs closer than ``collision_radius``), n_components of the
                   comm graph, n_alive; algebraic_connectivity on request
=================  =====================================================================

Reward (the PettingZoo env ``envs.flocking_v0`` and the batched env), per drone i with
sensed neighbours ``N_i`` (true state, not the noisy reading):

    r_i = ALIGNMENT_WEIGHT * mean_{j in N_i} cos(theta_i - theta_j)
        - COHESION_WEIGHT * |mean_{j in N_i} (p_j - p_i)| / sense_radius
        - COLLISION_PENALTY * #{j : |p_j - p_i| < collision_radius}

A drone that senses nobody gets ``-COHESION_WEIGHT`` (alignment 0, cohesion at its worst):
the reward pays for flying with the others, in step with them (Reynolds' alignment and
cohesion rules, 1987, as rewards), without touching. Headings of drones at rest count as 0.
Episodes end at ``max_cycles`` (truncation); a crashed drone terminates.

Arguments are the fields of :class:`FlockingConfig` (all of :class:`~swarm.engine.SwarmConfig`)
plus ``rng`` (the seed). Example::

    from envs.flocking import FlockingModel
    model = FlockingModel(n_agents=500, world_size=60, policy="vicsek", rng=1)
    for _ in range(200):
        model.step()
    model.datacollector.get_model_vars_dataframe().tail()
"""

from __future__ import annotations

import numpy as np

from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.scenario import Scenario, collision_counts


class FlockingConfig(SwarmConfig):
    """Flocking uses the engine's settings as they are; see :class:`SwarmConfig`."""

    dims = (2, 3)  # flies in the plane or in a cube (spawn below; the metrics are any-dim)


class Flocking(Scenario):
    """Spawn uniformly with random headings; report the flocking metrics."""

    name = "flocking"
    ALIGNMENT_WEIGHT = 1.0  # reward for moving like the neighbours (mean cosine, in [-1, 1])
    COHESION_WEIGHT = 1.0  # penalty per sensing radius between a drone and its neighbours' centre
    COLLISION_PENALTY = 1.0  # per neighbour closer than collision_radius

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) alignment + cohesion - collisions (see the module docstring)."""
        engine.obs  # noqa: B018 - sense first if the state was edited
        table = engine.neighbors
        count = table.counts.astype(np.float64)
        speed = np.sqrt((engine.vel**2).sum(axis=1))
        heading = engine.vel / np.maximum(speed, 1e-12)[:, None]  # 0 for drones at rest
        cosines = (heading[table.owner] * heading[table.idx]).sum(axis=1)
        has = count > 0
        alignment = np.where(has, table.segment_sum(cosines) / np.maximum(count, 1.0), 0.0)
        centre = table.segment_sum(table.rel_pos) / np.maximum(count, 1.0)[:, None]
        offset = np.sqrt((centre**2).sum(axis=1)) / self.config.sense_radius
        cohesion = np.where(has, -offset, -1.0)
        reward = (
            self.ALIGNMENT_WEIGHT * alignment
            + self.COHESION_WEIGHT * cohesion
            - self.COLLISION_PENALTY * collision_counts(engine)
        )
        return np.where(engine.alive, reward, 0.0)


class FlockingModel(SwarmModel):
    """Mesa model of the flocking scenario (see the module docstring)."""

    name = "flocking"
    scenario_class = Flocking
    config_class = FlockingConfig
