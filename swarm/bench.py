"""``swarm bench``: speed and memory of the flocking hot path, side by side with Mesa.

For each N the arena is sized so a drone has about ``--neighbors`` others within its sensing
range (density fixed), the comm graph (range links) is maintained every step and the
DataCollector records all metrics every step: this is the product path, ``FlockingModel.step``.
In the same run, Mesa's own ``boid_flockers`` example (imported from the installed mesa
package, not copied) runs at N = 1,000 at the same density, and the ratio is printed.

Memory is the tracemalloc peak (numpy reports its buffers to tracemalloc) over building the
model and stepping it, divided by N; the process's peak resident memory is printed too (it
also counts what compiled kernels allocate, which tracemalloc does not see).
The networkx view is excluded there and measured separately (up to 10^6 drones): the time to
build it lazily when read, and the per-step cost of keeping it in sync incrementally.
``swarm bench --agents 10000000`` runs one size: 10^7 drones in one process. Each size runs
on one thread and then on every core (``--threads N``): the compiled kernels give the same
answers on any count (:mod:`swarm.threads`), and the ratio is printed.

``swarm bench --dim 3`` measures the same path in 3-D: the arena is a cube sized for the same
mean neighbour count within the sensing ball (the 3-D neighbour search is serial, so the
thread count changes only the other kernels), and Mesa's 2-D example is left out.
"""

from __future__ import annotations

import argparse
import gc
import math
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numba
import numpy as np

from swarm.config import ConfigError
from swarm.io import write_json
from swarm.resources import check_new_file
from swarm.threads import set_threads

SENSE_RADIUS = 5.0  # metres, the default sensing radius


def arena_side(
    n_agents: int, neighbors: float, radius: float = SENSE_RADIUS, dim: int = 2
) -> float:
    """Side of the square (``dim`` 2) or cube (3) arena giving ``neighbors`` expected
    neighbours within ``radius``."""
    if dim == 3:
        density = neighbors / (4.0 / 3.0 * math.pi * radius**3)
        return (n_agents / density) ** (1.0 / 3.0)
    density = neighbors / (math.pi * radius**2)
    return math.sqrt(n_agents / density)


def default_steps(n_agents: int) -> int:
    """Timed steps: few enough that boids have not yet condensed (density stays as set)."""
    return int(max(3, min(20, 2_000_000 // n_agents)))


def _flocking(n_agents: int, neighbors: float, dim: int = 2, **extra: Any):
    from envs.flocking import FlockingModel

    side = arena_side(n_agents, neighbors, dim=dim)
    return FlockingModel(
        n_agents=n_agents, world_size=side, sense_radius=SENSE_RADIUS, rng=0, dim=dim, **extra
    )


def bench_flocking(
    n_agents: int, steps: int, neighbors: float = 10.0, memory: bool = True, dim: int = 2
) -> dict[str, Any]:
    """Time FlockingModel.step (boids, comm graph, metrics) on numba's current thread count,
    and (``memory``) measure peak memory; in the plane or (``dim`` 3) in a cube."""
    threads = numba.get_num_threads()
    model = _flocking(n_agents, neighbors, dim)
    model.step()  # warm-up: numba kernels load from cache or compile here
    times, edges = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t0)
        edges.append(model.engine.neighbors.n_edges)
    per_step = float(np.median(times))
    mean_neighbors = float(np.mean(edges)) / max(n_agents, 1)
    del model
    gc.collect()
    peak = float("nan")
    if memory:
        tracemalloc.start()
        model = _flocking(n_agents, neighbors, dim)
        model.step()
        model.step()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del model
        gc.collect()
    return {
        "workload": "flocking (ours)" if dim == 2 else "flocking 3-D (ours)",
        "threads": threads,
        "n_agents": n_agents,
        "steps": steps,
        "ms_per_step": 1e3 * per_step,
        "agent_steps_per_s": n_agents / per_step,
        "mean_neighbors": mean_neighbors,
        "peak_bytes_per_agent": peak / n_agents,
    }


def bench_mesa_boids(n_agents: int, steps: int, neighbors: float = 10.0) -> dict[str, Any]:
    """Mesa's boid_flockers example at the same density (vision = our sensing radius)."""
    from mesa.examples.basic.boid_flockers.model import BoidFlockers

    side = arena_side(n_agents, neighbors)
    model = BoidFlockers(
        population_size=n_agents, width=side, height=side, vision=SENSE_RADIUS, seed=0
    )
    model.step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t0)
    per_step = float(np.median(times))
    return {
        "workload": "mesa boid_flockers",
        "threads": 1,  # pure Python
        "n_agents": n_agents,
        "steps": steps,
        "ms_per_step": 1e3 * per_step,
        "agent_steps_per_s": n_agents / per_step,
        "mean_neighbors": float("nan"),
        "peak_bytes_per_agent": float("nan"),
    }


def bench_graph_view(
    n_agents: int, steps: int, neighbors: float = 10.0, dim: int = 2
) -> dict[str, Any]:
    """Cost of the networkx view: lazy build on read vs incremental sync every step."""
    out: dict[str, Any] = {"n_agents": n_agents}
    for mode in ("lazy", "incremental"):
        model = _flocking(n_agents, neighbors, dim, comm_graph_sync=mode)
        model.step()
        step_times, read_times = [], []
        for _ in range(steps):
            t0 = time.perf_counter()
            model.step()
            t1 = time.perf_counter()
            graph = model.comm_graph
            t2 = time.perf_counter()
            step_times.append(t1 - t0)
            read_times.append(t2 - t1)
        out[f"{mode}_ms_per_step"] = 1e3 * float(np.median(step_times))
        out[f"{mode}_ms_per_read"] = 1e3 * float(np.median(read_times))
        out["edges"] = graph.number_of_edges()
        del model, graph
        gc.collect()
    tracemalloc.start()
    model = _flocking(n_agents, neighbors, dim)
    base, _ = tracemalloc.get_traced_memory()
    graph = model.comm_graph
    size, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["networkx_bytes_per_agent"] = (size - base) / n_agents
    del graph, model
    return out


# above this many drones the networkx view is not measured: materialised it would hold
# ~1.3 KB per drone next to the engine's arrays, and a user at that scale reads the engine's
# neighbour tables instead
GRAPH_VIEW_MAX = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument(
        "--sizes",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[1_000, 10_000, 100_000, 1_000_000],
        help="comma-separated swarm sizes (default 1000,10000,100000,1000000)",
    )
    sizes.add_argument(
        "--agents", type=int, help="one swarm size instead of --sizes (e.g. 10000000)"
    )
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default by size)")
    parser.add_argument("--neighbors", type=float, default=10.0, help="mean neighbours in range")
    parser.add_argument(
        "--dim", type=int, choices=(2, 3), default=2,
        help="fly in the plane (2) or in a cube (3; no Mesa comparison: its example is 2-D)",
    )  # fmt: skip
    parser.add_argument("--no-mesa", action="store_true", help="skip Mesa's boid_flockers")
    parser.add_argument("--mesa-steps", type=int, default=5, help="timed Mesa steps")
    parser.add_argument("--mesa-size", type=int, default=1_000, help="N for the Mesa comparison")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--threads", type=int,
        help="threads of the compiled kernels (default: every core); each size runs on one "
        "thread and on this many, side by side",
    )  # fmt: skip


def _print_header() -> None:
    print(
        f"{'workload':<20} {'threads':>7} {'N':>11} {'ms/step':>10} {'agent-steps/s':>15} "
        f"{'B/agent':>9} {'neighbours':>10}"
    )


def main(args: argparse.Namespace) -> int:
    if args.agents is not None:
        args.sizes = [args.agents]
    bad = [n for n in args.sizes if n < 2]
    if bad:
        raise ConfigError(f"--sizes/--agents: swarm sizes must be >= 2 (got {bad[0]})")
    if args.json:
        check_new_file(args.json, "--json")  # before minutes of measuring
    most = set_threads(args.threads)
    rows = []
    ratios: dict[str, float] = {}
    _print_header()
    for n in args.sizes:
        steps = args.steps or default_steps(n)
        if most > 1:  # one thread first, then all of them, on the same swarm
            set_threads(1)
            single = bench_flocking(n, steps, args.neighbors, memory=False, dim=args.dim)
            _print_table_row(single)
            rows.append(single)
            set_threads(most)
        rows.append(bench_flocking(n, steps, args.neighbors, dim=args.dim))
        _print_table_row(rows[-1])
        if most > 1:
            ratios[f"threads_{most}_vs_1_at_{n}"] = (
                rows[-1]["agent_steps_per_s"] / single["agent_steps_per_s"]
            )
    if not args.no_mesa and args.dim == 2:
        size = args.mesa_size
        mesa_row = bench_mesa_boids(size, args.mesa_steps, args.neighbors)
        _print_table_row(mesa_row)
        ours = next((r for r in rows if r["n_agents"] == size and r["threads"] == most), None)
        if ours is None:
            ours = bench_flocking(size, default_steps(size), args.neighbors)
            _print_table_row(ours)
            rows.append(ours)
        rows.append(mesa_row)
        ratios[f"ours_vs_mesa_at_{size}"] = (
            ours["agent_steps_per_s"] / mesa_row["agent_steps_per_s"]
        )
    by_n = {r["n_agents"]: r for r in rows if "ours" in r["workload"] and r["threads"] == most}
    if 10_000 in by_n:
        base = 1e3 / by_n[10_000]["agent_steps_per_s"]
        for n, r in by_n.items():
            if n != 10_000:
                ratios[f"per_agent_cost_{n}_vs_10000"] = (1e3 / r["agent_steps_per_s"]) / base
    graph_n = 10_000 if 10_000 in args.sizes else min(args.sizes)
    graph: dict[str, Any] = {}
    if graph_n <= GRAPH_VIEW_MAX:
        graph = bench_graph_view(graph_n, min(20, args.steps or 20), args.neighbors, args.dim)
        print(
            f"\nnetworkx view at N={graph_n:,} ({graph['edges']:,} edges): lazy build on read "
            f"{graph['lazy_ms_per_read']:.1f} ms; incremental sync "
            f"{graph['incremental_ms_per_step']:.1f} ms/step "
            f"vs {graph['lazy_ms_per_step']:.1f} without; "
            f"{graph['networkx_bytes_per_agent']:,.0f} B/agent when materialised"
        )
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(f"\nprocess peak resident memory: {peak_rss / 2**30:.2f} GiB (all sizes, one process)")
    if ratios:
        print("\nratios:")
        for k, v in ratios.items():
            print(f"  {k}: {v:,.2f}")
    if args.json:
        write_json(Path(args.json), {"rows": rows, "ratios": ratios, "graph_view": graph,
                                     "peak_rss_bytes": peak_rss})  # fmt: skip
    return 0


def _print_table_row(r: dict[str, Any]) -> None:
    mem = r["peak_bytes_per_agent"]
    mem_s = "-" if mem != mem else f"{mem:,.0f}"
    nbrs = r["mean_neighbors"]
    nbrs_s = "-" if nbrs != nbrs else f"{nbrs:.1f}"
    print(
        f"{r['workload']:<20} {r['threads']:>7} {r['n_agents']:>11,} {r['ms_per_step']:>10.2f} "
        f"{r['agent_steps_per_s']:>15,.0f} {mem_s:>9} {nbrs_s:>10}",
        flush=True,
    )
