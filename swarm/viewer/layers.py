"""What a scenario asks the viewer to draw: a small declarative draw list.

A scenario never draws. Its ``render_layers(engine)`` hook (:class:`swarm.scenario.Scenario`;
the default returns :func:`drone_layers`) returns layers, bottom to top, made of the types
below; a model that is not built on the drone engine (the grid warehouse) provides
``render_scene()`` returning a whole :class:`Scene` instead. :func:`scene_of` picks the
right one, and the renderer only ever sees a :class:`Scene`, so it never special-cases a
scenario. Adding a landmark to a scenario's picture is one line in its module, e.g.::

    def render_layers(self, engine):
        goals = Circles("goals", self.landmarks[0], radius=0.5, colour=(250, 200, 60))
        return [goals, *super().render_layers(engine)]

This module is numpy only (no pygame), so scenarios can import it at no cost.

In 3-D (a scene with ``zbounds``) points carry three coordinates: agents, edge ends and
sphere centres are ``(k, 3)``; :class:`Boxes` are 3-D blocks, :class:`Cylinders` vertical
cylinders (their footprints are :class:`Circles`, with altitudes). The orbiting camera
(:mod:`swarm.viewer.orbit`) draws them in perspective; the top-down view reads (x, y) only.
Points given with two coordinates in a 3-D scene (a scenario's 2-D map: marks, targets on
the ground) lie on the floor.

Expensive values (the comm edges, connected components) may be given as zero-argument
callables: the renderer evaluates them only when the layer or colouring is shown.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from swarm.engine import Swarm

RGB = tuple[int, int, int]
Lazy = np.ndarray | Callable[[], np.ndarray]


def resolve(value: Lazy) -> np.ndarray:
    """The array behind a possibly lazy value."""
    return np.asarray(value() if callable(value) else value)


# ---------------------------------------------------------------------- colour maps
# viridis, sampled at 9 evenly spaced points (matplotlib's _cm_listed values) and linearly
# interpolated: perceptually uniform and readable by colour-blind viewers
_VIRIDIS_STOPS = np.array(
    [
        [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
        [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
    ],
    dtype=np.float64,
)  # fmt: skip
# Okabe & Ito (2008) colour-blind-safe qualitative palette, for teams and components
CATEGORICAL: np.ndarray = np.array(
    [
        [86, 180, 233], [230, 159, 0], [0, 158, 115], [240, 228, 66], [0, 114, 178],
        [213, 94, 0], [204, 121, 167], [200, 200, 200],
    ],
    dtype=np.uint8,
)  # fmt: skip
ALIVE_COLOUR: RGB = (90, 200, 250)
CRASHED_COLOUR: RGB = (235, 60, 60)


def viridis(t: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 viridis colours of values ``t`` in [0, 1] (clipped)."""
    x = np.clip(np.nan_to_num(np.asarray(t, np.float64), nan=0.0), 0.0, 1.0)
    x = x * (len(_VIRIDIS_STOPS) - 1)
    i = np.minimum(x.astype(np.int64), len(_VIRIDIS_STOPS) - 2)
    f = (x - i)[:, None]
    return (_VIRIDIS_STOPS[i] * (1 - f) + _VIRIDIS_STOPS[i + 1] * f + 0.5).astype(np.uint8)


def hue_wheel(angle: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 fully saturated colours around the hue circle for angles (radians)."""
    h = (np.mod(np.asarray(angle, np.float64), 2 * np.pi) / (2 * np.pi)) * 6.0
    # HSV -> RGB with s = v = 1, value 0.92 to stay off pure white-on-black glare
    k = np.mod(np.array([5.0, 3.0, 1.0])[None, :] + h[:, None], 6.0)
    rgb = 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)
    return (rgb * 235 + 0.5).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class Attribute:
    """A per-agent value the agents can be coloured by.

    kind ``cyclic``: an angle (radians) on the hue wheel; ``linear``: a number on viridis
    between ``low`` and ``high`` (the data's range when None); ``categorical``: small ints
    (teams, components) on a qualitative palette; ``boolean``: ``colours[0]`` for False and
    ``colours[1]`` for True.
    """

    values: Lazy  # (N,)
    kind: Literal["cyclic", "linear", "categorical", "boolean"]
    low: float | None = None
    high: float | None = None
    colours: tuple[RGB, RGB] = (ALIVE_COLOUR, CRASHED_COLOUR)

    def colour(self) -> np.ndarray:
        """(N, 3) uint8 colour of each agent."""
        v = resolve(self.values)
        if self.kind == "cyclic":
            return hue_wheel(v)
        if self.kind == "categorical":
            return CATEGORICAL[np.mod(v.astype(np.int64), len(CATEGORICAL))]
        if self.kind == "boolean":
            return np.asarray(self.colours, np.uint8)[v.astype(bool).astype(np.int64)]
        v = v.astype(np.float64)
        finite = v[np.isfinite(v)]
        low = self.low if self.low is not None else (finite.min() if finite.size else 0.0)
        high = self.high if self.high is not None else (finite.max() if finite.size else 1.0)
        return viridis((v - low) / (high - low) if high > low else np.zeros_like(v))


# ---------------------------------------------------------------------- layers
@dataclass(frozen=True, eq=False)
class Agents:
    """Agents as oriented markers, coloured by one of ``attributes`` (the first by default).

    ``heading`` None draws unrotated markers (grid robots). Crashed agents (``alive`` False)
    are drawn dim in every colouring but ``crashed``. ``size`` is the body length in world
    units; the renderer keeps it at least a few pixels wide so a zoomed-out swarm stays
    visible.
    """

    name: str
    pos: np.ndarray  # (N, 2) world units; (N, 3) in 3-D
    ids: np.ndarray  # (N,) int, the row the viewer selects, crashes and inspects
    attributes: Mapping[str, Attribute]
    alive: np.ndarray  # (N,) bool
    heading: np.ndarray | None = None  # (N,) radians, 0 = +x, counter-clockwise (from above)
    size: float = 0.6
    shape: Literal["triangle", "square", "circle"] = "triangle"
    sense_radius: float | None = None  # drawn around the selected agent, or all on request
    comm_radius: float | None = None
    trails: bool = True  # the viewer keeps a position history of this layer
    # (N, 3) direction of motion in 3-D (any length), which the orbit view points the
    # markers along once projected; None: the horizontal ``heading``
    direction: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Edges:
    """Line segments ``a[k] -> a[k] + delta[k]`` (``delta`` carries the minimum image on a
    torus, so a link across the seam is drawn as two halves leaving the arena)."""

    name: str
    a: Lazy  # (E, 2); (E, 3) in 3-D
    delta: Lazy  # (E, 2); (E, 3) in 3-D
    colour: RGB = (72, 78, 100)


@dataclass(frozen=True, eq=False)
class Circles:
    """Discs or rings in world units: goals, landmarks, targets, obstacles. With (K, 3)
    centres (3-D) they are spheres: discs of their projected radius, depth-sorted with the
    agents in the orbit view."""

    name: str
    centres: np.ndarray  # (K, 2); (K, 3) spheres in 3-D
    radius: float | np.ndarray  # scalar or (K,)
    colour: RGB | np.ndarray = (250, 200, 60)  # one colour or (K, 3)
    filled: bool = True
    labels: Sequence[str] | None = None


@dataclass(frozen=True, eq=False)
class Polygons:
    """Filled polygons in world units: buildings, walls, shelves."""

    name: str
    polygons: Sequence[np.ndarray]  # each (k, 2)
    colour: RGB = (96, 100, 112)


@dataclass(frozen=True, eq=False)
class Cells:
    """A raster over an axis-aligned rectangle: maps, marks, densities.

    ``rgb`` (H, W, 3) uint8 colours, or ``values`` (H, W) numbers shown on viridis (NaN
    transparent); row 0 is the TOP of the rectangle (image order, as maps are written).
    """

    name: str
    origin: tuple[float, float]  # world (x, y) of the bottom-left corner
    cell_size: float
    rgb: np.ndarray | None = None
    values: np.ndarray | None = None
    low: float | None = None
    high: float | None = None

    def image(self) -> tuple[np.ndarray, np.ndarray]:
        """((H, W, 3) uint8 colours, (H, W) bool drawn) of the raster."""
        if self.rgb is not None:
            rgb = np.asarray(self.rgb, np.uint8)
            return rgb, np.ones(rgb.shape[:2], bool)
        v = np.asarray(self.values, np.float64)
        shown = np.isfinite(v)
        low = self.low if self.low is not None else (v[shown].min() if shown.any() else 0.0)
        high = self.high if self.high is not None else (v[shown].max() if shown.any() else 1.0)
        t = (v - low) / (high - low) if high > low else np.zeros_like(v)
        return viridis(t.ravel()).reshape(*v.shape, 3), shown


@dataclass(frozen=True, eq=False)
class Boxes:
    """Axis-aligned 3-D blocks (buildings): wireframes (their 12 edges) in the orbit view,
    filled footprints from above."""

    name: str
    lo: np.ndarray  # (B, 3) lower corners, world units
    hi: np.ndarray  # (B, 3) upper corners
    colour: RGB = (96, 100, 112)


@dataclass(frozen=True, eq=False)
class Cylinders(Circles):
    """Vertical cylinders (poles, trunks, towers): the discs of their footprints (a
    :class:`Circles`, so the top-down view fills them as it does any disc) with each one's
    ``z`` = (bottom, top) altitudes. The orbit view draws them as wireframes, as boxes: the
    bottom and top circles and the two sides seen from the camera."""

    colour: RGB | np.ndarray = (96, 100, 112)  # one colour or (K, 3)
    z: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # (K, 2) bottom, top


Layer = Agents | Edges | Circles | Polygons | Cells | Boxes  # Cylinders are Circles


@dataclass(frozen=True, eq=False)
class Scene:
    """Everything the renderer draws for one state: the arena and its layers."""

    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax (world units)
    layers: Sequence[Layer]
    step: int = 0
    torus: bool = False
    info: Mapping[str, Any] = field(default_factory=dict)  # free text for the HUD
    # (zmin, zmax) altitude range of a 3-D arena (floor, ceiling); None: a 2-D scene
    zbounds: tuple[float, float] | None = None

    @property
    def dim(self) -> int:
        """2, or 3 for a scene drawn in 3-D (one with ``zbounds``)."""
        return 2 if self.zbounds is None else 3

    def agents(self) -> Agents | None:
        """Every agent as one layer, which selection, trails and the HUD use: the agents
        layer, or all of them joined in order where there are several (one per team)."""
        layers = [lay for lay in self.layers if isinstance(lay, Agents)]
        if len(layers) <= 1:
            return layers[0] if layers else None
        return _joined(layers)


def _joined(layers: list[Agents]) -> Agents:
    """Several agent layers as one (their shared colourings joined, lazily)."""
    first = layers[0]
    names = [k for k in first.attributes if all(k in lay.attributes for lay in layers)]

    def joined(name: str) -> Attribute:
        parts = [lay.attributes[name] for lay in layers]
        values = functools.cache(lambda: np.concatenate([resolve(a.values) for a in parts]))
        return dataclasses.replace(parts[0], values=values)

    headings = [lay.heading for lay in layers]
    directions = [lay.direction for lay in layers]
    return Agents(
        name="agents",
        pos=np.concatenate([lay.pos for lay in layers]),
        ids=np.concatenate([np.asarray(lay.ids) for lay in layers]),
        attributes={name: joined(name) for name in names},
        alive=np.concatenate([lay.alive for lay in layers]),
        heading=None if any(h is None for h in headings) else np.concatenate(headings),
        size=first.size,
        shape=first.shape,
        sense_radius=None,  # each team's own is drawn from its layer
        comm_radius=None,
        trails=first.trails,
        direction=None if any(d is None for d in directions) else np.concatenate(directions),
    )


# ---------------------------------------------------------------------- defaults
def comm_edges(engine: Swarm, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(a (E, dim), delta (E, dim)) the undirected comm links among rows < ``rows``."""
    engine.obs  # noqa: B018 - sense first if the state was edited
    links = engine.links
    u = links.owner.astype(np.int64)
    v = links.idx.astype(np.int64)
    keep = (u < v) & (v < rows)
    u, v = u[keep], v[keep]
    delta = engine.pos[v] - engine.pos[u]
    if engine.config.torus:
        size = engine.config.world_size
        delta -= size * np.round(delta / size)
    return engine.pos[u], delta


def comm_components(engine: Swarm, rows: int) -> np.ndarray:
    """(rows,) connected-component label of each drone in the comm graph (crashed alone)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    engine.obs  # noqa: B018 - sense first if the state was edited
    links = engine.links
    u = links.owner.astype(np.int64)
    v = links.idx.astype(np.int64)
    keep = (u < rows) & (v < rows)
    graph = coo_matrix((np.ones(int(keep.sum())), (u[keep], v[keep])), shape=(rows, rows))
    _, labels = connected_components(graph, directed=False)
    # number components by size, largest first, so colours stay stable as the swarm moves
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[labels]


def drone_layers(engine: Swarm) -> list[Layer]:
    """The default picture of a drone scenario: the comm links and the drones of env 0.

    Colourings: the team (where the scenario has teams), heading, speed (0 to max_speed),
    crashed, comm component, and every scalar per-agent task state the scenario keeps (a
    consensus value).

    In 3-D (``dim = 3``) positions, links and the direction of motion are 3-D (the orbit
    view draws them in perspective); ``heading`` is the horizontal part of the velocity,
    which the top-down view draws. The default colouring is the altitude (viridis, dark at
    the floor, bright at the ceiling), so that it reads from above too.
    """
    c = engine.config
    n = engine.n_agents
    pos = engine.pos[:n].copy()  # (n, dim)
    vel = engine.vel[:n].copy()
    alive = engine.alive[:n].copy()
    heading = np.arctan2(vel[:, 1], vel[:, 0])
    speed = np.sqrt((vel**2).sum(axis=1))
    attributes: dict[str, Attribute] = {}
    if engine.dim == 3:  # the depth cue comes first: the default colouring
        altitude = engine.pos[:n, 2].copy()
        attributes["altitude"] = Attribute(altitude, "linear", 0.0, c.world_size)
    if engine.teams is not None:  # who is who comes first: the default colouring
        attributes["team"] = Attribute(engine.teams.team[:n].astype(np.int64), "categorical")
    attributes |= {
        "heading": Attribute(heading, "cyclic"),
        "speed": Attribute(speed, "linear", 0.0, c.max_speed),
        "crashed": Attribute(~alive, "boolean"),
        "component": Attribute(lambda: comm_components(engine, n), "categorical"),
    }
    for name, values in engine.agent_state.items():
        if values.ndim == 1:
            attributes[name] = Attribute(values[:n].copy(), "linear")
    if engine.intervention is not None:  # where the safety layer changed a command (m/s)
        change = engine.intervention[:n].copy()
        attributes["intervention"] = Attribute(change, "linear", 0.0, 2.0 * c.max_speed)
    edges = functools.cache(lambda: comm_edges(engine, n))  # computed once, when shown
    links = Edges("comm", lambda: edges()[0], lambda: edges()[1])
    under = obstacle_layers(engine)
    size = max(2 * c.collision_radius, 0.008 * c.world_size)
    direction = vel if engine.dim == 3 else None
    if engine.teams is None:
        return [
            *under,
            links,
            Agents("drones", pos, np.arange(n), attributes, alive, heading, size=size,
                   shape="triangle", sense_radius=c.sense_radius,
                   comm_radius=c.effective_comm_radius, direction=direction),
        ]  # fmt: skip
    # one layer per team, each with its own marker (and colour: the team comes first)
    layers: list[Layer] = [*under, links]
    teams = engine.teams
    for code, name in enumerate(teams.names):
        rows = np.flatnonzero(teams.team[:n] == code)
        if len(rows) == 0:
            continue
        mine = {key: _rows_of(attr, rows) for key, attr in attributes.items()}
        layers.append(
            Agents(f"{name}s", pos[rows], rows, mine, alive[rows], heading[rows], size=size,
                   shape=TEAM_SHAPES[code % len(TEAM_SHAPES)],
                   sense_radius=float(teams.sense_radius[rows[0]]),
                   comm_radius=c.effective_comm_radius,
                   direction=None if direction is None else direction[rows])
        )  # fmt: skip
    return layers


OBSTACLE_COLOUR: RGB = (96, 100, 112)
BOX_COLOUR: RGB = (140, 146, 165)  # wireframes need more contrast than filled shapes


def obstacle_layers(engine: Swarm) -> list[Layer]:
    """The map's obstacles (none without): poles as discs, blocks as polygons; in 3-D
    spheres (:class:`Circles` with 3-D centres), boxes (:class:`Boxes`) and vertical
    cylinders (:class:`Cylinders`: the 3-D forest's poles).

    The 3-D field is read by its attributes (``sphere_center`` (S, 3), ``sphere_radius``
    (S,), ``box_lo`` / ``box_hi`` (B, 3), ``cylinder_center`` (Y, 2), ``cylinder_radius``
    (Y,), ``cylinder_z`` (Y, 2)), so any object that has them is drawn.
    """
    field = getattr(engine, "obstacles", None)
    if field is None:
        return []
    layers: list[Layer] = []
    centre = getattr(field, "sphere_center", None)
    if centre is not None and len(centre):
        radius = np.asarray(field.sphere_radius, np.float64)
        layers.append(Circles("obstacles", np.asarray(centre, np.float64), radius, OBSTACLE_COLOUR))
    lo, hi = getattr(field, "box_lo", None), getattr(field, "box_hi", None)
    if lo is not None and hi is not None and len(lo):
        layers.append(
            Boxes("obstacles", np.asarray(lo, np.float64), np.asarray(hi, np.float64), BOX_COLOUR)
        )
    axis = getattr(field, "cylinder_center", None)
    if axis is not None and len(axis):
        layers.append(
            Cylinders("obstacles", np.asarray(axis, np.float64),
                      np.asarray(field.cylinder_radius, np.float64), BOX_COLOUR,
                      z=np.asarray(field.cylinder_z, np.float64))
        )  # fmt: skip
    if getattr(field, "n_discs", 0):
        layers.append(Circles("obstacles", field.disc_center, field.disc_radius, OBSTACLE_COLOUR))
    if getattr(field, "n_polygons", 0):
        layers.append(Polygons("obstacles", field.polygons(), OBSTACLE_COLOUR))
    return layers


# the marker of each team, in the order the scenario declares them
TEAM_SHAPES: tuple[Literal["triangle", "square", "circle"], ...] = ("triangle", "circle", "square")


def _rows_of(attribute: Attribute, rows: np.ndarray) -> Attribute:
    """The attribute for these rows only (a lazy one stays lazy)."""
    values = attribute.values
    part = (lambda: resolve(values)[rows]) if callable(values) else np.asarray(values)[rows]
    return dataclasses.replace(attribute, values=part)


def scene_of(model: Any) -> Scene:
    """The scene of a model's (or a bare engine's) current state, from its hooks.

    A model with ``render_scene()`` (models not built on the drone engine) gives it whole;
    a drone model (:class:`swarm.model.SwarmModel`), or a :class:`~swarm.engine.Swarm`
    itself (as the PettingZoo envs hold it), gives its scenario's ``render_layers(engine)``
    (:func:`drone_layers` when it has no scenario), and the arena comes from its config.
    Lazy layer values read the state when drawn: draw before stepping again.
    """
    own = getattr(model, "render_scene", None)
    if callable(own):
        return own()
    engine = getattr(model, "engine", None)
    if engine is None and hasattr(model, "links") and hasattr(model, "pos"):
        engine = model  # a bare engine
    if engine is None:
        raise TypeError(
            f"{type(model).__name__} declares nothing to draw: give it render_scene() or a "
            "scenario with render_layers(engine) (see swarm.viewer.layers)"
        )
    hook = getattr(engine.scenario, "render_layers", None)
    layers = hook(engine) if callable(hook) else drone_layers(engine)
    size = float(engine.config.world_size)
    return Scene(
        bounds=(0.0, 0.0, size, size),
        layers=list(layers),
        step=int(engine.t),
        torus=bool(engine.config.torus),
        zbounds=(0.0, size) if getattr(engine, "dim", 2) == 3 else None,
    )
