"""Benchmark: warehouse robots on the League of Robot Runners 2023 instances.

Runs each instance headless with a warehouse controller (at each ``--packet-drop`` rate) and
reports steps/s, tasks finished, executed collisions, attempted conflicts, bytes each robot
sent per step, the free-flow bound (tasks the same robots would finish if each were alone on
the map, from exact BFS distances) and the ratio to it, and whether the deadlock detector
fired. Targets (DESIGN.md section 7): warehouse_large with 1,000
robots >= 100 steps/s on one core, 0 collisions, >= 80% of free flow; sortation_large with
2,400 robots >= 40 steps/s without deadlock.

In the same run it measures RWARE 2.0 (Papoudakis et al. 2021, ``rware-large-19ag-v2`` made
with ``gymnasium.make``, random actions) against this project at the same 19 robots on a
generated layout of about the same size (29 x 17 cells against RWARE's 29 x 16), three ways:
``warehouse_v0`` (PettingZoo parallel API, random actions: the like-for-like comparison), the
Mesa model with the decentralised PIBT controller (``model.step()``), and the bare grid world
(``world.apply`` of random moves). Target: >= 10x RWARE's agent-steps/s. RWARE is an optional
peer: ``pip install -e .[peers]``; without it that part says so and is skipped.

    PYTHONPATH=. python3 experiments/bench_warehouse.py        # 200 steps, a few instances
    PYTHONPATH=. python3 experiments/bench_warehouse.py --steps 5000 --all --out runs/wh.json
    PYTHONPATH=. python3 experiments/bench_warehouse.py --instances --rware-steps 3000
    PYTHONPATH=. python3 experiments/bench_warehouse.py --instances sortation_large_2400 \
        --map-agents --rware-steps 0 --steps 2000 --packet-drop 0 0.05 0.2

The League data lives in ../shared/data/lorr-2023-warehouse (not shipped with the project);
without it the League part says so and is skipped.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "lorr-2023-warehouse"
QUICK = ["warehouse_large_200", "warehouse_large_1000", "sortation_large_2400"]
ALL = [f"warehouse_large_{n}" for n in (200, 400, 600, 800, 1000)] + [
    f"sortation_large_{n}" for n in (400, 800, 1200, 1600, 2000, 2400)
]
RWARE_ENV = "rware-large-19ag-v2"
RWARE_AGENTS = 19
# a generated layout of RWARE-large's size: 29 rows x 17 columns (RWARE: 29 x 16)
RWARE_LIKE_LAYOUT = dict(block_rows=7, shelf_height=3, block_cols=2, shelf_width=5, margin=2)
REPEATS = 3  # timings are medians of this many runs (the machine is shared and noisy)


def _median_rate(run, steps: int) -> float:
    """Median steps/s of ``REPEATS`` timed calls of ``run(steps)``."""
    rates = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        run(steps)
        rates.append(steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def rware_comparison(steps: int, seed: int) -> dict | None:
    """Agent-steps/s of RWARE and of ours at 19 robots (see the module docstring), or None
    when rware is not installed."""
    try:
        import gymnasium
        import rware  # noqa: F401 - registers the rware-* envs with gymnasium
    except ImportError:
        print("RWARE comparison skipped: rware is not installed (pip install -e .[peers])")
        return None
    import warnings

    from envs import warehouse_v0
    from envs.warehouse import WarehouseModel
    from swarm.grid.layout import LayoutParams

    # gymnasium's checker warns once that RWARE's reward is a list (one per robot): expected
    warnings.filterwarnings("ignore", message=".*reward returned by `step\\(\\)`")
    n = RWARE_AGENTS
    peer = gymnasium.make(RWARE_ENV)
    peer.reset(seed=seed)
    peer.action_space.seed(seed)

    def run_peer(k: int) -> None:
        for _ in range(k):
            peer.step(peer.action_space.sample())  # RWARE never ends an episode by itself

    layout = LayoutParams(**RWARE_LIKE_LAYOUT)
    env = warehouse_v0.parallel_env(n_agents=n, layout=layout, max_cycles=10**9)
    env.reset(seed=seed)
    for agent in env.possible_agents:
        env.action_space(agent).seed(seed)

    def run_env(k: int) -> None:
        for _ in range(k):
            env.step({a: env.action_space(a).sample() for a in env.agents})

    model = WarehouseModel(n_agents=n, layout=layout, policy="pibt", rng=seed)
    model.collect_metrics = False  # timing the controller and world, not the metrics table

    def run_model(k: int) -> None:
        for _ in range(k):
            model.step()

    world = WarehouseModel(n_agents=n, layout=layout, rng=seed).world
    moves = np.random.default_rng(seed).integers(0, 5, (steps, n))

    def run_world(k: int) -> None:
        for a in moves[:k]:
            world.apply(a)

    peer_rate = _median_rate(run_peer, steps) * n
    g = env.model.grid_map
    result = {
        "peer": RWARE_ENV,
        "robots": n,
        "steps": steps,
        "peer_grid": list(peer.unwrapped.grid_size),
        "our_grid": [g.height, g.width],
        "rware_agent_steps_per_s": peer_rate,
    }
    for name, run in (("warehouse_v0", run_env), ("model_pibt", run_model),
                      ("world_apply", run_world)):  # fmt: skip
        rate = _median_rate(run, steps) * n
        result[f"{name}_agent_steps_per_s"] = rate
        result[f"{name}_ratio"] = rate / peer_rate
    peer.close()
    return result


def print_rware(r: dict) -> None:
    print(f"\nRWARE comparison, {r['robots']} robots, {r['steps']} steps, median of {REPEATS}: "
          f"{r['peer']} {r['peer_grid'][0]}x{r['peer_grid'][1]} vs generated "
          f"{r['our_grid'][0]}x{r['our_grid'][1]}")  # fmt: skip
    print(f"  {'rware (gymnasium, random actions)':<44}{r['rware_agent_steps_per_s']:>12,.0f}"
          " agent-steps/s")  # fmt: skip
    labels = {
        "warehouse_v0": "warehouse_v0 (PettingZoo, random actions)",
        "model_pibt": "model.step (decentralised PIBT)",
        "world_apply": "grid world only (random moves)",
    }
    for key, label in labels.items():
        print(f"  {label:<44}{r[key + '_agent_steps_per_s']:>12,.0f} agent-steps/s  "
              f"{r[key + '_ratio']:6.1f}x RWARE")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per run (5000: League)")
    parser.add_argument("--policy", default="pibt", help="warehouse controller")
    parser.add_argument("--all", action="store_true", help="every size, not just a few")
    parser.add_argument("--instances", nargs="*", help="instance names (json stems)")
    parser.add_argument("--data", default=str(DATA), help="folder of the League instances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--comm-radius", type=float, default=5.0, help="radio range (cells)")
    parser.add_argument(
        "--radio-repeats",
        type=int,
        default=0,
        help="extra copies of every broadcast at a loss rate above 0",
    )
    parser.add_argument("--packet-drop", type=float, nargs="+", default=[0.0],
                        help="packet loss rates to run each instance with (every message "
                        "round loses packets at this rate)")  # fmt: skip
    parser.add_argument("--out", help="write the results as json here")
    parser.add_argument("--map-agents", type=int, nargs="*", default=[1000],
                        help="also run warehouse_large.map with this many robots and a random "
                        "10,000-task League stream (none: skip)")  # fmt: skip
    parser.add_argument("--rware-steps", type=int, default=2000,
                        help="steps of the RWARE comparison (0: skip it)")  # fmt: skip
    args = parser.parse_args(argv)
    rows: list[dict] = []
    data = Path(args.data)
    names = ALL if args.all else QUICK
    if args.instances is not None:
        names = args.instances  # an empty list: only the RWARE comparison
    if not data.is_dir():
        print(f"League part skipped: data not found at {data} (not shipped with the project)")
        names = []
    if names:
        run_league(args, data, names, rows)
    if args.rware_steps > 0:
        comparison = rware_comparison(args.rware_steps, args.seed)
        if comparison is not None:
            print_rware(comparison)
            rows.append({"rware_comparison": comparison})
    if args.out:
        from swarm.io import write_json  # NaN metrics as null: strict JSON

        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out), rows)
    return 0


def run_league(args: argparse.Namespace, data: Path, names: list[str], rows: list[dict]) -> None:
    from envs.warehouse import WarehouseConfig, run_warehouse

    head = (
        f"{'instance':<24}{'robots':>7}{'steps/s':>9}{'tasks':>9}{'free flow':>11}{'ratio':>7}"
        f"{'collis.':>8}{'attempted':>10}{'deadlk':>7}{'stalled':>8}{'loss':>6}{'rep':>4}{'B/robot/step':>13}"
        f"{'wall s':>8}"
    )
    print(f"policy {args.policy}, comm radius {args.comm_radius}, {args.steps} steps, "
          f"seed {args.seed}\n{head}")  # fmt: skip
    runs: list[tuple[str, dict]] = []
    for name in names:
        path = data / f"{name}.json"
        if not path.exists():
            print(f"{name:<24} missing ({path})")
            continue
        runs.append((name, {"instance": str(path)}))
    big_map = data / "maps" / "warehouse_large.map"
    if args.map_agents and big_map.exists():
        # the League's 1,000-robot instance has one task per robot (degenerate, flagged):
        # the same map and team size with a 10,000-task random League stream measures
        for n in args.map_agents:
            runs.append((f"warehouse_large map+{n}", {"map": str(big_map), "n_agents": n}))
    for (name, where), drop in ((run, d) for run in runs for d in args.packet_drop):
        repeats = args.radio_repeats if drop > 0 else 0
        cfg = WarehouseConfig(**where, policy=args.policy, comm_radius=args.comm_radius,
                              packet_drop=drop, radio_repeats=repeats)  # fmt: skip
        t0 = time.perf_counter()
        s = run_warehouse(cfg, args.steps, None, progress=False, seed=args.seed)
        s["total_wall_s"] = time.perf_counter() - t0
        rows.append(s)
        ratio = s["free_flow_ratio"]
        print(
            f"{name:<24}{s['n_agents']:>7}{s['steps_per_s']:>9.1f}{s['tasks_finished']:>9}"
            f"{s['free_flow_tasks'] or 0:>11}{(ratio or 0):>7.3f}{s['collisions']:>8}"
            f"{s['attempted_conflicts']:>10}{s['deadlocked']:>7}{s['stalled']!s:>8}"
            f"{drop:>6.0%}{repeats:>4}{s['bytes_per_agent_step']:>13,.0f}{s['wall_time_s']:>8.1f}",
            flush=True,
        )
        if s.get("task_stream_degenerate"):
            print(f"  ^ {name}: {s['league_tasks_per_robot']:.2g} League tasks per robot: the "
                  "cycling round robin gives each robot one task forever (parked robots score "
                  "every step); tasks and ratio measure nothing here", flush=True)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
