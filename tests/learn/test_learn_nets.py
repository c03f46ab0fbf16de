"""Shared networks: one set of weights for every agent; the GNN hears only its senders."""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

from swarm.learn.nets import ActorCritic, NetSpec, gather_inbox  # noqa: E402

OBS, ACT, STATE, N = 5, 2, 7, 4


def make(actor="mlp", critic="local", seed=0):
    torch.manual_seed(seed)
    spec = NetSpec(
        obs_dim=OBS, act_dim=ACT, state_dim=STATE if critic == "central" else 0, actor=actor,
        critic=critic, hidden=16, message_dim=3, max_senders=2,
        action_low=[-1.0, -1.0], action_high=[1.0, 1.0],
    )  # fmt: skip
    model = ActorCritic(spec)
    for p in model.actor.parameters():  # larger outputs than the tiny-init head gives
        p.data.normal_(0, 0.5)
    return model


def batch(seed=1, b=3):
    g = torch.Generator().manual_seed(seed)
    return {
        "obs": torch.randn(b, N, OBS, generator=g),
        "msg_obs": torch.randn(b, N, OBS, generator=g),
        # agent i hears i-1 and i+1 (a ring); agent 3 hears nobody
        "senders": torch.tensor([[3, 1], [0, 2], [1, 3], [-1, -1]]).expand(b, N, 2).clone(),
        "state": torch.randn(b, STATE, generator=g),
    }


@pytest.mark.parametrize("actor", ["mlp", "gnn"])
def test_parameter_sharing_commutes_with_relabelling_agents(actor):
    model, data = make(actor), batch()
    perm = torch.tensor([2, 0, 3, 1])
    inverse = torch.argsort(perm)
    relabelled = dict(data)
    relabelled["obs"], relabelled["msg_obs"] = data["obs"][:, perm], data["msg_obs"][:, perm]
    # row i of the relabelled batch is old agent perm[i]; its senders get the new labels
    old_senders = data["senders"][:, perm]
    relabelled["senders"] = torch.where(old_senders >= 0, inverse[old_senders.clamp(min=0)], -1)
    with torch.no_grad():
        a = model.action_mean(data)[:, perm]
        b = model.action_mean(relabelled)
    torch.testing.assert_close(a, b)


def test_gnn_hears_only_its_senders():
    model, data = make("gnn"), batch()
    with torch.no_grad():
        before = model.action_mean(data)
        # agent 3 sends to agents 0 and 2, not to agent 1
        moved = dict(data)
        moved["msg_obs"] = data["msg_obs"].clone()
        moved["msg_obs"][:, 3] += 10.0
        after = model.action_mean(moved)
    assert torch.equal(before[:, 1], after[:, 1])  # 1 hears 0 and 2 only
    assert not torch.allclose(before[:, 0], after[:, 0])  # 0 hears 3: messages are used


def test_empty_inbox_slots_carry_nothing():
    messages = torch.arange(12.0).view(1, 4, 3)
    inbox, mask = gather_inbox(messages, torch.tensor([[[2, -1], [-1, -1], [0, 1], [3, 3]]]))
    assert inbox[0, 0].tolist() == [[6.0, 7.0, 8.0], [0.0, 0.0, 0.0]]
    assert mask[0].tolist() == [[True, False], [False, False], [True, True], [True, True]]
    model, data = make("gnn"), batch()
    data["senders"][:] = -1  # nobody heard anything: same as having no inbox at all
    with torch.no_grad():
        torch.testing.assert_close(model.action_mean(data), model.actor(data["obs"]))


def test_central_critic_reads_the_state_local_critic_does_not():
    data, other = batch(), batch()
    other["state"] = data["state"] + 1.0
    with torch.no_grad():
        central, local = make(critic="central"), make(critic="local")
        assert not torch.allclose(central.value(data), central.value(other))
        assert torch.equal(local.value(data), local.value(other))
        assert central.value(data).shape == (3, N)


def test_forward_gives_logprob_entropy_value_per_agent():
    model, data = make("gnn", "central"), batch()
    action = torch.zeros(3, N, ACT)
    logp, entropy, value = model(data, action)
    assert logp.shape == entropy.shape == value.shape == (3, N)
    dist = model.distribution(data)
    torch.testing.assert_close(logp, dist.log_prob(action).sum(-1))
    assert model.clip_action(torch.tensor([[2.0, -3.0]])).tolist() == [[1.0, -1.0]]
