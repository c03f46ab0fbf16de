"""``swarm run warehouse``: generated layouts and League instances, headless, with the summary
fields the issue asks for (tasks_finished, collisions, free_flow_ratio, steps_per_s)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from swarm.cli import main

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lorr-2023-warehouse"
HEADLINE = ("tasks_finished", "collisions", "free_flow_ratio", "steps_per_s")


def run(tmp_path, *argv):
    out = tmp_path / "run"
    code = main(["run", "warehouse", *argv, "--out", str(out), "--quiet", "--format", "csv"])
    return code, out


def test_generated_layout_run_writes_the_headline_fields(tmp_path, capsys):
    layout = '{"block_rows": 2, "block_cols": 3, "shelf_width": 4}'
    code, out = run(tmp_path, "--agents", "12", "--steps", "80", "--layout", layout,
                    "--policy", "pibt", "--seed", "3")  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert all(summary[k] is not None for k in HEADLINE)
    assert summary["n_agents"] == 12 and summary["collisions"] == 0
    assert summary["tasks_finished"] == summary["final"]["tasks_finished"] > 0
    assert 0 < summary["free_flow_ratio"] <= 1.0  # nobody beats being alone on the map
    table = pd.read_csv(out / "metrics.csv")
    assert len(table) == 81 and table["executed_collisions"].max() == 0
    assert "12 agents x 80 steps" in capsys.readouterr().out


def test_poisson_orders_with_auction(tmp_path):
    code, out = run(tmp_path, "--agents", "10", "--steps", "60", "--tasks", "poisson",
                    "--orders-rate", "0.3", "--policy", "auction")  # fmt: skip
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["collisions"] == 0
    assert summary["free_flow_ratio"] is None  # the bound is defined for the League stream
    assert summary["tasks_finished"] > 0  # orders were picked and delivered


def test_bad_option_is_one_line_and_writes_nothing(tmp_path, capsys):
    code, out = run(tmp_path, "--agents", "12", "--orders-rate", "-1")
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "orders_rate" in err[0]


@pytest.mark.skipif(not DATA.is_dir(), reason=f"League data not present at {DATA}")
def test_league_instance_run(tmp_path):
    instance = DATA / "warehouse_small_50.json"
    code, out = run(tmp_path, "--instance", str(instance), "--steps", "100", "--policy", "pibt")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_agents"] == 50  # the instance's team size, resolved into the config
    assert json.loads((out / "config.json").read_text())["config"]["n_agents"] == 50
    assert summary["collisions"] == 0 and summary["tasks_finished"] > 0
    assert 0.3 < summary["free_flow_ratio"] <= 1.0


def test_a_league_stream_with_a_task_per_robot_is_flagged_degenerate():
    """m <= n cycling tasks: robot k's task is tasks[k] forever; its score means nothing."""
    from envs.warehouse import WarehouseModel

    model = WarehouseModel(rng=0, n_agents=8, n_tasks=8)
    for _ in range(40):
        model.step()
    summary = model.summary(free_flow=False)
    assert summary["league_tasks_per_robot"] == 1.0 and summary["task_stream_degenerate"]
    goals = model.tasks.goal.copy()
    for _ in range(5):
        model.step()
    np.testing.assert_array_equal(model.tasks.goal, goals)  # the same task, again and again
    assert not WarehouseModel(rng=0, n_agents=8).summary(free_flow=False)["task_stream_degenerate"]
