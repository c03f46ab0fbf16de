"""``swarm view SCENARIO``: watch a scenario live, or record it headless.

    swarm view flocking --agents 500 --policy vicsek --seed 1
    swarm view flocking --agents 2000 --record flock.mp4 --steps 600 --headless
    swarm view consensus --set comm_model=knn --color value
    swarm view flocking --set dim=3 --record flock3d.mp4 --headless --turn 0.5

Bad options or values print one line naming them and what is allowed, and exit with 2. So
does a request that would run unseen: a window where there is no display (SDL would fall back
to its off-screen driver and run invisibly until killed), or ``--headless`` that neither
records nor has ``--steps`` to end it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from swarm.config import ConfigError


def add_view_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``view`` command to the ``swarm`` CLI's subparsers."""
    view = subparsers.add_parser(
        "view",
        help="watch a scenario live in a window, or record it (gif/mp4)",
        description="Watch a scenario live (press h in the window for the controls), or "
        "record it to a .gif or .mp4 with --record (add --headless on a machine without a "
        "display).",
    )
    view.add_argument("scenario", help="scenario name (see `swarm list`)")
    view.add_argument("--agents", type=int, help="number of agents (n_agents)")
    view.add_argument(
        "--policy", action="append", metavar="[TEAM=]NAME",
        help="controller (see `swarm list`); per team: --policy TEAM=NAME",
    )  # fmt: skip
    view.add_argument("--seed", type=int, default=0, help="the run's one seed (default 0)")
    view.add_argument("--set", action="append", metavar="KEY=VALUE", help="set a config field")
    view.add_argument("--record", metavar="OUT", help="write a recording: OUT.gif or OUT.mp4")
    view.add_argument(
        "--steps", type=int, help="steps to record, or to run before closing (default: 300 "
        "when recording, until quit in a window; needed with --headless without --record)"
    )  # fmt: skip
    view.add_argument(
        "--headless", action="store_true", help="no window (SDL dummy driver): with --record, "
        "or with --steps for a timed run that prints its frame rate"
    )  # fmt: skip
    view.add_argument("--fps", type=float, help="frame rate (default 60 live, 30 in videos)")
    view.add_argument("--width", type=int, default=1000, help="window/video width in pixels")
    view.add_argument("--height", type=int, default=800, help="window/video height in pixels")
    view.add_argument("--color", "--colour", dest="colour", help="colour agents by (e.g. speed)")
    view.add_argument("--comm", action="store_true", help="start with the comm graph shown")
    view.add_argument(
        "--view", choices=("orbit", "top"), help="a 3-D scenario's camera: orbit (default: a "
        "three-quarter view; drag turns it, the wheel zooms) or top (from above)"
    )  # fmt: skip
    view.add_argument(
        "--turn", type=float, default=0.0, metavar="DEG", help="3-D recordings: degrees the "
        "orbit camera turns per frame (default 0: a fixed three-quarter view)"
    )  # fmt: skip
    view.set_defaults(handler=lambda args, extra: run_view(args))
    return view


RECORD_HINT = "pass --headless --record FILE.mp4 to record without a window"
OFF_SCREEN_DRIVERS = ("dummy", "offscreen")  # SDL video drivers that draw no window
X11_PLATFORMS = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos")


def display_problem() -> str | None:
    """Why a window could not be seen here (one phrase), or None if it may be.

    Read from the environment before anything starts: without a display pygame-ce falls back
    to SDL's off-screen driver, opens "a window" nobody sees and runs until killed.
    """
    requested = os.environ.get("SDL_VIDEODRIVER", "").strip().lower()
    drivers = [name.strip() for name in requested.split(",") if name.strip()]
    if drivers and all(name in OFF_SCREEN_DRIVERS for name in drivers):
        return f"SDL_VIDEODRIVER={requested} draws off-screen"
    if drivers:
        return None  # an explicit driver (x11, wayland, kmsdrm, ...): SDL says if it fails
    if sys.platform.startswith(X11_PLATFORMS) and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return "neither DISPLAY nor WAYLAND_DISPLAY is set"
    return None


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or not key.strip():
            raise ConfigError(f"--set: expected key=value, got {pair!r}")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    return values


def _check(args: argparse.Namespace) -> None:
    """Reject bad numbers, and runs nobody would see, before anything opens or is written."""
    if args.agents is not None and args.agents < 1:
        raise ConfigError(f"--agents: must be >= 1 (got {args.agents})")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps: must be >= 1 (got {args.steps})")
    if args.fps is not None and not args.fps > 0:
        raise ConfigError(f"--fps: must be > 0 (got {args.fps})")
    if not abs(args.turn) <= 90:
        raise ConfigError(f"--turn: must be between -90 and 90 degrees per frame (got {args.turn})")
    for name in ("width", "height"):
        value = getattr(args, name)
        if not 64 <= value <= 8192:
            raise ConfigError(f"--{name}: must be between 64 and 8192 pixels (got {value})")
    if args.record is not None:
        from swarm.resources import check_new_file
        from swarm.viewer.recording import check_record_path

        check_record_path(args.record)
        check_new_file(args.record, "--record")
        if args.record.lower().endswith(".mp4") and (args.width % 2 or args.height % 2):
            raise ConfigError("--width/--height: an mp4 needs even sizes")
    elif args.headless and args.steps is None:
        raise ConfigError(
            "--headless: without --record nothing is shown or saved; pass --record FILE.mp4 "
            "to record, or --steps N for a timed run that prints its frame rate"
        )
    elif not args.headless:
        problem = display_problem()
        if problem is not None:
            raise ConfigError(f"--headless: no display found ({problem}); {RECORD_HINT}")


def build(args: argparse.Namespace) -> tuple[Any, Any]:
    """(model, factory making the same model again) from the parsed options: controllers by
    name, a learned run (``swarm train``'s folder or checkpoint), or per team."""
    from swarm.registry import model_maker

    config = _parse_sets(args.set or [])
    if args.agents is not None:
        config["n_agents"] = args.agents
    make = model_maker(args.scenario, args.policy, config)

    def factory() -> Any:
        return make(args.seed)

    return factory(), factory


def _check_scene(model: Any, colour: str | None) -> None:
    """The model can be drawn, and ``colour`` is one of its agents' colourings."""
    from swarm.viewer.layers import scene_of

    try:
        agents = scene_of(model).agents()
    except TypeError as err:  # the model has no drawing hook
        raise ConfigError(f"view: {err}") from None
    if colour is None:
        return
    allowed = list(agents.attributes) if agents is not None else []
    if colour not in allowed:
        raise ConfigError(f"--color: unknown {colour!r}; allowed: {', '.join(allowed) or 'none'}")


def run_view(args: argparse.Namespace) -> int:
    """Run ``swarm view``; returns the exit code (2 with one line on bad input)."""
    try:
        _check(args)
        model, factory = build(args)
        _check_scene(model, args.colour)
    except ConfigError as err:
        for line in str(err).splitlines():
            print(f"swarm view: error: {line}", file=sys.stderr)
        return 2
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    if args.record is not None:
        from swarm.viewer.recording import record

        steps = args.steps or 300
        fps = args.fps or 30.0
        start = time.perf_counter()
        out = record(
            model, args.record, steps, fps=fps, width=args.width, height=args.height,
            colour_by=args.colour, show_comm=args.comm, progress=sys.stderr.isatty(),
            view=args.view, turn=args.turn,
        )  # fmt: skip
        wall = time.perf_counter() - start
        rate = steps / wall if wall > 0 else float("inf")
        print(f"{args.scenario}: {steps} frames in {wall:.1f} s ({rate:.1f} frames/s) -> {out}")
        return 0
    import pygame

    from swarm.viewer.viewer import Viewer

    try:
        viewer = Viewer(
            model, reset=factory, width=args.width, height=args.height, headless=args.headless,
            fps=args.fps or 60.0, colour_by=args.colour, view=args.view,
        )  # fmt: skip
    except pygame.error as err:  # no display, no video driver
        reason = " ".join(str(err).split())
        print(f"swarm view: error: --headless: cannot open a window ({reason}); {RECORD_HINT}",
              file=sys.stderr)  # fmt: skip
        return 2
    driver = pygame.display.get_driver()
    if not args.headless and driver in OFF_SCREEN_DRIVERS:  # SDL fell back: nothing to see
        viewer.close()
        print(f"swarm view: error: --headless: no display found (SDL chose its {driver} "
              f"driver); {RECORD_HINT}", file=sys.stderr)  # fmt: skip
        return 2
    viewer.options.show_comm = args.comm
    start = time.perf_counter()
    viewer.run(max_frames=args.steps)
    if args.headless:
        wall = time.perf_counter() - start
        rate = viewer.frame / wall if wall > 0 else float("inf")
        print(f"{args.scenario}: {viewer.frame} frames in {wall:.1f} s ({rate:.1f} frames/s) "
              f"at step {viewer.step}")  # fmt: skip
    return 0
