"""Formation scenario: the shapes have the spacing they promise, bad shapes fail at the
config, and the formation error is the residual of the best rigid alignment (checked against a
hand-computed case, a reflection and scipy's Procrustes)."""

import math

import numpy as np
import pytest
from scipy.linalg import orthogonal_procrustes

from envs.formation import FormationModel, kabsch_2d, shape_points
from swarm.config import ConfigError


def neighbour_gaps(points: np.ndarray) -> np.ndarray:
    return np.sqrt((np.diff(points, axis=0) ** 2).sum(axis=1))


def test_named_shapes_put_neighbouring_slots_scale_apart_around_the_origin():
    line = shape_points("line", 5, 2.0)
    np.testing.assert_allclose(neighbour_gaps(line), 2.0)
    np.testing.assert_allclose(line[:, 1], 0.0)
    circle = shape_points("circle", 12, 1.5)
    np.testing.assert_allclose(neighbour_gaps(circle), 1.5)  # chords
    np.testing.assert_allclose(np.hypot(*circle.T), 1.5 / (2 * math.sin(math.pi / 12)))
    grid = shape_points("grid", 9, 1.0)
    assert sorted({round(x, 9) for x in grid[:, 0]}) == [-1.0, 0.0, 1.0]
    wedge = shape_points("wedge", 7, 1.0)
    apex = wedge[0]
    arm = wedge[1::2] - apex  # one arm: 1, 2, 3 steps back at 30 degrees from the axis
    np.testing.assert_allclose(np.hypot(*arm.T), [1.0, 2.0, 3.0])
    np.testing.assert_allclose(np.degrees(np.arctan2(arm[:, 1], -arm[:, 0])), 30.0)
    for points in (line, circle, grid, wedge):
        np.testing.assert_allclose(points.mean(axis=0), 0.0, atol=1e-12)


def test_custom_points_are_scaled_and_centred():
    points = shape_points([(0, 0), (2, 0), (0, 1)], 3, 3.0)
    np.testing.assert_allclose(points, np.array([[0, 0], [6, 0], [0, 3]]) - [2, 1])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"n_agents": 3, "shape": [(0, 0), (1, 0)]}, "shape"),
        ({"n_agents": 2, "shape": [(0, 0), (0, 0)]}, "shape"),
        ({"n_agents": 40, "shape": "line", "scale": 2.0}, "scale"),
        ({"boundary": "torus"}, "boundary"),
        ({"center": (100.0, 5.0)}, "center"),
        ({"shape": "star"}, "shape"),
    ],
)
def test_bad_shapes_fail_at_the_config_naming_the_field(fields, field):
    with pytest.raises(ConfigError, match=field):
        FormationModel(world_size=40.0, **fields)


def test_kabsch_on_a_hand_computed_case():
    """Slots (-1, 0), (1, 0) and drones at (-2, 0), (2, 0): already the best orientation;
    each drone is 1 m from its aligned slot, so the RMS residual is 1 m."""
    angle, shift, rms = kabsch_2d(
        np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([[-2.0, 0], [2, 0]])
    )
    assert rms == pytest.approx(1.0) and angle == pytest.approx(0.0)
    np.testing.assert_allclose(shift, 0.0, atol=1e-12)


def test_kabsch_recovers_a_rotation_and_translation_and_refuses_a_reflection():
    shape = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    turn = math.radians(70.0)
    rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    moved = shape @ rot.T + [5.0, -3.0]
    angle, shift, rms = kabsch_2d(shape, moved)
    assert angle == pytest.approx(turn) and rms == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(shape @ rot.T + shift, moved, atol=1e-12)
    # the mirror image is not a rigid motion: by hand, centred shape a = (-2/3, -1/3),
    # (4/3, -1/3), (-2/3, 2/3) and its mirror b = (a_x, -a_y): sum a.b = sum a_x^2 - a_y^2
    # = 8/3 - 2/3 = 2, sum a x b = -2 sum a_x a_y = 4/3, |a|^2 = |b|^2 = 10/3, so
    # RMS^2 = (20/3 - 2 sqrt(4 + 16/9)) / 3 = (20 - 4 sqrt(13)) / 9
    mirrored = shape * [1.0, -1.0]
    assert kabsch_2d(shape, mirrored)[2] == pytest.approx(math.sqrt(20 - 4 * math.sqrt(13)) / 3)


def test_kabsch_matches_scipy_procrustes_when_the_best_fit_is_a_rotation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        shape = rng.normal(size=(8, 2))
        turn = rng.uniform(-np.pi, np.pi)
        rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
        pos = shape @ rot.T + rng.normal(size=2) + 0.1 * rng.normal(size=(8, 2))
        a, b = shape - shape.mean(axis=0), pos - pos.mean(axis=0)
        best, _ = orthogonal_procrustes(a, b)  # a @ best ~ b, reflections allowed
        assert np.linalg.det(best) > 0
        expected = np.sqrt(((a @ best - b) ** 2).sum(axis=1).mean())
        assert kabsch_2d(shape, pos)[2] == pytest.approx(expected, rel=1e-9)


def test_metrics_read_the_assignment_the_drones_hold():
    model = FormationModel(n_agents=4, world_size=20.0, shape="line", scale=1.0, rng=0)
    engine = model.engine
    slots = model.scenario.slots
    engine.agent_state["slot"][:] = [0, 1, 2, -1]
    engine.pos[:] = [[5.0, 5.0], [6.0, 5.0], [7.5, 5.0], [1.0, 1.0]]
    engine.invalidate()
    metrics = model.metrics
    assert metrics["assigned"] == pytest.approx(0.75)
    assert metrics["conflicts"] == 0
    expected = kabsch_2d(slots[:3], engine.pos[:3])[2]
    assert expected > 0.1 and metrics["formation_error"] == pytest.approx(expected)
    engine.agent_state["slot"][:] = [0, 0, 0, 1]  # three drones on slot 0: two too many
    engine.invalidate()
    assert model.metrics["conflicts"] == 2
    engine.crash([1])  # a crashed drone's slot no longer counts
    assert model.metrics["conflicts"] == 1
