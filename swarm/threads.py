"""Threads for the compiled kernels of a step, with the same answers at any thread count.

numba runs a kernel's ``prange`` loop on its thread pool (``numba.set_num_threads``;
``swarm run/bench --threads N``, default all cores). A kernel is parallelised here only
where every iteration writes its own rows from inputs no other iteration writes, so the
result is the same bit for bit for 1 or N threads (``tests/swarm/test_threads.py``); the
neighbour searches write per-chunk regions, in pairs that meet (:func:`scans_downward`), then
close the gaps between pairs into the serial layout (:mod:`swarm.neighbors`,
:mod:`swarm.grid.world`). Small swarms stay on one thread: starting the pool costs more than
it saves below :data:`PARALLEL_MIN_AGENTS`, and the PettingZoo and batched training envs
step small swarms thousands of times a second.
"""

from __future__ import annotations

import os
import types
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from swarm.config import ConfigError

# the fewest rows for which a parallel kernel pays (measured on the neighbour search and
# boids at 10^4-10^5 drones: below ~2 x 10^4 one thread is as fast)
PARALLEL_MIN_AGENTS = 20_000


def cores() -> int:
    """Cores this process may run on (what ``--threads`` defaults to)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def set_threads(count: int | None, option: str = "--threads") -> int:
    """Use ``count`` threads (None: every core numba may use); refuses out-of-range counts
    with one line naming ``option``."""
    most = numba.config.NUMBA_NUM_THREADS
    if count is None:
        count = min(cores(), most)
    if not 1 <= count <= most:
        raise ConfigError(f"{option}: must be between 1 and {most} (got {count})")
    numba.set_num_threads(count)
    return count


def small_pages() -> bool:
    """Stop numpy advising the kernel to back its large arrays with 2 MB pages (what
    ``NUMPY_MADVISE_HUGEPAGE=0`` does at numpy's import), unless that variable is set;
    returns whether numpy advises them now. Called by the programs that step swarms
    (``swarm``, the experiment workers, the thread benchmark), never on import: it is the
    process's setting, not a library's.

    Where transparent huge pages are ``madvise`` (the usual default), each fault in an
    advised range zeroes 2 MB, and a step frees and takes back large temporaries: at 10^5
    drones on two threads of the 2-core development VM the kernel's time (``perf``: mostly
    ``clear_page_erms``) was 10.7 ms a step (0.5 to 23 in single runs) against 2.4 with
    small pages, and the mean step 36.5 ms against 26.7 (``experiments/bench_threads.py
    --agents 100000 --pages 4``); the median step hardly moves, the slow steps go."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    if "NUMPY_MADVISE_HUGEPAGE" not in os.environ:
        multiarray._set_madvise_hugepage(False)
    return bool(multiarray._get_madvise_hugepage())


def parallel_pays(rows: int) -> bool:
    """Whether a step over ``rows`` rows should take the parallel kernels."""
    return rows >= PARALLEL_MIN_AGENTS and numba.get_num_threads() > 1


# robots from which the grid world's per-robot kernels (decentralised PIBT's local problems
# and relay scan, the rotate-model preferences, the radio's window scan) run on the pool: a
# robot's work is tens of robots or cells, so far fewer rows pay than for the drones' kernels,
# and the training envs' few robots stay on one thread
PARALLEL_MIN_ROBOTS = 2_000


def robot_chunks(robots: int) -> int:
    """Chunks (one per thread) to split ``robots`` robots' work into; 1: the serial kernel."""
    return numba.get_num_threads() if robots >= PARALLEL_MIN_ROBOTS else 1


def robot_kernel(robots: int, serial: Any, parallel: Any) -> Any:
    """Of a :func:`serial_and_parallel` pair, the kernel for ``robots`` robots' work."""
    return parallel if robot_chunks(robots) > 1 else serial


def even_runs(ends: np.ndarray, runs: int) -> np.ndarray:
    """Consecutive chunks grouped into at most ``runs`` runs of about equal work: (K + 1,)
    the first chunk of each run, then the number of chunks. ``ends`` (chunks + 1,) is the
    work done by each chunk boundary, from 0 (rows, entries). numba's ``prange`` hands each
    thread an equal count of iterations, so a kernel whose chunks differ in work loops over
    these runs instead (the moment sums at 10^5 drones: 7 chunks, the last one small, ran 4
    on one thread and 3 on the other, 1.5x at most). Each chunk still does its own work in
    its own slots, so the answer is the same for any grouping."""
    n_chunks = len(ends) - 1
    if runs <= 1 or n_chunks <= 1:
        return np.array([0, max(n_chunks, 0)], np.int64)
    targets = np.linspace(0.0, float(ends[-1]), runs + 1)[1:-1]
    right = np.searchsorted(ends, targets).clip(1, n_chunks)
    nearer = np.where(targets - ends[right - 1] < ends[right] - targets, right - 1, right)
    return np.unique(np.concatenate([[0], nearer, [n_chunks]])).astype(np.int64)


def serial_and_parallel(
    function: Callable[..., Any], parallel_calls: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """One kernel written with ``numba.prange``, compiled for one thread and for the pool.

    Each is compiled from its own copy of the function, named ``<name>__serial`` and
    ``<name>__parallel``: numba's on-disk cache keys a compiled function by its module,
    name, bytecode and signature, not by ``parallel=True``, so two dispatchers of one
    function share cache entries and a process loads whichever was compiled first for both
    (until this was found, the parallel kernels of a process whose cache held the serial
    compile ran on one thread). ``parallel_calls`` names globals the parallel copy sees
    replaced (a helper compiled to be called rather than inlined, where that runs faster on
    the pool); their names join the copy's name, since the cache key does not cover
    globals either. That copy reads the module's globals as they are when this runs:
    define the kernel's helpers first, and a global patched later reaches only the serial
    copy."""
    suffix = "parallel" if not parallel_calls else "parallel_" + "_".join(sorted(parallel_calls))
    return (
        numba.njit(cache=True)(_renamed(function, "serial")),
        numba.njit(cache=True, parallel=True)(_renamed(function, suffix, parallel_calls)),
    )


def called(helper: Any) -> Any:
    """A twin of the compiled ``helper`` (an ``inline="always"`` kernel) that is called,
    not inlined, for :func:`serial_and_parallel`'s ``parallel_calls``."""
    return numba.njit(cache=True)(_renamed(helper.py_func, "called"))


def _renamed(
    function: Callable[..., Any], suffix: str, replaced: dict[str, Any] | None = None
) -> Callable[..., Any]:
    """A copy of ``function`` whose qualified name (numba's cache file name) ends in
    ``__<suffix>``, seeing the globals in ``replaced`` instead of its module's."""
    scope = function.__globals__ if not replaced else {**function.__globals__, **replaced}
    copy = types.FunctionType(function.__code__, scope, function.__name__,
                              function.__defaults__, function.__closure__)  # fmt: skip
    copy.__kwdefaults__ = function.__kwdefaults__
    copy.__qualname__ = f"{function.__qualname__}__{suffix}"
    copy.__doc__ = function.__doc__
    copy.__module__ = function.__module__
    return copy


@numba.njit(cache=True, inline="always")
def scans_downward(c: int, n_chunks: int) -> bool:
    """Whether chunk c of a parallel scan writes downward: chunks go in pairs (2p, 2p + 1)
    that meet at the boundary of their regions, the first writing its rows last to first
    down from there, the second up from there, so a pair's entries lie back to back where
    they were written and only the pairs after the first move (none on two threads); a
    last chunk without a partner writes upward."""
    return c % 2 == 0 and c + 1 < n_chunks


@numba.njit(cache=True)
def filled(shape: Any, value: Any) -> Any:
    """``np.full(shape, value)`` allocated serially, for the kernels compiled with
    ``parallel=True``: there numba turns every ``np.full`` / ``np.zeros`` into a parallel
    loop of its own, and while another job holds a core each such loop waits for a thread to
    be scheduled (the component count at 10^5 drones on 2 threads of this 2-core machine
    under a load of 4: 52 ms with a parallel zeros per array, 16 ms without, 5 on one)."""
    return np.full(shape, value)
