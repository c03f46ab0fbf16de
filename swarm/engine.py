"""The vectorised engine: E environments x N drones as one set of arrays.

Rows are agents (row ``e * N + i`` is drone i of environment e); every field is one array.
One step is: everyone decides on the observation sensed at the end of the previous step,
everyone moves, messages travel, faults strike, and everyone senses again. Nothing depends on
the order of agents. The Mesa model (:mod:`swarm.model`) and the PettingZoo envs are views of
this one engine (E = 1 for both); batched training envs use E > 1.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import networkx as nx
import numpy as np
from pydantic import ConfigDict, Field, field_serializer, field_validator, model_validator

from swarm.comm import (
    TOPOLOGIES,
    Channel,
    CommGraphView,
    FixedLinks,
    Inbox,
    KNearestLinks,
    LinkModel,
    RangeLinks,
    topology_graph,
)
from swarm.config import ConfigError, NumericalError, StrictConfig
from swarm.dynamics import integrate, integrate_quadrotor, tilt_thrust_limit
from swarm.neighbors import BufferPool, NeighborTable, radius_neighbors
from swarm.observation import LocalObservation
from swarm.obstacles import ObstacleReading, contact_radius, grid_bytes_3d, obstacle_field
from swarm.policy import Decision
from swarm.resources import memory_problem
from swarm.rng import derive_seed, keyed_normal
from swarm.teams import TeamLayout

# Bytes one drone costs a run besides its neighbour and link tables (engine arrays,
# observation buffers). At 10^6 flocking drones the peak resident memory after 3 steps is
# 526 B/drone plus 49 B per neighbour (interpreter included; measured at 2 and 30
# neighbours, before the tables kept each entry's segment, 4 B more); with the tables' 84 B
# per neighbour (memory_parts) the estimate is 1.3x that at 10 neighbours, and 1.7x the 7.4
# GiB measured at 10^7 (README). Mesa handles are made on first access of `model.drones`
# and are not counted: at 10^7 drones they would add gigabytes.
BYTES_PER_AGENT = 512


class SwarmConfig(StrictConfig):
    """Engine settings shared by every drone scenario. Units: metres, seconds."""

    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, arbitrary_types_allowed=True
    )
    # the values of ``dim`` this config's scenario flies in, declared in the class's own body
    # and never inherited (read with :func:`config_dims`): a scenario is 2-D until its author
    # has made its spawn, task and metrics 3-D. The engine itself flies in both.
    dims: ClassVar[tuple[int, ...]] = (2, 3)

    n_agents: int = Field(100, ge=1, description="number of drones")
    world_size: float = Field(
        50.0, gt=0, description="side of the arena (m): a square, or a cube with dim = 3"
    )
    boundary: Literal["torus", "box"] = Field(
        "torus", description="torus wraps around; box has reflecting walls"
    )
    dim: Literal[2, 3] = Field(
        2,
        description="space the drones fly in: 2 (the plane) or 3 (a cube of side world_size; "
        "a torus wraps all three axes, a box reflects on all six faces, its floor and ceiling "
        "being the altitude limits 0 and world_size)",
    )
    dt: float = Field(0.1, gt=0, description="seconds per step")
    max_speed: float = Field(3.0, gt=0, description="speed limit (m/s)")
    max_accel: float = Field(
        6.0,
        gt=0,
        allow_inf_nan=True,
        description="acceleration limit (m/s^2); inf gives kinematic control",
    )
    dynamics: Literal["double_integrator", "quadrotor"] = Field(
        "double_integrator",
        description="drone physics: double_integrator (acceleration applied at once), or "
        "quadrotor (acceleration lags the command by attitude_lag and is limited by "
        "thrust_to_weight and max_tilt_deg; swarm.dynamics says what it leaves out)",
    )
    thrust_to_weight: float = Field(
        2.25,
        gt=1,
        description="quadrotor: maximum thrust over weight; sideways acceleration is at most "
        "g sqrt(TW^2 - 1). Default: Crazyflie 2.x, thrust2weight of gym-pybullet-drones' "
        "cf2x.urdf (mass 0.027 kg)",
    )
    max_tilt_deg: float = Field(
        20.0,
        gt=0,
        lt=90,
        description="quadrotor: tilt limit (degrees); sideways acceleration is at most "
        "g tan(tilt). Default: the Crazyflie firmware's roll/pitch limit for its position "
        "controller (PID_VEL_ROLL_MAX = PID_VEL_PITCH_MAX = 20 in the CF2 platform defaults, "
        "used by position_controller_pid.c)",
    )
    attitude_lag: float = Field(
        0.0785,
        ge=0,
        description="quadrotor: time constant (s) of the first-order lag from commanded to "
        "delivered acceleration; 0: none. Default: the Crazyflie 2.x roll/pitch response "
        "fitted in utiasDSL/drone-models (so_rpy_rotor, cf2x_L250: angle'' = -257.2 angle "
        "- 20.2 angle' + 207.1 command) reduced to one lag of the same mean delay, "
        "2 zeta / omega_n = 20.2 / 257.2 s",
    )
    initial_speed: float = Field(1.0, ge=0, description="spawn speed, random headings (m/s)")
    sense_radius: float = Field(5.0, gt=0, description="range of the on-board sensor (m)")
    fov_deg: float = Field(
        360.0, gt=0, le=360, description="sensor field of view centred on the heading (degrees)"
    )
    sensor_noise_pos: float = Field(
        0.0, ge=0, description="std of Gaussian noise on sensed relative positions (m)"
    )
    sensor_noise_vel: float = Field(
        0.0, ge=0, description="std of Gaussian noise on sensed relative velocities (m/s)"
    )
    comm_model: Literal["range", "knn", "fixed"] = Field(
        "range", description="link model: unit disk, k nearest, or a fixed topology"
    )
    comm_radius: float | None = Field(
        None, gt=0, description="radio range for comm_model=range (m); default sense_radius"
    )
    comm_k: int = Field(6, ge=1, description="neighbours per agent for comm_model=knn")
    comm_topology: str | nx.Graph = Field(
        "ring",
        description=f"fixed topology: one of {', '.join(TOPOLOGIES)} or any nx.Graph on rows",
    )
    packet_drop: float = Field(0.0, ge=0, le=1, description="probability a packet is lost")
    comm_delay: int = Field(0, ge=0, description="steps a message spends in flight")
    max_inbox: int | None = Field(
        None, ge=1, description="bandwidth: messages a drone receives per step (nearest first)"
    )
    message_dim: int = Field(0, ge=0, description="floats per broadcast (0: as the policy needs)")
    collision_radius: float = Field(0.3, ge=0, description="closer than this is a collision (m)")
    crash_at: dict[int, list[int]] = Field(
        default_factory=dict, description="faults: {step: [drone rows]} crash once step is reached"
    )
    crash_rate: float = Field(
        0.0, ge=0, le=1, description="faults: per drone per step crash chance"
    )
    policy: str = Field("boids", description="controller name (see `swarm list`)")
    policy_params: dict[str, Any] = Field(default_factory=dict, description="controller settings")
    comm_graph_sync: Literal["lazy", "incremental"] = Field(
        "lazy", description="networkx view: built when read, or kept in sync every step"
    )
    algebraic_connectivity: bool = Field(
        False, description="also record the comm graph's algebraic connectivity (costly)"
    )
    safety: Literal["none", "orca", "cbf"] = Field(
        "none",
        description="safety layer between the controller and the drones: none, orca "
        "(reciprocal collision avoidance) or cbf (control barrier functions, needs a finite "
        "max_accel), from local sensing (swarm.safety)",
    )
    safety_gamma: float = Field(
        1.0, gt=0, description="safety=cbf: gain gamma of the barrier's class-K function gamma h^3"
    )
    obstacles: str = Field(
        "none",
        description="static obstacles: none, forest (poles), urban (blocks), or a JSON file "
        "of discs and convex polygons, or with dim = 3 of spheres and boxes (format in "
        "swarm.obstacles); sensed within sense_radius",
    )
    obstacle_count: int = Field(
        100, ge=1, description="obstacles=forest: poles; obstacles=urban: blocks"
    )
    pole_radius: float = Field(0.25, gt=0, description="obstacles=forest: pole radius (m)")
    street_width: float = Field(4.0, gt=0, description="obstacles=urban: street width (m)")
    obstacle_slots: int = Field(
        4, ge=1, description="nearest obstacles a drone's observation holds (masked slots)"
    )
    safety_horizon: float = Field(
        2.0, gt=0, description="safety layer's time horizon tau: avoid what would hit within (s)"
    )
    safety_margin: float = Field(
        0.25, ge=0, le=1,
        description="safety layer keeps drones (1 + this) x collision_radius apart: room for "
        "what dense crowds and the step length eat into",
    )  # fmt: skip

    @field_validator("comm_topology", mode="before")
    @classmethod
    def _known_topology(cls, value: Any) -> str | nx.Graph:
        if isinstance(value, dict) and set(value) == {"nodes", "edges"}:  # as serialised
            graph = nx.Graph()
            graph.add_nodes_from(value["nodes"])
            graph.add_edges_from(value["edges"])
            return graph
        if isinstance(value, str) and value not in TOPOLOGIES:
            raise ValueError(f"must be an nx.Graph or one of {', '.join(TOPOLOGIES)}")
        if not isinstance(value, str | nx.Graph):
            raise ValueError(f"must be an nx.Graph or one of {', '.join(TOPOLOGIES)}")
        return value

    @field_serializer("comm_topology")
    def _graph_as_lists(self, value: str | nx.Graph) -> str | dict[str, list]:
        if isinstance(value, nx.Graph):
            return {"nodes": sorted(value.nodes), "edges": sorted(map(sorted, value.edges))}
        return value

    @field_validator("obstacles")
    @classmethod
    def _known_obstacles(cls, value: str) -> str:
        from swarm.obstacles import GENERATED, load_obstacle_file

        if value not in ("none", *GENERATED):
            try:
                load_obstacle_file(value)
            except ConfigError as err:
                raise ValueError(
                    f"none, {', '.join(GENERATED)} or a JSON file of obstacles: "
                    f"{str(err).removeprefix('obstacles: ')}"
                ) from None
        return value

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        from swarm.registry import require_known

        return require_known("policy", value)

    @model_validator(mode="after")
    def _fits_in_memory(self) -> SwarmConfig:
        """Before anything (a scenario's own checks included) builds arrays of this size."""
        problem = memory_problem(self.memory_parts(), f"a run of {self.n_agents:,} drones")
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _safety_has_a_radius(self) -> SwarmConfig:
        if self.safety != "none" and self.collision_radius <= 0:
            raise ValueError(
                f"safety: {self.safety} keeps drones collision_radius apart; set "
                "collision_radius > 0 (m)"
            )
        if self.safety == "cbf" and not math.isfinite(self.max_accel):
            raise ValueError(
                "safety: cbf keeps each drone able to brake within max_accel; set a finite "
                "max_accel (m/s^2)"
            )
        return self

    @model_validator(mode="after")
    def _flies_in_dim(self) -> SwarmConfig:
        """With dim = 3: the scenario, the controller and every setting must have a 3-D
        meaning here; the first that has none is refused in one line."""
        if self.dim == 2:
            return self
        problem = three_d_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _obstacles_in_dim(self) -> SwarmConfig:
        """An obstacle file's shapes are 2-D (discs, polygons) or 3-D (spheres, boxes): the
        run's ``dim``."""
        from swarm.obstacles import dim_problem

        problem = dim_problem(self.obstacles, self.dim)
        if problem is not None:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _rows_exist(self) -> SwarmConfig:
        for step, rows in self.crash_at.items():
            if step < 0:
                raise ValueError(f"crash_at: step {step} must be >= 0")
            bad = [r for r in rows if not 0 <= r < self.n_agents]
            if bad:
                raise ValueError(f"crash_at: rows {bad} are not in 0..{self.n_agents - 1}")
        return self

    def memory_parts(self) -> dict[str, float]:
        """Estimated bytes of a run's largest arrays, by the field that sizes each: checked
        against the available memory before anything is allocated. Scenarios add theirs."""
        n, dim = self.n_agents, max(self.message_dim, 1)
        sensed = self.expected_neighbors(self.sense_radius) * self.fov_deg / 360.0
        if self.comm_model == "knn":
            linked = float(min(self.comm_k, n - 1))
        elif self.comm_model == "range":
            linked = self.expected_neighbors(self.effective_comm_radius)
        else:  # a fixed topology: its edges are given, a ring or a grid by default
            linked = 4.0
        return {
            "n_agents": n * BYTES_PER_AGENT,
            # neighbour table entries (idx, rel_pos, rel_vel, dist, seg): 48 B each, 64 in 3-D
            "sense_radius": n * sensed * (16.0 + 16.0 * self.dim),
            # link entries, and one inbox per step in flight: a packet per link
            "comm_radius": n * linked * (24.0 + (self.comm_delay + 1) * (4.0 + 8.0 * dim)),
            "comm_delay": (self.comm_delay + 1) * n * (12.0 + 8.0 * dim),
            "message_dim": 4 * n * 8.0 * self.message_dim,
            # the obstacle reading of every observation (rel_pos, dist, mask) and its copy
            "obstacle_slots": (n * self.obstacle_slots * (16.0 * self.dim + 32.0))
            if self.obstacles != "none"
            else 0.0,
            # the 3-D obstacle grid (cells of side >= sense_radius)
            "obstacles": grid_bytes_3d(self.world_size, self.sense_radius)
            if self.obstacles != "none" and self.dim == 3
            else 0.0,
        }

    def expected_neighbors(self, radius: float) -> float:
        """Mean drones within ``radius`` of one at uniform density (at most all others):
        what the neighbour and link tables grow with, not the team size alone."""
        n = self.n_agents
        if self.dim == 3:  # a ball in the cube; past the cube's diagonal everyone is in range
            ratio = min(radius / self.world_size, math.sqrt(3.0))
            return float(min(n - 1, (n - 1) * min(4.0 / 3.0 * math.pi * ratio**3, 1.0)))
        # beyond the arena's diagonal every drone is in range (and a huge radius would
        # overflow when squared)
        ratio = min(radius / self.world_size, math.sqrt(2.0))  # squared, never overflows
        area = math.pi * ratio**2
        return float(min(n - 1, (n - 1) * min(area, 1.0)))

    @property
    def torus(self) -> bool:
        return self.boundary == "torus"

    @property
    def tilt_thrust_limit(self) -> float:
        """Quadrotor: the most sideways acceleration tilt and thrust allow (m/s^2)."""
        return tilt_thrust_limit(self.thrust_to_weight, self.max_tilt_deg)

    @property
    def effective_comm_radius(self) -> float:
        return self.comm_radius if self.comm_radius is not None else self.sense_radius


def config_dims(config_class: type[SwarmConfig]) -> tuple[int, ...]:
    """The ``dim`` values a config class declares in its own body; (2,) when it says none."""
    return config_class.__dict__.get("dims", (2,))


def three_d_problem(config: SwarmConfig) -> str | None:
    """Why ``config`` cannot fly in 3-D (one line naming the field), or None if it can."""
    from swarm.registry import policy_class, three_d_summary

    if 3 not in config_dims(type(config)):
        return f"dim: 3 is supported by {three_d_summary()}; this scenario is 2-D only"
    if config.fov_deg < 360.0:
        return "fov_deg: a field of view in 3-D (a cone) is not implemented; use 360 with dim = 3"
    if 3 not in getattr(policy_class(config.policy), "dims", (2,)):
        return f"policy: {config.policy} is 2-D only; dim = 3 is supported by {three_d_summary()}"
    return None


class Swarm:
    """State arrays and the step pipeline for ``n_envs`` independent arenas."""

    def __init__(
        self,
        config: SwarmConfig,
        rng: np.random.Generator,
        n_envs: int = 1,
        scenario: Any = None,
    ):
        if n_envs > 1:  # the config checked one arena; this batch holds n_envs of them
            parts = {k: v * n_envs for k, v in config.memory_parts().items()}
            problem = memory_problem(parts, f"{n_envs:,} envs of {config.n_agents:,} drones")
            if problem is not None:
                raise ConfigError(f"n_envs: {problem}")
        self.config = config
        self.rng = rng
        self.n_envs = n_envs
        self.n_agents = config.n_agents
        rows = n_envs * config.n_agents
        self.dim = config.dim  # coordinates per position: 2, or 3 (x, y, altitude z)
        self.pos = np.zeros((rows, self.dim))  # (R, dim) metres
        self.vel = np.zeros((rows, self.dim))  # (R, dim) metres / second
        # (R, dim) m/s^2 the airframe delivers now: the quadrotor dynamics' lag state (zero
        # when spawned, crashed or restarted; the double integrator never writes it)
        self.realised_accel = np.zeros((rows, self.dim))
        self.alive = np.ones(rows, dtype=bool)  # (R,) False once crashed
        self.env = np.repeat(np.arange(n_envs, dtype=np.int64), config.n_agents)  # (R,)
        self.ids = np.arange(rows, dtype=np.int64)  # (R,) each drone's identity (its row)
        self.sent_per_drone = np.zeros(n_envs)  # (E,) packets per living drone, last step
        # (R,) change the safety layer made to each drone's commanded velocity in the last
        # step (m/s; swarm.safety); None until a layer has filtered a step
        self.intervention: np.ndarray | None = None
        self.message_width = 0  # floats in the last step's broadcasts
        self.ids.flags.writeable = False
        self.t = 0  # steps taken since reset
        # (E,) steps since each environment's episode began: equal to ``t`` unless some
        # environments were restarted alone (batched training); ``crash_at`` follows it
        self.env_t = np.zeros(n_envs, dtype=np.int64)
        # per-agent task state a scenario declares at spawn (name -> (R, ...)), e.g. the value
        # a consensus controller updates; controllers read it in ``obs.own`` and change it
        # only through ``Policy.next_state``
        self.agent_state: dict[str, np.ndarray] = {}
        self.scenario = scenario  # its observe/update/knowledge hooks, when given
        # agents of different kinds (swarm.teams), when the scenario declares them
        self.teams: TeamLayout | None = None
        declared = scenario.teams() if scenario is not None else None
        if declared:
            self.teams = TeamLayout.build(declared, n_envs, scenario.radio_pairs())
        # the map's obstacles (the same in every env), a forest drawn from its own stream
        self.obstacles = (
            obstacle_field(config, np.random.default_rng(derive_seed(rng)))
            if config.obstacles != "none"
            else None
        )
        self.obstacle_reading: ObstacleReading | None = None  # of the last sensing
        # (E,) drone-steps in contact with an obstacle since each env's spawn
        self.obstacle_contacts_total = np.zeros(n_envs)
        # derived streams, all from the run's one generator
        self.noise_seed = derive_seed(rng)
        self.comm_seed = derive_seed(rng)
        self.policy_seed = derive_seed(rng)
        self.link_model = self._make_link_model()
        self.channel: Channel | None = None
        self.message_dim = 0
        self.graph_view = CommGraphView(rows, config.comm_graph_sync)
        self.neighbors = NeighborTable.empty(rows, self.dim)
        self.links = NeighborTable.empty(rows, self.dim)
        self._obs: LocalObservation | None = None
        self._hint = 0
        self._pool = BufferPool()
        # intermediate results shared by metrics within one sensed state; cleared on sensing
        self.scratch: dict[str, Any] = {}
        self.version = 0  # counts sensings: a cache key for anything derived from the state

    # ------------------------------------------------------------------ setup
    def _make_link_model(self) -> LinkModel:
        c = self.config
        if c.comm_model == "range":
            return RangeLinks(c.effective_comm_radius)
        if c.comm_model == "knn":
            return KNearestLinks(c.comm_k)
        graph = c.comm_topology
        if isinstance(graph, str):
            graph = topology_graph(graph, c.n_agents, self.rng)
        return FixedLinks(graph, c.n_agents)

    def open_channel(self, message_dim: int) -> None:
        """Start carrying broadcasts of ``message_dim`` floats (0: no messages)."""
        c = self.config
        self.message_dim = message_dim
        self.channel = (
            Channel(
                len(self.pos), message_dim, c.packet_drop, c.comm_delay, c.max_inbox, self.comm_seed
            )
            if message_dim > 0
            else None
        )

    @property
    def rows(self) -> int:
        return len(self.pos)

    # ------------------------------------------------------------------ sensing
    def sense(self) -> LocalObservation:
        """Sense the current state: neighbour table, links, inbox, observation."""
        c = self.config
        # let go of the previous step's tables first, so their buffers can be reused
        self._obs = None
        self.scratch.clear()
        self.version += 1
        self.neighbors = self.links = NeighborTable.empty(0)
        self.graph_view.release()
        table = radius_neighbors(
            self.pos, self.vel, self.alive, self.env, self.n_envs, c.world_size, c.torus,
            c.sense_radius, c.fov_deg, capacity_hint=self._hint, pool=self._pool,
        )  # fmt: skip
        self._hint = int(table.n_edges * 1.05) + 64
        reuse = (
            c.comm_model == "range"
            and c.effective_comm_radius == c.sense_radius
            and c.fov_deg >= 360.0
        )
        links = self.link_model.links(
            self.pos, self.vel, self.alive, self.env, self.n_envs, c.world_size, c.torus,
            table if reuse else None,
        )  # fmt: skip
        if self.teams is not None:  # each team's own range, and radio only where shared
            table, links = self.teams.sensed(table), self.teams.linked(links)
        self.neighbors, self.links = table, links
        self.graph_view.update(self.links, self.alive)
        inbox = self.channel.inbox() if self.channel is not None else Inbox.empty(self.rows, 0)
        own = {name: values.copy() for name, values in self.agent_state.items()}
        known: dict[str, Any] = {}
        if self.obstacles is not None:
            reading = self.obstacles.sense(self.pos, self.alive, c.obstacle_slots)
            self.obstacle_reading = reading
            own.update(obstacle_rel_pos=reading.rel_pos, obstacle_dist=reading.dist,
                       obstacle_mask=reading.mask)  # fmt: skip
        if self.scenario is not None:
            own.update(self.scenario.observe(self))
            known = self.scenario.knowledge()
        if self.teams is not None:  # fixed for the run and read-only: shared, not copied
            teams = self.teams
            own.update(team=teams.team, max_speed=teams.max_speed, max_accel=teams.max_accel,
                       sense_radius=teams.sense_radius)  # fmt: skip
            known = {**known, "teams": teams.names}
        self._obs = LocalObservation(
            step=self.t,
            dt=c.dt,
            max_speed=c.max_speed,
            sense_radius=c.sense_radius,
            pos=self.pos.copy(),
            vel=self.vel.copy(),
            alive=self.alive.copy(),
            ids=self.ids,
            neighbors=self._with_noise(table),
            inbox=inbox,
            world_size=c.world_size,
            torus=c.torus,
            own=own,
            known=known,
        )
        return self._obs

    def _with_noise(self, table: NeighborTable) -> NeighborTable:
        """The table as the sensors read it: keyed Gaussian noise per (step, observer, target)."""
        c = self.config
        if (c.sensor_noise_pos == 0 and c.sensor_noise_vel == 0) or table.n_edges == 0:
            return table
        owner = table.owner[:, None]
        target = table.idx[:, None]
        comp = np.arange(self.dim)[None, :]  # keys 0..dim-1: position, dim..2 dim-1: velocity
        rel_pos, rel_vel = table.rel_pos, table.rel_vel
        if c.sensor_noise_pos > 0:
            rel_pos = rel_pos + c.sensor_noise_pos * keyed_normal(
                self.noise_seed, self.t, owner, target, comp
            )
        if c.sensor_noise_vel > 0:
            rel_vel = rel_vel + c.sensor_noise_vel * keyed_normal(
                self.noise_seed, self.t, owner, target, comp + self.dim
            )
        dist = np.sqrt((rel_pos**2).sum(axis=1))
        return NeighborTable(table.ptr, table.seg_row, table.row_seg, table.idx, rel_pos, rel_vel,
                             dist, table.team, table.seg)  # fmt: skip

    @property
    def obs(self) -> LocalObservation:
        """The observation of the current state (sensed again if the state was edited)."""
        if self._obs is None:
            return self.sense()
        return self._obs

    def invalidate(self) -> None:
        """Call after editing state arrays by hand: the next read senses again."""
        self._obs = None
        self.scratch.clear()

    # ------------------------------------------------------------------ acting
    def check_actions(self, actions: Any, what: str = "actions") -> np.ndarray:
        """Validate a batch of actions at the boundary: shape (R, dim), finite."""
        arr = np.asarray(actions, dtype=np.float64)
        if arr.shape != (self.rows, self.dim):
            raise ValueError(f"{what}: expected shape ({self.rows}, {self.dim}), got {arr.shape}")
        if np.isfinite(arr).all():
            return arr  # the common case in one pass; crashed rows may hold anything
        bad = ~np.isfinite(arr).all(axis=1) & self.alive
        if bad.any():
            raise ValueError(
                f"{what}: non-finite values for rows {np.flatnonzero(bad)[:10].tolist()}"
            )
        return arr

    def apply(
        self,
        actions: np.ndarray,
        action_kind: str = "acceleration",
        messages: np.ndarray | None = None,
        state: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Move everyone with ``actions`` (R, dim), deliver ``messages``, apply faults, sense.

        ``state`` holds new values of ``agent_state`` fields; crashed rows keep theirs.
        """
        c = self.config
        actions = self.check_actions(actions)
        if action_kind == "velocity":
            accel = (actions - self.vel) / c.dt
        elif action_kind == "acceleration":
            accel = actions
        else:
            raise ValueError(f"action_kind: {action_kind!r}; allowed: acceleration, velocity")
        updates = self.check_state(state) if state else {}
        if self.channel is not None:  # checked before anything moves: a bad batch applies nothing
            messages = (
                np.zeros((self.rows, self.channel.dim))
                if messages is None
                else self.check_messages(messages)
            )
        limits = (c.max_speed, c.max_accel) if self.teams is None else (
            self.teams.max_speed, self.teams.max_accel)  # fmt: skip
        if c.dynamics == "quadrotor":
            integrate_quadrotor(
                self.pos, self.vel, self.realised_accel, accel, self.alive, c.dt, *limits,
                c.world_size, c.torus, c.attitude_lag, c.tilt_thrust_limit,
                c.thrust_to_weight, c.max_tilt_deg,
            )  # fmt: skip
        else:
            integrate(self.pos, self.vel, accel, self.alive, c.dt, *limits, c.world_size, c.torus)
        if not np.isfinite(self.pos).all():
            raise NumericalError(
                f"step {self.t}: drone positions overflowed the floating-point range "
                f"(dt = {c.dt:g} s, max_speed = {c.max_speed:g} m/s, world_size = "
                f"{c.world_size:g} m); lower them"
            )
        for name, values in updates.items():
            self.agent_state[name][self.alive] = values[self.alive]
        if self.channel is not None:
            self.channel.send(self.t, self.links, messages, self.alive)
            self.message_width = messages.shape[1]
            self.sent_per_drone = np.zeros(self.n_envs)
            if self.message_width:  # an empty broadcast sends nothing
                links = self.links  # receiver = owner, sender = idx; both alive to count
                sent = self.alive[links.idx] & self.alive[links.owner]
                packets = np.bincount(self.env[links.owner[sent]], minlength=self.n_envs)
                senders = np.bincount(self.env, weights=self.alive, minlength=self.n_envs)
                self.sent_per_drone = packets / np.maximum(senders, 1)  # the living at sending
        self.t += 1
        self.env_t += 1
        self.apply_faults()
        if self.scenario is not None:
            self.scenario.update(self)
        self.sense()
        if self.obstacles is not None:
            touching = self.touching_obstacles()
            self.obstacle_contacts_total += np.bincount(self.env[touching], minlength=self.n_envs)

    def check_state(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Validate new ``agent_state`` values: known names, the same shapes."""
        out = {}
        for name, values in state.items():
            if name not in self.agent_state:
                allowed = ", ".join(sorted(self.agent_state)) or "none"
                raise ValueError(f"state: unknown field {name!r}; this scenario has: {allowed}")
            arr = np.asarray(values, dtype=self.agent_state[name].dtype)
            if arr.shape != self.agent_state[name].shape:
                raise ValueError(
                    f"state[{name!r}]: expected shape {self.agent_state[name].shape}, "
                    f"got {arr.shape}"
                )
            self._refuse_nan(arr, f"state[{name!r}]")
            out[name] = arr
        return out

    def _refuse_nan(self, values: np.ndarray, what: str) -> None:
        """NaN in a live row's state or message is a controller's bug: refuse it by row.
        (+-inf stays allowed: "no bid yet", "outside the region".)"""
        if values.dtype.kind != "f" or not np.isnan(values).any():
            return
        bad = np.isnan(values.reshape(len(values), -1)).any(axis=1) & self.alive
        if bad.any():
            raise ValueError(f"{what}: NaN for rows {np.flatnonzero(bad)[:10].tolist()}")

    def check_messages(self, messages: Any) -> np.ndarray:
        """Validate a batch of broadcasts: (R, D) with D at most the channel's width (a policy
        may say less than the configured ``message_dim``), no NaN in live rows."""
        arr = np.asarray(messages, dtype=np.float64)
        width = self.channel.dim if self.channel is not None else 0
        if arr.ndim != 2 or arr.shape[0] != self.rows or arr.shape[1] > width:
            raise ValueError(f"messages: expected shape ({self.rows}, <= {width}), got {arr.shape}")
        self._refuse_nan(arr, "messages")
        return arr

    def step(self, policy) -> np.ndarray:
        """One full step with ``policy`` deciding; returns the actions taken."""
        held = [self.obs]
        decision = policy.decide(held[0], self.channel is not None)
        return self.apply_decision(held.pop(), decision, policy)

    def apply_decision(
        self, obs: LocalObservation, decision: Decision, policy: Any = None
    ) -> np.ndarray:
        """Apply a step's decision on ``obs``, whoever made it: the Mesa model's controller
        (``policy``, which keeps its memory and says whether actions are accelerations or
        velocities) or a learner through an env (``policy`` None: accelerations). Everyone
        moves, messages go out, state is updated; returns the actions taken. Every way of
        stepping drones ends here."""
        actions = self.check_actions(decision.actions)
        kind = "acceleration"
        if policy is not None:
            policy.commit(obs, actions)
            policy.remember(decision.memory)
            kind = policy.action_kind
        del obs  # let the next sensing reuse this observation's buffers (halves peak memory)
        self.apply(actions, kind, decision.messages, decision.state)
        return actions

    # ------------------------------------------------------------------ obstacles
    def touching_obstacles(self) -> np.ndarray:
        """Rows of alive drones closer than their own radius to an obstacle, now."""
        if self.obstacles is None:
            return np.zeros(0, np.int64)
        self.obs  # noqa: B018 - sense first if the state was edited
        return np.flatnonzero(self.obstacle_reading.nearest < contact_radius(self.config))

    def leave_obstacles(self, rows: np.ndarray) -> None:
        """After a spawn of ``rows``: move drones placed in or against an obstacle the least
        distance that leaves them a drone's width (``collision_radius``) clear of it, and
        start their envs' contact counts afresh."""
        if self.obstacles is None:
            return
        rows = np.asarray(rows, np.int64)
        self.pos[rows] = self.obstacles.push_out(self.pos[rows], self.config.collision_radius)
        self.obstacle_contacts_total[np.unique(self.env[rows])] = 0.0
        self.invalidate()

    # ------------------------------------------------------------------ faults
    def apply_faults(self, envs: np.ndarray | None = None) -> None:
        """Scheduled crashes whose step has come, then random crashes at ``crash_rate``.

        ``crash_at`` steps count each environment's own steps since its episode began
        (``env_t``): an environment restarted alone (:meth:`restart_envs`) replays its
        schedule from step 0 while the others go on. ``envs``: only these environments'
        schedules, and no random crashes (what a restart applies at its step 0).
        """
        c = self.config
        if not c.crash_at and (c.crash_rate == 0 or envs is not None):
            return  # nothing can crash: skip the (R,) work of every step
        doomed = np.zeros(self.rows, dtype=bool)
        if c.crash_at:
            scope = np.arange(self.n_envs) if envs is None else np.asarray(envs, np.int64)
            times = self.env_t[scope]
            for step in np.unique(times).tolist():  # one value unless envs were restarted
                rows = c.crash_at.get(step)
                if rows:
                    offsets = scope[times == step][:, None] * self.n_agents
                    doomed[(np.asarray(rows)[None, :] + offsets).ravel()] = True
        if c.crash_rate > 0 and envs is None and bool((self.env_t > 0).any()):
            # one draw per row every step after the first, as ever; an env at its own step
            # 0 (just restarted) takes no random crash
            doomed |= (self.rng.random(self.rows) < c.crash_rate) & (self.env_t > 0)[self.env]
        doomed &= self.alive
        if doomed.any():
            self.crash(np.flatnonzero(doomed), resense=False)

    def crash(self, rows: np.ndarray | list[int], resense: bool = True) -> None:
        """Crash ``rows``: they stop, sense nothing, leave the comm graph, receive nothing."""
        rows = np.asarray(rows, dtype=np.int64)
        self.alive[rows] = False
        self.vel[rows] = 0.0
        self.realised_accel[rows] = 0.0
        if self.channel is not None:
            self.channel.drop_receivers(~self.alive)
        if resense:
            self.sense()

    def reset_faults(self) -> None:
        """Apply the crashes scheduled at step 0 (called once after spawning)."""
        self.apply_faults()

    def restart_envs(self, envs: np.ndarray) -> None:
        """Environments ``envs`` begin new episodes at their own step 0 while the others go
        on: their drones revive, packets in flight to them are forgotten and their clock
        ``env_t`` restarts. The caller then respawns their rows (``Scenario.spawn``) and
        applies their step-0 crashes with ``apply_faults(envs)``, as a full reset does."""
        envs = np.asarray(envs, dtype=np.int64)
        rows = (envs[:, None] * self.n_agents + np.arange(self.n_agents)[None, :]).ravel()
        self.alive[rows] = True
        self.realised_accel[rows] = 0.0  # revived drones start level
        if self.channel is not None:
            fresh = np.zeros(self.rows, dtype=bool)
            fresh[rows] = True
            self.channel.drop_receivers(fresh)  # nothing from the old episode arrives
        self.env_t[envs] = 0
        self.invalidate()
