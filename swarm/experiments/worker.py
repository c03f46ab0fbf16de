"""One run of an experiment, as a pure function of its task.

A :class:`RunTask` carries everything a run depends on (scenario, full config, seed, steps,
what to keep), so a worker process, a Ray worker on another machine or the calling process
all produce the same :class:`RunOutcome`: the run is seeded per run, never per worker.
A run that raises becomes a failed outcome carrying its error; it never takes the
experiment down with it.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

# Numerical libraries start one thread per core by default; with one run per core that
# oversubscribes the machine. Workers start with one thread each unless the user chose
# (numba's parallel kernels included, swarm.threads: the pool keeps every core busy).
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS")  # fmt: skip


@dataclass(frozen=True)
class RunTask:
    """Everything one run depends on (picklable; the same task gives the same outcome)."""

    run_id: str  # content hash of what the run depends on
    point: int  # index of the sweep point
    seed: int  # the run's one seed
    params: dict[str, Any]  # the swept parameter values of this point (path -> value)
    scenario: str
    config: dict[str, Any]  # the scenario config, validated while planning
    steps: int
    final: tuple[str, ...]  # metrics summarised (final_<m>, tail_<m>)
    time_series: tuple[str, ...]  # metrics kept per step
    every: int = 1  # keep every k-th step of the time series
    tail: float = 0.0  # tail_<m>: mean over this last fraction of steps (0: none)
    rate: tuple[str, ...] = ()  # rate_<m>: per-step decay factor of m


@dataclass
class RunOutcome:
    """What a run produced: a summary row, and its time series when it succeeded."""

    run_id: str
    status: str  # "ok" or "failed"
    summary: dict[str, float] = field(default_factory=dict)  # final_<m>, tail_<m>
    wall_time_s: float = 0.0
    error: str | None = None  # "ExceptionType: message" when failed
    traceback: str | None = None
    series: Any = None  # pandas DataFrame (step + kept metrics) or None
    resolved_config: dict[str, Any] = field(default_factory=dict)


def init_worker(driver_pid: int | None = None) -> None:
    """Process-pool initializer: the worker dies with the driver (however it dies), keeps one
    numeric thread, and leaves Ctrl-C to the driver."""
    import signal

    from swarm.lifeline import die_with_parent
    from swarm.threads import small_pages

    if driver_pid is not None:
        die_with_parent(driver_pid)
    for name in _THREAD_VARIABLES:
        os.environ.setdefault(name, "1")
    # numba read its variable when this process unpickled the task function (it imports
    # swarm), before it was set: read it again before the thread pool starts. numba reads
    # its config again at every compilation and refuses a thread count other than the
    # running pool's, so a kernel compiled in a worker (no cache yet: a fresh machine, an
    # edited module) would fail the run
    import numba
    from numba.core import config

    config.reload_config()
    numba.set_num_threads(min(int(os.environ["NUMBA_NUM_THREADS"]), numba.config.NUMBA_NUM_THREADS))
    small_pages()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# Values below this fraction of the first one are round-off, not dynamics (float64).
RATE_FLOOR = 1e-10


def decay_rate(values: Any) -> float:
    """Per-step factor r of a geometric decay ``v(k) ~ C r^k``: a least-squares line through
    log v over the last half of the steps above the round-off floor (NaN if too few)."""
    import numpy as np

    v = np.asarray(values, dtype=float)
    if len(v) == 0 or not v[0] > 0:
        return float("nan")
    steps = np.flatnonzero(v > RATE_FLOOR * v[0])
    steps = steps[len(steps) // 2 :]
    if len(steps) < 3:
        return float("nan")
    slope = np.polyfit(steps, np.log(v[steps]), 1)[0]
    return float(np.exp(slope))


def summarise(
    frame: Any, final: tuple[str, ...], tail: float, steps: int, rate: tuple[str, ...] = ()
) -> dict[str, float]:
    """final_<m> (the last step); tail_<m> (mean over the last steps) if ``tail`` > 0;
    rate_<m> (decay factor per step) for the metrics in ``rate``."""
    out: dict[str, float] = {}
    last = frame.iloc[-1]
    for name in final:
        out[f"final_{name}"] = float(last[name])
    if tail > 0:
        count = max(1, round(tail * steps))
        window = frame.iloc[-count:]
        for name in final:
            out[f"tail_{name}"] = float(window[name].mean())
    for name in rate:
        out[f"rate_{name}"] = decay_rate(frame[name].to_numpy())
    return out


def run_task(task: RunTask) -> RunOutcome:
    """Run one task; any exception is caught and reported as a failed outcome."""
    from swarm import runner

    start = time.perf_counter()
    try:
        model = runner.build_model(task.scenario, task.config, task.seed)
        result = runner.execute(model, task.scenario, task.steps, task.seed)
        frame = result.metrics
        summary = summarise(frame, task.final, task.tail, task.steps, task.rate)
        series = None
        if task.time_series:
            series = frame[["step", *task.time_series]].iloc[:: task.every].reset_index(drop=True)
        return RunOutcome(
            run_id=task.run_id,
            status="ok",
            summary=summary,
            wall_time_s=time.perf_counter() - start,
            series=series,
            resolved_config=result.config,
        )
    except Exception as err:  # a failed run is a result, not a crash of the experiment
        return RunOutcome(
            run_id=task.run_id,
            status="failed",
            wall_time_s=time.perf_counter() - start,
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(),
        )
