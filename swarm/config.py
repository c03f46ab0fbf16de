"""Typed, validated configuration.

Every scenario's configuration is a pydantic model deriving from :class:`StrictConfig`:
unknown keys, wrong types and out-of-range values fail at the boundary with one message
that names the field and what is allowed, instead of a numpy traceback from deep inside.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type, or out of range.

    The message is a single human-readable line per problem, naming the field.
    """


class StrictConfig(BaseModel):
    """Base for every configuration: unknown keys are errors, assignments are validated."""

    # Numbers must be finite: an infinite world size or time step only fails later, deep
    # inside numpy. A field where inf is a meaningful setting says so with
    # ``Field(allow_inf_nan=True)`` (max_accel = inf: kinematic drones). JSON has no inf, so
    # it is written as the string "Infinity", which reads back as inf.
    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        frozen=False,
        ser_json_inf_nan="strings",
        allow_inf_nan=False,
    )

    @classmethod
    def build(cls, where: str = "config", **values: Any) -> StrictConfig:
        """Validate ``values`` into a config, raising :class:`ConfigError` on any problem."""
        try:
            return cls(**values)
        except ValidationError as err:
            raise ConfigError(describe_validation_error(err, cls, where)) from None

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Field name -> its documentation, for CLIs and docs."""
        return {name: (f.description or "") for name, f in cls.model_fields.items()}


def describe_validation_error(err: ValidationError, cls: type[BaseModel], where: str) -> str:
    """Turn pydantic's error list into lines like ``flocking: n_agents: must be > 0 (got -3)``."""
    lines = []
    for problem in err.errors():
        loc = ".".join(str(part) for part in problem["loc"]) or "(root)"
        kind = problem["type"]
        if kind == "extra_forbidden":
            allowed = ", ".join(sorted(cls.model_fields))
            lines.append(f"{where}: unknown field '{loc}'; allowed fields: {allowed}")
            continue
        msg = problem["msg"].removeprefix("Value error, ")
        if loc == "(root)":  # a check across fields names them itself
            lines.append(f"{where}: {msg}")
            continue
        got = problem.get("input")
        lines.append(f"{where}: field '{loc}': {msg} (got {got!r})")
    return "\n".join(lines)


class NumericalError(ConfigError):
    """The simulated state left the floating-point range (a step, speed or arena so large
    that positions overflow): valid values one by one, impossible together. Reported like a
    bad value, in one line, since changing the configuration is the fix."""
