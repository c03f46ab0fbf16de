"""The ready experiments in experiments/ reproduce their known results, on a reduced size.

Each test loads the real spec file, shrinks it with the same ``--set`` overrides a user would
type, runs it (in process) and checks the published result it reproduces.
"""

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from swarm.experiment import run_experiment
from swarm.experiments.spec import load_spec, plan
from swarm.experiments.store import ResultsStore

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def run_reduced(name: str, sets: list[str], out: Path) -> pd.DataFrame:
    """Run experiments/NAME.toml shrunk by ``sets``; the runs table, one row per run."""
    spec = load_spec(EXPERIMENTS / f"{name}.toml", sets)
    result = run_experiment(spec, out, "serial", progress=False)
    assert (result.table["status"] == "ok").all(), result.table["error"].dropna().tolist()
    assert {p.name for p in (out / "plots").iterdir()} == {p.filename for p in spec.plots}
    return result.table


def by_point(table: pd.DataFrame, keys: list[str], column: str) -> dict:
    """Mean of ``column`` over seeds per value of ``keys``."""
    return table.groupby(keys)[column].mean().to_dict()


def test_every_ready_spec_is_valid_at_full_size():
    specs = sorted(EXPERIMENTS.glob("*.toml"))
    assert {p.stem for p in specs} >= {
        "vicsek_phase_transition", "flocking_crash_robustness", "consensus_convergence",
        "coverage_lloyd", "warehouse_throughput",
    }  # fmt: skip
    for path in specs:
        p = plan(load_spec(path))
        assert p.spec.reproduces and p.spec.plots and len(p.tasks) >= 10, path.name


def test_vicsek_phase_transition_order_falls_with_noise_and_rises_with_density(tmp_path):
    """Vicsek et al. 1995, Fig. 2: v_a ~ 1 at low noise, ~0 at high noise, continuous in
    between; at eta = 2, N = 100, rho = 4: v_a ~ 0.8 (Fig. 2a); a sparser system is less
    ordered at the same noise (Fig. 2b)."""
    dense, sparse = 5.0, 14.142135623730951  # rho = 100 / L^2 = 4 and 0.5
    table = run_reduced(
        "vicsek_phase_transition",
        ["parameters.n_agents=100", "steps=400", "seeds=2",
         f"sweep.points=[{{world_size={dense}}}, {{world_size={sparse}}}]",
         "sweep.grid.policy_params.eta=[0.5, 2.0, 3.5, 5.0]"],
        tmp_path,
    )  # fmt: skip
    va = by_point(table, ["world_size", "policy_params.eta"], "tail_polarization")
    curve = [va[(dense, eta)] for eta in (0.5, 2.0, 3.5, 5.0)]
    assert curve[0] > 0.95 and curve[-1] < 0.25
    assert all(a > b + 0.1 for a, b in itertools.pairwise(curve))  # falls with noise
    assert 0.7 < va[(dense, 2.0)] < 0.9
    assert va[(dense, 2.0)] > va[(sparse, 2.0)] + 0.3
    assert va[(sparse, 5.0)] < 0.25


def test_flocking_degrades_gracefully_with_the_fraction_of_crashed_drones(tmp_path):
    """Exactly N (1 - f) drones survive; the flock's order holds for a quarter crashed and
    falls once the survivors' density nears the critical one (Vicsek et al. 1995, Fig. 2b);
    the comm graph fragments."""
    table = run_reduced(
        "flocking_crash_robustness",
        ["parameters.n_agents=200", "parameters.world_size=7.0710678", "steps=600",
         "faults.crash_step=200", "seeds=2", "sweep.grid.crash_fraction=[0.0, 0.25, 0.9]"],
        tmp_path,
    )  # fmt: skip
    assert (table["final_n_alive"] == (200 * (1 - table["crash_fraction"])).round()).all()
    va = by_point(table, ["crash_fraction"], "tail_polarization")
    parts = by_point(table, ["crash_fraction"], "tail_n_components")
    assert va[0.0] > 0.75 and va[0.25] > va[0.0] - 0.05
    assert va[0.9] < va[0.0] - 0.15
    assert parts[0.9] > parts[0.0]
    series = ResultsStore(tmp_path).series(table["run_id"].iloc[-1])
    assert series.loc[series["step"] < 200, "n_alive"].eq(200).all()
    assert series.loc[series["step"] >= 200, "n_alive"].eq(20).all()


def test_consensus_converges_at_one_minus_eps_times_algebraic_connectivity(tmp_path):
    """Olfati-Saber, Fax, Murray 2007: on a fixed connected graph the disagreement decays at
    the rate 1 - eps lambda_2. lambda_2 of 16 nodes: ring 2 (1 - cos(2 pi / 16)), 4 x 4 grid
    2 (1 - cos(pi / 4)), star 1, complete 16."""
    table = run_reduced(
        "consensus_convergence",
        ["steps=300", "seeds=1", 'sweep.grid.comm_topology=["ring", "grid", "star", "complete"]'],
        tmp_path,
    )
    eps = 0.05
    expected = {
        "ring": 2 * (1 - math.cos(2 * math.pi / 16)),
        "grid": 2 * (1 - math.cos(math.pi / 4)),
        "star": 1.0,
        "complete": 16.0,
    }
    lam = by_point(table, ["comm_topology"], "final_algebraic_connectivity")
    rate = by_point(table, ["comm_topology"], "rate_disagreement")
    for topology, lambda_2 in expected.items():
        assert lam[topology] == pytest.approx(lambda_2, rel=1e-6)
        assert rate[topology] == pytest.approx(1 - eps * lambda_2, abs=2e-3), topology
    assert rate["ring"] > rate["grid"] > rate["star"] > rate["complete"]


def test_lloyd_coverage_cost_never_increases_and_nears_the_hexagonal_bound(tmp_path):
    """Cortés et al. 2004: Lloyd descent never increases the locational cost H; the centroidal
    Voronoi configuration it reaches costs at least the hexagonal lattice's
    5 / (18 sqrt 3) A / N (Newman 1982) and, in a square, within ~10% of it."""
    table = run_reduced("coverage_lloyd", ["seeds=1", "sweep.grid.n_agents=[8, 16]"], tmp_path)
    area = 20.0**2
    bound = 5 / (18 * math.sqrt(3))
    for _, run in table.iterrows():
        cost = ResultsStore(tmp_path).series(run["run_id"])["locational_cost"].to_numpy()
        assert np.diff(cost).max() <= 1e-9 * cost[0]  # non-increasing
        assert cost[-1] < cost[0] / 10
        scaled = run["final_locational_cost"] * run["n_agents"] / area
        assert bound <= scaled < 1.1 * bound


def test_warehouse_throughput_rises_with_team_size_and_congestion_lowers_it_per_robot(tmp_path):
    """Li et al. 2021: total throughput grows with the team, per-robot throughput falls
    (congestion); never an executed collision. Global-range PIBT, the reference curve."""
    table = run_reduced(
        "warehouse_throughput",
        ["steps=300", "seeds=1", "sweep.grid.n_agents=[5, 20, 40]",
         "sweep.grid.comm_radius=[1000.0]"],
        tmp_path,
    )  # fmt: skip
    assert (table["final_executed_collisions"] == 0).all()
    rate = by_point(table, ["n_agents"], "final_throughput")
    assert rate[5] < rate[20] < rate[40]
    per_robot = {n: rate[n] / n for n in rate}
    assert per_robot[40] < per_robot[5]
    assert (table["final_deadlocked"] == 0).all()


def test_rendezvous_survivors_meet_whatever_the_fraction_crashed(tmp_path):
    """Cortés, Martínez, Bullo 2006: the constrained circumcentre law keeps the survivors'
    visibility graph connected, so they meet; sensor noise leaves a spread of about sigma."""
    table = run_reduced(
        "faults_rendezvous",
        ["steps=200", "seeds=2", "sweep.grid.crash_fraction=[0.0, 0.5]"],
        tmp_path,
    )  # fmt: skip
    assert (table["final_n_components"] == 1).all()
    exact = table[table["sensor_noise_pos"] == 0.0]
    noisy = table[table["sensor_noise_pos"] > 0.0]
    assert (exact["final_position_spread"] < 1e-9).all()
    assert (noisy["final_position_spread"].between(0.005, 0.5)).all()


def test_voronoi_pursuit_always_captures_and_is_faster_than_greedy(tmp_path):
    """Zhou et al. 2016: in a bounded convex arena with equal speeds, pursuers that shrink the
    evader's Voronoi cell catch it every time; Pierson et al. 2017: faster than decentralised
    heuristics (here greedy pursuit, against the same fleeing evader and seeds); and more
    pursuers catch it sooner."""
    table = run_reduced(
        "pursuit_capture_time",
        ["steps=800", "seeds=5", "sweep.grid.evader_policy=[\"flee\"]",
         "sweep.points=[{pursuers=2, n_agents=3}, {pursuers=8, n_agents=9}]"],
        tmp_path,
    )  # fmt: skip
    voronoi = table[table["policy"] == "voronoi_pursuit"]
    assert (voronoi["final_captured_fraction"] == 1.0).all()
    time = by_point(table, ["policy"], "final_capture_time")
    assert time["voronoi_pursuit"] < time["greedy_pursuit"]
    by_team = by_point(voronoi, ["pursuers"], "final_capture_time")
    assert by_team[8] < by_team[2]


def test_spatial_dilemma_cooperation_falls_through_nowak_and_mays_regimes(tmp_path):
    """Nowak & May 1992: with 8 neighbours and self-interaction, cooperators hold most of the
    lattice for b < 1.8, about 12 ln 2 - 8 = 0.318 of it in the chaos of 1.8 < b < 2, and
    defectors take over for b > 2. A 30 x 30 torus, 100 generations, hovering drones."""
    table = run_reduced(
        "spatial_dilemma",
        ["parameters.n_agents=900", "steps=200", "seeds=2", "sweep.grid.b=[1.3, 1.9, 2.3]",
         "sweep.points=[{policy_params={speed=0.0}}]"],
        tmp_path,
    )  # fmt: skip
    c = by_point(table, ["b"], "tail_cooperator_fraction")
    assert c[1.3] > 0.75
    assert abs(c[1.9] - (12 * math.log(2) - 8)) < 0.04
    assert c[2.3] < 0.1
    series = ResultsStore(tmp_path).series(table["run_id"].iloc[0])
    assert series["cooperator_fraction"].iloc[0] == pytest.approx(0.9)  # 10 % D at the start
