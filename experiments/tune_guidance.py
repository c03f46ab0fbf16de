"""Choose flow guidance settings for a League instance on errands its evaluated run never sees.

The best guidance weight and reach differ between maps (MR23-I-10's one-lane aisles and
MR23-I-06's open sortation rows; README, "held out"), so they are chosen per map, and a
choice made on the very run it is judged by would flatter it. Each candidate ``flow:W:R``
here runs the instance's own robots from task round ``--first-round`` (default: half the
file's rounds; ``first_task_round``, robot r's first task is task k x robots + r), errands
that a 5,000-step run from round 0 barely reaches (it hands out 8-12 rounds a robot of the
main round's 50 on average; on MR23-I-06 the busiest robot holds its round-25 task at the
end). They lie in the stream's later half, from which
the flow fit samples its 2,048 errands (:func:`swarm.grid.guidance.errand_pairs`: the
statistics every setting is fitted to, under 1 % of those tasks), while the evaluated run's
errands lie outside it. The candidate finishing the most errands is printed with the command that
evaluates it from round 0 over the League's 5,000 steps (``bench_mainround.py``).

    python experiments/tune_guidance.py \\
        --instance ../shared/data/lorr-2023-main-round/MR23-I-10.json \\
        --weights 6 10 16 --reaches 0 32 --steps 1000

The data lives in ../shared/data/lorr-2023-main-round (not shipped with the project).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))

from bench_mainround import CONTROLLERS, HEADER, markdown, run_row  # noqa: E402

from swarm.grid.maps import load_instance  # noqa: E402


def rounds_in(instance: Path) -> int:
    """Rounds of the instance's round-robin stream (tasks // robots); 0 for goal sequences,
    which flow guidance is not fitted to."""
    loaded = load_instance(instance)
    if loaded.offsets is not None:
        return 0
    return len(loaded.tasks) // max(len(loaded.starts), 1)


def choose(rows: list[dict]) -> dict:
    """The row that finished the most errands (the first such, in the order tried)."""
    return max(rows, key=lambda row: row["tasks"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instance", type=Path, required=True)
    ap.add_argument("--weights", type=int, nargs="+", default=[6, 10, 16])
    ap.add_argument("--reaches", type=int, nargs="+", default=[0, 32])
    ap.add_argument("--steps", type=int, default=1000, help="steps of each candidate's run")
    ap.add_argument("--first-round", type=int, help="task round to start at (default: half)")
    ap.add_argument("--motion", default="rotate", choices=["grid", "rotate"])
    ap.add_argument("--controller", default="pibt-occupied", choices=CONTROLLERS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.instance.exists():
        print(f"skipped: {args.instance} not found (../shared/data is absent)")
        return 0
    rounds = rounds_in(args.instance)
    if rounds == 0:
        print(f"tune_guidance: {args.instance} gives goal sequences, not a round-robin task "
              "stream; flow guidance is fitted to the latter", file=sys.stderr)  # fmt: skip
        return 2
    first = rounds // 2 if args.first_round is None else args.first_round
    given = sys.argv[1:] if argv is None else argv
    print("python " + " ".join([f"experiments/{Path(__file__).name}", *given]))
    print(f"(candidates start at task round {first})\n")
    print(HEADER, flush=True)
    rows = []
    t0 = time.perf_counter()
    for weight in args.weights:
        for reach in args.reaches:
            guidance = f"flow:{weight}:{reach}" if reach else f"flow:{weight}"
            row = run_row(args.instance, args.steps, args.motion, args.controller, args.seed,
                          guidance, first_round=first)  # fmt: skip
            rows.append({**row, "guidance": guidance})
            print(markdown(row), flush=True)
    best = choose(rows)
    print(f"\nchosen: {best['guidance']} ({best['tasks']:,} errands in {args.steps:,} steps "
          f"from round {first}; {len(rows)} runs, {time.perf_counter() - t0:.0f} s)")  # fmt: skip
    print("evaluate from round 0: python experiments/bench_mainround.py --steps 5000 "
          f"--instances {args.instance} --motions {args.motion} "
          f"--controllers {args.controller} --guidance {best['guidance']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
