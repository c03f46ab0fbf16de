"""Data-parallel training equals one process on the whole batch; DiLoCo reduces to it.

Two ranks (torch.multiprocessing, gloo on 127.0.0.1) each update on half of every batch
(half of the environments); one process updates on the whole batch with the same
minibatches (the union of the ranks' minibatches). Their parameters must agree to 1e-6
after several PPO updates, with a quarter of the agents inactive (crashed), unevenly spread
over the ranks.
"""

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from swarm.learn.loop import DiLoCoConfig, TrainJob  # noqa: E402
from swarm.learn.nets import ActorCritic, NetSpec  # noqa: E402
from swarm.learn.ppo import PPOConfig, Rollout, minibatch_plan, ppo_update  # noqa: E402

T, E, N, OBS, ACT, STATE = 4, 4, 3, 5, 2, 6
WORLD = 2
UPDATES = 3
# PPO's default step size: the float32 rounding differences of summing gradients in another
# order stay near 1e-7 (Adam's normalisation amplifies them at much larger steps)
ADAM = PPOConfig(update_epochs=2, num_minibatches=2, learning_rate=3e-4)
# DiLoCo == data parallel needs an inner optimiser that is linear in the gradient (SGD) and no
# per-rank gradient clipping (clipping each rank's gradient is not clipping their mean)
SGD = PPOConfig(update_epochs=2, num_minibatches=2, learning_rate=5e-2, max_grad_norm=1e9)


def make_model(actor: str) -> ActorCritic:
    torch.manual_seed(0)
    spec = NetSpec(obs_dim=OBS, act_dim=ACT, state_dim=STATE, actor=actor, critic="central",
                   hidden=16, message_dim=3, max_senders=2, action_low=[-1.0] * ACT,
                   action_high=[1.0] * ACT)  # fmt: skip
    return ActorCritic(spec)


@torch.no_grad()
def synthetic_rollout(model: ActorCritic, update: int) -> Rollout:
    """A whole batch of E environments; log-probs and values from the current model."""
    g = torch.Generator().manual_seed(100 + update)
    ring = torch.tensor([[(i - 1) % N, (i + 1) % N] for i in range(N)])
    data = {
        "obs": torch.randn(T, E, N, OBS, generator=g),
        "msg_obs": torch.randn(T, E, N, OBS, generator=g),
        "senders": ring.expand(T, E, N, 2).clone(),
        "state": torch.randn(T, E, STATE, generator=g),
    }
    flat = {k: v.reshape(T * E, *v.shape[2:]) for k, v in data.items()}
    actions = torch.randn(T * E, N, ACT, generator=g)
    logp, _, values = model(flat, actions)
    last = {"obs": torch.randn(E, N, OBS, generator=g), "state": torch.randn(E, STATE, generator=g)}
    return Rollout(
        **data,
        actions=actions.view(T, E, N, ACT),
        logprobs=logp.view(T, E, N),
        values=values.view(T, E, N),
        rewards=torch.randn(T, E, N, generator=g),
        dones=(torch.rand(T, E, N, generator=g) < 0.2).float(),
        last_value=model.value(last),
        # crashed agents sit out: the ranks hold different numbers of real samples, and the
        # masked means must still equal the whole batch's
        active=(torch.rand(T, E, N, generator=g) < 0.75).float(),
    )


def shard(rollout: Rollout, rank: int) -> Rollout:
    envs = slice(rank * E // WORLD, (rank + 1) * E // WORLD)
    fields = {k: v for k, v in vars(rollout).items() if v is not None}
    return Rollout(**{k: (v[envs] if k == "last_value" else v[:, envs]) for k, v in fields.items()})


def rank_plans(update: int, cfg: PPOConfig) -> list[list[list[torch.Tensor]]]:
    """Each rank's minibatch plan over its own T * E/WORLD snapshots."""
    return [
        minibatch_plan(T * E // WORLD, cfg, torch.Generator().manual_seed(1000 * update + r))
        for r in range(WORLD)
    ]


def whole_batch_plan(plans: list[list[list[torch.Tensor]]]) -> list[list[torch.Tensor]]:
    """Minibatch k of the whole batch = the union of the ranks' minibatches k."""
    local_envs = E // WORLD

    def to_global(idx: torch.Tensor, rank: int) -> torch.Tensor:  # (t, local env) -> (t, env)
        return (idx // local_envs) * E + rank * local_envs + idx % local_envs

    return [
        [torch.cat([to_global(plans[r][ep][k], r) for r in range(WORLD)])
         for k in range(len(plans[0][ep]))]
        for ep in range(len(plans[0]))
    ]  # fmt: skip


def _rank(rank: int, out: str, trainer: str, actor: str) -> None:
    from swarm.learn.trainers import DDPStrategy, DiLoCoStrategy, leave_rank

    # rendezvous through a file in the test's folder: no port to race other processes for
    dist.init_process_group("gloo", init_method=f"file://{out}/rendezvous", rank=rank,
                            world_size=WORLD)  # fmt: skip
    torch.set_num_threads(1)
    try:
        model = make_model(actor)
        diloco = DiLoCoConfig(inner_steps=1, outer_lr=1.0, outer_momentum=0.0, nesterov=False,
                              inner_optimizer="sgd")  # fmt: skip
        cfg = ADAM if trainer == "ddp" else SGD
        job = TrainJob(scenario="toy", total_steps=1, out=out, ppo=cfg, diloco=diloco)
        strategy = DDPStrategy() if trainer == "ddp" else DiLoCoStrategy(job)
        loss_model, optimizer = strategy.setup(model, job)
        for update in range(UPDATES):
            rollout = shard(synthetic_rollout(model, update), rank)
            ppo_update(loss_model, optimizer, rollout, cfg, rank_plans(update, cfg)[rank], strategy)
        torch.save({"params": model.state_dict(), "bytes": strategy.comm_bytes()},
                   f"{out}/rank{rank}.pt")  # fmt: skip
        dist.barrier()  # both ranks are done before either closes its connections
    finally:
        dist.destroy_process_group()
    # as the trainers' ranks end: skip interpreter finalisation, where gloo's teardown aborted
    # a rank once in ~30 runs after both had saved (no Python frame left; SIGABRT)
    leave_rank(0)


def run_ranks(tmp_path, trainer: str, actor: str) -> list[dict]:
    try:
        mp.spawn(_rank, args=(str(tmp_path), trainer, actor), nprocs=WORLD, join=True)
    except mp.ProcessExitedException as exc:
        # a rank killed by a signal: say whether it came before or after the ranks saved
        # their results, i.e. in training or at the process's end
        saved = sorted(path.name for path in tmp_path.glob("rank*.pt"))
        raise AssertionError(f"{exc}; result files written: {', '.join(saved) or 'none'}") from exc
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def one_process(actor: str, cfg: PPOConfig, optimizer: str) -> ActorCritic:
    """The reference, single-threaded like the ranks: BLAS libraries may use fewer threads on
    a busy machine, and a different summation order moves float32 results by ~1e-6."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _one_process(actor, cfg, optimizer)
    finally:
        torch.set_num_threads(threads)


def _one_process(actor: str, cfg: PPOConfig, optimizer: str) -> ActorCritic:
    model = make_model(actor)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, eps=1e-5)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate)
    for update in range(UPDATES):
        rollout = synthetic_rollout(model, update)
        ppo_update(model, opt, rollout, cfg, whole_batch_plan(rank_plans(update, cfg)))
    return model


def assert_same_params(ranks: list[dict], reference: ActorCritic, actor: str) -> None:
    expected = reference.state_dict()
    for result in ranks:
        for name, value in result["params"].items():
            torch.testing.assert_close(value, expected[name], atol=1e-6, rtol=0, msg=name)
    start = make_model(actor).state_dict()
    moved = max((expected[k] - start[k]).abs().max().item() for k in start if "actor" in k)
    assert moved > 1e-3  # training moved the actor 1,000 times farther than the tolerance


@pytest.mark.parametrize("actor", ["mlp", "gnn"])
def test_ddp_two_ranks_equal_one_process_on_the_whole_batch(tmp_path, actor):
    ranks = run_ranks(tmp_path, "ddp", actor)
    assert_same_params(ranks, one_process(actor, ADAM, "adam"), actor)
    n_params = sum(p.numel() for p in make_model(actor).parameters())
    steps = UPDATES * ADAM.update_epochs * ADAM.num_minibatches
    assert ranks[0]["bytes"] == steps * n_params * 4  # float32 gradients, every step


def test_diloco_with_one_inner_step_and_plain_outer_sgd_is_data_parallel(tmp_path):
    ranks = run_ranks(tmp_path, "diloco", "mlp")
    assert_same_params(ranks, one_process("mlp", SGD, "sgd"), "mlp")
