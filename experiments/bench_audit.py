"""What the locality audit costs: a step with K agents audited against a plain step.

    python experiments/bench_audit.py                  # N = 10,000, K = 10, boids and vicsek
    python experiments/bench_audit.py --agents 1000 --sample 10 --policies boids

Both runs start from the same seed at the `swarm bench` density (~10 neighbours in range);
they alternate in blocks so that a drift of the machine's speed hits both alike. The target
(DESIGN.md) is at most 3x a plain step at N = 10,000 with K = 10.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from swarm.bench import SENSE_RADIUS, arena_side
from swarm.registry import policy_class, scenario_class
from swarm.testing import Auditor


def _model(policy: str, n_agents: int, seed: int):
    scenario = policy_class(policy).scenario
    side = arena_side(n_agents, 10.0)
    return scenario_class(scenario)(
        n_agents=n_agents, world_size=side, sense_radius=SENSE_RADIUS, policy=policy, rng=seed
    )


def measure(policy: str, n_agents: int, sample: int, steps: int, blocks: int) -> dict:
    """Median ms per step, plain and audited, over alternating blocks of ``steps`` steps."""
    plain, audited = _model(policy, n_agents, 0), _model(policy, n_agents, 0)
    auditor = Auditor(audited, sample, seed=0)
    plain.step(), auditor.step()  # compile and warm up both
    times: dict[str, list[float]] = {"plain": [], "audited": []}
    for _ in range(blocks):
        for name, stepper in (("plain", plain), ("audited", auditor)):
            start = time.perf_counter()
            for _ in range(steps):
                stepper.step()
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    ms = {k: float(np.median(v)) for k, v in times.items()}
    return {
        "policy": policy, "n_agents": n_agents, "sample": sample,
        "plain_ms": ms["plain"], "audited_ms": ms["audited"],
        "ratio": ms["audited"] / ms["plain"], "agents_checked": auditor.checked,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=10, help="agents audited per step")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed block")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--policies", nargs="+", default=["boids", "vicsek"])
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = [measure(p, args.agents, args.sample, args.steps, args.blocks) for p in args.policies]
    for r in rows:
        print(f"{r['policy']:<10} N = {r['n_agents']:,}, K = {r['sample']}: plain "
              f"{r['plain_ms']:.2f} ms/step, audited {r['audited_ms']:.2f} ms/step, "
              f"ratio {r['ratio']:.2f}x (target <= 3x)")  # fmt: skip
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
