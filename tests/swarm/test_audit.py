"""The locality audit (swarm.testing): every built-in and learned controller passes, and
controllers that cheat in different ways are each caught, naming the step and agent."""

from __future__ import annotations

import numpy as np
import pytest

from swarm.cli import main
from swarm.policy import Policy
from swarm.registry import POLICIES, policy_class
from swarm.testing import LocalityViolation, assert_local, isolate


def drone_policies() -> list[str]:
    return sorted(n for n in POLICIES if issubclass(policy_class(n), Policy))


@pytest.mark.parametrize("name", drone_policies())
def test_every_registered_drone_controller_is_local(name):
    cls = policy_class(name)
    spread = {"spawn_extent": 30.0} if cls.scenario == "search" else {}
    checked = assert_local(
        name, cls.scenario, n_agents=30, steps=8, world_size=30.0, sense_radius=4.0,
        comm_radius=5.0, sensor_noise_pos=0.05, packet_drop=0.2, **spread,
    )  # fmt: skip
    assert checked == 30 * 8


class Cheat(Policy):
    """Base of the cheaters: a plain velocity controller on the flocking scenario."""

    action_kind = "velocity"
    scenario = "flocking"


class GlobalCentroid(Cheat):
    name = "global_centroid"

    def act(self, obs):
        return obs.pos[obs.alive].mean(axis=0) - obs.pos


class ExactNeighbour(Cheat):
    """Steers to the true position of its first sensed neighbour, bypassing sensor noise."""

    name = "exact_neighbour"

    def act(self, obs):
        out = np.zeros((obs.n, 2))
        nb = obs.neighbors
        for s in range(len(nb.seg_row)):
            if nb.ptr[s + 1] > nb.ptr[s]:
                out[nb.seg_row[s]] = obs.pos[nb.idx[nb.ptr[s]]] - obs.pos[nb.seg_row[s]]
        return out


class AliveCount(Cheat):
    name = "alive_count"

    def act(self, obs):
        return np.full((obs.n, 2), 0.01 * obs.alive.sum())


class BeyondRange(Cheat):
    """Reads the state of a drone far away (another row of the batch)."""

    name = "beyond_range"

    def act(self, obs):
        return obs.vel[(np.arange(obs.n) + obs.n // 2) % obs.n]


class SharedMemory(Cheat):
    """Keeps a running total over every drone in an undeclared attribute."""

    name = "shared_memory"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.total = 0.0

    def act(self, obs):
        return np.full((obs.n, 2), 1e-3 * self.total)

    def commit(self, obs, actions):
        self.total += float(obs.vel[obs.alive].sum())


class RowNoise(Cheat):
    """Draws its noise keyed by the position in the batch, not by the drone's identity."""

    name = "row_noise"

    def act(self, obs):
        from swarm.rng import keyed_normal

        return keyed_normal(self.seed, obs.step, np.arange(obs.n)[:, None], np.arange(2))


@pytest.mark.parametrize(
    "cheat", [GlobalCentroid, ExactNeighbour, AliveCount, BeyondRange, SharedMemory, RowNoise]
)
def test_each_way_of_cheating_is_caught(cheat):
    with pytest.raises(LocalityViolation, match=r"not local at step \d+, agent \d+") as err:
        assert_local(cheat, "flocking", n_agents=30, steps=5)
    assert cheat.name in str(err.value) and "\n" not in str(err.value)


def test_the_isolated_observation_holds_one_agent_and_its_own_entries():
    from envs.flocking import FlockingModel

    model = FlockingModel(n_agents=50, world_size=20.0, rng=3)
    model.step()
    obs = model.observe()
    row = 7
    alone = isolate(obs, row)
    assert alone.n == 1 and alone.ids.tolist() == [row]
    np.testing.assert_array_equal(alone.pos[0], obs.pos[row])
    np.testing.assert_array_equal(alone.neighbors.idx, obs.neighbors.neighbors_of(row))
    np.testing.assert_array_equal(alone.neighbors.rel_pos,
                                  obs.neighbors.rel_pos[obs.neighbors.row_slice(row)])  # fmt: skip
    senders, _ = obs.inbox.of(row)
    np.testing.assert_array_equal(alone.inbox.sender, senders)


def test_audit_cli_says_local_or_names_the_violation(capsys):
    assert main(["audit", "flocking", "--policy", "boids", "--agents", "20", "--steps", "3"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "boids is local on flocking" in out
    assert main(["audit", "flocking", "--policy", "pibt"]) == 2
    assert "does not run in flocking" in capsys.readouterr().err


def test_run_with_audit_checks_a_real_run(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "flocking", "--agents", "40", "--steps", "5", "--audit", "5",
                 "--quiet", "--out", str(out)])  # fmt: skip
    assert code == 0 and (out / "summary.json").exists()
    assert "audited 25 agent-steps: local" in capsys.readouterr().out
