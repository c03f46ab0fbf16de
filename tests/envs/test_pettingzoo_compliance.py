"""PettingZoo's own conformance checks, run over every registered scenario's ``<name>_v0`` env.

The list of envs comes from the registry, so a new scenario is checked the moment it is
registered (and ``tests/test_registry.py`` makes sure it has its ``_v0`` module).
"""

import importlib
import os
import warnings

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render_test opens a "human" window

from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
    state_test,
)

from swarm.registry import SCENARIOS

SMALL = dict(n_agents=4, max_cycles=12)  # few drones, short episodes: seconds for the lot
ENV_MODULES = sorted(SCENARIOS)


def env_module(name: str):
    return importlib.import_module(f"envs.{name}_v0")


@pytest.fixture(params=ENV_MODULES)
def mod(request):
    return env_module(request.param)


@pytest.fixture(autouse=True)
def pettingzoo_warnings_are_errors():
    """The checks report many problems only as warnings; here they fail the test (the
    old-API deprecation notice pettingzoo emits on import of its test helpers aside)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        yield


def test_api(mod):
    api_test(mod.env(**SMALL), num_cycles=15)


def test_api_discrete_actions(mod):
    api_test(mod.env(continuous_actions=False, **SMALL), num_cycles=15)


def test_parallel_api(mod):
    parallel_api_test(mod.parallel_env(**SMALL), num_cycles=15)


def test_seed(mod):
    seed_test(lambda: mod.env(**SMALL), num_cycles=15)


def test_parallel_seed(mod):
    parallel_seed_test(lambda: mod.parallel_env(**SMALL), num_cycles=15)


def test_max_cycles(mod):
    max_cycles_test(mod)


def test_render(mod):
    render_test(lambda render_mode=None: mod.env(render_mode=render_mode, **SMALL))


def test_state(mod):
    state_test(mod.env(**SMALL), mod.parallel_env(**SMALL))


def test_metadata_and_render_mode_attribute(mod):
    name = mod.__name__.rsplit(".", 1)[1]
    for make in (mod.env, mod.raw_env, mod.parallel_env):
        env = make(**SMALL)
        assert env.render_mode is None  # SuperSuit reads it: it must always exist
        assert env.metadata["name"] == name
        assert env.metadata["render_modes"] == ["human", "rgb_array"]
        assert env.metadata["is_parallelizable"] is True
    assert mod.metadata["name"] == name
