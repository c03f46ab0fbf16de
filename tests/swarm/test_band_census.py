"""Where robots crowd over a run: swarm.grid.metrics.band_census and bench_mainround --profile."""

import re

import numpy as np
import pytest

from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import write_instance
from swarm.grid.metrics import band_census


@pytest.fixture
def bench(experiment_script):
    return experiment_script("bench_mainround")


def test_census_counts_by_hand():
    # 10 rows in 3 bands: rows 0-3, 4-6, 7-9 (r * 3 // 10)
    rows = np.array([0, 3, 4, 9, 9])
    moved = np.array([True, False, True, True, False])
    goal_rows = np.array([9, -1, 0, 5, 6])
    finished = np.array([0, 1, 0, 2, 1])
    counts = band_census(rows, goal_rows, moved, finished, height=10, bands=3)
    assert counts.tolist() == [[2, 1, 1, 1], [1, 1, 2, 0], [2, 1, 1, 3]]


def test_band_labels_cover_every_row_once(bench):
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


def twin_profile(path, steps, every, bands):
    """The census of bench_mainround's ``pibt`` rotate run, recomputed from the arrays of an
    identical model stepped here: counts per band straight from each robot's row."""
    from envs.warehouse import WarehouseModel

    model = WarehouseModel(instance=str(path), policy="pibt", policy_params={},
                           motion="rotate", rng=0, first_task_round=0, guidance="none")  # fmt: skip
    height, width = model.grid_map.height, model.grid_map.width
    standing, moving, served = np.zeros(bands), np.zeros(bands), np.zeros(bands, np.int64)
    windows, finished = [], 0
    for step in range(1, steps + 1):
        before = model.tasks.finished.copy()
        model.step()
        band = (model.world.cell // width) * bands // height
        for b in range(bands):
            here = band == b
            standing[b] += here.sum()
            moving[b] += (here & model.last_counts.moved_mask).sum()
            served[b] += (model.tasks.finished - before)[here].sum()
        if step % every == 0 or step == steps:
            goal_band = (model.tasks.goal // width) * bands // height
            windows.append({
                "step": step,
                "errands": int(model.tasks.finished.sum()) - finished,
                "robots": [int((band == b).sum()) for b in range(bands)],
                "bound": [int((goal_band == b).sum()) for b in range(bands)],
                "moving": [moving[b] / standing[b] if standing[b] else None for b in range(bands)],
                "finished": served.tolist(),
            })  # fmt: skip
            finished = int(model.tasks.finished.sum())
            standing[:], moving[:], served[:] = 0, 0, 0
    return windows


def test_profile_matches_a_twin_run_counted_by_hand_and_leaves_the_run_unchanged(
    tiny_instance, bench
):
    path, height = tiny_instance
    plain = bench.run_row(path, 70, "rotate", "pibt", 0)
    row = bench.run_row(path, 70, "rotate", "pibt", 0, profile=20, bands=3)
    assert plain["tasks"] == row["tasks"] > 0 and plain["profile"] == []
    assert [w["step"] for w in row["profile"]] == [20, 40, 60, 70]  # the last window is short
    assert sum(w["errands"] for w in row["profile"]) == row["tasks"]
    twin = twin_profile(path, 70, 20, 3)
    for got, want in zip(row["profile"], twin, strict=True):
        assert got["step"] == want["step"] and got["errands"] == want["errands"]
        assert got["robots"] == want["robots"] and got["bound"] == want["bound"]
        assert got["finished"] == want["finished"]
        assert got["moving"] == pytest.approx(want["moving"])
    # the counts differ between bands and windows, so a swap or a missed reset would show
    assert len({tuple(w["robots"]) for w in twin}) > 1
    assert any(w["robots"] != w["bound"] for w in twin)
    table = bench.profile_table(row).splitlines()
    assert table[1].count("rows ") == 3 and len(table) == 3 + 4
    with pytest.raises(ValueError, match="bands: at most the map's"):
        bench.run_row(path, 5, "rotate", "pibt", 0, profile=5, bands=height + 1)


def test_an_empty_band_shows_a_dash_not_zero_moving(bench):
    row = {"instance": "x", "motion": "rotate", "controller": "pibt", "height": 4,
           "profile": [{"step": 5, "errands": 1, "robots": [2, 0], "bound": [1, 1],
                        "moving": [0.5, None], "finished": [1, 0]}]}  # fmt: skip
    assert (
        bench.profile_table(row).splitlines()[-1] == "| 5 | 1 | 2 / 50% / 1 / 1 | 0 / - / 1 / 0 |"
    )


@pytest.mark.parametrize(
    ("flag", "says"),
    [
        (["--profile", "5", "--bands", "0"], "--bands: at least 1"),
        (["--profile", "-1"], "--profile: 0 (off)"),
        (["--steps", "0"], "--steps: at least 1"),
        (["--bands", "3"], "--bands: only with --profile"),
        (["--first-round", "-1"], "--first-round: a task round"),
        (["--profile", "5", "--bands", "1000"], "--bands: at most the"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_before_any_run(
    flag, says, tiny_instance, bench, capsys
):
    path, _ = tiny_instance
    with pytest.raises(SystemExit) as exc:
        bench.main(["--instances", str(path), *flag])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert says in captured.err.splitlines()[-1]
    assert captured.out == ""  # nothing printed, nothing run
