"""Benchmark: the League of Robot Runners 2023 main-round instances (10,000 robots) end to end.

For each instance, motion model (``grid``: 4-connected; ``rotate``: the League's action
model, headings and quarter turns) and controller (``pibt``: decentralised PIBT, local
sensing and radio with the default radii, every message counted; ``pibt-occupied``: the
same with cells beyond the radio counted as taken; ``pibt-near``: that, with robots near
their goals first, ``distance_priority`` 30; ``pibt-vouch``: that, with the cells within
radio range of a robot's relayers known too, ``relay_vouches``; ``pibt-global``,
``pibt-global-near``: one PIBT over every robot on the whole map, the centralised
reference), runs the instance headless and prints one markdown row: errands (tasks)
finished and their ratio to the League's best known result (a central planner under the
rotate model, 1 s a step), wall time, steps/s, bytes each robot sent per step, robots stuck
(with a task, not moved for the deadlock window of 100 steps, at the end) and robots that
never moved, attempted (cancelled) conflicts and executed collisions (must be 0).

``--guidance`` adds rows with a guidance graph: ``crisscross:W`` (a fixed pattern, no
knowledge beyond the map) or ``flow:W`` (fitted to errands of the instance's task stream,
from the half a run reaches last: statistics the League's planners were not given, to be
said beside any comparison with the best known); ``flow:W:R`` prices each move by the
errands within R cells of it along its aisle (``guidance_reach``).

``--first-round K`` starts every robot K task rounds down its stream (held-out errands).
``--wait-cost W`` gives every controller PIBT's ``wait_cost`` W (a step in place away from
the goal costs W moves in the ranking of a robot's candidate cells; 1 by default).
``--comm-radius R`` gives the robots an R-cell radio instead of the scenario's 5 cells (the
decentralised controllers hear farther and send more; the whole-map ones send nothing).
``--switch CONTROLLER@STEP`` hands the run to another controller after STEP steps: the same
robots, tasks and controller memory, planned from then on with CONTROLLER's parameters, so
two planners can be compared from one state (with ``--profile``, window by window).
``--profile N`` prints after each row where the robots are every N steps: the errands
finished in the window and, for each of ``--bands`` horizontal bands of map rows, the robots
standing there, the share of their robot-steps in which they moved to another cell and (under
rotation) in which they turned in place, the share of those turns that took back the robot's
previous turn (:class:`swarm.grid.metrics.TurnReversals`), the robots whose goal lies there
and the errands finished there (:func:`swarm.grid.metrics.band_census`; the run itself is
unchanged, tested).

    python experiments/bench_mainround.py --steps 5000
    python experiments/bench_mainround.py --steps 300 --motions rotate \\
        --controllers pibt --instances ../shared/data/lorr-2023-main-round/MR23-I-10.json
    python experiments/bench_mainround.py --steps 5000 --motions rotate \\
        --controllers pibt-global-near --guidance flow:10:32 --profile 500 \\
        --instances ../shared/data/lorr-2023-main-round/MR23-I-10.json

The data lives in ../shared/data/lorr-2023-main-round (not shipped with the project).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "lorr-2023-main-round"
# the League's best known errands finished in 5,000 steps (the data's README)
BEST_KNOWN = {"MR23-I-10": 194_677, "MR23-I-06": 197_275}
# decentralised PIBT; the same with unknown cells beyond the radio counted as occupied; one
# PIBT over the whole map (a centralised reference); "-near": robots near their goals plan
# first (PIBTParams.distance_priority)
CONTROLLERS = {
    "pibt": {},
    "pibt-occupied": {"unknown_cells": "occupied"},
    # the same, robots near their goals first (30 steps of task age per cell of distance)
    "pibt-near": {"unknown_cells": "occupied", "distance_priority": 30},
    # the same, a robot near a jam also knowing the cells its relayers heard
    "pibt-vouch": {"unknown_cells": "occupied", "distance_priority": 30, "relay_vouches": True},
    "pibt-global": {"view": "global"},
    "pibt-global-near": {"view": "global", "distance_priority": 30},
    # EPIBT (policies.epibt): operations of three actions, decentralised with unknown cells
    # beyond the radio not entered (unless relayers vouch for them), and over the whole map;
    # robots near their goals first
    "epibt": {
        "policy": "epibt",
        "unknown_cells": "occupied",
        "distance_priority": 30,
        "relay_vouches": True,
    },
    "epibt-global": {"policy": "epibt", "view": "global", "distance_priority": 30},
}


def controller_setup(controller: str, wait_cost: int) -> tuple[str, dict]:
    """(policy, policy_params) of a controller of CONTROLLERS; ``wait_cost`` is PIBT's."""
    params = dict(CONTROLLERS[controller])
    policy = params.pop("policy", "pibt")
    if policy == "pibt" and wait_cost != 1:
        params["wait_cost"] = wait_cost
    return policy, params


def run_row(
    instance: Path,
    steps: int,
    motion: str,
    controller: str,
    seed: int,
    guidance: str = "none",
    first_round: int = 0,
    profile: int = 0,
    bands: int = 14,
    wait_cost: int = 1,
    comm_radius: float | None = None,
    switch: tuple[str, int] | None = None,
) -> dict:
    """One run; the fields of a table row. ``guidance``: none, crisscross:W, flow:W or
    flow:W:R (R the ``guidance_reach``); ``first_round``: the task round every robot starts
    at (``first_task_round``; the ratio to the best known is given for round 0 only);
    ``wait_cost``: PIBT's (``PIBTParams.wait_cost``); ``comm_radius``: the robots' radio
    range (None: the scenario's); ``switch`` (controller, step): from that step on, the run
    is planned with that controller's parameters (the same model and memory);
    ``profile`` > 0: every ``profile`` steps (and at the end) a census of the map's ``bands``
    horizontal bands (:func:`swarm.grid.metrics.band_census`), under ``"profile"``."""
    from envs.warehouse import WarehouseModel
    from swarm.grid.metrics import TurnReversals, band_census

    kind, _, rest = guidance.partition(":")
    weight, _, reach = rest.partition(":")
    extra: dict = {"guidance": kind}
    if kind != "none":
        extra["guidance_weight"] = int(weight or 2)
    if reach:
        extra["guidance_reach"] = int(reach)
    t0 = time.perf_counter()
    if comm_radius is not None:
        extra["comm_radius"] = comm_radius
    policy, params = controller_setup(controller, wait_cost)
    model = WarehouseModel(
        instance=str(instance), policy=policy, policy_params=params,
        motion=motion, rng=seed, first_task_round=first_round, **extra,
    )  # fmt: skip
    model.collect_metrics = False
    setup = time.perf_counter() - t0
    moved = np.zeros(model.world.n, bool)
    height, width = model.grid_map.height, model.grid_map.width
    if profile and bands > height:
        raise ValueError(f"bands: at most the map's {height} rows (got {bands})")
    census: list[dict] = []
    standing = np.zeros(bands, np.int64)  # robot-steps in each band in the window
    moving = np.zeros(bands, np.int64)  # ... of which the robot moved to another cell
    turning = np.zeros(bands, np.int64)  # ... turned in place
    undone = np.zeros(bands, np.int64)  # ... turned back (TurnReversals)
    reversals = TurnReversals(model.world.n)
    rotating = model.world.heading is not None
    errands = np.zeros(bands, np.int64)  # errands finished in each band in the window
    finished_before = 0  # errands finished before the window
    t0 = time.perf_counter()
    for step in range(1, steps + 1):
        if switch is not None and step == switch[1] + 1:
            model.policy.params = model.policy.Params.build(
                f"--switch {switch[0]}", **controller_setup(switch[0], wait_cost)[1]
            )
        before = model.tasks.finished.copy() if profile else None
        heading = model.world.heading.copy() if profile and rotating else None
        model.step()
        moved |= model.last_counts.moved_mask
        if profile:
            goal = model.tasks.goal
            turned = back = None
            if rotating:
                turned, back = reversals.update(step, heading, model.world.heading,
                                                model.last_counts.moved_mask)  # fmt: skip
            counts = band_census(model.world.cell // width, np.where(goal >= 0, goal // width, -1),
                                 model.last_counts.moved_mask, model.tasks.finished - before,
                                 height, bands, turned, back)  # fmt: skip
            standing += counts[:, 0]
            moving += counts[:, 1]
            errands += counts[:, 3]
            turning += counts[:, 4]
            undone += counts[:, 5]
            if step % profile == 0 or step == steps:
                census.append({
                    "step": step, "errands": model.tracker.tasks_finished - finished_before,
                    "robots": counts[:, 0].tolist(), "bound": counts[:, 2].tolist(),
                    "moving": [float(m / n) if n else None
                               for m, n in zip(moving, standing, strict=True)],
                    "turning": [float(t / n) if n and rotating else None
                                for t, n in zip(turning, standing, strict=True)],
                    "undone": [float(u / t) if t else None
                               for u, t in zip(undone, turning, strict=True)],
                    "finished": errands.tolist(),
                })  # fmt: skip
                finished_before = model.tracker.tasks_finished
                standing[:], moving[:], turning[:], undone[:], errands[:] = 0, 0, 0, 0, 0
    wall = time.perf_counter() - t0
    s = model.summary(free_flow=False)
    best = BEST_KNOWN.get(instance.stem)
    return {
        "instance": instance.stem,
        "robots": model.world.n,
        "motion": motion,
        "controller": ", ".join(
            [controller]
            + ([guidance] if kind != "none" else [])
            + ([f"wait {wait_cost}"] if wait_cost != 1 else [])
            + ([f"radio {comm_radius:g}"] if comm_radius is not None else [])
            + ([f"then {switch[0]} from step {switch[1]:,}"] if switch is not None else [])
        ),
        "steps": steps,
        "tasks": s["tasks_finished"],
        "best_ratio": (
            s["tasks_finished"] / best if best and steps == 5000 and not first_round else None
        ),
        "wall_s": wall,
        "setup_s": setup,
        "steps_per_s": steps / wall if wall > 0 else float("inf"),
        "bytes": s["bytes_per_agent_step"],
        "stuck": s["deadlocked"],
        "never_moved": int((~moved).sum()),
        "conflicts": s["attempted_conflicts"],
        "collisions": s["collisions"],
        "height": height,
        "profile": census,
    }


HEADER = (
    "| instance | robots | motion | controller | steps | errands | / best known | wall s | "
    "steps/s | bytes / robot / step | stuck at end | never moved | cancelled moves | "
    "executed collisions |\n| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: "
    "| ---: | ---: | ---: | ---: |"
)


def markdown(row: dict) -> str:
    ratio = "" if row["best_ratio"] is None else f"{row['best_ratio']:.1%}"
    return (
        f"| {row['instance']} | {row['robots']:,} | {row['motion']} | {row['controller']} | "
        f"{row['steps']:,} | {row['tasks']:,} | {ratio} | {row['wall_s']:.0f} | "
        f"{row['steps_per_s']:.1f} | {row['bytes']:,.0f} | {row['stuck']:,} | "
        f"{row['never_moved']:,} | {row['conflicts']:,} | {row['collisions']} |"
    )


def band_rows(band: int, bands: int, height: int) -> str:
    """The map rows of band ``band`` (row r lies in band ``r * bands // height``)."""
    lo, hi = -(-band * height // bands), -(-(band + 1) * height // bands) - 1
    return f"rows {lo}-{hi}"


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def profile_table(row: dict) -> str:
    """Markdown: errands per window and, per band, robots standing there at the window's
    end, the share of their robot-steps in the window in which they moved to another cell (a
    quarter turn is not a move; "-" where no robot stood), under rotation the share in which
    they turned in place and, in brackets, the share of those turns that took back the
    robot's previous one ("-" where none turned), the robots whose goal lies there, and the
    errands finished there in the window."""
    bands = len(row["profile"][0]["robots"])
    names = [band_rows(b, bands, row["height"]) for b in range(bands)]
    rotating = any(t is not None for w in row["profile"] for t in w.get("turning", []))
    turns = (
        " / share in which they turned in place (share of those turns taking back the robot's "
        "previous turn)"
        if rotating
        else ""
    )
    lines = [
        f"where the robots are ({row['instance']}, {row['motion']}, {row['controller']}): per "
        "band, robots standing there at the window's end / share of their robot-steps in the "
        f"window in which they moved to another cell{turns} / robots bound there / errands "
        "finished there in the window",
        "| step | errands in window | " + " | ".join(names) + " |",
        "| ---: | ---: | " + " | ".join("---:" for _ in names) + " |",
    ]
    for window in row["profile"]:
        cells = []
        for b in range(bands):
            turned = ""
            if rotating:
                turned = f" / {_share(window['turning'][b])} ({_share(window['undone'][b])})"
            cells.append(
                f"{window['robots'][b]:,} / {_share(window['moving'][b])}{turned} / "
                f"{window['bound'][b]:,} / {window['finished'][b]:,}"
            )
        lines.append(f"| {window['step']:,} | {window['errands']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="+", type=Path,
                    default=[DATA / "MR23-I-10.json", DATA / "MR23-I-06.json"])  # fmt: skip
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--motions", nargs="+", default=["rotate", "grid"], choices=["grid", "rotate"])
    ap.add_argument("--controllers", nargs="+", default=["pibt", "pibt-occupied", "pibt-global"],
                    choices=CONTROLLERS)  # fmt: skip
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--guidance", nargs="+", default=["none"],
                    help="none, crisscross:W, flow:W or flow:W:R (guidance weight W, "
                    "reach R), one row each")  # fmt: skip
    ap.add_argument("--profile", type=int, default=0, metavar="STEPS",
                    help="after each row, a table of where the robots are every STEPS steps "
                    "(errands; robots standing, moving, turning and bound, turns taken back, and "
                    "errands finished, per band of map rows; 0: off)")  # fmt: skip
    ap.add_argument("--bands", type=int,
                    help="horizontal bands of the map in the --profile table "
                    "(default 14)")  # fmt: skip
    ap.add_argument("--wait-cost", type=int, default=1,
                    help="PIBT's wait_cost for every controller: steps a step in place away "
                    "from the goal costs in the ranking of a robot's candidate cells (1..10; "
                    "default 1)")  # fmt: skip
    ap.add_argument("--comm-radius", type=float,
                    help="the robots' radio range in cells (default: the scenario's, "
                    "5)")  # fmt: skip
    ap.add_argument("--switch", metavar="CONTROLLER@STEP",
                    help="after STEP steps, plan with CONTROLLER's parameters (the same robots, "
                    "tasks and memory)")  # fmt: skip
    ap.add_argument("--first-round", type=int, default=0,
                    help="task round every robot starts at (first_task_round): held-out "
                    "errands; the ratio to the best known is given for round 0 only")  # fmt: skip
    args = ap.parse_args(argv)
    if args.steps < 1:
        ap.error("argument --steps: at least 1 step")
    if args.profile < 0:
        ap.error("argument --profile: 0 (off) or a number of steps")
    if args.bands is not None and not args.profile:
        ap.error("argument --bands: only with --profile")
    bands = 14 if args.bands is None else args.bands
    if bands < 1:
        ap.error("argument --bands: at least 1 band")
    if not 1 <= args.wait_cost <= 10:
        ap.error("argument --wait-cost: an integer in 1..10 (1: a step in place costs a move)")
    if args.first_round < 0:
        ap.error("argument --first-round: a task round, 0 or more")
    if args.comm_radius is not None and not (0 < args.comm_radius < float("inf")):
        ap.error("argument --comm-radius: a finite range in cells, above 0")
    switch = None
    if args.switch is not None:
        name, _, at = args.switch.partition("@")
        if name not in CONTROLLERS or not at.isdigit() or not 1 <= int(at) < args.steps:
            ap.error(f"argument --switch: CONTROLLER@STEP, a controller of {', '.join(CONTROLLERS)}"
                     f" and a step in 1..{args.steps - 1} (got {args.switch!r})")  # fmt: skip
        switch = (name, int(at))
        other = [c for c in args.controllers
                 if controller_setup(c, 1)[0] != controller_setup(name, 1)[0]]  # fmt: skip
        if other:
            ap.error(f"argument --switch: {name} plans with another policy than "
                     f"{', '.join(other)}; switch between controllers of one policy")  # fmt: skip
    missing = [str(p) for p in args.instances if not p.exists()]
    if missing:
        print(f"skipped: instance(s) not found: {', '.join(missing)} (../shared/data is absent)")
        return 0
    if args.profile:
        from swarm.grid.maps import load_instance

        for inst in args.instances:
            height = load_instance(inst).grid.height
            if bands > height:
                ap.error(f"argument --bands: at most the {height} rows of {inst.name}'s map")
    print("python " + " ".join([f"experiments/{Path(__file__).name}", *sys.argv[1:]]))
    print(HEADER, flush=True)
    for inst in args.instances:
        for motion in args.motions:
            for controller in args.controllers:
                for guidance in args.guidance:
                    row = run_row(inst, args.steps, motion, controller, args.seed, guidance,
                                  args.first_round, args.profile, bands,
                                  args.wait_cost, args.comm_radius, switch)  # fmt: skip
                    print(markdown(row), flush=True)
                    if row["profile"]:
                        print(profile_table(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
