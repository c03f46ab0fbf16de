"""The experiment spec's public names, gathered from the modules that define them.

``from swarm.experiments.spec import load_spec, plan`` keeps working; the code lives in:

* :mod:`swarm.experiments.schema`: the TOML layout (documented there) as pydantic models;
* :mod:`swarm.experiments.errors`: validation errors as one line per problem;
* :mod:`swarm.experiments.load`: reading a spec, ``--set`` overrides, validation;
* :mod:`swarm.experiments.plan`: expanding sweep x seeds into validated runs;
* :mod:`swarm.experiments.plain`: specs and values as plain JSON data (``spec.json``).
"""

from swarm.experiments.load import apply_sets, load_spec, parse_spec, parse_value, set_path
from swarm.experiments.plain import from_plain, spec_from_plain, spec_to_plain, to_plain
from swarm.experiments.plan import Plan, expand_points, plan, resolve_config, run_id
from swarm.experiments.schema import (
    DERIVED_FAULTS,
    FAULT_FIELDS,
    MAX_RUNS,
    NAME,
    ExperimentSpec,
    LineSpec,
    MetricsSpec,
    PlotSpec,
    SweepSpec,
    run_count,
)

__all__ = [
    "DERIVED_FAULTS",
    "FAULT_FIELDS",
    "MAX_RUNS",
    "NAME",
    "ExperimentSpec",
    "LineSpec",
    "MetricsSpec",
    "Plan",
    "PlotSpec",
    "SweepSpec",
    "apply_sets",
    "expand_points",
    "from_plain",
    "load_spec",
    "parse_spec",
    "parse_value",
    "plan",
    "resolve_config",
    "run_count",
    "run_id",
    "set_path",
    "spec_from_plain",
    "spec_to_plain",
    "to_plain",
]
