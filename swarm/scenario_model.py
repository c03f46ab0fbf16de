"""What every scenario's Mesa model shares, drones and grid robots alike.

A scenario model holds a typed config (built and validated from keyword arguments), the
run's one seeded generator (Mesa's ``model.rng``), a controller (``model.policy``), a
metrics table (Mesa's DataCollector, fed from ``model.metrics``) and a slot for the
locality audit. One step is the same everywhere::

    model.begin_step()                  # what happens before deciding (warehouse: orders)
    obs = model.observe()               # the batch of local observations
    decision = model.decide(obs)        # the controller's whole decision, in one call
    model.apply(obs, decision)          # memory kept, world moved, metrics recorded

:meth:`ScenarioModel.step_with` is the same step with actions chosen outside the model (a
learner's, through a PettingZoo env): ``begin_step`` and ``apply`` as above, the
controller neither observes nor decides. :class:`swarm.model.SwarmModel` (drones on the
continuous engine) and :class:`envs.warehouse.WarehouseModel` (robots on the grid world)
fill in the hooks;
the drones' ``apply`` ends in :meth:`swarm.engine.Swarm.apply_decision`, which the batched
drone envs call too (they run E arenas on one engine, without a Mesa model).
"""

from __future__ import annotations

from typing import Any, ClassVar

import mesa
import numpy as np

from swarm.config import StrictConfig
from swarm.policy import Decision


class ScenarioModel(mesa.Model):
    """Base of the scenario models (see the module docstring)."""

    name: ClassVar[str] = "scenario"
    config_class: ClassVar[type[StrictConfig]] = StrictConfig
    scenario_class: ClassVar[type] = object

    def __init__(self, rng: Any, config: dict[str, Any]):
        built = config.pop("config", None)
        self.config: Any = (
            built if built is not None else self.config_class.build(self.name, **config)
        )
        super().__init__(rng=rng)
        self.collect_metrics = True  # a row per step in the datacollector (envs turn it off)
        self.auditor: Any = None  # swarm.testing's auditor while a run is audited

    def start_metrics(self, names: list[str]) -> None:
        """The metrics table: one column per metric name, read from ``self.metrics``; its
        first row is the state before the first step."""
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda model, key=name: model.metrics[key]) for name in names}
        )
        self.datacollector.collect(self)

    def record(self) -> None:
        """Add the current metrics to the table (unless an env turned it off)."""
        if self.collect_metrics:
            self.datacollector.collect(self)

    @property
    def metrics(self) -> dict[str, float]:
        raise NotImplementedError

    def step(self) -> None:
        """One step: observe, decide once, apply (the module docstring)."""
        self.begin_step()
        held = [self.observe()]
        decision = self.decide(held[0])
        # hand the only reference to apply, which may drop it before sensing again (a
        # million drones' observation is then freed before the next one is built)
        self.apply(held.pop(), decision)

    def step_with(self, actions: Any) -> Any:
        """One step with ``actions`` chosen outside the model (the module docstring); returns
        what ``apply`` returns (the warehouse: the tasks each robot finished)."""
        self.begin_step()
        return self.apply(None, Decision(np.asarray(actions)), controller=False)

    def begin_step(self) -> None:
        """What changes before anyone decides (nothing by default)."""

    def observe(self) -> Any:
        """The batch of local observations of the current state (changes nothing)."""
        raise NotImplementedError

    def decide(self, obs: Any) -> Decision:
        """The controller's decision on ``obs`` (changes nothing)."""
        raise NotImplementedError

    def apply(self, obs: Any, decision: Decision, controller: bool = True) -> Any:
        """Keep the decision's memory (``controller``: the model's controller made it on
        ``obs``; an outside decision comes without one), move the world, record the
        metrics."""
        raise NotImplementedError
