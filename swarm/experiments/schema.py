"""The experiment spec: one TOML file, validated in full before anything runs.

A spec names a scenario and its parameters, how long to run, which seeds, a sweep, faults,
which metrics to keep and which plots to draw::

    name = "vicsek_phase_transition"          # default: the file's stem
    reproduces = "Vicsek et al. 1995, Fig. 2"  # free text: the known result
    scenario = "flocking"                      # see `swarm list`
    policy = "vicsek"                          # the scenario's `policy` field
    steps = 2000
    seeds = 5                                  # a count (0..4) or a list [1, 7, 9]

    [parameters]                               # scenario config fields
    boundary = "torus"
    max_accel = inf                            # TOML spells infinity `inf`
    policy_params = { speed = 0.03 }

    [faults]                                   # fault fields of the scenario config
    crash_rate = 0.0                           # (or crash_fraction + crash_step, below)

    [sweep]                                    # the product of grid and points
    grid.policy_params.eta = [0.5, 1.0, 2.0]   # a list of values per parameter path
    points = [{ n_agents = 100, world_size = 5.0 }, { n_agents = 100, world_size = 14.1 }]

    [metrics]
    final = ["polarization"]                   # default: every metric the scenario reports
    time_series = ["polarization"]             # per-step Parquet per run ([]: none)
    every = 10                                 # keep every 10th step of the time series
    tail = 0.25                                # also tail_<m>: mean over the last 25% of steps

    [[plots]]
    kind = "sweep"                             # y against a swept parameter, CI over seeds
    x = "policy_params.eta"
    y = "tail_polarization"
    group = "world_size"                       # one line per value

Parameter paths are dotted: ``policy_params.eta`` is ``parameters["policy_params"]["eta"]``.
``crash_fraction`` (0..1) with ``crash_step`` is a convenience fault: that fraction of the
drones, a random subset drawn from the run's seed, crash at that step (it becomes
``crash_at``). Every run's config is validated against the scenario's config class (and the
policy's parameters) while planning, so a bad value anywhere fails at once with one line
naming where it came from, e.g. ``spec.sweep.grid.policy_params.eta: ...``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from swarm.config import StrictConfig

# Config fields that model faults; [faults] accepts these (where the scenario has them).
FAULT_FIELDS = (
    "crash_rate",
    "crash_at",
    "packet_drop",
    "comm_delay",
    "max_inbox",
    "sensor_noise_pos",
    "sensor_noise_vel",
)
# Spec-level fault parameters that are turned into ``crash_at`` per run.
DERIVED_FAULTS = ("crash_fraction", "crash_step")
# Runs one spec may plan: each is validated and hashed up front, and holds a row of the table.
MAX_RUNS = 100_000
# An experiment name is a folder name under runs/: no separators, no "..".
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables -> dotted paths: {"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flatten(value, path + "."))
        else:
            out[path] = value
    return out


class SweepSpec(StrictConfig):
    """The runs' parameter points: the product of ``grid`` and ``points``."""

    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="parameter path -> list of values (cartesian product)"
    )
    points: list[dict[str, Any]] | None = Field(
        None, description="explicit points, each {parameter path: value} (none: the grid alone)"
    )

    @field_validator("grid", mode="before")
    @classmethod
    def _flatten_grid(cls, value: Any) -> Any:
        return _flatten(value) if isinstance(value, dict) else value

    @field_validator("points", mode="before")
    @classmethod
    def _flatten_points(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:  # given explicitly: an empty sweep is a mistake, not "no sweep"
                raise ValueError("an empty list; leave points out for no sweep")
            return [_flatten(p) if isinstance(p, dict) else p for p in value]
        return value

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in value.items() if not v]
        if empty:
            raise ValueError(f"{', '.join(empty)}: a grid needs at least one value")
        return value


def run_count(sweep: SweepSpec) -> int:
    """How many points the sweep expands to, counted without expanding it."""
    return math.prod(len(v) for v in sweep.grid.values()) * len(sweep.points or [{}])


class MetricsSpec(StrictConfig):
    """Which metrics a run keeps: final values (summary table) and per-step time series."""

    final: list[str] | None = Field(
        None, description="metrics summarised per run (final_<m>, tail_<m>); default all"
    )
    time_series: list[str] | None = Field(
        None, description="metrics saved per step in each run's Parquet; default all, [] none"
    )
    every: int = Field(1, ge=1, description="keep every k-th step of the time series")
    tail: float = Field(
        0.0, ge=0, le=1, description="also tail_<m>: mean over this last fraction of steps"
    )
    rate: list[str] = Field(
        default_factory=list,
        description="also rate_<m>: per-step decay factor of m (log-linear fit, last half)",
    )


class LineSpec(StrictConfig):
    """A reference curve ``y = intercept + slope * x ** power`` (a known result to compare
    against: a line by default, ``power = -1`` for a 1/x law)."""

    slope: float = Field(description="coefficient of x ** power")
    intercept: float = Field(0.0, description="constant term")
    power: float = Field(1.0, description="exponent of x")
    label: str = Field("reference", description="legend entry")


class PlotSpec(StrictConfig):
    """One figure: a metric against a swept parameter, or a metric over time."""

    kind: Literal["sweep", "time"] = Field(description="sweep: y vs x; time: y vs step")
    y: str = Field(description="sweep: a runs.parquet column; time: a time-series metric")
    x: str | None = Field(
        None, description="sweep: a swept parameter, or a summary column (mean over seeds)"
    )
    group: str | list[str] | None = Field(
        None, description="swept parameter(s): one line per value (or combination)"
    )
    file: str | None = Field(None, description="PNG name under plots/ (default from y and x)")
    title: str | None = Field(None, description="figure title (default: the experiment name)")
    logx: bool = Field(False, description="logarithmic x axis")
    logy: bool = Field(False, description="logarithmic y axis")
    reference: LineSpec | None = Field(None, description="a reference line (sweep plots)")

    @model_validator(mode="after")
    def _x_for_sweep(self) -> PlotSpec:
        if self.kind == "sweep" and self.x is None:
            raise ValueError("a sweep plot needs x (a swept parameter)")
        if self.kind == "time" and self.x is not None:
            raise ValueError("a time plot has step on the x axis; leave x out")
        return self

    @property
    def groups(self) -> list[str]:
        """The swept parameters that split the lines (none: the default grouping)."""
        if self.group is None:
            return []
        return [self.group] if isinstance(self.group, str) else list(self.group)

    @property
    def filename(self) -> str:
        if self.file:
            return self.file if self.file.endswith(".png") else f"{self.file}.png"
        if self.kind == "sweep":
            return f"{self.y}_vs_{self.x}.png"
        return f"{self.y}_over_time.png"


class ExperimentSpec(StrictConfig):
    """A whole experiment (see the module docstring for the TOML layout)."""

    name: str = Field(description="experiment name (default: the spec file's stem)")
    description: str = Field("", description="what the experiment shows")
    reproduces: str = Field("", description="the known result it reproduces, with citation")
    scenario: str = Field(description="registered scenario (see `swarm list`)")
    policy: str | None = Field(None, description="controller (the scenario's `policy` field)")
    steps: int = Field(ge=0, description="steps per run")
    seeds: list[int] = Field(description="a count n (seeds 0..n-1) or a list of seeds")
    parameters: dict[str, Any] = Field(default_factory=dict, description="scenario config")
    faults: dict[str, Any] = Field(default_factory=dict, description="fault config fields")
    sweep: SweepSpec = Field(default_factory=SweepSpec, description="parameter points")
    metrics: MetricsSpec = Field(default_factory=MetricsSpec, description="what to keep")
    plots: list[PlotSpec] = Field(default_factory=list, description="figures to draw")

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str) -> str:
        if not NAME.fullmatch(value) or ".." in value:
            raise ValueError(
                "letters, digits, '_', '-' and '.' only, starting with a letter or digit "
                "(it names the results folder under runs/)"
            )
        return value

    @field_validator("seeds", mode="before")
    @classmethod
    def _count_or_list(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            if not 1 <= value <= MAX_RUNS:
                raise ValueError(f"a seed count must be in 1..{MAX_RUNS}")
            return list(range(value))
        if isinstance(value, list) and len(value) > MAX_RUNS:
            raise ValueError(f"at most {MAX_RUNS} seeds")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one seed")
        if len(set(value)) != len(value) or min(value) < 0:
            raise ValueError("seeds must be distinct and >= 0")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> ExperimentSpec:
        runs = run_count(self.sweep) * len(self.seeds)
        if runs > MAX_RUNS:
            raise ValueError(
                f"the sweep x seeds make {runs:,} runs; at most {MAX_RUNS:,} per experiment "
                "(split it into several specs)"
            )
        return self

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, value: str) -> str:
        from swarm.registry import require_known

        return require_known("scenario", value)

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str | None) -> str | None:
        from swarm.registry import require_known

        return None if value is None else require_known("policy", value)
