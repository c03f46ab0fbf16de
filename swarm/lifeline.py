"""Children die with their parent, however the parent dies.

A process the program starts (a sweep worker, a torchrun launcher, a training rank) calls
:func:`die_with_parent` first thing. On Linux the kernel then sends it SIGKILL the moment its
parent exits, even by ``kill -9`` (``prctl(PR_SET_PDEATHSIG)``); a watchdog thread that polls
the parent's pid covers the moment before the prctl took hold and systems without prctl.
Chained, this ends a whole tree: the launcher dies with ``swarm``, the ranks with the launcher.

:func:`parent_death_preexec` is the same for a child started by :mod:`subprocess` (``preexec_fn``),
for programs whose code we do not control (torchrun's launcher).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_S = 0.5  # how often the watchdog looks at the parent


def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl`` (Linux only), looked up once: a child between fork and exec must not
    load libraries while another thread of the parent may hold the loader's lock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _prctl()


def _set_pdeathsig(sig: int) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux only)."""
    return _PRCTL is not None and _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _parent_gone(parent_pid: int) -> bool:
    return os.getppid() != parent_pid


def _watch(parent_pid: int, sig: int) -> None:
    while not _parent_gone(parent_pid):
        time.sleep(POLL_S)
    os.kill(os.getpid(), sig)


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGKILL) -> None:
    """End this process with ``sig`` as soon as ``parent_pid`` (default: the current parent)
    is no longer its parent. Call it first thing in a child process."""
    expected = os.getppid() if parent_pid is None else parent_pid
    _set_pdeathsig(sig)
    if _parent_gone(expected):  # the parent died before the prctl could take hold
        os.kill(os.getpid(), sig)
    threading.Thread(target=_watch, args=(expected, sig), daemon=True, name="lifeline").start()


def parent_death_preexec(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``subprocess`` ``preexec_fn``: the child gets ``sig`` when this process dies."""
    parent = os.getpid()

    def _preexec() -> None:  # runs in the child between fork and exec; no threads here
        _set_pdeathsig(sig)
        if os.getppid() != parent:
            os._exit(1)

    return _preexec
