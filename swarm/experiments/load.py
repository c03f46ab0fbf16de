"""Loading a spec: read the TOML, apply ``--set`` overrides, validate it."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from swarm.config import ConfigError
from swarm.experiments.errors import _problem_lines, _raise
from swarm.experiments.schema import ExperimentSpec, _flatten


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML value (``3``, ``inf``, ``[1, 2]``, ``{a = 1}``), else a string."""
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(table: dict[str, Any], path: str, value: Any, where: str = "--set") -> None:
    """``table[a][b] = value`` for ``path = "a.b"``, creating tables on the way."""
    parts = path.split(".")
    if not all(parts):
        raise ConfigError(f"{where} {path}: empty part in dotted key")
    for i, part in enumerate(parts[:-1]):
        nxt = table.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{where} {path}: {'.'.join(parts[: i + 1])} is not a table")
        table = nxt
    table[parts[-1]] = value


def _nest_grid(data: dict[str, Any]) -> None:
    """Quoted dotted grid keys ("a.b" = [...]) -> nested tables, so --set paths find them."""
    sweep = data.get("sweep")
    if isinstance(sweep, dict) and isinstance(sweep.get("grid"), dict):
        nested: dict[str, Any] = {}
        for path, values in _flatten(sweep["grid"]).items():
            set_path(nested, path, values, "spec.sweep.grid")
        sweep["grid"] = nested


def apply_sets(data: dict[str, Any], sets: dict[str, Any] | list[str] | None) -> dict[str, Any]:
    """A copy of the raw spec with ``--set`` overrides (dotted keys) applied."""
    data = copy.deepcopy(data)
    _nest_grid(data)
    if isinstance(sets, list):
        pairs: dict[str, Any] = {}
        for pair in sets:
            key, eq, raw = pair.partition("=")
            if not eq or not key.strip():
                raise ConfigError(f"--set: expected key=value, got {pair!r}")
            pairs[key.strip()] = parse_value(raw.strip())
        sets = pairs
    for path, value in (sets or {}).items():
        if path.startswith("sweep.grid.") and isinstance(value, list | tuple):
            value = list(value)
        set_path(data, path, value)
    return data


def parse_spec(data: dict[str, Any], where: str = "spec") -> ExperimentSpec:
    """Validate a raw spec (TOML tables) into an :class:`ExperimentSpec`."""
    try:
        return ExperimentSpec(**data)
    except ValidationError as err:
        _raise(_problem_lines(err, ExperimentSpec, where))
        raise  # unreachable: _raise always raises for a non-empty error list


def load_spec(path: str | Path, sets: dict[str, Any] | list[str] | None = None) -> ExperimentSpec:
    """Read a TOML spec, apply ``--set`` overrides, validate it (not yet the scenario)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        raise ConfigError(f"spec: no such file {str(path)!r}") from None
    except IsADirectoryError:
        raise ConfigError(f"spec {path}: is a folder, not a TOML file") from None
    except OSError as err:
        raise ConfigError(f"spec {path}: cannot be read ({err.strerror})") from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"spec {path}: not UTF-8 text (byte {err.start}); not a TOML spec"
        ) from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"spec {path}: not valid TOML: {err}") from None
    data.setdefault("name", path.stem)
    return parse_spec(apply_sets(data, sets))
