"""Per-seed evaluation results, a summary with honest uncertainty, and the files they go to.

A mean over a handful of seeds hides how far it would move with other seeds. Following
Agarwal et al. 2021, *Deep Reinforcement Learning at the Edge of the Statistical Precipice*
(the ``rliable`` library), every controller's (or pairing's) metric is summarised by its mean
and its interquartile mean (IQM: the mean of the middle 50 % of the seeds, which one lucky
or crashed seed cannot drag), each with a 95 % stratified bootstrap confidence interval over
seeds. The strata are tasks: here one task, the scenario, and every metric is summarised on
its own (metrics have different units, so they are never pooled). With one task the
stratified bootstrap is the ordinary bootstrap over seeds.

The intervals come from ``rliable.library.get_interval_estimates`` with
``rliable.metrics.aggregate_iqm`` when rliable imports and runs; otherwise from
``scipy.stats.bootstrap`` (percentile method, the same resampling), and ``summary.json``
and the printed table say which estimator was used and why.

Files (``swarm eval ... --out DIR``): ``results.parquet`` and ``results.json`` (one row per
controller or pairing x seed: every final metric and the episode return) and
``summary.json``. Like a run folder (:func:`swarm.runner.check_out`), ``DIR`` must be new,
empty, or an earlier ``swarm eval`` report holding only these files; anything else is
refused before any episode runs, and nothing is overwritten that this program did not write.
``--marl-eval FILE`` exports the per-seed results in marl-eval's raw-data JSON layout
(:func:`marl_eval_document`); the file must not exist yet.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, trim_mean

from swarm.config import ConfigError
from swarm.io import file_mode, publish_dir, staging_dir, write_json, write_table
from swarm.resources import check_new_file, check_writable

RESULTS_PARQUET = "results.parquet"
RESULTS_JSON = "results.json"
SUMMARY_JSON = "summary.json"
REPORT_FILES = (RESULTS_PARQUET, RESULTS_JSON, SUMMARY_JSON)
WRITTEN_BY = "swarm eval"  # summary.json's mark: a folder holding it may be rewritten
CONFIDENCE = 0.95
BOOTSTRAP_REPS = 2_000  # rliable's arch loop: ~0.5 ms a resample
IQM_CUT = 0.25  # the IQM drops the lowest and the highest quarter
MARL_EVAL_ENV = "swarm-sandbox"  # marl-eval's top level: the environment (suite) name
TABLE_SUFFIXES = (".csv", ".parquet")  # --out naming one file: the per-seed table alone


# --------------------------------------------------------------------------- estimators
@dataclass(frozen=True)
class Estimator:
    """Which bootstrap computes the intervals: ``name`` is "rliable" or "scipy"; ``note``
    says what exactly ran (and, for scipy, why rliable did not)."""

    name: str
    note: str


@functools.cache
def estimator() -> Estimator:
    """rliable when it imports *and* runs (a tiny estimate is tried: rliable 1.2.0 imports
    with arch 8 but its calls fail there), else scipy's bootstrap, with the reason."""
    try:
        from rliable import library, metrics

        scores = np.array([[0.0], [1.0], [2.0]])
        library.get_interval_estimates(
            {"probe": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=20,
            random_state=np.random.RandomState(0),
        )  # fmt: skip
    except Exception as err:  # ImportError, or an incompatible arch/pandas underneath
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        return Estimator(
            "scipy",
            "scipy.stats.bootstrap, percentile, over seeds (rliable unavailable: "
            f"{type(err).__name__}{': ' + reason if reason else ''})",
        )
    from importlib.metadata import version

    return Estimator(
        "rliable",
        f"rliable {version('rliable')} get_interval_estimates (stratified bootstrap, "
        "percentile; one task: the scenario)",
    )


def interquartile_mean(values: np.ndarray) -> float:
    """Mean of the middle 50 % (25 % trimmed from each end, as rliable's aggregate_iqm)."""
    return float(trim_mean(np.asarray(values, dtype=np.float64), IQM_CUT, axis=None))


def _means_and_iqms(scores: np.ndarray, axis: int = 0) -> np.ndarray:
    """Per column (task) its mean, then per column its IQM."""
    return np.concatenate([np.mean(scores, axis=axis), trim_mean(scores, IQM_CUT, axis=axis)])


def _rliable_intervals(x: np.ndarray, confidence: float, reps: int, seed: int) -> np.ndarray:
    """``x``: seeds x tasks (one task per metric). rliable's stratified bootstrap resamples
    the seeds of every task independently, so each metric's interval is its own bootstrap,
    and one call serves all metrics (its resampling loop is slow: one call per group)."""
    from rliable import library, metrics

    def means_and_iqms(scores: np.ndarray) -> np.ndarray:
        iqms = [metrics.aggregate_iqm(scores[:, task]) for task in range(scores.shape[1])]
        return np.concatenate([np.mean(scores, axis=0), iqms])

    _, intervals = library.get_interval_estimates(
        {"x": x}, means_and_iqms, reps=reps, confidence_interval_size=confidence,
        random_state=np.random.RandomState(seed),
    )  # fmt: skip
    return np.asarray(intervals["x"])  # rows: low, high; columns: means, then IQMs


def _scipy_intervals(x: np.ndarray, confidence: float, reps: int, seed: int) -> np.ndarray:
    result = bootstrap(
        (x,), _means_and_iqms, vectorized=True, axis=0, confidence_level=confidence,
        n_resamples=reps, method="percentile", rng=np.random.default_rng(seed),
    )  # fmt: skip
    ci = result.confidence_interval
    return np.array([ci.low, ci.high])


def _point_estimates(column: np.ndarray) -> dict[str, Any]:
    """Count, mean and IQM of the finite values; intervals NaN until computed."""
    x = column[np.isfinite(column)]
    nan = float("nan")
    mean, iqm = (float(np.mean(x)), interquartile_mean(x)) if len(x) else (nan, nan)
    return {"n": len(x), "n_missing": len(column) - len(x), "mean": mean,
            "mean_ci": [nan, nan], "iqm": iqm, "iqm_ci": [nan, nan]}  # fmt: skip


def estimate_columns(
    scores: Any,
    confidence: float = CONFIDENCE,
    reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    method: Estimator | None = None,
) -> list[dict[str, Any]]:
    """Per column of ``scores`` (seeds x metrics): mean and IQM of its finite values with
    bootstrap intervals over seeds.

    NaN values (e.g. a capture time in an episode without a capture) are left out and
    counted in ``n_missing``. One value has no interval (NaN bounds); equal values have a
    zero-width one. Complete columns share one bootstrap call; a column with NaN gets its
    own, over its ``n`` seeds.
    """
    scores = np.asarray(scores, dtype=np.float64)
    scores = scores.reshape(len(scores), -1)
    method = method or estimator()
    compute = _rliable_intervals if method.name == "rliable" else _scipy_intervals
    out = [_point_estimates(scores[:, j]) for j in range(scores.shape[1])]

    def fill(columns: list[int], x: np.ndarray) -> None:
        bounds = compute(x, confidence, reps, seed)
        m = len(columns)
        for k, j in enumerate(columns):
            out[j]["mean_ci"] = [float(bounds[0, k]), float(bounds[1, k])]
            out[j]["iqm_ci"] = [float(bounds[0, m + k]), float(bounds[1, m + k])]

    complete = []
    for j, stats in enumerate(out):
        x = scores[np.isfinite(scores[:, j]), j]
        if len(x) < 2:
            continue
        if np.ptp(x) == 0:  # no spread: nothing to resample
            stats["mean_ci"], stats["iqm_ci"] = [stats["mean"]] * 2, [stats["iqm"]] * 2
        elif stats["n_missing"]:
            fill([j], x[:, None])
        else:
            complete.append(j)
    if complete:
        fill(complete, scores[:, complete])
    return out


def estimate(
    values: Any,
    confidence: float = CONFIDENCE,
    reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    method: Estimator | None = None,
) -> dict[str, Any]:
    """:func:`estimate_columns` of one metric's values (one per seed)."""
    column = np.asarray(values, dtype=np.float64).ravel()[:, None]
    return estimate_columns(column, confidence, reps, seed, method)[0]


# --------------------------------------------------------------------------- summary
def group_label(key: Any, by: list[str]) -> str:
    """The name of one controller (``learned``) or pairing (``pursuers=X, evaders=Y``)."""
    values = key if isinstance(key, tuple) else (key,)
    if by == ["controller"]:
        return str(values[0])
    return ", ".join(f"{column}={value}" for column, value in zip(by, values, strict=True))


def metric_columns(table: pd.DataFrame, by: list[str]) -> list[str]:
    """The numeric columns worth a summary: all but the seed and the grouping columns."""
    skip = {"seed", *by}
    return [c for c in table.columns
            if c not in skip and pd.api.types.is_numeric_dtype(table[c])]  # fmt: skip


def summarize(
    table: pd.DataFrame,
    by: list[str],
    confidence: float = CONFIDENCE,
    reps: int = BOOTSTRAP_REPS,
    seed: int = 0,
    method: Estimator | None = None,
) -> dict[str, Any]:
    """Per group (controller or pairing) and metric: :func:`estimate` over its seeds.
    Every group resamples with the same seed, so reruns give the same intervals."""
    method = method or estimator()
    columns = metric_columns(table, by)
    groups: dict[str, dict[str, Any]] = {}
    for key, rows in table.groupby(by if len(by) > 1 else by[0], sort=False):
        scores = rows[columns].to_numpy(dtype=np.float64)
        stats = estimate_columns(scores, confidence, reps, seed, method)
        groups[group_label(key, by)] = dict(zip(columns, stats, strict=True))
    return {
        "written_by": WRITTEN_BY,
        "group_by": by,
        "estimator": method.name,
        "estimator_note": method.note,
        "confidence": confidence,
        "bootstrap_reps": reps,
        "tasks": "one task, the scenario; each metric summarised on its own",
        "seeds": sorted(int(s) for s in table["seed"].unique()),
        "groups": groups,
    }


def estimator_line(summary: dict[str, Any]) -> str:
    """One line saying how the intervals were made (printed under the tables)."""
    n = len(summary["seeds"])
    return (f"{summary['confidence'] * 100:g} % intervals over {n} seed{'s' if n != 1 else ''}"
            f" by {summary['estimator_note']}")  # fmt: skip


# --------------------------------------------------------------------------- --out DIR
def is_table_file(out: str | Path) -> bool:
    """``--out x.csv`` / ``x.parquet`` (not an existing folder): the per-seed table alone."""
    path = Path(out)
    return path.suffix in TABLE_SUFFIXES and not path.is_dir()


def _ours(folder: Path) -> bool:
    try:
        summary = json.loads((folder / SUMMARY_JSON).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and summary.get("written_by") == WRITTEN_BY


def check_report_dir(out: str | Path, option: str = "--out") -> Path:
    """May a report be written to folder ``out``? Checked before any episode runs; refuses
    with one line naming ``option`` and what it takes."""
    out = Path(out)
    allowed = (f"allowed: a new folder, an empty one, or an earlier {WRITTEN_BY} report "
               f"({', '.join(REPORT_FILES)}); or a file name ending in .csv or .parquet "
               "for the per-seed table alone")  # fmt: skip
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ConfigError(f"{option} {out}: is a file; nothing is overwritten; {allowed}")
    try:
        check_writable(out, option)
    except ConfigError as err:
        raise ConfigError(f"{err}; {allowed}") from None
    if not out.exists():
        return out
    entries = sorted(p.name for p in out.iterdir())
    if not entries or (set(entries) <= set(REPORT_FILES) and _ours(out)):
        return out
    shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
    raise ConfigError(
        f"{option} {out}: the folder holds files {WRITTEN_BY} did not write ({shown}); "
        f"nothing is overwritten; {allowed}"
    )


def results_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The per-seed rows as JSON-ready dicts (NaN becomes null when written)."""
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")]  # fmt: skip


def _write_files(folder: Path, table: pd.DataFrame, summary: dict[str, Any]) -> None:
    plain = pd.DataFrame(table)  # attrs (e.g. "headline") are the printer's, not the data's
    plain.attrs = {}
    write_table(folder / RESULTS_PARQUET, plain)
    write_json(folder / RESULTS_JSON, results_records(plain))
    write_json(folder / SUMMARY_JSON, summary)  # last: its mark makes the folder ours


def write_report(out: str | Path, table: pd.DataFrame, summary: dict[str, Any]) -> Path:
    """Write the report folder: a new one is staged beside ``out`` and renamed into place
    whole; an existing (empty, or earlier report) one gets each file atomically."""
    out = check_report_dir(out)
    if out.exists():
        _write_files(out, table, summary)
        return out
    staging = staging_dir(out)
    try:
        _write_files(staging, table, summary)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    publish_dir(staging, out)  # if --out appeared meanwhile, the report stays staged
    return out


# --------------------------------------------------------------------------- marl-eval
def marl_eval_document(
    table: pd.DataFrame,
    by: list[str],
    task: str,
    step_count: int,
    env_name: str = MARL_EVAL_ENV,
) -> tuple[dict[str, Any], list[str]]:
    """The per-seed results in marl-eval's raw-data layout, and the metrics left out.

    Layout (InstaDeep's marl-eval README, "Data Structure for Raw Experiment data",
    github.com/instadeepai/marl-eval; the format BenchMARL writes)::

        {env_name: {task_name: {algorithm_name: {"run_<seed>": {
            "step_1": {"step_count": int, metric: [value per evaluation episode]},
            "absolute_metrics": {metric: [values]}}}}}}

    Here env_name is ``swarm-sandbox``, the task is the scenario, an algorithm is a
    controller or pairing, and a run is a seed (marl-eval allows naming runs by seed). Each
    run played one evaluation episode, so every list holds one value; a final evaluation
    has one logging step, ``step_1``, whose ``step_count`` is the episode's length, and
    ``absolute_metrics`` (marl-eval reads it as the last key of a run) repeats it. marl-eval
    needs every metric in every run, as numbers: a metric with a NaN anywhere (a capture
    time without a capture) is left out and returned in the second value.
    """
    columns = metric_columns(table, by)
    values = table[columns].astype(np.float64)
    dropped = [c for c in columns if not np.isfinite(values[c].to_numpy()).all()]
    kept = [c for c in columns if c not in dropped]
    algorithms: dict[str, Any] = {}
    for key, rows in table.groupby(by if len(by) > 1 else by[0], sort=False):
        runs: dict[str, Any] = {}
        for _, row in rows.iterrows():
            metrics = {c: [float(row[c])] for c in kept}
            runs[f"run_{int(row['seed'])}"] = {
                "step_1": {"step_count": int(step_count), **metrics},
                "absolute_metrics": {c: list(v) for c, v in metrics.items()},
            }
        algorithms[group_label(key, by)] = runs
    return {env_name: {task: algorithms}}, dropped


def marl_eval_table(document: dict[str, Any]) -> pd.DataFrame:
    """The inverse of :func:`marl_eval_document`: one row per (task, algorithm, seed) with
    the absolute metrics (first value of each list); for checks and for reading back."""
    rows = []
    for env_name, tasks in document.items():
        for task, algorithms in tasks.items():
            for algorithm, runs in algorithms.items():
                for run, logged in runs.items():
                    absolute = logged["absolute_metrics"]
                    rows.append({"env": env_name, "task": task, "algorithm": algorithm,
                                 "seed": int(run.removeprefix("run_")),
                                 **{m: v[0] for m, v in absolute.items()}})  # fmt: skip
    return pd.DataFrame(rows)


def check_marl_eval_file(path: str | Path, report_dir: str | Path | None) -> Path:
    """``--marl-eval FILE``: a new file (nothing is overwritten), not one of the report's."""
    file = check_new_file(path, "--marl-eval")
    if report_dir is not None and not is_table_file(report_dir):
        inside = file.absolute().parent == Path(report_dir).absolute()
        if inside and file.name in REPORT_FILES:
            raise ConfigError(f"--marl-eval {file}: is a file of the --out report; "
                              "choose another name")  # fmt: skip
    return file


def write_new_json(path: str | Path, data: Any, option: str = "--marl-eval") -> None:
    """Write JSON to a path that must not exist: staged in a temporary sibling, then linked
    into place (``os.link`` never replaces a file that appeared meanwhile)."""
    path = check_new_file(path, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write_json(Path(tmp), data)
        os.chmod(tmp, file_mode())
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise ConfigError(f"{option} {path}: appeared while the results were being "
                              "written; nothing was overwritten") from None  # fmt: skip
    finally:
        Path(tmp).unlink(missing_ok=True)
