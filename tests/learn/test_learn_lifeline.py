"""Ranks die with their parent: ``kill -9`` of ``swarm train --trainer ddp`` ends them all.

torchrun's launcher starts each rank in a session of its own, so a signal to ``swarm
train``'s process group would not reach the ranks; the kernel's parent-death signal does,
along the chain swarm train -> launcher -> ranks. The test records the whole process tree
while it trains, kills the top with SIGKILL and checks nothing of that tree is left and no
checkpoint is written afterwards.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the 'learn' extra: pip install torch==2.13.0")

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

NAV = [
    "navigation", "--trainer", "ddp", "--nproc", "2", "--set", "n_agents=3",
    "--set", "max_cycles=20", "--num-envs", "2", "--hidden", "16", "--quiet",
    "--ppo", "update_epochs=1", "--checkpoint-every", "1", "--total-steps", str(40 * 100_000),
]  # fmt: skip


def _stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, session, start time) of ``pid``, or None when it no longer exists."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[3]), int(fields[19])


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _descendants(root: int) -> dict[int, int]:
    """pid -> start time of every living descendant of ``root``."""
    table = {pid: st for pid in _all_pids() if (st := _stat(pid)) is not None}
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (state, ppid, _, start) in table.items():
            if ppid == parent and pid not in found and state != "Z":
                found[pid] = start
                frontier.append(pid)
    return found


def _alive(pid: int, start: int) -> bool:
    """The same process (not a reused pid) still runs; a zombie has stopped running."""
    st = _stat(pid)
    return st is not None and st[3] == start and st[0] != "Z"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.parametrize("when", [pytest.param("training", marks=pytest.mark.slow), "starting"])
def test_kill_9_of_swarm_train_ends_the_launcher_and_every_rank(tmp_path, when):
    """``starting`` (~15 s): killed as soon as both ranks exist, while they still import (the
    launcher is gone before a rank's lifeline is set); ``training`` (~25 s, slow): after a
    checkpoint, then no further checkpoint may appear."""
    out = tmp_path / "run"
    log = (tmp_path / "train.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarm.train", *NAV, "--out", str(out)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    tree: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 120
        ranks: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None:
            tree.update(_descendants(proc.pid))
            ranks = [p for p in tree if "-m swarm.learn.worker" in (c := _cmdline(p))
                     and "torch.distributed.run" not in c]  # fmt: skip
            if len(ranks) == 2 and (
                when == "starting" or list((out / "checkpoints").glob("update_*.pt"))
            ):
                break  # both ranks exist (and training has written a checkpoint)
            time.sleep(0.2)
        assert proc.poll() is None, (tmp_path / "train.log").read_text()[-2000:]
        assert len(ranks) == 2, f"ranks not seen: {[_cmdline(p) for p in tree]}"
        tree.update(_descendants(proc.pid))
        # the ranks run in sessions of their own (torchrun starts them so)
        assert all(_stat(p)[2] != proc.pid for p in ranks if _stat(p))

        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = [p for p, start in tree.items() if _alive(p, start)]
            in_session = [p for p in _all_pids() if (st := _stat(p)) and st[2] == proc.pid
                          and st[0] != "Z"]  # fmt: skip
            if not left and not in_session:
                break
            time.sleep(0.2)
        assert not left, f"still running after 10 s: {[_cmdline(p) for p in left]}"
        assert not in_session

        written = sorted(p.name for p in (out / "checkpoints").glob("*"))
        time.sleep(3)  # a surviving rank writes one every update (well under a second)
        assert sorted(p.name for p in (out / "checkpoints").glob("*")) == written
    finally:
        log.close()
        try:  # the session's group: swarm train and, if it survived, the launcher
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        for pid, start in tree.items():  # only processes this test started, still running
            if _alive(pid, start):
                os.kill(pid, signal.SIGKILL)


def test_a_rank_whose_swarm_train_is_gone_knows_it_at_start(monkeypatch):
    """The launcher can die while a rank still imports: its parent is then already the new
    one, so the rank checks the ``swarm train`` that launched it (dead or a zombie: gone)."""
    from swarm.learn.worker import LAUNCHED_BY, _orphaned_at_start

    monkeypatch.delenv(LAUNCHED_BY, raising=False)
    assert not _orphaned_at_start()  # an external torchrun's rank: nothing to check
    child = subprocess.Popen(["sleep", "30"])
    try:
        monkeypatch.setenv(LAUNCHED_BY, str(child.pid))
        assert not _orphaned_at_start()
        child.kill()
        deadline = time.monotonic() + 5
        while _stat(child.pid) and _stat(child.pid)[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _orphaned_at_start()  # killed, not yet reaped
    finally:
        child.kill()
        child.wait()
    assert _orphaned_at_start()
