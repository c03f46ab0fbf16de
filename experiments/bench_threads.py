"""One thread against every core on the same swarm, stepping in alternation.

    python experiments/bench_threads.py --agents 100000 --pairs 8 --block 4
    python experiments/bench_threads.py --agents 1000000 --pairs 4 --block 3
    python experiments/bench_threads.py --agents 1000000 --pairs 20 --metrics
    python experiments/bench_threads.py --pairs 6 --block 4 --warm 300 \
        --instance ../shared/data/lorr-2023-main-round/MR23-I-06.json
    python experiments/bench_threads.py --agents 100000 --pages 4 --steps 40

``swarm bench`` runs one thread, then all, on two swarms one after the other; on a machine
whose speed drifts (a shared VM) a single pair of runs ranges widely. Here one flock steps on
1 and on N threads in alternation (the order swapped every pair), so a drift hits both alike;
this is valid because a step gives the same result on any thread count
(``tests/swarm/test_threads.py``). Prints the median ms per step of each and their ratio.
``--block B`` steps B times on one count before switching and times all but the first: a
single step after a switch pays for moving the state into the other count's caches, which a
run of consecutive steps pays once (at 10^6 drones one thread took 565-605 ms a step
alternated one by one, 497-539 in blocks).
``--metrics`` times the flocking metrics' kernels alone instead of steps (the sums behind
polarization and cohesion, and the connected components of the comm graph), on the flock's
state after the warm-up steps. ``--instance`` steps a League instance's robots instead
(decentralised PIBT under the League's action model with flow guidance at w = 16 and unknown
cells counted as occupied, the main-round configuration of the README), after ``--warm``
steps on all threads. ``--pages R`` runs ``--steps`` consecutive steps on every core, as a
user's run does, in a fresh process with numpy advising huge pages for its large arrays and
in one without (:func:`swarm.threads.small_pages`), R rounds in alternation, and prints
each one's median and mean ms per step and the kernel's (system) ms per step.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

from swarm.bench import _flocking
from swarm.config import ConfigError
from swarm.lifeline import die_with_parent, parent_death_preexec
from swarm.metrics import count_components, moments
from swarm.threads import set_threads, small_pages


def _metric_kernels(model: Any) -> dict[str, Callable[[], Any]]:
    """The flocking metrics' kernels on the model's current state, by name."""
    e, c = model.engine, model.engine.config
    return {
        "polarization/cohesion sums": lambda: moments(
            e.pos, e.vel, e.alive, e.env, e.n_envs, c.world_size, c.torus
        ),
        "connected components": lambda: count_components(e.links, e.alive, e.env, e.n_envs),
    }


def _alternate(
    work: dict[str, Callable[[], Any]], most: int, pairs: int, block: int = 1
) -> dict[str, Any]:
    """Median seconds of each piece of work on 1 and on ``most`` threads, in alternation:
    ``block`` runs on one thread count, then ``block`` on the other; with ``block`` > 1 the
    first run of each block is not timed (it moves the state into the other thread
    count's caches, which a run of consecutive steps pays once)."""
    times: dict[tuple[str, int], list[float]] = {(n, t): [] for n in work for t in (1, most)}
    for k in range(pairs):
        for threads in (1, most) if k % 2 == 0 else (most, 1):
            numba.set_num_threads(threads)
            for j in range(block):
                for name, run in work.items():
                    start = time.perf_counter()
                    run()
                    if block == 1 or j > 0:
                        times[name, threads].append(time.perf_counter() - start)
    return {key: float(np.median(values)) for key, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100_000, help="drones (default 100000)")
    parser.add_argument("--pairs", type=int, default=20, help="1-thread/N-thread step pairs")
    parser.add_argument("--threads", type=int, help="N (default: every core)")
    parser.add_argument("--metrics", action="store_true",
                        help="time the flocking metrics' kernels alone, not steps")  # fmt: skip
    parser.add_argument("--instance", type=Path,
                        help="a League instance's robots instead of a flock")  # fmt: skip
    parser.add_argument("--warm", type=int, default=0, help="steps before timing (--instance)")
    parser.add_argument("--block", type=int, default=1,
                        help="steps on a thread count before a switch (first untimed)")  # fmt: skip
    parser.add_argument("--pages", type=int, metavar="R",
                        help="R rounds of steps with and without huge pages")  # fmt: skip
    parser.add_argument("--steps", type=int, default=40, help="steps of a --pages run")
    parser.add_argument("--consecutive", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agents < 2 or min(args.pairs, args.steps, args.block) < 1 or args.warm < 0:
        parser.error("--agents must be >= 2, --pairs, --steps and --block >= 1, --warm >= 0")
    if args.pages is not None and (args.pages < 1 or args.instance or args.metrics):
        parser.error("--pages: a count >= 1, of flocking steps (no --instance or --metrics)")
    if args.pages is not None:
        _compare_pages(args)
        return
    small_pages()  # as the swarm program does (a --pages run's variable overrides it)
    if args.consecutive:
        die_with_parent()
        print(json.dumps(_consecutive(args.agents, args.steps, args.threads)))
        return
    if args.instance is not None and (args.metrics or not args.instance.is_file()):
        parser.error("--instance: an existing League instance file, without --metrics")
    try:
        most = set_threads(args.threads)
    except ConfigError as err:
        parser.error(str(err))
    model = _flocking(args.agents, 10.0) if args.instance is None else _warehouse(args.instance)
    for _ in range(args.warm if args.instance is not None else 0):
        model.step()
    for threads in (1, most):  # compile (or load) both kernels' variants first
        numba.set_num_threads(threads)
        model.step()
    name = "flocking" if args.instance is None else f"warehouse {args.instance.stem}"
    work = _metric_kernels(model) if args.metrics else {name: model.step}
    if args.metrics:
        for threads in (1, most):
            numba.set_num_threads(threads)
            for run in work.values():
                run()
    medians = _alternate(work, most, args.pairs, args.block)
    size = f"{args.agents:,} drones" if args.instance is None else f"{model.world.n:,} robots"
    for name in work:
        one, many = (1e3 * medians[name, t] for t in (1, most))
        unit = "ms" if args.metrics else "ms/step"
        print(f"{name}, {size}, {args.pairs} pairs: 1 thread {one:.1f} {unit}, "
              f"{most} threads {many:.1f} {unit}, ratio {one / many:.2f}")  # fmt: skip


def _consecutive(agents: int, steps: int, threads: int | None) -> dict[str, float]:
    """ms per step (median, mean) and the kernel's ms per step of ``steps`` consecutive
    flocking steps on ``threads`` (default every core), after one warm-up step."""
    set_threads(threads)
    model = _flocking(agents, 10.0)
    model.step()
    times = []
    before = resource.getrusage(resource.RUSAGE_SELF)
    for _ in range(steps):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    system = resource.getrusage(resource.RUSAGE_SELF).ru_stime - before.ru_stime
    ms = 1e3 * np.array(times)
    return {"median": float(np.median(ms)), "mean": float(ms.mean()),
            "system": 1e3 * system / steps}  # fmt: skip


def _compare_pages(args: argparse.Namespace) -> None:
    """``--pages``: fresh processes with and without numpy's huge-page advice, alternating."""
    runs: dict[str, list[dict[str, float]]] = {"huge pages": [], "small pages": []}
    command = [sys.executable, __file__, "--consecutive", "--agents", str(args.agents),
               "--steps", str(args.steps)]  # fmt: skip
    if args.threads:
        command += ["--threads", str(args.threads)]
    for k in range(args.pages):
        for name in list(runs) if k % 2 == 0 else list(runs)[::-1]:
            env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1" if name == "huge pages" else "0"}
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                                 preexec_fn=parent_death_preexec())  # fmt: skip
            runs[name].append(json.loads(out.stdout.splitlines()[-1]))
            r = runs[name][-1]
            print(f"round {k + 1}, {name}: median {r['median']:.1f}, mean {r['mean']:.1f}, "
                  f"system {r['system']:.1f} ms/step", flush=True)  # fmt: skip
    for name, rs in runs.items():
        median, mean, system = (np.mean([r[k] for r in rs]) for k in ("median", "mean", "system"))
        print(
            f"{name}, {args.agents:,} drones, {args.pages} runs of {args.steps} steps, "
            f"averaged: median {median:.1f}, mean {mean:.1f}, system {system:.1f} ms/step"
        )


def _warehouse(instance: Path) -> Any:
    """The README's main-round configuration on ``instance``, metrics off (as the bench)."""
    from envs.warehouse import WarehouseModel

    model = WarehouseModel(
        instance=str(instance), policy="pibt", policy_params={"unknown_cells": "occupied"},
        motion="rotate", guidance="flow", guidance_weight=16, rng=0,
    )  # fmt: skip
    model.collect_metrics = False
    return model


if __name__ == "__main__":
    main()
