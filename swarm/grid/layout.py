"""Parametric warehouse layouts: shelf blocks, aisles, pick and delivery stations.

The layout follows the League of Robot Runners ``warehouse_*`` maps (and Kiva-style
fulfilment centres, Wurman, D'Andrea, Mountz 2008, AI Magazine 29(1)): rectangular blocks of
shelves separated by one-or-more-cell aisles, service points ``S`` (pick-up) on the aisle
cells directly above and below each shelf, and emitters ``E`` (delivery stations) on the west
and east edges of the map, between free cells of a margin (so that no station is a dead end,
as on the League's maps). The result is an ordinary
:class:`~swarm.grid.maps.GridMap`, written and read in the same octile format as the League's
maps, so experiments run unchanged on generated and on real instances.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from swarm.config import StrictConfig
from swarm.grid.maps import EMITTER, FREE, OBSTACLE, SERVICE, GridMap, Instance


class LayoutParams(StrictConfig):
    """Shape of a generated warehouse (all sizes in cells)."""

    block_rows: int = Field(3, ge=1, description="shelf blocks from north to south")
    block_cols: int = Field(4, ge=1, description="shelf blocks from west to east")
    shelf_height: int = Field(2, ge=1, description="rows of shelf cells in one block")
    shelf_width: int = Field(6, ge=1, description="columns of shelf cells in one block")
    aisle: int = Field(1, ge=1, description="width of the aisles between blocks")
    margin: int = Field(3, ge=1, description="free columns between the station walls and shelves")
    station_spacing: int = Field(
        3, ge=1, description="rows between delivery stations (E) on the west and east edges"
    )

    @model_validator(mode="after")
    def _not_too_big(self) -> LayoutParams:
        h, w = layout_shape(self)
        if h * w > 4_000_000:
            raise ValueError(f"layout of {h}x{w} cells is larger than 4,000,000 cells")
        return self


def layout_shape(p: LayoutParams) -> tuple[int, int]:
    """(height, width) of the layout ``p`` describes."""
    height = p.aisle + p.block_rows * (p.shelf_height + p.aisle)
    width = 2 * p.margin + p.aisle + p.block_cols * (p.shelf_width + p.aisle)
    return height, width


def generate_layout(params: LayoutParams | None = None, name: str = "generated") -> GridMap:
    """The warehouse map ``params`` describes (deterministic: no randomness involved)."""
    p = params or LayoutParams()
    height, width = layout_shape(p)
    kind = np.full((height, width), FREE, np.uint8)
    # delivery stations on the west and east edges, every station_spacing rows
    stations = np.arange(p.station_spacing // 2, height, p.station_spacing)
    kind[stations, 0] = EMITTER
    kind[stations, -1] = EMITTER
    x0 = p.margin + p.aisle
    for br in range(p.block_rows):
        top = p.aisle + br * (p.shelf_height + p.aisle)
        for bc in range(p.block_cols):
            left = x0 + bc * (p.shelf_width + p.aisle)
            cols = slice(left, left + p.shelf_width)
            kind[top : top + p.shelf_height, cols] = OBSTACLE
            for r in (top - 1, top + p.shelf_height):  # service points face the shelf
                if 0 <= r < height:
                    row = kind[r, cols]
                    row[row == FREE] = SERVICE
    return GridMap(kind, name=name)


def random_instance(
    grid: GridMap,
    n_agents: int,
    n_tasks: int,
    rng: np.random.Generator,
    name: str = "generated",
) -> Instance:
    """Distinct random start cells and a League task stream in which every robot alternates
    pick (S) and delivery (E) cells: under round robin, robot k's c-th task is task
    ``c * n_agents + k``, so the kind follows ``c``'s parity. Maps without S or E cells draw
    tasks uniformly from all free cells instead.
    """
    free = grid.free_cells
    if n_agents > len(free):
        raise ValueError(f"n_agents {n_agents} exceeds the {len(free)} free cells of {grid.name}")
    starts = rng.choice(free, size=n_agents, replace=False)
    picks, drops = grid.cells_of(SERVICE), grid.cells_of(EMITTER)
    if len(picks) == 0 or len(drops) == 0:
        tasks = rng.choice(free, size=n_tasks)
    else:
        pick_round = (np.arange(n_tasks) // n_agents) % 2 == 0
        tasks = np.where(pick_round, rng.choice(picks, n_tasks), rng.choice(drops, n_tasks))
    return Instance(grid=grid, starts=starts.astype(np.int64), tasks=tasks.astype(np.int64),
                    name=name)  # fmt: skip
