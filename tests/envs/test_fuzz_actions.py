"""Hostile actions for every PettingZoo env: whatever hypothesis sends to ``env.step``, the env
either steps, or raises one clear error (ValueError, TypeError or KeyError; one line) and has
applied nothing: the next valid step gives what it would have given without the bad one.
"""

from __future__ import annotations

import importlib

import gymnasium
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarm.registry import SCENARIOS

ENVS = sorted(f"envs.{name}_v0" for name in SCENARIOS)
SMALL = {"envs.warehouse_v0": {"n_agents": 3}, "envs.navigation_v0": {}}
REFUSED = (ValueError, TypeError, KeyError)

SHAPES = [(), (1,), (2,), (3,), (1, 2), (7, 7), (0,)]
FILLS = [0.0, 1.0, -1.0, 2, -3, np.nan, np.inf, -np.inf, 1e308, 10**30]


def valid_action(draw: st.DrawFn, space) -> object:
    """A value inside the space, drawn by hypothesis (so examples replay exactly)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        return int(space.start) + draw(st.integers(0, int(space.n) - 1))
    low, high = np.broadcast_arrays(space.low, space.high)
    values = [draw(st.floats(float(lo), float(hi), width=32)) for lo, hi in
              zip(low.ravel(), high.ravel(), strict=True)]  # fmt: skip
    return np.array(values, dtype=space.dtype).reshape(space.shape)


@st.composite
def bad_action(draw: st.DrawFn, space) -> object:
    """Something in place of one agent's action: valid, near-valid or plain wrong."""
    kind = draw(st.sampled_from(["valid", "array", "list", "scalar", "other"]))
    if kind == "valid":
        return valid_action(draw, space)
    if kind == "array":
        dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, object]))
        fill = draw(st.sampled_from(FILLS))
        try:
            with np.errstate(all="ignore"):  # the cast to a narrow type is the point
                return np.full(draw(st.sampled_from(SHAPES)), fill, dtype=dtype)
        except (OverflowError, ValueError):
            return np.full(draw(st.sampled_from(SHAPES)), fill)
    if kind == "list":
        return draw(st.lists(st.sampled_from(FILLS), max_size=3))
    if kind == "scalar":
        return draw(st.sampled_from([*FILLS, True, -1, 5, 2**63]))
    return draw(st.sampled_from([None, "up", b"\x00", {"a": 1}, object()]))


def _make(module: str):
    env = importlib.import_module(module).parallel_env(**SMALL.get(module, {"n_agents": 3}))
    env.reset(seed=1)
    return env


def _valid(env) -> dict:
    return {a: np.zeros_like(env.action_space(a).sample()) for a in env.agents}


FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("module", ENVS)
def test_bad_actions_are_refused_whole_or_stepped(module):
    env = _make(module)
    reference = _make(module)

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        actions = {a: data.draw(bad_action(env.action_space(a)), label=a) for a in env.agents}
        if env.agents and data.draw(st.booleans(), label="drop one"):
            actions.pop(data.draw(st.sampled_from(sorted(actions)), label="dropped"))
        if data.draw(st.booleans(), label="stranger"):
            actions[data.draw(st.sampled_from(["drone_99", "robot_99", "", "x"]))] = 0
        try:
            env.step(actions)
        except REFUSED as err:
            message = str(err.args[0]) if err.args else ""
            assert message and "\n" not in message, repr(err)
            obs_a, *_ = env.step(_valid(env))  # nothing of the bad step was applied
            obs_b, *_ = reference.step(_valid(reference))
            for agent in obs_b:
                np.testing.assert_array_equal(obs_a[agent], obs_b[agent])
            return
        reference.step(actions)  # it was accepted: keep the reference in step
        if not env.agents:
            env.reset(seed=1)
            reference.reset(seed=1)

    run()
