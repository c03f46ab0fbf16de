"""Benchmark of the MARL envs against their peers, in the same run (issue 3, item 6).

* PettingZoo API: ``navigation_v0.parallel_env`` with N = 10 and 30 drones against mpe2's
  ``simple_spread_v3`` with the same N (random actions, env steps per second).
* Batched API: ``BatchedSwarmEnv("navigation")`` with 1,024 envs x 4 drones against VMAS's
  ``navigation``, and 8,192 envs x 3 drones against VMAS's ``simple_spread``, on the CPU
  (agent-steps per second).

A peer that is not installed is skipped with the reason printed (install them from the
optional extra, e.g. ``pip install mpe2 vmas==1.5.* torch==2.13.0``); our own numbers are
always measured. Targets (DESIGN.md section 7): >= 10x mpe2 at N = 10, >= 100x at N = 30;
>= 3x VMAS navigation at 1,024 x 4; >= 1x VMAS simple_spread at 8,192 x 3.

::

    python3 experiments/bench_marl.py              # everything (~1 min without peers)
    python3 experiments/bench_marl.py --seconds 1  # shorter timing windows
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from swarm.marl import BatchedSwarmEnv, SwarmParallelEnv

TARGETS = {  # ours / peer, from DESIGN.md section 7
    ("pettingzoo", 10): 10.0,
    ("pettingzoo", 30): 100.0,
    ("batched", "navigation"): 3.0,
    ("batched", "simple_spread"): 1.0,
}


def rate(step: Callable[[], int], seconds: float, repeats: int = 3) -> float:
    """Median over ``repeats`` windows of (units done / wall seconds); ``step`` returns units."""
    step()  # warm up (numba compilation, caches)
    rates = []
    for _ in range(repeats):
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            done += step()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


def peer(module: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(module), ""
    except ImportError as err:
        return None, f"{module} is not installed ({err})"


# ------------------------------------------------------------------ PettingZoo API
def ours_pettingzoo(n: int, seconds: float) -> float:
    env = SwarmParallelEnv("navigation", n_agents=n, world_size=2.0 * np.sqrt(n), max_cycles=25)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    b = env.core.bound
    actions = rng.uniform(-b, b, size=(n, 2)).astype(np.float32)

    def step() -> int:
        if not env.agents:
            env.reset()
        env.step({a: actions[i] for i, a in enumerate(env.agents)})
        return 1

    return rate(step, seconds)


def mpe2_pettingzoo(n: int, seconds: float) -> tuple[float | None, str]:
    mpe2, why = peer("mpe2")
    if mpe2 is None:
        return None, why
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(N=n, max_cycles=25, continuous_actions=True)
    env.reset(seed=0)

    def step() -> int:
        if not env.agents:
            env.reset()
        env.step({a: env.action_space(a).sample() for a in env.agents})
        return 1

    return rate(step, seconds), ""


# ------------------------------------------------------------------ batched API
def ours_batched(n_envs: int, n_agents: int, seconds: float) -> float:
    env = BatchedSwarmEnv("navigation", n_envs=n_envs, n_agents=n_agents, max_cycles=100)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, size=(n_envs, n_agents, 2)) * env.action_high

    def step() -> int:
        env.step(actions)
        return n_envs * n_agents

    return rate(step, seconds)


def vmas_batched(scenario: str, n_envs: int, n_agents: int, seconds: float):
    vmas, why = peer("vmas")
    if vmas is None:
        return None, why
    import torch

    torch.set_num_threads(1)
    env = vmas.make_env(scenario, num_envs=n_envs, device="cpu", continuous_actions=True,
                        n_agents=n_agents, seed=0)  # fmt: skip
    env.reset()

    def step() -> int:
        env.step([torch.rand(n_envs, 2) * 2 - 1 for _ in range(n_agents)])
        return n_envs * n_agents

    return rate(step, seconds), ""


def report(label: str, ours: float, theirs: float | None, why: str, unit: str, target) -> None:
    line = f"{label:<44} ours {ours:>14,.0f} {unit}"
    if theirs is None:
        print(f"{line}   peer skipped: {why}")
        return
    ratio = ours / theirs
    verdict = "meets" if ratio >= target else "MISSES"
    print(f"{line}   peer {theirs:>12,.0f}   ratio {ratio:6.1f}x ({verdict} >= {target:g}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="length of a timing window")
    args = parser.parse_args()
    s = args.seconds
    for n in (10, 30):
        ours = ours_pettingzoo(n, s)
        theirs, why = mpe2_pettingzoo(n, s)
        report(f"PettingZoo API, N={n} (env steps/s)", ours, theirs, why, "steps/s",
               TARGETS[("pettingzoo", n)])  # fmt: skip
        print(f"{'':<44} ours {ours * n:>14,.0f} agent-steps/s")
    for scenario, n_envs, n_agents in (("navigation", 1024, 4), ("simple_spread", 8192, 3)):
        ours = ours_batched(n_envs, n_agents, s)
        theirs, why = vmas_batched(scenario, n_envs, n_agents, s)
        report(f"batched {n_envs}x{n_agents} vs VMAS {scenario}", ours, theirs, why,
               "agent-steps/s", TARGETS[("batched", scenario)])  # fmt: skip


if __name__ == "__main__":
    main()
