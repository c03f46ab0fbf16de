"""Static obstacles in 3-D: spheres, boxes and vertical cylinders sensed against brute-force
geometry, the file format, the generated forest (round poles) and city, spawns, contacts and
a flocking run in a forest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from swarm.config import ConfigError
from swarm.obstacles import ObstacleField3D, forest, forest_3d, load_obstacle_file, urban_3d

BIG = 1e6  # a shut face moved out of reach: the brute force's way of saying "no way out"


def _sdf(p, centres, radii, lo, hi):
    """Every obstacle's (signed distance, nearest point) to the points ``p`` (P, 3), by
    textbook geometry: a sphere's along the ray from its centre, a box's by clamping (outside)
    or on its nearest face (inside). Returns (P, K) distances and (P, K, 3) points."""
    v = p[:, None, :] - centres[None, :, :]
    length = np.sqrt((v**2).sum(axis=2))
    safe = np.where(length > 0, length, 1.0)[..., None]
    on_sphere = np.where(
        (length > 0)[..., None],
        centres[None] + v / safe * radii[None, :, None],
        centres[None] + np.array([1.0, 0.0, 0.0]) * radii[None, :, None],
    )
    d_sphere = length - radii[None, :]
    q = np.clip(p[:, None, :], lo[None], hi[None])
    inside = ((p[:, None, :] > lo[None]) & (p[:, None, :] < hi[None])).all(axis=2)
    d_out = np.sqrt(((p[:, None, :] - q) ** 2).sum(axis=2))
    # faces in the order x lo, x hi, y lo, y hi, z lo, z hi
    gaps = np.stack([p[:, None, :] - lo[None], hi[None] - p[:, None, :]], axis=3)  # (P,B,3,2)
    gaps = gaps.reshape(len(p), len(lo), 6)
    face = gaps.argmin(axis=2)
    on_face = np.repeat(p[:, None, :], len(lo), axis=1).copy()
    axis, side = face // 2, face % 2
    plane = np.where(side == 0, np.take_along_axis(np.broadcast_to(lo[None], q.shape),
                                                   axis[..., None], 2)[..., 0],
                     np.take_along_axis(np.broadcast_to(hi[None], q.shape),
                                        axis[..., None], 2)[..., 0])  # fmt: skip
    np.put_along_axis(on_face, axis[..., None], plane[..., None], 2)
    d_box = np.where(inside, -gaps.min(axis=2), d_out)
    point_box = np.where(inside[..., None], on_face, q)
    return (np.concatenate([d_sphere, d_box], axis=1),
            np.concatenate([on_sphere, point_box], axis=1))  # fmt: skip


def _cylinder_sdf(p, axis, r, z):
    """Every vertical cylinder's (signed distance, nearest point) to the points ``p`` (P, 3):
    outside, the rim (or the point itself within the disc) at the altitude clipped to the
    cylinder's; inside, the nearest of the side (radially out, +x on the axis), the bottom
    and the top, in that order on a tie. Returns (P, Y) and (P, Y, 3)."""
    v = p[:, None, :2] - axis[None]  # (P, Y, 2)
    rho = np.sqrt((v**2).sum(axis=2))
    unit = np.where((rho > 0)[..., None], v / np.where(rho > 0, rho, 1.0)[..., None],
                    np.array([1.0, 0.0]))  # fmt: skip
    rim = axis[None] + unit * r[None, :, None]
    pz = p[:, None, 2]
    clipped = np.clip(pz, z[None, :, 0], z[None, :, 1])
    beside = rho > r[None]
    flat = np.where(beside[..., None], rim, p[:, None, :2])
    d_out = np.sqrt(np.maximum(rho - r[None], 0.0) ** 2 + (pz - clipped) ** 2)
    point_out = np.concatenate([flat, clipped[..., None]], axis=2)
    gaps = np.stack([r[None] - rho, pz - z[None, :, 0], z[None, :, 1] - pz], axis=2)
    face = gaps.argmin(axis=2)
    xy = np.where((face == 0)[..., None], rim, p[:, None, :2])
    zz = np.where(face == 1, z[None, :, 0], np.where(face == 2, z[None, :, 1], pz))
    point_in = np.concatenate([xy, zz[..., None]], axis=2)
    inside = (~beside) & (pz >= z[None, :, 0]) & (pz <= z[None, :, 1])
    return (np.where(inside, -gaps.min(axis=2), d_out),
            np.where(inside[..., None], point_in, point_out))  # fmt: skip


NO_CYLINDERS = (np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2)))


def _brute(pos, centres, radii, lo, hi, world, torus, reach, slots, cylinders=NO_CYLINDERS):
    """Each point's ``slots`` nearest obstacles within ``reach`` (nearest first, ties by id:
    spheres, boxes, then cylinders (axes, radii, (bottom, top))), every obstacle at its
    nearest image on a torus. A box face on a wall of the box arena, a cylinder's cap on the
    floor or the ceiling, or both faces (caps) of an axis a shape fills on a torus, is no way
    out: moved BIG away."""
    lo, hi = lo.copy(), hi.copy()
    axis, cyl_r, cyl_z = (np.asarray(a, np.float64) for a in cylinders)
    cyl_z = cyl_z.reshape(-1, 2).copy()
    if torus:
        fills = (lo == 0.0) & (hi == world)
        lo[fills], hi[fills] = -BIG, BIG
        tall = (cyl_z[:, 0] == 0.0) & (cyl_z[:, 1] == world)
        cyl_z[tall] = [-BIG, BIG]
    else:
        lo[lo == 0.0] = -BIG
        hi[hi == world] = world + BIG
        cyl_z[cyl_z[:, 0] == 0.0, 0] = -BIG
        cyl_z[cyl_z[:, 1] == world, 1] = world + BIG
    shifts = [np.zeros(3)]
    if torus:
        grid = np.array(np.meshgrid(*[[-1, 0, 1]] * 3, indexing="ij")).reshape(3, -1).T
        shifts = list(grid * world)
    best_d = np.full((len(pos), len(radii) + len(lo) + len(cyl_r)), np.inf)
    best_rel = np.zeros((*best_d.shape, 3))
    for shift in shifts:
        p = pos + shift
        d, point = _sdf(p, centres, radii, lo, hi)
        d_cyl, point_cyl = _cylinder_sdf(p, axis.reshape(-1, 2), cyl_r, cyl_z)
        d = np.concatenate([d, d_cyl], axis=1)
        point = np.concatenate([point, point_cyl], axis=1)
        better = d < best_d
        best_d = np.where(better, d, best_d)
        best_rel = np.where(better[..., None], point - p[:, None, :], best_rel)
    out = []
    for i in range(len(pos)):
        ids = np.flatnonzero(best_d[i] <= reach)
        ids = ids[np.lexsort((ids, best_d[i, ids]))][:slots]
        out.append([(best_d[i, k], k, best_rel[i, k]) for k in ids])
    return out


def _check(field: ObstacleField3D, pos: np.ndarray, slots: int = 4) -> None:
    reading = field.sense(pos, np.ones(len(pos), bool), slots)
    expected = _brute(pos, field.sphere_center, field.sphere_radius, field.box_lo,
                      field.box_hi, field.world_size, field.torus, field.reach, slots,
                      _cylinders(field))  # fmt: skip
    for i, want in enumerate(expected):
        assert reading.mask[i].sum() == len(want), i
        for t, (d, _, rel) in enumerate(want):
            assert reading.dist[i, t] == pytest.approx(d, abs=1e-9), (i, t)
            np.testing.assert_allclose(reading.rel_pos[i, t], rel, atol=1e-9)
        assert reading.nearest[i] == pytest.approx(want[0][0] if want else np.inf, abs=1e-9)
        assert (np.diff(reading.dist[i, : len(want)]) >= 0).all()  # nearest first


def _cylinders(field: ObstacleField3D) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return field.cylinder_center, field.cylinder_radius, field.cylinder_z


def _random_cylinders(rng, world, count, poles=0):
    """``count`` cylinders anywhere (some standing on the floor, some hanging from the
    ceiling, some at the arena's edge) and ``poles`` from the floor to the ceiling."""
    r = rng.uniform(0.2, 2.0, size=count + poles)
    axis = rng.uniform(0.0, world, size=(count + poles, 2))
    axis = np.clip(axis, r[:, None], world - r[:, None])
    # at most 8 m long: on a torus a longer one's images would both be in range (the field
    # senses each, the brute force its nearest)
    length = rng.uniform(0.5, 8.0, size=count)
    bottom = rng.uniform(0.0, world - length)
    fifth = count // 5
    bottom[:fifth] = 0.0  # on the floor
    bottom[fifth : 2 * fifth] = world - length[fifth : 2 * fifth]  # from the ceiling
    top = bottom + length
    top[fifth : 2 * fifth] = world
    z = np.vstack([np.column_stack([bottom, top]),
                   np.column_stack([np.zeros(poles), np.full(poles, world)])])  # fmt: skip
    return axis, r, z


def _random_field(rng, world, spheres, boxes, poles=0):
    centres = rng.uniform(3, world - 3, size=(spheres, 3))
    radii = rng.uniform(0.2, 1.5, size=spheres)
    lo = rng.uniform(1, world - 6, size=(boxes, 3))
    hi = lo + rng.uniform(0.5, 4.0, size=(boxes, 3))
    foot = rng.uniform(1, world - 2, size=(poles, 2))
    lo = np.vstack([lo, np.column_stack([foot, np.zeros(poles)])])
    hi = np.vstack([hi, np.column_stack([foot + 0.6, np.full(poles, world)])])
    return centres, radii, lo, hi


@pytest.mark.parametrize("torus", [False, True])
def test_sensing_matches_brute_force(torus: bool) -> None:
    rng = np.random.default_rng(3)
    world, reach = 30.0, 3.0
    centres, radii, lo, hi = _random_field(rng, world, 50, 40, poles=15)
    # near the seams, a big box (6 m deep inside), a block on the floor up to z = 12
    centres = np.vstack([centres, [[1.0, 15.0, 28.5]]])
    radii = np.append(radii, 1.0)
    lo = np.vstack([lo, [[28.0, 0.5, 10.0], [8.0, 8.0, 8.0], [20.0, 2.0, 0.0]]])
    hi = np.vstack([hi, [[29.5, 2.0, 12.0], [20.0, 20.0, 20.0], [23.0, 5.0, 12.0]]])
    field = ObstacleField3D.build(centres, radii, lo, hi, world, torus, reach)
    assert field.per_side == 10
    pos = np.vstack([rng.uniform(0, world, size=(1500, 3)),
                     [[14.0, 14.0, 14.0], [0.2, 1.0, 11.0], [29.9, 15.0, 0.1],
                      [21.0, 3.0, 0.0], [21.0, 3.0, 0.05], [lo[-4, 0] + 0.1, lo[-4, 1] + 0.3,
                                                             29.99]]])  # fmt: skip
    _check(field, pos)
    reading = field.sense(pos[-6:], np.ones(6, bool), 1)
    assert reading.dist[0, 0] == pytest.approx(-6.0)  # deep inside the big box


def test_drones_inside_read_a_negative_distance_toward_the_way_out() -> None:
    """Analytic readings: inside a sphere (along the ray from its centre), inside a box (its
    nearest face), inside a pole standing on the floor of a box arena (out through a side,
    not through its foot) and on a torus (a pole from floor to ceiling is endless)."""
    lo = np.array([[20.0, 20.0, 20.0], [5.0, 5.0, 0.0]])
    hi = np.array([[26.0, 24.0, 30.0], [5.5, 5.5, 40.0]])
    pos = np.array([[10.5, 10.0, 10.0], [21.0, 22.0, 25.0], [5.2, 5.25, 0.01], [5.2, 5.25, 0.0],
                    [5.2, 5.25, 39.0], [10.0, 10.0, 10.0]])  # fmt: skip
    for torus in (False, True):
        field = ObstacleField3D.build(np.array([[10.0, 10.0, 10.0]]), np.array([2.0]), lo, hi,
                                      40.0, torus, 3.0)  # fmt: skip
        r = field.sense(pos, np.ones(len(pos), bool), 1)
        np.testing.assert_allclose(r.dist[:, 0], [-1.5, -1.0, -0.2, -0.2, -0.2, -2.0])
        np.testing.assert_allclose(r.rel_pos[0, 0], [1.5, 0.0, 0.0])
        np.testing.assert_allclose(r.rel_pos[1, 0], [-1.0, 0.0, 0.0])
        np.testing.assert_allclose(r.rel_pos[2, 0], [-0.2, 0.0, 0.0])  # not down the floor
        np.testing.assert_allclose(r.rel_pos[4, 0], [-0.2, 0.0, 0.0])
        np.testing.assert_allclose(r.rel_pos[5, 0], [2.0, 0.0, 0.0])  # at the centre: +x


def test_a_pole_on_a_torus_is_sensed_once_across_the_floor() -> None:
    """A drone just above the floor of a torus sees a floor-to-ceiling pole once, beside it
    (the images above and below are the same endless pole)."""
    field = ObstacleField3D.build(np.zeros((0, 3)), np.zeros(0), np.array([[10.0, 10.0, 0.0]]),
                                  np.array([[11.0, 11.0, 30.0]]), 30.0, True, 3.0)  # fmt: skip
    r = field.sense(np.array([[12.0, 10.5, 0.1], [12.0, 10.5, 29.95]]), np.ones(2, bool), 4)
    assert r.mask.sum(axis=1).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(r.rel_pos[:, 0], [[-1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])


@pytest.mark.parametrize("reach", [4.0, 12.0])  # a torus 2.5 and 0.8 sensing ranges wide
def test_a_small_torus_reads_the_nearest_of_27_images(reach: float) -> None:
    world = 10.0
    rng = np.random.default_rng(8)
    centres = rng.uniform(1.0, 9.0, size=(8, 3))
    radii = rng.uniform(0.1, 0.6, size=8)
    lo = np.array([[7.0, 7.0, 7.0], [0.5, 3.0, 8.0], [4.0, 4.0, 0.0]])
    hi = np.array([[9.5, 9.5, 8.0], [2.0, 4.0, 9.9], [4.5, 4.5, 10.0]])
    field = ObstacleField3D.build(centres, radii, lo, hi, world, True, reach)
    assert field.per_side == 1
    pos = np.vstack([rng.uniform(0, world, size=(300, 3)), [[9.9, 5.0, 0.1], [0.1, 8.0, 9.9]]])
    _check(field, pos)


@pytest.mark.parametrize("torus", [False, True])
def test_cylinders_are_sensed_as_brute_force_geometry(torus: bool) -> None:
    """Cylinders among spheres and boxes: hanging, standing, floor to ceiling (in the column
    grid), at the arena's edge and across seams; drones beside them, over and under their
    caps, inside them (near the caps and on the axis), and on the floor and ceiling."""
    rng = np.random.default_rng(21)
    world, reach = 30.0, 3.0
    centres, radii, lo, hi = _random_field(rng, world, 20, 20, poles=5)
    axis, r, z = _random_cylinders(rng, world, 60, poles=20)
    # a wide one (inside it 4 m from the side), a thin one at a seam, one across many cells
    axis = np.vstack([axis, [[15.0, 15.0], [0.3, 29.7], [22.0, 8.0]]])
    r = np.append(r, [4.0, 0.3, 3.5])
    z = np.vstack([z, [[10.0, 20.0], [0.0, 30.0], [0.0, 9.0]]])
    field = ObstacleField3D.build(centres, radii, lo, hi, world, torus, reach, axis, r, z)
    assert field.per_side == 10 and field.n_cylinders == 83
    assert len(np.unique(field.column_items)) == 5  # floor to ceiling: boxes in columns,
    assert len(np.unique(field.pole_items)) == 21  # and cylinders in their own lists
    near = rng.integers(0, len(r), size=1500)  # points near each cylinder, in and around
    angle = rng.uniform(0, 2 * np.pi, size=1500)
    rho = r[near] * rng.uniform(0.0, 1.6, size=1500)
    alt = rng.uniform(z[near, 0] - 1.5, z[near, 1] + 1.5)
    around = np.column_stack([axis[near] + rho[:, None] * np.column_stack([np.cos(angle),
                                                                        np.sin(angle)]),
                              alt])  # fmt: skip
    around = around % world if torus else np.clip(around, 0.0, world)
    pos = np.vstack([rng.uniform(0, world, size=(1500, 3)), around,
                     [[15.0, 15.0, 15.0], [15.5, 15.0, 10.2], [15.0, 16.0, 19.9],
                      [15.0, 15.0, 21.0], [17.0, 18.0, 9.0], [0.1, 0.2, 15.0],
                      [29.9, 29.8, 0.0], [22.0, 8.0, 0.0], [22.0, 8.0, 30.0],
                      [23.0, 8.5, 0.05], [22.0, 8.0, 8.9]]])  # fmt: skip
    _check(field, pos)
    deep = field.sense(pos[-11:-10], np.ones(1, bool), 1)
    assert deep.dist[0, 0] == pytest.approx(-4.0)  # on the axis: out through the side, +x
    np.testing.assert_allclose(deep.rel_pos[0, 0], [4.0, 0.0, 0.0])


@pytest.mark.parametrize("reach", [4.0, 12.0])
def test_cylinders_on_a_small_torus_are_read_at_their_nearest_of_27_images(reach: float) -> None:
    world = 10.0
    rng = np.random.default_rng(9)
    axis, r, z = _random_cylinders(rng, world, 10, poles=2)
    axis[0], r[0] = [0.5, 9.5], 0.5  # touching two seams
    field = ObstacleField3D.build(np.zeros((0, 3)), np.zeros(0), np.array([[7.0, 1.0, 2.0]]),
                                  np.array([[9.0, 2.0, 10.0]]), world, True, reach, axis, r,
                                  z)  # fmt: skip
    assert field.per_side == 1
    pos = np.vstack([rng.uniform(0, world, size=(400, 3)), [[9.9, 0.1, 0.1], [0.1, 9.9, 9.9]]])
    _check(field, pos)


def test_inside_a_cylinder_the_reading_points_to_the_nearest_way_out() -> None:
    """Analytic readings: on the axis (out through the side, +x), near the bottom cap, over
    the top, beside the rim and diagonally off it; a pole standing on the floor of a box
    arena is left sideways, never through its foot, and on a torus through its foot (the
    floor is a seam there) unless it stands from floor to ceiling (then it is endless)."""
    axis = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    r = np.array([2.0, 0.5, 1.0])
    z = np.array([[5.0, 15.0], [0.0, 40.0], [0.0, 12.0]])
    pos = np.array([[10.0, 10.0, 10.0], [10.5, 10.0, 5.8], [10.5, 10.0, 16.0],
                    [13.0, 10.0, 10.0], [13.0, 10.0, 17.0], [20.2, 20.0, 0.01],
                    [30.0, 30.8, 0.1], [10.0, 8.0, 14.9]])  # fmt: skip
    for torus in (False, True):
        field = ObstacleField3D.build(np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)),
                                      np.zeros((0, 3)), 40.0, torus, 3.0, axis, r, z)  # fmt: skip
        got = field.sense(pos, np.ones(len(pos), bool), 1)
        foot = -0.1 if torus else -0.2  # the short pole: its foot on a torus, its side else
        np.testing.assert_allclose(got.dist[:, 0], [-2.0, -0.8, 1.0, 1.0, np.sqrt(5.0), -0.3,
                                                    foot, 0.0])  # fmt: skip
        np.testing.assert_allclose(got.rel_pos[0, 0], [2.0, 0.0, 0.0])
        np.testing.assert_allclose(got.rel_pos[1, 0], [0.0, 0.0, -0.8])
        np.testing.assert_allclose(got.rel_pos[2, 0], [0.0, 0.0, -1.0])
        np.testing.assert_allclose(got.rel_pos[4, 0], [-1.0, 0.0, -2.0])
        np.testing.assert_allclose(got.rel_pos[5, 0], [0.3, 0.0, 0.0])  # not down the floor
        np.testing.assert_allclose(got.rel_pos[6, 0], [0, 0, -0.1] if torus else [0, 0.2, 0])
        # push_out leaves through the same way: sideways out of the pole, altitude kept
        out = field.push_out(pos[5:6], 0.4)
        np.testing.assert_allclose(out, [[20.9, 20.0, 0.01]])


def test_dead_rows_sense_nothing_and_rows_are_independent() -> None:
    field = ObstacleField3D.build(np.array([[5.0, 5.0, 5.0]]), np.array([1.0]), np.zeros((0, 3)),
                                  np.zeros((0, 3)), 20.0, False, 3.0)  # fmt: skip
    pos = np.array([[7.0, 5.0, 5.0], [7.0, 5.0, 5.0], [15.0, 15.0, 15.0]])
    reading = field.sense(pos, np.array([True, False, True]), 2)
    assert reading.dist[0, 0] == pytest.approx(1.0) and reading.mask[1].sum() == 0
    alone = field.sense(pos[:1], np.ones(1, bool), 2)
    np.testing.assert_array_equal(alone.rel_pos[0], reading.rel_pos[0])
    assert reading.mask[2].sum() == 0 and reading.nearest[2] == np.inf


@pytest.mark.parametrize("torus", [False, True])
def test_each_row_reads_the_same_alone_as_in_the_swarm(torus: bool) -> None:
    """Locality: a drone's reading depends on its own position only, bit for bit."""
    rng = np.random.default_rng(11)
    field = ObstacleField3D.build(*_random_field(rng, 30.0, 30, 30, poles=20), 30.0, torus, 3.0,
                                  *_random_cylinders(rng, 30.0, 30, poles=20))  # fmt: skip
    pos = rng.uniform(0, 30.0, size=(400, 3))
    swarm = field.sense(pos, np.ones(400, bool), 4)
    for i in rng.choice(400, size=40, replace=False):
        alone = field.sense(pos[i : i + 1], np.ones(1, bool), 4)
        for got, want in zip((alone.rel_pos, alone.dist, alone.mask, alone.nearest),
                             (swarm.rel_pos, swarm.dist, swarm.mask, swarm.nearest),
                             strict=True):  # fmt: skip
            np.testing.assert_array_equal(got[0], want[i])


@pytest.mark.parametrize("torus", [False, True])
def test_push_out_leaves_points_clear(torus: bool) -> None:
    rng = np.random.default_rng(5)
    world = 30.0
    centres, radii, lo, hi = _random_field(rng, world, 20, 15, poles=10)
    cylinders = _random_cylinders(rng, world, 10, poles=5)
    field = ObstacleField3D.build(centres, radii, lo, hi, world, torus, 3.0, *cylinders)
    pts = rng.uniform(0, world, size=(3000, 3))
    out = field.push_out(pts, 0.4)
    expected = _brute(out, centres, radii, lo, hi, world, torus, 3.0, 1, cylinders)
    clear = np.array([w[0][0] if w else np.inf for w in expected])
    # a point wedged where two obstacles leave no room may stay short, never inside
    assert (clear >= 0.4 - 1e-9).mean() > 0.995 and (clear > 0).all()
    before = _brute(pts, centres, radii, lo, hi, world, torus, 3.0, 1, cylinders)
    free = np.array([not w or w[0][0] >= 0.4 for w in before])
    np.testing.assert_array_equal(out[free], pts[free])
    assert (~free).sum() > 50  # the test moved points
    # a point inside a pole near the floor leaves sideways: its altitude is kept
    pole = field.push_out(np.array([[lo[-1, 0] + 0.1, lo[-1, 1] + 0.3, 0.02]]), 0.4)
    assert pole[0, 2] == pytest.approx(0.02) and pole[0, 0] == pytest.approx(lo[-1, 0] - 0.4)
    # beyond the grid's reach (3 m): still the least move, along the ray from the centre
    lone = ObstacleField3D.build(np.array([[15.0, 15.0, 15.0]]), np.array([2.0]),
                                 np.zeros((0, 3)), np.zeros((0, 3)), world, torus, 3.0)  # fmt: skip
    np.testing.assert_allclose(lone.push_out(np.array([[16.0, 15.0, 15.0]]), 5.0),
                               [[22.0, 15.0, 15.0]])  # fmt: skip


def test_forest_3d_stands_round_poles_on_the_2d_forest_with_its_gap() -> None:
    for torus in (False, True):
        axis, r, z = forest_3d(400, 0.25, 0.9, 60.0, np.random.default_rng(1), torus)
        again = forest_3d(400, 0.25, 0.9, 60.0, np.random.default_rng(1), torus)[0]
        flat, _ = forest(400, 0.25, 0.9, 60.0, np.random.default_rng(1), torus)
        np.testing.assert_array_equal(axis, again)
        np.testing.assert_array_equal(axis, flat)  # the 2-D forest's centres
        assert (r == 0.25).all()
        assert (z[:, 0] == 0).all() and (z[:, 1] == 60.0).all()  # floor to ceiling
        assert (axis >= 0.25).all() and (axis <= 60.0 - 0.25).all()
        d = np.abs(axis[:, None] - axis[None])
        if torus:
            d = np.minimum(d, 60.0 - d)
        gap = np.sqrt((d**2).sum(axis=2)) - 0.5  # between two discs
        np.fill_diagonal(gap, np.inf)
        assert gap.min() >= 0.9 - 1e-12
        assert gap.min() < 1.5  # dense enough that the rule binds
    with pytest.raises(ConfigError, match=r"obstacle_count: 5000 poles of radius 0\.25"):
        forest_3d(5000, 0.25, 0.9, 20.0, np.random.default_rng(1))


def test_urban_3d_blocks_stand_on_the_floor_below_the_ceiling() -> None:
    lo, hi = urban_3d(5, 4.0, 30.0, np.random.default_rng(0))
    np.testing.assert_allclose(lo[1], [12.0, 2.0, 0.0])  # the 2-D grid: pitch 10 m, side 6 m
    np.testing.assert_allclose(hi[3, :2], [8.0, 18.0])
    assert ((hi[:, 2] >= 0.25 * 30.0) & (hi[:, 2] < 30.0)).all()
    assert len(np.unique(hi[:, 2])) == 5


def test_config_builds_the_3d_field(tmp_path) -> None:
    from envs.flocking import FlockingModel

    model = FlockingModel(n_agents=20, dim=3, obstacles="forest", obstacle_count=30,
                          collision_radius=0.4, rng=1)  # fmt: skip
    field = model.engine.obstacles
    assert isinstance(field, ObstacleField3D) and field.n_obstacles == 30
    assert field.n_spheres == 0 and field.n_boxes == 0 and field.cylinder_center.shape == (30, 2)
    assert len(np.unique(field.pole_items)) == 30  # floor to ceiling: the column grid
    kept = tmp_path / "forest.json"
    kept.write_text(json.dumps(field.as_json()))
    again = FlockingModel(n_agents=20, dim=3, obstacles=str(kept), rng=1).engine.obstacles
    for name in ("cylinder_center", "cylinder_radius", "cylinder_z"):
        np.testing.assert_array_equal(getattr(again, name), getattr(field, name))
    city = FlockingModel(n_agents=20, dim=3, obstacles="urban", obstacle_count=4, rng=1)
    assert city.engine.obstacles.n_boxes == 4
    assert "obstacle_contacts" in city.metrics
    kept = tmp_path / "city.json"  # a generated map, kept as a file, is the same map
    kept.write_text(json.dumps(city.engine.obstacles.as_json()))
    again = FlockingModel(n_agents=20, dim=3, obstacles=str(kept), rng=1).engine.obstacles
    np.testing.assert_array_equal(again.box_lo, city.engine.obstacles.box_lo)
    np.testing.assert_array_equal(again.box_hi, city.engine.obstacles.box_hi)


def test_obstacle_file_format(tmp_path) -> None:
    spec = load_obstacle_file("experiments/obstacles/yard3d.json")
    assert len(spec.spheres) == 3 and len(spec.boxes) == 3 and spec.dims == (3,)
    assert len(spec.cylinders) == 2 and spec.cylinders[0].bottom is None
    from envs.flocking import FlockingModel

    yard = FlockingModel(n_agents=5, dim=3, world_size=50.0, rng=0,
                         obstacles="experiments/obstacles/yard3d.json")  # fmt: skip
    field = yard.engine.obstacles
    np.testing.assert_array_equal(field.cylinder_z, [[0.0, 50.0], [10.0, 30.0]])  # defaults
    only = tmp_path / "poles.json"
    only.write_text(json.dumps({"cylinders": [{"center": [5, 5], "radius": 1, "top": 4}]}))
    assert load_obstacle_file(only).dims == (3,)

    def refused(content, match):
        path = tmp_path / "map.json"
        path.write_text(json.dumps(content))
        with pytest.raises(ConfigError, match=match) as err:
            load_obstacle_file(path)
        assert "\n" not in str(err.value)

    refused({"boxes": [{"min": [1, 1, 1], "max": [2, 0.5, 3]}]}, "boxes.0.*max .* exceed min")
    refused({"spheres": [{"center": [1, 1], "radius": 1}]}, "spheres.0.center")
    refused({"spheres": [{"center": [5, 5, 5], "radius": -1}]}, "spheres.0.radius")
    refused({"boxes": [{"min": [1, 1, 1]}]}, "boxes.0.max")
    refused({"cylinders": [{"center": [1, 1, 1], "radius": 1}]}, "cylinders.0.center")
    refused({"cylinders": [{"center": [5, 5], "radius": 0}]}, "cylinders.0.radius")
    refused({"cylinders": [{"center": [5, 5]}]}, "cylinders.0.radius")
    refused({"cylinders": [{"center": [5, 5], "radius": 1, "bottom": 4, "top": 2}]},
            "cylinders.0.*top 2 must exceed bottom 4")  # fmt: skip
    refused({"cylinders": [{"center": [5, 5], "radius": 1, "top": -1}]},
            "cylinders.0.*top -1 must exceed bottom 0")  # fmt: skip
    refused({"cylinders": [{"center": [5, 5], "radius": 1, "height": 3}]}, "height")
    refused({"cones": []}, "cones")
    refused({"polygons": [{"vertices": [[0, 0], [1, 0], [0, 1]]}],
             "cylinders": [{"center": [5, 5], "radius": 1}]}, "not both")  # fmt: skip
    refused({"discs": [{"center": [5, 5], "radius": 1}],
             "spheres": [{"center": [5, 5, 5], "radius": 1}]}, "not both")  # fmt: skip
    with pytest.raises(ConfigError, match="sphere 0 reaches outside the arena"):
        ObstacleField3D.build(np.array([[0.5, 5.0, 5.0]]), np.array([1.0]), np.zeros((0, 3)),
                              np.zeros((0, 3)), 20.0, False, 2.0)  # fmt: skip
    with pytest.raises(ConfigError, match="box 0 fills the arena"):
        ObstacleField3D.build(np.zeros((0, 3)), np.zeros(0), np.zeros((1, 3)),
                              np.full((1, 3), 20.0), 20.0, True, 2.0)  # fmt: skip
    none = (np.zeros((0, 3)), np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)), 20.0, False, 2.0)
    for axis, r, z in (([0.5, 5.0], 1.0, [0.0, 20.0]), ([5.0, 5.0], 1.0, [1.0, 21.0])):
        with pytest.raises(ConfigError, match="cylinder 0 reaches outside the arena") as err:
            ObstacleField3D.build(*none, np.array([axis]), np.array([r]), np.array([z]))
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="cylinder 0 needs finite coordinates"):
        ObstacleField3D.build(*none, np.array([[np.nan, 5.0]]), np.ones(1), np.array([[0, 9.0]]))
    nan = tmp_path / "map.json"  # json reads NaN; the file's spec refuses it
    nan.write_text('{"cylinders": [{"center": [NaN, 5], "radius": 1}]}')
    with pytest.raises(ConfigError, match=r"cylinders\.0\.center\.0.*finite") as err:
        load_obstacle_file(nan)
    assert "\n" not in str(err.value)


def test_a_file_flies_in_its_own_dim(tmp_path) -> None:
    """A 2-D file is refused with dim = 3 (not extruded), a 3-D one with dim = 2, in one line
    naming the field; at the command line, exit status 2."""
    from envs.flocking import FlockingModel
    from swarm.cli import main

    for dim, path, says in ((3, "experiments/obstacles/yard.json", "discs/polygons"),
                            (2, "experiments/obstacles/yard3d.json", "spheres/boxes")):  # fmt: skip
        with pytest.raises(ConfigError) as err:
            FlockingModel(dim=dim, obstacles=path)
        assert "obstacles" in str(err.value) and says in str(err.value)
        assert "\n" not in str(err.value)
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps({"boxes": [{"min": [1, 1, 1], "max": [2, 2, 80]}]}))
    for k, bad in enumerate((str(outside), "experiments/obstacles/yard.json")):
        code = main(["run", "flocking", "--agents", "10", "--steps", "1", "--set", "dim=3",
                     "--set", f"obstacles={bad}", "--out", str(tmp_path / f"run{k}")])  # fmt: skip
        assert code == 2
        assert not (tmp_path / f"run{k}" / "summary.json").exists()


def test_contacts_are_counted_where_drones_touch() -> None:
    """Drones placed by hand: inside a sphere, 0.1 m from a box (closer than a drone's
    radius, 0.15 m), 1 m from it: two contacts, clearance -1."""
    from envs.flocking import FlockingModel

    model = FlockingModel(n_agents=3, dim=3, world_size=50.0, boundary="box",
                          obstacles="experiments/obstacles/yard3d.json", policy="random_walk",
                          rng=0)  # fmt: skip
    model.engine.pos[:] = [[15.0, 35.0, 18.0], [18.1, 10.0, 5.0], [19.0, 10.0, 5.0]]
    model.engine.invalidate()
    assert model.metrics["obstacle_contacts"] == 2
    assert model.metrics["obstacle_clearance"] == pytest.approx(-1.0)


def test_flocking_in_a_3d_forest_spawns_clear_and_counts_contacts() -> None:
    from envs.flocking import FlockingModel

    model = FlockingModel(n_agents=300, dim=3, obstacles="forest", obstacle_count=150,
                          boundary="box", policy="random_walk", rng=2)  # fmt: skip
    own = model.observe().own
    assert own["obstacle_rel_pos"].shape == (300, 4, 3)
    assert own["obstacle_mask"].sum() > 0
    reading = model.engine.obstacle_reading
    assert (reading.nearest >= model.config.collision_radius - 1e-9).all()  # spawned clear
    assert model.metrics["obstacle_contacts"] == 0
    total = 0.0
    for _ in range(60):
        model.step()
        total += model.metrics["obstacle_contacts"]
    assert total > 0  # random walkers hit poles; the count is what the engine summed
    assert model.metrics["obstacle_contacts_total"] == total
    assert model.metrics["obstacle_clearance"] == pytest.approx(
        float(model.engine.obstacle_reading.nearest.min())
    )
    boids = FlockingModel(n_agents=200, dim=3, obstacles="forest", obstacle_count=100, rng=3)
    for _ in range(20):
        boids.step()
    assert boids.metrics["obstacle_contacts_total"] >= 0
    assert np.isfinite(boids.metrics["obstacle_clearance"])


def test_memory_estimate_counts_the_3d_grid() -> None:
    from envs.flocking import FlockingConfig

    flat = FlockingConfig(n_agents=1000, obstacles="forest").memory_parts()
    cube = FlockingConfig(n_agents=1000, obstacles="forest", dim=3).memory_parts()
    assert flat["obstacle_slots"] == 1000 * 4 * 64.0 and flat["obstacles"] == 0.0
    assert cube["obstacle_slots"] == 1000 * 4 * 80.0  # a point of 3 floats, its copy
    # 50 m / 5 m: 10^3 cells (4 groups of pointers, flags), 10^2 columns (boxes, poles)
    assert cube["obstacles"] == 8.0 * (4 * 10**3 + 1) + 10**3 + 2 * 8.0 * (10**2 + 1)


def test_learners_observe_3d_obstacles() -> None:
    """The flat observation gains each slot's nearest point (3 floats), distance and mask."""
    from pettingzoo.test import parallel_api_test

    from envs.flocking_v0 import parallel_env

    config = {"n_agents": 5, "dim": 3, "world_size": 20.0}
    seen, _ = parallel_env(**config, obstacles="forest", obstacle_count=20).reset(seed=1)
    bare, _ = parallel_env(**config).reset(seed=1)
    assert len(seen["drone_0"]) == len(bare["drone_0"]) + 4 * 5
    parallel_api_test(parallel_env(**config, obstacles="forest", obstacle_count=20), num_cycles=30)


def test_3d_runs_with_obstacles_are_deterministic() -> None:
    from envs.flocking import FlockingModel

    def run(seed):
        model = FlockingModel(n_agents=100, dim=3, obstacles="forest", obstacle_count=80,
                              policy="random_walk", rng=seed)  # fmt: skip
        for _ in range(15):
            model.step()
        return model.engine.pos.copy(), model.engine.obstacles.cylinder_center.copy()

    (pos_a, lo_a), (pos_b, lo_b), (_, lo_c) = run(7), run(7), run(8)
    np.testing.assert_array_equal(pos_a, pos_b)
    np.testing.assert_array_equal(lo_a, lo_b)
    assert not np.array_equal(lo_a, lo_c)  # the forest is drawn from the run's seed


def test_the_3d_example_file_runs_from_the_command_line(tmp_path) -> None:
    from swarm.cli import main

    out = tmp_path / "run"
    code = main(["run", "flocking", "--agents", "60", "--steps", "20", "--seed", "1",
                 "--set", "dim=3", "--set", "obstacles=experiments/obstacles/yard3d.json",
                 "--set", "boundary=box", "--out", str(out)])  # fmt: skip
    assert code == 0
    final = json.loads((out / "summary.json").read_text())["final"]
    assert "obstacle_contacts_total" in final and "obstacle_clearance" in final
