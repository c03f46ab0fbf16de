"""Benchmark: decentralised PIBT with and without a crisscross guidance graph.

Runs the same seeds with ``guidance = "none"`` (today's PIBT: candidate cells ranked by hop
distance to the goal) and ``guidance = "crisscross"`` (ranked by move cost plus guided
cost-to-goal, :mod:`swarm.grid.guidance`) at each ``guidance_weight``, on a small generated
warehouse (``--layout``: shelf blocks north-south and west-east; default 4 x 6, the 13 x 49
map of ``experiments/warehouse_throughput.toml``, one-lane aisles; robots alternate a pick
at a shelf's service point S and a delivery at a station E on the west or east edge, the
League's round robin over 10,000 random tasks), at each team size and under both motion
models, and optionally on League instances (``--instances``, their own robots and tasks).

Prints one markdown table: rows robots x motion x guidance; columns tasks per step (mean,
min-max over seeds), the ratio to the free-flow bound (the same robots each alone on the
map), the waiting fraction (robot-steps in which a robot with a task did not move), moves
the world cancelled (attempted conflicts, per run), executed collisions (must be 0, summed
over seeds) and the robots stuck at the end (not moved for 100 steps; the worst seed).

    python experiments/bench_guidance.py                    # the full table
    python experiments/bench_guidance.py --robots 64 --steps 200 --seeds 1
    python experiments/bench_guidance.py --robots --instances warehouse_small_200

The League data lives in ../shared/data/lorr-2023-warehouse (not shipped with the project).

Measured (this machine, shared; 3 seeds x 1,000 steps, tasks per step, none -> crisscross
weight 2 / weight 3):

- 4 x 6 layout (13 x 49, 349 free cells), grid moves: 64 robots 1.18 -> 1.89 / 1.89,
  128 robots 1.56 -> 3.14 / 3.32 (waiting 22 % -> 12 % / 9 %), 192 robots 1.02 -> 3.08 /
  3.15 (at this density one seed of each arm jams: 143, 57, 192 robots stuck at the end).
  Rotate: 64 robots 0.74 -> 1.33 / 1.33; from 128 robots (37 % of the cells) every arm
  jams, all robots stuck at the end in some seed: 0.52 -> 0.48 / 0.48, 0.09 -> 0.10 / 0.20.
- 6 x 8 layout (19 x 63, 621 free cells), grid: 1.11 -> 1.58 / 1.56, 1.74 -> 2.96 / 2.97,
  2.09 -> 4.03 / 4.18; rotate: 0.81 -> 1.37 / 1.37, 0.91 -> 1.71 / 2.45, 0.34 -> 0.57 / 0.55
  (at 192 robots every arm jams: waiting 86-87 %).
- League instances (1 seed): warehouse_small_200 grid 3.94 -> 5.18 / 5.34, rotate 2.14 ->
  3.81 / 4.04; warehouse_large_200 (97 % of free flow without guidance) grid 0.77 -> 0.78 /
  0.76, rotate 0.71 -> 0.76 / 0.73.

Zero executed collisions in every run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / ".." / "shared" / "data" / "lorr-2023-warehouse"


def run_one(job: dict[str, Any]) -> dict[str, Any]:
    """One run: the summary numbers of ``job`` (model config, steps, seed)."""
    from envs.warehouse import WarehouseModel

    config, steps, seed = job["config"], job["steps"], job["seed"]
    model = WarehouseModel(rng=seed, **config)
    model.collect_metrics = False  # the final metrics are all this table needs
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    elapsed = time.perf_counter() - t0
    summary = model.summary()
    m = model.metrics
    return {
        **job["key"],
        "seed": seed,
        "throughput": m["throughput"],
        "free_flow_ratio": summary["free_flow_ratio"],
        "wait_fraction": m["wait_fraction"],
        "attempted_conflicts": int(m["attempted_conflicts"]),
        "executed_collisions": int(m["executed_collisions"]),
        "deadlocked": int(m["deadlocked"]),
        "steps_per_s": steps / elapsed,
    }


def jobs(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every run of the table: settings x guidances x seeds (the same seeds for each)."""
    guidances = [("none", 1, 0)] + [
        (g, w, r) for g in args.guidances for w in args.weights
        for r in (args.reaches if g == "flow" else [0])
    ]  # fmt: skip
    settings: list[tuple[str, int, dict[str, Any]]] = []
    layout = {"block_rows": args.layout[0], "block_cols": args.layout[1]}
    for n in args.robots:
        settings.append((f"layout {args.layout[0]}x{args.layout[1]}", n,
                         {"layout": layout, "n_agents": n}))  # fmt: skip
    for name in args.instances or []:
        path = Path(args.data) / f"{name}.json"
        if not path.exists():
            print(f"skipped {name}: {path} not found")
            continue
        settings.append((name, -1, {"instance": str(path)}))
    out = []
    for where, n, base in settings:
        seeds = range(args.seeds if n > 0 else args.instance_seeds)
        for motion in args.motions:
            for guidance, weight, reach in guidances:
                config = {**base, "motion": motion, "policy": args.policy, "guidance": guidance,
                          "guidance_weight": weight, "guidance_reach": reach,
                          "comm_radius": args.comm_radius,
                          "policy_params": json.loads(args.policy_params)}  # fmt: skip
                label = guidance if guidance == "none" else f"{guidance} w={weight}"
                label += f" reach={reach}" if reach else ""
                key = {"map": where, "robots": n, "motion": motion, "guidance": label}
                out += [{"config": config, "steps": args.steps, "seed": s, "key": key}
                        for s in seeds]  # fmt: skip
    return out


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: one line per (map, robots, motion, guidance), over seeds."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["map"], r["robots"], r["motion"], r["guidance"]), []).append(r)
    head = ("| map | robots | motion | guidance | seeds | tasks/step mean [min-max] | vs none | "
            "free-flow ratio | waiting | attempted conflicts | executed collisions | "
            "deadlocked at end (max) |")  # fmt: skip
    lines = [head, "|" + "---|" * 12]
    base: dict[tuple, float] = {}
    for key, rs in groups.items():
        thr = np.array([r["throughput"] for r in rs])
        if key[3] == "none":
            base[key[:3]] = float(thr.mean())
        ref = base.get(key[:3])
        gain = f"{thr.mean() / ref - 1:+.0%}" if ref and key[3] != "none" else ""
        ratio = [r["free_flow_ratio"] for r in rs if r["free_flow_ratio"] is not None]
        robots = key[1] if key[1] > 0 else "instance"
        lines.append(
            f"| {key[0]} | {robots} | {key[2]} | {key[3]} | {len(rs)} | "
            f"{thr.mean():.3f} [{thr.min():.3f}-{thr.max():.3f}] | {gain} | "
            f"{(f'{np.mean(ratio):.3f}' if ratio else 'n/a')} | "
            f"{np.mean([r['wait_fraction'] for r in rs]):.1%} | "
            f"{np.mean([r['attempted_conflicts'] for r in rs]):,.0f} | "
            f"{sum(r['executed_collisions'] for r in rs)} | "
            f"{max(r['deadlocked'] for r in rs)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--robots",
        type=int,
        nargs="*",
        default=[64, 128, 192],
        help="team sizes on the generated layout (none: instances only)",
    )
    parser.add_argument("--layout", type=int, nargs=2, default=[4, 6], metavar=("ROWS", "COLS"),
                        help="shelf blocks north-south and west-east")  # fmt: skip
    parser.add_argument("--motions", nargs="+", default=["grid", "rotate"])
    parser.add_argument("--guidances", nargs="+", default=["crisscross"],
                        choices=["crisscross", "flow"],
                        help="guided arms beside 'none'")  # fmt: skip
    parser.add_argument("--weights", type=int, nargs="+", default=[2, 3],
                        help="guidance_weight values of the guided runs")  # fmt: skip
    parser.add_argument("--reaches", type=int, nargs="+", default=[0],
                        help="guidance_reach values of the flow runs")  # fmt: skip
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..k-1 per setting")
    parser.add_argument("--instances", nargs="*", help="League instance names (json stems)")
    parser.add_argument("--instance-seeds", type=int, default=1, help="seeds per instance")
    parser.add_argument("--data", default=str(DATA), help="folder of the League instances")
    parser.add_argument("--policy", default="pibt", help="warehouse controller")
    parser.add_argument("--policy-params", default="{}", help="its parameters (JSON)")
    parser.add_argument("--comm-radius", type=float, default=5.0, help="radio range (cells)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--out", help="also write the rows as json here (must not exist)")
    args = parser.parse_args(argv)
    todo = jobs(args)
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(run_one, todo))
    else:
        rows = [run_one(j) for j in todo]
    command = "python experiments/bench_guidance.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    print(f"`{command.strip()}` ({len(rows)} runs of {args.steps} steps, "
          f"{time.perf_counter() - t0:.0f} s, policy {args.policy})\n")  # fmt: skip
    print(table(rows))
    if args.out:
        with open(args.out, "x") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
