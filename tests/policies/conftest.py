"""Fixtures shared by the controller tests."""

import numba
import pytest


@pytest.fixture(params=[1, 2])
def robot_threads(request, monkeypatch):
    """The robots' kernels on one thread, then (where there are two) on the pool, even for
    the few robots of a test."""
    import swarm.threads

    if request.param > numba.config.NUMBA_NUM_THREADS:
        pytest.skip("one core")
    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_ROBOTS", 1)
    before = numba.get_num_threads()
    numba.set_num_threads(request.param)
    yield request.param
    numba.set_num_threads(before)
