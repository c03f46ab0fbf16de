"""Scale transfer: a policy trained on 10 drones flies 100 and 1,000 unchanged, batched.

The observation holds a fixed number of nearest neighbours, so its width does not depend on
N; one shared network then acts for the whole swarm in one pass per step. This is what lets
experiments/scale_transfer.py evaluate 10-drone policies on 10^4 drones.
"""

import math

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import numpy as np  # noqa: E402

import swarm.learn.policy as policy_module  # noqa: E402
from swarm.learn.loop import TrainJob  # noqa: E402
from swarm.learn.policy import load_policy  # noqa: E402
from swarm.learn.ppo import PPOConfig  # noqa: E402
from swarm.learn.trainers import load_trainer  # noqa: E402

TRAIN_N, TRAIN_WORLD = 10, 10.0  # 0.1 drones per m^2, kept at every size
ROLLOUT, ENVS = 8, 2  # env steps per update: ROLLOUT x ENVS


def world(n: int) -> float:
    return TRAIN_WORLD * math.sqrt(n / TRAIN_N)


@pytest.fixture(scope="module", params=["mlp", "gnn"])
def run(request, tmp_path_factory):
    """A flocking run of two tiny PPO updates on 10 drones."""
    out = tmp_path_factory.mktemp(f"flock-{request.param}")
    ppo = PPOConfig(rollout_steps=ROLLOUT, num_minibatches=1, update_epochs=1)
    job = TrainJob(scenario="flocking", actor=request.param, total_steps=2 * ROLLOUT * ENVS,
                   num_envs=ENVS, out=str(out), progress=False, hidden=16,
                   env_config={"n_agents": TRAIN_N, "world_size": TRAIN_WORLD,
                               "max_cycles": ROLLOUT},
                   checkpoint_every=1, ppo=ppo)  # fmt: skip
    summary = load_trainer("local").run(job)
    assert summary["updates"] == 2
    return out


def counted(monkeypatch) -> dict[str, int]:
    """Count the policy's network passes (``rowwise`` as the policy module calls it: the
    inner layers recurse through swarm.learn.nets, not through this name)."""
    calls = {"rowwise": 0, "rows": 0}
    inner = policy_module.rowwise

    def rowwise(module, x):
        calls["rowwise"] += 1
        calls["rows"] = max(calls["rows"], len(x))
        return inner(module, x)

    monkeypatch.setattr(policy_module, "rowwise", rowwise)
    return calls


@pytest.mark.parametrize("n", [100, 1_000])
def test_trained_on_ten_flies_n_unchanged(run, n, monkeypatch):
    trained = load_policy(run)
    policy = load_policy(run, n_agents=n, world_size=world(n))
    assert policy.encode.obs_dim == trained.encode.obs_dim == policy.model.spec.obs_dim
    model = policy.make_model(seed=3)
    assert model.engine.rows == n and model.config.world_size == pytest.approx(world(n))
    calls = counted(monkeypatch)
    start = model.engine.pos.copy()
    steps = 3
    for _ in range(steps):
        obs = model.observe()
        assert policy.encode(obs).shape == (n, trained.encode.obs_dim)
        actions = policy.act(obs)
        assert actions.shape == (n, 2) and np.isfinite(actions).all()
        model.step()
    assert np.isfinite(model.engine.pos).all() and not np.array_equal(model.engine.pos, start)
    assert all(np.isfinite(v) for v in model.metrics.values())
    # passes per step do not grow with n: observe+act above, then the model's own decide
    per_step = calls["rowwise"] / steps
    expected = 1 + 1 if policy.model.spec.actor == "mlp" else 2 + 4  # gnn: encode+head, msgs
    assert per_step == expected, calls
    assert calls["rows"] == n  # every drone in the one pass


def test_one_pass_per_step_at_1000_drones(run, monkeypatch):
    """The model's step at 1,000 drones runs the actor's network a fixed handful of times
    over all rows, never once per drone."""
    policy = load_policy(run, n_agents=1_000, world_size=world(1_000))
    model = policy.make_model(seed=4)
    model.step()  # first step: warm caches
    calls = counted(monkeypatch)
    forward = {"n": 0}
    linear = torch.nn.Linear.forward

    def counting(self, x):
        forward["n"] += 1
        return linear(self, x)

    monkeypatch.setattr(torch.nn.Linear, "forward", counting)
    model.step()
    # MLP: act (one pass); GNN: act (encode, head) and broadcast (encode, message head)
    assert calls["rowwise"] == (1 if policy.model.spec.actor == "mlp" else 4)
    assert calls["rows"] == 1_000
    assert forward["n"] == 0  # row-wise evaluation, no per-agent nn.Linear calls either
