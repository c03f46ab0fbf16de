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

Then the PettingZoo frame (issue #18, "frames as cheap as steps"): ``env.render()`` of
``flocking_v0`` in ``rgb_array`` mode at 1,000 drones (600x600 px), against mpe2's
``simple_spread_v3`` rgb_array frame (3 agents, 700x700 px) and against our own frame read out
the old way (``array3d`` plus a transposing copy), interleaved in short rounds so that load
on the machine hits all three alike. Printed: median frames/s and range over the rounds, and
the median (range) of the per-round ratio to mpe2. Target: >= 2x mpe2.

    PYTHONPATH=. python3 experiments/bench_viewer.py --env-only [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from unittest import mock

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import pygame

from envs import flocking_v0
from envs.flocking import FlockingModel
from swarm.viewer.renderer import Renderer
from swarm.viewer.viewer import Viewer

DENSITY = 100 / 50.0**2  # drones per square metre, the flocking default
TARGETS = {1_000: 60.0, 10_000: 30.0}  # frames/s (DESIGN.md section 7)
ENV_TARGET = 2.0  # our 1,000-drone env frame vs mpe2's 3-agent one (issue #18)


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


def _old_rgb_array(self: Renderer, surface: pygame.Surface | None = None) -> np.ndarray:
    """The frame copy before issue #18: ``array3d`` (column-major) plus a transposing copy."""
    surface = surface or self.surface
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


def _old_copy_render(env) -> Callable[[], np.ndarray]:
    """``env.render`` with the renderer's frame read out the old way (same drawing)."""

    def render() -> np.ndarray:
        with mock.patch.object(Renderer, "rgb_array", _old_rgb_array):
            return env.render()

    return render


def env_frames(n: int, rounds: int, per_round: int, seed: int = 0) -> dict[str, list[float]]:
    """Frames/s per round of each contender's ``render()``, measured interleaved: each round
    times ``per_round`` frames of one, then of the next, so a loaded machine slows all alike."""
    from mpe2 import simple_spread_v3

    ours = flocking_v0.parallel_env(n_agents=n, render_mode="rgb_array")
    ours.reset(seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(20):  # headings spread out, as in a running episode
        ours.step({a: rng.uniform(-1, 1, ours.action_space(a).shape) for a in ours.agents})
    mpe = simple_spread_v3.parallel_env(render_mode="rgb_array")
    mpe.reset(seed=seed)
    for _ in range(5):
        mpe.step({a: mpe.action_space(a).sample() for a in mpe.agents})
    contenders = {
        f"ours, {n:,} drones": ours.render,
        f"ours, {n:,} drones, old copy (array3d)": _old_copy_render(ours),
        "mpe2 simple_spread_v3, 3 agents": mpe.render,
    }
    for fn in contenders.values():  # warm up: fonts, stamps, first window/surface
        for _ in range(3):
            fn()
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(per_round):
                fn()
            out[name].append(per_round / (time.perf_counter() - start))
    ours.close()
    mpe.close()
    return out


def report_env(n: int, rounds: int, per_round: int) -> None:
    results = env_frames(n, rounds, per_round)
    names = list(results)
    print(f"env.render() in rgb_array mode, {rounds} interleaved rounds of {per_round} frames:")
    for name, fps in results.items():
        lo, med, hi = min(fps), float(np.median(fps)), max(fps)
        print(f"  {name:<40} {med:8.1f} /s  (range {lo:.1f} - {hi:.1f})")
    mpe = np.asarray(results[names[-1]])
    for name in names[:-1]:
        ratio = np.asarray(results[name]) / mpe
        print(
            f"  ratio {name} / mpe2: {np.median(ratio):.2f}x "
            f"(range {ratio.min():.2f} - {ratio.max():.2f})"
        )
    ratio = float(np.median(np.asarray(results[names[0]]) / mpe))
    verdict = "meets" if ratio >= ENV_TARGET else "MISSES"
    print(f"  target >= {ENV_TARGET:g}x mpe2: {verdict} ({ratio:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--agents", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--env-only", action="store_true", help="only the env frame vs mpe2")
    parser.add_argument("--env-agents", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved env rounds")
    parser.add_argument("--per-round", type=int, default=20, help="env frames per round")
    args = parser.parse_args()
    for n in [] if args.env_only else args.agents:
        results = bench(n, args.frames)
        target = TARGETS.get(n)
        print(f"{n:,} drones (world {np.sqrt(n / DENSITY):.0f} m, 1000x800 px):")
        for name, value in results.items():
            print(f"  {name:<36} {value:8.1f} /s")
        if target is not None:
            full = results["full frame (step + draw + HUD)"]
            verdict = "meets" if full >= target else "MISSES"
            print(f"  target >= {target:g} frames/s: {verdict} ({full / target:.1f}x)")
    report_env(args.env_agents, args.rounds, args.per_round)


if __name__ == "__main__":
    main()
