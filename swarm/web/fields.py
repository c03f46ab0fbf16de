"""A scenario's typed config as Mesa input specs, and each edit checked against it.

:func:`input_specs` writes one entry per config field in the format of SolaraViz's
``model_params`` (a :class:`mesa.visualization.Slider`, or a dict with ``type``
``InputText`` / ``Select`` / ``Checkbox``), so the same specs work in Mesa's own inputs.
The page draws them itself (:func:`swarm.web.components.ConfigForm`) because Mesa's inputs
pass any value on unchecked: here an edit is validated by the config's pydantic model
first (:func:`check_edit`) and a bad one is shown next to its field instead of reaching
the model.
"""

from __future__ import annotations

import json
import math
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from swarm.registry import policies_for, scenario_class

# a bounded number is a slider when its range is short enough to pick from by dragging
SLIDER_MAX_STEPS = 100


def input_specs(scenario: str, config: BaseModel) -> dict[str, Any]:
    """Field name -> Mesa user-param spec holding ``config``'s current value, in the
    config's own field order. Fields without a text form (a networkx graph given from
    code) are left out: they can only be set from code."""
    from mesa.visualization import Slider

    cls = type(config)
    teams = getattr(scenario_class(scenario), "team_policy_fields", {})
    policy_fields = {"policy", *teams.values()}
    specs: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        value = getattr(config, name)
        text = value_text(value)
        if text is None:
            continue
        help_text = info.description or ""
        common = {"label": name, "description": help_text}
        choices = _literal_choices(info.annotation)
        low, high = _bounds(info.metadata)
        if name in policy_fields and isinstance(value, str):
            names = policies_for(scenario)
            values = names if value in names else [value, *names]
            specs[name] = {"type": "Select", "value": value, "values": values, **common}
        elif isinstance(value, bool):
            specs[name] = {"type": "Checkbox", "value": value, **common}
        elif choices and value in choices:
            specs[name] = {"type": "Select", "value": value, "values": choices, **common}
        elif _slider_range(info.annotation, value, low, high):
            is_int = info.annotation is int
            step = 1 if is_int else round((high - low) / SLIDER_MAX_STEPS, 12)
            specs[name] = Slider(name, value, low, high, step, dtype=int if is_int else float)
        else:
            specs[name] = {"type": "InputText", "value": text, **common}
    return specs


def value_text(value: Any) -> str | None:
    """How a field's value is written in a text input (None: it has no text form)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return None


def parse_text(text: str) -> Any:
    """A text input's value: JSON when it parses (numbers, true, null, lists, {...},
    Infinity), an empty box is None, anything else the string itself."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def check_edit(
    config_class: type[BaseModel], config: dict[str, Any], name: str, raw: Any
) -> tuple[Any, str | None]:
    """(value, None) when setting field ``name`` to the input's ``raw`` value keeps
    ``config`` (the fields set so far) valid, else (raw, the pydantic message). Text is
    read as JSON first and as the plain string when only that is valid ("boids")."""
    candidates = [parse_text(raw), raw] if isinstance(raw, str) else [raw]
    first_error: str | None = None
    for value in candidates:
        error = field_error(config_class, {**config, name: value}, name)
        if error is None:
            return value, None
        first_error = first_error or error
    return raw, first_error


def field_error(config_class: type[BaseModel], values: dict[str, Any], name: str) -> str | None:
    """Pydantic's message(s) for ``values``, those about field ``name`` first (None when
    they validate)."""
    try:
        config_class(**values)
    except ValidationError as err:
        problems = err.errors()
        mine = [p for p in problems if p["loc"][:1] == (name,)] or problems
        return "; ".join(_message(p) for p in mine)
    return None


def _message(problem: Any) -> str:
    msg = str(problem["msg"]).removeprefix("Value error, ")
    where = ".".join(str(part) for part in problem["loc"][1:])
    return f"{where}: {msg}" if where else msg


def _literal_choices(annotation: Any) -> list[Any]:
    """The allowed values of a ``Literal[...]`` field (also inside ``X | None``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return list(typing.get_args(annotation))
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _literal_choices(args[0])
    return []


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    """(low, high) of a field's ``ge``/``gt`` and ``le``/``lt`` constraints."""
    low = high = None
    for item in metadata:
        for attr in ("ge", "gt"):
            if getattr(item, attr, None) is not None:
                low = float(getattr(item, attr))
        for attr in ("le", "lt"):
            if getattr(item, attr, None) is not None:
                high = float(getattr(item, attr))
    return low, high


def _slider_range(annotation: Any, value: Any, low: float | None, high: float | None) -> bool:
    """A slider fits: an int or float field bounded on both sides, with a short range
    (a fraction, a small count), holding a value inside it."""
    if annotation not in (int, float) or low is None or high is None:
        return False
    if not isinstance(value, int | float) or not math.isfinite(float(value)):
        return False
    span = high - low
    short = span <= SLIDER_MAX_STEPS if annotation is int else span <= 1.0
    return short and low <= float(value) <= high
