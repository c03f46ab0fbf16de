"""Randomness that respects locality and determinism.

One seed makes one ``numpy.random.Generator`` (the model's ``rng``); everything else is
derived from it. Per-agent and per-link random events (sensor noise on the reading agent i
gets of agent j, the drop of the packet j sends to i, a policy's exploration noise) are drawn
from a *counter-based* stream keyed by ``(seed, step, i, j)``: the draw for one pair does not
depend on how many other pairs exist this step. With a sequential generator, moving an agent
far away would shift every later draw and change i's observation, breaking the locality
contract for a reason that has nothing to do with physics.

The keyed stream is the SplitMix64 finaliser (Steele, Lea, Flood 2014), applied with numpy's
wrapping uint64 arithmetic; numpy's own Philox is counter based but cannot be keyed per
element in one vectorised call, so this small function is written here on purpose.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_KEY_MULTIPLIERS = tuple(
    np.uint64(c)
    for c in (
        0xD6E8FEB86659FD93,
        0xA0761D6478BD642F,
        0xE7037ED1A0B428DB,
        0x8EBC6AF09C88C6E3,
        0x589965CC75374CC3,
        0x1D8E4E27C47D124F,
    )
)


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def keyed_bits(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """64 random bits per element, a pure function of ``seed`` and the keys (broadcast)."""
    if len(keys) > len(_KEY_MULTIPLIERS):
        raise ValueError(f"at most {len(_KEY_MULTIPLIERS)} keys are supported")
    with np.errstate(over="ignore"):
        h = _mix(np.asarray(np.uint64(seed % 2**64) + _GOLDEN, dtype=np.uint64))
        for key, mult in zip(keys, _KEY_MULTIPLIERS, strict=False):
            k = np.asarray(key).astype(np.uint64)
            h = _mix(h ^ (k * mult + _GOLDEN))
    return np.asarray(h)


def keyed_uniform(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Uniform floats in [0, 1) keyed by ``(seed, *keys)``."""
    return (keyed_bits(seed, *keys) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


def keyed_normal(seed: int, *keys: np.ndarray | int) -> np.ndarray:
    """Standard normal floats keyed by ``(seed, *keys)`` (Box-Muller on two keyed uniforms)."""
    u1 = keyed_uniform(seed, *keys, 1)
    u2 = keyed_uniform(seed, *keys, 2)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit seed for a derived stream from the run's one generator."""
    return int(rng.integers(0, 2**63 - 1))
