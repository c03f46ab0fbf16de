"""The picture a page shows: the pygame viewer's renderer, encoded as PNG for the browser.

The drones are continuous 2-D positions with no Mesa space, and a thousand of them redrawn
as matplotlib artists or Altair marks many times a second is far too slow; the renderer
draws them (from the same declared layers as ``swarm view``) in a few milliseconds. PNG,
not JPEG, so one-pixel links and rings stay sharp; the encoder below writes unfiltered
rows at a low zlib level, which is several times faster than Pillow's default here (the
frame is mostly flat background, which compresses well anyway).
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import numpy as np

PICK_RADIUS_PX = 12  # a click selects the nearest agent drawn within this many pixels
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_bytes(rgb: np.ndarray, level: int = 1) -> bytes:
    """PNG file of an (H, W, 3) uint8 image: 8-bit RGB, no row filter, zlib ``level``."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width, channels = rgb.shape
    if channels != 3:
        raise ValueError(f"png_bytes: expected (H, W, 3) RGB, got shape {rgb.shape}")
    rows = np.zeros((height, 1 + 3 * width), np.uint8)  # each row: filter type 0, pixels
    rows[:, 1:] = rgb.reshape(height, 3 * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return b"".join(
        [
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
            _chunk(b"IEND", b""),
        ]
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


class Frames:
    """Draws a model's scene at a fixed size (the whole arena in view) and maps clicks on
    the picture back to agents."""

    def __init__(self, width: int = 720, height: int = 720):
        import pygame

        from swarm.viewer.renderer import Renderer

        pygame.font.init()  # circle labels (navigation's landmarks) need a font
        self.renderer = Renderer(width, height)
        self.width, self.height = self.renderer.width, self.renderer.height

    def camera(self, scene: Any) -> Any:
        """The whole arena in view: from above in 2-D; a 3-D scene from the pygame viewer's
        home orbit (a three-quarter view, :class:`~swarm.viewer.orbit.OrbitCamera`)."""
        if scene.zbounds is not None:
            from swarm.viewer.orbit import OrbitCamera

            return OrbitCamera.of_scene(scene, self.width, self.height)
        from swarm.viewer.renderer import Camera

        return Camera.fit(scene.bounds, self.width, self.height)

    def rgb(self, scene: Any, options: Any = None) -> np.ndarray:
        """(H, W, 3) uint8 picture of ``scene`` (a :class:`~swarm.viewer.layers.Scene`)."""
        self.renderer.draw(scene, self.camera(scene), options)
        return self.renderer.rgb_array()

    def png(self, scene: Any, options: Any = None) -> bytes:
        """The picture of ``scene`` as PNG bytes."""
        return png_bytes(self.rgb(scene, options))

    def pick(self, scene: Any, fx: float, fy: float) -> int | None:
        """The id (row) of the agent drawn nearest to the point at fractions (fx, fy) of the
        picture's width and height, if one is within the pick radius."""
        agents = scene.agents()
        if agents is None or not len(agents.pos):
            return None
        camera = self.camera(scene)
        if scene.zbounds is not None:
            from swarm.viewer.orbit import pick

            return pick(scene, camera, fx * self.width, fy * self.height, PICK_RADIUS_PX)
        xy = camera.to_screen(agents.pos)
        d2 = (xy[:, 0] - fx * self.width) ** 2 + (xy[:, 1] - fy * self.height) ** 2
        i = int(np.argmin(d2))
        return int(agents.ids[i]) if d2[i] <= PICK_RADIUS_PX**2 else None
