"""Map, agents, tasks and instance files: round trips and clear errors (file:line:col)."""

from pathlib import Path

import numpy as np
import pytest

from swarm.grid.layout import LayoutParams, generate_layout, layout_shape, random_instance
from swarm.grid.maps import (
    EMITTER,
    OBSTACLE,
    SERVICE,
    MapFormatError,
    load_instance,
    load_map,
    parse_cells,
    parse_map,
    write_instance,
    write_map,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "lorr-2023-warehouse"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"League data not present at {DATA} (only in the shared checkout)"
)

SMALL = "type octile\nheight 3\nwidth 4\nmap\n.@E.\nS..@\n....\n"


def test_parse_small_map_reads_every_kind():
    g = parse_map(SMALL)
    assert (g.height, g.width) == (3, 4)
    assert g.kind[0, 1] == OBSTACLE and g.kind[0, 2] == EMITTER and g.kind[1, 0] == SERVICE
    assert g.free.sum() == 10
    # free-cell graph: the cell right of the obstacle has no west neighbour
    assert g.neighbors[g.free_id[2], 4] == -1
    assert g.to_text() == SMALL


@pytest.mark.parametrize(
    ("text", "line", "col", "words"),
    [
        ("type octile\nheight 3\nwidth 4\nmap\n.@E.\nS.x@\n....\n", 6, 3, "unknown map character"),
        ("type octile\nheight 3\nwidth 4\nmap\n.@E.\nS..\n....\n", 6, 4, "expected width 4"),
        ("type octile\nheight 3\nwidth 4\nmap\n.@E.\nS..@\n", 7, 1, "expected 3 map rows"),
        ("type octile\nheigth 3\nwidth 4\nmap\n", 2, 1, "expected 'height'"),
        ("type octile\nheight -3\nwidth 4\nmap\n", 2, 8, "must be > 0"),
        ("type octile\nheight 3\nwidth four\nmap\n", 3, 7, "must be an integer"),
        ("type tile\nheight 3\nwidth 4\nmap\n", 1, 6, "only 'type octile'"),
    ],
)
def test_malformed_maps_name_file_line_and_column(text, line, col, words):
    with pytest.raises(MapFormatError) as err:
        parse_map(text, "bad.map")
    assert (err.value.line, err.value.col) == (line, col)
    assert str(err.value).startswith(f"bad.map:{line}:{col}: ")
    assert words in str(err.value)


def test_cells_files_reject_obstacles_and_out_of_range_cells():
    g = parse_map(SMALL)
    assert parse_cells("2\n0\n11\n", "a.agents", g, "agents").tolist() == [0, 11]
    with pytest.raises(MapFormatError, match=r"a.agents:3:1: cell 1 \(row 0, col 1\) is an obst"):
        parse_cells("2\n0\n1\n", "a.agents", g, "agents")
    with pytest.raises(MapFormatError, match=r"a.agents:2:1: cell 12 is outside the 3x4 map"):
        parse_cells("1\n12\n", "a.agents", g, "agents")
    with pytest.raises(MapFormatError, match=r"a.agents:4:1: expected 3 agents"):
        parse_cells("3\n0\n2\n", "a.agents", g, "agents")
    with pytest.raises(MapFormatError, match=r"a.agents:3:2: 'x' is not a cell index"):
        parse_cells("2\n0\n x\n", "a.agents", g, "agents")


def test_generated_layout_has_the_requested_shape_and_stations():
    p = LayoutParams(block_rows=2, block_cols=3, shelf_height=2, shelf_width=4, aisle=2)
    g = generate_layout(p)
    assert (g.height, g.width) == layout_shape(p)
    assert (g.kind == OBSTACLE).sum() == 2 * 3 * 2 * 4  # exactly the shelves
    assert len(g.cells_of(EMITTER)) > 0 and len(g.cells_of(SERVICE)) == 2 * 3 * 2 * 4
    # every free cell is reachable from every other (one connected component)
    from swarm.grid.distance import bfs

    assert (bfs(g, int(g.free_cells[0]))[g.free] >= 0).all()


def test_layout_and_instance_round_trip_through_files(tmp_path):
    g = generate_layout(LayoutParams(block_rows=2, block_cols=2), name="tiny")
    write_map(g, tmp_path / "tiny.map")
    assert np.array_equal(load_map(tmp_path / "tiny.map").kind, g.kind)
    inst = random_instance(g, 7, 30, np.random.default_rng(0), name="tiny_7")
    path = write_instance(inst, tmp_path / "set")
    back = load_instance(path)
    assert np.array_equal(back.grid.kind, g.kind)
    assert np.array_equal(back.starts, inst.starts) and np.array_equal(back.tasks, inst.tasks)
    assert back.n_agents == 7 and back.assignment == "roundrobin"


def test_instance_errors_name_the_file(tmp_path):
    g = generate_layout(LayoutParams(block_rows=1, block_cols=1), name="m")
    inst = random_instance(g, 3, 5, np.random.default_rng(0), name="x")
    path = write_instance(inst, tmp_path)
    text = path.read_text()
    path.write_text(text.replace('"teamSize": 3', '"teamSize": 9'))
    with pytest.raises(MapFormatError, match=r"x.json:1:1: teamSize 9 must be in 1..3"):
        load_instance(path)
    path.write_text(text.replace("roundrobin", "greedy"))
    with pytest.raises(MapFormatError, match="only 'roundrobin'"):
        load_instance(path)
    path.write_text("{ not json")
    with pytest.raises(MapFormatError, match=r"x.json:1:3: invalid json"):
        load_instance(path)
    (tmp_path / "maps" / "m.map").write_text(SMALL.replace(".@E.", ".@Q."))
    path.write_text(text)
    with pytest.raises(MapFormatError, match=r"m.map:5:3: unknown map character 'Q'"):
        load_instance(path)


@needs_data
def test_league_instances_load_with_the_sizes_the_readme_states():
    small = load_instance(DATA / "warehouse_small_50.json")
    assert (small.grid.height, small.grid.width, small.n_agents) == (33, 57, 50)
    large = load_instance(DATA / "warehouse_large_1000.json")
    assert (large.grid.height, large.grid.width, large.n_agents) == (140, 500, 1000)
    assert len(large.tasks) == 1000 and large.grid.free.ravel()[large.tasks].all()
    assert load_instance(DATA / "sortation_large_2400.json").n_agents == 2400


def test_map_format_errors_are_config_errors_so_the_cli_prints_one_line():
    import pickle

    from swarm.config import ConfigError

    assert issubclass(MapFormatError, ConfigError) and issubclass(MapFormatError, ValueError)
    err = pickle.loads(pickle.dumps(MapFormatError("m.map", 3, 7, "width must be > 0")))
    assert (err.path, err.line, err.col) == ("m.map", 3, 7)
    assert str(err) == "m.map:3:7: width must be > 0"


def test_an_absurd_header_is_refused_even_when_memory_would_fit(monkeypatch):
    """The bound is on the header alone: nothing the size of the map is allocated first."""
    import swarm.resources

    monkeypatch.setattr(swarm.resources, "available_memory", lambda: 1 << 60)
    text = "type octile\nheight 20000\nwidth 20000\nmap\n" + "....\n" * 3
    with pytest.raises(MapFormatError, match=r"bad.map:3:7: a 20000x20000 map has 400,000,000"):
        parse_map(text, "bad.map")


def test_a_map_the_memory_cannot_hold_is_refused_naming_the_file(monkeypatch):
    import swarm.resources
    from swarm.config import ConfigError

    monkeypatch.setattr(swarm.resources, "available_memory", lambda: 1000)
    with pytest.raises(ConfigError, match=r"^big.map: a 3x4 map needs about .* is available$"):
        parse_map(SMALL, "big.map")


def test_a_byte_order_mark_is_skipped():
    assert parse_map("\ufeff" + SMALL).to_text() == SMALL
    assert parse_cells("\ufeff1\n5\n", "a.agents", None, "agents").tolist() == [5]


def test_a_huge_announced_count_fails_on_the_missing_lines_not_on_allocation():
    with pytest.raises(MapFormatError, match=r"a.agents:3:1: expected 99999999999999 agents"):
        parse_cells("99999999999999\n1\n", "a.agents", None, "agents")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xef\xbb\xbf" + SMALL.encode(), None),  # a BOM is accepted
        (b"type octile\n\xff\n", r"m.map:2:1: not a UTF-8 text file"),
        (b"\xef\xbb\xbftype\xc3", r"m.map:1:5: not a UTF-8 text file"),
    ],
)
def test_files_are_read_as_utf8_errors_naming_line_and_column(tmp_path, content, words):
    path = tmp_path / "m.map"
    path.write_bytes(content)
    if words is None:
        assert load_map(path).to_text() == SMALL
    else:
        with pytest.raises(MapFormatError, match=words):
            load_map(path)


def test_missing_files_and_folders_are_config_errors(tmp_path):
    from swarm.config import ConfigError

    with pytest.raises(ConfigError, match=r"none.map: no such file$"):
        load_map(tmp_path / "none.map")
    with pytest.raises(ConfigError, match=r": is a folder, not a file$"):
        load_map(tmp_path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_map(tmp_path / ("x" * 300))


def test_input_files_are_bounded_in_size_pipes_and_devices_too(tmp_path, monkeypatch):
    import swarm.grid.maps
    from swarm.config import ConfigError

    monkeypatch.setattr(swarm.grid.maps, "MAX_FILE_BYTES", 16)
    (tmp_path / "m.map").write_text(SMALL)
    with pytest.raises(ConfigError, match=r"m.map: larger than 16 bytes, the most an input file"):
        load_map(tmp_path / "m.map")
    if Path("/dev/zero").exists():  # no size to check beforehand: the read itself stops
        with pytest.raises(ConfigError, match=r"/dev/zero: larger than 16 bytes"):
            load_map("/dev/zero")
