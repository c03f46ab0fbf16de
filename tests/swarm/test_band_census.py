"""Where robots crowd over a run: swarm.grid.metrics.band_census and bench_mainround --profile
(its arguments: test_bench_mainround.py)."""

import re

import numpy as np
import pytest

from swarm.grid.metrics import TurnReversals, band_census


def test_census_counts_by_hand():
    # 10 rows in 3 bands: rows 0-3, 4-6, 7-9 (r * 3 // 10)
    rows = np.array([0, 3, 4, 9, 9])
    moved = np.array([True, False, True, True, False])
    goal_rows = np.array([9, -1, 0, 5, 6])
    finished = np.array([0, 1, 0, 2, 1])
    counts = band_census(rows, goal_rows, moved, finished, height=10, bands=3)
    assert counts.tolist() == [[2, 1, 1, 1, 0, 0], [1, 1, 2, 0, 0, 0], [2, 1, 1, 3, 0, 0]]
    turned = np.array([False, True, False, False, True])
    undone = np.array([False, True, False, False, False])
    counts = band_census(rows, goal_rows, moved, finished, 10, 3, turned, undone)
    assert counts[:, 4:].tolist() == [[1, 1], [0, 0], [1, 0]]


def test_turns_taken_back_by_hand():
    # headings 0..3 clockwise; five robots over five steps (None: the robot moves forward)
    cw, ccw, stay = 1, -1, 0
    script = [  # per step, per robot: quarter turn, or None for a forward move
        [cw, cw, cw, cw, ccw],
        [ccw, None, cw, stay, cw],  # 0 and 4 take their turn back; 2 turns on (a u-turn)
        [stay, ccw, ccw, stay, stay],  # 1 moved in between: a new turn; 2 takes back its last
        [stay, stay, stay, stay, stay],
        [stay, stay, stay, ccw, stay],  # 3's last turn was 4 steps ago (window 3)
    ]
    want_undone = [
        [False] * 5,
        [True, False, False, False, True],
        [False, False, True, False, False],
        [False] * 5,
        [False] * 5,
    ]
    heading = np.array([0, 1, 2, 3, 0])
    rev = TurnReversals(5, window=3)
    for step, (turns, want) in enumerate(zip(script, want_undone, strict=True), start=1):
        moved = np.array([t is None for t in turns])
        after = (heading + np.array([0 if t is None else t for t in turns])) % 4
        turned, undone = rev.update(step, heading, after, moved)
        assert turned.tolist() == [t not in (None, 0) for t in turns]
        assert undone.tolist() == want
        heading = after
    with pytest.raises(ValueError, match="window: at least 1"):
        TurnReversals(3, window=0)


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


def twin_profile(path, steps, every, bands):
    """The census of bench_mainround's ``pibt`` rotate run, recomputed from the arrays of an
    identical model stepped here: counts per band straight from each robot's row, turns
    taken back robot by robot (its last turn and when, forgotten when it moves)."""
    from envs.warehouse import WarehouseModel

    model = WarehouseModel(instance=str(path), policy="pibt", policy_params={},
                           motion="rotate", rng=0, first_task_round=0, guidance="none")  # fmt: skip
    height, width = model.grid_map.height, model.grid_map.width
    standing, moving, served = np.zeros(bands), np.zeros(bands), np.zeros(bands, np.int64)
    turning, undone = np.zeros(bands), np.zeros(bands)
    last_turn = {}  # robot -> (quarter turn, step), until it moves
    windows, finished = [], 0
    for step in range(1, steps + 1):
        before = model.tasks.finished.copy()
        heading = model.world.heading.copy()
        model.step()
        band = (model.world.cell // width) * bands // height
        for b in range(bands):
            here = band == b
            standing[b] += here.sum()
            moving[b] += (here & model.last_counts.moved_mask).sum()
            served[b] += (model.tasks.finished - before)[here].sum()
        for i in range(model.world.n):
            if model.last_counts.moved_mask[i]:
                last_turn.pop(i, None)
                continue
            quarter = {1: 1, 3: -1}.get((int(model.world.heading[i]) - int(heading[i])) % 4)
            if quarter is None:
                continue
            turning[band[i]] += 1
            previous = last_turn.get(i)
            if previous is not None and previous[0] == -quarter and step - previous[1] <= 3:
                undone[band[i]] += 1
            last_turn[i] = (quarter, step)
        if step % every == 0 or step == steps:
            goal_band = (model.tasks.goal // width) * bands // height
            windows.append({
                "step": step,
                "errands": int(model.tasks.finished.sum()) - finished,
                "robots": [int((band == b).sum()) for b in range(bands)],
                "bound": [int((goal_band == b).sum()) for b in range(bands)],
                "moving": [moving[b] / standing[b] if standing[b] else None for b in range(bands)],
                "turning": [turning[b] / standing[b] if standing[b] else None
                            for b in range(bands)],
                "undone": [undone[b] / turning[b] if turning[b] else None for b in range(bands)],
                "finished": served.tolist(),
            })  # fmt: skip
            finished = int(model.tasks.finished.sum())
            standing[:], moving[:], served[:], turning[:], undone[:] = 0, 0, 0, 0, 0
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
        assert got["turning"] == pytest.approx(want["turning"])
        assert got["undone"] == pytest.approx(want["undone"])
    # the counts differ between bands and windows, so a swap or a missed reset would show
    assert len({tuple(w["robots"]) for w in twin}) > 1
    assert any(w["robots"] != w["bound"] for w in twin)
    assert len({tuple(w["undone"]) for w in twin}) > 1
    assert any(u for w in twin for u in w["undone"] if u is not None)
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


def test_under_rotation_each_band_shows_its_turns_and_those_taken_back(bench):
    row = {"instance": "x", "motion": "rotate", "controller": "pibt", "height": 4,
           "profile": [{"step": 5, "errands": 1, "robots": [4, 1], "bound": [1, 1],
                        "moving": [0.5, 0.0], "turning": [0.25, 0.0], "undone": [0.5, None],
                        "finished": [1, 0]}]}  # fmt: skip
    table = bench.profile_table(row).splitlines()
    assert "turned in place (share of those turns taking back" in table[0]
    assert table[-1] == "| 5 | 1 | 4 / 50% / 25% (50%) / 1 / 1 | 1 / 0% / 0% (-) / 1 / 0 |"
