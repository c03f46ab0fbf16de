"""Networks shared by every agent of a swarm (parameter sharing over the agent dimension).

Every tensor carries agents as its second-to-last batch axis: observations ``(..., N, D)``,
actions ``(..., N, A)``. The same weights act for every agent, so one network controls a swarm
of any size, and what agent i does depends only on the rows fed for agent i:

* :class:`MLPActor` reads agent i's own local observation.
* :class:`GNNActor` also reads the messages agent i's comm-graph neighbours broadcast one step
  earlier, each a learned function of the sender's own observation (one hop of graph
  diffusion per control step, delayed as on a real radio: Tolstaya et al. 2019, "Learning
  decentralized controllers for robot swarms with graph neural networks", CoRL, eq. 3).
  Messages travel through the engine's channel when the actor runs in the ``Policy`` slot,
  so execution is decentralised; gradients flow through the senders' message heads in
  training, so the messages are learned.
* The critic sees agent i's local observation (IPPO, de Witt et al. 2020) or the environment's
  global ``state()`` next to it (MAPPO's agent-specific global state, Yu et al. 2022, sec. 4.1);
  it is used in training only.

Continuous (Box) actions are Gaussian with a state-independent log standard deviation
(Schulman et al. 2017, PPO's continuous-control setup); the environment receives them clipped
to its action box. Discrete actions (``NetSpec.action_kind == "discrete"``, e.g. the grid
robots' Discrete(5) moves) are categorical over the actor's ``n_actions`` logits; the
action is stored as one float (its index) so rollouts keep one (..., A) layout, and the
deployed policy takes the argmax (no exploration at evaluation).
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
from pydantic import Field
from torch import nn
from torch.distributions import Categorical, Normal

from swarm.config import StrictConfig

LOG_STD_INIT = -0.5  # initial log std of the action noise (std ~0.6 of a unit action box)


class NetSpec(StrictConfig):
    """Everything needed to rebuild a network from a checkpoint (stored as plain values)."""

    obs_dim: int = Field(ge=1, description="floats in one agent's local observation")
    act_dim: int = Field(ge=1, description="floats in one agent's action")
    state_dim: int = Field(0, ge=0, description="floats in the env's global state (MAPPO)")
    actor: Literal["mlp", "gnn"] = Field("mlp", description="actor architecture")
    critic: Literal["local", "central"] = Field(
        "local", description="local: own observation (IPPO); central: state() + own (MAPPO)"
    )
    hidden: int = Field(64, ge=1, description="width of every hidden layer")
    message_dim: int = Field(8, ge=1, description="floats per learned message (gnn actor)")
    max_senders: int = Field(
        6, ge=1, description="messages a drone reads per step, nearest senders first (gnn)"
    )
    action_low: list[float] = Field(description="lower bound of the action box, per dim")
    action_high: list[float] = Field(description="upper bound of the action box, per dim")
    action_kind: Literal["box", "discrete"] = Field(
        "box", description="box: Gaussian over act_dim floats; discrete: categorical"
    )
    n_actions: int = Field(
        0, ge=0, description="choices of a discrete action (its logits); 0 for box actions"
    )

    @property
    def discrete(self) -> bool:
        return self.action_kind == "discrete"

    @property
    def actor_out(self) -> int:
        """Floats the actor outputs: the Gaussian mean (act_dim) or the logits (n_actions)."""
        return self.n_actions if self.discrete else self.act_dim


def mlp(sizes: list[int], out_gain: float = 1.0) -> nn.Sequential:
    """tanh MLP with orthogonal init (Engstrom et al. 2020: an implementation detail that
    matters for PPO); the last layer's gain sets the initial output scale."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        linear = nn.Linear(n_in, n_out)
        last = i == len(sizes) - 2
        nn.init.orthogonal_(linear.weight, out_gain if last else math.sqrt(2))
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class MLPActor(nn.Module):
    """Action mean from the agent's own observation."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.net = mlp([spec.obs_dim, spec.hidden, spec.hidden, spec.actor_out], out_gain=0.01)

    def forward(self, obs: torch.Tensor, inbox: torch.Tensor | None = None,
                inbox_mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        return self.net(obs)


class GNNActor(nn.Module):
    """Action mean from the own observation and the mean of the received messages."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.message_dim = spec.message_dim
        self.encode = nn.Sequential(mlp([spec.obs_dim, spec.hidden], math.sqrt(2)), nn.Tanh())
        self.message_head = nn.Sequential(mlp([spec.hidden, spec.message_dim]), nn.Tanh())
        sizes = [spec.hidden + spec.message_dim, spec.hidden, spec.actor_out]
        self.head = mlp(sizes, out_gain=0.01)

    def message(self, obs: torch.Tensor) -> torch.Tensor:
        """(..., N, message_dim) what each agent broadcasts, from its own observation only."""
        return self.message_head(self.encode(obs))

    def forward(self, obs: torch.Tensor, inbox: torch.Tensor | None = None,
                inbox_mask: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        """``inbox`` (..., N, K, message_dim) received messages, ``inbox_mask`` (..., N, K)."""
        if inbox is None or inbox_mask is None:
            received = obs.new_zeros((*obs.shape[:-1], self.message_dim))
        else:
            weight = inbox_mask.to(obs.dtype).unsqueeze(-1)
            received = (inbox * weight).sum(-2) / weight.sum(-2).clamp(min=1.0)
        return self.decide(obs, received)

    def decide(self, obs: torch.Tensor, received: torch.Tensor) -> torch.Tensor:
        """Action mean from the own observation and the mean received message (zeros when
        nothing arrived): what runs on board, given the radio's inbox."""
        return self.head(torch.cat([self.encode(obs), received], dim=-1))


# Rows per chunk of a row-wise linear layer: bounds its (rows x out x in) product to ~64 MB.
ROWWISE_ELEMENTS = 1 << 24


def rowwise(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module(x)`` for a stack of Linear and Tanh layers, computed so that each row's
    result does not depend on the other rows: a product then a sum over each row's inputs,
    instead of a matrix multiply whose kernel (and so its rounding) depends on the batch
    size. What an agent's network computes on board is then bit for bit what it computes in
    a batch of ten thousand, which the locality audit checks. Training keeps nn.Linear."""
    if isinstance(module, nn.Sequential):
        for layer in module:
            x = rowwise(layer, x)
        return x
    if isinstance(module, nn.Tanh):
        return torch.tanh(x)
    if isinstance(module, nn.Linear):
        weight = module.weight.unsqueeze(0)  # (1, out, in)
        rows = max(1, ROWWISE_ELEMENTS // max(1, weight.numel()))
        parts = [(x[i : i + rows].unsqueeze(1) * weight).sum(-1) for i in range(0, len(x), rows)]
        out = torch.cat(parts) if parts else x.new_zeros((0, module.out_features))
        return out + module.bias if module.bias is not None else out
    raise TypeError(f"rowwise: no row-wise form of {type(module).__name__}")


def gather_inbox(
    messages: torch.Tensor, senders: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Deliver ``messages`` (B, N, M) along ``senders`` (B, N, K): in-env index of the agent
    whose message slot k of agent n holds, -1 for an empty slot. Returns (B, N, K, M), mask."""
    batch = torch.arange(messages.shape[0], device=messages.device).view(-1, 1, 1)
    mask = senders >= 0
    inbox = messages[batch, senders.clamp(min=0)]
    return inbox * mask.unsqueeze(-1).to(inbox.dtype), mask


class ActorCritic(nn.Module):
    """The shared actor, its critic and the action noise, as one module (one DDP unit)."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        self.spec = spec
        self.actor = GNNActor(spec) if spec.actor == "gnn" else MLPActor(spec)
        critic_in = spec.obs_dim + (spec.state_dim if spec.critic == "central" else 0)
        self.critic = mlp([critic_in, spec.hidden, spec.hidden, 1], out_gain=1.0)
        if spec.discrete and (spec.n_actions < 2 or spec.act_dim != 1):
            raise ValueError(
                f"NetSpec: a discrete action needs n_actions >= 2 and act_dim 1 (got "
                f"{spec.n_actions}, {spec.act_dim})"
            )
        if not spec.discrete:  # a categorical policy has no noise parameter
            self.log_std = nn.Parameter(torch.full((spec.act_dim,), LOG_STD_INIT))
        self.register_buffer("action_low", torch.tensor(spec.action_low))
        self.register_buffer("action_high", torch.tensor(spec.action_high))

    def inputs(self) -> tuple[str, ...]:
        """The batch fields this network reads (a minibatch gathers only these)."""
        return (
            "obs",
            *(("msg_obs", "senders") if self.spec.actor == "gnn" else ()),
            *(("state",) if self.spec.critic == "central" else ()),
        )

    # ------------------------------------------------------------------ pieces
    def action_mean(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, N, A) from ``obs`` (B, N, D) and, for the GNN, ``msg_obs`` and ``senders``."""
        if isinstance(self.actor, GNNActor):
            inbox, mask = gather_inbox(self.actor.message(batch["msg_obs"]), batch["senders"])
            return self.actor(batch["obs"], inbox, mask)
        return self.actor(batch["obs"])

    def distribution(self, batch: dict[str, torch.Tensor]) -> Normal | Categorical:
        """Gaussian around the actor's mean (box), or categorical over its logits."""
        out = self.action_mean(batch)
        if self.spec.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    @staticmethod
    def sample(dist: Normal | Categorical, generator: torch.Generator) -> torch.Tensor:
        """(B, N, A) action drawn from ``dist`` with ``generator`` (a discrete action: its
        index as one float, so the rollout stores every action kind alike)."""
        if isinstance(dist, Categorical):
            probs = dist.probs
            flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
            return flat.reshape(*probs.shape[:-1], 1).to(probs.dtype)
        return dist.mean + dist.stddev * torch.randn(dist.mean.shape, generator=generator)

    @staticmethod
    def log_prob(dist: Normal | Categorical, action: torch.Tensor) -> torch.Tensor:
        """(B, N) log-probability of ``action`` (B, N, A): summed over the Gaussian's
        independent dimensions, or the category's own."""
        if isinstance(dist, Categorical):
            return dist.log_prob(action[..., 0].long())
        return dist.log_prob(action).sum(-1)

    @staticmethod
    def entropy(dist: Normal | Categorical) -> torch.Tensor:
        """(B, N) entropy of the action distribution."""
        if isinstance(dist, Categorical):
            return dist.entropy()
        return dist.entropy().sum(-1)

    def value(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, N) value of each agent's situation."""
        x = batch["obs"]
        if self.spec.critic == "central":
            state = batch["state"].unsqueeze(-2).expand(*x.shape[:-1], -1)
            x = torch.cat([state, x], dim=-1)
        return self.critic(x).squeeze(-1)

    def clip_action(self, action: torch.Tensor) -> torch.Tensor:
        """What the environment receives: the sample clipped to the action box (a discrete
        action: its index, (B, N) int64)."""
        if self.spec.discrete:
            return action[..., 0].long()
        return torch.maximum(torch.minimum(action, self.action_high), self.action_low)

    # ------------------------------------------------------------------ one forward
    def forward(
        self, batch: dict[str, torch.Tensor], action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log-prob (B, N), entropy (B, N), value (B, N)) of ``action`` (B, N, A).

        One call for everything the PPO loss needs, so DistributedDataParallel sees every
        parameter used in a single forward.
        """
        dist = self.distribution(batch)
        return self.log_prob(dist, action), self.entropy(dist), self.value(batch)
