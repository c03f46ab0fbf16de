"""A trained actor in the ``Policy`` slot, where the classic controllers sit.

The engine hands it the batch of local observations; an ``encode`` function (the scenario
env's own observation layout, the one the actor was trained on) turns row i's part into the
actor's input, and the actor's mean action is taken (no exploration noise at evaluation),
clipped to the action box. A GNN actor broadcasts its learned message through the engine's
channel (:meth:`broadcast`) and reads what its comm-graph neighbours sent the step before from
``obs.inbox``, exactly the delayed one-hop exchange it was trained with; open the channel with
``max_inbox = spec.max_senders`` so it keeps the same nearest senders. Row i's action depends
on row i's observation and inbox only: the locality contract holds by construction (tested).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from swarm.learn.checkpoint import load_checkpoint, resolve_checkpoint
from swarm.learn.nets import ActorCritic, GNNActor, NetSpec
from swarm.observation import LocalObservation
from swarm.policy import Policy

Encoder = Callable[[LocalObservation], np.ndarray]  # (R, obs_dim) from a batch of observations


class LearnedPolicy(Policy):
    """The actor of a trained :class:`~swarm.learn.nets.ActorCritic`, deterministic."""

    name = "learned"
    citation = "Schulman et al. 2017 (PPO); Tolstaya et al. 2019 (GNN controllers)"

    def __init__(
        self,
        model: ActorCritic,
        encode: Encoder,
        action_kind: Literal["acceleration", "velocity"] = "acceleration",
    ):
        super().__init__()
        self.model = model.eval()
        self.encode = encode
        self.action_kind = action_kind  # type: ignore[misc]
        spec = model.spec
        self.message_dim = spec.message_dim if spec.actor == "gnn" else 0  # type: ignore[misc]

    @classmethod
    def from_checkpoint(cls, path: Path, encode: Encoder, **kw) -> LearnedPolicy:
        """From a checkpoint file or a run folder (its latest checkpoint)."""
        saved = load_checkpoint(resolve_checkpoint(path))
        model = ActorCritic(NetSpec(**saved["net_spec"]))
        model.load_state_dict(saved["model"])
        return cls(model, encode, **kw)

    def _features(self, obs: LocalObservation) -> torch.Tensor:
        x = np.asarray(self.encode(obs), dtype=np.float32)
        if x.shape != (obs.n, self.model.spec.obs_dim):
            raise ValueError(
                f"learned policy: the encoder gave shape {x.shape}; the actor was trained on "
                f"({obs.n}, {self.model.spec.obs_dim}) (another scenario or config?)"
            )
        return torch.from_numpy(x)

    @torch.no_grad()
    def act(self, obs: LocalObservation) -> np.ndarray:
        x = self._features(obs)
        actor = self.model.actor
        if isinstance(actor, GNNActor):
            received = self._mean_received(obs)
            mean = actor.decide(x, received)
        else:
            mean = actor(x)
        out = self.model.clip_action(mean).double().numpy()
        out[~obs.alive] = 0.0
        return out

    @torch.no_grad()
    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        if not self.message_dim:
            return np.zeros((obs.n, 0))
        return self.model.actor.message(self._features(obs)).double().numpy()

    def _mean_received(self, obs: LocalObservation) -> torch.Tensor:
        """(R, message_dim) mean of the messages in each row's inbox (zeros if none)."""
        inbox = obs.inbox
        if inbox.msg.shape[1] != self.message_dim:
            raise ValueError(
                f"learned policy: inbox messages have {inbox.msg.shape[1]} floats, the actor "
                f"sends {self.message_dim}: open the channel with this policy's message_dim"
            )
        total = inbox.segment_sum(inbox.msg) if len(inbox.sender) else np.zeros(
            (obs.n, self.message_dim))  # fmt: skip
        counts = np.maximum(inbox.counts, 1)[:, None]
        return torch.from_numpy((total / counts).astype(np.float32))
