"""Draw a :class:`~swarm.viewer.layers.Scene` onto a pygame Surface, or into an RGB array.

The renderer is a pure function of (scene, camera, options, trails): the same state gives
the same pixels, which is what lets the PettingZoo envs' ``rgb_array`` and ``human`` modes
share it with the interactive viewer and the recorder. It works without a display (SDL's
``dummy`` video driver); only text needs ``pygame.font``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pygame

from swarm.viewer import raster
from swarm.viewer.layers import Agents, Cells, Circles, Edges, Scene, resolve, scene_of

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

    World y points up; screen y points down.
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
        """(N, 2) float screen coordinates of world points (N, 2)."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
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

    # ------------------------------------------------------------------ entry points
    def draw(
        self,
        scene: Scene,
        camera: Camera | None = None,
        options: RenderOptions | None = None,
        trails: np.ndarray | None = None,
    ) -> pygame.Surface:
        """Draw ``scene``; ``trails`` (T, N, 2) are past positions of the agents layer,
        oldest first. Returns the surface (owned by the renderer, redrawn next call)."""
        camera = camera or Camera.fit(scene.bounds, self.width, self.height)
        options = options or RenderOptions()
        surf = self.surface
        surf.fill(BACKGROUND)
        self._arena(scene, camera)
        for layer in scene.layers:  # raster layers go under everything else
            if isinstance(layer, Cells) and layer.name not in options.hidden:
                self._cells(layer, camera)
        for layer in scene.layers:
            if isinstance(layer, Circles) and layer.name not in options.hidden:
                self._circles(layer, camera)
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
        """(H, W, 3) uint8 copy of the last frame (or of ``surface``)."""
        return np.ascontiguousarray(
            pygame.surfarray.array3d(surface or self.surface).transpose(1, 0, 2)
        )

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

    def _circles(self, layer: Circles, camera: Camera) -> None:
        centres = np.asarray(layer.centres, np.float64).reshape(-1, 2)
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
        a = resolve(layer.a).reshape(-1, 2)
        if not len(a):
            return
        delta = resolve(layer.delta).reshape(-1, 2)
        start = camera.to_screen(a)
        end = camera.to_screen(a + delta)
        value = int(raster.map_colours(self.surface, np.array([layer.colour]))[0])
        raster.segments(pixels, start[:, 0], start[:, 1], end[:, 0], end[:, 1], value)

    def _marker_px(self, layer: Agents, camera: Camera) -> int:
        px = round(layer.size * camera.scale)
        return int(np.clip(px, MIN_MARKER_PX, MAX_MARKER_PX))

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


_FONTS: dict[int, pygame.font.Font] = {}


def _font(size: int) -> pygame.font.Font:
    """pygame's default font at ``size`` (initialised on first use; works headless)."""
    if not pygame.font.get_init():  # (re)initialised: fonts made before are invalid
        _FONTS.clear()
        pygame.font.init()
    if size not in _FONTS:
        _FONTS[size] = pygame.font.Font(None, size)
    return _FONTS[size]
