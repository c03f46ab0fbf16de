"""Throughput of training (issue 19, item 4): env agent-steps per second inside the PPO loop.

The ``local`` trainer trains a few updates in this process on the batched navigation env
(IPPO, shared MLP actor, the PPO defaults of ``swarm train``: one episode per rollout,
``rollout_steps`` = ``max_cycles`` = 100, 4 epochs x 4 minibatches). From the per-update
``rollout_s`` (stepping the envs with the policy), ``learn_s`` (PPO epochs) and ``update_s``
of the run's ``metrics.parquet``, updates after the first (numba compilation, torch
start-up) give, as medians over updates:

* env agent-steps/s of the whole training loop (rollout + update) and of the rollout alone;
* the rollout's share of training time (``rollout_s / update_s``).

Configurations:

* ``scale``: N = 10, 100, 1,000 drones per env at one total of agents stepped per rollout
  step (``--agents-per-step``, default 3,000: the 3,072 of the target configuration, so every
  row trains on the same batch of agent-samples and only the shape of the batch changes),
  i.e. 300 x 10, 30 x 100, 3 x 1,000; the arena grows as sqrt(N) from navigation's default
  of 3 drones on 8 m (same density, so the same neighbours per drone);
* ``target``: 1,024 envs x 3 drones (navigation's defaults), with torch threads 1 (the
  ``TrainJob.threads`` default) and 2. Target: the rollout takes at most half the training
  time.

The configurations run in turn ``--repeats`` times (interleaved, so a change of the load hits
all alike); the machine's 1-minute load average is recorded around every run, as other work
may share the cores. Runs are written under a fresh temporary folder, removed at the end.
``--profile`` (automatic when the target's rollout share is above 0.5) times one update of
the target configuration by parts with cProfile: where the rollout's and the update's time
goes.

With 2 torch threads on 2 cores while another process keeps one core busy, OpenMP's default
spin-waiting makes every small op wait for a descheduled thread (measured: ~8x slower
training); ``OMP_WAIT_POLICY=PASSIVE`` in the environment avoids that (recorded in the JSON).

    PYTHONPATH=. python3 experiments/bench_training.py                 # ~4-8 min on 2 cores
    PYTHONPATH=. python3 experiments/bench_training.py --repeats 1 --updates 3
    PYTHONPATH=. python3 experiments/bench_training.py --profile --json bench_training.json
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import math
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from swarm.config import ConfigError
from swarm.io import write_json
from swarm.learn.envs import make_train_env
from swarm.learn.evaluate import episode_length
from swarm.learn.loop import TrainJob, TrainStrategy, job_seed, loss_groups, net_spec
from swarm.learn.nets import ActorCritic
from swarm.learn.ppo import PPOConfig, collect_rollout, minibatch_plan, ppo_update
from swarm.learn.trainers import load_trainer
from swarm.resources import check_new_file

SCENARIO = "navigation"
BASE_AGENTS, BASE_WORLD = 3, 8.0  # navigation's defaults: the density every row keeps
TARGET_ENVS, TARGET_AGENTS = 1_024, 3
TARGET_SHARE = 0.5  # the rollout's share of training time, at most


def world_size(n_agents: int) -> float:
    """Arena side (m) with navigation's default density (3 drones on 8 m x 8 m)."""
    return round(BASE_WORLD * math.sqrt(n_agents / BASE_AGENTS), 2)


def make_job(
    n_envs: int, n_agents: int, threads: int, updates: int, rollout_steps: int | None, out: Path
) -> TrainJob:
    env_config = {"n_agents": n_agents, "world_size": world_size(n_agents)}
    steps = rollout_steps or episode_length(SCENARIO, env_config)  # as `swarm train` does
    return TrainJob(
        scenario=SCENARIO, env_config=env_config, algo="ippo", total_steps=updates * steps * n_envs,
        num_envs=n_envs, seed=0, out=str(out), threads=threads, progress=False,
        checkpoint_every=10**6, ppo=PPOConfig(rollout_steps=steps),
    )  # fmt: skip


def measure(
    kind: str, n_envs: int, n_agents: int, threads: int, updates: int,
    rollout_steps: int | None, out: Path,
) -> dict[str, Any]:  # fmt: skip
    """Train ``updates`` updates; medians over the updates after the first."""
    job = make_job(n_envs, n_agents, threads, updates, rollout_steps, out)
    load_before = os.getloadavg()[0]
    tick = time.perf_counter()
    load_trainer("local").run(job)
    wall = time.perf_counter() - tick
    load_after = os.getloadavg()[0]
    metrics = pd.read_parquet(out / "metrics.parquet").iloc[1:]  # first: warm-up
    shutil.rmtree(out)  # created by this run, inside our temporary folder
    agent_steps = job.ppo.rollout_steps * n_envs * n_agents  # per update
    rollout_s = float(metrics["rollout_s"].median())
    learn_s = float(metrics["learn_s"].median())
    update_s = float(metrics["update_s"].median())
    return {
        "kind": kind, "num_envs": n_envs, "n_agents": n_agents,
        "world_size": job.env_config["world_size"], "threads": threads,
        "rollout_steps": job.ppo.rollout_steps, "updates_timed": len(metrics),
        "agent_steps_per_update": agent_steps,
        "rollout_s": rollout_s, "learn_s": learn_s, "update_s": update_s,
        "train_agent_steps_per_s": agent_steps / update_s,
        "rollout_agent_steps_per_s": agent_steps / rollout_s,
        "rollout_share": float((metrics["rollout_s"] / metrics["update_s"]).median()),
        "process_wall_s": wall, "load_before": load_before, "load_after": load_after,
    }  # fmt: skip


# --------------------------------------------------------------------------- profile
def _parts() -> dict[str, list[tuple[str, list[Any], Any]]]:
    """Per phase, (label, functions, caller): a part's seconds are the cumulative time of its
    functions (summed) in calls from ``caller`` (None: from anywhere); a string names a
    built-in. Two leading spaces per level of nesting."""
    from torch.distributions import Normal

    from swarm.learn.batched import BatchedTrainEnv
    from swarm.learn.ppo import compute_gae, policy_loss, value_loss
    from swarm.marl.batched import BatchedSwarmEnv
    from swarm.marl.core import _Core

    # the minibatch gather of ppo_update, ``{name: value[idx] ...}`` (a code object of its
    # own up to Python 3.11; inlined from 3.12, then not reported)
    gather = [c for c in ppo_update.__code__.co_consts if getattr(c, "co_name", "") == "<dictcomp>"]
    roll = collect_rollout
    return {
        "rollout": [
            ("rollout (collect_rollout)", [roll], None),
            ("  env.step", [BatchedTrainEnv.step], roll),
            ("    engine advance (dynamics, rewards)", [_Core.advance], None),
            ("    observation encoding (observe)", [_Core.observe], None),
            ("    episode starts (start, restart)", [_Core.start, _Core.restart], None),
            ("    action check (_check)", [BatchedSwarmEnv._check], None),
            ("  env.state (global state)", [BatchedTrainEnv.state], roll),
            ("  env.comm_senders (GNN senders)", [BatchedTrainEnv.comm_senders], roll),
            ("  policy forward (distribution)", [ActorCritic.distribution], roll),
            ("  critic forward (value)", [ActorCritic.value], roll),
            ("  log_prob", [Normal.log_prob], roll),
            ("  action noise (torch.randn)", ["<built-in method torch.randn>"], roll),
            ("  torch.stack (buffers; all calls)", ["<built-in method torch.stack>"], None),
            ("  arrays to tensors (torch.as_tensor)", ["<built-in method torch.as_tensor>"], roll),
        ],
        "learn": [
            ("update (ppo_update)", [ppo_update], None),
            ("  compute_gae", [compute_gae], ppo_update),
            ("  minibatch gather (data[idx])", gather, ppo_update),
            ("  forward (ActorCritic)", [ActorCritic.forward], None),
            ("  losses (policy, value)", [policy_loss, value_loss], ppo_update),
            ("  backward", [torch.Tensor.backward], ppo_update),
            ("  clip_grad_norm_", [torch.nn.utils.clip_grad_norm_], None),
            ("  Adam step", [torch.optim.Adam.step], None),
            ("  zero_grad", [torch.optim.Optimizer.zero_grad], None),
        ],
    }


def _key(f: Any) -> tuple[str, int, str]:
    """pstats' key of a function, code object or built-in (a string)."""
    if isinstance(f, str):
        return ("~", 0, f)
    code = f if hasattr(f, "co_filename") else inspect.unwrap(f).__code__
    return (code.co_filename, code.co_firstlineno, code.co_name)


def part_seconds(stats: pstats.Stats, functions: list[Any], caller: Any = None) -> float:
    """Cumulative seconds of ``functions`` (decorators unwrapped), in calls from ``caller``
    (None: from anywhere)."""
    table = stats.stats  # type: ignore[attr-defined]
    total = 0.0
    for f in functions:
        entry = table.get(_key(f))
        if entry is None:
            continue
        if caller is None:
            total += entry[3]
        else:  # entry[4]: caller -> (primitive calls, calls, self s, cumulative s)
            total += entry[4].get(_key(caller), (0, 0, 0.0, 0.0))[3]
    return total


def profile_update(threads: int, rollout_steps: int | None, out: Path) -> dict[str, Any]:
    """One update of the target configuration (after an unprofiled warm-up update), timed
    plainly and then under cProfile, by parts."""
    job = make_job(TARGET_ENVS, TARGET_AGENTS, threads, 3, rollout_steps, out)
    torch.set_num_threads(job.threads)
    env = make_train_env(job.scenario, job.num_envs, job.env_config)
    torch.manual_seed(job.seed)
    model = ActorCritic(net_spec(job, env))
    strategy = TrainStrategy()
    loss_model, optimizer = strategy.setup(model, job)

    def update(k: int) -> tuple[float, float]:
        tick = time.perf_counter()
        obs = env.reset(seed=job_seed(job.seed, k, 0, 0))
        generator = torch.Generator().manual_seed(job_seed(job.seed, k, 0, 1))
        rollout, _ = collect_rollout(env, model, job.ppo, obs, generator)
        mid = time.perf_counter()
        plan = minibatch_plan(rollout.obs.shape[0] * rollout.obs.shape[1], job.ppo, generator)
        groups = loss_groups(model, env.n_agents, job, k)
        ppo_update(loss_model, optimizer, rollout, job.ppo, plan, strategy, groups)
        return mid - tick, time.perf_counter() - mid

    update(1)  # warm-up
    plain = update(2)
    profiler = cProfile.Profile()
    profiler.enable()
    profiled = update(3)
    profiler.disable()
    stats = pstats.Stats(profiler)
    result: dict[str, Any] = {
        "num_envs": TARGET_ENVS, "n_agents": TARGET_AGENTS, "threads": threads,
        "rollout_steps": job.ppo.rollout_steps,
        "plain_rollout_s": plain[0], "plain_learn_s": plain[1],
        "profiled_rollout_s": profiled[0], "profiled_learn_s": profiled[1],
    }  # fmt: skip
    for phase, parts in _parts().items():
        whole = part_seconds(stats, parts[0][1], parts[0][2])
        result[phase] = [
            {"part": label.strip(), "depth": (len(label) - len(label.lstrip())) // 2,
             "seconds": s, "share": s / whole if whole else math.nan}
            for label, functions, caller in parts
            for s in [part_seconds(stats, functions, caller)]
        ]  # fmt: skip
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]  # type: ignore[attr-defined]
    result["top_self_time"] = [
        {"function": f"{Path(file).name}:{line}({func})", "calls": nc, "self_s": tt, "cum_s": ct}
        for (file, line, func), (_, nc, tt, ct, _) in top
    ]
    return result


def print_profile(prof: dict[str, Any]) -> None:
    print(f"\nprofile of one update, {prof['num_envs']:,} envs x {prof['n_agents']} drones, "
          f"threads {prof['threads']}: plain rollout {prof['plain_rollout_s']:.2f} s + update "
          f"{prof['plain_learn_s']:.2f} s; under cProfile {prof['profiled_rollout_s']:.2f} s + "
          f"{prof['profiled_learn_s']:.2f} s")  # fmt: skip
    for phase in ("rollout", "learn"):
        for p in prof[phase]:
            label = "  " * p["depth"] + p["part"]
            print(f"  {label:<44} {p['seconds']:7.3f} s  {100 * p['share']:5.1f}% of {phase}")
    print("  most self time:")
    for f in prof["top_self_time"]:
        print(f"    {f['function']:<60} {f['calls']:>7} calls {f['self_s']:7.3f} s self")


# --------------------------------------------------------------------------- report
def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per configuration, the median over repeats and the spread (min, max)."""
    keyed: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        keyed.setdefault((r["kind"], r["num_envs"], r["n_agents"], r["threads"]), []).append(r)
    out = []
    for (kind, envs, agents, threads), group in keyed.items():
        s: dict[str, Any] = {"kind": kind, "num_envs": envs, "n_agents": agents,
                             "threads": threads, "repeats": len(group)}  # fmt: skip
        for key in ("train_agent_steps_per_s", "rollout_agent_steps_per_s", "rollout_share",
                    "update_s"):  # fmt: skip
            values = [r[key] for r in group]
            s[key] = statistics.median(values)
            s[key + "_min"], s[key + "_max"] = min(values), max(values)
        s["load_range"] = [min(min(r["load_before"], r["load_after"]) for r in group),
                           max(max(r["load_before"], r["load_after"]) for r in group)]  # fmt: skip
        if kind == "target":
            s["target_holds"] = s["rollout_share_max"] <= TARGET_SHARE
        out.append(s)
    return out


def print_rows(rows: list[dict[str, Any]]) -> None:
    head = (f"{'config':<7} {'envs x N':>12} {'arena':>6} {'thr':>3} {'rep':>3} "
            f"{'train ag-st/s':>13} {'rollout ag-st/s':>15} {'share':>5} {'rollout':>8} "
            f"{'learn':>7} {'load':>9}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['kind']:<7} {r['num_envs']:>5,} x {r['n_agents']:<4,} {r['world_size']:>6.1f} "
              f"{r['threads']:>3} {r['repeat']:>3} {r['train_agent_steps_per_s']:>13,.0f} "
              f"{r['rollout_agent_steps_per_s']:>15,.0f} {r['rollout_share']:>5.2f} "
              f"{r['rollout_s']:>7.2f}s {r['learn_s']:>6.2f}s "
              f"{r['load_before']:>4.2f}/{r['load_after']:<4.2f}")  # fmt: skip


def print_summary(summary: list[dict[str, Any]]) -> None:
    print("\nmedian over repeats [min, max]:")
    for s in summary:
        line = (f"  {s['kind']:<6} {s['num_envs']:>5,} x {s['n_agents']:<4,} threads "
                f"{s['threads']}: train {s['train_agent_steps_per_s']:,.0f} agent-steps/s "
                f"[{s['train_agent_steps_per_s_min']:,.0f}, "
                f"{s['train_agent_steps_per_s_max']:,.0f}], rollout "
                f"{s['rollout_agent_steps_per_s']:,.0f} [{s['rollout_agent_steps_per_s_min']:,.0f}"
                f", {s['rollout_agent_steps_per_s_max']:,.0f}], rollout share "
                f"{s['rollout_share']:.2f} [{s['rollout_share_min']:.2f}, "
                f"{s['rollout_share_max']:.2f}]; load {s['load_range'][0]:.2f}-"
                f"{s['load_range'][1]:.2f}")  # fmt: skip
        if "target_holds" in s:
            verdict = "holds" if s["target_holds"] else "FAILS"
            line += f"; target share <= {TARGET_SHARE}: {verdict}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[10, 100, 1_000],
                        help="drones per env of the scale rows (default 10 100 1000)")  # fmt: skip
    parser.add_argument("--agents-per-step", type=int, default=3_000,
                        help="envs x drones of every scale row (default 3000)")  # fmt: skip
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch threads of the target rows (default 1 2)")  # fmt: skip
    parser.add_argument("--updates", type=int, default=4,
                        help="PPO updates per run, the first left out (default 4)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=2, help="runs of every row (default 2)")
    parser.add_argument("--rollout-steps", type=int,
                        help="PPO's T (default: one episode, as swarm train)")  # fmt: skip
    parser.add_argument("--skip-scale", action="store_true", help="only the target rows")
    parser.add_argument("--profile", action="store_true",
                        help="profile a target update (automatic if its share > 0.5)")  # fmt: skip
    parser.add_argument("--json", help="also write the results here (a new file)")
    args = parser.parse_args()
    if args.updates < 2:
        parser.error(f"--updates: {args.updates}; allowed: >= 2 (the first is left out)")
    if args.repeats < 1:
        parser.error(f"--repeats: {args.repeats}; allowed: >= 1")
    if any(n < 1 for n in args.agents) or args.agents_per_step < max(args.agents):
        parser.error(f"--agents {args.agents} / --agents-per-step {args.agents_per_step}: every "
                     "N must be >= 1 and at most agents-per-step (at least one env)")  # fmt: skip
    if any(t < 1 for t in args.threads):
        parser.error(f"--threads: {args.threads}; allowed: >= 1")
    if args.rollout_steps is not None and args.rollout_steps < 1:
        parser.error(f"--rollout-steps: {args.rollout_steps}; allowed: >= 1")
    if args.json:
        try:  # before minutes of measuring; a file is never overwritten
            check_new_file(args.json, "--json")
        except ConfigError as err:
            parser.error(str(err))  # one line, exit code 2

    configs = [] if args.skip_scale else [
        ("scale", args.agents_per_step // n, n, 1) for n in args.agents
    ]  # fmt: skip
    configs += [("target", TARGET_ENVS, TARGET_AGENTS, t) for t in args.threads]
    results: dict[str, Any] = {
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "cpus": os.cpu_count(),
        "torch": torch.__version__, "scenario": SCENARIO, "algo": "ippo", "actor": "mlp",
        "agents_per_step": args.agents_per_step, "updates": args.updates,
        "ppo": PPOConfig().model_dump(), "rollout_steps": args.rollout_steps or "episode",
        "load_average_before": os.getloadavg(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }  # fmt: skip
    rows: list[dict[str, Any]] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench_training-"))
    try:
        for repeat in range(1, args.repeats + 1):
            for k, (kind, envs, agents, threads) in enumerate(configs):
                out = tmp / f"r{repeat}-{k}"
                row = measure(kind, envs, agents, threads, args.updates, args.rollout_steps, out)
                rows.append({**row, "repeat": repeat})
                print(f"[{kind} {envs} x {agents}, threads {threads}, repeat {repeat}] "
                      f"share {row['rollout_share']:.2f}, "
                      f"{row['train_agent_steps_per_s']:,.0f} agent-steps/s, "
                      f"load {row['load_after']:.2f}", flush=True)  # fmt: skip
        summary = summarise(rows)
        results["runs"], results["summary"] = rows, summary
        print()
        print_rows(rows)
        print_summary(summary)
        failing = [s for s in summary if s.get("target_holds") is False]
        if args.profile or failing:
            threads = failing[0]["threads"] if failing else args.threads[0]
            results["profile"] = profile_update(threads, args.rollout_steps, tmp / "profile")
            print_profile(results["profile"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder only
    results["load_average_after"] = os.getloadavg()
    print(
        f"\nload average (1, 5, 15 min): before {results['load_average_before']}, "
        f"after {results['load_average_after']}; torch threads of the scale rows: 1"
    )
    if args.json:
        write_json(Path(args.json), results)


if __name__ == "__main__":
    main()
