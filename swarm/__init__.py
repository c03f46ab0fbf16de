"""swarm: a sandbox for decentralised multi-agent coordination.

Drones (and warehouse robots) that coordinate with only local sensing and only local
communication along the edges of a networkx graph. The public pieces:

* :class:`~swarm.model.SwarmModel`, :class:`~swarm.model.Drone`: the Mesa view;
* :class:`~swarm.engine.SwarmConfig`, :class:`~swarm.engine.Swarm`: the vectorised engine;
* :class:`~swarm.policy.Policy`, :class:`~swarm.observation.LocalObservation`: the controller
  slot and what a controller may see;
* :class:`~swarm.scenario.Scenario`: the task hooks a scenario module in ``envs/`` defines;
* :mod:`swarm.registry`: the one registry of scenarios and policies.
"""

from swarm.engine import Swarm, SwarmConfig
from swarm.model import Drone, SwarmModel
from swarm.observation import AgentObservation, LocalObservation
from swarm.policy import Policy
from swarm.scenario import Scenario

__all__ = [
    "AgentObservation",
    "Drone",
    "LocalObservation",
    "Policy",
    "Scenario",
    "Swarm",
    "SwarmConfig",
    "SwarmModel",
]
