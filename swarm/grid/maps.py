"""Grid maps, start files, task files and problem instances: the League of Robot Runners' and
MovingAI's one-shot scenarios.

Formats (League of Robot Runners 2023 start kit; the map format is the MAPF benchmark's
"octile" format, Sturtevant 2012, "Benchmarks for grid-based pathfinding", IEEE TCIAIG):

* ``*.map``: ``type octile``, ``height H``, ``width W``, ``map``, then H rows of W characters.
  The League writes ``@`` obstacle, ``.`` free, ``E`` emitter (delivery point) and ``S``
  service point (pick-up point), E and S traversable. MovingAI's glyphs are accepted too:
  ``G`` passable terrain (free), ``O`` out of bounds and ``T`` trees (obstacles), ``W`` water
  (an obstacle here: MovingAI lets water be crossed only by what is already in it, never from
  terrain, and ground robots start on terrain) and ``S`` swamp, which is passable from
  terrain, hence read as the League's traversable service point (the two meanings of ``S``
  agree on what matters to a robot: it may drive there). :meth:`GridMap.to_text` writes the
  canonical glyphs ``@ . E S``, so a MovingAI map read and written loses only the names.
* ``*.agents``: first line n, then n start cells, each linearised as ``row * W + col``.
* ``*.tasks``: first line m, then m task cells (same linearisation).
* ``*.json``: one instance: ``mapFile``, ``agentFile``, ``teamSize``, ``taskFile``,
  ``numTasksReveal``, ``taskAssignmentStrategy``; file names are relative to the json.
* ``*.json`` for lifelong benchmarks (this project's extension; a League file has none of
  these keys and loads exactly as before): start zones, goal zones and per-robot goal
  sequences, which lifelong MAPF papers describe but League files cannot say. Cells are
  ``[row, col]`` pairs, 0-based, row = y (as in the map text, independent of the width); a
  zone is a rectangle ``{"rows": [r0, r1], "cols": [c0, c1]}``, bounds inclusive::

      {"mapFile": "maps/open.map", "teamSize": 3,
       "startZones": [{"rows": [0, 1], "cols": [0, 7]}],
       "goalSequences": [[[7, 0], [7, 7]], [[5, 5]], [[4, 0], [0, 4], [4, 4]]]}

  - ``startZones`` (instead of ``agentFile``): a non-empty list of zones; ``teamSize``
    distinct start cells are drawn uniformly from the free cells of their union.
  - ``goalZones`` (instead of ``taskFile``): a non-empty list of zones; the task list is
    ``n_tasks`` cells drawn uniformly (with repetition) from the free cells of their union,
    then handed out round robin like a League task file (so a robot's goals are i.i.d.
    uniform over the zones and the League's free-flow bound holds).
  - ``goalSequences`` (instead of ``taskFile``): one non-empty list of ``[row, col]`` goals
    per robot, ``teamSize`` lists in agent order; robot k's c-th task is its list's c-th
    goal, revealed when it reaches the (c-1)-th; after the last, the run's ``wrap`` cycles
    (back to the first) or stops (no task). Goals need not be distinct.
  - ``numTasksReveal`` and ``taskAssignmentStrategy`` may be left out (1, ``roundrobin``).

  Draws use the generator given to :func:`load_instance` (the run's seed): starts first,
  then goals, so a seed fixes both and another seed moves them. A zone that leaves the map,
  holds no free cell, start zones with fewer free cells than robots, a goal outside the map
  or on an obstacle, a wrong number of sequences or an empty one: one
  :class:`MapFormatError` naming the json, the line of the key and the key (e.g.
  ``goalSequences[2][0]``).
* ``*.scen``: a MovingAI scenario (movingai.com/benchmarks/formats.html): ``version 1``, then
  one problem per line, 9 fields separated by tabs (or, in a file without tabs, by blanks):
  bucket, map file, map width, map height, start x, start y, goal x, goal y, optimal length.
  (0, 0) is the upper-left corner, x the column and y the row, so the cell is ``y * W + x``.
  The MAPF benchmark (Stern et al. 2019, "Multi-Agent Pathfinding: Definitions, Variants, and
  Benchmarks", SoCS) reads the first k lines as a one-shot problem of k agents, each with its
  own goal: :func:`load_scen`.

Files are read as UTF-8; a leading byte-order mark (which some Windows editors write) is
accepted and skipped, since it carries no content and refusing it would only puzzle. A
malformed file raises :class:`MapFormatError` naming the file, the line and the column; a
missing, unreadable or oversized one a :class:`~swarm.config.ConfigError` naming the file.
Both are ``ConfigError`` lines, so the CLI reports either as one line (exit code 2). Header
sizes are bounded (:data:`MAX_CELLS`) and the memory a map needs is checked
(:func:`swarm.resources.check_memory`) before anything the size of the map is allocated.
The map is held as arrays (the source of truth): ``kind`` (H, W) uint8 codes, from which the
free mask and the compact "free index" graph used by distance fields are derived.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import numpy as np

from swarm.config import ConfigError
from swarm.resources import check_memory

# cell kinds (uint8 codes of GridMap.kind)
OBSTACLE = 0
FREE = 1
EMITTER = 2  # 'E': delivery point
SERVICE = 3  # 'S': pick-up point
# every glyph a map may hold: the League's, then MovingAI's (see the module docstring for why
# W is an obstacle and S, MovingAI's swamp, the League's traversable service point)
CHAR_TO_KIND = {
    "@": OBSTACLE,
    "T": OBSTACLE,
    ".": FREE,
    "E": EMITTER,
    "S": SERVICE,
    "G": FREE,
    "O": OBSTACLE,
    "W": OBSTACLE,
}
# the canonical glyph of each kind, which to_text writes
KIND_TO_CHAR = {OBSTACLE: "@", FREE: ".", EMITTER: "E", SERVICE: "S"}

# moves, in the order of the action codes 1..4 (0 is wait): north, east, south, west
MOVE_DROW = np.array([0, -1, 0, 1, 0], dtype=np.int64)  # action code -> row change
MOVE_DCOL = np.array([0, 0, 1, 0, -1], dtype=np.int64)  # action code -> column change
ACTION_NAMES = ("wait", "north", "east", "south", "west")

# Largest map a header may announce: 100 million cells, far beyond every League map (the
# largest, sortation_large, is 140 x 500) and the MAPF benchmark's; it keeps free-cell indices
# well inside int32 and refuses absurd headers even on a machine whose memory would fit them.
MAX_CELLS = 100_000_000
# Bytes per cell of a GridMap with its derived arrays, all cells free (the worst case): kind
# and free (1 + 1), free_cells (8), free_id (4), neighbors (5 x 4) and the int64 temporaries
# that building ``neighbors`` holds at its peak (about 48).
GRID_BYTES_PER_CELL = 82
# Reading a text file holds the bytes, the decoded str and its lines at once: about 3x its size.
READ_FACTOR = 3
# Largest input file read: 1 GiB, ten times the text of a MAX_CELLS map. Also the most read
# from a pipe or device, whose size is unknown beforehand (``--map /dev/zero`` must end).
MAX_FILE_BYTES = 1 << 30


class MapFormatError(ConfigError):
    """A map, agents, tasks or instance file is malformed; the message names file:line:col.

    A :class:`~swarm.config.ConfigError` (hence a ``ValueError``): a bad input file is a bad
    setting, reported by the CLI as one line, never as a traceback.
    """

    def __init__(self, path: str | Path, line: int, col: int, problem: str):
        self.path, self.line, self.col, self.problem = str(path), line, col, problem
        super().__init__(f"{path}:{line}:{col}: {problem}")

    def __reduce__(self) -> tuple:  # picklable (worker processes send errors back)
        return (type(self), (self.path, self.line, self.col, self.problem))


@dataclass(eq=False)
class GridMap:
    """A static 4-connected grid. ``kind`` is the source of truth; the rest is derived."""

    kind: np.ndarray  # (H, W) uint8: OBSTACLE / FREE / EMITTER / SERVICE
    name: str = "map"

    def __post_init__(self) -> None:
        self.kind = np.ascontiguousarray(self.kind, dtype=np.uint8)
        if self.kind.ndim != 2 or min(self.kind.shape) < 1:
            raise ValueError(f"map {self.name}: kind must be a non-empty (H, W) array")

    @property
    def height(self) -> int:
        return self.kind.shape[0]

    @property
    def width(self) -> int:
        return self.kind.shape[1]

    @property
    def n_cells(self) -> int:
        return self.kind.size

    @cached_property
    def free(self) -> np.ndarray:
        """(H, W) bool, traversable cells."""
        return self.kind != OBSTACLE

    @cached_property
    def free_cells(self) -> np.ndarray:
        """(F,) int64 linear indices of the traversable cells, ascending."""
        return np.flatnonzero(self.free.ravel())

    @cached_property
    def free_id(self) -> np.ndarray:
        """(H * W,) int32: cell -> its index among free cells, -1 for obstacles."""
        out = np.full(self.n_cells, -1, np.int32)
        out[self.free_cells] = np.arange(len(self.free_cells), dtype=np.int32)
        return out

    @cached_property
    def free_rowcol(self) -> tuple[np.ndarray, np.ndarray]:
        """(F,) int64 row and (F,) int64 column of each free cell: read by per-step kernels,
        which would otherwise divide every free cell by the width each step."""
        rows, cols = np.divmod(self.free_cells.astype(np.int64), self.width)
        rows.flags.writeable = False
        cols.flags.writeable = False
        return rows, cols

    @cached_property
    def neighbors(self) -> np.ndarray:
        """(F, 5) int32 free index reached by each action code (0 wait .. 4 west); -1 blocked."""
        rows, cols = self.free_rowcol
        out = np.empty((len(rows), 5), np.int32)
        for code in range(5):
            r = rows + MOVE_DROW[code]
            c = cols + MOVE_DCOL[code]
            inside = (r >= 0) & (r < self.height) & (c >= 0) & (c < self.width)
            lin = np.where(inside, r * self.width + c, 0)
            out[:, code] = np.where(inside, self.free_id[lin], -1)
        return out

    def cells_of(self, kind: int) -> np.ndarray:
        """(K,) linear indices of the cells of one kind."""
        return np.flatnonzero(self.kind.ravel() == kind)

    def alone(self, obs: Any, row: int) -> GridMap:
        """The map as one robot alone holds it (the locality audit): a handle of its own on
        read-only views of the same arrays, so nothing one robot writes reaches another
        and no copy of a large map is made per robot."""
        twin = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                view = value.view()
                view.flags.writeable = False
                setattr(twin, name, view)
        return twin

    def rowcol(self, cells: np.ndarray) -> np.ndarray:
        """(..., 2) (row, col) of linear cell indices."""
        r, c = np.divmod(np.asarray(cells, dtype=np.int64), self.width)
        return np.stack([r, c], axis=-1)

    def to_text(self) -> str:
        """The map in the octile format, canonical glyphs (``@ . E S``)."""
        lut = np.array([KIND_TO_CHAR[k] for k in range(4)])
        rows = ["".join(r) for r in lut[self.kind]]
        header = f"type octile\nheight {self.height}\nwidth {self.width}\nmap\n"
        return header + "\n".join(rows) + "\n"


def parse_map(text: str, path: str | Path = "<string>") -> GridMap:
    """Parse an octile map; errors name ``path:line:col``. The size the header announces is
    bounded and its memory checked before the map is allocated (a typo must not ask numpy
    for terabytes)."""
    lines = text.removeprefix("\ufeff").splitlines()
    expect = [("type", None), ("height", int), ("width", int), ("map", None)]
    values: dict[str, int] = {}
    for i, (key, conv) in enumerate(expect):
        if i >= len(lines):
            raise MapFormatError(path, i + 1, 1, f"missing header line '{key}'")
        parts = lines[i].split()
        if not parts or parts[0] != key:
            found = lines[i].strip()[:30]
            raise MapFormatError(path, i + 1, 1, f"expected '{key}', found {found!r}")
        if key == "type" and (len(parts) != 2 or parts[1] != "octile"):
            raise MapFormatError(path, i + 1, 6, "only 'type octile' maps are supported")
        if conv is not None:
            col = len(key) + 2
            if len(parts) != 2:
                raise MapFormatError(path, i + 1, col, f"expected '{key} <positive integer>'")
            try:
                values[key] = int(parts[1])
            except ValueError:
                raise MapFormatError(path, i + 1, col, f"{key} must be an integer") from None
            if values[key] <= 0:
                raise MapFormatError(path, i + 1, col, f"{key} must be > 0")
    height, width = values["height"], values["width"]
    if height * width > MAX_CELLS:
        raise MapFormatError(
            path, 3, 7, f"a {height}x{width} map has {height * width:,} cells; "
            f"at most {MAX_CELLS:,} are supported"
        )  # fmt: skip
    check_memory(GRID_BYTES_PER_CELL * height * width, str(path), f"a {height}x{width} map")
    body = lines[4 : 4 + height]
    if len(body) < height:
        raise MapFormatError(
            path, 4 + len(body) + 1, 1, f"expected {height} map rows, found {len(body)}"
        )
    kind = np.empty((height, width), np.uint8)
    for r, row in enumerate(body):
        line_no = 5 + r
        if len(row) != width:
            col = min(len(row), width) + 1
            raise MapFormatError(
                path, line_no, col, f"row has {len(row)} characters, expected width {width}"
            )
        for c, ch in enumerate(row):
            code = CHAR_TO_KIND.get(ch)
            if code is None:
                allowed = " ".join(repr(k) for k in CHAR_TO_KIND)
                raise MapFormatError(
                    path, line_no, c + 1, f"unknown map character {ch!r}; allowed: {allowed}"
                )
            kind[r, c] = code
    for extra, row in enumerate(lines[4 + height :]):
        if row.strip():
            raise MapFormatError(path, 5 + height + extra, 1, "text after the last map row")
    return GridMap(kind, name=Path(str(path)).stem)


def load_map(path: str | Path) -> GridMap:
    path = Path(path)
    return parse_map(_read(path), path)


def write_map(grid: GridMap, path: str | Path) -> None:
    Path(path).write_text(grid.to_text())


def parse_cells(text: str, path: str | Path, grid: GridMap | None, what: str) -> np.ndarray:
    """A count line then one linearised cell per line; checked against ``grid`` if given."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or not lines[0].strip():
        raise MapFormatError(path, 1, 1, f"expected the number of {what} on the first line")
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise MapFormatError(path, 1, 1, f"the number of {what} must be an integer") from None
    if count < 0:
        raise MapFormatError(path, 1, 1, f"the number of {what} must be >= 0")
    body = lines[1:]
    if sum(1 for b in body if b.strip()) < count:
        raise MapFormatError(path, len(lines) + 1, 1, f"expected {count} {what}")
    cells = np.empty(count, np.int64)  # only now: the count is bounded by the lines present
    k = 0
    for i, raw in enumerate(body):
        if k == count:
            if raw.strip():
                raise MapFormatError(path, i + 2, 1, f"more than the {count} {what} announced")
            continue
        s = raw.strip()
        if not s:
            continue
        col = raw.index(s[0]) + 1
        try:
            cell = int(s.split(",")[0])
        except ValueError:
            raise MapFormatError(path, i + 2, col, f"{s[:20]!r} is not a cell index") from None
        if grid is not None:
            if not 0 <= cell < grid.n_cells:
                raise MapFormatError(
                    path, i + 2, col, f"cell {cell} is outside the {grid.height}x{grid.width} map"
                )
            if not grid.free.ravel()[cell]:
                r, c = divmod(cell, grid.width)
                raise MapFormatError(
                    path, i + 2, col, f"cell {cell} (row {r}, col {c}) is an obstacle"
                )
        cells[k] = cell
        k += 1
    return cells


def write_cells(cells: np.ndarray, path: str | Path) -> None:
    cells = np.asarray(cells, dtype=np.int64)
    Path(path).write_text(f"{len(cells)}\n" + "".join(f"{c}\n" for c in cells.tolist()))


@dataclass(eq=False)
class Instance:
    """A League problem: map, start cells, task cells and how tasks are handed out; or, with
    ``one_shot``, a MAPF problem (:func:`load_scen`): ``tasks[k]`` is robot k's only goal."""

    grid: GridMap
    starts: np.ndarray  # (n,) int64 linear start cells
    tasks: np.ndarray  # (m,) int64 linear task cells
    num_tasks_reveal: int = 1
    assignment: str = "roundrobin"
    name: str = "instance"
    files: dict[str, str] = field(default_factory=dict)
    one_shot: bool = False  # each robot has one goal (tasks[k]), reached once, then no task
    # per-robot goal sequences (``goalSequences``) as CSR: robot k's goals are
    # tasks[offsets[k]:offsets[k + 1]] in order; None: tasks is one round-robin list
    offsets: np.ndarray | None = None

    @property
    def n_agents(self) -> int:
        return len(self.starts)

    def first(self, n: int) -> Instance:
        """The same problem for its first ``n`` robots (``n_agents`` smaller than the team):
        their starts and, with goal sequences, their sequences; a shared list is kept."""
        if not 1 <= n <= self.n_agents:
            raise ValueError(f"n must be in 1..{self.n_agents} (got {n})")
        tasks, offsets = self.tasks, self.offsets
        if offsets is not None:
            offsets = offsets[: n + 1]
            tasks = tasks[: offsets[-1]]
        return dataclasses.replace(self, starts=self.starts[:n], tasks=tasks, offsets=offsets)


INSTANCE_KEYS = {
    "mapFile": str,
    "agentFile": str,
    "teamSize": int,
    "taskFile": str,
    "numTasksReveal": int,
    "taskAssignmentStrategy": str,
}
# the lifelong extension's keys (module docstring), each replacing a League key
START_KEYS = ("startZones",)  # instead of agentFile
TASK_KEYS = ("goalZones", "goalSequences")  # instead of taskFile
EXTENSION_KEYS = (*START_KEYS, *TASK_KEYS)
# tasks drawn from goalZones when the caller does not say (the warehouse's n_tasks default)
ZONE_TASKS = 10_000
# bytes per goal drawn from goalZones while the list is built (the draw and its copy)
BYTES_PER_ZONE_TASK = 24


def load_instance(
    path: str | Path,
    rng: np.random.Generator | int | None = None,
    n_tasks: int = ZONE_TASKS,
) -> Instance:
    """Load an instance json and the files it names (paths relative to the json).

    ``startZones`` and ``goalZones`` (module docstring) are drawn with ``rng`` (a generator
    or a seed; None: seed 0, so a bare load is reproducible); ``n_tasks`` goals are drawn
    from goal zones. A League file draws nothing and ignores both.
    """
    path = Path(path)
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise MapFormatError(path, err.lineno, err.colno, f"invalid json: {err.msg}") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise MapFormatError(path, 1, 1, f"invalid json: {err}") from None
    except RecursionError:
        raise MapFormatError(path, 1, 1, "invalid json: nested too deeply") from None
    if not isinstance(data, dict):
        raise MapFormatError(path, 1, 1, "expected a json object")
    extended = any(k in data for k in EXTENSION_KEYS)
    instead = {"agentFile": START_KEYS, "taskFile": TASK_KEYS}
    for key, typ in INSTANCE_KEYS.items():
        if key not in data:
            if any(k in data for k in instead.get(key, ())):
                continue
            if extended and key in ("numTasksReveal", "taskAssignmentStrategy"):
                continue
            also = "".join(f" (or '{k}')" for k in instead.get(key, ()))
            raise MapFormatError(path, 1, 1, f"missing key '{key}'{also}")
        if not isinstance(data[key], typ) or isinstance(data[key], bool):
            raise MapFormatError(path, 1, 1, f"'{key}' must be a {typ.__name__}")
    if data.get("taskAssignmentStrategy", "roundrobin") != "roundrobin":
        raise MapFormatError(
            path, 1, 1, "taskAssignmentStrategy: only 'roundrobin' (the 2023 rules) is supported"
        )
    if data.get("numTasksReveal", 1) != 1:
        raise MapFormatError(path, 1, 1, "numTasksReveal: only 1 (the 2023 rules) is supported")

    def fail(key: str, problem: str) -> NoReturn:
        """One line naming the json, the line of the key's name and the key."""
        line, col = _key_at(text, key.partition("[")[0])
        raise MapFormatError(path, line, col, f"{key}: {problem}")

    for a, b in (("agentFile", "startZones"), ("taskFile", "goalZones"),
                 ("taskFile", "goalSequences"), ("goalZones", "goalSequences")):  # fmt: skip
        if a in data and b in data:
            fail(b, f"give '{a}' or '{b}', not both")
    base = path.parent
    grid = load_map(base / data["mapFile"])
    files = {"mapFile": str(base / data["mapFile"])}
    team = data["teamSize"]
    gen = np.random.default_rng(0 if rng is None else rng)
    if "agentFile" in data:
        agent_path = base / data["agentFile"]
        files["agentFile"] = str(agent_path)
        starts = parse_cells(_read(agent_path), agent_path, grid, "agents")
        if team > len(starts) or team < 1:
            raise MapFormatError(
                path, 1, 1, f"teamSize {team} must be in 1..{len(starts)} (the agent file's count)"
            )
        starts = starts[:team]
        if len(np.unique(starts)) != len(starts):
            raise MapFormatError(agent_path, 1, 1, "two agents start on the same cell")
    else:
        cells = _zone_cells(data["startZones"], grid, "startZones", fail)
        if team > len(cells) or team < 1:
            fail("startZones", f"teamSize {team} must be in 1..{len(cells)} (the zones' free "
                 "cells: robots start on distinct cells)")  # fmt: skip
        starts = gen.choice(cells, size=team, replace=False).astype(np.int64)
    offsets = None
    if "taskFile" in data:
        task_path = base / data["taskFile"]
        files["taskFile"] = str(task_path)
        tasks = parse_cells(_read(task_path), task_path, grid, "tasks")
        if len(tasks) == 0:
            raise MapFormatError(task_path, 1, 1, "an instance needs at least one task")
    elif "goalZones" in data:
        cells = _zone_cells(data["goalZones"], grid, "goalZones", fail)
        if n_tasks < 1:
            raise ValueError(f"n_tasks must be >= 1 (got {n_tasks})")
        check_memory(
            BYTES_PER_ZONE_TASK * n_tasks, str(path), f"{n_tasks:,} goals drawn from goalZones"
        )
        tasks = gen.choice(cells, size=n_tasks).astype(np.int64)
    else:
        tasks, offsets = _goal_sequences(data["goalSequences"], grid, team, fail)
    return Instance(
        grid=grid,
        starts=starts,
        tasks=tasks,
        num_tasks_reveal=data.get("numTasksReveal", 1),
        assignment=data.get("taskAssignmentStrategy", "roundrobin"),
        name=path.stem,
        files=files,
        offsets=offsets,
    )


def _key_at(text: str, key: str) -> tuple[int, int]:
    """Line and column of ``"key"`` in the json text (1, 1 if absent), so that an error in a
    long hand-written file points at the key it concerns."""
    i = text.find(f'"{key}"')
    if i < 0:
        return 1, 1
    return text.count("\n", 0, i) + 1, i - (text.rfind("\n", 0, i) + 1) + 1


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _zone_cells(zones: Any, grid: GridMap, key: str, fail: Callable[[str, str], NoReturn]
                ) -> np.ndarray:  # fmt: skip
    """(K,) ascending linear free cells of the union of the zones under ``key``; each zone
    must lie inside the map and hold a free cell (a zone all wall is a mistake, not a
    smaller zone)."""
    form = 'a list of zones {"rows": [r0, r1], "cols": [c0, c1]} (inclusive, 0-based)'
    if not isinstance(zones, list) or not zones:
        fail(key, f"must be {form}")
    inside = np.zeros((grid.height, grid.width), bool)
    for i, zone in enumerate(zones):
        name = f"{key}[{i}]"
        if not isinstance(zone, dict) or set(zone) != {"rows", "cols"}:
            fail(name, f"must be a zone {{\"rows\": [r0, r1], \"cols\": [c0, c1]}}, found "
                 f"{json.dumps(zone)[:40]}")  # fmt: skip
        span = []
        for axis, size in (("rows", grid.height), ("cols", grid.width)):
            pair = zone[axis]
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_int, pair))):
                fail(name, f"{axis} must be [first, last] integers, found {json.dumps(pair)[:40]}")
            lo, hi = pair
            if lo > hi:
                fail(name, f"{axis} [{lo}, {hi}]: the first exceeds the last")
            if lo < 0 or hi >= size:
                fail(name, f"{axis} [{lo}, {hi}] leave the {grid.height}x{grid.width} map "
                     f"({axis} 0..{size - 1})")  # fmt: skip
            span.append(slice(lo, hi + 1))
        if not grid.free[span[0], span[1]].any():
            fail(name, f"rows {zone['rows']} cols {zone['cols']} hold no free cell (all obstacles)")
        inside[span[0], span[1]] = True
    return np.flatnonzero((inside & grid.free).ravel())


def _goal_sequences(seqs: Any, grid: GridMap, team: int, fail: Callable[[str, str], NoReturn]
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``goalSequences`` as CSR: (flat linear goal cells, (team + 1,) offsets). The form is
    checked goal by goal (a json list must be walked anyway); bounds and walls at once."""
    key = "goalSequences"
    if not isinstance(seqs, list):
        fail(key, "must be a list of goal lists, one per robot, each goal [row, col]")
    if len(seqs) != team:
        fail(key, f"has {len(seqs)} sequences, teamSize is {team} (one per robot, agent order)")
    rows: list[int] = []
    cols: list[int] = []
    lengths = np.zeros(team, np.int64)
    for k, seq in enumerate(seqs):
        if not isinstance(seq, list) or not seq:
            fail(f"{key}[{k}]", f"must be a non-empty list of [row, col] goals, found "
                 f"{json.dumps(seq)[:40]}")  # fmt: skip
        for c, goal in enumerate(seq):
            if not (isinstance(goal, list) and len(goal) == 2 and all(map(_is_int, goal))):
                fail(f"{key}[{k}][{c}]", f"must be a [row, col] pair of integers, found "
                     f"{json.dumps(goal)[:40]}")  # fmt: skip
            rows.append(goal[0])
            cols.append(goal[1])
        lengths[k] = len(seq)
    offsets = np.zeros(team + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    r, c = np.array(rows, np.int64), np.array(cols, np.int64)
    out = (r < 0) | (r >= grid.height) | (c < 0) | (c >= grid.width)
    cells = np.where(out, 0, r * grid.width + c)
    bad = out | ~grid.free.ravel()[cells]
    if bad.any():
        i = int(np.argmax(bad))
        k = int(np.searchsorted(offsets, i, side="right")) - 1
        where = f"({r[i]}, {c[i]})"
        problem = (f"{where} is outside the {grid.height}x{grid.width} map" if out[i]
                   else f"{where} is an obstacle of map {grid.name}")  # fmt: skip
        fail(f"{key}[{k}][{i - offsets[k]}]", problem)
    return cells, offsets


# the fields of a MovingAI scenario line, in order (the names errors use)
SCEN_FIELDS = (
    "bucket", "map file", "map width", "map height",
    "start x", "start y", "goal x", "goal y", "optimal length",
)  # fmt: skip


def is_scen(path: str | Path | None) -> bool:
    """Whether ``path`` names a MovingAI scenario: by its suffix, as MovingAI names them."""
    return path is not None and str(path).lower().endswith(".scen")


def load_scen(
    path: str | Path, map_path: str | Path | GridMap | None = None, n_agents: int | None = None
) -> Instance:
    """A MovingAI scenario as a one-shot MAPF problem: agent k starts at line k's start and
    has line k's goal as its only task (the MAPF benchmark's reading: ``n_agents`` agents are
    the first ``n_agents`` lines; None: every line).

    The map is ``map_path`` if given (a file, or a map already loaded), else the file the
    scenario names, looked up in the scenario's folder by the name as written, then by its
    basename (the benchmark keeps maps and scenarios in separate folders, so a scenario often
    names a path that is not there).
    Every line is checked for form, size and bounds, since a broken line is a broken file; the
    lines used must also start and end on traversable cells, and no two of them may share a
    start or a goal (one-shot MAPF needs distinct goals: two robots cannot both rest on one).
    """
    if n_agents is not None and n_agents < 1:
        raise ValueError(f"n_agents must be >= 1 (got {n_agents})")
    path = Path(path)
    lines = _read(path).splitlines()
    head = lines[0].split() if lines else []
    if head not in (["version", "1"], ["version", "1.0"]):
        found = lines[0].strip()[:30] if lines else ""
        raise MapFormatError(
            path, 1, 1, f"expected 'version 1' (MovingAI scenario), found {found!r}"
        )
    grid: GridMap | None = None
    map_name = ""
    starts: list[int] = []
    goals: list[int] = []
    start_line: dict[int, int] = {}  # cell -> the line of the agent starting there
    goal_line: dict[int, int] = {}
    count = 0
    for line_no, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        fields = _scen_fields(raw.rstrip())
        if len(fields) != len(SCEN_FIELDS):
            col = fields[len(SCEN_FIELDS)][1] if len(fields) > len(SCEN_FIELDS) else len(raw) + 1
            raise MapFormatError(
                path, line_no, col,
                f"expected 9 fields ({', '.join(SCEN_FIELDS)}), found {len(fields)}",
            )  # fmt: skip
        # every field is checked; bucket and optimal length are not used
        values = [_scen_number(path, line_no, fields, i) for i in range(len(SCEN_FIELDS))]
        if grid is None:
            map_name = fields[1][0]
            if isinstance(map_path, GridMap):
                grid = map_path
            elif map_path is not None:
                grid = load_map(map_path)
            else:
                grid = _scen_map(path, line_no, fields)
        elif fields[1][0] != map_name:
            raise MapFormatError(
                path, line_no, fields[1][1],
                f"names map {fields[1][0]!r}, the lines above {map_name!r} (one map per file)",
            )  # fmt: skip
        for i, size in ((2, grid.width), (3, grid.height)):
            if values[i] != size:
                raise MapFormatError(
                    path, line_no, fields[i][1],
                    f"{SCEN_FIELDS[i]} {values[i]} differs from the {size} of map {grid.name}",
                )  # fmt: skip
        count += 1
        used = n_agents is None or count <= n_agents
        for what, i, cells, seen in (
            ("start", 4, starts, start_line),
            ("goal", 6, goals, goal_line),
        ):
            x, y = values[i], values[i + 1]
            for j, v, size in ((i, x, grid.width), (i + 1, y, grid.height)):
                if not 0 <= v < size:
                    raise MapFormatError(
                        path, line_no, fields[j][1],
                        f"{SCEN_FIELDS[j]} {v} is outside the map (0..{size - 1})",
                    )  # fmt: skip
            if not used:
                continue
            cell = y * grid.width + x
            where = f"{what} (x {x}, y {y})"
            if not grid.free.ravel()[cell]:
                raise MapFormatError(
                    path, line_no, fields[i][1], f"{where} is an obstacle of map {grid.name}"
                )
            if cell in seen:
                raise MapFormatError(
                    path, line_no, fields[i][1],
                    f"{where} is also the {what} of the agent of line {seen[cell]}"
                    + ("; one-shot MAPF needs distinct goals" if what == "goal" else ""),
                )  # fmt: skip
            seen[cell] = line_no
            cells.append(cell)
    if grid is None:
        raise MapFormatError(path, len(lines) + 1, 1, "no problem lines after the header")
    if n_agents is not None and n_agents > count:
        raise MapFormatError(
            path, len(lines) + 1, 1,
            f"{n_agents} agents asked for (n_agents), the scenario has {count} (one per line)",
        )  # fmt: skip
    if isinstance(map_path, GridMap):
        map_file = map_path.name
    else:
        map_file = str(map_path if map_path is not None else _scen_map_file(path, map_name))
    return Instance(
        grid=grid,
        starts=np.array(starts, np.int64),
        tasks=np.array(goals, np.int64),
        name=path.stem,
        files={"scenFile": str(path), "mapFile": map_file},
        one_shot=True,
    )


def _scen_fields(raw: str) -> list[tuple[str, int]]:
    """The fields of a scenario line with their 1-based columns: split on tabs as MovingAI
    writes them (a map name may hold blanks); a line without tabs, typed by hand, on blanks."""
    if "\t" not in raw:
        return [(m.group(), m.start() + 1) for m in re.finditer(r"\S+", raw)]
    out, col = [], 1
    for part in raw.split("\t"):
        out.append((part.strip(), col + len(part) - len(part.lstrip())))
        col += len(part) + 1
    return out


def _scen_number(path: Path, line: int, fields: list[tuple[str, int]], i: int) -> Any:
    """Field ``i`` of a scenario line as its number: an integer, except the map file (kept as
    text) and the optimal length (a non-negative real: octile lengths hold sqrt 2)."""
    text, col = fields[i]
    if i == 1:
        if not text:
            raise MapFormatError(path, line, col, "the map file is empty")
        return text
    try:
        value = float(text) if i == 8 else int(text)
    except ValueError:
        kind = "a number" if i == 8 else "an integer"
        raise MapFormatError(
            path, line, col, f"{SCEN_FIELDS[i]} must be {kind}, found {text[:20]!r}"
        ) from None
    if i == 8 and not (math.isfinite(value) and value >= 0):
        raise MapFormatError(path, line, col, f"optimal length must be >= 0, found {text[:20]!r}")
    return value


def _scen_map_file(path: Path, name: str) -> Path | None:
    """The map a scenario names: in its folder, by the name as written, then the basename."""
    base = PurePosixPath(name.replace("\\", "/")).name
    for candidate in (path.parent / name, path.parent / base):
        if candidate.is_file():
            return candidate
    return None


def _scen_map(path: Path, line: int, fields: list[tuple[str, int]]) -> GridMap:
    name, col = fields[1]
    found = _scen_map_file(path, name)
    if found is None:
        raise MapFormatError(
            path, line, col,
            f"map file {name!r} not found in {path.parent} (by that name or its basename); "
            "give the map file explicitly",
        )  # fmt: skip
    return load_map(found)


def write_instance(instance: Instance, folder: str | Path, name: str | None = None) -> Path:
    """Write map, agents, tasks and the json into ``folder`` (League layout); returns the json.
    Zones are written as the cells drawn from them; goal sequences as ``goalSequences``."""
    folder = Path(folder)
    name = name or instance.name
    for sub in ("maps", "agents", "tasks"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    map_rel = f"maps/{instance.grid.name}.map"
    agent_rel = f"agents/{name}.agents"
    task_rel = f"tasks/{name}.tasks"
    write_map(instance.grid, folder / map_rel)
    write_cells(instance.starts, folder / agent_rel)
    spec: dict[str, Any] = {
        "mapFile": map_rel,
        "agentFile": agent_rel,
        "teamSize": int(instance.n_agents),
        "taskFile": task_rel,
        "numTasksReveal": instance.num_tasks_reveal,
        "taskAssignmentStrategy": instance.assignment,
    }
    if instance.offsets is None:
        write_cells(instance.tasks, folder / task_rel)
    else:  # a task file is one shared list: sequences go into the json
        del spec["taskFile"]
        goals = instance.grid.rowcol(instance.tasks).tolist()
        bounds = instance.offsets.tolist()
        spec["goalSequences"] = [goals[a:b] for a, b in itertools.pairwise(bounds)]
    out = folder / f"{name}.json"
    out.write_text(json.dumps(spec, indent=4) + "\n")
    return out


def _read(path: Path) -> str:
    """The text of ``path`` (UTF-8, a leading byte-order mark skipped), or one ConfigError line
    naming the file: missing, a folder, unreadable, too big for memory, not text."""
    try:
        folder = path.is_dir()
        size = path.stat().st_size
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:  # permissions, a name too long, a NUL in the name
        raise ConfigError(f"{path}: cannot be read ({_reason(err)})") from None
    if folder:
        raise ConfigError(f"{path}: is a folder, not a file")
    too_big = f"{path}: larger than {MAX_FILE_BYTES:,} bytes, the most an input file may hold"
    if size > MAX_FILE_BYTES:
        raise ConfigError(too_big)
    check_memory(READ_FACTOR * size, str(path), f"reading this {size:,}-byte file")
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # bounded: a pipe or device has no size
    except OSError as err:
        raise ConfigError(f"{path}: cannot be read ({_reason(err)})") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(too_big)
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        col = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise MapFormatError(path, line, col, "not a UTF-8 text file (binary data?)") from None


def _reason(err: Exception) -> str:
    return getattr(err, "strerror", None) or str(err)
