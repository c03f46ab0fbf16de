"""The locality audit: every controller, evaluated on one agent's observation alone.

A vectorised controller receives a batch of every agent's observation, so nothing in the
code stops row i's action from reading row j. The audit makes the contract checkable
instead: for agent i it builds a batch of *one* (:func:`isolate`) holding only what i may
know (its own state and identity, what it senses with opaque neighbour labels, its inbox,
its task readings and the static task facts) and evaluates a fresh copy of the controller
on it, with i's rows of the controller's declared per-agent memory. The isolated decision
must equal row i of the batched one, bit for bit: actions, messages, state updates and the
memory after the step. A controller that averages the swarm, indexes another agent's row
through a neighbour label, counts the living, or keeps memory outside its declared
per-agent fields gives a different answer alone, and is caught.

Neighbour and sender labels are the agents' identities (``obs.ids``): names an agent may
know (from sensing and messages), not indices. In the isolated batch no other agent has a
row, so indexing a batch array with them fails or reads the wrong agent.

::

    from swarm.testing import assert_local
    assert_local("boids", "flocking")               # a registered controller
    assert_local(MyController, "search", n_agents=80)  # a class, or an instance
    swarm audit flocking --policy boids             # the same from the command line
    swarm run flocking --audit 10                   # 10 random agents per step of a real run
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from swarm.comm import Inbox
from swarm.observation import LocalObservation
from swarm.policy import Decision, PerAgentPolicy, Policy
from swarm.radio import RadioPort, ReplayRadio, Sent, inbox_of


class LocalityViolation(AssertionError):
    """A controller decided differently for an agent alone than in the batch."""


def isolate(obs: LocalObservation, row: int, radio: RadioPort | None = None) -> LocalObservation:
    """Agent ``row``'s observation as a batch of one: its own state and identity, what it
    senses and links to and its inbox (labelled by identity), its task readings, and its
    part of the shared facts (a fact's ``alone(obs, row)``, else a private copy). A batch
    with message rounds needs the ``radio`` that replays this agent's inboxes
    (:func:`replay_for`): the batch's own radio is never handed to an agent alone."""
    if obs.radio is not None and radio is None:
        raise ValueError("isolate: this observation has message rounds; pass the agent's "
                         "replayed radio (swarm.testing.replay_for)")  # fmt: skip
    senders, messages = obs.inbox.of(row)
    inbox = Inbox(
        np.array([0, len(senders)], dtype=obs.inbox.ptr.dtype), senders.copy(), messages.copy()
    )
    one = slice(row, row + 1)
    return dataclasses.replace(
        obs,
        pos=obs.pos[one].copy(),
        vel=obs.vel[one].copy(),
        alive=obs.alive[one].copy(),
        ids=obs.ids[one].copy(),
        neighbors=obs.neighbors.one_row(row, obs.ids),
        links=None if obs.links is None else obs.links.one_row(row, obs.ids),
        inbox=inbox,
        radio=radio,
        own={name: values[one].copy() for name, values in obs.own.items()},
        known={name: _fact_alone(fact, obs, row) for name, fact in obs.known.items()},
    )


def _fact_alone(fact: Any, obs: LocalObservation, row: int) -> Any:
    """Agent ``row``'s part of a shared fact: what the fact itself says an agent alone may
    read (``alone``), else a private copy, so nothing one agent writes reaches another."""
    alone = getattr(fact, "alone", None)
    return alone(obs, row) if callable(alone) else copy.deepcopy(fact)


def decide(policy: Policy, obs: LocalObservation, channel: bool) -> Decision:
    """The controller's whole decision on ``obs`` (:meth:`Policy.decide`; applies nothing)."""
    d = policy.decide(obs, channel)
    messages = None if d.messages is None else np.asarray(d.messages, dtype=np.float64)
    return Decision(np.asarray(d.actions), messages, dict(d.state), d.memory)


def _memory_rows(value: Any, row: int) -> Any:
    """Agent ``row``'s part of a memory field: rows of an array, or of each array in a dict.
    An empty array (memory not started yet) stays empty."""
    if isinstance(value, dict):
        return {k: _memory_rows(v, row) for k, v in value.items()}
    array = np.asarray(value)
    if array.ndim == 0 or len(array) == 0:
        return array.copy()
    return array[row : row + 1].copy()


def _rebuild(policy: Policy) -> Policy:
    """A fresh controller of the same class and parameters, as built before any step.

    A controller whose constructor takes other arguments (a learned policy: its network and
    encoder) is deep-copied instead, sharing only its read-only network modules: nothing it
    does alone can reach the batch's controller, but memory it keeps outside
    ``memory_fields`` travels with the copy, where the audit cannot tell it apart."""
    try:
        return type(policy)(policy.params, seed=policy.seed)
    except TypeError:
        shared = {id(v): v for v in vars(policy).values() if hasattr(v, "state_dict")}
        return copy.deepcopy(policy, shared)


def isolated_policy(policy: Policy, row: int, known: Any) -> Policy:
    """The controller as agent ``row`` alone would run it: built fresh, prepared for the
    task, given only its own rows of the declared per-agent memory. Memory anywhere else
    (an undeclared attribute, a class variable filled by other agents) is left behind."""
    clone = _rebuild(policy)
    prepare = getattr(clone, "prepare", None)
    if callable(prepare):
        prepare(known)
    for name in policy.memory_fields:
        setattr(clone, name, _memory_rows(getattr(policy, name), row))
    return clone


def _first_difference(a: Any, b: Any) -> str | None:
    """Where two decisions' parts differ bit for bit (None when equal)."""
    if a is None or b is None:
        return None if a is None and b is None else "one is missing"
    if isinstance(a, dict) or isinstance(b, dict):
        if not isinstance(a, dict) or not isinstance(b, dict) or set(a) != set(b):
            return f"fields {_keys(a)} alone vs {_keys(b)} in the batch"
        for key in a:
            diff = _first_difference(a[key], b[key])
            if diff is not None:
                return f"[{key!r}] {diff}"
        return None
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        return f"shape {x.shape} alone vs {y.shape} in the batch"
    equal = (x == y) | ((x != x) & (y != y)) if x.dtype.kind in "fc" else x == y
    if np.all(equal):
        return None
    return f"{x.ravel().tolist()[:6]} alone vs {y.ravel().tolist()[:6]} in the batch"


def _keys(value: Any) -> str:
    return str(sorted(value)) if isinstance(value, dict) else type(value).__name__


def compare(
    name: str, step: int, row: int, alone: Decision, batch: Decision, memory: tuple[Any, Any]
) -> None:
    """Raise :class:`LocalityViolation` naming what differs for ``row``."""
    parts = [
        ("action", alone.actions[0], batch.actions[row]),
        ("message", None if alone.messages is None else alone.messages[0],
         None if batch.messages is None else batch.messages[row]),
        ("state", {k: v[0] for k, v in alone.state.items()},
         {k: v[row] for k, v in batch.state.items()}),
        ("memory", memory[0], memory[1]),
    ]  # fmt: skip
    for what, a, b in parts:
        diff = _first_difference(a, b)
        if diff is not None:
            raise LocalityViolation(
                f"{name}: not local at step {step}, agent {row}: its {what} differs when it "
                f"decides on its own observation alone ({diff})"
            )


class Auditor:
    """Checks agents of a model at every step, before the step is taken."""

    def __init__(self, model: Any, agents_per_step: int | None = None, seed: int = 0):
        self.model = model
        self.policy: Policy = model.policy
        self.name = getattr(self.policy, "name", type(self.policy).__name__)
        self.k = agents_per_step
        self.rng = np.random.default_rng([seed, 0xA0D17])  # apart from the model's streams
        self.checked = 0

    def rows(self, obs: LocalObservation) -> np.ndarray:
        alive = np.flatnonzero(obs.alive)
        if self.k is None or self.k >= len(alive):
            return alive
        return np.sort(self.rng.choice(alive, size=self.k, replace=False))

    def step(self) -> None:
        """Audit the chosen agents on the current observation, then step the model."""
        engine = self.model.engine
        obs = engine.obs
        channel = engine.channel is not None
        batch = decide(self.policy, obs, channel)
        rows = self.rows(obs)
        alone = {}
        for row in rows:
            solo_obs = isolate(obs, int(row))
            solo = isolated_policy(self.policy, int(row), solo_obs.known)
            try:
                decision = decide(solo, solo_obs, channel)
                solo.commit(solo_obs, decision.actions)
                solo.remember(decision.memory)
            except Exception as err:  # fails alone, not in the batch: it reached for others
                raise LocalityViolation(
                    f"{self.name}: not local at step {obs.step}, agent {int(row)}: alone it "
                    f"fails with {type(err).__name__}: {' '.join(str(err).split())[:120]}"
                ) from None
            alone[int(row)] = (decision, solo)
        self.model.step()  # commits the batch's decision into the controller's memory
        for row, (decision, solo) in alone.items():
            memory = (
                {f: getattr(solo, f) for f in self.policy.memory_fields},
                {f: _memory_rows(getattr(self.policy, f), row) for f in self.policy.memory_fields},
            )
            compare(self.name, obs.step, row, decision, batch, memory)
        self.checked += len(rows)


def replay_for(log: list[Sent], row: int) -> ReplayRadio:
    """Robot ``row``'s radio alone: its inboxes of the batch's rounds (``log``), in order."""
    return ReplayRadio([(sent.name, inbox_of(sent.inbox, row)) for sent in log])


class GridAuditor:
    """The audit of a warehouse model's controller: at every step, K random robots decide
    alone (order claims and moves, every message round replayed to them) and must match
    the batch: claims and bids, actions, each round's messages, and the memory after it."""

    def __init__(self, model: Any, agents_per_step: int | None = None, seed: int = 0):
        self.model = model
        self.name = getattr(model.policy, "name", type(model.policy).__name__)
        self.k = agents_per_step
        self.rng = np.random.default_rng([seed, 0xA0D17])
        self.checked = 0
        model.auditor = self

    def rows(self, n: int) -> np.ndarray:
        if self.k is None or self.k >= n:
            return np.arange(n)
        return np.sort(self.rng.choice(n, size=self.k, replace=False))

    def step(self) -> None:
        self.model.step()  # the model calls back check_claims, check_moves, check_memory

    def _alone(
        self, obs: LocalObservation, row: int, log: list[Sent], decide: Any
    ) -> tuple[Any, LocalObservation, ReplayRadio, Any]:
        replay = replay_for(log, row)
        solo_obs = isolate(obs, row, replay.port())
        solo = isolated_policy(self.model.policy, row, None)
        try:
            result = decide(solo, solo_obs)
        except Exception as err:  # fails alone, not in the batch: it reached for others
            raise LocalityViolation(
                f"{self.name}: not local at step {obs.step}, robot {row}: alone it fails with "
                f"{type(err).__name__}: {' '.join(str(err).split())[:120]}"
            ) from None
        return solo, solo_obs, replay, result

    def _compare_rounds(
        self, obs: LocalObservation, row: int, replay: ReplayRadio, log: list[Sent]
    ) -> None:
        mine = dict(replay.sent)  # a round skipped alone: nothing sent on it
        for sent in log:
            batch = sent.sent_by(row)
            alone = mine.get(sent.name, np.zeros((0, batch.shape[1])))
            diff = _first_difference(alone, batch)
            if diff is not None:
                self._fail(obs, row, f"message on round {sent.name!r}", diff)

    def _fail(self, obs: LocalObservation, row: int, what: str, diff: str) -> None:
        raise LocalityViolation(
            f"{self.name}: not local at step {obs.step}, robot {row}: its {what} differs when "
            f"it decides on its own observation alone ({diff})"
        )

    def check_claims(
        self, obs: LocalObservation, batch: tuple[np.ndarray, np.ndarray], log: list[Sent]
    ) -> None:
        """The order claims and bids of K robots, decided alone."""
        for row in self.rows(obs.n).tolist():
            _, _, replay, (claims, bids) = self._alone(obs, row, log, lambda p, o: p.claim(o))
            for what, a, b in (
                ("claim", claims[0], batch[0][row]),
                ("bid", bids[0], batch[1][row]),
            ):
                diff = _first_difference(a, b)
                if diff is not None:
                    self._fail(obs, row, what, diff)
            self._compare_rounds(obs, row, replay, log)
            self.checked += 0  # counted once per robot-step, in check_moves

    def check_moves(
        self, obs: LocalObservation, batch: Decision, log: list[Sent]
    ) -> list[tuple[int, Any, LocalObservation]]:
        """The actions, messages and new memory of K robots, decided alone; returns their
        controllers (with the decision applied) for :meth:`check_memory` once the batch's
        is applied."""
        pending = []
        for row in self.rows(obs.n).tolist():
            solo, solo_obs, replay, alone = self._alone(obs, row, log, lambda p, o: p.decide(o))
            diff = _first_difference(np.asarray(alone.actions)[0], np.asarray(batch.actions)[row])
            if diff is not None:
                self._fail(obs, row, "action", diff)
            self._compare_rounds(obs, row, replay, log)
            solo.commit(solo_obs, np.asarray(alone.actions))
            solo.remember(alone.memory)
            pending.append((row, solo, obs))
        self.checked += len(pending)
        return pending

    def check_memory(self, pending: list[tuple[int, Any, LocalObservation]]) -> None:
        """Each audited robot's memory after the step equals its rows of the batch's."""
        policy = self.model.policy
        for row, solo, obs in pending:
            mine = {f: getattr(solo, f) for f in policy.memory_fields}
            batch = {f: _memory_rows(getattr(policy, f), row) for f in policy.memory_fields}
            diff = _first_difference(mine, batch)
            if diff is not None:
                self._fail(obs, row, "memory", diff)


def auditor_for(model: Any, agents_per_step: int | None = None, seed: int = 0) -> Any:
    """The audit that fits the model: drones (:class:`Auditor`) or grid robots
    (:class:`GridAuditor`); both step the model with ``.step()`` and count ``.checked``."""
    if hasattr(model, "world"):
        return GridAuditor(model, agents_per_step, seed)
    return Auditor(model, agents_per_step, seed)


def _model_for(policy: Any, scenario: str, n_agents: int, seed: int, config: dict[str, Any]):
    """A scenario model driven by ``policy``: a registered name, a class or an instance."""
    from swarm.registry import policy_class, scenario_class

    model_cls = scenario_class(scenario)
    if isinstance(policy, str):
        policy_class(policy)  # one line for an unknown name
        return model_cls(rng=seed, n_agents=n_agents, policy=policy, **config)
    instance = policy() if isinstance(policy, type) else policy
    if scenario == "warehouse":
        model = model_cls(rng=seed, n_agents=n_agents, **config)
        model.policy = instance
        return model
    if hasattr(instance, "make_model") and not config:  # a learned policy knows its env
        return instance.make_model(seed=seed, n_agents=n_agents)
    model = model_cls(rng=seed, n_agents=n_agents, **config)
    prepare = getattr(instance, "prepare", None)
    if callable(prepare):
        prepare(model.engine.obs.known)
    model.policy = instance
    model.engine.open_channel(max(model.config.message_dim, instance.message_dim))
    model.engine.invalidate()
    return model


def assert_local(
    policy: Any,
    scenario: str,
    *,
    n_agents: int = 40,
    steps: int = 20,
    agents: int | None = None,
    seed: int = 0,
    **config: Any,
) -> int:
    """Run ``scenario`` for ``steps`` steps and audit ``agents`` random living agents per
    step (default: all of them). Raises :class:`LocalityViolation` on the first difference;
    returns how many agent-steps were checked."""
    model = _model_for(policy, scenario, n_agents, seed, config)
    if isinstance(model.policy, PerAgentPolicy):
        raise TypeError("assert_local: a Mesa agent's decide() is per agent by construction")
    auditor = auditor_for(model, agents, seed)
    for _ in range(steps):
        auditor.step()
    return auditor.checked
