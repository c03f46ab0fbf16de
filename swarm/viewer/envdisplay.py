"""``render()`` of the PettingZoo envs, drawn by the viewer's :class:`Renderer`.

Both adapters (drones, :mod:`swarm.marl`; grid robots, :mod:`swarm.grid.marl`) hand their
live model to one :class:`EnvDisplay`: ``rgb_array`` returns the renderer's picture of the
whole arena, and ``human`` shows exactly that picture in a window, so the two modes (and
``swarm view``'s recorder at the same size and options) give identical pixels for the same
state. pygame is imported on first use only: an env that never renders never loads it.
A 3-D env is pictured by the orbit camera from its home (the three-quarter view).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

ENV_RENDER_PX = 600  # longest side of an env frame, pixels (the arena's aspect is kept)


def frame_size(bounds: tuple[float, float, float, float], longest: int) -> tuple[int, int]:
    """(width, height) in pixels of an arena with these world bounds, longest side fixed."""
    x0, y0, x1, y1 = bounds
    w, h = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    if w >= h:
        return longest, max(16, round(longest * h / w))
    return max(16, round(longest * w / h)), longest


class EnvDisplay:
    """One env's renderer (sized on first use from the arena) and, in human mode, window."""

    def __init__(self, title: str, fps: float, longest: int = ENV_RENDER_PX):
        self.title, self.fps, self.longest = title, fps, longest
        self._renderer: Any = None
        self._window: Any = None
        self._clock: Any = None

    def frame(self, model: Any) -> np.ndarray:
        """(H, W, 3) uint8 picture of ``model``'s current state (a model or a bare engine)."""
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        from swarm.viewer.layers import scene_of
        from swarm.viewer.renderer import Renderer

        scene = scene_of(model)
        size = frame_size(scene.bounds, self.longest)
        if self._renderer is None or (self._renderer.width, self._renderer.height) != size:
            self._renderer = Renderer(*size)
        self._renderer.draw(scene)
        return self._renderer.rgb_array()

    def show(self, model: Any) -> None:
        """Draw ``model`` into the window (opened on first call), at most ``fps`` per second."""
        import pygame

        frame = self.frame(model)
        if self._window is None:
            pygame.display.init()
            self._window = pygame.display.set_mode((frame.shape[1], frame.shape[0]))
            pygame.display.set_caption(self.title)
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        self._window.blit(self._renderer.surface, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        if self._window is not None:
            import pygame

            pygame.display.quit()
            self._window = None
