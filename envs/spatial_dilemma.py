"""The spatial prisoner's dilemma on the comm graph (Nowak & May 1992).

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` drones (default 50 x 50), each a pure cooperator (C) or
                   defector (D): the engine-carried ``strategy`` (1.0 C, 0.0 D,
                   ``obs.own["strategy"]``) and the ``payoff`` of its last game
Arena              square of side ``world_size`` (default ``ceil(sqrt(n_agents))`` m: one
                   metre per lattice cell), a torus by default; drones hover
                   (``initial_speed = 0``) at their lattice cells: drone k at column
                   ``k % side``, row ``k // side``, ``side = ceil(sqrt(n_agents))``
Game               prisoner's dilemma with every comm neighbour, plus one game with itself
                   (``self_interaction``): R = 1, T = ``b``, S = P = 0
Communication      ``comm_model = "fixed"`` on ``topology`` (default ``moore``: the king's-
                   move lattice, periodic when ``n_agents`` is a square; any name of
                   :data:`swarm.comm.TOPOLOGIES`), or the drones' own range graph
                   (``comm_model = "range"``; ``comm_radius`` ~1.5 cell spacings gives the
                   Moore neighbourhood at spawn, and moving drones change it)
Default policy     ``imitate_best`` (Nowak & May 1992): adopt the strategy of the best
                   scorer among the comm neighbours and itself; ``policy_params.speed``
                   > 0 makes the drones random-walk while they play
Metrics            cooperator_fraction (of alive drones), mean_payoff, generation (strategy
                   updates so far), n_alive
Reward (envs)      the drone's payoff this step: one game with each current comm neighbour
                   (and itself), its strategy fixed at spawn: a learner moves to earn more
=================  =====================================================================

One generation takes two engine steps, because a drone hears its neighbours' broadcasts one
step late (:mod:`swarm.comm`): on an even step each drone adopts a strategy (from the
scores heard) and broadcasts it; on the next, odd step it plays the strategies it heard,
keeps its payoff and broadcasts (strategy, payoff). Step 0 adopts nothing (nothing was
heard yet), so the strategies of generation g hold after step ``2 g``; the ``generation``
metric counts the updates. Messages must arrive the next step: ``comm_delay`` is refused.

The known results (Nowak & May 1992, *Nature* 359, 826-829; Moore neighbourhood of 8 plus
self-interaction, R = 1, T = b, S = P = 0, synchronous updating, "best of the neighbourhood
and itself"). The regimes follow from comparing scores at a cluster's edge (a C scores the
number of C in its 3 x 3 block, itself included; a D scores b times that number), derived
here and checked cell by cell in ``tests/envs/test_spatial_dilemma.py``:

* a lone D in a C world scores 8b against its C neighbours' 8 and their other neighbours'
  9: it grows into a 3 x 3 block of D for b > 9/8;
* a D at the corner of a large D cluster scores 5b, the C next to it see a C scoring 9: D
  clusters grow at their corners for b > 9/5 and shrink for b < 9/5;
* a C at the corner of a 2 x 2 (or larger) C cluster scores 4 against 2b for the D beside
  it: C clusters grow for b < 2 and shrink for b > 2;
* so for b < 1.8 cooperators keep most of the lattice (static or blinking D filaments),
  for 1.8 < b < 2 both kinds of cluster grow into each other and the lattice stays chaotic
  with about 0.3 C (the figure quoted for this regime is 12 ln 2 - 8 = 0.318), and for
  b > 2 defectors take over, leaving a few per cent of C or fewer.

Scores are integers (a C's) or b times integers (a D's), so the dynamics change only where
b crosses a ratio p / q (p <= 9, q <= 8; 9/8, ..., 7/4, 9/5, 2, 9/4, ...): every b in
1.8 < b < 2 gives the very same run. Measured (``experiments/spatial_dilemma.toml``, 100 x
100 torus, 10 % D at random, 5 seeds, mean C fraction over generations 100 to 200):
0.98 at b = 1.05, 0.85 at 1.3, 0.70 to 0.74 at 1.63 to 1.77, 0.317 +- 0.004 at 1.9, 0.034
at 2.1, 0.002 at 2.3.

Sources: the setting (8 neighbours plus self, R = 1, T = b, S = P = 0, 1 < b < 2,
synchronous best-of-neighbourhood updating, fixed or periodic boundaries) and the
thresholds 1.8 and 2 as secondary summaries of the paper state them; the derivation
above reproduces the thresholds; 0.318 for 1.8 < b < 2 is the widely quoted value (the
measured 0.317 agrees); the primary text itself was not at hand. Nowak & May's lattices
had fixed or periodic boundaries; the ``moore`` topology here is periodic (a torus).

At exactly the thresholds scores tie, and the outcome depends on the tie rule, which
Nowak & May do not state for this case (they pick b between thresholds). Here a drone
keeps its strategy unless every top scorer it heard (itself included; payoffs within a
relative 1e-9 count as equal, so float round-off cannot break a tie) plays the other one:
deterministic, local, and blind to sender ids and directions. The random initial
condition puts exactly ``round(initial_defectors * n)`` D at random (10 %, the fraction
usually cited for the paper's random starts); ``initial = "single_defector"`` puts one D
at the lattice centre (the start of the paper's "evolutionary kaleidoscope").

Arguments are the fields of :class:`SpatialDilemmaConfig` plus ``rng`` (the seed)::

    from envs.spatial_dilemma import SpatialDilemmaModel
    model = SpatialDilemmaModel(n_agents=900, b=1.85, rng=1)
    for _ in range(200):          # 100 generations
        model.step()
    model.metrics["cooperator_fraction"]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from swarm import metrics as m
from swarm.comm import TOPOLOGIES
from swarm.engine import Swarm, SwarmConfig
from swarm.model import SwarmModel
from swarm.observation import LocalObservation
from swarm.scenario import Scenario, Segment

COOPERATE, DEFECT = 1.0, 0.0


def lattice_side(n_agents: int) -> int:
    """Cells per side of the square lattice that holds ``n_agents``: ``ceil(sqrt(n))``."""
    return math.isqrt(max(n_agents - 1, 0)) + 1


@dataclass(frozen=True)
class Game:
    """The rules every drone knows (``obs.known["game"]``): the symmetric two-strategy
    game's payoffs to the row player (R: C meets C, S: C meets D, T: D meets C, P: D meets
    D) and whether a drone also plays itself."""

    R: float = 1.0
    S: float = 0.0
    T: float = 1.85
    P: float = 0.0
    self_interaction: bool = True

    def payoff(self, own: np.ndarray, cooperators: np.ndarray, partners: np.ndarray) -> np.ndarray:
        """(R,) total payoff of a drone playing ``own`` (1 C, 0 D) against ``partners``
        others of whom ``cooperators`` cooperate, plus its game with itself."""
        own = np.asarray(own, dtype=np.float64)
        c = np.asarray(cooperators, dtype=np.float64)
        d = np.asarray(partners, dtype=np.float64) - c
        as_c = self.R * c + self.S * d + (self.R if self.self_interaction else 0.0)
        as_d = self.T * c + self.P * d + (self.P if self.self_interaction else 0.0)
        return np.where(own > 0.5, as_c, as_d)


class SpatialDilemmaConfig(SwarmConfig):
    """Engine settings (see :class:`SwarmConfig`) with the game's own fields."""

    n_agents: int = Field(2500, ge=1, description="number of drones (a 50 x 50 lattice)")
    world_size: float = Field(
        50.0, gt=0, description="side of the arena (m); default ceil(sqrt(n_agents)): 1 m cells"
    )
    policy: str = Field("imitate_best", description="controller name (see `swarm list`)")
    comm_model: Literal["range", "knn", "fixed"] = Field(
        "fixed", description="fixed: the lattice (topology); range: the drones' radio range"
    )
    topology: str = Field(
        "moore",
        description=f"comm graph for comm_model=fixed: one of {', '.join(TOPOLOGIES)}, or "
        "'graph' for an nx.Graph given as comm_topology; comm_topology follows it",
    )
    b: float = Field(
        1.85,
        ge=0,
        le=1000,
        description="temptation T = b (R = 1, S = P = 0); 1 < b < 2 is the PD; every b > 9 "
        "plays alike",
    )
    initial: Literal["random", "single_defector"] = Field(
        "random", description="random: initial_defectors of D at random; or one D at the centre"
    )
    initial_defectors: float = Field(
        0.1, ge=0, le=1, description="fraction of defectors at spawn (exactly, at random)"
    )
    self_interaction: bool = Field(True, description="each drone also plays itself")
    max_accel: float = Field(
        float("inf"), gt=0, allow_inf_nan=True, description="acceleration limit (m/s^2); inf"
    )
    initial_speed: float = Field(0.0, ge=0, description="spawn speed (m/s); drones hover")
    sense_radius: float = Field(
        1.5, gt=0, description="on-board sensor range (m); the game does not use it"
    )
    collision_radius: float = Field(0.0, ge=0, description="no collision count by default (m)")

    @model_validator(mode="before")
    @classmethod
    def _lattice_defaults(cls, data: Any) -> Any:
        """``world_size`` defaults to one metre per lattice cell; ``comm_topology`` follows
        ``topology`` (an nx.Graph given as ``comm_topology`` alone sets ``topology='graph'``)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        n = data.get("n_agents", cls.model_fields["n_agents"].default)
        if "world_size" not in data and isinstance(n, int) and n >= 1:
            data["world_size"] = float(lattice_side(n))
        topology, given = data.get("topology"), data.get("comm_topology")
        if topology is None:
            if given is None:
                data["comm_topology"] = "moore"
            else:
                data["topology"] = given if isinstance(given, str) else "graph"
        elif topology != "graph":
            data["comm_topology"] = topology
        return data

    @field_validator("topology")
    @classmethod
    def _known_topology(cls, value: str) -> str:
        if value != "graph" and value not in TOPOLOGIES:
            raise ValueError(f"must be one of {', '.join(TOPOLOGIES)}, or 'graph'")
        return value

    @field_validator("comm_delay")
    @classmethod
    def _next_step_delivery(cls, value: int) -> int:
        if value != 0:
            raise ValueError("must be 0: a generation is two steps, each hearing the step before")
        return value

    @model_validator(mode="after")
    def _graph_given(self) -> SpatialDilemmaConfig:
        if self.topology == "graph" and isinstance(self.comm_topology, str):
            raise ValueError("topology 'graph' needs an nx.Graph as comm_topology")
        return self

    @property
    def side(self) -> int:
        return lattice_side(self.n_agents)

    @property
    def spacing(self) -> float:
        """Distance between neighbouring lattice cells (m)."""
        return self.world_size / self.side

    def game(self) -> Game:
        return Game(T=self.b, self_interaction=self.self_interaction)


def _per_env_mean(engine: Swarm, values: np.ndarray) -> np.ndarray:
    """(E,) mean of a per-row array over each env's alive rows (0 where none is alive)."""
    alive = engine.alive.reshape(engine.n_envs, engine.n_agents)
    grid = values.reshape(engine.n_envs, engine.n_agents)
    count = alive.sum(axis=1)
    return np.where(alive, grid, 0.0).sum(axis=1) / np.maximum(count, 1)


def link_payoffs(engine: Swarm, game: Game) -> np.ndarray:
    """(R,) what each alive drone earns playing its current comm neighbours (and itself)
    with the strategies it holds now; 0 for crashed drones."""
    links = engine.links
    strategy = engine.agent_state["strategy"]
    cooperators = links.segment_sum(strategy[links.idx].astype(np.float64))
    partners = links.counts.astype(np.float64)
    return np.where(engine.alive, game.payoff(strategy, cooperators, partners), 0.0)


class SpatialDilemma(Scenario):
    """Drones on a lattice, cooperators and defectors, playing through their comm links."""

    name = "spatial_dilemma"
    message_dim = 1  # envs: each drone tells its comm neighbours its strategy

    def __init__(self, config: SpatialDilemmaConfig):
        super().__init__(config)
        self.game = config.game()
        self.metric_functions = {
            "cooperator_fraction": self.cooperator_fraction,
            "mean_payoff": self.mean_payoff,
            "generation": self.generation,
            "n_alive": m.n_alive,
        }

    def spawn(self, engine: Swarm, rows: np.ndarray, rng: np.random.Generator) -> None:
        """Drones of ``rows`` at their lattice cells, hovering; strategies drawn per env."""
        c = self.config
        rows = np.asarray(rows, dtype=np.int64)
        k = rows % engine.n_agents
        side, spacing = c.side, c.spacing
        engine.pos[rows] = np.column_stack(
            [(k % side + 0.5) * spacing, (k // side + 0.5) * spacing]
        )
        heading = rng.uniform(-np.pi, np.pi, size=len(rows))
        engine.vel[rows] = c.initial_speed * np.column_stack([np.cos(heading), np.sin(heading)])
        for name in ("strategy", "payoff"):
            if name not in engine.agent_state:
                engine.agent_state[name] = np.zeros(engine.rows)
        engine.agent_state["payoff"][rows] = 0.0
        strategy = engine.agent_state["strategy"]
        strategy[rows] = COOPERATE
        n = engine.n_agents
        for e in np.unique(engine.env[rows]).tolist():  # per environment, not per drone
            if c.initial == "single_defector":
                centre = (side // 2) * side + side // 2
                strategy[e * n + (centre if centre < n else n // 2)] = DEFECT
            else:
                count = round(c.initial_defectors * n)
                strategy[e * n + rng.choice(n, size=count, replace=False)] = DEFECT

    def knowledge(self) -> dict[str, Any]:
        """The rules of the game, known to every drone."""
        return {"game": self.game}

    # ----------------------------------------------------------------- learning hooks
    def observation_segments(self) -> list[Segment]:
        return [
            Segment("strategy", (1,), 0.0, 1.0, "own strategy: 1 cooperate, 0 defect", vectors=())
        ]

    def task_features(self, obs: LocalObservation) -> dict[str, np.ndarray]:
        return {"strategy": obs.own["strategy"][:, None]}

    def broadcast(self, obs: LocalObservation) -> np.ndarray:
        return np.where(obs.alive, obs.own["strategy"], 0.0)[:, None]

    def message_segment(self) -> Segment:
        return Segment("message", (1,), 0.0, 1.0, "a comm neighbour's strategy (1 C, 0 D)")

    def reward(self, engine: Swarm, actions: np.ndarray) -> np.ndarray:
        """(R,) the drone's payoff in the state after the step: one game with each comm
        neighbour it has now, and one with itself."""
        return link_payoffs(engine, self.game)

    # ----------------------------------------------------------------- metrics
    def cooperator_fraction(self, engine: Swarm) -> np.ndarray:
        """(E,) fraction of alive drones that cooperate."""
        return _per_env_mean(engine, engine.agent_state["strategy"])

    def mean_payoff(self, engine: Swarm) -> np.ndarray:
        """(E,) mean payoff of the alive drones in their last game."""
        return _per_env_mean(engine, engine.agent_state["payoff"])

    def generation(self, engine: Swarm) -> np.ndarray:
        """(E,) strategy updates made so far: one per even step after step 0."""
        return np.full(engine.n_envs, float(max(0, (engine.t - 1) // 2)))


class SpatialDilemmaModel(SwarmModel):
    """Mesa model of the spatial prisoner's dilemma (see the module docstring)."""

    name = "spatial_dilemma"
    scenario_class = SpatialDilemma
    config_class = SpatialDilemmaConfig

    def summary(self) -> dict[str, Any]:
        """Headline fields of ``summary.json``: the final cooperator fraction and its mean
        over the second half of the run's generations."""
        series = self.datacollector.get_model_vars_dataframe()["cooperator_fraction"]
        tail = series.iloc[len(series) // 2 :]
        return {
            "cooperator_fraction": float(series.iloc[-1]),
            "tail_cooperator_fraction": float(tail.mean()),
            "generations": int(self.metrics["generation"]),
        }
