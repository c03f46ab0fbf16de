"""The 3-D viewer, headless: the orbit camera's projection and controls, depth order,
obstacles, interventions, recordings, and 2-D frames left exactly as they were."""

import hashlib
import math
import os
from types import SimpleNamespace

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens a display
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import imageio.v2 as imageio
import numpy as np
import pygame
import pytest

from envs.flocking import FlockingModel
from swarm.cli import main
from swarm.viewer import Camera, Renderer, RenderOptions, Viewer, record, scene_of
from swarm.viewer.layers import (
    BOX_COLOUR,
    OBSTACLE_COLOUR,
    Agents,
    Attribute,
    Cells,
    Scene,
    obstacle_layers,
)
from swarm.viewer.orbit import (
    BODY_PX,
    MAX_ELEVATION,
    ROTATE_DEG_PER_PX,
    Fog,
    OrbitCamera,
    body_px,
    box_edges,
    clip_near,
    cylinder_edges,
    pick,
)
from swarm.viewer.renderer import BACKGROUND

W, H = 200, 160
FOCAL = (H / 2) / math.tan(math.radians(45.0) / 2)  # the default 45-degree field of view


def cube_scene(layers, size: float = 10.0) -> Scene:
    return Scene(bounds=(0.0, 0.0, size, size), layers=layers, zbounds=(0.0, size))


def dots(pos, colour=(255, 255, 255), size: float = 0.6) -> Agents:
    """Agents of one colour at ``pos`` (N, 3), pointing along +x."""
    n = len(pos)
    paint = Attribute(np.ones(n, bool), "boolean", colours=(colour, colour))
    return Agents("drones", np.asarray(pos, float), np.arange(n), {"paint": paint},
                  np.ones(n, bool), np.zeros(n), size=size, shape="circle")  # fmt: skip


def side_camera(distance: float = 10.0) -> OrbitCamera:
    """Eye at (-5, 5, 5) looking along +x at the cube's centre: right is -y, up is +z."""
    return OrbitCamera(W, H, (5.0, 5.0, 5.0), azimuth=0.0, elevation=0.0, distance=distance)


def flock3d(n: int = 60, seed: int = 0) -> FlockingModel:
    model = FlockingModel(n_agents=n, world_size=20.0, dim=3, boundary="box", rng=seed)
    e = model.engine
    rng = np.random.default_rng(seed)
    e.pos[:n] = rng.uniform(2.0, 18.0, (n, 3))
    e.vel[:n] = rng.normal(0.0, 1.0, (n, 3))
    e.invalidate()
    return model


# ---------------------------------------------------------------------- projection
def test_projection_maps_known_points_to_known_pixels():
    cam = side_camera()
    np.testing.assert_allclose(cam.eye(), [-5.0, 5.0, 5.0], atol=1e-12)
    # the orbit centre lands on the screen centre, at the orbit distance
    sx, sy, depth = cam.project(np.array([[5.0, 5.0, 5.0]]))
    assert (sx[0], sy[0], depth[0]) == pytest.approx((W / 2, H / 2, 10.0))
    # 1 m to the camera's right (-y here) at depth 10 lands f / 10 pixels right of centre
    sx, sy, _ = cam.project(np.array([[5.0, 4.0, 5.0], [5.0, 5.0, 6.0], [0.0, 4.0, 5.0]]))
    assert sx[0] == pytest.approx(W / 2 + FOCAL / 10) and sy[0] == pytest.approx(H / 2)
    assert sx[1] == pytest.approx(W / 2) and sy[1] == pytest.approx(H / 2 - FOCAL / 10)
    assert sx[2] == pytest.approx(W / 2 + FOCAL / 5)  # twice as near: twice the offset
    # the same through the 4 x 4 look-at matrix
    view = cam.view_matrix()
    np.testing.assert_allclose(view @ [-5.0, 5.0, 5.0, 1.0], [0, 0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(view @ [5.0, 4.0, 5.0, 1.0], [1, 0, 10, 1], atol=1e-12)


@pytest.mark.parametrize(("azimuth", "elevation"), [(45, 30), (-120, 60), (170, -40), (10, 89)])
def test_any_pose_centres_the_target_and_keeps_right_right_and_up_up(azimuth, elevation):
    cam = OrbitCamera(W, H, (3.0, -2.0, 7.0), azimuth, elevation, distance=25.0)
    right, up, forward = cam.basis()
    np.testing.assert_allclose(cam.basis() @ cam.basis().T, np.eye(3), atol=1e-12)
    assert forward[2] == pytest.approx(-math.sin(math.radians(elevation)))  # looks down
    target = np.asarray(cam.target)
    sx, sy, _ = cam.project(np.stack([target, target + 2 * right, target + 2 * up]))
    assert (sx[0], sy[0]) == pytest.approx((W / 2, H / 2))
    assert sx[1] > W / 2 + 5 and sy[1] == pytest.approx(H / 2)
    assert sy[2] < H / 2 - 5 and sx[2] == pytest.approx(W / 2)


def test_looking_straight_down_agrees_with_the_top_down_view():
    """At elevation 89 and azimuth 90 world +x is screen right and world +y screen up."""
    cam = OrbitCamera(W, H, (5.0, 5.0, 0.0), azimuth=90.0, elevation=89.0, distance=20.0)
    sx, sy, _ = cam.project(np.array([[5.0, 5.0, 0.0], [7.0, 5.0, 0.0], [5.0, 7.0, 0.0]]))
    assert sx[1] > sx[0] + 10 and abs(sy[1] - sy[0]) < 1
    assert sy[2] < sy[0] - 10 and abs(sx[2] - sx[0]) < 1


def test_home_view_fits_the_cube_and_points_behind_the_camera_are_cut():
    cam = OrbitCamera.fit((0, 0, 0), (10, 10, 10), W, H)
    assert (cam.azimuth, cam.elevation) == (45.0, 30.0)
    corners = np.array([[x, y, z] for x in (0, 10) for y in (0, 10) for z in (0, 10)], float)
    sx, sy, _ = cam.project(corners)
    assert sx.min() >= 0 and sx.max() <= W and sy.min() >= 0 and sy.max() <= H
    assert sx.max() - sx.min() > 0.8 * W or sy.max() - sy.min() > 0.8 * H  # snug, too
    # a segment from behind the camera to the target is cut at the near plane
    behind = cam.eye() - 5 * cam.basis()[2]
    kept, a, b = clip_near(cam, behind[None], np.asarray(cam.target)[None])
    assert kept[0] and a[0, 2] == pytest.approx(cam.near) and b[0, 2] == pytest.approx(cam.distance)
    sx, _, _ = cam.project(behind[None])
    assert np.isnan(sx[0])
    assert len(box_edges(np.zeros((2, 3)), np.ones((2, 3)))[0]) == 24  # 12 edges each


def test_nearer_drones_are_drawn_bigger_and_brighter():
    cam = side_camera()
    near, far = [2.0, 6.5, 5.0], [8.0, 3.5, 5.0]  # depth 7 (left of centre) and 13 (right)
    renderer = Renderer(W, H)
    scene = cube_scene([dots([near, far], size=0.2)])  # under BODY_PX at the orbit centre
    renderer.draw(scene, cam)
    img = renderer.rgb_array()
    fog = Fog(cam, scene, BACKGROUND)
    shaded = fog.apply(np.full((2, 3), 255), np.array([7.0, 13.0]))
    assert shaded[0].sum() > shaded[1].sum()  # brighter near
    sizes = body_px(0.2, np.array([7.0, 13.0]), cam)
    assert list(sizes) == [round(BODY_PX * 10 / 7), round(BODY_PX * 10 / 13)]
    assert body_px(0.6, np.array([10.0]), cam)[0] == round(0.6 * FOCAL / 10)  # true size
    area = [int((img == c).all(axis=2).sum()) for c in shaded]
    assert area[0] > 1.5 * area[1] > 0
    sx, sy, _ = cam.project(np.array([near, far]))
    for x, y, c in zip(sx, sy, shaded, strict=True):  # each at its projected pixel
        assert tuple(img[int(y), int(x)]) == tuple(c)


def test_painters_order_puts_the_nearer_of_two_overlapping_drones_on_top():
    cam = side_camera()
    line = [[3.0, 5.0, 5.0], [7.0, 5.0, 5.0]]  # both on the view axis: the same pixel
    for order in (line, line[::-1]):
        scene = cube_scene([dots(order[:1], (250, 0, 0)), dots(order[1:], (0, 250, 0))])
        renderer = Renderer(W, H)
        renderer.draw(scene, cam)
        px = renderer.rgb_array()[H // 2, W // 2]
        nearest_is_red = order[0][0] < order[1][0]
        assert (px[0] > px[1]) == nearest_is_red


# ---------------------------------------------------------------------- controls
@pytest.fixture
def viewer3d():
    made = []

    def make(**kw):
        v = Viewer(flock3d(), reset=flock3d, width=320, height=240, headless=True, **kw)
        v.paused = True
        made.append(v)
        return v

    yield make
    for v in made:
        v.close()


def drag(v: Viewer, start, end, button: int = 1) -> None:
    v.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=button, pos=start))
    rel = (end[0] - start[0], end[1] - start[1])
    v.handle(pygame.event.Event(pygame.MOUSEMOTION, pos=end, rel=rel, buttons=(1, 0, 0)))
    v.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, button=button, pos=end))


def test_drag_turns_the_orbit_and_clamps_the_elevation(viewer3d):
    v = viewer3d()
    assert v.orbit_view and v.active_camera is v.orbit
    cam = v.orbit
    az, el = cam.azimuth, cam.elevation
    drag(v, (100, 100), (150, 110))
    assert cam.azimuth == pytest.approx(az - 50 * ROTATE_DEG_PER_PX)
    assert cam.elevation == pytest.approx(el + 10 * ROTATE_DEG_PER_PX)
    assert v.options.selected is None  # a drag, not a click
    drag(v, (100, 0), (100, 5000))
    assert cam.elevation == MAX_ELEVATION
    drag(v, (100, 5000), (100, -5000))
    assert cam.elevation == -MAX_ELEVATION
    drag(v, (0, 100), (2000, 100))
    assert -180.0 <= cam.azimuth < 180.0
    v.tick()  # still draws at the poles
    v._key(pygame.K_v)
    assert (cam.azimuth, cam.elevation) == (45.0, 30.0)


def test_wheel_zoom_is_clamped_and_right_drag_moves_the_centre(viewer3d):
    v = viewer3d()
    cam = v.orbit
    home = cam.distance
    v.handle(pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=2))
    assert cam.distance == pytest.approx(home / 1.15**2)
    for _ in range(60):
        v.handle(pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=1))
    assert cam.distance == pytest.approx(cam.min_distance) and cam.min_distance < home
    for _ in range(120):
        v.handle(pygame.event.Event(pygame.MOUSEWHEEL, x=0, y=-1))
    assert cam.distance == pytest.approx(cam.max_distance) and cam.max_distance > home
    v.tick()
    target = np.asarray(cam.target)
    drag(v, (100, 100), (140, 100), button=3)
    moved = np.asarray(cam.target) - target
    assert moved @ cam.basis()[0] < 0  # the centre moves left: the picture follows right
    v._key(pygame.K_v)
    assert cam.distance == home and cam.target == (10.0, 10.0, 10.0)


def test_o_switches_to_the_top_down_view_and_back(viewer3d):
    v = viewer3d()
    v.tick()
    orbit_frame = v.frame_rgb()
    v._key(pygame.K_o)
    assert not v.orbit_view and isinstance(v.active_camera, Camera)
    v.tick()
    assert not np.array_equal(v.frame_rgb(), orbit_frame)
    v._key(pygame.K_o)
    assert v.active_camera is v.orbit
    top = viewer3d(view="top")
    assert not top.orbit_view


def test_click_selects_the_drone_drawn_there_and_follow_centres_it(viewer3d):
    v = viewer3d()
    v.tick()
    pos = v.model.engine.pos[7]
    (x, y), = v.orbit.to_screen(pos[None])  # fmt: skip
    v.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=(int(x), int(y))))
    v.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, button=1, pos=(int(x), int(y))))
    assert v.options.selected == pick(v.scene, v.orbit, int(x), int(y), 12)
    assert v.options.selected is not None
    np.testing.assert_allclose(
        v.orbit.to_screen(v.model.engine.pos[v.options.selected][None])[0], (x, y), atol=12
    )
    v.tick()  # the selection rings and the drop line are drawn
    v._key(pygame.K_f)
    v.tick()
    alive = v.model.engine.alive[:60]
    np.testing.assert_allclose(v.orbit.target, v.model.engine.pos[:60][alive].mean(axis=0))


# ---------------------------------------------------------------------- frames
def test_a_3d_flocking_frame_renders_in_perspective_not_from_above():
    model = flock3d()
    scene = scene_of(model)
    assert scene.dim == 3 and scene.agents().pos.shape == (60, 3)
    renderer = Renderer(W, H)
    renderer.draw(scene, options=RenderOptions(show_comm=True))  # default: the orbit view
    orbit = renderer.rgb_array()
    renderer.draw(scene, Camera.fit(scene.bounds, W, H))
    top = renderer.rgb_array()
    assert not np.array_equal(orbit, top)
    # a drone at the cube's centre is drawn at the picture's centre, in its fogged colour
    e = model.engine
    e.pos[0] = [10.0, 10.0, 10.0]
    e.vel[0] = [1.0, 0.0, 0.0]
    scene = scene_of(model)
    cam = OrbitCamera.of_scene(scene, W, H)
    renderer.draw(scene, cam, RenderOptions(colour_by="crashed"))
    img = renderer.rgb_array()
    alive = scene.agents().attributes["crashed"].colour()[:1]
    expect = Fog(cam, scene, BACKGROUND).apply(alive, np.array([cam.distance]))[0]
    assert tuple(img[H // 2, W // 2]) == tuple(expect)
    # the floor shows: a shadow or the floor grid under the swarm, the cube's edges
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10


def test_safety_interventions_colour_the_drones_in_3d():
    model = flock3d(n=5)
    e = model.engine
    e.pos[:5] = [[4, 4, 4], [8, 12, 6], [12, 6, 12], [16, 16, 8], [6, 16, 16]]
    e.intervention = np.zeros(e.rows)
    e.intervention[2] = 2.0 * model.engine.config.max_speed  # the top of the colour map
    scene = scene_of(model)
    renderer = Renderer(W, H)
    cam = OrbitCamera.of_scene(scene, W, H)
    renderer.draw(scene, cam, RenderOptions(colour_by="intervention"))
    img = renderer.rgb_array()
    sx, sy, depth = cam.project(e.pos[:5])
    colours = scene.agents().attributes["intervention"].colour()
    expect = Fog(cam, scene, BACKGROUND).apply(colours, depth)
    got = [tuple(img[int(y), int(x)]) for x, y in zip(sx, sy, strict=True)]
    assert got == [tuple(c) for c in expect]
    assert got[2] != got[0]  # the one the layer changed stands out


class StandInField:
    """What the viewer reads of swarm.obstacles.ObstacleField3D."""

    def __init__(self):
        self.sphere_center = np.array([[5.0, 5.0, 5.0]])
        self.sphere_radius = np.array([1.0])
        self.box_lo = np.array([[1.0, 6.0, 3.0]])
        self.box_hi = np.array([[3.0, 8.0, 7.0]])
        self.world_size = 10.0
        self.torus = False


def test_spheres_sort_with_the_drones_and_boxes_are_wireframes():
    layers = obstacle_layers(SimpleNamespace(obstacles=StandInField()))
    assert [type(lay).__name__ for lay in layers] == ["Circles", "Boxes"]
    cam = side_camera()
    fog = Fog(cam, cube_scene([]), BACKGROUND)
    ball = tuple(fog.apply(np.array([OBSTACLE_COLOUR]), np.array([10.0]))[0])
    for x, drone_on_top in ((2.5, True), (7.5, False)):  # in front of the ball, behind it
        renderer = Renderer(W, H)
        renderer.draw(cube_scene([*layers, dots([[x, 5.0, 5.0]], (250, 0, 0))]), cam)
        img = renderer.rgb_array()
        centre = tuple(img[H // 2, W // 2])
        assert (centre == ball) != drone_on_top
        assert (centre[0] > 200) == drone_on_top
    # the ball's projected radius: f * r / depth pixels
    row = img[H // 2]
    inside = np.flatnonzero((row == ball).all(axis=1))
    assert inside.max() - inside.min() + 1 == pytest.approx(2 * FOCAL / 10, abs=3)
    # the box: pixels along its projected front edge are the box colour, shaded
    a, b = box_edges(layers[1].lo, layers[1].hi)
    sx, sy, depth = cam.project(0.5 * (a + b))
    shaded = {tuple(c) for c in fog.apply(np.full((len(depth), 3), BOX_COLOUR), depth)}
    hits = [tuple(img[int(y), int(x)]) in shaded
            for x, y in zip(sx, sy, strict=True) if 0 <= x < W and 0 <= y < H]  # fmt: skip
    assert sum(hits) >= 6 and len(hits) == 12
    # from above: the box's footprint is filled, the sphere a disc
    renderer.draw(cube_scene(layers), Camera.fit((0, 0, 10, 10), W, H))
    top = renderer.rgb_array()
    (bx, by), (cx, cy) = Camera.fit((0, 0, 10, 10), W, H).to_screen(np.array([[2, 7.5], [5, 5]]))
    assert tuple(top[int(by), int(bx)]) == BOX_COLOUR
    assert tuple(top[int(cy), int(cx)]) == OBSTACLE_COLOUR


def test_cylinder_sides_are_the_tangents_from_the_eye():
    """The silhouette of a vertical cylinder: two vertical lines whose feet are the points
    where tangents from the eye (in the plane) touch its circle; none from over the disc."""
    rng = np.random.default_rng(4)
    centre = rng.uniform(2.0, 8.0, (20, 2))
    radius = rng.uniform(0.2, 1.5, 20)
    z = np.sort(rng.uniform(0.0, 10.0, (20, 2)), axis=1)
    eye = np.array([-3.0, 4.0, 6.0])
    a, b, owner = cylinder_edges(eye, centre, radius, z)
    vertical = a[:, 2] != b[:, 2]
    assert len(a) == 20 * (2 * 16 + 2) and vertical.sum() == 40
    np.testing.assert_array_equal(np.bincount(owner[vertical]), np.full(20, 2))
    foot, k = a[vertical, :2], owner[vertical]
    np.testing.assert_allclose(np.linalg.norm(foot - centre[k], axis=1), radius[k])
    tangency = ((foot - eye[:2]) * (foot - centre[k])).sum(axis=1)
    np.testing.assert_allclose(tangency, 0.0, atol=1e-9)
    np.testing.assert_allclose(a[vertical, 2], z[k, 0])
    np.testing.assert_allclose(b[vertical, 2], z[k, 1])
    rings = ~vertical  # closed circles at the bottom and top: every vertex on the circle
    np.testing.assert_allclose(np.linalg.norm(a[rings, :2] - centre[owner[rings]], axis=1),
                               radius[owner[rings]])  # fmt: skip
    above = np.array([centre[0, 0] + 0.1, centre[0, 1], 20.0])  # over the first disc
    _, _, owner = cylinder_edges(above, centre[:1], radius[:1], z[:1])
    assert len(owner) == 2 * 16


def test_cylinders_are_wireframes_from_the_side_and_discs_from_above():
    field = SimpleNamespace(
        cylinder_center=np.array([[5.0, 5.0]]),
        cylinder_radius=np.array([1.0]),
        cylinder_z=np.array([[2.0, 8.0]]),
    )
    layers = obstacle_layers(SimpleNamespace(obstacles=field))
    assert [type(lay).__name__ for lay in layers] == ["Cylinders"]
    cam = side_camera()  # eye (-5, 5, 5): the sides touch the circle at x = 4.9
    renderer = Renderer(W, H)
    renderer.draw(cube_scene(layers), cam)
    img = renderer.rgb_array()
    fog = Fog(cam, cube_scene([]), BACKGROUND)
    depths = np.linspace(5.0, 15.0, 5000)  # every shade of the colour over these depths
    shaded = {tuple(c) for c in fog.apply(np.full((5000, 3), BOX_COLOUR), depths)}
    row = img[H // 2]
    hits = np.flatnonzero([tuple(c) in shaded for c in row])
    side = FOCAL * math.sqrt(0.99) / 9.9  # pixels either side of the centre
    assert len(hits) >= 2
    assert np.abs(hits - (W / 2 - side)).min() <= 1.0 and np.abs(hits - (W / 2 + side)).min() <= 1.0
    assert (np.abs(hits - W / 2) > side - 2).all()  # hollow: nothing drawn between the sides
    top_y = H / 2 - FOCAL * 3.0 / 9.0  # the front of the top circle, (4, 5, 8), at depth 9
    column = img[:, W // 2]
    assert any(tuple(column[y]) in shaded for y in range(int(top_y) - 1, int(top_y) + 2))
    renderer.draw(cube_scene(layers), Camera.fit((0, 0, 10, 10), W, H))  # from above: a disc
    top = renderer.rgb_array()
    inside, outside = Camera.fit((0, 0, 10, 10), W, H).to_screen(np.array([[5.8, 5.0], [6.3, 5.0]]))
    assert tuple(top[int(inside[1]), int(inside[0])]) == BOX_COLOUR
    assert tuple(top[int(outside[1]), int(outside[0])]) != BOX_COLOUR


def test_a_ground_map_lies_on_the_floor():
    red = np.zeros((4, 4, 3), np.uint8)
    red[...] = (200, 30, 30)
    red[0, 0] = (30, 200, 30)  # image row 0 is the top (high y): cell x 0..2.5, y 7.5..10
    scene = cube_scene([Cells("map", (0.0, 0.0), 2.5, rgb=red)])
    cam = OrbitCamera.of_scene(scene, W, H, elevation=50.0)
    renderer = Renderer(W, H)
    renderer.draw(scene, cam)
    img = renderer.rgb_array()
    (x, y), (gx, gy) = cam.to_screen(np.array([[6.3, 3.7, 0.0], [1.2, 8.8, 0.0]]))
    assert tuple(img[int(y), int(x)]) == (200, 30, 30)
    assert tuple(img[int(gy), int(gx)]) == (30, 200, 30)


# ---------------------------------------------------------------------- recordings
def test_recording_a_3d_run_headless(tmp_path):
    model = flock3d(n=20)
    out = record(model, tmp_path / "orbit.gif", steps=4, width=96, height=80, turn=10.0)
    frames = imageio.mimread(out)
    assert len(frames) == 4 and frames[0].shape[:2] == (80, 96)
    top = imageio.mimread(record(flock3d(n=20), tmp_path / "top.gif", steps=1, width=96,
                                 height=80, view="top"))  # fmt: skip
    assert not np.array_equal(frames[0], top[0])
    out = tmp_path / "cli.mp4"
    code = main(["view", "flocking", "--set", "dim=3", "--agents", "12", "--record", str(out),
                 "--steps", "3", "--headless", "--width", "96", "--height", "80",
                 "--turn", "2"])  # fmt: skip
    assert code == 0 and len(imageio.mimread(out)) == 3


def test_a_3d_env_frame_is_the_orbit_picture():
    from envs import flocking_v0

    env = flocking_v0.parallel_env(n_agents=12, dim=3, render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    live = env.unwrapped.core._live()
    scene = scene_of(live)
    expected = Renderer(frame.shape[1], frame.shape[0]).render(live)
    np.testing.assert_array_equal(frame, expected)
    renderer = Renderer(frame.shape[1], frame.shape[0])
    renderer.draw(scene, Camera.fit(scene.bounds, frame.shape[1], frame.shape[0]))
    assert not np.array_equal(frame, renderer.rgb_array())
    env.close()


# ---------------------------------------------------------------------- 2-D unchanged
# sha256 of these frames drawn by the viewer before the 3-D camera existed (commit 5a84df4)
PINNED = {
    2: "f185b2e3c9eee90d8a7d88b99b7779f249b667689f12e5617786c1439d5c5c50",
    3: "8d174b1f19b00f97452c13c0a1452cfc5798cfb813820b6f2b69c6f857f609b8",  # from above
}


@pytest.mark.parametrize("dim", [2, 3])
def test_2d_frames_and_the_top_down_view_are_pixel_for_pixel_as_before(dim):
    n = 40
    model = FlockingModel(n_agents=n, world_size=20.0, boundary="box", dim=dim, rng=0)
    e = model.engine
    rng = np.random.default_rng(7)
    e.pos[:n] = rng.uniform(1.0, 19.0, (n, dim))
    e.vel[:n] = rng.normal(0.0, 1.0, (n, dim))
    e.invalidate()
    scene = scene_of(model)
    renderer = Renderer(240, 200)
    trails = np.stack([e.pos[:n, :2] - k * 0.2 * e.vel[:n, :2] for k in range(4, 0, -1)])
    camera = Camera.fit(scene.bounds, 240, 200)
    renderer.draw(scene, camera, RenderOptions(show_comm=True), trails)
    assert hashlib.sha256(renderer.rgb_array().tobytes()).hexdigest() == PINNED[dim]


def test_every_layer_draws_from_any_pose_even_inside_the_cube():
    """Spheres, boxes, a ground map, discs and polygons on the floor, links, trails and a
    selection, from poles, from below the floor and from inside the arena: no error, no
    numpy warning (points behind the camera are cut, not divided by a negative depth)."""
    import warnings

    from swarm.viewer.layers import Circles, Edges, Polygons

    model = flock3d(n=30)
    e = model.engine
    field = StandInField()
    field.sphere_center, field.box_lo, field.box_hi = (
        np.array([[10.0, 10.0, 10.0]]), np.array([[2.0, 2.0, 0.0]]), np.array([[6.0, 5.0, 9.0]])
    )  # fmt: skip
    field.cylinder_center = np.array([[10.0, 10.0], [15.0, 5.0]])  # the camera stands in one
    field.cylinder_radius = np.array([12.0, 1.0])
    field.cylinder_z = np.array([[0.0, 20.0], [3.0, 9.0]])
    extra = [
        Cells("map", (0.0, 0.0), 5.0, values=np.arange(16.0).reshape(4, 4)),
        Circles("pads", np.array([[4.0, 15.0], [15.0, 4.0]]), 1.5, filled=False),
        Polygons("walls", [np.array([[12.0, 12.0], [16.0, 12.0], [16.0, 14.0]])]),
        *obstacle_layers(SimpleNamespace(obstacles=field)),
    ]
    base = scene_of(model)
    scene = Scene(base.bounds, [*extra, *base.layers], zbounds=base.zbounds)
    assert any(isinstance(lay, Edges) for lay in scene.layers)
    trails = np.stack([e.pos[:30] - k * 0.3 * e.vel[:30] for k in range(3, 0, -1)])
    options = RenderOptions(show_comm=True, show_sensing=True, selected=3,
                            highlight=np.array([1, 2]))  # fmt: skip
    renderer = Renderer(W, H)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for azimuth, elevation, zoom in [(45, 30, 1), (0, 89, 1), (200, -89, 1), (-60, 10, 50),
                                         (100, 45, 50), (30, -20, 0.01)]:  # fmt: skip
            cam = OrbitCamera.of_scene(scene, W, H, azimuth=azimuth, elevation=elevation)
            cam.zoom(zoom)  # 50: as near as allowed, inside the cube
            assert (zoom != 50) or bool(((cam.eye() > 0) & (cam.eye() < 20)).all())
            renderer.draw(scene, cam, options, trails)
            assert renderer.rgb_array().any()
