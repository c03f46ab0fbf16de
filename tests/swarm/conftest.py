"""Fixtures of the main-round benchmark's tests (experiments/bench_mainround.py)."""

import numpy as np
import pytest

from swarm.grid.layout import LayoutParams, generate_layout, random_instance
from swarm.grid.maps import write_instance


@pytest.fixture
def bench(experiment_script):
    return experiment_script("bench_mainround")


@pytest.fixture(scope="module")
def tiny_instance(tmp_path_factory):
    """(path, map height): a League-format instance of 16 robots on a small generated
    warehouse, 40 errands each."""
    grid = generate_layout(LayoutParams(block_rows=2, block_cols=2))
    inst = random_instance(grid, 16, 16 * 40, np.random.default_rng(1), name="tiny")
    return write_instance(inst, tmp_path_factory.mktemp("inst")), grid.height
