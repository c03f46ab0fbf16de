"""Viewer frame rate at 1,000 and 10,000 drones, drawing included, headless, one core.

    PYTHONPATH=. python3 experiments/bench_viewer.py [--frames 120] [--agents 1000 10000]

A frame is what the window does each tick: one simulation step of flocking (boids), the
scene built from the state, the drones drawn (oriented triangles, coloured by heading), the
HUD with live metrics, and the blit. Printed per size: frames/s for the full frame, for
drawing alone (the state frozen), with the comm graph shown, the simulation step alone
(measured last, when the flocks are denser and a step costs more than at the start), and the
drones drawn the naive way (one ``pygame.draw.polygon`` call per drone) for comparison. Density is
held at that of the flocking default (100 drones on 50 m x 50 m). Targets (DESIGN.md):
>= 60 frames/s at 1,000 and >= 30 at 10,000.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import pygame

from envs.flocking import FlockingModel
from swarm.viewer.viewer import Viewer

DENSITY = 100 / 50.0**2  # drones per square metre, the flocking default
TARGETS = {1_000: 60.0, 10_000: 30.0}  # frames/s (DESIGN.md section 7)


def model_of(n: int, seed: int = 0) -> FlockingModel:
    return FlockingModel(n_agents=n, world_size=float(np.sqrt(n / DENSITY)), rng=seed)


def rate(fn, frames: int) -> float:
    """Median frames/s of ``frames`` calls, in 3 rounds (the machine is shared and noisy)."""
    fn()  # warm up: numba kernels, font, stamps
    rounds = []
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(max(frames // 3, 1)):
            fn()
        rounds.append(max(frames // 3, 1) / (time.perf_counter() - start))
    return float(np.median(rounds))


def naive_polygons(viewer: Viewer) -> None:
    """The per-drone baseline: one pygame.draw.polygon call per drone."""
    agents = viewer.scene.agents()
    surf = viewer.renderer.surface
    xy = viewer.camera.to_screen(agents.pos)
    colours = agents.attributes["heading"].colour()
    heading = -np.asarray(agents.heading)  # screen y points down
    s = 9.0  # pixels, about the size the renderer draws at this zoom
    corners = np.array([[0.55, 0.0], [-0.45, 0.35], [-0.45, -0.35]]) * s
    c, si = np.cos(heading), np.sin(heading)
    surf.fill((0, 0, 0))
    for k in range(len(xy)):
        rot = corners @ np.array([[c[k], si[k]], [-si[k], c[k]]])
        pygame.draw.polygon(surf, colours[k].tolist(), (rot + xy[k]).tolist())


def bench(n: int, frames: int) -> dict[str, float]:
    viewer = Viewer(model_of(n), headless=True, width=1000, height=800)
    out = {"full frame (step + draw + HUD)": rate(viewer.tick, frames)}
    viewer.paused = True
    out["draw only (paused)"] = rate(viewer.tick, frames)
    viewer.options.show_comm = True
    out["draw only, comm graph shown"] = rate(viewer.tick, frames)
    viewer.options.show_comm = False
    viewer.paused = False
    steps = rate(viewer.model.step, frames)
    out["simulation step alone"] = steps
    viewer.draw()
    out["naive: one draw.polygon per drone"] = rate(lambda: naive_polygons(viewer), frames)
    viewer.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--agents", type=int, nargs="+", default=[1_000, 10_000])
    args = parser.parse_args()
    for n in args.agents:
        results = bench(n, args.frames)
        target = TARGETS.get(n)
        print(f"{n:,} drones (world {np.sqrt(n / DENSITY):.0f} m, 1000x800 px):")
        for name, value in results.items():
            print(f"  {name:<36} {value:8.1f} /s")
        if target is not None:
            full = results["full frame (step + draw + HUD)"]
            verdict = "meets" if full >= target else "MISSES"
            print(f"  target >= {target:g} frames/s: {verdict} ({full / target:.1f}x)")


if __name__ == "__main__":
    main()
