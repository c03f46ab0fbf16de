"""Proximal Policy Optimization over a batched swarm env, in the order the algorithm runs.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (arXiv:1707.06347), with the
details of Huang et al. 2022, "The 37 Implementation Details of PPO" (ICLR blog track), for
many agents sharing one network: every agent of every environment is a sample, and a
minibatch is a set of whole (step, environment) snapshots, so a GNN actor always sees each
agent's senders next to it. IPPO and MAPPO differ only in the critic (see :mod:`.nets`).

1. :func:`collect_rollout`  T steps of E environments x N agents with the current policy
2. :func:`compute_gae`      advantages by generalised advantage estimation (Schulman et al.
                            2016, eq. 16) and the value targets they imply
3. :func:`normalize`        advantages to zero mean and unit std over the whole rollout (of
                            every rank: the statistics are all-reduced, so data parallel
                            training equals one process on the whole batch)
4. :func:`ppo_update`       epochs x minibatches of :func:`policy_loss` (clipped surrogate,
                            PPO eq. 7), :func:`value_loss` (optionally clipped) and an entropy
                            bonus, one optimiser step each

Agents that crashed sit in the batch as rows of zeros until their environment resets (the
arrays keep a fixed (E, N) shape); ``Rollout.active`` marks the real transitions and every
mean above (advantage statistics, losses, entropy) is taken over those only.

The distributed trainers change nothing here: they wrap the model (DDP), or act after each
optimiser step (DiLoCo), through the ``Strategy`` hooks :func:`ppo_update` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import numpy as np
import torch
from pydantic import Field

from swarm.config import StrictConfig

if TYPE_CHECKING:
    from swarm.learn.envs import TrainEnv
    from swarm.learn.nets import ActorCritic


class PPOConfig(StrictConfig):
    """PPO's hyper-parameters. Defaults follow CleanRL's continuous-control PPO."""

    rollout_steps: int = Field(64, ge=1, description="steps per environment per update (T)")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor")
    reward_scale: float = Field(
        1.0, gt=0, description="rewards are multiplied by this before learning: brings "
        "returns near 1 so value clipping and the critic's step size fit (a constant, so "
        "resuming stays exact; the reported episode returns are unscaled)",
    )  # fmt: skip
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE's bias/variance trade-off")
    clip_coef: float = Field(0.2, gt=0, description="surrogate clipping range epsilon")
    clip_value_loss: bool = Field(True, description="clip the value update like the policy's")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="value loss weight")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient norm clip")
    learning_rate: float = Field(3e-4, gt=0, description="Adam step size")
    update_epochs: int = Field(4, ge=1, description="passes over the rollout per update")
    num_minibatches: int = Field(4, ge=1, description="minibatches per pass")
    normalize_advantages: bool = Field(True, description="advantages to mean 0, std 1")


# --------------------------------------------------------------------------- 1. rollout
@dataclass
class Rollout:
    """One update's data: every tensor is (T, E, N, ...) except ``state`` (T, E, S)."""

    obs: torch.Tensor  # (T, E, N, D) what each agent observed
    msg_obs: torch.Tensor  # (T, E, N, D) observations its messages were composed from (t-1)
    senders: torch.Tensor  # (T, E, N, K) long, in-env index of each received message, -1 none
    state: torch.Tensor  # (T, E, S) global state for a centralised critic (S may be 0)
    actions: torch.Tensor  # (T, E, N, A) sampled, before clipping to the action box
    logprobs: torch.Tensor  # (T, E, N) log-prob of the action under the sampling policy
    values: torch.Tensor  # (T, E, N) critic's estimate at sampling time
    rewards: torch.Tensor  # (T, E, N) (plus gamma * V(final obs) where a time limit cut in)
    dones: torch.Tensor  # (T, E, N) 1.0 where the transition ended the episode
    last_value: torch.Tensor  # (E, N) critic's estimate of the state after the last step
    active: torch.Tensor | None = None  # (T, E, N) 1.0 where the agent took part; None: all
    advantages: torch.Tensor | None = None  # (T, E, N) filled by compute_gae
    returns: torch.Tensor | None = None  # (T, E, N) value targets

    def snapshots(self) -> dict[str, torch.Tensor]:
        """The per-sample tensors with (T, E) merged into one axis of T*E snapshots."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "last_value" and value is not None:
                out[f.name] = value.reshape(-1, *value.shape[2:])
        return out


@dataclass
class EpisodeStats:
    """Team returns (sum over steps of the mean reward over agents) of finished episodes;
    with teams of agents (self-play), also each team's own (the mean over its agents)."""

    returns: list[float]
    lengths: list[int]
    team_returns: dict[str, list[float]] = field(default_factory=dict)


@torch.no_grad()
def collect_rollout(
    env: TrainEnv, model: ActorCritic, cfg: PPOConfig, obs: np.ndarray, generator: torch.Generator
) -> tuple[Rollout, EpisodeStats]:
    """Step ``env`` ``cfg.rollout_steps`` times from observation ``obs`` (E, N, D).

    Action noise comes from ``generator`` only, so a rollout is a pure function of the
    parameters, the env's seed and the generator's seed.
    """
    T, (E, N) = cfg.rollout_steps, obs.shape[:2]
    K = model.spec.max_senders
    as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    buf: dict[str, list[torch.Tensor]] = {name: [] for name in (
        "obs", "msg_obs", "senders", "state", "actions", "logprobs", "values", "rewards", "dones",
        "active",
    )}  # fmt: skip
    obs_t = as_tensor(obs)
    msg_obs = torch.zeros_like(obs_t)  # nothing was sent before the first step
    senders = torch.full((E, N, K), -1, dtype=torch.long)
    team_return, length = np.zeros(E), np.zeros(E, dtype=np.int64)
    teams = getattr(model, "teams", None) or []  # a TeamActorCritic: one policy per team
    per_team = np.zeros((len(teams), E))
    stats = EpisodeStats([], [], {t.name: [] for t in teams})
    for _ in range(T):
        batch = {
            "obs": obs_t,
            "msg_obs": msg_obs,
            "senders": senders,
            "state": as_tensor(env.state()),
        }
        dist = model.distribution(batch)
        action = model.sample(dist, generator)
        # what the agents broadcast now arrives next step, along today's comm links
        next_senders = torch.as_tensor(env.comm_senders(K), dtype=torch.long)
        step = env.step(model.clip_action(action).numpy())
        reward = as_tensor(step.reward) * cfg.reward_scale
        active = torch.ones(E, N) if step.active is None else as_tensor(step.active)
        cut = step.truncated & ~step.terminated
        if cut.any():  # a time limit, not the task, ended it: bootstrap from the final state
            final_state = step.final_state if step.final_state is not None else env.state()
            final = {"obs": as_tensor(step.final_obs), "state": as_tensor(final_state)}
            reward = reward + cfg.gamma * model.value(final) * torch.as_tensor(cut)
        done = step.terminated | step.truncated  # (E, N)
        for name, value in (("obs", obs_t), ("msg_obs", msg_obs), ("senders", senders),
                            ("state", batch["state"]), ("actions", action),
                            ("logprobs", model.log_prob(dist, action)),
                            ("values", model.value(batch)), ("rewards", reward),
                            ("dones", as_tensor(done)), ("active", active)):  # fmt: skip
            buf[name].append(value)
        team_return += np.asarray(step.reward).mean(axis=1)
        for k, t in enumerate(teams):
            per_team[k] += np.asarray(step.reward)[:, t.start : t.stop].mean(axis=1)
        length += 1
        for e in np.flatnonzero(done.all(axis=1)):
            stats.returns.append(float(team_return[e]))
            stats.lengths.append(int(length[e]))
            for k, t in enumerate(teams):
                stats.team_returns[t.name].append(float(per_team[k, e]))
        team_return[done.all(axis=1)] = 0.0
        per_team[:, done.all(axis=1)] = 0.0
        length[done.all(axis=1)] = 0
        # a reset env hears nothing from the previous episode
        env_done = torch.as_tensor(done.all(axis=1))
        next_senders[env_done] = -1
        msg_obs, senders, obs_t = obs_t, next_senders, as_tensor(step.obs)
    last = {"obs": obs_t, "state": as_tensor(env.state())}
    rollout = Rollout(
        **{name: torch.stack(values) for name, values in buf.items()},
        last_value=model.value(last),
    )
    return rollout, stats


# --------------------------------------------------------------------------- 2. advantages
def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    dones: torch.Tensor,
    last_value: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and value targets, (T, ...) each.

    ``dones[t]`` is 1 where transition t ended its episode: nothing after it is bootstrapped.
    delta_t = r_t + gamma * V(s_{t+1}) * (1 - done_t) - V(s_t);
    A_t = delta_t + gamma * lambda * (1 - done_t) * A_{t+1};  returns = A + V.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(rewards.shape[0])):
        next_value = last_value if t == rewards.shape[0] - 1 else values[t + 1]
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * alive - values[t]
        running = delta + gamma * gae_lambda * alive * running
        advantages[t] = running
    return advantages, advantages + values


# --------------------------------------------------------------------------- 3. normalise
ReduceSum = Callable[[torch.Tensor], torch.Tensor]  # sums a tensor over all ranks


def normalize(
    x: torch.Tensor, reduce_sum: ReduceSum = lambda t: t, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """(x - mean) / (std + 1e-8), mean and (population) std over every rank's ``x``; with
    ``mask`` (same shape, 1/0), over the entries where it is 1 only."""
    keep = torch.ones_like(x, dtype=torch.bool) if mask is None else mask.bool()
    zero = torch.zeros_like(x)
    count_sum = reduce_sum(torch.stack([keep.sum().to(x.dtype), torch.where(keep, x, zero).sum()]))
    count = count_sum[0].clamp(min=1.0)
    mean = count_sum[1] / count
    var = reduce_sum(torch.where(keep, (x - mean) ** 2, zero).sum()) / count
    return (x - mean) / (var.sqrt() + 1e-8)


def masked_mean(
    x: torch.Tensor, mask: torch.Tensor | None, count: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of ``x`` over the entries where ``mask`` is 1 (all of them when None).

    ``count`` replaces the number of such entries as the divisor: data-parallel ranks pass
    the mean count over ranks, so that averaging their gradients gives the gradient of the
    mean over every rank's active entries (exactly one process on the whole batch).
    """
    if mask is None:
        return x.mean()
    keep = mask.bool()
    divisor = keep.sum().clamp(min=1) if count is None else count
    # where, not a product: whatever an inactive row holds (inf included) cannot leak in
    return torch.where(keep, x, torch.zeros_like(x)).sum() / divisor


# --------------------------------------------------------------------------- 4. losses
def policy_loss(
    new_logprob: torch.Tensor,
    old_logprob: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
    mask: torch.Tensor | None = None,
    count: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Clipped surrogate (PPO eq. 7), to minimise: -mean(min(r A, clip(r, 1-eps, 1+eps) A)),
    the mean over the active samples (``mask``; all when None; ``count``: see
    :func:`masked_mean`)."""
    log_ratio = new_logprob - old_logprob
    ratio = log_ratio.exp()
    surrogate = torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    with torch.no_grad():  # diagnostics: Schulman's low-variance KL estimator, clip fraction
        info = {
            "approx_kl": masked_mean((ratio - 1) - log_ratio, mask),
            "clip_fraction": masked_mean(((ratio - 1).abs() > clip).to(ratio.dtype), mask),
        }
    return -masked_mean(surrogate, mask, count), info


def value_loss(
    new_value: torch.Tensor,
    old_value: torch.Tensor,
    returns: torch.Tensor,
    clip: float,
    clipped: bool = True,
    mask: torch.Tensor | None = None,
    count: torch.Tensor | None = None,
) -> torch.Tensor:
    """0.5 * mean squared error to the returns; with ``clipped``, the larger of the errors of
    the new value and of the old value moved at most ``clip`` (PPO2's value clipping). The
    mean is over the active samples (``mask``; all when None)."""
    unclipped = (new_value - returns) ** 2
    if not clipped:
        return 0.5 * masked_mean(unclipped, mask, count)
    moved = old_value + (new_value - old_value).clamp(-clip, clip)
    return 0.5 * masked_mean(torch.max(unclipped, (moved - returns) ** 2), mask, count)


# --------------------------------------------------------------------------- 5. update
class Strategy:
    """How a trainer takes part in the update; this base is one process (``local``)."""

    def reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor

    def after_step(self, last_of_update: bool) -> None:
        """Called after every optimiser step (DiLoCo's outer step hooks in here)."""


def minibatch_plan(
    n_samples: int, cfg: PPOConfig, generator: torch.Generator
) -> list[list[torch.Tensor]]:
    """Per epoch, ``num_minibatches`` disjoint index sets covering a random permutation."""
    if n_samples < cfg.num_minibatches:
        raise ValueError(
            f"num_minibatches: {cfg.num_minibatches} is more than the {n_samples} "
            "(step, env) snapshots of a rollout; lower it or raise rollout_steps/num_envs"
        )
    return [
        list(torch.randperm(n_samples, generator=generator).tensor_split(cfg.num_minibatches))
        for _ in range(cfg.update_epochs)
    ]


@dataclass
class LossGroup:
    """Agents whose PPO loss is normalised, averaged and clipped together: every agent (one
    shared policy), or one team of a self-play run (:mod:`swarm.learn.teams`)."""

    name: str
    columns: torch.Tensor | None  # (N,) 1.0 on the group's agent columns; None: all agents
    params: list[torch.nn.Parameter]
    learning: bool = True  # False: frozen this update (alternate self-play)


def ppo_update(
    loss_model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    rollout: Rollout,
    cfg: PPOConfig,
    plan: list[list[torch.Tensor]],
    strategy: Strategy | None = None,
    groups: list[LossGroup] | None = None,
) -> dict[str, float]:
    """Run ``plan`` (epochs of minibatch indices into the T*E snapshots); return mean stats.

    ``loss_model`` is the :class:`~swarm.learn.nets.ActorCritic` or its DDP wrapper.
    ``groups`` (default: one of every agent and parameter) are teams with parameters of
    their own (self-play): each group's advantages are normalised over its agents, its loss
    is a mean over them, its gradient clipped alone, and its stats are reported as
    ``NAME/policy_loss`` and so on. A group that is not ``learning`` keeps its parameters:
    its loss is left out and its gradients are dropped before the optimiser steps, so Adam
    leaves its parameters, moments and step count as they were.
    """
    strategy = strategy or Strategy()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    groups = groups or [LossGroup("", None, params)]
    rollout.advantages, rollout.returns = compute_gae(
        rollout.rewards, rollout.values, rollout.dones, rollout.last_value,
        cfg.gamma, cfg.gae_lambda,
    )  # fmt: skip
    masks = [_group_mask(rollout.active, g.columns, rollout.rewards) for g in groups]
    if cfg.normalize_advantages:
        if len(groups) == 1:
            rollout.advantages = normalize(rollout.advantages, strategy.reduce_sum, masks[0])
        else:  # each team's advantages on its own scale
            rollout.advantages = sum(
                normalize(rollout.advantages, strategy.reduce_sum, m) * g.columns
                for g, m in zip(groups, masks, strict=True)
            )
    # only what the losses and the network read: a minibatch copies its rows of each field
    # (the gather was a fifth of an update when it copied state and messages nobody read)
    network = getattr(loss_model, "module", loss_model)  # under DDP, the wrapped model
    needed = {"actions", "logprobs", "advantages", "values", "returns", *network.inputs()}
    data = {name: value for name, value in rollout.snapshots().items() if name in needed}
    group_masks = [None if m is None else m.reshape(-1, *m.shape[2:]) for m in masks]
    totals: dict[str, float] = {}
    n_steps = sum(len(epoch) for epoch in plan)
    counts = [_active_counts(m, plan, strategy) for m in group_masks]
    done = 0
    for epoch in plan:
        for idx in epoch:
            mb = {name: value[idx] for name, value in data.items()}
            logprob, entropy, value = loss_model(mb, mb["actions"])
            loss = logprob.new_zeros(())
            for g, mask_all, count_all in zip(groups, group_masks, counts, strict=True):
                mask = None if mask_all is None else mask_all[idx]
                count = None if count_all is None else count_all[done]
                pg_loss, info = policy_loss(
                    logprob, mb["logprobs"], mb["advantages"], cfg.clip_coef, mask, count
                )
                v_loss = value_loss(
                    value, mb["values"], mb["returns"], cfg.clip_coef, cfg.clip_value_loss,
                    mask, count,
                )  # fmt: skip
                entropy_mean = masked_mean(entropy, mask, count)
                group_loss = pg_loss - cfg.ent_coef * entropy_mean + cfg.vf_coef * v_loss
                # a frozen group still enters the graph (DDP wants every parameter used)
                loss = loss + (group_loss if g.learning else 0.0 * group_loss)
                prefix = f"{g.name}/" if g.name else ""
                for name, v in (("policy_loss", pg_loss), ("value_loss", v_loss),
                                ("entropy", entropy_mean), *info.items()):  # fmt: skip
                    key = prefix + name
                    totals[key] = totals.get(key, 0.0) + float(v.detach()) / n_steps
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for g in groups:
                if g.learning:
                    torch.nn.utils.clip_grad_norm_(g.params, cfg.max_grad_norm)
                else:  # no gradient: the optimiser skips these parameters entirely
                    for param in g.params:
                        param.grad = None
            optimizer.step()
            done += 1
            strategy.after_step(last_of_update=done == n_steps)
    for g, mask in zip(groups, masks, strict=True):
        real = torch.ones_like(rollout.returns, dtype=torch.bool) if mask is None else mask.bool()
        targets, predicted = rollout.returns[real], rollout.values[real]
        var = targets.var() if targets.numel() > 1 else targets.new_tensor(0.0)
        explained = float(1 - (targets - predicted).var() / var) if var > 0 else 0.0
        totals[(f"{g.name}/" if g.name else "") + "explained_variance"] = explained
    return totals


def _group_mask(
    active: torch.Tensor | None, columns: torch.Tensor | None, like: torch.Tensor
) -> torch.Tensor | None:
    """(T, E, N) 1.0 where a sample counts for a group: its agent is active and one of the
    group's columns; None when every sample counts."""
    if columns is None:
        return active
    return (torch.ones_like(like) if active is None else active) * columns


def _active_counts(
    active: torch.Tensor | None, plan: list[list[torch.Tensor]], strategy: Strategy
) -> torch.Tensor | None:
    """Per minibatch of ``plan``, the active samples per rank on average over the ranks (the
    divisor of the masked means), in one all-reduction before the first step (not one per
    step: each is a synchronisation point of the ranks)."""
    if active is None:
        return None
    sums = [active[idx].sum() for epoch in plan for idx in epoch]
    totals = strategy.reduce_sum(torch.stack([*sums, active.new_tensor(1.0)]))
    return (totals[:-1] / totals[-1]).clamp(min=1.0)
