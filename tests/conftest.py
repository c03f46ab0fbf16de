"""Shared test settings: hypothesis profiles sized for a 2-core CI machine; a loader for the
scripts of experiments/."""

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")


@pytest.fixture
def experiment_script(monkeypatch):
    """``load(name)``: a fresh import of ``experiments/<name>.py`` (the scripts are not a
    package), registered in ``sys.modules`` for the test only (dataclasses look their module
    up there)."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f"{name}_under_test", EXPERIMENTS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        return module

    return load
