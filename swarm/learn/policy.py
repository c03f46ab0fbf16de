"""A trained actor in the ``Policy`` slot, where the classic controllers sit.

The engine hands it the batch of local observations; an ``encode`` function (the scenario
env's own observation layout, the one the actor was trained on) turns row i's part into the
actor's input, and the actor's mean action is taken (no exploration noise at evaluation),
clipped to the action box. Row i's action depends on row i's observation and inbox only:
the locality contract holds by construction (tested). An actor trained with
``frame="body"`` reads body-frame observations and gives body-frame actions; the encoder
turns them back to the world's axes (``actions_to_world``, from the drone's own velocity) as
the envs did in training.

Messages. When the scenario's env sends messages (its layout has an ``inbox`` segment, e.g.
navigation's landmark reports), the policy broadcasts exactly those (the scenario's own
``broadcast``) so the inbox in the Mesa model reads as it did in training. A GNN actor on a
scenario without messages broadcasts its learned message instead and reads what its
comm-graph neighbours sent the step before from ``obs.inbox``, the delayed one-hop exchange
it was trained with; the channel then keeps ``max_inbox = spec.max_senders`` nearest senders.

One entry point for every front end (``swarm eval``, the viewer, a script)::

    policy = load_policy("runs/nav-mappo")           # run folder or checkpoint file
    model = policy.make_model(seed=3)                # the scenario's Mesa model, policy in
    model.step()
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from swarm.comm import Inbox
from swarm.config import ConfigError
from swarm.grid.policy import GridPolicy, NoParams
from swarm.learn.checkpoint import (
    CheckpointError,
    checkpoint_frame,
    load_checkpoint,
    resolve_checkpoint,
)
from swarm.learn.nets import ActorCritic, GNNActor, NetSpec, rowwise
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy
from swarm.radio import Round
from swarm.registry import SCENARIOS, scenario_class
from swarm.rng import keyed_uniform

Encoder = Callable[[LocalObservation], np.ndarray]  # (R, obs_dim) from a batch of observations


class LearnedPolicy(Policy):
    """The actor of a trained :class:`~swarm.learn.nets.ActorCritic`, deterministic.

    Args:
        model: the trained network (only its actor runs).
        encode: the observation function it was trained on (for a registered scenario,
            :func:`swarm.marl.observation_encoder`; its layout tells whether the scenario
            sends messages).
        action_kind: what the actor's output means to the engine.
        scenario: the registered scenario it was trained on (None: unknown).
        env_config: the env arguments it was trained with (scenario fields and env fields).
        team: the team it was trained to play, in a scenario with teams (None: every agent).
    """

    name = "learned"
    citation = "Schulman et al. 2017 (PPO); Tolstaya et al. 2019 (GNN controllers)"

    def __init__(
        self,
        model: ActorCritic,
        encode: Encoder,
        action_kind: Literal["acceleration", "velocity"] = "acceleration",
        scenario: str | None = None,
        env_config: dict[str, Any] | None = None,
        team: str | None = None,
    ):
        super().__init__()
        self.model = model.eval()
        self.team = team
        self.source: Path | None = None  # the checkpoint file, when loaded from one
        self.encode = encode
        self.action_kind = action_kind  # type: ignore[misc]
        self.trained_on = scenario
        self.env_config = dict(env_config or {})
        # the encoder's own frame ("world" for an encoder that has none: actions as given)
        self.frame = str(getattr(encode, "frame", "world"))
        self._to_world = getattr(encode, "actions_to_world", None)
        if self.frame != "world" and self._to_world is None:
            raise ConfigError(
                f"learned policy: the encoder's frame is {self.frame!r} but it has no "
                "actions_to_world(actions, vel) to turn the actor's actions back to the world"
            )
        spec = model.spec
        layout = getattr(encode, "layout", None)
        # the scenario's own messages, when its env observation holds an inbox of them
        self.inbox_slots = layout.segment("inbox").shape[0] if (
            layout is not None and "inbox" in layout.names) else 0  # fmt: skip
        self._scenario_broadcast = encode.scenario.broadcast if self.inbox_slots else None
        if self.inbox_slots and spec.actor == "gnn":
            raise ConfigError(
                f"learned policy: a GNN actor on {scenario!r}, a scenario that sends its own "
                "messages, cannot run in the Mesa model yet (one channel carries one kind of "
                "message); train an MLP actor (--actor mlp) for it"
            )
        if self.inbox_slots:
            self.message_dim = encode.scenario.message_dim  # type: ignore[misc]
        else:
            self.message_dim = spec.message_dim if spec.actor == "gnn" else 0  # type: ignore[misc]

    @classmethod
    def from_checkpoint(cls, path: Path, encode: Encoder, **kw: Any) -> LearnedPolicy:
        """From a checkpoint file or a run folder (its latest checkpoint), with your encoder
        (``team=NAME`` for one team's policy of a self-play run)."""
        file = resolve_checkpoint(path)
        saved = load_checkpoint(file)
        _check_frame(file, checkpoint_frame(saved), str(getattr(encode, "frame", "world")))
        return cls(_network(saved, kw.get("team")), encode, **kw)

    # ------------------------------------------------------------------ the Mesa model
    @property
    def max_inbox(self) -> int | None:
        """The inbox size the engine's channel must keep (nearest senders first)."""
        if self.inbox_slots:
            return self.inbox_slots
        return self.model.spec.max_senders if self.message_dim else None

    def model_config(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments of the scenario's Mesa model that reproduce the training env:
        the scenario fields it was trained with (env-only arguments such as ``max_cycles``
        dropped), the channel's inbox size, then ``overrides``."""
        model_class = self._model_class()
        fields = model_class.config_class.model_fields
        config = {k: v for k, v in self.env_config.items() if k in fields}
        if self.max_inbox is not None and config.get("max_inbox") is None:
            config["max_inbox"] = self.max_inbox
        return {**config, **overrides}

    def attach(self, model: Any) -> Any:
        """Put this policy in ``model``'s Policy slot (a scenario's Mesa model built with
        :meth:`model_config`): the channel is opened for its messages and the current state
        sensed again, so the first step already reads a consistent inbox. Returns ``model``."""
        wanted = self.max_inbox
        if wanted is not None and model.config.max_inbox != wanted:
            raise ConfigError(
                f"learned policy: the model's max_inbox is {model.config.max_inbox}; the "
                f"policy was trained reading the {wanted} nearest senders: build the model "
                "with policy.model_config()"
            )
        model.policy = self
        model.engine.open_channel(self.message_dim)
        model.engine.sense()
        return model

    def make_model(self, seed: int, **overrides: Any) -> Any:
        """The trained-on scenario's Mesa model, seeded, with this policy in its slot."""
        return self.attach(self._model_class()(rng=seed, **self.model_config(**overrides)))

    def _model_class(self) -> Any:
        if self.trained_on not in SCENARIOS:
            raise ConfigError(
                f"learned policy: trained on {self.trained_on!r}, not a registered scenario, "
                "so it has no Mesa model"
            )
        return scenario_class(self.trained_on)

    # ------------------------------------------------------------------ the Policy slot
    def _features(self, obs: LocalObservation) -> torch.Tensor:
        return encoded(self.encode, obs, self.model.spec.obs_dim, "another scenario or config?")

    @torch.no_grad()
    def act(self, obs: LocalObservation) -> np.ndarray:
        x = self._features(obs)
        actor = self.model.actor  # evaluated row-wise: each agent's result is its own alone
        if isinstance(actor, GNNActor):
            received = self._mean_received(obs)
            mean = rowwise(actor.head, torch.cat([rowwise(actor.encode, x), received], dim=-1))
        else:
            mean = rowwise(actor.net, x)
        out = self.model.clip_action(mean).double().numpy()
        if self.frame != "world":
            out = self._to_world(out, obs.vel)  # body-frame actions on the world's axes
        out[~obs.alive] = 0.0
        return out

    @torch.no_grad()
    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        if self._scenario_broadcast is not None:
            return self._scenario_broadcast(obs)
        if not self.message_dim:
            return np.zeros((obs.n, 0))
        actor = self.model.actor
        hidden = rowwise(actor.encode, self._features(obs))
        return rowwise(actor.message_head, hidden).double().numpy()

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


def encoded(encode: Encoder, obs: LocalObservation, obs_dim: int, hint: str) -> torch.Tensor:
    """(R, obs_dim) float32 features of ``obs``; a wrong width (the policy deployed on another
    setup than it was trained on) is refused in one line, ``hint`` saying what may differ."""
    x = np.asarray(encode(obs), dtype=np.float32)
    if x.shape != (obs.n, obs_dim):
        raise ValueError(
            f"learned policy: the encoder gave shape {x.shape}; the actor was trained on "
            f"({obs.n}, {obs_dim}) ({hint})"
        )
    return torch.from_numpy(x)


# the learned warehouse robots' message round: each robot's GNN message, once per step
GNN_ROUND = "gnn_message"


class LearnedGridPolicy(GridPolicy):
    """A trained categorical actor in a grid scenario's controller slot (the warehouse).

    Each robot's move is the argmax of the actor's logits on its own encoded observation
    (the env's :class:`~swarm.grid.marl.GridObservationEncoder`: row i reads row i only),
    computed row-wise (:func:`~swarm.learn.nets.rowwise`), so a robot alone decides bit for
    bit as in the batch: the locality audit holds by construction (tested). An MLP actor
    sends no messages and keeps no memory.

    A GNN actor talks on the warehouse radio, as it was trained (messages one step old,
    :meth:`decide`): each step every robot broadcasts its learned message (round
    ``gnn_message``, ``message_dim`` floats, carried, sized and counted by the radio) and
    keeps, as its memory ``heard``, the mean of the messages of its ``max_senders`` nearest
    senders (by distance, then id: its own comm links say how far each is, as the trainer's
    ``comm_senders`` ranks them); it moves on what it heard the step before, so what it
    reads is what its neighbours composed from their observations one step earlier, along
    that step's links, as in training.
    """

    name = "learned"
    citation = "Schulman et al. 2017 (PPO), categorical actor; Tolstaya et al. 2019 (GNN)"

    def __init__(
        self,
        model: ActorCritic,
        encode: Encoder,
        scenario: str | None = None,
        env_config: dict[str, Any] | None = None,
        sample: bool = False,
        seed: int = 0,
    ):
        if not isinstance(model, ActorCritic) or not model.spec.discrete:
            # a TypeError: the audit's rebuild then deep-copies this policy instead
            raise TypeError("LearnedGridPolicy: needs an ActorCritic with discrete actions")
        super().__init__(NoParams(), seed=seed)
        self.sample = bool(sample)
        self.model = model.eval()
        self.encode = encode
        self.trained_on = scenario
        self.env_config = dict(env_config or {})
        self.source: Path | None = None
        spec = model.spec
        self.message_dim = spec.message_dim if spec.actor == "gnn" else 0
        self.max_senders = spec.max_senders
        # per-robot memory (GNN): the mean message each robot heard last step; empty until
        # the first step (a robot then has heard nothing: zeros, as in training)
        self.heard = np.zeros((0, self.message_dim))
        self._check_comm(self.env_config)

    def _check_comm(self, config: dict[str, Any]) -> None:
        """A GNN actor reads its ``max_senders`` nearest senders; an inbox cap below that
        would silently feed it fewer than it was trained on: refused in one line."""
        cap = config.get("max_inbox")
        if self.message_dim and cap is not None and int(cap) < self.max_senders:
            raise ConfigError(
                f"learned policy: max_inbox={cap} keeps fewer senders than the GNN actor "
                f"reads ({self.max_senders} nearest); allowed: none or >= {self.max_senders}"
            )

    @property
    def memory_fields(self) -> tuple[str, ...]:
        """The GNN's ``heard`` (R, message_dim); an MLP actor keeps none."""
        return ("heard",) if self.message_dim else ()

    def rounds(self) -> tuple[Round, ...]:
        """One round of learned messages for a GNN actor (none for an MLP)."""
        return (Round(GNN_ROUND, self.message_dim),) if self.message_dim else ()

    def model_config(self, **overrides: Any) -> dict[str, Any]:
        """The scenario fields it was trained with (env-only ones dropped), then
        ``overrides``."""
        fields = scenario_class(self.trained_on).config_class.model_fields
        config = {k: v for k, v in self.env_config.items() if k in fields and k != "policy"}
        return {**config, **overrides}

    def make_model(self, seed: int, **overrides: Any) -> Any:
        """The trained-on scenario's model, seeded, with this policy in its slot (and its
        memory cleared: a new run starts having heard nothing)."""
        if self.trained_on not in SCENARIOS:
            raise ConfigError(f"learned policy: trained on {self.trained_on!r}, not a "
                              "registered scenario, so it has no model")  # fmt: skip
        config = self.model_config(**overrides)
        self._check_comm(config)
        model = scenario_class(self.trained_on)(rng=seed, **config)
        self.heard = np.zeros((0, self.message_dim))
        model.policy = self
        return model

    def _features(self, obs: LocalObservation) -> torch.Tensor:
        return encoded(self.encode, obs, self.model.spec.obs_dim, "another view_radius or motion?")

    def _last_heard(self, obs: LocalObservation) -> torch.Tensor:
        """(R, message_dim) float32 what each robot heard last step (zeros at a run's
        first step, or before any step)."""
        heard = np.asarray(self.heard, dtype=np.float64)
        if obs.step == 0 or heard.shape != (obs.n, self.message_dim):
            heard = np.zeros((obs.n, self.message_dim))
        return torch.from_numpy(heard.astype(np.float32))

    @torch.no_grad()
    def logits(self, obs: LocalObservation) -> torch.Tensor:
        """(R, n_actions) the actor's logits, row by row (a GNN: on its memory ``heard``)."""
        x = self._features(obs)
        actor = self.model.actor
        if isinstance(actor, GNNActor):
            hidden = rowwise(actor.encode, x)
            return rowwise(actor.head, torch.cat([hidden, self._last_heard(obs)], dim=-1))
        return rowwise(actor.net, x)

    def decide(self, obs: LocalObservation) -> Decision:
        """The moves; a GNN actor also broadcasts its message on the radio and returns
        what it heard as its new memory (read next step, the delay it was trained with)."""
        if not self.message_dim:
            return Decision(np.asarray(self.act(obs)))
        if obs.radio is None:
            raise ConfigError(
                "learned policy: a GNN actor needs the step's radio (model.observe() with "
                "radio=True) to send its messages"
            )
        with torch.no_grad():
            actor = self.model.actor
            hidden = rowwise(actor.encode, self._features(obs))
            message = rowwise(actor.message_head, hidden).double().numpy()
            logits = rowwise(actor.head, torch.cat([hidden, self._last_heard(obs)], dim=-1))
        inbox = obs.radio.send(GNN_ROUND, message)
        heard = nearest_mean(obs, inbox, self.max_senders)
        return Decision(self._choose(obs, logits), memory={"heard": heard})

    def act(self, obs: LocalObservation) -> np.ndarray:
        """(R,) the most probable move of each robot (greedy: no exploration); with
        ``sample``, a move drawn from the actor's probabilities by a uniform keyed by
        (seed, step, robot id), so a robot's draw depends on no other robot. Drawing breaks
        the symmetric stand-offs a deterministic policy can lock into (two robots facing
        each other in an aisle, both waiting forever), as the stochastic training policy
        did."""
        return self._choose(obs, self.logits(obs))

    def _choose(self, obs: LocalObservation, logits: torch.Tensor) -> np.ndarray:
        if not self.sample:
            return logits.argmax(dim=-1).numpy().astype(np.int64)
        probs = torch.softmax(logits.double(), dim=-1).numpy()
        u = keyed_uniform(self.seed, obs.step, np.asarray(obs.ids, dtype=np.int64))
        cdf = np.cumsum(probs, axis=1)
        pick = (cdf < u[:, None] * cdf[:, -1:]).sum(axis=1)
        return np.minimum(pick, probs.shape[1] - 1).astype(np.int64)


def nearest_mean(obs: LocalObservation, inbox: Inbox, k: int) -> np.ndarray:
    """(R, D) each robot's mean of the messages of its ``k`` nearest senders (distance,
    then id; zeros when it heard none), from its inbox and its own comm links
    (``obs.links``, labelled by identity as the inbox is). The trainer's
    :func:`~swarm.learn.grid.grid_senders` ranks the same way, so a robot deployed reads
    what it read in training. Sums run slot by slot, nearest first, so a robot alone gets
    bit for bit its row of the batch."""
    n, dim = obs.n, inbox.msg.shape[1]
    receiver = inbox.owner.astype(np.int64)
    sender = np.asarray(inbox.sender, dtype=np.int64)
    total = np.zeros((n, dim))
    if len(sender) == 0 or k < 1:
        return total
    links = obs.links
    if links is None:
        raise ConfigError("learned policy: the observation has no comm links to rank senders")
    label = np.asarray(links.idx, dtype=np.int64)
    width = int(max(label.max(initial=0), sender.max())) + 1
    link_key = links.owner.astype(np.int64) * width + label
    order = np.argsort(link_key, kind="stable")
    at = np.searchsorted(link_key[order], receiver * width + sender)
    dist = np.asarray(links.dist)[order][at]  # every packet came over one of these links
    pick = np.lexsort((sender, dist, receiver))
    receiver = receiver[pick]
    rank = np.arange(len(receiver)) - np.searchsorted(receiver, receiver, side="left")
    keep = rank < k
    slots = np.zeros((n, k, dim))
    slots[receiver[keep], rank[keep]] = inbox.msg[pick][keep]
    for slot in range(k):  # nearest first; the same additions for a robot alone
        total += slots[:, slot]
    count = np.bincount(receiver[keep], minlength=n).astype(np.float64)
    return total / np.maximum(count, 1.0)[:, None]


def _network(saved: dict[str, Any], team: str | None = None) -> ActorCritic:
    """The checkpoint's network; in a self-play run (one network per team), ``team``'s."""
    record = saved["net_spec"]
    if "teams" not in record:
        model = ActorCritic(NetSpec(**record))
        model.load_state_dict(saved["model"])
        return model
    names = list(record["teams"])
    if team not in names:
        raise CheckpointError(
            f"the checkpoint holds one policy per team; name the team to play: "
            f"{', '.join(names)} (got {team!r})"
        )
    prefix = f"nets.{names.index(team)}."  # TeamActorCritic's key of that team's network
    model = ActorCritic(NetSpec(**record["teams"][team]["spec"]))
    model.load_state_dict({k[len(prefix):]: v for k, v in saved["model"].items()
                           if k.startswith(prefix)})  # fmt: skip
    return model


def _check_frame(file: Path, trained: str, given: str) -> None:
    """An actor runs in the frame it was trained in: any other is refused in one line (its
    observations would mean something else, and its actions point elsewhere)."""
    if given != trained:
        raise CheckpointError(
            f"checkpoint {file}: the actor was trained with frame={trained!r}; it cannot run "
            f"with frame={given!r} (observations and actions would be on other axes)"
        )


def checkpoint_teams(path: str | Path) -> list[str]:
    """The teams a run folder or checkpoint holds a policy for ([] : one shared policy)."""
    saved = load_checkpoint(resolve_checkpoint(Path(path)))
    return list(saved["net_spec"].get("teams", {}))


def load_policy(
    path: str | Path, team: str | None = None, **config: Any
) -> LearnedPolicy | LearnedGridPolicy:
    """The trained policy in a run folder (its latest checkpoint) or a checkpoint file,
    ready for its scenario's Mesa model (:meth:`LearnedPolicy.make_model`).

    ``config``: scenario fields to change from training (e.g. ``n_agents=10``: one shared
    network runs any swarm size); the observation layout must stay the one trained on.
    ``team``: the team whose policy to load from a self-play run (``"pursuer"``).
    Raises :class:`~swarm.learn.checkpoint.CheckpointError` (a ``ConfigError``: one line) for
    a missing, foreign or tampered file, or a policy trained on a custom env.
    """
    file = resolve_checkpoint(Path(path))
    saved = load_checkpoint(file)
    scenario = saved["job"].get("scenario")
    if scenario not in SCENARIOS:
        raise CheckpointError(
            f"checkpoint {file}: trained on {scenario!r}, not a registered scenario; load it "
            "with LearnedPolicy.from_checkpoint(path, encode) and your own encoder"
        )
    env_config = {**saved["job"].get("env_config", {}), **config}
    if "frame" in config:
        _check_frame(file, checkpoint_frame(saved), str(config["frame"]))
    from swarm.learn.grid import is_grid_scenario

    if is_grid_scenario(scenario):
        return _grid_policy(file, saved, scenario, env_config)
    from swarm.marl import observation_encoder  # the PettingZoo stack, loaded on first use

    encode = observation_encoder(scenario, **env_config)
    try:
        model = _network(saved, team)
    except CheckpointError as err:
        raise CheckpointError(f"checkpoint {file}: {err}") from None
    if encode.obs_dim != model.spec.obs_dim:
        raise ConfigError(
            f"load_policy: with {config} the {scenario} observation has {encode.obs_dim} "
            f"floats; the policy was trained on {model.spec.obs_dim} (keep the settings that "
            "shape the observation: k_neighbors, inbox_slots, landmark_slots, ...)"
        )
    policy = LearnedPolicy(model, encode, scenario=scenario, env_config=env_config, team=team)
    policy.source = file
    return policy


# ``--set sample=true`` (a grid policy's option, not a scenario field): draw moves from the
# actor's probabilities instead of taking the argmax (LearnedGridPolicy.act)
SAMPLE_KEY = "sample"


def _grid_policy(
    file: Path, saved: dict[str, Any], scenario: str, env_config: dict[str, Any]
) -> LearnedGridPolicy:
    """The learned grid policy of a checkpoint, with the env's observation encoder."""
    from swarm.grid.marl import GridParallelEnv

    model = _network(saved)
    sample = env_config.pop(SAMPLE_KEY, False)
    if not isinstance(sample, bool):
        raise ConfigError(f"{SAMPLE_KEY}: true or false (got {sample!r})")
    env = GridParallelEnv(scenario, **env_config)
    if env.layout.size != model.spec.obs_dim:
        raise ConfigError(
            f"load_policy: with these settings the {scenario} observation has "
            f"{env.layout.size} floats; the policy was trained on {model.spec.obs_dim} (keep "
            "view_radius and motion as in training)"
        )
    policy = LearnedGridPolicy(
        model, env.encoder, scenario=scenario, env_config=env_config, sample=sample
    )
    policy.source = file
    return policy
