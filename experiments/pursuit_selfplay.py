"""Self-play on pursuit, then a cross-play table: learned and classic on both sides.

Trains one policy per team by self-play (``swarm train pursuit``: IPPO updated
simultaneously, MAPPO, IPPO updated alternately), then plays every pairing of learned and
classic pursuers against learned and classic evaders on held-out seeds (``swarm eval
pursuit --policy TEAM=...``) and prints the table as markdown: capture rate (episodes whose
evader was caught; 95 % Wilson score interval) and mean capture time (steps, over the
episodes with a capture; 95 % percentile bootstrap interval)::

    python experiments/pursuit_selfplay.py                        # ~1 h on 2 cores
    python experiments/pursuit_selfplay.py --total-steps 200000   # a quick look
    python experiments/pursuit_selfplay.py --runs runs/selfplay   # evaluate trained runs again

The game is the default pursuit (4 pursuers, 1 evader, 20 m box, equal top speeds, sensing
that covers the arena). Training episodes last 100 steps with distance shaping (``shaping =
1``, a signal before the first capture); evaluation episodes last 300 steps, on seeds
1000.. that no training episode used (training seeds come from ``SeedSequence`` streams).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from scipy.stats import binomtest

from swarm.learn.evaluate import crossplay, interval
from swarm.learn.loop import TrainJob, train

RUNS = {  # name -> what differs from IPPO with simultaneous updates
    "ippo": {},
    "mappo": {"algo": "mappo"},
    "ippo-alternate": {"team_updates": "alternate", "alternate_every": 10},
}
CLASSIC = {"pursuers": ["greedy_pursuit", "voronoi_pursuit"], "evaders": ["flee", "voronoi_evade"]}
ENV = {"shaping": 1.0}


def train_runs(folder: Path, total_steps: int, seed: int) -> dict[str, Path]:
    """Each self-play run of RUNS in ``folder`` (skipped where it is already trained)."""
    done = {}
    for name, change in RUNS.items():
        out = folder / name
        if not (out / "summary.json").exists():
            job = TrainJob.build(
                "train", scenario="pursuit", env_config=ENV, total_steps=total_steps,
                num_envs=16, seed=seed, out=str(out), ppo={"reward_scale": 0.05,
                "rollout_steps": 100}, progress=False, **change,
            )  # fmt: skip
            summary = train(job)
            print(f"trained {name}: {summary['env_steps']:,} env steps in "
                  f"{summary['wall_time_s']:.0f} s")  # fmt: skip
        done[name] = out
    return done


def markdown(table: pd.DataFrame, names: dict[str, str]) -> str:
    """Pursuers as rows, evaders as columns; a cell: capture rate and mean capture time."""
    caught = table.assign(caught=table["captured_fraction"] >= 1.0)
    evaders = list(dict.fromkeys(caught["evaders"]))
    lines = ["| pursuers \\ evaders | " + " | ".join(names.get(e, e) for e in evaders) + " |",
             "| --- |" + " ---: |" * len(evaders)]  # fmt: skip
    for pursuer in dict.fromkeys(caught["pursuers"]):
        cells = []
        for evader in evaders:
            rows = caught[(caught.pursuers == pursuer) & (caught.evaders == evader)]
            k = int(rows["caught"].sum())
            ci = binomtest(k, len(rows)).proportion_ci(method="wilson")  # right at 0 and 1 too
            time, tlo, thi, n = interval(rows["capture_time"].to_numpy())
            rate_text = f"{k / len(rows):.2f} [{ci.low:.2f}, {ci.high:.2f}]"
            time_text = "-" if n == 0 else f"{time:.0f} [{tlo:.0f}, {thi:.0f}]"
            cells.append(f"{rate_text}; {time_text}")
        lines.append(f"| {names.get(pursuer, pursuer)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/selfplay", help="folder of the trained runs")
    parser.add_argument("--total-steps", type=int, default=2_000_000, help="per run")
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument("--episodes", type=int, default=30, help="per pairing")
    parser.add_argument("--steps", type=int, default=300, help="per evaluation episode")
    parser.add_argument("--out", help="per-episode table (.parquet or .csv)")
    args = parser.parse_args()
    if args.out:
        from swarm.config import ConfigError
        from swarm.resources import check_new_file

        try:  # before an hour of training; a file is never overwritten
            check_new_file(args.out, "--out")
        except ConfigError as err:
            parser.error(str(err))  # one line, exit code 2
    runs = train_runs(Path(args.runs), args.total_steps, args.seed)
    learned = [str(path) for path in runs.values()]
    choices = {team: learned + classic for team, classic in CLASSIC.items()}
    table = crossplay("pursuit", choices, args.episodes, 1000, {}, steps=args.steps)
    if args.out:
        from swarm.io import write_table

        write_table(Path(args.out), table)
    names = {str(path): f"learned ({name})" for name, path in runs.items()}
    print(f"capture rate [95 % CI]; mean capture time in steps [95 % CI], {args.episodes} "
          f"episodes of {args.steps} steps per cell (seeds 1000..)")  # fmt: skip
    print(markdown(table, names))


if __name__ == "__main__":
    main()
