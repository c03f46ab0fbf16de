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


# ----------------------------------------------------------------------------- bad input files
# Every malformed --map or --instance ends as ONE line on stderr, exit code 2, no traceback,
# and the output folder is never created.
GOOD_MAP = "type octile\nheight 3\nwidth 4\nmap\n.@E.\nS..@\n....\n"
BAD_MAPS = {
    "wrong header": (b"type tile\nheight 3\nwidth 4\nmap\n", ":1:6: only 'type octile'"),
    "misspelt key": (b"type octile\nheigth 3\nwidth 4\nmap\n", ":2:1: expected 'height'"),
    "ragged rows": (GOOD_MAP.replace("S..@", "S..").encode(), ":6:4: row has 3 characters"),
    "unknown cell": (GOOD_MAP.replace(".@E.", ".@Q.").encode(), ":5:3: unknown map character"),
    "too few rows": (GOOD_MAP.replace("....\n", "").encode(), ":7:1: expected 3 map rows"),
    "too many rows": ((GOOD_MAP + "....\n").encode(), ":8:1: text after the last map row"),
    "empty file": (b"", ":1:1: missing header line 'type'"),
    "0x0 map": (b"type octile\nheight 0\nwidth 0\nmap\n", ":2:8: height must be > 0"),
    # byte 128 is the first that is not UTF-8: line 2 (byte 10 is a newline), column 118
    "binary garbage": (bytes(range(256)) * 4, ":2:118: not a UTF-8 text file"),
    "NUL bytes": (b"\x00" * 64, ":1:1: expected 'type'"),
    "huge width": (
        b"type octile\nheight 3\nwidth 1000000000000\nmap\n...\n...\n...\n",
        ":3:7: a 3x1000000000000 map has 3,000,000,000,000 cells; at most 100,000,000",
    ),
    "huge height": (b"type octile\nheight 99999999999\nwidth 1\nmap\n.\n", "at most 100,000,000"),
    "5000-digit width": (
        b"type octile\nheight 1\nwidth 1" + b"0" * 5000 + b"\nmap\n.\n",
        ":3:7: width must be an integer",
    ),
}


def assert_refused(code: int, out: Path, capsys, *words: str) -> str:
    """Exit code 2, exactly one line on stderr naming the problem, nothing written."""
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert code == 2, captured
    assert len(lines) == 1, lines
    assert lines[0].startswith("swarm run: error: warehouse: field ")
    assert "Traceback" not in captured.err + captured.out
    assert not out.exists()
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.mark.parametrize("case", sorted(BAD_MAPS))
def test_a_malformed_map_is_one_line(tmp_path, capsys, case):
    content, words = BAD_MAPS[case]
    path = tmp_path / "bad.map"
    path.write_bytes(content)
    code, out = run(tmp_path, "--map", str(path), "--agents", "2", "--steps", "5")
    assert_refused(code, out, capsys, f"field 'map': {path}", words)


@pytest.mark.parametrize(
    ("name", "words"),
    [("missing.map", "missing.map: no such file"), ("folder", "folder: is a folder, not a file")],
)
def test_a_missing_map_or_a_folder_is_one_line(tmp_path, capsys, name, words):
    (tmp_path / "folder").mkdir()
    code, out = run(tmp_path, "--map", str(tmp_path / name), "--steps", "5")
    assert_refused(code, out, capsys, "field 'map'", words)


def test_a_byte_order_mark_is_accepted(tmp_path, capsys):
    """Editors on Windows may start UTF-8 files with a BOM; it carries nothing, so skip it."""
    path = tmp_path / "bom.map"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD_MAP.encode())
    code, out = run(tmp_path, "--map", str(path), "--agents", "2", "--steps", "5")
    assert code == 0 and (out / "summary.json").exists(), capsys.readouterr().err


def make_instance(folder: Path) -> Path:
    from swarm.grid.layout import LayoutParams, generate_layout, random_instance
    from swarm.grid.maps import write_instance

    grid = generate_layout(LayoutParams(block_rows=1, block_cols=1), name="m")
    inst = random_instance(grid, 3, 5, np.random.default_rng(0), name="x")
    return write_instance(inst, folder)


def _json(**changes):
    """Edit of the instance json: keys set to new values (None: removed)."""

    def edit(path: Path) -> None:
        spec = json.loads(path.read_text())
        for key, value in changes.items():
            if value is None:
                spec.pop(key)
            else:
                spec[key] = value
        path.write_text(json.dumps(spec))

    return edit


def _write(name: str, content: bytes):
    def edit(path: Path) -> None:
        (path.parent / name).write_bytes(content)

    return edit


BAD_INSTANCES = {
    "bad json": (_write("x.json", b"{ not json"), "x.json:1:3: invalid json"),
    "not an object": (_write("x.json", b"[1, 2]"), "x.json:1:1: expected a json object"),
    "empty json": (_write("x.json", b""), "x.json:1:1: invalid json"),
    "binary json": (_write("x.json", b"\x89PNG\r\n\x1a\n\xff\xfe"), "not a UTF-8 text file"),
    "deep json": (_write("x.json", b"[" * 100_000), "x.json:1:1: invalid json"),
    "5000-digit teamSize": (
        _write("x.json", b'{"teamSize": 1' + b"0" * 5000 + b"}"),
        "x.json:1:1: invalid json",
    ),
    "missing key": (_json(agentFile=None), "missing key 'agentFile'"),
    "wrong type": (_json(teamSize="3"), "'teamSize' must be a int"),
    "teamSize too large": (_json(teamSize=9), "teamSize 9 must be in 1..3"),
    "teamSize 0": (_json(teamSize=0), "teamSize 0 must be in 1..3"),
    "map missing": (_json(mapFile="maps/none.map"), "none.map: no such file"),
    "map is a folder": (_json(mapFile="maps"), "maps: is a folder, not a file"),
    "map file malformed": (_write("maps/m.map", b"type octile\n"), "m.map:2:1: missing header"),
    "agents garbage": (_write("agents/x.agents", bytes(range(128, 256))), "not a UTF-8 text"),
    "agents count huge": (
        _write("agents/x.agents", b"99999999999999\n1\n"),
        "x.agents:3:1: expected 99999999999999 agents",
    ),
    "agents on a wall": (_write("agents/x.agents", b"1\n-1\n"), "cell -1 is outside"),
    "no tasks": (_write("tasks/x.tasks", b"0\n"), "needs at least one task"),
    "tasks missing": (_json(taskFile="tasks/none.tasks"), "none.tasks: no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_INSTANCES))
def test_a_malformed_instance_is_one_line(tmp_path, capsys, case):
    path = make_instance(tmp_path / "set")
    edit, words = BAD_INSTANCES[case]
    edit(path)
    code, out = run(tmp_path, "--instance", str(path), "--steps", "5")
    assert_refused(code, out, capsys, "field 'instance'", words)


def test_a_missing_instance_or_a_folder_is_one_line(tmp_path, capsys):
    for target, words in [(tmp_path / "none.json", "no such file"), (tmp_path, "is a folder")]:
        code, out = run(tmp_path / "out", "--instance", str(target), "--steps", "5")
        assert_refused(code, out, capsys, "field 'instance'", words)


def test_more_agents_than_the_instance_has_is_one_line(tmp_path, capsys):
    path = make_instance(tmp_path / "set")
    code, out = run(tmp_path, "--instance", str(path), "--agents", "4", "--steps", "5")
    assert_refused(code, out, capsys, "field 'n_agents': 4 exceeds the instance's 3 robots")


def test_an_instance_json_with_a_byte_order_mark_runs(tmp_path, capsys):
    path = make_instance(tmp_path / "set")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, out = run(tmp_path, "--instance", str(path), "--steps", "5")
    assert code == 0 and (out / "summary.json").exists(), capsys.readouterr().err


# ----------------------------------------------------------------------------- memory
def test_a_random_stream_too_long_for_memory_is_refused_before_allocating(tmp_path, capsys):
    code, out = run(tmp_path, "--agents", "4", "--n-tasks", "1000000000000", "--steps", "5")
    line = assert_refused(code, out, capsys, "field 'n_tasks'", "needs about", "is available")
    assert "TiB" in line


def test_a_map_too_big_for_memory_is_refused_at_its_header(tmp_path, capsys, monkeypatch):
    import swarm.resources

    path = tmp_path / "wide.map"
    path.write_text("type octile\nheight 100\nwidth 100\nmap\n" + ("." * 100 + "\n") * 100)
    monkeypatch.setattr(swarm.resources, "available_memory", lambda: 200_000)
    code, out = run(tmp_path, "--map", str(path), "--agents", "2", "--steps", "5")
    assert_refused(code, out, capsys, f"field 'map': {path}: a 100x100 map needs about")


def test_a_run_too_big_for_memory_names_the_field_with_the_largest_share(
    tmp_path, capsys, monkeypatch
):
    """The map fits, but 2000 robots all in radio range of each other do not."""
    import swarm.resources

    path = tmp_path / "wide.map"
    path.write_text("type octile\nheight 100\nwidth 100\nmap\n" + ("." * 100 + "\n") * 100)
    monkeypatch.setattr(swarm.resources, "available_memory", lambda: 10 * 2**20)
    code, out = run(tmp_path, "--map", str(path), "--agents", "2000", "--comm-radius", "1000",
                    "--field-cache-mb", "1", "--steps", "5")  # fmt: skip
    assert_refused(code, out, capsys, "field 'n_agents': a run of 2,000 robots on the 100x100")
    # the distance-field cache a long run fills is counted too (10,000 goals x 20 KB here)
    code, out = run(tmp_path, "--map", str(path), "--agents", "20", "--steps", "5")
    assert_refused(code, out, capsys, "field 'field_cache_mb': a run of 20 robots")


def test_poisson_orders_on_a_map_without_stations_is_one_line(tmp_path, capsys):
    path = tmp_path / "plain.map"
    path.write_text("type octile\nheight 2\nwidth 3\nmap\n...\n...\n")
    code, out = run(tmp_path, "--map", str(path), "--agents", "2", "--tasks", "poisson")
    assert_refused(code, out, capsys, "field 'tasks': 'poisson' orders need service (S)")


def test_an_infinite_radio_is_a_setting_and_nan_is_refused(tmp_path, capsys):
    out = tmp_path / "inf"
    argv = ["run", "warehouse", "--agents", "6", "--steps", "3", "--quiet", "--comm-radius"]
    assert main([*argv, "inf", "--out", str(out)]) == 0 and (out / "summary.json").exists()
    capsys.readouterr()
    assert main([*argv, "nan", "--out", str(tmp_path / "nan")]) == 2
    assert "comm_radius" in capsys.readouterr().err and not (tmp_path / "nan").exists()
