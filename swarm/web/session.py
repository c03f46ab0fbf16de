"""What one page shows, and how its model is made again.

Mesa's SolaraViz resets a model as ``type(model)(**model_params)``. A scenario model is
not built that way here (``model_maker`` loads the ``--policy`` controllers, learned ones
too, and the config arrives as typed, validated fields), so every model a page shows is of
a thin subclass of its scenario class whose constructor *is* the session's factory: Mesa's
Reset button then builds exactly what ``swarm run`` would, with the seed from Mesa's slider
and the config as last edited.

The same session serialises stepping and drawing: the play loop steps in a thread while a
click or an input redraws in another, and a drone engine senses lazily, so two threads
touching one model at once could sense twice over half-moved state. It keeps the play
loop from outrunning the page's redraws (:meth:`Session._settle`), and it ends the loop
once its page is closed: SolaraViz's loop runs in a thread of its own that nothing else
stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarm.registry import model_maker, scenario_class

RENDER_WAIT_S = 2.0  # a step waits at most this long for a redraw in another thread


@dataclass
class Session:
    """One page's scenario, controllers (``--policy`` values), config overrides and seed.

    ``config`` holds only what was set (``--set``, ``--agents``, edits in the page); the
    scenario's defaults fill in the rest, as in ``swarm run``.
    """

    scenario: str
    policies: list[str] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    closed: bool = False  # the page is gone: its models stop stepping
    # held while the page renders (reacton's render lock): a step waits for it, see _settle
    render_lock: Any = field(default=None, repr=False)
    _classes: dict[type, type] = field(default_factory=dict, repr=False)

    @property
    def scenario_class(self) -> type:
        return scenario_class(self.scenario)

    def build(self, seed: int | None = None, config: dict[str, Any] | None = None) -> Any:
        """A new model (raises :class:`~swarm.config.ConfigError` on a bad value); the seed
        and config it was built with become the session's."""
        seed = self.seed if seed is None else int(seed)
        config = dict(self.config if config is None else config)
        model = model_maker(self.scenario, self.policies, dict(config))(seed)
        self.seed, self.config = seed, config
        return self._adopt(model)

    def with_field(self, name: str, value: Any) -> Any:
        """A new model with config field ``name`` set to ``value`` (raises ConfigError and
        keeps the session as it was if the model refuses it)."""
        return self.build(config={**self.config, name: value})

    def close(self) -> None:
        """The page was closed: a play loop still running ends at its next step, instead
        of simulating for nobody until the server stops."""
        self.closed = True

    def _settle(self) -> None:
        """Wait until no thread is redrawing the page. A click renders in the thread that
        received it, and if the play loop changed the model during every pass of that
        render, the render would never end (solara gives up after 100 passes and shows an
        error instead of the page); after this wait the step's own redraw happens in the
        play loop's thread, one frame per step."""
        lock = self.render_lock
        if lock is not None and lock.acquire(timeout=RENDER_WAIT_S):
            lock.release()

    def _adopt(self, model: Any) -> Any:
        """Make ``model`` rebuildable by SolaraViz's reset, and its steps exclusive."""
        base = type(model)
        if base not in self._classes:
            self._classes[base] = _rebuildable(base, self)
        model.__class__ = self._classes[base]
        inner: Callable[[], None] = model.step  # Mesa's wrapped step (counts model.steps)

        def step() -> None:
            if self.closed:  # no page shows it any more: Mesa's play loop ends on this
                model.running = False
                return
            self._settle()
            with self.lock:
                inner()

        model.step = step
        return model


def _rebuildable(base: type, session: Session) -> type:
    """A subclass of ``base`` that SolaraViz can call to reset: ``cls(seed=S)`` is
    ``session.build(S)``. Its ``__init__`` takes any keywords (Mesa checks the names of
    ``model_params`` against it) and does nothing: the model is whole when ``__new__``
    returns it."""

    def __new__(cls: type, seed: Any = None, **_: Any) -> Any:
        return session.build(None if seed is None else int(seed))

    def __init__(self: Any, **kwargs: Any) -> None:  # "kwargs": the name Mesa's check skips
        pass

    return type(
        base.__name__,
        (base,),
        {"__new__": __new__, "__init__": __init__, "__module__": base.__module__,
         "__doc__": base.__doc__},
    )  # fmt: skip
