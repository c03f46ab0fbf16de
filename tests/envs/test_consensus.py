"""Consensus scenario: average consensus converges to the initial mean at the rate the
algebraic connectivity predicts; flooding agrees in diameter rounds; rendezvous meets.

The rate test (Olfati-Saber, Fax, Murray 2007, sec. II-C): with ``x(k+1) = (I - eps L) x(k)``
on a connected graph and ``eps * lambda_max <= 1``, the disagreement ``delta(k)`` obeys
``delta(k) <= (1 - eps lambda_2)^(k-1) delta(0)`` at every step (k - 1: the first step is an
idle round) and decays asymptotically at ``1 - eps lambda_2``. We check the bound at every
step (relative slack 1e-9) and the fitted rate over the second half of the run against
``1 - eps lambda_2`` within 1e-3 of the per-step exponent, i.e.
``|ln(measured) / ln(predicted) - 1| < 1e-3``. eps = 1 / (2 max degree), so
``eps lambda_max <= 1`` always (``lambda_max <= 2 max degree``).
"""

import math

import networkx as nx
import numpy as np
import pytest

from envs.consensus import ConsensusModel, laplacian_extremes, measured_rate
from policies.rendezvous import _enclosing_centres
from swarm.config import ConfigError


def ring(n: int) -> nx.Graph:
    return nx.cycle_graph(n)


def grid(n: int) -> nx.Graph:
    side = math.isqrt(n)
    return nx.convert_node_labels_to_integers(nx.grid_2d_graph(side, side))


def geometric(n: int) -> nx.Graph:
    for seed in range(100):
        g = nx.random_geometric_graph(n, 0.3, seed=seed)
        if nx.is_connected(g):
            return g
    raise AssertionError("no connected random geometric graph")


@pytest.mark.parametrize(
    ("make_graph", "n", "steps"), [(ring, 30, 700), (grid, 36, 300), (geometric, 50, 300)]
)
def test_average_consensus_converges_to_the_mean_at_the_lambda2_rate(make_graph, n, steps):
    graph = make_graph(n)
    eps = 1.0 / (2 * max(d for _, d in graph.degree))
    model = ConsensusModel(
        n_agents=n, comm_model="fixed", comm_topology=graph, policy_params={"eps": eps}, rng=4
    )
    x0 = model.engine.agent_state["value"].copy()
    for _ in range(steps):
        model.step()
    x = model.engine.agent_state["value"]
    report = model.convergence_report()
    _, lambda_max = laplacian_extremes(graph)
    assert report["lambda_2"] == pytest.approx(nx.algebraic_connectivity(graph, tol=1e-10))
    assert eps * lambda_max <= 1 + 1e-12
    np.testing.assert_allclose(x, x0.mean(), atol=1e-3 * np.ptp(x0))  # everyone at the mean
    assert abs(x.mean() - x0.mean()) < 1e-12  # the sum is invariant (symmetric weights)
    assert report["bound_holds"]
    assert abs(np.log(report["measured_rate"]) / np.log(report["predicted_rate"]) - 1) < 1e-3


def test_a_wrong_step_size_is_caught_by_the_rate_check():
    """The rate check has teeth: eps * lambda_max > 2 diverges, and a halved eps is slower."""
    graph = grid(16)
    model = ConsensusModel(
        n_agents=16, comm_model="fixed", comm_topology=graph, policy_params={"eps": 0.0625}, rng=1
    )
    for _ in range(200):
        model.step()
    report = model.convergence_report()
    lambda_2, _ = laplacian_extremes(graph)
    wrong = 1 - 2 * 0.0625 * lambda_2  # what an implementation with a doubled gain would show
    assert abs(np.log(report["measured_rate"]) / np.log(wrong) - 1) > 0.3


def test_range_graph_of_hovering_drones_converges_like_its_fixed_graph():
    model = ConsensusModel(
        n_agents=40, world_size=20.0, sense_radius=6.0, policy_params={"eps": 0.04}, rng=2
    )
    graph = model.comm_graph.copy()
    if not nx.is_connected(graph):
        pytest.fail("seed gives a disconnected range graph; pick another")
    for _ in range(400):
        model.step()
    report = model.convergence_report()
    assert report["bound_holds"]
    assert abs(np.log(report["measured_rate"]) / np.log(report["predicted_rate"]) - 1) < 1e-2
    assert model.metrics["mean_drift"] < 1e-12


def test_lossy_links_lose_the_average_but_still_agree():
    model = ConsensusModel(
        n_agents=30, comm_model="fixed", comm_topology="ring", packet_drop=0.3,
        policy_params={"eps": 0.25}, rng=3,
    )  # fmt: skip
    for _ in range(1500):
        model.step()
    assert model.metrics["spread"] < 1e-3
    assert model.metrics["mean_drift"] > 1e-6  # asymmetric losses move the average


def test_max_consensus_floods_in_exactly_diameter_rounds():
    n = 12
    model = ConsensusModel(
        n_agents=n, comm_model="fixed", comm_topology="line", policy="max_consensus",
        initial_values="row", rng=0,
    )  # fmt: skip
    diameter = n - 1
    spreads = []
    for _ in range(diameter + 3):
        model.step()
        spreads.append(model.metrics["spread"])
    # step 1 is the idle round, then one hop per step
    assert spreads[diameter - 1] > 0 and spreads[diameter] == 0 and spreads[-1] == 0
    np.testing.assert_array_equal(model.engine.agent_state["value"], n - 1)  # the leader's id


def test_max_consensus_on_a_random_graph_elects_the_largest_id():
    graph = geometric(40)
    model = ConsensusModel(
        n_agents=40, comm_model="fixed", comm_topology=graph, policy="max_consensus",
        initial_values="row", rng=0,
    )  # fmt: skip
    for _ in range(nx.diameter(graph) + 1):
        model.step()
    np.testing.assert_array_equal(model.engine.agent_state["value"], 39)


def test_rendezvous_meets_and_never_loses_a_visibility_edge():
    model = ConsensusModel(
        n_agents=30, world_size=30.0, spawn_extent=14.0, sense_radius=4.0, policy="rendezvous",
        rng=7,
    )  # fmt: skip
    assert model.metrics["n_components"] == 1
    start = model.metrics["position_spread"]
    edges = set(model.comm_graph.edges)
    for _ in range(200):
        model.step()
        now = {tuple(sorted(e)) for e in model.comm_graph.edges}
        assert {tuple(sorted(e)) for e in edges} <= now  # Ando et al.: edges are only gained
        edges = now
    assert model.metrics["position_spread"] < 1e-3 * start
    assert model.metrics["n_components"] == 1


# a connected layout (found by random search) where the plain circumcenter step cuts a link
STRETCHED = [
    [22.79, 22.18], [14.22, 21.78], [19.48, 20.15], [21.67, 13.91], [24.49, 21.52],
    [14.86, 20.45], [19.57, 16.04], [14.02, 20.75], [21.58, 16.67], [21.96, 16.39],
    [18.69, 19.69], [17.33, 21.96],
]  # fmt: skip


def test_the_constraint_disks_are_what_keeps_the_swarm_connected():
    n = len(STRETCHED)
    model = ConsensusModel(n_agents=n, world_size=40.0, sense_radius=4.0, policy="rendezvous")
    model.engine.pos[:] = STRETCHED
    model.engine.invalidate()
    assert model.metrics["n_components"] == 1
    nb = model.observe().neighbors
    goal = np.zeros((n, 2))
    _enclosing_centres(nb.ptr, nb.seg_row, nb.rel_pos, nb.dist <= 4.0, goal)
    naive = model.engine.pos + goal
    gaps = np.sqrt(((naive[nb.owner] - naive[nb.idx]) ** 2).sum(axis=1))
    assert gaps.max() > 4.0  # the unconstrained step would cut a link
    edges = {tuple(sorted(e)) for e in model.comm_graph.edges}
    model.step()
    assert edges <= {tuple(sorted(e)) for e in model.comm_graph.edges}
    for _ in range(150):
        model.step()
        assert model.metrics["n_components"] == 1
    assert model.metrics["position_spread"] < 1e-3


def test_measured_rate_fits_a_pure_geometric_series():
    assert measured_rate(3.0 * 0.9 ** np.arange(200)) == pytest.approx(0.9, rel=1e-12)


def test_metrics_are_reported_per_env_by_the_datacollector():
    model = ConsensusModel(n_agents=10, rng=0)
    model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    assert {"disagreement", "spread", "mean_drift", "position_spread"} <= set(frame.columns)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value_low": 2.0, "value_high": 1.0}, "value_high"),
        ({"spawn_extent": 100.0}, "spawn_extent"),
        ({"initial_values": "zeros"}, "initial_values"),
        ({"policy_params": {"eps": -1}}, "eps"),
    ],
)
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ConsensusModel(n_agents=5, rng=0, **kwargs)


def test_hovering_drones_in_a_cube_converge_at_their_graphs_rate():
    """dim = 3: the range graph of drones in a cube; average consensus converges at
    1 - eps lambda_2 of that graph (the same theory as in the plane), and the audit holds."""
    from swarm.testing import assert_local

    # lambda_2 = 0.54 well below lambda_3 = 0.74: the tail is the lambda_2 mode alone
    model = ConsensusModel(n_agents=40, dim=3, world_size=14.0, sense_radius=6.0,
                           policy_params={"eps": 0.04}, rng=0)  # fmt: skip
    assert model.engine.pos.shape == (40, 3)
    graph = model.comm_graph.copy()
    if not nx.is_connected(graph):
        pytest.fail("seed gives a disconnected range graph; pick another")
    for _ in range(630):  # down to ~1e-6 of the start: the tail is far above round-off
        model.step()
    report = model.convergence_report()
    assert report["bound_holds"]
    assert abs(np.log(report["measured_rate"]) / np.log(report["predicted_rate"]) - 1) < 1e-2
    assert model.metrics["mean_drift"] < 1e-12
    assert assert_local("average_consensus", "consensus", n_agents=30, steps=10, dim=3) == 300
