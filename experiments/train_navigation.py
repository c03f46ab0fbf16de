"""Learning curves on cooperative navigation and the DDP throughput check (a benchmark).

For 3 (and 10) drones: IPPO and MAPPO (shared MLP actor) trained with the ``local`` trainer,
their training episode return against environment steps, beside the same return of two
baselines run in the Mesa model on held-out seeds: uniform random actions and the scenario's
default classic controller (``random_walk``, the navigation docstring's default policy).
The trained policies are evaluated on the same held-out seeds, deterministic (mean action).
Then DDP: the same total batch (``--ddp-envs`` environments) trained by 1 rank and by 2
ranks (``--trainer ddp --nproc 2``), env steps per second of the training loop compared.

    PYTHONPATH=. python3 experiments/train_navigation.py             # all (~5 min, 2 cores)
    PYTHONPATH=. python3 experiments/train_navigation.py --skip-ddp --agents 3

Outputs: ``docs/learning/navigation_n{N}.png``, ``docs/learning/results.json`` (returns,
wall times, the DDP ratio and the machine's load average); runs under ``runs/learning/``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from swarm.learn.evaluate import UNIFORM_RANDOM, baseline_model, run_model
from swarm.learn.loop import TrainJob, train
from swarm.learn.policy import load_policy
from swarm.learn.ppo import PPOConfig
from swarm.learn.trainers import load_trainer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "learning"
RUNS = ROOT / "runs" / "learning"
EPISODE = 50  # steps per episode (5 s at dt = 0.1 s): time to reach a landmark 5 m away
EVAL_SEEDS = range(10_000, 10_016)  # held out: training resets use derived seeds
CLASSIC = "random_walk"  # navigation's default controller (envs/navigation.py)
# (world side in metres, env steps of training) per swarm size: the arena grows with the
# swarm so the landmark density stays about the same as MPE's 3 in a 2 x 2 field scaled up
SETTINGS = {3: (8.0, 240_000), 10: (14.0, 160_000)}


def env_config(n: int) -> dict[str, Any]:
    return {"n_agents": n, "world_size": SETTINGS[n][0], "max_cycles": EPISODE}


def job(n: int, algo: str, out: Path, total_steps: int, num_envs: int = 16,
        num_minibatches: int = 4, **kw: Any) -> TrainJob:  # fmt: skip
    # rewards are about -(sum of landmark distances)/2 per step: scaled to returns near 1
    ppo = PPOConfig(rollout_steps=EPISODE, learning_rate=1e-3, reward_scale=0.3 / n,
                    num_minibatches=num_minibatches)  # fmt: skip
    return TrainJob(scenario="navigation", env_config=env_config(n), algo=algo,
                    total_steps=total_steps, num_envs=num_envs, seed=0, out=str(out),
                    progress=False, checkpoint_every=10_000, ppo=ppo, **kw)  # fmt: skip


def eval_return(make_model) -> float:
    return float(np.mean([run_model(make_model(s), EPISODE)["episode_return"] for s in EVAL_SEEDS]))


def learning_curves(n: int) -> dict[str, Any]:
    steps = SETTINGS[n][1]
    cfg = env_config(n)
    result: dict[str, Any] = {"n_agents": n, "world_size": cfg["world_size"], "env_steps": steps}
    for name in (UNIFORM_RANDOM, CLASSIC):
        result[name] = eval_return(lambda s, name=name: baseline_model("navigation", name, cfg, s))
    curves = {}
    for algo in ("ippo", "mappo"):
        out = RUNS / f"nav{n}-{algo}"
        shutil.rmtree(out, ignore_errors=True)
        summary = train(job(n, algo, out, steps))
        curves[algo] = pd.read_parquet(out / "metrics.parquet")
        result[algo] = {
            "wall_time_s": summary["wall_time_s"],
            "env_steps_per_s": summary["env_steps_per_s"],
            "eval_return": eval_return(load_policy(out).make_model),
        }
        print(f"n={n} {algo}: {result[algo]}", flush=True)
    plot(n, curves, result)
    return result


def plot(n: int, curves: dict[str, pd.DataFrame], result: dict[str, Any]) -> None:
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    colours = {"ippo": "tab:blue", "mappo": "tab:orange"}
    for algo, frame in curves.items():
        smooth = frame["episode_return"].rolling(10, min_periods=1).mean()
        label = f"{algo.upper()} (training, {result[algo]['wall_time_s']:.0f} s)"
        ax.plot(frame["env_steps"], smooth, color=colours[algo], label=label)
        ax.plot(frame["env_steps"].iloc[-1], result[algo]["eval_return"], "o",
                color=colours[algo], label=f"{algo.upper()} trained, held-out seeds")  # fmt: skip
    for name, style in ((UNIFORM_RANDOM, ":"), (CLASSIC, "--")):
        ax.axhline(result[name], color="grey", linestyle=style, label=f"{name} (held-out seeds)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"team return per {EPISODE}-step episode")
    ax.set_title(f"cooperative navigation, {n} drones, {result['world_size']:g} m arena")
    ax.legend(fontsize=8, loc="lower right")
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / f"navigation_n{n}.png", dpi=120)


def ddp_throughput(n: int, num_envs: int, updates: int, minibatches: int) -> dict[str, Any]:
    """Same total batch (num_envs environments, the same PPO minibatches over all of them)
    by 1 rank and by 2 ranks; env steps per second of the training loop (process start
    excluded; the first update, which compiles and warms up, is left out)."""
    total = EPISODE * num_envs * updates
    rates = {}
    for trainer, nproc in (("local", 1), ("ddp", 2)):
        out = RUNS / f"ddp-n{n}-{trainer}{nproc}"
        shutil.rmtree(out, ignore_errors=True)
        tick = time.perf_counter()
        load_trainer(trainer).run(job(n, "ippo", out, total, num_envs, minibatches,
                                      trainer=trainer, nproc=nproc))  # fmt: skip
        metrics = pd.read_parquet(out / "metrics.parquet").iloc[1:]
        rates[f"{trainer}x{nproc}"] = {
            "env_steps_per_s": float(EPISODE * num_envs / metrics["update_s"].mean()),
            "rollout_s_per_update": float(metrics["rollout_s"].mean()),
            "learn_s_per_update": float(metrics["learn_s"].mean()),
            "process_wall_s": time.perf_counter() - tick,
        }
        print(f"n={n} {trainer} x{nproc}: {rates[f'{trainer}x{nproc}']}", flush=True)
    ratio = rates["ddpx2"]["env_steps_per_s"] / rates["localx1"]["env_steps_per_s"]
    return {"n_agents": n, "num_envs": num_envs, "updates": updates,
            "num_minibatches": minibatches, **rates, "ratio": ratio}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[3, 10], choices=sorted(SETTINGS))
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--skip-ddp", action="store_true")
    parser.add_argument("--ddp-agents", type=int, default=3, choices=sorted(SETTINGS))
    parser.add_argument("--ddp-envs", type=int, default=256, help="environments, all ranks")
    parser.add_argument("--ddp-updates", type=int, default=8)
    parser.add_argument("--ddp-minibatches", type=int, default=4, help="PPO minibatches")
    args = parser.parse_args()
    results_file = OUT / "results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    results["load_average_before"] = os.getloadavg()
    results["cpus"] = os.cpu_count()
    if not args.skip_curves:
        for n in args.agents:
            results[f"navigation_n{n}"] = learning_curves(n)
    if not args.skip_ddp:
        key = f"ddp_n{args.ddp_agents}_e{args.ddp_envs}_mb{args.ddp_minibatches}"
        results[key] = ddp_throughput(
            args.ddp_agents, args.ddp_envs, args.ddp_updates, args.ddp_minibatches
        )
        results[key]["load_average_before"] = os.getloadavg()
        print(f"DDP 2 ranks / 1 rank throughput: {results[key]['ratio']:.2f}x")
    results["load_average_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    results_file.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
