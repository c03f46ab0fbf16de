"""Scale benchmark of the experiment executors: does a sweep cost what its runs cost?

A sweep of ``--runs`` flocking runs (``--agents`` drones, ``--steps`` steps; default 200 runs
of 1,000 drones x 500 steps, one point x 200 seeds) runs on an executor with ``--workers``
workers. Against one run measured alone in this process, it reports:

* per run (effective) = sweep wall time x workers / runs: what a run costs inside the sweep;
* overhead vs a single run = effective / single - 1 (target <= 10%): the executor's cost
  (process start, imports, pickling, writing results) plus any slowdown from running
  ``workers`` runs side by side (shared caches, memory bandwidth, other users of the cores);
* overhead vs the runs' own time = effective / (mean wall time of a run inside its worker) - 1:
  the executor's cost alone.

::

    python3 experiments/bench_sweep.py                        # the full benchmark (~3 min)
    python3 experiments/bench_sweep.py --runs 20 --agents 300 --steps 200   # a quick one
    python3 experiments/bench_sweep.py --executor ray         # a local Ray cluster
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from swarm.experiment import run_experiment
from swarm.experiments.spec import parse_spec, plan
from swarm.experiments.worker import run_task

OVERHEAD_TARGET = 0.10  # the executor may add at most 10% per run (issue 8)


def bench_spec(runs: int, agents: int, steps: int) -> dict:
    """One flocking point (boids, the default) and ``runs`` seeds."""
    return {
        "name": "bench_sweep",
        "scenario": "flocking",
        "steps": steps,
        "seeds": runs,
        "parameters": {"n_agents": agents},
        "metrics": {"final": ["polarization", "n_components"], "time_series": ["polarization"]},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs in the sweep (seeds)")
    parser.add_argument("--agents", type=int, default=1000, help="drones per run")
    parser.add_argument("--steps", type=int, default=500, help="steps per run")
    parser.add_argument("--workers", type=int, default=2, help="executor workers")
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument("--single", type=int, default=3, help="single runs timed (median)")
    parser.add_argument("--out", help="keep the sweep's results folder here")
    args = parser.parse_args(argv)

    the_plan = plan(parse_spec(bench_spec(args.runs, args.agents, args.steps)))
    run_task(the_plan.tasks[0])  # warm-up: numba's compiled kernels load from its cache
    single = statistics.median(
        run_task(the_plan.tasks[i % len(the_plan.tasks)]).wall_time_s for i in range(args.single)
    )

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "bench_sweep"
        start = time.perf_counter()
        result = run_experiment(
            the_plan, out, args.executor, args.workers, progress=True, plots=False
        )
        wall = time.perf_counter() - start
    ok = result.table[result.table["status"] == "ok"]
    in_worker = float(ok["wall_time_s"].mean())
    effective = wall * args.workers / args.runs
    vs_single = effective / single - 1
    vs_own = effective / in_worker - 1
    print(
        f"sweep: {args.runs} runs x {args.agents} drones x {args.steps} steps on "
        f"{args.executor} with {args.workers} workers: {wall:.1f} s wall "
        f"({len(ok)} ok, {result.failed} failed)\n"
        f"single run alone:            {single:.3f} s\n"
        f"run inside a worker (mean):  {in_worker:.3f} s\n"
        f"per run in the sweep:        {effective:.3f} s  (wall x workers / runs)\n"
        f"overhead vs a single run:    {vs_single:+.1%}  (target <= {OVERHEAD_TARGET:.0%})\n"
        f"overhead vs the runs' own:   {vs_own:+.1%}  (the executor alone)"
    )
    return 0 if vs_single <= OVERHEAD_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
