"""The viewer, headless (SDL's dummy video driver): pixels, toggles, recordings, input."""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens a display
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import imageio.v2 as imageio
import networkx as nx
import numpy as np
import pygame
import pytest

from envs.flocking import FlockingModel
from swarm.cli import main
from swarm.registry import scenario_class
from swarm.viewer import Camera, Renderer, RenderOptions, Viewer, record, scene_of
from swarm.viewer.layers import ALIVE_COLOUR, Agents, Edges, hue_wheel, resolve
from swarm.viewer.renderer import ARENA

SIZE = 200  # pixels


def two_drones(gap: float = 3.0, heading: float = np.pi / 2) -> FlockingModel:
    """Two drones at rest-free known positions, 10 m arena, comm range 5 m."""
    model = FlockingModel(n_agents=2, world_size=10.0, boundary="box", rng=0)
    e = model.engine
    e.pos[:] = [[5.0 - gap / 2, 5.0], [5.0 + gap / 2, 5.0]]
    e.vel[:] = np.array([np.cos(heading), np.sin(heading)])[None, :]
    e.invalidate()
    return model


def pixel_of(xy, world: float = 10.0, size: int = SIZE) -> tuple[int, int]:
    """The pixel (column, row) of a world point when the arena fills 96% of the picture."""
    scale = 0.96 * size / world
    return (
        int(np.floor((xy[0] - world / 2) * scale + size / 2)),
        int(np.floor(size / 2 - (xy[1] - world / 2) * scale)),
    )


@pytest.fixture
def viewer():
    made = []

    def make(n_agents=30, **kw):
        def factory():
            return FlockingModel(n_agents=n_agents, world_size=20.0, rng=4)

        v = Viewer(factory(), reset=factory, width=320, height=240, headless=True, **kw)
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()


def test_drone_paints_its_colour_at_its_pixel():
    model = two_drones(heading=np.pi / 2)
    img = Renderer(SIZE, SIZE).render(model, RenderOptions(colour_by="crashed"))
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    col, row = pixel_of(model.engine.pos[0])
    assert tuple(img[row, col]) == ALIVE_COLOUR
    corner = pixel_of((1.0, 1.0))
    assert tuple(img[corner[1], corner[0]]) == ARENA
    # coloured by heading (the default): the hue of the heading
    img = Renderer(SIZE, SIZE).render(model)
    assert tuple(img[row, col]) == tuple(hue_wheel(np.array([np.pi / 2]))[0])


def test_triangle_points_along_the_heading():
    model = two_drones(heading=np.pi / 2)  # world +y: up on screen
    renderer = Renderer(SIZE, SIZE)
    scene = scene_of(model)
    camera = Camera(SIZE, SIZE, (5.0, 5.0), 100.0 / 3.0)  # the 0.6 m body is 20 pixels
    renderer.draw(scene, camera, RenderOptions(colour_by="crashed"))
    img = renderer.rgb_array()
    x, y = np.floor(camera.to_screen(model.engine.pos[0])[0]).astype(int)
    assert tuple(img[y - 8, x]) == ALIVE_COLOUR  # towards the nose
    assert tuple(img[y, x + 8]) != ALIVE_COLOUR  # beside the body: the dart is narrow
    assert tuple(img[y, x - 8]) != ALIVE_COLOUR


def test_comm_graph_toggle_changes_pixels_between_connected_drones():
    model = two_drones(gap=3.0)  # closer than the 5 m comm range
    assert model.comm_graph.has_edge(0, 1)
    renderer = Renderer(SIZE, SIZE)
    off = renderer.render(model, RenderOptions(show_comm=False))
    on = renderer.render(model, RenderOptions(show_comm=True))
    col, row = pixel_of((5.0, 5.0))  # halfway between them, clear of both bodies
    assert tuple(off[row, col]) == ARENA
    assert tuple(on[row, col]) != ARENA
    assert (on != off).any(axis=2).sum() >= 20  # a line, not a speck


def test_default_scenario_hook_draws_drones_and_the_comm_graph():
    model = FlockingModel(n_agents=40, world_size=15.0, rng=3)
    scene = scene_of(model)
    agents = scene.agents()
    np.testing.assert_array_equal(agents.pos, model.engine.pos)
    assert scene.bounds == (0.0, 0.0, 15.0, 15.0) and scene.torus
    edges = next(layer for layer in scene.layers if isinstance(layer, Edges))
    assert len(resolve(edges.a)) == model.comm_graph.number_of_edges()
    components = resolve(agents.attributes["component"].values)
    assert len(np.unique(components)) == nx.number_connected_components(model.comm_graph)
    consensus = scenario_class("consensus")(n_agents=12, rng=0)
    values = scene_of(consensus).agents().attributes["value"]
    np.testing.assert_array_equal(resolve(values.values), consensus.engine.agent_state["value"])


def test_same_state_same_pixels_and_different_seeds_differ():
    def picture(seed):
        model = FlockingModel(n_agents=40, world_size=20.0, rng=seed)
        for _ in range(3):
            model.step()
        return Renderer(120, 100).render(model, RenderOptions(show_comm=True))

    np.testing.assert_array_equal(picture(1), picture(1))
    assert (picture(1) != picture(2)).any()


def test_a_bare_engine_renders_like_its_model():
    """The PettingZoo envs hold the engine, not the model: same pixels either way."""
    model = FlockingModel(n_agents=25, world_size=12.0, rng=5)
    model.step()
    renderer = Renderer(90, 90)
    np.testing.assert_array_equal(renderer.render(model), renderer.render(model.engine))


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_recording_of_n_steps_has_n_frames(tmp_path, suffix):
    model = FlockingModel(n_agents=20, world_size=15.0, rng=2)
    out = record(model, tmp_path / f"run{suffix}", steps=6, width=96, height=80)
    assert model.engine.t == 6
    reader = imageio.get_reader(out)
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == 6
    assert frames[0].shape[:2] == (80, 96)


def test_keys_and_clicks_pause_step_select_and_crash(viewer):
    v = viewer()
    assert v.tick() and v.step == 1  # running: one step per frame at speed x1
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    v.tick()
    paused_at = v.step
    v.tick()
    assert v.paused and v.step == paused_at
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
    v.tick()
    assert v.step == paused_at + 1 and v.paused
    # click on drone 7 selects it: the panel shows its local observation
    target = 7
    x, y = v.camera.to_screen(v.model.engine.pos[target])[0]
    for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
        pygame.event.post(pygame.event.Event(kind, button=1, pos=(int(x), int(y))))

    def white_near_target() -> int:  # the selection ring is drawn in pure white
        img = v.frame_rgb()
        sx, sy = np.floor(v.camera.to_screen(v.model.engine.pos[target])[0]).astype(int)
        box = img[max(sy - 12, 0) : sy + 13, max(sx - 12, 0) : sx + 13]
        return int((box == 255).all(axis=2).sum())

    assert white_near_target() == 0
    v.tick()
    assert v.options.selected == target
    assert white_near_target() > 10  # the ring around the selected drone
    obs = v.model.observe().for_agent(target)
    np.testing.assert_array_equal(np.sort(v.options.highlight), np.sort(obs.neighbor_ids))
    # k crashes the selected drone in the model
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_k))
    v.tick()
    assert not v.model.engine.alive[target]
    assert v.model.engine.alive.sum() == 29
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_q))
    assert v.tick() is False


def test_toggles_speed_reset_and_screenshot(viewer, tmp_path):
    v = viewer(screenshot_dir=tmp_path)
    keys = [pygame.K_c, pygame.K_s, pygame.K_t, pygame.K_f, pygame.K_h, pygame.K_PLUS]
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    v.tick()
    assert v.options.show_comm and v.options.show_sensing and v.show_trails
    assert v.follow and v.show_help and v.speed == 2.0
    v.tick()
    assert v.step == 4  # two frames at two steps per frame
    start = FlockingModel(n_agents=30, world_size=20.0, rng=4).engine.pos
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_r))
    v.tick()
    assert v.step == 0
    np.testing.assert_array_equal(v.model.engine.pos, start)
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_p))
    v.tick()
    assert v.last_screenshot is not None and v.last_screenshot.parent == tmp_path
    assert pygame.image.load(str(v.last_screenshot)).get_size() == (320, 240)


def test_wheel_zooms_and_drag_pans_without_selecting(viewer):
    v = viewer()
    v.paused = True
    scale = v.camera.scale
    pygame.event.post(pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=2))
    v.tick()
    assert v.camera.scale == pytest.approx(scale * 1.15**2)
    centre = v.camera.centre
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(100, 100)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEMOTION, pos=(140, 100), rel=(40, 0)))
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=(140, 100)))
    v.tick()
    assert v.camera.centre[0] == pytest.approx(centre[0] - 40 / v.camera.scale, abs=1e-6)
    assert v.options.selected is None


def test_warehouse_grid_scene_draws_robots_on_their_cells():
    from envs.warehouse import WarehouseModel
    from swarm.viewer.grid import KIND_RGB, grid_scene

    model = WarehouseModel(n_agents=5, rng=0)
    scene = grid_scene(model)
    renderer = Renderer(400, 200)
    camera = Camera.fit(scene.bounds, 400, 200)
    renderer.draw(scene, camera, RenderOptions(colour_by="phase"))
    img = renderer.rgb_array()
    robots = scene.agents()
    expected = robots.attributes["phase"].colour()
    for i in range(5):
        x, y = np.floor(camera.to_screen(robots.pos[i])[0]).astype(int)
        assert tuple(img[y, x]) == tuple(expected[i])
    wall = np.argwhere(model.grid_map.kind == 0)[0]  # an obstacle cell (row, col)
    centre = (wall[1] + 0.5, model.grid_map.height - wall[0] - 0.5)
    x, y = np.floor(camera.to_screen(centre)[0]).astype(int)
    assert tuple(img[y, x]) == tuple(KIND_RGB[0])


def test_cli_records_headless_and_rejects_bad_values(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("swarm.viewer.cli.display_problem", lambda: None)  # each its own error
    out = tmp_path / "flock.gif"
    code = main(["view", "flocking", "--agents", "20", "--record", str(out), "--steps", "3",
                 "--headless", "--width", "96", "--height", "96"])  # fmt: skip
    assert code == 0 and len(imageio.mimread(out)) == 3
    capsys.readouterr()
    for argv in (
        ["view", "flocking", "--agents", "0"],
        ["view", "nowhere"],
        ["view", "flocking", "--record", str(tmp_path / "x.avi")],
        ["view", "flocking", "--policy", "nope"],
        ["view", "flocking", "--color", "mood", "--headless", "--steps", "2"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("swarm view: error:"), err
    assert not (tmp_path / "x.avi").exists()


@pytest.fixture
def no_display(monkeypatch):
    """A Linux machine without a display, and no model may be built: the refusal comes first."""
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)

    def no_work(args):
        raise AssertionError("built a model before refusing")

    monkeypatch.setattr("swarm.viewer.cli.build", no_work)
    return monkeypatch


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("swarm view: error: --headless:"), err
    return err[0]


def test_cli_refuses_a_window_without_a_display(no_display, capsys):
    """pygame-ce falls back to SDL's off-screen driver there: the run would go on unseen."""
    assert main(["view", "flocking", "--agents", "5"]) == 2
    line = one_error(capsys)
    assert "DISPLAY" in line and "--record FILE.mp4" in line
    no_display.setenv("DISPLAY", ":0")
    for driver in ("dummy", "offscreen"):  # set by the environment, not by --headless
        no_display.setenv("SDL_VIDEODRIVER", driver)
        assert main(["view", "flocking"]) == 2
        assert f"SDL_VIDEODRIVER={driver}" in one_error(capsys)


def test_cli_refuses_headless_without_a_recording_or_an_end(no_display, capsys):
    assert main(["view", "flocking", "--headless"]) == 2
    line = one_error(capsys)
    assert "--record" in line and "--steps" in line


def test_display_problem_reads_the_environment(monkeypatch):
    from swarm.viewer.cli import display_problem

    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    assert "DISPLAY" in display_problem()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display_problem() is None
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.setenv("SDL_VIDEODRIVER", "kmsdrm")  # an explicit real driver: SDL decides
    assert display_problem() is None
    monkeypatch.setenv("SDL_VIDEODRIVER", "Dummy")
    assert "dummy" in display_problem()
    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.setattr("sys.platform", "darwin")  # no DISPLAY needed there
    assert display_problem() is None


def test_cli_closes_a_window_sdl_put_off_screen(monkeypatch, capsys):
    """Should the environment check miss it, the driver SDL chose gives it away."""
    monkeypatch.setattr("swarm.viewer.cli.display_problem", lambda: None)
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert main(["view", "flocking", "--agents", "5", "--steps", "3"]) == 2
    assert "dummy" in one_error(capsys)


def test_cli_headless_with_steps_runs_that_many_frames(capsys):
    code = main(["view", "flocking", "--agents", "5", "--headless", "--steps", "3",
                 "--width", "96", "--height", "96", "--fps", "1000"])  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out.startswith("flocking: 3 frames in ")


@pytest.mark.parametrize("name", ["flocking", "warehouse"])
def test_env_render_modes_are_the_viewers_pixels(name):
    """rgb_array is the viewer's Renderer picture of the env's live model, and the "human"
    window shows exactly those pixels."""
    import importlib

    from swarm.viewer.envdisplay import ENV_RENDER_PX, frame_size

    module = importlib.import_module(f"envs.{name}_v0")
    frames = []
    for mode in ("rgb_array", "human"):
        env = module.parallel_env(render_mode=mode)
        env.reset(seed=3)
        env.step({a: env.action_space(a).sample() * 0 for a in env.agents})
        live = env.unwrapped.core._live() if name == "flocking" else env.unwrapped._live()
        scene = scene_of(live)
        expected = Renderer(*frame_size(scene.bounds, ENV_RENDER_PX)).render(live)
        if mode == "rgb_array":
            frames.append(env.render())
        else:
            assert env.render() is None
            window = pygame.surfarray.array3d(pygame.display.get_surface()).transpose(1, 0, 2)
            frames.append(window)
        np.testing.assert_array_equal(frames[-1], expected)
        env.close()
    np.testing.assert_array_equal(frames[0], frames[1])


def test_cli_records_the_warehouse(tmp_path):
    out = tmp_path / "warehouse.gif"
    code = main(["view", "warehouse", "--agents", "8", "--record", str(out), "--steps", "4",
                 "--headless", "--width", "160", "--height", "96"])  # fmt: skip
    from swarm.viewer.grid import KIND_RGB

    frames = imageio.mimread(out)
    assert code == 0 and len(frames) == 4 and frames[0].shape[:2] == (96, 160)
    shelves = (frames[0][..., :3] == KIND_RGB[0]).all(axis=2)
    assert shelves.sum() > 100  # the map's shelves are drawn


@pytest.mark.parametrize(
    ("name", "kw", "layer"),
    [
        ("navigation", {"n_agents": 4}, "landmarks"),
        ("search", {}, "targets"),
        ("search", {}, "marks"),
        ("formation", {}, "slots"),
        ("coverage", {"density": "gaussian"}, "density"),
    ],
)
def test_scenarios_declare_their_goals_and_maps(name, kw, layer):
    model = scenario_class(name)(rng=0, **kw)
    for _ in range(5):
        model.step()
    names = [lay.name for lay in scene_of(model).layers]
    assert layer in names and names[-1] == "drones"  # drones on top


def test_an_uncovered_landmark_paints_its_colour_at_its_centre():
    model = scenario_class("navigation")(n_agents=2, rng=1)
    engine = model.engine
    engine.pos[:] = [[0.5, 0.5], [0.6, 0.5]]  # both drones in a corner, far from landmarks
    engine.invalidate()
    landmarks = model.scenario.landmarks[0]
    far = np.sqrt(((landmarks - [0.55, 0.5]) ** 2).sum(axis=1)) > 2.0
    scene = scene_of(model)
    camera = Camera.fit(scene.bounds, SIZE, SIZE)
    img = Renderer(SIZE, SIZE).render(model)
    for x, y in np.floor(camera.to_screen(landmarks[far])).astype(int):
        assert tuple(img[y, x]) == (120, 100, 50)


def test_teams_are_drawn_with_their_own_marker_and_an_evader_can_be_selected():
    """One agent layer per team (pursuers triangles, evaders circles); selection, the HUD
    and trails see all agents joined, in row order."""
    from envs.pursuit import PursuitModel

    def factory():
        return PursuitModel(n_agents=6, pursuers=4, rng=2)

    scene = scene_of(factory())
    teams = [layer for layer in scene.layers if isinstance(layer, Agents)]
    assert [(t.name, t.shape) for t in teams] == [("pursuers", "triangle"), ("evaders", "circle")]
    np.testing.assert_array_equal(scene.agents().ids, np.arange(6))
    v = Viewer(factory(), reset=factory, width=900, height=500, headless=True)  # room for the panel
    try:
        evader = 5
        v.paused = True
        v.tick()
        x, y = v.camera.to_screen(v.model.engine.pos[evader])[0]
        assert v.select_at(x, y) == evader
        v.tick()
        img = v.frame_rgb()
        sx, sy = np.floor(v.camera.to_screen(v.model.engine.pos[evader])[0]).astype(int)
        box = img[max(sy - 12, 0) : sy + 13, max(sx - 12, 0) : sx + 13]
        assert int((box == 255).all(axis=2).sum()) > 10  # the selection ring
    finally:
        v.close()
