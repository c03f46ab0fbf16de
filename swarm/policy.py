"""The controller slot: a function from a batch of local observations to a batch of actions.

Classic controllers and learned policies plug in here the same way. A policy:

* declares ``action_kind``: ``"acceleration"`` (m/s^2, the drone's input) or ``"velocity"``
  (a desired velocity, tracked within the acceleration limit);
* takes typed parameters (``Params``, a :class:`~swarm.config.StrictConfig`);
* is a pure function of the observation: ``policy(obs)`` never advances the model and
  returns the same actions when called twice. Stochastic controllers draw their noise from a
  keyed stream of (seed, step, row), so calling them is repeatable too.

One call, one step: :meth:`Policy.decide` returns the step's whole :class:`Decision`
(actions, the message to broadcast, engine-carried state updates, new memory), so a
controller whose outputs share one computation (an auction) computes it once. The default
``decide`` asks the separate hooks ``act``, ``broadcast`` and ``next_state``, so a controller
written as those works unchanged.

Per-agent memory, where a controller needs it, lives in arrays on the policy object, one row
per agent, named in ``memory_fields``. ``decide`` returns its new values (``memory``) and the
model stores them once it applies the step (:meth:`Policy.remember`); ``decide`` itself
never changes the controller. (The older hook :meth:`Policy.commit` is still called.) Agent
identity comes from ``obs.ids`` (noise streams, ids in messages), never from a position in
the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from swarm.config import StrictConfig

if TYPE_CHECKING:
    from swarm.observation import LocalObservation


class NoParams(StrictConfig):
    """A policy without parameters."""


@dataclass
class Decision:
    """Everything a controller decides in one step, row per agent."""

    actions: np.ndarray  # (R, 2) for drones, (R,) moves for grid robots
    messages: np.ndarray | None = None  # (R, message_dim) broadcast; None without a channel
    state: dict[str, np.ndarray] = field(default_factory=dict)  # engine-carried, name -> (R, ...)
    memory: dict[str, Any] | None = None  # new values of ``memory_fields``; None: unchanged


class Remembers:
    """Stores a decision's new memory (both drone and grid controllers)."""

    def remember(self, memory: dict[str, Any] | None) -> None:
        """Keep the new per-agent memory of an applied step (``Decision.memory``)."""
        for name, value in (memory or {}).items():
            setattr(self, name, value)


class Policy(Remembers):
    """Base class of every controller. Subclasses implement :meth:`act` (and
    :meth:`broadcast`, :meth:`next_state`), or :meth:`decide` for all of them at once."""

    name: ClassVar[str] = "policy"
    citation: ClassVar[str] = ""
    action_kind: ClassVar[Literal["acceleration", "velocity"]] = "acceleration"
    message_dim: ClassVar[int] = 0
    Params: ClassVar[type[StrictConfig]] = NoParams
    # the registered scenario this controller is written for (and tested on)
    scenario: ClassVar[str] = "flocking"
    # the scenarios it can run in, because it reads their task readings or knowledge;
    # None: any drone scenario (it needs only what the engine senses and carries)
    scenarios: ClassVar[tuple[str, ...] | None] = None
    # the values of ``SwarmConfig.dim`` it flies in: (2,) the plane only; (2, 3) where its
    # paper defines it in 3-D and its code reads every coordinate (checked at config time)
    dims: ClassVar[tuple[int, ...]] = (2,)
    # attributes holding per-agent memory carried across steps: arrays with one row per agent
    # (or dicts of them). The locality audit gives a fresh controller only agent i's rows of
    # these, so memory anywhere else (shared between agents) shows up as a violation
    memory_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, params: StrictConfig | None = None, seed: int = 0, **overrides: Any):
        self.params = params if params is not None else self.Params.build(self.name, **overrides)
        self.seed = seed

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        """The step's whole decision (``messages``: whether a channel carries a broadcast).
        Pure: the controller is unchanged; the model applies the decision."""
        broadcast = np.asarray(self.broadcast(obs), dtype=np.float64) if messages else None
        return Decision(np.asarray(self.act(obs)), broadcast, dict(self.next_state(obs)))

    def act(self, obs: LocalObservation) -> np.ndarray:
        """(R, 2) actions, row i computed from row i's local observation only."""
        raise NotImplementedError

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        """(R, message_dim) message each agent broadcasts this step."""
        return np.zeros((obs.n, self.message_dim))

    def next_state(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        """New values of engine-carried per-agent state (``obs.own`` names the scenario
        declared), row i from row i's observation only; applied with the step's actions."""
        return {}

    def commit(self, obs: LocalObservation, actions: np.ndarray) -> None:
        """Hook called once per step with the accepted actions, before the world moves (for
        controllers that keep memory without returning it from :meth:`decide`)."""

    def __call__(self, obs: LocalObservation) -> np.ndarray:
        return self.act(obs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


class PerAgentPolicy(Policy):
    """The slow, readable path: ask each Mesa agent's ``decide(obs)`` in turn.

    Every agent first receives its observation of the same sensed state, then all move
    together: the result does not depend on agent order.
    """

    name = "per_agent"
    dims = (2, 3)  # the user's ``decide`` sees (dim,) arrays

    def __init__(self, agents: list, action_kind: str = "acceleration", message_dim: int = 0):
        super().__init__()
        self._agents = agents
        self.action_kind = action_kind  # type: ignore[misc]
        self.message_dim = message_dim  # type: ignore[misc]

    def act(self, obs: LocalObservation) -> np.ndarray:
        actions = np.zeros(obs.vel.shape)  # (R, dim)
        for agent in self._agents:
            row = agent.row
            if obs.alive[row]:
                actions[row] = agent.decide(obs.for_agent(row))
        return actions

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        out = np.zeros((obs.n, self.message_dim))
        if self.message_dim:
            for agent in self._agents:
                if obs.alive[agent.row]:
                    out[agent.row] = agent.broadcast(obs.for_agent(agent.row))
        return out
