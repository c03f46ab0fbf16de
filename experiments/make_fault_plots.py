"""Run the fault-robustness experiments and draw the figures the README embeds.

One spec per scenario (``experiments/faults_*.toml``; flocking reuses
``experiments/flocking_crash_robustness.toml``), each run through the experiment machinery
(:func:`swarm.experiment.run_experiment`, results under ``runs/<name>``; finished runs are
kept and skipped), then one PNG per scenario under ``docs/faults/`` plus ``overview.png``
with all of them: the mean over seeds, and each seed's value as a dot.

    PYTHONPATH=. python3 experiments/make_fault_plots.py            # run what is missing, plot
    PYTHONPATH=. python3 experiments/make_fault_plots.py --plots-only

The whole set takes about two minutes on one core.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from swarm.experiment import load_spec, run_experiment

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "faults"
SPECS = {
    "flocking": "flocking_crash_robustness",
    "consensus": "faults_consensus",
    "coverage": "faults_coverage",
    "search": "faults_search",
    "formation": "faults_formation",
    "rendezvous": "faults_rendezvous",
}


def results(spec_name: str, run: bool) -> pd.DataFrame:
    """The experiment's runs table, running whatever is not finished yet."""
    out = ROOT / "runs" / spec_name
    if run:
        spec = load_spec(ROOT / "experiments" / f"{spec_name}.toml")
        run_experiment(spec, out, resume=out.exists(), progress=True, plots=True)
    table = pd.read_parquet(out / "runs.parquet")
    return table[table["status"] == "ok"]


def curve(
    ax: Axes, table: pd.DataFrame, x: str, y: str, label: str, fill: float | None = None
) -> None:
    """Mean of ``y`` over seeds against ``x``, each seed's value as a faint dot (few seeds
    and skewed or two-valued outcomes make a t band misleading). ``fill``: value given to
    runs whose ``y`` is NaN (e.g. a time never reached: the budget), else they are dropped."""
    xs, means = [], []
    dots_x, dots_y = [], []
    for value, runs in table.groupby(x, sort=True):
        values = runs[y].to_numpy(dtype=float)
        if fill is not None:
            values = np.where(np.isfinite(values), values, fill)
        values = values[np.isfinite(values)]
        xs.append(float(value))
        means.append(values.mean() if len(values) else np.nan)
        dots_x += [float(value)] * len(values)
        dots_y += values.tolist()
    (line,) = ax.plot(xs, means, marker="o", label=label)
    ax.scatter(dots_x, dots_y, s=10, color=line.get_color(), alpha=0.35, linewidths=0)


def flocking(ax: Axes, t: pd.DataFrame) -> None:
    curve(ax, t, "crash_fraction", "tail_polarization", "Vicsek, 400 drones")
    ax.set(xlabel="fraction of drones crashed at step 500", ylabel="polarization (last 25%)")
    ax.set_title("Flocking: order of the survivors")


def consensus(ax: Axes, t: pd.DataFrame) -> None:
    for lost, runs in t.groupby("crash_fraction"):
        tag = "" if lost == 0 else f", {lost:.0%} crashed at step 100"
        curve(ax, runs, "packet_drop", "final_disagreement", f"disagreement after 300 steps{tag}")
        curve(ax, runs, "packet_drop", "final_mean_drift", f"|mean drift|{tag}")
    ax.set_yscale("log")
    ax.set(xlabel="packet drop probability", ylabel="value units")
    ax.set_title("Average consensus: lossy links and crashes")


def coverage(ax: Axes, t: pd.DataFrame) -> None:
    curve(ax, t, "crash_fraction", "final_locational_cost", "Lloyd, 24 drones")
    survivors = t.groupby("crash_fraction")["final_n_alive"].mean()
    area = 20.0**2  # the spec's arena (m^2)
    ax.plot(
        survivors.index, area / (6 * survivors.to_numpy()), "k--", linewidth=1,
        label="A / (6 n_alive): a fresh CVT of the survivors",
    )  # fmt: skip
    ax.set_yscale("log")
    ax.set(xlabel="fraction of drones crashed at step 100", ylabel="locational cost H (m^2)")
    ax.set_title("Coverage: survivors close the gaps")


def search(ax: Axes, t: pd.DataFrame) -> None:
    budget = 1500 * 0.1  # the spec's steps x dt (s): runs that never found all count as this
    for (policy, drop), runs in t.groupby(["policy", "packet_drop"]):
        label = f"{policy}, drop {drop:g}"
        curve(ax, runs, "crash_fraction", "final_time_to_find_all", label, fill=budget)
    ax.set(
        xlabel="fraction of drones lost at step 50",
        ylabel="time to find all 10 targets (s; 150 = not all)",
    )
    ax.set_title("Search and rescue with drones lost")


def formation(ax: Axes, t: pd.DataFrame) -> None:
    gain = "policy_params.anchor_gain"
    for (drop, k_a), runs in t.groupby(["packet_drop", gain]):
        law = "displacement" if k_a == 0 else f"+ anchor k_a={k_a:g}"
        curve(ax, runs, "crash_fraction", "tail_formation_error", f"{law}, drop {drop:g}")
    ax.set_yscale("symlog", linthresh=1e-3)
    ax.set(xlabel="fraction of drones crashed at step 30", ylabel="formation error (m, RMS)")
    ax.set_title("Formation: error of the survivors")


def rendezvous(ax: Axes, t: pd.DataFrame) -> None:
    for sigma, runs in t.groupby("sensor_noise_pos"):
        label = "exact sensors" if sigma == 0 else f"sensor noise {sigma:g} m"
        curve(ax, runs, "crash_fraction", "final_position_spread", label)
    ax.set_yscale("log")
    ax.set(xlabel="fraction of drones crashed at step 20", ylabel="spread of the survivors (m)")
    ax.set_title("Rendezvous: the survivors still meet")


DRAW: dict[str, Callable[[Axes, pd.DataFrame], None]] = {
    "flocking": flocking,
    "consensus": consensus,
    "coverage": coverage,
    "search": search,
    "formation": formation,
    "rendezvous": rendezvous,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots-only", action="store_true", help="do not run anything")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tables = {name: results(spec, not args.plots_only) for name, spec in SPECS.items()}
    overview = Figure(figsize=(15, 8.4), layout="constrained")
    panels = overview.subplots(2, 3).ravel()
    for ax, (name, table) in zip(panels, tables.items(), strict=False):
        single = Figure(figsize=(6.4, 4.2), layout="constrained")
        for target in (single.add_subplot(), ax):
            DRAW[name](target, table)
            target.grid(True, alpha=0.3)
            target.legend(fontsize="small")
        single.savefig(OUT / f"{name}.png", dpi=110)
        print(f"plot: {OUT / f'{name}.png'}")
    overview.suptitle("Decentralised swarms under faults (line: mean over seeds; dots: seeds)")
    overview.savefig(OUT / "overview.png", dpi=90)
    print(f"plot: {OUT / 'overview.png'}")


if __name__ == "__main__":
    main()
