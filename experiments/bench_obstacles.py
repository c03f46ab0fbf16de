"""What static obstacles cost: ms per step with a forest of poles against the same run without.

    python experiments/bench_obstacles.py                    # the rows of the README
    python experiments/bench_obstacles.py --poles 1000 10000 --steps 20 --blocks 5
    python experiments/bench_obstacles.py --dim 3 --rows flocking --blocks 9   # 3-D
    python experiments/bench_obstacles.py --dim 3 --rows flocking --world-size 300

Rows:

* ``crossing``: the antipodal crossing of 1,000 drones (goto behind ORCA, 400 m arena, as in
  experiments/forest_crossing.toml), just after take-off, with ``--poles`` poles and without;
  the layer turns every sensed pole into a hard half-plane;
* ``flocking``: boids at 10,000 drones (the engine's default density), where the cost is the
  obstacle sensing alone (boids does not read it).

With ``--dim 3`` the same rows fly in a cube and the poles are vertical cylinders from the
floor to the ceiling (swarm.obstacles; each drone reads them from its 3 x 3 block of
columns): the crossing on a sphere in a 400 m cube, and boids in the cube of ``swarm bench
--dim 3`` (about 10 neighbours each, an 80.6 m side at 10,000 drones). That cube's floor
is 14 times smaller than the 2-D row's square, so 1,000 poles stand 2.5 m apart (some 12
within a drone's range); ``--world-size 300`` spreads them as the 2-D row does (and the
drones 50 times thinner: under one neighbour each, a step with little else to do).

Both models of a row start from the same seed and alternate in blocks of ``--steps`` steps,
so a drift of the machine's speed hits both alike; the ratio is the median over blocks of
(with poles) / (without). Target (issue 15): forest navigation with 1,000 obstacles within
1.5x of the same run without them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from swarm.bench import arena_side
from swarm.io import write_json
from swarm.registry import scenario_class
from swarm.resources import check_new_file

ROWS: dict[str, dict[str, Any]] = {
    "crossing": {"n_agents": 1_000, "world_size": 400.0, "safety": "orca"},
    "flocking": {"n_agents": 10_000, "world_size": 300.0},
}
# what --dim 3 changes in each row
ROWS_3D: dict[str, dict[str, Any]] = {
    "crossing": {"dim": 3},
    "flocking": {"dim": 3, "world_size": round(arena_side(10_000, 10.0, dim=3), 1)},
}


def build(row: str, poles: int, seed: int, dim: int = 2, world: float | None = None) -> Any:
    config = dict(ROWS[row]) | (ROWS_3D[row] if dim == 3 else {})
    if world is not None:
        config["world_size"] = world
    if poles:
        config |= {"obstacles": "forest", "obstacle_count": poles}
    return scenario_class(row)(rng=seed, **config)


def timed(model: Any, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        model.step()
    return (time.perf_counter() - start) / steps * 1e3


def measure(
    row: str, poles: int, steps: int, blocks: int, dim: int = 2, world: float | None = None
) -> dict[str, Any]:
    plain, forest = build(row, 0, 0, dim, world), build(row, poles, 0, dim, world)
    timed(plain, 2)  # compile and warm both
    timed(forest, 2)
    ms_plain, ms_forest = [], []
    for _ in range(blocks):
        ms_plain.append(timed(plain, steps))
        ms_forest.append(timed(forest, steps))
    ratio = float(np.median(np.array(ms_forest) / np.array(ms_plain)))
    return {
        "row": row,
        "dim": dim,
        "agents": plain.config.n_agents,
        "world_size": plain.config.world_size,
        "poles": poles,
        "ms_without": float(np.median(ms_plain)),
        "ms_with": float(np.median(ms_forest)),
        "ratio": ratio,
        "pole_contacts": float(forest.metrics["obstacle_contacts_total"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--poles", type=int, nargs="+", default=[1_000])
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--dim", type=int, choices=(2, 3), default=2, help="plane or cube")
    parser.add_argument("--world-size", type=float, help="arena side (m) instead of the row's")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if args.json:
        check_new_file(args.json, "--json")
    print("| row | dim | drones | arena (m) | poles | ms/step without | ms/step with | ratio "
          "| pole contacts |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    results = []
    for row in args.rows:
        for poles in args.poles:
            r = measure(row, poles, args.steps, args.blocks, args.dim, args.world_size)
            results.append(r)
            cells = [row, str(args.dim), f"{r['agents']:,}", f"{r['world_size']:g}", f"{poles:,}",
                     f"{r['ms_without']:.2f}", f"{r['ms_with']:.2f}", f"{r['ratio']:.2f}x",
                     f"{r['pole_contacts']:.0f}"]  # fmt: skip
            print("| " + " | ".join(cells) + " |")
    if args.json:
        write_json(Path(args.json), results)


if __name__ == "__main__":
    main()
