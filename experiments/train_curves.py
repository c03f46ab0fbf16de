"""Learning curves over training seeds (cooperative navigation, flocking) and the DDP check.

For each task (navigation with 3 and 10 drones, flocking with 10): IPPO and MAPPO (shared
MLP actor) trained with the ``local`` trainer on ``--train-seeds K`` seeds (0..K-1, one run
folder each). A run's curve is its training episode return against environment steps
(smoothed over 10 updates); the plot shows, per algorithm, the mean over training seeds at
each env-step with a 95 % bootstrap interval over seeds (:func:`swarm.learn.report.estimate`,
seeds resampled independently at each step), beside the returns of two baselines run in the
Mesa model on held-out seeds: uniform random actions and the scenario's classic controller
(navigation's default ``random_walk``; ``boids`` for flocking), each a mean with its 95 %
interval over the held-out seeds.

Every trained policy is evaluated on the same held-out seeds, deterministic (mean action).
Following rliable, the unit of the summary is the training run: per training seed the mean
held-out return, then across training seeds the mean and the IQM with 95 % intervals. Every
(training seed, held-out seed) return goes to ``results.json`` too.
``--with-rllib`` adds IPPO trained by the ``rllib`` plug-in (RLlib's PPO on the PettingZoo
env, the same network shape and PPO settings) on the same budget, seeds and held-out seeds.
Then DDP: the same total batch (``--ddp-envs`` environments) trained by 1 rank and by 2
ranks (``--trainer ddp --nproc 2``), env steps per second of the training loop compared.

    PYTHONPATH=. python3 experiments/train_curves.py             # all, 5 seeds (~35 min)
    PYTHONPATH=. python3 experiments/train_curves.py --skip-ddp --tasks navigation_n3 \
        --train-seeds 5 --budget-scale 0.5
    PYTHONPATH=. python3 experiments/train_curves.py --skip-curves    # DDP check alone

Outputs: ``docs/learning/TASK.png`` and ``docs/learning/results.json`` (per-seed returns,
summaries, the estimator, wall times, budgets, the DDP ratio and the machine's load
average), each replaced atomically; entries of ``results.json`` this invocation did not
recompute are kept. Runs go to a new folder ``runs/learning/<timestamp>/`` (``TASK-ALGO-sSEED``,
``ddp-...``); an existing one is refused, and nothing this invocation did not create is
deleted or overwritten there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from swarm.io import write_atomic, write_json
from swarm.learn.evaluate import UNIFORM_RANDOM, baseline_model, run_model
from swarm.learn.loop import TrainJob
from swarm.learn.policy import load_policy
from swarm.learn.ppo import PPOConfig
from swarm.learn.report import CONFIDENCE, estimate, estimate_columns, estimator
from swarm.learn.trainers import load_trainer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "learning"
RUNS = ROOT / "runs" / "learning"
EPISODE = 50  # steps per episode (5 s at dt = 0.1 s): time to reach a landmark 5 m away
NUM_ENVS = 16
EVAL_SEEDS = range(10_000, 10_016)  # held out: training resets use derived seeds
SMOOTH = 10  # updates in a run's rolling mean before the seeds are combined
CURVE_POINTS = 100  # env-steps at which the band across seeds is bootstrapped


@dataclass(frozen=True)
class Task:
    """One learning curve: scenario, swarm, budget, the classic controller beside it."""

    scenario: str
    n_agents: int
    world_size: float  # m; grows with the swarm so the density stays about the same
    env_steps: int  # training budget at --budget-scale 1
    classic: str  # the scenario's classic controller
    reward_scale: float  # PPO sees reward x this: team returns of order 1
    title: str


NAV = "cooperative navigation"
TASKS = {
    "navigation_n3": Task("navigation", 3, 8.0, 240_000, "random_walk", 0.1, NAV),
    "navigation_n10": Task("navigation", 10, 14.0, 160_000, "random_walk", 0.03, NAV),
    "flocking_n10": Task("flocking", 10, 10.0, 160_000, "boids", 1.0, "flocking"),
}  # fmt: skip
ALGOS = {"ippo": ("ippo", "local"), "mappo": ("mappo", "local")}  # key: (algo, trainer)
RLLIB = {"rllib_ippo": ("ippo", "rllib")}
NAMES = {"ippo": "IPPO", "mappo": "MAPPO", "rllib_ippo": "IPPO (RLlib)"}
COLOURS = {"ippo": "tab:blue", "mappo": "tab:orange", "rllib_ippo": "tab:green"}


def env_config(task: Task) -> dict[str, Any]:
    return {"n_agents": task.n_agents, "world_size": task.world_size, "max_cycles": EPISODE}


def scaled_steps(task: Task, scale: float) -> int:
    """The task's budget x ``scale``, in whole updates (at least one), so every seed of a
    task logs the same env-steps and the curves line up."""
    per_update = EPISODE * NUM_ENVS
    return max(1, round(task.env_steps * scale / per_update)) * per_update


def job(task: Task, algo: str, out: Path, total_steps: int, seed: int = 0,
        num_envs: int = NUM_ENVS, num_minibatches: int = 4, **kw: Any) -> TrainJob:  # fmt: skip
    ppo = PPOConfig(rollout_steps=EPISODE, learning_rate=1e-3, reward_scale=task.reward_scale,
                    num_minibatches=num_minibatches)  # fmt: skip
    return TrainJob(scenario=task.scenario, env_config=env_config(task), algo=algo,
                    total_steps=total_steps, num_envs=num_envs, seed=seed, out=str(out),
                    progress=False, checkpoint_every=10_000, ppo=ppo, **kw)  # fmt: skip


def heldout_returns(make_model: Callable[[int], Any]) -> list[float]:
    """Team return of one episode per held-out seed."""
    return [float(run_model(make_model(s), EPISODE)["episode_return"]) for s in EVAL_SEEDS]


def summary_of(values: list[float]) -> dict[str, Any]:
    """Mean and IQM with 95 % intervals (swarm.learn.report), as JSON-ready fields."""
    stats = estimate(values)
    return {k: stats[k] for k in ("n", "mean", "mean_ci", "iqm", "iqm_ci")}


def new_invocation_dir() -> Path:
    """A folder for this invocation's runs; never one that exists (refused, one line)."""
    folder = RUNS / time.strftime("%Y%m%d-%H%M%S")
    RUNS.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir()
    except FileExistsError:
        sys.exit(f"train_curves: {folder} exists; nothing is overwritten: start again later")
    return folder


def train_seeds(name: str, key: str, seeds: list[int], steps: int, runs: Path) -> dict[str, Any]:
    """Train ``key`` on ``name`` once per seed, each in its own new folder; per seed the wall
    time and the held-out returns, then the summary across seeds."""
    task = TASKS[name]
    algo, trainer = {**ALGOS, **RLLIB}[key]
    records, curves = [], []
    for seed in seeds:
        out = runs / f"{name}-{key}-s{seed}"  # inside this invocation's folder: always new
        summary = load_trainer(trainer).run(job(task, algo, out, steps, seed, trainer=trainer))
        tick = time.perf_counter()
        returns = heldout_returns(load_policy(out).make_model)
        record = {
            "seed": seed,
            "run": str(out.relative_to(ROOT)),
            "wall_time_s": summary["wall_time_s"],
            "env_steps_per_s": summary["env_steps_per_s"],
            "eval_wall_s": time.perf_counter() - tick,
            "heldout_mean": float(np.mean(returns)),
            "heldout_returns": returns,
        }
        records.append(record)
        curves.append(pd.read_parquet(out / "metrics.parquet")[["env_steps", "episode_return"]])
        print(f"{name} {key} seed {seed}: {record['wall_time_s']:.0f} s, "
              f"held-out mean {record['heldout_mean']:.4g}", flush=True)  # fmt: skip
    heldout = summary_of([r["heldout_mean"] for r in records])
    print(f"{name} {key}: mean {heldout['mean']:.4g} {fmt_ci(heldout['mean_ci'])}, "
          f"IQM {heldout['iqm']:.4g} {fmt_ci(heldout['iqm_ci'])}", flush=True)  # fmt: skip
    return {
        "algo": algo,
        "trainer": trainer,
        "heldout": heldout,
        "wall_time_s": summary_of([r["wall_time_s"] for r in records]),
        "train_wall_s_total": float(sum(r["wall_time_s"] for r in records)),
        "runs": records,
        "curve": seed_band(curves),
    }


def seed_band(curves: list[pd.DataFrame]) -> dict[str, list[float]]:
    """Across seeds at each of up to CURVE_POINTS env-steps: the mean of the runs' smoothed
    training returns and its 95 % bootstrap interval over seeds."""
    smooth = [c.set_index("env_steps")["episode_return"].rolling(SMOOTH, min_periods=1).mean()
              for c in curves]  # fmt: skip
    table = pd.concat(smooth, axis=1, join="inner")  # seeds as columns, shared env-steps
    rows = np.unique(np.linspace(0, len(table) - 1, min(CURVE_POINTS, len(table))).round())
    table = table.iloc[rows.astype(int)]
    stats = estimate_columns(table.to_numpy().T)  # seeds x env-steps
    return {
        "env_steps": [int(s) for s in table.index],
        "mean": [s["mean"] for s in stats],
        "low": [s["mean_ci"][0] for s in stats],
        "high": [s["mean_ci"][1] for s in stats],
    }


def fmt_ci(ci: list[float]) -> str:
    return f"[{ci[0]:.4g}, {ci[1]:.4g}]"


def learning_curves(name: str, args: argparse.Namespace, runs: Path) -> dict[str, Any]:
    task = TASKS[name]
    cfg = env_config(task)
    seeds = list(range(args.train_seeds))
    steps = scaled_steps(task, args.budget_scale)
    started = time.perf_counter()
    result: dict[str, Any] = {
        "scenario": task.scenario, "n_agents": task.n_agents, "world_size": task.world_size,
        "env_steps": steps, "env_steps_full_budget": task.env_steps,
        "budget_scale": args.budget_scale, "num_envs": NUM_ENVS, "episode_steps": EPISODE,
        "train_seeds": seeds, "heldout_seeds": list(EVAL_SEEDS),
        "estimator": estimator().note, "confidence": CONFIDENCE,
        "unit": "training seed (per seed: mean over the held-out seeds)",
        "load_average_before": os.getloadavg(), "baselines": {},
    }  # fmt: skip
    for base in (UNIFORM_RANDOM, task.classic):
        tick = time.perf_counter()
        returns = heldout_returns(lambda s, b=base: baseline_model(task.scenario, b, cfg, s))
        result["baselines"][base] = {
            **summary_of(returns), "eval_wall_s": time.perf_counter() - tick,
            "heldout_returns": returns,
        }  # fmt: skip
    keys = list(ALGOS) + (list(RLLIB) if args.with_rllib else [])
    for key in keys:
        result[key] = train_seeds(name, key, seeds, steps, runs)
    result["wall_time_s"] = time.perf_counter() - started
    result["load_average_after"] = os.getloadavg()
    plot(name, keys, result)
    return result


def plot(name: str, keys: list[str], result: dict[str, Any]) -> None:
    task = TASKS[name]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    n = len(result["train_seeds"])
    for key in keys:
        curve, heldout = result[key]["curve"], result[key]["heldout"]
        colour = COLOURS[key]
        wall = result[key]["wall_time_s"]["mean"]
        ax.plot(curve["env_steps"], curve["mean"], color=colour,
                label=f"{NAMES[key]} training, mean of {n} seeds ({wall:.0f} s a run)")  # fmt: skip
        ax.fill_between(curve["env_steps"], curve["low"], curve["high"], color=colour,
                        alpha=0.25, linewidth=0)  # fmt: skip
        low, high = heldout["mean_ci"]
        yerr = [[heldout["mean"] - low], [high - heldout["mean"]]]
        ax.errorbar(curve["env_steps"][-1], heldout["mean"], yerr=yerr, fmt="o", color=colour,
                    capsize=3, label=f"{NAMES[key]} trained, held-out seeds")  # fmt: skip
    for base, style in ((UNIFORM_RANDOM, ":"), (task.classic, "--")):
        stats = result["baselines"][base]
        ax.axhline(stats["mean"], color="grey", linestyle=style, label=f"{base} (held-out seeds)")
        ax.axhspan(*stats["mean_ci"], color="grey", alpha=0.1, linewidth=0)
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"team return per {EPISODE}-step episode")
    ax.set_title(f"{task.title}, {task.n_agents} drones, {task.world_size:g} m arena\n"
                 f"bands: 95 % bootstrap CI of the mean over {n} training seeds "
                 f"(baselines: {len(EVAL_SEEDS)} held-out seeds)", fontsize=9)  # fmt: skip
    ax.legend(fontsize=7, loc="best")
    write_atomic(OUT / f"{name}.png", lambda tmp: fig.savefig(tmp, dpi=120, format="png"))


def ddp_throughput(name: str, num_envs: int, updates: int, minibatches: int,
                   runs: Path) -> dict[str, Any]:  # fmt: skip
    """Same total batch (num_envs environments, the same PPO minibatches over all of them)
    by 1 rank and by 2 ranks; env steps per second of the training loop (process start
    excluded; the first update, which compiles and warms up, is left out)."""
    total = EPISODE * num_envs * updates
    rates = {}
    for trainer, nproc in (("local", 1), ("ddp", 2)):
        out = runs / f"ddp-{name}-{trainer}{nproc}"  # inside this invocation's folder
        tick = time.perf_counter()
        load_trainer(trainer).run(job(TASKS[name], "ippo", out, total, 0, num_envs, minibatches,
                                      trainer=trainer, nproc=nproc))  # fmt: skip
        metrics = pd.read_parquet(out / "metrics.parquet").iloc[1:]
        rates[f"{trainer}x{nproc}"] = {
            "env_steps_per_s": float(EPISODE * num_envs / metrics["update_s"].mean()),
            "rollout_s_per_update": float(metrics["rollout_s"].mean()),
            "learn_s_per_update": float(metrics["learn_s"].mean()),
            "process_wall_s": time.perf_counter() - tick,
        }
        print(f"{name} {trainer} x{nproc}: {rates[f'{trainer}x{nproc}']}", flush=True)
    ratio = rates["ddpx2"]["env_steps_per_s"] / rates["localx1"]["env_steps_per_s"]
    return {"task": name, "num_envs": num_envs, "updates": updates,
            "num_minibatches": minibatches, **rates, "ratio": ratio}  # fmt: skip


def kept_fields(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """A task's new entry, plus the fields of its earlier entry this run did not recompute
    (e.g. ``rllib_ippo`` from a ``--with-rllib`` run), under ``kept_from_earlier_run``:
    results that took a long run are not lost to a shorter one."""
    if not isinstance(old, dict):
        return new
    redone = {*new, *new.get("baselines", {}), "kept_from_earlier_run"}
    kept = {**old.get("kept_from_earlier_run", {}),
            **{k: v for k, v in old.items() if k not in redone}}  # fmt: skip
    kept = {k: v for k, v in kept.items() if k not in redone}
    return {**new, "kept_from_earlier_run": kept} if kept else new


def print_table(results: dict[str, Any], names: list[str]) -> None:
    """The held-out table: mean and IQM [95 % CI] over training seeds, baselines beside."""
    print("\n| task | controller | mean [95 % CI] | IQM [95 % CI] | n |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name in names:
        entry = results[name]
        rows = {NAMES[k]: entry[k]["heldout"] for k in (*ALGOS, *RLLIB) if k in entry}
        rows.update({b: s for b, s in entry["baselines"].items()})
        for label, s in rows.items():
            print(f"| {name} | {label} | {s['mean']:.4g} {fmt_ci(s['mean_ci'])} | "
                  f"{s['iqm']:.4g} {fmt_ci(s['iqm_ci'])} | {s['n']} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--train-seeds", type=int, default=5, help="training seeds 0..K-1")
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="multiplies each task's env_steps (whole updates, >= 1)")  # fmt: skip
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--with-rllib", action="store_true", help="also IPPO via RLlib")
    parser.add_argument("--ddp-task", default="navigation_n3", choices=list(TASKS))
    parser.add_argument("--ddp-envs", type=int, default=256, help="environments, all ranks")
    parser.add_argument("--ddp-updates", type=int, default=8)
    parser.add_argument("--ddp-minibatches", type=int, default=4, help="PPO minibatches")
    args = parser.parse_args()
    if args.train_seeds < 1 or args.budget_scale <= 0:
        parser.error("--train-seeds must be >= 1 and --budget-scale > 0")
    started = time.perf_counter()
    runs = new_invocation_dir()
    results_file = OUT / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    invocation = {
        "command": " ".join(["python", "experiments/train_curves.py", *sys.argv[1:]]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "runs": str(runs.relative_to(ROOT)),
        "cpus": os.cpu_count(), "load_average_before": os.getloadavg(),
    }  # fmt: skip
    names = [] if args.skip_curves else args.tasks
    for name in names:
        results[name] = kept_fields(results.get(name), learning_curves(name, args, runs))
        write_json(results_file, results)  # each finished task is kept if a later one fails
    if not args.skip_ddp:
        key = f"ddp_{args.ddp_task}_e{args.ddp_envs}_mb{args.ddp_minibatches}"
        load = os.getloadavg()
        results[key] = ddp_throughput(
            args.ddp_task, args.ddp_envs, args.ddp_updates, args.ddp_minibatches, runs
        )
        results[key]["load_average_before"] = load
        print(f"DDP 2 ranks / 1 rank throughput: {results[key]['ratio']:.2f}x")
    invocation["load_average_after"] = os.getloadavg()
    invocation["wall_time_s"] = time.perf_counter() - started
    results["last_invocation"] = invocation
    write_json(results_file, results)
    if names:
        print_table(results, names)
        print(f"\n{CONFIDENCE * 100:g} % intervals over {args.train_seeds} training seeds "
              f"(baselines: {len(EVAL_SEEDS)} held-out seeds) by {estimator().note}")  # fmt: skip
    print(f"wall time {invocation['wall_time_s']:.0f} s; runs in {runs}")


if __name__ == "__main__":
    main()
