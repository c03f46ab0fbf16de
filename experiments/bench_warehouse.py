"""Benchmark: warehouse robots on the League of Robot Runners 2023 instances.

Runs each instance headless with a warehouse controller and reports steps/s, tasks finished,
executed collisions, attempted conflicts, the free-flow bound (tasks the same robots would
finish if each were alone on the map, from exact BFS distances) and the ratio to it, and
whether the deadlock detector fired. Targets (DESIGN.md section 7): warehouse_large with 1,000
robots >= 100 steps/s on one core, 0 collisions, >= 80% of free flow; sortation_large with
2,400 robots >= 40 steps/s without deadlock.

    PYTHONPATH=. python3 experiments/bench_warehouse.py        # 200 steps, a few instances
    PYTHONPATH=. python3 experiments/bench_warehouse.py --steps 5000 --all --out runs/wh.json

The League data lives in ../shared/data/lorr-2023-warehouse (not shipped with the project);
without it the benchmark says so and exits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "lorr-2023-warehouse"
QUICK = ["warehouse_large_200", "warehouse_large_1000", "sortation_large_2400"]
ALL = [f"warehouse_large_{n}" for n in (200, 400, 600, 800, 1000)] + [
    f"sortation_large_{n}" for n in (400, 800, 1200, 1600, 2000, 2400)
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per run (5000: League)")
    parser.add_argument("--policy", default="pibt", help="warehouse controller")
    parser.add_argument("--all", action="store_true", help="every size, not just a few")
    parser.add_argument("--instances", nargs="*", help="instance names (json stems)")
    parser.add_argument("--data", default=str(DATA), help="folder of the League instances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--comm-radius", type=float, default=5.0, help="radio range (cells)")
    parser.add_argument("--out", help="write the results as json here")
    args = parser.parse_args(argv)
    data = Path(args.data)
    if not data.is_dir():
        print(f"skipped: League data not found at {data} (it is not shipped with the project)")
        return 0
    from envs.warehouse import WarehouseConfig, run_warehouse

    names = args.instances or (ALL if args.all else QUICK)
    rows = []
    head = (
        f"{'instance':<24}{'robots':>7}{'steps/s':>9}{'tasks':>9}{'free flow':>11}{'ratio':>7}"
        f"{'collis.':>8}{'attempted':>10}{'deadlk':>7}{'stalled':>8}{'wall s':>8}"
    )
    print(f"policy {args.policy}, comm radius {args.comm_radius}, {args.steps} steps, "
          f"seed {args.seed}\n{head}")  # fmt: skip
    for name in names:
        path = data / f"{name}.json"
        if not path.exists():
            print(f"{name:<24} missing ({path})")
            continue
        cfg = WarehouseConfig(instance=str(path), policy=args.policy, comm_radius=args.comm_radius)
        t0 = time.perf_counter()
        s = run_warehouse(cfg, args.steps, None, progress=False, seed=args.seed)
        s["total_wall_s"] = time.perf_counter() - t0
        rows.append(s)
        ratio = s["free_flow_ratio"]
        print(
            f"{name:<24}{s['n_agents']:>7}{s['steps_per_s']:>9.1f}{s['tasks_finished']:>9}"
            f"{s['free_flow_tasks'] or 0:>11}{(ratio or 0):>7.3f}{s['collisions']:>8}"
            f"{s['attempted_conflicts']:>10}{s['deadlocked']:>7}{s['stalled']!s:>8}"
            f"{s['wall_time_s']:>8.1f}",
            flush=True,
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
