"""``swarm web`` in a real browser: Playwright drives Debian's Chromium against the server.

One server (a subprocess that dies with the test run) and one page serve every test here,
in file order: the swarm is drawn, play advances Mesa's step counter, a click on a drone
opens its panel, and a bad config value shows pydantic's message while the model runs on
with the old one. No browser is ever downloaded: Playwright launches ``/usr/bin/chromium``
(``apt-get install chromium``), and the page's JavaScript comes from the solara-assets
package, so nothing is fetched from the network.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("solara", reason="the web view needs solara (pip install -e '.[web]')")
pytest.importorskip("altair", reason="Mesa's SolaraViz needs altair (pip install -e '.[web]')")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (pip install playwright)"
)

from swarm.lifeline import parent_death_preexec  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
if CHROMIUM is None:
    if os.environ.get("CI"):  # CI installs it (.ci/run): a missing browser there is a failure
        pytest.fail("CI has no chromium: .ci/run installs it with apt", pytrace=False)
    pytest.skip("needs Debian's chromium (apt-get install chromium)", allow_module_level=True)
try:
    importlib.metadata.version("solara-assets")
except importlib.metadata.PackageNotFoundError:
    pytest.skip(
        "needs solara-assets: the page's JavaScript, served without network access",
        allow_module_level=True,
    )

AGENTS = 150
START_S = 60.0  # the server imports solara and Mesa's SolaraViz and builds a model first
WAIT_MS = 20_000
STEP = re.compile(r"^Step: (\d+)$")
BACKGROUND = np.array([[14, 16, 22], [26, 29, 38], [70, 74, 90]])  # the renderer's, and border


@contextlib.contextmanager
def serving(*args: str) -> Iterator[str]:
    """``swarm web ARGS`` on a free port, in a subprocess that dies with this one; yields
    its address, and stops it afterwards."""
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarm.cli", "web", *args, "--port", "0"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=parent_death_preexec(),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def read() -> None:  # drains the pipe to the end, so the server never blocks on it
        assert proc.stdout is not None
        for line in proc.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        yield _address(proc, lines, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _address(proc: subprocess.Popen[str], lines: queue.Queue[str], log: list[str]) -> str:
    """The address the server prints once it listens."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        found = re.search(r"at (http://\S+)", line)
        if found:
            return found.group(1)
    pytest.fail("swarm web did not print its address:\n" + "".join(log[-30:]))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``swarm web flocking`` with a small swarm; yields its address."""
    with serving("flocking", "--agents", str(AGENTS), "--seed", "1") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (one for the module)."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@contextlib.contextmanager
def browser_page(browser: Any, url: str) -> Iterator[Any]:
    """A page on ``url``, loaded until the swarm and the step counter show."""
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    try:
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.wait_for_selector("img.swarm-canvas[src^='data:image/png']")
        page.get_by_text(STEP).wait_for()
        yield page
    finally:
        page.close()


@pytest.fixture(scope="module")
def page(browser: Any, server: str) -> Iterator[Any]:
    """One page on the server, shared by the tests below in file order."""
    with browser_page(browser, server) as page:
        yield page


def step_of(page: Any) -> int:
    """Mesa's step counter (SolaraViz's Information card)."""
    match = STEP.match(page.get_by_text(STEP).inner_text().strip())
    assert match is not None
    return int(match.group(1))


def wait_for_step(page: Any, at_least: int) -> int:
    deadline = time.monotonic() + WAIT_MS / 1000
    while time.monotonic() < deadline:
        step = step_of(page)
        if step >= at_least:
            return step
        time.sleep(0.1)
    pytest.fail(f"the step counter stayed at {step_of(page)} (waited for {at_least})")


def canvas_pixels(page: Any) -> np.ndarray:
    """(H, W, 3) int screenshot of the swarm as the browser shows it."""
    from PIL import Image

    shot = page.locator("img.swarm-canvas").screenshot()
    return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)


def drawn(pixels: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels of neither the background nor the arena nor its border."""
    diff = np.abs(pixels[:, :, None, :] - BACKGROUND[None, None, :, :]).sum(axis=3)
    return diff.min(axis=2) > 30


def play(page: Any) -> None:
    page.get_by_role("button", name="▶").click()


def pause(page: Any) -> None:
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="▶").wait_for()


def test_the_swarm_is_drawn(page: Any) -> None:
    pixels = canvas_pixels(page)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    # 150 drones, each a marker of at least 5 x 5 pixels
    assert drawn(pixels).sum() > 1000


def test_play_advances_the_step_counter(page: Any) -> None:
    before = step_of(page)
    play(page)
    try:
        wait_for_step(page, before + 5)
    finally:
        pause(page)
    assert step_of(page) >= before + 5


def test_a_click_on_an_agent_opens_its_panel(page: Any) -> None:
    pixels = canvas_pixels(page)  # paused: the drones stay where they are shown
    bright = pixels.max(axis=2) > 150  # drone markers (the background is dark)
    bright[:20], bright[-20:], bright[:, :20], bright[:, -20:] = False, False, False, False
    ys, xs = np.nonzero(bright)
    assert len(xs), "no drone on the canvas"
    box = page.locator("img.swarm-canvas").bounding_box()
    k = len(xs) // 2
    page.mouse.click(box["x"] + xs[k] * box["width"] / pixels.shape[1],
                     box["y"] + ys[k] * box["height"] / pixels.shape[0])  # fmt: skip
    panel = page.locator(".swarm-agent-panel")
    panel.get_by_text("inbox:").wait_for()
    text = panel.inner_text()
    assert re.search(r"Agent \d+", text)
    assert "senses" in text and "within 5 m" in text  # its local observation


def test_a_bad_config_value_is_refused_and_the_model_runs_on(page: Any) -> None:
    field = page.get_by_label("sense_radius", exact=True)
    assert field.input_value() == "5.0"
    play(page)
    try:
        field.fill("-5")
        field.press("Enter")
        page.get_by_text("Input should be greater than 0").wait_for()
        page.get_by_text("still running with sense_radius = 5.0").wait_for()
        running = step_of(page)
        wait_for_step(page, running + 3)  # not rebuilt, not stopped
    finally:
        pause(page)
    # the model's own view: its agents still sense 5 m around them
    assert "within 5 m" in page.locator(".swarm-agent-panel").inner_text()
    assert step_of(page) >= running + 3


def test_a_valid_config_value_rebuilds_and_reset_starts_over(page: Any) -> None:
    many = drawn(canvas_pixels(page)).sum()
    field = page.get_by_label("n_agents", exact=True)
    field.fill("40")
    field.press("Enter")
    page.get_by_text(STEP).filter(has_text="Step: 0").wait_for()  # a new run
    assert page.get_by_label("n_agents", exact=True).input_value() == "40"
    page.get_by_role("button", name="Step").click()
    wait_for_step(page, 1)
    page.get_by_role("button", name="Reset").click()  # Mesa's reset: the same config
    page.get_by_text(STEP).filter(has_text="Step: 0").wait_for()
    assert page.get_by_label("n_agents", exact=True).input_value() == "40"
    assert drawn(canvas_pixels(page)).sum() < 0.6 * many  # 40 drones drawn, not 150


@pytest.mark.slow
def test_a_thousand_drones_keep_playing(browser: Any) -> None:
    """Frames the browser actually loaded, counted in the page, while 1,000 drones play
    (the default view: no comm links, two live plots). The rate is printed for the README
    (``pytest -m slow -s tests/web -k thousand``); the floor only catches a page that
    stalls, since a timed test on a shared machine cannot hold a target."""
    with serving("flocking", "--agents", "1000") as url, browser_page(browser, url) as page:
        page.evaluate(COUNT_FRAMES)
        play(page)
        time.sleep(3)  # past the first frames
        frames, steps, start = page.evaluate("window.swarmFrames"), step_of(page), time.time()
        time.sleep(8)
        frames = page.evaluate("window.swarmFrames") - frames
        elapsed, steps = time.time() - start, step_of(page) - steps
        pause(page)
    rate = frames / elapsed
    print(f"1,000 drones: {rate:.1f} frames/s in the browser, {steps / elapsed:.1f} steps/s")
    assert rate >= MIN_FRAME_RATE, f"{rate:.1f} frames/s"


# counts the loads of the swarm's picture (each frame is a new data: URL)
COUNT_FRAMES = """() => {
  window.swarmFrames = 0;
  document.addEventListener("load", (event) => {
    if (event.target.classList && event.target.classList.contains("swarm-canvas")) {
      window.swarmFrames += 1;
    }
  }, true);
}"""
MIN_FRAME_RATE = 2.0  # frames keep coming (11-21 frames/s measured on a 2-core machine)
