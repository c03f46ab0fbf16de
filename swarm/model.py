"""The Mesa view of the engine: ``SwarmModel`` and its ``Drone`` handles.

``SwarmModel`` is a ``mesa.Model``: ``model.agents`` is Mesa's AgentSet, a ``DataCollector``
records the scenario's metrics every step, and ``mesa.batch_run`` runs it. The state itself
lives in the engine's arrays; a ``Drone`` is a handle whose attributes read and write its
row, so the Mesa view and the arrays cannot drift apart.

Handles are created on first access of ``model.agents``: a million-drone run that never
asks for them pays nothing for them.

The slow, readable path: subclass ``Drone`` with a ``decide(self, obs)`` method that maps one
agent's :class:`~swarm.observation.AgentObservation` to its action, and pass
``agent_class=YourDrone``; the model then asks each agent in turn (on the same sensed state,
then everyone moves).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import mesa
import networkx as nx
import numpy as np
from mesa.agent import AgentSet

from swarm.engine import Swarm, SwarmConfig
from swarm.observation import AgentObservation, LocalObservation
from swarm.policy import Decision, PerAgentPolicy, Policy
from swarm.registry import SCENARIOS, check_policy_fits, policy_class
from swarm.safety import SAFETY_METRICS, SafePolicy, shielded, shielded_actions
from swarm.scenario import Scenario
from swarm.scenario_model import ScenarioModel


class Drone(mesa.Agent):
    """A handle on one row of the engine's arrays."""

    def __init__(self, model: SwarmModel, row: int):
        self.row = row
        super().__init__(model)

    @property
    def pos(self) -> np.ndarray:
        """(dim,) position (m): x, y (and altitude z with ``dim = 3``); a copy: assign
        ``drone.pos = ...`` to move the drone."""
        return self.model.engine.pos[self.row].copy()

    @pos.setter
    def pos(self, value: Any) -> None:
        if value is None:  # Mesa's Agent.__init__ resets pos; the row already holds it
            return
        engine = self.model.engine
        new = np.asarray(value, dtype=np.float64)
        if new.shape != (engine.dim,) or not np.isfinite(new).all():
            raise ValueError(
                f"drone {self.row}: pos must be {engine.dim} finite numbers, got {value!r}"
            )
        if not (0 <= new.min() and new.max() <= engine.config.world_size):
            raise ValueError(
                f"drone {self.row}: pos {new.tolist()} is outside the arena "
                f"[0, {engine.config.world_size}]"
            )
        engine.pos[self.row] = new
        engine.invalidate()

    @property
    def vel(self) -> np.ndarray:
        """(dim,) velocity (m/s); a copy: assign ``drone.vel = ...`` to change it."""
        return self.model.engine.vel[self.row].copy()

    @vel.setter
    def vel(self, value: Any) -> None:
        new = np.asarray(value, dtype=np.float64)
        dim = self.model.engine.dim
        if new.shape != (dim,) or not np.isfinite(new).all():
            raise ValueError(f"drone {self.row}: vel must be {dim} finite numbers, got {value!r}")
        self.model.engine.vel[self.row] = new
        self.model.engine.invalidate()

    @property
    def alive(self) -> bool:
        return bool(self.model.engine.alive[self.row])

    def crash(self) -> None:
        """Crash this drone now: it stops, senses nothing and leaves the comm graph."""
        self.model.engine.crash([self.row])

    @property
    def observation(self) -> AgentObservation:
        """This drone's local observation of the current state."""
        return self.model.observe().for_agent(self.row)

    @property
    def neighbors(self) -> list[Drone]:
        """Drones this one senses now."""
        handles = self.model.drones
        return [handles[j] for j in self.model.engine.obs.neighbors.neighbors_of(self.row)]

    @property
    def comm_neighbors(self) -> list[Drone]:
        """Drones this one can talk to now (its neighbours in ``model.comm_graph``)."""
        handles = self.model.drones
        self.model.engine.obs  # noqa: B018 - sense first if the state was edited
        return [handles[j] for j in self.model.engine.links.neighbors_of(self.row)]

    @property
    def inbox(self) -> tuple[np.ndarray, np.ndarray]:
        """(senders, messages) received this step."""
        return self.model.observe().inbox.of(self.row)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(row={self.row}, pos={self.pos.tolist()})"


class SwarmModel(ScenarioModel):
    """Mesa model over the swarm engine. Subclasses set ``scenario_class`` and ``config_class``.

    Args:
        rng: seed (or Generator) for the run's one random generator: it feeds the spawn,
            noise, packet drops, faults, networkx generators, the policy and Mesa itself.
        agent_class: a ``Drone`` subclass; if it defines ``decide``, it controls the drones
            (the per-agent path) instead of the configured policy.
        **config: fields of ``config_class`` (see its docstring, or ``swarm run NAME --help``).
    """

    scenario_class: ClassVar[type[Scenario]] = Scenario
    config_class: ClassVar[type[SwarmConfig]] = SwarmConfig
    name: ClassVar[str] = "swarm"

    def __init__(self, rng: Any = None, agent_class: type[Drone] = Drone, **config: Any):
        super().__init__(rng, config)
        if not hasattr(agent_class, "decide") and self.name in SCENARIOS:
            check_policy_fits(self.name, self.config.policy)
        self.scenario = self.scenario_class(self.config)
        self.engine = Swarm(self.config, self.rng, scenario=self.scenario)
        self.agent_class = agent_class
        self._drones: list[Drone] | None = None
        self.policy = self._make_policy()
        self.engine.open_channel(max(self.config.message_dim, self.policy.message_dim))
        self.scenario.spawn(self.engine, np.arange(self.engine.rows), self.rng)
        self.engine.leave_obstacles(np.arange(self.engine.rows))
        self.engine.reset_faults()
        self.engine.sense()
        self._metrics_at = -1
        self._metrics: dict[str, float] = {}
        names = self.scenario.metric_names()
        # with a safety layer every scenario reports how much it intervened
        self._safety_metrics = (
            [k for k in SAFETY_METRICS if k not in names] if self.config.safety != "none" else []
        )
        self.start_metrics(names + self._safety_metrics)

    @property
    def policy(self) -> Policy:
        """The controller in the slot: behind the safety layer when the config asks for one
        (``safety``), whoever puts it there (the model, a learned policy, the audit)."""
        return self._policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self._policy = shielded(policy, self.config)

    def _make_policy(self) -> Policy:
        if hasattr(self.agent_class, "decide"):
            return PerAgentPolicy(
                self.drones,
                action_kind=getattr(self.agent_class, "action_kind", "acceleration"),
                message_dim=getattr(self.agent_class, "message_dim", 0),
            )
        cls = policy_class(self.config.policy)
        params = cls.Params.build(
            f"policy_params ({self.config.policy})", **self.config.policy_params
        )
        return cls(params, seed=self.engine.policy_seed)

    # ----------------------------------------------------------------- Mesa views
    @property
    def drones(self) -> list[Drone]:
        """Handles by row (``drones[i]`` is row i); created on first use."""
        if self._drones is None:
            self._drones = [self.agent_class(self, row) for row in range(self.engine.rows)]
        return self._drones

    @property
    def agents(self) -> AgentSet:
        """Mesa's AgentSet of the drones, in row order."""
        self.drones  # noqa: B018 - make the handles on first access
        return super().agents

    @property
    def comm_graph(self) -> nx.Graph:
        """The current communication links as a ``networkx.Graph`` on alive rows."""
        self.engine.obs  # noqa: B018 - sense first if the state was edited
        return self.engine.graph_view.graph()

    def observe(self) -> LocalObservation:
        """The batch of local observations of the current state (does not advance the model;
        the engine senses again after each move)."""
        return self.engine.obs

    @property
    def metrics(self) -> dict[str, float]:
        """The scenario's metrics for the current state."""
        self.engine.obs  # noqa: B018 - sense first if the state was edited
        key = self.engine.version
        if key != self._metrics_at:
            values = self.scenario.metrics(self.engine)
            values.update({k: SAFETY_METRICS[k](self.engine) for k in self._safety_metrics})
            self._metrics = {k: float(v[0]) for k, v in values.items()}
            self._metrics_at = key
        return self._metrics

    # ----------------------------------------------------------------- stepping
    def decide(self, obs: LocalObservation) -> Decision:
        return self.policy.decide(obs, self.engine.channel is not None)

    def apply(
        self, obs: LocalObservation | None, decision: Decision, controller: bool = True
    ) -> None:
        """Everyone moves at once, senses again; the metrics row is recorded."""
        if not controller and self.config.safety != "none":
            # actions chosen outside the model (step_with) fly behind the layer too
            actions = self.engine.check_actions(decision.actions)
            actions, self.engine.intervention = shielded_actions(
                self.engine.obs, actions, self.config
            )
            decision = replace(decision, actions=actions)
        held = [obs]
        del obs  # apply_decision drops the last reference before it senses again
        policy = self.policy if controller else None
        self.engine.apply_decision(held.pop(), decision, policy)
        if isinstance(policy, SafePolicy):  # what the layer changed, for the metrics
            self.engine.intervention = policy.intervention
        self.record()

    def crash(self, rows: list[int]) -> None:
        """Crash these drones now (fault injection from code or the viewer)."""
        self.engine.crash(rows)
