"""Every thread count gives the same answers, bit for bit (the parallel kernels)."""

import numba
import numpy as np
import pytest

import swarm.threads
from swarm import neighbors
from swarm.neighbors import radius_neighbors

needs_two = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one core")


@pytest.fixture
def threads():
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


def _table(pos, vel, active, env, n_envs, world, torus, fov, hint=0):
    t = radius_neighbors(pos, vel, active, env, n_envs, world, torus, 1.0, fov, hint)
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist]


@needs_two
@pytest.mark.parametrize("torus", [True, False])
@pytest.mark.parametrize("fov", [360.0, 200.0])
def test_parallel_scan_writes_the_serial_table(threads, monkeypatch, torus, fov):
    # small chunks and a low threshold: many chunks, regions that overflow and are retried
    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    monkeypatch.setattr(neighbors, "SCAN_CHUNK", 37)
    rng = np.random.default_rng(5)
    n, n_envs = 3000, 3
    pos = rng.uniform(0, 12.0, (n, 2))
    pos[:200] = rng.uniform(0, 1.0, (200, 2))  # a crowd: regions of very uneven fill
    vel = rng.normal(size=(n, 2))
    active = rng.random(n) > 0.1
    env = np.repeat(np.arange(n_envs), n // n_envs)
    threads(1)
    serial = _table(pos, vel, active, env, n_envs, 12.0, torus, fov)
    threads(2)
    for hint in (0, 10, 10**6):
        parallel = _table(pos, vel, active, env, n_envs, 12.0, torus, fov, hint)
        for a, b in zip(serial, parallel, strict=True):
            np.testing.assert_array_equal(a, b)


@needs_two
def test_a_flock_flies_the_same_on_one_thread_and_on_two(threads, monkeypatch):
    from envs.flocking import FlockingModel

    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    runs = []
    for count in (1, 2):
        threads(count)
        model = FlockingModel(n_agents=2000, world_size=60.0, rng=3)
        for _ in range(15):
            model.step()
        runs.append((model.engine.pos.copy(), model.engine.vel.copy(), model.metrics))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


def _table_3d(pos, vel, active, env, n_envs, world, torus, hint=0):
    t = radius_neighbors(pos, vel, active, env, n_envs, world, torus, 1.0, 360.0, hint)
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist]


def _serial_kernel_table_3d(pos, vel, active, env, n_envs, world, torus):
    """The table straight from the serial 3-D kernel (whatever ``parallel_pays`` says)."""
    n_active = int(active.sum())
    per_side, cell_size = neighbors.grid_shape_3d(world, 1.0, n_active, n_envs)
    cell, start, order = neighbors._bucket_3d(pos, active, env, n_envs, per_side, cell_size)
    spos, svel = pos[order], vel[order]
    ptr = np.empty(len(pos) + 1, np.int64)
    args = (spos, svel, cell, start, order, per_side, neighbors.REACH_3D, 1.0, world, torus)
    m = neighbors._scan_3d(*args, ptr, *neighbors.BufferPool(keep=0).take(0, 3))  # counts
    idx, rel_pos, rel_vel, dist = neighbors.BufferPool(keep=0).take(m, 3)
    assert neighbors._scan_3d(*args, ptr, idx, rel_pos, rel_vel, dist) == m
    t = neighbors._cell_order_table(ptr, order, active, m, idx, rel_pos, rel_vel, dist)
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist]


@needs_two
@pytest.mark.parametrize(("torus", "world"), [(True, 9.0), (False, 9.0), (True, 2.5)])
def test_parallel_3d_scan_writes_the_serial_table(threads, monkeypatch, torus, world):
    """Chunks of 37 rows (many chunks, regions that overflow and are retried), a crowd
    beside empty cells, inactive rows, three envs; world 2.5 is a torus of 2 cells a side
    (cells reached twice across the seam)."""
    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    monkeypatch.setattr(neighbors, "SCAN_CHUNK", 37)
    rng = np.random.default_rng(8)
    n, n_envs = 3000, 3
    pos = rng.uniform(0, world, (n, 3))
    pos[:200] = rng.uniform(0, 0.8, (200, 3))  # a crowd in one corner cell
    pos[pos[:, 2] > 0.6 * world, 2] *= 0.5  # the top of the cube left empty
    vel = rng.normal(size=(n, 3))
    active = rng.random(n) > 0.1
    env = np.repeat(np.arange(n_envs), n // n_envs)
    kernel = _serial_kernel_table_3d(pos, vel, active, env, n_envs, world, torus)
    threads(1)
    serial = _table_3d(pos, vel, active, env, n_envs, world, torus)
    assert len(serial[3]) > 0
    for a, b in zip(kernel, serial, strict=True):
        np.testing.assert_array_equal(a, b)
    threads(2)
    for hint in (0, 10, 10**6):
        parallel = _table_3d(pos, vel, active, env, n_envs, world, torus, hint)
        for a, b in zip(serial, parallel, strict=True):
            np.testing.assert_array_equal(a, b)


@needs_two
@pytest.mark.parametrize("boundary", ["torus", "box"])
def test_a_3d_flock_flies_the_same_on_one_thread_and_on_two(threads, monkeypatch, boundary):
    from envs.flocking import FlockingModel

    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    runs = []
    for count in (1, 2):
        threads(count)
        model = FlockingModel(n_agents=2000, world_size=20.0, dim=3, boundary=boundary, rng=3)
        for _ in range(15):
            model.step()
        runs.append((model.engine.pos.copy(), model.engine.vel.copy(), model.metrics))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]


def _threads_in_worker() -> tuple[int, bool]:
    import swarm.threads

    return numba.get_num_threads(), swarm.threads.parallel_pays(10**6)


def test_experiment_workers_run_one_thread_each(monkeypatch):
    """The pool keeps every core busy with runs: a worker's kernels must not take them all
    again (numba is imported before the initializer runs, so the variable alone is late)."""
    from concurrent.futures import ProcessPoolExecutor

    from swarm.experiments.worker import init_worker

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    with ProcessPoolExecutor(1, initializer=init_worker) as pool:
        assert pool.submit(_threads_in_worker).result() == (1, False)


@needs_two
@pytest.mark.parametrize("motion", ["grid", "rotate"])
def test_warehouse_robots_plan_the_same_on_one_thread_and_on_two(threads, monkeypatch, motion):
    """Decentralised PIBT solves each robot's local problem on the pool: same moves."""
    import policies.pibt
    from envs.warehouse import WarehouseModel

    monkeypatch.setattr(policies.pibt, "PARALLEL_MIN_ROBOTS", 1)
    runs = []
    for count in (1, 2):
        threads(count)
        model = WarehouseModel(n_agents=150, policy="pibt", motion=motion, rng=2)
        for _ in range(40):
            model.step()
        heading = model.world.heading
        runs.append((model.world.cell.copy(), None if heading is None else heading.copy(),
                     model.metrics))  # fmt: skip
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    if motion == "rotate":
        np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert runs[0][2] == runs[1][2]
