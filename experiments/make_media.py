"""Make the README's pictures from the code as it is: docs/screenshot.png, docs/flocking.gif.

    PYTHONPATH=. python3 experiments/make_media.py [--out docs]

Both are drawn headless (SDL's dummy video driver) by the same viewer people run with
``swarm view``, so they stay current when the viewer or the scenario changes. Seeds are
fixed: running it twice draws the same swarm (only the measured rates in the HUD differ).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "dummy"
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np

from envs.flocking import FlockingModel
from swarm.viewer import Viewer, record

SEED = 7
SCREENSHOT_AGENTS = 400  # boids on a 60 m torus: flocks form within ~150 steps
SCREENSHOT_STEPS = 150
GIF_AGENTS = 300
GIF_STEPS = 90  # frames; two simulation steps each
GIF_SIZE = 420  # pixels square


def screenshot(path: Path) -> Path:
    """The window after some flocking: comm graph, trails, one drone selected."""
    model = FlockingModel(n_agents=SCREENSHOT_AGENTS, world_size=60.0, rng=SEED)
    viewer = Viewer(model, width=1000, height=760, window=False)
    viewer.show_trails = True
    viewer.options.show_comm = True
    for _ in range(SCREENSHOT_STEPS):  # frame by frame, so the HUD's rates are real
        viewer.tick()
    # select a drone on the edge of a flock: a readable handful of neighbours in its panel
    counts = model.engine.neighbors.counts
    row = int(np.flatnonzero(counts == np.clip(6, counts.min(), counts.max()))[0])
    viewer.options.selected = row
    viewer.draw()
    return viewer.screenshot(path)


def gif(path: Path) -> Path:
    model = FlockingModel(n_agents=GIF_AGENTS, world_size=50.0, rng=SEED)
    return record(
        model, path, steps=GIF_STEPS, fps=20, width=GIF_SIZE, height=GIF_SIZE,
        show_trails=True, steps_per_frame=2,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs", help="folder to write into (default docs)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for made in (screenshot(out / "screenshot.png"), gif(out / "flocking.gif")):
        print(f"wrote {made} ({made.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
