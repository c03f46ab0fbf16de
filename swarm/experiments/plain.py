"""Plain JSON data: specs and values as stored in the results folder (``spec.json``)."""

from __future__ import annotations

import math
from typing import Any

from swarm.experiments.load import parse_spec
from swarm.experiments.schema import ExperimentSpec


def to_plain(value: Any) -> Any:
    """JSON-safe copy: non-finite floats become the strings "inf", "-inf", "nan"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    return value


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain` (the strings "inf", "-inf", "nan" become floats)."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, dict):
        return {k: from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value


def spec_to_plain(spec: ExperimentSpec) -> dict[str, Any]:
    """The resolved spec as JSON-safe data (what ``spec.json`` holds)."""
    return to_plain(spec.model_dump(mode="python"))


def spec_from_plain(data: dict[str, Any]) -> ExperimentSpec:
    return parse_spec(from_plain(data), "spec.json")
