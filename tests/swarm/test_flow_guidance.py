"""Flow guidance (``swarm.grid.guidance.traffic_flow``): the errands it is fitted to, the
one-way streets it makes where errands run both ways, and the same costs on any thread count."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from envs.warehouse import WarehouseModel
from swarm.config import ConfigError
from swarm.grid.guidance import (
    _route_errands,
    errand_pairs,
    guidance_costs,
    guided_distance,
    incoming_costs,
    pooled_flows,
    traffic_flow,
)
from swarm.grid.maps import Instance, parse_map

# two parallel corridors (rows 0 and 2) joined at both ends: a ring of one-lane aisles
RING = "type octile\nheight 3\nwidth 12\nmap\n............\n.@@@@@@@@@@.\n............\n"
EAST, WEST = 2, 4


def ring_errands(grid, count: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """As many errands from the west end to the east end as back (free indices)."""
    west = grid.free_id[np.array([0, 2 * grid.width])]
    east = grid.free_id[np.array([grid.width - 1, 3 * grid.width - 1])]
    origin = np.concatenate([np.resize(west, count), np.resize(east, count)])
    dest = np.concatenate([np.resize(east, count), np.resize(west, count)])
    return origin, dest


def corridor_costs(grid, cost: np.ndarray, row: int) -> tuple[np.ndarray, np.ndarray]:
    """East- and westbound move costs along the inner cells of a corridor row."""
    cells = grid.free_id[row * grid.width + np.arange(1, grid.width - 1)]
    return cost[cells, EAST], cost[cells, WEST]


def test_errands_running_both_ways_make_the_two_corridors_one_way_streets():
    """With unit costs half the errands meet head-on in each corridor; the fit must send
    each direction round its own corridor: one corridor cheap eastward and dear westward,
    the other the reverse."""
    grid = parse_map(RING)
    cost = traffic_flow(grid, *ring_errands(grid), weight=5)
    top_east, top_west = corridor_costs(grid, cost, 0)
    bottom_east, bottom_west = corridor_costs(grid, cost, 2)
    top_eastbound = top_east.mean() < top_west.mean()
    assert top_eastbound != (bottom_east.mean() < bottom_west.mean())
    cheap, dear = (top_east, top_west) if top_eastbound else (top_west, top_east)
    assert (cheap == 1).all() and (dear >= 4).all()
    assert (cost[:, 0] == 1).all() and cost.max() <= 5


def test_weight_one_and_no_errands_give_unit_costs():
    grid = parse_map(RING)
    assert (traffic_flow(grid, *ring_errands(grid), weight=1) == 1).all()
    empty = np.zeros(0, np.int64)
    assert (traffic_flow(grid, empty, empty, weight=4) == 1).all()
    with pytest.raises(ValueError, match=r"1\.\.255"):
        traffic_flow(grid, *ring_errands(grid), weight=0)
    with pytest.raises(ValueError, match="errands"):
        guidance_costs(grid, "flow", 3)


def test_errands_are_a_robots_next_goal_from_the_later_half_of_the_stream():
    grid = parse_map(RING)
    cells = grid.free_cells
    starts = cells[:3]
    tasks = cells[3:13]  # m = 10 tasks, n = 3 robots: task i is followed by task i + 3
    stream = Instance(grid=grid, starts=starts, tasks=tasks)
    free = grid.free_id[tasks]
    origin, dest = errand_pairs(stream, "stop")
    np.testing.assert_array_equal(origin, free[[5, 6]])  # i >= m // 2 = 5, i + 3 < 10
    np.testing.assert_array_equal(dest, free[[8, 9]])
    origin, dest = errand_pairs(stream, "cycle")  # the stream wraps: 7 -> 0, 8 -> 1, 9 -> 2
    np.testing.assert_array_equal(origin, free[[5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(dest, free[[8, 9, 0, 1, 2]])
    assert len(errand_pairs(stream, "cycle", count=2)[0]) == 2
    # barely more tasks than robots: still the legs robots drive (task i -> i + n mod m)
    few = Instance(grid=grid, starts=cells[:4], tasks=cells[4:9])
    origin, dest = errand_pairs(few, "cycle")
    np.testing.assert_array_equal(origin, grid.free_id[cells[4:9]][[2, 3, 4]])
    np.testing.assert_array_equal(dest, grid.free_id[cells[4:9]][[1, 2, 3]])
    same = Instance(grid=grid, starts=starts, tasks=np.resize(starts, 12))
    assert len(errand_pairs(same)[0]) == 0  # an errand to where the robot stands is none


def test_robots_own_plans_are_refused():
    """Goal sequences and one-shot problems are particular robots' plans: fitting public
    costs to them would tell every robot where the others go."""
    grid = parse_map(RING)
    cells = grid.free_cells
    sequences = Instance(grid=grid, starts=cells[:2], tasks=cells[2:6],
                         offsets=np.array([0, 2, 4]))  # fmt: skip
    one_shot = Instance(grid=grid, starts=cells[:2], tasks=cells[2:4], one_shot=True)
    for instance in (sequences, one_shot):
        with pytest.raises(ValueError, match="robots' own plans"):
            errand_pairs(instance)
    with pytest.raises(ConfigError, match="field 'guidance'"):
        WarehouseModel(n_agents=20, tasks="poisson", guidance="flow")


@pytest.mark.parametrize("reach", [0, 6])
def test_the_model_routes_on_the_fit_of_its_own_stream(reach):
    model = WarehouseModel(n_agents=64, layout=dict(block_rows=4, block_cols=6), rng=2,
                           guidance="flow", guidance_weight=5, league_wrap="stop",
                           guidance_reach=reach)  # fmt: skip
    errands = errand_pairs(model.instance, "stop")
    assert len(errands[0]) > 100
    expected = traffic_flow(model.grid_map, *errands, weight=5, reach=reach)
    if reach:
        assert (expected != traffic_flow(model.grid_map, *errands, weight=5)).any()
    np.testing.assert_array_equal(model.bank.guidance, expected)
    assert (expected > 1).sum() > 50


def test_errands_follow_cheapest_paths_whatever_the_chunking():
    """Every routed errand walks a cheapest path (its moves' costs sum to its guided
    distance), and splitting the destinations into 1 or 16 chunks gives the same flows."""
    model = WarehouseModel(n_agents=64, layout=dict(block_rows=4, block_cols=6), rng=1)
    grid = model.grid_map
    nbr = np.ascontiguousarray(grid.neighbors)
    origin, dest = errand_pairs(model.instance)
    cost = traffic_flow(grid, origin, dest, weight=5)
    order = np.argsort(dest, kind="stable")
    targets, first = np.unique(dest[order], return_index=True)
    ptr = np.append(first, len(order)).astype(np.int64)
    which = np.arange(len(targets))
    unreached = np.iinfo(np.int64).max
    args = (nbr, incoming_costs(nbr, cost), cost, targets, ptr, origin[order], which,
            int(cost.max()), unreached)  # fmt: skip
    one, many = _route_errands(*args, 1), _route_errands(*args, 16)
    np.testing.assert_array_equal(one, many)
    walked = int((one.astype(np.int64) * cost).sum())
    distance = sum(int(guided_distance(grid, cost, int(grid.free_cells[d])).ravel()[
        grid.free_cells[o]]) for o, d in zip(origin, dest, strict=True))  # fmt: skip
    assert walked == distance


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one thread only")
def test_the_fit_is_the_same_on_any_thread_count():
    model = WarehouseModel(n_agents=64, layout=dict(block_rows=4, block_cols=6), rng=0)
    grid = model.grid_map
    errands = errand_pairs(model.instance)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = traffic_flow(grid, *errands, weight=6)
        numba.set_num_threads(2)
        two = traffic_flow(grid, *errands, weight=6)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
    assert (one > 1).any()


def test_a_flow_guided_run_is_the_same_for_the_same_seed():
    def cells(seed: int) -> np.ndarray:
        model = WarehouseModel(n_agents=40, layout=dict(block_rows=3, block_cols=3),
                               guidance="flow", guidance_weight=4, motion="rotate",
                               rng=seed)  # fmt: skip
        for _ in range(30):
            model.step()
        return model.world.cell.copy()

    np.testing.assert_array_equal(cells(5), cells(5))


def pooled_by_walking(grid, flow: np.ndarray, reach: int) -> np.ndarray:
    """The reference: for every cell, walk up to ``reach`` cells each way along its row (east
    and west moves) or column (north and south moves) until a wall, and average."""
    out = flow.astype(np.float64)
    steps = {1: grid.width, 2: 1, 3: grid.width, 4: 1}  # linear-index stride of the line
    for v, cell in enumerate(grid.free_cells):
        for k, stride in steps.items():
            line = [v]
            for sign in (-1, 1):
                c = cell
                for _ in range(reach):
                    c += sign * stride
                    same_line = (c // grid.width == cell // grid.width) if k in (2, 4) else True
                    if not (0 <= c < grid.n_cells and same_line and grid.free_id[c] >= 0):
                        break
                    line.append(grid.free_id[c])
            out[v, k] = flow[line, k].mean()
    return out


@pytest.mark.parametrize("reach", [0, 1, 3, 600])
def test_pooled_flows_average_each_move_along_its_aisle_up_to_the_walls(reach):
    model = WarehouseModel(n_agents=8, layout=dict(block_rows=3, block_cols=4), rng=0)
    grid = model.grid_map
    flow = np.random.default_rng(reach).integers(0, 50, (len(grid.free_cells), 5))
    flow = flow.astype(np.int32)
    np.testing.assert_allclose(
        pooled_flows(grid, flow, reach), pooled_by_walking(grid, flow, reach)
    )
    if reach == 600:  # longer than any aisle: one value along each run of free cells
        row = grid.free_id[grid.width * 0 + np.arange(grid.width)]
        run = row[row >= 0]
        assert len(np.unique(pooled_flows(grid, flow, reach)[run, 2])) <= (row < 0).sum() + 1


def test_a_reach_belongs_to_flow_guidance_and_is_not_negative():
    with pytest.raises(ConfigError, match="field 'guidance_reach'"):
        WarehouseModel(n_agents=5, guidance="crisscross", guidance_reach=4)
    with pytest.raises(ConfigError, match="guidance_reach"):
        WarehouseModel(n_agents=5, guidance="flow", guidance_reach=-1)
    grid = parse_map(RING)
    with pytest.raises(ValueError, match="reach"):
        traffic_flow(grid, *ring_errands(grid), weight=4, reach=-2)
