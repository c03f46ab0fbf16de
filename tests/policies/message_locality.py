"""Locality and determinism checks shared by the scenario-library controllers' tests.

Stronger than ``test_locality.py`` (which compares actions only): the comparison covers
everything a controller emits in one step, the action, the broadcast message and the new
engine-carried state, all computed from the same inbox. Moving a drone does not touch the
messages already in flight, so agent i's inbox is the same before and after the move; what
must not change is what i does with it.
"""

from collections.abc import Callable

import numpy as np

from swarm.model import SwarmModel


def emitted(model: SwarmModel) -> dict[str, np.ndarray]:
    """Everything the policy decides on the current observation (does not step)."""
    obs = model.observe()
    policy = model.policy
    out = {"action": policy.act(obs), "message": policy.broadcast(obs)}
    for name, values in policy.next_state(obs).items():
        out[f"state.{name}"] = np.asarray(values)
    return out


def torus_aware_distance(a: np.ndarray, b: np.ndarray, world: float, torus: bool) -> float:
    d = np.abs(a - b)
    if torus:
        d = np.minimum(d, world - d)
    return float(np.sqrt((d**2).sum()))


def assert_local(
    make_model: Callable[[int], SwarmModel], seeds: range, steps: int = 4, moves: int = 6
) -> int:
    """Move far drones and check that the observer's outputs stay bit-for-bit equal.

    Returns how many (observer, moved drone) pairs were checked, so a test can assert it
    really checked something.
    """
    checked = 0
    for seed in seeds:
        model = make_model(seed)
        for _ in range(steps):
            model.step()
        engine, c = model.engine, model.config
        reach = max(c.sense_radius, c.effective_comm_radius)
        rng = np.random.default_rng(seed)
        for _ in range(moves):
            i = int(rng.integers(engine.rows))
            near = set(engine.neighbors.neighbors_of(i).tolist())
            near |= set(engine.links.neighbors_of(i).tolist())
            far = [j for j in range(engine.rows) if j != i and j not in near]
            if not far:
                continue
            j = int(rng.choice(far))
            for _ in range(100):
                new = rng.uniform(0, c.world_size - 1e-6, size=2)
                if torus_aware_distance(new, engine.pos[i], c.world_size, c.torus) > reach:
                    break
            else:
                continue
            before = emitted(model)
            model.drones[j].pos = new
            after = emitted(model)
            for key in before:
                np.testing.assert_array_equal(
                    after[key][i], before[key][i], err_msg=f"{key} of drone {i} (moved {j})"
                )
            checked += 1
    return checked


def final_state(make_model: Callable[[int], SwarmModel], seed: int, steps: int) -> list:
    model = make_model(seed)
    for _ in range(steps):
        model.step()
    e = model.engine
    return [e.pos.copy(), e.vel.copy(), e.alive.copy()] + [
        v.copy() for _, v in sorted(e.agent_state.items())
    ]


def assert_deterministic(
    make_model: Callable[[int], SwarmModel], steps: int = 30, must_differ: bool = True
) -> None:
    """Same seed: identical arrays bit for bit; another seed: different arrays."""
    a = final_state(make_model, 5, steps)
    b = final_state(make_model, 5, steps)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    if must_differ:
        c = final_state(make_model, 6, steps)
        assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))
