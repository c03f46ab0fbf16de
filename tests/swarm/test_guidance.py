"""Guidance graphs (``swarm.grid.guidance``): the crisscross move costs, guided cost-to-goal
fields against a brute-force Dijkstra, the planners ranking by them, locality, and the
default left bit-identical."""

from __future__ import annotations

import hashlib

import networkx as nx
import numpy as np
import pytest

from envs.warehouse import WarehouseModel
from swarm.config import ConfigError
from swarm.grid.distance import DistanceBank
from swarm.grid.guidance import crisscross, guided_distance, incoming_costs
from swarm.grid.layout import LayoutParams, generate_layout
from swarm.grid.maps import parse_map
from swarm.grid.policy import GridPolicy, preferences
from swarm.testing import LocalityViolation, assert_local

LAYOUT = LayoutParams(block_rows=3, block_cols=3, shelf_width=4)
WIDE = dict(block_rows=4, block_cols=6)  # the 13 x 49 map of warehouse_throughput.toml
SMALL = "type octile\nheight 5\nwidth 7\nmap\n.......\n.@@.@@.\n.......\n.@.@@..\n...@...\n"


def dijkstra_reference(grid, cost: np.ndarray, goal_f: int) -> np.ndarray:
    """(F,) cheapest cost from every free cell to ``goal_f`` on the directed graph whose
    edge u -> neighbors[u, k] costs cost[u, k] (networkx Dijkstra; -1 unreachable)."""
    g = nx.DiGraph()
    nbr = grid.neighbors
    g.add_nodes_from(range(len(nbr)))
    for u in range(len(nbr)):
        for k in range(1, 5):
            if nbr[u, k] >= 0:
                g.add_edge(int(nbr[u, k]), u, w=int(cost[u, k]))  # reversed: from the goal
    length = nx.single_source_dijkstra_path_length(g, goal_f, weight="w")
    out = np.full(len(nbr), -1, np.int64)
    for v, d in length.items():
        out[v] = d
    return out


def test_crisscross_alternates_rows_east_west_and_columns_south_north():
    grid = parse_map("type octile\nheight 4\nwidth 4\nmap\n....\n....\n....\n....\n")
    cost = crisscross(grid, 3)
    rows, cols = np.divmod(grid.free_cells, grid.width)
    assert (cost[:, 0] == 1).all()  # waiting
    assert (cost[rows % 2 == 0, 2] == 1).all() and (cost[rows % 2 == 0, 4] == 3).all()
    assert (cost[rows % 2 == 1, 2] == 3).all() and (cost[rows % 2 == 1, 4] == 1).all()
    assert (cost[cols % 2 == 0, 3] == 1).all() and (cost[cols % 2 == 0, 1] == 3).all()
    assert (cost[cols % 2 == 1, 3] == 3).all() and (cost[cols % 2 == 1, 1] == 1).all()
    with pytest.raises(ValueError, match=r"1\.\.255"):
        crisscross(grid, 0)


@pytest.mark.parametrize("weight", [1, 2, 3, 7])
def test_guided_fields_equal_a_brute_force_dijkstra(weight):
    grid = parse_map(SMALL)
    cost = crisscross(grid, weight)
    for goal_f in range(len(grid.free_cells)):
        ref = dijkstra_reference(grid, cost, goal_f)
        got = guided_distance(grid, cost, int(grid.free_cells[goal_f]))
        np.testing.assert_array_equal(got.ravel()[grid.free_cells], ref)


def test_guided_fields_equal_dijkstra_with_arbitrary_costs_and_a_closed_room():
    # column 4 of rows 0-2 walls off the east part except through row 3
    text = "type octile\nheight 5\nwidth 6\nmap\n....@.\n.@..@.\n....@.\n......\n@@@@@.\n"
    grid = parse_map(text)
    rng = np.random.default_rng(0)
    for _ in range(5):
        cost = rng.integers(1, 6, (len(grid.free_cells), 5))
        for goal_f in rng.choice(len(grid.free_cells), 6, replace=False):
            ref = dijkstra_reference(grid, cost, int(goal_f))
            got = guided_distance(grid, cost, int(grid.free_cells[goal_f]))
            np.testing.assert_array_equal(got.ravel()[grid.free_cells], ref)
    island = parse_map("type octile\nheight 3\nwidth 3\nmap\n.@.\n@@@\n...\n")
    field = guided_distance(island, crisscross(island, 2), 0)
    assert field[0, 0] == 0 and (field[2] == -1).all()  # the other part never reaches it


def test_weight_one_gives_the_bfs_fields():
    grid = generate_layout(LAYOUT)
    bank = DistanceBank(grid, guidance=crisscross(grid, 1))
    goals = np.arange(0, len(grid.free_cells), 7)
    slots = bank.slots(goals)
    np.testing.assert_array_equal(bank.guided[slots], bank.fields[slots])
    assert bank.guide.unreached == bank.unreached


def test_guided_fields_stay_with_their_goal_through_eviction():
    grid = generate_layout(LAYOUT)
    cost = crisscross(grid, 3)
    f = len(grid.free_cells)
    bank = DistanceBank(grid, max_mb=8 * f * 4 / 2**20, guidance=cost)  # 8 slots
    rng = np.random.default_rng(1)
    for _ in range(6):
        bank.slots(rng.choice(f, 5, replace=False))
    assert bank.max_slots == 8 and len(bank.goal_of_slot) == 8 and bank.computed > 8
    for s, goal in enumerate(bank.goal_of_slot):
        ref = guided_distance(grid, cost, int(grid.free_cells[goal])).ravel()[grid.free_cells]
        np.testing.assert_array_equal(bank.guided[s], ref)
        np.testing.assert_array_equal(bank.guide.lookup(np.array([s]), np.arange(f)), ref)


def test_every_first_preference_starts_a_cheapest_guided_path():
    model = WarehouseModel(n_agents=30, layout=LAYOUT, guidance="crisscross",
                           guidance_weight=3, rng=2)  # fmt: skip
    for _ in range(5):
        model.step()
    obs = model.observe(radio=False)
    prefs, ranked = preferences(obs, seed=0)
    guide, slot, fcell = obs.known["guide"], obs.own["goal_slot"], obs.own["fcell"]
    has = slot >= 0
    here = guide.lookup(slot[has], fcell[has])
    moving = here > 0
    first = prefs[has, 0]
    code = np.argmax(obs.known["grid"].neighbors[fcell[has]] == first[:, None], axis=1)
    step = guide.cost[fcell[has], code]
    np.testing.assert_array_equal((step + guide.lookup(slot[has], first))[moving], here[moving])
    np.testing.assert_array_equal(ranked[has, 0][moving], here[moving])
    assert moving.sum() > 10


@pytest.mark.parametrize("guidance", ["none", "crisscross"])
def test_a_costlier_wait_raises_the_own_cells_cost_only_away_from_the_goal(guidance):
    extra = {} if guidance == "none" else {"guidance": guidance, "guidance_weight": 3}
    model = WarehouseModel(n_agents=30, layout=LAYOUT, rng=2, **extra)
    for _ in range(5):
        model.step()
    obs = model.observe(radio=False)
    on_goal = (np.arange(obs.n) % 5 == 0) & (obs.own["goal_slot"] >= 0)  # each robot's own
    obs.own["fcell"] = np.where(on_goal, obs.own["goal_f"], obs.own["fcell"])
    rows = np.arange(obs.n)[:, None]

    def own_cost(wait_cost):
        prefs, ranked = preferences(obs, seed=0, wait_cost=wait_cost)
        return ranked[rows, np.argmax(prefs == obs.own["fcell"][:, None], axis=1)[:, None]][:, 0]

    raised = own_cost(3) - own_cost(1)
    away = (obs.own["goal_slot"] >= 0) & ~on_goal
    assert on_goal.sum() >= 5 and away.sum() >= 10
    np.testing.assert_array_equal(raised[away], 2)
    np.testing.assert_array_equal(raised[~away], 0)


def trajectory(steps: int = 40, **config) -> list[np.ndarray]:
    model = WarehouseModel(rng=3, **config)
    out = []
    for _ in range(steps):
        model.step()
        heading = model.world.heading
        out.append(np.concatenate([model.world.cell, [] if heading is None else heading]))
    return out


@pytest.mark.parametrize(
    "config",
    [
        dict(n_agents=50, policy="pibt"),
        dict(n_agents=50, policy="pibt", motion="rotate"),
        dict(n_agents=50, policy="pibt", policy_params={"view": "global"}),
        dict(n_agents=50, policy="pibt", motion="rotate", policy_params={"view": "global"}),
        dict(n_agents=40, policy="greedy_yield", motion="rotate"),
    ],
    ids=["local", "local-rotate", "global", "global-rotate", "greedy-rotate"],
)
def test_unit_weight_guidance_moves_every_robot_as_without(config):
    config = dict(layout=WIDE, **config)
    base = trajectory(**config)
    guided = trajectory(guidance="crisscross", guidance_weight=1, **config)
    for a, b in zip(base, guided, strict=True):
        np.testing.assert_array_equal(a, b)
    heavy = trajectory(guidance="crisscross", guidance_weight=3, **config)
    assert any(not np.array_equal(a, b) for a, b in zip(base, heavy, strict=True))


@pytest.mark.parametrize("guidance, weight", [("crisscross", 2), ("flow", 4)])
@pytest.mark.parametrize("motion", ["grid", "rotate"])
@pytest.mark.parametrize("policy", ["pibt", "greedy_yield"])
def test_no_executed_collision_with_guidance(policy, motion, guidance, weight):
    model = WarehouseModel(n_agents=100, layout=WIDE, policy=policy, motion=motion,
                           guidance=guidance, guidance_weight=weight, rng=1)  # fmt: skip
    for _ in range(150):
        model.step()
    m = model.metrics
    assert m["executed_collisions"] == 0
    assert m["tasks_finished"] > 0


@pytest.mark.parametrize("guidance", ["crisscross", "flow"])
@pytest.mark.parametrize("motion", ["grid", "rotate"])
@pytest.mark.parametrize("policy", ["pibt", "greedy_yield"])
def test_guided_controllers_pass_the_locality_audit(policy, motion, guidance):
    rough = dict(layout=LAYOUT, sense_radius=2.5, comm_radius=3.5, packet_drop=0.2)
    checked = assert_local(policy, "warehouse", n_agents=30, steps=10, motion=motion,
                           guidance=guidance, guidance_weight=3, **rough)  # fmt: skip
    assert checked == 300


class OthersGuidedFields(GridPolicy):
    """Waits when another robot's goal is close by the guided fields: reads every slot."""

    name = "others_guided"

    def act(self, obs):
        guide = obs.known["guide"]
        every = np.arange(guide.fields.shape[0])[None, :]
        near = guide.lookup(every, obs.own["fcell"][:, None]) <= 2
        return np.where(near.any(axis=1), 0, 1 + obs.ids % 4)


def test_reading_another_robots_guided_field_is_caught():
    with pytest.raises(LocalityViolation, match="others_guided: not local"):
        assert_local(OthersGuidedFields, "warehouse", n_agents=20, steps=10, layout=LAYOUT,
                     guidance="crisscross")  # fmt: skip


def test_guidance_fields_are_checked():
    with pytest.raises(ConfigError, match="guidance"):
        WarehouseModel(n_agents=5, guidance="highway")
    with pytest.raises(ConfigError, match="guidance_weight"):
        WarehouseModel(n_agents=5, guidance="crisscross", guidance_weight=0)
    assert WarehouseModel(n_agents=5, rng=0).observe(radio=False).known["guide"] is None


def test_incoming_costs_are_the_reversed_edges():
    grid = parse_map(SMALL)
    cost = np.random.default_rng(4).integers(1, 9, (len(grid.free_cells), 5))
    inc = incoming_costs(grid.neighbors, cost)
    nbr = grid.neighbors
    for v in range(len(nbr)):
        for k, back in zip(range(1, 5), (3, 4, 1, 2), strict=True):
            u = nbr[v, k]
            assert inc[v, k] == (cost[u, back] if u >= 0 else 0)


# Fingerprints of default runs (no guidance field given) recorded before guidance existed:
# sha256 of every step's cells (and headings), first 16 hex digits, and tasks finished.
# Rotating PIBT runs with ``commit`` off, as it was then (commitments came later).
FINGERPRINTS = {
    "pibt_grid": ("298d65df1e9206e6", 74),
    "pibt_rotate": ("b5f61d1c88ad2b9d", 42),
    "pibt_global": ("298d65df1e9206e6", 74),
    "pibt_global_rotate": ("2ad194c0bdc874f4", 41),
    "greedy_grid": ("cffc31e450634eb1", 16),
    "greedy_rotate": ("3ae14ab901a43bfb", 18),
}
CASES = {
    "pibt_grid": dict(n_agents=60, layout=WIDE),
    "pibt_rotate": dict(n_agents=60, layout=WIDE, motion="rotate", policy_params={"commit": False}),
    "pibt_global": dict(n_agents=60, layout=WIDE, policy_params={"view": "global"}),
    "pibt_global_rotate": dict(
        n_agents=60,
        layout=WIDE,
        motion="rotate",
        policy_params={"view": "global", "commit": False},
    ),
    "greedy_grid": dict(n_agents=40, policy="greedy_yield"),
    "greedy_rotate": dict(n_agents=40, policy="greedy_yield", motion="rotate"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_runs_are_bit_identical_to_before_guidance(case):
    model = WarehouseModel(rng=3, **CASES[case])
    h = hashlib.sha256()
    for _ in range(60):
        model.step()
        h.update(model.world.cell.tobytes())
        if model.world.heading is not None:
            h.update(model.world.heading.tobytes())
    assert (h.hexdigest()[:16], int(model.metrics["tasks_finished"])) == FINGERPRINTS[case]
