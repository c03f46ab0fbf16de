"""The one registry matches the files on disk, both ways.

Every scenario module in ``envs/`` (other than PettingZoo wrappers ``*_v0.py``) is
registered under its own name and points to a Mesa model in that module (a ``SwarmModel`` for
the drone engine, the grid world's model for the warehouse); every controller module in
``policies/`` is registered and points to a ``Policy`` (drones) or ``GridPolicy`` (robots);
every registered scenario has its PettingZoo module ``envs/<name>_v0.py``.
"""

import importlib
from pathlib import Path

import mesa
import pytest

from swarm.grid.policy import GridPolicy
from swarm.model import SwarmModel
from swarm.policy import Policy
from swarm.registry import POLICIES, SCENARIOS, policy_class, scenario_class

ROOT = Path(__file__).resolve().parents[1]


def modules(folder: str) -> set[str]:
    return {p.stem for p in (ROOT / folder).glob("*.py") if p.stem != "__init__"}


SCENARIO_MODULES = {m for m in modules("envs") if not m.endswith("_v0")}
WRAPPER_MODULES = {m for m in modules("envs") if m.endswith("_v0")}


def test_every_scenario_module_is_registered_and_every_entry_has_its_module():
    assert set(SCENARIOS) == SCENARIO_MODULES


def test_every_policy_module_is_registered_and_every_entry_has_its_module():
    assert set(POLICIES) == modules("policies")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_entry_points_to_a_model_of_its_own_module(name):
    assert SCENARIOS[name].partition(":")[0] == f"envs.{name}"
    model = scenario_class(name)
    assert issubclass(model, mesa.Model) and model.name == name
    assert hasattr(model, "config_class")  # the typed config the CLI builds options from
    if issubclass(model, SwarmModel):
        assert model.scenario_class.name == name


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_policy_entry_points_to_a_policy_of_its_own_module(name):
    assert POLICIES[name].partition(":")[0] == f"policies.{name}"
    policy = policy_class(name)
    assert issubclass(policy, Policy | GridPolicy) and policy.name == name


def test_every_scenario_has_its_pettingzoo_module_and_no_wrapper_is_orphaned():
    assert WRAPPER_MODULES == {f"{name}_v0" for name in SCENARIOS}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_pettingzoo_module_follows_the_convention(name):
    mod = importlib.import_module(f"envs.{name}_v0")
    for attr in ("parallel_env", "env", "raw_env", "metadata"):
        assert hasattr(mod, attr), f"envs/{name}_v0.py lacks {attr}"
    assert mod.metadata["name"] == f"{name}_v0"
    assert mod.__doc__ and f"{name}_v0" in mod.__doc__  # its docstring is its doc page
