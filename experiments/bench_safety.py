"""What the ORCA safety layer costs: ms per step of the crossing with and without it.

    python experiments/bench_safety.py                       # N = 1,000 and 10,000
    python experiments/bench_safety.py --agents 1000 --steps 20 --blocks 5 --json out.json
    python experiments/bench_safety.py --dim 3 --agents 1000 --phases ring crowd run

Three moments of the antipodal crossing (envs.crossing, its defaults: 3 m/s, 10 ms steps,
2 m sensing, neighbours 3 collision radii apart on the ring, or on the sphere with
``--dim 3``):

* ``ring``: just after take-off. Every drone senses its ring neighbours and the layer checks
  its preferred velocity against each half-plane; there is nothing to avoid yet, so this is
  the layer's floor.
* ``crowd``: the drones packed on a jittered square lattice 1.5 collision radii apart (the
  density of the crossing's centre), each still heading for its own antipodal goal, so most
  drones' preferences break a half-plane and the linear programs (and their fallback) run.
  In 3-D a jittered cubic lattice, the same spacing.
* ``run``: the whole crossing, from take-off until every drone has arrived, once with the
  layer and once without (no alternation: the two runs differ in length); ``plain_ms`` and
  ``orca_ms`` are their means per step, and ``agent_steps_per_s`` the layered run's drones x
  steps / seconds, the figure the issue's target (>= 100,000 at 1,000 drones) is about.

Plain and layered models start from the same seed and state and alternate in blocks of
``--steps`` steps, so a drift of the machine's speed hits both alike; medians over blocks.
``layer`` is the layer's own time on one observation (the wrapped decision minus the
controller's). In the crowd the plain step is mostly sensing: the engine's cell grid is
sized for drones spread over the whole arena, so a crowd packed in its centre shares a few
large cells.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from envs.crossing import MIN_GAP, RING_FRACTION, CrossingModel, unit_spacing
from swarm.config import ConfigError
from swarm.io import write_json
from swarm.resources import check_new_file

COLLISION_RADIUS = 0.3  # m, the engine's default
CROWD_SPACING = 1.5  # collision radii between lattice neighbours in the crowd


def world_for(n_agents: int, dim: int = 2) -> float:
    """The smallest arena (to 10 m) whose default ring (sphere) keeps neighbours MIN_GAP
    radii apart."""
    ring = (MIN_GAP * COLLISION_RADIUS + 2 * math.sqrt(dim) * 0.05) / unit_spacing(n_agents, dim)
    return 10.0 * math.ceil(ring / RING_FRACTION / 10.0)


def pack(model: CrossingModel, seed: int) -> None:
    """Move the drones onto a jittered square (cubic) lattice around the arena's centre."""
    engine = model.engine
    n, step, dim = engine.rows, CROWD_SPACING * COLLISION_RADIUS, engine.dim
    side = math.ceil(n ** (1.0 / dim) - 1e-9)
    axes = np.meshgrid(*[np.arange(side)] * dim)
    grid = np.stack(axes, axis=-1).reshape(-1, dim)[:n]
    rng = np.random.default_rng(seed)
    centre = model.config.world_size / 2
    jitter = rng.uniform(-0.02, 0.02, (n, dim))
    engine.pos[:] = centre + (grid - (side - 1) / 2) * step + jitter
    engine.vel[:] = 0.0
    engine.invalidate()


def build(n_agents: int, safety: str, phase: str, seed: int, dim: int = 2,
          world: float | None = None) -> CrossingModel:  # fmt: skip
    world = world_for(n_agents, dim) if world is None else world
    model = CrossingModel(n_agents=n_agents, world_size=world, safety=safety, dim=dim,
                          rng=seed)  # fmt: skip
    model.collect_metrics = False  # the step itself, not the DataCollector
    if phase == "crowd":
        pack(model, seed)
    return model


def whole_run(n_agents: int, dim: int, seed: int = 0, world: float | None = None,
              limit: int = 40_000) -> dict:  # fmt: skip
    """The whole crossing with and without the layer: ms per step, steps, agent-steps/s."""
    world = world_for(n_agents, dim) if world is None else world
    out: dict = {"n_agents": n_agents, "dim": dim, "phase": "run", "world_size": world}
    for safety in ("none", "orca"):
        warm = build(8, safety, "crowd", seed, dim)  # packed: neighbours in range, so the
        warm.step()  # layer's kernels compile (or load) here, outside the timing
        model = build(n_agents, safety, "run", seed, dim, world)
        start, steps = time.perf_counter(), 0
        while steps < limit:
            for _ in range(100):
                model.step()
            steps += 100
            if (model.scenario.arrived_at >= 0).all():
                break
        seconds = time.perf_counter() - start
        key = "plain" if safety == "none" else "orca"
        out[f"{key}_ms"] = seconds / steps * 1e3
        out[f"{key}_steps"] = steps
        if safety == "orca":
            out["agent_steps_per_s"] = n_agents * steps / seconds
            out["collisions_total"] = float(model.scenario.events.sum())
    out["ratio"] = out["orca_ms"] / out["plain_ms"]
    return out


def measure(n_agents: int, phase: str, steps: int, blocks: int, seed: int = 0,
            dim: int = 2, world: float | None = None) -> dict:  # fmt: skip
    """Median ms per step, without and with the layer, over alternating blocks."""
    if phase == "run":
        return whole_run(n_agents, dim, seed, world)
    models = {s: build(n_agents, s, phase, seed, dim, world) for s in ("none", "orca")}
    for model in models.values():
        model.step()  # compile and warm up
    times: dict[str, list[float]] = {s: [] for s in models}
    for _ in range(blocks):
        for name, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                model.step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    ms = {k: float(np.median(v)) for k, v in times.items()}
    layered = models["orca"]
    return {
        "n_agents": n_agents, "dim": dim, "phase": phase,
        "world_size": layered.config.world_size,
        "plain_ms": ms["none"], "orca_ms": ms["orca"], "ratio": ms["orca"] / ms["none"],
        "layer_ms": layer_cost(layered, blocks),
        "changed_share": float(np.mean(layered.policy.intervention > 0)),
    }  # fmt: skip


def layer_cost(model: CrossingModel, repeats: int) -> float:
    """The layer alone (ms): the wrapped decision minus the inner one, on one observation."""
    obs = model.observe()
    times: dict[str, list[float]] = {"inner": [], "safe": []}
    for _ in range(repeats):
        for name, policy in (("inner", model.policy.inner), ("safe", model.policy)):
            start = time.perf_counter()
            policy.decide(obs, False)
            times[name].append((time.perf_counter() - start) * 1e3)
    return float(np.median(times["safe"]) - np.median(times["inner"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument(
        "--phases", nargs="+", default=["ring", "crowd"], choices=["ring", "crowd", "run"]
    )
    parser.add_argument(
        "--dim",
        type=int,
        default=2,
        choices=[2, 3],
        help="the crossing in the plane (a ring) or in a cube (a sphere)",
    )
    parser.add_argument(
        "--world-size",
        type=float,
        default=None,
        help="arena side (m); default the smallest (to 10 m) that fits",
    )
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    if args.json:
        try:  # before minutes of measuring; a file is never overwritten
            check_new_file(args.json, "--json")
        except ConfigError as err:
            parser.error(str(err))  # one line, exit code 2
    rows = [measure(n, p, args.steps, args.blocks, dim=args.dim, world=args.world_size)
            for n in args.agents for p in args.phases]  # fmt: skip
    for r in rows:
        if r["phase"] == "run":
            print(f"N = {r['n_agents']:>6,} {r['dim']}-D run   in {r['world_size']:g} m: plain "
                  f"{r['plain_ms']:7.2f} "
                  f"ms/step ({r['plain_steps']:,} steps), ORCA {r['orca_ms']:7.2f} ms/step "
                  f"({r['orca_steps']:,} steps, {r['collisions_total']:.0f} collisions): "
                  f"{r['agent_steps_per_s']:,.0f} agent-steps/s with the layer")  # fmt: skip
            continue
        print(f"N = {r['n_agents']:>6,} {r['dim']}-D {r['phase']:<5}: plain "
              f"{r['plain_ms']:7.2f} ms/step, "
              f"ORCA {r['orca_ms']:7.2f} ms/step, ratio {r['ratio']:.2f}x; the layer alone "
              f"{r['layer_ms']:.2f} ms ({100 * r['changed_share']:.0f}% of the drones' "
              "commands changed)")  # fmt: skip
    if args.json:
        write_json(Path(args.json), rows)


if __name__ == "__main__":
    main()
