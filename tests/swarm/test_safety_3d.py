"""The safety layer in 3-D (swarm.safety, dim = 3): ORCA's half-spaces against the geometry,
the 3-D linear program and its 4-D fallback against brute force and scipy, head-on pairs,
reachable velocities, obstacle planes, locality, and the 3-D antipodal crossing (drones on a
sphere): behind ORCA nobody collides, without it everybody does."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from envs.crossing import CrossingModel, fibonacci_sphere, unit_spacing
from swarm.cli import main
from swarm.config import ConfigError
from swarm.safety import (
    REACH_INRADIUS,
    REACH_NORMALS,
    Cbf,
    Orca,
    OrcaParams,
    _barrier_line,
    _barrier_plane,
    _lp3d,
    _lp4d,
    _obstacle_plane,
    _orca_plane,
    _own_direction2,
    _own_direction3,
    _wall_line,
    _wall_plane,
)
from swarm.testing import assert_local

TAU = 2.0
R_COMBINED = 0.3 * 1.25  # collision_radius (1 + safety_margin), the defaults
DS_3D = R_COMBINED  # the barrier layer's Ds: the same combined radius


def run_until_arrived(model: CrossingModel, limit: int) -> CrossingModel:
    for _ in range(limit):
        model.step()
        if not np.isnan(model.metrics["time_to_goal"]):
            break
    return model


def head_on(speed: float = 1.0, gap: float = 2.0, axis: int = 0, **config) -> CrossingModel:
    """Two drones in a cube flying straight at each other along ``axis``, ``gap`` apart."""
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, safety="orca", dim=3,
                          policy_params={"speed": speed}, rng=0, **config)  # fmt: skip
    engine = model.engine
    unit = np.eye(3)[axis]
    centre = np.full(3, 10.0)
    engine.pos[:] = [centre - unit * gap / 2, centre + unit * gap / 2]
    engine.vel[:] = [unit * speed, -unit * speed]
    model.scenario.goal[:] = [centre + unit * 9.0, centre - unit * 9.0]
    engine.invalidate()
    return model


# ---------------------------------------------------------------------------- the LPs
def _planes(rows) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(rows, dtype=np.float64).reshape(-1, 6))


def _penetration(planes: np.ndarray, v: np.ndarray) -> np.ndarray:
    """How far v (..., 3) lies outside each plane (..., m): > 0 breaks it."""
    return ((planes[:, :3] - v[..., None, :]) * planes[:, 3:]).sum(axis=-1)


def _ball_sample(vmax: float, count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(count, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v * vmax * rng.random((count, 1)) ** (1 / 3)


@st.composite
def feasible_planes(draw):
    """Half-spaces that all contain a known point inside the speed ball."""
    vmax = draw(st.floats(0.5, 5.0))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    inside = rng.normal(size=3)
    inside *= draw(st.floats(0, 0.95)) * vmax / np.linalg.norm(inside)
    count = draw(st.integers(1, 14))
    normal = rng.normal(size=(count, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    # the point lies on the permitted side of each, up to 3 m in; the boundary cases drawn
    # explicitly (a uniform depth is never 0): some or all planes through the point itself
    depth = rng.uniform(0, 3.0, (count, 1))
    through = draw(st.sampled_from(["none", "some", "all"]))
    if through == "all":
        depth[:] = 0.0
    elif through == "some":
        depth[rng.random(count) < 0.5] = 0.0
    q = inside - depth * normal
    planes = np.column_stack([q, normal])
    # and exact copies of some planes, anywhere in the order
    copies = draw(st.integers(0, 3))
    planes = np.concatenate([planes, planes[rng.integers(0, count, copies)]])
    planes = planes[rng.permutation(len(planes))]
    pref = rng.uniform(-6, 6, 3)
    return _planes(planes), vmax, pref


def _scipy_closest(planes: np.ndarray, vmax: float, pref: np.ndarray) -> np.ndarray:
    """The same projection by a general solver: min |v - pref|^2 in the planes and ball."""
    cons = [
        {"type": "ineq", "fun": lambda v: ((v - planes[:, :3]) * planes[:, 3:]).sum(axis=1)},
        {"type": "ineq", "fun": lambda v: vmax * vmax - v @ v},
    ]
    best = None
    for start in (np.zeros(3), np.clip(pref, -vmax / 2, vmax / 2)):
        res = minimize(lambda v: ((v - pref) ** 2).sum(), start, jac=lambda v: 2 * (v - pref),
                       constraints=cons, method="SLSQP",
                       options={"ftol": 1e-12, "maxiter": 500})  # fmt: skip
        ok = _penetration(planes, res.x).max() <= 1e-7 and res.x @ res.x <= vmax**2 + 1e-7
        if ok and (best is None or res.fun < ((best - pref) ** 2).sum()):
            best = res.x
    return best


@settings(max_examples=150, deadline=None)
@given(case=feasible_planes())
def test_the_3d_lp_result_satisfies_every_plane_and_is_closest(case):
    planes, vmax, pref = case
    k, x, y, z = _lp3d(planes, len(planes), vmax, pref[0], pref[1], pref[2], False)
    assert k == len(planes)
    v = np.array([x, y, z])
    assert _penetration(planes, v).max() <= 1e-9
    assert np.linalg.norm(v) <= vmax + 1e-9
    # no feasible point of a dense sample of the ball is closer to the preference
    sample = _ball_sample(vmax, 40000)
    feasible = sample[_penetration(planes, sample).max(axis=1) <= 0]
    if len(feasible):
        best = np.sqrt(((feasible - pref) ** 2).sum(axis=1)).min()
        assert np.linalg.norm(v - pref) <= best + 1e-9
    # nor is a general solver's answer to the same projection
    other = _scipy_closest(planes, vmax, pref)
    if other is not None:
        assert np.linalg.norm(v - pref) <= np.linalg.norm(other - pref) + 1e-6


@settings(max_examples=60, deadline=None)
@given(case=feasible_planes())
def test_the_3d_lp_goes_farthest_along_a_direction(case):
    """The directional mode (the fallback's inner program): no feasible point of the ball
    lies farther along the unit direction."""
    planes, vmax, pref = case
    direction = pref / max(np.linalg.norm(pref), 1e-9)
    k, x, y, z = _lp3d(planes, len(planes), vmax, *direction, True)
    assert k == len(planes)
    v = np.array([x, y, z])
    assert _penetration(planes, v).max() <= 1e-9 and np.linalg.norm(v) <= vmax + 1e-9
    sample = _ball_sample(vmax, 40000, seed=1)
    feasible = sample[_penetration(planes, sample).max(axis=1) <= 0]
    if len(feasible):
        assert v @ direction >= (feasible @ direction).max() - 1e-9


def _scipy_least_penetration(soft, hard, vmax):
    """min t subject to every soft plane penetrated by at most t, the hard planes and the ball."""

    def cons_soft(x):
        return x[3] - _penetration(soft, x[:3])

    cons = [{"type": "ineq", "fun": cons_soft},
            {"type": "ineq", "fun": lambda x: vmax * vmax - x[:3] @ x[:3]}]  # fmt: skip
    if len(hard):
        cons.append({"type": "ineq", "fun": lambda x: -_penetration(hard, x[:3])})
    best = math.inf
    for start in _ball_sample(vmax * 0.5, 6, seed=7):
        x0 = np.append(start, _penetration(soft, start).max() + 1.0)
        res = minimize(lambda x: x[3], x0, constraints=cons, method="SLSQP",
                       options={"ftol": 1e-12, "maxiter": 1000})  # fmt: skip
        v = res.x[:3]
        if v @ v <= vmax**2 + 1e-7 and (not len(hard) or _penetration(hard, v).max() <= 1e-7):
            best = min(best, _penetration(soft, v).max())
    return best


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(3, 12), hard=st.sampled_from([0, 32]))
def test_the_fallback_minimises_the_largest_penetration_when_nothing_is_feasible(seed, n, hard):
    """Soft planes that cannot all hold (each permits only v . n >= k, k up to 1.5 vmax);
    with ``hard`` > 0 also the reachable polyhedron of a finite acceleration, which must
    hold exactly."""
    rng = np.random.default_rng(seed)
    vmax = 2.0
    normal = rng.normal(size=(n, 3))
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    q = normal * rng.uniform(0.2, 1.5, (n, 1)) * vmax
    soft = np.column_stack([q, normal])
    centre = rng.uniform(-0.5, 0.5, 3) * vmax
    h = 0.4 * vmax * REACH_INRADIUS
    poly = np.column_stack([centre + h * REACH_NORMALS, -REACH_NORMALS])[:hard]
    planes = _planes(np.concatenate([poly, soft]))
    total = len(planes)
    k, x, y, z = _lp3d(planes, total, vmax, 0.0, 0.0, 0.0, False)
    if k == total:
        return  # happened to be feasible
    assert k >= hard  # the polyhedron alone always fits in the ball
    x, y, z = _lp4d(planes, total, hard, k, vmax, x, y, z, np.empty((total, 6)))
    v = np.array([x, y, z])
    assert np.linalg.norm(v) <= vmax + 1e-9
    grid = _ball_sample(vmax, 60000, seed=seed)
    if hard:
        assert _penetration(poly, v).max() <= 1e-9  # the hard planes hold
        grid = grid[_penetration(poly, grid).max(axis=1) <= 0]
    depth = _penetration(soft, v).max()
    assert depth > 0
    assert depth <= _penetration(soft, grid).max(axis=1).min() + 1e-9
    assert depth <= _scipy_least_penetration(soft, poly, vmax) + 1e-6


@pytest.mark.parametrize("extra", [0, 3, 9])
def test_planes_that_leave_a_single_point_give_that_point(extra):
    """Every plane through one point c, the six axis-aligned ones among them (each with its
    opposite): the feasible set is c alone, the optimum lies where many planes meet, and
    rounding alone must not fail the program. ``extra``: more planes through c, random
    normals, and copies of the six, shuffled in."""
    rng = np.random.default_rng(extra)
    c = np.array([0.3, -0.7, 0.5])
    normal = np.concatenate([np.eye(3), -np.eye(3), rng.normal(size=(extra, 3))])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    planes = np.column_stack([np.broadcast_to(c, normal.shape), normal])
    planes = np.concatenate([planes, planes[: min(extra, 6)]])
    planes = _planes(planes[rng.permutation(len(planes))])
    for pref in ([2.0, 2.0, 2.0], [-1.0, 0.0, 0.0], c):
        k, *v = _lp3d(planes, len(planes), 2.0, *pref, False)
        assert k == len(planes)
        np.testing.assert_allclose(v, c, atol=1e-9)
        k, *v = _lp3d(planes, len(planes), 2.0, *(np.array(pref) / np.linalg.norm(pref)), True)
        assert k == len(planes)
        np.testing.assert_allclose(v, c, atol=1e-9)


@pytest.mark.parametrize("hard", [0, 1])
@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_the_fallback_bisects_opposite_parallel_planes_midway(order, hard):
    """Two soft planes facing apart, v . x >= 2 and v . x <= -1, after a third, v . y >= 0.5
    (soft, or ``hard``): the least largest penetration is 1.5, at v . x = 0.5 (the bisector of
    the two runs midway between them); the third is penetrated no deeper (not at all when
    hard). The pair comes last, so the answer is the program of the second of them."""
    soft = np.array([[2.0, 0.0, 0.0, 1.0, 0.0, 0.0], [-1.0, 0.0, 0.0, -1.0, 0.0, 0.0]])
    third = np.array([[0.0, 0.5, 0.0, 0.0, 1.0, 0.0]])
    planes = _planes(np.concatenate([third, soft[list(order)]]))
    k, x, y, z = _lp3d(planes, 3, 3.0, 0.0, 0.0, 0.0, False)
    assert k == 2
    v = np.array(_lp4d(planes, 3, hard, k, 3.0, x, y, z, np.empty((3, 6))))
    assert v[0] == pytest.approx(0.5, abs=1e-9)
    np.testing.assert_allclose(_penetration(soft, v), 1.5, atol=1e-9)
    assert _penetration(third, v)[0] <= (1e-9 if hard else 1.5 + 1e-9)
    assert np.linalg.norm(v) <= 3.0 + 1e-9


@pytest.mark.parametrize("angle", [1e-3, 1e-6, 1e-8, 1e-10, 1e-11])
def test_the_fallback_is_exact_for_nearly_parallel_planes(angle):
    """v . x >= 1, a copy of it turned by ``angle`` (offset 1, or a little less), and v . x
    <= -1, in a random frame and order: the least largest penetration is exactly 1 (at v . x
    = 0 the turned copy is penetrated by 1 at most on its side), however nearly parallel the
    first two are (where they meet lies ~1 / angle away: bisectors through it lose digits)."""
    rng = np.random.default_rng(12)
    turned = np.array([math.cos(angle), math.sin(angle), 0.0])
    for offset in (1.0, 1.0 - 1e-3, 1.0 - 1e-9):
        for _ in range(10):
            soft = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], [*(turned * offset), *turned],
                             [-1.0, 0.0, 0.0, -1.0, 0.0, 0.0]])  # fmt: skip
            rot = _rotation(rng)
            planes = _planes(np.column_stack([soft[:, :3] @ rot.T, soft[:, 3:] @ rot.T])[
                rng.permutation(3)])  # fmt: skip
            k, x, y, z = _lp3d(planes, 3, 3.0, 0.0, 0.0, 0.0, False)
            assert k < 3
            v = np.array(_lp4d(planes, 3, 0, k, 3.0, x, y, z, np.empty((3, 6))))
            assert _penetration(planes, v).max() == pytest.approx(1.0, abs=1e-12)


def test_the_fallback_is_unmoved_by_duplicated_planes():
    """The same infeasible soft planes with some repeated (exact copies, same-direction
    parallels of themselves): the same least largest penetration as without the copies."""
    rng = np.random.default_rng(11)
    vmax = 2.0
    checked = 0
    for _ in range(60):
        n = rng.integers(3, 9)
        normal = rng.normal(size=(n, 3))
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        soft = np.column_stack([normal * rng.uniform(0.2, 1.5, (n, 1)) * vmax, normal])
        doubled = _planes(np.concatenate([soft, soft[rng.integers(0, n, 4)]])[
            rng.permutation(n + 4)])  # fmt: skip
        depths = []
        for planes in (_planes(soft), doubled):
            k, x, y, z = _lp3d(planes, len(planes), vmax, 0.0, 0.0, 0.0, False)
            if k == len(planes):
                break
            v = np.array(_lp4d(planes, len(planes), 0, k, vmax, x, y, z,
                               np.empty((len(planes), 6))))  # fmt: skip
            assert np.isfinite(v).all() and np.linalg.norm(v) <= vmax + 1e-9
            depths.append(_penetration(soft, v).max())
        if len(depths) == 2:
            assert depths[1] == pytest.approx(depths[0], abs=1e-9)
            checked += 1
    assert checked > 30


def test_the_reachable_polyhedron_is_inscribed_in_the_ball():
    """Every vertex of {x : x . n_k <= REACH_INRADIUS} on the unit sphere or inside it, and
    one on it: the polyhedron is the largest of its shape inside the reachable ball."""
    normals = REACH_NORMALS
    assert normals.shape == (32, 3)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    assert 0.92 < REACH_INRADIUS < 0.93
    sample = _ball_sample(1.0, 200000, seed=3) / 1.0
    directions = sample / np.linalg.norm(sample, axis=1, keepdims=True)
    # along any direction the polyhedron reaches inradius / max_k(d . n_k) <= 1
    reach = REACH_INRADIUS / (directions @ normals.T).max(axis=1)
    assert reach.max() <= 1.0 + 1e-12 and reach.max() > 0.999
    assert reach.min() >= REACH_INRADIUS - 1e-12


# ---------------------------------------------------------------------------- the planes
@settings(max_examples=300, deadline=None)
@given(
    p=st.tuples(st.floats(-4, 4), st.floats(-4, 4), st.floats(-4, 4)),
    w=st.tuples(st.floats(-3, 3), st.floats(-3, 3), st.floats(-3, 3)),
)  # fmt: skip
def test_orca_plane_is_the_nearest_exit_from_the_truncated_velocity_obstacle(p, w):
    """v_rel + u lies on the boundary of VO^tau (the relative velocities that close to
    within r before tau), n points out of it, and no boundary point is nearer to v_rel."""
    r = 0.33
    p, w = np.array(p), np.array(w)
    if np.linalg.norm(p) <= r + 1e-3:
        return

    def closest(v):  # closest distance over [0, tau] moving at relative velocity v
        vv = v @ v
        t = 0.0 if vv == 0 else min(max(p @ v / vv, 0.0), TAU)
        return np.linalg.norm(p - t * v)

    qx, qy, qz, nx, ny, nz = _orca_plane(*p, *w, 0.0, 0.0, 0.0, r, TAU, 0.1, 0)
    u = 2 * np.array([qx, qy, qz])
    n = np.array([nx, ny, nz])
    assert np.linalg.norm(n) == pytest.approx(1.0)
    edge = w + u
    assert closest(edge) == pytest.approx(r, abs=1e-9)
    assert closest(edge + 1e-6 * n) >= r - 1e-12
    assert closest(edge - 1e-6 * n) < r
    inside = closest(w) < r
    length = np.linalg.norm(u)
    rng = np.random.default_rng(0)
    probes = rng.normal(size=(400, 3))
    probes *= 0.999 * length / np.linalg.norm(probes, axis=1, keepdims=True)
    for probe in w + probes:
        assert (closest(probe) < r) == inside or length < 1e-9


def test_the_obstacle_plane_of_a_sphere_is_its_tangent_plane():
    """A drone 2 m from an obstacle's nearest point, straight ahead along x: it may approach
    the supporting plane at (d - body) / tau, and fly along it freely."""
    model = head_on(gap=8.0)
    obs = _with_obstacles(model.observe(), [[2.0, 0.0, 0.0]], [2.0], rows=[0])
    body = R_COMBINED / 2
    limit = (2.0 - body) / TAU
    layer = Orca(OrcaParams(radius=0.3))
    toward = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    safe, _ = layer.velocities(obs, toward)
    np.testing.assert_allclose(safe[0], [limit, 0.0, 0.0], atol=1e-12)
    along = np.array([[0.3, 2.0, -1.0], [0.0, 0.0, 0.0]])  # slower than the bound: kept
    safe, changed = layer.velocities(obs, along)
    assert not changed[0]
    np.testing.assert_array_equal(safe[0], along[0])


# ---------------------------------------------------------------------------- pairs
def test_a_head_on_pair_sidesteps_by_the_same_amount_in_opposite_directions():
    """p = (2, 0, 0), v_rel = (2, 0, 0): on the cone's axis every side is as near, and both
    drones pick opposite ones (each to its own right, as in the plane); each takes half of
    u, which puts its velocity at v cos(a) along the leg at a = asin(r / |p|)."""
    model = head_on()
    a = math.asin(R_COMBINED / 2.0)
    expected = math.cos(a) * np.array([math.cos(a), -math.sin(a), 0.0])
    actions = model.policy.decide(model.observe()).actions  # velocity commands
    np.testing.assert_allclose(actions[0], expected, atol=1e-12)
    np.testing.assert_allclose(actions[1], -expected, atol=1e-12)  # reciprocity
    changes = actions - model.engine.vel
    np.testing.assert_allclose(changes[0], -changes[1], atol=1e-12)


@pytest.mark.parametrize(("safety", "steps"), [("orca", 10), ("cbf", 40)])
def test_two_drones_at_the_same_place_and_velocity_separate(safety, steps):
    """p = 0 and v_rel = 0 leave no direction between the two: each leaves along one of its
    own identity's (a shared one would move both alike, in lockstep, for ever). Same goal,
    so the controller gives both the same command: only the layer can part them."""
    extra = {"max_accel": 6.0} if safety == "cbf" else {}
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, dim=3, safety=safety,
                          rng=0, **extra)  # fmt: skip
    engine = model.engine
    engine.pos[:] = 10.0
    engine.vel[:] = 0.0
    model.scenario.goal[:] = 17.0
    engine.invalidate()
    gaps = []
    for _ in range(steps):
        model.step()
        gaps.append(float(np.linalg.norm(engine.pos[0] - engine.pos[1])))
    assert gaps[0] > 0.0
    assert gaps[-1] > model.config.collision_radius


def test_each_identity_has_a_direction_of_its_own():
    """The tie-breaking directions: unit vectors, pairwise different for a thousand
    identities, in the plane and in space."""
    for own, dim in ((_own_direction2, 2), (_own_direction3, 3)):
        d = np.array([own(k) for k in range(1000)])
        assert d.shape == (1000, dim)
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
        gaps = np.linalg.norm(d[:, None] - d[None], axis=-1) + 3.0 * np.eye(1000)
        assert gaps.min() > 1e-4
    # spread over the sphere (its heights uniform), not bunched
    z = np.array([_own_direction3(k)[2] for k in range(1000)])
    assert abs((z > 0).mean() - 0.5) < 0.02


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_head_on_pair_passes_without_contact_along_every_axis(axis):
    """Along z the sideways choice needs its other branch (a x x): the pair passes there too."""
    model = head_on(speed=1.0, gap=4.0, axis=axis)
    unit = np.eye(3)[axis]
    model.scenario.goal[:] = [10.0 + 4.0 * unit, 10.0 - 4.0 * unit]
    for _ in range(900):
        model.step()
    metrics = model.metrics
    assert metrics["collisions_total"] == 0
    assert metrics["closest_approach"] == pytest.approx(R_COMBINED, abs=0.01)
    assert metrics["arrived_fraction"] == 1.0


def test_a_pair_that_would_miss_within_the_horizon_keeps_its_commands_bit_for_bit():
    model = head_on(speed=0.2, gap=2.0)  # closes at 0.4 m/s: contact after 4 s > tau
    obs = model.observe()
    inner = model.policy.inner.decide(obs).actions
    decision = model.policy.decide(obs)
    np.testing.assert_array_equal(decision.actions, inner)
    np.testing.assert_array_equal(decision.memory["intervention"], [0.0, 0.0])


def test_a_finite_acceleration_limit_keeps_every_command_reachable():
    """The reachable ball's inscribed polyhedron is hard: every change within max_accel dt."""
    model = head_on(speed=3.0, gap=1.5, max_accel=2.0)
    step = 2.0 * model.config.dt
    actions = model.policy.decide(model.observe()).actions
    change = np.linalg.norm(actions - model.engine.vel, axis=1)
    assert (change <= step + 1e-12).all() and (change >= REACH_INRADIUS * step - 1e-12).all()


def test_a_braking_pair_with_finite_acceleration_does_not_touch():
    model = head_on(speed=2.0, gap=6.0, max_accel=6.0)
    for _ in range(600):
        model.step()
        assert model.metrics["collisions"] == 0
    assert model.metrics["closest_approach"] > 0.3


# ---------------------------------------------------------------------------- obstacles
def _with_obstacles(obs, rel, dist, rows):
    """``obs`` with an obstacle reading of one slot: nearest point ``rel`` and signed
    distance ``dist`` for ``rows`` (the others sense nothing)."""
    n = obs.n
    slots_rel = np.zeros((n, 1, 3))
    slots_dist = np.zeros((n, 1))
    mask = np.zeros((n, 1))
    for k, row in enumerate(rows):
        slots_rel[row, 0] = rel[k]
        slots_dist[row, 0] = dist[k]
        mask[row, 0] = 1.0
    own = {**(obs.own or {}), "obstacle_rel_pos": slots_rel, "obstacle_dist": slots_dist,
           "obstacle_mask": mask}  # fmt: skip
    return dataclasses.replace(obs, own=own)


def _sphere_reading(pos, centre, radius):
    offset = centre - pos
    d = np.linalg.norm(offset)
    return offset / d * (d - radius), d - radius


def _with_readings(obs, readings):
    """``obs`` with an obstacle reading: ``readings`` maps a row to its slots, each a nearest
    point and a signed distance (the other rows sense nothing)."""
    slots = max(len(v) for v in readings.values())
    rel = np.zeros((obs.n, slots, 3))
    dist = np.zeros((obs.n, slots))
    mask = np.zeros((obs.n, slots))
    for row, reading in readings.items():
        for t, (point, d) in enumerate(reading):
            rel[row, t], dist[row, t], mask[row, t] = point, d, 1.0
    own = {**(obs.own or {}), "obstacle_rel_pos": rel, "obstacle_dist": dist,
           "obstacle_mask": mask}  # fmt: skip
    return dataclasses.replace(obs, own=own)


@pytest.mark.parametrize("d", [0.1, 0.0, -0.05])
def test_an_obstacle_within_the_body_is_left_within_one_step(d):
    """Closer to the obstacle than the own radius (or inside it: the nearest point is then
    the way out): the plane's horizon is dt, not tau, so the drone must leave at (body - d) /
    dt, and the layer flies straight out at its top speed (3 m/s here: faster than the
    plane asks, the plane turns soft against the speed limit)."""
    body = R_COMBINED / 2
    dt = 0.01
    way_in = np.array([2.0, -1.0, 2.0]) / 3.0  # from the drone to the nearest point
    qx, qy, qz, nx, ny, nz = _obstacle_plane(*(way_in * max(abs(d), 1e-3)), d, body, TAU, dt)
    n = np.array([nx, ny, nz])
    outward = -way_in if d >= 0.0 else way_in  # away from the obstacle's inside
    np.testing.assert_allclose(n, outward, atol=1e-15)
    # permitted: (v - q) . n >= 0, i.e. moving out at least (body - d) / dt
    assert np.array([qx, qy, qz]) @ n == pytest.approx((body - d) / dt, rel=1e-12)
    model = head_on(gap=8.0)
    obs = _with_readings(model.observe(), {0: [(way_in * max(abs(d), 1e-3), d)]})
    safe, changed = Orca(OrcaParams(radius=0.3)).velocities(obs, np.zeros((2, 3)))
    assert changed[0]
    np.testing.assert_allclose(safe[0], 3.0 * outward, atol=1e-9)


def test_a_drone_squeezed_between_two_obstacles_balances_them():
    """Two obstacles either side along y, closer than the drone's own radius to both (a gap
    narrower than it): their planes contradict each other and turn soft, and the fallback
    penetrates both by as little as it can: v . y - (d_up - body) / dt = -v . y - (d_down -
    body) / dt, away from the nearer one, within the speed limit."""
    body = R_COMBINED / 2
    dt = 0.01
    d_up, d_down = 0.1, 0.15
    model = head_on(gap=8.0)
    obs = _with_readings(model.observe(), {
        0: [((0.0, d_up, 0.0), d_up), ((0.0, -d_down, 0.0), d_down)],
    })  # fmt: skip
    for pref in ([0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0]):
        safe, changed = Orca(OrcaParams(radius=0.3)).velocities(obs, np.array([pref, pref]))
        assert changed[0]
        vy = (d_up - d_down) / (2 * dt)  # -2.5 m/s: toward the middle
        assert safe[0, 1] == pytest.approx(vy, abs=1e-9)
        up, down = safe[0, 1] - (d_up - body) / dt, -safe[0, 1] - (d_down - body) / dt
        assert up == pytest.approx(down, abs=1e-9) and up > 0  # both penetrated, equally
        assert np.linalg.norm(safe[0]) <= 3.0 + 1e-9


@pytest.mark.parametrize(
    ("start", "goal", "arrives"),
    [
        ([10.0, 10.0, 10.0], [16.0, 10.05, 10.02], True),  # nearly through its centre
        ([10.0, 10.0, 10.0], [16.0, 10.0, 10.0], False),  # dead centre: stops against it
        ([10.0, 11.6, 10.0], [16.0, 11.6, 10.0], True),  # its path would graze it
    ],
)
def test_a_drone_clear_of_an_obstacle_stays_clear(start, goal, arrives):
    """Kinematic flight at the layer's velocities (goto's preference at 3 m/s) past a sphere
    of radius 1.5 m: the drone's body never touches it (the distance to a convex set falls at
    most at the approach speed to its supporting plane, which the plane caps at (d - body) /
    tau); ORCA does not plan, so a goal straight behind the sphere is not reached."""
    model = head_on(gap=8.0)
    layer = Orca(OrcaParams(radius=0.3))
    body = R_COMBINED / 2
    centre, radius = np.array([13.0, 10.0, 10.0]), 1.5
    pos, goal = np.array(start), np.array(goal)
    dt = model.config.dt
    closest = math.inf
    for _ in range(1200):
        model.engine.pos[:] = [pos, [1.0, 1.0, 1.0]]  # the other far away: only the obstacle
        model.engine.invalidate()
        rel, d = _sphere_reading(pos, centre, radius)
        obs = _with_obstacles(model.observe(), [rel], [d], rows=[0])
        offset = goal - pos
        dist = max(np.linalg.norm(offset), 1e-12)
        want = offset / dist * min(3.0, dist / dt)
        vel, _ = layer.velocities(obs, np.array([want, [0.0, 0.0, 0.0]]))
        pos = pos + vel[0] * dt
        model.engine.vel[0] = vel[0]
        closest = min(closest, np.linalg.norm(pos - centre) - radius)
        assert closest >= body
    assert (np.linalg.norm(pos - goal) < 1e-6) == arrives
    if not arrives:
        assert closest < body + 0.01  # pressed against it, not held off far away


# ---------------------------------------------------------------------------- crossing
def test_drones_start_on_a_sparse_sphere_and_head_for_the_antipodal_point():
    model = CrossingModel(n_agents=100, world_size=60.0, dim=3, rng=3)
    pos, goal = model.engine.pos, model.scenario.goal
    assert pos.shape == (100, 3)
    centre = np.full(3, 30.0)
    radius = np.linalg.norm(pos - centre, axis=1)
    assert np.abs(radius - 27.0).max() <= np.sqrt(3) * 0.05 + 1e-12  # sphere of 0.45 L, jitter
    np.testing.assert_allclose(goal - centre, -(pos - centre))  # antipodal
    gaps = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(100) * 1e9
    assert gaps.min() >= 3 * model.config.collision_radius
    # spread over the whole sphere: every octant holds about an eighth
    octant = ((pos - centre) > 0) @ np.array([1, 2, 4])
    assert np.bincount(octant, minlength=8).min() >= 9
    np.testing.assert_array_equal(model.observe().own["goal"], goal)
    again = CrossingModel(n_agents=100, world_size=60.0, dim=3, rng=3).engine.pos
    np.testing.assert_array_equal(again, pos)


def test_the_fibonacci_sphere_is_evenly_spaced():
    for n in (10, 100, 1000):
        points = fibonacci_sphere(np.arange(n), n)
        np.testing.assert_allclose(np.linalg.norm(points, axis=1), 1.0)
        np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=2.0 / n)
        # nearest spacing about 3.09 / sqrt(n), the even spacing of n points on the sphere
        assert 2.9 < unit_spacing(n, 3) * math.sqrt(n) < 3.2


def test_a_crowded_sphere_fails_with_one_line_naming_it():
    with pytest.raises(ConfigError) as err:
        CrossingModel(n_agents=1000, world_size=20.0, dim=3, rng=0)
    message = str(err.value)
    assert "\n" not in message and "ring_radius" in message and "sphere" in message
    assert "world_size >=" in message
    needed = float(message.split("world_size >= ")[1].split(" m")[0])
    for seed in range(3):  # fits, and its starts (jittered) really are that far apart
        model = CrossingModel(n_agents=1000, world_size=math.ceil(needed), dim=3, rng=seed)
        pos = model.engine.pos
        gaps = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(1000) * 1e9
        assert gaps.min() >= 3 * model.config.collision_radius  # the gap the error asks for
    # a sphere holds many more than a ring of the same radius
    CrossingModel(n_agents=1000, world_size=60.0, dim=3, rng=0)
    with pytest.raises(ConfigError, match="ring"):
        CrossingModel(n_agents=1000, world_size=60.0, rng=0)


@pytest.mark.parametrize("seed", range(5))
def test_behind_orca_nobody_collides_on_the_sphere_and_without_it_the_crossing_does(seed):
    safe = run_until_arrived(CrossingModel(n_agents=100, dim=3, safety="orca", rng=seed), 5000)
    summary = safe.summary()
    assert summary["collisions_total"] == 0
    assert summary["closest_approach"] >= 0.3
    assert summary["arrived_fraction"] == 1.0 and summary["time_to_goal"] is not None
    assert summary["mean_intervention"] > 0
    plain = run_until_arrived(CrossingModel(n_agents=100, dim=3, rng=seed), 5000).summary()
    assert plain["collisions_total"] == 100 * 99 / 2 and plain["mean_intervention"] == 0.0
    assert plain["time_to_goal"] < summary["time_to_goal"]  # the detours cost time


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_a_thousand_drones_cross_the_sphere_behind_orca_without_a_collision(seed):
    model = CrossingModel(n_agents=1000, world_size=60.0, dim=3, safety="orca", rng=seed)
    summary = run_until_arrived(model, 10000).summary()
    assert summary["collisions_total"] == 0 and summary["arrived_fraction"] == 1.0
    assert summary["closest_approach"] >= 0.3


def test_the_layer_around_the_crossing_controller_passes_the_locality_audit_in_3d():
    checked = assert_local("goto", "crossing", n_agents=30, steps=12, world_size=8.0,
                           ring_radius=3.0, dt=0.1, dim=3, safety="orca",
                           sensor_noise_vel=0.05)  # fmt: skip
    assert checked == 30 * 12


def test_the_audit_command_passes_in_3d(capsys):
    code = main(["audit", "crossing", "--policy", "goto", "--agents", "20", "--steps", "10",
                 "--dim", "3", "--safety", "orca", "--world-size", "8", "--ring-radius", "3",
                 "--dt", "0.1"])  # fmt: skip
    assert code == 0, capsys.readouterr()


def test_run_flies_the_crossing_in_3d_from_the_command_line(tmp_path):
    out = tmp_path / "run"
    code = main(["run", "crossing", "--agents", "20", "--steps", "30", "--dim", "3",
                 "--safety", "orca", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["collisions_total"] == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["dim"] == 3 and config["safety"] == "orca" and config["policy"] == "goto"


def test_the_env_sees_a_3d_goal():
    from envs import crossing_v0

    env = crossing_v0.parallel_env(n_agents=2, world_size=12.0, ring_radius=5.0, jitter=0.0,
                                   dim=3, max_cycles=50)  # fmt: skip
    obs, _ = env.reset(seed=0)
    goal = env.unwrapped.layout.view(obs["drone_0"], "goal_rel_pos")
    assert goal.shape == (3,)
    np.testing.assert_allclose(np.linalg.norm(goal), 10.0, rtol=1e-6)


@pytest.mark.parametrize("safety", ["none", "orca", "cbf"])
def test_learner_actions_fly_behind_the_layer_in_the_3d_envs(safety):
    """A stand-in learner (full acceleration toward the own goal) in the batched env in 3-D:
    it collides alone, not behind either layer."""
    from swarm.marl import BatchedSwarmEnv

    extra = {"max_accel": 20.0} if safety == "cbf" else {}
    env = BatchedSwarmEnv("crossing", n_envs=2, n_agents=8, world_size=12.0, ring_radius=3.0,
                          dim=3, max_speed=1.0, dt=0.02, safety=safety, max_cycles=500,
                          **extra)  # fmt: skip
    obs, _ = env.reset(seed=0)
    scenario, bound = env.core.scenario, env.core.bound
    total, moved = np.zeros(2), 0.0
    for _ in range(400):
        goal = env.layout.view(obs, "goal_rel_pos")
        assert goal.shape == (2, 8, 3)
        norm = np.linalg.norm(goal, axis=-1, keepdims=True)
        obs, *_ = env.step(goal / np.maximum(norm, 1e-9) * bound)
        total = np.maximum(total, scenario.collisions_total(env.core.engine))
        change = env.core.engine.intervention
        moved = max(moved, 0.0 if change is None else float(change.max()))
    if safety == "none":
        assert total.min() > 0 and moved == 0.0
    else:
        assert total.max() == 0 and moved > 0.0


# ---------------------------------------------------------------------------- real sensing
def test_crossing_a_3d_forest_behind_orca_touches_no_pole(tmp_path):
    """The engine's own 3-D obstacle reading (a sphere and a box in a JSON file, between the
    two drones of a head-on pair): no contact, no collision."""
    shapes = tmp_path / "yard.json"
    shapes.write_text(json.dumps({
        "spheres": [{"center": [10.0, 10.0, 10.0], "radius": 1.0}],
        "boxes": [{"min": [6.5, 9.5, 9.0], "max": [7.5, 10.5, 11.0]}],
    }))  # fmt: skip
    for safety in ("orca", "none"):
        model = CrossingModel(n_agents=2, world_size=20.0, ring_radius=8.0, jitter=0.0, dim=3,
                              safety=safety, obstacles=str(shapes), rng=0)  # fmt: skip
        engine = model.engine
        engine.pos[:] = [[2.0, 10.0, 10.02], [18.0, 10.0, 10.0]]
        model.scenario.goal[:] = [[18.0, 10.0, 10.02], [2.0, 10.0, 10.0]]
        engine.invalidate()
        assert model.observe().own["obstacle_rel_pos"].shape[2] == 3
        for _ in range(1500):
            model.step()
        metrics = model.metrics
        if safety == "none":  # goto alone flies through both
            assert metrics["obstacle_contacts_total"] > 0
            continue
        assert metrics["obstacle_contacts_total"] == 0 and metrics["collisions_total"] == 0
        assert metrics["obstacle_clearance"] >= R_COMBINED / 2 * 0.98


# ---------------------------------------------------------------------------- cbf in 3-D
def test_cbf_in_3d_a_head_on_pair_brakes_before_touching():
    """Two drones at 3 m/s straight at each other along z with 6 m/s^2 behind the barrier
    layer in 3-D: each brakes in time, they stop about Ds apart, never closer."""
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, dim=3, safety="cbf",
                          max_accel=6.0, rng=0)  # fmt: skip
    engine = model.engine
    engine.pos[:] = [[10.0, 10.0, 2.0], [10.0, 10.0, 18.0]]
    model.scenario.goal[:] = [[10.0, 10.0, 18.0], [10.0, 10.0, 2.0]]
    engine.invalidate()
    closest = np.inf
    for _ in range(900):
        model.step()
        closest = min(closest, float(np.linalg.norm(engine.pos[0] - engine.pos[1])))
    assert R_COMBINED * 0.98 <= closest <= R_COMBINED * 1.1
    assert model.summary()["collisions_total"] == 0


def _rotation(rng: np.random.Generator) -> np.ndarray:
    """A random proper rotation (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def test_the_3d_barriers_in_the_plane_z_0_are_the_2d_ones():
    """_barrier_plane and _wall_plane with nothing along z give the 2-D half-planes: the same
    point, and the normal (-dy, dx) of the line's direction (its permitted left side)."""
    rng = np.random.default_rng(4)
    for _ in range(200):
        a = rng.uniform(0, 2 * np.pi)
        mx, my = math.cos(a), math.sin(a)
        norm = rng.uniform(0.5 * DS_3D, 4.0)  # both sides of Ds: the "too close" branch too
        dv = rng.uniform(-4, 4, 2)
        alpha, share, gamma = rng.uniform(2, 20), rng.uniform(0.2, 1), rng.uniform(0.3, 2)
        amax = 6.0
        line = _barrier_line(mx, my, norm, *dv, alpha, share, DS_3D, gamma, amax)
        plane = _barrier_plane(mx, my, 0.0, norm, *dv, 0.0, alpha, share, DS_3D, gamma, amax)
        _assert_same_half_space(line, plane)
        line = _wall_line(mx, my, norm, *dv, amax, DS_3D / 2, gamma)
        plane = _wall_plane(mx, my, 0.0, norm, *dv, 0.0, amax, DS_3D / 2, gamma)
        _assert_same_half_space(line, plane)


def _assert_same_half_space(line, plane):
    qx, qy, dx, dy = line
    np.testing.assert_allclose(plane, [qx, qy, 0.0, -dy, dx, 0.0], rtol=1e-12, atol=1e-12)


def test_the_3d_barriers_rotate_with_the_frame():
    """Rotate the direction, the relative (own) velocity: the barrier's plane rotates with
    them (point and normal), for the pair barrier and the obstacle's."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        rot = _rotation(rng)
        m = rng.normal(size=3)
        m /= np.linalg.norm(m)
        norm = rng.uniform(0.5 * DS_3D, 4.0)
        dv = rng.uniform(-4, 4, 3)
        args = rng.uniform(2, 20), rng.uniform(0.2, 1), DS_3D, rng.uniform(0.3, 2), 6.0
        plane = np.array(_barrier_plane(*m, norm, *dv, *args))
        turned = np.array(_barrier_plane(*(rot @ m), norm, *(rot @ dv), *args))
        np.testing.assert_allclose(turned[:3], rot @ plane[:3], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(turned[3:], rot @ plane[3:], rtol=1e-12, atol=1e-12)
        wall = np.array(_wall_plane(*m, norm, *dv, 6.0, DS_3D / 2, args[3]))
        turned = np.array(_wall_plane(*(rot @ m), norm, *(rot @ dv), 6.0, DS_3D / 2, args[3]))
        np.testing.assert_allclose(turned[:3], rot @ wall[:3], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(turned[3:], rot @ wall[3:], rtol=1e-12, atol=1e-12)


def test_cbf_in_3d_a_drone_stops_before_a_sphere_and_a_box(tmp_path):
    """Two drones at 3 m/s with 6 m/s^2, each flying at the middle of an obstacle whose face
    stands between it and its goal (a sphere, a box): each stops with its body short of the
    face, close to it, and never touches it (goto alone flies through both)."""
    shapes = tmp_path / "yard.json"
    shapes.write_text(json.dumps({
        "spheres": [{"center": [10.0, 6.0, 10.0], "radius": 1.5}],
        "boxes": [{"min": [9.0, 13.0, 9.0], "max": [11.0, 15.0, 11.0]}],
    }))  # fmt: skip
    for safety in ("cbf", "none"):
        model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, dim=3, safety=safety,
                              max_accel=6.0, obstacles=str(shapes), rng=0)  # fmt: skip
        engine = model.engine
        engine.pos[:] = [[2.0, 6.0, 10.0], [18.0, 14.0, 10.0]]
        model.scenario.goal[:] = [[18.0, 6.0, 10.0], [2.0, 14.0, 10.0]]
        engine.invalidate()
        for _ in range(1000):
            model.step()
        metrics = model.metrics
        if safety == "none":
            assert metrics["obstacle_contacts_total"] > 0
            continue
        assert metrics["obstacle_contacts_total"] == 0
        body = DS_3D / 2
        # the faces at x = 8.5 (sphere) and x = 11 (box): stopped short of each, close to it
        gaps = np.array([8.5 - engine.pos[0, 0], engine.pos[1, 0] - 11.0])
        assert (gaps >= body * 0.98).all() and (gaps <= body + 0.02).all()
        assert np.linalg.norm(engine.vel, axis=1).max() < 0.01


def test_cbf_in_3d_each_drone_of_a_head_on_pair_brakes_by_half():
    """A pair closing at 4 m/s along a slanted axis, 1.5 m apart, commanding no
    acceleration: each drone is held to m . a = -b / (2 |dp|) (half of the pair's budget b,
    rebuilt here from the paper's barrier with a_i + a_j = 12 m/s^2), the two equal and
    opposite."""
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, dim=3, safety="cbf",
                          max_accel=6.0, rng=0)  # fmt: skip
    engine = model.engine
    axis = np.array([1.0, 2.0, -2.0]) / 3.0
    engine.pos[:] = [10.0 - axis * 0.75, 10.0 + axis * 0.75]
    engine.vel[:] = [axis * 2.0, -axis * 2.0]
    engine.invalidate()
    layer = Cbf(OrcaParams(radius=0.3, max_accel=6.0))
    accel, _ = layer.filter(model.observe(), np.zeros((2, 3)), "acceleration")
    dp = engine.pos[0] - engine.pos[1]
    dv = engine.vel[0] - engine.vel[1]
    norm, a = np.linalg.norm(dp), 12.0
    root = math.sqrt(2 * a * (norm - DS_3D))
    h = root + dp @ dv / norm
    b = h**3 * norm - (dv @ dp) ** 2 / norm**2 + dv @ dv + a * (dv @ dp) / root
    half = -0.5 * b / norm
    assert 0 < half < 6.0  # it binds, within the limit
    np.testing.assert_allclose(accel[0], half * dp / norm, atol=1e-9)
    np.testing.assert_allclose(accel[1], -half * dp / norm, atol=1e-9)


@pytest.mark.parametrize("n_agents", [8, 32])
def test_cbf_in_3d_a_small_crossing_has_no_contact(n_agents):
    model = CrossingModel(n_agents=n_agents, world_size=20.0, dim=3, safety="cbf",
                          max_accel=20.0, rng=1)  # fmt: skip
    summary = run_until_arrived(model, 3000).summary()
    assert summary["collisions_total"] == 0 and summary["closest_approach"] >= 0.3
    assert summary["arrived_fraction"] == 1.0


def test_cbf_in_3d_passes_the_audit():
    checked = assert_local("goto", "crossing", n_agents=16, steps=20, dim=3, safety="cbf",
                           max_accel=10.0, world_size=8.0, ring_radius=3.0, dt=0.05)  # fmt: skip
    assert checked == 16 * 20


# ---------------------------------------------------------------------------- 2-D unchanged
def test_the_2d_crossing_is_bit_for_bit_what_it_was():
    """The 3-D layer is its own kernels: the plane's runs are unchanged (fingerprint of the
    positions and velocities recorded before the 3-D layer existed)."""
    fingerprints = {}
    for name, config, steps in [
        ("orca", {"n_agents": 100, "safety": "orca", "rng": 0}, 1500),
        ("orca_accel", {"n_agents": 60, "safety": "orca", "max_accel": 8.0, "rng": 1}, 1500),
        ("cbf", {"n_agents": 16, "world_size": 20.0, "safety": "cbf", "max_accel": 20.0,
                 "rng": 0}, 1000),
    ]:  # fmt: skip
        model = CrossingModel(**config)
        digest = hashlib.sha256()
        for _ in range(steps):
            model.step()
            digest.update(model.engine.pos.tobytes())
            digest.update(model.engine.vel.tobytes())
        fingerprints[name] = digest.hexdigest()[:16]
    assert fingerprints == {
        "orca": "b262b58aef4b2b83", "orca_accel": "97c5b12d8b14c156", "cbf": "f9674d8c01e31e6d",
    }  # fmt: skip


# ---------------------------------------------------------------------------- round poles
FOREST_CROSSING = {
    "n_agents": 100, "world_size": 60.0, "dim": 3, "obstacles": "forest",
    "obstacle_count": 300, "safety": "orca", "dt": 0.01, "max_speed": 3.0,
    "collision_radius": 0.3, "sense_radius": 2.0, "safety_horizon": 2.0, "safety_margin": 0.25,
}  # fmt: skip


@pytest.mark.parametrize("seed", [0, 1])
def test_behind_orca_every_drone_crosses_a_3d_forest_untouched(seed):
    """The 3-D crossing through 300 round poles (floor to ceiling) behind ORCA: no pole
    contact, no collision, and every drone arrives, since the plane at a cylinder's nearest
    point turns as a drone slides round it (as round the 2-D forest's discs)."""
    model = run_until_arrived(CrossingModel(**FOREST_CROSSING, rng=seed), 6000)
    assert model.engine.obstacles.n_cylinders == 300
    metrics = model.metrics
    assert metrics["arrived_fraction"] == 1.0 and not np.isnan(metrics["time_to_goal"])
    assert metrics["obstacle_contacts_total"] == 0 and metrics["collisions_total"] == 0


def test_the_same_forest_of_square_poles_stops_drones_against_flat_faces(tmp_path):
    """Known result the round poles fix: the same poles as squares (boxes of side 2
    pole_radius at the same centres, a JSON file) stop drones whose goal lies straight
    behind a flat face: ORCA turns it into a fixed plane and does not plan round it."""
    forest = CrossingModel(**FOREST_CROSSING, rng=0).engine.obstacles
    r = forest.cylinder_radius[:, None]
    lo, hi = forest.cylinder_center - r, forest.cylinder_center + r
    squares = tmp_path / "squares.json"
    squares.write_text(json.dumps({"boxes": [
        {"min": [*a, 0.0], "max": [*b, 60.0]} for a, b in zip(lo.tolist(), hi.tolist(), strict=True)
    ]}))  # fmt: skip
    config = FOREST_CROSSING | {"obstacles": str(squares)}
    model = run_until_arrived(CrossingModel(**config, rng=0), 6000)
    assert model.engine.obstacles.n_boxes == 300
    metrics = model.metrics
    assert metrics["arrived_fraction"] < 0.97
    assert metrics["obstacle_contacts_total"] == 0 and metrics["collisions_total"] == 0
