"""The training loop every trainer plug-in shares: updates, metrics, checkpoints, resume.

A run folder ``runs/NAME`` holds ``job.json`` (the invocation), ``metrics.parquet`` (one row
per PPO update), ``checkpoints/update_NNNNNN.pt`` every ``checkpoint_every`` updates and at
the end, and ``summary.json``.

Every update starts from a fresh reset of the environments, seeded by (seed, update, rank),
and draws its action noise and minibatches from a generator seeded the same way. An update is
therefore a pure function of the parameters, the optimiser state and its index, so resuming
from a checkpoint continues exactly as the uninterrupted run would have (tested), and each
rank steps its own environments with distinct seeds. The rollout length (``rollout_steps``)
is the longest episode a policy is trained on; make it at least the env's episode length.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import Field
from tqdm.auto import tqdm

from swarm.config import ConfigError, StrictConfig
from swarm.io import write_json, write_table
from swarm.learn.checkpoint import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from swarm.learn.envs import TrainEnv, make_train_env
from swarm.learn.nets import ActorCritic, NetSpec
from swarm.learn.ppo import (
    LossGroup,
    PPOConfig,
    Strategy,
    collect_rollout,
    minibatch_plan,
    ppo_update,
)
from swarm.learn.teams import TeamActorCritic, TeamColumns, learning_teams, param_groups

# fields of a job that must match a checkpoint for it to be resumed
_RESUME_KEYS = ("scenario", "env_config", "algo", "actor", "num_envs", "seed", "hidden",
                "message_dim", "max_senders", "ppo", "trainer", "diloco", "team_updates",
                "alternate_every")  # fmt: skip


class DiLoCoConfig(StrictConfig):
    """DiLoCo's outer loop (Douillard et al. 2023, "DiLoCo: Distributed Low-Communication
    Training of Language Models", arXiv:2311.08105, Algorithm 1)."""

    inner_steps: int | None = Field(
        None, ge=1, description="H: inner steps per outer step (default: one per PPO update)"
    )
    outer_lr: float = Field(0.7, gt=0, description="outer learning rate (paper: 0.7)")
    outer_momentum: float = Field(0.9, ge=0, lt=1, description="outer momentum (paper: 0.9)")
    nesterov: bool = Field(True, description="Nesterov momentum in the outer step")
    inner_optimizer: Literal["adamw", "sgd"] = Field(
        "adamw", description="inner optimiser (paper: AdamW; sgd for the equivalence test)"
    )
    weight_decay: float = Field(0.01, ge=0, description="AdamW weight decay of the inner steps")


class TrainJob(StrictConfig):
    """One training run, as the ``swarm train`` command line describes it."""

    scenario: str = Field(description="registered scenario to train on")
    env_config: dict[str, Any] = Field(default_factory=dict, description="scenario config")
    algo: Literal["ippo", "mappo"] = Field("ippo", description="critic: local or centralised")
    actor: Literal["mlp", "gnn"] = Field("mlp", description="actor architecture")
    trainer: str = Field("local", description="entry point in the swarm.trainers group")
    total_steps: int = Field(ge=1, description="environment steps over all envs and ranks")
    num_envs: int = Field(16, ge=1, description="environments over all ranks")
    seed: int = Field(0, ge=0, description="the run's one seed")
    out: str = Field(description="run folder")
    checkpoint_every: int = Field(10, ge=1, description="updates between checkpoints")
    resume: bool = Field(False, description="continue from the latest checkpoint in out")
    nproc: int = Field(
        1, ge=1, description="ranks on this machine (ddp, diloco); env runners (rllib)"
    )
    hidden: int = Field(64, ge=1, description="hidden layer width")
    message_dim: int = Field(8, ge=1, description="learned message size (gnn)")
    max_senders: int = Field(6, ge=1, description="messages read per step (gnn)")
    threads: int = Field(1, ge=1, description="torch and numba threads per rank")
    progress: bool = Field(True, description="show a progress bar")
    ppo: PPOConfig = Field(default_factory=PPOConfig, description="PPO settings")
    diloco: DiLoCoConfig = Field(default_factory=DiLoCoConfig, description="DiLoCo settings")
    team_updates: Literal["simultaneous", "alternate"] = Field(
        "simultaneous",
        description="scenarios with teams (self-play): every team learns from every rollout, "
        "or one team at a time while the others stay frozen",
    )
    alternate_every: int = Field(
        10, ge=1, description="updates per team's turn when team_updates is alternate"
    )


class TrainStrategy(Strategy):
    """A trainer's part in the loop: ranks, the model wrapper, reductions, extra state.

    The base is one process; ``ddp`` and ``diloco`` override what they change.
    """

    rank: int = 0
    world_size: int = 1

    def setup(
        self, model: ActorCritic, job: TrainJob
    ) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        """(module the loss is computed through, optimiser)."""
        return model, torch.optim.Adam(param_groups(model), lr=job.ppo.learning_rate, eps=1e-5)

    def comm_bytes(self) -> int:
        """Bytes this rank has all-reduced for training so far."""
        return 0

    def state_dict(self) -> dict[str, Any]:
        """Extra state a checkpoint must carry (DiLoCo: outer optimiser, inner states)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""


def job_seed(*keys: int) -> int:
    """A 63-bit seed from (seed, update, rank, purpose): distinct streams, no overlap."""
    return int(np.random.SeedSequence(list(keys)).generate_state(2, np.uint64)[0] >> np.uint64(1))


def net_spec(job: TrainJob, env: TrainEnv) -> NetSpec:
    """The network for ``env``: a categorical actor when it declares ``n_actions``."""
    n_actions = int(getattr(env, "n_actions", 0) or 0)
    return NetSpec(
        action_kind="discrete" if n_actions else "box",
        n_actions=n_actions,
        obs_dim=env.obs_dim,
        act_dim=env.act_dim,
        state_dim=env.state_dim if job.algo == "mappo" else 0,
        actor=job.actor,
        critic="central" if job.algo == "mappo" else "local",
        hidden=job.hidden,
        message_dim=job.message_dim,
        max_senders=job.max_senders,
        action_low=[float(x) for x in env.action_low],
        action_high=[float(x) for x in env.action_high],
    )


def team_model(job: TrainJob, spec: NetSpec, teams: list[TeamColumns]) -> TeamActorCritic:
    """One network per team (self-play, :mod:`swarm.learn.teams`), each with ``spec``."""
    if job.actor == "gnn":
        raise ConfigError(
            f"actor: {job.scenario} has teams ({', '.join(t.name for t in teams)}), trained "
            "one policy per team; allowed actor with teams: mlp (a GNN actor per team is not "
            "supported yet)"
        )
    if job.team_updates == "alternate" and job.trainer == "diloco":
        raise ConfigError(
            "team_updates: alternate under --trainer diloco would still move the frozen team "
            "by the outer momentum; allowed with diloco: simultaneous"
        )
    return TeamActorCritic({t.name: spec for t in teams}, teams)


def loss_groups(
    model: torch.nn.Module, n_agents: int, job: TrainJob, update: int
) -> list[LossGroup] | None:
    """Each team of a self-play model as a loss group (None: one shared policy)."""
    if not isinstance(model, TeamActorCritic):
        return None
    learning = learning_teams(len(model.teams), update, job.team_updates, job.alternate_every)
    return [
        LossGroup(t.name, columns, list(net.parameters()), learns)
        for t, net, columns, learns in zip(model.teams, model.nets, model.masks(n_agents),
                                            learning, strict=True)
    ]  # fmt: skip


def spec_record(model: torch.nn.Module) -> dict[str, Any]:
    """The checkpoint's ``net_spec``: the NetSpec, or per team ``{"teams": {name: {"spec":
    NetSpec, "columns": [start, stop]}}}`` (what :func:`swarm.learn.policy.load_policy`
    reads)."""
    if isinstance(model, TeamActorCritic):
        return {"teams": {
            t.name: {"spec": net.spec.model_dump(mode="json"), "columns": [t.start, t.stop]}
            for t, net in zip(model.teams, model.nets, strict=True)
        }}  # fmt: skip
    return model.spec.model_dump(mode="json")


def updates_planned(job: TrainJob) -> int:
    per_update = job.ppo.rollout_steps * job.num_envs
    n = job.total_steps // per_update
    if n < 1:
        raise ConfigError(
            f"total_steps: {job.total_steps} is less than one update "
            f"(rollout_steps {job.ppo.rollout_steps} x num_envs {job.num_envs} = {per_update})"
        )
    return n


def _check_resumable(saved: dict[str, Any], job: TrainJob, world_size: int, path: Path) -> None:
    new = job.model_dump(mode="json")
    # a field the checkpoint's version did not have yet held its default then
    defaults = TrainJob.model_construct().model_dump(mode="json")
    old = {k: saved["job"].get(k, defaults.get(k)) for k in _RESUME_KEYS}
    diffs = [f"{k}: {old[k]!r} -> {new[k]!r}" for k in _RESUME_KEYS if old[k] != new[k]]
    if saved.get("world_size", 1) != world_size:
        diffs.append(f"ranks: {saved.get('world_size')} -> {world_size}")
    if diffs:
        raise CheckpointError(
            f"checkpoint {path}: cannot resume with different settings: " + "; ".join(diffs)
        )


def run_summary(
    job: TrainJob, ranks: int, start: int, update: int, steps_per_update: int, wall: float,
    rows: list[dict[str, Any]], comm_bytes: int | None, ckpt_dir: Path,
) -> dict[str, Any]:  # fmt: skip
    """``summary.json`` of a run that went from update ``start`` to ``update`` in ``wall`` s:
    the same fields for every trainer plug-in."""
    done = update - start
    return {
        "scenario": job.scenario,
        "algo": job.algo,
        "actor": job.actor,
        "trainer": job.trainer,
        "ranks": ranks,
        "updates": update,
        "env_steps": update * steps_per_update,
        "wall_time_s": wall,
        "env_steps_per_s": done * steps_per_update / wall if wall > 0 else None,
        "final_episode_return": rows[-1]["episode_return"] if rows else None,
        "comm_bytes_per_rank": comm_bytes,
        "checkpoint": str(checkpoint_path(ckpt_dir, update)) if update else None,
    }


def train(
    job: TrainJob,
    strategy: TrainStrategy | None = None,
    make_env: Callable[[int], TrainEnv] | None = None,
) -> dict[str, Any]:
    """Train ``job`` with ``strategy``; returns the summary (also written by rank 0).

    ``make_env(n_envs)`` builds this rank's environments (default: the scenario's batched env).
    """
    strategy = strategy or TrainStrategy()
    rank, world = strategy.rank, strategy.world_size
    torch.set_num_threads(job.threads)
    if job.num_envs % world:
        raise ConfigError(f"num_envs: {job.num_envs} does not split evenly over {world} ranks")
    n_updates = updates_planned(job)
    local_envs = job.num_envs // world
    env = (
        make_env(local_envs)
        if make_env
        else make_train_env(job.scenario, local_envs, job.env_config)
    )
    episode = getattr(env, "max_cycles", None)
    if episode is not None and job.ppo.rollout_steps < episode:
        raise ConfigError(
            f"ppo.rollout_steps: {job.ppo.rollout_steps} is shorter than an episode "
            f"(max_cycles {episode}); every update restarts the envs, so steps "
            f"{job.ppo.rollout_steps}..{episode - 1} would never be trained or scored; allowed: "
            f">= {episode} (or lower max_cycles)"
        )
    spec = net_spec(job, env)
    teams: list[TeamColumns] = list(getattr(env, "teams", None) or [])
    torch.manual_seed(job.seed)  # the same initial parameters on every rank
    model = team_model(job, spec, teams) if len(teams) > 1 else ActorCritic(spec)
    loss_model, optimizer = strategy.setup(model, job)

    out = Path(job.out)
    ckpt_dir = out / "checkpoints"
    start, rows = 0, []
    if job.resume:
        path = latest_checkpoint(ckpt_dir)
        if path is None:
            raise CheckpointError(f"--resume: no checkpoint in {ckpt_dir}")
        saved = load_checkpoint(path)
        _check_resumable(saved, job, world, path)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        strategy.load_state_dict(saved.get("strategy", {}))
        start = int(saved["update"])
        if (out / "metrics.parquet").exists():
            old = pd.read_parquet(out / "metrics.parquet")
            rows = old[old["update"] <= start].to_dict("records")
    if rank == 0:
        write_json(out / "job.json", job.model_dump(mode="json"))

    steps_per_update = job.ppo.rollout_steps * job.num_envs
    bar = tqdm(total=n_updates, initial=start, desc=f"train {job.scenario}", unit="update",
               disable=not (job.progress and rank == 0), leave=False)  # fmt: skip
    t0 = time.perf_counter()
    update = start
    for update in range(start + 1, n_updates + 1):
        tick = time.perf_counter()
        obs = env.reset(seed=job_seed(job.seed, update, rank, 0))
        generator = torch.Generator().manual_seed(job_seed(job.seed, update, rank, 1))
        rollout, episodes = collect_rollout(env, model, job.ppo, obs, generator)
        rollout_s = time.perf_counter() - tick
        plan = minibatch_plan(rollout.obs.shape[0] * rollout.obs.shape[1], job.ppo, generator)
        groups = loss_groups(model, env.n_agents, job, update)
        stats = ppo_update(loss_model, optimizer, rollout, job.ppo, plan, strategy, groups)
        # team return over every rank's finished episodes (and each team's, with teams)
        totals = strategy.reduce_sum(torch.tensor(
            [sum(episodes.returns), len(episodes.returns), float(rollout.rewards.mean()),
             *(sum(episodes.team_returns[t.name]) for t in teams)],
            dtype=torch.float64,
        ))  # fmt: skip
        wall = time.perf_counter() - tick
        per_team = {
            f"{t.name}/episode_return": float(totals[3 + k] / totals[1]) if totals[1] else math.nan
            for k, t in enumerate(teams)
        } if len(teams) > 1 else {}  # fmt: skip
        row = {
            "update": update,
            "env_steps": update * steps_per_update,
            "agent_steps": update * steps_per_update * env.n_agents,
            "episode_return": float(totals[0] / totals[1]) if totals[1] else math.nan,
            "episodes": int(totals[1]),
            "reward_mean": float(totals[2] / world),
            **per_team,
            **stats,
            "comm_bytes": strategy.comm_bytes(),
            "rollout_s": rollout_s,  # stepping the envs with the policy
            "learn_s": wall - rollout_s,  # PPO epochs, all-reductions included
            "update_s": wall,
            "env_steps_per_s": steps_per_update / wall,
        }
        rows.append(row)
        bar.update(1)
        bar.set_postfix(ret=f"{row['episode_return']:.3g}")
        last = update == n_updates
        if update % job.checkpoint_every == 0 or last:
            extra = strategy.state_dict()  # collective under DiLoCo: every rank calls it
            if rank == 0:
                save_checkpoint(checkpoint_path(ckpt_dir, update), {
                    "update": update,
                    "env_steps": update * steps_per_update,
                    "job": job.model_dump(mode="json"),
                    "net_spec": spec_record(model),
                    "world_size": world,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "strategy": extra,
                })  # fmt: skip
                write_table(out / "metrics.parquet", pd.DataFrame(rows))
    bar.close()
    wall = time.perf_counter() - t0
    summary = run_summary(job, world, start, update, steps_per_update, wall, rows,
                          strategy.comm_bytes(), ckpt_dir)  # fmt: skip
    if rank == 0:
        write_table(out / "metrics.parquet", pd.DataFrame(rows))
        write_json(out / "summary.json", summary)
    return summary
