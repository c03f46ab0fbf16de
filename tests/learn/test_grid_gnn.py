"""Learned warehouse robots with messages (a GNN actor on warehouse_v0): the trainer's comm
senders, training and the checkpoint, the deployed policy against the training network, the
locality audit (and a non-local variant it must catch), and the radio's byte count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from swarm.config import ConfigError
from swarm.learn.loop import TrainJob, train
from swarm.learn.ppo import PPOConfig

WAREHOUSE = {"n_agents": 6, "max_cycles": 20}


def _job(out, actor: str) -> TrainJob:
    return TrainJob(scenario="warehouse", env_config=WAREHOUSE, total_steps=20 * 4 * 3,
                    num_envs=4, seed=0, out=str(out), checkpoint_every=100, progress=False,
                    actor=actor, ppo=PPOConfig(rollout_steps=20, num_minibatches=2))  # fmt: skip


@pytest.fixture(scope="module")
def gnn_run(tmp_path_factory):
    """Three PPO updates of a GNN actor on warehouse_v0 (6 robots, 20-step episodes)."""
    out = tmp_path_factory.mktemp("whgnn") / "run"
    train(_job(out, "gnn"))
    return out


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("whmlp") / "run"
    train(_job(out, "mlp"))
    return out


# --------------------------------------------------------------------------- comm senders
def brute_senders(world, k: int) -> np.ndarray:
    """(N, k) every robot's k nearest robots within comm_radius (Euclidean between cell
    centres), ties by id, -1 padded: all pairs, no neighbour table."""
    rc = np.stack(np.divmod(world.cell, world.grid.width), axis=1).astype(float)
    out = np.full((world.n, k), -1, dtype=np.int64)
    for i in range(world.n):
        d = np.hypot(*(rc - rc[i]).T)
        near = [(d[j], j) for j in range(world.n) if j != i and d[j] <= world.comm_radius]
        ranked = [j for _, j in sorted(near)][:k]
        out[i, : len(ranked)] = ranked
    return out


@pytest.mark.parametrize(("radius", "k"), [(5.0, 6), (2.0, 8), (float("inf"), 4)])
def test_comm_senders_are_the_nearest_robots_within_comm_radius(radius, k):
    from swarm.learn.grid import GridTrainEnv

    env = GridTrainEnv("warehouse", 3, {"n_agents": 24, "max_cycles": 10, "comm_radius": radius})
    env.reset(seed=4)
    for step in range(3):
        senders = env.comm_senders(k)
        assert senders.shape == (3, 24, k) and senders.dtype == np.int64
        for e, sub in enumerate(env.envs):
            assert np.array_equal(senders[e], brute_senders(sub.model.world, k)), (step, e)
        env.step(np.random.default_rng(step).integers(0, 5, (3, 24)))
    # ties happen on a grid (four robots at distance 1): the brute force breaks them by id
    assert (senders >= 0).any()


# --------------------------------------------------------------------------- training
def test_a_gnn_actor_trains_on_the_warehouse_and_its_checkpoint_round_trips(gnn_run):
    from swarm.learn.checkpoint import latest_checkpoint, load_checkpoint
    from swarm.learn.nets import GNNActor, NetSpec
    from swarm.learn.policy import LearnedGridPolicy, load_policy

    saved = load_checkpoint(latest_checkpoint(gnn_run / "checkpoints"))
    spec = NetSpec(**saved["net_spec"])
    assert spec.actor == "gnn" and spec.action_kind == "discrete" and spec.n_actions == 5
    assert int(saved["update"]) == 3
    policy = load_policy(gnn_run)
    assert isinstance(policy, LearnedGridPolicy) and isinstance(policy.model.actor, GNNActor)
    for name, tensor in saved["model"].items():
        assert torch.equal(policy.model.state_dict()[name], tensor), name
    # the message head learned: its weights moved from the initial ones (same seed)
    torch.manual_seed(0)
    from swarm.learn.nets import ActorCritic

    fresh = ActorCritic(spec)
    moved = policy.model.actor.message_head[0][0].weight - fresh.actor.message_head[0][0].weight
    assert float(moved.detach().abs().max()) > 0


def test_the_deployed_gnn_reads_what_the_training_network_reads(gnn_run):
    """Step the warehouse with the deployed policy; at every step its logits equal the
    training network's (batched nn.Linear) fed the previous step's observations and the
    trainer's comm senders of the previous step's links. 40 robots: many hear more than
    the 6 senders the actor reads, so the choice of the nearest (ties by id) is tested."""
    from swarm.learn.grid import grid_senders
    from swarm.learn.policy import load_policy

    n = 40
    policy = load_policy(gnn_run, n_agents=n)
    net, k = policy.model, policy.max_senders
    model = policy.make_model(seed=7)
    prev_x = prev_senders = None
    crowded = 0
    for _ in range(6):
        obs = model.observe()
        x = torch.from_numpy(policy.encode(obs))[None]
        if prev_x is None:  # the first step: nothing heard
            batch = {"obs": x, "msg_obs": torch.zeros_like(x),
                     "senders": torch.full((1, n, k), -1)}  # fmt: skip
        else:
            batch = {"obs": x, "msg_obs": prev_x, "senders": prev_senders}
        with torch.no_grad():
            expected = net.action_mean(batch)[0]
        torch.testing.assert_close(policy.logits(obs), expected, atol=1e-5, rtol=1e-5)
        prev_x = x
        links = model.world.links_table()
        crowded += int((links.counts > k).sum())
        prev_senders = torch.from_numpy(grid_senders([links], n, k))
        decision = model.decide(obs)
        model.apply(obs, decision)
    assert crowded > 0 and np.abs(policy.heard).sum() > 0


# --------------------------------------------------------------------------- locality
@pytest.mark.parametrize("sample", [False, True])
def test_the_learned_gnn_warehouse_policy_passes_the_locality_audit(gnn_run, sample):
    from swarm.learn.policy import load_policy
    from swarm.testing import auditor_for

    policy = load_policy(gnn_run, n_agents=12, sample=sample)
    auditor = auditor_for(policy.make_model(seed=3), agents_per_step=None, seed=0)
    for _ in range(8):
        auditor.step()
    assert auditor.checked == 8 * 12


def test_swarm_audit_accepts_the_gnn_run_folder(gnn_run, capsys):
    from swarm.cli import main

    assert main(["audit", "warehouse", "--policy", str(gnn_run), "--agents", "10",
                 "--steps", "4"]) == 0  # fmt: skip
    assert "is local on warehouse" in capsys.readouterr().out


def test_the_audit_catches_a_gnn_that_hears_the_whole_swarm(gnn_run):
    """Negative control: the same actor, but what each robot 'heard' is the mean of every
    robot's message in the batch (not its inbox): not local, and the audit must say so."""
    from swarm.learn.nets import rowwise
    from swarm.learn.policy import GNN_ROUND, LearnedGridPolicy, load_policy
    from swarm.policy import Decision
    from swarm.testing import LocalityViolation, auditor_for

    class Eavesdrop(LearnedGridPolicy):
        def decide(self, obs):
            actor = self.model.actor
            with torch.no_grad():
                hidden = rowwise(actor.encode, self._features(obs))
                message = rowwise(actor.message_head, hidden).double().numpy()
            obs.radio.send(GNN_ROUND, message)
            heard = np.repeat(message.mean(axis=0, keepdims=True), obs.n, axis=0)
            return Decision(self.act(obs), memory={"heard": heard})

    base = load_policy(gnn_run, n_agents=12)
    spy = Eavesdrop(base.model, base.encode, scenario="warehouse", env_config=base.env_config)
    auditor = auditor_for(spy.make_model(seed=3), agents_per_step=None, seed=0)
    with pytest.raises(LocalityViolation, match=r"memory|action"):
        for _ in range(5):
            auditor.step()


# --------------------------------------------------------------------------- the radio
def test_gnn_messages_are_counted_and_the_mlp_sends_none(gnn_run, mlp_run):
    from swarm.learn.policy import load_policy

    gnn = load_policy(gnn_run, n_agents=12)
    model = gnn.make_model(seed=2)
    links = []
    for _ in range(5):
        links.append(model.world.links_table().n_edges)
        model.step()
    # every robot broadcasts 8 floats of 8 bytes once per step over each of its links
    expected = 8 * gnn.message_dim * sum(links) / (5 * 12)
    summary = model.traffic_summary()
    assert summary["bytes_per_agent_step"] == pytest.approx(expected) and expected > 0
    assert model.metrics["message_rounds"] == 1
    mlp = load_policy(mlp_run, n_agents=12)
    assert mlp.rounds() == () and mlp.memory_fields == ()
    model = mlp.make_model(seed=2)
    for _ in range(5):
        model.step()
    assert model.traffic_summary()["bytes_per_agent_step"] == 0.0


def test_a_comm_setting_the_gnn_cannot_honour_is_refused_in_one_line(gnn_run):
    from swarm.learn.policy import load_policy

    with pytest.raises(ConfigError, match="max_inbox=3 keeps fewer senders") as err:
        load_policy(gnn_run, max_inbox=3)
    assert "\n" not in str(err.value)
    load_policy(gnn_run, max_inbox=6)  # enough: accepted
