"""The page's own solara components: only what Mesa's SolaraViz has no component for.

- :func:`SwarmView`: the swarm (the viewer's renderer, as a PNG) with its display options
  and the panel of the clicked agent: its local observation and inbox, the same text as
  ``swarm view``'s panel (:func:`swarm.viewer.viewer.describe_agent`);
- :func:`ConfigForm`: the scenario's typed config, every edit validated before it reaches
  the model; a valid one restarts the run with it (same seed), a bad one shows pydantic's
  message next to its field while the model runs on with the old value;
- :func:`MetricPlots`: the chosen metrics, redrawn at most :data:`PLOT_PERIOD_S` apart.
  Mesa's own plots (``make_plot_component``, on the page's second tab) rebuild their
  matplotlib figure on every step and encode it whenever asked: ~25 ms a plot even when
  throttled, ~70 ms when not, which would hold a thousand-drone swarm under 10 frames/s.

Everything is redrawn on Mesa's ``update_counter``, as SolaraViz's components are.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import reacton.core
import solara
from mesa.visualization.utils import update_counter

from swarm.config import ConfigError
from swarm.web.fields import check_edit, input_specs, value_text
from swarm.web.frames import Frames
from swarm.web.session import Session
from swarm.web.widgets import SwarmImage, TextField, data_url

PLOT_PERIOD_S = 1.0  # a live plot is redrawn at most this often while the model plays
PLOT_INCHES = (6.0, 1.6)  # width, height of one metric's panel
PLOT_DPI = 80
PANEL_HINT = "Click an agent to see its local observation and inbox."


@dataclass(frozen=True, eq=False)
class ViewState:
    """What the viewer's toggles hold: the selected agent, the colouring, which overlays
    are shown and which metrics are plotted. Reactive, so a change redraws."""

    selected: solara.Reactive[int | None]
    colour_by: solara.Reactive[str | None]
    show_comm: solara.Reactive[bool]
    show_sensing: solara.Reactive[bool]
    metrics: solara.Reactive[list[str]]


def use_view_state(metrics: list[str]) -> ViewState:
    """A page's view state (a hook: call it in the same place on every render)."""
    selected = solara.use_reactive(None)
    colour_by = solara.use_reactive(None)
    show_comm = solara.use_reactive(False)
    show_sensing = solara.use_reactive(False)
    plotted = solara.use_reactive(list(metrics))
    return solara.use_memo(
        lambda: ViewState(selected, colour_by, show_comm, show_sensing, plotted), []
    )


def use_model(session: Session, first: Any = None) -> solara.Reactive[Any]:
    """The page's model as a reactive (built once: ``first``, or the session's), for
    SolaraViz and the components here; and the session's ties to the page: its play loop
    ends when the page closes, and waits for redraws running in other threads (a hook:
    call it in the same place on every render)."""
    initial = solara.use_memo(lambda: first if first is not None else session.build(), [])
    model = solara.use_reactive(initial)
    solara.use_effect(lambda: session.close, [])  # closing the page stops its play loop
    render = reacton.core.get_render_context(required=False)
    session.render_lock = getattr(render, "thread_lock", None)
    return model


@solara.component
def SwarmView(model: Any, session: Session, view: ViewState, width: int = 720) -> None:
    """The swarm, its display options and the selected agent's panel."""
    from swarm.viewer.layers import scene_of
    from swarm.viewer.renderer import RenderOptions
    from swarm.viewer.viewer import describe_agent

    update_counter.get()
    frames = solara.use_memo(lambda: Frames(width, width), [width])
    with session.lock:  # the play loop steps in another thread
        scene = scene_of(model)
        agents = scene.agents()
        ids = np.asarray(agents.ids) if agents is not None else np.zeros(0, np.int64)
        selected = view.selected.value
        if selected is not None and selected not in ids:
            selected = None  # the agent is gone (a rebuild with fewer agents)
        lines: list[str] = []
        near = np.zeros(0, np.int64)
        if selected is not None:
            lines, near = describe_agent(model, selected)
        colourings = list(agents.attributes) if agents is not None else []
        colour_by = view.colour_by.value if view.colour_by.value in colourings else None
        options = RenderOptions(
            colour_by=colour_by,
            show_comm=view.show_comm.value,
            show_sensing=view.show_sensing.value,
            selected=selected,
            highlight=np.asarray(near, np.int64),
        )
        src = data_url(frames.png(scene, options))

    def pick(where: list[float]) -> None:
        with session.lock:
            row = frames.pick(scene_of(model), where[0], where[1])
        view.selected.set(row)

    # the picture shrinks (down to 320 px) before the side column wraps under it
    picture = {"flex": "1 1 480px", "min-width": "320px", "max-width": f"{frames.width}px"}
    with solara.Row(style={"align-items": "flex-start", "flex-wrap": "wrap"}):
        with solara.Column(style=picture):
            SwarmImage.element(src=src, width=frames.width, height=frames.height, on_pick=pick)
        with solara.Column(style={"flex": "0 1 360px", "min-width": "280px"}):
            with solara.Card("View", margin=0):
                if colourings:
                    solara.Select(
                        "colour by", values=colourings, value=colour_by or colourings[0],
                        on_value=view.colour_by.set,
                    )  # fmt: skip
                solara.Checkbox(label="comm links", value=view.show_comm)
                solara.Checkbox(label="sensing ranges (all)", value=view.show_sensing)
                names = list(getattr(model, "metrics", {}) or {})
                solara.SelectMultiple(
                    "plotted metrics", values=[m for m in view.metrics.value if m in names],
                    all_values=names, on_value=view.metrics.set,
                )  # fmt: skip
            AgentPanel(selected, lines, on_close=lambda: view.selected.set(None))


@solara.component
def AgentPanel(row: int | None, lines: list[str], on_close: Callable[[], None]) -> None:
    """The selected agent's local observation and inbox, as text."""
    with solara.Card(f"Agent {row}" if row is not None else "Agent", margin=0,
                     classes=["swarm-agent-panel"]):  # fmt: skip
        if row is None:
            solara.Text(PANEL_HINT)
            return
        solara.Preformatted("\n".join(lines))
        solara.Button("close", text=True, on_click=on_close)


@solara.component
def ConfigForm(session: Session, model: solara.Reactive[Any]) -> None:
    """One input per config field; valid edits rebuild the model, bad ones are shown."""
    current = model.value
    specs = solara.use_memo(lambda: input_specs(session.scenario, current.config), [current])
    # (the model they were refused for, {field: (what was typed, why it was refused)}):
    # a new model starts with none pending
    drafts = solara.use_reactive((None, {}))
    owner, refused = drafts.value
    refused = refused if owner is current else {}
    config_class = type(current.config)

    def edit(name: str, raw: Any) -> None:
        value, error = check_edit(config_class, session.config, name, raw)
        if error is None and value == getattr(current.config, name):
            if name in refused:  # typed back the value it runs with
                drafts.set((current, {k: v for k, v in refused.items() if k != name}))
            return  # nothing changed (the field just lost focus)
        if error is None:
            try:
                rebuilt = session.with_field(name, value)
            except ConfigError as err:  # valid alone, refused by the model (a controller)
                error = _one_line(err)
            else:
                model.set(rebuilt)
                return
        drafts.set((current, {**refused, name: (raw, error)}))

    for name, spec in specs.items():
        typed, error = refused.get(name, (None, None))
        FieldInput(name, spec, typed, error, lambda raw, name=name: edit(name, raw))
        if error is not None:
            shown = value_text(getattr(current.config, name))
            solara.Text(f"still running with {name} = {shown or 'None'}",
                        style={"font-size": "0.8em", "opacity": "0.7"})  # fmt: skip


@solara.component
def FieldInput(
    name: str, spec: Any, typed: Any, error: str | None, on_value: Callable[[Any], None]
) -> None:
    """One field drawn from its Mesa spec (as Mesa's ``UserInputs`` would), with the
    refused value and pydantic's message when the last edit was bad."""
    if not isinstance(spec, dict):  # a mesa Slider
        cls = solara.SliderFloat if spec.is_float_slider else solara.SliderInt
        value = spec.value if typed is None else typed
        cls(f"{spec.label} = {value:g}", value=value, min=spec.min, max=spec.max,
            step=spec.step, on_value=on_value)  # fmt: skip
    elif spec["type"] == "Select":
        solara.Select(spec["label"], values=spec["values"], value=spec["value"],
                      on_value=on_value, dense=True)  # fmt: skip
    elif spec["type"] == "Checkbox":
        solara.Checkbox(label=spec["label"], value=spec["value"], on_value=on_value)
    else:
        # the refused text stays in the field as typed (the browser keeps it)
        TextField.element(value=spec["value"], label=spec["label"], error=error or "",
                          on_submit=on_value)  # fmt: skip
        return
    if error is not None:
        solara.Text(error, classes=["error--text"], style={"font-size": "0.85em"})


@solara.component
def MetricPlots(model: Any, session: Session, measures: list[str]) -> None:
    """The chosen metrics over the steps, one panel each, redrawn at most every
    PLOT_PERIOD_S while the model plays (and at once after a step, a reset or a change of
    metrics)."""
    update_counter.get()
    last = solara.use_ref({"model": None, "steps": -1, "at": 0.0, "seen": 0.0, "token": 0})
    state = last.current
    now = time.monotonic()
    sparse = now - state["seen"] >= PLOT_PERIOD_S / 4  # stepped by hand, not playing
    if state["model"] is not model or (
        model.steps != state["steps"] and (sparse or now - state["at"] >= PLOT_PERIOD_S)
    ):
        state.update(model=model, steps=model.steps, at=now, token=state["token"] + 1)
    state["seen"] = now

    def draw() -> bytes:
        with session.lock:  # the play loop may be adding a row right now
            table = model.datacollector.get_model_vars_dataframe()
        return plot_png(table, measures)

    png = solara.use_memo(draw, [state["token"], tuple(measures)])
    if measures:
        solara.Image(png, format="png", width="100%")


def plot_png(table: Any, measures: list[str]) -> bytes:
    """PNG of the metrics in ``table`` (a DataFrame, one row per step), stacked panels."""
    import io

    from matplotlib.figure import Figure

    shown = [m for m in measures if m in table.columns]
    fig = Figure(figsize=(PLOT_INCHES[0], 0.4 + PLOT_INCHES[1] * max(len(shown), 1)),
                 dpi=PLOT_DPI, layout="constrained")  # fmt: skip
    axes = fig.subplots(max(len(shown), 1), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, shown, strict=False):
        ax.plot(table.index, table[name].to_numpy(), lw=1.2)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def metric_plots(session: Session, measures: list[str]) -> Callable[[Any], Any]:
    """A SolaraViz component (a function of the model) plotting ``measures``."""

    def plots(model: Any) -> Any:
        return MetricPlots(model, session, measures)

    return plots


def _one_line(err: Exception) -> str:
    from swarm.cli import one_line

    return one_line(err)
