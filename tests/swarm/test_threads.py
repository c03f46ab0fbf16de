"""Every thread count gives the same answers, bit for bit (the parallel kernels)."""

import os
import subprocess
import sys
import textwrap

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


@needs_two
def test_the_parallel_kernel_runs_on_the_pool_when_the_serial_one_was_cached_first(tmp_path):
    """numba's disk cache does not tell a parallel compile of a function from a serial one:
    the pair ``serial_and_parallel`` makes must not share cache entries, or a process whose
    cache holds the serial compile runs the parallel kernel on one thread (as this project's
    kernels did until it was found)."""
    (tmp_path / "kernels_under_test.py").write_text(
        textwrap.dedent("""
        import numba
        import numpy as np
        from swarm.threads import serial_and_parallel

        def _thread_of_each(n):
            out = np.empty(n, np.int64)
            for i in numba.prange(n):
                out[i] = numba.get_thread_id()
            return out

        serial, parallel = serial_and_parallel(_thread_of_each)
    """)
    )

    def run(code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def hits(name: str) -> str:  # the dispatcher's cache hits and misses, summed
        return f"sum(k.{name}.stats.cache_hits.values()), sum(k.{name}.stats.cache_misses.values())"

    assert run("import kernels_under_test as k; print(len(set(k.serial(64))))") == "1"
    threads_used = "import numba, kernels_under_test as k; numba.set_num_threads(2); "
    # the parallel kernel compiles afresh (a miss), not from the serial entry, and uses both
    assert run(threads_used + f"print(len(set(k.parallel(64))), {hits('parallel')})") == "2 0 1"
    # the serial one comes from its own cache entry (a hit) and stays serial
    assert run(threads_used + f"print(len(set(k.serial(64))), {hits('serial')})") == "1 1 0"


def _table(pos, vel, active, env, n_envs, world, torus, fov, hint=0):
    t = radius_neighbors(pos, vel, active, env, n_envs, world, torus, 1.0, fov, hint)
    np.testing.assert_array_equal(t.seg, t.row_seg[t.idx])  # each neighbour's segment
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist, t.seg]


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
@pytest.mark.parametrize("dim", [2, 3])
def test_two_threads_scan_in_a_pair_that_moves_no_entry(threads, monkeypatch, dim):
    """One chunk per thread: on two, the first chunk scans downward to where the second
    starts, so the table is the serial one with nothing left to move; with three chunks,
    only the third one's entries move."""
    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    plans = []
    plan = neighbors._compaction_parts

    def spy(region, offset, most):
        plans.append(plan(region, offset, most))
        return plans[-1]

    monkeypatch.setattr(neighbors, "_compaction_parts", spy)
    rng = np.random.default_rng(dim)
    n, world = 4000, 14.0
    pos, vel = rng.uniform(0, world, (n, dim)), rng.normal(size=(n, dim))
    active, env = np.ones(n, bool), np.zeros(n, np.int64)
    threads(1)
    serial = _table(pos, vel, active, env, 1, world, True, 360.0)
    threads(2)
    for chunk, share in ((None, (0.0, 0.0)), (n // 3 + 1, (0.25, 0.42))):
        monkeypatch.setattr(neighbors, "SCAN_CHUNK", chunk)
        parallel = _table(pos, vel, active, env, 1, world, True, 360.0)
        for a, b in zip(serial, parallel, strict=True):
            np.testing.assert_array_equal(a, b)
        cut = plans[-1][0]
        low, high = share
        assert low * len(serial[3]) <= cut[-1] - cut[0] <= high * len(serial[3])


def test_even_runs_split_chunks_of_unequal_work_evenly():
    from swarm.threads import even_runs

    rows = np.minimum(np.arange(8) * 16_384, 100_000)  # 6 full chunks and one of 1,696
    assert even_runs(rows, 2).tolist() == [0, 3, 7]  # 49,152 and 50,848 rows, not 4 and 3
    assert even_runs(rows, 1).tolist() == [0, 7]
    assert even_runs(rows, 50).tolist() == list(range(8))  # never an empty run
    assert even_runs(np.zeros(1, np.int64), 4).tolist() == [0, 0]
    work = np.concatenate([[0], np.cumsum(np.random.default_rng(3).integers(0, 100, 40))])
    for k in range(1, 12):
        runs = even_runs(work, k)
        assert runs[0] == 0 and runs[-1] == 40 and np.all(np.diff(runs) > 0)
        assert len(runs) - 1 <= k
        # each cut is the chunk boundary nearest its share of the work
        shares = np.linspace(0, work[-1], k + 1)[1:-1]
        for cut in runs[1:-1]:
            target = shares[np.argmin(np.abs(shares - work[cut]))]
            assert np.abs(work - target).min() == abs(work[cut] - target)


def _first_stashed(cut, region, offset):
    """Each part's first entry whose source lies at or past the next part's cut (the last
    part's: its end), entry by entry."""
    q = np.arange(offset[-1])
    chunk = np.searchsorted(offset, q, side="right") - 1
    source = region[chunk] + q - offset[chunk]
    first = []
    for t in range(len(cut) - 1):
        mine = q[cut[t] : cut[t + 1]]
        far = mine[source[mine] >= cut[t + 1]] if t < len(cut) - 2 else mine[:0]
        first.append(int(far[0]) if len(far) else int(cut[t + 1]))
    return first


@pytest.mark.parametrize(
    ("counts", "slack"),
    [([50], [7]), ([0, 30, 20], [5, 0, 3]), ([30, 20, 10], [0, 0, 0]), ([0, 0], [4, 4]),
     ([3, 40, 0, 25], [0, 9, 2, 0])],
)  # fmt: skip
def test_the_compaction_of_edge_layouts(counts, slack):
    """One chunk, an empty first chunk, no slack anywhere, no entries, a moving range that
    starts after unmoved chunks; 1 to 6 parts, more than there are entries to move too."""
    counts, slack = np.array(counts), np.array(slack)
    region = np.concatenate([[0], np.cumsum(counts + slack)])
    offset = np.concatenate([[0], np.cumsum(counts)])
    bounds = np.arange(len(counts) + 1)  # one segment per chunk
    fresh = neighbors.BufferPool(keep=0).take(int(region[-1]), 2)
    fresh[0][:] = np.arange(len(fresh[0]))
    want = np.concatenate([fresh[0][region[c] : region[c] + counts[c]] for c in range(len(counts))])
    for parts in range(1, 7):
        out = tuple(a.copy() for a in fresh)
        ptr = np.zeros(len(counts), np.int64)
        neighbors._compact(bounds, region, offset, ptr, out, None, parts)
        np.testing.assert_array_equal(out[0][: offset[-1]], want)
        np.testing.assert_array_equal(ptr, offset[:-1])
        cut, _, stash_from, _ = neighbors._compaction_parts(region, offset, parts)
        assert stash_from.tolist() == _first_stashed(cut, region, offset)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("stash_share", [0.0, neighbors.STASH_SHARE, np.inf])
def test_the_compaction_in_parts_lays_out_the_chunks_back_to_back(monkeypatch, dim, stash_share):
    """Chunks of random counts (empty ones too) in regions with random slack, moved in 1 to
    8 parts (as many threads; a stash share of 0 allows only one, inf as many as asked),
    give each chunk's entries in chunk order and absolute segment starts. Parts are prange
    iterations, so more parts than threads still run every one."""
    monkeypatch.setattr(neighbors, "STASH_SHARE", stash_share)
    rng = np.random.default_rng(dim)
    n_chunks = 23
    counts = rng.integers(0, 60, n_chunks) * (rng.random(n_chunks) > 0.2)
    region = np.zeros(n_chunks + 1, np.int64)
    np.cumsum(counts + rng.integers(0, 40, n_chunks), out=region[1:])
    offset = np.zeros(n_chunks + 1, np.int64)
    np.cumsum(counts, out=offset[1:])
    segments = rng.integers(1, 5, n_chunks)
    bounds = np.zeros(n_chunks + 1, np.int64)
    np.cumsum(segments, out=bounds[1:])
    fresh = neighbors.BufferPool(keep=0).take(int(region[-1]), dim)
    for array in fresh:
        array[:] = rng.integers(-(10**6), 10**6, array.shape).astype(array.dtype)
    ptr = np.concatenate([np.sort(rng.integers(0, max(c, 1), s)) for c, s in
                          zip(counts, segments, strict=True)])  # fmt: skip
    ptr[bounds[:-1]] = 0  # each chunk's first segment starts its region
    want = [np.concatenate([a[region[c] : region[c] + counts[c]] for c in range(n_chunks)])
            for a in fresh]  # fmt: skip
    want_ptr = ptr + np.repeat(offset[:-1], segments)
    for parts in range(1, 9):
        out = tuple(a.copy() for a in fresh)
        got_ptr = ptr.copy()
        neighbors._compact(bounds, region, offset, got_ptr, out, None, parts)
        for a, b in zip(out, want, strict=True):
            np.testing.assert_array_equal(a[: offset[-1]], b)
        np.testing.assert_array_equal(got_ptr, want_ptr)
        # the worst schedule threads could take: every later part done before an earlier one
        cut, chunk_at, stash_from, stash_at = neighbors._compaction_parts(region, offset, parts)
        assert stash_from.tolist() == _first_stashed(cut, region, offset)  # no more, no less
        out = tuple(a.copy() for a in fresh)
        got_ptr = ptr.copy()
        stash = neighbors.BufferPool(keep=0).stash(int((cut[1:] - stash_from).sum()), dim)
        neighbors._stash_sources(cut, chunk_at, stash_from, stash_at, region, offset, *out,
                                 *stash)  # fmt: skip
        for t in reversed(range(len(cut) - 1)):
            neighbors._move_entries(cut[t : t + 2], chunk_at[t:], stash_from[t:], stash_at[t:],
                                    region, offset, *out, *stash)  # fmt: skip
        neighbors._absolute_ptr_serial(bounds, offset, got_ptr)
        for a, b in zip(out, want, strict=True):
            np.testing.assert_array_equal(a[: offset[-1]], b)
        np.testing.assert_array_equal(got_ptr, want_ptr)
    empty = np.zeros(n_chunks + 1, np.int64)  # no entries at all, with or without slack
    for slack in (empty, region):
        nothing = tuple(a.copy() for a in fresh)
        neighbors._compact(bounds, slack, empty, ptr * 0, nothing, None, 4)
        for a, b in zip(nothing, fresh, strict=True):
            np.testing.assert_array_equal(a, b)  # nothing to move, nothing moved
    cut, _, stash_from, _ = neighbors._compaction_parts(region, offset, 8)
    parts, stash = len(cut) - 1, (cut[1:] - stash_from).sum()
    assert parts == {0.0: 1, np.inf: 8}.get(stash_share, parts)
    assert parts == 1 or stash <= stash_share * offset[-1]


@needs_two
@pytest.mark.parametrize("torus", [True, False])
@pytest.mark.parametrize("per_row", [False, True])
def test_the_integrator_moves_drones_alike_on_one_thread_and_on_two(
    threads, monkeypatch, torus, per_row
):
    """The pool's compile calls the row step the serial one inlines: the same bits, with
    limits that clip, drones that leave the arena, dead rows, one limit or each row's own."""
    from swarm.dynamics import integrate

    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_AGENTS", 1)
    rng = np.random.default_rng(11)
    n = 5000
    pos = rng.uniform(0.0, 10.0, (n, 2))
    pos[:50] = rng.choice([0.0, 10.0], (50, 2))  # on the edges: wrapped or reflected
    vel = rng.normal(0.0, 3.0, (n, 2))
    accel = rng.normal(0.0, 8.0, (n, 2))
    alive = rng.random(n) > 0.05
    speed = rng.uniform(1.0, 4.0, n) if per_row else 2.5
    limit = rng.uniform(2.0, 9.0, n) if per_row else 6.0
    moved = []
    for count in (1, 2):
        threads(count)
        p, v = pos.copy(), vel.copy()
        integrate(p, v, accel, alive, 0.1, speed, limit, 10.0, torus)
        moved.append((p, v))
    np.testing.assert_array_equal(moved[0][0], moved[1][0])
    np.testing.assert_array_equal(moved[0][1], moved[1][1])
    assert not np.array_equal(moved[0][0], pos)


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
    np.testing.assert_array_equal(t.seg, t.row_seg[t.idx])
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist, t.seg]


def _serial_kernel_table_3d(pos, vel, active, env, n_envs, world, torus):
    """The table straight from the serial 3-D kernel (whatever ``parallel_pays`` says)."""
    n_active = int(active.sum())
    per_side, cell_size = neighbors.grid_shape_3d(world, 1.0, n_active, n_envs)
    cell, start, order = neighbors._bucket_3d(pos, active, env, n_envs, per_side, cell_size)
    spos, svel = pos[order], vel[order]
    ptr = np.empty(len(pos) + 1, np.int64)
    args = (spos, svel, cell, start, order, per_side, neighbors.REACH_3D, 1.0, world, torus)
    m = neighbors._scan_3d(*args, ptr, *neighbors.BufferPool(keep=0).take(0, 3))  # counts
    out = neighbors.BufferPool(keep=0).take(m, 3)
    assert neighbors._scan_3d(*args, ptr, *out) == m
    t = neighbors._cell_order_table(ptr, order, active, m, *out)
    return [t.ptr, t.seg_row, t.row_seg, t.idx, t.rel_pos, t.rel_vel, t.dist, t.seg]


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


def _threads_in_worker() -> tuple[int, bool, bool]:
    from numpy._core import multiarray

    import swarm.threads

    huge = multiarray._get_madvise_hugepage()
    return numba.get_num_threads(), swarm.threads.parallel_pays(10**6), huge


def test_experiment_workers_run_one_thread_each(monkeypatch):
    """The pool keeps every core busy with runs: a worker's kernels must not take them all
    again (numba is imported before the initializer runs, so the variable alone is late);
    and it steps with small pages, as the swarm program does."""
    from concurrent.futures import ProcessPoolExecutor

    from swarm.experiments.worker import init_worker

    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    with ProcessPoolExecutor(1, initializer=init_worker) as pool:
        assert pool.submit(_threads_in_worker).result() == (1, False, False)


@needs_two
@pytest.mark.parametrize("motion", ["grid", "rotate"])
def test_warehouse_robots_plan_the_same_on_one_thread_and_on_two(threads, monkeypatch, motion):
    """Decentralised PIBT solves each robot's local problem (and, under rotation, ranks its
    candidates), and the radio scans each robot's window, on the pool: same moves."""
    from envs.warehouse import WarehouseModel

    monkeypatch.setattr(swarm.threads, "PARALLEL_MIN_ROBOTS", 1)
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


# ------------------------------------------------------------- metrics on the threads


def _flock_arrays(n_envs: int, per_env: int, dim: int, world: float, seed: int):
    """Rows of ``n_envs`` envs in order (the engine's layout): a random flock, some rows
    dead, some at rest (no heading)."""
    rng = np.random.default_rng(seed)
    n = n_envs * per_env
    pos = rng.uniform(0.0, world, (n, dim))
    vel = rng.normal(size=(n, dim)) + 0.5  # a mean heading: polarization well above 0
    vel[rng.random(n) < 0.01] = 0.0
    alive = rng.random(n) > 0.05
    env = np.repeat(np.arange(n_envs, dtype=np.int64), per_env)
    return pos, vel, alive, env


@needs_two
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("torus", [True, False])
@pytest.mark.parametrize(("n_envs", "per_env", "chunk"), [(1, 70_000, None), (7, 7_001, 4096)])
def test_flocking_metrics_are_the_same_on_one_thread_and_on_two(
    threads, monkeypatch, dim, torus, n_envs, per_env, chunk
):
    """Above the threshold (no monkeypatching it): one swarm in 5 chunks, or 7 envs whose
    rows straddle chunks of 4,096; the chunked sums agree with the serial kernel to 1e-12."""
    from swarm import metrics

    if chunk is not None:
        monkeypatch.setattr(metrics, "MOMENT_CHUNK", chunk)
    pos, vel, alive, env = _flock_arrays(n_envs, per_env, dim, 50.0, seed=dim + 2 * torus)
    assert len(pos) >= swarm.threads.PARALLEL_MIN_AGENTS
    args = (pos, vel, alive, env, n_envs, 50.0, torus)
    threads(1)
    one = metrics.moments(*args)
    threads(2)
    assert swarm.threads.parallel_pays(len(pos))
    two = metrics.moments(*args)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)
    serial = metrics.serial_moments(*args)
    np.testing.assert_array_equal(one[0], serial[0])  # alive counts: exact
    for a, b in zip(one[1:], serial[1:], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)


# metrics of 500 drones after 10 steps (world 150 in the plane, 40 in a cube, torus), from
# the tree before the chunked kernels: (polarization, cohesion, n_components)
SMALL_FLOCK_METRICS = {
    2: ("0x1.2773109f89679p-4", "0x1.c74511c1d3b6ap+5", 177.0),
    3: ("0x1.51dc26bebaad5p-4", "0x1.270b3be076788p+4", 12.0),
}


@pytest.mark.parametrize("dim", [2, 3])
def test_small_swarms_keep_the_serial_metric_kernels(threads, monkeypatch, dim):
    """Below the threshold the serial sums, bit for bit, on any thread count: the values
    pinned before the chunked sums (whose one-chunk form replaced the old serial kernel),
    and no parallel or chunked component kernel is called."""
    from envs.flocking import FlockingModel
    from swarm import metrics

    def refuse(*args):
        raise AssertionError("a chunked kernel below the threshold")

    for name in ("_moments_chunked_parallel", "_components_chunked",
                 "_components_chunked_parallel"):  # fmt: skip
        monkeypatch.setattr(metrics, name, refuse)
    for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        threads(count)
        model = FlockingModel(n_agents=500, world_size=150.0 if dim == 2 else 40.0, dim=dim, rng=3)
        for _ in range(10):
            model.step()
        m = model.metrics
        polarization, cohesion, components = SMALL_FLOCK_METRICS[dim]
        assert m["polarization"].hex() == polarization
        assert m["cohesion"].hex() == cohesion
        assert m["n_components"] == components


def _components_on(threads, links, alive, env, n_envs, count):
    from swarm import metrics

    threads(count)
    return metrics.count_components(links, alive, env, n_envs)


@needs_two
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("torus", [True, False])
@pytest.mark.parametrize(("min_chunk", "cross"), [(None, None), (1000, 2.0), (1000, 0.01)])
def test_parallel_component_count_is_the_serial_count(
    threads, monkeypatch, dim, torus, min_chunk, cross
):
    """3 envs of 9,000 rows, sparse enough for hundreds of components each: two chunks, or
    chunks of 1,000 segments whose links to other chunks are all kept (2 a segment), or
    mostly not (room for 0.01 a segment: most chunks scan their links again)."""
    from swarm import metrics

    if min_chunk is not None:
        monkeypatch.setattr(metrics, "COMPONENT_MIN_CHUNK", min_chunk)
        monkeypatch.setattr(metrics, "COMPONENT_CHUNKS_PER_THREAD", 1000)
        monkeypatch.setattr(metrics, "CROSS_PER_SEGMENT", cross)
    n_envs, world = 3, 100.0 if dim == 2 else 22.0
    pos, vel, alive, env = _flock_arrays(n_envs, 9000, dim, world, seed=11 + dim)
    fov = 360.0
    links = radius_neighbors(pos, vel, alive, env, n_envs, world, torus, 1.0, fov)
    serial = metrics._count_components(alive, links.ptr, links.seg_row, links.idx, env, n_envs)
    assert (serial > 100).all()
    one = _components_on(threads, links, alive, env, n_envs, 1)
    two = _components_on(threads, links, alive, env, n_envs, 2)
    np.testing.assert_array_equal(one, serial)
    np.testing.assert_array_equal(two, serial)


@needs_two
@pytest.mark.parametrize("graph", ["plane", "cube", "random"])
def test_parallel_component_count_is_networkx_count(threads, graph):
    """25,000 drones, some crashed, in thousands of components: linked within range at about
    1.3 links each (in the plane, in a cube), or by random pairs, in row order, that mostly
    cross chunks (a fixed topology's table). The count on two threads is networkx's on the
    comm graph view."""
    import networkx as nx

    from swarm import metrics
    from swarm.comm import CommGraphView, edge_lists, table_on

    dim = 3 if graph == "cube" else 2
    world = 40.0 if graph == "cube" else 250.0
    pos, vel, alive, env = _flock_arrays(1, 25_000, dim, world, seed=4)
    if graph == "random":
        rng = np.random.default_rng(4)
        u, v = rng.integers(0, len(pos), (2, 10_000))
        keep = alive[u] & alive[v] & (u != v)
        u, v = u[keep], v[keep]
        lists = edge_lists(np.concatenate([u, v]), np.concatenate([v, u]), len(pos))
        links = table_on(lists, pos, vel, world, True)
    else:
        links = radius_neighbors(pos, vel, alive, env, 1, world, True, 1.0)
    view = CommGraphView(len(pos))
    view.update(links, alive)
    expected = nx.number_connected_components(view.graph())
    assert expected > 1000
    threads(2)
    assert swarm.threads.parallel_pays(len(pos))
    assert metrics.count_components(links, alive, env, 1).tolist() == [expected]


@pytest.mark.parametrize("seed", range(4))
def test_component_counts_of_random_graphs_dense_enough_to_merge_many_sets_per_row(seed):
    """Random one-way links, about 0.3 a row, in row order: a row's links often join
    several sets, each with a smaller root than the row's (the case where a union-find that
    keeps one root per row must follow it). Serial and chunked counts are networkx's on the
    undirected graph."""
    import networkx as nx

    from swarm import metrics
    from swarm.comm import edge_lists, table_on

    rng = np.random.default_rng(seed)
    n = 4000
    u, v = rng.integers(0, n, (2, 1200))
    keep = u != v
    u, v = u[keep], v[keep]
    pos = rng.uniform(0, 10.0, (n, 2))
    # each pair in one direction only (a one-way link), so the reverse entry cannot
    # redo a union the count lost
    links = table_on(edge_lists(u, v, n), pos, np.zeros_like(pos), 10.0, True)
    alive, env = np.ones(n, bool), np.zeros(n, np.int64)
    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(u.tolist(), v.tolist(), strict=True))
    expected = nx.number_connected_components(graph)
    serial = metrics._count_components(alive, links.ptr, links.seg_row, links.idx, env, 1)
    assert serial[0] == expected
    for chunk in (n, 1000, 300):  # one chunk; chunks whose links mostly stay, mostly leave
        cross = np.empty((-(-n // chunk) * chunk, 2), np.int32)
        args = (links.ptr, links.seg_row, links.row_seg, links.idx, links.row_seg, alive, env, 1,
                chunk, cross)  # fmt: skip
        assert metrics._components_chunked(*args)[0] == expected


# ------------------------------------------------------------- distance fields on the threads


@needs_two
@pytest.mark.parametrize("guided", [False, True])
def test_fields_computed_on_the_pool_are_the_fields_of_each_goal_alone(
    threads, monkeypatch, guided
):
    """A batch of BFS (or guided) fields split over the pool's chunks writes each goal's own
    field into its own slot: the same as one search per goal, on 1 and 2 threads."""
    import swarm.grid.guidance as guidance
    from swarm.grid.distance import bfs, bfs_fields
    from swarm.grid.layout import generate_layout

    monkeypatch.setattr(guidance, "PARALLEL_MIN_FIELD_CELLS", 1)
    grid = generate_layout()
    nbr = np.ascontiguousarray(grid.neighbors)
    cost = guidance.crisscross(grid, 5)
    goals = np.arange(0, len(grid.free_cells), 7, dtype=np.int64)
    slots = np.arange(len(goals))[::-1].copy()  # not in goal order
    unreached = np.iinfo(np.int64).max
    for count in (1, 2):
        threads(count)
        assert guidance.fields_chunks(len(goals), len(nbr)) == count
        bank = np.zeros((len(goals), len(nbr)), np.int64)
        if guided:
            guidance.guided_fields(nbr, guidance.incoming_costs(nbr, cost), goals, bank, slots,
                                   unreached)  # fmt: skip
        else:
            bfs_fields(nbr, goals, slots, bank, unreached)
        for goal, slot in zip(goals, slots, strict=True):
            cell = grid.free_cells[goal]
            alone = guidance.guided_distance(grid, cost, cell) if guided else bfs(grid, cell)
            np.testing.assert_array_equal(bank[slot], alone.ravel()[grid.free_cells])


@needs_two
def test_the_owner_of_each_entry_is_numpys_repeat_on_any_thread_count(threads):
    """``NeighborTable.owner`` (the observer of each entry) filled per segment on the pool
    at 10^5 drones, serially below: numpy's repeat either way."""
    rng = np.random.default_rng(4)
    for n in (500, 100_000):  # below and above PARALLEL_MIN_AGENTS
        pos = rng.uniform(0.0, 60.0 * np.sqrt(n / 1000), (n, 2))
        world = float(pos.max()) + 1.0
        active = np.ones(n, bool)
        env = np.zeros(n, np.int64)
        for count in (1, 2):
            threads(count)
            t = radius_neighbors(pos, np.zeros_like(pos), active, env, 1, world, False, 1.5,
                                 360.0, 0)  # fmt: skip
            want = np.repeat(t.seg_row.astype(np.int32), np.diff(t.ptr))
            assert t.n_edges > n
            np.testing.assert_array_equal(t.owner, want)
            assert t.owner.dtype == np.int32


ADVICE = textwrap.dedent(
    """
    import sys
    from numpy._core import multiarray
    from swarm.cli import main
    before = multiarray._get_madvise_hugepage()
    main(["list"])
    print(before, multiarray._get_madvise_hugepage(), file=sys.stderr)
    """
)


@pytest.mark.parametrize(
    "variable, expected",
    [(None, "True False"), ("1", "True True"), ("0", "False False")],
)
def test_the_swarm_program_stops_numpys_huge_page_advice_unless_told(variable, expected):
    """The program's process steps with small pages; a user's NUMPY_MADVISE_HUGEPAGE wins."""
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if variable is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = variable
    out = subprocess.run([sys.executable, "-c", ADVICE], env=env, capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert out.stderr.strip().splitlines()[-1] == expected
