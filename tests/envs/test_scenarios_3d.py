"""Navigation, formation, rendezvous and Vicsek in 3-D (``dim = 3``), each against a known
result: landmark sensing and the reward against brute-force numpy, the 3-D shapes against
their geometry, Kabsch in SO(3) against a known rotation and scipy, the formation law's
convergence from random starts, the circumcenter law's contraction to one point with the
graph kept connected (Cortés, Martínez, Bullo 2006), the smallest enclosing sphere against
an exhaustive search, and the 3-D Vicsek model's order parameter at low noise (at most the
perfectly aligned value) and at full noise (that of independent headings). Every controller
that flies in 3-D here passes the locality audit."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from pettingzoo.test import parallel_api_test
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation
from scipy.stats import kstest

from envs import consensus_v0, formation_v0, navigation_v0
from envs.consensus import ConsensusModel
from envs.flocking import FlockingModel
from envs.formation import (
    HELIX_RISE,
    HELIX_SLOTS_PER_TURN,
    FormationModel,
    kabsch_3d,
    shape_points,
)
from envs.navigation import NavigationModel
from policies.rendezvous import _enclosing_centres_3d
from swarm.config import ConfigError
from swarm.marl import BatchedSwarmEnv, SwarmParallelEnv
from swarm.testing import assert_local


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A rotation of SO(3): the Q of a Gaussian matrix's QR, its columns' signs fixed so that
    it is Haar-distributed, and a column flipped if it is a reflection."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


# ------------------------------------------------------------------ navigation
def brute_force_landmarks(engine, landmarks, reach, slots):
    """What every drone senses and every landmark's nearest alive drone, by numpy over all
    pairs: the reference for the compiled pass."""
    c = engine.config
    R, dim = engine.pos.shape
    E, L = landmarks.shape[:2]
    rel = np.zeros((R, slots, dim))
    mask = np.zeros((R, slots))
    nearest = np.full((E, L), np.inf)
    for i in range(R):
        if not engine.alive[i]:
            continue
        e = engine.env[i]
        d = landmarks[e] - engine.pos[i]
        if c.torus:
            d -= c.world_size * np.round(d / c.world_size)
        dist = np.linalg.norm(d, axis=1)
        nearest[e] = np.minimum(nearest[e], dist)
        order = [lm for lm in np.lexsort((np.arange(L), dist)) if dist[lm] <= reach][:slots]
        rel[i, : len(order)] = d[order]
        mask[i, : len(order)] = 1.0
    return rel, mask, nearest


@pytest.mark.parametrize("boundary", ["box", "torus"])
def test_navigation_senses_landmarks_in_the_cube_as_brute_force_does(boundary):
    env = BatchedSwarmEnv("navigation", n_envs=3, n_agents=12, n_landmarks=9, landmark_slots=4,
                          world_size=6.0, sense_radius=2.5, dim=3, boundary=boundary)  # fmt: skip
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    for _ in range(5):
        env.step(rng.uniform(-3, 3, (3, 12, 3)))
    engine, scenario = env.core.engine, env.core.scenario
    engine.crash([1, 14, 30])
    assert engine.pos.shape == (36, 3) and scenario.landmarks.shape == (3, 9, 3)
    assert np.ptp(scenario.landmarks[..., 2]) > 2.0  # landmarks spread in altitude too
    obs = engine.obs
    rel, mask, nearest = brute_force_landmarks(engine, scenario.landmarks, 2.5, 4)
    assert 0 < mask.sum() < mask.size  # some slots filled, some not: a real check
    np.testing.assert_array_equal(obs.own["landmark_mask"], mask)
    np.testing.assert_allclose(obs.own["landmark_rel_pos"], rel, rtol=0, atol=1e-12)
    np.testing.assert_allclose(scenario.coverage_cost(engine), nearest.sum(axis=1), rtol=1e-12)
    covered = (nearest <= engine.config.cover_radius).mean(axis=1)
    np.testing.assert_array_equal(scenario.landmarks_covered(engine), covered)


def test_navigation_reward_in_the_cube_is_simple_spreads():
    model = NavigationModel(n_agents=6, n_landmarks=4, world_size=5.0, collision_radius=1.5,
                            dim=3, rng=2)  # fmt: skip
    for _ in range(3):
        model.step()
    engine, scenario = model.engine, model.scenario
    engine.pos[0] = engine.pos[1] + [0.5, -0.6, 0.7]  # two pairs closer than 1.5 m
    engine.pos[2] = np.clip(engine.pos[3] - [0.3, 0.9, -0.4], 0.0, 5.0)
    engine.pos[4] = engine.pos[5] + [0.1, 0.1, 0.1]  # and one whose partner crashes
    engine.invalidate()
    engine.crash([5])
    _, _, nearest = brute_force_landmarks(engine, scenario.landmarks, np.inf, 1)
    gaps = np.linalg.norm(engine.pos[:, None] - engine.pos[None], axis=2)
    both = engine.alive[:, None] & engine.alive[None]
    hits = ((gaps < 1.5) & both & ~np.eye(6, dtype=bool)).sum(axis=1)
    want = np.where(engine.alive, -0.5 * nearest.sum() - 0.5 * hits, 0.0)
    assert hits.sum() > 0  # the collision term is exercised
    np.testing.assert_allclose(scenario.reward(engine, np.zeros((6, 3))), want, rtol=1e-12)
    alone = NavigationModel(n_agents=1, n_landmarks=2, dim=3, rng=0)
    alone.engine.crash([0])  # nobody left: each landmark costs the cube's diagonal
    assert alone.scenario.coverage_cost(alone.engine)[0] == pytest.approx(2 * 8.0 * np.sqrt(3))


def test_navigation_messages_carry_a_landmark_in_three_coordinates():
    """Drone 1 cannot sense the landmark (4 m away, range 3 m) but drone 0 can; its message
    (x, y, z, distance, seen) arrives one step later, read relative to drone 1."""
    env = SwarmParallelEnv("navigation", k_neighbors=1, inbox_slots=2, n_agents=2, n_landmarks=1,
                           world_size=10.0, sense_radius=3.0, comm_radius=5.0, dim=3)  # fmt: skip
    env.reset(seed=0)
    engine = env.engine
    engine.pos[:] = [[3.0, 5.0, 6.0], [1.0, 5.0, 6.0]]
    engine.vel[:] = 0.0
    engine.scenario.landmarks[0] = [[5.0, 5.0, 6.0]]
    engine.invalidate()
    obs, *_ = env.step({"drone_0": np.zeros(3), "drone_1": np.zeros(3)})
    assert env.layout.segment("landmark_rel_pos").shape == (3, 3)
    assert env.layout.segment("inbox").shape == (2, 5)
    x = obs["drone_1"]
    assert not env.layout.view(x, "landmark_mask").any()
    assert env.layout.view(x, "inbox_mask").tolist() == [1.0, 0.0]
    own = engine.pos[1]
    want = [5.0 - own[0], 5.0 - own[1], 6.0 - own[2], 2.0, 1.0]
    np.testing.assert_allclose(env.layout.view(x, "inbox")[0], want, atol=1e-5)


@pytest.mark.parametrize(
    "module, fields",
    [
        (navigation_v0, {"n_agents": 4}),
        (formation_v0, {"n_agents": 8, "shape": "cube", "spawn_extent": 6.0}),
        (consensus_v0, {"n_agents": 6}),
    ],
)
def test_pettingzoo_api_in_3d(module, fields):
    env = module.parallel_env(dim=3, max_cycles=20, **fields)
    parallel_api_test(env, num_cycles=25)
    env.reset(seed=1)
    assert env.action_space("drone_0").shape == (3,)
    assert env.layout.segment("own_pos").shape == (3,)
    assert env.engine.pos.shape == (fields["n_agents"], 3)


# ------------------------------------------------------------------ formation: shapes
def test_3d_shapes_have_the_geometry_they_promise():
    sphere = shape_points("sphere", 30, 1.5, 3)
    # all on one sphere: |p|^2 = 2 p . c + (r^2 - |c|^2) holds exactly for some c, r (the
    # slots are centred on their centroid, which is near, not at, the sphere's centre)
    lhs = np.column_stack([2 * sphere, np.ones(30)])
    fit, residual, *_ = np.linalg.lstsq(lhs, (sphere**2).sum(axis=1), rcond=None)
    assert residual[0] < 1e-20 and np.linalg.norm(fit[:3]) < 0.05 * 1.5
    assert pdist(sphere).min() == pytest.approx(1.5)  # the closest two are scale apart
    # the Fibonacci lattice is nearly even: nobody's nearest slot is far beyond scale
    gaps = np.linalg.norm(sphere[:, None] - sphere[None], axis=2) + np.eye(30) * 1e9
    assert gaps.min(axis=1).max() < 1.5 * 1.3
    cube = shape_points("cube", 27, 2.0, 3)
    for axis in range(3):
        np.testing.assert_allclose(np.unique(cube[:, axis].round(9)), [-2.0, 0.0, 2.0])
    assert len({tuple(p) for p in cube.round(9)}) == 27
    partial = shape_points("cube", 10, 1.0, 3)  # 3 x 3 x 3 lattice, filled from the bottom
    assert np.unique(partial[:, 2].round(9)).size == 2
    helix = shape_points("helix", 20, 1.5, 3)
    np.testing.assert_allclose(np.linalg.norm(np.diff(helix, axis=0), axis=1), 1.5)
    np.testing.assert_allclose(np.diff(helix[:, 2]), HELIX_RISE * 1.5)
    # seen from above a circle (fitted as the sphere above), slots a fixed angle apart
    lhs = np.column_stack([2 * helix[:, :2], np.ones(20)])
    fit, residual, *_ = np.linalg.lstsq(lhs, (helix[:, :2] ** 2).sum(axis=1), rcond=None)
    assert residual[0] < 1e-20
    axis = helix[:, :2] - fit[:2]
    turn = 2 * np.pi / HELIX_SLOTS_PER_TURN
    chord = 1.5 * math.sqrt(1 - HELIX_RISE**2)  # the horizontal part of a 1.5 m step
    np.testing.assert_allclose(np.hypot(*axis.T), chord / (2 * math.sin(turn / 2)))
    np.testing.assert_allclose(np.diff(np.unwrap(np.arctan2(axis[:, 1], axis[:, 0]))), turn)
    for points in (sphere, cube, partial, helix):
        np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-12)


def test_planar_shapes_in_the_cube_lie_level_through_the_anchor():
    for shape in ("line", "wedge", "circle", "grid", [(0, 0), (2, 0), (0, 1)]):
        n = 3 if not isinstance(shape, str) else 9
        flat = shape_points(shape, n, 1.5)
        level = shape_points(shape, n, 1.5, 3)
        np.testing.assert_array_equal(level[:, :2], flat)
        np.testing.assert_array_equal(level[:, 2], 0.0)
    model = FormationModel(n_agents=9, shape="circle", world_size=30.0, dim=3, rng=0)
    np.testing.assert_array_equal(model.engine.obs.known["anchor"], [15.0, 15.0, 15.0])
    points = FormationModel(n_agents=3, shape=[(0, 0, 0), (1, 0, 0), (0, 0, 2)], scale=2.0,
                            world_size=30.0, dim=3, rng=0)  # fmt: skip
    want = np.array([[0, 0, 0], [2, 0, 0], [0, 0, 4]]) - [2 / 3, 0, 4 / 3]
    np.testing.assert_allclose(points.scenario.slots, want)


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"shape": "sphere"}, "shape: sphere is a 3-D shape"),
        ({"shape": [(0, 0, 0), (1, 0, 0)], "n_agents": 2}, "shape: \\[x, y, z\\] points"),
        ({"center": (10.0, 10.0, 10.0)}, "center: 3 coordinates given; dim = 2"),
        ({"center": (10.0, 10.0), "dim": 3}, "center: 2 coordinates given; dim = 3"),
        ({"dim": 3, "shape": "sphere", "center": (20.0, 20.0, 39.0)}, "shape/scale"),
        (
            {"dim": 3, "spawn_extent": 30.0, "center": (20.0, 20.0, 10.0)},
            "spawn_extent: a 30.0 m cube",
        ),
    ],
)
def test_bad_3d_formations_fail_at_the_config_in_one_line(fields, field):
    with pytest.raises(ConfigError, match=field) as err:
        FormationModel(world_size=40.0, **fields)
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------ formation: Kabsch
def test_kabsch_3d_recovers_a_known_rotation_and_translation():
    rng = np.random.default_rng(5)
    for _ in range(20):
        shape = rng.normal(size=(12, 3)) * 3.0
        rot, shift = random_rotation(rng), rng.uniform(-10, 10, 3)
        pos = shape @ rot.T + shift
        got_rot, got_shift, rms = kabsch_3d(shape, pos)
        np.testing.assert_allclose(got_rot, rot, rtol=0, atol=1e-12)
        np.testing.assert_allclose(got_shift, shift, rtol=0, atol=1e-11)
        # the closed-form residual cancels sums of ~100 m^2: round-off leaves ~1e-7 m
        assert rms < 1e-6


def test_kabsch_3d_never_reflects_and_agrees_with_scipy():
    """A mirrored shape has no exact fit in SO(3): the best rotation (det +1) leaves a
    residual, the same rotation and residual scipy's align_vectors finds."""
    rng = np.random.default_rng(6)
    for _ in range(20):
        shape = rng.normal(size=(10, 3)) * [3.0, 2.0, 1.0]
        pos = (shape * [1.0, 1.0, -1.0]) @ random_rotation(rng).T + rng.normal(size=3)
        pos += rng.normal(scale=0.05, size=pos.shape)
        rot, shift, rms = kabsch_3d(shape, pos)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        a, b = shape - shape.mean(axis=0), pos - pos.mean(axis=0)
        ref, rssd = Rotation.align_vectors(b, a)
        np.testing.assert_allclose(rot, ref.as_matrix(), atol=1e-9)
        assert rms == pytest.approx(rssd / np.sqrt(len(a)), rel=1e-9)
        direct = np.sqrt(((shape @ rot.T + shift - pos) ** 2).sum(axis=1).mean())
        assert rms == pytest.approx(direct, rel=1e-9) and rms > 0.1


def test_formation_error_in_3d_is_the_kabsch_residual_in_every_env():
    env = BatchedSwarmEnv("formation", n_envs=3, n_agents=10, shape="sphere", dim=3,
                          world_size=40.0)  # fmt: skip
    env.reset(seed=0)
    engine, scenario = env.core.engine, env.core.scenario
    rng = np.random.default_rng(1)
    slots = scenario.slots
    slot = np.concatenate([rng.permutation(10) for _ in range(3)])
    slot[[4, 25]] = -1  # two drones hold nothing and do not count
    engine.agent_state["slot"][:] = slot
    pos = 20.0 + rng.normal(size=(30, 3))  # env 0: anywhere
    pos[10:20] = 20.0 + (slots[slot[10:20]] * [1, 1, -1]) @ random_rotation(rng).T  # mirrored
    pos[20:] = 20.0 + slots[np.maximum(slot[20:], 0)] @ random_rotation(rng).T  # the shape
    engine.pos[:] = pos
    engine.invalidate()
    got = scenario.formation_error(engine)
    for e in range(3):
        rows = np.arange(10 * e, 10 * e + 10)
        rows = rows[slot[rows] >= 0]
        assert got[e] == pytest.approx(kabsch_3d(slots[slot[rows]], pos[rows])[2], abs=1e-7)
    assert got[0] > 0.5 and got[1] > 0.1 and got[2] < 1e-6


# ------------------------------------------------------------------ formation: the law
@pytest.mark.parametrize(
    "shape, n_agents, sense_radius, seed",
    [
        ("sphere", 20, 6.0, 0),
        ("cube", 27, 5.0, 1),
        ("helix", 16, 6.0, 2),
        ("grid", 16, 5.0, 3),  # a planar shape, flown level
    ],
)
def test_formation_converges_to_the_3d_shape_from_a_random_start(
    shape, n_agents, sense_radius, seed
):
    """Oh, Park, Ahn 2015: on a connected sensing graph the displacement law makes every
    p_i - p*_i agree, so the drones hold the shape, translated and not rotated."""
    model = FormationModel(n_agents=n_agents, dim=3, world_size=40.0, shape=shape, scale=1.5,
                           spawn_extent=8.0, sense_radius=sense_radius, rng=seed)  # fmt: skip
    assert not nx.is_empty(model.comm_graph)
    assert nx.density(model.comm_graph) < 1.0  # not everyone sees everyone: a real test
    components = []
    for _ in range(400):
        model.step()
        components.append(model.metrics["n_components"])
    assert max(components) == 1
    first = model.datacollector.get_model_vars_dataframe()["formation_error"].iloc[1]
    assert first > 0.5
    assert model.metrics["formation_error"] < 1e-3
    assert model.metrics["conflicts"] == 0 and model.metrics["assigned"] == 1.0
    assert np.isfinite(model.metrics["convergence_time"])
    engine = model.engine
    offset = engine.pos - model.scenario.slots[engine.agent_state["slot"]]
    assert np.ptp(offset, axis=0).max() < 1e-3  # the shape as given: translated only
    if shape == "grid":
        assert np.ptp(engine.pos[:, 2]) < 1e-3  # level


def test_formation_in_3d_is_deterministic():
    def run(seed: int) -> np.ndarray:
        model = FormationModel(n_agents=12, dim=3, shape="sphere", sense_radius=5.0,
                               spawn_extent=8.0, packet_drop=0.2, rng=seed)  # fmt: skip
        for _ in range(30):
            model.step()
        return model.engine.pos.copy()

    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


# ------------------------------------------------------------------ rendezvous
def brute_force_ball(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The smallest enclosing ball by exhaustion: the smallest of the balls through 2, 3 or 4
    of the points (diametral, circumcircle, circumsphere) that holds them all."""
    best = (points[0], 0.0) if len(points) == 1 else (None, np.inf)
    candidates = []
    for p, q in itertools.combinations(points, 2):
        candidates.append(((p + q) / 2, np.linalg.norm(p - q) / 2))
    for a, b, c in itertools.combinations(points, 3):
        u, v = b - a, c - a
        gram = np.array([[u @ u, u @ v], [u @ v, v @ v]])
        if abs(np.linalg.det(gram)) > 1e-12:
            s, t = np.linalg.solve(gram, 0.5 * np.array([u @ u, v @ v]))
            centre = a + s * u + t * v
            candidates.append((centre, np.linalg.norm(centre - a)))
    for a, *rest in itertools.combinations(points, 4):
        diffs = np.array(rest) - a
        if abs(np.linalg.det(diffs)) > 1e-12:
            off = np.linalg.solve(2 * diffs, (diffs**2).sum(axis=1))
            candidates.append((a + off, np.linalg.norm(off)))
    for centre, radius in candidates:
        if radius < best[1] and (np.linalg.norm(points - centre, axis=1) <= radius + 1e-9).all():
            best = (centre, radius)
    return best


def test_smallest_enclosing_sphere_matches_an_exhaustive_search():
    rng = np.random.default_rng(0)
    for trial in range(60):
        k = int(rng.integers(1, 9))
        rel = rng.normal(size=(k, 3)) * rng.uniform(0.1, 5.0)
        if trial % 5 == 0:
            rel[:, 2] = 0.0  # coplanar with the drone
        if trial % 7 == 0:
            rel = np.outer(rng.normal(size=k), rng.normal(size=3))  # collinear
        out = np.zeros((1, 3))
        _enclosing_centres_3d(np.array([0, k]), np.array([0]), rel, np.ones(k, bool), out)
        points = np.vstack([np.zeros(3), rel])
        centre, radius = brute_force_ball(points)
        np.testing.assert_allclose(out[0], centre, atol=1e-9)
        assert np.linalg.norm(points - out[0], axis=1).max() == pytest.approx(radius, abs=1e-9)


def test_rendezvous_in_3d_contracts_a_connected_swarm_to_one_point():
    """Cortés, Martínez, Bullo 2006: every pair that sees each other stays within V, so the
    graph stays connected; each drone moves inside the hull of what it sees, so the diameter
    never grows; the swarm meets in one point."""
    V = 4.0
    model = ConsensusModel(n_agents=60, dim=3, world_size=30.0, sense_radius=V,
                           spawn_extent=12.0, policy="rendezvous", rng=0)  # fmt: skip
    if not nx.is_connected(model.comm_graph):
        pytest.fail("seed gives a disconnected range graph; pick another")
    start = pdist(model.engine.pos).max()
    assert start > 3 * V  # many hops across
    before = start
    for _ in range(120):
        nb = model.engine.neighbors
        pairs = np.column_stack([nb.owner, nb.idx])
        model.step()
        pos = model.engine.pos
        assert np.linalg.norm(pos[pairs[:, 0]] - pos[pairs[:, 1]], axis=1).max() <= V + 1e-9
        assert model.metrics["n_components"] == 1
        diameter = pdist(pos).max()
        assert diameter <= before + 1e-9
        before = diameter
    assert before < 1e-9 * start
    assert model.metrics["position_spread"] < 1e-9


def test_rendezvous_in_3d_a_lone_drone_stays_and_two_meet_in_the_middle():
    model = ConsensusModel(n_agents=3, world_size=30.0, sense_radius=4.0, dim=3,
                           policy="rendezvous", rng=0)  # fmt: skip
    model.engine.pos[:] = [[5.0, 5.0, 5.0], [20.0, 20.0, 10.0], [22.0, 21.0, 12.0]]
    model.engine.invalidate()
    for _ in range(20):
        model.step()
    np.testing.assert_allclose(model.engine.pos, [[5.0, 5.0, 5.0], [21.0, 20.5, 11.0],
                                                  [21.0, 20.5, 11.0]])  # fmt: skip


# ------------------------------------------------------------------ Vicsek in 3-D
def polarization_3d(eta: float, steps: int = 300, last: int = 100, n: int = 500) -> float:
    """Time-averaged order parameter |mean heading| of the 3-D Vicsek model at density 4
    (N = 500 in a periodic cube of side 5, r = 1, v = 0.03, dt = 1: Vicsek et al.'s units)."""
    model = FlockingModel(n_agents=n, world_size=5.0, boundary="torus", sense_radius=1.0,
                          dt=1.0, max_accel=float("inf"), initial_speed=0.03, collision_radius=0.0,
                          dim=3, policy="vicsek", policy_params={"speed": 0.03, "eta": eta},
                          rng=0)  # fmt: skip
    values = []
    for t in range(steps):
        model.step()
        if t >= steps - last:
            values.append(model.metrics["polarization"])
    return float(np.mean(values))


def test_vicsek_3d_orders_at_low_noise_and_not_at_full_noise():
    low = polarization_3d(0.3)
    # perfectly aligned neighbourhoods give E cos(turn) over the cap: 1 - eta / (2 pi)
    ceiling = 1.0 - 0.3 / (2.0 * math.pi)
    assert ceiling - 0.03 < low < ceiling + 0.005
    # full noise: independent headings uniform on the sphere; |mean of N| has the Maxwell
    # mean sqrt(8 / (3 pi N)) (0.041 at N = 500); 200 independent steps: s.e. ~ 3 %
    full = polarization_3d(2 * np.pi, steps=200, last=200)
    assert full == pytest.approx(math.sqrt(8.0 / (3.0 * math.pi * 500)), rel=0.15)
    middle = [polarization_3d(eta) for eta in (2.0, 3.0)]
    assert low > middle[0] > middle[1] > full


@pytest.mark.parametrize("eta", [1.0, 2 * np.pi])
def test_vicsek_3d_noise_is_uniform_on_the_cap(eta):
    """Alone, a drone's new heading is uniform on the cap around its own covering eta / (2 pi)
    of the sphere (Chaté et al.): the cosine of the turn uniform in [1 - eta / pi, 1]
    (Archimedes), never beyond."""
    model = FlockingModel(n_agents=3000, world_size=3000.0, sense_radius=0.01, dt=1.0,
                          max_accel=float("inf"), initial_speed=1.0, dim=3, policy="vicsek",
                          policy_params={"speed": 1.0, "eta": eta}, rng=1)  # fmt: skip
    before = model.engine.vel.copy()
    model.step()
    after = model.engine.vel
    np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0)
    cos_turn = np.clip((before * after).sum(axis=1), -1.0, 1.0)
    low = 1.0 - eta / math.pi
    assert cos_turn.min() >= low - 1e-12
    assert kstest(cos_turn, "uniform", args=(low, 1.0 - low)).pvalue > 1e-3
    # isotropic around the axis: the turns' mean component sideways vanishes
    side = after - cos_turn[:, None] * before
    assert np.linalg.norm(side.mean(axis=0)) < 4 * np.sqrt(1.0 / 3000)


# ------------------------------------------------------------------ locality
@pytest.mark.parametrize(
    "policy, scenario, fields",
    [
        ("vicsek", "flocking", {"world_size": 6.0, "sense_radius": 2.0, "sensor_noise_pos": 0.05}),
        ("rendezvous", "consensus", {"world_size": 20.0, "sense_radius": 4.0,
                                     "spawn_extent": 10.0, "sensor_noise_pos": 0.05}),
        ("formation", "formation", {"shape": "sphere", "sense_radius": 5.0, "spawn_extent": 8.0,
                                    "packet_drop": 0.2}),
        ("formation", "formation", {"shape": "grid", "sense_radius": 5.0, "spawn_extent": 8.0,
                                    "policy_params": {"anchor_gain": 0.5}}),
        ("random_walk", "navigation", {}),
        ("boids", "navigation", {}),
        ("olfati_saber", "navigation", {}),
        ("rendezvous", "navigation", {}),
        ("vicsek", "navigation", {}),
    ],
)  # fmt: skip
def test_3d_controllers_pass_the_locality_audit(policy, scenario, fields):
    checked = assert_local(policy, scenario, n_agents=30, steps=6, dim=3, **fields)
    assert checked == 30 * 6


def test_cli_audits_a_3d_scenario(capsys):
    from swarm.cli import main

    assert main(["audit", "navigation", "--dim", "3", "--agents", "10", "--steps", "3"]) == 0
    assert "is local on navigation" in capsys.readouterr().out
