"""Checks made before any work: is there memory for this, can the output be written.

A run that cannot fit or cannot be saved should fail in the first second with one line, not
after an hour of simulation (or by asking the allocator for terabytes).
"""

from __future__ import annotations

import os
from pathlib import Path

from swarm.config import ConfigError

# Share of the available memory one run may plan to use: room for Python, libraries, the OS.
MEMORY_SHARE = 0.8


def available_memory() -> int:
    """Bytes this process can still allocate without swapping (Linux ``MemAvailable``;
    elsewhere the free physical pages)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 1 << 62  # unknown: do not refuse


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(count) < 1024 or unit == "TiB":
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} TiB"


def check_memory(estimate: float, field: str, what: str) -> None:
    """Refuse (one :class:`ConfigError` line naming ``field``) a plan needing more memory
    than this machine has available."""
    budget = MEMORY_SHARE * available_memory()
    if estimate > budget:
        raise ConfigError(
            f"{field}: {what} needs about {format_bytes(estimate)} of memory; "
            f"{format_bytes(budget)} is available"
        )


def memory_problem(parts: dict[str, float], what: str) -> str | None:
    """``FIELD: WHAT needs about X of memory; Y is available`` when the sum of ``parts``
    (bytes by the field that sizes them) does not fit, naming the field with the largest
    share (the one to change); None when it fits."""
    budget = MEMORY_SHARE * available_memory()
    total = sum(parts.values())
    if total <= budget:
        return None
    field = max(parts, key=lambda k: parts[k])
    return (
        f"{field}: {what} needs about {format_bytes(total)} of memory; "
        f"{format_bytes(budget)} is available"
    )


def check_memory_parts(parts: dict[str, float], where: str, what: str) -> None:
    """:func:`memory_problem` as one :class:`ConfigError` line, prefixed with ``where``."""
    problem = memory_problem(parts, what)
    if problem is not None:
        field, _, rest = problem.partition(": ")
        raise ConfigError(f"{where}: field '{field}': {rest}")


def check_writable(out: Path, option: str = "--out") -> None:
    """Refuse an output path that cannot be created or written, before any work.

    Walks up to the nearest existing ancestor: it must be a folder this process may write
    into (the run creates everything below it).
    """
    out = Path(out)
    probe = out
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe == out and out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: is a file, not a folder")
    if not probe.is_dir():
        raise ConfigError(f"{option} {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: {probe} is not writable")


def check_new_file(path: str | Path, option: str) -> Path:
    """An output file named by the user: it must not exist yet (nothing is overwritten) and
    its folder must be writable. Checked before any work."""
    out = Path(path)
    if out.exists() or out.is_symlink():
        raise ConfigError(
            f"{option} {out}: already exists; nothing is overwritten: choose a new path"
        )
    check_writable(out.parent if str(out.parent) else Path("."), option)
    return out
