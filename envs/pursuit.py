"""Pursuit–evasion: pursuers hunt evaders in a bounded square arena, both teams sensing locally.

Version ``v0``.

=================  =====================================================================
Agents             two teams (:mod:`swarm.teams`): ``pursuers`` pursuers (the first rows,
                   default ``n_agents - 1``; Mesa handles :class:`Pursuer`, agents
                   ``pursuer_0, ...``) and the other rows evaders (:class:`Evader`,
                   ``evader_0, ...``), each team with its own top speed, sensing range and
                   controller
Arena              square of side ``world_size`` with reflecting walls (``box``): the
                   bounded convex arena of the Voronoi pursuit guarantee; with ``dim = 3``
                   a cube (floor and ceiling reflect too), played by ``greedy_pursuit``
                   against ``flee`` (the Voronoi controllers are planar)
Dynamics           kinematic by default (``max_accel = inf``): a velocity command is flown
                   as given, up to the team's speed (the "simple motion" of pursuit games)
Sensing            each team senses every agent within its range (``sense_radius`` for
                   pursuers, ``evader_sense_radius`` for evaders), and which team each one
                   belongs to (``obs.neighbors.team``), never its row
Communication      within a team only (the default of :meth:`Scenario.radio_pairs`);
                   the built-in controllers do not talk
Capture            an evader within ``capture_radius`` of a pursuer after a move is
                   caught and leaves the game (it stops, is sensed by nobody)
Controllers        pursuers (``policy``): ``voronoi_pursuit`` (Zhou et al. 2016),
                   ``greedy_pursuit``; evaders (``evader_policy``): ``flee``,
                   ``voronoi_evade``
Metrics            captured_fraction, evaders_left, capture_time (steps until the last
                   evader was caught, NaN while any runs free), n_alive
Reward (envs)      a pursuer earns +1 for every capture in its arena in the step (shared by
                   the team); an evader gets -1 in the step it is caught. With
                   ``shaping = w > 0``, every step a pursuer also gets ``-w d / L`` (``d``:
                   distance to the nearest free evader, ``L``: ``world_size``) and a free
                   evader ``+w d / L`` (to the nearest pursuer), as mpe2's ``simple_tag``
                   shapes its adversaries: a signal before the first capture
=================  =====================================================================

``summary.json`` has ``captured_fraction`` and ``capture_time`` (null while not all caught).
The experiment ``experiments/pursuit_capture_time.toml`` sets Voronoi pursuit against greedy
pursuit, over the number of pursuers.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from mesa.agent import AgentSet
from pydantic import Field, model_validator

from swarm import metrics as m
from swarm.config import ConfigError
from swarm.engine import Swarm, SwarmConfig
from swarm.model import Drone, SwarmModel
from swarm.neighbors import radius_neighbors
from swarm.observation import LocalObservation
from swarm.policy import Policy
from swarm.registry import check_policy_fits, policy_class, require_known
from swarm.scenario import Scenario, Segment
from swarm.teams import Team, TeamPolicy, nearest_of_team

PURSUER, EVADER = 0, 1  # team codes, in row order


class PursuitConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the pursuit game's own fields."""

    dims = (2, 3)  # a square or a cube; the Voronoi controllers are 2-D only (their policy)

    n_agents: int = Field(5, ge=2, description="pursuers plus evaders")
    pursuers: int | None = Field(
        None, ge=1, description="number of pursuers (the first rows); default n_agents - 1"
    )
    world_size: float = Field(20.0, gt=0, description="side of the square arena (m)")
    boundary: Literal["torus", "box"] = Field(
        "box", description="box (the bounded convex arena of the game); torus is refused"
    )
    max_speed: float = Field(1.0, gt=0, description="pursuers' top speed (m/s)")
    evader_speed: float = Field(1.0, gt=0, description="evaders' top speed (m/s)")
    max_accel: float = Field(
        float("inf"), gt=0, allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf (default): simple motion",
    )  # fmt: skip
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s)")
    sense_radius: float = Field(30.0, gt=0, description="pursuers' sensing range (m)")
    evader_sense_radius: float | None = Field(
        None, gt=0, description="evaders' sensing range (m); default sense_radius"
    )
    capture_radius: float = Field(0.5, gt=0, description="an evader this close is caught (m)")
    collision_radius: float = Field(0.0, ge=0, description="closer than this is a collision (m)")
    policy: str = Field("voronoi_pursuit", description="pursuers' controller")
    evader_policy: str = Field("flee", description="evaders' controller")
    evader_params: dict[str, Any] = Field(
        default_factory=dict, description="evaders' controller settings"
    )
    shaping: float = Field(
        0.0, ge=0, description="learning only: per step, a pursuer loses and an evader gains "
        "shaping x its distance to the nearest opponent / world_size (0: captures only)",
    )  # fmt: skip

    @model_validator(mode="after")
    def _two_teams_in_a_box(self) -> PursuitConfig:
        if self.n_pursuers >= self.n_agents:
            raise ValueError(
                f"pursuers ({self.pursuers}) must be fewer than n_agents ({self.n_agents}): "
                "the rest are the evaders"
            )
        if self.boundary != "box":
            raise ValueError("boundary: pursuit is played in a bounded arena; allowed: box")
        # the pursuers' capture discs (balls in 3-D) against the arena's area (volume)
        ball = (
            np.pi * self.capture_radius**2
            if self.dim == 2
            else (4.0 / 3.0 * np.pi * self.capture_radius**3)
        )
        if self.n_pursuers * ball > 0.5 * self.world_size**self.dim:
            raise ValueError(
                f"capture_radius ({self.capture_radius}): the pursuers' capture discs would "
                f"cover over half of the {self.world_size} m arena; evaders could not start "
                "free"
            )
        if self.evader_sense_radius is not None and self.evader_sense_radius > self.sense_radius:
            raise ValueError(
                f"evader_sense_radius ({self.evader_sense_radius}) must be <= sense_radius "
                f"({self.sense_radius}), the range the engine searches"
            )
        return self

    @model_validator(mode="after")
    def _known_evader_policy(self) -> PursuitConfig:
        try:
            require_known("policy", self.evader_policy)
        except ValueError as err:
            raise ValueError(f"evader_policy: {err}") from None
        if self.dim == 3 and 3 not in getattr(policy_class(self.evader_policy), "dims", (2,)):
            raise ValueError(
                f"evader_policy: {self.evader_policy} is 2-D only; use flee with dim = 3"
            )
        return self

    @property
    def n_pursuers(self) -> int:
        return self.pursuers if self.pursuers is not None else self.n_agents - 1

    @property
    def evaders(self) -> int:
        return self.n_agents - self.n_pursuers


class Pursuit(Scenario):
    """Two teams, capture on contact (see the module docstring)."""

    name = "pursuit"

    def __init__(self, config: PursuitConfig):
        super().__init__(config)
        self.captured_at = np.zeros(0, np.int64)  # (R,) step an evader was caught, -1 not
        self.just_captured = np.zeros(0, bool)  # (R,) caught in the last step
        self.metric_functions = {
            "captured_fraction": self.captured_fraction,
            "evaders_left": self.evaders_left,
            "capture_time": self.capture_time,
            "n_alive": m.n_alive,
        }

    def teams(self) -> tuple[Team, ...]:
        c = self.config
        evader_range = c.evader_sense_radius or c.sense_radius
        return (
            Team("pursuer", c.n_pursuers, c.max_speed, c.max_accel, c.sense_radius, c.policy,
                 dict(c.policy_params)),
            Team("evader", c.evaders, c.evader_speed, c.max_accel, evader_range,
                 c.evader_policy, dict(c.evader_params)),
        )  # fmt: skip

    def knowledge(self) -> dict[str, Any]:
        return {"capture_radius": self.config.capture_radius}

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Uniform positions; an evader drawn within the capture radius of a pursuer of its
        arena is drawn again (the game starts with everyone free)."""
        super().spawn(engine, rows, rng)
        if len(self.captured_at) != engine.rows:
            self.captured_at = np.full(engine.rows, -1, np.int64)
            self.just_captured = np.zeros(engine.rows, bool)
        self.captured_at[rows] = -1
        self.just_captured[rows] = False
        for _ in range(100):
            caught = np.intersect1d(self._caught(engine), rows)
            if len(caught) == 0:
                return
            engine.pos[caught] = rng.uniform(0.0, self.config.world_size, (len(caught), engine.dim))
        raise ConfigError(
            "pursuit: capture_radius: could not place the evaders apart from the pursuers; "
            "lower capture_radius or the number of pursuers"
        )

    def _caught(self, engine: Swarm) -> np.ndarray:
        """Rows of the alive evaders within the capture radius of an alive pursuer."""
        c = self.config
        table = radius_neighbors(engine.pos, engine.vel, engine.alive, engine.env,
                                 engine.n_envs, c.world_size, False, c.capture_radius)  # fmt: skip
        team = engine.teams.team
        hit = (team[table.owner] == EVADER) & (team[table.idx] == PURSUER)
        return np.unique(table.owner[hit]).astype(np.int64)

    def update(self, engine: Swarm) -> None:
        """Evaders caught after the move leave the game."""
        caught = self._caught(engine)
        self.just_captured[:] = False
        self.just_captured[caught] = True
        self.captured_at[caught] = engine.env_t[engine.env[caught]]
        if len(caught):
            engine.crash(caught, resense=False)

    # ----------------------------------------------------------------- learning hooks
    def observation_segments(self) -> list[Segment]:
        """What a learner sees beyond the engine's segments: its team, and where the nearest
        sensed agent of each team is (the engine's neighbour slots do not say who is who)."""
        r, d = self.config.sense_radius, self.config.dim
        return [
            Segment("own_team", (1,), 0.0, 1.0, "0 pursuer, 1 evader", vectors=()),
            Segment(
                "nearest_pursuer", (d,), -r, r, "nearest sensed pursuer, relative (m)", vectors=(0,)
            ),
            Segment("sees_pursuer", (1,), 0.0, 1.0, "1 when a pursuer is sensed", vectors=()),
            Segment(
                "nearest_evader", (d,), -r, r, "nearest sensed evader, relative (m)", vectors=(0,)
            ),
            Segment("sees_evader", (1,), 0.0, 1.0, "1 when an evader is sensed", vectors=()),
        ]

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        table = obs.neighbors
        out = {"own_team": obs.own["team"][:, None].astype(np.float64)}
        for name, code in (("pursuer", PURSUER), ("evader", EVADER)):
            near = nearest_of_team(table, code)
            seen = near >= 0
            rel = np.zeros((obs.n, obs.pos.shape[1]))
            rel[seen] = table.rel_pos[near[seen]]
            out[f"nearest_{name}"] = rel
            out[f"sees_{name}"] = seen[:, None].astype(np.float64)
        return out

    def state_segments(self) -> list[Segment]:
        return [Segment("team", (self.config.n_agents,), 0.0, 1.0, "0 pursuer, 1 evader")]

    def state_features(self, engine: Swarm) -> dict[str, np.ndarray]:
        return {"team": engine.teams.team.reshape(engine.n_envs, engine.n_agents)}

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        per_env = np.bincount(engine.env[self.just_captured], minlength=engine.n_envs)
        pursuer = engine.teams.team == PURSUER
        reward = np.where(pursuer, per_env[engine.env], -self.just_captured.astype(float))
        if self.config.shaping:
            near = self._opponent_distance(engine)
            sign = np.where(pursuer, -1.0, 1.0)
            shaped = sign * self.config.shaping * near / self.config.world_size
            reward = reward + np.where(engine.alive & np.isfinite(near), shaped, 0.0)
        return reward

    def _opponent_distance(self, engine: Swarm) -> np.ndarray:
        """(R,) distance from each agent to the nearest alive agent of the other team in its
        arena (inf when none is left): the global truth, for the training reward only."""
        E, N, P = engine.n_envs, engine.n_agents, self.config.n_pursuers
        pos = engine.pos.reshape(E, N, engine.dim)
        alive = engine.alive.reshape(E, N)
        gap = np.linalg.norm(pos[:, :P, None, :] - pos[:, None, P:, :], axis=-1)  # (E, P, Ev)
        gap = np.where(alive[:, :P, None] & alive[:, None, P:], gap, np.inf)
        return np.concatenate([gap.min(axis=2), gap.min(axis=1)], axis=1).ravel()

    # ----------------------------------------------------------------- metrics
    def _evaders(self, engine: Swarm) -> np.ndarray:
        return engine.teams.team == EVADER

    def captured_fraction(self, engine: Swarm) -> np.ndarray:
        """Share of each arena's evaders caught so far."""
        evader = self._evaders(engine)
        caught = np.bincount(engine.env[evader & (self.captured_at >= 0)],
                             minlength=engine.n_envs)  # fmt: skip
        return caught / self.config.evaders

    def evaders_left(self, engine: Swarm) -> np.ndarray:
        """Evaders still in the game (neither caught nor crashed)."""
        free = self._evaders(engine) & engine.alive
        return np.bincount(engine.env[free], minlength=engine.n_envs).astype(float)

    def capture_time(self, engine: Swarm) -> np.ndarray:
        """Steps until the last evader was caught; NaN while any runs free."""
        evader = self._evaders(engine)
        last = np.full(engine.n_envs, -1.0)
        np.maximum.at(last, engine.env[evader], self.captured_at[evader].astype(float))
        return np.where(self.evaders_left(engine) == 0, last, np.nan)


class Pursuer(Drone):
    """A pursuer's Mesa handle (``model.agents_by_type[Pursuer]``)."""


class Evader(Drone):
    """An evader's Mesa handle; a caught evader stays, with ``alive`` False."""


class PursuitModel(SwarmModel):
    """Mesa model of the pursuit game (see the module docstring)."""

    name = "pursuit"
    scenario_class = Pursuit
    config_class = PursuitConfig
    team_classes: tuple[type[Drone], ...] = (Pursuer, Evader)
    # ``--policy pursuers=NAME --policy evaders=NAME``: the config field of each team's
    # controller (swarm.registry.policy_options)
    team_policy_fields: ClassVar[dict[str, str]] = {
        "pursuers": "policy",
        "evaders": "evader_policy",
    }

    def _make_policy(self) -> Policy:
        """Each team's controller (:class:`~swarm.teams.TeamPolicy`)."""
        policies = {}
        for code, team in enumerate(self.scenario.teams()):
            check_policy_fits(self.name, team.policy)
            cls = policy_class(team.policy)
            params = cls.Params.build(f"{team.name} policy ({team.policy})", **team.policy_params)
            policies[code] = cls(params, seed=self.engine.policy_seed)
        return TeamPolicy(policies, self.engine.teams.names, seed=self.engine.policy_seed)

    @property
    def drones(self) -> list[Drone]:
        """Handles by row, a :class:`Pursuer` or an :class:`Evader`."""
        if self._drones is None:
            team = self.engine.teams.team
            self._drones = [self.team_classes[team[row]](self, row)
                            for row in range(self.engine.rows)]  # fmt: skip
        return self._drones

    @property
    def agents_by_type(self) -> dict[type, AgentSet]:
        self.drones  # noqa: B018 - make the handles on first access
        return super().agents_by_type

    def summary(self) -> dict[str, Any]:
        """Headline fields of ``summary.json``."""
        metrics = self.metrics
        time = metrics["capture_time"]
        return {
            "captured_fraction": metrics["captured_fraction"],
            "capture_time": None if np.isnan(time) else time,
        }
