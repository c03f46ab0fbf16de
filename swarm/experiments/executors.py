"""Where runs execute: in this process, a local process pool (default), or a Ray cluster.

Every executor takes the same :class:`~swarm.experiments.worker.RunTask` list and yields
:class:`~swarm.experiments.worker.RunOutcome` objects as runs finish (in any order). Outcomes
come back to the driver, which writes them, so a cluster needs no shared filesystem. Since a
run is a pure function of its task, the results do not depend on the executor.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from swarm.config import ConfigError
from swarm.experiments.worker import RunOutcome, RunTask, init_worker, run_task

EXECUTORS = ("local", "serial", "ray")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class SerialExecutor:
    """Runs in the calling process, one after another (debuggable; the reference)."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        if address is not None:
            raise ConfigError("--address: only the ray executor connects to a cluster")

    def run(self, tasks: list[RunTask]) -> Iterator[RunOutcome]:
        for task in tasks:
            yield run_task(task)

    def close(self, abort: bool = False) -> None:
        pass


class LocalExecutor:
    """A process pool on this machine: no server to start.

    Workers are started with ``spawn`` (a clean process, safe with the driver's threads) as
    direct children of the driver, and die with it however it dies, ``kill -9`` included
    (:mod:`swarm.lifeline`); a ``forkserver`` would parent them instead and outlive a killed
    driver. Each keeps one numeric thread. At most ``2 * workers`` runs are queued, so Ctrl-C
    abandons little work.
    """

    def __init__(self, workers: int | None = None, address: str | None = None):
        if address is not None:
            raise ConfigError("--address: only the ray executor connects to a cluster")
        self.workers = workers or default_workers()
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(),),
        )

    def run(self, tasks: list[RunTask]) -> Iterator[RunOutcome]:
        queue = list(reversed(tasks))
        running: set[Future[RunOutcome]] = set()
        while queue or running:
            while queue and len(running) < 2 * self.workers:  # keep every worker busy
                running.add(self.pool.submit(run_task, queue.pop()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()

    def close(self, abort: bool = False) -> None:
        """Shut the pool down; ``abort`` stops now: pending runs are dropped and running ones
        killed (their output was never written, so a resume redoes exactly them)."""
        if not abort:
            self.pool.shutdown(wait=True)
            return
        processes = list(
            (getattr(self.pool, "_processes", None) or {}).values()
        )  # no public handle
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        self.pool.shutdown(wait=True, cancel_futures=True)  # the pool sees its workers gone


class RayExecutor:
    """Ray: ``ray.init(address=...)`` joins a cluster; without an address it starts a local
    one with ``workers`` CPUs. Each run is a Ray task needing one CPU."""

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "--executor ray: ray is not installed; pip install 'swarm-sandbox[ray]'"
            ) from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is None:
                kwargs["num_cpus"] = workers or default_workers()
                # a local cluster's workers import this checkout even when it is not installed
                root = str(Path(__file__).resolve().parents[2])
                path = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
                kwargs["runtime_env"] = {
                    "env_vars": {
                        "PYTHONPATH": path,
                        "OMP_NUM_THREADS": "1",
                        "NUMBA_NUM_THREADS": "1",
                    }
                }
            ray.init(address=address, **kwargs)
            self.started = True
        self.remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
        self.pending: list[Any] = []

    def run(self, tasks: list[RunTask]) -> Iterator[RunOutcome]:
        self.pending = [self.remote.remote(task) for task in tasks]
        while self.pending:
            done, self.pending = self.ray.wait(self.pending, num_returns=1)
            for ref in done:
                yield self.ray.get(ref)

    def close(self, abort: bool = False) -> None:
        for ref in self.pending:
            self.ray.cancel(ref, force=True)
        self.pending = []
        if self.started:
            self.ray.shutdown()


def check_executor(kind: str, workers: int | None, address: str | None) -> None:
    """Fail on bad executor options before anything is written or started."""
    if kind not in EXECUTORS:
        raise ConfigError(f"--executor: unknown {kind!r}; allowed: {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be >= 1 (got {workers})")
    if address is not None and kind != "ray":
        raise ConfigError("--address: only the ray executor connects to a cluster")
    if kind == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ConfigError(
                "--executor ray: ray is not installed; pip install 'swarm-sandbox[ray]'"
            )


def make_executor(
    kind: str = "local", workers: int | None = None, address: str | None = None
) -> SerialExecutor | LocalExecutor | RayExecutor:
    """The executor named ``kind`` (one of :data:`EXECUTORS`)."""
    check_executor(kind, workers, address)
    if kind == "local":
        return LocalExecutor(workers, address)
    if kind == "serial":
        return SerialExecutor(workers, address)
    if kind == "ray":
        return RayExecutor(workers, address)
    raise ConfigError(f"--executor: unknown {kind!r}; allowed: {', '.join(EXECUTORS)}")
