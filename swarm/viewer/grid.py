"""The draw list of a grid-world model (robots on a map): map, goals, links, robots.

A grid model exposes it as its ``render_scene()`` hook::

    def render_scene(self):
        from swarm.viewer.grid import grid_scene
        return grid_scene(self)

It reads the model's arrays only: ``grid_map`` (the static map), ``world`` (robot cells and
comm links), ``tasks`` (goals and task phases) and ``last_counts`` (who moved).
Map row 0 is drawn at the top, as map files are written; a cell is one world unit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swarm.viewer.layers import Agents, Attribute, Cells, Circles, Edges, Layer, Scene

# cell colours by map kind: obstacle, free, delivery station 'E', pick point 'S'
KIND_RGB = np.array([[74, 78, 96], [30, 33, 43], [120, 70, 40], [40, 95, 100]], np.uint8)
GOAL_COLOUR = (250, 200, 60)
PHASES = ("idle", "to pick / task", "to delivery")


def map_rgb(kind: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 picture of a map's cell kinds (0 obstacle, 1 free, 2 E, 3 S)."""
    return KIND_RGB[np.clip(np.asarray(kind, np.int64), 0, len(KIND_RGB) - 1)]


def cell_centres(grid: Any, cells: np.ndarray) -> np.ndarray:
    """(N, 2) world (x, y) of linear cell indices, y up with map row 0 at the top."""
    r, c = np.divmod(np.asarray(cells, np.int64), grid.width)
    return np.column_stack([c + 0.5, grid.height - r - 0.5]).astype(np.float64)


def grid_scene(model: Any) -> Scene:
    """The scene of a grid model's current state (see the module docstring)."""
    grid, world, tasks = model.grid_map, model.world, model.tasks
    n = world.n
    pos = cell_centres(grid, world.cell)
    moved = np.asarray(getattr(model.last_counts, "moved_mask", np.zeros(n, bool)), bool)
    if moved.shape != (n,):
        moved = np.zeros(n, bool)
    attributes = {
        "waiting": Attribute(~moved, "boolean", colours=((0, 158, 115), (230, 159, 0))),
        "phase": Attribute(np.asarray(tasks.phase, np.int64), "categorical"),
        "task_age": Attribute(np.asarray(tasks.task_age(world.t), np.float64), "linear"),
    }

    def links() -> np.ndarray:
        world.links_table()  # sense first if the state changed
        u, v = world.links.owner, world.links.idx
        keep = u < v
        return np.column_stack([u[keep], v[keep]])

    def edge_start() -> np.ndarray:
        return pos[links()[:, 0]]

    def edge_delta() -> np.ndarray:
        e = links()
        return pos[e[:, 1]] - pos[e[:, 0]]

    has_goal = tasks.goal >= 0
    layers: list[Layer] = [
        Cells("map", (0.0, 0.0), 1.0, rgb=map_rgb(grid.kind)),
        Circles("goals", cell_centres(grid, tasks.goal[has_goal]), 0.3, GOAL_COLOUR, False),
        Edges("comm", edge_start, edge_delta),
        Agents(
            "robots",
            pos,
            np.arange(n),
            attributes,
            np.ones(n, bool),
            heading=None,
            size=0.8,
            shape="square",
            sense_radius=world.sense_radius,
            comm_radius=world.comm_radius,
        ),
    ]
    return Scene(
        bounds=(0.0, 0.0, float(grid.width), float(grid.height)),
        layers=layers,
        step=int(world.t),
        torus=False,
    )
