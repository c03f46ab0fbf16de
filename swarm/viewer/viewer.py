"""The interactive viewer: a pygame window over any registered scenario.

``Viewer(model, reset=factory).run()`` opens a window; ``tick()`` advances exactly one frame
(events, simulation, drawing), so tests and the recorder drive it without blocking. With
``headless=True`` it draws on SDL's ``dummy`` video driver: no display needed.

Controls (``h`` shows them in the window):

=============  ===========================================================
space          pause / run
right arrow    one step (pauses)
+ / -          faster / slower (steps per frame: 1/8 .. 32)
c              communication graph
s              sensing ranges of every agent
t              trails
a / m          next colouring / next metric in the sparkline
click          select an agent: panel with its local observation and inbox
k              crash the selected agent (``model.crash([row])``)
r              reset (the same config and seed)
p              screenshot PNG
f              follow the swarm's centroid
wheel / drag   zoom about the pointer / pan
h              this help
q, esc         quit
=============  ===========================================================

A 3-D scene opens in the orbit view (:class:`~swarm.viewer.orbit.OrbitCamera`): drag turns
the camera about the arena (elevation clamped short of the poles), the wheel moves it
nearer or farther, a right-button drag moves the orbit centre, ``v`` goes back to the home
view, and ``o`` switches to the top-down view and back.
"""

from __future__ import annotations

import collections
import math
import os
import time
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pygame

from swarm.viewer import orbit
from swarm.viewer.layers import Scene, scene_of
from swarm.viewer.orbit import OrbitCamera
from swarm.viewer.renderer import Camera, Renderer, RenderOptions, _font

SPEEDS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # simulation steps per frame
PICK_RADIUS_PX = 12  # a click selects the nearest agent within this many pixels
DRAG_THRESHOLD_PX = 4  # a press that moves further than this is a pan, not a click
ZOOM_STEP = 1.15  # per wheel notch
SPARKLINE_STEPS = 300  # history shown in the sparkline
RATE_WINDOW = 30  # frames over which the sim and render rates are averaged
MAX_HUD_METRICS = 10
HUD_WIDTH = 372  # pixels
MESSAGE_SECONDS = 4.0  # a status message stays this long
HUD_BACK = (0, 0, 0, 165)
TEXT = (225, 228, 235)
DIM_TEXT = (150, 155, 170)
ACCENT = (90, 200, 250)

HELP = (
    ("space", "pause / run"),
    ("right", "single step"),
    ("+ / -", "faster / slower"),
    ("c", "comm graph"),
    ("s", "sensing ranges"),
    ("t", "trails"),
    ("a", "next colouring"),
    ("m", "next sparkline metric"),
    ("click", "select agent (panel)"),
    ("k", "crash selected agent"),
    ("r", "reset (same seed)"),
    ("p", "screenshot PNG"),
    ("f", "follow centroid"),
    ("wheel", "zoom"),
    ("drag", "pan (3-D: turn)"),
    ("right drag", "3-D: move the centre"),
    ("o", "3-D: orbit / top-down"),
    ("v", "reset the view"),
    ("h", "this help"),
    ("q / esc", "quit"),
)


def describe_agent(model: Any, row: int) -> tuple[list[str], np.ndarray]:
    """(panel lines, ids of the agents it senses) for agent ``row``, from its local
    observation: what its controller would see, and nothing more.

    A model may provide ``describe_agent(row)`` returning the same pair; otherwise a drone
    model's ``observe().for_agent(row)`` is shown, and any other observation's per-row
    fields.
    """
    own = getattr(model, "describe_agent", None)
    if callable(own):
        return own(row)
    obs = model.observe()
    lines: list[str] = []
    if hasattr(obs, "for_agent"):
        a = obs.for_agent(row)
        speed = float(np.sqrt(np.sum(np.square(a.vel))))
        heading = math.degrees(math.atan2(a.vel[1], a.vel[0]))  # from above in 3-D
        climb = f"  climb {a.vel[2]:.2f} m/s" if len(a.vel) == 3 else ""
        lines += [
            f"agent {row}  {'alive' if a.alive else 'CRASHED'}",
            f"pos ({', '.join(f'{v:.2f}' for v in a.pos)}) m",
            f"vel {speed:.2f} m/s  heading {heading:.0f} deg{climb}",
            f"senses {len(a.neighbor_ids)} within {a.sense_radius:g} m:",
        ]
        order = np.argsort(a.dist, kind="stable")[:6]
        for k in order:
            lines.append(f"  #{int(a.neighbor_ids[k])}  d={a.dist[k]:.2f}")
        if len(a.neighbor_ids) > len(order):
            lines.append(f"  ... {len(a.neighbor_ids) - len(order)} more")
        lines.append(f"inbox: {len(a.inbox_senders)} messages")
        for s, msg in list(zip(a.inbox_senders, a.inbox, strict=True))[:4]:
            vals = ", ".join(f"{v:.2f}" for v in np.ravel(msg)[:4])
            lines.append(f"  from #{int(s)}: [{vals}{', ...' if np.size(msg) > 4 else ''}]")
        for name, value in a.own.items():
            lines.append(f"{name} = {np.array2string(np.asarray(value), precision=3)}")
        return lines, np.asarray(a.neighbor_ids, np.int64)
    lines.append(f"agent {row}")
    if is_dataclass(obs):
        n = getattr(obs, "n", None)
        for f in fields(obs):
            value = getattr(obs, f.name)
            if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n:
                lines.append(f"{f.name} = {np.array2string(value[row], precision=3)}")
    return lines, np.zeros(0, np.int64)


class Viewer:
    """Interactive loop around a model: draws it, steps it, takes keys and the mouse.

    Args:
        model: any registered scenario model (drone or grid).
        reset: builds a fresh model with the same config and seed (``r``); None disables it.
        headless: draw on SDL's dummy driver (no window); ``tick`` still works.
        fps: frame cap of ``run`` (``tick`` itself never sleeps unless ``limit`` is set).
        colour_by: initial colouring (an attribute of the agents layer).
        screenshot_dir: where ``p`` writes PNGs.
        window: False draws off-screen only (no display, no events), as the recorder does.
        view: a 3-D scene's view: ``"orbit"`` (the default) or ``"top"`` (from above).
    """

    def __init__(
        self,
        model: Any,
        reset: Callable[[], Any] | None = None,
        width: int = 1000,
        height: int = 800,
        headless: bool = False,
        fps: float = 60.0,
        colour_by: str | None = None,
        screenshot_dir: str | Path = ".",
        trail_length: int = 30,
        title: str | None = None,
        window: bool = True,
        view: str | None = None,
    ):
        if view not in (None, "orbit", "top"):
            raise ValueError(f"viewer: view must be 'orbit' or 'top', got {view!r}")
        self.window = window
        self.name = title or getattr(model, "name", type(model).__name__)
        pygame.font.init()
        if window:
            if headless:
                os.environ["SDL_VIDEODRIVER"] = "dummy"
            pygame.display.init()
            self.screen = pygame.display.set_mode((int(width), int(height)))
            pygame.display.set_caption(f"swarm view {self.name}")
        else:  # off-screen (the recorder): no display, no events
            self.screen = pygame.Surface((int(width), int(height)), 0, 32)
        self.model = model
        self.reset_model = reset
        self.renderer = Renderer(width, height)
        self.fps = float(fps)
        self.screenshot_dir = Path(screenshot_dir)
        self.options = RenderOptions(colour_by=colour_by)
        self.paused = False
        self.speed_index = SPEEDS.index(1.0)
        self.show_trails = False
        self.show_help = False
        self.compact_hud = False  # one line (recordings) instead of the full HUD
        self.follow = False
        self.running = True
        self.frame = 0
        self._message = ""
        self._message_at = 0.0
        self.last_screenshot: Path | None = None
        self._pending_steps = 0
        self._credit = 0.0
        self._trail: collections.deque[np.ndarray] = collections.deque(maxlen=trail_length)
        self._history: dict[str, collections.deque[float]] = {}
        self._metric_index = 0
        self._press: tuple[int, int] | None = None
        self._dragging = False
        self._pan_press = False  # the right button is down (moves the orbit centre)
        self._frame_times: collections.deque[float] = collections.deque(maxlen=RATE_WINDOW)
        self._step_marks: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=RATE_WINDOW
        )
        self._clock = pygame.time.Clock()
        self._scene = scene_of(model)
        self.camera = Camera.fit(self._scene.bounds, width, height)
        # 3-D scenes: the orbiting camera, shown unless the top-down view is chosen
        self.orbit: OrbitCamera | None = None
        if self._scene.zbounds is not None:
            self.orbit = OrbitCamera.of_scene(self._scene, width, height)
        self.orbit_view = self.orbit is not None and view != "top"
        self._record_history()

    # ------------------------------------------------------------------ state
    @property
    def message(self) -> str:
        """The status line (the last action's result), shown for a few seconds."""
        return self._message

    @message.setter
    def message(self, text: str) -> None:
        self._message = text
        self._message_at = time.perf_counter()

    @property
    def speed(self) -> float:
        """Simulation steps per frame."""
        return SPEEDS[self.speed_index]

    @property
    def step(self) -> int:
        return self._scene.step

    @property
    def scene(self) -> Scene:
        """The scene drawn in the last frame."""
        return self._scene

    @property
    def active_camera(self) -> Camera | OrbitCamera:
        """The camera drawing the next frame: the orbit camera in the orbit view of a 3-D
        scene, the top-down one otherwise."""
        if self.orbit_view and self.orbit is not None:
            return self.orbit
        return self.camera

    def _hud_metrics(self) -> dict[str, float]:
        """The model's metrics, less the radio's when nothing is sent (always zero then)."""
        from swarm.metrics import COMM_METRICS

        metrics = dict(getattr(self.model, "metrics", {}) or {})
        engine = getattr(self.model, "engine", None)
        if getattr(engine, "channel", True) is None:
            metrics = {k: v for k, v in metrics.items() if k not in COMM_METRICS}
        return metrics

    def _record_history(self) -> None:
        metrics = getattr(self.model, "metrics", {}) or {}
        for name, value in metrics.items():
            hist = self._history.setdefault(name, collections.deque(maxlen=SPARKLINE_STEPS))
            hist.append(float(value))

    def advance(self, n: int = 1) -> None:
        """Step the model ``n`` times, keeping trails and metric history."""
        for _ in range(n):
            self.model.step()
            self._scene = scene_of(self.model)
            agents = self._scene.agents()
            if agents is not None and agents.trails:
                self._trail.append(agents.pos.copy())
            self._record_history()

    # ------------------------------------------------------------------ one frame
    def tick(self, limit: bool = False) -> bool:
        """Handle pending events, advance the simulation, draw one frame. False once the
        user quit. ``limit`` sleeps to hold ``fps`` (the interactive loop sets it)."""
        if self.window:
            for event in pygame.event.get():
                self.handle(event)
        if not self.running:
            return False
        n = self._pending_steps
        self._pending_steps = 0
        if not self.paused:
            self._credit += self.speed
            whole = int(self._credit)
            self._credit -= whole
            n += whole
        self.advance(n)
        self.draw()
        if self.window:
            pygame.display.flip()
        now = time.perf_counter()
        self._frame_times.append(now)
        self._step_marks.append((now, self._scene.step))
        self.frame += 1
        if limit:
            self._clock.tick(self.fps)
        return True

    def run(self, max_frames: int | None = None) -> None:
        """The interactive loop, until quit (or ``max_frames``)."""
        try:
            while self.tick(limit=True):
                if max_frames is not None and self.frame >= max_frames:
                    break
        finally:
            self.close()

    def close(self) -> None:
        if self.window:
            pygame.display.quit()

    def frame_rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 of the last frame as shown (HUD included)."""
        return self.renderer.rgb_array(self.screen)

    # ------------------------------------------------------------------ input
    def handle(self, event: pygame.event.Event) -> None:
        """Apply one input event."""
        if event.type == pygame.QUIT:
            self.running = False
        elif event.type == pygame.KEYDOWN:
            self._key(event.key)
        elif event.type == pygame.MOUSEWHEEL:
            if self.orbit_view and self.orbit is not None:
                self.orbit.zoom(ZOOM_STEP ** float(event.y))
            else:
                about = pygame.mouse.get_pos()
                self.camera.zoom(ZOOM_STEP ** float(event.y), about)
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            self._press = tuple(event.pos)
            self._dragging = False
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 3:
            self._pan_press = self.orbit_view
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 3:
            self._pan_press = False
        elif event.type == pygame.MOUSEMOTION and self._pan_press and self.orbit is not None:
            self.follow = False
            self.orbit.pan(*event.rel)
        elif event.type == pygame.MOUSEMOTION and self._press is not None:
            if self._dragging:
                self._drag(*event.rel)
            elif math.dist(event.pos, self._press) > DRAG_THRESHOLD_PX:
                self._dragging = True  # pan by everything moved since the press
                self._drag(event.pos[0] - self._press[0], event.pos[1] - self._press[1])
        elif event.type == pygame.MOUSEBUTTONUP and event.button == 1:
            if self._press is not None and not self._dragging:
                self.select_at(*event.pos)
            self._press = None
            self._dragging = False

    def _drag(self, dx: float, dy: float) -> None:
        """A left drag: turns the orbit camera in the orbit view, pans from above."""
        if self.orbit_view and self.orbit is not None:
            self.orbit.rotate(dx, dy)
        else:
            self.follow = False
            self.camera.pan(dx, dy)

    def _key(self, key: int) -> None:
        o = self.options
        if key in (pygame.K_q, pygame.K_ESCAPE):
            self.running = False
        elif key == pygame.K_SPACE:
            self.paused = not self.paused
        elif key == pygame.K_RIGHT:
            self.paused = True
            self._pending_steps += 1
        elif key in (pygame.K_PLUS, pygame.K_EQUALS, pygame.K_KP_PLUS):
            self.speed_index = min(self.speed_index + 1, len(SPEEDS) - 1)
        elif key in (pygame.K_MINUS, pygame.K_KP_MINUS):
            self.speed_index = max(self.speed_index - 1, 0)
        elif key == pygame.K_c:
            o.show_comm = not o.show_comm
        elif key == pygame.K_s:
            o.show_sensing = not o.show_sensing
        elif key == pygame.K_t:
            self.show_trails = not self.show_trails
        elif key == pygame.K_a:
            self._next_colouring()
        elif key == pygame.K_m:
            self._metric_index += 1
        elif key == pygame.K_k:
            self.crash_selected()
        elif key == pygame.K_r:
            self.reset()
        elif key == pygame.K_p:
            self.screenshot()
        elif key == pygame.K_f:
            self.follow = not self.follow
        elif key == pygame.K_h:
            self.show_help = not self.show_help
        elif key == pygame.K_o:
            self.toggle_view()
        elif key == pygame.K_v:
            self.reset_view()

    def toggle_view(self) -> None:
        """3-D: switch between the orbit view and the top-down view."""
        if self.orbit is None:
            self.message = "the orbit view is for 3-D scenes"
            return
        self.orbit_view = not self.orbit_view
        self.message = "orbit view" if self.orbit_view else "top-down view"

    def reset_view(self) -> None:
        """The active camera back to its home: the whole arena in view."""
        if self.orbit_view and self.orbit is not None:
            self.orbit.reset()
        else:
            w, h = self.camera.width, self.camera.height
            self.camera = Camera.fit(self._scene.bounds, w, h)
        self.follow = False
        self.message = "view reset"

    def _next_colouring(self) -> None:
        agents = self._scene.agents()
        if agents is None or not agents.attributes:
            return
        names = list(agents.attributes)
        current = self.options.colour_by if self.options.colour_by in names else names[0]
        self.options.colour_by = names[(names.index(current) + 1) % len(names)]
        self.message = f"colour by {self.options.colour_by}"

    # ------------------------------------------------------------------ actions
    def select_at(self, sx: float, sy: float) -> int | None:
        """Select the agent drawn nearest to screen point (sx, sy), within the pick radius."""
        agents = self._scene.agents()
        self.options.selected = None
        self.options.highlight = np.zeros(0, np.int64)
        if agents is None or not len(agents.pos):
            return None
        if self.orbit_view and self.orbit is not None:
            self.options.selected = orbit.pick(self._scene, self.orbit, sx, sy, PICK_RADIUS_PX)
            return self.options.selected
        xy = self.camera.to_screen(agents.pos)
        d2 = (xy[:, 0] - sx) ** 2 + (xy[:, 1] - sy) ** 2
        i = int(np.argmin(d2))
        if d2[i] > PICK_RADIUS_PX**2:
            return None
        self.options.selected = int(agents.ids[i])
        return self.options.selected

    def crash_selected(self) -> None:
        row = self.options.selected
        if row is None:
            self.message = "select an agent first (click it)"
        elif not callable(getattr(self.model, "crash", None)):
            self.message = f"{self.name}: agents cannot be crashed in this scenario"
        else:
            self.model.crash([row])
            self.message = f"crashed agent {row}"
            self._scene = scene_of(self.model)

    def reset(self) -> None:
        if self.reset_model is None:
            self.message = "reset is not available"
            return
        self.model = self.reset_model()
        self._trail.clear()
        self._history.clear()
        self.options.selected = None
        self.options.highlight = np.zeros(0, np.int64)
        self._credit = 0.0
        self._scene = scene_of(self.model)
        self._record_history()
        self.message = "reset"

    def screenshot(self, path: str | Path | None = None) -> Path:
        """Write the current frame (HUD included) as a PNG; returns its path."""
        if path is None:
            self.screenshot_dir.mkdir(parents=True, exist_ok=True)
            path = self.screenshot_dir / f"swarm-{self.name}-step{self.step:06d}.png"
        path = Path(path)
        pygame.image.save(self.screen, str(path))
        self.last_screenshot = path
        self.message = f"saved {path}"
        return path

    # ------------------------------------------------------------------ drawing
    def draw(self) -> None:
        """Draw the model's current state, the HUD and any panel onto ``screen``."""
        self._scene = scene = scene_of(self.model)
        agents = scene.agents()
        if self.follow and agents is not None:
            if self.orbit_view and self.orbit is not None:
                self.orbit.target = orbit.centroid(agents.pos, agents.alive, scene)
            else:
                self.camera.centre = _centroid(agents.pos, agents.alive, scene)
        panel: list[str] = []
        if self.options.selected is not None:
            panel, self.options.highlight = describe_agent(self.model, self.options.selected)
        trails = np.stack(self._trail) if self.show_trails and len(self._trail) else None
        if trails is not None and agents is not None and trails.shape[1] != len(agents.pos):
            trails = None
        self.renderer.draw(scene, self.active_camera, self.options, trails)
        self.screen.blit(self.renderer.surface, (0, 0))
        self._hud(scene)
        if panel:
            self._panel(panel)
        if self.show_help:
            self._help()

    def _rates(self) -> tuple[float, float]:
        """(simulation steps/s, frames/s) over the last frames."""
        if len(self._frame_times) < 2:
            return 0.0, 0.0
        span = self._frame_times[-1] - self._frame_times[0]
        if span <= 0:
            return 0.0, 0.0
        steps = self._step_marks[-1][1] - self._step_marks[0][1]
        return max(steps, 0) / span, (len(self._frame_times) - 1) / span

    def _compact_hud(self, scene: Scene) -> None:
        """One line for recordings: scenario, step, policy and the first two metrics."""
        policy = getattr(getattr(self.model, "config", None), "policy", "")
        metrics = list((getattr(self.model, "metrics", {}) or {}).items())[:2]
        text = "   ".join(
            [f"{self.name}  step {scene.step}", str(policy)]
            + [f"{k} {_fmt(v)}" for k, v in metrics]
        )
        label = _font(16).render(text, True, TEXT)
        back = pygame.Surface((label.get_width() + 12, label.get_height() + 8), pygame.SRCALPHA)
        back.fill(HUD_BACK)
        self.screen.blit(back, (4, 4))
        self.screen.blit(label, (10, 8))

    def _hud(self, scene: Scene) -> None:
        if self.compact_hud:
            self._compact_hud(scene)
            return
        font, small = _font(20), _font(16)
        agents = scene.agents()
        sim_rate, fps = self._rates()
        n = len(agents.pos) if agents is not None else 0
        alive = int(np.count_nonzero(agents.alive)) if agents is not None else 0
        policy = getattr(getattr(self.model, "config", None), "policy", "?")
        colouring = self.options.colour_by or (
            next(iter(agents.attributes), "-") if agents is not None else "-"
        )
        o = self.options
        lines: list[tuple[str, tuple[int, int, int], pygame.font.Font]] = [
            (f"{self.name}   step {scene.step}{'   PAUSED' if self.paused else ''}", TEXT, font),
            (f"sim {sim_rate:6.1f} steps/s (x{self.speed:g})   render {fps:5.1f} fps", TEXT, small),
            (f"agents {n} ({alive} alive)   policy {policy}", TEXT, small),
            (
                f"colour {colouring}   comm {_on(o.show_comm)}   sensing {_on(o.show_sensing)}"
                f"   trails {_on(self.show_trails)}   follow {_on(self.follow)}",
                DIM_TEXT,
                small,
            ),
        ]
        if self.orbit is not None:  # 3-D: which view, and where the camera is
            cam = self.orbit
            where = f"orbit  azimuth {cam.azimuth:.0f}  elevation {cam.elevation:.0f} deg"
            text = f"view {where if self.orbit_view else 'top-down'}   (o, v, drag)"
            lines.append((text, DIM_TEXT, small))
        metrics = list(self._hud_metrics().items())[:MAX_HUD_METRICS]
        names = list(self._history)
        spark = names[self._metric_index % len(names)] if names else None
        width = HUD_WIDTH
        height = sum(f.get_linesize() for _, _, f in lines) + 12 + (58 if spark else 0)
        height += len(metrics) * small.get_linesize()
        back = pygame.Surface((width, height), pygame.SRCALPHA)
        back.fill(HUD_BACK)
        self.screen.blit(back, (6, 6))
        y = 12
        for text, colour, f in lines:
            self.screen.blit(f.render(text, True, colour), (12, y))
            y += f.get_linesize()
        for name, value in metrics:  # two columns: the font is proportional
            self.screen.blit(small.render(name, True, DIM_TEXT), (12, y))
            self.screen.blit(small.render(_fmt(value), True, TEXT), (190, y))
            y += small.get_linesize()
        if spark:
            self._sparkline(spark, pygame.Rect(12, y + 4, width - 12, 44))
        if self.message and time.perf_counter() - self._message_at > MESSAGE_SECONDS:
            self.message = ""
        foot = self.message or "h: help"
        self.screen.blit(small.render(foot, True, DIM_TEXT), (12, self.screen.get_height() - 22))

    def _sparkline(self, name: str, rect: pygame.Rect) -> None:
        values = np.asarray(self._history[name], np.float64)
        small = _font(14)
        values = values[np.isfinite(values)]
        label = f"{name} (last {len(values)} steps)"
        self.screen.blit(small.render(label, True, DIM_TEXT), (rect.x, rect.y))
        plot = pygame.Rect(rect.x, rect.y + 14, rect.w - 10, rect.h - 14)
        if len(values) < 2:
            return
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else 1.0
        xs = plot.x + np.linspace(0, plot.w, len(values))
        ys = plot.bottom - (values - lo) / span * plot.h
        pygame.draw.lines(self.screen, ACCENT, False, np.column_stack([xs, ys]).tolist(), 1)

    def _panel(self, lines: list[str]) -> None:
        small = _font(16)
        width = 280
        height = len(lines) * small.get_linesize() + 12
        x = self.screen.get_width() - width - 6
        back = pygame.Surface((width, height), pygame.SRCALPHA)
        back.fill(HUD_BACK)
        self.screen.blit(back, (x, 6))
        y = 12
        for text in lines:
            self.screen.blit(small.render(text, True, TEXT), (x + 8, y))
            y += small.get_linesize()

    def _help(self) -> None:
        font = _font(18)
        line = font.get_linesize()
        width, height = 330, len(HELP) * line + 20
        x = (self.screen.get_width() - width) // 2
        y0 = (self.screen.get_height() - height) // 2
        back = pygame.Surface((width, height), pygame.SRCALPHA)
        back.fill((0, 0, 0, 215))
        self.screen.blit(back, (x, y0))
        for k, (key, what) in enumerate(HELP):
            y = y0 + 10 + k * line
            self.screen.blit(font.render(key, True, ACCENT), (x + 14, y))
            self.screen.blit(font.render(what, True, TEXT), (x + 110, y))


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4g}"


def _centroid(pos: np.ndarray, alive: np.ndarray, scene: Scene) -> tuple[float, float]:
    """Centre of the alive agents; on a torus the circular mean per axis (so a flock
    straddling the seam is centred on itself, not on the arena)."""
    pos = np.asarray(pos)[:, :2]  # a 3-D swarm from above
    pts = pos[np.asarray(alive, bool)] if np.any(alive) else pos
    if not len(pts):
        x0, y0, x1, y1 = scene.bounds
        return (x0 + x1) / 2, (y0 + y1) / 2
    if not scene.torus:
        c = pts.mean(axis=0)
        return float(c[0]), float(c[1])
    lo = np.array(scene.bounds[:2])
    size = np.array(scene.bounds[2:]) - lo
    angle = (pts - lo) / size * 2 * np.pi
    mean = np.arctan2(np.sin(angle).mean(axis=0), np.cos(angle).mean(axis=0))
    c = lo + np.mod(mean, 2 * np.pi) / (2 * np.pi) * size
    return float(c[0]), float(c[1])
