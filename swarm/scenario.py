"""A scenario: the task on top of the engine, as a few named hooks.

A scenario module in ``envs/`` defines a config class (a :class:`~swarm.engine.SwarmConfig`
subclass with the task's own fields) and a :class:`Scenario` subclass with these hooks, each
vectorised over the engine's rows and environments:

``spawn(engine, rows, rng)``
    Place the drones of the given rows (initial positions and velocities).
``metrics(engine) -> {name: (E,) array}``
    What the DataCollector records every step and ``summary.json`` reports at the end.
``knowledge() -> {name: value}`` (optional)
    Static task facts every drone carries from take-off (the map, the shape to form); they
    reach controllers as ``obs.known``.
``observe(engine) -> {name: (R, ...) array}`` (optional)
    The task's readings each drone makes this step (a signal at its own position, marks on
    the floor under it); they reach controllers in ``obs.own`` beside the engine-carried
    per-agent state ``engine.agent_state``. Row i may depend only on what i can sense.
``update(engine)`` (optional)
    Advance the task's own world once everyone moved (targets found, marks laid).

The Mesa model class (``SwarmModel`` subclass, two lines) ties config, scenario and engine
together and is what the registry points to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from swarm import metrics as m

if TYPE_CHECKING:
    from swarm.engine import Swarm, SwarmConfig


class Scenario:
    """Base class of scenario hooks; subclasses override what their task needs."""

    name: ClassVar[str] = "scenario"
    metric_functions: ClassVar[dict[str, Callable[[Swarm], np.ndarray]]] = m.FLOCKING_METRICS

    def __init__(self, config: SwarmConfig):
        self.config = config

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Uniform positions in the arena, random headings at ``initial_speed``."""
        c = self.config
        n = len(rows)
        engine.pos[rows] = rng.uniform(0.0, c.world_size, size=(n, 2))
        heading = rng.uniform(-np.pi, np.pi, size=n)
        engine.vel[rows] = c.initial_speed * np.column_stack([np.cos(heading), np.sin(heading)])

    def knowledge(self) -> dict[str, Any]:
        """Static task facts every drone knows (``obs.known``); none by default."""
        return {}

    def observe(self, engine: Swarm) -> dict[str, np.ndarray]:
        """Per-row task readings (``obs.own``), each from what that row can sense; none."""
        return {}

    def update(self, engine: Swarm) -> None:
        """Advance the task's world after everyone moved; nothing by default."""

    def metric_names(self) -> list[str]:
        names = list(self.metric_functions)
        if self.config.algebraic_connectivity:
            names.append("algebraic_connectivity")
        return names

    def metrics(self, engine: Swarm) -> dict[str, np.ndarray]:
        out = {name: fn(engine) for name, fn in self.metric_functions.items()}
        if self.config.algebraic_connectivity:
            out["algebraic_connectivity"] = m.algebraic_connectivity(engine)
        return out
