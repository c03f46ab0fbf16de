"""Agents of different kinds in one swarm: teams with their own limits, sensing, radio and
controller.

A scenario with teams declares them (:meth:`swarm.scenario.Scenario.teams`): each
:class:`Team` has a name (its agents are ``name_0, name_1, ...``), a size, its own speed and
acceleration limits, sensing range and controller. Rows of one arena are contiguous per team
in the declared order. The engine then keeps, as arrays like every other state:

* ``engine.team`` (R,) int8, the team code of each row (index into ``engine.team_names``);
* per-row speed and acceleration limits, used by the integrator;
* per-entry ``team`` in the neighbour table: what a drone senses is what each neighbour
  looks like (a pursuer, an evader), not its row;
* comm links only between teams that share a radio (:meth:`Scenario.radio_pairs`; by default
  each team talks only to itself: adversaries sense each other but hear nothing).

Each drone's observation carries ``own["team"]``, ``own["max_speed"]``,
``own["max_accel"]`` and ``own["sense_radius"]`` (its own team's) and ``known["teams"]``
(the names).
:class:`TeamPolicy` runs each team's controller and keeps each row's action from its own
team's controller; it stays local because each controller does. A one-team scenario
declares no teams and nothing here runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numba
import numpy as np

from swarm.neighbors import NeighborTable
from swarm.observation import LocalObservation
from swarm.policy import Decision, Policy


@dataclass(frozen=True)
class Team:
    """One kind of agent (see the module docstring)."""

    name: str  # agents are name_0, name_1, ... (pursuer_0)
    n: int
    max_speed: float
    max_accel: float
    sense_radius: float
    policy: str
    policy_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TeamLayout:
    """The engine's arrays of a swarm with teams, for ``n_envs`` arenas."""

    names: tuple[str, ...]
    team: np.ndarray  # (R,) int8 team code of each row
    max_speed: np.ndarray  # (R,) float64
    max_accel: np.ndarray  # (R,) float64
    sense_radius: np.ndarray  # (R,) float64
    radio: np.ndarray  # (T, T) bool: team a hears team b

    @classmethod
    def build(
        cls, teams: tuple[Team, ...], n_envs: int, radio_pairs: set[tuple[str, str]]
    ) -> TeamLayout:
        names = tuple(t.name for t in teams)
        code = np.repeat(np.arange(len(teams), dtype=np.int8), [t.n for t in teams])

        def per_row(values: list[float]) -> np.ndarray:
            out = np.tile(np.asarray(values, dtype=np.float64)[code], n_envs)
            out.flags.writeable = False
            return out

        radio = np.zeros((len(teams), len(teams)), bool)
        for a, b in radio_pairs:
            radio[names.index(a), names.index(b)] = radio[names.index(b), names.index(a)] = True
        team = np.tile(code, n_envs)
        team.flags.writeable = False
        return cls(
            names=names,
            team=team,
            max_speed=per_row([t.max_speed for t in teams]),
            max_accel=per_row([t.max_accel for t in teams]),
            sense_radius=per_row([t.sense_radius for t in teams]),
            radio=radio,
        )

    def sensed(self, table: NeighborTable) -> NeighborTable:
        """The table as each team senses it: within its own range, each entry labelled with
        the neighbour's team."""
        if table.n_edges and self.sense_radius.min() < self.sense_radius.max():
            table = keep_entries(table, table.dist <= self.sense_radius[table.owner])
        return _with_team(table, self.team[table.idx])

    def linked(self, table: NeighborTable) -> NeighborTable:
        """Only the links between teams that share a radio."""
        if table.n_edges == 0 or self.radio.all():
            return table
        return keep_entries(table, self.radio[self.team[table.owner], self.team[table.idx]])


def keep_entries(table: NeighborTable, keep: np.ndarray) -> NeighborTable:
    """The table with only the entries ``keep`` (M,) bool, each segment's order kept."""
    segment = np.repeat(np.arange(len(table.seg_row)), np.diff(table.ptr))
    ptr = np.zeros(len(table.ptr), np.int64)
    np.cumsum(np.bincount(segment[keep], minlength=len(table.seg_row)), out=ptr[1:])
    return NeighborTable(
        ptr, table.seg_row, table.row_seg, table.idx[keep], table.rel_pos[keep],
        table.rel_vel[keep], table.dist[keep], None if table.team is None else table.team[keep],
        None if table.seg is None else table.seg[keep],
    )  # fmt: skip


def _with_team(table: NeighborTable, team: np.ndarray) -> NeighborTable:
    return NeighborTable(table.ptr, table.seg_row, table.row_seg, table.idx, table.rel_pos,
                         table.rel_vel, table.dist, team, table.seg)  # fmt: skip


@numba.njit(cache=True)
def _nearest_of_team(ptr, seg_row, dist, team, code, out):
    """Per row: the entry of the nearest neighbour of team ``code`` (first in table order on
    a tie), -1 if it senses none."""
    for s in range(seg_row.shape[0]):
        best = np.inf
        found = -1
        for e in range(ptr[s], ptr[s + 1]):
            if team[e] == code and dist[e] < best:
                best = dist[e]
                found = e
        out[seg_row[s]] = found


def nearest_of_team(table: NeighborTable, code: int) -> np.ndarray:
    """(R,) int64 entry of each row's nearest sensed neighbour of team ``code``; -1: none."""
    out = np.full(table.n_rows, -1, dtype=np.int64)
    _nearest_of_team(table.ptr, table.seg_row, table.dist, table.team, code, out)
    return out


class TeamPolicy(Policy):
    """Each team's controller on the batch; row i keeps its own team's decision.

    Every controller decides on the whole batch (so each stays vectorised) and the rows of
    the other teams are dropped; a row's action therefore depends only on its own
    observation whenever its controller's does (the audit checks it). Velocity commands are
    turned into accelerations per row where the teams' controllers disagree on the kind.
    Controllers with per-agent memory or messages are not supported across teams yet.
    """

    name: ClassVar[str] = "teams"

    def __init__(self, policies: dict[int, Policy], names: tuple[str, ...], seed: int = 0):
        for code, policy in policies.items():
            if policy.memory_fields or policy.message_dim:
                raise ValueError(
                    f"team {names[code]}: controller {policy.name} keeps memory or talks; "
                    "a team controller supports neither yet"
                )
        self.policies = policies
        self.names = names
        # what reports call it: each team's controller (the audit's line names it)
        self.name = ", ".join(f"{names[c]}s: {p.name}" for c, p in policies.items())
        self.seed = seed
        self.params = None
        kinds = {p.action_kind for p in policies.values()}
        self.action_kind = kinds.pop() if len(kinds) == 1 else "acceleration"

    def decide(self, obs: LocalObservation, messages: bool = True) -> Decision:
        team = obs.own["team"]
        actions = np.zeros((obs.n, obs.pos.shape[1]))
        for code, policy in self.policies.items():
            rows = team == code
            if not rows.any():
                continue
            mine = np.asarray(policy.decide(obs, messages).actions, dtype=np.float64)
            if policy.action_kind == "velocity" and self.action_kind == "acceleration":
                mine = (mine - obs.vel) / obs.dt
            actions[rows] = mine[rows]
        return Decision(actions)

    def act(self, obs: LocalObservation) -> np.ndarray:
        return self.decide(obs).actions

    def __repr__(self) -> str:
        return f"TeamPolicy({self.name})"
