"""The summary over seeds and the plots, computed from a results folder alone.

Per sweep point and summary metric: the mean over the seeds that succeeded and a Student t
confidence interval, ``mean ± t_{(1+c)/2, n-1} * s / sqrt(n)`` (``scipy.stats.t.interval``);
with one seed the interval is undefined (NaN), with identical values it has width zero.
Figures use matplotlib's object API (``Figure``, Agg canvas), never pyplot's global state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from swarm.config import ConfigError
from swarm.experiments.schema import ExperimentSpec, PlotSpec
from swarm.experiments.store import ResultsStore
from swarm.io import write_atomic, write_table

CONFIDENCE = 0.95  # default level of the intervals


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean, low, high) of the mean of ``values`` (NaN bounds for fewer than 2 values)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(values))
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


def summary_table(
    table: pd.DataFrame, swept: list[str], columns: list[str], confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """One row per sweep point: its parameters, n ok, n failed, and per column mean/low/high."""
    rows = []
    for point, runs in table.groupby("point", sort=True):
        ok = runs[runs["status"] == "ok"]
        row: dict[str, Any] = {"point": point}
        row.update({name: runs[name].iloc[0] for name in swept})
        row["n"] = len(ok)
        row["failed"] = int((runs["status"] == "failed").sum())
        row["pending"] = int((runs["status"] == "pending").sum())
        for col in columns:
            mean, low, high = t_interval(ok[col].to_numpy(), confidence)
            row[f"{col}_mean"], row[f"{col}_low"], row[f"{col}_high"] = mean, low, high
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


def format_summary(summary: pd.DataFrame, swept: list[str], columns: list[str]) -> str:
    """The summary as text: ``mean ± half-width`` per column."""
    shown = pd.DataFrame({name: summary[name] for name in swept})
    shown["n"] = summary["n"]
    if summary["failed"].any():
        shown["failed"] = summary["failed"]
    if summary["pending"].any():
        shown["pending"] = summary["pending"]
    for col in columns:
        mean, low, high = (summary[f"{col}_{s}"] for s in ("mean", "low", "high"))
        shown[col] = [
            _fmt(m) + ("" if not math.isfinite(hi - lo) else f" ± {_fmt((hi - lo) / 2)}")
            for m, lo, hi in zip(mean, low, high, strict=True)
        ]
    return shown.to_string(index=False)


def default_columns(spec: ExperimentSpec, summary_columns: list[str]) -> list[str]:
    """The plotted summary columns, else the tail means (or final values) of every metric."""
    plotted = [p.y for p in spec.plots if p.kind == "sweep" and p.y in summary_columns]
    if plotted:
        return list(dict.fromkeys(plotted))
    prefix = "tail_" if spec.metrics.tail > 0 else "final_"
    return [c for c in summary_columns if c.startswith(prefix)]


# --------------------------------------------------------------------------- plots
def _label(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items()) or "all"


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _save(figure: Any, path: Path) -> None:
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=120))


def _figure(spec: ExperimentSpec, plot: PlotSpec) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # a core dependency; Figure needs no GUI backend

    figure = Figure(figsize=(6.4, 4.2), layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(plot.title or spec.name)
    axes.grid(True, alpha=0.3)
    if plot.logx:
        axes.set_xscale("log")
    if plot.logy:
        axes.set_yscale("log")
    return figure, axes


def sweep_plot(
    spec: ExperimentSpec, plot: PlotSpec, summary: pd.DataFrame, swept: list[str], path: Path
) -> None:
    """``y`` (mean over seeds, CI band) against the swept ``x``, one line per group."""
    figure, axes = _figure(spec, plot)
    x_col = plot.x if plot.x in swept else f"{plot.x}_mean"  # a parameter, or a column's mean
    if plot.groups:
        others = plot.groups
    else:  # one line per combination of the other swept parameters
        others = [s for s in swept if s != plot.x] if plot.x in swept else []
    groups = summary.groupby(others, sort=False) if others else [((), summary)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(x_col)
        x = part[x_col].to_numpy()
        mean = part[f"{plot.y}_mean"].to_numpy(dtype=float)
        low = part[f"{plot.y}_low"].to_numpy(dtype=float)
        high = part[f"{plot.y}_high"].to_numpy(dtype=float)
        label = _label(dict(zip(others, key, strict=True))) if others else "measured"
        if plot.x in swept:  # a swept parameter: a curve with a confidence band
            (line,) = axes.plot(x, mean, marker="o", label=label)
            if np.isfinite(low).any():
                axes.fill_between(x, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
        else:  # x is itself measured: points with error bars, no line drawn between them
            axes.errorbar(
                x, mean, yerr=[mean - low, high - mean] if np.isfinite(low).any() else None,
                fmt="o", capsize=3, label=label,
            )  # fmt: skip
    if plot.reference is not None:
        ref = plot.reference
        lo, hi = (
            np.nanmin(summary[x_col].to_numpy(float)),
            np.nanmax(summary[x_col].to_numpy(float)),
        )
        xs = np.geomspace(lo, hi, 100) if plot.logx and lo > 0 else np.linspace(lo, hi, 100)
        ys = ref.intercept + ref.slope * xs**ref.power
        axes.plot(xs, ys, "k--", linewidth=1, label=ref.label)
    axes.set_xlabel(plot.x)
    axes.set_ylabel(f"{plot.y} (mean, {round(CONFIDENCE * 100)}% CI over seeds)")
    if others or plot.reference is not None:
        axes.legend(fontsize="small")
    _save(figure, path)


def time_plot(
    spec: ExperimentSpec,
    plot: PlotSpec,
    store: ResultsStore,
    table: pd.DataFrame,
    swept: list[str],
    path: Path,
) -> None:
    """``y`` over steps (mean over seeds, CI band), one line per sweep point."""
    figure, axes = _figure(spec, plot)
    label_keys = plot.groups or swept
    ok = table[table["status"] == "ok"]
    for _, runs in ok.groupby("point", sort=True):
        frames = [store.series(rid, ["step", plot.y]) for rid in runs["run_id"]]
        steps = frames[0]["step"].to_numpy()
        values = np.stack([f[plot.y].to_numpy(dtype=float) for f in frames])  # (seeds, steps)
        mean = values.mean(axis=0)
        label = _label({k: runs[k].iloc[0] for k in label_keys})
        (line,) = axes.plot(steps, mean, label=label)
        if len(values) > 1:
            sem = values.std(axis=0, ddof=1) / math.sqrt(len(values))
            half = stats.t.ppf((1 + CONFIDENCE) / 2, len(values) - 1) * sem
            axes.fill_between(
                steps, mean - half, mean + half, color=line.get_color(), alpha=0.2, linewidth=0
            )
    axes.set_xlabel("step")
    axes.set_ylabel(f"{plot.y} (mean, {round(CONFIDENCE * 100)}% CI over seeds)")
    if len(ok["point"].unique()) > 1:
        axes.legend(fontsize="small")
    _save(figure, path)


def draw_plots(
    store: ResultsStore, spec: ExperimentSpec, table: pd.DataFrame, summary: pd.DataFrame,
    swept: list[str],
) -> list[Path]:  # fmt: skip
    """Every plot of the spec, under ``plots/``; returns the files written."""
    written = []
    for plot in spec.plots:
        path = store.root / "plots" / plot.filename
        if plot.kind == "sweep":
            sweep_plot(spec, plot, summary, swept, path)
        else:
            time_plot(spec, plot, store, table, swept, path)
        written.append(path)
    return written


def report(
    root: str | Path,
    columns: list[str] | None = None,
    confidence: float = CONFIDENCE,
    plots: bool = True,
) -> tuple[str, pd.DataFrame, list[Path]]:
    """Summarise a results folder: (text table, summary frame, plot files)."""
    store = ResultsStore(root)
    meta = store.read_meta()
    spec: ExperimentSpec = meta["spec"]
    table = store.read_table()
    swept = list(meta["swept"])
    prefixes = ("final_", "tail_", "rate_")
    available = [c for c in table.columns if c.startswith(prefixes)] + ["wall_time_s"]
    chosen = columns or default_columns(spec, available)
    unknown = [c for c in chosen if c not in available]
    if unknown:
        raise ConfigError(
            f"report --columns: unknown {', '.join(unknown)}; allowed: {', '.join(available)}"
        )
    summary = summary_table(table, swept, available, confidence)
    write_table(store.root / "summary.csv", summary)
    files = draw_plots(store, spec, table, summary, swept) if plots else []
    return format_summary(summary, swept, chosen), summary, files
