"""Static obstacles: sensing against brute force, spawns, contacts, the file format, ORCA."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from swarm.config import ConfigError
from swarm.obstacles import ObstacleField, forest, load_obstacle_file, urban

SQUARE = np.array([[10.0, 10.0], [14.0, 10.0], [14.0, 13.0], [10.0, 13.0]])
TRIANGLE_CW = np.array([[30.0, 30.0], [32.0, 36.0], [34.0, 30.0]])  # clockwise on purpose


def _brute(pos, discs, radii, polygons, world, torus, reach, slots):
    """Every obstacle's nearest point by plain geometry, nearest first (ties by id)."""
    out = []
    for p in pos:
        found = []
        images = [(0.0, 0.0)]
        if torus:
            images = [(a * world, b * world) for a in (-1, 0, 1) for b in (-1, 0, 1)]
        for k, (c, r) in enumerate(zip(discs, radii, strict=True)):
            best = None
            for sx, sy in images:
                q = np.asarray(c) + np.array([sx, sy])
                v = p - q
                length = np.hypot(*v)
                d = length - r
                point = q + v / length * r
                if best is None or d < best[0]:
                    best = (d, point - p)
            found.append((best[0], k, best[1]))
        for j, poly in enumerate(polygons):
            best = None
            for sx, sy in images:
                verts = poly + np.array([sx, sy])
                dmin, point = np.inf, None
                inside = True
                for a, b in zip(verts, np.roll(verts, -1, axis=0), strict=True):
                    e = b - a
                    if e[0] * (p - a)[1] - e[1] * (p - a)[0] < 0:
                        inside = False
                    t = np.clip(np.dot(p - a, e) / np.dot(e, e), 0, 1)
                    c = a + t * e
                    if np.hypot(*(p - c)) < dmin:
                        dmin, point = np.hypot(*(p - c)), c
                d = -dmin if inside else dmin
                if best is None or d < best[0]:
                    best = (d, point - p)
            found.append((best[0], len(discs) + j, best[1]))
        found = sorted((f for f in found if f[0] <= reach), key=lambda f: (f[0], f[1]))
        out.append(found[:slots])
    return out


@pytest.mark.parametrize("torus", [False, True])
def test_sensing_matches_brute_force(torus: bool) -> None:
    rng = np.random.default_rng(3)
    world, reach = 40.0, 3.0
    discs = rng.uniform(2, 38, size=(60, 2))
    radii = rng.uniform(0.2, 1.5, size=60)
    square = SQUARE.copy()
    edge = np.array([[36.5, 1.0], [39.5, 1.0], [39.5, 4.0], [36.5, 4.0]])  # near the seam
    big = np.array([[16.0, 16.0], [28.0, 16.0], [28.0, 28.0], [16.0, 28.0]])  # centre 6 m deep
    polygons = [square, _ccw(TRIANGLE_CW), edge, big]
    field = ObstacleField.build(discs, radii, [square, TRIANGLE_CW, edge, big], world, torus,
                                reach)  # fmt: skip
    pos = np.vstack([rng.uniform(0, world, size=(400, 2)),
                     [[22.0, 22.0], [12.0, 11.0], [0.2, 2.0], [39.9, 39.9]]])  # fmt: skip
    alive = np.ones(len(pos), bool)
    reading = field.sense(pos, alive, 4)
    expected = _brute(pos, discs, radii, polygons, world, torus, reach, 4)
    for i, want in enumerate(expected):
        assert reading.mask[i].sum() == len(want), i
        for t, (d, _, rel) in enumerate(want):
            assert reading.dist[i, t] == pytest.approx(d, abs=1e-9)
            np.testing.assert_allclose(reading.rel_pos[i, t], rel, atol=1e-9)
        assert reading.nearest[i] == (want[0][0] if want else np.inf) or math.isclose(
            reading.nearest[i], want[0][0], abs_tol=1e-9
        )
    assert reading.dist[len(pos) - 4, 0] == pytest.approx(-6.0)  # deep inside: still sensed
    assert reading.dist[len(pos) - 3, 0] < 0  # inside the square: negative distance


def _ccw(pts: np.ndarray) -> np.ndarray:
    return pts[::-1].copy()


def test_dead_rows_sense_nothing_and_rows_are_independent() -> None:
    field = ObstacleField.build(np.array([[5.0, 5.0]]), np.array([1.0]), [], 20.0, False, 3.0)
    pos = np.array([[7.0, 5.0], [7.0, 5.0], [15.0, 15.0]])
    reading = field.sense(pos, np.array([True, False, True]), 2)
    assert reading.dist[0, 0] == pytest.approx(1.0) and reading.mask[1].sum() == 0
    alone = field.sense(pos[:1], np.ones(1, bool), 2)
    np.testing.assert_array_equal(alone.rel_pos[0], reading.rel_pos[0])
    assert reading.mask[2].sum() == 0 and reading.nearest[2] == np.inf


def test_push_out_clears_points_and_keeps_free_ones() -> None:
    field = ObstacleField.build(np.array([[5.0, 5.0]]), np.array([1.0]), [SQUARE], 20.0, False, 2.0)
    pts = np.array([[5.0, 5.0], [5.5, 5.0], [12.0, 11.0], [18.0, 18.0]])
    out = field.push_out(pts, 0.3)
    reading = field.sense(out, np.ones(4, bool), 1)
    assert (reading.nearest[:3] >= 0.3 - 1e-9).all()
    np.testing.assert_array_equal(out[3], pts[3])
    np.testing.assert_allclose(out[1], [6.3, 5.0])  # the least move: straight out
    wide = field.push_out(pts, 5.0)  # beyond the grid's reach: still exact
    assert (field.sense(wide, np.ones(4, bool), 1).nearest[:1] > 2.0).all() or np.isinf(
        field.sense(wide, np.ones(4, bool), 1).nearest[0]
    )


def test_forest_keeps_its_gap_and_is_seeded() -> None:
    centres, radii = forest(500, 0.25, 0.9, 60.0, np.random.default_rng(1))
    again, _ = forest(500, 0.25, 0.9, 60.0, np.random.default_rng(1))
    np.testing.assert_array_equal(centres, again)
    d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 2 * 0.25 + 0.9 and (radii == 0.25).all()
    assert (centres >= 0.25).all() and (centres <= 59.75).all()
    with pytest.raises(ConfigError, match="obstacle_count: 5000 poles"):
        forest(5000, 0.25, 0.9, 20.0, np.random.default_rng(1))


def test_urban_blocks_leave_streets() -> None:
    blocks = urban(5, 4.0, 30.0)
    assert len(blocks) == 5
    np.testing.assert_allclose(blocks[0][0], [2.0, 2.0])
    np.testing.assert_allclose(blocks[1][0], [12.0, 2.0])  # pitch 10 m, side 6 m
    np.testing.assert_allclose(blocks[3][0], [2.0, 12.0])  # next row of the 3 x 3 grid
    with pytest.raises(ConfigError, match="street_width"):
        urban(100, 4.0, 30.0)


def test_obstacle_file_format_and_one_line_errors(tmp_path) -> None:
    good = tmp_path / "map.json"
    good.write_text(json.dumps({
        "discs": [{"center": [5, 5], "radius": 1}],
        "polygons": [{"vertices": SQUARE.tolist()}],
    }))  # fmt: skip
    spec = load_obstacle_file(good)
    assert len(spec.discs) == 1 and len(spec.polygons) == 1
    concave = tmp_path / "concave.json"
    concave.write_text(json.dumps({"polygons": [{"vertices": [[0, 0], [4, 0], [1, 1], [0, 4]]}]}))
    with pytest.raises(ConfigError, match="convex"):
        load_obstacle_file(concave)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot read"):
        load_obstacle_file(tmp_path / "bad.json")
    (tmp_path / "extra.json").write_text(json.dumps({"walls": []}))
    with pytest.raises(ConfigError, match="walls"):
        load_obstacle_file(tmp_path / "extra.json")
    with pytest.raises(ConfigError, match="no such file"):
        load_obstacle_file(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="outside the arena"):
        ObstacleField.build(np.array([[0.5, 5.0]]), np.array([1.0]), [], 20.0, False, 2.0)


def test_config_refuses_a_bad_obstacle_file_in_one_line(tmp_path) -> None:
    from envs.flocking import FlockingModel

    with pytest.raises(ConfigError) as err:
        FlockingModel(obstacles=str(tmp_path / "nope.json"))
    assert "obstacles" in str(err.value) and "\n" not in str(err.value)
    assert "forest" in str(err.value)


def test_scenario_senses_counts_contacts_and_spawns_clear() -> None:
    from envs.flocking import FlockingModel

    model = FlockingModel(n_agents=300, obstacles="forest", obstacle_count=150,
                          boundary="box", policy="random_walk", rng=2)  # fmt: skip
    own = model.observe().own
    assert own["obstacle_rel_pos"].shape == (300, 4, 2)
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


def test_without_obstacles_nothing_changes() -> None:
    from envs.flocking import FlockingModel

    a = FlockingModel(n_agents=50, rng=4)
    for _ in range(5):
        a.step()
    assert "obstacle_contacts" not in a.metrics and "obstacle_rel_pos" not in a.observe().own
    assert a.engine.obstacles is None


def test_orca_keeps_drones_off_poles_and_walls() -> None:
    """goto flies straight through a forest and a city; behind ORCA no drone touches one."""
    from envs.crossing import CrossingModel

    for kind, count in (("forest", 150), ("urban", 9)):
        unsafe = CrossingModel(n_agents=30, world_size=40.0, obstacles=kind,
                               obstacle_count=count, street_width=6.0, rng=1)  # fmt: skip
        safe = CrossingModel(n_agents=30, world_size=40.0, obstacles=kind, safety="orca",
                             obstacle_count=count, street_width=6.0, rng=1)  # fmt: skip
        for _ in range(1500):
            unsafe.step()
            safe.step()
        assert unsafe.metrics["obstacle_contacts_total"] > 0, kind
        assert safe.metrics["obstacle_contacts_total"] == 0, kind
        assert safe.metrics["collisions_total"] == 0, kind
        assert safe.metrics["obstacle_clearance"] > 0.5 * safe.config.collision_radius


def test_orca_with_obstacles_passes_the_audit() -> None:
    from envs.crossing import CrossingModel
    from swarm.testing import auditor_for

    model = CrossingModel(n_agents=40, world_size=40.0, obstacles="forest", obstacle_count=120,
                          safety="orca", rng=0)  # fmt: skip
    auditor = auditor_for(model, agents_per_step=40)
    for _ in range(300):
        auditor.step()
    assert auditor.checked > 0


def test_the_example_file_runs_from_the_command_line(tmp_path) -> None:
    """experiments/obstacles/yard.json as a user passes it: boids behind ORCA touch nothing."""
    import pandas as pd

    from swarm.cli import main

    out = tmp_path / "run"
    code = main(["run", "flocking", "--agents", "100", "--steps", "60", "--seed", "1",
                 "--set", "obstacles=experiments/obstacles/yard.json", "--set", "boundary=box",
                 "--set", "safety=orca", "--out", str(out)])  # fmt: skip
    assert code == 0
    final = json.loads((out / "summary.json").read_text())["final"]
    assert final["obstacle_contacts_total"] == 0
    frame = pd.read_parquet(out / "metrics.parquet")
    assert (frame["obstacle_clearance"] > 0.15).all() and len(frame) == 61


@pytest.mark.parametrize("reach", [4.0, 12.0])  # a torus 2.5 and 0.8 sensing ranges wide
def test_a_small_torus_senses_across_the_seam(reach: float) -> None:
    """Arenas under three sensing ranges wide wrap onto one cell, read at the nearest image."""
    world = 10.0
    rng = np.random.default_rng(8)
    discs = rng.uniform(1.0, 9.0, size=(12, 2))
    radii = rng.uniform(0.1, 0.6, size=12)
    tri = np.array([[7.0, 7.0], [9.5, 7.0], [8.0, 9.5]])
    field = ObstacleField.build(discs, radii, [tri], world, True, reach)
    pos = np.vstack([rng.uniform(0, world, size=(150, 2)), [[9.9, 5.0], [0.1, 8.0]]])
    reading = field.sense(pos, np.ones(len(pos), bool), 4)
    expected = _brute(pos, discs, radii, [tri], world, True, reach, 4)
    for i, want in enumerate(expected):
        assert reading.mask[i].sum() == len(want), i
        for t, (d, _, rel) in enumerate(want):
            assert reading.dist[i, t] == pytest.approx(d, abs=1e-9)
            np.testing.assert_allclose(reading.rel_pos[i, t], rel, atol=1e-9)


def test_a_forest_on_a_torus_keeps_its_gap_across_the_seam() -> None:
    centres, _ = forest(200, 0.25, 1.5, 40.0, np.random.default_rng(0), torus=True)
    d = centres[:, None, :] - centres[None, :, :]
    d -= 40.0 * np.rint(d / 40.0)
    gaps = np.hypot(d[..., 0], d[..., 1])
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() >= 2 * 0.25 + 1.5


def test_a_star_is_not_a_convex_polygon(tmp_path) -> None:
    angles = 2 * np.pi * np.arange(5) / 5
    star = np.column_stack([10 + 3 * np.cos(angles), 10 + 3 * np.sin(angles)])[[0, 2, 4, 1, 3]]
    path = tmp_path / "star.json"
    path.write_text(json.dumps({"polygons": [{"vertices": star.tolist()}]}))
    with pytest.raises(ConfigError, match="convex"):
        load_obstacle_file(path)


def test_cbf_keeps_a_fast_drone_off_a_wall_it_is_pushed_at(tmp_path) -> None:
    """A drone flying along a wall at 8 m/s, commanded straight into it at full thrust: the
    barrier of the wall's supporting line stops it short (a barrier from the nearest point
    alone would credit flying past it, and let the drone in)."""
    from envs.flocking import FlockingModel
    from swarm.policy import Policy

    class PushDown(Policy):
        name = "push_down"

        def act(self, obs):
            return np.tile([0.0, -20.0], (obs.n, 1))

    wall = tmp_path / "wall.json"
    wall.write_text(json.dumps({"polygons": [{"vertices": [[1, 1], [49, 1], [49, 3], [1, 3]]}]}))
    model = FlockingModel(n_agents=1, world_size=50.0, boundary="box", obstacles=str(wall),
                          safety="cbf", max_accel=20.0, max_speed=10.0, dt=0.01,
                          collision_radius=0.5, rng=0)  # fmt: skip
    model.engine.pos[:] = [[5.0, 3.6]]
    model.engine.vel[:] = [[8.0, 0.0]]
    model.engine.invalidate()
    model.policy = PushDown()
    for _ in range(400):
        model.step()
    assert model.metrics["obstacle_contacts_total"] == 0
    assert model.metrics["obstacle_clearance"] >= 0.25 * 0.98


def test_learners_observe_the_obstacles_they_sense() -> None:
    """The flat observation gains each slot's nearest point, signed distance and mask."""
    from pettingzoo.test import parallel_api_test

    from envs.crossing_v0 import parallel_env

    config = {"n_agents": 5, "world_size": 20.0, "ring_radius": 8.0}
    with_poles = parallel_env(**config, obstacles="forest", obstacle_count=50)
    plain = parallel_env(**config)
    seen, _ = with_poles.reset(seed=1)
    bare, _ = plain.reset(seed=1)
    slots = 4  # obstacle_slots' default: a point (2), a distance and a mask each
    assert len(seen["drone_0"]) == len(bare["drone_0"]) + slots * 4
    parallel_api_test(parallel_env(**config, obstacles="forest", obstacle_count=50), num_cycles=30)
