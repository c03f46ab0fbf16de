"""warehouse_v0: the PettingZoo view of the warehouse model (rewards, observations, errors).

PettingZoo's own conformance suite runs over it in ``test_pettingzoo_compliance.py``.
"""

import numpy as np
import pytest

from envs import warehouse_v0
from swarm.config import ConfigError
from swarm.grid.layout import LayoutParams

LAYOUT = LayoutParams(block_rows=2, block_cols=3, shelf_width=4)


def make(**kw):
    values = dict(n_agents=8, layout=LAYOUT, max_cycles=40) | kw
    return warehouse_v0.parallel_env(**values)


def test_spaces_agents_and_truncation_at_max_cycles():
    env = make(max_cycles=5, view_radius=2)
    obs, _ = env.reset(seed=0)
    assert env.possible_agents == [f"robot_{i}" for i in range(8)]
    assert env.action_space("robot_3").n == 5
    assert env.observation_space("robot_3").shape == (3 * 5 * 5 + 8,)
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())
    for step in range(5):
        out = env.step(dict.fromkeys(env.agents, 0))
        assert all(out[3].values()) == (step == 4) and not any(out[2].values())
    assert env.agents == []
    with pytest.raises(RuntimeError, match="episode is over"):
        env.step({})


def test_rewards_are_the_tasks_each_robot_finished():
    """Following ``toward_goal`` alone on the map reaches the goal in exactly the BFS distance,
    and the summed rewards equal the model's tasks_finished."""
    env = make(n_agents=1, max_cycles=200)
    obs, _ = env.reset(seed=3)
    model = env.model
    dist = int(model.bank.lookup(model.tasks.goal_slot[:1], model.world.fcell[:1])[0])
    total, first = 0.0, None
    for step in range(1, 200):
        toward = env.layout.view(obs["robot_0"], "toward_goal")
        action = int(np.argmax(toward)) if toward.any() else 0
        obs, rew, *_ = env.step({"robot_0": action})
        total += rew["robot_0"]
        if rew["robot_0"] and first is None:
            first = step
    assert first == max(dist, 1)
    assert total == model.metrics["tasks_finished"] >= 5


def test_bad_actions_name_the_agent_and_apply_nothing():
    env = make()
    env.reset(seed=1)
    cells, t = env.model.world.cell.copy(), env.model.world.t
    good = dict.fromkeys(env.agents, 1)
    cases = [
        (good | {"robot_5": 7}, ValueError, "robot_5: action 7 is outside Discrete"),
        (good | {"robot_2": 1.5}, TypeError, "robot_2: action 1.5 is not an integer"),
        (good | {"robot_9": 0}, KeyError, "unknown agent"),
        ({a: 0 for a in env.agents if a != "robot_4"}, KeyError, "missing actions.*robot_4"),
        ([0] * 8, TypeError, "must be a dict"),
    ]
    for actions, error, words in cases:
        with pytest.raises(error, match=words):
            env.step(actions)
    assert np.array_equal(env.model.world.cell, cells) and env.model.world.t == t


def test_bad_arguments_fail_with_one_clear_message():
    for values, words in [
        ({"continuous_actions": True}, "discrete moves only"),
        ({"wings": 2}, "unknown argument"),
        ({"view_radius": 0}, "view_radius"),
        ({"n_agents": 0}, "n_agents"),
    ]:
        with pytest.raises(ConfigError, match=words):
            make(**values)
    with pytest.raises(ConfigError, match="render_mode"):
        make(render_mode="ansi")


def test_same_seed_same_episode_and_unseeded_resets_differ():
    def roll(env, seed):
        obs, _ = env.reset(seed=seed)
        rng = np.random.default_rng(0)
        for _ in range(20):
            obs, *_ = env.step({a: int(rng.integers(5)) for a in env.agents})
        return np.stack(list(obs.values())), env.state()

    a, b = roll(make(), 7), roll(make(), 7)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    env = make()
    env.reset(seed=7)
    first = env.state()
    env.reset()
    assert not np.array_equal(first, env.state())


def test_observation_is_local_moving_a_far_robot_changes_nothing():
    """Robot 0's observation depends on its own cell and goal and on the robots it senses
    only: teleporting a robot far away (beyond sense radius and window) leaves it unchanged."""
    env = make(n_agents=2, view_radius=2, sense_radius=2.0)
    env.reset(seed=2)
    model = env.model
    g = model.grid_map
    rc0 = g.rowcol(model.world.cell[:1])[0]
    far = [c for c in g.free_cells if np.abs(g.rowcol(np.array([c]))[0] - rc0).max() > 4]
    before = env.encoder(model.observe())[0]
    for cell in far[:: max(1, len(far) // 5)]:
        if cell in model.world.cell:
            continue
        model.world.cell[1] = cell
        model.world.invalidate()
        assert np.array_equal(env.encoder(model.observe())[0], before)


def test_view_shows_a_neighbour_and_state_lies_in_its_space():
    env = make(n_agents=2, view_radius=2)
    env.reset(seed=0)
    model = env.model
    g = model.grid_map
    # put robot 1 right east of robot 0 (find a free pair of cells)
    free = set(g.free_cells.tolist())
    a = next(c for c in g.free_cells if c + 1 in free and (c + 1) % g.width)
    model.world.cell[:] = [a, a + 1]
    model.world.invalidate()
    view = env.layout.view(env.encoder(model.observe())[0], "view")
    assert view[0, 2, 3] == 1.0 and view[0].sum() == 1.0  # robot channel: one, to the east
    assert env.state_space.contains(env.state())


def test_render_rgb_array_draws_map_and_robots():
    """The map fills the frame at the map's aspect, and each robot covers its cell's pixel."""
    from swarm.viewer import Camera
    from swarm.viewer.grid import grid_scene

    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    g = env.model.grid_map
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert max(frame.shape[:2]) == 600
    assert abs(frame.shape[1] / frame.shape[0] - g.width / g.height) < 0.05
    scene = grid_scene(env.model)
    camera = Camera.fit(scene.bounds, frame.shape[1], frame.shape[0])
    robots = scene.agents()
    colours = next(iter(robots.attributes.values())).colour()
    for i, (x, y) in enumerate(np.floor(camera.to_screen(robots.pos)).astype(int)):
        assert tuple(frame[y, x]) == tuple(colours[i])


@pytest.mark.parametrize(
    "kw",
    [{"n_agents": 19}, {"n_agents": 40, "view_radius": 3}, {"n_agents": 6, "tasks": "poisson"}],
)
def test_compiled_encoder_equals_the_numpy_reference(kw):
    """The fused kernel (fast) and the segment-by-segment numpy build (readable) agree."""
    env = warehouse_v0.parallel_env(**kw)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    encoder = env.unwrapped.encoder
    for _ in range(40):
        obs = env.unwrapped.model.observe()
        np.testing.assert_array_equal(encoder(obs), encoder.reference(obs))
        env.step({agent: int(rng.integers(0, 5)) for agent in env.agents})


@pytest.mark.parametrize(
    ("bad", "error", "words"),
    [
        (np.array([2]), ValueError, r"robot_3: action is an array of shape \(1,\); expected one"),
        (np.full((7, 7), np.nan), ValueError, r"robot_3: action is an array of shape \(7, 7\)"),
        (np.array([[1]]), ValueError, r"robot_3: action is an array of shape \(1, 1\)"),
        (np.nan, TypeError, "robot_3: action nan is not an integer"),
        (np.float64(2.0), TypeError, "robot_3: action .*2.0.* is not an integer"),
        (np.array(2.0), TypeError, "robot_3: action .* is not an integer"),
        ("2", TypeError, "robot_3: action '2' is not an integer"),
        (None, TypeError, "robot_3: action None is not an integer"),
        (np.bool_(True), TypeError, "robot_3: action .*True.* is not an integer"),
        (-1, ValueError, r"robot_3: action -1 is outside Discrete\(5\)"),
        (np.uint64(2**63), ValueError, "robot_3: action 9223372036854775808 is outside"),
    ],
)
def test_every_bad_action_names_the_agent_and_what_is_allowed(bad, error, words):
    env = make()
    env.reset(seed=1)
    cells, t = env.model.world.cell.copy(), env.model.world.t
    with pytest.raises(error, match=words) as err:
        env.step(dict.fromkeys(env.agents, 0) | {"robot_3": bad})
    assert "0 wait, 1 north, 2 east, 3 south, 4 west" in str(err.value)
    assert "inhomogeneous" not in str(err.value)
    assert np.array_equal(env.model.world.cell, cells) and env.model.world.t == t
    with pytest.raises(error, match=words):  # the AEC env checks each action alike
        env.check_action("robot_3", bad)


def test_valid_actions_of_mixed_integer_types_are_accepted():
    env = make(n_agents=4)
    env.reset(seed=1)
    acts = {"robot_0": np.uint64(1), "robot_1": np.int64(2), "robot_2": np.array(3),
            "robot_3": np.int8(0)}  # fmt: skip
    env.step(acts)
    assert env.model.world.t == 1


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True, [1, 2], np.float64(3.0)])
def test_a_bad_reset_seed_is_one_clear_error(seed):
    env = make()
    with pytest.raises(ConfigError, match=r"warehouse_v0: reset\(seed=.*\): seed must be None or "
                                          r"an integer >= 0"):  # fmt: skip
        env.reset(seed=seed)
    env.reset(seed=np.int64(3))  # numpy integers are integers
    env.reset(seed=2**70)  # and any size is fine
