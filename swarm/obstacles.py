"""Static obstacles in the drones' arena, sensed locally: discs and convex polygons in the
plane; spheres, axis-aligned boxes and vertical cylinders in the cube (``dim = 3``).

An :class:`ObstacleField` (2-D) or :class:`ObstacleField3D` is part of the map: fixed for a
run, the same in every environment of a batch, and known to nobody as a whole. A drone senses,
within ``sense_radius``, the nearest point of each obstacle around it (a range sensor's view of
poles and walls, reduced to one point per obstacle): ``obs.own["obstacle_rel_pos"]``
(R, slots, dim), the vector from the drone to that point, ``obs.own["obstacle_dist"]``
(R, slots), its signed distance (negative inside an obstacle), and ``obs.own["obstacle_mask"]``
(R, slots), 1 where a slot holds an obstacle; nearest first, ``obstacle_slots`` of them.
The nearest point of a box is the drone's position clamped to it; inside a box, the point on
its nearest face the drone can leave through (a face on a wall of the box arena, such as a
pole's foot on the floor, is none; nor, on a torus, are the two faces of an axis a box fills
from 0 to ``world_size``: it is endless along that axis), at minus that distance. A vertical
cylinder's nearest point is the drone's altitude clamped to its bottom and top, its position
in the plane moved radially onto the disc; inside, the nearest of its side (radially out) and
its caps, under the same rule (a cap on the floor or the ceiling of a box arena is no way
out, nor are both caps on a torus when the cylinder stands from 0 to ``world_size``).

Where obstacles come from (``obstacles`` in every drone scenario's config):

* ``"forest"``: ``obstacle_count`` poles of radius ``pole_radius``, uniform in the arena, with
  at least three drones' widths (3 ``collision_radius``) of free space between two poles, so
  two drones can pass each other between any two poles. In 3-D a pole is a vertical cylinder
  of radius ``pole_radius`` from the floor (z = 0) to the ceiling (z = ``world_size``) at the
  2-D forest's centres (the same dart throwing and spacing): round, so a drone whose goal
  lies straight behind one slides round it behind the safety layer, as round the 2-D discs
  (a flat face square to its path would stop it: ORCA does not plan);
* ``"urban"``: ``obstacle_count`` square blocks on a regular grid (the first ones of a
  ``ceil(sqrt(count))``-square grid, row by row) with streets ``street_width`` wide. In 3-D
  the same footprints are buildings from the floor, their heights uniform between a quarter
  of the ceiling (``URBAN_LOWEST``) and the ceiling, drawn from the map's own stream;
* a path to a JSON file (:class:`ObstacleFile`), 2-D::

      {"discs": [{"center": [12.0, 30.0], "radius": 1.5}],
       "polygons": [{"vertices": [[20, 20], [26, 20], [26, 24], [20, 24]]}]}

  or 3-D (experiments/obstacles/yard3d.json)::

      {"spheres": [{"center": [12.0, 30.0, 8.0], "radius": 1.5}],
       "boxes": [{"min": [20, 20, 0], "max": [26, 24, 15]}],
       "cylinders": [{"center": [40.0, 12.0], "radius": 1.0, "bottom": 0.0, "top": 30.0}]}

  metres in arena coordinates; polygons convex (either winding), a cylinder vertical with
  its ``bottom`` and ``top`` altitudes (by default the floor and the ceiling), every
  obstacle inside the arena. A file holds 2-D shapes or 3-D ones, never both; a 2-D file is
  refused with ``dim = 3`` (and a 3-D one with ``dim = 2``) rather than extruded: how high
  a disc (a cylinder) or a polygon (a prism) stands is not in the file.

A drone is *in contact* with an obstacle when its centre is closer than half of
``collision_radius`` (its own radius; two drones collide at ``collision_radius``) to it:
the ``obstacle_contacts`` metric. Contacts are counted, not resolved, as drone-drone
collisions are: a drone flies on through a pole. Spawns are moved out of obstacles
(:meth:`ObstacleField.push_out`), so every run starts free of contact where there is room.

Cost: the obstacles are bucketed once in a uniform cell grid (cell side >= the sensing
range); each drone scans its 3 x 3 block of cells (3 x 3 x 3 in 3-D, and a 3 x 3 block of
columns for the boxes and cylinders from floor to ceiling), so a step costs O(N + obstacles
near each drone), whatever the total number. An obstacle listed in several
cells is counted once: in the cell that holds its nearest point to the drone (in the drone's
own cell when the drone is inside it). On a torus under three sensing ranges wide the grid is
one cell and every obstacle is read at its nearest of 9 (27) images. An obstacle so wide that
two of its images on a torus are both within range is sensed once per image.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
from pydantic import Field, field_validator, model_validator

from swarm.config import ConfigError, StrictConfig
from swarm.neighbors import insert_k_best

if TYPE_CHECKING:
    from swarm.engine import SwarmConfig

GENERATED = ("forest", "urban")
# free space between two poles of a forest, in collision radii (a drone's width): two drones
# with the safety layer's margin pass each other there
FOREST_GAP = 3.0
MAX_CELLS_PER_SIDE = 4096  # the bucketing grid's resolution limit (16 M cells)
# a 3-D city's blocks are between this fraction of the ceiling and the ceiling high
URBAN_LOWEST = 0.25
MAX_CELLS_PER_SIDE_3D = 128  # the same in 3-D (2 M cells, 64 MiB of cell pointers)


class DiscSpec(StrictConfig):
    """A disc obstacle (a pole, a tree trunk seen from above)."""

    center: tuple[float, float] = Field(description="centre (x, y) in metres")
    radius: float = Field(gt=0, description="radius (m)")


class PolygonSpec(StrictConfig):
    """A convex polygon obstacle (a building, a shelf), vertices in order."""

    vertices: list[tuple[float, float]] = Field(min_length=3, description="(x, y) corners (m)")

    @field_validator("vertices")
    @classmethod
    def _convex(cls, vertices: list[tuple[float, float]]) -> list[tuple[float, float]]:
        pts = np.asarray(vertices, dtype=np.float64)
        if not np.isfinite(pts).all():
            raise ValueError("vertices must be finite numbers")
        edge = np.roll(pts, -1, axis=0) - pts
        after = np.roll(edge, -1, axis=0)
        turn = edge[:, 0] * after[:, 1] - edge[:, 1] * after[:, 0]
        # every turn the same way, and once around in all (a star turns the same way twice)
        total = np.arctan2(turn, (edge * after).sum(axis=1)).sum()
        if not ((turn > 0).all() or (turn < 0).all()) or abs(abs(total) - 2 * np.pi) > 1e-6:
            raise ValueError(
                "the polygon must be convex with no repeated or collinear corners "
                "(split a concave shape into convex ones)"
            )
        return vertices


class SphereSpec(StrictConfig):
    """A sphere obstacle (a tree crown, a balloon, a dome): 3-D."""

    center: tuple[float, float, float] = Field(description="centre (x, y, z) in metres")
    radius: float = Field(gt=0, description="radius (m)")


class BoxSpec(StrictConfig):
    """An axis-aligned box obstacle (a building, a pole, a slab) by two corners: 3-D."""

    min: tuple[float, float, float] = Field(description="lowest corner (x, y, z) in metres")
    max: tuple[float, float, float] = Field(description="highest corner (x, y, z) in metres")

    @model_validator(mode="after")
    def _not_flat(self) -> BoxSpec:
        if not all(a < b for a, b in zip(self.min, self.max, strict=True)):
            raise ValueError(f"max {list(self.max)} must exceed min {list(self.min)} on every axis")
        return self


class CylinderSpec(StrictConfig):
    """A vertical cylinder obstacle (a pole, a tree trunk, a chimney, a tank): 3-D. Its
    ``bottom`` and ``top`` default to the floor and the ceiling (the arena's size is not
    known here: None until the field is built)."""

    center: tuple[float, float] = Field(description="axis (x, y) in metres")
    radius: float = Field(gt=0, description="radius (m)")
    bottom: float | None = Field(None, description="lowest altitude (m); default the floor")
    top: float | None = Field(None, description="highest altitude (m); default the ceiling")

    @model_validator(mode="after")
    def _not_flat(self) -> CylinderSpec:
        low = 0.0 if self.bottom is None else self.bottom
        if self.top is not None and not self.top > low:
            raise ValueError(f"top {self.top:g} must exceed bottom {low:g}")
        return self


class ObstacleFile(StrictConfig):
    """The JSON obstacle format (see the module docstring): 2-D shapes (discs, polygons) or
    3-D ones (spheres, boxes, cylinders), never both."""

    discs: list[DiscSpec] = Field(default_factory=list)
    polygons: list[PolygonSpec] = Field(default_factory=list)
    spheres: list[SphereSpec] = Field(default_factory=list)
    boxes: list[BoxSpec] = Field(default_factory=list)
    cylinders: list[CylinderSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_space(self) -> ObstacleFile:
        if (self.discs or self.polygons) and (self.spheres or self.boxes or self.cylinders):
            raise ValueError(
                "a file holds 2-D shapes (discs, polygons) or 3-D ones (spheres, boxes, "
                "cylinders), not both"
            )
        return self

    @property
    def dims(self) -> tuple[int, ...]:
        """The ``dim`` values this file's shapes fly in (both for an empty file)."""
        if self.spheres or self.boxes or self.cylinders:
            return (3,)
        if self.discs or self.polygons:
            return (2,)
        return (2, 3)


def load_obstacle_file(path: str | Path) -> ObstacleFile:
    """Read and check an obstacle file; any problem is a :class:`ConfigError` naming it."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"obstacles: no such file {str(path)!r}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"obstacles: cannot read {str(path)!r} as JSON ({err})") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"obstacles: {str(path)!r} must hold a JSON object (discs, polygons; or spheres, "
            "boxes, cylinders)"
        )
    return ObstacleFile.build(f"obstacles ({path.name})", **raw)


def dim_problem(obstacles: str, dim: int) -> str | None:
    """Why the ``obstacles`` setting cannot be used with ``dim`` (one line naming the field),
    or None: a file's shapes are 2-D or 3-D. A 2-D file is not extruded into 3-D (how high a
    disc's cylinder or a polygon's prism would stand is not in it)."""
    if obstacles == "none" or obstacles in GENERATED:
        return None
    spec = load_obstacle_file(obstacles)
    if dim in spec.dims:
        return None
    if dim == 3:
        return (
            f"obstacles: {Path(obstacles).name} holds discs/polygons (2-D); dim = 3 needs a "
            "file of spheres, boxes and cylinders"
        )
    return (
        f"obstacles: {Path(obstacles).name} holds spheres/boxes/cylinders (3-D); use it with "
        "dim = 3, or a file of discs and polygons"
    )


@dataclass(frozen=True, eq=False)
class ObstacleReading:
    """What every drone senses of the obstacles (row i from its own position only)."""

    rel_pos: np.ndarray  # (R, slots, 2) drone -> nearest point of the obstacle (m)
    dist: np.ndarray  # (R, slots) signed distance to it (m; < 0 inside)
    mask: np.ndarray  # (R, slots) 1.0 where the slot holds an obstacle
    nearest: np.ndarray  # (R,) signed distance to the nearest obstacle sensed (inf: none)


@dataclass(frozen=True, eq=False)
class ObstacleField:
    """Discs and convex polygons (counter-clockwise), bucketed in a cell grid for sensing."""

    disc_center: np.ndarray  # (D, 2)
    disc_radius: np.ndarray  # (D,)
    poly_ptr: np.ndarray  # (P + 1,) polygon p's vertices are vertices[poly_ptr[p]:poly_ptr[p+1]]
    vertices: np.ndarray  # (V, 2), counter-clockwise
    world_size: float
    torus: bool
    reach: float  # the sensing range the grid was built for (m)
    cell_size: float
    per_side: int
    cell_ptr: np.ndarray  # (C + 1,) obstacles of cell c: cell_items[cell_ptr[c]:cell_ptr[c+1]]
    cell_items: np.ndarray  # obstacle ids: discs 0..D-1, then polygons D..D+P-1
    most_per_cell: int  # the longest cell list (sizes the kernel's scratch)

    @classmethod
    def build(
        cls,
        discs: np.ndarray,
        radii: np.ndarray,
        polygons: list[np.ndarray],
        world_size: float,
        torus: bool,
        reach: float,
    ) -> ObstacleField:
        """Check the shapes lie in the arena, orient polygons counter-clockwise, bucket."""
        discs = np.asarray(discs, dtype=np.float64).reshape(-1, 2)
        radii = np.asarray(radii, dtype=np.float64).reshape(-1)
        ccw = [_counter_clockwise(np.asarray(p, dtype=np.float64)) for p in polygons]
        lo = np.vstack([discs - radii[:, None], *[p.min(axis=0, keepdims=True) for p in ccw]])
        hi = np.vstack([discs + radii[:, None], *[p.max(axis=0, keepdims=True) for p in ccw]])
        outside = np.flatnonzero((lo < 0).any(axis=1) | (hi > world_size).any(axis=1))
        if len(outside):
            kind = "disc" if outside[0] < len(discs) else "polygon"
            number = outside[0] if kind == "disc" else outside[0] - len(discs)
            raise ConfigError(
                f"obstacles: {kind} {number} reaches outside the arena [0, {world_size:g}] m"
            )
        per_side = int(min(max(1, math.floor(world_size / max(reach, 1e-9))), MAX_CELLS_PER_SIDE))
        if torus and per_side < 3:  # a 3 x 3 block would wrap onto itself: one cell, 9 images
            per_side = 1
        cell_size = world_size / per_side
        first = np.clip(np.floor(lo / cell_size).astype(np.int64), 0, per_side - 1)
        last = np.clip(np.floor(hi / cell_size).astype(np.int64), 0, per_side - 1)
        cell_ptr, cell_items = _bucket(first, last, per_side)
        most = int(np.diff(cell_ptr).max()) if len(cell_items) else 0
        ptr = np.zeros(len(ccw) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([len(p) for p in ccw])
        verts = np.vstack(ccw) if ccw else np.zeros((0, 2))
        return cls(discs, radii, ptr, verts, float(world_size), torus, float(reach),
                   cell_size, per_side, cell_ptr, cell_items, most)  # fmt: skip

    @property
    def n_discs(self) -> int:
        return len(self.disc_radius)

    @property
    def n_polygons(self) -> int:
        return len(self.poly_ptr) - 1

    @property
    def n_obstacles(self) -> int:
        return self.n_discs + self.n_polygons

    def polygons(self) -> list[np.ndarray]:
        """Each polygon's (k, 2) vertices, counter-clockwise."""
        return [
            self.vertices[a:b] for a, b in zip(self.poly_ptr[:-1], self.poly_ptr[1:], strict=True)
        ]

    def sense(self, pos: np.ndarray, alive: np.ndarray, slots: int) -> ObstacleReading:
        """The ``slots`` nearest obstacles within ``reach`` of every alive row (nearest first,
        ties in the order the cells are scanned), each as its nearest point; row i depends on
        pos[i] alone."""
        n = len(pos)
        rel = np.zeros((n, slots, 2))
        dist = np.zeros((n, slots))
        mask = np.zeros((n, slots))
        nearest = np.full(n, np.inf)
        if self.n_obstacles:
            _sense(np.ascontiguousarray(pos, dtype=np.float64), np.ascontiguousarray(alive),
                   self.disc_center, self.disc_radius, self.poly_ptr, self.vertices,
                   self.cell_ptr, self.cell_items, self.most_per_cell, self.per_side,
                   self.cell_size, self.world_size, self.torus, self.reach, rel, dist, mask,
                   nearest)  # fmt: skip
        return ObstacleReading(rel, dist, mask, nearest)

    def push_out(self, points: np.ndarray, clearance: float, rounds: int = 8) -> np.ndarray:
        """``points`` (K, 2) moved the least distance that leaves each ``clearance`` from every
        obstacle, repeated ``rounds`` times for points pushed into a neighbouring obstacle
        (a point with no room left stays where the last round put it). Each move is along the
        nearest way out; in a box arena a point inside an obstacle that touches the wall may
        be pushed against the wall and stay in contact (counted by the metrics): leave room
        between obstacles and the walls of a box."""
        return _push_out(self, points, clearance, rounds)

    def widened(self, reach: float) -> ObstacleField:
        """The same obstacles bucketed for a longer sensing range (push_out beyond reach)."""
        return ObstacleField.build(self.disc_center, self.disc_radius, self.polygons(),
                                   self.world_size, self.torus, reach)  # fmt: skip

    def as_json(self) -> dict[str, list]:
        """The field in the file format (what a generated field was, to keep or edit)."""
        return {
            "discs": [{"center": c.tolist(), "radius": float(r)}
                      for c, r in zip(self.disc_center, self.disc_radius, strict=True)],
            "polygons": [{"vertices": p.tolist()} for p in self.polygons()],
        }  # fmt: skip


def _push_out(
    field: ObstacleField | ObstacleField3D, points: np.ndarray, clearance: float, rounds: int
) -> np.ndarray:
    """Both fields' push_out: ``rounds`` moves of every point closer than ``clearance`` to
    its nearest obstacle, along the nearest way out, kept in the arena."""
    out = np.array(points, dtype=np.float64, copy=True)
    if not field.n_obstacles:
        return out
    if clearance > field.reach:  # beyond the grid's reach: a field bucketed for it
        return field.widened(clearance * 1.01).push_out(out, clearance, rounds)
    everyone = np.ones(len(out), dtype=bool)
    for _ in range(rounds):
        reading = field.sense(out, everyone, 1)
        tight = reading.mask[:, 0] > 0
        tight &= reading.dist[:, 0] < clearance
        if not tight.any():
            break
        rel, d = reading.rel_pos[tight, 0], reading.dist[tight, 0]
        outward = _outward(rel, d)
        out[tight] += outward * (clearance - d + 1e-9)[:, None]
        if field.torus:
            out[tight] %= field.world_size
        else:
            out[tight] = np.clip(out[tight], 0.0, field.world_size)
    return out


def _outward(rel: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(K, dim) unit normal of the obstacle's surface at the sensed point, pointing out of it
    (away from the obstacle for a drone outside, toward the surface for one inside)."""
    norm = np.sqrt((rel**2).sum(axis=1))
    unit = np.divide(rel, norm[:, None], out=np.zeros_like(rel), where=norm[:, None] > 0)
    unit[norm == 0] = np.eye(rel.shape[1])[0]  # on the surface, direction unknown: +x
    return np.where((dist < 0)[:, None], unit, -unit)


def _counter_clockwise(pts: np.ndarray) -> np.ndarray:
    area2 = float((pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]).sum())
    return pts if area2 > 0 else pts[::-1].copy()


def _bucket(first: np.ndarray, last: np.ndarray, per_side: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the obstacles whose bounding box meets each cell (counting sort)."""
    spans = (last - first + 1).prod(axis=1)
    ids = np.repeat(np.arange(len(first), dtype=np.int64), spans)
    within = np.arange(len(ids)) - np.repeat(np.cumsum(spans) - spans, spans)
    width = np.repeat(last[:, 0] - first[:, 0] + 1, spans)
    col = np.repeat(first[:, 0], spans) + within % width
    row = np.repeat(first[:, 1], spans) + within // width
    cell = row * per_side + col
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=per_side * per_side)
    ptr = np.zeros(per_side * per_side + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, ids[order]


@numba.njit(cache=True, inline="always")
def _nearest_point(k, x, y, n_discs, centre, radius, poly_ptr, verts):
    """Obstacle k's nearest point to (x, y) and the signed distance (negative inside)."""
    if k < n_discs:
        vx = x - centre[k, 0]
        vy = y - centre[k, 1]
        length = math.sqrt(vx * vx + vy * vy)
        if length > 0.0:
            sx = centre[k, 0] + vx / length * radius[k]
            sy = centre[k, 1] + vy / length * radius[k]
        else:
            sx = centre[k, 0] + radius[k]
            sy = centre[k, 1]
        return sx, sy, length - radius[k]
    p = k - n_discs
    best = np.inf
    bx = 0.0
    by = 0.0
    inside = True
    a = poly_ptr[p]
    b = poly_ptr[p + 1]
    for v in range(a, b):
        w = v + 1 if v + 1 < b else a
        ex = verts[w, 0] - verts[v, 0]
        ey = verts[w, 1] - verts[v, 1]
        rx = x - verts[v, 0]
        ry = y - verts[v, 1]
        if ex * ry - ey * rx < 0.0:  # right of a counter-clockwise edge: outside
            inside = False
        t = (rx * ex + ry * ey) / (ex * ex + ey * ey)
        t = min(max(t, 0.0), 1.0)
        cx = verts[v, 0] + t * ex
        cy = verts[v, 1] + t * ey
        d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy)
        if d2 < best:
            best = d2
            bx = cx
            by = cy
    d = math.sqrt(best)
    return bx, by, -d if inside else d


@numba.njit(cache=True, inline="always")
def _wrapped(c, per_side, world):
    """Cell index ``c`` (one past either edge at most) back on a torus, and the shift (m)
    that moves a drone into the frame of that cell's obstacles."""
    if c < 0:
        return c + per_side, world
    if c >= per_side:
        return c - per_side, -world
    return c, 0.0


@numba.njit(cache=True)
def _sense(pos, alive, centre, radius, poly_ptr, verts, cell_ptr, cell_items, most, per_side,
           cell, world, torus, reach, rel, dist, mask, nearest):  # fmt: skip
    """The obstacle reading of every alive row (see ObstacleField.sense). A cell of the
    3 x 3 block across a torus seam is read with the drone shifted by one world size; a torus
    of one cell (an arena under three sensing ranges wide) reads every obstacle at its
    nearest of the 9 images."""
    slots = mask.shape[1]
    size = 9 * most + 1
    best_d = np.empty(slots)
    best_c = np.empty(slots, np.int64)
    cand_x = np.empty(size)
    cand_y = np.empty(size)
    n_discs = radius.shape[0]
    one_cell = torus and per_side == 1
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        gx = min(max(math.floor(pos[i, 0] / cell), 0), per_side - 1)
        gy = min(max(math.floor(pos[i, 1] / cell), 0), per_side - 1)
        found = 0
        kept = 0
        if one_cell:
            for q in range(cell_ptr[0], cell_ptr[1]):
                k = cell_items[q]
                d = np.inf
                for oy in range(-1, 2):
                    for ox in range(-1, 2):
                        x = pos[i, 0] + ox * world
                        y = pos[i, 1] + oy * world
                        ix, iy, di = _nearest_point(k, x, y, n_discs, centre, radius, poly_ptr,
                                                    verts)  # fmt: skip
                        if di < d:
                            d = di
                            cand_x[found] = ix - x
                            cand_y[found] = iy - y
                if d > reach:
                    continue
                nearest[i] = min(nearest[i], d)
                kept = insert_k_best(best_d, best_c, kept, slots, d + 0.0, found)
                found += 1
        for oy in range(-1, 2):
            for ox in range(-1, 2):
                if one_cell:
                    break
                cx = gx + ox
                cy = gy + oy
                shift_x = 0.0
                shift_y = 0.0
                if torus:
                    cx, shift_x = _wrapped(cx, per_side, world)
                    cy, shift_y = _wrapped(cy, per_side, world)
                elif cx < 0 or cy < 0 or cx >= per_side or cy >= per_side:
                    continue
                x = pos[i, 0] + shift_x  # the drone in the frame of the cell's obstacles
                y = pos[i, 1] + shift_y
                c = cy * per_side + cx
                for q in range(cell_ptr[c], cell_ptr[c + 1]):
                    k = cell_items[q]
                    sx, sy, d = _nearest_point(k, x, y, n_discs, centre, radius, poly_ptr, verts)
                    if d > reach:
                        continue
                    # counted once: in the drone's own cell when it is inside (the obstacle
                    # covers that cell), else in the cell holding its nearest point
                    if d < 0.0:
                        if ox != 0 or oy != 0:
                            continue
                    elif (
                        min(max(math.floor(sx / cell), 0), per_side - 1) != cx
                        or min(max(math.floor(sy / cell), 0), per_side - 1) != cy
                    ):
                        continue
                    cand_x[found] = sx - x
                    cand_y[found] = sy - y
                    if d < nearest[i]:
                        nearest[i] = d
                    kept = insert_k_best(best_d, best_c, kept, slots, d + 0.0, found)
                    found += 1
        for t in range(kept):
            j = best_c[t]
            rel[i, t, 0] = cand_x[j]
            rel[i, t, 1] = cand_y[j]
            dist[i, t] = best_d[t]
            mask[i, t] = 1.0


# ---------------------------------------------------------------------------- 3-D
@dataclass(frozen=True, eq=False)
class ObstacleField3D:
    """Spheres, axis-aligned boxes and vertical cylinders in the cube, bucketed for sensing:
    in a 3-D cell grid, and the boxes and cylinders from the floor to the ceiling (poles,
    towers) in a grid of columns.

    A box face or cylinder cap that is no way out is *shut*: one lying on the floor or
    ceiling (a wall, for a box) of the box arena (a pole's foot on the floor), or both of an
    axis a shape spans on a torus (lo = 0, hi = world_size: endless along it, its images
    joined). The drones sense the shape extended past its shut faces (``solid_lo``,
    ``solid_hi``): a drone inside reads minus its distance to the nearest open face (or a
    cylinder's side), and push_out leaves through it."""

    sphere_center: np.ndarray  # (S, 3)
    sphere_radius: np.ndarray  # (S,)
    box_lo: np.ndarray  # (B, 3) lowest corner
    box_hi: np.ndarray  # (B, 3) highest corner
    world_size: float
    torus: bool
    reach: float  # the sensing range the grid was built for (m)
    cell_size: float
    per_side: int
    # (4 C + 1,) cell c's obstacles are cell_items[cell_ptr[4c]:cell_ptr[4c+4]], in 4 groups
    # by their z extent (see _bucket_3d): the layer below a drone reads groups 0-1, the layer
    # above groups 1-2, its own layer all four
    cell_ptr: np.ndarray
    # obstacle ids: spheres 0..S-1, then boxes S..S+B-1, then cylinders S+B..S+B+Y-1
    cell_items: np.ndarray
    # (C,) uint8: bit g set where group g of the cell holds an obstacle (a small table the
    # scan reads before the pointers: most cells of a sparse map are empty)
    cell_groups: np.ndarray
    # boxes and cylinders from the floor to the ceiling (poles, towers: endless along z, as
    # seen from inside the arena) are kept out of the cells (but on a one-cell torus), in a
    # grid of columns of the same side: the boxes column_items[column_ptr[c]:column_ptr[c +
    # 1]], c = cy P + cx; the cylinders (the forest's poles) likewise in pole_ptr and
    # pole_items, each entry's axis and radius (pole_disc (E, 3)) and first and last column
    # along x, then y (pole_cells (E, 4)) copied in list order: read in sequence, not by id
    column_ptr: np.ndarray
    column_items: np.ndarray
    pole_ptr: np.ndarray
    pole_items: np.ndarray
    pole_disc: np.ndarray
    pole_cells: np.ndarray
    most_per_cell: int  # the longest cell or column list (sizes the kernel's scratch)
    box_span: np.ndarray  # (B, 3) bool: on a torus, the box fills this axis (endless along it)
    # (B + Y, 3) the boxes, then the cylinders' bounding boxes: -inf / +inf past a shut face
    # (a cylinder's z extent is its solid one: its radial part is read from its axis)
    solid_lo: np.ndarray
    solid_hi: np.ndarray
    # (B + Y, 3) the cells of the boxes' (cylinders' bounding boxes') lowest and highest
    # corners along each axis; -1 and per_side along an axis the shape spans (every cell of
    # it, and none beyond a seam)
    first_cell: np.ndarray
    last_cell: np.ndarray
    reach2: float  # the largest squared distance whose square root is within reach
    cylinder_center: np.ndarray  # (Y, 2) axis (x, y)
    cylinder_radius: np.ndarray  # (Y,)
    cylinder_z: np.ndarray  # (Y, 2) bottom, top

    @classmethod
    def build(
        cls,
        centers: np.ndarray,
        radii: np.ndarray,
        box_lo: np.ndarray,
        box_hi: np.ndarray,
        world_size: float,
        torus: bool,
        reach: float,
        cylinder_center: np.ndarray | None = None,
        cylinder_radius: np.ndarray | None = None,
        cylinder_z: np.ndarray | None = None,
    ) -> ObstacleField3D:
        """Check the shapes lie in the cube and leave it somewhere to go, bucket them.
        Cylinders: axes (Y, 2), radii (Y,), (bottom, top) altitudes (Y, 2)."""
        centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
        radii = np.asarray(radii, dtype=np.float64).reshape(-1)
        box_lo = np.asarray(box_lo, dtype=np.float64).reshape(-1, 3)
        box_hi = np.asarray(box_hi, dtype=np.float64).reshape(-1, 3)
        axis = np.asarray(
            np.zeros((0, 2)) if cylinder_center is None else cylinder_center, dtype=np.float64
        ).reshape(-1, 2)
        cyl_r = np.asarray(
            np.zeros(0) if cylinder_radius is None else cylinder_radius, dtype=np.float64
        ).reshape(-1)
        cyl_z = np.asarray(
            np.zeros((0, 2)) if cylinder_z is None else cylinder_z, dtype=np.float64
        ).reshape(-1, 2)
        if not len(axis) == len(cyl_r) == len(cyl_z):
            raise ConfigError(
                f"obstacles: {len(axis)} cylinder centres, {len(cyl_r)} radii and "
                f"{len(cyl_z)} (bottom, top) pairs: one of each per cylinder"
            )
        cyl_lo = np.column_stack([axis - cyl_r[:, None], cyl_z[:, 0]])
        cyl_hi = np.column_stack([axis + cyl_r[:, None], cyl_z[:, 1]])
        shaped_lo = np.vstack([box_lo, cyl_lo])  # boxes, then cylinders' bounding boxes
        shaped_hi = np.vstack([box_hi, cyl_hi])
        lo = np.vstack([centers - radii[:, None], shaped_lo])
        hi = np.vstack([centers + radii[:, None], shaped_hi])
        n_spheres, n_boxes = len(radii), len(box_lo)
        kinds = ("sphere", "box", "cylinder")
        starts = (0, n_spheres, n_spheres + n_boxes)

        def named(k: int) -> str:
            kind = 2 if k >= starts[2] else (1 if k >= starts[1] else 0)
            return f"{kinds[kind]} {k - starts[kind]}"

        bad = np.flatnonzero(~(np.isfinite(lo).all(axis=1) & np.isfinite(hi).all(axis=1)))
        if len(bad):  # NaN compares false: it would pass the checks below
            raise ConfigError(f"obstacles: {named(int(bad[0]))} needs finite coordinates")
        outside = np.flatnonzero((lo < 0).any(axis=1) | (hi > world_size).any(axis=1))
        if len(outside):
            raise ConfigError(
                f"obstacles: {named(int(outside[0]))} reaches outside the arena "
                f"[0, {world_size:g}] m"
            )
        flat = np.flatnonzero((box_hi <= box_lo).any(axis=1))
        if len(flat):
            raise ConfigError(f"obstacles: box {flat[0]} needs max > min on every axis")
        flat = np.flatnonzero((cyl_r <= 0) | (cyl_z[:, 1] <= cyl_z[:, 0]))
        if len(flat):
            raise ConfigError(f"obstacles: cylinder {flat[0]} needs radius > 0 and top > bottom")
        on_lo, on_hi = shaped_lo == 0.0, shaped_hi == world_size
        on_lo[n_boxes:, :2] = on_hi[n_boxes:, :2] = False  # a cylinder's side only touches
        span = on_lo & on_hi if torus else np.zeros_like(on_lo)
        shut_lo, shut_hi = (span, span) if torus else (on_lo, on_hi)
        full = np.flatnonzero((shut_lo & shut_hi).all(axis=1))
        if len(full):
            raise ConfigError(f"obstacles: {named(n_spheres + int(full[0]))} fills the arena "
                              "(no way out of it)")  # fmt: skip
        solid_lo = np.where(shut_lo, -np.inf, shaped_lo)
        solid_hi = np.where(shut_hi, np.inf, shaped_hi)
        per_side = _grid_side_3d(world_size, reach, torus)
        cell_size = world_size / per_side
        first = np.clip(np.floor(lo / cell_size).astype(np.int64), 0, per_side - 1)
        last = np.clip(np.floor(hi / cell_size).astype(np.int64), 0, per_side - 1)
        tall = np.zeros(len(lo), dtype=bool)
        if not (torus and per_side == 1):  # one cell reads everything anyway
            tall[n_spheres:] = (shaped_lo[:, 2] == 0.0) & (shaped_hi[:, 2] == world_size)
        pole = tall & (np.arange(len(lo)) >= n_spheres + n_boxes)  # a cylinder
        tall &= ~pole
        in_cells, in_columns = np.flatnonzero(~(tall | pole)), np.flatnonzero(tall)
        cell_ptr, listed = _bucket_3d(first[~(tall | pole)], last[~(tall | pole)], per_side,
                                      n_spheres)  # fmt: skip
        cell_items = in_cells[listed]
        column_ptr, listed = _bucket(first[tall, :2], last[tall, :2], per_side)
        column_items = in_columns[listed]
        pole_ptr, listed = _bucket(first[pole, :2], last[pole, :2], per_side)
        pole_items = np.flatnonzero(pole)[listed]
        m = pole_items - n_spheres - n_boxes
        pole_disc = np.column_stack([axis[m], cyl_r[m]])
        pole_cells = first[pole_items][:, [0, 0, 1, 1]]
        pole_cells[:, 1::2] = last[pole_items][:, :2]
        whole = cell_ptr[4::4] - cell_ptr[:-1:4]
        most = max(int(whole.max()), int((np.diff(column_ptr) + np.diff(pole_ptr)).max()))
        held = (np.diff(cell_ptr).reshape(-1, 4) > 0).astype(np.uint8)
        groups = (held << np.arange(4, dtype=np.uint8)).sum(axis=1).astype(np.uint8)
        first_cell = np.where(span, -1, first[n_spheres:])
        last_cell = np.where(span, per_side, last[n_spheres:])
        return cls(centers, radii, box_lo, box_hi, float(world_size), torus, float(reach),
                   cell_size, per_side, cell_ptr, cell_items, groups, column_ptr,
                   column_items, pole_ptr, pole_items, pole_disc, pole_cells, most,
                   span[:n_boxes], solid_lo, solid_hi, first_cell, last_cell,
                   _within_reach2(float(reach)), axis, cyl_r, cyl_z)  # fmt: skip

    @property
    def n_spheres(self) -> int:
        return len(self.sphere_radius)

    @property
    def n_boxes(self) -> int:
        return len(self.box_lo)

    @property
    def n_cylinders(self) -> int:
        return len(self.cylinder_radius)

    @property
    def n_obstacles(self) -> int:
        return self.n_spheres + self.n_boxes + self.n_cylinders

    def sense(self, pos: np.ndarray, alive: np.ndarray, slots: int) -> ObstacleReading:
        """The ``slots`` nearest obstacles within ``reach`` of every alive row (nearest first,
        ties in the order the cells are scanned), each as its nearest point (R, slots, 3);
        row i depends on pos[i] alone."""
        n = len(pos)
        rel = np.zeros((n, slots, 3))
        dist = np.zeros((n, slots))
        mask = np.zeros((n, slots))
        nearest = np.full(n, np.inf)
        if self.n_obstacles:
            _sense_3d(np.ascontiguousarray(pos, dtype=np.float64), np.ascontiguousarray(alive),
                      self.sphere_center, self.sphere_radius, self.solid_lo, self.solid_hi,
                      self.first_cell, self.last_cell, self.cylinder_center,
                      self.cylinder_radius, self.cell_ptr, self.cell_items, self.cell_groups,
                      self.column_ptr, self.column_items, self.pole_ptr, self.pole_items,
                      self.pole_disc, self.pole_cells, self.most_per_cell, self.per_side,
                      self.cell_size, self.world_size, self.torus, self.reach, self.reach2,
                      rel, dist, mask, nearest)  # fmt: skip
        return ObstacleReading(rel, dist, mask, nearest)

    def push_out(self, points: np.ndarray, clearance: float, rounds: int = 8) -> np.ndarray:
        """``points`` (K, 3) moved the least distance that leaves each ``clearance`` from every
        obstacle (along the nearest way out: never through a shut face, so a pole's foot
        does not push a drone into the floor), ``rounds`` times for points pushed into a
        neighbouring obstacle; kept in the arena."""
        return _push_out(self, points, clearance, rounds)

    def widened(self, reach: float) -> ObstacleField3D:
        """The same obstacles bucketed for a longer sensing range (push_out beyond reach)."""
        return ObstacleField3D.build(self.sphere_center, self.sphere_radius, self.box_lo,
                                     self.box_hi, self.world_size, self.torus, reach,
                                     self.cylinder_center, self.cylinder_radius,
                                     self.cylinder_z)  # fmt: skip

    def as_json(self) -> dict[str, list]:
        """The field in the file format (what a generated field was, to keep or edit)."""
        return {
            "spheres": [{"center": c.tolist(), "radius": float(r)}
                        for c, r in zip(self.sphere_center, self.sphere_radius, strict=True)],
            "boxes": [{"min": a.tolist(), "max": b.tolist()}
                      for a, b in zip(self.box_lo, self.box_hi, strict=True)],
            "cylinders": [{"center": c.tolist(), "radius": float(r), "bottom": float(z[0]),
                           "top": float(z[1])}
                          for c, r, z in zip(self.cylinder_center, self.cylinder_radius,
                                             self.cylinder_z, strict=True)],
        }  # fmt: skip


def _within_reach2(reach: float) -> float:
    """The largest double whose square root is <= ``reach``: ``d2 <= it`` says exactly
    ``sqrt(d2) <= reach`` (sqrt is monotone), without taking the root."""
    r2 = reach * reach
    while math.sqrt(r2) > reach:
        r2 = math.nextafter(r2, 0.0)
    while math.sqrt(math.nextafter(r2, math.inf)) <= reach:
        r2 = math.nextafter(r2, math.inf)
    return r2


def _grid_side_3d(world_size: float, reach: float, torus: bool = False) -> int:
    """Cells along each side of the 3-D grid: of side >= ``reach``, at most
    MAX_CELLS_PER_SIDE_3D; one on a torus under three ranges wide (a 3 x 3 x 3 block would
    wrap onto itself: every obstacle is read at its nearest of 27 images)."""
    per_side = int(min(max(1, math.floor(world_size / max(reach, 1e-9))), MAX_CELLS_PER_SIDE_3D))
    return 1 if torus and per_side < 3 else per_side


def grid_bytes_3d(world_size: float, reach: float) -> float:
    """The most memory a 3-D obstacle grid of this arena and range takes besides its lists:
    the cells' pointers (four groups a cell) and flags, the columns' pointers (to boxes and
    to poles)."""
    side = _grid_side_3d(world_size, reach)
    return 8.0 * (4 * side**3 + 1) + side**3 + 2 * 8.0 * (side**2 + 1)


def _bucket_3d(
    first: np.ndarray, last: np.ndarray, per_side: int, n_spheres: int
) -> tuple[np.ndarray, np.ndarray]:
    """CSR lists of the obstacles whose bounding box meets each cell (z-major cells), each
    cell's list in four groups by the box's z extent there: 0 ends in this layer (starts
    below), 1 starts and ends in it (and every sphere), 2 starts in it (ends above), 3 passes
    through. A box's or a cylinder's nearest point to a drone outside it lies in the layer
    above the drone's only if the shape starts there, in the layer below only if it ends
    there (its altitude is the drone's clamped to the shape's): those layers read groups 1-2
    and 0-1, and a pole through every layer costs nothing in them."""
    spans = (last - first + 1).prod(axis=1)
    ids = np.repeat(np.arange(len(first), dtype=np.int64), spans)
    within = np.arange(len(ids)) - np.repeat(np.cumsum(spans) - spans, spans)
    width = np.repeat(last[:, 0] - first[:, 0] + 1, spans)
    depth = np.repeat(last[:, 1] - first[:, 1] + 1, spans)
    col = np.repeat(first[:, 0], spans) + within % width
    row = np.repeat(first[:, 1], spans) + (within // width) % depth
    layer = np.repeat(first[:, 2], spans) + within // (width * depth)
    starts = layer == np.repeat(first[:, 2], spans)
    ends = layer == np.repeat(last[:, 2], spans)
    group = np.where(starts, np.where(ends, 1, 2), np.where(ends, 0, 3))
    group[ids < n_spheres] = 1
    key = 4 * ((layer * per_side + row) * per_side + col) + group
    order = np.argsort(key, kind="stable")
    keys = 4 * per_side**3
    ptr = np.zeros(keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=keys), out=ptr[1:])
    return ptr, ids[order]


@numba.njit(cache=True, inline="always")
def _cell_of(v, cell, per_side):
    """The cell index of coordinate ``v`` along one axis (clamped to the grid)."""
    return min(max(math.floor(v / cell), 0), per_side - 1)


@numba.njit(cache=True, inline="always")
def _sphere_point(k, x, y, z, centre, radius):
    """Sphere k's nearest point to (x, y, z) and the signed distance (negative inside)."""
    vx = x - centre[k, 0]
    vy = y - centre[k, 1]
    vz = z - centre[k, 2]
    length = math.sqrt(vx * vx + vy * vy + vz * vz)
    r = radius[k]
    if length > 0.0:
        return (centre[k, 0] + vx / length * r, centre[k, 1] + vy / length * r,
                centre[k, 2] + vz / length * r, length - r)  # fmt: skip
    return centre[k, 0] + r, centre[k, 1], centre[k, 2], -r


@numba.njit(cache=True, inline="always")
def _holds(b, a, f, c, first, last):
    """Along axis ``a``, cell ``c`` holds box b's nearest point to a drone whose cell there is
    ``f`` (_frame_cell): the point is the drone's clamp to the box, so its cell is the clamp
    of ``f`` to the box's cells (no distance, no division). Along an axis the box spans
    (cells -1 to per_side) that is the drone's own cell, never one across a seam."""
    return min(max(f, first[b, a]), last[b, a]) == c


@numba.njit(cache=True, inline="always")
def _frame_cell(g, shift, per_side):
    """The drone's cell along one axis in the frame of a cell across a torus seam (shifted by
    +-world: one past the last cell or before the first); its own cell ``g`` without one."""
    if shift > 0.0:
        return per_side
    if shift < 0.0:
        return -1
    return g


@numba.njit(cache=True, inline="always")
def _box_point(b, x, y, z, lo, hi):
    """Box b's (``lo``, ``hi``: shut faces at infinity) nearest point to (x, y, z) and the
    signed distance: outside, the clamp of the point to the box; inside, _box_inside."""
    qx = min(max(x, lo[b, 0]), hi[b, 0])
    qy = min(max(y, lo[b, 1]), hi[b, 1])
    qz = min(max(z, lo[b, 2]), hi[b, 2])
    d2 = (x - qx) * (x - qx) + (y - qy) * (y - qy) + (z - qz) * (z - qz)
    if d2 > 0.0:
        return qx, qy, qz, math.sqrt(d2)
    return _box_inside(b, x, y, z, lo, hi)


@numba.njit(cache=True)
def _box_inside(b, x, y, z, lo, hi):
    """For a point inside box b (or on its surface): the point moved onto the nearest face
    (x lo, x hi, y lo, y hi, z lo, z hi first on a tie; a shut face is at infinity) and minus
    that distance (0 on the surface)."""
    best = x - lo[b, 0]
    px, py, pz = lo[b, 0], y, z
    if hi[b, 0] - x < best:
        best = hi[b, 0] - x
        px, py, pz = hi[b, 0], y, z
    if y - lo[b, 1] < best:
        best = y - lo[b, 1]
        px, py, pz = x, lo[b, 1], z
    if hi[b, 1] - y < best:
        best = hi[b, 1] - y
        px, py, pz = x, hi[b, 1], z
    if z - lo[b, 2] < best:
        best = z - lo[b, 2]
        px, py, pz = x, y, lo[b, 2]
    if hi[b, 2] - z < best:
        best = hi[b, 2] - z
        px, py, pz = x, y, hi[b, 2]
    if best > 0.0:
        return px, py, pz, -best
    return x, y, z, 0.0


@numba.njit(cache=True)
def _cylinder_point(b, m, x, y, z, axis, cyl_r, lo, hi):
    """Cylinder m's nearest point to (x, y, z) and the signed distance (negative inside); its
    altitudes are row ``b`` of the solid extents ``lo``, ``hi`` (a shut cap at infinity).
    Outside: the altitude clamped to the cylinder's, the position in the plane moved
    radially onto its disc. Inside (or on it): the nearest of its side (radially out; along
    +x from the axis itself), its bottom and its top (in that order on a tie), at minus
    that distance (0 on the surface)."""
    ax = axis[m, 0]
    ay = axis[m, 1]
    r = cyl_r[m]
    vx = x - ax
    vy = y - ay
    rho = math.sqrt(vx * vx + vy * vy)
    bottom = lo[b, 2]
    top = hi[b, 2]
    sz = min(max(z, bottom), top)
    if rho > r:  # beside it (and maybe above or below): the rim's nearest point
        out = rho - r
        dz = z - sz
        scale = r / rho
        d = out if dz == 0.0 else math.sqrt(out * out + dz * dz)  # level: no root to take
        return ax + vx * scale, ay + vy * scale, sz, d
    if sz != z:  # over its top or under its bottom, within its disc
        return x, y, sz, abs(z - sz)
    if rho > 0.0:
        px, py = ax + vx / rho * r, ay + vy / rho * r
    else:
        px, py = ax + r, ay
    best = r - rho
    pz = z
    if z - bottom < best:
        best = z - bottom
        px, py, pz = x, y, bottom
    if top - z < best:
        best = top - z
        px, py, pz = x, y, top
    if best > 0.0:
        return px, py, pz, -best
    return x, y, z, 0.0


@numba.njit(cache=True, inline="always")
def _point_3d(k, x, y, z, n_spheres, n_boxes, centre, radius, lo, hi, axis, cyl_r):
    """Obstacle k's nearest point to (x, y, z) and the signed distance (negative inside)."""
    if k < n_spheres:
        return _sphere_point(k, x, y, z, centre, radius)
    b = k - n_spheres
    if b >= n_boxes:
        return _cylinder_point(b, b - n_boxes, x, y, z, axis, cyl_r, lo, hi)
    return _box_point(b, x, y, z, lo, hi)


@numba.njit(cache=True, inline="always")
def _axis(o, g, p, cell, per_side, world, torus, eps):
    """Along one axis, for the cell at offset ``o`` from a drone at ``p`` in cell ``g``: the
    cell (wrapped on a torus), the shift into its frame, the drone's cell in that frame, the
    squared gap to it (a lower bound despite rounding: less ``eps``), whether it exists."""
    c = g + o
    shift = 0.0
    ok = True
    if torus:
        c, shift = _wrapped(c, per_side, world)
    else:
        ok = 0 <= c < per_side
    gap = 0.0
    if o != 0:
        gap = max(((g + 1) * cell - p if o > 0 else p - g * cell) - eps, 0.0)
    return c, shift, _frame_cell(g, shift, per_side), gap * gap, ok


@numba.njit(cache=True)
def _sense_3d(pos, alive, centre, radius, lo, hi, first, last, axis, cyl_r, cell_ptr,
              cell_items, groups, column_ptr, column_items, pole_ptr, pole_items, pole_disc,
              pole_cells, most, per_side, cell, world, torus, reach, reach2, rel, dist, mask,
              nearest):  # fmt: skip
    """The obstacle reading of every alive row (see ObstacleField3D.sense): the 2-D scan
    (_sense) over the 3 x 3 block of columns (floor-to-ceiling boxes and cylinders), then
    the 3 x 3 x 3 block of cells (everything else); or the 27 images of every obstacle on a
    one-cell torus. ``lo``, ``hi``, ``first``, ``last`` hold the boxes, then the cylinders'
    bounding boxes; ``axis``, ``cyl_r`` the cylinders' axes and radii.

    Candidates are ranked by ``d |d|`` (the order of the signed distance ``d``): a box outside
    by its squared distance, rooted only if kept. The drone's own column and cell are read
    first; once the slots are full, a column, cell or obstacle no nearer than the slots'
    farthest is skipped (the counted-once rule puts an obstacle's nearest point inside the
    cell that counts it). A box is clamped first (most are out of reach), then checked axis
    by axis for the cell holding its nearest point, without a division (_holds); the layers
    above and below read only the boxes that start or end there (_bucket_3d), and a cell
    with nothing for the drone is passed over on its flags (``groups``). A cylinder is read
    as its bounding box up to there, then exactly: it is counted in the cell holding the
    nearest point of its bounding box (closer to the drone than the cylinder, so the pruning
    by cells holds), strictly inside it in the drone's own cell. A floor-to-ceiling cylinder
    (a pole) is read from its column list's own copy of its disc (in sequence), and its rim
    point is the axis brought in by d / rho only if kept (one root per candidate, one
    division per slot)."""
    slots = mask.shape[1]
    size = 36 * most + 1
    best_key = np.empty(slots)
    best_c = np.empty(slots, np.int64)
    cand_x = np.empty(size)
    cand_y = np.empty(size)
    cand_z = np.empty(size)
    cand_d = np.empty(size)  # the signed distance, NaN for a box outside: sqrt(key)
    # > 0: a pole's distance from its axis (cand_x, cand_y then point to the axis), 0 else
    cand_s = np.zeros(size)
    n_spheres = radius.shape[0]
    n_boxes = lo.shape[0] - cyl_r.shape[0]
    any_cells = cell_items.shape[0] > 0
    one_cell = torus and per_side == 1
    eps = 1e-9 * world
    beyond = np.nextafter(reach2, np.inf)  # the least key out of reach
    for i in range(pos.shape[0]):
        if not alive[i]:
            continue
        found = 0
        kept = 0
        if one_cell:
            for q in range(cell_ptr[0], cell_ptr[4]):
                k = cell_items[q]
                d = np.inf
                for oz in range(-1, 2):
                    for oy in range(-1, 2):
                        for ox in range(-1, 2):
                            x = pos[i, 0] + ox * world
                            y = pos[i, 1] + oy * world
                            z = pos[i, 2] + oz * world
                            sx, sy, sz, di = _point_3d(k, x, y, z, n_spheres, n_boxes, centre,
                                                       radius, lo, hi, axis, cyl_r)  # fmt: skip
                            if di < d:
                                d = di
                                cand_x[found] = sx - x
                                cand_y[found] = sy - y
                                cand_z[found] = sz - z
                if d > reach:
                    continue
                cand_d[found] = d
                cand_s[found] = 0.0
                kept = insert_k_best(best_key, best_c, kept, slots, d * abs(d), found)
                found += 1
        else:
            px = pos[i, 0]
            py = pos[i, 1]
            pz = pos[i, 2]
            gx = _cell_of(px, cell, per_side)
            gy = _cell_of(py, cell, per_side)
            gz = _cell_of(pz, cell, per_side)
            limit = beyond  # a key from here up cannot be kept
            # the floor-to-ceiling boxes first, by columns: a 3 x 3 block, the own first
            for sweep in range(2):
                for oy in range(-1, 2):
                    if sweep == 0 and oy != 0:
                        continue
                    cy, shift, fy, gap_y, ok = _axis(oy, gy, py, cell, per_side, world, torus, eps)
                    if not ok or gap_y >= limit:
                        continue
                    y = py + shift
                    for ox in range(-1, 2):
                        own = ox == 0 and oy == 0
                        if own != (sweep == 0):
                            continue
                        cx, shift, fx, gap_x, ok = _axis(ox, gx, px, cell, per_side, world,
                                                         torus, eps)  # fmt: skip
                        if not ok or gap_y + gap_x >= limit:
                            continue
                        x = px + shift
                        c = cy * per_side + cx
                        for q in range(column_ptr[c], column_ptr[c + 1]):
                            b = column_items[q] - n_spheres
                            sx = min(max(x, lo[b, 0]), hi[b, 0])
                            sy = min(max(y, lo[b, 1]), hi[b, 1])
                            key = (x - sx) * (x - sx) + (y - sy) * (y - sy)
                            if key >= limit or not (
                                _holds(b, 1, fy, cy, first, last)
                                and _holds(b, 0, fx, cx, first, last)
                            ):
                                continue
                            sz = pz  # level with the drone: the box is endless along z
                            if key > 0.0:
                                d = np.nan
                            elif own:
                                sx, sy, sz, d = _box_inside(b, x, y, pz, lo, hi)
                                key = -d * d
                            else:
                                continue
                            cand_x[found] = sx - x
                            cand_y[found] = sy - y
                            cand_z[found] = sz - pz
                            cand_d[found] = d
                            cand_s[found] = 0.0
                            kept = insert_k_best(best_key, best_c, kept, slots, key, found)
                            found += 1
                            if kept == slots:
                                limit = best_key[slots - 1]
                        for q in range(pole_ptr[c], pole_ptr[c + 1]):  # round poles
                            vx = x - pole_disc[q, 0]
                            vy = y - pole_disc[q, 1]
                            r = pole_disc[q, 2]
                            ex = max(abs(vx) - r, 0.0)  # to its bounding square: a bound
                            ey = max(abs(vy) - r, 0.0)
                            if ex * ex + ey * ey >= limit:
                                continue
                            # counted once: in the column of the square's nearest point
                            if (
                                min(max(fy, pole_cells[q, 2]), pole_cells[q, 3]) != cy
                                or min(max(fx, pole_cells[q, 0]), pole_cells[q, 1]) != cx
                            ):
                                continue
                            rho2 = vx * vx + vy * vy
                            if rho2 > r * r:
                                rho = math.sqrt(rho2)
                                d = rho - r
                                key = d * d
                                if d > reach or key >= limit:
                                    continue
                                cand_x[found] = -vx  # to the axis: scaled if kept
                                cand_y[found] = -vy
                                cand_z[found] = 0.0
                                cand_s[found] = rho
                            elif own:  # inside: out through its side (its caps are shut)
                                b = pole_items[q] - n_spheres
                                sx, sy, sz, d = _cylinder_point(b, b - n_boxes, x, y, pz, axis,
                                                                cyl_r, lo, hi)  # fmt: skip
                                key = -d * d
                                cand_x[found] = sx - x
                                cand_y[found] = sy - y
                                cand_z[found] = sz - pz
                                cand_s[found] = 0.0
                            else:
                                continue
                            cand_d[found] = d
                            kept = insert_k_best(best_key, best_c, kept, slots, key, found)
                            found += 1
                            if kept == slots:
                                limit = best_key[slots - 1]
            # then every other obstacle, by cells: the own cell, then the 26 around it
            for sweep in range(2 if any_cells else 0):
                for oz in range(-1, 2):
                    if sweep == 0 and oz != 0:
                        continue
                    cz, shift, fz, gap_z, ok = _axis(oz, gz, pz, cell, per_side, world, torus, eps)
                    if not ok or gap_z >= limit:
                        continue
                    z = pz + shift  # the drone in the frame of the cell's obstacles
                    group_a = 0 if oz <= 0 else 1  # groups [group_a, group_b) of a cell
                    group_b = 4 if oz == 0 else (2 if oz < 0 else 3)
                    wanted = (1 << group_b) - (1 << group_a)  # their bits
                    for oy in range(-1, 2):
                        if sweep == 0 and oy != 0:
                            continue
                        cy, shift, fy, gap_y, ok = _axis(oy, gy, py, cell, per_side, world,
                                                         torus, eps)  # fmt: skip
                        if not ok or gap_z + gap_y >= limit:
                            continue
                        y = py + shift
                        for ox in range(-1, 2):
                            own = ox == 0 and oy == 0 and oz == 0
                            if own != (sweep == 0):
                                continue
                            cx, shift, fx, gap_x, ok = _axis(ox, gx, px, cell, per_side, world,
                                                             torus, eps)  # fmt: skip
                            if not ok or gap_z + gap_y + gap_x >= limit:
                                continue  # whatever this cell holds is farther
                            x = px + shift
                            c = (cz * per_side + cy) * per_side + cx
                            if not groups[c] & wanted:
                                continue  # nothing there for this drone
                            c *= 4
                            for q in range(cell_ptr[c + group_a], cell_ptr[c + group_b]):
                                k = cell_items[q]
                                b = k - n_spheres
                                if b >= 0:
                                    sx = min(max(x, lo[b, 0]), hi[b, 0])
                                    sy = min(max(y, lo[b, 1]), hi[b, 1])
                                    sz = min(max(z, lo[b, 2]), hi[b, 2])
                                    key = (
                                        (x - sx) * (x - sx)
                                        + (y - sy) * (y - sy)
                                        + (z - sz) * (z - sz)
                                    )
                                    if key >= limit:
                                        continue
                                    # counted once: in the cell holding the nearest
                                    # point (the drone's own cell when it is inside); a
                                    # cylinder's, the nearest of its bounding box
                                    if not (
                                        _holds(b, 2, fz, cz, first, last)
                                        and _holds(b, 1, fy, cy, first, last)
                                        and _holds(b, 0, fx, cx, first, last)
                                    ):
                                        continue
                                    if b >= n_boxes:  # a cylinder: now its own distance
                                        sx, sy, sz, d = _cylinder_point(
                                            b, b - n_boxes, x, y, z, axis, cyl_r, lo, hi
                                        )
                                        key = d * abs(d)
                                        if d > reach or key >= limit or (d < 0.0 and not own):
                                            continue
                                    elif key > 0.0:
                                        d = np.nan  # outside: sqrt(key), taken if kept
                                    elif own:
                                        sx, sy, sz, d = _box_inside(b, x, y, z, lo, hi)
                                        key = -d * d
                                    else:
                                        continue
                                else:
                                    sx, sy, sz, d = _sphere_point(k, x, y, z, centre, radius)
                                    key = d * abs(d)
                                    if d > reach or key >= limit:
                                        continue
                                    if d < 0.0:
                                        if not own:
                                            continue
                                    elif (
                                        _cell_of(sx, cell, per_side) != cx
                                        or _cell_of(sy, cell, per_side) != cy
                                        or _cell_of(sz, cell, per_side) != cz
                                    ):
                                        continue
                                cand_x[found] = sx - x
                                cand_y[found] = sy - y
                                cand_z[found] = sz - z
                                cand_d[found] = d
                                cand_s[found] = 0.0
                                kept = insert_k_best(best_key, best_c, kept, slots, key, found)
                                found += 1
                                if kept == slots:  # only a key below the farthest kept now
                                    limit = best_key[slots - 1]
        for t in range(kept):
            j = best_c[t]
            rel[i, t, 0] = cand_x[j]
            rel[i, t, 1] = cand_y[j]
            rel[i, t, 2] = cand_z[j]
            if cand_s[j] > 0.0:  # a pole's rim: its axis brought in by d / rho
                shrink = cand_d[j] / cand_s[j]
                rel[i, t, 0] *= shrink
                rel[i, t, 1] *= shrink
            d = cand_d[j]
            dist[i, t] = math.sqrt(best_key[t]) if math.isnan(d) else d
            mask[i, t] = 1.0
        if kept:
            nearest[i] = dist[i, 0]


# ---------------------------------------------------------------------------- generated maps
def forest(
    count: int,
    pole_radius: float,
    gap: float,
    world_size: float,
    rng: np.random.Generator,
    torus: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` poles uniform in the arena, every two at least ``2 pole_radius + gap``
    apart (across the seam too on a ``torus``; dart throwing: candidates in batches, each
    kept if no kept pole is too close). Raises a ConfigError when that many do not fit."""
    what = f"{count} poles of radius {pole_radius:g} m with {gap:g} m between them"
    centres = _pole_centres(count, pole_radius, 2.0 * pole_radius + gap, world_size, rng,
                            torus, what)  # fmt: skip
    return centres, np.full(count, pole_radius)


def _pole_centres(
    count: int,
    margin: float,
    spacing: float,
    world_size: float,
    rng: np.random.Generator,
    torus: bool,
    what: str,
) -> np.ndarray:
    """(count, 2) centres uniform in [margin, world_size - margin]^2, every two at least
    ``spacing`` apart (dart throwing); a ConfigError saying ``what`` did not fit otherwise."""
    cell = spacing  # one kept pole per cell at most: a 3 x 3 block check is exact
    per_side = max(1, int(world_size // cell))
    owner = np.full((per_side, per_side), -1, dtype=np.int64)
    kept = np.zeros((count, 2))
    n = 0
    for _ in range(200):  # batches; nearly always a few
        batch = rng.uniform(margin, world_size - margin, size=(max(4 * count, 64), 2))
        n = _throw(batch, kept, n, owner, cell, spacing, world_size, torus)
        if n == count:
            return kept
    raise ConfigError(
        f"obstacle_count: {what} do not fit a {world_size:g} m arena (placed {n}); use fewer "
        "or smaller poles"
    )


@numba.njit(cache=True)
def _throw(batch, kept, n, owner, cell, spacing, world, torus):
    """Keep each candidate of ``batch`` with no kept pole closer than ``spacing`` (minimum
    image on a ``torus``), at most one per cell of side >= ``spacing``; returns the count."""
    per_side = owner.shape[0]
    for b in range(batch.shape[0]):
        if n == kept.shape[0]:
            break
        x = batch[b, 0]
        y = batch[b, 1]
        gx = min(int(x / cell), per_side - 1)
        gy = min(int(y / cell), per_side - 1)
        ok = True
        for oy in range(gy - 2, gy + 3):
            for ox in range(gx - 2, gx + 3):
                if torus:
                    cy = oy % per_side
                    cx = ox % per_side
                elif 0 <= oy < per_side and 0 <= ox < per_side:
                    cy = oy
                    cx = ox
                else:
                    continue
                k = owner[cy, cx]
                if k < 0:
                    continue
                ddx = kept[k, 0] - x
                ddy = kept[k, 1] - y
                if torus:
                    ddx -= world * np.rint(ddx / world)
                    ddy -= world * np.rint(ddy / world)
                if ddx * ddx + ddy * ddy < spacing * spacing:
                    ok = False
        if ok and owner[gy, gx] < 0:
            kept[n, 0] = x
            kept[n, 1] = y
            owner[gy, gx] = n
            n += 1
    return n


def urban(count: int, street_width: float, world_size: float) -> list[np.ndarray]:
    """``count`` square blocks, the first ones (row by row) of a ``ceil(sqrt(count))``-square
    grid filling the arena, ``street_width`` apart and from the walls' half of that."""
    side_count = math.ceil(math.sqrt(count))
    pitch = world_size / side_count
    side = pitch - street_width
    if side <= 0:
        raise ConfigError(
            f"street_width: {street_width:g} m leaves no room for {count} blocks in a "
            f"{world_size:g} m arena (pitch {pitch:.3g} m); use narrower streets or fewer blocks"
        )
    blocks = []
    for k in range(count):
        row, col = divmod(k, side_count)
        x0 = col * pitch + 0.5 * street_width
        y0 = row * pitch + 0.5 * street_width
        blocks.append(
            np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]])
        )
    return blocks


def forest_3d(
    count: int,
    pole_radius: float,
    gap: float,
    world_size: float,
    rng: np.random.Generator,
    torus: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``count`` round poles from the floor to the ceiling: vertical cylinders (axes
    (count, 2), radii (count,), (bottom, top) = (0, ``world_size``) (count, 2)) standing on
    the 2-D forest's discs (:func:`forest`, the same draws: every two ``gap`` apart). Round,
    not square: a flat face square to a drone's path is a plane the safety layer cannot
    slide along, a cylinder's tangent plane turns as the drone goes round it."""
    centres, radii = forest(count, pole_radius, gap, world_size, rng, torus)
    z = np.column_stack([np.zeros(count), np.full(count, float(world_size))])
    return centres, radii, z


def urban_3d(
    count: int, street_width: float, world_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The 2-D city's blocks (:func:`urban`) as buildings from the floor, (lo, hi) each
    (count, 3): heights uniform between ``URBAN_LOWEST`` of the ceiling and the ceiling, so
    a drone may fly over some and must go round the others."""
    squares = urban(count, street_width, world_size)
    height = rng.uniform(URBAN_LOWEST * world_size, world_size, size=count)
    lo = np.array([[*b[0], 0.0] for b in squares])
    hi = np.array([[*b[2], h] for b, h in zip(squares, height, strict=True)])
    return lo, hi


def obstacle_field(
    config: SwarmConfig, rng: np.random.Generator
) -> ObstacleField | ObstacleField3D | None:
    """The run's obstacles from its config (``obstacles`` and the generators' fields), 3-D
    with ``dim = 3``; a forest (and a 3-D city's heights) drawn from ``rng``. None without
    obstacles."""
    c = config
    if c.obstacles == "none":
        return None
    problem = dim_problem(c.obstacles, c.dim)
    if problem is not None:
        raise ConfigError(problem)
    if c.dim == 3:
        return _obstacle_field_3d(c, rng)
    discs, radii, polygons = np.zeros((0, 2)), np.zeros(0), []
    if c.obstacles == "forest":
        discs, radii = forest(c.obstacle_count, c.pole_radius, FOREST_GAP * c.collision_radius,
                              c.world_size, rng, c.torus)  # fmt: skip
    elif c.obstacles == "urban":
        polygons = urban(c.obstacle_count, c.street_width, c.world_size)
    else:
        spec = load_obstacle_file(c.obstacles)
        discs = np.array([d.center for d in spec.discs], dtype=np.float64).reshape(-1, 2)
        radii = np.array([d.radius for d in spec.discs], dtype=np.float64)
        polygons = [np.array(p.vertices, dtype=np.float64) for p in spec.polygons]
    return ObstacleField.build(discs, radii, polygons, c.world_size, c.torus, c.sense_radius)


def _obstacle_field_3d(c: SwarmConfig, rng: np.random.Generator) -> ObstacleField3D:
    """obstacle_field with ``dim = 3``: round poles, buildings, or a file's spheres, boxes
    and cylinders (a cylinder's missing bottom is the floor, its missing top the ceiling)."""
    centres, radii, lo, hi = np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
    axes, cyl_r, cyl_z = np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2))
    if c.obstacles == "forest":
        axes, cyl_r, cyl_z = forest_3d(c.obstacle_count, c.pole_radius,
                                       FOREST_GAP * c.collision_radius, c.world_size, rng,
                                       c.torus)  # fmt: skip
    elif c.obstacles == "urban":
        lo, hi = urban_3d(c.obstacle_count, c.street_width, c.world_size, rng)
    else:
        spec = load_obstacle_file(c.obstacles)
        centres = np.array([s.center for s in spec.spheres], dtype=np.float64).reshape(-1, 3)
        radii = np.array([s.radius for s in spec.spheres], dtype=np.float64)
        lo = np.array([b.min for b in spec.boxes], dtype=np.float64).reshape(-1, 3)
        hi = np.array([b.max for b in spec.boxes], dtype=np.float64).reshape(-1, 3)
        cyl = spec.cylinders
        axes = np.array([y.center for y in cyl], dtype=np.float64).reshape(-1, 2)
        cyl_r = np.array([y.radius for y in cyl], dtype=np.float64)
        cyl_z = np.array([(0.0 if y.bottom is None else y.bottom,
                           c.world_size if y.top is None else y.top) for y in cyl],
                         dtype=np.float64).reshape(-1, 2)  # fmt: skip
    return ObstacleField3D.build(centres, radii, lo, hi, c.world_size, c.torus, c.sense_radius,
                                 axes, cyl_r, cyl_z)  # fmt: skip


def contact_radius(config: SwarmConfig) -> float:
    """A drone touches an obstacle closer than its own radius: half of ``collision_radius``."""
    return 0.5 * config.collision_radius
