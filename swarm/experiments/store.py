"""The results folder of one experiment, written so that nothing is ever half there.

Layout::

    OUT/spec.json                  the resolved spec (after --set), package version, plan
    OUT/runs.parquet               one row per planned run: run_id, point, swept parameters,
                                   seed, status (ok / failed / pending), error, wall_time_s,
                                   final_<m> and tail_<m> summary metrics
    OUT/runs/<run_id>/run.json     the run's config, seed, status, error and traceback, summary
    OUT/runs/<run_id>/metrics.parquet   its time series (step + kept metrics), when it succeeded
    OUT/plots/*.png                the spec's plots
    OUT/summary.csv                mean and confidence interval over seeds per point

A run's folder is written to a staging folder and renamed into place whole, the moment the
run finishes; a run is finished exactly when its folder exists with status ``ok``. So a killed
experiment loses at most the runs in flight, and ``--resume`` redoes exactly those (and the
failed ones). A new experiment goes only into a new or empty folder; ``--resume`` only
continues the same spec (every ``--set`` repeated), and says what changed otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from swarm.config import ConfigError
from swarm.experiments.plain import from_plain, spec_from_plain, spec_to_plain, to_plain
from swarm.experiments.plan import Plan
from swarm.experiments.worker import RunOutcome, RunTask
from swarm.io import publish_dir, staging_dir, write_json, write_table
from swarm.resources import check_writable
from swarm.runner import package_version

SPEC_FILE = "spec.json"
TABLE_FILE = "runs.parquet"
RUNS_DIR = "runs"
SERIES_FILE = "metrics.parquet"
RUN_FILE = "run.json"
# what staging_dir() names a run being written: ".<run_id>.<mkdtemp suffix>" or, for a run
# being replaced, ".<run_id>.old.<suffix>"
_STAGING = re.compile(r"^\.[0-9a-f]{16}\.(old\.)?[A-Za-z0-9_]{8}$")


def spec_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``field: old -> new`` for every leaf that differs between two plain specs."""
    changes = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        path = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changes.extend(spec_changes(a, b, path + "."))
        elif a != b:
            changes.append(f"{path}: {_short(a)} -> {_short(b)}")
    return changes


def _short(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _cell(value: Any) -> Any:
    """A table cell: scalars as they are, anything else as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(to_plain(value), sort_keys=True)


class ResultsStore:
    """Reads and writes one experiment folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.runs = self.root / RUNS_DIR

    # ----------------------------------------------------------------- setup
    def holds_experiment(self) -> bool:
        return (self.root / SPEC_FILE).exists() or self.runs.exists()

    def check(self, plan: Plan, resume: bool) -> None:
        """May this plan be written here? Checked before any run starts; one line if not.

        Without ``resume`` the folder must be new or empty. With ``resume`` it must hold an
        experiment started with the same spec (after every ``--set``): a changed spec is
        refused, naming what changed, rather than mixing runs of two specs in one table.
        """
        check_writable(self.root)
        if not self.root.exists():
            if resume:
                raise ConfigError(f"--resume: {self.root} does not exist; nothing to resume")
            return
        entries = sorted(p.name for p in self.root.iterdir())
        if not resume:
            if self.holds_experiment():
                raise ConfigError(
                    f"--out {self.root}: already holds an experiment; pass --resume to "
                    "continue it, or choose another --out"
                )
            if entries:
                shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
                raise ConfigError(
                    f"--out {self.root}: the folder already holds files ({shown}); nothing is "
                    "overwritten: choose a new or empty folder"
                )
            return
        if not (self.root / SPEC_FILE).is_file():
            raise ConfigError(f"--resume: {self.root} holds no experiment ({SPEC_FILE} is missing)")
        try:
            old = json.loads((self.root / SPEC_FILE).read_text()).get("spec", {})
        except (OSError, ValueError, AttributeError):
            raise ConfigError(f"--resume: {self.root / SPEC_FILE} is not readable") from None
        changes = spec_changes(old, spec_to_plain(plan.spec))
        if changes:
            raise ConfigError(
                f"--resume: the spec differs from the one {self.root} was started with "
                f"({'; '.join(changes)}); repeat the same --set options, or choose another --out"
            )

    def prepare(self, plan: Plan, resume: bool) -> list[str]:
        """Create (or, with ``resume``, reopen) the folder; returns notes for the user."""
        self.check(plan, resume)
        self.runs.mkdir(parents=True, exist_ok=True)
        for stale in self.runs.iterdir():  # our staging folders of runs killed mid-write
            if _STAGING.match(stale.name) and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        write_json(
            self.root / SPEC_FILE,
            {
                "spec": spec_to_plain(plan.spec),
                "package_version": package_version(),
                "swept": plan.swept,
                "metric_names": plan.metric_names,
                "final": plan.final,
                "time_series": plan.time_series,
                "points": to_plain(plan.points),
            },
        )
        return []

    # ----------------------------------------------------------------- runs
    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def record(self, run_id: str) -> dict[str, Any] | None:
        path = self.run_dir(run_id) / RUN_FILE
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def is_done(self, run_id: str) -> bool:
        record = self.record(run_id)
        return record is not None and record.get("status") == "ok"

    def write_run(self, task: RunTask, outcome: RunOutcome) -> None:
        """Write one run's folder atomically (staged, then renamed into place)."""
        staging = staging_dir(self.run_dir(task.run_id))
        try:
            if outcome.series is not None:
                write_table(staging / SERIES_FILE, outcome.series)
            write_json(
                staging / RUN_FILE,
                {
                    "run_id": task.run_id,
                    "point": task.point,
                    "seed": task.seed,
                    "params": to_plain(task.params),
                    "status": outcome.status,
                    "error": outcome.error,
                    "traceback": outcome.traceback,
                    "wall_time_s": outcome.wall_time_s,
                    "summary": to_plain(outcome.summary),
                    "scenario": task.scenario,
                    "steps": task.steps,
                    "config": to_plain(task.config),
                    "resolved": to_plain(outcome.resolved_config),
                },
            )
            # a run folder there is this experiment's own failed attempt at the same run
            publish_dir(staging, self.run_dir(task.run_id), replace=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def series(self, run_id: str, columns: list[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self.run_dir(run_id) / SERIES_FILE, columns=columns)

    # ----------------------------------------------------------------- the table
    def table(self, plan: Plan) -> pd.DataFrame:
        """One row per planned run, from the run folders (pending where none exists yet)."""
        rows = []
        for task in plan.tasks:
            record = self.record(task.run_id) or {}
            row: dict[str, Any] = {"run_id": task.run_id, "point": task.point}
            row.update({k: _cell(task.params.get(k)) for k in plan.swept})
            row["seed"] = task.seed
            row["status"] = record.get("status", "pending")
            row["error"] = record.get("error")
            row["wall_time_s"] = record.get("wall_time_s", float("nan"))
            summary = from_plain(record.get("summary", {}))
            for col in plan.summary_columns:
                if col != "wall_time_s":
                    value = summary.get(col)
                    row[col] = float("nan") if value is None else float(value)
            rows.append(row)
        frame = pd.DataFrame(rows)
        frame["error"] = frame["error"].astype("string")
        return frame

    def write_table(self, plan: Plan) -> pd.DataFrame:
        frame = self.table(plan)
        write_table(self.root / TABLE_FILE, frame)
        return frame

    def read_table(self) -> pd.DataFrame:
        path = self.root / TABLE_FILE
        if not path.exists():
            raise ConfigError(
                f"report: {self.root} has no {TABLE_FILE}; is it an experiment folder?"
            )
        return pd.read_parquet(path)

    def read_meta(self) -> dict[str, Any]:
        path = self.root / SPEC_FILE
        if not path.exists():
            raise ConfigError(
                f"report: {self.root} has no {SPEC_FILE}; is it an experiment folder?"
            )
        meta = json.loads(path.read_text())
        meta["spec"] = spec_from_plain(meta["spec"])
        return meta
