"""Run one scenario headless and write its results.

A run folder holds ``config.json`` (the fully resolved config, seed and package version),
``metrics.parquet`` (one row per step, a ``step`` column and one column per metric) and
``summary.json`` (final metrics, wall time, steps/s, agent-steps/s). Everything is written into
a staging folder next to the target and moved into place at the end, so an interrupted run
leaves nothing half-written behind.

Any model class works that follows the registry's model protocol: ``cls(rng=seed, **config)``
validates its config (raising :class:`~swarm.config.ConfigError`), has ``config``,
``step()``, ``metrics`` and a Mesa ``datacollector`` recording every step; an optional
``summary()`` returns extra headline fields for ``summary.json`` (e.g. the warehouse's
``free_flow_ratio``, computed once at the end rather than every step).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from swarm.io import publish_dir, write_json, write_table
from swarm.registry import scenario_class


def package_version() -> str:
    try:
        return version("swarm-sandbox")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


@dataclass
class RunResult:
    """What a run produced, also returned to callers that do not write to disk."""

    config: dict[str, Any]
    metrics: pd.DataFrame  # one row per step
    summary: dict[str, Any]


def build_model(scenario: str, config: dict[str, Any], seed: int) -> Any:
    """Validate ``config`` and build the scenario's model (raises ConfigError on bad input)."""
    return scenario_class(scenario)(rng=seed, **config)


def execute(model: Any, scenario: str, steps: int, seed: int, progress: bool = False) -> RunResult:
    """Step ``model`` ``steps`` times and collect its metrics and summary."""
    n_agents = int(getattr(model.config, "n_agents", 0))
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc=scenario, unit="step", disable=not progress, leave=False):
        model.step()
    wall = time.perf_counter() - start
    frame = model.datacollector.get_model_vars_dataframe().reset_index(names="step")
    resolved = json.loads(model.config.model_dump_json())  # inf as "Infinity", graphs as lists
    resolved_config = {
        "scenario": scenario,
        "seed": seed,
        "steps": steps,
        "package_version": package_version(),
        "config": resolved,
    }
    summary = {
        "scenario": scenario,
        "seed": seed,
        "steps": steps,
        "n_agents": n_agents,
        "final": dict(model.metrics),
        "wall_time_s": wall,
        "steps_per_s": steps / wall if wall > 0 else None,
        "agent_steps_per_s": steps * n_agents / wall if wall > 0 else None,
    }
    extras = getattr(model, "summary", None)  # optional hook: scenario-specific headline fields
    if callable(extras):
        summary.update({k: v for k, v in extras().items() if k not in summary})
    return RunResult(resolved_config, frame, summary)


def run(
    scenario: str,
    config: dict[str, Any],
    steps: int,
    seed: int = 0,
    out: Path | None = None,
    progress: bool = False,
    table_format: str = "parquet",
) -> RunResult:
    """Build, run and (if ``out`` is given) write one run atomically."""
    model = build_model(scenario, config, seed)
    result = execute(model, scenario, steps, seed, progress)
    if out is not None:
        write_run(result, Path(out), table_format)
    return result


def write_run(result: RunResult, out: Path, table_format: str = "parquet") -> None:
    """Write a run folder: staged next to ``out``, then moved into place whole."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        write_json(staging / "config.json", result.config)
        write_table(staging / f"metrics.{table_format}", result.metrics)
        write_json(staging / "summary.json", result.summary)
        publish_dir(staging, out)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
