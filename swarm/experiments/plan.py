"""Planning: expand a spec's sweep x seeds into validated runs, each config resolved."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import ValidationError

from swarm.config import ConfigError
from swarm.experiments.errors import _raise
from swarm.experiments.load import set_path
from swarm.experiments.schema import DERIVED_FAULTS, FAULT_FIELDS, ExperimentSpec, SweepSpec
from swarm.experiments.worker import RunTask


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
        for group in plot.groups:
            if group not in p.swept:
                lines.append(f"{where}.group: {group!r} is not swept; swept: {swept}")
    _raise(lines)
