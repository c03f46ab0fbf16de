"""One thread against every core on the same swarm, stepping in alternation.

    python experiments/bench_threads.py --agents 100000 --pairs 20
    python experiments/bench_threads.py --agents 1000000 --pairs 5

``swarm bench`` runs one thread, then all, on two swarms one after the other; on a machine
whose speed drifts (a shared VM) a single pair of runs ranges widely. Here one flock steps on
1 and on N threads in alternation (the order swapped every pair), so a drift hits both alike;
this is valid because a step gives the same result on any thread count
(``tests/swarm/test_threads.py``). Prints the median ms per step of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from swarm.bench import _flocking
from swarm.config import ConfigError
from swarm.threads import set_threads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=100_000, help="drones (default 100000)")
    parser.add_argument("--pairs", type=int, default=20, help="1-thread/N-thread step pairs")
    parser.add_argument("--threads", type=int, help="N (default: every core)")
    args = parser.parse_args()
    if args.agents < 2 or args.pairs < 1:
        parser.error("--agents must be >= 2 and --pairs >= 1")
    try:
        most = set_threads(args.threads)
    except ConfigError as err:
        parser.error(str(err))
    model = _flocking(args.agents, 10.0)
    for threads in (1, most):  # compile (or load) both kernels' variants first
        numba.set_num_threads(threads)
        model.step()
    times: dict[int, list[float]] = {1: [], most: []}
    for k in range(args.pairs):
        for threads in (1, most) if k % 2 == 0 else (most, 1):
            numba.set_num_threads(threads)
            start = time.perf_counter()
            model.step()
            times[threads].append(time.perf_counter() - start)
    one, many = (1e3 * float(np.median(times[t])) for t in (1, most))
    print(f"flocking, {args.agents:,} drones, {args.pairs} pairs: 1 thread {one:.1f} ms/step, "
          f"{most} threads {many:.1f} ms/step, ratio {one / many:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
