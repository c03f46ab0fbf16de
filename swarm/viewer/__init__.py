"""The viewer: live, interactive, recordable pictures of any scenario.

* :mod:`swarm.viewer.layers` — the declarative draw list a scenario returns (numpy only);
* :class:`Renderer` — draws a scene onto a pygame Surface or into an (H, W, 3) array, the
  same pixels for the same state (it backs the PettingZoo envs' ``rgb_array``/``human``);
  a 3-D scene through an :class:`OrbitCamera` (:mod:`swarm.viewer.orbit`: perspective,
  depth-sorted, shadows on the floor) or from above;
* :class:`Viewer` — the interactive window (``swarm view``), one frame per ``tick()``;
* :func:`record` — a GIF or MP4 of a run, headless.

pygame is imported only when one of the last three is first used, so a scenario's
``render_layers`` hook costs no pygame import.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from swarm.viewer.layers import (
    Agents,
    Attribute,
    Boxes,
    Cells,
    Circles,
    Cylinders,
    Edges,
    Polygons,
    Scene,
    drone_layers,
    scene_of,
)

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # no banner on stdout at import

_LAZY = {
    "Camera": "swarm.viewer.renderer",
    "OrbitCamera": "swarm.viewer.orbit",
    "Renderer": "swarm.viewer.renderer",
    "RenderOptions": "swarm.viewer.renderer",
    "Viewer": "swarm.viewer.viewer",
    "record": "swarm.viewer.recording",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'swarm.viewer' has no attribute {name!r}")


__all__ = [
    "Agents",
    "Attribute",
    "Boxes",
    "Camera",
    "Cells",
    "Circles",
    "Cylinders",
    "Edges",
    "OrbitCamera",
    "Polygons",
    "RenderOptions",
    "Renderer",
    "Scene",
    "Viewer",
    "drone_layers",
    "record",
    "scene_of",
]
