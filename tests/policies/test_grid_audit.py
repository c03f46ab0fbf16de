"""The locality audit of warehouse controllers: every built-in grid controller passes with
its message rounds replayed round by round, and grid controllers that cheat are caught."""

from __future__ import annotations

import numpy as np
import pytest

from envs.warehouse import warehouse_policies
from policies.greedy_yield import GreedyYield
from policies.pibt import PIBT
from swarm.cli import main
from swarm.grid.layout import LayoutParams
from swarm.grid.policy import GridPolicy, action_codes, exchange_beacons
from swarm.radio import MessageError, Round
from swarm.registry import policy_class
from swarm.testing import LocalityViolation, assert_local

LAYOUT = LayoutParams(block_rows=3, block_cols=3, shelf_width=4)
ROUGH = dict(layout=LAYOUT, sense_radius=2.5, comm_radius=3.5, packet_drop=0.2, max_inbox=6)


@pytest.mark.parametrize("name", sorted(warehouse_policies()))
def test_every_warehouse_controller_is_local_with_every_round_replayed(name):
    tasks = {"tasks": "poisson", "orders_rate": 1.0} if name == "auction" else {}
    motion = policy_class(name).motions[0]  # grid, where a controller plans for both
    assert assert_local(name, "warehouse", n_agents=30, steps=12, motion=motion, **ROUGH,
                        **tasks) == 360  # fmt: skip


class GlobalQueue(GreedyYield):
    """Waits while its task is younger than the team's mean task age: a global average."""

    name = "global_queue"

    def act(self, obs):
        actions = super().act(obs)
        return np.where(obs.own["task_age"] < obs.own["task_age"].mean(), 0, actions)


class ReadsSenderRows(GridPolicy):
    """Reads a heard robot's cell from the batch at its label, not from its message."""

    name = "reads_sender_rows"

    def rounds(self):
        return (Round("beacon", 8),)

    def act(self, obs):
        _, prefs, inbox = exchange_beacons(obs, self.seed)
        target = prefs[:, 0].copy()
        first = inbox.ptr[:-1][np.diff(inbox.ptr) > 0]
        owner = np.flatnonzero(np.diff(inbox.ptr) > 0)
        taken = obs.own["fcell"][inbox.sender[first]] == target[owner]
        target[owner[taken]] = obs.own["fcell"][owner[taken]]
        return action_codes(obs, target)


class FarRobot(GreedyYield):
    """Stays put when the robot 'five rows on' stands next to a shelf: beyond any range."""

    name = "far_robot"

    def act(self, obs):
        actions = super().act(obs)
        far = obs.own["cell"][(np.arange(obs.n) + 5) % obs.n] % 2 == 0
        return np.where(far, 0, actions)


class SharedMemory(PIBT):
    """Keeps a count of blocked robots across the team: memory shared between robots."""

    name = "shared_memory"
    jams = 0

    def commit(self, obs, actions):
        SharedMemory.jams += int((actions == 0).sum())

    def decide(self, obs):
        decision = super().decide(obs)
        if SharedMemory.jams >= 50:
            decision.actions = np.zeros_like(decision.actions)
        return decision


class HiddenMemory(PIBT):
    """Carries the team's mean task age in an attribute it does not declare."""

    name = "hidden_memory"

    def decide(self, obs):
        self.team_age = float(obs.own["task_age"].mean())
        return super().decide(obs)

    def remember(self, memory):
        super().remember(memory)
        self.inherited = self.inherited + float(self.team_age > 3) * 1e-3


class OthersGoals(GreedyYield):
    """Waits when another robot's goal is next to it, read from the shared distance cache."""

    name = "others_goals"

    def act(self, obs):
        actions = super().act(obs)
        bank = obs.known["bank"]
        every = np.arange(len(bank.goal_of_slot))[None, :]
        goals = bank.lookup(every, obs.own["fcell"][:, None])
        return np.where((goals == 1).any(axis=1), 0, actions)


@pytest.mark.parametrize(
    ("cheat", "what"),
    [
        (GlobalQueue, "action"),
        (ReadsSenderRows, "fails with IndexError|action"),
        (FarRobot, "action"),
        (SharedMemory, "action"),
        (HiddenMemory, "memory|action|message"),
        (OthersGoals, "fails with (AttributeError|LookupError)|action"),
    ],
)
def test_each_kind_of_grid_cheat_is_caught(cheat, what):
    pattern = f"{cheat.name}: not local at step \\d+, robot \\d+: .*({what})"
    with pytest.raises(LocalityViolation, match=pattern):
        assert_local(cheat, "warehouse", n_agents=30, steps=30, **ROUGH)


class Undeclared(GreedyYield):
    name = "undeclared"

    def rounds(self):
        return ()


class TooWide(GreedyYield):
    name = "too_wide"

    def rounds(self):
        return (Round("beacon", 4),)


@pytest.mark.parametrize(("cheat", "match"), [(Undeclared, "did not declare"),
                                               (TooWide, "declares 4 floats")])  # fmt: skip
def test_messages_outside_the_declaration_never_leave_the_robot(cheat, match):
    with pytest.raises(MessageError, match=match):
        assert_local(cheat, "warehouse", n_agents=20, steps=2, layout=LAYOUT)


def test_swarm_audit_covers_the_warehouse(capsys):
    code = main(["audit", "warehouse", "--policy", "pibt", "--agents", "20", "--steps", "5",
                 "--packet-drop", "0.2"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("pibt is local on warehouse: 100 agent-steps")
