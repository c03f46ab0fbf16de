"""The ``formation`` controller with slots planned at take-off (``assignment="spawn"``): no
auction runs and nothing is sent, the displacement law is the auction path's with complete
tables, it forms the shape, stays local, and steps 10^4 drones without N x N tables."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from envs.formation import FormationModel
from swarm import metrics
from swarm.testing import assert_local

SMALL = dict(n_agents=16, world_size=30.0, sense_radius=8.0, shape="grid", scale=1.5,
             spawn_extent=8.0, assignment="spawn")  # fmt: skip


def test_the_scenario_publishes_the_assignment_and_the_policy_opens_no_channel():
    planned = FormationModel(rng=0, **SMALL)
    assert planned.engine.obs.known["assignment"] == "spawn"
    assert planned.policy.message_dim == 0 and planned.engine.channel is None
    auction = FormationModel(rng=0, **{**SMALL, "assignment": "auction"})
    assert auction.engine.obs.known["assignment"] == "auction"
    assert auction.policy.message_dim == 2 * 16 and auction.engine.channel is not None


def test_planned_slots_send_nothing_and_form_the_grid():
    model = FormationModel(rng=0, **SMALL)
    slots = model.engine.agent_state["slot"].copy()
    for _ in range(300):
        model.step()
        assert model.metrics["messages_sent"] == 0.0
    assert model.metrics["formation_error"] < model.config.converged_error
    assert math.isfinite(model.metrics["convergence_time"])
    assert model.metrics["conflicts"] == 0 and model.metrics["assigned"] == 1.0
    assert (model.engine.agent_state["slot"] == slots).all()  # the plan is kept as given


def test_a_channel_opened_anyway_carries_an_empty_broadcast():
    model = FormationModel(rng=0, message_dim=4, **SMALL)
    assert model.engine.channel is not None
    decision = model.policy.decide(model.engine.obs, True)
    assert decision.messages is not None and decision.messages.shape == (16, 0)
    assert decision.state == {}
    model.step()
    assert metrics.messages_sent(model.engine)[0] == 0.0


@pytest.mark.parametrize("anchor_gain", [0.0, 0.5])
def test_the_planned_law_is_the_auction_law_with_complete_tables(anchor_gain):
    """Every drone told every planned slot (the auction's tables complete): the auction
    path's velocity equals the planned path's up to rounding, in the plane and the cube."""
    for extra in ({}, {"dim": 3, "shape": "cube", "n_agents": 27, "world_size": 20.0}):
        model = FormationModel(rng=2, policy_params={"anchor_gain": anchor_gain},
                               **{**SMALL, "sense_radius": 3.0, **extra})  # fmt: skip
        for _ in range(5):  # off the spawn, some neighbours close, some not
            model.step()
        obs = model.engine.obs
        policy = model.policy
        slot = obs.own["planned_slot"]
        winner = np.full((obs.n, len(slot)), -1, dtype=np.int64)
        winner[:, slot] = obs.ids[None, :]
        auction = policy._velocity(obs, winner, slot.copy())
        planned = policy._planned_velocity(obs)
        assert np.abs(auction).max() > 0.1  # not trivially equal
        np.testing.assert_allclose(planned, auction, rtol=1e-10, atol=1e-12)


def test_planned_path_is_local():
    checked = assert_local("formation", "formation", n_agents=30, steps=8, assignment="spawn")
    assert checked == 30 * 8


@pytest.mark.slow  # ~25 s: the take-off plan (one 10^4 x 10^4 assignment) takes ~20 s
def test_ten_thousand_drones_step_without_message_tables():
    """No channel, so no (N, 2N) broadcast or inbox; one step takes well under a second."""
    n = 10_000
    world = 8.0 * math.sqrt(n / 16)
    model = FormationModel(rng=0, n_agents=n, world_size=world, spawn_extent=0.75 * world,
                           shape="grid", scale=1.5, max_accel=6.0, assignment="spawn")  # fmt: skip
    assert model.policy.message_dim == 0 and model.engine.channel is None
    tick = time.perf_counter()
    model.step()
    assert time.perf_counter() - tick < 10.0
    assert model.metrics["messages_sent"] == 0.0
    assert np.isfinite(model.engine.vel).all()
