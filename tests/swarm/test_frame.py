"""The env frame's read-out (issue #18, "frames as cheap as steps"): the fast copy gives the
pixels of the old ``array3d(...).transpose(1, 0, 2)`` route, for every surface format, and
every frame is a new array; the cached background draws the same pixels as a fresh one."""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # before pygame opens a display
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import pygame
import pytest

from envs import flocking_v0
from envs.flocking import FlockingModel
from swarm.viewer import Camera, Renderer, RenderOptions, scene_of
from swarm.viewer.renderer import rgb24_surface, surface_rgb

W, H = 61, 47  # odd sizes: a 24-bit row (183 bytes) is padded to 184, a subsurface's too


def old_route(surface: pygame.Surface) -> np.ndarray:
    """The frame copy before issue #18."""
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


def noisy(surface: pygame.Surface, seed: int = 0) -> pygame.Surface:
    """``surface`` covered in random colours (every byte of a 32-bit one, X included)."""
    rng = np.random.default_rng(seed)
    if surface.get_bytesize() == 4:
        pixels = pygame.surfarray.pixels2d(surface)
        pixels[...] = rng.integers(0, 2**32, pixels.shape, dtype=np.uint32)
        del pixels
    else:
        for _ in range(300):
            rect = pygame.Rect(*rng.integers(0, 50, 2), *rng.integers(1, 20, 2))
            surface.fill(tuple(int(v) for v in rng.integers(0, 256, 3)), rect)
    return surface


def surfaces() -> dict[str, pygame.Surface]:
    keyed = pygame.Surface((W, H), 0, 32)
    keyed.set_colorkey((5, 5, 5))
    faded = pygame.Surface((W, H), 0, 32)
    faded.set_alpha(100)
    return {
        "32-bit (the renderer's)": pygame.Surface((W, H), 0, 32),
        "32-bit per-pixel alpha": pygame.Surface((W, H), pygame.SRCALPHA, 32),
        "32-bit BGR": pygame.Surface((W, H), 0, 32, (0xFF, 0xFF00, 0xFF0000, 0)),
        "32-bit subsurface": pygame.Surface((100, 90), 0, 32).subsurface((7, 9, W, H)),
        "32-bit colour key": keyed,
        "32-bit surface alpha": faded,
        "24-bit": pygame.Surface((W, H), 0, 24),
        "16-bit": pygame.Surface((W, H), 0, 16),
        "8-bit": pygame.Surface((W, H), 0, 8),
    }


@pytest.mark.parametrize("name", list(surfaces()))
def test_fast_copy_has_the_old_routes_pixels_for_every_format(name):
    surface = noisy(surfaces()[name])
    expected = old_route(surface)
    for frame in (surface_rgb(surface), surface_rgb(surface, rgb24_surface(W, H))):
        assert frame.shape == (H, W, 3) and frame.dtype == np.uint8
        assert frame.flags.c_contiguous and frame.flags.writeable and frame.flags.owndata
        np.testing.assert_array_equal(frame, expected)
    assert not surface.get_locked()  # a blit or pygame.draw call may follow


def test_a_locked_surface_is_read_without_a_blit():
    surface = noisy(pygame.Surface((W, H), 0, 32))
    held = pygame.surfarray.pixels2d(surface)  # a caller's view: blitting it would raise
    np.testing.assert_array_equal(surface_rgb(surface, rgb24_surface(W, H)), old_route(surface))
    del held


def test_renderer_frame_is_the_old_routes_pixels_of_its_surface():
    model = FlockingModel(n_agents=200, world_size=30.0, rng=1)
    renderer = Renderer(W * 3, H * 3)
    renderer.draw(scene_of(model), options=RenderOptions(show_comm=True))
    np.testing.assert_array_equal(renderer.rgb_array(), old_route(renderer.surface))
    other = noisy(pygame.Surface((W, H), pygame.SRCALPHA, 32))  # rgb_array(surface=...)
    np.testing.assert_array_equal(renderer.rgb_array(other), old_route(other))
    assert not renderer.surface.get_locked()


def test_consecutive_env_frames_are_independent_arrays():
    env = flocking_v0.parallel_env(n_agents=50, render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    kept = first.copy()
    env.step({a: np.ones(env.action_space(a).shape, np.float32) for a in env.agents})
    second = env.render()
    again = env.render()
    assert not np.shares_memory(first, second) and not np.shares_memory(second, again)
    np.testing.assert_array_equal(first, kept)  # drawing the next frame left it alone
    assert not np.array_equal(first, second)  # (the drones did move)
    np.testing.assert_array_equal(second, again)
    second[...] = 0  # a caller may write into its frame...
    np.testing.assert_array_equal(env.render(), again)  # ...without touching later ones
    env.close()


def test_cached_background_draws_what_a_fresh_renderer_draws():
    """The background and arena are copied in while (bounds, camera) repeat; a zoom, a pan
    or another arena redraws them."""
    small = scene_of(FlockingModel(n_agents=30, world_size=20.0, rng=2))
    big = scene_of(FlockingModel(n_agents=30, world_size=35.0, rng=3))
    fit = Camera.fit(small.bounds, 160, 120)
    zoomed = Camera(160, 120, (4.0, 6.0), fit.scale * 3)
    renderer = Renderer(160, 120)
    for scene, camera in [(small, fit), (small, fit), (small, zoomed), (big, None), (small, fit)]:
        renderer.draw(scene, camera)
        fresh = Renderer(160, 120)
        fresh.draw(scene, camera)
        np.testing.assert_array_equal(renderer.rgb_array(), old_route(fresh.surface))
