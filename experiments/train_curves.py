"""Learning curves (cooperative navigation, flocking) and the DDP throughput check.

For each task (navigation with 3 and 10 drones, flocking with 10): IPPO and MAPPO (shared
MLP actor) trained with the ``local`` trainer, their training episode return against
environment steps, beside the same return of two baselines run in the Mesa model on held-out
seeds: uniform random actions and the scenario's classic controller (navigation's default
``random_walk``; ``boids`` for flocking).
The trained policies are evaluated on the same held-out seeds, deterministic (mean action).
``--with-rllib`` adds IPPO trained by the ``rllib`` plug-in (RLlib's PPO on the PettingZoo
env, the same network shape and PPO settings) on the same budget and held-out seeds.
Then DDP: the same total batch (``--ddp-envs`` environments) trained by 1 rank and by 2
ranks (``--trainer ddp --nproc 2``), env steps per second of the training loop compared.

    PYTHONPATH=. python3 experiments/train_curves.py             # all (~6 min, 2 cores)
    PYTHONPATH=. python3 experiments/train_curves.py --skip-ddp --tasks navigation_n3
    PYTHONPATH=. python3 experiments/train_curves.py --skip-ddp --with-rllib  # needs [rllib]

Outputs: ``docs/learning/TASK.png``, ``docs/learning/results.json`` (returns,
wall times, the DDP ratio and the machine's load average); runs under ``runs/learning/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from swarm.learn.evaluate import UNIFORM_RANDOM, baseline_model, run_model
from swarm.learn.loop import TrainJob
from swarm.learn.policy import load_policy
from swarm.learn.ppo import PPOConfig
from swarm.learn.trainers import load_trainer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "learning"
RUNS = ROOT / "runs" / "learning"
EPISODE = 50  # steps per episode (5 s at dt = 0.1 s): time to reach a landmark 5 m away
EVAL_SEEDS = range(10_000, 10_016)  # held out: training resets use derived seeds


@dataclass(frozen=True)
class Task:
    """One learning curve: scenario, swarm, budget, the classic controller beside it."""

    scenario: str
    n_agents: int
    world_size: float  # m; grows with the swarm so the density stays about the same
    env_steps: int  # training budget
    classic: str  # the scenario's classic controller
    reward_scale: float  # PPO sees reward x this: team returns of order 1
    title: str


NAV = "cooperative navigation"
TASKS = {
    "navigation_n3": Task("navigation", 3, 8.0, 240_000, "random_walk", 0.1, NAV),
    "navigation_n10": Task("navigation", 10, 14.0, 160_000, "random_walk", 0.03, NAV),
    "flocking_n10": Task("flocking", 10, 10.0, 160_000, "boids", 1.0, "flocking"),
}  # fmt: skip


def env_config(task: Task) -> dict[str, Any]:
    return {"n_agents": task.n_agents, "world_size": task.world_size, "max_cycles": EPISODE}


def job(task: Task, algo: str, out: Path, total_steps: int, num_envs: int = 16,
        num_minibatches: int = 4, **kw: Any) -> TrainJob:  # fmt: skip
    ppo = PPOConfig(rollout_steps=EPISODE, learning_rate=1e-3, reward_scale=task.reward_scale,
                    num_minibatches=num_minibatches)  # fmt: skip
    return TrainJob(scenario=task.scenario, env_config=env_config(task), algo=algo,
                    total_steps=total_steps, num_envs=num_envs, seed=0, out=str(out),
                    progress=False, checkpoint_every=10_000, ppo=ppo, **kw)  # fmt: skip


def eval_return(make_model) -> float:
    return float(np.mean([run_model(make_model(s), EPISODE)["episode_return"] for s in EVAL_SEEDS]))


def learning_curves(name: str, with_rllib: bool = False) -> dict[str, Any]:
    task = TASKS[name]
    cfg = env_config(task)
    result: dict[str, Any] = {
        "scenario": task.scenario, "n_agents": task.n_agents, "world_size": task.world_size,
        "env_steps": task.env_steps,
    }  # fmt: skip
    for base in (UNIFORM_RANDOM, task.classic):
        result[base] = eval_return(lambda s, b=base: baseline_model(task.scenario, b, cfg, s))
    curves = {}
    runs = [("ippo", "ippo", "local"), ("mappo", "mappo", "local")]
    if with_rllib:
        runs.append(("rllib_ippo", "ippo", "rllib"))
    for key, algo, trainer in runs:
        out = RUNS / f"{name}-{key}"
        shutil.rmtree(out, ignore_errors=True)
        spec = job(task, algo, out, task.env_steps, trainer=trainer)
        summary = load_trainer(trainer).run(spec)
        curves[key] = pd.read_parquet(out / "metrics.parquet")
        result[key] = {
            "wall_time_s": summary["wall_time_s"],
            "env_steps_per_s": summary["env_steps_per_s"],
            "eval_return": eval_return(load_policy(out).make_model),
        }
        print(f"{name} {key}: {result[key]}", flush=True)
    plot(name, curves, result)
    return result


def plot(name: str, curves: dict[str, pd.DataFrame], result: dict[str, Any]) -> None:
    task = TASKS[name]
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    colours = {"ippo": "tab:blue", "mappo": "tab:orange", "rllib_ippo": "tab:green"}
    names = {"ippo": "IPPO", "mappo": "MAPPO", "rllib_ippo": "IPPO (RLlib)"}
    for key, frame in curves.items():
        smooth = frame["episode_return"].rolling(10, min_periods=1).mean()
        label = f"{names[key]} (training, {result[key]['wall_time_s']:.0f} s)"
        ax.plot(frame["env_steps"], smooth, color=colours[key], label=label)
        ax.plot(frame["env_steps"].iloc[-1], result[key]["eval_return"], "o",
                color=colours[key], label=f"{names[key]} trained, held-out seeds")  # fmt: skip
    for base, style in ((UNIFORM_RANDOM, ":"), (task.classic, "--")):
        ax.axhline(result[base], color="grey", linestyle=style, label=f"{base} (held-out seeds)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"team return per {EPISODE}-step episode")
    ax.set_title(f"{task.title}, {task.n_agents} drones, {task.world_size:g} m arena")
    ax.legend(fontsize=7, loc="upper left")
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / f"{name}.png", dpi=120)


def ddp_throughput(name: str, num_envs: int, updates: int, minibatches: int) -> dict[str, Any]:
    """Same total batch (num_envs environments, the same PPO minibatches over all of them)
    by 1 rank and by 2 ranks; env steps per second of the training loop (process start
    excluded; the first update, which compiles and warms up, is left out)."""
    total = EPISODE * num_envs * updates
    rates = {}
    for trainer, nproc in (("local", 1), ("ddp", 2)):
        out = RUNS / f"ddp-{name}-{trainer}{nproc}"
        shutil.rmtree(out, ignore_errors=True)
        tick = time.perf_counter()
        load_trainer(trainer).run(job(TASKS[name], "ippo", out, total, num_envs, minibatches,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--with-rllib", action="store_true", help="also IPPO via RLlib")
    parser.add_argument("--ddp-task", default="navigation_n3", choices=list(TASKS))
    parser.add_argument("--ddp-envs", type=int, default=256, help="environments, all ranks")
    parser.add_argument("--ddp-updates", type=int, default=8)
    parser.add_argument("--ddp-minibatches", type=int, default=4, help="PPO minibatches")
    args = parser.parse_args()
    results_file = OUT / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["load_average_before"] = os.getloadavg()
    results["cpus"] = os.cpu_count()
    if not args.skip_curves:
        for name in args.tasks:
            results[name] = learning_curves(name, args.with_rllib)
    if not args.skip_ddp:
        key = f"ddp_{args.ddp_task}_e{args.ddp_envs}_mb{args.ddp_minibatches}"
        results[key] = ddp_throughput(
            args.ddp_task, args.ddp_envs, args.ddp_updates, args.ddp_minibatches
        )
        results[key]["load_average_before"] = os.getloadavg()
        print(f"DDP 2 ranks / 1 rank throughput: {results[key]['ratio']:.2f}x")
    results["load_average_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
