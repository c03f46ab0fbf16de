"""Run one scenario headless and write its results.

A run folder holds ``config.json`` (the fully resolved config, seed and package version),
``metrics.parquet`` (one row per step, a ``step`` column and one column per metric) and
``summary.json`` (final metrics, wall time, steps/s, agent-steps/s). A new folder is written
into a staging folder next to the target and renamed into place at the end, so an interrupted
run leaves nothing half-written behind.

``--out`` never deletes or moves what it did not write. It accepts a new folder, an empty
one, or a finished run of the same config (scenario, seed, steps and every field; its three
files are then rewritten, each atomically). Anything else is refused before the run starts
(:func:`check_out`).

Any model class works that follows the registry's model protocol: ``cls(rng=seed, **config)``
validates its config (raising :class:`~swarm.config.ConfigError`), has ``config``,
``step()``, ``metrics`` and a Mesa ``datacollector`` recording every step; an optional
``summary()`` returns extra headline fields for ``summary.json`` (e.g. the warehouse's
``free_flow_ratio``, computed once at the end rather than every step).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from swarm.config import ConfigError
from swarm.io import publish_dir, staging_dir, write_json, write_table
from swarm.registry import scenario_class
from swarm.resources import check_writable

CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
TABLE_FORMATS = ("parquet", "csv")


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


def check_seed(seed: Any, field: str = "--seed") -> int:
    """A run's seed: an integer >= 0 (numpy's SeedSequence takes no negative entropy)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"{field}: must be an integer >= 0 (got {seed!r})")
    return seed


def build_model(scenario: str, config: dict[str, Any], seed: int) -> Any:
    """Validate ``config`` and build the scenario's model (raises ConfigError on bad input)."""
    check_seed(seed)  # the models check memory before allocating (``memory_parts``)
    return scenario_class(scenario)(rng=seed, **config)


def resolved_config(model: Any, scenario: str, steps: int, seed: int) -> dict[str, Any]:
    """What ``config.json`` holds: everything the run depends on, every field resolved, and
    the checkpoint of any learned policy."""
    out = {
        "scenario": scenario,
        "seed": seed,
        "steps": steps,
        "package_version": package_version(),
        # inf as "Infinity", graphs as lists
        "config": json.loads(model.config.model_dump_json()),
    }
    learned = learned_sources(getattr(model, "policy", None))
    if learned:  # what the config fields cannot say: which trained networks flew
        out["learned_policies"] = learned
    return out


def learned_sources(policy: Any) -> dict[str, str]:
    """Checkpoint file of each learned policy in the slot, by team ("all": one for all)."""
    parts = getattr(policy, "policies", {}).values() if hasattr(policy, "names") else [policy]
    return {
        getattr(p, "team", None) or "all": str(p.source)
        for p in parts
        if getattr(p, "source", None) is not None
    }


def execute(
    model: Any, scenario: str, steps: int, seed: int, progress: bool = False, audit: int = 0
) -> RunResult:
    """Step ``model`` ``steps`` times and collect its metrics and summary. ``audit`` > 0
    checks that many random agents per step with the locality audit
    (:func:`swarm.testing.auditor_for`; a violation raises ``LocalityViolation``)."""
    n_agents = int(getattr(model.config, "n_agents", 0))
    stepper = model
    if audit:
        from swarm.testing import auditor_for

        stepper = auditor_for(model, audit, seed)
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc=scenario, unit="step", disable=not progress, leave=False):
        stepper.step()
    wall = time.perf_counter() - start
    frame = model.datacollector.get_model_vars_dataframe().reset_index(names="step")
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
    if audit:
        summary["audited_agent_steps"] = stepper.checked
    if "bytes_sent" in frame and steps > 0:  # what the radio carried, over the steps taken
        summary["messages_per_agent_step"] = float(frame["messages_sent"].iloc[1:].mean())
        summary["bytes_per_agent_step"] = float(frame["bytes_sent"].iloc[1:].mean())
    extras = getattr(model, "summary", None)  # optional hook: scenario-specific headline fields
    if callable(extras):
        summary.update({k: v for k, v in extras().items() if k not in summary})
    return RunResult(resolved_config(model, scenario, steps, seed), frame, summary)


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
    if out is not None:
        check_out(Path(out), resolved_config(model, scenario, steps, seed), table_format)
    result = execute(model, scenario, steps, seed, progress)
    if out is not None:
        write_run(result, Path(out), table_format)
    return result


def _run_files(table_format: str) -> tuple[str, ...]:
    return (CONFIG_FILE, f"metrics.{table_format}", SUMMARY_FILE)


def _same_run(config: dict[str, Any], path: Path) -> bool:
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    keys = ("scenario", "seed", "steps", "config")
    return isinstance(old, dict) and all(old.get(k) == config.get(k) for k in keys)


def check_out(out: Path, config: dict[str, Any], table_format: str = "parquet") -> None:
    """May a run with this resolved ``config`` be written to ``out``? Checked before the run
    starts; refuses with one line naming ``--out``.

    Accepted: a path that does not exist yet (its nearest existing parent must be a writable
    folder), an empty folder, or a finished run of the very same config holding nothing but
    the run's own files (it is rewritten with the same results).
    """
    if table_format not in TABLE_FORMATS:
        raise ConfigError(f"--format: unknown {table_format!r}; allowed: parquet, csv")
    check_writable(out)
    if not out.exists():
        return
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    ours = set(_run_files(table_format))
    if set(entries) <= ours and SUMMARY_FILE in entries and _same_run(config, out / CONFIG_FILE):
        return
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise ConfigError(
        f"--out {out}: the folder already holds files ({shown}) and is not a finished run of "
        "this config; nothing is overwritten: choose a new or empty folder"
    )


def write_run(result: RunResult, out: Path, table_format: str = "parquet") -> None:
    """Write a run folder: a new one is staged next to ``out`` and renamed into place whole;
    an existing (empty, or same-config) one gets each file atomically, summary last."""
    check_out(out, result.config, table_format)
    config_file, table_file, summary_file = _run_files(table_format)
    if out.exists():
        write_json(out / config_file, result.config)
        write_table(out / table_file, result.metrics)
        write_json(out / summary_file, result.summary)
        return
    staging = staging_dir(out)
    try:
        write_json(staging / config_file, result.config)
        write_table(staging / table_file, result.metrics)
        write_json(staging / summary_file, result.summary)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish_dir(staging, out)  # if --out appeared meanwhile, the finished run stays staged
