"""Body-frame observations and actions (env argument ``frame="body"``): no absolute position,
every vector on the drone's own axes, actions turned back to the world's. Turning or moving
the whole world changes nothing a drone reads and turns what it does with the world; a
hovering drone falls back to the world's axes; the learned actor stays local; the checkpoint
keeps the frame; a segment that does not say which of its values are vectors is refused."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402

from envs.navigation import Navigation  # noqa: E402
from swarm.config import ConfigError  # noqa: E402
from swarm.learn.checkpoint import CheckpointError, checkpoint_frame, save_checkpoint  # noqa: E402
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402
from swarm.learn.policy import LearnedPolicy, load_policy  # noqa: E402
from swarm.marl import SwarmParallelEnv, observation_encoder  # noqa: E402
from swarm.marl.encoding import body_axes, body_to_world, world_to_body  # noqa: E402
from swarm.scenario import Segment  # noqa: E402

# a big arena and a cluster in its middle: turned about the centre, nobody meets a wall
WORLD, CENTRE, N = 100.0, 50.0, 8
ANGLES = (0.7, 2.5, -1.9)


def yaw(theta: float, dim: int) -> np.ndarray:
    """(dim, dim) rotation by ``theta`` about the vertical axis (x, y turn; z stays)."""
    c, s = np.cos(theta), np.sin(theta)
    out = np.eye(dim)
    out[:2, :2] = [[c, -s], [s, c]]
    return out


def cluster(dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """N drones within a few metres of the centre, flying every which way (|v| >= 0.5)."""
    rng = np.random.default_rng(seed)
    pos = CENTRE + rng.uniform(-3.0, 3.0, (N, dim))
    heading = rng.uniform(-np.pi, np.pi, N)
    speed = rng.uniform(0.5, 2.0, N)
    vel = np.zeros((N, dim))
    vel[:, 0], vel[:, 1] = speed * np.cos(heading), speed * np.sin(heading)
    if dim == 3:
        vel[:, 2] = rng.uniform(-0.5, 0.5, N)
    return pos, vel


def env_at(scenario: str, pos, vel, turn=None, shift=None, **kw) -> SwarmParallelEnv:
    """A one-arena env whose state is (pos, vel) (and the task's points) turned by the
    matrix ``turn`` about the centre and moved by ``shift``."""
    env = SwarmParallelEnv(scenario, n_agents=N, world_size=WORLD, **kw)
    env.reset(seed=1)
    engine = env.engine
    dim = engine.dim
    turn = np.eye(dim) if turn is None else turn
    shift = np.zeros(dim) if shift is None else shift

    def place(points: np.ndarray) -> np.ndarray:
        return (points - CENTRE) @ turn.T + CENTRE + shift

    engine.pos[:] = place(pos)
    engine.vel[:] = vel @ turn.T
    scenario_ = env.core.scenario
    if scenario == "navigation":  # landmarks next to the cluster, turned with it
        marks = CENTRE + np.random.default_rng(9).uniform(-4.0, 4.0, scenario_.landmarks.shape)
        scenario_.landmarks[:] = place(marks.reshape(-1, dim)).reshape(scenario_.landmarks.shape)
    if scenario == "crossing":
        goals = CENTRE + np.random.default_rng(8).uniform(-20.0, 20.0, (N, dim))
        scenario_.goal[:] = place(goals)
    engine.invalidate()
    engine.sense()
    return env


def observe(env: SwarmParallelEnv) -> np.ndarray:
    return env.core.observe()[0].astype(np.float64)


def step_with(env: SwarmParallelEnv, actions: np.ndarray) -> np.ndarray:
    """Step every drone with ``actions`` (N, dim); the observation after."""
    env.step({a: actions[i].astype(np.float32) for i, a in enumerate(env.agents)})
    return observe(env)


# --------------------------------------------------------------------------- the layout
def test_the_body_frame_drops_own_pos_and_keeps_the_rest():
    world = observation_encoder("flocking", n_agents=4)
    body = observation_encoder("flocking", n_agents=4, frame="body")
    assert "own_pos" in world.layout.names and "own_pos" not in body.layout.names
    assert body.layout.names == [n for n in world.layout.names if n != "own_pos"]
    assert body.obs_dim == world.obs_dim - 2
    assert (world.frame, body.frame) == ("world", "body")


def test_helpers_turn_into_the_body_and_back():
    rng = np.random.default_rng(0)
    vel = rng.normal(size=(50, 3))
    axes = body_axes(vel)
    np.testing.assert_allclose(np.hypot(axes[:, 0], axes[:, 1]), 1.0)
    own = world_to_body(vel, axes)  # the own velocity: forward speed, no sideways part, climb
    np.testing.assert_allclose(own[:, 0], np.hypot(vel[:, 0], vel[:, 1]))
    np.testing.assert_allclose(own[:, 1], 0.0, atol=1e-12)
    np.testing.assert_array_equal(own[:, 2], vel[:, 2])
    v = rng.normal(size=(50, 3))
    np.testing.assert_allclose(body_to_world(world_to_body(v, axes), axes), v, atol=1e-12)
    before = v.copy()
    world_to_body(v, axes)
    np.testing.assert_array_equal(v, before)  # a copy: the scenario's arrays stay untouched


# --------------------------------------------------------------------------- equivariance
@pytest.mark.parametrize("scenario, kw", [
    ("flocking", {}),
    ("navigation", {"inbox_slots": 0}),
    ("crossing", {}),
    ("pursuit", {}),
    ("flocking", {"dim": 3}),
    ("flocking", {"max_accel": 1.0, "out_of_box": "clip"}),  # clipped in the body frame
])  # fmt: skip
def test_turning_the_world_leaves_body_observations_and_turns_the_actions(scenario, kw):
    """Observation at angle theta == observation at 0; the same body-frame actions then move
    the turned world exactly as the original one turned: velocities after the step are the
    originals turned by theta, and the next observations agree again."""
    dim = kw.get("dim", 2)
    pos, vel = cluster(dim)
    actions = np.random.default_rng(4).uniform(-2.0, 2.0, (N, dim))
    base = env_at(scenario, pos, vel, frame="body", **kw)
    seen = observe(base)
    after = step_with(base, actions)
    assert np.abs(seen).max() > 0 and base.engine.neighbors.counts.sum() > 0
    for theta in ANGLES:
        turn = yaw(theta, dim)
        env = env_at(scenario, pos, vel, turn=turn, frame="body", **kw)
        np.testing.assert_allclose(observe(env), seen, atol=1e-5)
        np.testing.assert_allclose(step_with(env, actions), after, atol=1e-5)
        np.testing.assert_allclose(env.engine.vel, base.engine.vel @ turn.T, atol=1e-9)
        np.testing.assert_allclose(
            env.engine.pos - CENTRE, (base.engine.pos - CENTRE) @ turn.T, atol=1e-9
        )


def test_the_world_frame_is_not_invariant():
    """The check above can fail: world-frame observations do change with the turn."""
    pos, vel = cluster(2)
    base = observe(env_at("flocking", pos, vel))
    turned = observe(env_at("flocking", pos, vel, turn=yaw(ANGLES[0], 2)))
    assert not np.allclose(base, turned, atol=1e-3)


def test_a_pitch_is_not_a_symmetry_in_3d():
    """Yaw only: z stays the world's up, so tipping the world over is seen."""
    pos, vel = cluster(3)
    c, s = np.cos(0.6), np.sin(0.6)
    pitch = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    base = observe(env_at("flocking", pos, vel, frame="body", dim=3))
    tipped = observe(env_at("flocking", pos, vel, turn=pitch, frame="body", dim=3))
    assert not np.allclose(base, tipped, atol=1e-3)


@pytest.mark.parametrize("scenario, kw", [("flocking", {}), ("navigation", {"inbox_slots": 0})])
def test_moving_the_world_leaves_body_observations(scenario, kw):
    pos, vel = cluster(2)
    base = observe(env_at(scenario, pos, vel, frame="body", **kw))
    for shift in ([17.0, -23.0], [-40.0, 41.0]):
        moved = env_at(scenario, pos, vel, shift=np.array(shift), frame="body", **kw)
        np.testing.assert_allclose(observe(moved), base, atol=1e-5)
        world = env_at(scenario, pos, vel, shift=np.array(shift), **kw)
        assert not np.allclose(observe(world), observe(env_at(scenario, pos, vel, **kw)))


def test_the_learned_actor_turns_with_the_world():
    """The Mesa path: a LearnedPolicy on a body-frame encoder gives, in a turned world, the
    same actions turned (it reads the same numbers; the encoder turns them back)."""
    pos, vel = cluster(2)
    encode = observation_encoder("flocking", n_agents=N, world_size=WORLD, frame="body")
    torch.manual_seed(0)
    spec = NetSpec(obs_dim=encode.obs_dim, act_dim=2, hidden=16, action_low=[-3.0, -3.0],
                   action_high=[3.0, 3.0])  # fmt: skip
    model = ActorCritic(spec)
    for p in model.actor.parameters():
        p.data.normal_(0, 0.5)
    policy = LearnedPolicy(model, encode, scenario="flocking")
    base = policy.act(env_at("flocking", pos, vel, frame="body").engine.obs)
    assert np.abs(base).max() > 0.1
    for theta in ANGLES:
        obs = env_at("flocking", pos, vel, turn=yaw(theta, 2), frame="body").engine.obs
        np.testing.assert_allclose(policy.act(obs), base @ yaw(theta, 2).T, atol=1e-4)


def test_discrete_directions_turn_with_the_drone():
    """Discrete(5): "+x" is forward along the drone's own velocity, "+y" to its left."""
    pos, vel = cluster(2)
    env = env_at("flocking", pos, vel, frame="body", continuous_actions=False)
    heading = vel / np.linalg.norm(vel, axis=1, keepdims=True)
    left = np.column_stack([-heading[:, 1], heading[:, 0]])
    b = env.core.bound
    np.testing.assert_allclose(env.core.to_accel(np.full(N, 2)), b * heading, atol=1e-12)
    np.testing.assert_allclose(env.core.to_accel(np.full(N, 4)), b * left, atol=1e-12)
    np.testing.assert_array_equal(env.core.to_accel(np.zeros(N, np.int64)), 0.0)
    rows = np.array([1, 5])
    np.testing.assert_allclose(env.core.to_accel(np.full(2, 2), rows), b * heading[rows])


@pytest.mark.parametrize("scenario, kw", [
    ("flocking", {}),
    ("flocking", {"continuous_actions": False}),
    ("crossing", {"dim": 3}),
    ("pursuit", {}),
])  # fmt: skip
def test_body_frame_envs_pass_pettingzoo_checks(scenario, kw):
    import warnings

    from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

    from swarm.marl import env_module

    mod = env_module(scenario)
    cfg = dict(n_agents=4, max_cycles=12, frame="body", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        api_test(mod.env(**cfg), num_cycles=15)
        parallel_api_test(mod.parallel_env(**cfg), num_cycles=15)
        parallel_seed_test(lambda: mod.parallel_env(**cfg), num_cycles=15)


# --------------------------------------------------------------------------- hovering
def test_a_hovering_drone_reads_and_acts_on_the_world_axes():
    pos, vel = cluster(2)
    vel[[0, 3]] = 0.0
    vel[5] = [1e-9, -1e-9]  # below HOVER_SPEED: no heading either
    body = env_at("flocking", pos, vel, frame="body")
    world = env_at("flocking", pos, vel)
    own = world.layout.slices["own_pos"]
    world_obs = np.delete(observe(world), np.arange(own.start, own.stop), axis=1)
    np.testing.assert_array_equal(observe(body)[[0, 3, 5]], world_obs[[0, 3, 5]])
    assert not np.allclose(observe(body)[1], world_obs[1])
    actions = np.random.default_rng(2).uniform(-1, 1, (N, 2))
    accel = body.core.to_accel(actions)
    np.testing.assert_array_equal(accel[[0, 3, 5]], actions[[0, 3, 5]])
    np.testing.assert_array_equal(body_axes(np.zeros((2, 3))), [[1.0, 0.0], [1.0, 0.0]])


# --------------------------------------------------------------------------- world frame
def test_the_world_frame_hands_actions_through_untouched():
    env = env_at("flocking", *cluster(2))
    actions = np.random.default_rng(1).uniform(-1, 1, (N, 2))
    assert env.core.to_accel(actions) is actions
    assert env.core.encoder.actions_to_world(actions, env.engine.vel) is actions


# --------------------------------------------------------------------------- messages
def test_undeclared_messages_refuse_the_body_frame_in_one_line():
    """Navigation's landmark reports are world-frame vectors its message segment does not
    mark: turning the rest and not them would mix frames, so the body frame is refused."""
    with pytest.raises(ConfigError) as err:
        SwarmParallelEnv("navigation", n_agents=3, frame="body")
    text = str(err.value)
    assert "\n" not in text and "'message'" in text and "inbox_slots=0" in text
    SwarmParallelEnv("navigation", n_agents=3, frame="body", inbox_slots=0)  # no inbox: fine
    SwarmParallelEnv("navigation", n_agents=3)  # the world frame keeps its messages


def test_an_undeclared_task_segment_is_refused(monkeypatch):
    def segments(self):
        return [Segment("landmark_rel_pos", (4, 2), -1.0, 1.0, "no vectors declared"),
                Segment("landmark_mask", (4,), 0.0, 1.0, vectors=())]  # fmt: skip

    monkeypatch.setattr(Navigation, "observation_segments", segments)
    with pytest.raises(ConfigError, match=r"segment 'landmark_rel_pos'.*Segment\.vectors"):
        observation_encoder("navigation", n_agents=3, frame="body", inbox_slots=0)
    observation_encoder("navigation", n_agents=3, inbox_slots=0)  # world frame: not asked


def test_declared_message_vectors_turn_with_the_receiver(monkeypatch):
    """A message segment that marks its vectors (here navigation's landmark offset, first
    ``dim`` values) is turned into each receiver's frame: the inbox is invariant too."""
    plain = Navigation.message_segment

    def marked(self):
        seg = plain(self)
        return Segment(seg.name, seg.shape, seg.low, seg.high, seg.doc, vectors=(0,))

    monkeypatch.setattr(Navigation, "message_segment", marked)
    pos, vel = cluster(2)
    zero = np.zeros((N, 2))
    base = env_at("navigation", pos, vel, frame="body", comm_radius=8.0)
    step_with(base, zero)  # messages go out in the step and arrive for the next observation
    seen = observe(base)
    inbox = base.layout.slices["inbox"]
    assert np.abs(seen[:, inbox]).max() > 0
    for theta in ANGLES[:2]:
        env = env_at("navigation", pos, vel, turn=yaw(theta, 2), frame="body", comm_radius=8.0)
        step_with(env, zero)
        np.testing.assert_allclose(observe(env), seen, atol=1e-5)


# the audit of body-frame actors: tests/learn/test_learn_navigation.py (frame parameter)


# --------------------------------------------------------------------------- checkpoints
def test_a_trained_body_frame_run_keeps_its_frame(tmp_path):
    """Trained through the real loop: the checkpoint records frame="body", load_policy runs
    the actor in the body frame at any swarm size, and refuses to run it in the world's."""
    from swarm.learn.loop import TrainJob, train
    from swarm.learn.ppo import PPOConfig

    cfg = dict(n_agents=4, world_size=6.0, max_cycles=10, frame="body")
    job = TrainJob(scenario="flocking", env_config=cfg, total_steps=10 * 4 * 2, num_envs=4,
                   out=str(tmp_path), progress=False, checkpoint_every=1000, hidden=8,
                   ppo=PPOConfig(rollout_steps=10, num_minibatches=1, update_epochs=1))  # fmt: skip
    train(job)
    policy = load_policy(tmp_path, n_agents=20, world_size=13.0)
    assert policy.frame == "body" and policy.encode.frame == "body"
    assert "own_pos" not in policy.encode.layout.names
    model = policy.make_model(seed=2)
    for _ in range(3):
        model.step()
    with pytest.raises(ConfigError, match="trained with frame='body'"):
        load_policy(tmp_path, frame="world")
    with pytest.raises(ConfigError, match="trained with frame='body'"):
        LearnedPolicy.from_checkpoint(tmp_path, observation_encoder("flocking", n_agents=4))


def test_a_checkpoint_without_a_frame_loads_as_world(tmp_path):
    """Checkpoints from before the body frame hold no ``frame``: they are world-frame."""
    assert checkpoint_frame({"job": {"env_config": {"n_agents": 3}}}) == "world"
    assert checkpoint_frame({"job": {}}) == "world"
    encode = observation_encoder("flocking", n_agents=3)
    spec = NetSpec(obs_dim=encode.obs_dim, act_dim=2, hidden=8, action_low=[-3.0, -3.0],
                   action_high=[3.0, 3.0])  # fmt: skip
    save_checkpoint(tmp_path / "checkpoints" / "update_000001.pt", {
        "update": 1, "env_steps": 0, "job": {"scenario": "flocking",
                                             "env_config": {"n_agents": 3}},
        "net_spec": spec.model_dump(), "model": ActorCritic(spec).state_dict(),
    })  # fmt: skip
    policy = load_policy(tmp_path)
    assert policy.frame == "world" and "own_pos" in policy.encode.layout.names
    with pytest.raises(CheckpointError, match="trained with frame='world'"):
        load_policy(tmp_path, frame="body")
