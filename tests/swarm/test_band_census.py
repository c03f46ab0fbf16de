"""Where robots crowd over a run: swarm.grid.metrics.band_census and bench_mainround --profile."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import write_instance
from swarm.grid.metrics import band_census

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "bench_mainround.py"


def load_script():
    spec = importlib.util.spec_from_file_location("bench_mainround", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_census_counts_by_hand():
    # 10 rows in 3 bands: rows 0-3, 4-6, 7-9 (r * 3 // 10)
    rows = np.array([0, 3, 4, 9, 9])
    moved = np.array([True, False, True, True, False])
    goal_rows = np.array([9, -1, 0, 5, 6])
    finished = np.array([0, 1, 0, 2, 1])
    counts = band_census(rows, goal_rows, moved, finished, height=10, bands=3)
    assert counts.tolist() == [[2, 1, 1, 1], [1, 1, 2, 0], [2, 1, 1, 3]]


def test_band_labels_cover_every_row_once():
    bench = load_script()
    for height, bands in ((140, 14), (10, 3), (7, 7), (9, 1)):
        covered = []
        for b in range(bands):
            lo, hi = map(
                int, re.fullmatch(r"rows (\d+)-(\d+)", bench.band_rows(b, bands, height)).groups()
            )
            assert all(r * bands // height == b for r in range(lo, hi + 1))
            covered += range(lo, hi + 1)
        assert covered == list(range(height))


@pytest.fixture(scope="module")
def tiny_instance(tmp_path_factory):
    grid = generate_layout(LayoutParams(block_rows=2, block_cols=2))
    inst = random_instance(grid, 16, 16 * 40, np.random.default_rng(1), name="tiny")
    return write_instance(inst, tmp_path_factory.mktemp("inst")), grid.height


def test_profile_accounts_for_every_robot_and_errand_without_changing_the_run(tiny_instance):
    path, height = tiny_instance
    bench = load_script()
    plain = bench.run_row(path, 70, "rotate", "pibt", 0)
    row = bench.run_row(path, 70, "rotate", "pibt", 0, profile=20, bands=3)
    assert plain["tasks"] == row["tasks"] > 0 and plain["profile"] == []
    assert [w["step"] for w in row["profile"]] == [20, 40, 60, 70]  # the last window is short
    assert sum(w["errands"] for w in row["profile"]) == row["tasks"]
    assert [sum(w["finished"]) for w in row["profile"]] == [w["errands"] for w in row["profile"]]
    for window in row["profile"]:
        assert sum(window["robots"]) == 16 and sum(window["bound"]) == 16  # every robot has a task
        assert all(0.0 <= m <= 1.0 for m in window["moving"])
    table = bench.profile_table(row).splitlines()
    assert table[1].count("rows ") == 3 and len(table) == 3 + 4
    with pytest.raises(ValueError, match="bands: at most the map's"):
        bench.run_row(path, 5, "rotate", "pibt", 0, profile=5, bands=height + 1)


@pytest.mark.parametrize("flag", [["--bands", "0"], ["--profile", "-1"], ["--steps", "0"]])
def test_bad_profile_arguments_exit_2_before_any_run(flag, tiny_instance, capsys):
    path, _ = tiny_instance
    with pytest.raises(SystemExit) as exc:
        load_script().main(["--instances", str(path), *flag])
    assert exc.value.code == 2
    assert flag[0] in capsys.readouterr().err
