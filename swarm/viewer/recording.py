"""Record a model to a GIF or an MP4, headless.

Frames are drawn off-screen by the same viewer (HUD included when asked), so a recording
made on a server with no display looks like the window. MP4 goes through ffmpeg (the
``imageio-ffmpeg`` wheel carries its own binary) and is streamed frame by frame; GIF is
written by Pillow, which keeps the frames in memory until the end, so keep GIFs short.

A 3-D scene is filmed by the orbit camera from its home (a three-quarter view: azimuth 45,
elevation 30 degrees), turning ``turn`` degrees per frame if asked; ``view="top"`` films it
from above instead.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from swarm.config import ConfigError
from swarm.io import file_mode

FORMATS = (".gif", ".mp4")


def check_record_path(path: str | Path) -> Path:
    """The output path, if its suffix is a format the recorder writes."""
    out = Path(path)
    if out.suffix.lower() not in FORMATS:
        raise ConfigError(
            f"record: {str(path)!r} has no known video suffix; allowed: {', '.join(FORMATS)}"
        )
    return out


def frames(
    model: Any,
    steps: int,
    width: int = 640,
    height: int = 640,
    hud: bool = True,
    colour_by: str | None = None,
    show_comm: bool = False,
    show_trails: bool = False,
    steps_per_frame: int = 1,
    view: str | None = None,
    turn: float = 0.0,
) -> Iterable[np.ndarray]:
    """Yield ``steps`` frames (H, W, 3) uint8, one after each ``steps_per_frame`` steps;
    ``hud`` adds a one-line caption (scenario, step, policy, two metrics). A 3-D scene's
    ``view`` is ``"orbit"`` (default) or ``"top"``; ``turn`` degrees per frame turn the
    orbit camera about the vertical axis."""
    from swarm.viewer.viewer import Viewer

    viewer = Viewer(model, width=width, height=height, colour_by=colour_by, window=False, view=view)
    viewer.options.show_comm = show_comm
    viewer.show_trails = show_trails
    viewer.compact_hud = True
    for k in range(steps):
        viewer.advance(steps_per_frame)
        if turn and k and viewer.orbit is not None:
            viewer.orbit.turn(turn)
        if hud:
            viewer.draw()
            yield viewer.frame_rgb()
        else:
            viewer.renderer.draw(viewer.scene, viewer.active_camera, viewer.options)
            yield viewer.renderer.rgb_array()


def record(
    model: Any,
    path: str | Path,
    steps: int,
    fps: float = 30.0,
    width: int = 640,
    height: int = 640,
    hud: bool = True,
    colour_by: str | None = None,
    show_comm: bool = False,
    show_trails: bool = False,
    steps_per_frame: int = 1,
    progress: bool = False,
    view: str | None = None,
    turn: float = 0.0,
) -> Path:
    """Step ``model`` ``steps`` times and write one frame per step to ``path``
    (``.gif`` or ``.mp4``, by suffix). Returns the path. ``view`` and ``turn``: a 3-D
    scene's camera (see :func:`frames`)."""
    import imageio.v2 as imageio

    out = check_record_path(path)
    if steps < 1:
        raise ConfigError(f"record: steps must be >= 1 (got {steps})")
    if fps <= 0:
        raise ConfigError(f"record: fps must be > 0 (got {fps})")
    if view not in (None, "orbit", "top"):
        raise ConfigError(f"record: view must be 'orbit' or 'top' (got {view!r})")
    if not np.isfinite(turn):
        raise ConfigError(f"record: turn must be a finite number of degrees (got {turn})")
    out.parent.mkdir(parents=True, exist_ok=True)
    # written beside the target, renamed over it when complete: never half a video
    fd, name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    if out.suffix.lower() == ".mp4":
        # even sizes for yuv420p; macro_block_size=2 avoids silent resizing to 16s
        writer = imageio.get_writer(tmp, fps=fps, macro_block_size=2, codec="libx264")
    else:
        writer = imageio.get_writer(tmp, mode="I", duration=1000.0 / fps, loop=0)
    source = frames(
        model, steps, width, height, hud, colour_by, show_comm, show_trails, steps_per_frame,
        view, turn,
    )  # fmt: skip
    if progress:
        from tqdm import tqdm

        source = tqdm(source, total=steps, desc=f"record {out.name}", unit="frame")
    try:
        try:
            for frame in source:
                writer.append_data(frame)
        finally:
            writer.close()
        os.chmod(tmp, file_mode())
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
