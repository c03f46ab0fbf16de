"""Search controllers (random walk, stigmergy, PSO, CBAA): local, deterministic; the PSO
core meets the literature's criteria; the auction's consensus settles conflicts."""

import numpy as np
import pytest
from message_locality import assert_deterministic, assert_local

from envs.search import SearchModel
from policies.cbaa import lawnmower
from policies.pso import C1, W, pso_minimize


def maker(policy: str):
    def make(seed: int) -> SearchModel:
        return SearchModel(
            n_agents=40, world_size=30.0, sense_radius=4.0, comm_radius=5.0, packet_drop=0.2,
            spawn_extent=30.0, n_targets=5, signal_noise=0.01, policy=policy, rng=seed,
        )  # fmt: skip

    return make


@pytest.mark.parametrize("policy", ["random_walk", "stigmergy", "pso", "cbaa"])
def test_far_drones_leave_action_and_message_unchanged(policy):
    assert assert_local(maker(policy), range(4)) >= 15


@pytest.mark.parametrize("policy", ["random_walk", "stigmergy", "pso", "cbaa"])
def test_same_seed_same_run_and_different_seeds_differ(policy):
    assert_deterministic(maker(policy))


# Eberhart and Shi (2000), CEC, Table 1 set-up: 30 dimensions, 30 particles, Vmax = Xmax;
# success criteria sphere 0.01, Rosenbrock 100, Rastrigin 100, Griewank 0.1
def sphere(x):
    return (x**2).sum(axis=1)


def rosenbrock(x):
    return (100 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (x[:, :-1] - 1) ** 2).sum(axis=1)


def rastrigin(x):
    return (x**2 - 10 * np.cos(2 * np.pi * x) + 10).sum(axis=1)


def griewank(x):
    i = np.arange(1, x.shape[1] + 1)
    return 1 + (x**2).sum(axis=1) / 4000 - np.prod(np.cos(x / np.sqrt(i)), axis=1)


@pytest.mark.parametrize(
    ("f", "bound", "criterion", "iterations"),
    [(sphere, 100.0, 0.01, 1000), (rosenbrock, 30.0, 100.0, 2000),
     (rastrigin, 10.0, 100.0, 2000), (griewank, 600.0, 0.1, 2000)],
)  # fmt: skip
@pytest.mark.parametrize("topology", ["global", "ring"])
def test_pso_meets_the_literature_criteria_in_30_dimensions(
    f, bound, criterion, iterations, topology
):
    for seed in range(3):
        _, best, history = pso_minimize(f, 30, (-bound, bound), 30, iterations, seed, topology)
        assert best < criterion, (f.__name__, topology, seed, best)
        assert (np.diff(history) <= 0).all()  # the best so far never gets worse


def test_pso_constants_are_the_constriction_values():
    phi = 4.1
    chi = 2 / abs(2 - phi - np.sqrt(phi**2 - 4 * phi))
    assert W == pytest.approx(chi, abs=1e-4) and C1 == pytest.approx(chi * phi / 2, abs=1e-4)


def test_cbaa_gives_every_region_at_most_one_sweeper_once_bids_have_settled():
    model = SearchModel(
        n_agents=10,
        world_size=40.0,
        sense_radius=2.0,
        comm_radius=60.0,
        spawn_extent=4.0,
        policy="cbaa",
        rng=3,
    )
    for _ in range(30):
        model.step()
    task = model.policy.memory["task"]
    busy = task[task >= 0]
    assert len(busy) == 10 and len(set(busy.tolist())) == 10  # conflict-free
    z = model.policy.memory["z"]
    for i, t in enumerate(task):
        assert (z[:, t] == i).all()  # everyone agrees on each region's winner


def test_lawnmower_lanes_cover_each_region():
    paths = lawnmower(40.0, 4, 3.6)
    assert paths.shape[0] == 16
    xs = np.unique(paths[0, :, 0])
    assert np.diff(xs).max() <= 3.6 + 1e-12 and xs.min() <= 1.8 and xs.max() >= 10 - 1.8
