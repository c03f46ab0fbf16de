"""Pydantic validation errors as one line per problem, naming where in the spec it is."""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from swarm.config import ConfigError


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``PlotSpec`` in ``list[PlotSpec]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _model_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that owns the last element of an error location."""
    current: type[BaseModel] | None = cls
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):  # a list index: stay on the item model
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = _submodel(field.annotation)
    return current


def _problem_lines(err: ValidationError, cls: type[BaseModel], where: str) -> list[str]:
    """Pydantic errors as ``where.path: what is wrong (got ...)``, one line each."""
    lines = []
    for problem in err.errors():
        loc = tuple(problem["loc"])
        path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
        kind = problem["type"]
        if kind == "extra_forbidden":
            owner = _model_at(cls, loc[:-1])
            allowed = ", ".join(sorted(owner.model_fields)) if owner else "?"
            lines.append(f"{path}: unknown field; allowed: {allowed}")
        elif kind == "missing":
            lines.append(f"{path}: required field is missing")
        else:
            msg = problem["msg"].removeprefix("Value error, ")
            lines.append(f"{path}: {msg} (got {problem.get('input')!r})")
    return lines


def _raise(lines: list[str]) -> None:
    if lines:
        raise ConfigError("\n".join(dict.fromkeys(lines)))  # each distinct problem once
