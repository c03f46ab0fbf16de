"""Average consensus: one step from the same inbox is local and follows eq. (18)."""

import numpy as np
from message_locality import assert_deterministic, assert_local

from envs.consensus import ConsensusModel


def make(seed: int) -> ConsensusModel:
    return ConsensusModel(
        n_agents=40, world_size=30.0, sense_radius=4.0, comm_radius=5.0, packet_drop=0.2,
        sensor_noise_pos=0.05, policy="average_consensus", policy_params={"eps": 0.1},
        rng=seed,
    )  # fmt: skip


def test_far_drones_leave_action_message_and_value_unchanged():
    assert assert_local(make, range(4)) >= 15


def test_same_seed_same_run_and_different_seeds_differ():
    assert_deterministic(make)


def test_one_step_is_the_discrete_protocol_on_the_received_values():
    model = make(1)
    for _ in range(3):
        model.step()
    obs = model.observe()
    x = obs.own["value"]
    new = model.policy.next_state(obs)["value"]
    for i in range(obs.n):
        _, msgs = obs.inbox.of(i)
        expected = x[i] + 0.1 * (msgs[:, 0] - x[i]).sum()
        assert abs(new[i] - expected) <= 1e-14 * max(1.0, abs(expected)), i
    np.testing.assert_array_equal(model.policy.broadcast(obs)[:, 0], new)
