"""A scenario: the task on top of the engine, as a few named hooks.

A scenario module in ``envs/`` defines a config class (a :class:`~swarm.engine.SwarmConfig`
subclass with the task's own fields) and a :class:`Scenario` subclass with these hooks, each
vectorised over the engine's rows and environments:

``spawn(engine, rows, rng)``
    Place the drones of the given rows (initial positions and velocities).
``metrics(engine) -> {name: (E,) array}``
    What the DataCollector records every step and ``summary.json`` reports at the end.

The Mesa model class (``SwarmModel`` subclass, two lines) ties config, scenario and engine
together and is what the registry points to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

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
