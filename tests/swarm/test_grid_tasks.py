"""Task streams: the League's round robin (data README / start kit) and Poisson orders."""

import numpy as np
import pytest

from swarm.config import ConfigError
from swarm.grid.distance import DistanceBank, free_flow_tasks
from swarm.grid.layout import LayoutParams, generate_layout
from swarm.grid.maps import EMITTER, SERVICE, parse_map
from swarm.grid.tasks import IDLE, TO_DROP, TO_PICK, LeagueTasks, PoissonOrders

CORRIDOR = parse_map("type octile\nheight 1\nwidth 8\nmap\n........\n")


def league(tasks, n, wrap="cycle"):
    return LeagueTasks(CORRIDOR, DistanceBank(CORRIDOR), np.array(tasks), n, wrap)


def test_round_robin_gives_task_k_to_robot_k_mod_n_in_order():
    s = league([10 % 8, 1, 2, 3, 4, 5, 6], 3)
    assert s.goal.tolist() == [2, 1, 2]  # tasks 0, 1, 2
    cell = np.array([2, 0, 0])  # robot 0 is on its task
    assert s.update(cell, t=1) == 1
    assert s.goal.tolist() == [3, 1, 2]  # robot 0 gets task 3; the others keep theirs
    assert s.revealed_at.tolist() == [1, 0, 0]
    cell = np.array([3, 1, 2])
    assert s.update(cell, t=2) == 3
    assert s.goal.tolist() == [6, 4, 5]  # tasks 6 (robot 0), 4 (robot 1), 5 (robot 2)
    assert s.finished.tolist() == [2, 1, 1]


def test_the_list_cycles_like_the_start_kit_or_stops():
    s = league([1, 2, 3], 2)  # robot 0: 1, 3, 2, 1, ...; robot 1: 2, 1, 3, ...
    seq = []
    for t in range(4):
        seq.append(int(s.goal[0]))
        s.update(np.array([s.goal[0], 7]), t + 1)
    assert seq == [1, 3, 2, 1]
    s = league([1, 2, 3], 2, wrap="stop")
    s.update(np.array([1, 2]), 1)
    assert s.goal.tolist() == [3, -1] and s.phase.tolist() == [TO_PICK, IDLE]


def test_standing_on_the_next_task_finishes_it_next_step():
    s = league([4, 4, 4], 1)
    assert s.update(np.array([4]), 1) == 1
    assert s.update(np.array([4]), 2) == 1  # same cell again: one more task per step
    assert s.service_sum == 1 + 1


def orders(rate=2.0, seed=0):
    g = generate_layout(LayoutParams(block_rows=1, block_cols=2))
    return g, PoissonOrders(g, DistanceBank(g), 3, rate, np.random.default_rng(seed), 50)


def test_orders_arrive_at_service_points_and_go_to_emitters():
    g, s = orders(rate=3.0)
    for t in range(40):
        s.arrive(t)
    assert s.arrived > 80  # Poisson(3) over 40 steps: 120 expected
    assert (g.kind.ravel()[s.open_pick] == SERVICE).all()
    assert (g.kind.ravel()[s.open_drop] == EMITTER).all()
    assert len(s.open_id) == 50 and s.rejected == s.arrived - 50  # the board's cap


def test_board_gives_a_contested_order_to_the_lowest_bid_then_lowest_row():
    _g, s = orders()
    s.arrive(0)
    first = int(s.open_id[0])
    claims = np.array([first, first, first])
    assert s.accept(claims, np.array([5.0, 3.0, 3.0]), t=0) == 1
    assert s.phase.tolist() == [IDLE, TO_PICK, IDLE] and s.claim_conflicts == 2
    assert first not in s.open_id
    # pick, then deliver: phases and service time from the order's arrival
    pick = s.goal[1]
    s.update(np.array([-5, pick, -5]), 4)
    assert s.phase[1] == TO_DROP and s.goal[1] == s.drop_of[1]
    assert s.update(np.array([-5, s.goal[1], -5]), 9) == 1
    assert s.phase[1] == IDLE and s.goal[1] == -1 and s.service_sum == 9


def test_a_later_first_round_starts_every_robot_further_down_the_list():
    s = LeagueTasks(CORRIDOR, DistanceBank(CORRIDOR), np.arange(8) % 8, 3, first_round=1)
    assert s.goal.tolist() == [3, 4, 5]  # tasks 3, 4, 5: round 1 of 3 robots
    assert s.update(np.array([3, 0, 0]), t=1) == 1
    assert s.goal.tolist() == [6, 4, 5] and s.finished.tolist() == [1, 0, 0]
    s.update(np.array([6, 4, 5]), t=2)
    assert s.goal.tolist() == [1, 7, 0]  # tasks 9, 7, 8 of the cycled list
    s = LeagueTasks(CORRIDOR, DistanceBank(CORRIDOR), np.arange(8), 3, "stop", first_round=2)
    assert s.goal.tolist() == [6, 7, -1] and s.phase.tolist() == [TO_PICK, TO_PICK, IDLE]


def test_a_warehouse_run_from_a_later_round_hands_out_that_rounds_tasks():
    from envs.warehouse import WarehouseModel

    base = WarehouseModel(n_agents=10, rng=0)
    later = WarehouseModel(n_agents=10, rng=0, first_task_round=3)
    assert later.tasks.goal.tolist() == base.instance.tasks[30:40].tolist()
    for _ in range(40):
        later.step()
    inst = later.instance
    bound = free_flow_tasks(later.grid_map, inst.starts, inst.tasks, 40, first_round=3).sum()
    assert later.summary()["free_flow_tasks"] == bound  # the bound of the same errands
    assert bound != free_flow_tasks(later.grid_map, inst.starts, inst.tasks, 40).sum()
    with pytest.raises(ConfigError, match=r"field 'first_task_round'.*tasks='poisson'"):
        WarehouseModel(n_agents=10, tasks="poisson", first_task_round=1)
    with pytest.raises(ConfigError, match=r"first_task_round.*allowed: 0 to 999"):
        WarehouseModel(n_agents=10, league_wrap="stop", first_task_round=1000)
