"""Training on the real batched env (swarm.marl): cooperative navigation learns, crashed
drones leave the loss, and the learned policy runs in the Mesa model beside the classic ones."""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from untrained import untrained_policy  # noqa: E402

from envs.navigation import NavigationModel  # noqa: E402
from swarm.cli import main  # noqa: E402
from swarm.config import ConfigError  # noqa: E402
from swarm.learn.batched import BatchedTrainEnv  # noqa: E402
from swarm.learn.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from swarm.learn.evaluate import baseline_model, run_model  # noqa: E402
from swarm.learn.loop import TrainJob, train  # noqa: E402
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402
from swarm.learn.policy import LearnedPolicy, load_policy  # noqa: E402
from swarm.learn.ppo import PPOConfig, collect_rollout, policy_loss, value_loss  # noqa: E402
from swarm.marl import BatchedSwarmEnv, observation_encoder  # noqa: E402

# two drones, two landmarks in a 4 m arena: every landmark is a few seconds' flight away
SMALL = dict(n_agents=2, world_size=4.0, max_cycles=25)


def small_job(out, updates, **kw):
    ppo = PPOConfig(rollout_steps=25, learning_rate=1e-3, reward_scale=0.1)
    values = dict(
        scenario="navigation", env_config=SMALL, total_steps=25 * 16 * updates, num_envs=16,
        out=str(out), progress=False, checkpoint_every=1000, ppo=ppo,
    )  # fmt: skip
    values.update(kw)
    return TrainJob(**values)


def mean_return(make_model, seeds, steps=25):
    return float(np.mean([run_model(make_model(s), steps)["episode_return"] for s in seeds]))


# --------------------------------------------------------------------------- the adapter
def test_adapter_reads_the_batched_env_and_marks_crashed_drones_inactive():
    cfg = dict(n_agents=3, max_cycles=6, crash_at={2: [1]})
    env = BatchedTrainEnv("navigation", 4, cfg)
    raw = BatchedSwarmEnv("navigation", n_envs=4, **cfg)
    assert (env.obs_dim, env.act_dim, env.state_dim) == (raw.obs_dim, 2, raw.state_dim)
    np.testing.assert_array_equal(env.action_high, [3.0, 3.0])  # navigation's max_accel
    obs = env.reset(seed=5)
    np.testing.assert_array_equal(obs, raw.reset(seed=5)[0])
    zero = np.zeros((4, 3, 2))
    actives, dones = [], []
    for _ in range(7):
        step = env.step(zero)
        actives.append(step.active)
        dones.append(step.terminated | step.truncated)
    actives, dones = np.array(actives), np.array(dones)
    # drone 1 crashes in the step that reaches step 2 (its last real transition), sits out
    # steps 3..6 of the episode, and is back (active) after the auto-reset
    np.testing.assert_array_equal(actives[:, 0, 1], [1, 1, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(dones[:, 0, 1], [0, 1, 1, 1, 1, 1, 0])
    assert actives[:, :, [0, 2]].all()
    np.testing.assert_array_equal(dones[:, 0, 0], [0, 0, 0, 0, 0, 1, 0])  # truncated at 6


def test_continuous_actions_only_with_one_clear_error():
    with pytest.raises(ConfigError, match="continuous_actions: the PPO actor is Gaussian"):
        BatchedTrainEnv("navigation", 2, {"continuous_actions": False})


def test_masked_losses_are_the_losses_of_the_active_samples_only():
    g = torch.Generator().manual_seed(0)
    new, old, adv = (torch.randn(40, generator=g) for _ in range(3))
    mask = (torch.rand(40, generator=g) < 0.6).float()
    keep = mask.bool()
    junk = torch.where(keep, new, torch.full_like(new, 1e6))  # inactive rows hold garbage
    masked, _ = policy_loss(junk, old, adv, 0.2, mask)
    subset, _ = policy_loss(new[keep], old[keep], adv[keep], 0.2)
    torch.testing.assert_close(masked, subset)
    v_masked = value_loss(junk, old, adv, 0.2, True, mask)
    torch.testing.assert_close(v_masked, value_loss(new[keep], old[keep], adv[keep], 0.2))


def test_rollout_on_navigation_masks_the_crashed_drone():
    cfg = dict(n_agents=3, max_cycles=8, crash_at={3: [0]})
    env = BatchedTrainEnv("navigation", 2, cfg)
    torch.manual_seed(0)
    spec = NetSpec(obs_dim=env.obs_dim, act_dim=2, action_low=[-3.0, -3.0],
                   action_high=[3.0, 3.0], hidden=16)  # fmt: skip
    rollout, episodes = collect_rollout(
        env, ActorCritic(spec), PPOConfig(rollout_steps=10), env.reset(seed=1),
        torch.Generator().manual_seed(1),
    )  # fmt: skip
    np.testing.assert_array_equal(rollout.active[:, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 1, 1])
    assert rollout.active[:, :, 1:].all()
    assert (rollout.obs[3:8, :, 0] == 0).all()  # a crashed drone observes nothing
    assert len(episodes.returns) == 2 and episodes.lengths == [8, 8]


# --------------------------------------------------------------------------- learning
def test_ippo_learns_cooperative_navigation_well_above_random(tmp_path):
    """200 PPO updates (80,000 env steps, about 15 s): the learned policy, run in the Mesa
    model on unseen seeds, beats uniform random actions and the random-walk default."""
    train(small_job(tmp_path, 200))
    returns = pd.read_parquet(tmp_path / "metrics.parquet")["episode_return"].to_numpy()
    first, last = returns[:20].mean(), returns[-20:].mean()
    seeds = range(1000, 1012)
    learned = load_policy(tmp_path)
    ret_learned = mean_return(learned.make_model, seeds)
    ret_random = mean_return(lambda s: baseline_model("navigation", "uniform_random", SMALL, s),
                             seeds)  # fmt: skip
    ret_walk = mean_return(lambda s: baseline_model("navigation", "random_walk", SMALL, s), seeds)
    # random actions: about -40 per 25-step episode; the trained policy: about -28 to -30
    assert last > first + 4, (first, last)
    assert ret_learned > ret_random + 6, (ret_learned, ret_random)
    assert ret_learned > ret_walk + 6, (ret_learned, ret_walk)


def test_mappo_trains_on_navigation_with_the_global_state(tmp_path):
    summary = train(small_job(tmp_path, 2, algo="mappo"))
    assert summary["updates"] == 2
    policy = load_policy(tmp_path)
    assert policy.model.spec.critic == "central"
    assert policy.model.spec.state_dim == BatchedSwarmEnv("navigation", **SMALL).state_dim


# --------------------------------------------------------------------------- eval and policy
def test_eval_prints_learned_and_classic_side_by_side_on_the_same_seeds(tmp_path, capsys):
    train(small_job(tmp_path / "run", 2))
    out = tmp_path / "table.csv"
    code = main(["eval", "navigation", "--policy", str(tmp_path / "run"), "--episodes", "2",
                 "--seed", "7", "--out", str(out)])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0
    header = printed.splitlines()[0].split()
    assert header == ["controller", "learned", "uniform_random", "random_walk"]
    assert "coverage_cost" in printed and "episode_return" in printed
    table = pd.read_csv(out)
    assert table.groupby("controller")["seed"].apply(list).to_dict() == {
        "learned": [7, 8], "uniform_random": [7, 8], "random_walk": [7, 8],
    }  # fmt: skip
    # the same seed spawns the same arena for every controller: coverage at step 0 agrees
    starts = [NavigationModel(rng=7, **{k: v for k, v in SMALL.items() if k != "max_cycles"}),
              load_policy(tmp_path / "run").make_model(7),
              baseline_model("navigation", "uniform_random", SMALL, 7)]  # fmt: skip
    costs = {m.metrics["coverage_cost"] for m in starts}
    assert len(costs) == 1


def test_eval_rejects_a_policy_of_another_scenario_and_unknown_controllers(tmp_path, capsys):
    train(small_job(tmp_path / "run", 1))
    assert main(["eval", "flocking", "--policy", str(tmp_path / "run")]) == 2
    assert "trained on 'navigation', not 'flocking'" in capsys.readouterr().err
    assert main(["eval", "navigation", "--policy", str(tmp_path / "run"), "--against",
                 "nope"]) == 2  # fmt: skip
    assert "unknown controller 'nope'" in capsys.readouterr().err


def test_learned_policy_in_the_mesa_model_acts_as_in_the_env(tmp_path):
    """The Mesa model with the loaded policy reproduces the env's trajectory step for step:
    same spawn, same observation (incl. landmark messages), same actions."""
    train(small_job(tmp_path, 2))
    policy = load_policy(tmp_path)
    model = policy.make_model(seed=3)
    env = BatchedSwarmEnv("navigation", n_envs=1, **SMALL)
    obs, _ = env.reset(seed=3)
    for _ in range(10):
        np.testing.assert_allclose(policy.encode(model.observe()), obs[0], atol=1e-6)
        with torch.no_grad():
            action = policy.model.clip_action(policy.model.actor(torch.from_numpy(obs))).numpy()
        model.step()
        obs, *_ = env.step(action.astype(np.float64))
        np.testing.assert_allclose(model.engine.pos, env.engine.pos, atol=1e-5)
    assert (model.observe().inbox.counts > 0).any()  # landmark reports really flowed


def trained_like(n_agents: int, seed: int) -> LearnedPolicy:
    """A navigation policy with weights of the size a trained actor has."""
    cfg = dict(n_agents=n_agents, world_size=14.0, sense_radius=2.5)
    return untrained_policy("navigation", cfg, seed=seed)


def test_learned_policy_in_navigation_model_is_local():
    """Moving a drone outside i's sensing range and comm neighbourhood changes neither i's
    action nor its message (the landmark report it broadcasts)."""
    checked = 0
    for seed in range(3):
        policy = trained_like(16, seed)
        model = policy.make_model(seed)
        for _ in range(3):
            model.step()
        engine, rng = model.engine, np.random.default_rng(seed)
        reach = max(engine.config.sense_radius, engine.config.effective_comm_radius)
        for _ in range(5):
            i = int(rng.integers(engine.rows))
            near = set(engine.neighbors.neighbors_of(i)) | set(engine.links.neighbors_of(i))
            j = int(rng.choice([r for r in range(engine.rows) if r != i and r not in near]))
            for _ in range(200):
                spot = rng.uniform(0.0, 14.0, 2)
                if np.hypot(*(spot - engine.pos[i])) > reach:
                    break
            obs = model.observe()
            before = (policy.act(obs)[i], policy.broadcast(obs)[i])
            model.drones[j].pos = spot
            obs = model.observe()
            after = (policy.act(obs)[i], policy.broadcast(obs)[i])
            np.testing.assert_array_equal(before[0], after[0])
            np.testing.assert_array_equal(before[1], after[1])
            checked += 1
    assert checked == 15


def test_load_policy_errors_are_one_clear_line(tmp_path):
    with pytest.raises(CheckpointError, match="no update_"):
        load_policy(tmp_path)
    spec = NetSpec(obs_dim=4, act_dim=2, action_low=[-1.0, -1.0], action_high=[1.0, 1.0])
    save_checkpoint(tmp_path / "checkpoints" / "update_000001.pt", {
        "update": 1, "env_steps": 0, "job": {"scenario": "toy_env:ToyReach"},
        "net_spec": spec.model_dump(), "model": ActorCritic(spec).state_dict(),
    })  # fmt: skip
    with pytest.raises(CheckpointError, match="not a registered scenario"):
        load_policy(tmp_path)


def test_a_gnn_actor_on_a_talking_scenario_is_refused_in_the_mesa_model():
    encode = observation_encoder("navigation", n_agents=3)
    spec = NetSpec(obs_dim=encode.obs_dim, act_dim=2, actor="gnn", action_low=[-3.0, -3.0],
                   action_high=[3.0, 3.0])  # fmt: skip
    with pytest.raises(ConfigError, match="sends its own messages"):
        LearnedPolicy(ActorCritic(spec), encode, scenario="navigation")


@pytest.mark.parametrize("actor", ["mlp", "gnn"])
@pytest.mark.parametrize("frame", ["world", "body"])
def test_learned_actors_pass_the_locality_audit(actor, frame):
    """Each drone's network output alone equals its row of the batch, bit for bit: the
    deployed actor is evaluated row-wise (a batched matmul rounds by batch size); in the
    body frame too, whose axes come from each drone's own velocity."""
    from swarm.testing import assert_local

    scenario = "navigation" if actor == "mlp" else "flocking"  # a GNN sends its own messages
    cfg = dict(n_agents=12, world_size=10.0, sense_radius=2.5, frame=frame)
    if scenario == "navigation" and frame == "body":
        cfg["inbox_slots"] = 0  # its landmark messages hold undeclared world-frame vectors
    policy = untrained_policy(scenario, cfg, actor, seed=3)
    assert policy.encode.frame == frame
    scenario_fields = {k: v for k, v in cfg.items() if k not in ("frame", "inbox_slots")}
    assert assert_local(policy, scenario, steps=6, **scenario_fields) == 12 * 6
