"""The local observation: everything a controller may know, and nothing more.

One type for drones and grid robots. A batch covers every row (agent) at once so controllers
stay vectorised; row i's part holds only i's own state, the agents i senses (relative
position and velocity, distance, within its sensing range and field of view, with sensor
noise where configured), its comm links and the messages its comm-graph neighbours sent. It
never holds the world: that is the locality contract, and :func:`swarm.testing.assert_local`
checks it for any controller by evaluating each agent on its observation alone
(:func:`swarm.testing.isolate`).

Drones and grid robots fill the same fields in their own units: a drone's ``pos`` is metres
and its messages arrive in ``inbox`` (what neighbours broadcast last step); a warehouse
robot's ``pos`` is (column, row) of its cell, its sensed offsets are cells, and its messages
go through ``radio`` in the rounds its controller declares (:mod:`swarm.radio`). What only
one kind has lives by name in ``own`` (per agent: a consensus value, a robot's goal cell) and
``known`` (shared facts: the shape to form, the warehouse map and its distance fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swarm.comm import Inbox
from swarm.neighbors import NeighborTable
from swarm.radio import RadioPort


@dataclass(frozen=True, eq=False)
class LocalObservation:
    """Batch of local observations, one row per agent (crashed rows see nothing)."""

    step: int  # the model step this observation was sensed at
    dt: float  # seconds per step (a known constant of the platform)
    max_speed: float  # the platform's own speed limit
    sense_radius: float  # range of the own sensor (m)
    pos: np.ndarray  # (R, dim) own position (GPS-like), metres; dim = 2, or 3 (z: altitude)
    vel: np.ndarray  # (R, dim) own velocity, metres/second
    alive: np.ndarray  # (R,) bool, False once crashed
    # (R,) int64 each agent's own identity: what it calls itself in messages and keys its
    # private random stream with. Neighbour and sender labels are such identities. They are
    # names, not indices: the audit (swarm.testing) evaluates a batch of one agent, where no
    # other agent has a row to index
    ids: np.ndarray
    neighbors: NeighborTable  # sensed agents: rel_pos, rel_vel, dist per entry
    inbox: Inbox  # messages received this step
    world_size: float  # side of the (known) arena, metres
    torus: bool  # whether the arena wraps around
    # the task's per-agent part, row i = agent i's own: engine-carried state the controller
    # updates (a consensus value) and the scenario's readings at i (a signal at i's position)
    own: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> (R, ...)
    # facts every agent shares: static task facts carried from the start (the map, the shape
    # to form) and what a declared central service publishes to all (the warehouse's order
    # board). A fact with an ``alone(obs, row)`` method hands an agent alone only its own
    # part of it (a cache of distance fields: those of its own goal), see swarm.testing
    known: Mapping[str, Any] = field(default_factory=dict)
    # who is in radio range (labels: identities); None where the links are the channel's own
    links: NeighborTable | None = None
    # the radio of this step's message rounds (``radio.send``); None without rounds
    radio: RadioPort | None = None

    @property
    def n(self) -> int:
        return self.pos.shape[0]

    def for_agent(self, row: int) -> AgentObservation:
        """Row ``row``'s own part, as plain arrays (the readable per-agent path)."""
        s = self.neighbors.row_slice(row)
        senders, messages = self.inbox.of(row)
        return AgentObservation(
            step=self.step,
            dt=self.dt,
            max_speed=self.max_speed,
            sense_radius=self.sense_radius,
            pos=self.pos[row].copy(),
            vel=self.vel[row].copy(),
            alive=bool(self.alive[row]),
            neighbor_ids=self.neighbors.idx[s].copy(),
            rel_pos=self.neighbors.rel_pos[s].copy(),
            rel_vel=self.neighbors.rel_vel[s].copy(),
            dist=self.neighbors.dist[s].copy(),
            inbox_senders=senders.copy(),
            inbox=messages.copy(),
            world_size=self.world_size,
            torus=self.torus,
            own={name: values[row].copy() for name, values in self.own.items()},
            known=self.known,
        )


@dataclass(frozen=True, eq=False)
class AgentObservation:
    """One agent's local observation (what a per-agent ``decide`` method receives)."""

    step: int
    dt: float
    max_speed: float
    sense_radius: float
    pos: np.ndarray  # (dim,)
    vel: np.ndarray  # (dim,)
    alive: bool
    neighbor_ids: np.ndarray  # (k,) rows of the sensed agents
    rel_pos: np.ndarray  # (k, dim)
    rel_vel: np.ndarray  # (k, dim)
    dist: np.ndarray  # (k,)
    inbox_senders: np.ndarray  # (m,)
    inbox: np.ndarray  # (m, D)
    world_size: float
    torus: bool
    own: Mapping[str, np.ndarray] = field(default_factory=dict)  # name -> this agent's value
    known: Mapping[str, Any] = field(default_factory=dict)
