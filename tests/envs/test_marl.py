"""The env adapter (swarm.marl): what PettingZoo's own checks miss.

Multi-step determinism (parallel_seed_test compares one step), reaching max_cycles
(parallel_api_test overrides it), bad input rejected with nothing half-applied, the batched
env equal to the PettingZoo env at E = 1, environments that never see each other, the named
observation layout, locality of the observation, and the env and the Mesa model being one
engine.
"""

import numpy as np
import pytest

from envs import flocking_v0, navigation_v0
from envs.flocking import FlockingModel
from swarm.config import ConfigError
from swarm.marl import BatchedSwarmEnv, SwarmParallelEnv, observation_encoder
from swarm.policy import Policy

# faults, sensor noise and lossy links on: every random stream takes part
ROUGH = dict(sensor_noise_pos=0.05, sensor_noise_vel=0.05, packet_drop=0.2, crash_rate=0.01)
NAV = dict(n_agents=5, world_size=6.0, max_cycles=15, **ROUGH)
FLOCK = dict(n_agents=6, world_size=8.0, max_cycles=15, **ROUGH)


def random_actions(env: SwarmParallelEnv, rng: np.random.Generator) -> dict:
    b = env.core.bound
    return {a: rng.uniform(-b, b, size=2).astype(np.float32) for a in env.agents}


def rollout(env: SwarmParallelEnv, seed: int, steps: int) -> list:
    """(obs, rewards, terminations, truncations) per step, resetting when the episode ends."""
    rng = np.random.default_rng(1000 + seed)
    obs, _ = env.reset(seed=seed)
    out = [(obs, {}, {}, {})]
    for _ in range(steps):
        if not env.agents:
            obs, _ = env.reset()
            out.append((obs, {}, {}, {}))
            continue
        obs, rew, term, trunc, _ = env.step(random_actions(env, rng))
        out.append((obs, rew, term, trunc))
    return out


def same(a: list, b: list) -> bool:
    for step_a, step_b in zip(a, b, strict=True):
        for part_a, part_b in zip(step_a, step_b, strict=True):
            if part_a.keys() != part_b.keys():
                return False
            for key in part_a:
                if not np.array_equal(part_a[key], part_b[key]):
                    return False
    return True


@pytest.mark.parametrize("mod, cfg", [(navigation_v0, NAV), (flocking_v0, FLOCK)])
def test_same_seed_same_trajectory_over_many_steps_and_episodes(mod, cfg):
    a = rollout(mod.parallel_env(**cfg), seed=3, steps=40)
    b = rollout(mod.parallel_env(**cfg), seed=3, steps=40)
    c = rollout(mod.parallel_env(**cfg), seed=4, steps=40)
    assert same(a, b)
    assert not same(a, c)


def test_reset_with_the_same_seed_replays_the_episode():
    env = navigation_v0.parallel_env(**NAV)
    first = rollout(env, seed=7, steps=10)
    again = rollout(env, seed=7, steps=10)
    assert same(first, again)


def test_episode_reaches_max_cycles_then_every_agent_is_truncated():
    env = navigation_v0.parallel_env(n_agents=3, max_cycles=7)
    env.reset(seed=0)
    zero = {a: np.zeros(2, np.float32) for a in env.agents}
    for step in range(1, 8):
        _, _, term, trunc, _ = env.step({a: zero[a] for a in env.agents})
        assert not any(term.values())
        assert all(trunc.values()) == (step == 7)
    assert env.agents == []
    with pytest.raises(RuntimeError, match="call reset"):
        env.step({})


def test_aec_env_reaches_max_cycles_and_every_agent_acts_that_often():
    env = flocking_v0.env(n_agents=3, max_cycles=6)
    env.reset(seed=0)
    turns = dict.fromkeys(env.possible_agents, 0)
    for agent in env.agent_iter():
        _, _, term, trunc, _ = env.last()
        turns[agent] += 0 if (term or trunc) else 1
        env.step(None if (term or trunc) else env.action_space(agent).sample())
    assert set(turns.values()) == {6}


def test_crashed_drone_terminates_and_leaves_agents():
    env = flocking_v0.parallel_env(n_agents=4, crash_at={2: [1]}, max_cycles=5)
    env.reset(seed=0)
    zero = np.zeros(2, np.float32)
    _, _, term, _, _ = env.step({a: zero for a in env.agents})
    assert not any(term.values())
    obs, rew, term, _, _ = env.step({a: zero for a in env.agents})
    assert term == {"drone_0": False, "drone_1": True, "drone_2": False, "drone_3": False}
    assert rew["drone_1"] == 0.0 and not np.any(obs["drone_1"])  # it crashed: sees nothing
    assert env.agents == ["drone_0", "drone_2", "drone_3"]
    with pytest.raises(KeyError, match="drone_1 terminated"):
        env.step({a: zero for a in ["drone_0", "drone_1", "drone_2", "drone_3"]})


# ----------------------------------------------------------------------------- bad input
def fresh(**kw) -> SwarmParallelEnv:
    env = navigation_v0.parallel_env(n_agents=3, **kw)
    env.reset(seed=0)
    return env


OK = np.zeros(2, np.float32)
BAD_ACTIONS = [
    ({"drone_0": OK, "drone_1": OK}, KeyError, "missing actions for live agent.*drone_2"),
    ({"drone_0": OK, "drone_1": OK, "drone_2": OK, "drone_9": OK}, KeyError, "'drone_9'"),
    ({"drone_0": OK, "drone_1": OK, "drone_2": np.zeros(3)}, ValueError, "drone_2.*shape"),
    ({"drone_0": OK, "drone_1": [np.nan, 0.0], "drone_2": OK}, ValueError, "drone_1.*finite"),
    ({"drone_0": [99.0, 0.0], "drone_1": OK, "drone_2": OK}, ValueError, "drone_0.*outside"),
    ({"drone_0": OK, "drone_1": "up", "drone_2": OK}, TypeError, "drone_1.*not numeric"),
    ([OK, OK, OK], TypeError, "must be a dict"),
]


@pytest.mark.parametrize("actions, error, message", BAD_ACTIONS)
def test_bad_actions_are_rejected_naming_the_agent_and_nothing_is_applied(actions, error, message):
    env = fresh()
    before = (env.engine.pos.copy(), env.engine.vel.copy(), env.engine.t, env.state())
    with pytest.raises(error, match=message):
        env.step(actions)
    after = (env.engine.pos, env.engine.vel, env.engine.t, env.state())
    assert all(np.array_equal(x, y) for x, y in zip(before, after, strict=True))
    env.step({a: OK for a in env.agents})  # and the env still works


@pytest.mark.parametrize(
    "action, error, message",
    [(5, ValueError, "outside Discrete"), (1.0, TypeError, "not an integer"),
     (True, TypeError, "not an integer"), (-1, ValueError, "outside Discrete")],
)  # fmt: skip
def test_bad_discrete_actions_are_rejected(action, error, message):
    env = fresh(continuous_actions=False)
    with pytest.raises(error, match=f"drone_2.*{message}"):
        env.step({"drone_0": 0, "drone_1": np.int32(3), "drone_2": action})
    env.step({"drone_0": 0, "drone_1": np.int64(3), "drone_2": 4})


def test_clip_mode_clips_out_of_box_actions_to_the_box():
    clipped, exact = fresh(out_of_box="clip"), fresh()
    b = exact.core.bound
    clipped.step({"drone_0": [99.0, -99.0], "drone_1": OK, "drone_2": OK})
    exact.step({"drone_0": [b, -b], "drone_1": OK, "drone_2": OK})
    assert np.array_equal(clipped.engine.pos, exact.engine.pos)
    with pytest.raises(ValueError, match="not finite"):
        clipped.step({"drone_0": [np.inf, 0.0], "drone_1": OK, "drone_2": OK})


def test_discrete_actions_push_along_the_axes():
    env = fresh(continuous_actions=False)
    v0 = env.engine.vel.copy()  # hovering at spawn
    env.step({"drone_0": 2, "drone_1": 3, "drone_2": 0})  # +x, -y, no-op
    dv = (env.engine.vel - v0) / env.engine.config.dt
    a = env.core.bound
    assert np.allclose(dv[0], [a, 0.0]) and np.allclose(dv[1], [0.0, -a]) and not dv[2].any()


def test_unknown_arguments_and_render_modes_fail_with_one_clear_message():
    with pytest.raises(ConfigError, match=r"unknown argument.*n_drones.*max_cycles"):
        navigation_v0.parallel_env(n_drones=3)
    with pytest.raises(ConfigError, match="max_cycles"):
        navigation_v0.parallel_env(max_cycles=0)
    with pytest.raises(ConfigError, match="render_mode 'ansi'"):
        navigation_v0.parallel_env(render_mode="ansi")
    with pytest.raises(KeyError, match="unknown agent 'drone_3'"):
        navigation_v0.parallel_env(n_agents=3).observation_space("drone_3")


# ----------------------------------------------------------------------------- batched env
@pytest.mark.parametrize("name, cfg", [("navigation", NAV), ("flocking", FLOCK)])
def test_batched_with_one_env_equals_the_pettingzoo_env_across_episodes(name, cfg):
    par = SwarmParallelEnv(name, **cfg)
    bat = BatchedSwarmEnv(name, n_envs=1, **cfg)
    rng = np.random.default_rng(5)
    obs_p, _ = par.reset(seed=11)
    obs_b, _ = bat.reset(seed=11)
    episodes = 1
    for _ in range(50):  # 15-step episodes: the batch auto-resets, the PettingZoo env resets
        assert np.array_equal(obs_b[0], np.stack([obs_p[a] for a in par.possible_agents]))
        actions = rng.uniform(-3, 3, size=(1, bat.n_agents, 2))
        live = {a: actions[0, par._index[a]] for a in par.agents}
        obs_p, rew_p, term_p, trunc_p, _ = par.step(live)
        obs_b, rew_b, term_b, trunc_b, info = bat.step(actions)
        for a, i in par._index.items():
            if a in rew_p:
                assert rew_b[0, i] == rew_p[a]
                assert term_b[0, i] == term_p[a] and trunc_b[0, i] == trunc_p[a]
                assert np.array_equal(info.get("final_obs", obs_b)[0, i], obs_p[a])
            else:  # left the PettingZoo env earlier: masked in the batch
                assert term_b[0, i] and rew_b[0, i] == 0.0 and not info["active"][0, i]
        if not par.agents:
            obs_p, _ = par.reset()
            episodes += 1
            assert info["done_envs"][0]
    assert episodes >= 3


def test_batched_envs_never_see_each_other():
    """Envs share one engine and one neighbour search, but what happens in env 1 does not
    reach env 0 (same arena coordinates, so a cross-env leak would show)."""
    a = BatchedSwarmEnv("navigation", n_envs=2, n_agents=4, world_size=4.0)
    b = BatchedSwarmEnv("navigation", n_envs=2, n_agents=4, world_size=4.0)
    a.reset(seed=2)
    b.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(10):
        act = rng.uniform(-3, 3, size=(2, 4, 2))
        other = act.copy()
        other[1] = rng.uniform(-3, 3, size=(4, 2))
        obs_a, rew_a, *_ = a.step(act)
        obs_b, rew_b, *_ = b.step(other)
        assert np.array_equal(obs_a[0], obs_b[0]) and np.array_equal(rew_a[0], rew_b[0])
    assert not np.array_equal(obs_a[1], obs_b[1])


def test_batched_auto_reset_restarts_only_the_env_that_ended():
    env = BatchedSwarmEnv("flocking", n_envs=3, n_agents=2, max_cycles=50)
    env.reset(seed=0)
    env.engine.crash([2, 3])  # every drone of env 1
    zeros = np.zeros((3, 2, 2))
    obs, _, term, trunc, info = env.step(zeros)
    assert info["done_envs"].tolist() == [False, True, False]
    assert term[1].all() and not term[[0, 2]].any() and not trunc.any()
    assert not info["final_obs"][1].any()  # the crashed drones' last observation
    assert obs[1].any() and env.engine.alive.all()  # env 1 flies again
    assert env.core.steps.tolist() == [1, 0, 1]


def test_batched_bad_actions_name_the_env_and_drone_and_apply_nothing():
    env = BatchedSwarmEnv("navigation", n_envs=2, n_agents=3)
    env.reset(seed=0)
    pos = env.engine.pos.copy()
    bad = np.zeros((2, 3, 2))
    bad[1, 2] = [np.nan, 0.0]
    with pytest.raises(ValueError, match=r"env 1, drone_2.*not finite"):
        env.step(bad)
    bad[1, 2] = [0.0, 50.0]
    with pytest.raises(ValueError, match=r"env 1, drone_2.*outside"):
        env.step(bad)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((2, 3)))
    assert np.array_equal(env.engine.pos, pos) and env.engine.t == 0


def test_batched_shapes_and_state():
    env = BatchedSwarmEnv("navigation", n_envs=4, n_agents=3, n_landmarks=2)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (4, 3, env.obs_dim) and obs.dtype == np.float32
    state = env.state()
    assert state.shape == (4, env.state_dim)
    landmarks = env.state_layout.view(state, "landmarks")  # (E, L, 2)
    assert np.allclose(landmarks, env.core.scenario.landmarks)
    _, reward, term, trunc, _ = env.step(np.zeros((4, 3, 2)))
    assert reward.shape == term.shape == trunc.shape == (4, 3)


# ----------------------------------------------------------------------------- observation
def test_observation_segments_are_named_and_read_back():
    env = navigation_v0.parallel_env(n_agents=4, k_neighbors=2, inbox_slots=3, landmark_slots=2)
    obs, _ = env.reset(seed=0)
    layout = env.layout
    assert layout.names == [
        "own_pos", "own_vel", "neighbor_rel_pos", "neighbor_rel_vel", "neighbor_mask",
        "inbox", "inbox_mask", "landmark_rel_pos", "landmark_mask",
    ]  # fmt: skip
    assert layout.size == env.observation_space("drone_0").shape[0]
    x = obs["drone_2"]
    assert np.allclose(layout.view(x, "own_pos"), env.engine.pos[2])
    assert layout.view(x, "neighbor_rel_pos").shape == (2, 2)
    assert layout.view(x, "inbox").shape == (3, 4)


def test_neighbour_slots_hold_the_nearest_sensed_drones_nearest_first():
    env = flocking_v0.parallel_env(n_agents=40, world_size=10.0, k_neighbors=3)
    obs, _ = env.reset(seed=3)
    engine = env.engine
    c = engine.config
    for i in range(c.n_agents):
        d = engine.pos - engine.pos[i]
        d -= c.world_size * np.round(d / c.world_size)
        dist = np.sqrt((d**2).sum(axis=1))
        dist[i] = np.inf
        expect = [j for j in np.argsort(dist, kind="stable") if dist[j] <= c.sense_radius][:3]
        got = env.layout.view(obs[f"drone_{i}"], "neighbor_rel_pos")
        mask = env.layout.view(obs[f"drone_{i}"], "neighbor_mask")
        assert mask.sum() == len(expect)
        assert np.allclose(got[: len(expect)], d[expect], atol=1e-5)


def test_observation_of_a_drone_ignores_drones_out_of_its_reach():
    """Locality: moving every drone that i neither senses nor talks to changes nothing in
    i's observation (seeded random trials over drones and moves)."""
    rng = np.random.default_rng(0)
    for trial in range(15):
        env = navigation_v0.parallel_env(n_agents=12, world_size=20.0, landmark_slots=2)
        env.reset(seed=trial)
        for _ in range(3):  # some messages in flight
            env.step({a: rng.uniform(-3, 3, 2) for a in env.agents})
        engine = env.engine
        encode = env.core.encoder
        i = int(rng.integers(12))
        before = encode(engine.obs)[i]
        reach = engine.config.sense_radius  # = comm radius: range links
        far = np.flatnonzero(np.sqrt(((engine.pos - engine.pos[i]) ** 2).sum(axis=1)) > reach)
        for j in far:  # anywhere else that is still out of i's reach
            while True:
                p = rng.uniform(0, 20, size=2)
                if np.sqrt(((p - engine.pos[i]) ** 2).sum()) > reach:
                    break
            engine.pos[j] = p
        engine.invalidate()
        assert np.array_equal(encode(engine.obs)[i], before)


def test_observation_encoder_reads_the_mesa_models_observation_the_same_way():
    from envs.navigation import NavigationModel

    env = navigation_v0.parallel_env(n_agents=4)
    obs, _ = env.reset(seed=9)
    model = NavigationModel(n_agents=4, rng=9, max_inbox=4)
    encode = observation_encoder("navigation", n_agents=4)
    x = encode(model.observe())
    assert np.array_equal(x, np.stack([obs[a] for a in env.possible_agents]))


# ----------------------------------------------------------------------------- one engine
class Hover(Policy):
    """Zero acceleration: the Mesa model's counterpart of all-zero env actions."""

    def act(self, obs):
        return np.zeros((obs.n, 2))


def test_env_and_mesa_model_are_the_same_engine_from_the_same_seed():
    cfg = dict(n_agents=8, world_size=6.0, crash_at={3: [2]})
    model = FlockingModel(rng=4, **cfg)
    model.policy = Hover()
    env = flocking_v0.parallel_env(max_cycles=20, **cfg)
    env.reset(seed=4)
    assert np.array_equal(model.engine.pos, env.engine.pos)
    for _ in range(6):
        model.step()
        env.step({a: np.zeros(2, np.float32) for a in env.agents})
        assert np.array_equal(model.engine.pos, env.engine.pos)
        assert np.array_equal(model.engine.alive, env.engine.alive)
    assert "drone_2" not in env.agents


def test_rgb_array_render_draws_the_drones():
    """Each drone's marker covers its own pixel (the viewer's renderer, whole arena)."""
    from swarm.viewer import Camera, scene_of

    env = flocking_v0.parallel_env(n_agents=5, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (600, 600, 3) and frame.dtype == np.uint8
    engine = env.unwrapped.core._live()
    camera = Camera.fit(scene_of(engine).bounds, 600, 600)
    drones = scene_of(engine).agents()
    colours = next(iter(drones.attributes.values())).colour()
    for i, (x, y) in enumerate(np.floor(camera.to_screen(engine.pos)).astype(int)):
        assert tuple(frame[y, x]) == tuple(colours[i])


@pytest.mark.parametrize("mod", [flocking_v0, navigation_v0])
def test_env_docstring_names_every_observation_and_state_segment(mod):
    env = mod.parallel_env()
    for name in env.layout.names + env.core.state_layout.names:
        assert f"``{name}``" in mod.__doc__, f"{mod.__name__} does not document {name}"


# ---------------------------------------------------------------------------- fused encoder
def reference_observation(encoder, obs, row: int) -> np.ndarray:
    """One drone's observation built the plain way, from ``obs.for_agent(row)`` alone: what
    the fused kernels (swarm.marl.encoding._encode_engine and friends) must reproduce exactly."""
    layout, scenario, mine = encoder.layout, encoder.scenario, obs.for_agent(row)
    if not mine.alive:
        return np.zeros(layout.size, np.float32)
    parts = {"own_pos": mine.pos, "own_vel": mine.vel}
    k = encoder.k
    if k > 0:
        nearest = np.argsort(mine.dist, kind="stable")[:k]
        for name, values in (
            ("neighbor_rel_pos", mine.rel_pos),
            ("neighbor_rel_vel", mine.rel_vel),
        ):
            block = np.zeros((k, 2))
            block[: len(nearest)] = values[nearest]
            parts[name] = block
        parts["neighbor_mask"] = (np.arange(k) < len(nearest)).astype(float)
    if encoder.slots > 0:
        m, shape = encoder.slots, scenario.message_segment().shape
        held = mine.inbox[:m]
        block = np.zeros((m, *shape))
        if len(held):
            block[: len(held)] = scenario.read_messages(obs, np.full(len(held), row), held)
        parts["inbox"] = block
        parts["inbox_mask"] = (np.arange(m) < len(held)).astype(float)
    features = scenario.task_features(obs)
    parts.update({name: values[row] for name, values in features.items()})
    out = np.concatenate([np.ravel(parts[name]) for name in layout.names])
    low, high = layout.bounds()
    return np.clip(out, low, high).astype(np.float32)


@pytest.mark.parametrize(
    "name, cfg",
    [
        ("navigation", dict(NAV, n_agents=9, k_neighbors=3, inbox_slots=2)),
        (
            "navigation",
            dict(
                n_agents=12,
                world_size=4.0,
                boundary="torus",
                landmark_slots=5,
                sensor_noise_pos=0.3,
                k_neighbors=6,
                packet_drop=0.3,
            ),
        ),
        ("flocking", dict(FLOCK, k_neighbors=2, crash_at={2: [1, 4]})),
        ("search", dict(n_agents=6, world_size=10.0, k_neighbors=5)),
    ],
)
def test_fused_encoder_equals_a_plain_per_agent_reference(name, cfg):
    env = BatchedSwarmEnv(name, n_envs=3, **cfg)
    env.reset(seed=4)
    rng = np.random.default_rng(2)
    for _ in range(12):
        obs_batch = env.engine.obs
        fused = env.core.encoder(obs_batch)
        for row in range(env.engine.rows):
            expected = reference_observation(env.core.encoder, obs_batch, row)
            assert np.array_equal(fused[row], expected), (name, row)
        env.step(rng.uniform(-1, 1, size=(3, env.n_agents, 2)) * env.action_high)


# ---------------------------------------------------------------------------- partial resets
def task_state(name: str, env: BatchedSwarmEnv, e: int) -> dict:
    scenario, engine = env.core.scenario, env.engine
    rows = slice(e * env.n_agents, (e + 1) * env.n_agents)
    if name == "search":
        return {
            "targets": scenario.targets[e].copy(), "found_at": scenario.found_at[e].copy(),
            "marks": scenario.marks[e].copy(), "entries": scenario.entries[e],
            "revisits": scenario.revisits[e], "last_cell": scenario.last_cell[rows].copy(),
        }  # fmt: skip
    if name == "consensus":
        return {
            "value": engine.agent_state["value"][rows].copy(),
            "initial_mean": scenario.initial_mean[e],
        }
    return {"landmarks": scenario.landmarks[e].copy()}


@pytest.mark.parametrize(
    "name, cfg",
    [
        ("search", dict(n_agents=3, world_size=12.0, n_targets=4)),
        ("consensus", dict(n_agents=3)),
        ("navigation", dict(n_agents=3)),
    ],
)
def test_auto_reset_of_one_env_leaves_the_others_task_state_untouched(name, cfg):
    env = BatchedSwarmEnv(name, n_envs=3, max_cycles=50, **cfg)
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(4):
        env.step(rng.uniform(-1, 1, size=(3, 3, 2)) * env.action_high)
    before = {e: task_state(name, env, e) for e in range(3)}
    env.engine.crash([3, 4, 5])  # every drone of env 1 ends its episode at the next step
    # a step that leaves the other envs as they are: their drones hold still and (consensus)
    # nobody changes a value, so any change below would come from the restart of env 1
    env.engine.vel[:] = 0.0
    env.engine.invalidate()
    kept = {e: task_state(name, env, e) for e in (0, 2)}
    _, _, _, _, info = env.step(np.zeros((3, 3, 2)))
    assert info["done_envs"].tolist() == [False, True, False]
    after = {e: task_state(name, env, e) for e in range(3)}
    for e in (0, 2):
        for key, value in kept[e].items():
            if name == "search" and key in ("found_at", "marks", "entries", "revisits"):
                value = before[e][key]  # drones at rest find and mark nothing new
            assert np.array_equal(after[e][key], value), (e, key)
    assert any(not np.array_equal(after[1][k], before[1][k]) for k in before[1])  # env 1 anew


def test_crash_at_follows_each_envs_own_clock_after_a_partial_reset():
    """``crash_at`` counts the env's own steps: a restarted env replays its schedule."""
    env = BatchedSwarmEnv(
        "flocking", n_envs=2, n_agents=3, max_cycles=50, crash_at={0: [2], 3: [0]}
    )
    env.reset(seed=1)
    assert env.engine.alive.reshape(2, 3)[:, 2].tolist() == [False, False]  # step-0 crash
    zeros = np.zeros((2, 3, 2))
    env.step(zeros)
    env.engine.crash([3, 4])  # env 1 ends at the next step (its step 2), env 0 goes on
    _, _, _, _, info = env.step(zeros)
    assert info["done_envs"].tolist() == [False, True]
    assert env.engine.env_t.tolist() == [2, 0] and env.core.steps.tolist() == [2, 0]
    assert env.engine.alive.reshape(2, 3).tolist() == [[True, True, False], [True, True, False]]
    env.step(zeros)  # env 0 reaches its step 3: drone 0 crashes there, not in env 1
    assert env.engine.alive.reshape(2, 3).tolist() == [[False, True, False], [True, True, False]]
    for _ in range(3):
        env.step(zeros)  # env 1 reaches its own step 3
    assert env.engine.alive.reshape(2, 3)[1].tolist() == [False, True, False]


# ---------------------------------------------------------------------------- task rewards
def test_consensus_reward_is_minus_the_disagreement_shared_by_the_team():
    env = BatchedSwarmEnv("consensus", n_envs=2, n_agents=4)
    env.reset(seed=0)
    _, reward, *_ = env.step(np.zeros((2, 4, 2)))
    disagreement = env.core.scenario.disagreement(env.engine)
    assert np.allclose(reward, -disagreement[:, None]) and (reward < 0).all()
    env.engine.agent_state["value"][:4] = 7.0  # env 0 agrees
    env.engine.invalidate()
    assert np.allclose(env.core.scenario.reward(env.engine, np.zeros((8, 2)))[:4], 0.0)


def test_coverage_reward_shares_the_locational_cost_among_alive_drones():
    env = BatchedSwarmEnv("coverage", n_envs=2, n_agents=4, world_size=10.0, resolution=1.0)
    env.reset(seed=0)
    env.engine.crash([0])
    _, reward, *_ = env.step(np.zeros((2, 4, 2)))
    cost = env.core.scenario.locational_cost(env.engine)
    assert reward[0, 0] == 0.0
    assert np.isclose(reward[0, 1:].sum(), -cost[0]) and np.isclose(reward[1].sum(), -cost[1])
    assert np.allclose(reward[1], reward[1, 0])  # cooperative: one number per team
    # spreading out lowers the cost: a clustered team earns less than a spread one
    spread = np.array([[2.5, 2.5], [7.5, 2.5], [2.5, 7.5], [7.5, 7.5]])
    env.engine.pos[4:] = spread
    env.engine.pos[1:4] = [[1.0, 1.0], [1.2, 1.0], [1.0, 1.2]]
    env.engine.invalidate()
    reward = env.core.scenario.reward(env.engine, np.zeros((8, 2)))
    assert reward[4] > reward[1]


def test_search_reward_counts_the_targets_found_this_step_once():
    env = BatchedSwarmEnv("search", n_envs=1, n_agents=2, world_size=20.0, n_targets=3,
                          detect_radius=1.0, initial_speed=0.0)  # fmt: skip
    env.reset(seed=0)
    scenario, engine = env.core.scenario, env.engine
    scenario.found_at[:] = -1
    engine.pos[:] = [[0.5, 0.5], [19.5, 19.5]]
    scenario.targets[0] = [[3.0, 0.5], [3.2, 0.5], [15.0, 15.0]]  # two ahead of drone 0
    engine.invalidate()
    speed = np.array([[[1.0, 0.0], [0.0, 0.0]]]) * env.action_high
    total = 0.0
    for _ in range(20):
        _, reward, *_ = env.step(speed)
        assert reward[0, 0] == reward[0, 1]  # shared
        total += reward[0, 0]
    assert total == 2.0  # the two targets drone 0 flew past, each paid once
    assert (scenario.found_at[0, :2] > 0).all() and scenario.found_at[0, 2] == -1


def test_batched_env_of_a_grid_scenario_fails_with_a_clear_error():
    with pytest.raises(ConfigError, match=r"warehouse: not a drone scenario.*drone scenarios: "):
        BatchedSwarmEnv("warehouse", n_envs=2)


@pytest.mark.parametrize(
    ("module", "bad", "problem"),
    [
        ("flocking_v0", [np.nan, 0.0], "not finite"),
        ("flocking_v0", [1.0, 2.0, 3.0], "shape"),
        ("warehouse_v0", 7, "outside Discrete"),
        ("warehouse_v0", 1.5, "not an integer"),
    ],
)
def test_aec_env_rejects_a_bad_action_at_its_own_turn_and_buffers_nothing(module, bad, problem):
    import importlib

    env = importlib.import_module(f"envs.{module}").env()
    env.reset(seed=0)
    first = env.agent_selection
    good = env.action_space(first).sample() * 0
    env.step(good)  # one good action buffered
    second = env.agent_selection
    with pytest.raises((ValueError, TypeError), match=rf"{second}: .*{problem}"):
        env.step(bad)
    assert env.agent_selection == second  # still its turn; the bad action was not kept
    for _ in range(len(env.agents) - 1):  # the rest of the cycle goes through
        env.step(env.action_space(env.agent_selection).sample() * 0)
    assert env.agent_selection == first


# ----------------------------------------------------------------------------- seeds, messages
@pytest.mark.parametrize("seed", [-1, 1.5, "3", True])
def test_a_bad_reset_seed_is_one_clear_error_in_both_envs(seed):
    words = r"reset\(seed=.*\): seed must be None or an integer >= 0"
    with pytest.raises(ConfigError, match=f"navigation_v0: {words}"):
        navigation_v0.parallel_env(n_agents=3).reset(seed=seed)
    with pytest.raises(ConfigError, match=f"navigation_v0: {words}"):
        BatchedSwarmEnv("navigation", n_envs=2, n_agents=3).reset(seed=seed)


@pytest.mark.parametrize(
    ("action", "words"),
    [(np.array([2]), r"shape \(1,\)"), (np.full((7, 7), np.nan), r"shape \(7, 7\)")],
)
def test_a_discrete_action_array_of_the_wrong_shape_names_the_drone(action, words):
    env = fresh(continuous_actions=False)
    with pytest.raises(ValueError, match=f"drone_2: action is an array of {words}"):
        env.step({"drone_0": 0, "drone_1": 1, "drone_2": action})
    assert env.engine.t == 0


def _nan_broadcast(core, rows):
    """Make the scenario broadcast NaN from ``rows`` (a buggy or learned message)."""
    honest = core.scenario.broadcast

    def broadcast(obs):
        out = np.array(honest(obs), dtype=np.float64)
        out[rows, 1] = np.nan
        return out

    core.scenario.broadcast = broadcast


def test_non_finite_messages_are_refused_naming_the_drone_and_nothing_is_applied():
    env = fresh()
    _nan_broadcast(env.core, [1])
    before = (env.engine.pos.copy(), env.engine.t)
    with pytest.raises(ValueError, match=r"drone_1 \(env 0\) the non-finite message.*finite"):
        env.step({a: OK for a in env.agents})
    assert np.array_equal(env.engine.pos, before[0]) and env.engine.t == before[1]

    batched = BatchedSwarmEnv("navigation", n_envs=2, n_agents=3)
    batched.reset(seed=0)
    _nan_broadcast(batched.core, [4])  # row 4 = env 1, drone 1
    with pytest.raises(ValueError, match=r"drone_1 \(env 1\) the non-finite message"):
        batched.step(np.zeros((2, 3, 2)))
    assert batched.engine.t == 0


def test_a_crashed_drones_message_is_not_checked_it_is_never_sent():
    env = fresh(crash_at={0: [1]})
    assert not env.engine.alive[1]
    _nan_broadcast(env.core, [1])
    obs, *_ = env.step({a: OK for a in env.agents})
    assert env.engine.t == 1 and all(np.isfinite(o).all() for o in obs.values())


def test_messages_of_the_wrong_shape_are_refused():
    env = fresh()
    env.core.scenario.broadcast = lambda obs: np.zeros((obs.n, 1))
    with pytest.raises(
        ValueError, match=r"broadcast messages have shape \(3, 1\); expected \(3, 4\)"
    ):
        env.step({a: OK for a in env.agents})
