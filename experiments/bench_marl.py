"""Benchmark of the MARL envs against their peers, in the same run (issue 3, item 6).

* PettingZoo API: ``pursuit_v0`` with 10 pursuers and 10 evaders against mpe2's
  ``simple_tag_v3`` with its default 4 agents (target: at least as fast);
* PettingZoo API: ``navigation_v0.parallel_env`` with N = 10 and 30 drones against mpe2's
  ``simple_spread_v3`` with the same N (random actions, env steps per second).
* Batched API: ``BatchedSwarmEnv("navigation")`` with 1,024 envs x 4 drones against VMAS's
  ``navigation``, and 8,192 envs x 3 drones against VMAS's ``simple_spread``, on the CPU
  (agent-steps per second).

A peer that is not installed is skipped with the reason printed (install them from the
optional extra: ``pip install -e '.[peers]'``, i.e. mpe2, vmas and torch 2.13.0); our own
numbers are always measured. Ours and the peer's timing windows alternate in one process;
VMAS gets one torch thread by default (``--torch-threads``), as our engine runs on one core.
Targets (DESIGN.md section 7): >= 10x mpe2 at N = 10, >= 100x at N = 30; >= 3x VMAS
navigation at 1,024 x 4; >= 1x VMAS simple_spread at 8,192 x 3.

::

    python3 experiments/bench_marl.py              # everything (~1.5 min with the peers)
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
    ("pettingzoo", "pursuit"): 1.0,  # issue #14: 10 v 10 at least as fast as simple_tag's 4
}


def paired_rates(
    ours: Callable[[], int], theirs: Callable[[], int] | None, seconds: float, repeats: int = 3
) -> tuple[float, float | None]:
    """Median over ``repeats`` windows of (units done / wall seconds) for both, interleaved
    (ours, theirs, ours, theirs, ...) so a change of machine load hits both alike; each
    ``step`` returns the units it did."""
    steps = [ours] if theirs is None else [ours, theirs]
    for step in steps:
        step()  # warm up (numba compilation, caches)
    rates: list[list[float]] = [[] for _ in steps]
    for _ in range(repeats):
        for k, step in enumerate(steps):
            done, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                done += step()
            rates[k].append(done / (time.perf_counter() - start))
    medians = [statistics.median(r) for r in rates]
    return medians[0], (medians[1] if theirs is not None else None)


def peer(module: str) -> tuple[object | None, str]:
    try:
        return importlib.import_module(module), ""
    except ImportError as err:
        return None, f"{module} is not installed ({err})"


# ------------------------------------------------------------------ PettingZoo API
def random_steps(env: SwarmParallelEnv) -> Callable[[], int]:
    """One env step with random actions per call (drawn per step, as for the peers, in the
    space's float32), resetting when the episode is over."""
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    b = env.core.bound
    space = env.action_space(env.possible_agents[0])

    def step() -> int:
        if not env.agents:
            env.reset()
        actions = rng.uniform(-b, b, size=(len(env.agents), 2)).astype(space.dtype)
        env.step(dict(zip(env.agents, actions, strict=True)))
        return 1

    return step


def peer_steps(env: object) -> Callable[[], int]:
    """A peer's PettingZoo env stepped with samples of its own action spaces."""
    env.reset(seed=0)

    def step() -> int:
        if not env.agents:
            env.reset()
        env.step({a: env.action_space(a).sample() for a in env.agents})
        return 1

    return step


def ours_pettingzoo(n: int) -> Callable[[], int]:
    return random_steps(SwarmParallelEnv("navigation", n_agents=n, world_size=2.0 * np.sqrt(n),
                                         max_cycles=25))  # fmt: skip


def mpe2_pettingzoo(n: int) -> tuple[Callable[[], int] | None, str]:
    mpe2, why = peer("mpe2")
    if mpe2 is None:
        return None, why
    from mpe2 import simple_spread_v3

    env = simple_spread_v3.parallel_env(N=n, max_cycles=25, continuous_actions=True)
    return peer_steps(env), ""


def ours_pursuit(pursuers: int, evaders: int) -> Callable[[], int]:
    return random_steps(SwarmParallelEnv("pursuit", n_agents=pursuers + evaders,
                                         pursuers=pursuers, max_cycles=25))  # fmt: skip


def mpe2_simple_tag() -> tuple[Callable[[], int] | None, str]:
    """mpe2's predator-prey with its defaults: 3 adversaries, 1 good agent, 2 obstacles."""
    mpe2, why = peer("mpe2")
    if mpe2 is None:
        return None, why
    from mpe2 import simple_tag_v3

    return peer_steps(simple_tag_v3.parallel_env(max_cycles=25, continuous_actions=True)), ""


# ------------------------------------------------------------------ batched API
def ours_batched(n_envs: int, n_agents: int) -> Callable[[], int]:
    env = BatchedSwarmEnv("navigation", n_envs=n_envs, n_agents=n_agents, max_cycles=100)
    env.reset(seed=0)
    rng = np.random.default_rng(0)

    def step() -> int:
        actions = rng.uniform(-1.0, 1.0, size=(n_envs, n_agents, 2)) * env.action_high
        env.step(actions)
        return n_envs * n_agents

    return step


def vmas_batched(scenario: str, n_envs: int, n_agents: int) -> tuple[Callable[[], int] | None, str]:
    vmas, why = peer("vmas")
    if vmas is None:
        return None, why
    import torch

    env = vmas.make_env(scenario, num_envs=n_envs, device="cpu", continuous_actions=True,
                        n_agents=n_agents, seed=0)  # fmt: skip
    env.reset()

    def step() -> int:
        # VMAS resets nothing by itself: episodes run on, as ours do until max_cycles
        env.step([torch.rand(n_envs, 2) * 2 - 1 for _ in range(n_agents)])
        return n_envs * n_agents

    return step, ""


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
    parser.add_argument(
        "--torch-threads", type=int, default=1,
        help="torch intra-op threads for VMAS (default 1: our engine runs on one core)",
    )  # fmt: skip
    args = parser.parse_args()
    s = args.seconds
    try:
        import torch

        torch.set_num_threads(args.torch_threads)
    except ImportError:
        pass
    print(f"one process, interleaved windows of {s:g} s, median of 3; VMAS on the CPU with "
          f"{args.torch_threads} torch thread(s); random actions throughout")  # fmt: skip
    for n in (10, 30):
        theirs_step, why = mpe2_pettingzoo(n)
        ours, theirs = paired_rates(ours_pettingzoo(n), theirs_step, s)
        report(f"PettingZoo API, N={n} (env steps/s)", ours, theirs, why, "steps/s",
               TARGETS[("pettingzoo", n)])  # fmt: skip
        line = f"{'':<44} ours {ours * n:>14,.0f} agent-steps/s"
        if theirs is not None:
            line += f"   peer {theirs * n:>12,.0f} agent-steps/s"
        print(line)
    theirs_step, why = mpe2_simple_tag()
    ours, theirs = paired_rates(ours_pursuit(10, 10), theirs_step, s)
    report("PettingZoo API, pursuit 10 v 10 vs simple_tag (4 agents) (env steps/s)", ours,
           theirs, why, "steps/s", TARGETS[("pettingzoo", "pursuit")])  # fmt: skip
    for scenario, n_envs, n_agents in (("navigation", 1024, 4), ("simple_spread", 8192, 3)):
        theirs_step, why = vmas_batched(scenario, n_envs, n_agents)
        ours, theirs = paired_rates(ours_batched(n_envs, n_agents), theirs_step, s)
        report(f"batched {n_envs}x{n_agents} vs VMAS {scenario}", ours, theirs, why,
               "agent-steps/s", TARGETS[("batched", scenario)])  # fmt: skip
        line = f"{'':<44} ours {ours / (n_envs * n_agents):>14,.1f} batch steps/s"
        if theirs is not None:
            line += f"   peer {theirs / (n_envs * n_agents):>12,.1f} batch steps/s"
        print(line)


if __name__ == "__main__":
    main()
