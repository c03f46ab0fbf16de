"""Draw a :class:`~swarm.viewer.layers.Scene` onto a pygame Surface, or into an RGB array.

The renderer is a pure function of (scene, camera, options, trails): the same state gives
the same pixels, which is what lets the PettingZoo envs' ``rgb_array`` and ``human`` modes
share it with the interactive viewer and the recorder. It works without a display (SDL's
``dummy`` video driver); only text needs ``pygame.font``.

A 3-D scene (``scene.zbounds`` set) is drawn in perspective by an
:class:`~swarm.viewer.orbit.OrbitCamera` (the default for such a scene), or from above by a
:class:`Camera` (its (x, y) only; the top-down view).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pygame

from swarm.viewer import raster
from swarm.viewer.layers import (
    Agents,
    Boxes,
    Cells,
    Circles,
    Edges,
    Polygons,
    Scene,
    resolve,
    scene_of,
)

if TYPE_CHECKING:
    from swarm.viewer.orbit import OrbitCamera

BACKGROUND = (14, 16, 22)
ARENA = (26, 29, 38)
ARENA_BORDER = (70, 74, 90)
SENSE_RING = (200, 200, 200)
COMM_RING = (120, 160, 220)
SELECTED = (255, 255, 255)
HIGHLIGHT = (255, 255, 255)
MIN_MARKER_PX = 5  # a marker never shrinks below this, so a zoomed-out swarm stays visible
MAX_MARKER_PX = 64
TRAIL_FADE = 0.75  # the oldest trail point keeps 1 - TRAIL_FADE of the agent's colour


@dataclass
class Camera:
    """World -> screen: ``scale`` pixels per world unit, ``centre`` at the screen centre.

    World y points up; screen y points down. 3-D points are seen from above: their z is
    dropped (the top-down view of a 3-D scene).
    """

    width: int
    height: int
    centre: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0

    @classmethod
    def fit(cls, bounds: tuple[float, float, float, float], width: int, height: int) -> Camera:
        """The camera that shows ``bounds`` whole, with a small margin."""
        x0, y0, x1, y1 = bounds
        scale = 0.96 * min(width / max(x1 - x0, 1e-9), height / max(y1 - y0, 1e-9))
        return cls(width, height, ((x0 + x1) / 2, (y0 + y1) / 2), scale)

    def to_screen(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) float screen coordinates of world points (N, 2) (or (N, 3), from above)."""
        xy = np.asarray(xy, np.float64)
        if xy.ndim and xy.shape[-1] == 3:
            xy = xy[..., :2]
        xy = xy.reshape(-1, 2)
        sx = (xy[:, 0] - self.centre[0]) * self.scale + self.width / 2
        sy = self.height / 2 - (xy[:, 1] - self.centre[1]) * self.scale
        return np.column_stack([sx, sy])

    def to_world(self, sx: float, sy: float) -> tuple[float, float]:
        return (
            self.centre[0] + (sx - self.width / 2) / self.scale,
            self.centre[1] - (sy - self.height / 2) / self.scale,
        )

    def zoom(self, factor: float, about: tuple[float, float] | None = None) -> None:
        """Zoom by ``factor`` keeping the world point under screen point ``about`` fixed."""
        about = about if about is not None else (self.width / 2, self.height / 2)
        wx, wy = self.to_world(*about)
        self.scale = float(np.clip(self.scale * factor, 1e-3, 1e6))
        nx_, ny_ = self.to_world(*about)
        self.centre = (self.centre[0] + wx - nx_, self.centre[1] + wy - ny_)

    def pan(self, dx_px: float, dy_px: float) -> None:
        """Move the picture by (dx, dy) screen pixels (a drag)."""
        self.centre = (self.centre[0] - dx_px / self.scale, self.centre[1] + dy_px / self.scale)


@dataclass
class RenderOptions:
    """What to show; the viewer's toggles."""

    colour_by: str | None = None  # an attribute of the agents layer; None: its first
    show_comm: bool = False  # layers named "comm"
    show_sensing: bool = False  # sensing ranges of every agent (the selected one always)
    selected: int | None = None  # agent id (row)
    highlight: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # ids
    hidden: frozenset[str] = frozenset()  # other layer names to skip


class Renderer:
    """Draws scenes at a fixed size; ``surface`` holds the last frame."""

    def __init__(self, width: int = 800, height: int = 800):
        if width < 16 or height < 16:
            raise ValueError(
                f"renderer: width and height must be >= 16 pixels, got {width}x{height}"
            )
        self.width, self.height = int(width), int(height)
        self.surface = pygame.Surface((self.width, self.height), 0, 32)
        # the frame's RGB is read out through this (see surface_rgb), made on first use
        self._rgb24: pygame.Surface | None = None
        # background and arena, (H, W) pixel values, for the (bounds, camera) in the key:
        # the same for every frame of an env, so copied in instead of filled and drawn
        self._base: tuple[tuple[float, ...], np.ndarray] | None = None
        self._base3d: tuple[tuple[float, ...], np.ndarray] | None = None  # the orbit view's
        self._floor_map: tuple | None = None  # screen pixel -> floor cell, per camera pose

    # ------------------------------------------------------------------ entry points
    def draw(
        self,
        scene: Scene,
        camera: Camera | OrbitCamera | None = None,
        options: RenderOptions | None = None,
        trails: np.ndarray | None = None,
    ) -> pygame.Surface:
        """Draw ``scene``; ``trails`` (T, N, dim) are past positions of the agents layer,
        oldest first. Returns the surface (owned by the renderer, redrawn next call).

        Without a camera the whole arena is in view: from above in 2-D, from the orbit
        camera's home (a three-quarter view) in 3-D."""
        from swarm.viewer.orbit import OrbitCamera, draw_orbit

        options = options or RenderOptions()
        if camera is None and scene.zbounds is not None:
            camera = OrbitCamera.of_scene(scene, self.width, self.height)
        if isinstance(camera, OrbitCamera):
            draw_orbit(self, scene, camera, options, trails)
            return self.surface
        camera = camera or Camera.fit(scene.bounds, self.width, self.height)
        surf = self.surface
        self._background(scene, camera)
        for layer in scene.layers:  # raster layers go under everything else
            if isinstance(layer, Cells) and layer.name not in options.hidden:
                self._cells(layer, camera)
        for layer in scene.layers:
            if isinstance(layer, Polygons) and layer.name not in options.hidden:
                self._polygons(layer, camera)
            if isinstance(layer, Circles) and layer.name not in options.hidden:
                self._circles(layer, camera)
            if isinstance(layer, Boxes) and layer.name not in options.hidden:
                self._footprints(layer, camera)
        main = scene.agents()
        pixels = pygame.surfarray.pixels2d(surf)  # locks the surface until released
        try:
            for layer in scene.layers:
                if isinstance(layer, Edges) and self._shown(layer.name, options):
                    self._edges(pixels, layer, camera)
            if trails is not None and main is not None and len(trails):
                self._trails(pixels, main, trails, camera, options)
            for layer in scene.layers:
                if isinstance(layer, Agents) and layer.name not in options.hidden:
                    self._agents(pixels, layer, camera, options)
        finally:
            del pixels
        if main is not None:
            for layer in scene.layers:  # drawn by the selected agent's own layer only
                if isinstance(layer, Agents):
                    self._selection(layer, camera, options, main)
        return surf

    def rgb_array(self, surface: pygame.Surface | None = None) -> np.ndarray:
        """(H, W, 3) uint8 copy of the last frame (or of ``surface``): a new, writable array
        each call, so a frame kept by the caller never changes when the next one is drawn."""
        if surface is not None and surface is not self.surface:
            return surface_rgb(surface)
        if self._rgb24 is None:
            self._rgb24 = rgb24_surface(self.width, self.height)
        return surface_rgb(self.surface, self._rgb24)

    def render(self, model: Any, options: RenderOptions | None = None) -> np.ndarray:
        """(H, W, 3) uint8 picture of a model's current state, whole arena in view."""
        self.draw(scene_of(model), options=options)
        return self.rgb_array()

    # ------------------------------------------------------------------ layers
    @staticmethod
    def _shown(name: str, options: RenderOptions) -> bool:
        if name == "comm":
            return options.show_comm
        return name not in options.hidden

    def _background(self, scene: Scene, camera: Camera) -> None:
        """Background and arena: filled and drawn once per (bounds, camera), then copied in
        (about half the cost: one copy instead of two fills of nearly the whole frame)."""
        key = (*map(float, scene.bounds), *map(float, camera.centre), float(camera.scale))
        key += (float(camera.width), float(camera.height))
        if self._base is not None and self._base[0] == key:
            pixels = pygame.surfarray.pixels2d(self.surface)
            pixels.T[...] = self._base[1]
            del pixels
            return
        self.surface.fill(BACKGROUND)
        self._arena(scene, camera)
        pixels = pygame.surfarray.pixels2d(self.surface)
        self._base = (key, pixels.T.copy())  # (H, W): one contiguous copy
        del pixels

    def _arena(self, scene: Scene, camera: Camera) -> None:
        x0, y0, x1, y1 = scene.bounds
        (a, b), (c, d) = camera.to_screen(np.array([[x0, y1], [x1, y0]]))
        rect = pygame.Rect(
            int(np.floor(a)), int(np.floor(b)), int(np.ceil(c - a)), int(np.ceil(d - b))
        )
        pygame.draw.rect(self.surface, ARENA, rect)
        pygame.draw.rect(self.surface, ARENA_BORDER, rect, 1)

    def _cells(self, layer: Cells, camera: Camera) -> None:
        rgb, shown = layer.image()
        h, w = shown.shape
        x0, y0 = layer.origin
        cs = layer.cell_size
        # only the visible block of cells is scaled, so zooming into a big map stays cheap
        wx0, wy1 = camera.to_world(0, 0)
        wx1, wy0 = camera.to_world(self.width, self.height)
        c0 = int(np.clip(np.floor((wx0 - x0) / cs), 0, w))
        c1 = int(np.clip(np.ceil((wx1 - x0) / cs), 0, w))
        r0 = int(np.clip(np.floor(h - (wy1 - y0) / cs), 0, h))  # image row 0 is the top
        r1 = int(np.clip(np.ceil(h - (wy0 - y0) / cs), 0, h))
        if c1 <= c0 or r1 <= r0:
            return
        block = rgb[r0:r1, c0:c1]
        (sx0, sy0), (sx1, sy1) = camera.to_screen(
            np.array([[x0 + c0 * cs, y0 + (h - r0) * cs], [x0 + c1 * cs, y0 + (h - r1) * cs]])
        )
        size = (max(round(float(sx1 - sx0)), 1), max(round(float(sy1 - sy0)), 1))
        small = pygame.surfarray.make_surface(np.ascontiguousarray(block.transpose(1, 0, 2)))
        if not shown[r0:r1, c0:c1].all():
            key = (1, 2, 3)  # a colour viridis never makes, marks the transparent cells
            tmp = pygame.surfarray.pixels3d(small)
            tmp[~shown[r0:r1, c0:c1].T] = key
            del tmp
            small.set_colorkey(key)
        self.surface.blit(
            pygame.transform.scale(small, size), (round(float(sx0)), round(float(sy0)))
        )

    def _polygons(self, layer: Polygons, camera: Camera) -> None:
        colour = tuple(int(v) for v in layer.colour)
        for polygon in layer.polygons:  # a few hundred at most: one draw call each
            points = camera.to_screen(np.asarray(polygon, np.float64))
            pygame.draw.polygon(self.surface, colour, [tuple(map(float, p)) for p in points])

    def _footprints(self, layer: Boxes, camera: Camera) -> None:
        """3-D boxes from above: filled rectangles (a few hundred at most)."""
        colour = tuple(int(v) for v in layer.colour)
        lo = np.asarray(layer.lo, np.float64).reshape(-1, 3)
        hi = np.asarray(layer.hi, np.float64).reshape(-1, 3)
        corners = np.stack([lo[:, :2], np.column_stack([hi[:, 0], lo[:, 1]]), hi[:, :2],
                            np.column_stack([lo[:, 0], hi[:, 1]])], axis=1)  # fmt: skip
        for box in corners:
            points = camera.to_screen(box)
            pygame.draw.polygon(self.surface, colour, [tuple(map(float, p)) for p in points])

    def _circles(self, layer: Circles, camera: Camera) -> None:
        centres = _plane(layer.centres)
        if not len(centres):
            return
        radius = np.broadcast_to(np.asarray(layer.radius, np.float64), (len(centres),))
        colour = np.asarray(layer.colour, np.uint8)
        colours = np.broadcast_to(colour, (len(centres), 3)) if colour.ndim == 1 else colour
        screen = camera.to_screen(centres)
        r_px = np.maximum(radius * camera.scale, 2.0)
        for (sx, sy), r, col in zip(screen, r_px, colours, strict=True):  # few per scenario
            pygame.draw.circle(
                self.surface, tuple(int(v) for v in col), (float(sx), float(sy)), float(r),
                0 if layer.filled else 1,
            )  # fmt: skip
        if layer.labels is not None:
            font = _font(14)
            for (sx, sy), r, text in zip(screen, r_px, layer.labels, strict=True):
                self.surface.blit(font.render(str(text), True, (230, 230, 230)), (sx + r, sy - r))

    def _edges(self, pixels: np.ndarray, layer: Edges, camera: Camera) -> None:
        a = _plane(resolve(layer.a))
        if not len(a):
            return
        delta = _plane(resolve(layer.delta))
        start = camera.to_screen(a)
        end = camera.to_screen(a + delta)
        value = int(raster.map_colours(self.surface, np.array([layer.colour]))[0])
        raster.segments(pixels, start[:, 0], start[:, 1], end[:, 0], end[:, 1], value)

    def _marker_px(self, layer: Agents, camera: Camera) -> int:
        px = round(layer.size * camera.scale)
        return min(max(int(px), MIN_MARKER_PX), MAX_MARKER_PX)

    def _agent_colours(self, layer: Agents, options: RenderOptions) -> np.ndarray:
        """(N, 3) uint8 colours: the chosen attribute, crashed agents dimmed."""
        name = options.colour_by if options.colour_by in layer.attributes else None
        name = name or next(iter(layer.attributes), None)
        if name is None:
            rgb = np.broadcast_to(np.array([200, 200, 200], np.uint8), (len(layer.pos), 3))
            return rgb.copy()
        rgb = layer.attributes[name].colour()
        if name != "crashed":
            dead = ~np.asarray(layer.alive, bool)
            rgb[dead] = (rgb[dead] * 0.25 + 40).astype(np.uint8)
        return rgb

    def _agents(
        self, pixels: np.ndarray, layer: Agents, camera: Camera, options: RenderOptions
    ) -> None:
        if not len(layer.pos):
            return
        xy = np.floor(camera.to_screen(layer.pos)).astype(np.int64)
        values = raster.map_colours(self.surface, self._agent_colours(layer, options))
        if options.show_sensing and layer.sense_radius:
            ring = raster.ring_stamp(round(layer.sense_radius * camera.scale))
            grey = raster.map_colours(self.surface, np.array([[70, 76, 96]]))[0]
            alive = np.asarray(layer.alive, bool)
            raster.stamp(pixels, xy[alive, 0], xy[alive, 1], ring, grey)
        stamps = raster.marker_stamp(layer.shape, self._marker_px(layer, camera))
        heading = layer.heading if layer.heading is not None else np.zeros(len(layer.pos))
        raster.stamp(pixels, xy[:, 0], xy[:, 1], stamps, values, raster.heading_bucket(heading))

    def _trails(
        self,
        pixels: np.ndarray,
        layer: Agents,
        trails: np.ndarray,
        camera: Camera,
        options: RenderOptions,
    ) -> None:
        t = len(trails)
        rgb = self._agent_colours(layer, options).astype(np.float64)
        bg = np.asarray(ARENA, np.float64)
        for age, positions in enumerate(trails):  # T (about 30) batched passes, not N
            keep = 1.0 - TRAIL_FADE * (t - age) / t
            values = raster.map_colours(
                self.surface, (bg + (rgb - bg) * keep * 0.6).astype(np.uint8)
            )
            xy = np.floor(camera.to_screen(positions)).astype(np.int64)
            raster.scatter(pixels, xy[:, 0], xy[:, 1], values)

    def _selection(
        self, layer: Agents, camera: Camera, options: RenderOptions, every: Agents
    ) -> None:
        """Rings around the selected agent (if it is in ``layer``): body, sensing range,
        comm range; lines to its neighbours among ``every`` agent."""
        if options.selected is None:
            return
        hit = np.flatnonzero(np.asarray(layer.ids) == options.selected)
        if not hit.size:
            return
        i = int(hit[0])
        sx, sy = camera.to_screen(layer.pos[i])[0]
        body = self._marker_px(layer, camera)
        if len(options.highlight):
            mine = np.isin(np.asarray(every.ids), options.highlight)
            for hx, hy in camera.to_screen(every.pos[mine]):  # a handful of neighbours
                pygame.draw.circle(self.surface, HIGHLIGHT, (hx, hy), body * 0.8 + 2, 1)
                pygame.draw.line(self.surface, (110, 110, 110), (sx, sy), (hx, hy), 1)
        if layer.sense_radius:
            pygame.draw.circle(
                self.surface, SENSE_RING, (sx, sy), layer.sense_radius * camera.scale, 1
            )
        if layer.comm_radius and layer.comm_radius != layer.sense_radius:
            pygame.draw.circle(
                self.surface, COMM_RING, (sx, sy), layer.comm_radius * camera.scale, 1
            )
        pygame.draw.circle(self.surface, SELECTED, (sx, sy), body + 3, 2)


def _plane(points: np.ndarray) -> np.ndarray:
    """(N, 2) float points; 3-D ones seen from above (z dropped)."""
    pts = np.asarray(points, np.float64)
    if pts.ndim == 2 and pts.shape[1] == 3:
        return pts[:, :2]
    return pts.reshape(-1, 2)


def surface_rgb(surface: pygame.Surface, rgb24: pygame.Surface | None = None) -> np.ndarray:
    """(H, W, 3) uint8 row-major copy of ``surface``'s RGB, the pixels of
    ``pygame.surfarray.array3d(surface).transpose(1, 0, 2)``, in a new writable array.

    That route was most of an env's ``rgb_array`` frame of 1,000 drones (84 % in a profile
    at 600x600): ``array3d`` walks the pixels column by column into a (W, H, 3) array that
    then needs a second, transposing copy. Here a 32-bit surface with whole-byte channels (the
    renderer's) is converted by SDL's blitter into ``rgb24`` (a scratch surface of the same
    size from :func:`rgb24_surface`, whose bytes are already R, G, B, row-major), then copied
    out in one contiguous copy: about 0.35 ms. Without a scratch surface (or for a surface with
    alpha or a colour key, which a blit would blend) its bytes are read in place, one channel
    at a time straight into (H, W) order: about 0.45 ms. Other formats keep the old route.
    """
    channels = _byte_channels(surface)
    if channels is None:  # (tobytes would differ for 16-bit: it rounds 5-bit channels up)
        return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))
    h, w = surface.get_height(), surface.get_width()
    if rgb24 is not None and rgb24.get_size() == (w, h) and _plain(surface):
        rgb24.blit(surface, (0, 0))
        rows = np.frombuffer(rgb24.get_buffer(), np.uint8).reshape(h, rgb24.get_pitch())
        out = rows[:, : 3 * w].reshape(h, w, 3).copy()
        del rows  # unlocks rgb24
        return out
    out = np.empty((h, w, 3), np.uint8)
    # (H, W, the 4 bytes of each pixel), a view that locks the surface while it lives
    raw = pygame.surfarray.pixels2d(surface).T.view(np.uint8).reshape(h, w, 4)
    try:
        for c, byte in enumerate(channels):
            out[..., c] = raw[..., byte]
    finally:
        del raw  # unlocks the surface
    return out


def rgb24_surface(width: int, height: int) -> pygame.Surface:
    """A 24-bit surface whose pixel bytes are R, G, B in memory: the scratch surface of
    :func:`surface_rgb` (one per renderer, so two renderers never share one)."""
    if sys.byteorder == "little":
        masks = (0xFF, 0xFF00, 0xFF0000, 0)
    else:
        masks = (0xFF0000, 0xFF00, 0xFF, 0)
    return pygame.Surface((width, height), 0, 24, masks)


def _plain(surface: pygame.Surface) -> bool:
    """Whether blitting ``surface`` onto another copies its colours unchanged: no per-pixel
    or surface alpha, no colour key, and not locked (a locked surface cannot be blitted)."""
    return (
        not surface.get_flags() & pygame.SRCALPHA
        and surface.get_alpha() is None
        and surface.get_colorkey() is None
        and not surface.get_locked()
    )


def _byte_channels(surface: pygame.Surface) -> tuple[int, int, int] | None:
    """Byte offsets of R, G, B inside a pixel of a 32-bit surface whose channels are whole
    bytes (the renderer's format); None for any other format."""
    if surface.get_bytesize() != 4 or surface.get_width() == 0 or surface.get_height() == 0:
        return None
    masks, shifts = surface.get_masks()[:3], surface.get_shifts()[:3]
    if any(m != 0xFF << s or s % 8 for m, s in zip(masks, shifts, strict=True)):
        return None
    little = sys.byteorder == "little"
    r, g, b = (s // 8 if little else 3 - s // 8 for s in shifts)
    return r, g, b


_FONTS: dict[int, pygame.font.Font] = {}


def _font(size: int) -> pygame.font.Font:
    """pygame's default font at ``size`` (initialised on first use; works headless)."""
    if not pygame.font.get_init():  # (re)initialised: fonts made before are invalid
        _FONTS.clear()
        pygame.font.init()
    if size not in _FONTS:
        _FONTS[size] = pygame.font.Font(None, size)
    return _FONTS[size]
