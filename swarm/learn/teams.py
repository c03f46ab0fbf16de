"""Self-play: one shared policy per team, trained together by the same PPO loop and trainers.

In a scenario with teams (pursuit: ``pursuer`` and ``evader``) agents of different teams
have different goals, so one network maximising everyone's reward would play both sides of
a game against itself. :class:`TeamActorCritic` holds one :class:`~swarm.learn.nets
.ActorCritic` per team instead (parameters shared within a team, never across), each with its
own critic (IPPO: the agent's observation; MAPPO: the global ``state()`` beside it, a
per-team centralised critic as in Lowe et al. 2017's MADDPG for mixed games). To the rollout
and the trainers it is one module, so ``local``, ``ddp`` and ``diloco`` train it unchanged;
:func:`swarm.learn.ppo.ppo_update` keeps the teams apart where PPO would couple them:
advantages are normalised per team, each team's loss is a mean over its own agents, and
gradients are clipped per team. One Adam over every parameter equals one Adam per team
(Adam acts element by element).

Updates are **simultaneous** (every team learns from every rollout: independent learners in
self-play, as in MAPPO's and IPPO's MPE predator-prey runs) or **alternate** (team k learns
while the others stay frozen, switching every ``alternate_every`` updates: each learner
then faces a fixed opponent for a while, the classic remedy for chasing a moving target;
Heinrich & Silver 2016 discuss both).

A checkpoint stores every team's network under its name (``net_spec["teams"]``), so each
team's policy loads alone: ``load_policy(run, team="pursuer")`` and ``swarm eval pursuit
--policy pursuers=RUN --policy evaders=flee``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.distributions import Normal

from swarm.learn.nets import ActorCritic, NetSpec


@dataclass(frozen=True)
class TeamColumns:
    """Which agent columns of an env (agents are ordered team by team) form a team."""

    name: str
    start: int
    stop: int


class TeamActorCritic(nn.Module):
    """One :class:`ActorCritic` per team, acting on its own agents' columns.

    Quacks like a single ``ActorCritic`` for the rollout and the PPO loss (``distribution``,
    ``value``, ``clip_action``, ``forward`` over all ``N`` agents); ``teams`` says which
    columns each net drives.
    """

    def __init__(self, specs: dict[str, NetSpec], teams: list[TeamColumns]):
        super().__init__()
        if [t.name for t in teams] != list(specs):
            raise ValueError("TeamActorCritic: one NetSpec per team, in the teams' order")
        if any(spec.actor == "gnn" for spec in specs.values()):
            raise ValueError("TeamActorCritic: GNN actors are not trained per team yet")
        if any(spec.discrete for spec in specs.values()):
            raise ValueError("TeamActorCritic: discrete actions are not trained per team yet")
        self.teams = teams
        self.nets = nn.ModuleList(ActorCritic(specs[t.name]) for t in teams)

    @property
    def spec(self) -> NetSpec:
        """The first team's spec (what the rollout reads: ``max_senders``)."""
        return self.nets[0].spec

    def inputs(self) -> tuple[str, ...]:
        """The batch fields the teams' networks read (``state`` is shared by all)."""
        return tuple(dict.fromkeys(key for net in self.nets for key in net.inputs()))

    def _parts(self, batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Each team's slice of a batch: its agents' observations, the shared ``state``."""
        return [
            {k: v if k == "state" else _columns(v, t) for k, v in batch.items()
             if k in ("obs", "state")}
            for t in self.teams
        ]  # fmt: skip

    def _each(self, batch: dict[str, torch.Tensor]) -> list[tuple[TeamColumns, Any, Any]]:
        """(team, its net, its slice of ``batch``) per team."""
        return list(zip(self.teams, self.nets, self._parts(batch), strict=True))

    def distribution(self, batch: dict[str, torch.Tensor]) -> Normal:
        dists = [net.distribution(part) for _, net, part in self._each(batch)]
        mean = torch.cat([d.mean for d in dists], dim=-2)
        return Normal(mean, torch.cat([d.stddev for d in dists], dim=-2))

    # the rollout's sampling and log-probabilities: the joint Gaussian's, as one network's
    sample = staticmethod(ActorCritic.sample)
    log_prob = staticmethod(ActorCritic.log_prob)
    entropy = staticmethod(ActorCritic.entropy)

    def value(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.cat([net.value(part) for _, net, part in self._each(batch)], dim=-1)

    def clip_action(self, action: torch.Tensor) -> torch.Tensor:
        pairs = zip(self.teams, self.nets, strict=True)
        return torch.cat([net.clip_action(_columns(action, t)) for t, net in pairs], dim=-2)

    def forward(
        self, batch: dict[str, torch.Tensor], action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log-prob, entropy, value), each (B, N): every team's net on its own columns."""
        outs = [net(part, _columns(action, t)) for t, net, part in self._each(batch)]
        logprob, entropy, value = (torch.cat([o[i] for o in outs], dim=-1) for i in range(3))
        return logprob, entropy, value

    def param_groups(self) -> list[dict[str, Any]]:
        """One optimiser parameter group per team, in the teams' order (alternate updates
        freeze a team by giving its group a zero step size)."""
        return [{"params": list(net.parameters())} for net in self.nets]

    def masks(self, n_agents: int) -> list[torch.Tensor]:
        """Per team, (N,) 1.0 on its columns."""
        out = []
        for t in self.teams:
            mask = torch.zeros(n_agents)
            mask[t.start : t.stop] = 1.0
            out.append(mask)
        return out


def _columns(x: torch.Tensor, team: TeamColumns) -> torch.Tensor:
    """A team's agents of a (..., N, D) tensor."""
    return x[..., team.start : team.stop, :]


def param_groups(model: nn.Module) -> Any:
    """What an optimiser is built on: per-team groups for a :class:`TeamActorCritic`,
    else the parameters (the same optimiser either way for one team)."""
    return model.param_groups() if isinstance(model, TeamActorCritic) else model.parameters()


def learning_teams(n_teams: int, update: int, mode: str, every: int) -> list[bool]:
    """Which teams learn in ``update`` (1-based): all (simultaneous), or one at a time,
    team 0 first, switching every ``every`` updates (alternate)."""
    if mode == "simultaneous" or n_teams == 1:
        return [True] * n_teams
    turn = ((update - 1) // every) % n_teams
    return [k == turn for k in range(n_teams)]
