"""Viewer frame rate at 1,000 and 10,000 drones, drawing included, headless, one core.

    PYTHONPATH=. python3 experiments/bench_viewer.py [--frames 120] [--agents 1000 10000]
        [--dims 2 3]

A frame is what the window does each tick: one simulation step of flocking (boids), the
scene built from the state, the drones drawn (oriented triangles, coloured by heading), the
HUD with live metrics, and the blit. Printed per size: frames/s for the full frame, for
drawing alone (the state frozen), with the comm graph shown, the simulation step alone
(measured last, when the flocks are denser and a step costs more than at the start), and the
drones drawn the naive way (one ``pygame.draw.polygon`` call per drone) for comparison. Density is
held at that of the flocking default (100 drones on 50 m x 50 m). Targets (DESIGN.md):
>= 60 frames/s at 1,000 and >= 30 at 10,000.

In 3-D (``--dims 3``, issue #15) the swarm flies in a cube sized for the same expected
neighbours per drone (about 3 within the 5 m sensing range) and the frame is the orbit
view: perspective, depth-sorted markers, shadows, floor grid and arena cube. Printed as
well: drawing while the camera turns every frame (a drag: the cached floor and cube are
redrawn each time) and the same state drawn from above (the top-down view, ``o``).

On a shared, loaded machine those rates swing by 2x from run to run; ``--interleaved`` times
the draw alone (paused, HUD included) of the 2-D swarm, the 3-D swarm in the orbit view and
the 3-D swarm from above in alternating short rounds, so load hits all three alike, and
prints the median (range) per round and the median ratio of 3-D orbit to 2-D:

    PYTHONPATH=. python3 experiments/bench_viewer.py --interleaved [--agents 1000 10000]

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
from swarm.bench import arena_side
from swarm.viewer.renderer import Renderer
from swarm.viewer.viewer import Viewer

DENSITY = 100 / 50.0**2  # drones per square metre, the flocking default
SENSE_RADIUS = 5.0  # metres, the flocking default
NEIGHBOURS = DENSITY * np.pi * SENSE_RADIUS**2  # expected within range, kept in 3-D
TARGETS = {1_000: 60.0, 10_000: 30.0}  # frames/s (DESIGN.md section 7)
ENV_TARGET = 2.0  # our 1,000-drone env frame vs mpe2's 3-agent one (issue #18)


def side_of(n: int, dim: int = 2) -> float:
    """Arena side (m): the flocking default's density, or its neighbours per drone in 3-D."""
    return float(arena_side(n, NEIGHBOURS, SENSE_RADIUS, dim))


def model_of(n: int, seed: int = 0, dim: int = 2) -> FlockingModel:
    return FlockingModel(n_agents=n, world_size=side_of(n, dim), rng=seed, dim=dim)


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


def bench(n: int, frames: int, dim: int = 2) -> dict[str, float]:
    viewer = Viewer(model_of(n, dim=dim), headless=True, width=1000, height=800)
    out = {"full frame (step + draw + HUD)": rate(viewer.tick, frames)}
    viewer.paused = True
    out["draw only (paused)"] = rate(viewer.tick, frames)
    viewer.options.show_comm = True
    out["draw only, comm graph shown"] = rate(viewer.tick, frames)
    viewer.options.show_comm = False
    if dim == 3:

        def turning() -> None:
            viewer.orbit.rotate(3.0, 0.0)  # a drag: the camera moves every frame
            viewer.tick()

        out["draw only, camera turning"] = rate(turning, frames)
        viewer.orbit.reset()
        viewer.toggle_view()
        out["draw only, top-down view"] = rate(viewer.tick, frames)
        viewer.toggle_view()
    viewer.paused = False
    steps = rate(viewer.model.step, frames)
    out["simulation step alone"] = steps
    if dim == 2:
        viewer.draw()
        out["naive: one draw.polygon per drone"] = rate(lambda: naive_polygons(viewer), frames)
    viewer.close()
    return out


def draw_rounds(n: int, rounds: int, per_round: int) -> dict[str, list[float]]:
    """Frames/s per round of the paused viewer's tick (draw + HUD) in 2-D, 3-D orbit and
    3-D top-down, interleaved round by round."""
    flat = Viewer(model_of(n, dim=2), headless=True, width=1000, height=800)
    cube = Viewer(model_of(n, dim=3), headless=True, width=1000, height=800)
    top = Viewer(model_of(n, dim=3), headless=True, width=1000, height=800, view="top")
    contenders = {"2-D": flat, "3-D orbit": cube, "3-D top-down": top}
    for v in contenders.values():
        v.paused = True
        for _ in range(3):  # warm up: stamps, fonts, the cached background
            v.tick()
    out: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, v in contenders.items():
            start = time.perf_counter()
            for _ in range(per_round):
                v.tick()
            out[name].append(per_round / (time.perf_counter() - start))
    for v in contenders.values():
        v.close()
    return out


def report_draw_rounds(n: int, rounds: int, per_round: int) -> None:
    results = draw_rounds(n, rounds, per_round)
    print(f"{n:,} drones, draw only (paused, HUD), {rounds} interleaved rounds of {per_round}:")
    for name, fps in results.items():
        print(
            f"  {name:<14} {np.median(fps):8.1f} frames/s  (range {min(fps):.1f} - {max(fps):.1f})"
        )
    ratio = np.asarray(results["3-D orbit"]) / np.asarray(results["2-D"])
    print(
        f"  3-D orbit / 2-D: {np.median(ratio):.2f}x (range {ratio.min():.2f} - {ratio.max():.2f})"
    )


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
    parser.add_argument("--dims", type=int, nargs="+", choices=(2, 3), default=[2, 3])
    parser.add_argument("--env-only", action="store_true", help="only the env frame vs mpe2")
    parser.add_argument("--no-env", action="store_true", help="skip the env frame vs mpe2")
    parser.add_argument(
        "--interleaved", action="store_true", help="only the draw of 2-D vs 3-D, interleaved"
    )
    parser.add_argument("--env-agents", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=15, help="interleaved env rounds")
    parser.add_argument("--per-round", type=int, default=20, help="env frames per round")
    args = parser.parse_args()
    if args.interleaved:
        for n in args.agents:
            report_draw_rounds(n, args.rounds, args.per_round)
        return
    runs = [] if args.env_only else [(n, d) for d in args.dims for n in args.agents]
    for n, dim in runs:
        results = bench(n, args.frames, dim)
        target = TARGETS.get(n)
        arena = f"{side_of(n, dim):.0f} m" + (" cube, orbit view" if dim == 3 else "")
        print(f"{n:,} drones, {dim}-D (world {arena}, 1000x800 px):")
        for name, value in results.items():
            print(f"  {name:<36} {value:8.1f} /s")
        if target is not None:
            full = results["full frame (step + draw + HUD)"]
            verdict = "meets" if full >= target else "MISSES"
            print(f"  target >= {target:g} frames/s: {verdict} ({full / target:.1f}x)")
    if not args.no_env:
        report_env(args.env_agents, args.rounds, args.per_round)


if __name__ == "__main__":
    main()
