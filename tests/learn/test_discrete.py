"""Discrete (categorical) actions in the trainers: the head, PPO on them, the deployed
warehouse policy (locality audit) and its checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from swarm.learn.envs import StepResult
from swarm.learn.loop import TrainJob, train
from swarm.learn.nets import ActorCritic, NetSpec
from swarm.learn.ppo import PPOConfig, collect_rollout


def discrete_spec(obs_dim: int = 6, n_actions: int = 5, **kw) -> NetSpec:
    return NetSpec(obs_dim=obs_dim, act_dim=1, action_kind="discrete", n_actions=n_actions,
                   action_low=[0.0], action_high=[n_actions - 1.0], **kw)  # fmt: skip


class PickTheCue:
    """Each agent sees a one-hot cue of K choices; reward 1 when it picks the cued one.

    Uniform random play earns ``horizon / K`` per episode; the optimum earns ``horizon``.
    """

    n_actions = 4
    act_dim, obs_dim, state_dim = 1, 4, 1
    action_low, action_high = np.zeros(1), np.full(1, 3.0)

    def __init__(self, n_envs: int, n_agents: int = 3, horizon: int = 8):
        self.n_envs, self.n_agents, self.horizon = n_envs, n_agents, horizon
        self.max_cycles = horizon
        self.rng = np.random.default_rng(0)
        self.t = 0

    def _draw(self) -> np.ndarray:
        self.cue = self.rng.integers(0, self.n_actions, (self.n_envs, self.n_agents))
        return np.eye(self.n_actions, dtype=np.float32)[self.cue]

    def reset(self, seed: int) -> np.ndarray:
        self.rng, self.t = np.random.default_rng(seed), 0
        return self._draw()

    def state(self) -> np.ndarray:
        return np.zeros((self.n_envs, 1), np.float32)

    def comm_senders(self, k: int) -> np.ndarray:
        return np.full((self.n_envs, self.n_agents, k), -1, dtype=np.int64)

    def step(self, actions: np.ndarray) -> StepResult:
        assert actions.shape == (self.n_envs, self.n_agents) and actions.dtype == np.int64
        reward = (actions == self.cue).astype(np.float64)
        self.t += 1
        end = self.t >= self.horizon
        final = self._draw()
        obs = self._draw() if end else final
        if end:
            self.t = 0
        truncated = np.full((self.n_envs, self.n_agents), end)
        terminated = np.zeros_like(truncated)
        return StepResult(obs, reward, terminated, truncated, final, self.state() if end else None)


# --------------------------------------------------------------------------- the head
def test_categorical_head_matches_torch_categorical():
    torch.manual_seed(0)
    model = ActorCritic(discrete_spec())
    with torch.no_grad():  # logits far from uniform, so a wrong formula shows
        model.actor.net[-1].weight.normal_(0.0, 3.0)
    obs = torch.randn(7, 3, 6)
    action = torch.randint(0, 5, (7, 3, 1)).float()
    logprob, entropy, value = model({"obs": obs}, action)
    logits = model.actor(obs)
    reference = Categorical(logits=logits)
    assert torch.allclose(logprob, reference.log_prob(action[..., 0].long()), atol=1e-6)
    assert torch.allclose(entropy, reference.entropy(), atol=1e-6)
    # and the textbook formulas, independent of torch.distributions
    logp = torch.log_softmax(logits, -1)
    assert torch.allclose(logprob, logp.gather(-1, action.long()).squeeze(-1), atol=1e-6)
    assert torch.allclose(entropy, -(logp.exp() * logp).sum(-1), atol=1e-5)
    assert float(entropy.detach().min()) < 0.9 * np.log(5)  # not the uniform distribution
    assert value.shape == (7, 3)
    assert not hasattr(model, "log_std")  # no Gaussian noise parameter


def test_sampling_follows_the_probabilities_and_the_env_gets_indices():
    model = ActorCritic(discrete_spec(n_actions=3))
    dist = Categorical(logits=torch.log(torch.tensor([[[0.7, 0.2, 0.1]]])).expand(1, 20000, 3))
    draws = model.sample(dist, torch.Generator().manual_seed(1))
    assert draws.shape == (1, 20000, 1)
    freq = np.bincount(draws.long().flatten().numpy(), minlength=3) / 20000
    assert np.allclose(freq, [0.7, 0.2, 0.1], atol=0.015)
    sent = model.clip_action(draws)
    assert sent.dtype == torch.int64 and sent.shape == (1, 20000)


def test_a_bad_discrete_spec_is_refused():
    with pytest.raises(ValueError, match="n_actions >= 2"):
        ActorCritic(discrete_spec(n_actions=1))


# --------------------------------------------------------------------------- PPO learns
def test_ppo_beats_uniform_random_on_a_discrete_task(tmp_path):
    """Uniform random earns horizon/K = 2 of 8; PPO must reach well above it quickly."""
    job = TrainJob(scenario="pick_the_cue", total_steps=8 * 16 * 30, num_envs=16, seed=0,
                   out=str(tmp_path / "run"), checkpoint_every=100, progress=False,
                   ppo=PPOConfig(rollout_steps=8, learning_rate=3e-3, ent_coef=0.0))  # fmt: skip
    env = PickTheCue(16)
    model = ActorCritic(discrete_spec(obs_dim=4, n_actions=4))
    untrained, _ = collect_rollout(env, model, job.ppo, env.reset(1), torch.Generator())
    random_return = float(untrained.rewards.sum(0).mean())
    assert abs(random_return - 2.0) < 0.6  # the untrained policy is near uniform
    summary = train(job, make_env=PickTheCue)
    assert summary["final_episode_return"] > 6.0


# --------------------------------------------------------------------------- the warehouse
WAREHOUSE = {"n_agents": 6, "max_cycles": 20}


@pytest.fixture(scope="module")
def warehouse_run(tmp_path_factory):
    """A few PPO updates on warehouse_v0 (6 robots, 20-step episodes): a real checkpoint."""
    out = tmp_path_factory.mktemp("wh") / "run"
    job = TrainJob(scenario="warehouse", env_config=WAREHOUSE, total_steps=20 * 4 * 3,
                   num_envs=4, seed=0, out=str(out), checkpoint_every=100, progress=False,
                   ppo=PPOConfig(rollout_steps=20, num_minibatches=2))  # fmt: skip
    train(job)
    return out


def test_warehouse_trains_a_categorical_actor_over_its_moves(warehouse_run):
    from swarm.learn.checkpoint import latest_checkpoint, load_checkpoint

    saved = load_checkpoint(latest_checkpoint(warehouse_run / "checkpoints"))
    spec = NetSpec(**saved["net_spec"])
    assert spec.action_kind == "discrete" and spec.n_actions == 5 and spec.act_dim == 1
    assert spec.obs_dim == 3 * 7 * 7 + 8  # the env's layout at view_radius 3


def test_checkpoint_round_trip_gives_the_trained_network(warehouse_run):
    from swarm.learn.checkpoint import latest_checkpoint, load_checkpoint
    from swarm.learn.policy import LearnedGridPolicy, load_policy

    policy = load_policy(warehouse_run)
    assert isinstance(policy, LearnedGridPolicy)
    saved = load_checkpoint(latest_checkpoint(warehouse_run / "checkpoints"))
    for name, tensor in saved["model"].items():
        assert torch.equal(policy.model.state_dict()[name], tensor), name
    model = policy.make_model(seed=5)
    obs = model.observe(radio=False)
    x = torch.from_numpy(policy.encode(obs))
    with torch.no_grad():
        expected = policy.model.actor(x).argmax(-1).numpy()
    assert np.array_equal(policy.act(obs), expected)  # row-wise = batched nn.Linear here
    for _ in range(5):
        model.step()
    assert model.metrics["executed_collisions"] == 0


@pytest.mark.parametrize("sample", [False, True])
def test_learned_warehouse_policy_passes_the_locality_audit(warehouse_run, sample):
    from swarm.learn.policy import load_policy
    from swarm.testing import auditor_for

    # more robots than in training; greedy (argmax) and keyed sampling alike
    policy = load_policy(warehouse_run, n_agents=12, sample=sample)
    assert policy.sample is sample
    model = policy.make_model(seed=3)
    auditor = auditor_for(model, agents_per_step=None, seed=0)
    for _ in range(8):
        auditor.step()
    assert auditor.checked == 8 * 12


def test_the_audit_catches_a_discrete_policy_that_reads_other_rows(warehouse_run):
    """Negative control: the same actor, but each robot's move is shifted by the batch's
    size and moves (a swarm-wide sum): not local, and the audit must say so."""
    from swarm.learn.policy import LearnedGridPolicy, load_policy
    from swarm.testing import LocalityViolation, auditor_for

    class Herd(LearnedGridPolicy):
        def act(self, obs):
            moves = super().act(obs)
            return np.full(obs.n, (obs.n + int(moves.sum())) % 5)

    base = load_policy(warehouse_run, n_agents=12)
    herd = Herd(base.model, base.encode, scenario="warehouse", env_config=base.env_config)
    auditor = auditor_for(herd.make_model(seed=3), agents_per_step=None, seed=0)
    with pytest.raises(LocalityViolation):
        for _ in range(20):
            auditor.step()


def test_swarm_eval_compares_the_learned_robots_with_pibt(warehouse_run):
    from swarm.learn.evaluate import compare

    table = compare("warehouse", warehouse_run, ["pibt", "uniform_random"], episodes=2,
                    seed=100, config={"n_agents": 8}, steps=15)  # fmt: skip
    assert sorted(set(table["controller"])) == ["learned", "pibt", "uniform_random"]
    assert (table["executed_collisions"] == 0).all()
    for col in ("throughput", "attempted_conflicts", "wait_fraction", "episode_return"):
        assert table[col].notna().all()
    pibt = table[table["controller"] == "pibt"]
    assert (pibt["throughput"] * 15 == pibt["tasks_finished"]).all()


@pytest.mark.slow
def test_ppo_on_warehouse_beats_uniform_random(tmp_path):
    """~40 s: 16 robots, 50-step episodes; random finishes almost nothing."""
    config = {"n_agents": 16, "max_cycles": 50}
    job = TrainJob(scenario="warehouse", env_config=config, total_steps=50 * 8 * 40,
                   num_envs=8, seed=0, out=str(tmp_path / "run"), checkpoint_every=100,
                   progress=False, hidden=128,
                   ppo=PPOConfig(rollout_steps=50, learning_rate=5e-4, ent_coef=0.01))  # fmt: skip
    import pandas as pd

    train(job)
    curve = pd.read_parquet(tmp_path / "run" / "metrics.parquet")["episode_return"]
    assert curve.iloc[-5:].mean() > 2.0 * max(curve.iloc[:3].mean(), 0.01)
