"""A trained actor in the Policy slot: local, and the same function it was trained as."""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402

from envs.flocking import FlockingModel  # noqa: E402
from swarm.learn.envs import nearest_senders  # noqa: E402
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402
from swarm.learn.policy import LearnedPolicy  # noqa: E402

K = 3  # messages read per step


def encode(obs):
    """A local observation layout: own velocity, mean relative position of sensed drones,
    how many were sensed (a stand-in for a scenario env's layout)."""
    table = obs.neighbors
    counts = table.counts.astype(float)
    mean_rel = table.segment_sum(table.rel_pos) / np.maximum(counts, 1)[:, None]
    return np.column_stack([obs.vel, mean_rel, counts / 10.0])


def learned(actor: str) -> LearnedPolicy:
    torch.manual_seed(0)
    spec = NetSpec(obs_dim=5, act_dim=2, actor=actor, hidden=16, message_dim=4, max_senders=K,
                   action_low=[-6.0, -6.0], action_high=[6.0, 6.0])  # fmt: skip
    model = ActorCritic(spec)
    for p in model.actor.parameters():
        p.data.normal_(0, 0.7)  # outputs of the size a trained actor gives
    return LearnedPolicy(model, encode)


def flock(seed: int, actor: str) -> FlockingModel:
    model = FlockingModel(rng=seed, n_agents=40, world_size=20.0, sense_radius=4.0,
                          max_inbox=K)  # fmt: skip
    model.policy = learned(actor)
    model.engine.open_channel(model.policy.message_dim)
    model.engine.sense()  # the current observation, with the (empty) inbox of the channel
    return model


@pytest.mark.parametrize("actor", ["mlp", "gnn"])
def test_moving_a_far_drone_changes_nothing_drone_i_does(actor):
    checked = 0
    for seed in range(3):
        model = flock(seed, actor)
        for _ in range(3):
            model.step()
        engine, rng = model.engine, np.random.default_rng(seed)
        for _ in range(6):
            i = int(rng.integers(engine.rows))
            near = set(engine.neighbors.neighbors_of(i)) | set(engine.links.neighbors_of(i))
            j = int(rng.choice([r for r in range(engine.rows) if r != i and r not in near]))
            # a spot farther than the sensing/comm radius from i (torus distance)
            for _ in range(200):
                spot = rng.uniform(0, 20.0 - 1e-6, 2)
                d = np.abs(spot - engine.pos[i])
                if np.hypot(*np.minimum(d, 20.0 - d)) > 4.0:
                    break
            obs = model.observe()
            before = (model.policy.act(obs)[i], model.policy.broadcast(obs)[i])
            model.drones[j].pos = spot
            obs = model.observe()
            after = (model.policy.act(obs)[i], model.policy.broadcast(obs)[i])
            np.testing.assert_array_equal(before[0], after[0])
            np.testing.assert_array_equal(before[1], after[1])
            checked += 1
    assert checked >= 15


def test_gnn_on_the_engine_is_the_function_it_was_trained_as():
    """Messages through the engine's channel (sent at t along t's links, nearest K kept)
    give the same action as the training path (msg_obs = features at t-1, senders = the K
    nearest comm neighbours at t-1)."""
    model = flock(1, "gnn")
    model.step()
    sent_from = encode(model.observe())
    senders = nearest_senders(model.engine.links, 1, model.engine.rows, K)
    model.step()
    obs = model.observe()
    on_engine = model.policy.act(obs)
    batch = {
        "obs": torch.tensor(encode(obs)[None], dtype=torch.float32),
        "msg_obs": torch.tensor(sent_from[None], dtype=torch.float32),
        "senders": torch.tensor(senders),
    }
    with torch.no_grad():
        trained = model.policy.model.clip_action(model.policy.model.action_mean(batch))[0]
    assert (senders >= 0).sum() > 20  # messages really flowed
    np.testing.assert_allclose(on_engine, trained.double().numpy(), atol=1e-5)
    with torch.no_grad():  # and the messages matter: without them the actions differ
        deaf = model.policy.model.action_mean(
            {**batch, "senders": torch.full_like(batch["senders"], -1)}
        )
    assert not np.allclose(on_engine, deaf[0].double().numpy(), atol=1e-3)


def test_a_run_folder_loads_into_the_policy_slot(tmp_path):
    from swarm.learn.checkpoint import save_checkpoint

    policy = learned("gnn")
    save_checkpoint(tmp_path / "checkpoints" / "update_000003.pt", {
        "update": 3, "env_steps": 0, "job": {}, "net_spec": policy.model.spec.model_dump(),
        "model": policy.model.state_dict(),
    })  # fmt: skip
    loaded = LearnedPolicy.from_checkpoint(tmp_path, encode)
    obs = flock(0, "gnn").observe()
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))
    assert loaded.message_dim == 4
