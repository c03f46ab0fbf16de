"""The warehouse scenario: Mesa model, views, config errors, headless runs, League data."""

import json
from pathlib import Path

import numpy as np
import pytest

from envs.warehouse import WarehouseConfig, WarehouseModel, egocentric_view, run_warehouse
from swarm.config import ConfigError
from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import write_instance

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lorr-2023-warehouse"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"League data not present at {DATA} (only in the shared checkout)"
)
LAYOUT = LayoutParams(block_rows=3, block_cols=3, shelf_width=4)


def test_model_runs_collision_free_and_collects_metrics():
    model = WarehouseModel(n_agents=30, layout=LAYOUT, rng=0)
    for _ in range(60):
        model.step()
    df = model.datacollector.get_model_vars_dataframe()
    assert len(df) == 61 and {"throughput", "executed_collisions", "deadlocked"} <= set(df)
    assert df["executed_collisions"].max() == 0
    assert model.metrics["tasks_finished"] > 10
    assert model.steps == 60  # Mesa's own step counter


def test_same_seed_same_run_different_seed_different_run():
    def run(seed, tasks):
        model = WarehouseModel(n_agents=20, layout=LAYOUT, tasks=tasks, rng=seed,
                               policy="auction" if tasks == "poisson" else "pibt")  # fmt: skip
        for _ in range(50):
            model.step()
        return model.world.cell.copy(), model.tasks.finished.copy()

    for tasks in ("league", "poisson"):
        a, b = run(4, tasks), run(4, tasks)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert not np.array_equal(a[0], run(5, tasks)[0])


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"n_agents": 0}, "field 'n_agents'"),
        ({"comm_radius": -1.0}, "field 'comm_radius'"),
        ({"speed": 3}, "unknown field 'speed'"),
        ({"tasks": "fifo"}, "field 'tasks'"),
        ({"policy": "boids"}, "'boids' is not a warehouse controller; allowed: auction"),
        ({"instance": "a.json", "map": "b.map"}, "either instance or map"),
        ({"instance": "/nonexistent/x.json"}, "field 'instance': /nonexistent/x.json: no such"),
        ({"n_agents": 10_000}, "do not fit on the"),
        ({"layout": {"aisle": 0}}, "field 'layout.aisle'"),
    ],
)
def test_bad_settings_fail_with_one_clear_message(values, words):
    with pytest.raises(ConfigError, match=words):
        WarehouseModel(rng=0, **values)


def test_mesa_space_and_handles_follow_the_arrays():
    model = WarehouseModel(n_agents=12, layout=LAYOUT, rng=1)
    space = model.space
    assert space.dimensions == (model.grid_map.height, model.grid_map.width)
    for _ in range(5):
        model.step()
    space = model.space  # re-synchronised on read
    rc = model.grid_map.rowcol(model.world.cell)
    for robot in model.robots:
        assert robot.cell.coordinate == tuple(rc[robot.row]) == robot.rowcol
        assert robot.cell in space.all_cells
    assert len(model.agents) == 12
    shelf = next(c for c in space.all_cells if c.obstacle)
    assert shelf.kind == "@" and shelf.is_empty
    model.robots[0].move_to(tuple(model.grid_map.rowcol(model.grid_map.free_cells[0])))
    assert model.world.cell[0] == model.grid_map.free_cells[0] or model.world.cell[0] != 0
    with pytest.raises(ValueError, match="not a free cell"):
        model.robots[0].move_to((-1, 0))


def test_comm_graph_is_a_networkx_view_of_the_links():
    model = WarehouseModel(n_agents=25, layout=LAYOUT, comm_radius=4.0, rng=2)
    model.step()
    g = model.comm_graph
    rc = model.grid_map.rowcol(model.world.cell).astype(float)
    for u, v in g.edges:
        assert np.hypot(*(rc[u] - rc[v])) <= 4.0
    n_pairs = sum(np.hypot(*(rc[u] - rc[v])) <= 4.0 for u in range(25) for v in range(u + 1, 25))
    assert g.number_of_edges() == n_pairs


def test_egocentric_view_shows_robots_walls_and_goal_from_local_data():
    model = WarehouseModel(n_agents=20, layout=LAYOUT, sense_radius=3.0, rng=3)
    obs = model.observe()
    view = egocentric_view(obs, 2)
    assert view.shape == (20, 3, 5, 5)
    assert (view[:, 0, 2, 2] == 0).all()  # the robot itself is not in the robots channel
    r, c = obs.known["grid"].rowcol(obs.own["cell"])[0]
    g = model.grid_map
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            rr, cc = r + dr, c + dc
            wall = not (0 <= rr < g.height and 0 <= cc < g.width) or not g.free[rr, cc]
            assert view[0, 1, dr + 2, dc + 2] == wall


def test_run_warehouse_writes_a_summary_with_the_cli_fields(tmp_path):
    g = generate_layout(LAYOUT, name="gen")
    inst = random_instance(g, 15, 200, np.random.default_rng(0), name="gen_15")
    path = write_instance(inst, tmp_path / "inst")
    summary = run_warehouse({"instance": str(path)}, 120, tmp_path / "out", progress=False)
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    for key in ("tasks_finished", "collisions", "free_flow_ratio", "steps_per_s"):
        assert key in saved and saved[key] == summary[key]
    assert summary["collisions"] == 0
    # 15 robots on ~200 aisle cells: PIBT loses some time to congestion (measured 0.79)
    assert 0.7 <= summary["free_flow_ratio"] <= 1.0
    assert (tmp_path / "out" / "metrics.csv").exists()


def test_step_with_external_actions_returns_tasks_finished_per_robot():
    model = WarehouseModel(n_agents=10, layout=LAYOUT, rng=0)
    total = 0
    for _ in range(30):
        done = model.step_with(model.policy.act(model.observe()))
        assert done.shape == (10,)
        total += done.sum()
    assert total == model.metrics["tasks_finished"]
    with pytest.raises(ValueError, match="actions: expected shape"):
        model.step_with(np.zeros(3, int))


@needs_data
def test_league_small_instance_runs_near_free_flow():
    summary = run_warehouse(
        WarehouseConfig(instance=str(DATA / "warehouse_small_50.json")), 200, None,
        progress=False,
    )  # fmt: skip
    assert summary["n_agents"] == 50 and summary["collisions"] == 0
    assert summary["free_flow_ratio"] > 0.7
