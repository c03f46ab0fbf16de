"""3-D scenes seen by an orbiting perspective camera, drawn with numpy over all points.

:class:`OrbitCamera` circles an orbit centre: ``azimuth`` turns it about the vertical axis,
``elevation`` tilts it (clamped short of the poles, where "up" would be undefined),
``distance`` zooms. It is a look-at view matrix and a pinhole projection, applied to every
point of a layer in one matrix product.

:func:`draw_orbit` paints a scene with it (the :class:`~swarm.viewer.renderer.Renderer` calls
it for 3-D scenes). The depth cues: the arena cube as a wireframe over a floor grid, a
shadow dot on the floor under each drone (so altitude reads as the gap to the shadow),
markers drawn far to near (painter's order, one ``np.argsort`` by depth) and shrinking and
fading into the background with depth. Markers are the 2-D viewer's stamps
(:mod:`swarm.viewer.raster`) pointed along the projected direction of motion; since a marker's
size falls with depth, the depth-sorted drones split into runs of one size, one batched
stamp call each (a dozen or so per frame), not one call per drone. Spheres (obstacles,
goals) are discs of their projected radius, sorted into the same order; boxes are
wireframes, and so are vertical cylinders (the forest's poles): their bottom and top circles
and the two sides the camera sees (the lines where its view grazes them), one batched
segment call for all of them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pygame

from swarm.viewer import raster
from swarm.viewer.layers import (
    Agents,
    Boxes,
    Cells,
    Circles,
    Cylinders,
    Edges,
    Polygons,
    Scene,
    resolve,
)

if TYPE_CHECKING:
    from swarm.viewer.renderer import Renderer, RenderOptions

DEFAULT_AZIMUTH = 45.0  # degrees: looking north-east, from the arena's south-west corner
DEFAULT_ELEVATION = 30.0  # degrees above the horizon: a three-quarter view
MAX_ELEVATION = 89.0  # degrees; at 90 the view direction is parallel to "up"
FOV = 45.0  # vertical field of view, degrees
ROTATE_DEG_PER_PX = 0.4  # a drag across 900 pixels turns the camera once around
FIT_MARGIN = 0.92  # the home view shows the arena's corners within this share of the frame
MIN_ZOOM, MAX_ZOOM = 0.15, 6.0  # distance limits, as multiples of the home distance
NEAR = 1e-3  # near plane, as a multiple of the home distance
GRID_LINES = 10  # floor grid: this many cells per side
BODY_PX = 6.0  # a drone at the orbit centre is drawn at least this big; nearer ones bigger
MIN_BODY_PX, MAX_BODY_PX = 2, 64
FOG = 0.6  # the farthest corner of the arena fades this share of the way to the background
SHADOW = (8, 9, 13)
FLOOR_GRID = (40, 44, 57)
DROP_LINE = (110, 110, 110)
SHAPES = ("triangle", "square", "circle")
RING_SIDES = 16  # a cylinder's bottom and top circles are drawn as polygons of this many sides


@dataclass
class OrbitCamera:
    """A perspective camera on a sphere around ``target`` (angles in degrees).

    ``azimuth`` is the compass direction the camera looks along (0 = +x, counter-clockwise
    seen from above), ``elevation`` how far it looks down (positive: from above). World z
    is up. Camera coordinates: x right, y up, z the depth along the view direction.
    """

    width: int
    height: int
    target: tuple[float, float, float]
    azimuth: float = DEFAULT_AZIMUTH
    elevation: float = DEFAULT_ELEVATION
    distance: float = 1.0
    fov: float = FOV
    min_distance: float = 0.0
    max_distance: float = math.inf
    near: float = 1e-6
    home: tuple[tuple[float, float, float], float, float, float] | None = field(
        default=None, repr=False
    )

    @classmethod
    def fit(
        cls,
        lo: Sequence[float],
        hi: Sequence[float],
        width: int,
        height: int,
        azimuth: float = DEFAULT_AZIMUTH,
        elevation: float = DEFAULT_ELEVATION,
    ) -> OrbitCamera:
        """The camera at (azimuth, elevation) around the box [lo, hi]'s centre, just far
        enough that its 8 corners fit the frame; that view is ``home`` (``reset``)."""
        lo_, hi_ = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        centre = tuple(float(v) for v in (lo_ + hi_) / 2)
        cam = cls(int(width), int(height), centre, float(azimuth), _clamp_elevation(elevation))
        corners = _corners(lo_, hi_) - np.asarray(centre)
        basis = cam.basis()
        local = corners @ basis.T  # (8, 3) about the centre, camera axes
        f = cam.focal()
        half = np.array([FIT_MARGIN * width / 2, FIT_MARGIN * height / 2])
        # a corner at (x, y, z) fits when f |x| <= half_w (z + d), likewise y: d's least value
        need = f * np.abs(local[:, :2]) / half - local[:, 2:3]
        size = float(np.linalg.norm(hi_ - lo_)) or 1.0
        cam.distance = max(float(need.max()), 0.05 * size)
        cam.min_distance = MIN_ZOOM * cam.distance
        cam.max_distance = MAX_ZOOM * cam.distance
        cam.near = NEAR * cam.distance
        cam.home = (cam.target, cam.azimuth, cam.elevation, cam.distance)
        return cam

    @classmethod
    def of_scene(cls, scene: Scene, width: int, height: int, **angles: float) -> OrbitCamera:
        """The home camera of a 3-D scene's arena."""
        x0, y0, x1, y1 = scene.bounds
        z0, z1 = scene.zbounds if scene.zbounds is not None else (0.0, 0.0)
        return cls.fit((x0, y0, z0), (x1, y1, z1), width, height, **angles)

    # ------------------------------------------------------------------ geometry
    def basis(self) -> np.ndarray:
        """(3, 3) rows: the camera's right, up and forward unit vectors in world axes."""
        az, el = math.radians(self.azimuth), math.radians(self.elevation)
        ca, sa, ce, se = math.cos(az), math.sin(az), math.cos(el), math.sin(el)
        forward = np.array([ce * ca, ce * sa, -se])
        right = np.array([sa, -ca, 0.0])  # forward x z, normalised (ce > 0)
        up = np.array([ca * se, sa * se, ce])  # right x forward
        return np.stack([right, up, forward])

    def eye(self) -> np.ndarray:
        """(3,) the camera's position in the world."""
        return np.asarray(self.target, np.float64) - self.distance * self.basis()[2]

    def view_matrix(self) -> np.ndarray:
        """(4, 4) world -> camera coordinates (homogeneous), the look-at matrix."""
        rot = self.basis()
        view = np.eye(4)
        view[:3, :3] = rot
        view[:3, 3] = -rot @ self.eye()
        return view

    def focal(self) -> float:
        """Pixels per unit of (lateral offset / depth): the pinhole's focal length."""
        return (self.height / 2) / math.tan(math.radians(self.fov) / 2)

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera coordinates (x right, y up, z depth) of world points (N, 3)."""
        view = self.view_matrix()
        pts = np.asarray(points, np.float64).reshape(-1, 3)
        x, y, z = pts[:, 0], pts[:, 1], pts[:, 2]
        out = np.empty_like(pts)
        for k, (a, b, c, d) in enumerate(view[:3]):  # not pts @ view.T: a (N, 3) x (3, 3)
            out[:, k] = x * a + y * b + z * c + d  # matmul is ~20x slower (BLAS set-up)
        return out

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sx, sy, depth) of world points (N, 3): screen floats (y down) and the depth
        along the view direction. Points at or behind the near plane get NaN on screen."""
        cam = self.to_camera(points)
        depth = cam[:, 2]
        ok = depth > self.near
        scale = np.where(ok, self.focal() / np.where(ok, depth, 1.0), np.nan)
        sx = self.width / 2 + cam[:, 0] * scale
        sy = self.height / 2 - cam[:, 1] * scale
        return sx, sy, depth

    def to_screen(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) screen coordinates of world points (N, 3) (NaN behind the camera)."""
        sx, sy, _ = self.project(points)
        return np.column_stack([sx, sy])

    # ------------------------------------------------------------------ controls
    def rotate(self, dx_px: float, dy_px: float) -> None:
        """A drag by (dx, dy) pixels turns the scene with the pointer: right turns the
        azimuth, down raises the camera (elevation clamped to +-MAX_ELEVATION)."""
        self.azimuth = (self.azimuth - dx_px * ROTATE_DEG_PER_PX + 180.0) % 360.0 - 180.0
        self.elevation = _clamp_elevation(self.elevation + dy_px * ROTATE_DEG_PER_PX)

    def turn(self, degrees: float) -> None:
        """Turn the azimuth by ``degrees`` (a slowly turning recording)."""
        self.azimuth = (self.azimuth + degrees + 180.0) % 360.0 - 180.0

    def zoom(self, factor: float) -> None:
        """Move ``factor`` times closer (> 1 nearer), within the distance limits."""
        self.distance = float(np.clip(self.distance / factor, self.min_distance, self.max_distance))

    def pan(self, dx_px: float, dy_px: float) -> None:
        """Move the orbit centre so the picture follows the pointer (dx, dy) pixels."""
        right, up, _ = self.basis()
        per_px = self.distance / self.focal()
        shift = (-dx_px * right + dy_px * up) * per_px
        self.target = tuple(float(v) for v in np.asarray(self.target) + shift)

    def reset(self) -> None:
        """Back to the home view (as fitted)."""
        if self.home is not None:
            self.target, self.azimuth, self.elevation, self.distance = self.home

    def pose(self) -> tuple[float, ...]:
        """Everything the picture depends on, a cache key."""
        return (*self.target, self.azimuth, self.elevation, self.distance, self.fov,
                float(self.width), float(self.height))  # fmt: skip


def _clamp_elevation(degrees: float) -> float:
    return float(np.clip(degrees, -MAX_ELEVATION, MAX_ELEVATION))


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(8, 3) corners of the box [lo, hi], corner k taking hi on the axes of k's set bits."""
    bits = (np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1
    return np.where(bits == 1, hi, lo).astype(np.float64)


# the 12 edges of a box, as pairs of _corners indices (corners differing in one bit)
BOX_EDGES = np.array(
    [(a, a | 1 << b) for a in range(8) for b in range(3) if not a >> b & 1], np.int64
)


def box_edges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start (12 B, 3), end (12 B, 3)) the edges of boxes [lo, hi] (B, 3), all at once."""
    lo = np.asarray(lo, np.float64).reshape(-1, 3)
    hi = np.asarray(hi, np.float64).reshape(-1, 3)
    bits = (np.arange(8)[:, None] >> np.arange(3)[None, :]) & 1  # (8, 3)
    corners = np.where(bits[None] == 1, hi[:, None], lo[:, None])  # (B, 8, 3)
    return corners[:, BOX_EDGES[:, 0]].reshape(-1, 3), corners[:, BOX_EDGES[:, 1]].reshape(-1, 3)


def cylinder_edges(
    eye: np.ndarray, centre: np.ndarray, radius: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start (E, 3), end (E, 3), cylinder of each (E,)) the wireframe of vertical cylinders
    (axes ``centre`` (Y, 2), ``radius`` (Y,), ``z`` (Y, 2) bottom and top) seen from
    ``eye`` (3,): their bottom and top circles (RING_SIDES-gons) and their silhouette, the
    two vertical lines through the points where the tangents from the eye touch the circle
    (at acos(r / D) either side of the direction to the eye, D the eye's distance from the
    axis in the plane); none for an eye over or under the disc, where the circles suffice."""
    centre = np.asarray(centre, np.float64).reshape(-1, 2)
    radius = np.broadcast_to(np.asarray(radius, np.float64), (len(centre),))
    z = np.asarray(z, np.float64).reshape(-1, 2)
    angle = np.linspace(0.0, 2.0 * np.pi, RING_SIDES + 1)
    ring = np.column_stack([np.cos(angle), np.sin(angle)])  # (K + 1, 2), closed
    flat = centre[:, None] + radius[:, None, None] * ring[None]  # (Y, K + 1, 2)
    k = RING_SIDES
    owner = np.repeat(np.arange(len(centre)), k)
    starts, ends, owners = [], [], []
    for level in (0, 1):  # bottom, then top
        height = np.repeat(z[:, level], k)[:, None]
        starts.append(np.column_stack([flat[:, :-1].reshape(-1, 2), height]))
        ends.append(np.column_stack([flat[:, 1:].reshape(-1, 2), height]))
        owners.append(owner)
    to_eye = np.asarray(eye, np.float64)[:2] - centre
    reach = np.sqrt((to_eye**2).sum(axis=1))
    seen = np.flatnonzero(reach > radius)
    if len(seen):
        u = to_eye[seen] / reach[seen, None]
        v = np.column_stack([-u[:, 1], u[:, 0]])
        cos = radius[seen] / reach[seen]
        sin = np.sqrt(np.maximum(1.0 - cos * cos, 0.0))
        for side in (1.0, -1.0):
            foot = centre[seen] + radius[seen, None] * (cos[:, None] * u + side * sin[:, None] * v)
            starts.append(np.column_stack([foot, z[seen, 0]]))
            ends.append(np.column_stack([foot, z[seen, 1]]))
            owners.append(seen)
    return np.vstack(starts), np.vstack(ends), np.concatenate(owners)


def as_3d(points: np.ndarray, z: float) -> np.ndarray:
    """(N, 3) points; 2-D ones (a scenario's ground map) are put at altitude ``z``."""
    pts = np.asarray(points, np.float64)
    if pts.ndim == 1:
        pts = pts.reshape(-1, pts.shape[0] if pts.shape[0] in (2, 3) else 2)
    if pts.shape[-1] == 3:
        return pts.reshape(-1, 3)
    pts = pts.reshape(-1, 2)
    return np.column_stack([pts, np.full(len(pts), float(z))])


def clip_near(
    camera: OrbitCamera, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Segments a -> b (E, 3) cut at the near plane: (kept (E,) bool, a', b' camera coords
    of the kept ones), so a segment running behind the camera still draws its front part."""
    ca, cb = camera.to_camera(a), camera.to_camera(b)
    da, db = ca[:, 2], cb[:, 2]
    near = camera.near
    front_a, front_b = da > near, db > near
    if front_a.all() and front_b.all():  # the camera outside the cube: nothing to cut
        return front_a, ca, cb
    kept = front_a | front_b
    ca, cb, da, db = ca[kept], cb[kept], da[kept], db[kept]
    behind_a, behind_b = da <= near, db <= near  # never both: one end is in front
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = np.where(behind_a, (near - da) / (db - da), 0.0)[:, None]
        tb = np.where(behind_b, (near - db) / (da - db), 0.0)[:, None]
    ca, cb = ca + ta * (cb - ca), cb + tb * (ca - cb)
    return kept, ca, cb


def clip_screen(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, w: int, h: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Liang-Barsky: the part of each segment inside [-1, w] x [-1, h], and which have one
    (a segment ending near the camera plane may be far longer than the screen). Segments
    with both ends on screen (most) are passed through untouched."""
    inside = (
        (x0 >= -1) & (x0 <= w) & (y0 >= -1) & (y0 <= h)
        & (x1 >= -1) & (x1 <= w) & (y1 >= -1) & (y1 <= h)
    )  # fmt: skip
    if inside.all():
        return x0, y0, x1, y1, inside
    out = [v.copy() for v in (x0, y0, x1, y1)]
    rest = np.flatnonzero(~inside)
    cut = _liang_barsky(x0[rest], y0[rest], x1[rest], y1[rest], w, h)
    for o, c in zip(out, cut[:4], strict=True):
        o[rest] = c
    ok = inside.copy()
    ok[rest] = cut[4]
    return out[0], out[1], out[2], out[3], ok


def _liang_barsky(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, w: int, h: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = np.zeros_like(x0), np.ones_like(x0)
    ok = np.ones(len(x0), bool)
    for p, q in ((-dx, x0 + 1), (dx, w - x0), (-dy, y0 + 1), (dy, h - y0)):
        parallel = p == 0
        ok &= ~(parallel & (q < 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(parallel, 0.0, q / np.where(parallel, 1.0, p))
        t0 = np.where(~parallel & (p < 0), np.maximum(t0, r), t0)
        t1 = np.where(~parallel & (p > 0), np.minimum(t1, r), t1)
    ok &= t0 <= t1
    return x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy, ok


def project_segments(
    camera: OrbitCamera, a: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Screen (x0, y0, x1, y1) of segments a -> b (E, 3) cut to what is in view, the index
    of each drawn segment in the input, and its mid-point depth."""
    kept, ca, cb = clip_near(camera, a, b)
    f = camera.focal()
    w, h = camera.width, camera.height
    sx0 = w / 2 + f * ca[:, 0] / ca[:, 2]
    sy0 = h / 2 - f * ca[:, 1] / ca[:, 2]
    sx1 = w / 2 + f * cb[:, 0] / cb[:, 2]
    sy1 = h / 2 - f * cb[:, 1] / cb[:, 2]
    x0, y0, x1, y1, ok = clip_screen(sx0, sy0, sx1, sy1, w, h)
    index = np.flatnonzero(kept)[ok]
    depth = 0.5 * (ca[ok, 2] + cb[ok, 2])
    return x0[ok], y0[ok], x1[ok], y1[ok], index, depth


@functools.lru_cache(maxsize=128)
def body_stamp(size_px: int) -> np.ndarray:
    """(len(SHAPES) * N_ANGLES, K, 2) the marker stamps of every shape at one size, padded
    with the centre pixel to one K, so drones of all shapes share one stamp call."""
    tables = [raster.marker_stamp(shape, size_px) for shape in SHAPES]
    k = max(t.shape[1] for t in tables)
    out = np.zeros((len(SHAPES) * raster.N_ANGLES, k, 2), np.int64)
    for s, t in enumerate(tables):
        out[s * raster.N_ANGLES : (s + 1) * raster.N_ANGLES, : t.shape[1]] = t
    return out


@functools.lru_cache(maxsize=8)
def square_stamp(size_px: int) -> np.ndarray:
    """(K, 2) offsets of a filled square of side ``size_px`` (shadow dots)."""
    r = np.arange(size_px) - (size_px - 1) // 2
    dx, dy = np.meshgrid(r, r, indexing="ij")
    return np.column_stack([dx.ravel(), dy.ravel()])


class Fog:
    """Depth cue: colours fade towards the background from the arena's nearest corner to
    its farthest (so a drone's shade does not change as the camera zooms)."""

    def __init__(self, camera: OrbitCamera, scene: Scene, background: Sequence[int]):
        depth = camera.to_camera(_arena_corners(scene))[:, 2]
        self.near = max(float(depth.min()), camera.near)
        self.far = max(float(depth.max()), self.near + 1e-9)
        self.background = np.asarray(background, np.float64)

    def keep(self, depth: np.ndarray) -> np.ndarray:
        """(N,) share of its own colour a point at ``depth`` keeps (1 near, 1 - FOG far)."""
        t = np.clip((np.asarray(depth) - self.near) / (self.far - self.near), 0.0, 1.0)
        return 1.0 - FOG * t

    def apply(self, rgb: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """(N, 3) uint8 colours ``rgb`` (N, 3) faded by depth."""
        k = self.keep(depth)[:, None]
        out = self.background + (np.asarray(rgb, np.float64) - self.background) * k
        return (out + 0.5).astype(np.uint8)


def _arena_corners(scene: Scene) -> np.ndarray:
    x0, y0, x1, y1 = scene.bounds
    z0, z1 = scene.zbounds if scene.zbounds is not None else (0.0, 0.0)
    return _corners(np.array([x0, y0, z0]), np.array([x1, y1, z1]))


def floor_z(scene: Scene) -> float:
    return float(scene.zbounds[0]) if scene.zbounds is not None else 0.0


# ---------------------------------------------------------------------- drawing
def draw_orbit(
    renderer: Renderer,
    scene: Scene,
    camera: OrbitCamera,
    options: RenderOptions,
    trails: np.ndarray | None = None,
) -> None:
    """Paint ``scene`` seen by ``camera`` onto ``renderer.surface`` (a
    :class:`~swarm.viewer.renderer.Renderer`; ``options`` its RenderOptions). ``trails``
    (T, N, 3) are past positions of the agents layer, oldest first."""
    from swarm.viewer.renderer import BACKGROUND

    surf = renderer.surface
    _background(renderer, scene, camera)
    fog = Fog(camera, scene, BACKGROUND)
    z0 = floor_z(scene)
    hidden = options.hidden
    for layer in scene.layers:  # ground maps first, under everything
        if isinstance(layer, Cells) and layer.name not in hidden:
            _floor_cells(renderer, layer, camera, z0)
    for layer in scene.layers:  # flat shapes on the ground
        if isinstance(layer, Polygons) and layer.name not in hidden:
            _floor_polygons(surf, layer, camera, z0, fog)
        if isinstance(layer, Cylinders):
            continue  # not a flat disc: a wireframe, below
        if isinstance(layer, Circles) and layer.name not in hidden and _flat(layer.centres):
            _floor_circles(surf, layer, camera, z0, fog)
    main = scene.agents()
    agents = [lay for lay in scene.layers if isinstance(lay, Agents) and lay.name not in hidden]
    spheres = [
        lay for lay in scene.layers
        if isinstance(lay, Circles) and not isinstance(lay, Cylinders)
        and lay.name not in hidden and not _flat(lay.centres)
    ]  # fmt: skip
    pixels = pygame.surfarray.pixels2d(surf)  # locks the surface until released
    try:
        for layer in scene.layers:
            if isinstance(layer, Boxes) and layer.name not in hidden:
                _boxes(pixels, surf, layer, camera, fog)
            if isinstance(layer, Cylinders) and layer.name not in hidden:
                _cylinders(pixels, surf, layer, camera, fog)
        for layer in agents:
            _shadows(pixels, surf, layer, camera, z0)
        for layer in scene.layers:
            if isinstance(layer, Edges) and renderer._shown(layer.name, options):
                _edges(pixels, surf, layer, camera, z0)
        if trails is not None and main is not None and len(trails):
            _trails(pixels, renderer, main, trails, camera, options, z0)
        if options.show_sensing:
            for layer in agents:
                _sensing_rings(pixels, surf, layer, camera, z0)
        _bodies(pixels, renderer, agents, spheres, camera, options, fog, z0)
    finally:
        del pixels
    for layer in scene.layers:
        if isinstance(layer, Circles) and layer.name not in hidden and layer.labels is not None:
            _labels(surf, layer, camera, z0)
    if main is not None:
        for layer in agents:
            _selection(surf, renderer, layer, camera, options, main, z0)


def _flat(points: np.ndarray) -> bool:
    """Whether points are 2-D (a ground map in a 3-D scene)."""
    return np.asarray(points).shape[-1] != 3


def _background(renderer: Renderer, scene: Scene, camera: OrbitCamera) -> None:
    """Background, floor, floor grid and the arena cube: drawn once per camera pose, then
    copied in (the same for every frame while the camera holds still)."""
    from swarm.viewer.renderer import ARENA, ARENA_BORDER, BACKGROUND

    surf = renderer.surface
    key = (*map(float, scene.bounds), *map(float, scene.zbounds or (0.0, 0.0)), *camera.pose())
    cached = getattr(renderer, "_base3d", None)
    if cached is not None and cached[0] == key:
        pixels = pygame.surfarray.pixels2d(surf)
        pixels.T[...] = cached[1]
        del pixels
        return
    surf.fill(BACKGROUND)
    x0, y0, x1, y1 = scene.bounds
    z0 = floor_z(scene)
    floor = np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0]])
    poly = _clip_polygon(camera, floor)
    if len(poly) >= 3:
        pygame.draw.polygon(surf, ARENA, poly.tolist())
    a, b = floor_grid(scene)
    cube_a, cube_b = box_edges(_arena_corners(scene)[0], _arena_corners(scene)[7])
    pixels = pygame.surfarray.pixels2d(surf)
    try:
        grid = raster.map_colours(surf, np.array([FLOOR_GRID]))[0]
        sx0, sy0, sx1, sy1, _, _ = project_segments(camera, a, b)
        raster.segments(pixels, sx0, sy0, sx1, sy1, int(grid))
        border = raster.map_colours(surf, np.array([ARENA_BORDER]))[0]
        sx0, sy0, sx1, sy1, _, _ = project_segments(camera, cube_a, cube_b)
        raster.segments(pixels, sx0, sy0, sx1, sy1, int(border))
        renderer._base3d = (key, pixels.T.copy())
    finally:
        del pixels


def floor_grid(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) (2 (GRID_LINES - 1), 3) the floor grid's inner lines, x then y."""
    x0, y0, x1, y1 = scene.bounds
    z0 = floor_z(scene)
    ticks = np.linspace(0.0, 1.0, GRID_LINES + 1)[1:-1]
    xs, ys = x0 + ticks * (x1 - x0), y0 + ticks * (y1 - y0)
    one = np.ones_like(ticks)
    a = np.concatenate([np.column_stack([xs, y0 * one, z0 * one]),
                        np.column_stack([x0 * one, ys, z0 * one])])  # fmt: skip
    b = np.concatenate([np.column_stack([xs, y1 * one, z0 * one]),
                        np.column_stack([x1 * one, ys, z0 * one])])  # fmt: skip
    return a, b


def _clip_polygon(camera: OrbitCamera, points: np.ndarray) -> np.ndarray:
    """(k, 2) screen polygon of a world polygon (n, 3), cut at the near plane
    (Sutherland-Hodgman against one plane; a handful of vertices)."""
    cam = camera.to_camera(points)
    near = camera.near
    out: list[np.ndarray] = []
    for i in range(len(cam)):
        p, q = cam[i], cam[(i + 1) % len(cam)]
        if p[2] > near:
            out.append(p)
        if (p[2] > near) != (q[2] > near):
            t = (near - p[2]) / (q[2] - p[2])
            out.append(p + t * (q - p))
    if not out:
        return np.zeros((0, 2))
    c = np.asarray(out)
    f = camera.focal()
    return np.column_stack(
        [camera.width / 2 + f * c[:, 0] / c[:, 2], camera.height / 2 - f * c[:, 1] / c[:, 2]]
    )


def _floor_cells(renderer: Renderer, layer: Cells, camera: OrbitCamera, z0: float) -> None:
    """A raster on the floor: each screen pixel over the floor looks up the cell its ray
    hits (the pixel -> cell map is kept while the camera holds still)."""
    surf = renderer.surface
    rgb, shown = layer.image()
    h, w = shown.shape
    key = (*camera.pose(), z0, *layer.origin, layer.cell_size, h, w)
    cache = getattr(renderer, "_floor_map", None)
    if cache is None or cache[0] != key:
        cache = (key, *_floor_lookup(camera, layer.origin, layer.cell_size, h, w, z0))
        renderer._floor_map = cache
    _, pixel, cell = cache
    if not len(pixel):
        return
    values = raster.map_colours(surf, rgb.reshape(-1, 3))
    drawn = shown.reshape(-1)[cell]
    pixels = pygame.surfarray.pixels2d(surf)
    try:
        flat = pixels.T.reshape(-1) if pixels.T.flags.c_contiguous else None
        if flat is not None:
            flat[pixel[drawn]] = values[cell[drawn]]
        else:
            py, px = np.divmod(pixel[drawn], surf.get_width())
            pixels[px, py] = values[cell[drawn]]
    finally:
        del pixels


def _floor_lookup(
    camera: OrbitCamera, origin: tuple[float, float], cs: float, h: int, w: int, z0: float
) -> tuple[np.ndarray, np.ndarray]:
    """(flat pixel index, flat cell index) of every screen pixel whose ray meets the floor
    plane inside the raster's rectangle."""
    x0, y0 = origin
    rect = np.array([[x0, y0, z0], [x0 + w * cs, y0, z0], [x0 + w * cs, y0 + h * cs, z0],
                     [x0, y0 + h * cs, z0]])  # fmt: skip
    poly = _clip_polygon(camera, rect)
    if len(poly) < 3:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    W, H = camera.width, camera.height
    c0, c1 = (int(np.clip(np.floor(poly[:, 0].min()), 0, W)),
              int(np.clip(np.ceil(poly[:, 0].max()) + 1, 0, W)))  # fmt: skip
    r0, r1 = (int(np.clip(np.floor(poly[:, 1].min()), 0, H)),
              int(np.clip(np.ceil(poly[:, 1].max()) + 1, 0, H)))  # fmt: skip
    if c1 <= c0 or r1 <= r0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    u, v = np.meshgrid(np.arange(c0, c1) + 0.5, np.arange(r0, r1) + 0.5)
    right, up, forward = camera.basis()
    f = camera.focal()
    a, b = ((u - W / 2) / f).ravel(), ((H / 2 - v) / f).ravel()
    ray = forward[None] + a[:, None] * right[None] + b[:, None] * up[None]  # (P, 3)
    eye = camera.eye()
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (z0 - eye[2]) / ray[:, 2]
    hit = np.isfinite(t) & (t > 0)
    x = eye[0] + t * ray[:, 0]
    y = eye[1] + t * ray[:, 1]
    col = np.floor((x - x0) / cs)
    row = h - 1 - np.floor((y - y0) / cs)  # image row 0 is the top
    hit &= (col >= 0) & (col < w) & (row >= 0) & (row < h)
    pixel = ((v.ravel() - 0.5).astype(np.int64) * W + (u.ravel() - 0.5).astype(np.int64))[hit]
    cell = (row[hit] * w + col[hit]).astype(np.int64)
    return pixel, cell


def _floor_polygons(
    surf: pygame.Surface, layer: Polygons, camera: OrbitCamera, z0: float, fog: Fog
) -> None:
    for polygon in layer.polygons:  # a few hundred at most: one draw call each
        pts = as_3d(polygon, z0)
        screen = _clip_polygon(camera, pts)
        if len(screen) >= 3:
            depth = camera.to_camera(pts.mean(axis=0))[:, 2]
            colour = fog.apply(np.array([layer.colour]), depth)[0]
            pygame.draw.polygon(surf, tuple(int(c) for c in colour), screen.tolist())


def _floor_circles(
    surf: pygame.Surface, layer: Circles, camera: OrbitCamera, z0: float, fog: Fog
) -> None:
    """Discs given in 2-D, lying on the floor: projected 24-gons (ellipses in view)."""
    centres = as_3d(layer.centres, z0)
    if not len(centres):
        return
    radius = np.broadcast_to(np.asarray(layer.radius, np.float64), (len(centres),))
    colours = _colours_of(layer, len(centres))
    a = 2 * np.pi * np.arange(24) / 24
    ring = np.column_stack([np.cos(a), np.sin(a), np.zeros_like(a)])
    depth = camera.to_camera(centres)[:, 2]
    colours = fog.apply(colours, depth)
    for c, r, col in zip(centres, radius, colours, strict=True):  # few per scenario
        screen = _clip_polygon(camera, c + r * ring)
        if len(screen) >= 3:
            colour = tuple(int(v) for v in col)
            pygame.draw.polygon(surf, colour, screen.tolist(), 0 if layer.filled else 1)


def _colours_of(layer: Circles, k: int) -> np.ndarray:
    colour = np.asarray(layer.colour, np.uint8)
    return np.broadcast_to(colour, (k, 3)).copy() if colour.ndim == 1 else colour.reshape(k, 3)


def _boxes(
    pixels: np.ndarray, surf: pygame.Surface, layer: Boxes, camera: OrbitCamera, fog: Fog
) -> None:
    """Every box's 12 edges in one batched segment call, each shaded by its depth."""
    if not len(np.asarray(layer.lo)):
        return
    a, b = box_edges(layer.lo, layer.hi)
    x0, y0, x1, y1, _, depth = project_segments(camera, a, b)
    colours = fog.apply(np.broadcast_to(np.asarray(layer.colour, np.uint8), (len(depth), 3)), depth)
    raster.segments(pixels, x0, y0, x1, y1, raster.map_colours(surf, colours))


def _cylinders(
    pixels: np.ndarray, surf: pygame.Surface, layer: Cylinders, camera: OrbitCamera, fog: Fog
) -> None:
    """Every cylinder's circles and sides (cylinder_edges) in one batched segment call, each
    segment shaded by its depth, as box edges are."""
    centre = np.asarray(layer.centres, np.float64).reshape(-1, 2)
    if not len(centre):
        return
    a, b, owner = cylinder_edges(camera.eye(), centre, layer.radius, layer.z)
    x0, y0, x1, y1, index, depth = project_segments(camera, a, b)
    colours = fog.apply(_colours_of(layer, len(centre))[owner[index]], depth)
    raster.segments(pixels, x0, y0, x1, y1, raster.map_colours(surf, colours))


def _shadows(
    pixels: np.ndarray, surf: pygame.Surface, layer: Agents, camera: OrbitCamera, z0: float
) -> None:
    """A dark dot on the floor under each alive agent: the gap to it is the altitude."""
    pos = as_3d(layer.pos, z0)
    alive = np.asarray(layer.alive, bool)
    if not alive.any():
        return
    ground = pos[alive].copy()
    ground[:, 2] = z0
    sx, sy, depth = camera.project(ground)
    ok = depth > camera.near
    value = raster.map_colours(surf, np.array([SHADOW]))[0]
    raster.stamp(pixels, np.floor(sx[ok]).astype(np.int64), np.floor(sy[ok]).astype(np.int64),
                 square_stamp(2), value)  # fmt: skip


def _edges(
    pixels: np.ndarray, surf: pygame.Surface, layer: Edges, camera: OrbitCamera, z0: float
) -> None:
    a = as_3d(resolve(layer.a), z0)
    if not len(a):
        return
    b = a + as_3d(resolve(layer.delta), 0.0)  # a 2-D link stays on the floor
    x0, y0, x1, y1, _, _ = project_segments(camera, a, b)
    value = int(raster.map_colours(surf, np.array([layer.colour]))[0])
    raster.segments(pixels, x0, y0, x1, y1, value)


def _trails(
    pixels: np.ndarray,
    renderer: Renderer,
    layer: Agents,
    trails: np.ndarray,
    camera: OrbitCamera,
    options: RenderOptions,
    z0: float,
) -> None:
    from swarm.viewer.renderer import ARENA, TRAIL_FADE

    surf = renderer.surface
    t = len(trails)
    rgb = renderer._agent_colours(layer, options).astype(np.float64)
    bg = np.asarray(ARENA, np.float64)
    for age, positions in enumerate(trails):  # T (about 30) batched passes, not N
        keep = 1.0 - TRAIL_FADE * (t - age) / t
        values = raster.map_colours(surf, (bg + (rgb - bg) * keep * 0.6).astype(np.uint8))
        sx, sy, depth = camera.project(as_3d(positions, z0))
        ok = depth > camera.near
        raster.scatter(pixels, np.floor(sx[ok]).astype(np.int64),
                       np.floor(sy[ok]).astype(np.int64), values[ok])  # fmt: skip


def _sensing_rings(
    pixels: np.ndarray, surf: pygame.Surface, layer: Agents, camera: OrbitCamera, z0: float
) -> None:
    """Every alive agent's sensing range as a ring of its radius at the agent's depth: one
    stamp call per distinct radius in pixels."""
    if not layer.sense_radius:
        return
    alive = np.asarray(layer.alive, bool)
    sx, sy, depth = camera.project(as_3d(layer.pos, z0)[alive])
    ok = depth > camera.near
    radius = np.round(layer.sense_radius * camera.focal() / depth[ok]).astype(np.int64)
    radius = np.minimum(radius, 2 * max(camera.width, camera.height))
    cx, cy = np.floor(sx[ok]).astype(np.int64), np.floor(sy[ok]).astype(np.int64)
    grey = raster.map_colours(surf, np.array([[70, 76, 96]]))[0]
    sizes, which = np.unique(radius, return_inverse=True)
    for k, r in enumerate(sizes):
        mine = which == k
        raster.stamp(pixels, cx[mine], cy[mine], raster.ring_stamp(int(r)), grey)


def body_px(layer_size: float, depth: np.ndarray, camera: OrbitCamera) -> np.ndarray:
    """(N,) marker size in pixels at each depth: the body's true projected size, but a body
    at the orbit centre never under BODY_PX, and nearer bodies bigger by 1 / depth."""
    f = camera.focal()
    at_centre = max(layer_size * f / camera.distance, BODY_PX)
    px = at_centre * camera.distance / np.maximum(depth, camera.near)
    return np.clip(np.round(px), MIN_BODY_PX, MAX_BODY_PX).astype(np.int64)


def screen_heading(
    camera: OrbitCamera, pos: np.ndarray, direction: np.ndarray, length: float
) -> np.ndarray:
    """(N,) screen angle (radians, counter-clockwise with screen y up, as the stamps read
    it) of each direction of motion once projected at its point."""
    norm = np.sqrt((direction**2).sum(axis=1))
    unit = direction / np.where(norm > 0, norm, 1.0)[:, None]
    sx0, sy0, _ = camera.project(pos)
    sx1, sy1, _ = camera.project(pos + length * unit)
    angle = np.arctan2(-(sy1 - sy0), sx1 - sx0)
    return np.nan_to_num(angle)  # a tip behind the camera: any way will do


def _bodies(
    pixels: np.ndarray,
    renderer: Renderer,
    agents: list[Agents],
    spheres: list[Circles],
    camera: OrbitCamera,
    options: RenderOptions,
    fog: Fog,
    z0: float,
) -> None:
    """Agents and spheres, far to near: one argsort by depth over all of them, then a
    batched stamp call per run of equal-sized agents and a disc per sphere."""
    surf = renderer.surface
    sx_, sy_, depth_, size_, which_, value_ = [], [], [], [], [], []
    for layer in agents:
        pos = as_3d(layer.pos, z0)
        if not len(pos):
            continue
        sx, sy, depth = camera.project(pos)
        if layer.direction is not None:
            direction = np.asarray(layer.direction, np.float64).reshape(-1, 3)
        elif layer.heading is not None:
            h = np.asarray(layer.heading, np.float64)
            direction = np.column_stack([np.cos(h), np.sin(h), np.zeros_like(h)])
        else:
            direction = np.zeros((len(pos), 3))
        angle = screen_heading(camera, pos, direction, max(layer.size, 1e-6))
        shape = SHAPES.index(layer.shape) if layer.shape in SHAPES else 0
        rgb = fog.apply(renderer._agent_colours(layer, options), depth)
        ok = depth > camera.near
        sx_.append(sx[ok])
        sy_.append(sy[ok])
        depth_.append(depth[ok])
        size_.append(body_px(layer.size, depth[ok], camera))
        which_.append(shape * raster.N_ANGLES + raster.heading_bucket(angle[ok]))
        value_.append(raster.map_colours(surf, rgb[ok]))
    n_agents = int(sum(len(d) for d in depth_))
    sphere_items = []  # (sx, sy, depth, radius px, rgb, filled) per sphere in view
    for layer in spheres:
        centres = as_3d(layer.centres, z0)
        if not len(centres):
            continue
        radius = np.broadcast_to(np.asarray(layer.radius, np.float64), (len(centres),))
        sx, sy, depth = camera.project(centres)
        ok = depth > camera.near
        r_px = np.where(ok, radius * camera.focal() / np.where(ok, depth, 1.0), 0.0)
        ok &= (sx + r_px >= 0) & (sx - r_px < camera.width) & (sy + r_px >= 0)
        ok &= sy - r_px < camera.height
        rgb = fog.apply(_colours_of(layer, len(centres)), depth)
        for k in np.flatnonzero(ok):
            sphere_items.append((sx[k], sy[k], depth[k], max(r_px[k], 1.5), rgb[k], layer.filled))
    if not n_agents and not sphere_items:
        return
    depth = np.concatenate([*depth_, np.array([s[2] for s in sphere_items], np.float64)])
    # run key: an agent's marker size; -1 - k for sphere k (each its own run)
    key = np.concatenate(
        [*size_, -1 - np.arange(len(sphere_items), dtype=np.int64)]
    ) if size_ else -1 - np.arange(len(sphere_items), dtype=np.int64)  # fmt: skip
    order = np.argsort(-depth, kind="stable")  # far first: nearer ones paint over them
    cx = np.floor(np.concatenate(sx_)).astype(np.int64) if n_agents else np.zeros(0, np.int64)
    cy = np.floor(np.concatenate(sy_)).astype(np.int64) if n_agents else np.zeros(0, np.int64)
    which = np.concatenate(which_) if n_agents else np.zeros(0, np.int64)
    values = np.concatenate(value_) if n_agents else np.zeros(0, np.uint32)
    # one shape in the frame (the usual case): its own stamps, not padded to the largest
    shapes = np.unique(which // raster.N_ANGLES)
    single = SHAPES[int(shapes[0])] if len(shapes) == 1 else None
    if single is not None:
        which = which - int(shapes[0]) * raster.N_ANGLES
    keys = key[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    for s, e in zip(starts, ends, strict=True):  # about one run per marker size and sphere
        k = int(keys[s])
        if k < 0:
            _sphere(surf, *sphere_items[-1 - k])
            continue
        idx = order[s:e]
        table = raster.marker_stamp(single, k) if single is not None else body_stamp(k)
        raster.stamp(pixels, cx[idx], cy[idx], table, values[idx], which[idx])


def _sphere(
    surf: pygame.Surface, sx: float, sy: float, depth: float, r: float, rgb: np.ndarray,
    filled: bool,
) -> None:  # fmt: skip
    """A ball: a disc of its projected radius with a darker rim and a highlight up-left (a
    ring if not ``filled``)."""
    colour = tuple(int(v) for v in rgb)
    if not filled:
        pygame.draw.circle(surf, colour, (float(sx), float(sy)), float(r), 1)
        return
    pygame.draw.circle(surf, colour, (float(sx), float(sy)), float(r))
    if r >= 5:
        rim = tuple(int(v * 0.7) for v in rgb)
        pygame.draw.circle(surf, rim, (float(sx), float(sy)), float(r), 1)
        light = tuple(int(v + (255 - v) * 0.25) for v in rgb)
        pygame.draw.circle(surf, light, (float(sx - 0.35 * r), float(sy - 0.35 * r)), 0.3 * r)


def _labels(surf: pygame.Surface, layer: Circles, camera: OrbitCamera, z0: float) -> None:
    from swarm.viewer.renderer import _font

    font = _font(14)
    centres = as_3d(layer.centres, z0)
    radius = np.broadcast_to(np.asarray(layer.radius, np.float64), (len(centres),))
    sx, sy, depth = camera.project(centres)
    for x, y, d, r, text in zip(sx, sy, depth, radius, layer.labels or (), strict=False):
        if d > camera.near and np.isfinite(x):
            rp = r * camera.focal() / d
            surf.blit(font.render(str(text), True, (230, 230, 230)), (x + rp, y - rp))


def _selection(
    surf: pygame.Surface,
    renderer: Renderer,
    layer: Agents,
    camera: OrbitCamera,
    options: RenderOptions,
    every: Agents,
    z0: float,
) -> None:
    """The selected agent (if in ``layer``): a ring around it, its sensing and comm ranges
    at its depth, a drop line to its shadow, and lines to the agents it senses."""
    from swarm.viewer.renderer import COMM_RING, HIGHLIGHT, SELECTED, SENSE_RING

    selected = options.selected
    if selected is None:
        return
    hit = np.flatnonzero(np.asarray(layer.ids) == selected)
    if not hit.size:
        return
    p = as_3d(layer.pos, z0)[int(hit[0])]
    sx, sy, depth = camera.project(p[None])
    if not depth[0] > camera.near:
        return
    centre = (float(sx[0]), float(sy[0]))
    body = float(body_px(layer.size, depth, camera)[0])
    per_unit = camera.focal() / float(depth[0])
    ground = p.copy()
    ground[2] = z0
    gx, gy, gd = camera.project(ground[None])
    if gd[0] > camera.near:
        pygame.draw.line(surf, DROP_LINE, centre, (float(gx[0]), float(gy[0])), 1)
    highlight = options.highlight
    if len(highlight):
        mine = np.isin(np.asarray(every.ids), highlight)
        hx, hy, hd = camera.project(as_3d(every.pos, z0)[mine])
        for x, y, d in zip(hx, hy, hd, strict=True):  # a handful of neighbours
            if d > camera.near:
                r = float(body_px(every.size, np.array([d]), camera)[0]) * 0.8 + 2
                pygame.draw.circle(surf, HIGHLIGHT, (float(x), float(y)), r, 1)
                pygame.draw.line(surf, (110, 110, 110), centre, (float(x), float(y)), 1)
    if layer.sense_radius:
        pygame.draw.circle(surf, SENSE_RING, centre, layer.sense_radius * per_unit, 1)
    if layer.comm_radius and layer.comm_radius != layer.sense_radius:
        pygame.draw.circle(surf, COMM_RING, centre, layer.comm_radius * per_unit, 1)
    pygame.draw.circle(surf, SELECTED, centre, body + 3, 2)


def pick(scene: Scene, camera: OrbitCamera, sx: float, sy: float, radius_px: float) -> int | None:
    """The id of the agent drawn nearest to screen point (sx, sy) within ``radius_px``
    (the nearest to the camera among equally close ones), or None."""
    agents = scene.agents()
    if agents is None or not len(agents.pos):
        return None
    px, py, depth = camera.project(as_3d(agents.pos, floor_z(scene)))
    d2 = np.where(depth > camera.near, (px - sx) ** 2 + (py - sy) ** 2, np.inf)
    best = np.lexsort((depth, d2))[0]
    if not d2[best] <= radius_px**2:
        return None
    return int(agents.ids[best])


def centroid(pos: np.ndarray, alive: np.ndarray, scene: Scene) -> tuple[float, float, float]:
    """Centre of the alive agents in 3-D; on a torus the circular mean per axis."""
    pts = as_3d(pos, floor_z(scene))
    pts = pts[np.asarray(alive, bool)] if np.any(alive) else pts
    x0, y0, x1, y1 = scene.bounds
    z0, z1 = scene.zbounds or (0.0, 0.0)
    lo, hi = np.array([x0, y0, z0]), np.array([x1, y1, z1])
    if not len(pts):
        return tuple(float(v) for v in (lo + hi) / 2)
    if not scene.torus:
        return tuple(float(v) for v in pts.mean(axis=0))
    size = np.where(hi > lo, hi - lo, 1.0)
    angle = (pts - lo) / size * 2 * np.pi
    mean = np.arctan2(np.sin(angle).mean(axis=0), np.cos(angle).mean(axis=0))
    return tuple(float(v) for v in lo + np.mod(mean, 2 * np.pi) / (2 * np.pi) * size)
