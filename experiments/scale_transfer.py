"""Scale transfer: actors trained on 10 drones, flown unchanged on 100, 1,000 and 10,000.

Per task (flocking; navigation with ``--tasks navigation``; formation with ``--tasks
formation``): an MLP and a GNN actor (IPPO, the ``local`` trainer, parameter sharing) are
trained on 10 drones (16 for formation: ``Task.base_n``); then each is put, without
retraining, in the scenario's Mesa model at N = 10, 100, 1,000, 10,000 drones at the training
density (the arena's side grows as sqrt(N)), beside the scenario's classic controller and
uniform random actions on the same held-out seeds (fewer seeds at large N).

Why this can transfer at all: the observation (swarm.marl.encoding.ObservationEncoder) holds
the own state and the ``k_neighbors`` nearest sensed drones (masked slots), so its width does
not depend on N; the GNN reads the mean of at most ``max_senders`` messages. One shared
network acts for every drone, evaluated in one batched pass per step (``rowwise``: chunks of
~10^4 rows, no loop over agents). What does depend on N: the ``own_pos`` segment is the
absolute position in [0, world_size], so at 10^4 drones the actor reads positions 30x
larger than it ever saw; global metrics (polarization, cohesion) need information to cross
sqrt(N) neighbourhoods, which 50 steps do not allow. The own velocity is in the world frame,
so an actor can also align a swarm of any size without neighbours by flying one fixed
compass heading (what the flocking actors trained here do: check before reading their
polarization as learned coordination).

``--frame body`` trains and flies the actors in the body frame instead (env argument
``frame="body"``, :mod:`swarm.marl.encoding`): no ``own_pos``, every vector on the drone's own
axes (x along its velocity), actions turned back to the world's. A compass heading is then
not even expressible, and nothing the actor reads grows with the arena. Its runs and files
carry the suffix ``_body``; the world-frame ones are left alone. Navigation's messages hold
world-frame landmark vectors its message segment does not declare, so the body frame refuses
them: body-frame navigation actors are trained without an inbox (``inbox_slots=0``).

Heading check: every row records ``heading_deg``, the compass direction of the flock's mean
velocity at the end of the episode; the run prints, per controller and N, how consistent it
is over the seeds (``heading_consistency``: the length of the mean unit vector of those
directions, 1 when every seed flies the same way, about 1/sqrt(seeds) when the directions are
random). Seeds start from random headings, so a flock that coordinates ends up flying a
different way on each seed.

Formation (``--tasks formation``, its own files ``scale_transfer_formation.*``): 16 drones
train on a 4 x 4 grid of slots 1.5 m apart, spawned in the central 3/4 of the arena, and
fly grids of N slots at the same density. Each drone is given its slot at take-off (the
scenario's ``assignment="spawn"``: the least total distance assignment; a learned actor runs
no auction), so the actors learn the motion only, from the displacement reading
``slot_error`` (envs/formation.py); the classic ``formation`` controller flies the same
slots: with the slots planned it runs no auction and sends nothing (its CBAA tables, two
floats per slot per drone, would need ~51 GiB of inbox at 10^4 drones), reading the same
displacement, so it runs at every N. Metrics: ``formation_error_rel``
(the RMS distance to the slots after the best rigid alignment of the whole shape, in slot
spacings: a global quantity), ``local_error_rel`` (each drone's mean displacement error to
its sensed neighbours, the reward's term, in slot spacings: a local one), ``assigned``,
``converged`` (share of seeds within the scenario's tolerance, scale / 20, by the end),
collisions per drone. ``--position-check`` flies the saved actors on their 16 drones in
arenas as wide as those of N = 100 to 10^4, only the absolute position changing
(:func:`position_check`; stored under ``position_check`` in the results).

What the formation runs found (300,000 steps per actor, files of 2026-12-04): in the world
frame both actors match the classic controller at the training size and break from N = 100
on (local error 0.4 spacings at 100, 1-1.5 at 1,000 and 10^4, collisions appear, and every
seed drifts the same compass heading); the position check breaks them the same way with 16
drones, so ``own_pos`` out of its trained range is the cause, not N. Body-frame actors
(invariant to position by construction) keep a local error of ~0.1 spacing and no
collisions up to 10^4, on par with the classic controller (local error ~0.085 spacing at
1,000 and 10^4, re-evaluated without its auction, files of 2026-12-05). What no local
controller fixes in 50 steps: the aligned shape error grows with N (~0.45 spacing at 1,000,
~0.6 at 10^4, the classic one included), since displacement consensus straightens each
neighbourhood quickly but the shape's long bends decay only as fast as diffusion across
sqrt(N) sensing hops.

Metrics are made per drone where the raw one grows with N: the team return per step (the
mean reward per drone: alignment + cohesion - collisions for flocking, a local quantity;
navigation's shared coverage term sums over landmarks, so it is divided by their number),
collisions per drone, cohesion / world_size, comm components per 100 drones; polarization
and the share of landmarks covered are already intensive. ``step_ms``: wall time of one
``model.step()`` (sensing, the controller, integration, comms); ``decide_ms``: the
controller's share of it.

    PYTHONPATH=. python3 experiments/scale_transfer.py                 # flocking, ~4 min
    PYTHONPATH=. python3 experiments/scale_transfer.py --tasks navigation  # ~4 min more
    PYTHONPATH=. python3 experiments/scale_transfer.py --train-steps 40000 --sizes 10 100
    PYTHONPATH=. python3 experiments/scale_transfer.py --reuse          # evaluate saved runs
    PYTHONPATH=. python3 experiments/scale_transfer.py --replot         # from the rows on file
    PYTHONPATH=. python3 experiments/scale_transfer.py --frame body     # body-frame actors
    PYTHONPATH=. python3 experiments/scale_transfer.py --tasks formation --train-steps 300000 \
        --sizes 10 16 100 1000 10000                                   # ~15 min

Outputs: ``docs/learning/scale_transfer.json`` (per-seed rows, summaries, budget, wall
times), ``docs/learning/scale_transfer.png``; training runs under ``runs/scale_transfer/``
(``--frame body``: ``scale_transfer_body.json``, ``.png`` and runs ``*_body``); formation:
``docs/learning/scale_transfer_formation.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import numpy as np
from matplotlib.figure import Figure

from swarm.io import write_json
from swarm.learn.checkpoint import latest_checkpoint
from swarm.learn.evaluate import UNIFORM_RANDOM, baseline_model
from swarm.learn.loop import TrainJob
from swarm.learn.policy import load_policy
from swarm.learn.ppo import PPOConfig
from swarm.learn.report import estimate, estimator
from swarm.learn.trainers import load_trainer

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "learning"
RUNS = ROOT / "runs" / "scale_transfer"
EPISODE = 50  # steps per training episode and per evaluation episode (5 s at dt = 0.1 s)
SIZES = (10, 100, 1_000, 10_000)
EVAL_SEED0 = 20_000  # held out: training resets use seeds derived from the run seed 0
ACTORS = ("mlp", "gnn")
FRAMES = ("world", "body")


def seeds_for(n: int) -> int:
    """Held-out episodes at swarm size n: many where they are cheap, 3 at 10^4."""
    return 16 if n <= 10 else 8 if n <= 100 else 4 if n <= 1_000 else 3


@dataclass(frozen=True)
class Task:
    """A scenario at a fixed density: ``base_world`` m of side for ``base_n`` drones."""

    scenario: str
    classic: str  # the scenario's classic controller
    base_n: int
    base_world: float
    reward_scale: float  # PPO sees reward x this: team returns of order 1
    actors: tuple[str, ...]  # actors that can run in the Mesa model for this scenario
    metrics: tuple[str, ...]  # reported columns (see derived())
    body_extra: tuple[tuple[str, Any], ...] = ()  # env arguments the body frame needs too
    fixed: tuple[tuple[str, Any], ...] = ()  # scenario arguments kept at every size
    extent_share: float | None = None  # spawn_extent = this x world side (None: not set)
    stem: str = "scale_transfer"  # results file name (a task with its own file: its stem)

    def world(self, n: int) -> float:
        """Side (m) that keeps n drones at the training density."""
        return self.base_world * math.sqrt(n / self.base_n)

    def config(self, n: int) -> dict[str, Any]:
        out = {"n_agents": n, "world_size": self.world(n), "max_cycles": EPISODE,
               **dict(self.fixed)}  # fmt: skip
        if self.extent_share is not None:
            out["spawn_extent"] = self.extent_share * self.world(n)
        return out

    def scenario_config(self, n: int) -> dict[str, Any]:
        """The scenario fields of :meth:`config` (env-only ones dropped): what a learned
        policy is re-sized with."""
        return {k: v for k, v in self.config(n).items() if k != "max_cycles"}

    def frame_config(self, frame: str) -> dict[str, Any]:
        """The env arguments of ``frame``: none for the world frame (its runs stay what they
        were), ``frame="body"`` and what the task needs with it otherwise."""
        return {} if frame == "world" else {"frame": frame, **dict(self.body_extra)}


FLOCK_METRICS = ("reward_per_step", "polarization", "collisions_per_drone", "cohesion_rel",
                 "components_per_100", "sensed_mean", "step_ms", "decide_ms")  # fmt: skip
NAV_METRICS = ("reward_per_step", "landmarks_covered", "coverage_cost_per_landmark",
               "collisions_per_drone", "sensed_mean", "step_ms", "decide_ms")  # fmt: skip
FORM_METRICS = ("reward_per_step", "formation_error_rel", "local_error_rel",
                "collisions_per_drone", "assigned", "converged", "sensed_mean", "step_ms",
                "decide_ms")  # fmt: skip
FORM_SCALE = 1.5  # m between neighbouring slots of the grid (the scenario's default)
TASKS = {
    # 10 drones in 10 m (0.1 per m^2): ~8 drones within the 5 m sensing radius, 4 observed
    "flocking": Task("flocking", "boids", 10, 10.0, 1.0, ACTORS, FLOCK_METRICS),
    # navigation sends its own messages (landmark reports): a GNN actor cannot run there in
    # the Mesa model (LearnedPolicy refuses it), so the MLP alone
    "navigation": Task("navigation", "random_walk", 10, 14.0, 0.03, ("mlp",), NAV_METRICS,
                       body_extra=(("inbox_slots", 0),)),
    # 16 drones in 8 m (0.25 per m^2), spawned in the central 6 m around a 4 x 4 grid of
    # slots 1.5 m apart (4.5 m a side), each drone given its slot at take-off (the scenario's
    # assignment="spawn": the actors learn the motion, not the auction); acceleration
    # actions up to 6 m/s^2 (the engine's default) for every controller
    "formation": Task("formation", "formation", 16, 8.0, 1.0, ACTORS, FORM_METRICS,
                      fixed=(("assignment", "spawn"), ("shape", "grid"),
                             ("scale", FORM_SCALE), ("max_accel", 6.0)),
                      extent_share=0.75, stem="scale_transfer_formation"),
}  # fmt: skip


# --------------------------------------------------------------------------- training
def suffix(frame: str) -> str:
    """File and run name suffix of a frame: none for the world frame's (as before)."""
    return "" if frame == "world" else f"_{frame}"


def train(
    task: Task, actor: str, steps: int, reuse: bool, frame: str = "world"
) -> tuple[Path, dict[str, Any]]:
    """An IPPO run of ``actor`` on ``task.base_n`` drones; returns its folder and summary."""
    out = RUNS / f"{task.scenario}-n{task.base_n}-{actor}{suffix(frame)}"
    if reuse and latest_checkpoint(out / "checkpoints") is not None:
        return out, {"reused": True}
    shutil.rmtree(out, ignore_errors=True)
    ppo = PPOConfig(rollout_steps=EPISODE, learning_rate=1e-3, reward_scale=task.reward_scale,
                    num_minibatches=4)  # fmt: skip
    env_config = {**task.config(task.base_n), **task.frame_config(frame)}
    job = TrainJob(scenario=task.scenario, env_config=env_config, algo="ippo",
                   actor=actor, total_steps=steps, num_envs=16, seed=0, out=str(out),
                   progress=False, checkpoint_every=1_000, ppo=ppo)  # fmt: skip
    summary = load_trainer("local").run(job)
    keep = ("wall_time_s", "env_steps_per_s", "final_episode_return", "env_steps", "updates")
    return out, {k: summary[k] for k in keep if k in summary}


# --------------------------------------------------------------------------- evaluation
def timed_decide(model: Any) -> list[float]:
    """Wrap the model's controller's ``decide`` (instance attribute) to add up its time."""
    spent = [0.0]
    policy = model.policy
    inner = policy.decide

    def decide(*args: Any, **kw: Any) -> Any:
        tick = time.perf_counter()
        try:
            return inner(*args, **kw)
        finally:
            spent[0] += time.perf_counter() - tick

    policy.decide = decide
    return spent


def episode(model: Any, steps: int) -> dict[str, float]:
    """Step ``model``; its final metrics, the team return (the trainer's episode_return:
    sum over steps of the mean reward over the drones) and the time per step."""
    engine = model.engine
    none = np.zeros((engine.rows, 2))  # the scenarios' rewards read the state only
    decide = timed_decide(model)
    stepping, team_return = 0.0, 0.0
    for _ in range(steps):
        tick = time.perf_counter()
        model.step()
        stepping += time.perf_counter() - tick
        team_return += float(np.mean(model.scenario.reward(engine, none)))
    counts = engine.neighbors.counts[engine.alive]
    mean_vel = engine.vel[engine.alive].mean(axis=0) if engine.alive.any() else np.zeros(2)
    extra = {}
    displacements = getattr(model.scenario, "displacements", None)  # formation
    if displacements is not None:
        _, error, peers = displacements(engine, engine.neighbors)
        counted = engine.alive & (peers > 0)
        extra["local_error"] = float(error[counted].mean()) if counted.any() else float("nan")
    return {**model.metrics, **extra, "episode_return": team_return,
            "heading_deg": float(np.degrees(np.arctan2(mean_vel[1], mean_vel[0]))),
            "sensed_mean": float(np.mean(counts)) if len(counts) else 0.0,
            "step_ms": 1e3 * stepping / steps, "decide_ms": 1e3 * decide[0] / steps}  # fmt: skip


def derived(row: dict[str, Any], n: int, world: float, steps: int) -> dict[str, Any]:
    """Per-drone forms of the metrics that grow with N (see the module docstring)."""
    out = dict(row)
    out["reward_per_step"] = row["episode_return"] / steps
    out["collisions_per_drone"] = row["collisions"] / n
    if "cohesion" in row:
        out["cohesion_rel"] = row["cohesion"] / world
    if "n_components" in row:
        out["components_per_100"] = 100.0 * row["n_components"] / n
    if "formation_error" in row:
        # RMS after the best rigid alignment, and each drone's mean displacement error to
        # its sensed neighbours (the reward's term), both in slot spacings; converged: the
        # share of seeds whose swarm got within the scenario's tolerance (scale / 20)
        # (NaN is stored as null in the results file: read back as NaN)
        nan = float("nan")
        error, local = row["formation_error"], row.get("local_error")
        out["formation_error_rel"] = (nan if error is None else error) / FORM_SCALE
        out["local_error_rel"] = (nan if local is None else local) / FORM_SCALE
        out["converged"] = float(row.get("convergence_time") is not None
                                 and np.isfinite(row["convergence_time"]))  # fmt: skip
    if "coverage_cost" in row:
        # one landmark per drone; navigation's shared reward is minus the coverage cost, a
        # sum over the landmarks: divided by their number it is a per-drone quantity again
        out["coverage_cost_per_landmark"] = row["coverage_cost"] / n
        out["reward_per_step"] /= n
    return out


def controllers(task: Task, runs: dict[str, Path]) -> dict[str, Callable[[int, int], Any]]:
    """name -> make(n, seed): a seeded Mesa model of n drones at the task's density."""

    def learned(run: Path) -> Callable[[int, int], Any]:
        def make(n: int, seed: int) -> Any:
            # load_policy refuses a config whose observation width differs from training
            policy = load_policy(run, **task.scenario_config(n))
            return policy.make_model(seed)

        return make

    def baseline(name: str) -> Callable[[int, int], Any]:
        return lambda n, seed: baseline_model(task.scenario, name, task.config(n), seed)

    makers = {f"{actor}_actor": learned(run) for actor, run in runs.items()}
    makers[task.classic] = baseline(task.classic)
    makers[UNIFORM_RANDOM] = baseline(UNIFORM_RANDOM)
    return makers


def evaluate(task: Task, runs: dict[str, Path], sizes: list[int], steps: int) -> list[dict]:
    """One row per (controller, N, seed) on the same held-out seeds."""
    makers = controllers(task, runs)
    for make in makers.values():  # compile and warm every code path before timing
        episode(make(task.base_n, 0), 3)
    rows = []
    for n in sizes:
        world = task.world(n)
        for name, make in makers.items():
            tick = time.perf_counter()
            for seed in range(EVAL_SEED0, EVAL_SEED0 + seeds_for(n)):
                row = derived(episode(make(n, seed), steps), n, world, steps)
                rows.append({"task": task.scenario, "controller": name, "n_agents": n,
                             "world_size": world, "seed": seed, **row})  # fmt: skip
            print(f"{task.scenario} N={n} {name}: {time.perf_counter() - tick:.1f} s, "
                  + ", ".join(f"{m}={np.mean([r[m] for r in rows[-seeds_for(n):]]):.3g}"
                              for m in task.metrics[:3]), flush=True)  # fmt: skip
    return rows


def heading_consistency(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """controller -> N -> the seeds' final flock headings (degrees) and the length of their
    mean unit vector: 1 when every seed ends flying the same compass heading."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if "heading_deg" in row:
            group = out.setdefault(row["controller"], {}).setdefault(str(row["n_agents"]), {})
            group.setdefault("heading_deg", []).append(round(row["heading_deg"], 1))
    for by_n in out.values():
        for group in by_n.values():
            angles = np.radians(group["heading_deg"])
            group["consistency"] = float(np.hypot(np.cos(angles).mean(), np.sin(angles).mean()))
    return out


def summarize(task: Task, rows: list[dict]) -> dict[str, Any]:
    """controller -> N -> metric -> mean and IQM with bootstrap intervals over seeds."""
    out: dict[str, Any] = {}
    for row in rows:
        out.setdefault(row["controller"], {}).setdefault(str(row["n_agents"]), [])
        out[row["controller"]][str(row["n_agents"])].append(row)
    return {
        controller: {
            n: {m: estimate([r[m] for r in group]) for m in task.metrics}
            for n, group in by_n.items()
        }
        for controller, by_n in out.items()
    }


def markdown(task: Task, summary: dict[str, Any], metrics: tuple[str, ...]) -> str:
    """Rows: controller x N; cells: mean [95 % interval of the mean]."""
    lines = ["| controller | N | " + " | ".join(metrics) + " |",
             "|---|---:|" + "---:|" * len(metrics)]  # fmt: skip
    for controller, by_n in summary.items():
        for n, stats in by_n.items():
            cells = []
            for m in metrics:
                s = stats[m]
                lo, hi = s["mean_ci"]
                ci = f" [{lo:.3g}, {hi:.3g}]" if np.isfinite(lo) else ""
                cells.append(f"{s['mean']:.3g}{ci}")
            lines.append(f"| {controller} | {int(n):,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plot
PANELS = {
    "reward_per_step": "mean reward per drone per step",
    "polarization": "polarization (global order)",
    "landmarks_covered": "share of landmarks covered",
    "formation_error_rel": "shape error (slot spacings, RMS)",
    "local_error_rel": "local displacement error (spacings)",
    "collisions_per_drone": "collisions per drone",
    "step_ms": "wall time per step (ms)",
}
# spanning decades: wall time, and the formation errors (10^-5 to 10 slot spacings)
LOG_PANELS = ("step_ms", "formation_error_rel", "local_error_rel")
COLOURS = {"mlp_actor": "tab:blue", "gnn_actor": "tab:orange", UNIFORM_RANDOM: "grey"}


def plot(summaries: dict[str, dict[str, Any]], path: Path) -> None:
    """Per task a row of panels: metric against N (log x), mean with its 95 % band."""
    tasks = list(summaries)
    panels = {t: [m for m in PANELS if m in TASKS[t].metrics] for t in tasks}
    cols = max(len(p) for p in panels.values())
    fig = Figure(figsize=(3.3 * cols, 2.9 * len(tasks)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(tasks), cols, squeeze=False))
    for r, t in enumerate(tasks):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(panels[t]):
                ax.set_visible(False)
                continue
            metric = panels[t][c]
            for controller, by_n in summaries[t].items():
                ns = np.array([int(n) for n in by_n])
                mean = np.array([by_n[n][metric]["mean"] for n in by_n])
                lo = np.array([by_n[n][metric]["mean_ci"][0] for n in by_n])
                hi = np.array([by_n[n][metric]["mean_ci"][1] for n in by_n])
                colour = COLOURS.get(controller, "tab:green")
                style = "--" if controller == UNIFORM_RANDOM else "-"
                ax.plot(ns, mean, style, marker="o", ms=3, color=colour, label=controller)
                ax.fill_between(ns, np.where(np.isfinite(lo), lo, mean),
                                np.where(np.isfinite(hi), hi, mean), color=colour,
                                alpha=0.2, linewidth=0)  # fmt: skip
            ax.set_xscale("log")
            if metric in LOG_PANELS:
                ax.set_yscale("log")
            ax.set_xlabel("drones N (same density)")
            ax.set_title(f"{t}: {PANELS[metric]}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[r, 0].legend(fontsize=7)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --------------------------------------------------------------------------- position check
CHECK_WORLDS = (1.0, 2.5, 7.9, 25.0)  # arena sides in units of the training side
CHECK_SEEDS = 8


def position_check(task: Task, frame: str, steps: int) -> dict[str, Any]:
    """The trained actors on ``task.base_n`` drones, the same spawn square and shape, only
    centred in arenas 2.5x to 25x wider (the sides of N = 100 to 10^4): nothing local
    changes, only the absolute position ``own_pos`` they read (and its segment's range).
    A world-frame actor that degrades here, as it does with N, breaks on position, not on
    the number of drones."""
    out: dict[str, Any] = {}
    for actor in task.actors:
        run = RUNS / f"{task.scenario}-n{task.base_n}-{actor}{suffix(frame)}"
        for share in CHECK_WORLDS:
            world = share * task.base_world
            cfg = {**task.scenario_config(task.base_n), "world_size": world}
            rows = []
            for seed in range(EVAL_SEED0, EVAL_SEED0 + CHECK_SEEDS):
                model = load_policy(run, **cfg).make_model(seed)
                rows.append(derived(episode(model, steps), task.base_n, world, steps))
            cell = {m: estimate([r[m] for r in rows]) for m in task.metrics[:3]}
            out.setdefault(f"{actor}_actor", {})[f"{world:g}"] = cell
            print(f"position check {actor} world={world:g} m: " + ", ".join(
                f"{m}={c['mean']:.3g}" for m, c in cell.items()), flush=True)  # fmt: skip
    return out


# --------------------------------------------------------------------------- main
def replot(path: Path, png: Path) -> None:
    """Recompute the derived metrics, summaries and plot from the per-seed rows on file."""
    doc = json.loads(path.read_text())
    rows = []
    for row in doc["rows"]:
        steps = doc["tasks"][row["task"]].get("episode_steps", EPISODE)
        rows.append(derived(row, row["n_agents"], row["world_size"], steps))
    doc["rows"] = rows
    for name, entry in doc["tasks"].items():
        entry["summary"] = summarize(TASKS[name], [r for r in rows if r["task"] == name])
        print(markdown(TASKS[name], entry["summary"], TASKS[name].metrics))
    write_json(path, doc)
    plot({name: entry["summary"] for name, entry in doc["tasks"].items()}, png)


def kept_from_reuse(old: dict[str, Any], entry: dict[str, Any]) -> None:
    """A run whose actors were all reused (``--reuse``) evaluates them again but trains
    nothing: keep what the file said of their training (summaries, steps per actor) and
    their position check, neither redone, instead of this run's unused ``--train-steps``."""
    trained = entry["training"]
    if not trained or not all(t.get("reused") for t in trained.values()):
        return
    if old.get("frame", "world") != entry["frame"]:
        return
    before = old.get("training", {})
    entry["training"] = {actor: {**before.get(actor, {}), **t} for actor, t in trained.items()}
    for key in ("train_steps_per_actor", "position_check"):
        if key in old:
            entry[key] = old[key]


def earlier(path: Path, rerun: list[str]) -> dict[str, Any]:
    """The results file so far, less the tasks about to run again: tasks are run one
    invocation at a time (navigation at 10^4 is slow) and each keeps its own entry."""
    doc: dict[str, Any] = {"tasks": {}, "rows": []}
    if path.exists():
        old = json.loads(path.read_text())
        doc["tasks"] = {k: v for k, v in old.get("tasks", {}).items() if k not in rerun}
        doc["rows"] = [r for r in old.get("rows", []) if r.get("task") in doc["tasks"]]
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["flocking"], choices=list(TASKS))
    parser.add_argument(
        "--train-steps",
        type=int,
        default=160_000,
        help="environment steps per actor (default 160000, ~1 min each)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--eval-steps",
        type=int,
        default=EPISODE,
        help=f"steps per evaluation episode (default {EPISODE}, as trained)",
    )
    parser.add_argument("--reuse", action="store_true", help="evaluate runs already trained")
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the json and png")
    parser.add_argument(
        "--frame",
        choices=FRAMES,
        default="world",
        help="observation and action axes of the actors (body: files and runs get _body)",
    )
    parser.add_argument(
        "--replot",
        action="store_true",
        help="no runs: derive, summarise and plot again the rows on file",
    )
    parser.add_argument(
        "--position-check",
        action="store_true",
        help="no training: the saved actors on base_n drones in wider arenas (position_check); "
        "added to the results file on record",
    )
    args = parser.parse_args()
    stems = {TASKS[name].stem for name in args.tasks}
    if len(stems) > 1:
        parser.error(f"--tasks: these write different files ({', '.join(sorted(stems))}); "
                     "run them one invocation each")  # fmt: skip
    stem = f"{stems.pop()}{suffix(args.frame)}"
    json_path, png_path = args.out / f"{stem}.json", args.out / f"{stem}.png"
    if args.replot:
        replot(json_path, png_path)
        return
    if args.position_check:
        doc = json.loads(json_path.read_text())
        for name in args.tasks:
            check = position_check(TASKS[name], args.frame, args.eval_steps)
            doc["tasks"][name]["position_check"] = {
                "command": " ".join(["python3", *sys.argv]), "base_n": TASKS[name].base_n,
                "seeds": CHECK_SEEDS, "by_world_size": check}  # fmt: skip
        write_json(json_path, doc)
        return
    start = time.perf_counter()
    load_before = os.getloadavg()
    command = " ".join(["python3", *sys.argv])
    previous = json.loads(json_path.read_text())["tasks"] if json_path.exists() else {}
    doc = earlier(json_path, args.tasks)
    doc.update({"command": command, "cpus": os.cpu_count(), "eval_seed0": EVAL_SEED0,
                "estimator": estimator().note})  # fmt: skip
    summaries = {name: task["summary"] for name, task in doc["tasks"].items()}
    for name in args.tasks:
        task = TASKS[name]
        runs, trained = {}, {}
        for actor in task.actors:
            tick = time.perf_counter()
            runs[actor], trained[actor] = train(
                task, actor, args.train_steps, args.reuse, args.frame
            )
            trained[actor]["process_wall_s"] = time.perf_counter() - tick
            print(f"{name} {actor} trained: {trained[actor]}", flush=True)
        tick = time.perf_counter()
        rows = evaluate(task, runs, args.sizes, args.eval_steps)
        summaries[name] = summarize(task, rows)
        doc["rows"] += rows
        doc["tasks"][name] = {
            "scenario": task.scenario, "classic": task.classic, "train_n": task.base_n,
            "train_world_size": task.base_world,
            "density_per_m2": task.base_n / task.base_world**2,
            "frame": args.frame, "env_frame_config": task.frame_config(args.frame),
            "world_size": {str(n): task.world(n) for n in args.sizes},
            "command": command, "train_steps_per_actor": args.train_steps,
            "episode_steps": args.eval_steps, "sizes": args.sizes,
            "seeds": {str(n): seeds_for(n) for n in args.sizes},
            "training": trained, "eval_wall_s": time.perf_counter() - tick,
            "wall_time_s": time.perf_counter() - start,
            "load_average_before": load_before, "load_average_after": os.getloadavg(),
            "summary": summaries[name],
            "heading": heading_consistency(rows),
        }  # fmt: skip
        kept_from_reuse(previous.get(name, {}), doc["tasks"][name])
        if task.fixed or task.extent_share is not None:
            doc["tasks"][name]["scenario_config"] = {
                str(n): task.scenario_config(n) for n in args.sizes}  # fmt: skip
        print(markdown(task, summaries[name], task.metrics), flush=True)
        for controller, by_n in doc["tasks"][name]["heading"].items():
            print(f"{controller} heading consistency over seeds: " + ", ".join(
                f"N={n}: {g['consistency']:.2f}" for n, g in by_n.items()), flush=True)  # fmt: skip
    doc["wall_time_s"] = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(json_path, doc)
    plot(summaries, png_path)
    print(f"done in {doc['wall_time_s']:.0f} s")


if __name__ == "__main__":
    main()
