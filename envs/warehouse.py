"""Warehouse: robots on a League of Robot Runners grid fulfil tasks, coordinating locally.

Version ``v0``.

=================  =====================================================================
Agents             ``n_agents`` robots on a 4-connected grid, one per cell; under
                   ``motion = "rotate"`` each has a heading (0 east, 1 south, 2 west,
                   3 north; all start facing east, as in the League's start kit)
Map                a League instance (``instance``: json with map, starts and tasks, or
                   this project's lifelong extension: start zones, goal zones, per-robot
                   goal sequences, :mod:`swarm.grid.maps`), a MovingAI scenario
                   (``instance``: a ``.scen``, one-shot MAPF; its map named there or given
                   as ``map``), an octile ``map`` file with random starts, or a generated
                   ``layout`` (shelf blocks, aisles, pick points S, delivery stations E)
Actions            ``motion = "grid"`` (default): 0 wait, 1 north, 2 east, 3 south,
                   4 west; ``"rotate"`` (the League 2023 action model): 0 wait,
                   1 forward, 2 clockwise, 3 counter-clockwise (discrete, per robot)
World rules        vertex and swap conflicts are forbidden: conflicting moves become waits
                   (counted as attempted conflicts); moves into walls become waits
Sensing            robots within ``sense_radius`` cells (Euclidean, cell centres)
Communication      links to robots within ``comm_radius`` cells; the message rounds the
                   controller declares (``swarm.radio``), every packet lost with
                   probability ``packet_drop``, at most ``max_inbox`` kept per receiver;
                   packets, bytes and rounds counted per robot and step
Knowledge          the static map and exact distance fields to any goal (BFS, cached);
                   with ``guidance`` (``"crisscross"``, or ``"flow"``: fitted to the task
                   stream's errands, as an operator lays out one-way aisles from order
                   statistics) also the guidance graph's move costs and guided cost-to-goal
                   fields the planners rank cells by (:mod:`swarm.grid.guidance`)
Tasks              ``league``: the instance's round-robin stream (robot k's c-th task is
                   ``tasks[(c n + k) mod m]``, revealed when the previous one is reached;
                   a ``.scen``: robot k's one goal, then no task: ``league_wrap`` 'stop';
                   an instance's ``goalZones``: ``n_tasks`` goals drawn from the zones with
                   the seed, then round robin; its ``goalSequences``: robot k's c-th task is
                   its sequence's c-th goal, ``league_wrap`` cycling or stopping it);
                   ``poisson``: orders at ``orders_rate`` per step, pick at S, deliver at E,
                   claimed by idle robots through the policy's allocator
Default policy     ``pibt`` (decentralised PIBT, Okumura et al. 2022); also
                   ``greedy_yield``; ``auction`` (local auction + PIBT) for orders
Metrics            tasks_finished, throughput (tasks/step), mean_service_time (steps),
                   executed_collisions (must be 0), attempted_conflicts, invalid_moves,
                   wait_fraction, deadlocked, livelocked, stalled; messages_sent,
                   bytes_sent, message_rounds, message_hops (per robot, last step);
                   ``claim_conflicts``, ``open_orders`` and ``wms_bytes`` (traffic with the
                   warehouse management system's order board) with the Poisson stream
=================  =====================================================================

Arguments are the fields of :class:`WarehouseConfig` plus ``rng`` (the seed). Example::

    from envs.warehouse import WarehouseModel
    model = WarehouseModel(n_agents=40, policy="pibt", rng=1)   # generated layout
    for _ in range(200):
        model.step()
    model.datacollector.get_model_vars_dataframe().tail()
    model.comm_graph          # networkx view of the current links
    model.space               # Mesa OrthogonalVonNeumannGrid with CellAgent robots

    # a League instance, headless, as the CLI does it:
    from envs.warehouse import WarehouseConfig, run_warehouse
    cfg = WarehouseConfig(instance="../shared/data/lorr-2023-warehouse/warehouse_small_50.json")
    run_warehouse(cfg, steps=500, out_dir="runs/wh")   # summary dict, also summary.json

The arrays (``model.world.cell``, ``model.tasks.goal``, ...) are the source of truth; the
Mesa grid and its ``Robot`` handles are built on first access and re-synchronised from the
arrays whenever they are read.

PettingZoo env: ``envs/warehouse_v0.py`` (adapter :mod:`swarm.grid.marl`) drives this model
through its hooks only: ``step_with(actions)`` is a step with external moves (the same
``begin_step`` and ``apply`` as a controller's step, moves validated by
``swarm.grid.world.check_actions``) and returns the (R,) tasks finished this step (the
reward); ``observe()`` plus ``egocentric_view(obs, r)`` give the local observation;
``collect_metrics = False`` skips the per-step DataCollector row. ``summary()`` gives the
headline fields of ``summary.json`` (the runner's optional hook).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import networkx as nx
import numpy as np
from mesa.discrete_space import CellAgent, OrthogonalVonNeumannGrid
from pydantic import Field, model_validator

from swarm.config import ConfigError, StrictConfig
from swarm.grid.distance import DistanceBank, free_flow_tasks
from swarm.grid.guidance import (
    FLOW_BYTES_PER_CELL,
    FLOW_BYTES_PER_CELL_THREAD,
    errand_pairs,
    guidance_costs,
)
from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import (
    EMITTER,
    GRID_BYTES_PER_CELL,
    SERVICE,
    GridMap,
    Instance,
    MapFormatError,
    is_scen,
    load_instance,
    load_map,
    load_scen,
)
from swarm.grid.metrics import COMM_METRIC_NAMES, METRIC_NAMES, GridMetrics
from swarm.grid.policy import GridPolicy
from swarm.grid.tasks import (
    LeagueTasks,
    PoissonOrders,
    SequenceTasks,
    TaskStream,
    free_flow_sequences,
)
from swarm.grid.world import (
    GridWorld,
    StepCounts,
    check_actions,
    egocentric_view,
    n_actions,
)
from swarm.observation import LocalObservation
from swarm.policy import Decision
from swarm.radio import Radio, Round, Traffic
from swarm.registry import POLICIES, policy_class
from swarm.resources import check_memory_parts
from swarm.rng import derive_seed
from swarm.scenario_model import ScenarioModel
from swarm.threads import cores


class WarehouseConfig(StrictConfig):
    """Settings of the warehouse scenario (cells as units of length, steps of time)."""

    instance: str | None = Field(
        None,
        description="League instance json (map, starts and tasks; paths relative to it; or "
        "start zones, goal zones, per-robot goal sequences), or a MovingAI .scen (one-shot: "
        "robot k's only goal is line k's; n_agents takes the first lines)",
    )
    map: str | None = Field(
        None,
        description="octile map file; random starts and tasks (instead of an instance), or "
        "the map of a .scen instance (instead of the one it names)",
    )
    layout: LayoutParams = Field(
        default_factory=LayoutParams,
        description="generated layout, used when neither instance nor map is given",
    )
    n_agents: int | None = Field(
        None, ge=1, description="robots (default: the instance's teamSize, else 20)"
    )
    tasks: Literal["league", "poisson"] = Field(
        "league", description="task stream: League round robin, or Poisson orders"
    )
    league_wrap: Literal["cycle", "stop"] = Field(
        "cycle", description="after the last task: reuse the list (start kit) or stop"
    )
    n_tasks: int = Field(
        10_000, ge=1, description="length of the random League stream of a map or layout"
    )
    first_task_round: int = Field(
        0, ge=0,
        description="round of the League stream each robot starts at (robot r's first task "
        "is task k x robots + r; of a goal sequence, goal k): runs on errands that a run "
        "from round 0 does not reach within its steps, to choose settings on held-out errands",
    )  # fmt: skip
    orders_rate: float = Field(0.5, gt=0, description="Poisson orders per step")
    max_open_orders: int = Field(1000, ge=1, description="orders the board holds at most")
    motion: Literal["grid", "rotate"] = Field(
        "grid",
        description="action model: 'grid' 4-connected moves, or 'rotate' the League's "
        "(heading; forward, turn 90 degrees, wait; robots start facing east)",
    )
    policy: str = Field("pibt", description="controller (a registered warehouse policy)")
    policy_params: dict[str, Any] = Field(
        default_factory=dict, description="parameters of the controller"
    )
    sense_radius: float = Field(
        3.0, gt=0, allow_inf_nan=True, description="sensing range (cells); inf: the whole map"
    )
    comm_radius: float = Field(
        5.0, gt=0, allow_inf_nan=True, description="radio range (cells); inf: the whole map"
    )
    packet_drop: float = Field(0.0, ge=0, le=1, description="probability a packet is lost")
    max_inbox: int | None = Field(
        None, ge=1, description="packets a robot keeps per round, nearest senders first"
    )
    radio_repeats: int = Field(
        0, ge=0, le=8, description="extra copies of every broadcast (heard if any arrives)"
    )
    resolve_conflicts: bool = Field(
        True, description="cancel conflicting moves (False only to test the collision counter)"
    )
    deadlock_window: int = Field(100, ge=1, description="steps without progress that flag it")
    field_cache_mb: float = Field(512.0, gt=0, description="memory for distance fields (MiB)")
    guidance: Literal["none", "crisscross", "flow"] = Field(
        "none",
        description="guidance graph the planners route on (swarm.grid.guidance): 'none' unit "
        "move costs; 'crisscross' rows alternate east/west and columns north/south as "
        "preferred directions, a move against them costing guidance_weight; 'flow' move "
        "costs fitted to the task stream's errands, a move against the traffic coming the "
        "other way costing up to guidance_weight",
    )
    guidance_weight: int = Field(
        2, ge=1, le=64, description="cost of a move against the guidance's preferred direction"
    )
    guidance_reach: int = Field(
        0, ge=0, le=500,
        description="flow guidance: a move is priced by the errands within this many cells "
        "of it along its aisle, so a stretch of aisle runs one way (0: its own errands)",
    )  # fmt: skip

    @model_validator(mode="before")
    @classmethod
    def _one_shot_wrap(cls, data: Any) -> Any:
        """A .scen is one-shot: each robot's one goal, then no task (wrap 'stop', resolved
        here so the run's config records it)."""
        if isinstance(data, dict) and is_scen(data.get("instance")) and "league_wrap" not in data:
            data = {**data, "league_wrap": "stop"}
        return data

    @model_validator(mode="after")
    def _one_source(self) -> WarehouseConfig:
        scen = is_scen(self.instance)
        if self.instance is not None and self.map is not None and not scen:
            raise ValueError("give either instance or map, not both (map goes with a .scen only)")
        if scen and self.tasks != "league":
            raise ValueError(
                "a .scen instance is one-shot: its goals are the tasks (tasks='league')"
            )
        if scen and self.league_wrap != "stop":
            raise ValueError(
                "a .scen instance is one-shot: each goal is handed out once (league_wrap='stop')"
            )
        if self.guidance_reach and self.guidance != "flow":
            raise ValueError(
                "field 'guidance_reach': pools the errands of flow guidance; allowed: 0 "
                f"with guidance '{self.guidance}', or guidance='flow'"
            )
        if self.first_task_round and (scen or self.tasks == "poisson"):
            raise ValueError(
                "field 'first_task_round': skips rounds of a League task stream or goal "
                "sequences; allowed: 0 with a .scen or tasks='poisson'"
            )
        motions = getattr(_known_policy(self.policy), "motions", ("grid", "rotate"))
        if self.motion not in motions:
            raise ValueError(
                f"field 'motion': {self.motion!r} is not an action model of policy "
                f"{self.policy!r}; allowed: {', '.join(motions)}"
            )
        if self.guidance == "flow" and (scen or self.tasks == "poisson"):
            raise ValueError(
                "field 'guidance': 'flow' is fitted to a League round-robin task stream "
                "(tasks='league', not a .scen); allowed here: 'none', 'crisscross'"
            )
        return self


def _known_policy(name: str) -> Any:
    """The registered policy class ``name``, or None (an unknown name is refused apart)."""
    return policy_class(name) if name in POLICIES else None


def _check_first_round(c: WarehouseConfig, inst: Any, robots: int) -> None:
    """Refuse a ``first_task_round`` that leaves every robot without a task (a stream that
    stops at its end), before any field is computed."""
    if not c.first_task_round or c.tasks != "league" or c.league_wrap != "stop":
        return
    if inst.offsets is None:
        rounds = -(-len(inst.tasks) // robots)  # rounds that hand out at least one task
        what = f"the task list holds {len(inst.tasks):,} tasks for {robots:,} robots"
    else:
        rounds = int(np.diff(inst.offsets).max())
        what = f"the longest goal sequence holds {rounds:,} goals"
    if c.first_task_round >= rounds:
        raise ConfigError(
            f"warehouse: field 'first_task_round': {what} and league_wrap='stop'; "
            f"allowed: 0 to {rounds - 1}"
        )


class Warehouse:
    """Scenario facts for registries and tools (name, the metrics a config reports), read
    without building a map: ``Warehouse(config).metric_names()``, as drone scenarios."""

    name: ClassVar[str] = "warehouse"

    def __init__(self, config: WarehouseConfig):
        self.config = config

    def metric_names(self) -> list[str]:
        poisson = self.config.tasks == "poisson"
        extra = ["claim_conflicts", "open_orders", "wms_bytes"] if poisson else []
        return [*METRIC_NAMES, *COMM_METRIC_NAMES, *extra]


class Robot(CellAgent):
    """A Mesa handle on one robot's row; ``cell`` is synchronised from the arrays."""

    def __init__(self, model: WarehouseModel, row: int):
        super().__init__(model)
        self.row = row

    @property
    def rowcol(self) -> tuple[int, int]:
        """(row, col) of the robot now (read from the arrays)."""
        r, c = divmod(int(self.model.world.cell[self.row]), self.model.grid_map.width)
        return r, c

    @property
    def goal(self) -> tuple[int, int] | None:
        g = int(self.model.tasks.goal[self.row])
        return None if g < 0 else divmod(g, self.model.grid_map.width)

    def move_to(self, rowcol: tuple[int, int]) -> None:
        """Teleport the robot (writes the arrays); the cell must be free and empty."""
        model = self.model
        r, c = (int(v) for v in rowcol)
        g = model.grid_map
        if not (0 <= r < g.height and 0 <= c < g.width) or not g.free[r, c]:
            raise ValueError(f"robot {self.row}: ({r}, {c}) is not a free cell of the map")
        lin = r * g.width + c
        if (model.world.cell == lin).any() and model.world.cell[self.row] != lin:
            raise ValueError(f"robot {self.row}: ({r}, {c}) is occupied")
        model.world.cell[self.row] = lin
        model.world.invalidate()


class WarehouseModel(ScenarioModel):
    """Mesa model of the warehouse scenario (see the module docstring)."""

    name: ClassVar[str] = "warehouse"
    scenario_class: ClassVar[type] = Warehouse
    config_class: ClassVar[type[StrictConfig]] = WarehouseConfig
    config: WarehouseConfig

    def __init__(self, rng: Any = None, **config: Any):
        super().__init__(rng, config)
        c = self.config
        self.instance = build_instance(c, self.rng)
        if c.n_agents is None:  # resolved: runs and summaries record the robots that ran
            self.config = c = c.model_copy(update={"n_agents": len(self.instance.starts)})
        _check_first_round(c, self.instance, len(self.instance.starts))
        self.grid_map = self.instance.grid
        errands = None
        if c.guidance == "flow":
            try:
                errands = errand_pairs(self.instance, c.league_wrap)
            except ValueError as err:  # goal sequences: known only once the file is read
                raise ConfigError(f"warehouse: field 'guidance': {err}") from None
        guidance = guidance_costs(self.grid_map, c.guidance, c.guidance_weight, errands,
                                  c.guidance_reach)  # fmt: skip
        self.bank = DistanceBank(self.grid_map, max_mb=c.field_cache_mb, guidance=guidance)
        self.world = GridWorld(
            self.grid_map, self.instance.starts, c.sense_radius, c.comm_radius,
            c.packet_drop, derive_seed(self.rng), c.resolve_conflicts, self.bank, c.max_inbox,
            c.radio_repeats, c.motion,
        )  # fmt: skip
        n = self.world.n
        inst = self.instance
        if c.tasks == "league" and inst.offsets is not None:  # the instance's goalSequences
            self.tasks: TaskStream = SequenceTasks(
                self.grid_map, self.bank, inst.tasks, inst.offsets, c.league_wrap,
                c.first_task_round,
            )  # fmt: skip
        elif c.tasks == "league":
            self.tasks = LeagueTasks(
                self.grid_map, self.bank, self.instance.tasks, n, c.league_wrap,
                c.first_task_round,
            )  # fmt: skip
        else:
            self.tasks = PoissonOrders(
                self.grid_map, self.bank, n, c.orders_rate, self.rng, c.max_open_orders
            )
        self.policy = make_policy(c, derive_seed(self.rng))
        self.tracker = GridMetrics(n, c.deadlock_window)
        self.last_counts = StepCounts(moved_mask=np.zeros(n, bool))
        self.traffic = Traffic.zero(n)  # robot-to-robot messages of the last step
        self.wms_bytes = 0.0  # order-board traffic of the last step (all robots)
        self.radio: Radio | None = None  # the radio of the last observation with rounds
        self.totals = {"messages": 0.0, "bytes": 0.0, "wms_bytes": 0.0}
        self._robots: list[Robot] | None = None
        self._space: OrthogonalVonNeumannGrid | None = None
        self.start_metrics(self.metric_names())

    # ------------------------------------------------------------------ stepping
    def metric_names(self) -> list[str]:
        return Warehouse(self.config).metric_names()

    def observe(
        self,
        with_board: bool = False,
        rounds: tuple[Round, ...] | None = None,
        radio: bool = True,
    ) -> LocalObservation:
        """The batch of local observations of the current state, with a radio for the
        message ``rounds`` of the decision it serves (default: the controller's move
        rounds; a round not declared is refused); ``radio`` False: none (a learner's
        observation, which sends nothing); ``with_board``: include the open orders, which
        the allocator reads."""
        t = self.world.t
        if rounds is None and radio:
            rounds = self.policy.rounds()
        # the model keeps the radio (its counters and, under audit, its log); the
        # observation holds only its port
        who = getattr(self.policy, "name", type(self.policy).__name__)
        carrier = None
        if radio:
            carrier = self.world.radio(rounds, phase=int(with_board), who=who,
                                       record=self.auditor is not None)  # fmt: skip
            self.radio = carrier
        return self.world.observe(
            self.tasks.goal, self.tasks.goal_slot, self.tasks.task_age(t), self.tasks.phase,
            carrier, self.tasks.board() if with_board else None,
        )  # fmt: skip

    def allocate(self) -> None:
        """Poisson stream: new orders arrive and idle robots claim them. The order board is
        the warehouse management system's central service: each idle robot downloads the
        open orders (4 numbers each) and uploads its claim and bid (2), counted as
        ``wms_bytes``, apart from the robots' own messages."""
        if isinstance(self.tasks, PoissonOrders):
            self.tasks.arrive(self.world.t)
            idle = int((self.tasks.phase == 0).sum())
            if self.tasks.open_id.size and idle:
                obs = self.observe(with_board=True, rounds=self.policy.claim_rounds())
                claims, bids = self.policy.claim(obs)
                if self.auditor is not None:
                    self.auditor.check_claims(obs, (claims, bids), self._radio_log())
                self._count_radio()
                orders = obs.known["board"].n
                self.wms_bytes += 8.0 * (4 * idle * orders + 2 * int((claims >= 0).sum()))
                self.tasks.accept(claims, bids, self.world.t)

    def begin_step(self) -> None:
        """Orders arrive and are claimed (Poisson stream)."""
        self._new_traffic()
        self.allocate()

    def decide(self, obs: LocalObservation) -> Decision:
        """The controller's moves and new memory, its message rounds carried by the radio
        (and, under audit, each audited robot's decision alone compared with it)."""
        decision = self.policy.decide(obs)
        if self.auditor is not None:
            self._audited = self.auditor.check_moves(obs, decision, self._radio_log())
        return decision

    def apply(
        self, obs: LocalObservation | None, decision: Decision, controller: bool = True
    ) -> np.ndarray:
        """Memory kept (when the ``controller`` decided), everyone moves, tasks finish, the
        metrics row is recorded; returns (R,) tasks each robot finished (an env's reward)."""
        actions = check_actions(decision.actions, self.world.n, n_actions(self.world.motion))
        if controller:
            self.policy.commit(obs, actions)
            self.policy.remember(decision.memory)
            if self.auditor is not None:
                self.auditor.check_memory(self._audited)
            self._count_radio()
        self.totals["messages"] += float(self.traffic.packets.sum())
        self.totals["bytes"] += float(self.traffic.bytes.sum())
        self.totals["wms_bytes"] += self.wms_bytes
        had_task = self.tasks.goal >= 0
        before = self.tasks.finished.copy()
        counts = self.world.apply(actions)
        self.tasks.update(self.world.cell, self.world.t)
        done = self.tasks.finished - before
        dist = self._dist_to_goal()
        self.tracker.record(self.world.t, counts, done > 0, self.tasks, dist, had_task)
        self.last_counts = counts
        self._metrics_at = -1
        self.record()
        return done

    def _radio_log(self) -> list:
        """The rounds the last observation's radio carried (recorded under audit)."""
        return [] if self.radio is None else self.radio.log

    def _count_radio(self) -> None:
        """Add what the last observation's radio carried to this step's traffic."""
        if self.radio is not None:
            self.traffic.add(self.radio.traffic)

    def _new_traffic(self) -> None:
        self.traffic = Traffic.zero(self.world.n)
        self.wms_bytes = 0.0

    def _dist_to_goal(self) -> np.ndarray:
        has = self.tasks.goal_slot >= 0
        dist = np.zeros(self.world.n, np.int64)
        dist[has] = self.bank.lookup(self.tasks.goal_slot[has], self.world.fcell[has])
        return dist

    @property
    def metrics(self) -> dict[str, float]:
        if getattr(self, "_metrics_at", -1) != self.world.t:
            values = self.tracker.values(self.tasks)
            n, traffic = self.world.n, self.traffic
            values["messages_sent"] = float(traffic.packets.sum()) / n
            values["bytes_sent"] = float(traffic.bytes.sum()) / n
            values["message_rounds"] = float(traffic.rounds)
            values["message_hops"] = float(traffic.rounds)  # at most one hop per round
            if isinstance(self.tasks, PoissonOrders):
                values["claim_conflicts"] = float(self.tasks.claim_conflicts)
                values["open_orders"] = float(len(self.tasks.open_id))
                values["wms_bytes"] = self.wms_bytes / n
            self._metrics, self._metrics_at = values, self.world.t
        return self._metrics

    def summary(self, free_flow: bool = True) -> dict[str, Any]:
        """Headline fields of the run so far (``summary.json``): tasks_finished, collisions
        (executed), attempted_conflicts, free_flow_tasks and free_flow_ratio (the same robots,
        each alone on the map, on the cycling League stream, or on their own goal sequences,
        cycling or stopping: a robot's goals do not depend on the others, so alone it does at
        least as well; None otherwise: under Poisson orders a robot's tasks depend on what
        the others claim), deadlock flags.

        Goal sequences add ``sequences_completed`` (robots that reached every goal of their
        sequence at least once).

        A one-shot instance (a .scen) adds ``goals_reached`` (robots that reached their goal)
        and ``all_reached_goal_at`` (the first step at whose end every robot had reached its
        goal at least once; None if some never did). A robot that reached its goal has no
        task left but still yields: PIBT may push it off its goal to let another pass, so this
        is not MAPF's cost, which counts a robot as arriving only when it stays."""
        m, steps = self.metrics, self.world.t
        inst, wrap = self.instance, self.config.league_wrap
        first = self.config.first_task_round
        league = self.config.tasks == "league"
        sequences = isinstance(self.tasks, SequenceTasks)
        cycle = league and wrap == "cycle"
        bound = None
        if free_flow and sequences:
            bound = int(
                free_flow_sequences(
                    self.grid_map, inst.starts, inst.tasks, inst.offsets, steps, wrap, first
                ).sum()
            )
        elif free_flow and cycle:
            bound = int(free_flow_tasks(self.grid_map, inst.starts, inst.tasks, steps, first).sum())
        tasks_per_robot = len(inst.tasks) / self.world.n if league else None
        # the cycling round robin gives robot k tasks k, k + n, k + 2n, ... (mod m): with
        # m <= n tasks each robot repeats ONE task forever, and a robot parked on it
        # "finishes" it every step, so tasks_finished measures nothing (League data:
        # warehouse_large_1000 has 1000 tasks for 1000 robots); a cycling goal sequence
        # of one cell does the same
        if sequences:
            one_cell = np.minimum.reduceat(inst.tasks, self.tasks.begin) == np.maximum.reduceat(
                inst.tasks, self.tasks.begin
            )
            degenerate = cycle and bool(one_cell.any())
        else:
            degenerate = cycle and tasks_per_robot is not None and tasks_per_robot <= 1
        return {
            "instance": inst.name,
            "policy": self.config.policy,
            # goal sequences: their mean length
            "league_tasks_per_robot": tasks_per_robot,
            "task_stream_degenerate": bool(degenerate),
            "tasks_finished": int(m["tasks_finished"]),
            "collisions": int(m["executed_collisions"]),
            "attempted_conflicts": int(m["attempted_conflicts"]),
            "free_flow_tasks": bound,
            "free_flow_ratio": (m["tasks_finished"] / bound) if bound else None,
            "deadlocked": int(m["deadlocked"]),
            "stalled": bool(m["stalled"]),
            **self.traffic_summary(),
            **self._one_shot_summary(),
            **(
                {"sequences_completed": int(self.tasks.completed.sum())}
                if isinstance(self.tasks, SequenceTasks)
                else {}
            ),
        }

    def _one_shot_summary(self) -> dict[str, Any]:
        """goals_reached and all_reached_goal_at of a one-shot instance (nothing otherwise).
        Each robot has one task and the stream stops after it (wrap 'stop'), so a robot that
        finished it got "no task" revealed the step it reached its goal: ``revealed_at``."""
        if not self.instance.one_shot or not isinstance(self.tasks, LeagueTasks):
            return {}
        reached = self.tasks.finished > 0
        done = bool(reached.all())
        return {
            "goals_reached": int(reached.sum()),
            "all_reached_goal_at": int(self.tasks.revealed_at.max()) if done else None,
        }

    def traffic_summary(self) -> dict[str, float | None]:
        """Messages and bytes per robot per step over the run so far: robot to robot, and
        with the order board (Poisson stream; None otherwise)."""
        robot_steps = max(self.world.t * self.world.n, 1)
        poisson = isinstance(self.tasks, PoissonOrders)
        return {
            "messages_per_agent_step": self.totals["messages"] / robot_steps,
            "bytes_per_agent_step": self.totals["bytes"] / robot_steps,
            "wms_bytes_per_agent_step": self.totals["wms_bytes"] / robot_steps if poisson else None,
        }

    # ------------------------------------------------------------------ views
    def render_scene(self) -> Any:
        """What the viewer draws (``swarm view warehouse``, the env's ``render()``): map,
        goals, comm links and robots coloured by waiting / task phase / task age."""
        from swarm.viewer.grid import grid_scene  # numpy only; pygame is not imported

        return grid_scene(self)

    @property
    def comm_graph(self) -> nx.Graph:
        """The current comm links as a ``networkx.Graph`` on robot rows."""
        return self.world.comm_graph

    @property
    def robots(self) -> list[Robot]:
        """Mesa handles by row (created on first use)."""
        if self._robots is None:
            self._robots = [Robot(self, row) for row in range(self.world.n)]
        return self._robots

    @property
    def agents(self):
        self.robots  # noqa: B018 - make the handles on first access
        return super().agents

    @property
    def space(self) -> OrthogonalVonNeumannGrid:
        """Mesa's discrete space with a ``Robot`` in each occupied cell, synced from the arrays.

        Cells carry ``obstacle`` (bool) and ``kind`` ('.', '@', 'E', 'S') attributes.
        """
        g = self.grid_map
        if self._space is None:
            self._space = OrthogonalVonNeumannGrid(
                (g.height, g.width), torus=False, capacity=1, random=self.random
            )
            chars = g.to_text().splitlines()[4:]
            for (r, c), cell in self._space._cells.items():
                cell.kind = chars[r][c]
                cell.obstacle = not bool(g.free[r, c])
        space = self._space
        robots = self.robots
        rc = g.rowcol(self.world.cell)
        moved = [h for h in robots if h.cell is None or h.cell.coordinate != tuple(rc[h.row])]
        for h in moved:  # two phases: a robot may move into a cell another one just left
            h.cell = None
        for h in moved:
            h.cell = space[tuple(int(v) for v in rc[h.row])]
        return space


def warehouse_policies() -> list[str]:
    """Registered controllers written for this scenario."""
    return sorted(n for n in POLICIES if getattr(policy_class(n), "scenario", "") == "warehouse")


def make_policy(config: WarehouseConfig, seed: int) -> GridPolicy:
    if config.policy not in POLICIES or config.policy not in warehouse_policies():
        raise ConfigError(
            f"warehouse: field 'policy': {config.policy!r} is not a warehouse controller; "
            f"allowed: {', '.join(warehouse_policies())}"
        )
    cls = policy_class(config.policy)
    params = cls.Params.build(f"policy_params ({config.policy})", **config.policy_params)
    return cls(params, seed=seed)


def build_instance(config: WarehouseConfig, rng: np.random.Generator) -> Instance:
    """The problem to run: a League instance (its zones drawn with ``rng``: starts, then
    ``n_tasks`` goals), a MovingAI scenario (one-shot: its first ``n_agents`` lines, on
    ``map`` if given), or random starts and tasks on a map/layout.

    Every problem with the input (a malformed or missing file, too many robots, a run that
    cannot fit in memory) is one :class:`ConfigError` line naming the field, raised before
    anything the size of the run is allocated.
    """
    if is_scen(config.instance):
        grid = None if config.map is None else _load_file("map", load_map, config.map)
        inst = _load_file(
            "instance", lambda p: load_scen(p, grid, config.n_agents), config.instance
        )
        if config.map is not None:
            inst.files["mapFile"] = config.map
        check_run_memory(config, inst.grid, len(inst.starts), "instance", inst.tasks)
        return inst
    if config.instance is not None:
        # start and goal zones are drawn with the run's generator (League files draw nothing)
        inst = _load_file(
            "instance", lambda p: load_instance(p, rng, config.n_tasks), config.instance
        )
        if config.n_agents is not None:
            if config.n_agents > inst.n_agents:
                raise ConfigError(
                    f"warehouse: field 'n_agents': {config.n_agents} exceeds the instance's "
                    f"{inst.n_agents} robots"
                )
            inst = inst.first(config.n_agents)  # with goal sequences, theirs too
        _check_poisson_cells(config, inst.grid)
        check_run_memory(config, inst.grid, len(inst.starts), "instance", inst.tasks)
        return inst
    if config.map is not None:
        grid = _load_file("map", load_map, config.map)
        source = "map"
    else:
        grid = generate_layout(config.layout)
        source = "layout"
    n = config.n_agents if config.n_agents is not None else 20
    if n > len(grid.free_cells):
        raise ConfigError(
            f"warehouse: field 'n_agents': {n} robots do not fit on the "
            f"{len(grid.free_cells)} free cells of {grid.name}"
        )
    _check_poisson_cells(config, grid)
    check_run_memory(config, grid, n, source)
    return random_instance(grid, n, config.n_tasks, rng, name=grid.name)


def _load_file(field: str, loader: Callable[[str], Any], path: str) -> Any:
    """``loader(path)``, its ConfigError (malformed or missing file) prefixed with the field."""
    try:
        return loader(path)
    except ConfigError as err:
        raise ConfigError(f"warehouse: field '{field}': {err}") from None


def _check_poisson_cells(config: WarehouseConfig, grid: GridMap) -> None:
    if config.tasks == "poisson" and not (
        len(grid.cells_of(SERVICE)) and len(grid.cells_of(EMITTER))
    ):
        raise ConfigError(
            f"warehouse: field 'tasks': 'poisson' orders need service (S) and emitter (E) "
            f"cells; map {grid.name} lacks them (use tasks='league')"
        )


# Memory a run needs beyond the map's own arrays (swarm.grid.maps.GRID_BYTES_PER_CELL):
# per free cell the world's and the distance bank's scratch (occupancy, claims, slot of goal,
# BFS queue and field: 5 x 8); per robot its state, task, metric and observation rows (a
# generous 1 KiB); per sensed or linked pair one int64 in each of the two neighbour tables;
# per random task the draws that build the stream (about 5 x 8).
WORLD_BYTES_PER_CELL = 40
BYTES_PER_ROBOT = 1024
BYTES_PER_PAIR = 16
BYTES_PER_RANDOM_TASK = 40


def run_memory(
    config: WarehouseConfig,
    grid: GridMap,
    n_agents: int,
    source: str,
    tasks: np.ndarray | None = None,
) -> dict[str, float]:
    """Estimated bytes of a run, by the field that drives each part (``source`` names the
    map's: instance, map or layout; ``tasks``: an instance's task cells): a worst case of
    the same order as what a run uses, so that a run which cannot fit is refused at once."""
    cells, n_free = grid.n_cells, len(grid.free_cells)
    field_bytes = n_free * (2 if n_free < np.iinfo(np.uint16).max else 4)
    if config.guidance != "none":  # a guided field beside each BFS field
        field_bytes += n_free * (2 if config.guidance_weight * n_free < 2**16 - 1 else 4)
    if config.tasks == "poisson":
        goals = len(grid.cells_of(SERVICE)) + len(grid.cells_of(EMITTER))
    elif tasks is not None:
        goals = len(np.unique(tasks))
    else:
        goals = min(config.n_tasks, n_free)
    # fields in use at once (one per robot at most) and what the cache may keep beyond them
    in_use = min(n_agents, goals) * field_bytes
    cached = max(0, min(config.field_cache_mb * 2**20, goals * field_bytes) - in_use)
    diagonal = float(np.hypot(grid.height, grid.width))
    radius = int(min(max(config.sense_radius, config.comm_radius), diagonal))
    pairs = n_agents * min(n_agents - 1, (2 * radius + 1) ** 2 - 1)
    random_tasks = config.n_tasks if tasks is None else 0
    if config.guidance == "flow":  # the fit's flows and per-thread scratch, while it runs
        in_use += n_free * (FLOW_BYTES_PER_CELL + cores() * FLOW_BYTES_PER_CELL_THREAD)
    return {
        source: (GRID_BYTES_PER_CELL + WORLD_BYTES_PER_CELL) * cells,
        "n_agents": BYTES_PER_ROBOT * n_agents + BYTES_PER_PAIR * pairs + in_use,
        "field_cache_mb": cached,
        "n_tasks": BYTES_PER_RANDOM_TASK * random_tasks,
    }


def check_run_memory(
    config: WarehouseConfig,
    grid: GridMap,
    n_agents: int,
    source: str,
    tasks: np.ndarray | None = None,
) -> None:
    """Refuse, in one line naming the field with the largest share, a run this machine
    cannot hold (:func:`run_memory`)."""
    what = f"a run of {n_agents:,} robots on the {grid.height}x{grid.width} map {grid.name!r}"
    check_memory_parts(run_memory(config, grid, n_agents, source, tasks), "warehouse", what)


def run_warehouse(
    config: WarehouseConfig | dict[str, Any],
    steps: int,
    out_dir: str | Path | None,
    progress: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Run headless through the one run loop (:func:`swarm.runner.execute`); write
    ``config.json``, ``metrics.csv`` and ``summary.json`` into ``out_dir`` (if given) as
    ``swarm run warehouse`` does, and return the summary with the resolved config.

    The summary carries tasks_finished, collisions (executed), attempted_conflicts,
    free_flow_tasks and free_flow_ratio (League stream only; None otherwise), steps_per_s
    (stepping only, setup excluded), messages and bytes per robot per step, deadlock
    indicators and the final metrics.
    """
    from swarm import runner

    if not isinstance(config, WarehouseConfig):
        config = WarehouseConfig.build("warehouse", **config)
    if steps < 0:
        raise ConfigError(f"steps: must be >= 0 (got {steps})")
    model = WarehouseModel(config=config, rng=seed)
    result = runner.execute(model, "warehouse", steps, seed, progress=progress)
    if out_dir is not None:
        runner.write_run(result, Path(out_dir), "csv")
    return {**result.summary, "config": result.config["config"]}


__all__ = [
    "MapFormatError",
    "Robot",
    "WarehouseConfig",
    "WarehouseModel",
    "egocentric_view",
    "run_warehouse",
]
