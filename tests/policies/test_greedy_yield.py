"""Greedy shortest path with local yielding: robots pass each other by stepping aside."""

import numpy as np

from policies.greedy_yield import GreedyYield
from tests.policies.test_pibt import run_plain


def test_head_on_robots_in_a_wide_corridor_pass_each_other():
    text = "type octile\nheight 3\nwidth 8\nmap\n........\n........\n........\n"
    stream = run_plain(text, [8, 15], [15, 8], GreedyYield(seed=0), 14)
    assert stream.finished.tolist() == [1, 1]


def test_a_robot_steps_out_of_the_way_of_a_higher_priority_robot():
    # robot 1 sits on its goal in a side-branched corridor; robot 0 must pass through it
    text = "type octile\nheight 2\nwidth 5\nmap\n.....\n@@.@@\n"
    stream = run_plain(text, [0, 2], [4, 2], GreedyYield(seed=0), 10)
    assert stream.finished[0] == 1
    assert np.all(stream.finished >= 1)
