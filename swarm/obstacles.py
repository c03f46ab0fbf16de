"""Static obstacles in the drones' arena: discs and convex polygons, sensed locally.

An :class:`ObstacleField` is part of the map: fixed for a run, the same in every
environment of a batch, and known to nobody as a whole. A drone senses, within
``sense_radius``, the nearest point of each obstacle around it (a range sensor's view of
poles and walls, reduced to one point per obstacle): ``obs.own["obstacle_rel_pos"]``
(R, slots, 2), the vector from the drone to that point, ``obs.own["obstacle_dist"]``
(R, slots), its signed distance (negative inside an obstacle), and ``obs.own["obstacle_mask"]``
(R, slots), 1 where a slot holds an obstacle; nearest first, ``obstacle_slots`` of them.

Where obstacles come from (``obstacles`` in every drone scenario's config):

* ``"forest"``: ``obstacle_count`` poles of radius ``pole_radius``, uniform in the arena, with
  at least three drones' widths (3 ``collision_radius``) of free space between two poles, so
  two drones can pass each other between any two poles;
* ``"urban"``: ``obstacle_count`` square blocks on a regular grid (the first ones of a
  ``ceil(sqrt(count))``-square grid, row by row) with streets ``street_width`` wide;
* a path to a JSON file (:class:`ObstacleFile`)::

      {"discs": [{"center": [12.0, 30.0], "radius": 1.5}],
       "polygons": [{"vertices": [[20, 20], [26, 20], [26, 24], [20, 24]]}]}

  metres in arena coordinates; polygons convex (either winding), every obstacle inside
  the arena.

A drone is *in contact* with an obstacle when its centre is closer than half of
``collision_radius`` (its own radius; two drones collide at ``collision_radius``) to it:
the ``obstacle_contacts`` metric. Contacts are counted, not resolved, as drone-drone
collisions are: a drone flies on through a pole. Spawns are moved out of obstacles
(:meth:`ObstacleField.push_out`), so every run starts free of contact where there is room.

Cost: the obstacles are bucketed once in a uniform cell grid (cell side >= the sensing
range); each drone scans its 3 x 3 block of cells, so a step costs O(N + obstacles near each
drone), whatever the total number. An obstacle listed in several cells is counted once: in
the cell that holds its nearest point to the drone (in the drone's own cell when the drone is
inside it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
from pydantic import Field, field_validator

from swarm.config import ConfigError, StrictConfig
from swarm.neighbors import insert_k_best

if TYPE_CHECKING:
    from swarm.engine import SwarmConfig

GENERATED = ("forest", "urban")
# free space between two poles of a forest, in collision radii (a drone's width): two drones
# with the safety layer's margin pass each other there
FOREST_GAP = 3.0
MAX_CELLS_PER_SIDE = 4096  # the bucketing grid's resolution limit (16 M cells)


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


class ObstacleFile(StrictConfig):
    """The JSON obstacle format (see the module docstring)."""

    discs: list[DiscSpec] = Field(default_factory=list)
    polygons: list[PolygonSpec] = Field(default_factory=list)


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
        raise ConfigError(f"obstacles: {str(path)!r} must hold a JSON object (discs, polygons)")
    return ObstacleFile.build(f"obstacles ({path.name})", **raw)


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
        out = np.array(points, dtype=np.float64, copy=True)
        if not self.n_obstacles or clearance > self.reach:
            return out if not self.n_obstacles else self._push_far(out, clearance, rounds)
        everyone = np.ones(len(out), dtype=bool)
        for _ in range(rounds):
            reading = self.sense(out, everyone, 1)
            tight = reading.mask[:, 0] > 0
            tight &= reading.dist[:, 0] < clearance
            if not tight.any():
                break
            rel, d = reading.rel_pos[tight, 0], reading.dist[tight, 0]
            outward = _outward(rel, d)
            out[tight] += outward * (clearance - d + 1e-9)[:, None]
            if self.torus:
                out[tight] %= self.world_size
            else:
                out[tight] = np.clip(out[tight], 0.0, self.world_size)
        return out

    def _push_far(self, points: np.ndarray, clearance: float, rounds: int) -> np.ndarray:
        """push_out for a clearance beyond the grid's reach: a field rebuilt for it."""
        wide = ObstacleField.build(self.disc_center, self.disc_radius, self.polygons(),
                                   self.world_size, self.torus, clearance * 1.01)  # fmt: skip
        return wide.push_out(points, clearance, rounds)

    def as_json(self) -> dict[str, list]:
        """The field in the file format (what a generated field was, to keep or edit)."""
        return {
            "discs": [{"center": c.tolist(), "radius": float(r)}
                      for c, r in zip(self.disc_center, self.disc_radius, strict=True)],
            "polygons": [{"vertices": p.tolist()} for p in self.polygons()],
        }  # fmt: skip


def _outward(rel: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """(K, 2) unit normal of the obstacle's surface at the sensed point, pointing out of it
    (away from the obstacle for a drone outside, toward the surface for one inside)."""
    norm = np.sqrt((rel**2).sum(axis=1))
    unit = np.divide(rel, norm[:, None], out=np.zeros_like(rel), where=norm[:, None] > 0)
    unit[norm == 0] = (1.0, 0.0)
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
    spacing = 2.0 * pole_radius + gap
    cell = spacing  # one kept pole per cell at most: a 3 x 3 block check is exact
    per_side = max(1, int(world_size // cell))
    owner = np.full((per_side, per_side), -1, dtype=np.int64)
    kept = np.zeros((count, 2))
    n = 0
    for _ in range(200):  # batches; nearly always a few
        batch = rng.uniform(pole_radius, world_size - pole_radius, size=(max(4 * count, 64), 2))
        n = _throw(batch, kept, n, owner, cell, spacing, world_size, torus)
        if n == count:
            return kept, np.full(count, pole_radius)
    raise ConfigError(
        f"obstacle_count: {count} poles of radius {pole_radius:g} m with {gap:g} m between them "
        f"do not fit a {world_size:g} m arena (placed {n}); use fewer or smaller poles"
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


def obstacle_field(config: SwarmConfig, rng: np.random.Generator) -> ObstacleField | None:
    """The run's obstacles from its config (``obstacles`` and the generators' fields); a
    forest is drawn from ``rng``. None without obstacles."""
    c = config
    if c.obstacles == "none":
        return None
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


def contact_radius(config: SwarmConfig) -> float:
    """A drone touches an obstacle closer than its own radius: half of ``collision_radius``."""
    return 0.5 * config.collision_radius
