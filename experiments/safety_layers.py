"""ORCA and control barrier functions side by side on crossings with bounded acceleration.

    python experiments/safety_layers.py            # the README's table, about 4 min

Antipodal crossings (envs.crossing: goto at 3 m/s, 10 ms steps, collision radius 0.3 m) of
8, 16 and 32 drones in a 20 m arena and 100 in a 60 m one, with ``max_accel = 20`` m/s^2
(the barrier layer needs a finite limit), 3 seeds each; one markdown row per size and layer:
colliding pairs, closest approach and steps until every drone arrived (min-max over seeds).
"""

from __future__ import annotations

import numpy as np

from envs.crossing import CrossingModel

SIZES = ((8, 20.0), (16, 20.0), (32, 20.0), (100, 60.0))
MAX_STEPS = 8000


def main() -> None:
    print(
        "| drones | layer | pairs that collided | closest approach (m) | steps until all arrived |"
    )
    print("| ---: | --- | ---: | ---: | ---: |")
    for n_agents, world in SIZES:
        for safety in ("orca", "cbf"):
            collided, closest, steps = [], [], []
            for seed in range(3):
                model = CrossingModel(n_agents=n_agents, world_size=world, safety=safety,
                                      max_accel=20.0, rng=seed)  # fmt: skip
                taken = 0
                while np.isnan(model.metrics["time_to_goal"]) and taken < MAX_STEPS:
                    model.step()
                    taken += 1
                summary = model.summary()
                collided.append(summary["collisions_total"])
                closest.append(summary["closest_approach"])
                steps.append(taken)
            print(f"| {n_agents} | {safety} | {min(collided):,.0f}-{max(collided):,.0f} | "
                  f"{min(closest):.3f}-{max(closest):.3f} | {min(steps):,}-{max(steps):,} |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
