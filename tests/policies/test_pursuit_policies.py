"""Pursuit–evasion controllers and their Voronoi kernels: cells and edges equal scipy's
Voronoi diagram; each controller heads where its rule says on hand-built scenes; moving to
the shared edge's midpoint shrinks the evader's cell fastest; every row is local."""

import numpy as np
import pytest
from scipy.spatial import ConvexHull, HalfspaceIntersection, Voronoi

from policies.flee import Flee
from policies.greedy_pursuit import GreedyPursuit
from policies.voronoi_evade import VoronoiEvade
from policies.voronoi_pursuit import VoronoiPursuit
from swarm.comm import Inbox
from swarm.geometry import area_centroid, bisector_edge, cell
from swarm.neighbors import NeighborTable
from swarm.observation import LocalObservation
from swarm.testing import isolate

TEAMS = ("pursuer", "evader")
P, E = 0, 1


def observe(
    pos, team, sense_radius, world=10.0, vel=None, alive=None, max_speed=(1.0, 1.0), dt=0.1,
    order_seed=0,
) -> LocalObservation:  # fmt: skip
    """A batch sensed by brute force: every alive agent within ``sense_radius`` of an alive
    row, segments in a shuffled order (controllers must go by ``seg_row``)."""
    pos = np.asarray(pos, dtype=np.float64)
    team = np.asarray(team, dtype=np.int8)
    n = len(pos)
    vel = np.zeros((n, 2)) if vel is None else np.asarray(vel, dtype=np.float64)
    alive = np.ones(n, bool) if alive is None else np.asarray(alive, bool)
    seg_row = np.random.default_rng(order_seed).permutation(n).astype(np.int64)
    ptr, idx = [0], []
    for row in seg_row:
        if alive[row]:
            d = np.hypot(*(pos - pos[row]).T)
            idx += [j for j in range(n) if j != row and alive[j] and d[j] <= sense_radius]
        ptr.append(len(idx))
    idx = np.asarray(idx, dtype=np.int32)
    owner = np.repeat(seg_row, np.diff(ptr))
    rel_pos = pos[idx] - pos[owner]
    table = NeighborTable(
        ptr=np.asarray(ptr, dtype=np.int64), seg_row=seg_row, row_seg=np.argsort(seg_row),
        idx=idx, rel_pos=rel_pos.reshape(-1, 2), rel_vel=(vel[idx] - vel[owner]).reshape(-1, 2),
        dist=np.hypot(rel_pos[:, 0], rel_pos[:, 1]) if len(idx) else np.zeros(0),
        team=team[idx],
    )  # fmt: skip
    return LocalObservation(
        step=0, dt=dt, max_speed=max(max_speed), sense_radius=sense_radius, pos=pos, vel=vel,
        alive=alive, ids=np.arange(n, dtype=np.int64) + 100, neighbors=table,
        inbox=Inbox.empty(n, 0), world_size=world, torus=False,
        own={"team": team, "max_speed": np.asarray(max_speed)[team],
             "sense_radius": np.full(n, float(sense_radius))},
        known={"teams": TEAMS, "capture_radius": 0.2},
    )  # fmt: skip


def direction(v):
    return np.asarray(v, dtype=np.float64) / np.hypot(*v)


def cell_area(site, others, world):
    """Area of the Voronoi cell of ``site`` among ``others`` in the box (no range clip)."""
    rel = np.asarray(others, dtype=np.float64) - site
    size = 5 + len(rel)
    xs, ys, tx, ty = (np.empty(size) for _ in range(4))
    n = cell(rel, 0, len(rel), -site[0], -site[1], world - site[0], world - site[1], np.inf, 0,
             xs, ys, tx, ty)  # fmt: skip
    return area_centroid(xs, ys, n)[0]


# --- geometry -------------------------------------------------------------------------


def test_cells_tile_the_box_and_shared_edges_are_scipys_ridges():
    rng = np.random.default_rng(1)
    world = 10.0
    sites = rng.uniform(0, world, (60, 2))
    total = sum(cell_area(s, np.delete(sites, i, axis=0), world) for i, s in enumerate(sites))
    assert abs(total - world**2) < 1e-9

    vor = Voronoi(sites)
    checked = 0
    for (i, j), verts in zip(vor.ridge_points, vor.ridge_vertices, strict=True):
        if -1 in verts or not np.all((vor.vertices[verts] > 0) & (vor.vertices[verts] < world)):
            continue  # infinite or leaves the box
        a, b = vor.vertices[verts]
        rel = sites - sites[i]
        mx, my, dx, dy, lo, hi = bisector_edge(
            rel[j, 0], rel[j, 1], rel, 0, len(rel), j,
            -sites[i, 0], -sites[i, 1], world - sites[i, 0], world - sites[i, 1], np.inf,
        )  # fmt: skip
        mid = sites[i] + np.array([mx, my]) + 0.5 * (lo + hi) * np.array([dx, dy])
        np.testing.assert_allclose(mid, 0.5 * (a + b), atol=1e-9)
        assert abs((hi - lo) - np.hypot(*(b - a))) < 1e-9
        checked += 1
    assert checked > 100

    # a pair that is not neighbouring has an empty edge: the far corners of a 3 x 3 grid
    grid = np.array([(x, y) for x in (2.0, 5.0, 8.0) for y in (2.0, 5.0, 8.0)])
    rel = grid - grid[0]
    *_, lo, hi = bisector_edge(rel[8, 0], rel[8, 1], rel, 0, 9, 8, -2.0, -2.0, 8.0, 8.0, np.inf)
    assert lo >= hi


def test_cell_is_clipped_to_the_polygon_around_the_site():
    """The cell of a site with one neighbour 0.5 m to its right, inside a 16-gon of radius
    1 and a far box: area and centroid of the same region from scipy's half-space
    intersection."""
    xs, ys, tx, ty = (np.empty(30) for _ in range(4))
    n = cell(np.array([[0.5, 0.0]]), 0, 1, -50.0, -50.0, 50.0, 50.0, 1.0, 16, xs, ys, tx, ty)
    area, cx, cy = area_centroid(xs, ys, n)
    # half-spaces a . q + b <= 0: the 16-gon's edges (normals at odd multiples of pi/16,
    # apothem cos(pi/16)) and x <= 0.25
    angles = (2 * np.arange(16) + 1) * np.pi / 16
    halfspaces = np.vstack([
        np.column_stack([np.cos(angles), np.sin(angles), np.full(16, -np.cos(np.pi / 16))]),
        [[1.0, 0.0, -0.25]],
    ])  # fmt: skip
    corners = HalfspaceIntersection(halfspaces, np.zeros(2)).intersections
    hull = ConvexHull(corners)
    ring = corners[hull.vertices]  # counter-clockwise
    fan = [(ring[0], ring[k], ring[k + 1]) for k in range(1, len(ring) - 1)]
    tri_area = np.array(
        [0.5 * ((b - a)[0] * (c - a)[1] - (b - a)[1] * (c - a)[0]) for a, b, c in fan]
    )
    tri_mid = np.array([(a + b + c) / 3 for a, b, c in fan])
    assert n == len(ring) and abs(area - hull.volume) < 1e-12
    np.testing.assert_allclose([cx, cy], tri_area @ tri_mid / tri_area.sum(), atol=1e-12)
    assert abs(ring[:, 0].max() - 0.25) < 1e-12  # the cut is there


# --- controllers on hand-built scenes -------------------------------------------------


def test_voronoi_pursuit_heads_to_the_clipped_bisector_midpoint_at_full_speed():
    # pursuer (1, 1), evader (3, 1): the bisector is x = 2; the box cuts it at y = 0, the
    # disk of radius R / 2 = 3 around the pursuer at y = 1 + sqrt(8)
    obs = observe([[1.0, 1.0], [3.0, 1.0]], [P, E], sense_radius=6.0, max_speed=(2.0, 1.0))
    action = VoronoiPursuit()(obs)
    mid = np.array([2.0, 0.5 * (1 + np.sqrt(8))])
    np.testing.assert_allclose(action[0], 2.0 * direction(mid - [1.0, 1.0]), atol=1e-12)
    assert abs(np.hypot(*action[0]) - 2.0) < 1e-12
    np.testing.assert_array_equal(action[1], 0.0)  # the evader's row is not its business

    # a sensor covering the whole arena: the whole bisector inside the box, y in [0, 10]
    wide = observe([[1.0, 1.0], [3.0, 1.0]], [P, E], sense_radius=15.0, max_speed=(2.0, 1.0))
    np.testing.assert_allclose(VoronoiPursuit()(wide)[0], 2.0 * direction([1.0, 4.0]), atol=1e-12)

    # the disk cuts both ends: pursuer (5, 5), evader (7, 5), y in 5 -+ sqrt(8)
    mid = observe([[5.0, 5.0], [7.0, 5.0]], [P, E], sense_radius=6.0)
    np.testing.assert_allclose(VoronoiPursuit()(mid)[0], [1.0, 0.0], atol=1e-12)


def test_voronoi_pursuit_prefers_an_edge_then_the_nearest_evader_then_its_course():
    # pursuer (7.5, 5) shares no edge with the nearer evader (5, 5): the pursuer at (6, 5)
    # stands between them. Its edge with the evader (7.5, 8.5) is y = 6.75, x in
    # [6.75, 10] (the pursuer at (6, 5) takes x < 6.75, the wall x > 10)
    obs = observe([[7.5, 8.5], [5.0, 5.0], [6.0, 5.0], [7.5, 5.0]], [E, E, P, P], sense_radius=8.0)
    action = VoronoiPursuit()(obs)
    np.testing.assert_allclose(action[3], direction([8.375 - 7.5, 1.75]), atol=1e-12)

    # without the far evader: no edge, so it chases the nearest evader; none in sight: it
    # holds its course at full speed
    obs = observe(
        [[5.0, 5.0], [6.0, 5.0], [7.5, 5.0], [25.0, 25.0]], [E, P, P, P], sense_radius=8.0,
        world=30.0, vel=[[0, 0], [0, 0], [0, 0], [0.3, -0.4]],
    )  # fmt: skip
    action = VoronoiPursuit()(obs)
    np.testing.assert_allclose(action[2], [-1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(action[3], [0.6, -0.8], atol=1e-12)


def test_moving_to_the_edge_midpoint_shrinks_the_evaders_cell_fastest():
    world = 10.0
    evader = np.array([5.0, 5.0])
    pursuers = np.array([[6.5, 5.8], [3.0, 4.0], [5.0, 8.0], [4.0, 2.5], [7.0, 2.0]])
    obs = observe(np.vstack([pursuers, evader]), [P] * 5 + [E], sense_radius=20.0)
    u = VoronoiPursuit()(obs)[0]
    to_evader = direction(evader - pursuers[0])
    assert np.degrees(np.arccos(u @ to_evader)) > 5  # not simply the chase

    def shrink(w, h=1e-5):
        moved = pursuers.copy()
        moved[0] += h * np.asarray(w)
        return cell_area(evader, moved, world) - cell_area(evader, pursuers, world)

    best = shrink(u)
    assert best < 0
    angles = np.random.default_rng(3).uniform(0, 2 * np.pi, 50)
    others = [(np.cos(a), np.sin(a)) for a in angles] + [tuple(to_evader)]
    assert all(shrink(w) > best for w in others)


def test_greedy_chases_the_nearest_evader_or_holds_its_course():
    obs = observe(
        [[5, 5], [8, 5], [5, 3], [6, 5], [15, 15], [25, 25]], [P, E, E, P, P, P],
        sense_radius=4.0, world=30.0, max_speed=(2.0, 1.0),
        vel=[[0, 0], [0, 0], [0, 0], [0, 0], [0.3, 0.4], [0, 0]],
    )  # fmt: skip
    action = GreedyPursuit()(obs)
    np.testing.assert_allclose(action[0], [0.0, -2.0], atol=1e-12)
    np.testing.assert_allclose(action[4], [1.2, 1.6], atol=1e-12)
    np.testing.assert_array_equal(action[5], 0.0)


def test_flee_runs_from_the_nearest_pursuer_and_slides_along_walls():
    obs = observe(
        [[5, 5], [5.5, 5], [6, 5], [7.2, 5],  # a nearer evader does not scare it
         [0, 15], [1, 14],  # on the wall x = 0, pursuer down-right: slide up
         [0.05, 25], [1.05, 25],  # 0.05 m from the wall: stop at it
         [25, 5]],  # alone: stay
        [E, E, P, P, E, P, E, P, E], sense_radius=3.0, world=30.0,
    )  # fmt: skip
    action = Flee()(obs)
    np.testing.assert_allclose(action[0], [-1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(action[4], [0.0, np.sqrt(0.5)], atol=1e-12)
    np.testing.assert_allclose(action[6], [-0.5, 0.0], atol=1e-12)
    np.testing.assert_array_equal(action[8], 0.0)


def test_voronoi_evade_goes_to_its_cell_centroid_without_overshooting():
    # whole-arena sensing: the cell is [0, 5.5] x [0, 10], centroid 2.25 m to the left
    scene = dict(pos=[[5.0, 5.0], [6.0, 5.0]], team=[E, P], sense_radius=15.0)
    np.testing.assert_allclose(VoronoiEvade()(observe(**scene))[0], [-1.0, 0.0], atol=1e-12)
    slow = observe(**scene, dt=1.0, max_speed=(1.0, 10.0))
    np.testing.assert_allclose(VoronoiEvade()(slow)[0], [-2.25, 0.0], atol=1e-12)

    # near a corner the sensor still covers the arena, so the cell is not cut to the
    # polygon around the evader: [0, 1.25] x [0, 10]
    corner = observe([[1.0, 1.0], [1.5, 1.0]], [E, P], sense_radius=15.0)
    np.testing.assert_allclose(VoronoiEvade()(corner)[0], direction([-0.375, 4.0]), atol=1e-12)

    # only evaders in sight: stay still
    calm = observe([[5.0, 5.0], [6.0, 5.0]], [E, E], sense_radius=15.0)
    np.testing.assert_array_equal(VoronoiEvade()(calm), 0.0)


# --- locality ------------------------------------------------------------------------


@pytest.mark.parametrize("policy", [GreedyPursuit, VoronoiPursuit, Flee, VoronoiEvade])
@pytest.mark.parametrize("sense_radius", [6.0, 30.0])
def test_each_row_acts_on_its_own_observation_alone(policy, sense_radius):
    rng = np.random.default_rng(7)
    n = 24
    team = np.repeat([P, E], n // 2)
    alive = np.ones(n, bool)
    alive[[14, 20]] = False  # captured evaders
    obs = observe(
        rng.uniform(0, 20, (n, 2)), team, sense_radius, world=20.0,
        vel=rng.normal(0, 1, (n, 2)), alive=alive, max_speed=(1.0, 1.2), order_seed=2,
    )  # fmt: skip
    controller = policy()
    batch = controller(obs)
    assert np.isfinite(batch).all() and np.any(batch != 0)
    np.testing.assert_array_equal(batch[~alive], 0.0)
    for row in range(n):
        alone = controller(isolate(obs, row))
        np.testing.assert_array_equal(alone[0], batch[row], err_msg=f"row {row}")


def test_a_vanishing_direction_is_no_direction_not_an_infinite_velocity():
    """A pursuer a subnormal distance behind its target (seen in a run) must not divide by
    it: the command is zero, never inf or NaN."""
    from policies.greedy_pursuit import at_speed

    out = at_speed(np.array([[1e-310, 0.0], [3.0, 4.0], [0.0, 0.0]]), np.array([1.0, 2.0, 1.0]))
    np.testing.assert_allclose(out, [[0.0, 0.0], [1.2, 1.6], [0.0, 0.0]], rtol=1e-12)
