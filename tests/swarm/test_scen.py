"""MovingAI benchmark files as MAPF users write them: ``.scen`` scenarios load as one-shot
problems (first k lines, cell ``y * width + x``), every malformed one is refused in one line
naming file:line, the map loader takes MovingAI's glyphs, and ``swarm run warehouse`` runs a
scenario to every goal."""

import json

import numpy as np
import pytest

from envs.warehouse import WarehouseModel
from swarm.cli import main
from swarm.config import ConfigError
from swarm.grid.maps import FREE, OBSTACLE, SERVICE, MapFormatError, load_scen, parse_map

# 6 rows x 8 columns (not square, so x and y cannot be swapped unnoticed), a wall in row 2
MAP = """type octile
height 6
width 8
map
........
........
..@@@@..
........
........
........
"""
# bucket, map, width, height, start x, start y, goal x, goal y, optimal length
LINES = [
    "0\tm.map\t8\t6\t0\t0\t7\t5\t12",
    "0\tm.map\t8\t6\t7\t0\t0\t5\t12",
    "1\tm.map\t8\t6\t3\t1\t3\t4\t5.82842712",  # around the wall
]


def write(tmp_path, lines=None, header="version 1", name="x.scen", map_text=MAP):
    (tmp_path / "m.map").write_text(map_text)
    scen = tmp_path / name
    scen.write_text("\n".join([header, *(LINES if lines is None else lines)]) + "\n")
    return scen


def test_cells_are_row_major_with_x_the_column(tmp_path):
    inst = load_scen(write(tmp_path))
    assert inst.one_shot and inst.n_agents == 3 and inst.name == "x"
    assert inst.grid.height == 6 and inst.grid.width == 8
    assert inst.starts.tolist() == [0, 7, 1 * 8 + 3]
    assert inst.tasks.tolist() == [5 * 8 + 7, 5 * 8 + 0, 4 * 8 + 3]  # goals, in agent order
    assert inst.grid.rowcol(inst.starts[2]).tolist() == [1, 3]  # (row y, column x)


def test_the_first_k_lines_are_the_k_agent_problem(tmp_path):
    # a fourth line starting where the first does: not part of the 3-agent problem
    scen = write(tmp_path, [*LINES, "1\tm.map\t8\t6\t0\t0\t1\t5\t6"])
    two = load_scen(scen, n_agents=2)
    assert two.starts.tolist() == [0, 7] and two.tasks.tolist() == [47, 40]
    assert load_scen(scen, n_agents=3).n_agents == 3
    with pytest.raises(MapFormatError, match=r"x\.scen:5:.*also the start of the agent of line 2"):
        load_scen(scen)
    with pytest.raises(MapFormatError, match=r"y\.scen:5:1: 9 agents asked for"):
        load_scen(write(tmp_path, name="y.scen"), n_agents=9)


def test_spaces_instead_of_tabs_and_version_1_0(tmp_path):
    lines = [line.replace("\t", " ") for line in LINES]
    inst = load_scen(write(tmp_path, lines, header="version 1.0"))
    assert inst.starts.tolist() == [0, 7, 11]


def test_the_map_is_found_by_basename_or_given(tmp_path):
    # the benchmark's scenarios name the map from another folder
    lines = [line.replace("m.map", "../mapf-map/m.map") for line in LINES]
    inst = load_scen(write(tmp_path, lines))
    assert inst.files["mapFile"] == str(tmp_path / "m.map")
    other = tmp_path / "other.map"
    other.write_text(MAP.replace("..@@@@..", "@.......", 1))
    given = load_scen(tmp_path / "x.scen", map_path=other)
    assert given.grid.kind[2, 0] == OBSTACLE and given.grid.kind[2, 3] == FREE


def replace_field(line: int, field: int, value: str) -> list[str]:
    lines = list(LINES)
    parts = lines[line].split("\t")
    parts[field] = value
    lines[line] = "\t".join(parts)
    return lines


DUPLICATE_START = [*LINES, "1\tm.map\t8\t6\t7\t0\t1\t5\t6"]
DUPLICATE_GOAL = [*LINES, "1\tm.map\t8\t6\t1\t0\t3\t4\t6"]
BAD = {
    "bad header": (dict(header="version 2"), 1, 1, "expected 'version 1'"),
    "no header": (dict(header=LINES[0]), 1, 1, "expected 'version 1'"),
    "8 fields": (dict(lines=[*LINES[:2], LINES[2].rsplit("\t", 1)[0]]), 4, 20, "9 fields"),
    "10 fields": (dict(lines=[*LINES[:2], LINES[2] + "\t7"]), 4, 32, "found 10"),
    "non-integer": (dict(lines=replace_field(0, 4, "1.5")), 2, 13, "start x must be an integer"),
    "bad length": (dict(lines=replace_field(0, 8, "-1")), 2, 21, "optimal length"),
    "width mismatch": (dict(lines=replace_field(1, 2, "9")), 3, 9, "map width 9 differs"),
    "height mismatch": (dict(lines=replace_field(1, 3, "8")), 3, 11, "map height 8 differs"),
    "x out of bounds": (dict(lines=replace_field(1, 6, "8")), 3, 17, "goal x 8 is outside"),
    "start on a wall": (
        dict(lines=replace_field(2, 5, "2")),
        4,
        13,
        "start (x 3, y 2) is an obstacle",
    ),
    "goal on a wall": (
        dict(lines=replace_field(2, 7, "2")),
        4,
        17,
        "goal (x 3, y 2) is an obstacle",
    ),
    "duplicate start": (
        dict(lines=DUPLICATE_START),
        5,
        13,
        "also the start of the agent of line 3",
    ),
    "duplicate goal": (dict(lines=DUPLICATE_GOAL), 5, 17, "distinct goals"),
    "missing map": (dict(lines=replace_field(0, 1, "nope.map")), 2, 3, "'nope.map' not found"),
    "two maps": (dict(lines=replace_field(1, 1, "n.map")), 3, 3, "names map 'n.map'"),
    "no lines": (dict(lines=[]), 2, 1, "no problem lines"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_scenarios_are_one_line_naming_file_line_col(tmp_path, case):
    kwargs, line, col, words = BAD[case]
    scen = write(tmp_path, **kwargs)
    with pytest.raises(MapFormatError) as err:
        load_scen(scen)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{scen}:{line}:{col}: "), message
    assert words in message


def test_a_missing_or_binary_scenario_is_one_config_error_line(tmp_path):
    with pytest.raises(ConfigError, match=r"nothing\.scen: no such file"):
        load_scen(tmp_path / "nothing.scen")
    binary = tmp_path / "b.scen"
    binary.write_bytes(b"version 1\n\xff\xfe")
    with pytest.raises(MapFormatError, match=r"b\.scen:2:1: not a UTF-8"):
        load_scen(binary)


def test_movingai_glyphs_parse_and_write_back_canonical():
    text = "type octile\nheight 2\nwidth 4\nmap\nG.OT\nW@SE\n"
    grid = parse_map(text, "alt.map")
    assert grid.kind[0].tolist() == [FREE, FREE, OBSTACLE, OBSTACLE]
    assert grid.kind[1, :3].tolist() == [OBSTACLE, OBSTACLE, SERVICE]  # water blocks, swamp not
    assert grid.to_text().splitlines()[4:] == ["..@@", "@@SE"]
    with pytest.raises(MapFormatError, match=r"alt\.map:5:2: unknown map character 'x'.*'G'"):
        parse_map(text.replace("G.OT", "Gx.."), "alt.map")


def run(tmp_path, *argv):
    out = tmp_path / "run"
    code = main(["run", "warehouse", *argv, "--out", str(out), "--quiet", "--format", "csv"])
    return code, out


def test_cli_runs_a_scenario_to_every_goal(tmp_path):
    scen = write(tmp_path)
    code, out = run(tmp_path, "--set", f"instance={scen}", "--steps", "40")
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_agents"] == 3 and summary["collisions"] == 0
    assert summary["goals_reached"] == 3 and summary["tasks_finished"] == 3
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["league_wrap"] == "stop"  # one goal each, never a second
    assert summary["free_flow_ratio"] is None
    # the step at which the last robot first stood on its goal, traced by hand
    model = WarehouseModel(instance=str(scen), rng=0)
    goals = model.instance.tasks
    reached = np.zeros(3, bool)
    first_all = None
    for _ in range(40):
        model.step()
        reached |= model.world.cell == goals
        if first_all is None and reached.all():
            first_all = model.world.t
    assert first_all is not None and first_all >= 12  # robot 0 needs 12 moves
    assert summary["all_reached_goal_at"] == first_all == model.summary()["all_reached_goal_at"]


def test_cli_takes_the_first_lines_and_a_map_override(tmp_path):
    lines = [line.replace("m.map", "elsewhere/gone.map") for line in LINES]
    scen = write(tmp_path, lines)
    code, out = run(tmp_path, "--set", f"instance={scen}", "--set", "n_agents=2",
                    "--set", f"map={tmp_path / 'm.map'}", "--steps", "3")  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_agents"] == 2
    assert summary["goals_reached"] < 2 and summary["all_reached_goal_at"] is None  # 3 steps


@pytest.mark.parametrize(
    ("lines", "settings", "words"),
    [
        (DUPLICATE_GOAL, [], "x.scen:5:17: goal (x 3, y 4) is also the goal"),
        (LINES, ["--set", "n_agents=4"], "x.scen:5:1: 4 agents asked for (n_agents)"),
        (LINES, ["--set", "tasks=poisson"], "tasks='league'"),
        (LINES, ["--set", "league_wrap=cycle"], "league_wrap='stop'"),
        (LINES, ["--set", "map=missing.map"], "field 'map': missing.map: no such file"),
    ],
)
def test_cli_refuses_a_bad_scenario_in_one_line(tmp_path, capsys, lines, settings, words):
    scen = write(tmp_path, lines)
    code, out = run(tmp_path, "--set", f"instance={scen}", *settings, "--steps", "5")
    assert code == 2 and not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


def test_a_json_instance_and_a_map_are_still_exclusive():
    with pytest.raises(ConfigError, match="either instance or map"):
        WarehouseModel(instance="a.json", map="b.map", rng=0)
