"""Greedy pursuit: chase the nearest evader in sight, at full speed.

Pure pursuit, the classic baseline of pursuit–evasion (R. Isaacs, "Differential Games",
Wiley, 1965): the pursuer's velocity always points at the evader. It is what every
cooperative strategy is measured against, and it can fail outright at equal speeds in a
bounded arena (the lion-and-man game), which is why the pursuit scenario caps the steps.

With no evader in sight the pursuer holds its course at full speed (it keeps searching
instead of stopping); a pursuer at rest stays at rest.

The helpers here are shared by the other pursuit–evasion controllers: the team codes, the
nearest sensed agent of a team, and "this direction at that speed".
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from policies.random_walk import correlated_walk
from swarm.config import StrictConfig
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.teams import nearest_of_team

PURSUER = "pursuer"
EVADER = "evader"


def team_codes(obs: LocalObservation) -> tuple[int, int]:
    """(pursuer, evader) team codes of the scenario, from its shared list of team names.
    Raises where the observation has no teams: these controllers cannot tell friend from foe
    without them."""
    names = obs.known.get("teams")
    if names is None or obs.neighbors.team is None or "team" not in obs.own:
        raise ValueError("pursuit controllers need a scenario with teams (pursuit)")
    return names.index(PURSUER), names.index(EVADER)


def team_range(obs: LocalObservation, code: int) -> tuple[float, bool]:
    """The sensing range of team ``code`` (its rows' ``own["sense_radius"]``; teams may sense
    less than ``obs.sense_radius``, the largest range, which stands in where the batch holds
    none of its rows: their output is not used), and whether it covers the whole arena
    (every agent sensed: the papers' full-information setting)."""
    mine = obs.own["team"] == code
    sense = float(obs.own["sense_radius"][mine][0]) if mine.any() else float(obs.sense_radius)
    return sense, sense >= np.sqrt(2.0) * obs.world_size


# a direction shorter than this (m, or m/s) is none: dividing by a subnormal length would
# overflow to an infinite velocity
NO_DIRECTION = 1e-12


def at_speed(direction: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """(R, dim) velocity along each row's ``direction`` at its ``speed``; zero where the
    direction is (numerically) zero."""
    if direction.shape[1] == 2:  # hypot: the 2-D result bit for bit as before
        norm = np.hypot(direction[:, 0], direction[:, 1])
    else:
        norm = np.sqrt((direction**2).sum(axis=1))
    has = norm > NO_DIRECTION
    scale = np.where(has, speed / np.where(has, norm, 1.0), 0.0)
    return direction * scale[:, None]


class BlindParams(StrictConfig):
    """What a pursuer does while it senses no evader."""

    when_blind: Literal["hold", "walk"] = Field(
        "hold", description="no evader in sight: hold the course, or search by a correlated "
        "random walk (turns of turn_std rad per step)",
    )  # fmt: skip
    turn_std: float = Field(0.3, ge=0, description="std of the search walk's turns (rad)")


def when_blind(
    policy: Policy, obs: LocalObservation, blind: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """``out`` with the rows that see no evader (``blind``) holding their course at full
    speed, or searching (``when_blind = "walk"``, keyed by each pursuer's own id)."""
    if not blind.any():
        return out
    p = policy.params
    if p.when_blind == "walk":
        walk = correlated_walk(obs, policy.seed, obs.own["max_speed"], p.turn_std)
    else:
        walk = at_speed(obs.vel, obs.own["max_speed"])
    out[blind] = walk[blind]
    return out


class PursuitPolicy(Policy):
    """What the pursuit game's controllers share: velocity commands, and the scenario whose
    teams they read (each sensed agent's team, own team and speed)."""

    action_kind = "velocity"
    scenario = "pursuit"
    scenarios = ("pursuit",)


class GreedyPursuit(PursuitPolicy):
    name = "greedy_pursuit"
    citation = "Isaacs, R. (1965). Differential Games. Wiley (pure pursuit)."
    Params = BlindParams
    dims = (2, 3)  # pure pursuit points at the evader in any dimension

    def act(self, obs: LocalObservation) -> np.ndarray:
        _, evader = team_codes(obs)
        nb = obs.neighbors
        near = nearest_of_team(nb, evader)
        seen = near >= 0
        direction = np.zeros((obs.n, obs.pos.shape[1]))
        direction[seen] = nb.rel_pos[near[seen]]
        out = when_blind(self, obs, ~seen, at_speed(direction, obs.own["max_speed"]))
        out[~obs.alive] = 0.0
        return out
