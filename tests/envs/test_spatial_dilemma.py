"""The spatial prisoner's dilemma (envs/spatial_dilemma.py, policies/imitate_best.py) against
known answers: hand-derived patterns, a brute-force payoff on a random graph, an
independent lattice implementation of Nowak & May's rule, and their regimes."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from envs.spatial_dilemma import SpatialDilemmaModel, lattice_side
from policies.imitate_best import imitate
from swarm.comm import Inbox, moore_graph
from swarm.config import ConfigError
from swarm.testing import assert_local

CHAOS = 12 * np.log(2) - 8  # 0.3178, Nowak & May's asymptotic C fraction for 1.8 < b < 2


def to_generation(model: SpatialDilemmaModel, g: int) -> np.ndarray:
    """Step until generation ``g``'s strategies hold (after step 2 g); (side, side) grid."""
    while model.engine.t < 2 * g + 1:
        model.step()
    assert model.metrics["generation"] == g
    side = model.config.side
    return model.engine.agent_state["strategy"].reshape(side, side).copy()


def reference_generation(s: np.ndarray, b: float, self_interaction: bool = True) -> np.ndarray:
    """One synchronous Nowak & May update on a periodic lattice (1 C, 0 D), written
    independently of the drones: payoffs from the 8 rolled neighbours (+ self), then keep
    the own strategy unless every top scorer of the 3 x 3 block plays the other one."""
    shifts = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    c_near = sum(np.roll(s, shift, axis=(0, 1)) for shift in shifts)
    own = s if self_interaction else 0.0
    payoff = np.where(s == 1, c_near + own, b * c_near)
    block = [*shifts, (0, 0)]
    best = np.max([np.roll(payoff, sh, axis=(0, 1)) for sh in block], axis=0)
    same = np.max(
        [np.where(np.roll(s, sh, axis=(0, 1)) == s, np.roll(payoff, sh, axis=(0, 1)), -np.inf)
         for sh in block],
        axis=0,
    )  # fmt: skip
    return np.where(same >= best - 1e-9, s, 1 - s)


# --------------------------------------------------------------------- the lattice
def test_moore_lattice_is_periodic_with_eight_neighbours_when_the_square_is_full():
    g = moore_graph(25)  # 5 x 5 torus
    assert {d for _, d in g.degree()} == {8} and g.number_of_edges() == 100
    assert set(g.neighbors(0)) == {1, 4, 5, 6, 9, 20, 21, 24}  # wraps both ways
    open_lattice = moore_graph(20)  # 5 x 5 with its last row cut short: no wrap
    assert set(open_lattice.neighbors(0)) == {1, 5, 6}
    assert set(open_lattice.neighbors(7)) == {1, 2, 3, 6, 8, 11, 12, 13}


def test_drones_spawn_on_their_lattice_cells_and_hover():
    model = SpatialDilemmaModel(n_agents=36, rng=0)
    assert model.config.world_size == 6.0 and model.config.spacing == 1.0
    np.testing.assert_allclose(model.engine.pos[7], [1.5, 1.5])  # column 1, row 1
    assert model.engine.agent_state["strategy"].sum() == 36 - round(0.1 * 36)  # exactly 10 % D
    for _ in range(3):
        model.step()
    np.testing.assert_allclose(model.engine.pos[7], [1.5, 1.5])


# --------------------------------------------------------------------- known answers
def test_a_single_defector_grows_into_3x3_then_5x5_then_notched_7x7_at_b_1_85():
    """A lone D among C scores 8b = 14.8 against its C neighbours' 8 and their other
    neighbours' 9: all 8 neighbours turn D. The 3 x 3 block's corners score 5b = 9.25 > 9:
    the ring around it turns D (5 x 5). Then a D in the middle of a side scores only
    3b = 5.55 against the 6 of the C facing it, while the corners still win: the block
    grows at its corners and the middle of each side turns C, two cells deep."""
    model = SpatialDilemmaModel(n_agents=15 * 15, b=1.85, initial="single_defector", rng=0)
    c = 7  # the centre cell
    start = to_generation(model, 0)
    assert (start == 0).sum() == 1 and start[c, c] == 0
    defectors = [1 - to_generation(model, g) for g in (1, 2, 3)]
    block = np.zeros((15, 15))
    block[c - 1 : c + 2, c - 1 : c + 2] = 1
    np.testing.assert_array_equal(defectors[0], block)
    block[c - 2 : c + 3, c - 2 : c + 3] = 1
    np.testing.assert_array_equal(defectors[1], block)
    block[c - 3 : c + 4, c - 3 : c + 4] = 1
    for r, col in [(c - 3, c), (c - 2, c), (c + 3, c), (c + 2, c),
                   (c, c - 3), (c, c - 2), (c, c + 3), (c, c + 2)]:  # fmt: skip
        block[r, col] = 0
    np.testing.assert_array_equal(defectors[2], block)


def test_a_lone_defector_stays_alone_below_9_8():
    model = SpatialDilemmaModel(n_agents=9 * 9, b=1.1, initial="single_defector", rng=0)
    assert (to_generation(model, 3) == 0).sum() == 1  # 8b = 8.8 < 9: it cannot spread


def test_ties_keep_the_own_strategy_unless_every_top_scorer_plays_the_other():
    # receivers: 0 a C scoring 5 hears a D with 5 and a C with 3: tie at the top, keeps C;
    # 1 a D scoring 4 hears C 6 and D 6: a D among the top scorers, keeps D; 2 a C scoring
    # 2 hears D 6 twice: adopts D; 3 a C scoring 9 hears a D scoring one ulp above 9 (a sum
    # in another order): a tie within round-off, keeps C; 4 hears nothing: keeps D
    above_nine = np.nextafter(9.0, 10.0)
    inbox = Inbox(
        np.array([0, 2, 4, 6, 7, 7]),
        np.array([10, 11, 12, 13, 14, 15, 16]),
        np.array([[0, 5.0], [1, 3.0], [1, 6.0], [0, 6.0], [0, 6.0], [0, 6.0], [0, above_nine]]),
    )
    strategy = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    payoff = np.array([5.0, 4.0, 2.0, 9.0, 0.0])
    np.testing.assert_array_equal(imitate(strategy, payoff, inbox), [1, 0, 0, 1, 0])


@pytest.mark.parametrize("self_interaction", [True, False])
def test_payoffs_equal_a_brute_force_count_on_a_random_graph(self_interaction):
    graph = nx.gnp_random_graph(40, 0.15, seed=4)
    model = SpatialDilemmaModel(
        n_agents=40, comm_topology=graph, b=1.7, initial_defectors=0.4,
        self_interaction=self_interaction, rng=2,
    )  # fmt: skip
    assert model.config.topology == "graph"
    s = model.engine.agent_state["strategy"].copy()
    table = {(1, 1): 1.0, (1, 0): 0.0, (0, 1): 1.7, (0, 0): 0.0}  # (own, other) -> payoff
    expected = [
        sum(table[int(s[i]), int(s[j])] for j in graph.neighbors(i))
        + (table[int(s[i]), int(s[i])] if self_interaction else 0.0)
        for i in range(40)
    ]
    model.step()  # step 0: announce strategies
    model.step()  # step 1: play what was heard
    np.testing.assert_allclose(model.engine.agent_state["payoff"], expected, rtol=1e-12)
    np.testing.assert_array_equal(model.engine.agent_state["strategy"], s)  # not yet updated
    # the envs' reward plays the same games on the same links
    np.testing.assert_allclose(model.scenario.reward(model.engine, None), expected, rtol=1e-12)


@pytest.mark.parametrize("b", [1.15, 1.55, 1.9, 2.1])
def test_the_drones_follow_nowak_and_may_exactly_on_a_periodic_lattice(b):
    """Every generation of the message-passing drones equals the lattice rule computed
    directly (np.roll on the torus), cell for cell."""
    model = SpatialDilemmaModel(n_agents=20 * 20, b=b, initial_defectors=0.3, rng=5)
    s = to_generation(model, 0)
    for g in range(1, 16):
        s = reference_generation(s, b)
        np.testing.assert_array_equal(to_generation(model, g), s, err_msg=f"generation {g}")


def test_without_self_interaction_the_rule_follows_too():
    model = SpatialDilemmaModel(n_agents=16 * 16, b=1.4, self_interaction=False, rng=1)
    s = to_generation(model, 0)
    for g in range(1, 8):
        s = reference_generation(s, 1.4, self_interaction=False)
        np.testing.assert_array_equal(to_generation(model, g), s)


def test_the_hovering_range_graph_plays_the_same_game_as_the_moore_topology():
    """Radio range 1.5 cells on the torus links exactly the 8 Moore neighbours."""
    runs = []
    for comm in ({}, {"comm_model": "range", "comm_radius": 1.5}):
        model = SpatialDilemmaModel(n_agents=400, b=1.9, rng=3, **comm)
        edges = {tuple(sorted(e)) for e in model.comm_graph.edges}
        runs.append((edges, [to_generation(model, g) for g in (5, 20)]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_b_matters_only_through_the_score_ratios_it_crosses():
    """Scores are integers (C) or b times integers (D): nothing changes between the ratios
    p / q (p <= 9, q <= 8), so 1.85 and 1.95 (both in 1.8 < b < 2) give the same run."""
    grids = [to_generation(SpatialDilemmaModel(n_agents=400, b=b, rng=7), 30) for b in (1.85, 1.95)]
    np.testing.assert_array_equal(*grids)


def test_the_regimes_of_nowak_and_may_on_a_30x30_lattice():
    """b < 1.8: cooperators keep most of the lattice; 1.8 < b < 2: chaos near 0.318
    cooperators; b > 2: defectors take over. On a 30 x 30 torus the mean C fraction of
    generations 50 to 150 at b = 1.9 varies by 0.008 (std) between seeds, and 3 seeds fall
    within 0.03 of 12 ln 2 - 8. (The range graph of the hovering lattice, the same game as
    the fixed Moore topology and faster.)"""
    tail = {}
    for b in (1.5, 1.9, 2.1):
        fractions = []
        for seed in range(3):
            model = SpatialDilemmaModel(
                n_agents=900, b=b, comm_model="range", comm_radius=1.5, rng=seed
            )
            for _ in range(300):
                model.step()
            series = model.datacollector.get_model_vars_dataframe()["cooperator_fraction"]
            fractions.append(series.iloc[100:].mean())
        tail[b] = float(np.mean(fractions))
    assert tail[1.5] > 0.75
    assert abs(tail[1.9] - CHAOS) < 0.03
    assert tail[2.1] < 0.1


def test_the_generation_counter_and_the_summary():
    model = SpatialDilemmaModel(n_agents=100, rng=0)
    for _ in range(9):
        model.step()
    assert model.metrics["generation"] == 4
    summary = model.summary()
    assert summary["generations"] == 4 and 0 <= summary["cooperator_fraction"] <= 1


# --------------------------------------------------------------------- locality, config
@pytest.mark.parametrize(
    "config",
    [
        {},
        {"packet_drop": 0.2},
        {"comm_model": "range", "comm_radius": 1.5, "policy_params": {"speed": 0.5}},
    ],
)
def test_imitate_best_is_local(config):
    assert assert_local("imitate_best", "spatial_dilemma", n_agents=49, steps=8, **config) == 392


def test_moving_drones_keep_playing_over_their_range_graph():
    model = SpatialDilemmaModel(
        n_agents=400, b=1.6, comm_model="range", comm_radius=1.5,
        policy_params={"speed": 0.5}, rng=2,
    )  # fmt: skip
    start = model.engine.pos.copy()
    for _ in range(40):
        model.step()
    assert np.abs(model.engine.pos - start).max() > 0.1
    assert 0.5 < model.metrics["cooperator_fraction"] <= 1.0
    assert model.metrics["mean_payoff"] > 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("b", -1.0),
        ("b", 1e308),
        ("initial_defectors", 1.5),
        ("topology", "hexagonal"),
        ("comm_delay", 1),
        ("initial", "checkerboard"),
        ("self_interaction", "sometimes"),
    ],
)
def test_bad_values_fail_in_one_line_naming_the_field(field, value):
    with pytest.raises(ConfigError) as err:
        SpatialDilemmaModel(n_agents=25, rng=0, **{field: value})
    message = str(err.value)
    assert field in message and "\n" not in message


def test_topology_graph_needs_a_graph():
    with pytest.raises(ConfigError, match=r"topology 'graph' needs an nx\.Graph"):
        SpatialDilemmaModel(n_agents=25, topology="graph", rng=0)


def test_lattice_side():
    assert [lattice_side(n) for n in (1, 2, 4, 5, 9, 10, 10000)] == [1, 2, 2, 3, 3, 4, 100]
