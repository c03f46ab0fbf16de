"""The action checks: what every env (drones and grid robots) refuses, and how.

Discrete indices (:func:`discrete_action`, :func:`discrete_actions`), ``reset`` seeds
(:func:`check_reset_seed`), the AEC conversion that checks each action at its turn
(:class:`CheckedAECEnv`) and the compiled screen of Box actions (:func:`_screen_actions`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from swarm.config import ConfigError

# MPE's discrete action order (mpe2 simple_env: no-op, left, right, down, up) as unit vectors
DISCRETE_DIRECTIONS = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
DISCRETE_DOC = "0..4 (no-op, -x, +x, -y, +y)"


def discrete_action(env: Any, agent: str, value: Any, n: int, doc: str) -> int:
    """``value`` as an index of Discrete(n), or a TypeError / ValueError naming env and agent
    (bools and floats are refused: they are not actions; nor is an array of any shape but
    ``()``, even of one element: a policy giving (1,) per agent has a bug worth seeing)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not ok and isinstance(value, np.ndarray):
        if value.shape != ():
            raise ValueError(
                f"{env}: {agent}: action is an array of shape {value.shape}; expected one "
                f"integer of Discrete({n}): {doc}"
            )
        ok = value.dtype.kind in "iu"
    if not ok:
        raise TypeError(
            f"{env}: {agent}: action {value!r} is not an integer; expected one of {doc}"
        )
    if not 0 <= int(value) < n:
        raise ValueError(f"{env}: {agent}: action {int(value)} is outside Discrete({n}); "
                         f"expected {doc}")  # fmt: skip
    return int(value)


def discrete_actions(
    env: Any, agents: list[str], values: list[Any], n: int, doc: str
) -> np.ndarray:
    """(len(agents),) int64 indices of Discrete(n), checked as :func:`discrete_action` does
    one by one; the common case (plain integers in range) in one numpy pass."""
    try:
        arr = np.asarray(values) if values else np.zeros(0, np.int64)
    except (TypeError, ValueError):  # ragged: arrays of different shapes among the values
        arr = None
    plain = arr is not None and arr.dtype.kind in "iu" and arr.shape == (len(values),)
    if plain and not any(isinstance(v, bool | np.bool_) for v in values):
        if not len(arr) or (arr.min() >= 0 and arr.max() < n):
            return arr.astype(np.int64)
    # find and name the bad one (or, for valid values numpy did not read as one integer
    # array, e.g. a mix of uint64 and int64 scalars, collect them one by one)
    checked = [
        discrete_action(env, agent, v, n, doc) for agent, v in zip(agents, values, strict=True)
    ]
    return np.array(checked, dtype=np.int64)


def check_reset_seed(env: Any, seed: Any) -> int | None:
    """``reset``'s ``seed``: None or an integer >= 0 (numpy's SeedSequence takes no negative
    entropy); anything else is one ConfigError line naming ``seed`` and what is allowed."""
    if seed is None:
        return None
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"{env}: reset(seed={seed!r}): seed must be None or an integer >= 0")
    return int(seed)


class CheckedAECEnv(parallel_to_aec_wrapper):
    """PettingZoo's parallel -> AEC conversion, checking each action when it is given.

    The plain conversion buffers actions and hands them to the parallel env only at the
    last agent's turn, so a bad action would surface late, name the wrong turn and stay
    buffered. Here ``step`` asks the parallel env's ``check_action`` first: a bad action
    raises at once, naming its agent, and nothing is buffered or applied.
    """

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if not (self.terminations[agent] or self.truncations[agent]):
            self.env.check_action(agent, action)
        super().step(action)


_NOT_FINITE, _OUTSIDE = 1, 2  # what _screen_actions found first


@numba.njit(cache=True)
def _screen_actions(actions, active, low, high, clip, out):
    """Validate (E, N, dim) actions of active drones in one pass; ``out`` gets them (clipped
    to [low, high] when ``clip``), zero for inactive drones. Returns (problem, e, i): 0 when
    all are valid, else the first non-finite action (_NOT_FINITE) or, failing that, the first
    outside the box (_OUTSIDE, only when not clipping), in row-major order."""
    first_outside_e, first_outside_i = -1, -1
    dim = actions.shape[2]
    for e in range(actions.shape[0]):
        for i in range(actions.shape[1]):
            if not active[e, i]:
                for d in range(dim):
                    out[e, i, d] = 0.0
                continue
            for d in range(dim):
                v = actions[e, i, d]
                if not np.isfinite(v):
                    return 1, e, i
                if v < low[d] or v > high[d]:
                    if clip:
                        v = min(max(v, low[d]), high[d])
                    elif first_outside_e < 0:
                        first_outside_e, first_outside_i = e, i
                out[e, i, d] = v
    if first_outside_e >= 0:
        return 2, first_outside_e, first_outside_i
    return 0, 0, 0
