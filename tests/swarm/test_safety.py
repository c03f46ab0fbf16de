"""The safety layer (swarm.safety): ORCA's half-planes against the geometry, its linear
programs against brute force, reciprocity, locality, config boundaries and the learner's
path through the envs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from envs.crossing import CrossingModel
from envs.flocking import FlockingModel
from envs.pursuit import PursuitModel
from policies.boids import Boids
from swarm.config import ConfigError
from swarm.marl import BatchedSwarmEnv
from swarm.safety import OrcaParams, SafePolicy, _lp2, _lp3, _orca_line
from swarm.teams import TeamPolicy
from swarm.testing import assert_local

TAU = 2.0


def head_on(speed: float = 1.0, gap: float = 2.0, **config) -> CrossingModel:
    """Two drones flying straight at each other (goto at ``speed``), ``gap`` apart."""
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, safety="orca",
                          policy_params={"speed": speed}, rng=0, **config)  # fmt: skip
    engine = model.engine
    engine.pos[:] = [[10.0 - gap / 2, 10.0], [10.0 + gap / 2, 10.0]]
    engine.vel[:] = [[speed, 0.0], [-speed, 0.0]]
    model.scenario.goal[:] = [[19.0, 10.0], [1.0, 10.0]]
    engine.invalidate()
    return model


def test_a_head_on_pair_sidesteps_by_the_same_amount_in_opposite_directions():
    """By hand: p = (2, 0), v_rel = (2, 0) closes within tau (2 v > |p| / tau), so the
    closest way out of the cone is its leg at angle a = asin(r / |p|); each drone takes
    half of u, which puts its velocity at v cos(a) along the leg: (cos a, -sin a) v cos a.
    """
    model = head_on()
    r = 0.3 * 1.25  # collision_radius and the default safety_margin of 25 %
    a = math.asin(r / 2.0)
    expected = math.cos(a) * np.array([math.cos(a), -math.sin(a)])
    actions = model.policy.decide(model.observe()).actions  # velocity commands
    np.testing.assert_allclose(actions[0], expected, atol=1e-12)
    np.testing.assert_allclose(actions[1], -expected, atol=1e-12)  # reciprocity
    changes = actions - model.engine.vel
    np.testing.assert_allclose(changes[0], -changes[1], atol=1e-12)
    assert changes[0][1] < 0 < changes[1][1]  # each to its own right


def test_a_pair_that_would_miss_within_the_horizon_keeps_its_commands_bit_for_bit():
    model = head_on(speed=0.2, gap=2.0)  # closes 0.4 m/s: contact after 4 s > tau
    obs = model.observe()
    inner = model.policy.inner.decide(obs).actions
    decision = model.policy.decide(obs)
    np.testing.assert_array_equal(decision.actions, inner)
    np.testing.assert_array_equal(decision.memory["intervention"], [0.0, 0.0])


def test_head_on_pair_passes_at_the_combined_radius_and_arrives():
    model = head_on(speed=1.0, gap=4.0)
    model.scenario.goal[:] = [[14.0, 10.0], [6.0, 10.0]]
    for _ in range(700):
        model.step()
    metrics = model.metrics
    assert metrics["collisions_total"] == 0
    assert metrics["closest_approach"] == pytest.approx(0.375, abs=0.01)
    assert metrics["arrived_fraction"] == 1.0


@pytest.mark.parametrize(("safety", "steps"), [("orca", 10), ("cbf", 40)])
def test_two_drones_at_the_same_place_and_velocity_separate(safety, steps):
    """p = 0 and v_rel = 0 leave no direction between the two: each leaves along one of its
    own identity's (a shared one would move both alike, in lockstep, for ever). Same goal,
    so the controller gives both the same command: only the layer can part them."""
    extra = {"max_accel": 6.0} if safety == "cbf" else {}
    model = CrossingModel(n_agents=2, world_size=20.0, jitter=0.0, safety=safety, rng=0,
                          **extra)  # fmt: skip
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


# ---------------------------------------------------------------------------- the LPs
def _line_arrays(lines):
    arr = np.asarray(lines, dtype=np.float64).reshape(-1, 4)
    return [np.ascontiguousarray(arr[:, k]) for k in range(4)]


def _penetration(lines, v):
    q = np.asarray(lines).reshape(-1, 4)
    return q[:, 2] * (q[:, 1] - v[..., 1, None]) - q[:, 3] * (q[:, 0] - v[..., 0, None])


@st.composite
def feasible_lines(draw):
    """Half-planes that all contain a known point inside the speed disc."""
    vmax = draw(st.floats(0.5, 5.0))
    angle = draw(st.floats(0, 2 * np.pi))
    inside = draw(st.floats(0, 0.95)) * vmax * np.array([np.cos(angle), np.sin(angle)])
    lines = []
    for _ in range(draw(st.integers(1, 12))):
        a = draw(st.floats(0, 2 * np.pi))
        d = np.array([np.cos(a), np.sin(a)])
        normal = np.array([-d[1], d[0]])
        q = inside - draw(st.floats(0, 3.0)) * normal  # the point is on the permitted side
        lines.append([q[0], q[1], d[0], d[1]])
    pref = np.array([draw(st.floats(-6, 6)), draw(st.floats(-6, 6))])
    return lines, vmax, pref


@given(case=feasible_lines())
def test_the_2d_lp_result_satisfies_every_half_plane_and_is_closest(case):
    lines, vmax, pref = case
    qx, qy, dx, dy = _line_arrays(lines)
    k, x, y = _lp2(qx, qy, dx, dy, len(lines), vmax, pref[0], pref[1], False)
    assert k == len(lines)
    v = np.array([x, y])
    assert _penetration(lines, v).max() <= 1e-9
    assert np.hypot(x, y) <= vmax + 1e-9
    # no feasible point of a dense sample of the disc is closer to the preference
    rng = np.random.default_rng(0)
    radius = vmax * np.sqrt(rng.random(20000))
    angle = rng.random(20000) * 2 * np.pi
    sample = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    feasible = sample[_penetration(lines, sample).max(axis=1) <= 0]
    if len(feasible):
        best = np.sqrt(((feasible - pref) ** 2).sum(axis=1)).min()
        assert np.linalg.norm(v - pref) <= best + 1e-9


@given(seed=st.integers(0, 2**16), n=st.integers(3, 10), hard=st.sampled_from([0, 8]))
def test_the_3d_lp_minimises_the_largest_penetration_when_nothing_is_feasible(seed, n, hard):
    """Soft lines that cannot all hold; with ``hard`` > 0 also a polygon (the reachable set
    of a finite acceleration) that must hold exactly."""
    rng = np.random.default_rng(seed)
    vmax = 2.0
    angles = rng.random(n) * 2 * np.pi
    d = np.column_stack([np.cos(angles), np.sin(angles)])
    # each line permits only v . n >= k (n its left normal, k up to 1.5 vmax): lines
    # facing apart leave nothing in the speed disc
    normal = np.column_stack([-d[:, 1], d[:, 0]])
    q = normal * rng.uniform(0.2, 1.5, (n, 1)) * vmax
    soft = np.column_stack([q, d])
    centre = rng.uniform(-0.5, 0.5, 2) * vmax
    corner = centre + 0.4 * vmax * np.column_stack(
        [np.cos(2 * np.pi * np.arange(hard + 1) / max(hard, 1)),
         np.sin(2 * np.pi * np.arange(hard + 1) / max(hard, 1))]
    )  # fmt: skip
    edge = np.diff(corner, axis=0)
    edge /= np.linalg.norm(edge, axis=1, keepdims=True)
    polygon = np.column_stack([corner[:-1], edge])[:hard]
    lines = np.concatenate([polygon, soft])
    total = len(lines)
    qx, qy, dx, dy = _line_arrays(lines)
    k, x, y = _lp2(qx, qy, dx, dy, total, vmax, 0.0, 0.0, False)
    if k == total:
        return  # happened to be feasible
    assert k >= hard  # the polygon alone always fits in the disc
    scratch = [np.empty(total) for _ in range(4)]
    x, y = _lp3(qx, qy, dx, dy, total, hard, k, vmax, x, y, *scratch)
    v = np.array([x, y])
    g = np.linspace(-vmax, vmax, 401)
    gx, gy = np.meshgrid(g, g)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    grid = grid[(grid**2).sum(axis=1) <= vmax**2]
    if hard:
        assert _penetration(polygon, v).max() <= 1e-9  # the hard lines hold
        grid = grid[_penetration(polygon, grid).max(axis=1) <= 0]
    assert np.hypot(x, y) <= vmax + 1e-9
    assert _penetration(soft, v).max() <= _penetration(soft, grid).max(axis=1).min() + 1e-9


@given(
    px=st.floats(-4, 4), py=st.floats(-4, 4), wx=st.floats(-3, 3), wy=st.floats(-3, 3),
)  # fmt: skip
def test_orca_line_is_the_nearest_exit_from_the_truncated_velocity_obstacle(px, py, wx, wy):
    """v_rel + u lies on the boundary of VO^tau (the relative velocities that close to
    within r before tau) and n points out of it."""
    r = 0.33
    p = np.array([px, py])
    if np.linalg.norm(p) <= r + 1e-3:
        return

    def closest(v):  # closest distance over [0, tau] moving at relative velocity v
        vv = v @ v
        t = 0.0 if vv == 0 else min(max(p @ v / vv, 0.0), TAU)
        return np.linalg.norm(p - t * v)

    qx, qy, dx, dy = _orca_line(px, py, wx, wy, 0.0, 0.0, r, TAU, 0.1, 0)
    u = 2 * np.array([qx, qy])
    n = np.array([-dy, dx])
    edge = np.array([wx, wy]) + u
    assert closest(edge) == pytest.approx(r, abs=1e-9)
    assert closest(edge + 1e-6 * n) >= r - 1e-12
    assert closest(edge - 1e-6 * n) < r
    # and nothing nearer to v_rel is on the boundary (sampled directions)
    inside = closest(np.array([wx, wy])) < r
    length = np.linalg.norm(u)
    for a in np.linspace(0, 2 * np.pi, 90, endpoint=False):
        probe = np.array([wx, wy]) + (length * 0.999) * np.array([np.cos(a), np.sin(a)])
        assert (closest(probe) < r) == inside or length < 1e-9


def test_a_finite_acceleration_limit_keeps_every_command_reachable():
    model = head_on(speed=3.0, gap=1.5, max_accel=2.0)
    accel_limit_dt = 2.0 * model.config.dt
    actions = model.policy.decide(model.observe()).actions
    change = np.linalg.norm(actions - model.engine.vel, axis=1)
    assert (change <= accel_limit_dt + 1e-12).all() and (change > 0).all()


# ---------------------------------------------------------------------------- locality
def test_each_drone_is_held_to_its_own_acceleration_limit():
    """Teams of different platforms: the reachable velocities are each drone's own (the
    observation's ``own["max_accel"]``), not one limit for all."""
    import dataclasses

    from swarm.safety import Orca

    model = head_on(speed=1.0, gap=1.0, max_accel=math.inf)
    obs = model.observe()
    limits = np.array([1.0, 50.0])
    obs = dataclasses.replace(obs, own={**(obs.own or {}), "max_accel": limits})
    toward = np.array([[40.0, 0.0], [-40.0, 0.0]])  # hard at each other
    accel, change = Orca(OrcaParams(radius=0.3)).filter(obs, toward, "acceleration")
    assert (change > 0).all()
    norms = np.sqrt((accel**2).sum(axis=1))
    assert norms[0] <= limits[0] + 1e-9  # the slow platform within its own limit
    assert norms[1] > limits[0]  # the agile one not held to the slow one's


def test_the_layer_around_boids_passes_the_locality_audit():
    checked = assert_local("boids", "flocking", n_agents=40, steps=8, world_size=12.0,
                           sense_radius=3.0, sensor_noise_pos=0.05, packet_drop=0.2,
                           safety="orca")  # fmt: skip
    assert checked == 40 * 8


def test_the_layer_around_the_crossing_controller_passes_the_locality_audit():
    checked = assert_local("goto", "crossing", n_agents=30, steps=12, world_size=14.0,
                           ring_radius=6.0, dt=0.1, safety="orca",
                           sensor_noise_vel=0.05)  # fmt: skip
    assert checked == 30 * 12


def test_a_wrapped_instance_is_audited_like_any_controller():
    layer = SafePolicy(Boids(), "orca", OrcaParams(radius=0.3, max_accel=6.0))
    assert assert_local(layer, "flocking", n_agents=30, steps=5, world_size=10.0) == 150


def test_the_config_wraps_the_model_controller_and_reports_interventions():
    model = FlockingModel(n_agents=200, world_size=15.0, safety="orca", rng=0)
    assert isinstance(model.policy, SafePolicy) and model.policy.name == "boids+orca"
    for _ in range(5):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert {"interventions", "intervention_max"} <= set(frame.columns)
    assert frame["intervention_max"].iloc[1:].max() > 0
    assert (frame["interventions"] <= frame["intervention_max"]).all()
    plain = FlockingModel(n_agents=200, world_size=15.0, rng=0)
    assert not isinstance(plain.policy, SafePolicy)
    assert "interventions" not in plain.datacollector.get_model_vars_dataframe()


def test_actions_from_outside_the_model_fly_behind_the_layer_too():
    """step_with (actions chosen by code outside the model) is filtered like the model's
    own controller, and the intervention metric is that step's, never a stale one."""
    model = head_on(speed=1.0, gap=1.0, max_accel=math.inf)
    toward = np.array([[1.0, 0.0], [-1.0, 0.0]]) / model.config.dt  # reach 2 m/s head-on
    model.step_with(toward)
    assert model.metrics["intervention_max"] > 0.1
    assert abs(model.engine.vel[0, 1]) > 0  # sidestepped, not flown straight on
    model.engine.pos[:] = [[2.0, 2.0], [18.0, 18.0]]  # far apart: nothing to avoid
    model.engine.invalidate()
    model.step_with(np.zeros((2, 2)))
    assert model.metrics["intervention_max"] == 0.0


def test_each_team_of_the_pursuit_flies_behind_the_layer_and_stays_local():
    model = PursuitModel(n_agents=9, pursuers=6, safety="orca", collision_radius=0.3, rng=0)
    assert isinstance(model.policy, SafePolicy) and isinstance(model.policy.inner, TeamPolicy)
    checked = assert_local(model.policy, "pursuit", n_agents=9, steps=10, pursuers=6,
                           world_size=6.0, safety="orca", collision_radius=0.3)  # fmt: skip
    assert checked == 9 * 10


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"safety": "bogus"}, "safety"),
        ({"safety_horizon": 0.0}, "safety_horizon"),
        ({"safety_horizon": -1.0}, "safety_horizon"),
        ({"safety": "orca", "collision_radius": 0.0}, "collision_radius"),
    ],
)
def test_bad_safety_settings_fail_with_one_line_naming_the_field(values, field):
    with pytest.raises(ConfigError) as err:
        FlockingModel(rng=0, **values)
    message = str(err.value)
    assert "\n" not in message and field in message


# ---------------------------------------------------------------------------- learners
def _toward_goals(obs: np.ndarray, layout, bound: float) -> np.ndarray:
    """A stand-in learner: full acceleration toward the own goal."""
    goal = layout.view(obs, "goal_rel_pos")
    norm = np.linalg.norm(goal, axis=-1, keepdims=True)
    return goal / np.maximum(norm, 1e-9) * bound


@pytest.mark.parametrize("safety", ["none", "orca"])
def test_learner_actions_fly_behind_the_layer_in_the_envs(safety):
    env = BatchedSwarmEnv("crossing", n_envs=2, n_agents=8, world_size=12.0, ring_radius=3.0,
                          max_speed=1.0, dt=0.02, safety=safety, max_cycles=500)  # fmt: skip
    obs, _ = env.reset(seed=0)
    scenario, bound = env.core.scenario, env.core.bound
    total, moved = np.zeros(2), 0.0
    for _ in range(400):
        obs, *_ = env.step(_toward_goals(obs, env.layout, bound))
        total = np.maximum(total, scenario.collisions_total(env.core.engine))
        change = env.core.engine.intervention
        moved = max(moved, 0.0 if change is None else float(change.max()))
    if safety == "none":
        assert total.min() > 0 and moved == 0.0
    else:
        assert total.max() == 0 and moved > 0.0
