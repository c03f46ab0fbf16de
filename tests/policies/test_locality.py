"""The locality contract, for every registered drone controller.

Moving any agent j that is outside agent i's sensing range and comm neighbourhood, to anywhere
else outside them, must leave i's action unchanged, bit for bit. Run with sensor noise and
packet drops on, since those are where a global random stream would leak.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from swarm.policy import Policy
from swarm.registry import POLICIES, policy_class, scenario_class

N = 40
WORLD = 30.0
SENSE = 4.0
COMM = 5.0


def drone_policies() -> list[str]:
    """Every registered controller of the continuous drone engine."""
    return sorted(name for name in POLICIES if issubclass(policy_class(name), Policy))


def torus_dist(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b))
    d = np.minimum(d, WORLD - d)
    return float(np.sqrt((d**2).sum()))


@pytest.mark.parametrize("name", drone_policies())
@given(seed=st.integers(0, 2**16), data=st.data())
def test_far_agents_do_not_change_an_agents_action(name, seed, data):
    cls = policy_class(name)
    # search starts everyone at one base by default; spread them so that some are far apart
    spread = {"spawn_extent": WORLD} if cls.scenario == "search" else {}
    model = scenario_class(cls.scenario)(
        policy=name, n_agents=N, world_size=WORLD, sense_radius=SENSE, comm_radius=COMM,
        sensor_noise_pos=0.05, sensor_noise_vel=0.05, packet_drop=0.2, rng=seed, **spread,
    )  # fmt: skip
    for _ in range(3):
        model.step()
    before = model.policy(model.observe())
    i = data.draw(st.integers(0, N - 1), label="observer")
    engine = model.engine
    near = set(engine.neighbors.neighbors_of(i).tolist()) | set(
        engine.links.neighbors_of(i).tolist()
    )
    far = [j for j in range(N) if j != i and j not in near]
    assume(far)
    j = data.draw(st.sampled_from(far), label="moved")
    new = (data.draw(st.floats(0, WORLD - 1e-6)), data.draw(st.floats(0, WORLD - 1e-6)))
    assume(torus_dist(new, engine.pos[i]) > max(SENSE, COMM) + 1e-6)
    model.drones[j].pos = new
    after = model.policy(model.observe())
    np.testing.assert_array_equal(after[i], before[i])


def test_every_drone_policy_is_covered():
    """Every registered controller is either a drone Policy (tested above) or a grid
    controller (its locality test: tests/policies/test_pibt.py and friends)."""
    from swarm.grid.policy import GridPolicy

    drones = set(drone_policies())
    grid = {n for n in POLICIES if issubclass(policy_class(n), GridPolicy)}
    assert drones | grid == set(POLICIES) and not drones & grid
    assert {"boids", "vicsek", "olfati_saber", "formation", "cbaa", "lloyd"} <= drones
