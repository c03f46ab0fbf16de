"""The web view's parts without a browser: PNG frames, picking, the config as Mesa input
specs and its validation, the session that SolaraViz's reset rebuilds through, and the
``swarm web`` command's refusals."""

from __future__ import annotations

import io
import socket

import numpy as np
import pytest

from swarm.cli import main
from swarm.registry import SCENARIOS, scenario_class
from swarm.web.fields import check_edit, parse_text, value_text
from swarm.web.frames import Frames, png_bytes
from swarm.web.session import Session

# Mesa's own SolaraViz trips solara's hook checker on import (swarm.web silences it, but
# pytest resets warning filters for each test)
pytestmark = pytest.mark.filterwarnings("ignore:.*ComponentsView. .use_state. found")


def test_png_bytes_round_trips() -> None:
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))).convert("RGB"))
    assert np.array_equal(back, rgb)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_drawn_and_picked(name: str) -> None:
    from swarm.viewer.layers import scene_of
    from swarm.viewer.renderer import Camera

    model = Session(name, config={"n_agents": 12} if name != "warehouse" else {}).build()
    frames = Frames(300, 300)
    scene = scene_of(model)
    assert frames.png(scene).startswith(b"\x89PNG")
    agents = scene.agents()
    camera = Camera.fit(scene.bounds, 300, 300)
    x, y = camera.to_screen(agents.pos[:1])[0]
    assert frames.pick(scene, x / 300, y / 300) == int(agents.ids[0])
    assert frames.pick(scene, -1.0, -1.0) is None  # far outside the picture


def test_a_3d_scene_is_drawn_from_the_home_orbit_and_picked_there() -> None:
    """The browser shows a cube from the pygame viewer's home orbit, not from above, and a
    click on a drone's projected position picks it."""
    from swarm.viewer.layers import scene_of
    from swarm.viewer.orbit import OrbitCamera
    from swarm.viewer.renderer import Camera, Renderer

    model = Session("flocking", config={"n_agents": 12, "dim": 3}).build()
    scene, frames = scene_of(model), Frames(300, 300)
    top = Renderer(300, 300)
    top.draw(scene, Camera.fit(scene.bounds, 300, 300))
    assert not np.array_equal(frames.rgb(scene), top.rgb_array())
    camera = OrbitCamera.of_scene(scene, 300, 300)
    agents = scene.agents()
    px, py, _ = camera.project(agents.pos[:1])
    assert frames.pick(scene, float(px[0]) / 300, float(py[0]) / 300) == int(agents.ids[0])
    assert frames.pick(scene, -1.0, -1.0) is None


def test_text_values_read_like_the_command_line() -> None:
    assert parse_text(" 3 ") == 3
    assert parse_text("") is None
    assert parse_text("boids") == "boids"
    assert parse_text("Infinity") == float("inf")
    assert parse_text('{"a": [1, 2]}') == {"a": [1, 2]}
    assert value_text(None) == "" and value_text(5.0) == "5.0" and value_text("ring") == "ring"


def test_an_edit_is_checked_by_the_typed_config() -> None:
    config = scenario_class("flocking").config_class
    assert check_edit(config, {}, "sense_radius", "-5") == ("-5", "Input should be greater than 0")
    assert check_edit(config, {}, "sense_radius", "3") == (3, None)
    assert check_edit(config, {}, "policy", "vicsek") == ("vicsek", None)
    assert check_edit(config, {}, "comm_radius", "") == (None, None)
    value, error = check_edit(config, {}, "n_agents", "1.5")
    assert value == "1.5" and "integer" in error


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_config_becomes_mesa_input_specs(name: str) -> None:
    pytest.importorskip("solara", reason="Mesa's Slider needs mesa.visualization (solara)")
    from mesa.visualization import Slider

    from swarm.web.fields import input_specs

    config = scenario_class(name).config_class()
    specs = input_specs(name, config)
    assert "policy" in specs and specs["policy"]["type"] == "Select"
    assert config.policy in specs["policy"]["values"]
    for field, spec in specs.items():
        if isinstance(spec, Slider):
            assert spec.min <= getattr(config, field) <= spec.max
        else:
            assert spec["type"] in ("InputText", "Select", "Checkbox")


def test_solaraviz_resets_through_the_session() -> None:
    session = Session("flocking", config={"n_agents": 10}, seed=4)
    model = session.build()
    assert isinstance(model, scenario_class("flocking"))
    model.step()
    assert model.steps == 1
    again = type(model)(seed=7)  # what SolaraViz's Reset does with model_params
    assert again is not model and type(again) is type(model)
    assert again.steps == 0 and again.config.n_agents == 10 and session.seed == 7
    solara_viz = pytest.importorskip("mesa.visualization.solara_viz")
    solara_viz._check_model_params(type(model).__init__, {"seed": 7})  # Mesa accepts it


def test_a_refused_edit_leaves_the_session_as_it_was() -> None:
    from swarm.config import ConfigError

    session = Session("flocking", config={"n_agents": 10})
    session.build()
    with pytest.raises(ConfigError):
        session.with_field("policy", "pibt")  # a warehouse controller
    assert session.config == {"n_agents": 10}
    assert session.with_field("n_agents", 5).config.n_agents == 5


def test_a_closed_page_stops_its_play_loop() -> None:
    session = Session("flocking", config={"n_agents": 10})
    model = session.build()
    session.close()
    model.step()
    assert model.steps == 0 and model.running is False  # SolaraViz's loop ends on this


@pytest.mark.parametrize(
    "args, says",
    [
        (["nope"], "unknown 'nope'"),
        (["flocking", "--set", "sense_radius=-1"], "sense_radius"),
        (["flocking", "--size", "10"], "--size"),
        (["flocking", "--port", "70000"], "--port"),
    ],
)
def test_swarm_web_refuses_bad_options_in_one_line(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("solara", reason="swarm web needs solara")
    assert main(["web", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1


def test_swarm_web_refuses_a_taken_port(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("solara", reason="swarm web needs solara")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["web", "flocking", "--agents", "5", "--port", str(port)]) == 2
    assert "cannot listen" in capsys.readouterr().err
