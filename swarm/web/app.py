"""The page: Mesa's SolaraViz around the swarm's own components.

SolaraViz gives the controls (play/pause, step, reset, the play interval that sets the
speed, the render interval: steps per redraw), the seed as a ``model_params`` slider, the
step counter and the tabs of plots: the first holds the chosen metrics (redrawn at most
once a second), the second Mesa's own plot of every metric (``make_plot_component``,
redrawn every step: slower while that tab is open). The swarm, the agent panel and the
validated config form are :mod:`swarm.web.components`. In Jupyter::

    from swarm.web.app import view
    view("flocking", agents=500, policy="vicsek")  # the cell's value shows the page

``swarm web SCENARIO`` serves :func:`Page` (:mod:`swarm.web.server`), which reads what to
show from the ``SWARM_WEB_SPEC`` environment variable.
"""

from __future__ import annotations

import json
import os
from typing import Any

import solara
from mesa.visualization import Slider, SolaraViz, make_plot_component

from swarm.web.components import (
    ConfigForm,
    SwarmView,
    metric_plots,
    use_model,
    use_view_state,
)
from swarm.web.session import Session

SPEC_ENV = "SWARM_WEB_SPEC"
PLAY_INTERVAL_MS = 11  # SolaraViz's play interval (its slider's steps: 1, 11, 21, ...)
PLOTTED_METRICS = 2  # metrics plotted at first (more can be picked in the page)
FRAME_PX = 720


def view(
    scenario: str,
    *,
    agents: int | None = None,
    policy: str | list[str] | None = None,
    seed: int = 0,
    width: int = FRAME_PX,
    **config: Any,
) -> Any:
    """The page for ``scenario`` (a solara element: a notebook cell shows it). ``policy``:
    a controller name, or ``["pursuers=NAME", ...]`` per team, as ``--policy``; other
    keywords are config fields. A bad value raises ConfigError here, not in the page."""
    policies = [policy] if isinstance(policy, str) else policy
    if agents is not None:
        config["n_agents"] = agents
    session = Session(scenario, policies, config, seed)
    first = session.build()
    return SwarmPage(session, width=width, first=first)


@solara.component
def SwarmPage(session: Session, width: int = FRAME_PX, first: Any = None) -> None:
    """SolaraViz on a session's model, with the swarm view and the config form."""
    model = use_model(session, first)
    metrics = list(getattr(model.value, "metrics", {}))
    view_state = use_view_state(metrics[:PLOTTED_METRICS])
    solara.Title(f"swarm web: {session.scenario}")
    SwarmView(model.value, session, view_state, width)
    SolaraViz(
        model,
        components=[
            (metric_plots(session, list(view_state.metrics.value)), 0),
            *[make_plot_component(name, page=1) for name in metrics],
        ],
        model_params={"seed": Slider("seed", session.seed, 0, max(999, session.seed), 1)},
        play_interval=PLAY_INTERVAL_MS,
        render_interval=1,
        name=f"swarm: {session.scenario}",
    )
    ConfigSidebar(session, model)


@solara.component
def ConfigSidebar(session: Session, model: solara.Reactive[Any]) -> None:
    """The config form in the sidebar, below SolaraViz's cards: solara orders sidebar
    content by how deep in the tree it is declared, and this one is a level deeper."""
    _SidebarConfig(session, model)


@solara.component
def _SidebarConfig(session: Session, model: solara.Reactive[Any]) -> None:
    with solara.Sidebar(), solara.Card("Scenario config", classes=["swarm-config"]):
        ConfigForm(session, model)


def spec_from_env() -> dict[str, Any]:
    """What ``swarm web`` asked to show (scenario, policies, config, seed, width)."""
    raw = os.environ.get(SPEC_ENV)
    if not raw:
        raise RuntimeError(f"{SPEC_ENV} is not set: start the page with `swarm web SCENARIO`")
    return json.loads(raw)


@solara.component
def Page() -> None:
    """The served page: one session (its own model) per browser tab."""
    spec = solara.use_memo(spec_from_env, [])
    session = solara.use_memo(
        lambda: Session(spec["scenario"], spec.get("policies"), dict(spec.get("config") or {}),
                        int(spec.get("seed", 0))),
        [],
    )  # fmt: skip
    SwarmPage(session, width=int(spec.get("width", FRAME_PX)))
