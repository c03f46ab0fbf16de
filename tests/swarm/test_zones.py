"""Lifelong instance jsons: start zones, goal zones and per-robot goal sequences
(``swarm.grid.maps`` docstring), their task stream (``SequenceTasks``), the warehouse run and
the one-line errors of malformed files."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from swarm.cli import main
from swarm.config import ConfigError
from swarm.grid.distance import DistanceBank
from swarm.grid.maps import MapFormatError, load_instance, load_map, write_instance
from swarm.grid.tasks import IDLE, SequenceTasks, free_flow_sequences

# 6x6, two walls in the middle of row 2
MAP = "type octile\nheight 6\nwidth 6\nmap\n......\n......\n..@@..\n......\n......\n......\n"
TOP = {"rows": [0, 1], "cols": [0, 5]}  # 12 free cells
BOTTOM_RIGHT = {"rows": [4, 5], "cols": [3, 5]}  # 6 free cells


def write(folder: Path, name: str = "x.json", **spec) -> Path:
    """An instance json on the 6x6 map (``spec`` are its keys; teamSize 3 by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "m.map").write_text(MAP)
    path = folder / name
    path.write_text(json.dumps({"mapFile": "m.map", "teamSize": 3, **spec}, indent=2))
    return path


def rowcols(cells) -> set[tuple[int, int]]:
    return {divmod(int(c), 6) for c in cells}


# ----------------------------------------------------------------------------- zones
def test_zones_sample_distinct_starts_and_goals_inside_the_rectangles(tmp_path):
    path = write(tmp_path, teamSize=10, startZones=[TOP], goalZones=[BOTTOM_RIGHT])
    inst = load_instance(path, rng=0, n_tasks=500)
    assert len(inst.starts) == 10 and len(np.unique(inst.starts)) == 10
    assert all(r <= 1 for r, _ in rowcols(inst.starts))
    assert len(inst.tasks) == 500 and inst.offsets is None
    assert rowcols(inst.tasks) == {(r, c) for r in (4, 5) for c in (3, 4, 5)}  # all drawn


def test_zones_skip_obstacles_and_join_overlapping_rectangles(tmp_path):
    middle = {"rows": [2, 2], "cols": [1, 4]}  # (2, 2) and (2, 3) are walls
    path = write(tmp_path, teamSize=3, startZones=[middle, {"rows": [2, 3], "cols": [1, 1]}],
                 goalZones=[middle])  # fmt: skip
    inst = load_instance(path, rng=5, n_tasks=200)
    assert rowcols(inst.starts) == {(2, 1), (2, 4), (3, 1)}  # the 3 free cells, each once
    assert rowcols(inst.tasks) == {(2, 1), (2, 4)}


def test_zone_draws_follow_the_seed(tmp_path):
    path = write(tmp_path, teamSize=4, startZones=[TOP], goalZones=[TOP, BOTTOM_RIGHT])
    a, b, c = (load_instance(path, rng=s, n_tasks=50) for s in (1, 1, 2))
    assert np.array_equal(a.starts, b.starts) and np.array_equal(a.tasks, b.tasks)
    assert not np.array_equal(a.starts, c.starts) and not np.array_equal(a.tasks, c.tasks)
    # a bare load is reproducible too (seed 0)
    assert np.array_equal(load_instance(path).starts, load_instance(path).starts)


def test_the_run_seed_draws_the_zones(tmp_path):
    from envs.warehouse import WarehouseModel

    path = write(tmp_path, teamSize=4, startZones=[TOP], goalZones=[BOTTOM_RIGHT])

    def starts(seed):
        return WarehouseModel(instance=str(path), n_tasks=40, rng=seed).world.cell.copy()

    assert np.array_equal(starts(3), starts(3))
    assert not np.array_equal(starts(3), starts(4))


def test_a_league_file_draws_nothing_and_loads_as_before(tmp_path):
    from swarm.grid.layout import random_instance

    grid = load_map(write(tmp_path / "m").parent / "m.map")
    league = random_instance(grid, 3, 7, np.random.default_rng(0), name="lg")
    path = write_instance(league, tmp_path / "lg")
    a, b = load_instance(path, rng=1), load_instance(path, rng=2)
    assert np.array_equal(a.starts, league.starts) and np.array_equal(a.tasks, league.tasks)
    assert np.array_equal(a.starts, b.starts) and a.offsets is None


# ----------------------------------------------------------------------------- sequences
SEQS = [[[5, 0], [5, 5], [0, 0]], [[3, 3]], [[0, 5], [3, 0]]]


def sequences_of(inst) -> list[list[int]]:
    return [inst.tasks[a:b].tolist() for a, b in itertools.pairwise(inst.offsets)]


def test_goal_sequences_load_as_csr_in_agent_order(tmp_path):
    path = write(tmp_path, agentFile="a.agents", goalSequences=SEQS)
    (tmp_path / "a.agents").write_text("4\n7\n1\n2\n3\n")  # League starts, teamSize 3
    inst = load_instance(path)
    assert inst.starts.tolist() == [7, 1, 2] and inst.offsets.tolist() == [0, 3, 4, 6]
    assert sequences_of(inst) == [[30, 35, 0], [21], [5, 18]]


def make_stream(tmp_path, wrap: str) -> SequenceTasks:
    path = write(tmp_path, startZones=[TOP], goalSequences=SEQS)
    inst = load_instance(path)
    return SequenceTasks(inst.grid, DistanceBank(inst.grid), inst.tasks, inst.offsets, wrap)


def test_a_robot_that_reaches_goal_c_gets_goal_c_plus_1(tmp_path):
    tasks = make_stream(tmp_path, "cycle")
    assert tasks.goal.tolist() == [30, 21, 5]  # each robot's first goal
    away = np.array([1, 2, 3])  # nobody on a goal
    assert tasks.update(away, 1) == 0 and tasks.goal.tolist() == [30, 21, 5]
    assert tasks.update(np.array([30, 2, 5]), 2) == 2  # robots 0 and 2 arrive
    assert tasks.goal.tolist() == [35, 21, 18] and tasks.counter.tolist() == [1, 0, 1]
    assert tasks.revealed_at.tolist() == [2, 0, 2] and tasks.finished.tolist() == [1, 0, 1]
    assert tasks.goal_slot.min() >= 0  # distance fields for the new goals


def test_cycle_wraps_to_the_first_goal(tmp_path):
    tasks = make_stream(tmp_path, "cycle")
    for t, cell in enumerate([30, 35, 0, 30], start=1):
        tasks.update(np.array([cell, 2, 3]), t)
    assert tasks.counter[0] == 4 and tasks.goal[0] == 35  # 30, 35, 0, 30 again, then 35
    assert tasks.completed.tolist() == [True, False, False]
    # a one-goal sequence: standing on it finishes it every step
    for t in range(5, 8):
        tasks.update(np.array([1, 21, 3]), t)
    assert tasks.finished[1] == 3 and tasks.goal[1] == 21


def test_stop_ends_a_robots_sequence(tmp_path):
    tasks = make_stream(tmp_path, "stop")
    tasks.update(np.array([1, 21, 3]), 1)  # robot 1's only goal
    assert tasks.goal[1] == -1 and tasks.phase[1] == IDLE and tasks.goal_slot[1] == -1
    tasks.update(np.array([1, 21, 3]), 2)  # no task: nothing more to finish
    assert tasks.finished[1] == 1 and tasks.counter[1] == 1 and tasks.completed[1]
    for t, cell in enumerate([30, 35, 0, 0], start=3):
        tasks.update(np.array([cell, 2, 3]), t)
    assert tasks.finished[0] == 3 and tasks.goal[0] == -1


def test_a_later_first_round_starts_each_sequence_at_that_goal(tmp_path):
    path = write(tmp_path, startZones=[TOP], goalSequences=SEQS)
    inst = load_instance(path)
    bank = DistanceBank(inst.grid)
    tasks = SequenceTasks(inst.grid, bank, inst.tasks, inst.offsets, "cycle", first_round=1)
    assert tasks.goal.tolist() == [35, 21, 18]  # goal 1 of each (a one-goal sequence wraps)
    tasks.update(np.array([35, 21, 18]), 1)
    assert tasks.goal.tolist() == [0, 21, 5] and tasks.completed.tolist() == [False, True, False]
    tasks.update(np.array([0, 2, 5]), 2)
    assert tasks.completed.tolist() == [False, True, True]  # 2 goals of robot 2's two
    stop = SequenceTasks(inst.grid, bank, inst.tasks, inst.offsets, "stop", first_round=1)
    assert stop.goal.tolist() == [35, -1, 18]
    assert stop.completed.tolist() == [False, True, False]  # robot 1 was given no goal
    stop.update(np.array([35, 2, 18]), 1)
    stop.update(np.array([0, 2, 3]), 2)
    assert stop.goal.tolist() == [-1, -1, -1] and stop.completed.all()


def test_first_task_round_refuses_rounds_past_a_stopping_stream(tmp_path):
    from envs.warehouse import WarehouseModel

    path = write(tmp_path, startZones=[TOP], goalSequences=SEQS)
    with pytest.raises(ConfigError, match=r"field 'first_task_round'.*allowed: 0 to 2"):
        WarehouseModel(instance=str(path), league_wrap="stop", first_task_round=3)
    cycled = WarehouseModel(instance=str(path), first_task_round=3)
    assert cycled.tasks.goal.tolist() == [30, 21, 18]  # goal 3 of each, cycled


def model(path: Path, **config):
    from envs.warehouse import WarehouseModel

    return WarehouseModel(instance=str(path), policy="pibt", rng=0, **config)


@pytest.mark.parametrize("wrap", ["cycle", "stop"])
def test_pibt_follows_each_robots_sequence_in_order(tmp_path, wrap):
    m = model(write(tmp_path, startZones=[TOP], goalSequences=SEQS), league_wrap=wrap)
    assert isinstance(m.tasks, SequenceTasks)
    seqs = sequences_of(m.instance)
    reached: list[list[int]] = [[], [], []]
    for _ in range(80):
        goal, counter = m.tasks.goal.copy(), m.tasks.counter.copy()
        m.step()
        for k in np.flatnonzero(m.tasks.counter > counter):
            assert m.world.cell[k] == goal[k]  # it finished the goal it was sent to
            reached[k].append(int(goal[k]))
        length = np.diff(m.instance.offsets)
        expect = [s[c % n] if wrap == "cycle" or c < n else -1
                  for s, c, n in zip(seqs, m.tasks.counter, length, strict=True)]  # fmt: skip
        assert m.tasks.goal.tolist() == expect
    for k, s in enumerate(seqs):
        if wrap == "stop":
            assert reached[k] == s  # each goal once, in order, then nothing
        else:
            assert len(reached[k]) > len(s)  # went round
            assert reached[k] == [s[i % len(s)] for i in range(len(reached[k]))]
    summary = m.summary()
    assert summary["sequences_completed"] == 3 and summary["collisions"] == 0
    assert summary["tasks_finished"] == sum(len(r) for r in reached)
    assert 0 < summary["free_flow_ratio"] <= 1
    assert summary["task_stream_degenerate"] is (wrap == "cycle")  # robot 1: one cell


def test_fewer_robots_take_the_first_sequences(tmp_path):
    m = model(write(tmp_path, startZones=[TOP], goalSequences=SEQS), n_agents=2)
    assert m.world.n == 2 and m.tasks.goal.tolist() == [30, 21]
    assert m.instance.offsets.tolist() == [0, 3, 4]


def test_free_flow_of_a_sequence_is_its_walk_alone(tmp_path):
    path = write(tmp_path, teamSize=1, startZones=[{"rows": [0, 0], "cols": [0, 0]}],
                 goalSequences=[[[0, 3], [0, 0]]])  # fmt: skip
    inst = load_instance(path)
    args = (inst.grid, inst.starts, inst.tasks, inst.offsets)
    assert free_flow_sequences(*args, 30, "cycle").tolist() == [10]  # 3 steps a goal
    assert free_flow_sequences(*args, 29, "cycle").tolist() == [9]
    assert free_flow_sequences(*args, 30, "stop").tolist() == [2]
    assert free_flow_sequences(*args, 5, "stop").tolist() == [1]
    # from goal 1 ((0, 0), where the robot starts): 1 step, then 3 a goal
    assert free_flow_sequences(*args, 7, "cycle", first_round=1).tolist() == [3]
    assert free_flow_sequences(*args, 30, "stop", first_round=1).tolist() == [1]
    m = model(path)
    for _ in range(30):
        m.step()
    assert m.summary()["free_flow_tasks"] == 10 and m.summary()["free_flow_ratio"] == 1.0


def test_sequences_round_trip_through_write_instance(tmp_path):
    inst = load_instance(write(tmp_path, startZones=[TOP], goalSequences=SEQS))
    back = load_instance(write_instance(inst, tmp_path / "out", name="again"))
    assert np.array_equal(back.starts, inst.starts)
    assert sequences_of(back) == sequences_of(inst)


# ----------------------------------------------------------------------------- errors
BAD = {
    "zone below the map": (
        {"startZones": [{"rows": [4, 6], "cols": [0, 1]}], "goalZones": [TOP]},
        "startZones[0]: rows [4, 6] leave the 6x6 map",
    ),
    "zone left of the map": (
        {"startZones": [TOP], "goalZones": [TOP, {"rows": [0, 0], "cols": [-1, 0]}]},
        "goalZones[1]: cols [-1, 0] leave",
    ),
    "zone all walls": (
        {"startZones": [TOP], "goalZones": [{"rows": [2, 2], "cols": [2, 3]}]},
        "goalZones[0]: rows [2, 2] cols [2, 3] hold no free cell",
    ),
    "zone reversed": (
        {"startZones": [{"rows": [1, 0], "cols": [0, 1]}], "goalZones": [TOP]},
        "startZones[0]: rows [1, 0]: the first exceeds the last",
    ),
    "zone not a rectangle": (
        {"startZones": [{"rows": [0, 1]}], "goalZones": [TOP]},
        "startZones[0]: must be a zone",
    ),
    "no zones": ({"startZones": [], "goalZones": [TOP]}, "startZones: must be a list of zones"),
    "too few start cells": (
        {"teamSize": 7, "startZones": [BOTTOM_RIGHT], "goalZones": [TOP]},
        "startZones: teamSize 7 must be in 1..6",
    ),
    "goal out of the map": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]], [[1, 1], [6, 0]], [[2, 0]]]},
        "goalSequences[1][1]: (6, 0) is outside the 6x6 map",
    ),
    "goal on a wall": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]], [[1, 1]], [[2, 0], [2, 3]]]},
        "goalSequences[2][1]: (2, 3) is an obstacle",
    ),
    "too few sequences": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]], [[1, 1]]]},
        "goalSequences: has 2 sequences, teamSize is 3",
    ),
    "too many sequences": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]]] * 4},
        "goalSequences: has 4 sequences, teamSize is 3",
    ),
    "empty sequence": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]], [], [[2, 0]]]},
        "goalSequences[1]: must be a non-empty list",
    ),
    "goal not a pair": (
        {"startZones": [TOP], "goalSequences": [[[0, 0]], [7], [[2, 0]]]},
        "goalSequences[1][0]: must be a [row, col] pair",
    ),
    "two task sources": (
        {"startZones": [TOP], "goalZones": [TOP], "goalSequences": SEQS},
        "goalSequences: give 'goalZones' or 'goalSequences', not both",
    ),
    "no task source": ({"startZones": [TOP]}, "missing key 'taskFile' (or 'goalZones')"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_malformed_file_is_one_line_naming_file_and_key(tmp_path, case):
    spec, words = BAD[case]
    path = write(tmp_path, **spec)
    with pytest.raises(MapFormatError) as err:
        load_instance(path)
    line = str(err.value)
    assert "\n" not in line and line.startswith(f"{path}:"), line
    assert words in line, line
    key = words.split("[")[0].split(":")[0]
    if key in spec:  # points at the line of the key in the (indented) json
        at = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if f'"{key}"' in s)
        assert err.value.line == at and err.value.col > 1


def test_a_malformed_file_is_a_config_error_the_model_names(tmp_path):
    path = write(tmp_path, startZones=[TOP], goalSequences=SEQS[:2])
    with pytest.raises(ConfigError, match=r"field 'instance': .*x\.json:.*goalSequences: has 2"):
        model(path)


# ----------------------------------------------------------------------------- CLI
def cli(tmp_path: Path, path: Path, *argv: str) -> tuple[int, Path]:
    out = tmp_path / "run"
    argv = ("--set", f"instance={path}", "--steps", "30", *argv, "--out", str(out), "--quiet")
    return main(["run", "warehouse", *argv]), out


def test_swarm_run_on_a_lifelong_instance(tmp_path):
    path = write(tmp_path, startZones=[TOP], goalSequences=SEQS)
    code, out = cli(tmp_path, path)
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_agents"] == 3 and summary["collisions"] == 0
    assert summary["tasks_finished"] > 0 and summary["sequences_completed"] is not None
    assert 0 < summary["free_flow_ratio"] <= 1


def test_swarm_run_on_goal_zones(tmp_path):
    path = write(tmp_path, teamSize=4, startZones=[TOP], goalZones=[BOTTOM_RIGHT])
    code, out = cli(tmp_path, path, "--set", "n_tasks=100")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["league_tasks_per_robot"] == 25 and "sequences_completed" not in summary
    assert 0 < summary["free_flow_ratio"] <= 1  # round robin over the drawn list


def test_swarm_run_on_a_bad_file_is_one_line_exit_2(tmp_path, capsys):
    path = write(tmp_path, startZones=[TOP], goalSequences=[[[0, 0]], [[9, 9]], [[1, 1]]])
    code, out = cli(tmp_path, path)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and not out.exists()
    assert len(err) == 1 and "x.json" in err[0] and "goalSequences[1][0]" in err[0], err
