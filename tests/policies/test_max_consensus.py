"""Max-consensus: local, deterministic, and monotone (values only grow to the max)."""

import numpy as np
from message_locality import assert_deterministic, assert_local

from envs.consensus import ConsensusModel


def make(seed: int) -> ConsensusModel:
    return ConsensusModel(
        n_agents=40, world_size=30.0, sense_radius=4.0, comm_radius=5.0, packet_drop=0.2,
        policy="max_consensus", rng=seed,
    )  # fmt: skip


def test_far_drones_leave_action_message_and_value_unchanged():
    assert assert_local(make, range(4)) >= 15


def test_same_seed_same_run_and_different_seeds_differ():
    assert_deterministic(make)


def test_values_never_fall_and_never_exceed_the_initial_max():
    model = make(2)
    initial = model.engine.agent_state["value"].copy()
    top = initial.max()
    last = model.engine.agent_state["value"].copy()
    for _ in range(20):
        model.step()
        now = model.engine.agent_state["value"]
        assert (now >= last).all() and now.max() == top
        last = now.copy()
    assert np.isin(now, initial).all()  # flooding only copies values, never makes new ones
