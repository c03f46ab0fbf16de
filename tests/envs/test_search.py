"""Search scenario: targets found are found for good, marks count cell entries, region
allocation by auction beats a random walk, stigmergy spreads wider than a random walk, and
PSO climbs the signal to a single source."""

import numpy as np
import pytest

from envs.search import SearchModel
from swarm.config import ConfigError
from swarm.testing import assert_local

# launched from a 4 m base at a corner; radios reach farther than the 2 m sensors
HARD = dict(
    n_agents=8, world_size=40.0, n_targets=12, sense_radius=2.0, comm_radius=15.0,
    spawn_extent=4.0,
)  # fmt: skip


def time_to_find_all(policy: str, seed: int, budget: int = 3000) -> float:
    model = SearchModel(policy=policy, rng=seed, **HARD)
    for _ in range(budget):
        model.step()
        if model.metrics["fraction_found"] == 1.0:
            return model.metrics["time_to_find_all"]
    return budget * model.config.dt  # not all found: count the whole budget


def test_allocation_by_auction_beats_the_random_walk_on_time_to_find_all():
    auction = [time_to_find_all("cbaa", s) for s in range(5)]
    walk = [time_to_find_all("random_walk", s) for s in range(5)]
    assert np.mean(auction) < 0.8 * np.mean(walk)
    assert max(auction) < max(walk)


def test_stigmergy_revisits_less_than_a_random_walk():
    """Node counting's point (Koenig et al. 2001): steer away from marked cells, so fewer
    entries land in cells already visited (measured: ~0.28 against ~0.46 at 800 steps)."""
    ratio = {}
    for policy in ("stigmergy", "random_walk"):
        runs = []
        for seed in range(3):
            model = SearchModel(policy=policy, rng=seed, **HARD)
            for _ in range(800):
                model.step()
            runs.append(model.metrics["revisit_ratio"])
        ratio[policy] = np.mean(runs)
    assert ratio["stigmergy"] < 0.75 * ratio["random_walk"]


def test_pso_climbs_the_signal_to_a_single_source():
    found = 0
    for seed in range(5):
        model = SearchModel(
            n_agents=15, world_size=40.0, n_targets=1, sense_radius=2.0, comm_radius=15.0,
            spawn_extent=40.0, policy="pso", rng=seed,
        )  # fmt: skip
        for _ in range(400):
            model.step()
        found += model.metrics["fraction_found"] == 1.0
    assert found >= 4


def test_found_targets_stay_found_and_metrics_are_consistent():
    model = SearchModel(policy="random_walk", rng=1, **HARD)
    last = 0.0
    for _ in range(300):
        model.step()
        now = model.metrics["fraction_found"]
        assert now >= last
        last = now
        assert 0 <= model.metrics["revisit_ratio"] <= 1
    marks = model.scenario.marks
    assert marks.sum() == model.scenario.entries.sum()  # every entry leaves one mark
    assert model.metrics["area_visited"] == pytest.approx((marks > 0).mean())


def test_a_target_is_found_exactly_when_a_drone_comes_within_range():
    model = SearchModel(n_agents=1, world_size=20.0, n_targets=1, sense_radius=2.0, rng=0)
    model.scenario.targets[0, 0] = [10.0, 10.0]
    model.engine.pos[0] = [10.0, 12.1]
    model.engine.invalidate()
    model.scenario.update(model.engine)
    assert model.scenario.fraction_found(model.engine)[0] == 0.0
    model.engine.pos[0] = [10.0, 11.9]
    model.scenario.update(model.engine)
    assert model.scenario.fraction_found(model.engine)[0] == 1.0
    model.engine.invalidate()
    assert model.metrics["fraction_found"] == 1.0


def test_the_signal_reading_is_the_field_at_the_drones_own_position():
    model = SearchModel(n_agents=5, n_targets=3, rng=2)
    obs = model.observe()
    expected = model.scenario.signal_at(model.engine.env, model.engine.pos)
    np.testing.assert_allclose(obs.own["signal"], expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boundary": "torus"}, "boundary"),
        ({"n_targets": 0}, "n_targets"),
        ({"mark_cell": 0.001}, "mark_cell"),
        ({"signal_noise": -1.0}, "signal_noise"),
    ],
)
def test_bad_config_names_the_field(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SearchModel(n_agents=4, rng=0, **kwargs)


def test_the_default_search_starts_with_little_found_and_ends_with_everything():
    """Defaults are a real search: drones leave a corner base, so few targets lie within
    range at step 0, most are found within a few hundred steps by the random walk, all in
    the end (it used to be 100 drones spread over the arena, finding all at step 0).
    Measured over 8 seeds: 0.01 found at step 0, 0.95 at step 300, all by step 400."""
    start, at_300, finished = [], [], []
    for seed in range(4):
        model = SearchModel(rng=seed)
        start.append(model.metrics["fraction_found"])
        for step in range(1, 1001):
            model.step()
            if step == 300:
                at_300.append(model.metrics["fraction_found"])
            if step >= 300 and model.metrics["fraction_found"] == 1.0:
                break
        finished.append(model.metrics["time_to_find_all"])
    assert np.mean(start) < 0.2 and max(start) <= 0.3
    assert np.mean(at_300) >= 0.7
    assert np.isfinite(finished).all() and min(finished) > 5.0  # seconds: a search, not a given


# ----------------------------------------------------------------- 3-D (a volume)
HARD_3D = dict(
    n_agents=8, world_size=20.0, n_targets=12, sense_radius=2.0, comm_radius=8.0,
    spawn_extent=4.0, dim=3,
)  # fmt: skip


def test_in_3d_a_target_is_found_by_the_distance_in_space_not_from_above():
    model = SearchModel(n_agents=1, world_size=20.0, n_targets=1, sense_radius=2.0, dim=3, rng=0)
    model.scenario.targets[0, 0] = [10.0, 10.0, 10.0]
    model.engine.pos[0] = [10.0, 11.0, 11.8]  # 1 m away seen from above, 2.02 m in space
    model.scenario.update(model.engine)
    assert model.scenario.fraction_found(model.engine)[0] == 0.0
    model.engine.pos[0] = [10.0, 11.0, 11.7]  # 1.97 m
    model.scenario.update(model.engine)
    assert model.scenario.fraction_found(model.engine)[0] == 1.0


def test_in_3d_a_drone_reads_the_27_cells_around_its_own_and_inf_outside():
    model = SearchModel(policy="random_walk", rng=4, **HARD_3D)
    for _ in range(60):
        model.step()
    marks, scenario, engine = model.observe().own["marks"], model.scenario, model.engine
    assert marks.shape == (8, 3, 3, 3)
    cells = np.floor(engine.pos / scenario.config.cell).astype(int).clip(0, scenario.per_side - 1)
    for row in range(8):  # brute force, one drone at a time
        for offset in np.ndindex(3, 3, 3):
            cell = cells[row] + np.array(offset) - 1
            inside = ((cell >= 0) & (cell < scenario.per_side)).all()
            expected = scenario.marks[(0, *cell)] if inside else np.inf
            assert marks[(row, *offset)] == expected
    assert marks[:, 1, 1, 1].min() >= 1  # each drone marked the cell it is in
    assert scenario.marks.sum() == scenario.entries.sum()


def test_in_3d_stigmergy_revisits_less_than_a_random_walk_and_is_local():
    """Koenig et al.'s node counting on the cubic grid (26 neighbours): once the volume has
    been crossed, fewer entries land in cells already visited than a random walk's, and more
    cells get visited (measured, 10 m cube, 3 seeds x 600 steps: revisits 0.27 against
    0.52, cells visited 0.91 against 0.81). In a volume still mostly unvisited (20 m, 8,000
    cells) every neighbour is unmarked, node counting is a random walk from cell to cell,
    and the ballistic random walk covers more (0.13 against 0.20): no claim there."""
    ratio, visited = {}, {}
    for policy in ("stigmergy", "random_walk"):
        runs = []
        for seed in range(3):
            model = SearchModel(policy=policy, rng=seed, **{**HARD_3D, "world_size": 10.0})
            for _ in range(600):
                model.step()
            runs.append((model.metrics["revisit_ratio"], model.metrics["area_visited"]))
        ratio[policy], visited[policy] = np.mean(runs, axis=0)
    assert ratio["stigmergy"] < 0.75 * ratio["random_walk"]
    assert visited["stigmergy"] > visited["random_walk"]
    assert_local("stigmergy", "search", steps=20, **HARD_3D)


def test_in_3d_the_planar_planners_refuse_and_so_does_a_too_fine_grid():
    for policy in ("pso", "cbaa"):
        with pytest.raises(ConfigError, match="policy"):
            SearchModel(policy=policy, dim=3, rng=0)
    with pytest.raises(ConfigError, match="mark_cell"):
        SearchModel(dim=3, world_size=400.0, mark_cell=0.5, rng=0)
