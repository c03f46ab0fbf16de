"""Flight in 3-D (``dim = 3``): the cube's neighbour search against brute force, the
integrator's limits and walls, 3-D controllers (boids flock, the walk is uniform on the
sphere), the locality audit, the PettingZoo API, the one-line refusals, and 2-D runs exactly
as they were before 3-D existed."""

from __future__ import annotations

import re

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from envs import flocking_v0
from envs.flocking import FlockingModel
from swarm.comm import KNearestLinks
from swarm.config import ConfigError
from swarm.dynamics import integrate
from swarm.marl import BatchedSwarmEnv
from swarm.neighbors import brute_force_neighbors, radius_neighbors
from swarm.registry import scenario_class
from swarm.testing import assert_local

# 2-D runs recorded before dim = 3 existed (flocking, 80 drones, world_size 20, seed 11,
# 30 steps): rows 0, 41 and 79 of the final positions and velocities, and the sum of all
# positions. Equal to the last bit on the machine that recorded them.
BEFORE_3D = {
    "boids_torus": {
        "pos": [
            [2.418722987007276, 3.315396107699567],
            [8.764522223127836, 15.392112576142468],
            [17.314266084621615, 5.630436531563242],
        ],
        "vel": [
            [-0.27162165009486616, 0.7169686420376454],
            [0.8216540986485072, 0.8531322690740681],
            [0.5666028999982051, -0.9756653433222594],
        ],
        "pos_sum": 1524.912283882913,
    },
    "boids_box": {
        "pos": [
            [3.0743058195161668, 3.448731446098342],
            [8.523060308415353, 15.19359893593674],
            [16.448294652818163, 5.55775836247373],
        ],
        "vel": [
            [-0.11775155316401037, 0.334063787337751],
            [0.5665446877063549, 0.7015697435184414],
            [-0.11162766297031382, -1.0880418960217166],
        ],
        "pos_sum": 1475.2817450541688,
    },
    "olfati_box_knn": {
        "pos": [
            [0.22855849329124153, 5.226473050431076],
            [8.202771482215036, 14.58407314568175],
            [17.20759403252895, 9.301255588247678],
        ],
        "vel": [
            [0.18995022477642098, -0.19677530908561736],
            [0.09361707678398618, -0.7302626679896027],
            [-0.2361116453669655, -0.20457356136353694],
        ],
        "pos_sum": 1601.2065078741846,
    },
    "random_walk_torus": {
        "pos": [
            [8.420190527299013, 6.245013105167459],
            [13.773843186007428, 15.767998135292684],
            [19.572573052955253, 0.747783816191999],
        ],
        "vel": [
            [2.7783672150010053, 1.1316693945704976],
            [2.875402557401181, 0.7456321176011538],
            [0.8660138112430104, -2.79582923817627],
        ],
        "pos_sum": 1598.524456798664,
    },
    "vicsek_torus_fov": {
        "pos": [
            [1.8819042263507026, 5.241499173509536],
            [8.350758718698978, 16.2917559118944],
            [17.586096668320664, 9.686393013915115],
        ],
        "vel": [
            [0.6737863048814958, 0.7389262584007553],
            [0.5877834343416917, 0.8090183151903833],
            [0.44605244153631546, 0.8950068264541292],
        ],
        "pos_sum": 1557.6868800176358,
    },
    "boids_quad_noise": {
        "pos": [
            [2.2774738240709387, 3.8845584589388578],
            [7.966334210318898, 15.484965543503062],
            [16.485987907029216, 5.70835524303495],
        ],
        "vel": [
            [-0.543841730218598, 0.751582345870508],
            [-0.08714707625107512, 0.9062175806873556],
            [-0.08839933714963419, -1.0031397738696255],
        ],
        "pos_sum": 1465.6338702966973,
    },
}

BEFORE_CASES = {
    "boids_torus": {"policy": "boids", "boundary": "torus"},
    "boids_box": {"policy": "boids", "boundary": "box"},
    "olfati_box_knn": {"policy": "olfati_saber", "boundary": "box", "comm_model": "knn",
                       "comm_k": 4},
    "random_walk_torus": {"policy": "random_walk", "boundary": "torus"},
    "vicsek_torus_fov": {"policy": "vicsek", "boundary": "torus", "fov_deg": 200.0},
    "boids_quad_noise": {"policy": "boids", "boundary": "box", "dynamics": "quadrotor",
                         "sensor_noise_pos": 0.1, "sensor_noise_vel": 0.05},
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BEFORE_CASES))
def test_2d_runs_are_what_they_were_before_3d(case):
    """The 2-D kernels were left as they were: the same seed gives the recorded run. (Up to
    1e-9 m, for a CPU whose numpy rounds sin/cos differently in the last bit; any change to
    the algorithm moves these chaotic runs by far more.)"""
    model = FlockingModel(n_agents=80, world_size=20.0, rng=11, **BEFORE_CASES[case])
    for _ in range(30):
        model.step()
    want = BEFORE_3D[case]
    engine = model.engine
    assert engine.pos.shape == (80, 2)
    np.testing.assert_allclose(engine.pos[[0, 41, 79]], want["pos"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(engine.vel[[0, 41, 79]], want["vel"], rtol=0, atol=1e-9)
    assert engine.pos.sum() == pytest.approx(want["pos_sum"], rel=0, abs=1e-8)


# ------------------------------------------------------------------ neighbour search
@pytest.mark.parametrize("torus", [True, False])
@pytest.mark.parametrize(
    "n, world, radius, n_envs",
    [
        (600, 12.0, 1.5, 1),  # many cells a side
        (300, 4.0, 1.5, 1),  # 2 cells a side: the torus reaches a cell from both sides
        (150, 3.0, 1.6, 2),  # 1 cell a side, two envs that must not meet
        (40, 2.0, 0.9, 3),
    ],
)
def test_3d_search_matches_brute_force(torus, n, world, radius, n_envs):
    rng = np.random.default_rng(n + int(torus))
    rows = n * n_envs
    pos = rng.uniform(0.0, world, (rows, 3))
    pos[:5] = [[0, 0, 0], [world, world, world], [0, world, 0], [world / 2, 0, world], [0, 0, 0]]
    vel = rng.normal(size=(rows, 3))
    active = rng.random(rows) > 0.1
    env = np.repeat(np.arange(n_envs), n)
    table = radius_neighbors(pos, vel, active, env, n_envs, world, torus, radius)
    got = list(zip(table.owner.tolist(), table.idx.tolist(), strict=True))
    assert len(got) == len(set(got))  # no pair listed twice (small tori reach cells twice)
    assert set(got) == brute_force_neighbors(pos, vel, active, env, world, torus, radius)
    assert table.rel_pos.shape == (table.n_edges, 3) and table.rel_vel.shape == (table.n_edges, 3)
    offset = pos[table.idx] - pos[table.owner]
    if torus:
        offset -= world * np.round(offset / world)
    np.testing.assert_allclose(table.rel_pos, offset, atol=1e-12)
    np.testing.assert_allclose(table.dist, np.sqrt((offset**2).sum(axis=1)), atol=1e-12)
    np.testing.assert_allclose(table.rel_vel, vel[table.idx] - vel[table.owner], atol=1e-12)
    # every row's segment is where row_seg says, inactive rows have none
    assert (table.counts[~active] == 0).all()
    for i in np.flatnonzero(active)[:20]:
        assert set(table.neighbors_of(int(i)).tolist()) == {j for a, j in got if a == i}


def test_3d_search_retries_a_short_hint_and_empty_swarm():
    rng = np.random.default_rng(1)
    pos = rng.uniform(0, 5.0, (400, 3))
    vel = np.zeros((400, 3))
    env = np.zeros(400, np.int64)
    full = radius_neighbors(pos, vel, np.ones(400, bool), env, 1, 5.0, True, 1.2)
    short = radius_neighbors(pos, vel, np.ones(400, bool), env, 1, 5.0, True, 1.2,
                             capacity_hint=1)  # fmt: skip
    assert short.n_edges == full.n_edges > 1_000
    np.testing.assert_array_equal(short.idx, full.idx)
    none = radius_neighbors(pos, vel, np.zeros(400, bool), env, 1, 5.0, True, 1.2)
    assert none.n_edges == 0 and none.rel_pos.shape == (0, 3)


def test_knn_links_in_3d_are_the_k_nearest_symmetrised():
    rng = np.random.default_rng(2)
    n, world, k = 120, 10.0, 3
    pos = rng.uniform(0, world, (n, 3))
    alive = np.ones(n, bool)
    links = KNearestLinks(k).links(pos, np.zeros((n, 3)), alive, np.zeros(n, np.int64), 1, world,
                                   True, None)  # fmt: skip
    d = pos[None, :, :] - pos[:, None, :]
    d -= world * np.round(d / world)
    dist = np.sqrt((d**2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :k]
    want = {(i, int(j)) for i in range(n) for j in nearest[i]}
    want |= {(j, i) for i, j in want}
    assert set(zip(links.owner.tolist(), links.idx.tolist(), strict=True)) == want
    assert links.rel_pos.shape[1] == 3


# ------------------------------------------------------------------ dynamics
def test_integrator_limits_acceleration_and_speed_in_3d():
    pos = np.full((3, 3), 5.0)
    vel = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 2.9], [1.0, 1.0, 1.0]])
    accel = np.array([[30.0, 40.0, 120.0], [0.0, 0.0, 100.0], [0.0, 0.0, 0.0]])
    alive = np.array([True, True, False])
    integrate(pos, vel, accel, alive, 0.1, 3.0, 6.5, 10.0, False)
    # row 0: |a| = 130 clipped to 6.5 along (3, 4, 12) / 13; v = a dt, below the speed limit
    np.testing.assert_allclose(vel[0], 0.1 * 6.5 * np.array([3, 4, 12]) / 13)
    np.testing.assert_allclose(pos[0], 5.0 + 0.1 * vel[0])
    # row 1: climbing at 2.9 m/s, pushed up: held at max_speed 3 straight up
    np.testing.assert_allclose(vel[1], [0.0, 0.0, 3.0])
    np.testing.assert_allclose(pos[1], [5.0, 5.0, 5.3])
    # row 2: crashed, stays and stops
    np.testing.assert_array_equal(pos[2], [5.0, 5.0, 5.0])
    np.testing.assert_array_equal(vel[2], [0.0, 0.0, 0.0])


def test_box_reflects_on_all_six_faces():
    """Floor and ceiling (z) are walls like the four sides: each drone flies out through
    one face and comes back mirrored, its normal velocity reversed."""
    world, dt = 10.0, 0.1
    pos = np.full((6, 3), 5.0)
    vel = np.zeros((6, 3))
    for face in range(6):
        axis, outward = divmod(face, 2)
        pos[face, axis] = 0.05 if outward == 0 else world - 0.05
        vel[face, axis] = -1.0 if outward == 0 else 1.0
    before = vel.copy()
    integrate(pos, vel, np.zeros((6, 3)), np.ones(6, bool), dt, 3.0, 6.0, world, False)
    assert (pos >= 0).all() and (pos <= world).all()
    for face in range(6):
        axis, outward = divmod(face, 2)
        assert vel[face, axis] == -before[face, axis]  # reversed
        assert pos[face, axis] == pytest.approx(0.05 if outward == 0 else world - 0.05)
        others = [a for a in range(3) if a != axis]
        np.testing.assert_array_equal(pos[face, others], 5.0)


def test_torus_wraps_all_three_axes():
    pos = np.array([[9.95, 0.05, 9.95]])
    vel = np.array([[1.0, -1.0, 1.0]])
    integrate(pos, vel, np.zeros((1, 3)), np.ones(1, bool), 0.1, 3.0, 6.0, 10.0, True)
    np.testing.assert_allclose(pos, [[0.05, 9.95, 0.05]], atol=1e-12)
    np.testing.assert_array_equal(vel, [[1.0, -1.0, 1.0]])


# ------------------------------------------------------------------ the flocking scenario
def test_flocking_spawns_in_the_cube_with_headings_on_the_sphere():
    model = FlockingModel(n_agents=4000, world_size=30.0, dim=3, initial_speed=2.0, rng=4)
    engine = model.engine
    assert engine.pos.shape == engine.vel.shape == (4000, 3)
    assert engine.pos.min() >= 0 and engine.pos.max() <= 30.0
    speed = np.sqrt((engine.vel**2).sum(axis=1))
    np.testing.assert_allclose(speed, 2.0)
    heading = engine.vel / 2.0
    # uniform on the sphere: each coordinate uniform in [-1, 1] (Archimedes), mean ~ 0
    assert np.abs(heading.mean(axis=0)).max() < 0.05
    assert np.abs(np.abs(heading[:, 2]).mean() - 0.5) < 0.02
    assert model.metrics["polarization"] < 0.05


def test_3d_metrics_against_numpy():
    model = FlockingModel(n_agents=50, world_size=10.0, dim=3, boundary="box", rng=0,
                          collision_radius=1.0)  # fmt: skip
    engine = model.engine
    engine.vel[:] = [0.3, -0.4, 1.2]  # everyone the same way
    engine.invalidate()
    metrics = model.metrics
    assert metrics["polarization"] == pytest.approx(1.0)
    centre = engine.pos.mean(axis=0)
    assert metrics["cohesion"] == pytest.approx(np.sqrt(((engine.pos - centre) ** 2).sum(1)).mean())
    d = np.sqrt(((engine.pos[:, None] - engine.pos[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    assert metrics["min_separation"] == pytest.approx(min(d.min(), 5.0))
    assert metrics["collisions"] == (d < 1.0).sum() / 2


def test_boids_flock_in_3d():
    """From headings uniform on the sphere (polarization ~ 0) boids align: ~10 drones in
    each sensing ball at the start, 300 steps."""
    n, radius = 200, 3.0
    world = (n / (10.0 / (4.0 / 3.0 * np.pi * radius**3))) ** (1 / 3)
    model = FlockingModel(n_agents=n, world_size=world, sense_radius=radius, dim=3, rng=5)
    assert model.metrics["polarization"] < 0.2
    assert 7 < model.engine.neighbors.n_edges / n < 13
    for _ in range(300):
        model.step()
    assert model.metrics["polarization"] > 0.9
    assert model.metrics["collisions"] == 0
    assert np.ptp(model.engine.pos[:, 2]) > world / 3  # they use the third axis


def test_random_walk_in_3d_keeps_speed_and_turns_by_turn_std():
    model = FlockingModel(n_agents=2000, world_size=200.0, dim=3, policy="random_walk",
                          max_accel=float("inf"), rng=1,
                          policy_params={"speed": 1.5, "turn_std": 0.2})  # fmt: skip
    before = model.engine.vel.copy()
    model.step()
    after = model.engine.vel
    np.testing.assert_allclose(np.sqrt((after**2).sum(axis=1)), 1.5)
    cos = (before * after).sum(axis=1) / (1.0 * 1.5)  # spawn speed 1
    turn = np.arccos(np.clip(cos, -1, 1))
    # the angle of a 2-D Gaussian tangent step of 0.2 rad per axis: Rayleigh, mean 0.2 sqrt(pi/2)
    assert turn.mean() == pytest.approx(0.2 * np.sqrt(np.pi / 2), rel=0.05)


def test_random_walk_from_rest_is_uniform_on_the_sphere():
    model = FlockingModel(n_agents=4000, world_size=400.0, dim=3, policy="random_walk",
                          max_accel=float("inf"), initial_speed=0.0, rng=2)  # fmt: skip
    model.step()
    heading = model.engine.vel / np.sqrt((model.engine.vel**2).sum(axis=1))[:, None]
    assert np.abs(heading.mean(axis=0)).max() < 0.05
    # z uniform in [-1, 1]: a quarter below -0.5
    assert np.mean(heading[:, 2] < -0.5) == pytest.approx(0.25, abs=0.03)


def test_drone_handles_read_and_write_three_coordinates():
    model = FlockingModel(n_agents=5, world_size=10.0, dim=3, rng=0)
    drone = model.drones[2]
    assert drone.pos.shape == (3,)
    drone.pos = [1.0, 2.0, 3.0]
    np.testing.assert_array_equal(model.engine.pos[2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="3 finite numbers"):
        drone.pos = [1.0, 2.0]
    with pytest.raises(ValueError, match="3 finite numbers"):
        drone.vel = [1.0, 2.0]


def test_knn_comm_graph_in_3d_connects_the_flock():
    model = FlockingModel(n_agents=60, world_size=6.0, dim=3, comm_model="knn", comm_k=4, rng=0)
    model.step()
    assert model.comm_graph.number_of_nodes() == 60
    assert model.metrics["n_components"] >= 1


# ------------------------------------------------------------------ locality, envs
@pytest.mark.parametrize("policy", ["boids", "olfati_saber", "random_walk"])
def test_3d_controllers_are_local(policy):
    checked = assert_local(policy, "flocking", n_agents=60, steps=6, world_size=8.0, dim=3,
                           sense_radius=3.0, sensor_noise_pos=0.05)  # fmt: skip
    assert checked == 60 * 6


def test_olfati_saber_goal_in_3d():
    goal = np.array([10.0, 10.0, 18.0])
    model = FlockingModel(n_agents=30, world_size=20.0, dim=3, boundary="box", rng=0,
                          policy="olfati_saber", policy_params={"goal": tuple(goal)})  # fmt: skip
    start = np.sqrt(((model.engine.pos - goal) ** 2).sum(axis=1)).mean()
    for _ in range(300):
        model.step()
    end = np.sqrt(((model.engine.pos - goal) ** 2).sum(axis=1)).mean()
    assert end < start / 2  # the gamma agent pulls the flock to it, altitude included
    assert abs(model.engine.pos[:, 2].mean() - 18.0) < 3.0
    flat = FlockingModel(n_agents=30, world_size=20.0, dim=3, policy="olfati_saber", rng=0,
                         policy_params={"goal": (10.0, 10.0)})  # fmt: skip
    with pytest.raises(ConfigError, match="goal has 2 coordinates"):
        flat.step()


def test_pettingzoo_api_in_3d():
    env = flocking_v0.parallel_env(n_agents=8, world_size=6.0, dim=3, max_cycles=25)
    parallel_api_test(env, num_cycles=30)
    obs, _ = env.reset(seed=0)
    assert env.action_space("drone_0").shape == (3,)
    layout = env.layout
    assert layout.segment("own_pos").shape == (3,)
    assert layout.segment("neighbor_rel_pos").shape == (4, 3)
    np.testing.assert_allclose(layout.view(obs["drone_3"], "own_pos"), env.engine.pos[3],
                               rtol=1e-6)  # fmt: skip
    assert env.state().shape == (8 * 3 * 2 + 8,)
    with pytest.raises(ValueError, match=r"expected \(3,\)"):
        env.step({a: np.zeros(2, np.float32) for a in env.agents})


def test_batched_env_in_3d_matches_the_pettingzoo_env():
    batched = BatchedSwarmEnv("flocking", n_envs=1, n_agents=8, world_size=6.0, dim=3)
    single = flocking_v0.parallel_env(n_agents=8, world_size=6.0, dim=3)
    obs_b, _ = batched.reset(seed=3)
    obs_s, _ = single.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(5):
        actions = rng.uniform(-2, 2, (1, 8, 3)).astype(np.float32)
        obs_b, reward_b, *_ = batched.step(actions)
        obs_s, reward_s, *_ = single.step({f"drone_{i}": actions[0, i] for i in range(8)})
        np.testing.assert_array_equal(obs_b[0], np.stack([obs_s[f"drone_{i}"] for i in range(8)]))
        np.testing.assert_array_equal(reward_b[0], [reward_s[f"drone_{i}"] for i in range(8)])
    with pytest.raises(ValueError, match=r"expected \(1, 8, 3\)"):
        batched.step(np.zeros((1, 8, 2)))


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    "scenario, fields, match",
    [
        ("search", {"policy": "cbaa"}, "policy: cbaa is 2-D only; dim = 3 is supported by "
                                       "flocking (boids, olfati_saber, random_walk"),
        ("coverage", {}, "coverage: dim: 3 is supported by flocking (boids, olfati_saber, "
                         "random_walk"),
        ("coverage", {}, "; this scenario is 2-D only"),
        ("flocking", {"fov_deg": 270.0}, "fov_deg: a field of view in 3-D"),
        ("flocking", {"obstacles": "experiments/obstacles/yard.json"},
         "obstacles: yard.json holds discs/polygons (2-D); dim = 3 needs a file of spheres"),
    ],
)  # fmt: skip
def test_what_cannot_fly_in_3d_is_refused_in_one_line(scenario, fields, match):
    with pytest.raises(ConfigError, match=re.escape(match)) as err:
        scenario_class(scenario)(rng=0, dim=3, **fields)
    assert "\n" not in str(err.value)


def test_discrete_actions_are_refused_in_3d():
    with pytest.raises(ConfigError, match="continuous_actions: Discrete") as err:
        flocking_v0.parallel_env(dim=3, continuous_actions=False)
    assert "\n" not in str(err.value)


def test_cli_refuses_in_one_line(capsys):
    from swarm.cli import main

    assert main(["run", "flocking", "--dim", "3", "--policy", "lloyd", "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lloyd is 2-D only" in err
