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

import copy
import hashlib
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from swarm.config import ConfigError, StrictConfig
from swarm.experiments.worker import RunTask

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
    group: str | None = Field(None, description="a swept parameter: one line per value")
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
        from swarm.registry import SCENARIOS

        if value not in SCENARIOS:
            raise ValueError(f"unknown scenario; allowed: {', '.join(sorted(SCENARIOS))}")
        return value

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str | None) -> str | None:
        from swarm.registry import POLICIES

        if value is not None and value not in POLICIES:
            raise ValueError(f"unknown policy; allowed: {', '.join(sorted(POLICIES))}")
        return value


# --------------------------------------------------------------------------- errors
def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``PlotSpec`` in ``list[PlotSpec]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _model_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that owns the last element of an error location."""
    current: type[BaseModel] | None = cls
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):  # a list index: stay on the item model
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _submodel(field.annotation)
    return current


def _problem_lines(err: ValidationError, cls: type[BaseModel], where: str) -> list[str]:
    """Pydantic errors as ``where.path: what is wrong (got ...)``, one line each."""
    lines = []
    for problem in err.errors():
        loc = tuple(problem["loc"])
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        kind = problem["type"]
        if kind == "extra_forbidden":
            owner = _model_at(cls, loc[:-1])
            allowed = ", ".join(sorted(owner.model_fields)) if owner else "?"
            lines.append(f"{path}: unknown field; allowed: {allowed}")
        elif kind == "missing":
            lines.append(f"{path}: required field is missing")
        else:
            msg = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {msg} (got {problem.get('input')!r})")
    return lines


def _raise(lines: list[str]) -> None:
    if lines:
        raise ConfigError("\n".join(dict.fromkeys(lines)))  # each distinct problem once


# --------------------------------------------------------------------------- loading
def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``3``, ``inf``, ``[1, 2]``, ``{a = 1}``), else a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(table: dict[str, Any], path: str, value: Any, where: str = "--set") -> None:
    """``table[a][b] = value`` for ``path = "a.b"``, creating tables on the way."""
    parts = path.split(".")
    if not all(parts):
        raise ConfigError(f"{where} {path}: empty part in dotted key")
    for i, part in enumerate(parts[:-1]):
        nxt = table.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{where} {path}: {'.'.join(parts[: i + 1])} is not a table")
        table = nxt
    table[parts[-1]] = value


def _nest_grid(data: dict[str, Any]) -> None:
    """Quoted dotted grid keys ("a.b" = [...]) -> nested tables, so --set paths find them."""
    sweep = data.get("sweep")
    if isinstance(sweep, dict) and isinstance(sweep.get("grid"), dict):
        nested: dict[str, Any] = {}
        for path, values in _flatten(sweep["grid"]).items():
            set_path(nested, path, values, "spec.sweep.grid")
        sweep["grid"] = nested


def apply_sets(data: dict[str, Any], sets: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """A copy of the raw spec with ``--set`` overrides (dotted keys) applied."""
    data = copy.deepcopy(data)
    _nest_grid(data)
    if isinstance(sets, list):
        pairs: dict[str, Any] = {}
        for pair in sets:
            key, eq, raw = pair.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"--set: expected key=value, got {pair!r}")
            pairs[key.strip()] = parse_value(raw.strip())
        sets = pairs
    for path, value in (sets or {}).items():
        if path.startswith("sweep.grid.") and isinstance(value, list | tuple):
            value = list(value)
        set_path(data, path, value)
    return data


def parse_spec(data: dict[str, Any], where: str = "spec") -> ExperimentSpec:
    """Validate a raw spec (TOML tables) into an :class:`ExperimentSpec`."""
    try:
        return ExperimentSpec(**data)
    except ValidationError as err:
        _raise(_problem_lines(err, ExperimentSpec, where))
        raise  # unreachable: _raise always raises for a non-empty error list


def load_spec(path: str | Path, sets: dict[str, Any] | list[str] | None = None) -> ExperimentSpec:
    """Read a TOML spec, apply ``--set`` overrides, validate it (not yet the scenario)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"spec: no such file {str(path)!r}") from None
    except IsADirectoryError:
        raise ConfigError(f"spec {path}: is a folder, not a TOML file") from None
    except OSError as err:
        raise ConfigError(f"spec {path}: cannot be read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"spec {path}: not UTF-8 text (byte {err.start}); not a TOML spec"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"spec {path}: not valid TOML: {err}") from None
    data.setdefault("name", path.stem)
    return parse_spec(apply_sets(data, sets))


# --------------------------------------------------------------------------- planning
@dataclass
class Plan:
    """An experiment expanded: its points, the runs, and what each run reports."""

    spec: ExperimentSpec
    points: list[dict[str, Any]]  # one per sweep point: parameter path -> value
    swept: list[str]  # parameter paths set by the sweep (the table's parameter columns)
    metric_names: list[str]  # every metric the scenario reports
    final: list[str]  # metrics summarised per run
    time_series: list[str]  # metrics saved per step
    tasks: list[RunTask]  # one per (point, seed), point-major

    @property
    def summary_columns(self) -> list[str]:
        cols = [f"final_{m}" for m in self.final]
        if self.spec.metrics.tail > 0:
            cols += [f"tail_{m}" for m in self.final]
        cols += [f"rate_{m}" for m in self.spec.metrics.rate]
        return [*cols, "wall_time_s"]


def run_count(sweep: SweepSpec) -> int:
    """How many points the sweep expands to, counted without expanding it."""
    return math.prod(len(v) for v in sweep.grid.values()) * len(sweep.points or [{}])


def expand_points(sweep: SweepSpec) -> list[dict[str, Any]]:
    """The sweep's points: every grid combination for every listed point (grid varies fastest)."""
    keys = list(sweep.grid)
    combos = [
        dict(zip(keys, values, strict=True)) for values in itertools.product(*sweep.grid.values())
    ]
    bases = sweep.points or [{}]
    points = []
    for i, base in enumerate(bases):
        clash = sorted(set(base) & set(keys))
        if clash:
            raise ConfigError(
                f"spec.sweep.points[{i}].{clash[0]}: also in spec.sweep.grid; set it in one place"
            )
        points.extend({**base, **combo} for combo in combos)
    return points


def _origin(
    path: str, point_index: int, point: dict[str, Any], grid: dict[str, Any], spec: ExperimentSpec
) -> str:
    """Which part of the spec supplied the value at ``path`` (for error messages)."""
    for key in point:
        if path == key or path.startswith(key + ".") or key.startswith(path + "."):
            if key in grid:
                return f"spec.sweep.grid.{key}"
            return f"spec.sweep.points[{point_index}].{key}"
    top = path.split(".")[0]
    if top in spec.faults:
        return f"spec.faults.{path}"
    if top == "policy" and spec.policy is not None:
        return "spec.policy"
    return f"spec.parameters.{path}"


def _config_problems(
    err: ValidationError, prefix: str, origin: Any, allowed: list[str]
) -> list[str]:
    lines = []
    for problem in err.errors():
        path = ".".join([p for p in (prefix, *(str(x) for x in problem["loc"])) if p])
        where = origin(path) if path else "spec.parameters"
        if problem["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown field; allowed: {', '.join(sorted(allowed))}")
        else:
            msg = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg} (got {problem.get('input')!r})")
    return lines


def _crash_rows(fraction: float, n_agents: int, seed: int) -> list[int]:
    """A random ``fraction`` of the rows, drawn from the run's seed (not the model's stream)."""
    count = round(fraction * n_agents)
    rng = np.random.default_rng([seed, 0xC7A5])  # a tag keeps it apart from other seed uses
    return sorted(int(r) for r in rng.permutation(n_agents)[:count])


def resolve_config(
    spec: ExperimentSpec, point: dict[str, Any], seed: int, point_index: int = 0
) -> dict[str, Any]:
    """The scenario config of one run (validated): parameters, faults, policy, the point.

    ``point_index`` is the entry of ``sweep.points`` the point comes from (for messages).
    """
    from swarm.registry import check_policy_fits, policy_class, scenario_class

    model_cls = scenario_class(spec.scenario)
    config_cls = model_cls.config_class
    fields = set(config_cls.model_fields)
    lines = []
    for key in spec.faults:
        if key not in (*FAULT_FIELDS, *DERIVED_FAULTS) or (
            key in FAULT_FIELDS and key not in fields
        ):
            allowed = [f for f in FAULT_FIELDS if f in fields] + list(DERIVED_FAULTS)
            lines.append(f"spec.faults.{key}: not a fault of {spec.scenario}; allowed: "
                         f"{', '.join(allowed)}")  # fmt: skip
        elif key in spec.parameters:
            lines.append(f"spec.faults.{key}: also set in spec.parameters; set it in one place")
    if spec.policy is not None and "policy" in spec.parameters:
        lines.append("spec.parameters.policy: also set as spec.policy; set it in one place")
    if spec.policy is not None and "policy" not in fields:
        lines.append(f"spec.policy: {spec.scenario} has no policy field")
    _raise(lines)

    config = copy.deepcopy(spec.parameters)
    config.update(copy.deepcopy(spec.faults))
    if spec.policy is not None:
        config["policy"] = spec.policy
    for path, value in point.items():
        set_path(config, path, copy.deepcopy(value), f"spec.sweep ({path})")

    def origin(path: str) -> str:
        return _origin(path, point_index, point, spec.sweep.grid, spec)

    fraction = config.pop("crash_fraction", None)
    crash_step = config.pop("crash_step", None)
    if crash_step is not None and fraction is None:
        _raise([f"{origin('crash_step')}: needs crash_fraction"])
    if fraction is not None:
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0 <= fraction <= 1
        ):
            _raise([f"{origin('crash_fraction')}: must be a number in [0, 1] (got {fraction!r})"])
        step = 0 if crash_step is None else crash_step
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            _raise([f"{origin('crash_step')}: must be an integer >= 0 (got {step!r})"])
    try:
        validated = config_cls(**config)
    except ValidationError as err:
        _raise(_config_problems(err, "", origin, list(fields)))
        raise
    if fraction is not None and fraction > 0:
        rows = _crash_rows(float(fraction), int(validated.n_agents), seed)
        crash_at = {int(k): list(v) for k, v in validated.crash_at.items()}
        crash_at[step] = sorted(set(crash_at.get(step, [])) | set(rows))
        config["crash_at"] = crash_at
    if "policy" in fields:
        check_policy_fits(spec.scenario, validated.policy, origin("policy"))
    if "policy" in fields and hasattr(validated, "policy_params"):
        params_cls = policy_class(validated.policy).Params
        try:
            params_cls(**validated.policy_params)
        except ValidationError as err:
            _raise(_config_problems(err, "policy_params", origin, list(params_cls.model_fields)))
    return config


def _metric_names(spec: ExperimentSpec, config: dict[str, Any]) -> list[str]:
    """What the scenario reports, read from its scenario hooks (or a built model)."""
    from swarm.registry import scenario_class

    model_cls = scenario_class(spec.scenario)
    scenario_cls = getattr(model_cls, "scenario_class", None)
    if scenario_cls is not None and hasattr(scenario_cls, "metric_names"):
        return list(scenario_cls(model_cls.config_class(**config)).metric_names())
    return list(model_cls(rng=0, **config).metrics)


def run_id(task_key: dict[str, Any]) -> str:
    """A content hash: the same run (config, seed, steps, what is kept) has the same id."""
    text = json.dumps(task_key, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def plan(spec: ExperimentSpec) -> Plan:
    """Expand and validate every run of ``spec`` (raises ConfigError before anything runs)."""
    points = expand_points(spec.sweep)
    swept = list(dict.fromkeys(k for p in points for k in p))
    per_base = math.prod(len(v) for v in spec.sweep.grid.values())  # grid points per entry
    configs = [  # error messages name the entry of sweep.points a point comes from
        [resolve_config(spec, point, seed, i // per_base) for seed in spec.seeds]
        for i, point in enumerate(points)
    ]
    names = _metric_names(spec, configs[0][0])
    lines = []
    for section in ("final", "time_series", "rate"):
        chosen = getattr(spec.metrics, section)
        for name in chosen or []:
            if name not in names:
                lines.append(f"spec.metrics.{section}: unknown metric {name!r}; "
                             f"allowed: {', '.join(names)}")  # fmt: skip
    _raise(lines)
    final = names if spec.metrics.final is None else list(spec.metrics.final)
    series = names if spec.metrics.time_series is None else list(spec.metrics.time_series)
    tasks = []
    for i, point in enumerate(points):
        for seed, config in zip(spec.seeds, configs[i], strict=True):
            key = {
                "scenario": spec.scenario,
                "config": config,
                "seed": seed,
                "steps": spec.steps,
                "final": final,
                "time_series": series,
                "every": spec.metrics.every,
                "tail": spec.metrics.tail,
                "rate": spec.metrics.rate,
            }
            tasks.append(
                RunTask(
                    run_id=run_id(key),
                    point=i,
                    seed=seed,
                    params=dict(point),
                    scenario=spec.scenario,
                    config=config,
                    steps=spec.steps,
                    final=tuple(final),
                    time_series=tuple(series),
                    every=spec.metrics.every,
                    tail=spec.metrics.tail,
                    rate=tuple(spec.metrics.rate),
                )
            )
    result = Plan(spec, points, swept, names, final, series, tasks)
    _check_plots(result)
    return result


def _check_plots(p: Plan) -> None:
    """Plots name swept parameters and columns that the runs will produce."""
    lines = []
    columns = p.summary_columns
    swept = ", ".join(p.swept) or "(none)"
    for i, plot in enumerate(p.spec.plots):
        where = f"spec.plots[{i}]"
        if plot.kind == "sweep":
            if plot.x not in p.swept and plot.x not in columns:
                allowed = ", ".join([*p.swept, *columns])
                lines.append(f"{where}.x: {plot.x!r} is not swept nor a column; allowed: {allowed}")
            if plot.y not in columns:
                allowed = ", ".join(columns)
                lines.append(f"{where}.y: {plot.y!r} is not a summary column; allowed: {allowed}")
        elif plot.y not in p.time_series:
            kept = ", ".join(p.time_series) or "(none)"
            lines.append(f"{where}.y: {plot.y!r} is not a kept time series; kept: {kept}")
        if plot.group is not None and plot.group not in p.swept:
            lines.append(f"{where}.group: {plot.group!r} is not swept; swept: {swept}")
    _raise(lines)


# --------------------------------------------------------------------------- storing specs
def to_plain(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain` (the strings "inf", "-inf", "nan" become floats)."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, dict):
        return {k: from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value


def spec_to_plain(spec: ExperimentSpec) -> dict[str, Any]:
    """The resolved spec as JSON-safe data (what ``spec.json`` holds)."""
    return to_plain(spec.model_dump(mode="python"))


def spec_from_plain(data: dict[str, Any]) -> ExperimentSpec:
    return parse_spec(from_plain(data), "spec.json")
